// The progress line of `streamcheck run` (cli/progress.h): rate, elapsed
// time and an ETA bounded by the run budget and the time budget; and
// nothing at all when disabled (not a terminal).
#include <catch2/catch.hpp>

#include <cstdio>
#include <string>

#include "cli/progress.h"

using streamcheck::Progress;

TEST_CASE("progress: rate, elapsed and ETA from the run budget") {
  Progress p(false, stderr);
  p.begin("llist/x mainline", 1000, 0);
  CHECK(p.line(250, absl::Seconds(1)) ==
        "llist/x mainline  250/1000 runs  250 schedules/s  1.0 s  ETA 3.0 s");
}

TEST_CASE("progress: the time budget caps the ETA; unknown totals show ?") {
  Progress p(false, stderr);
  p.begin("a", 1000, 2.0);
  CHECK_THAT(p.line(100, absl::Seconds(1)), Catch::EndsWith("ETA 1.0 s"));
  p.begin("b", 0, 0);  // exhaustive: no run total
  CHECK(p.line(10, absl::Seconds(2)) == "b  10 runs  5 schedules/s  2.0 s  ETA ?");
}

TEST_CASE("progress: disabled, it writes nothing") {
  std::FILE* f = std::tmpfile();
  REQUIRE(f != nullptr);
  Progress p(false, f);
  p.begin("a", 10, 0);
  for (int i = 0; i < 10; ++i) p.on_run();
  p.end();
  CHECK(std::ftell(f) == 0);
  std::fclose(f);
}

TEST_CASE("progress: enabled, it draws with \\r and erases the line at the end") {
  std::FILE* f = std::tmpfile();
  REQUIRE(f != nullptr);
  Progress p(true, f);
  p.begin("a", 10, 0);
  p.on_run();  // the first run always draws
  p.end();
  std::rewind(f);
  char buf[256] = {};
  const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  const std::string out(buf, n);
  CHECK_THAT(out, Catch::StartsWith("\r\033[Ka  1/10 runs"));
  CHECK_THAT(out, Catch::EndsWith("\r\033[K"));
  std::fclose(f);
}

namespace {
absl::Time g_fake_now;
absl::Time fake_clock() { return g_fake_now; }
std::string contents(std::FILE* f) {
  std::string text(static_cast<std::size_t>(std::ftell(f)), '\0');
  std::rewind(f);
  if (!text.empty()) REQUIRE(std::fread(text.data(), 1, text.size(), f) == text.size());
  return text;
}
}  // namespace

TEST_CASE("progress: off a terminal, a plain line every 5 s of a long check, nothing else") {
  std::FILE* f = std::tmpfile();
  REQUIRE(f != nullptr);
  g_fake_now = absl::FromUnixSeconds(1000);
  Progress p(Progress::Mode::kLog, f, fake_clock);
  p.begin("a seed", 100, 0);
  g_fake_now += absl::Seconds(4);
  p.on_run();  // before 5 s: nothing
  p.end();
  CHECK(contents(f).empty());
  p.begin("b mainline", 100, 0);
  g_fake_now += absl::Seconds(5);
  p.on_run();  // 5 s: a line
  g_fake_now += absl::Seconds(1);
  p.on_run();  // 1 s later: nothing
  g_fake_now += absl::Seconds(4);
  p.on_run();  // 5 s after the last: a line
  p.end();     // no escape codes to erase anything
  const std::string text = contents(f);
  CHECK(text ==
        "progress: b mainline  1/100 runs  0 schedules/s  5.0 s  ETA 495.0 s\n"
        "progress: b mainline  3/100 runs  0 schedules/s  10.0 s  ETA 323.3 s\n");
  CHECK(text.find('\r') == std::string::npos);
  std::fclose(f);
}
