// model/clock.h: the monotonic clock.
//
// Mirrors: ktime_get_mono_fast_ns() (include/linux/timekeeping.h), the NMI-safe
// clock rqspinlock and may_goto read for their timeouts.
//
// Natively this is CLOCK_MONOTONIC. In the simulator it is simulated time:
// every step advances it a little, and when every runnable CPU is spinning
// (in cpu_relax) with nothing written since, the clock jumps ahead, so a
// 250 ms timeout is reached in microseconds of real time. Reading it is a
// scheduling point.
//
// Waiting for time
//   A spin loop whose wait can end by time alone (a timeout, a stuck owner's
//   delay) declares, before each cpu_relax(), when it next has something to
//   do: `deadline_ns`, and optionally `check_ns`, an earlier periodic look
//   at memory (rqspinlock's deadlock checks, once per millisecond) that can
//   only find something new if some CPU wrote since this CPU's last look:
//
//     while (!cond()) {
//       if (spin_deadline_reached()) ...sample the clock now...;
//       spin_wait_deadline(timeout, next_check);
//       cpu_relax();
//     }
//
//   When every live CPU spins with nothing written since, the simulator
//   jumps the clock straight to the earliest deadline (a CPU's check_ns
//   counts only if a write happened since that CPU was last woken), and
//   spin_deadline_reached() returns true, once, on the CPUs it reached: the
//   jump stands for the spins until then, so a loop that samples the clock
//   every N spins samples now. A time already passed means "as soon as every
//   CPU waits". Natively both do nothing (false): real time passes anyway.
#ifndef KMODEL_MODEL_CLOCK_H_
#define KMODEL_MODEL_CLOCK_H_

#include "model/internal/hooks.h"
#include "model/types.h"

KMODEL_NAMESPACE_BEGIN

inline constexpr u64 NSEC_PER_USEC = 1000ull;
inline constexpr u64 NSEC_PER_MSEC = 1000000ull;
inline constexpr u64 NSEC_PER_SEC = 1000000000ull;

u64 ktime_get_mono_fast_ns();
inline u64 ktime_get_ns() { return ktime_get_mono_fast_ns(); }

inline void spin_wait_deadline(u64 deadline_ns, u64 check_ns = 0) {
  internal::declare_deadline(deadline_ns, check_ns);
}
inline bool spin_deadline_reached() { return internal::deadline_reached(); }

KMODEL_NAMESPACE_END

#endif  // KMODEL_MODEL_CLOCK_H_
