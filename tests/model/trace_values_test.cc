// The trace's details of memory operations (model/sim/trace.h): what each
// operation of model/atomic.h read and wrote, and the file:line of the code
// that called it (not of model/atomic.h, also through wrappers such as
// atomic_inc); the text timeline shows them only when asked.
#include <catch2/catch.hpp>

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "model/atomic.h"
#include "model/sim/check.h"

using namespace kmodel;
using internal::Access;

namespace {

enum Call { kLoad, kStore, kCasFail, kCasOk, kXchg, kInc, kAcquire, kFence, kCalls };

struct Cells {
  Atomic<int> i{5};
  Atomic<long> neg{0};
  Atomic<int*> p{nullptr};
  Atomic<unsigned> u{7};
  int target = 0;
  std::array<unsigned, kCalls> line{};  // the line of each call below
};

// One CPU, one call of each kind, each on the line recorded next to it.
// Each run has cells of its own (the checker replays runs to compare).
void one_of_each(Scenario& s, std::vector<std::shared_ptr<Cells>>& made) {
  auto c = made.emplace_back(std::make_shared<Cells>());
  s.on_cpu(0, [c] {
    c->line[kLoad] = __LINE__; (void)READ_ONCE(c->i);
    c->line[kStore] = __LINE__; WRITE_ONCE(c->neg, -3L);
    int expected = 1;
    c->line[kCasFail] = __LINE__; (void)try_cmpxchg(&c->i, &expected, 9);
    c->line[kCasOk] = __LINE__; (void)cmpxchg(&c->i, 5, 6);
    c->line[kXchg] = __LINE__; (void)xchg(&c->p, &c->target);
    c->line[kInc] = __LINE__; atomic_inc(&c->u);
    c->line[kAcquire] = __LINE__; (void)smp_load_acquire(&c->u);
    c->line[kFence] = __LINE__; smp_mb();
  });
}

struct Recorded {
  RunResult run;
  std::shared_ptr<Cells> cells;
  std::size_t scenario_builds = 0;  // the run and its determinism replay: 2
  std::vector<TraceEvent> ops;  // the op events after the body's start
};

Recorded record_one_of_each() {
  Recorded out;
  Config config{.cpus = 1, .seed = 1, .iterations = 1};
  // The checker replays the run (its determinism check) before the
  // observer sees it: a second set of cells, whose pointers differ from the
  // first run's, and the traces must still compare equal.
  std::vector<std::shared_ptr<Cells>> made;
  check(config, [&made](Scenario& s) { one_of_each(s, made); },
        [&out](std::uint64_t, const RunResult& r) { out.run = r; });
  REQUIRE(!made.empty());
  out.cells = made.front();
  out.scenario_builds = made.size();
  for (const TraceEvent& e : out.run.trace.events())
    if (e.kind == TraceEvent::Kind::kOp && e.op != internal::Op::kStart) out.ops.push_back(e);
  return out;
}

bool ends_with(const char* s, const std::string& suffix) {
  const std::string text = s == nullptr ? "" : s;
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

TEST_CASE("each memory operation keeps what it read and wrote") {
  const Recorded r = record_one_of_each();
  INFO(r.run.report(true));
  REQUIRE(r.run.ok());  // also: the replay's other pointers compared equal
  CHECK(r.scenario_builds == 2);
  REQUIRE(r.ops.size() == kCalls);

  const Access& load = r.ops[kLoad].access;
  CHECK(std::string(load.what) == "load");
  CHECK(load.flags == (Access::kRead | Access::kSigned));
  CHECK(load.read == 5);
  CHECK(load.order == static_cast<std::uint8_t>(std::memory_order_relaxed));

  const Access& store = r.ops[kStore].access;
  CHECK(std::string(store.what) == "store");
  CHECK(store.flags == (Access::kWritten | Access::kSigned));
  CHECK(static_cast<std::int64_t>(store.written) == -3);

  const Access& fail = r.ops[kCasFail].access;
  CHECK(std::string(fail.what) == "cmpxchg");
  CHECK((fail.flags & Access::kExpected));
  CHECK_FALSE((fail.flags & Access::kOk));
  CHECK(fail.expected == 1);
  CHECK(fail.read == 5);  // what it found
  CHECK(fail.written == 9);  // what it proposed
  CHECK(fail.order == static_cast<std::uint8_t>(std::memory_order_seq_cst));

  const Access& ok = r.ops[kCasOk].access;
  CHECK((ok.flags & Access::kOk));
  CHECK(ok.expected == 5);
  CHECK(ok.read == 5);
  CHECK(ok.written == 6);

  const Access& x = r.ops[kXchg].access;
  CHECK(std::string(x.what) == "xchg");
  CHECK(x.flags == (Access::kRead | Access::kWritten | Access::kPointer));
  CHECK(x.read == 0);
  CHECK(x.written == reinterpret_cast<std::uintptr_t>(&r.cells->target));

  const Access& inc = r.ops[kInc].access;
  CHECK(std::string(inc.what) == "fetch_add");
  CHECK(inc.flags == (Access::kRead | Access::kWritten));  // unsigned
  CHECK(inc.read == 7);
  CHECK(inc.written == 8);

  CHECK(r.ops[kAcquire].access.order == static_cast<std::uint8_t>(std::memory_order_acquire));
  CHECK(r.ops[kAcquire].access.read == 8);
  CHECK(r.ops[kFence].op == internal::Op::kFence);
  CHECK(r.ops[kFence].access.what == nullptr);  // no memory operand
}

TEST_CASE("each step names its caller's file:line, through wrappers too") {
  const Recorded r = record_one_of_each();
  REQUIRE(r.ops.size() == kCalls);
  for (int call = 0; call < kCalls; ++call) {
    INFO("call " << call << " at " << (r.ops[call].at.file ? r.ops[call].at.file : "(none)") << ":"
                 << r.ops[call].at.line);
    CHECK(ends_with(r.ops[call].at.file, "tests/model/trace_values_test.cc"));
    CHECK(r.ops[call].at.line == r.cells->line[call]);
    CHECK(r.ops[call].at.line != 0);
  }
}

TEST_CASE("the timeline shows values and callers only with details") {
  const Recorded r = record_one_of_each();
  const std::string plain = r.run.trace.timeline(1);
  const std::string detailed = r.run.trace.timeline(1, 200, true);
  INFO(detailed);
  const auto at = [&r](Call c) {
    return absl::StrCat("@trace_values_test.cc:", r.cells->line[c]);
  };
  CHECK_THAT(detailed, Catch::Contains("values @caller"));
  CHECK_THAT(detailed, Catch::Contains(absl::StrCat("= 5  ", at(kLoad))));
  CHECK_THAT(detailed, Catch::Contains(absl::StrCat(":= -3  ", at(kStore))));
  CHECK_THAT(detailed, Catch::Contains(absl::StrCat("cmpxchg 1 -> 9 failed, saw 5  ", at(kCasFail))));
  CHECK_THAT(detailed, Catch::Contains(absl::StrCat("cmpxchg 5 -> 6 ok  ", at(kCasOk))));
  CHECK_THAT(detailed, Catch::Contains("xchg 0x0 -> 0x"));
  CHECK_THAT(detailed, Catch::Contains(absl::StrCat("fetch_add 7 -> 8  ", at(kInc))));
  CHECK_THAT(detailed, Catch::Contains(absl::StrCat("fence ")));
  CHECK_THAT(detailed, Catch::Contains(at(kFence)));
  // The default (a run's failure report) keeps its columns and nothing more.
  CHECK_THAT(plain, !Catch::Contains("@") && !Catch::Contains("values @caller"));
  CHECK(plain.size() < detailed.size());
}

TEST_CASE("trace equality compares values, except pointers, and callers") {
  TraceEvent a;
  a.kind = TraceEvent::Kind::kOp;
  a.op = internal::Op::kLoad;
  a.at = {"x.cc", 3};
  a.access.what = "load";
  a.access.flags = Access::kRead;
  a.access.read = 1;
  TraceEvent b = a;
  const std::string other_file = "x.cc";  // same text, another pointer
  b.at.file = other_file.c_str();
  CHECK(a == b);
  b.access.read = 2;
  CHECK_FALSE(a == b);  // an integer differs: a different run
  b = a;
  b.at.line = 4;
  CHECK_FALSE(a == b);
  a.access.flags = b.access.flags = Access::kRead | Access::kPointer;
  b = a;
  b.access.read = 0x1234;  // heap addresses differ between runs
  CHECK(a == b);
}

TEST_CASE("no value is recorded for operations outside a running CPU") {
  // Setup and end checks run on no simulated CPU: their operations are no
  // steps, and must not write into the trace.
  auto cell = std::make_shared<Atomic<int>>(0);
  Config config{.cpus = 1, .seed = 1, .iterations = 1};
  RunResult seen;
  check(config,
        [cell](Scenario& s) {
          WRITE_ONCE(*cell, 1);
          s.on_cpu(0, [cell] { (void)READ_ONCE(*cell); });
          s.at_end([cell] { atomic_inc(cell.get()); });
        },
        [&seen](std::uint64_t, const RunResult& r) { seen = r; });
  std::size_t with_values = 0;
  for (const TraceEvent& e : seen.trace.events()) with_values += e.access.what != nullptr;
  CHECK(with_values == 1);
  CHECK(seen.trace.events().back().access.read == 1);
}
