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
