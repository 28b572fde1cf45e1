// sync/rqspinlock_qspinlock.h: the queued spinlock word and its MCS nodes,
// shared by rqspinlock (sync/rqspinlock.h) and its check-free twin
// (sync/rqspinlock_baseline.h).
//
// Mirrors: include/asm-generic/qspinlock_types.h, kernel/locking/qspinlock.h,
// kernel/locking/mcs_spinlock.h and kernel/bpf/rqspinlock.h (try_cmpxchg_tail),
// Linux 6.18, for NR_CPUS < 16K (8-bit pending field).
//
// The lock is one 32-bit word:
//
//    31 ......... 18 | 17 16 | 15 ..... 8 | 7 ...... 0
//    tail cpu (+1)   | index |  pending   |  locked
//
//   locked   1 while a CPU owns the lock
//   pending  1 while the first waiter spins on `locked` (no MCS node needed)
//   tail     the last queued waiter: its CPU + 1 and its context index
//            (0 task, 1 softirq, 2 hardirq, 3 NMI); 0 = nobody queued.
//
// (tail, pending, locked) states: (0,0,0) free; (0,0,1) held; (0,1,1) held
// with a pending waiter; (n,*,*) someone is queued.
//
// One model deviation, on purpose: the kernel updates the locked byte, the
// locked+pending halfword and the tail halfword with narrow stores. The
// platform models a machine word as one Atomic<u32> (mixed-size atomics are
// undefined in C++ and invisible to the simulator), so every partial update
// here is a full-word atomic with the same effect on the bits it owns and
// the same ordering - exactly what the kernel itself does when
// _Q_PENDING_BITS != 8 (NR_CPUS >= 16K). No transition of the state table
// changes.
#ifndef KMODEL_SYNC_RQSPINLOCK_QSPINLOCK_H_
#define KMODEL_SYNC_RQSPINLOCK_QSPINLOCK_H_

#include "model/atomic.h"
#include "model/percpu.h"

KMODEL_NAMESPACE_BEGIN

struct qspinlock {
  Atomic<u32> val;
};

inline constexpr u32 _Q_LOCKED_OFFSET = 0;
inline constexpr u32 _Q_LOCKED_BITS = 8;
inline constexpr u32 _Q_LOCKED_MASK = ((1u << _Q_LOCKED_BITS) - 1) << _Q_LOCKED_OFFSET;
inline constexpr u32 _Q_PENDING_OFFSET = _Q_LOCKED_OFFSET + _Q_LOCKED_BITS;
inline constexpr u32 _Q_PENDING_BITS = 8;
inline constexpr u32 _Q_PENDING_MASK = ((1u << _Q_PENDING_BITS) - 1) << _Q_PENDING_OFFSET;
inline constexpr u32 _Q_TAIL_IDX_OFFSET = _Q_PENDING_OFFSET + _Q_PENDING_BITS;
inline constexpr u32 _Q_TAIL_IDX_BITS = 2;
inline constexpr u32 _Q_TAIL_IDX_MASK = ((1u << _Q_TAIL_IDX_BITS) - 1) << _Q_TAIL_IDX_OFFSET;
inline constexpr u32 _Q_TAIL_CPU_OFFSET = _Q_TAIL_IDX_OFFSET + _Q_TAIL_IDX_BITS;
inline constexpr u32 _Q_TAIL_CPU_BITS = 32 - _Q_TAIL_CPU_OFFSET;
inline constexpr u32 _Q_TAIL_CPU_MASK = ((1u << _Q_TAIL_CPU_BITS) - 1) << _Q_TAIL_CPU_OFFSET;
inline constexpr u32 _Q_TAIL_OFFSET = _Q_TAIL_IDX_OFFSET;
inline constexpr u32 _Q_TAIL_MASK = _Q_TAIL_IDX_MASK | _Q_TAIL_CPU_MASK;
inline constexpr u32 _Q_LOCKED_PENDING_MASK = _Q_LOCKED_MASK | _Q_PENDING_MASK;
inline constexpr u32 _Q_LOCKED_VAL = 1u << _Q_LOCKED_OFFSET;
inline constexpr u32 _Q_PENDING_VAL = 1u << _Q_PENDING_OFFSET;

// How long a waiter that finds a pending->locked handover in flight waits
// for it before queueing (asm-generic value).
inline constexpr int _Q_PENDING_LOOPS = 1;

// Contexts that can nest on one CPU: task, softirq, hardirq, NMI.
inline constexpr int _Q_MAX_NODES = 4;

static_assert(NR_CPUS < (1 << _Q_TAIL_CPU_BITS), "the tail must encode every CPU");

// ---- MCS nodes ---------------------------------------------------------------
// A queued waiter spins on its own node. `locked` becomes non-zero when the
// predecessor hands the queue head over (1) or, in rqspinlock, tells it to
// leave (RES_TIMEOUT_VAL). `count` lives in a CPU's first node only: how many
// of that CPU's nodes are in use by nested contexts; only the owning CPU and
// its interrupts touch it, and they nest, so plain accesses suffice.

struct mcs_spinlock {
  Atomic<mcs_spinlock*> next;
  Atomic<int> locked;
  Atomic<int> count;
};

struct qnode {
  mcs_spinlock mcs;
};

// The four nodes of one CPU (one cache line in the kernel).
struct qnode_set {
  qnode nodes[_Q_MAX_NODES];
};

inline u32 encode_tail(int cpu, int idx) {
  return (static_cast<u32>(cpu + 1) << _Q_TAIL_CPU_OFFSET) |
         (static_cast<u32>(idx) << _Q_TAIL_IDX_OFFSET);
}

inline mcs_spinlock* decode_tail(u32 tail, PerCpu<qnode_set>* nodes) {
  const int cpu = static_cast<int>(tail >> _Q_TAIL_CPU_OFFSET) - 1;
  const int idx = static_cast<int>((tail & _Q_TAIL_IDX_MASK) >> _Q_TAIL_IDX_OFFSET);
  return &per_cpu_ptr(nodes, cpu)->nodes[idx].mcs;
}

inline mcs_spinlock* grab_mcs_node(mcs_spinlock* base, int idx) {
  return &reinterpret_cast<qnode*>(base)[idx].mcs;
}

// ---- Lock-word transitions ---------------------------------------------------

// *,*,0 -> *,*,1 for the queue head (nobody else can set locked then).
inline void set_locked(qspinlock* lock) { atomic_or<u32>(_Q_LOCKED_VAL, &lock->val); }

// *,1,* -> *,0,*
inline void clear_pending(qspinlock* lock) { atomic_andnot<u32>(_Q_PENDING_VAL, &lock->val); }

// *,1,0 -> *,0,1
inline void clear_pending_set_locked(qspinlock* lock) {
  atomic_add<u32>(_Q_LOCKED_VAL - _Q_PENDING_VAL, &lock->val);
}

// 0,0,* -> 0,1,*; returns the previous word.
inline u32 queued_fetch_set_pending_acquire(qspinlock* lock) {
  return atomic_fetch_or_acquire<u32>(_Q_PENDING_VAL, &lock->val);
}

// p,*,* -> n,*,*; returns the previous word. Relaxed: the smp_wmb() before
// it publishes the node's initialisation.
inline u32 xchg_tail(qspinlock* lock, u32 tail) {
  u32 old = atomic_read(&lock->val);
  u32 next;
  do {
    next = (old & _Q_LOCKED_PENDING_MASK) | tail;
  } while (!atomic_try_cmpxchg_relaxed(&lock->val, &old, next));
  return old;
}

// The queue head's clean-up: swings the tail from `tail` to `new_tail` only
// if `tail` is still the tail (kernel/bpf/rqspinlock.h).
inline bool try_cmpxchg_tail(qspinlock* lock, u32 tail, u32 new_tail) {
  u32 old = atomic_read(&lock->val);
  u32 next;
  do {
    if ((old & _Q_TAIL_MASK) != tail) return false;
    next = (old & _Q_LOCKED_PENDING_MASK) | new_tail;
  } while (!atomic_try_cmpxchg_relaxed(&lock->val, &old, next));
  return true;
}

inline bool queued_spin_trylock(qspinlock* lock) {
  u32 val = atomic_read(&lock->val);
  if (val) return false;
  return atomic_try_cmpxchg_acquire(&lock->val, &val, _Q_LOCKED_VAL);
}

// An in-flight pending->locked handover (0,1,0 -> 0,0,1): re-read the word
// up to _Q_PENDING_LOOPS more times for it to complete; returns the last
// value read. The kernel's atomic_cond_read_relaxed with a counting
// predicate; here a bounded spin with a bare cpu_relax(), so the simulator
// never takes it for a wait (model/atomic.h) and jumps the clock under it.
inline u32 queued_spin_pending_loops(qspinlock* lock) {
  int cnt = _Q_PENDING_LOOPS;
  for (;;) {
    const u32 val = atomic_read(&lock->val);
    if (val != _Q_PENDING_VAL || !cnt--) return val;
    cpu_relax();
  }
}

// smp_store_release(&lock->locked, 0): *,*,1 -> *,*,0.
inline void queued_spin_release(qspinlock* lock) {
  atomic_fetch_andnot_release<u32>(_Q_LOCKED_MASK, &lock->val);
}

KMODEL_NAMESPACE_END

#endif  // KMODEL_SYNC_RQSPINLOCK_QSPINLOCK_H_
