// model/local_lock.h: local_trylock_t, the per-CPU lock that detects
// re-entry instead of deadlocking.
//
// Mirrors: include/linux/local_lock_internal.h, !PREEMPT_RT (Linux 6.18).
//
// Contract
//   local_trylock_irqsave(&pcpu_lock, flags) disables irqs and takes this
//   CPU's lock; it fails (returns false, irqs restored) when the lock is
//   already held on this CPU. Since irqs are off while it is held, the only
//   code that can find it held is an NMI that interrupted the holder: that
//   is exactly the re-entry the kernel's NMI-safe allocators must refuse.
//   local_unlock_irqrestore() releases it and restores irqs.
//
//   Only the owning CPU touches its lock, so no cross-CPU atomicity is
//   needed; the flag is still an Atomic so the simulator can interleave an
//   NMI between its check and its set (an NMI that does so runs to
//   completion first, as on hardware).
#ifndef KMODEL_MODEL_LOCAL_LOCK_H_
#define KMODEL_MODEL_LOCAL_LOCK_H_

#include "model/atomic.h"
#include "model/percpu.h"

KMODEL_NAMESPACE_BEGIN

struct local_trylock_t {
  Atomic<u8> acquired;
};

inline bool local_trylock_irqsave(PerCpu<local_trylock_t>* lock,
                                  unsigned long& flags) {
  local_irq_save(flags);
  local_trylock_t* tl = this_cpu_ptr(lock);
  if (READ_ONCE(tl->acquired)) {
    local_irq_restore(flags);
    return false;
  }
  WRITE_ONCE(tl->acquired, 1);
  return true;
}

inline void local_unlock_irqrestore(PerCpu<local_trylock_t>* lock,
                                    unsigned long flags) {
  WRITE_ONCE(this_cpu_ptr(lock)->acquired, 0);
  local_irq_restore(flags);
}

KMODEL_NAMESPACE_END

#endif  // KMODEL_MODEL_LOCAL_LOCK_H_
