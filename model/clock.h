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
#ifndef KMODEL_MODEL_CLOCK_H_
#define KMODEL_MODEL_CLOCK_H_

#include "model/types.h"

KMODEL_NAMESPACE_BEGIN

inline constexpr u64 NSEC_PER_USEC = 1000ull;
inline constexpr u64 NSEC_PER_MSEC = 1000000ull;
inline constexpr u64 NSEC_PER_SEC = 1000000000ull;

u64 ktime_get_mono_fast_ns();
inline u64 ktime_get_ns() { return ktime_get_mono_fast_ns(); }

KMODEL_NAMESPACE_END

#endif  // KMODEL_MODEL_CLOCK_H_
