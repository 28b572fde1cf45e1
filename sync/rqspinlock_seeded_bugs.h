// sync/rqspinlock_seeded_bugs.h: deliberate bugs the model checker must find.
//
// Not kernel code. A seeded bug is a small, named deviation from the kernel's
// algorithm that a scenario of the catalogue switches on to prove that the
// checker (and the scenario's invariants) would catch that mistake. They
// exist only in the simulator build: in the native build (the one linked
// into programs, stress tests and benchmarks) rqspinlock_seeded_bug() is a
// constant `false` and every hook compiles away, so production code cannot
// run a seeded bug.
//
// In the simulator the knob is machine state: the reset before every run
// clears it, and a seeded scenario sets it again in its setup, so a seeded
// bug never leaks into another scenario's runs.
#ifndef KMODEL_SYNC_RQSPINLOCK_SEEDED_BUGS_H_
#define KMODEL_SYNC_RQSPINLOCK_SEEDED_BUGS_H_

#include "model/backend.h"

KMODEL_NAMESPACE_BEGIN

enum class RqspinlockSeededBug : unsigned {
  kNone = 0,
  // check_deadlock_AA() never reports: an NMI that takes the lock its CPU
  // holds spins into the timeout.
  kSkipAaCheck,
  // A pending waiter that times out leaves the pending bit set: the lock is
  // unusable afterwards.
  kPendingNotClearedOnTimeout,
  // res_spin_unlock() clears the entry and decrements the count before it
  // releases the lock word: an NMI in between misses the AA.
  kUnlockTableBeforeRelease,
  // A queue head that times out does not tell its successor to leave: the
  // successor spins forever.
  kQueueTimeoutForgetsSuccessor,
};

#if KMODEL_IS_SIM
// Switches one seeded bug on until the next machine reset (kNone: off).
void rqspinlock_seed_bug(RqspinlockSeededBug bug);
bool rqspinlock_seeded_bug(RqspinlockSeededBug bug);
#else
constexpr bool rqspinlock_seeded_bug(RqspinlockSeededBug) { return false; }
#endif

KMODEL_NAMESPACE_END

#endif  // KMODEL_SYNC_RQSPINLOCK_SEEDED_BUGS_H_
