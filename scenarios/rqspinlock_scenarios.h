// scenarios/rqspinlock_scenarios.h: the rqspinlock scenarios, for tests that
// drive them directly (all are also registered in the catalogue under
// "rqspinlock/...", with their expectations per profile).
#ifndef KMODEL_SCENARIOS_RQSPINLOCK_SCENARIOS_H_
#define KMODEL_SCENARIOS_RQSPINLOCK_SCENARIOS_H_

#include "model/sim/scenario.h"

KMODEL_NAMESPACE_BEGIN
namespace rqspinlock_scenarios {

// Every CPU of the machine takes two locks in turn (A with the three lock
// variants, B with irqs off), NMIs take the same and the other lock,
// hardirqs take B: at most one owner per lock, every acquisition counted,
// the machine clean at the end.
void mutual_exclusion(Scenario& s);
// The native stress test's mix (tests/sync/rqspinlock_native_stress_test):
// tasks take A with irqs on and B with irqs off, every CPU's NMI takes A and
// its hardirq takes B.
void stress_mix(Scenario& s);
// Every CPU takes lock A with irqs on; a hardirq on CPU 0 takes A too.
void hardirq_same_lock_irqs_on(Scenario& s);
// CPU 0 takes lock A while CPU 1 contends; an NMI on CPU 0 takes A too. It
// must get -EDEADLK or the lock, never spin into -ETIMEDOUT; under mainline
// an AA is reported without waiting.
void aa_nmi(Scenario& s);
// seed: an NMI queued behind its own CPU's queued task hangs.
void nmi_same_lock(Scenario& s);
// A queue head that finds a deadlock: seed/6.18 unwind the queue behind it.
void deadlock_keeps_queue(Scenario& s);
// Two CPUs take A,B and B,A, forced into the cycle on the first attempt.
void abba(Scenario& s);
// One CPU holds 34 locks and re-takes one the table does not record.
void held_lock_overflow(Scenario& s);
// A stuck owner (600 ms) with a pending waiter, a queue head and a queued
// waiter behind it: all time out, the queue unwinds, the lock works again.
void queue_timeout_recovers(Scenario& s);
// Three CPUs nest locks in one global order, hardirqs take a fourth lock:
// no lock attempt may fail.
void no_false_deadlock(Scenario& s);
// The test-and-set fallback: 1 s timeout against a stuck owner.
void tas_timeout(Scenario& s);

}  // namespace rqspinlock_scenarios
KMODEL_NAMESPACE_END

#endif  // KMODEL_SCENARIOS_RQSPINLOCK_SCENARIOS_H_
