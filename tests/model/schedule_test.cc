// Schedule strings: encoding, parsing, and errors that name the bad token.
#include <catch2/catch.hpp>

#include "model/sim/schedule.h"

using kmodel::Decision;
using Kind = kmodel::Decision::Kind;
using kmodel::encode_schedule;
using kmodel::parse_schedule;

TEST_CASE("encode compresses runs and leaves defaults out") {
  std::vector<Decision> d = {{Kind::kCpu, 0},       {Kind::kInterrupt, 0}, {Kind::kCpu, 0},
                             {Kind::kCpu, 0},       {Kind::kInterrupt, 2}, {Kind::kCpu, 1},
                             {Kind::kChoice, 0},    {Kind::kChoice, 1},    {Kind::kCpu, 12}};
  CHECK(kmodel::encode_schedule(d) == "v2:0*3.!2.1.?1.12");
  CHECK(kmodel::encode_schedule({}) == "v2:");
  CHECK(kmodel::encode_schedule(d, 1) == "v1:0*3.!2.1.?1.12");
}

TEST_CASE("parse inverts encode, except for the omitted defaults") {
  int version = 0;
  auto parsed = kmodel::parse_schedule("v2:0*3.!2.1.?1.12", &version);
  CHECK(version == 2);
  REQUIRE(parsed.ok());
  std::vector<Decision> want = {{Kind::kCpu, 0},   {Kind::kCpu, 0},    {Kind::kCpu, 0},
                                {Kind::kInterrupt, 2}, {Kind::kCpu, 1}, {Kind::kChoice, 1},
                                {Kind::kCpu, 12}};
  CHECK(*parsed == want);
  CHECK(kmodel::encode_schedule(*parsed) == "v2:0*3.!2.1.?1.12");
}

TEST_CASE("schedule: v1 (the clock before declared deadlines) still parses, and says so") {
  int version = 0;
  auto parsed = kmodel::parse_schedule("v1:0*3.!2.1.?1.12", &version);
  REQUIRE(parsed.ok());
  CHECK(version == 1);
  CHECK(parsed->size() == 7);
}

TEST_CASE("malformed schedules are rejected with the token named") {
  struct Case {
    const char* text;
    const char* needle;
  } cases[] = {
      {"", "must start with \"v2:\""},
      {"0*3", "must start with \"v2:\""},
      {"v3:0", "schedule version \"v3\" is not known: this build reads v1"},
      {"v10:0", "schedule version \"v10\" is not known"},
      {"v1:0..1", "token 2 \"\""},
      {"v1:0*0", "repeat count"},
      {"v1:x", "token 1 \"x\""},
      {"v1:!0", "interrupt numbers start at 1"},
      {"v1:1*99999999", "longer than"},
      {"v1:1*9999999999", "repeat count"},
      {"v1:-1", "token 1 \"-1\""},
      {"v1:0*16777216.1", "longer than"},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    auto parsed = kmodel::parse_schedule(c.text);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(parsed.status().message()), Catch::Contains(c.needle));
  }
}

TEST_CASE("schedule: a repeating stretch is written as a group and reads back exactly") {
  std::vector<Decision> d;
  for (int i = 0; i < 3; ++i) d.push_back({Decision::Kind::kCpu, 0});
  for (int r = 0; r < 1000; ++r) {
    d.push_back({Decision::Kind::kCpu, 1});
    for (int i = 0; i < 4; ++i) d.push_back({Decision::Kind::kCpu, 2});
    d.push_back({Decision::Kind::kCpu, 3});
  }
  d.push_back({Decision::Kind::kInterrupt, 2});
  d.push_back({Decision::Kind::kCpu, 1});
  const std::string text = encode_schedule(d);
  CHECK(text == "v2:0*3.(1.2*4.3)*1000.!2.1");
  absl::StatusOr<std::vector<Decision>> back = parse_schedule(text);
  REQUIRE(back.ok());
  std::vector<Decision> expected;
  for (const Decision& x : d)
    if (!(x.kind != Decision::Kind::kCpu && x.value == 0)) expected.push_back(x);
  CHECK(*back == expected);
  CHECK(parse_schedule("v1:(0.(1.2)*3)*2").ok());
  for (const char* bad : {"v1:(0.1", "v1:(0.1)", "v1:(0.1)*0", "v1:(0.1)*x", "v1:0)", "v1:0.(1)*2("}) {
    INFO(bad);
    CHECK_FALSE(parse_schedule(bad).ok());
  }
}
