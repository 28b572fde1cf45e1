#include "cli/progress.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace streamcheck {

void Progress::begin(std::string label, std::uint64_t expected_runs, double budget_s) {
  label_ = std::move(label);
  expected_ = expected_runs;
  budget_s_ = budget_s;
  runs_ = 0;
  start_ = clock_();
  // A log line first comes after kLogEvery; the terminal line at once.
  last_draw_ = mode_ == Mode::kLog ? start_ : absl::InfinitePast();
}

void Progress::on_run() {
  ++runs_;
  if (mode_ == Mode::kOff) return;
  const absl::Time now = clock_();
  if (now - last_draw_ < (mode_ == Mode::kLog ? kLogEvery : absl::Milliseconds(100))) return;
  last_draw_ = now;
  if (mode_ == Mode::kLog) {
    std::fprintf(out_, "progress: %s\n", line(runs_, now - start_).c_str());
  } else {
    std::fprintf(out_, "\r\033[K%s", line(runs_, now - start_).c_str());
  }
  std::fflush(out_);
}

void Progress::end() {
  if (mode_ != Mode::kTerminal) return;
  std::fprintf(out_, "\r\033[K");
  std::fflush(out_);
}

std::string Progress::line(std::uint64_t runs, absl::Duration elapsed) const {
  const double seconds = absl::ToDoubleSeconds(elapsed);
  const double rate = seconds > 0 ? static_cast<double>(runs) / seconds : 0;
  // Remaining time: by the runs still to do at the current rate, capped by
  // the time budget; unknown when neither bounds it.
  double eta = -1;
  if (expected_ > runs && rate > 0) eta = static_cast<double>(expected_ - runs) / rate;
  if (budget_s_ > 0) eta = eta < 0 ? budget_s_ - seconds : std::min(eta, budget_s_ - seconds);
  const std::string total = expected_ > 0 ? absl::StrFormat("/%d", expected_) : "";
  const std::string eta_text = eta < 0 ? "?" : absl::StrFormat("%.1f s", std::max(eta, 0.0));
  return absl::StrFormat("%s  %d%s runs  %.0f schedules/s  %.1f s  ETA %s", label_, runs, total,
                         rate, seconds, eta_text);
}

}  // namespace streamcheck
