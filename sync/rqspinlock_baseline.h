// sync/rqspinlock_baseline.h: the same queued spinlock with every
// resilience check compiled out - the kernel's plain qspinlock.
//
// Mirrors: kernel/locking/qspinlock.c (queued_spin_lock_slowpath) and
// include/asm-generic/qspinlock.h, Linux 6.18, on the lock word and helpers
// of sync/rqspinlock_qspinlock.h, with its own per-CPU MCS nodes (the
// kernel's `qnodes`, separate from rqspinlock's `rqnodes`).
//
// It exists to measure what resilience costs (bench/rqspinlock_bench.cc):
// no held-locks table, no clock, no deadlock checks, no timeouts. It never
// fails and deadlocks exactly where a qspinlock would (AA, ABBA, an NMI
// taking a lock its CPU holds). Do not use it in kernel-shaped code that can
// be re-entered.
#ifndef KMODEL_SYNC_RQSPINLOCK_BASELINE_H_
#define KMODEL_SYNC_RQSPINLOCK_BASELINE_H_

#include "sync/rqspinlock_qspinlock.h"

KMODEL_NAMESPACE_BEGIN

void queued_spin_lock_slowpath(qspinlock* lock, u32 val);

inline void queued_spin_lock(qspinlock* lock) {
  u32 val = 0;
  if (__builtin_expect(atomic_try_cmpxchg_acquire(&lock->val, &val, _Q_LOCKED_VAL), 1)) return;
  queued_spin_lock_slowpath(lock, val);
}

inline void queued_spin_unlock(qspinlock* lock) { queued_spin_release(lock); }

KMODEL_NAMESPACE_END

#endif  // KMODEL_SYNC_RQSPINLOCK_BASELINE_H_
