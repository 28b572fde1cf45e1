// model/sim/schedule.h: a run's decisions, and the string that replays them.
//
// Every nondeterministic thing in a simulated run is a decision taken by the
// strategy: which CPU runs next, whether an interrupt is injected before that
// CPU's next operation, and each data choice (e.g. "this page allocation
// fails"). A run is a pure function of its scenario, its configuration and
// this list, so the list, written as a short string, replays the run exactly.
//
// Grammar (versions 1 and 2 share it):
//
//   schedule := ( "v2:" | "v1:" ) [ element ( "." element )* ]
//   element  := token | "(" element ( "." element )* ")*" count
//                                          a group repeated count times
//   token    := item [ "*" count ]        count >= 1 repeats the item
//   item     := cpu                        CPU number `cpu` runs one step
//             | "!" irq                    inject interrupt number `irq` (1-based)
//             | "?" value                  a data choice took `value`
//
// "No interrupt" and a data choice of 0 are the defaults and are not
// written: when replay is asked such a question and the next item is not of
// that kind, the answer is 0. So "v1:0*3.!1.1.?1" means: CPU 0 runs three
// steps; interrupt 1 is injected into the next CPU chosen, CPU 1; a later data
// choice answers 1. "v1:0*3.(1.2*4)*100" is CPU 0 three steps, then one
// step of CPU 1 and four of CPU 2, a hundred times (the encoder writes any
// stretch that repeats a group of up to 64 tokens three times or more this
// way: spin loops and the cycle of a hang stay short).
//
// The version names the machine the decisions were recorded on, since the
// same decisions mean a different run when the machine changes:
//   v1  the clock before declared deadlines: a waiter spun through its
//       sample interval step by step (up to 2026-12-01);
//   v2  the clock jumps to the earliest declared deadline when every CPU
//       waits (model/clock.h: spin_wait_deadline).
// The encoder writes v2; replay() runs a v1 schedule on the v1 clock
// (Config::jump_to_deadlines = false), so old failure files still replay.
#ifndef KMODEL_MODEL_SIM_SCHEDULE_H_
#define KMODEL_MODEL_SIM_SCHEDULE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "model/backend.h"

KMODEL_NAMESPACE_BEGIN

struct Decision {
  enum class Kind : std::uint8_t { kCpu, kInterrupt, kChoice };
  Kind kind;
  int value;  // CPU number; interrupt number (1-based, 0 = none); choice value
  bool operator==(const Decision&) const = default;
};

inline constexpr int kScheduleVersion = 2;  // what encode_schedule writes

// Encodes decisions; defaults (no interrupt, choice 0) are left out.
std::string encode_schedule(const std::vector<Decision>& decisions,
                            int version = kScheduleVersion);

// Parses a schedule string of version 1 or 2 (stored in *version when given).
// Defaults left out when encoding are not restored here; replay
// (ReplayStrategy) supplies them when asked. A malformed string, or an
// unknown version, is an InvalidArgument error naming the offending token
// and its position, or the version.
absl::StatusOr<std::vector<Decision>> parse_schedule(std::string_view text,
                                                     int* version = nullptr);

KMODEL_NAMESPACE_END

#endif  // KMODEL_MODEL_SIM_SCHEDULE_H_
