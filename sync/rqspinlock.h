// sync/rqspinlock.h: the resilient queued spinlock - a qspinlock whose
// waiters give up instead of deadlocking.
//
// Mirrors: include/asm-generic/rqspinlock.h and kernel/bpf/rqspinlock.c, in
// two generations selected by the run-time profile (model/profile.h):
//
//   seed                   the code the May 2025 streams series was written
//                          against: as linux-6.18 but an NMI queues like
//                          any other waiter (it predates "rqspinlock: Choose
//                          trylock fallback for NMI waiters", Sep 2025);
//   linux-6.18             the merged 6.17/6.18 code;
//   mainline               plus "Disable queue destruction for deadlocks"
//                          (7bd6e5ce5be6, Oct 2025) with its tail reset
//                          ("Reset tail when preserving queue on deadlock",
//                          7a3c0289c3c8, Aug 2026), "Adjust return value for
//                          queue destruction" (Nov 2025), and the Nov 2025
//                          fixes ("rqspinlock: Enclose lock/unlock within
//                          lock entry acquisitions", "Perform AA checks
//                          immediately", "Use trylock fallback when per-CPU
//                          rqnode is busy", "Disable spinning for trylock
//                          fallback", "Precede non-head waiter queueing with
//                          AA check"). docs/profiles.md has the table.
//
// Contract
//   res_spin_lock(lock) returns 0 with the lock held, or fails with the lock
//   NOT held:
//     -EDEADLK    this CPU already holds or is acquiring `lock` (AA), or a
//                 remote CPU holds `lock` while it waits for a lock this CPU
//                 holds (ABBA), or (mainline) an NMI found its context node
//                 busy and a single trylock failed, or (seed, 6.18) a queued
//                 waiter was told to leave by a queue head that timed out or
//                 found a deadlock;
//     -ETIMEDOUT  waited longer than the bound: 250 ms as the pending
//                 waiter, 500 ms as the queue head, 1 s in the test-and-set
//                 fallback (RES_DEF_TIMEOUT = 250 ms); or (mainline) a
//                 queued waiter was told to leave by a head that timed out.
//   res_spin_unlock(lock) releases a lock taken by res_spin_lock() on this
//   CPU. Locks are released in reverse order of acquisition (the verifier
//   enforces it for BPF programs); the held-locks table relies on it.
//
// Held-locks table (per CPU, rqspinlock_held_locks)
//   cnt counts every lock held or being acquired by this CPU, in all nested
//   contexts; locks[0 .. min(cnt, 31) - 1] name them in acquisition order;
//   the top entry is the lock being acquired (or the last one taken). cnt
//   keeps counting past RES_NR_HELD = 31 so unlock stays balanced; locks
//   beyond 31 are simply not recorded (and escape deadlock detection).
//     AA:   `lock` appears among this CPU's entries below the top.
//     ABBA: some remote CPU with 2 <= cnt <= 31 has `lock` below its top,
//           and its top entry appears among this CPU's entries below the top.
//
// Waiting (generic cadence; see rqspinlock_cadence below)
//   Every waiting loop samples the clock once per 65536 spins (natively: at
//   each cpu_relax() yield, see rqspinlock_cadence). 6.18: the
//   first sample starts the timeout; AA and ABBA run at most once per ms
//   after that. mainline: AA runs at the first sample, before the clock is
//   read, and again before queueing; ABBA at most once per ms.
//   When the queue head times out it unlinks itself if it is the tail, or
//   writes RES_TIMEOUT_VAL into its successor's node; each successor then
//   does the same, so the whole queue leaves in FIFO order and the tail is
//   never lost. A head that finds a deadlock does the same in seed and 6.18
//   (every waiter behind it fails); mainline keeps the queue: the head
//   resets the tail if it is the last waiter, else hands the head role to
//   its successor, and only the head itself fails.
//
// NMIs
//   seed: an NMI queues like any other waiter (its context's node); only
//   running out of the four nodes sends it to the trylock spin.
//   6.18: an NMI never queues; it spins on trylock for up to 250 ms.
//   mainline: an NMI queues like anyone else unless this CPU's first node is
//   busy (a lower context is queued on some rqspinlock), in which case it
//   tries the lock once and fails with -EDEADLK.
//
// Ordering of the table around the lock word
//   6.18 fast path: cmpxchg, then write the entry; unlock: clear the entry,
//   release the word, then decrement. An NMI between the two steps does not
//   see the entry and spins into the 250 ms timeout (the bug the Nov 2025
//   fixes removed). mainline: write the entry, then cmpxchg; unlock: release
//   the word, clear the entry, decrement.
//
// Contexts: any, including NMI. Callers that can be interrupted by code
// taking the same lock use the _irqsave variants; NMIs are caught by AA.
#ifndef KMODEL_SYNC_RQSPINLOCK_H_
#define KMODEL_SYNC_RQSPINLOCK_H_

#include <string>

#include "model/atomic.h"
#include "model/clock.h"
#include "model/cpu.h"
#include "model/percpu.h"
#include "model/profile.h"
#include "sync/rqspinlock_qspinlock.h"
#include "sync/rqspinlock_report.h"
#include "sync/rqspinlock_seeded_bugs.h"

KMODEL_NAMESPACE_BEGIN

using rqspinlock_t = qspinlock;

// The BPF-visible lock: the same word under a distinct type (BTF needs one).
struct bpf_res_spin_lock {
  rqspinlock_t lock;
};

inline void raw_res_spin_lock_init(rqspinlock_t* lock) { WRITE_ONCE(lock->val, 0u); }

// Default timeout of a waiting loop: 0.25 s.
inline constexpr u64 RES_DEF_TIMEOUT = NSEC_PER_SEC / 4;

struct rqspinlock_held {
  Atomic<int> cnt;
  Atomic<void*> locks[RES_NR_HELD];
};

extern PerCpu<rqspinlock_held> rqspinlock_held_locks;

// ---- Check cadence -------------------------------------------------------
// The kernel samples the clock every 65536 spins (a u16 counter) and runs
// deadlock checks at most once per millisecond. What the count stands for is
// time: 65536 pauses of a CPU that nobody preempts, a few milliseconds, far
// inside the 250 ms timeout. A native spin may give the core away
// (CPU_RELAX_YIELD_PERIOD, model/atomic.h) and last a whole time slice, so 65536
// of them could outlast the timeout and turn an AA into -ETIMEDOUT on a busy
// machine; the native default therefore samples at every yield, which keeps
// the kernel's time behaviour (deadlock checks at most once per ms after the
// first, timeouts at their bounds). The simulator keeps the kernel's count,
// and each wait declares its timeout and next check (model/clock.h,
// spin_wait_deadline): when every CPU waits, the clock jumps there and the
// wait samples at once. Catalogue scenarios still set spins_per_clock_sample
// = 1 (a sample per spin). Set while no CPU runs; reset with the machine
// state.
inline constexpr u32 RES_KERNEL_SPINS_PER_CLOCK_SAMPLE = 65536;
struct rqspinlock_cadence {
  u32 spins_per_clock_sample = KMODEL_IS_SIM ? RES_KERNEL_SPINS_PER_CLOCK_SAMPLE
                                             : CPU_RELAX_YIELD_PERIOD;
  u64 deadlock_check_interval_ns = NSEC_PER_MSEC;
};
const rqspinlock_cadence& rqspinlock_get_cadence();
void rqspinlock_set_cadence(const rqspinlock_cadence& cadence);

// True when the profile has the Nov 2025 fixes.
inline bool rqspinlock_nov2025_fixes() { return has_mainline_fixes(); }

// The profile choices of the queue path (see the top of this file and
// docs/profiles.md): whether an NMI may queue on its node at all (only the
// seed, which predates the Sep 2025 trylock fallback for NMI waiters);
// whether a head that finds a deadlock keeps the queue (mainline); what a
// queued waiter told to leave returns.
inline bool rqspinlock_nmi_queues() { return current_profile() == Profile::kSeed; }
inline bool rqspinlock_keeps_queue_on_deadlock() { return has_mainline_fixes(); }
int rqspinlock_told_to_leave_errno();

// ---- Held-locks table ------------------------------------------------------
// Only this CPU writes its table; interrupts nest and restore cnt before
// they return, so a read-then-write of cnt is as good as this_cpu_inc: an
// interrupt between the two leaves cnt as it found it. Remote CPUs only read
// (ABBA), with READ_ONCE, and tolerate NULL or stale entries.

inline void grab_held_lock_entry(void* lock) {
  rqspinlock_held* rqh = this_cpu_ptr(&rqspinlock_held_locks);
  const int cnt = READ_ONCE(rqh->cnt) + 1;
  WRITE_ONCE(rqh->cnt, cnt);
  // Past the table: still counted, so that the release stays balanced.
  if (__builtin_expect(cnt > RES_NR_HELD, 0)) return;
  WRITE_ONCE(rqh->locks[cnt - 1], lock);
}

// Drops the top entry after a failed attempt. The smp_wmb() keeps the NULL
// store ahead of the decrement, so a remote CPU never sees this CPU's next
// attempt paired with the lock that just failed (false ABBA).
inline void release_held_lock_entry() {
  rqspinlock_held* rqh = this_cpu_ptr(&rqspinlock_held_locks);
  const int cnt = READ_ONCE(rqh->cnt);
  if (__builtin_expect(cnt <= RES_NR_HELD, 1)) WRITE_ONCE(rqh->locks[cnt - 1], nullptr);
  smp_wmb();
  WRITE_ONCE(rqh->cnt, cnt - 1);
}

// ---- Lock and unlock ---------------------------------------------------------

int resilient_queued_spin_lock_slowpath(rqspinlock_t* lock, u32 val);

// The test-and-set fallback (the kernel's !CONFIG_QUEUED_SPINLOCKS build):
// one word, no queue, 1 s timeout. Unlock with res_spin_unlock().
int resilient_tas_spin_lock(rqspinlock_t* lock);

namespace rqspinlock_internal {
void unlock_seeded(rqspinlock_t* lock, rqspinlock_held* rqh);  // simulator only
}

// Fast path: an uncontended cmpxchg 0 -> locked. The entry is written
// before the cmpxchg (mainline) so an NMI landing right after it sees AA.
inline int res_spin_lock(rqspinlock_t* lock) {
  u32 val = 0;
  if (rqspinlock_nov2025_fixes()) {
    grab_held_lock_entry(lock);
    if (__builtin_expect(atomic_try_cmpxchg_acquire(&lock->val, &val, _Q_LOCKED_VAL), 1))
      return 0;
  } else if (__builtin_expect(atomic_try_cmpxchg_acquire(&lock->val, &val, _Q_LOCKED_VAL),
                              1)) {
    grab_held_lock_entry(lock);
    return 0;
  }
  return resilient_queued_spin_lock_slowpath(lock, val);
}

inline void res_spin_unlock(rqspinlock_t* lock) {
  rqspinlock_held* rqh = this_cpu_ptr(&rqspinlock_held_locks);
  if (rqspinlock_seeded_bug(RqspinlockSeededBug::kUnlockTableBeforeRelease)) {
    rqspinlock_internal::unlock_seeded(lock, rqh);
    return;
  }
  const int cnt = READ_ONCE(rqh->cnt);
  if (rqspinlock_nov2025_fixes()) {
    // Release first: an NMI landing before the entry is cleared still sees
    // AA (a false positive at worst, never a missed AA and a timeout).
    queued_spin_release(lock);
    if (__builtin_expect(cnt <= RES_NR_HELD, 1)) WRITE_ONCE(rqh->locks[cnt - 1], nullptr);
  } else {
    // 6.18: clear the entry first, so no remote CPU sees the lock in our
    // table once it can take it (no false ABBA) - at the price of a missed
    // AA for an NMI landing between the two stores.
    if (__builtin_expect(cnt <= RES_NR_HELD, 1)) WRITE_ONCE(rqh->locks[cnt - 1], nullptr);
    queued_spin_release(lock);
  }
  WRITE_ONCE(rqh->cnt, cnt - 1);
}

// ---- raw_ variants: preemption (and irqs) off while held ---------------------

inline int raw_res_spin_lock(rqspinlock_t* lock) {
  preempt_disable();
  const int ret = res_spin_lock(lock);
  if (ret) preempt_enable();
  return ret;
}

inline void raw_res_spin_unlock(rqspinlock_t* lock) {
  res_spin_unlock(lock);
  preempt_enable();
}

inline int raw_res_spin_lock_irqsave(rqspinlock_t* lock, unsigned long& flags) {
  local_irq_save(flags);
  const int ret = raw_res_spin_lock(lock);
  if (ret) local_irq_restore(flags);
  return ret;
}

inline void raw_res_spin_unlock_irqrestore(rqspinlock_t* lock, unsigned long flags) {
  raw_res_spin_unlock(lock);
  local_irq_restore(flags);
}

// ---- BPF kfuncs --------------------------------------------------------------
// As raw_res_spin_lock[_irqsave], and a failure is reported to the installed
// RqspinlockReportSink (sync/rqspinlock_report.h) before preemption and irqs
// are restored. The irqsave pair keeps the flags in *flags.

int bpf_res_spin_lock(struct bpf_res_spin_lock* lock);
void bpf_res_spin_unlock(struct bpf_res_spin_lock* lock);
int bpf_res_spin_lock_irqsave(struct bpf_res_spin_lock* lock, unsigned long* flags);
void bpf_res_spin_unlock_irqrestore(struct bpf_res_spin_lock* lock, unsigned long* flags);

// ---- Introspection (tests, scenarios) ----------------------------------------

// How many of `cpu`'s MCS nodes are in use (0 when no waiter is queued there).
int rqspinlock_nodes_in_use(int cpu);

// Model lockevents (the kernel counts similar ones with lockevent_inc), per
// CPU, reset with the machine state:
//   kToldToLeave               a queued waiter on this CPU was told to leave
//                              by its queue head;
//   kHeadDeadlockWithWaiters   a queue head on this CPU found a deadlock
//                              while waiters were queued behind it.
enum class RqspinlockEvent { kToldToLeave, kHeadDeadlockWithWaiters, kNrEvents };
u64 rqspinlock_event_count(int cpu, RqspinlockEvent event);

// One-line descriptions for diagnostics (a watchdog that finds a test stuck):
// "0x00040101 (tail cpu 0 idx 1, pending 1, locked 1)", and a CPU's node
// count, its four MCS nodes (locked, next as "cpu/idx") and held-locks table.
// Racy snapshots: they read with READ_ONCE while CPUs may run.
std::string rqspinlock_describe(const rqspinlock_t* lock);
std::string rqspinlock_describe_cpu(int cpu);

KMODEL_NAMESPACE_END

#endif  // KMODEL_SYNC_RQSPINLOCK_H_
