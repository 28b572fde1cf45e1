// cli/progress.h: the progress line of `streamcheck run` on a terminal.
//
//   llist/producers_consumer mainline  1200/2000 runs  850 schedules/s  1.4 s  ETA 0.9 s
//
// Rewritten in place with \r, at most ten times a second (the terminal must
// not become the bottleneck of a check doing thousands of runs a second),
// and erased when the check ends (Mode::kTerminal). Off a terminal (a CI
// log, a pipe) a rewritten line is noise, but a long check must still show
// that it moves: Mode::kLog prints a plain line, ended by a newline, once a
// check has run kLogEvery and then every kLogEvery after. Mode::kOff prints
// nothing (tests, --quiet).
#ifndef KMODEL_CLI_PROGRESS_H_
#define KMODEL_CLI_PROGRESS_H_

#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace streamcheck {

class Progress {
 public:
  enum class Mode { kOff, kTerminal, kLog };
  static constexpr absl::Duration kLogEvery = absl::Seconds(5);

  // `clock` is absl::Now but for tests.
  Progress(Mode mode, std::FILE* out, absl::Time (*clock)() = absl::Now)
      : mode_(mode), out_(out), clock_(clock) {}
  // The terminal mode when `enabled`, else off.
  Progress(bool enabled, std::FILE* out) : Progress(enabled ? Mode::kTerminal : Mode::kOff, out) {}

  // A new check: `expected_runs` 0 means unknown (exhaustive search);
  // `budget_s` 0 means no time budget.
  void begin(std::string label, std::uint64_t expected_runs, double budget_s);
  void on_run();  // after every completed run
  void end();     // erases the line

  // The line for `runs` runs after `elapsed` (exposed for tests).
  std::string line(std::uint64_t runs, absl::Duration elapsed) const;

 private:
  Mode mode_;
  std::FILE* out_;
  absl::Time (*clock_)();
  std::string label_;
  std::uint64_t expected_ = 0;
  double budget_s_ = 0;
  std::uint64_t runs_ = 0;
  absl::Time start_;
  absl::Time last_draw_;
};

}  // namespace streamcheck

#endif  // KMODEL_CLI_PROGRESS_H_
