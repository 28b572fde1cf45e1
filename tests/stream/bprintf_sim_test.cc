// bprintf under the simulator: task, softirq, hardirq and NMI all printing
// on one CPU, interrupts landing at every step of the buffer borrow. Exactly
// the fourth nested user (the NMI inside hardirq inside softirq inside the
// task) gets -EBUSY; every other print keeps its own intact buffer; the nest
// counter is back to 0 at the end. Seeded and replayable.
#include <catch2/catch.hpp>

#include <cerrno>
#include <memory>
#include <string>

#include "model/atomic.h"
#include "model/bug.h"
#include "model/sim/check.h"
#include "stream/bprintf.h"

using namespace kmodel;

namespace {

enum Level { kTask, kSoftirq, kHardirq, kNmi, kLevels };

struct State {
  bool inside[kLevels] = {};   // between entering bpf_stream_format and cleanup
  bool holding[kLevels] = {};  // prepare succeeded, buffer not yet released
  int result[kLevels] = {1, 1, 1, 1};
  Atomic<int> tick;  // touched to give interrupts places to land
  int goal_refused = -1;
  int goal_three_deep = -1;
};

void print_at(State* st, int level) {
  st->inside[level] = true;
  const bool outer_all_holding =
      level == kNmi && st->holding[kTask] && st->holding[kSoftirq] && st->holding[kHardirq];
  const u64 args[1] = {static_cast<u64>(level)};
  bpf_bprintf_data data;
  const int ret = bpf_stream_format("level %d", args, 8, &data);
  st->result[level] = ret;
  if (ret == -EBUSY) {
    MODEL_ASSERT(level == kNmi, "only the fourth nested user may be refused");
    MODEL_ASSERT(st->inside[kTask] && st->inside[kSoftirq] && st->inside[kHardirq],
                 "-EBUSY without three users nested below");
    reached(st->goal_refused);
  } else {
    MODEL_ASSERT(!outer_all_holding, "a fourth nested user got a buffer");
    MODEL_ASSERT(ret == 7, "level " + std::to_string(level) + " got " + std::to_string(ret));
    st->holding[level] = true;
    if (level == kHardirq && st->holding[kTask] && st->holding[kSoftirq])
      reached(st->goal_three_deep);
    for (int k = 0; k < 6; ++k) atomic_inc(&st->tick);  // the hold window
    const std::string want = "level " + std::to_string(level);
    MODEL_ASSERT(want == data.buf, "an interrupt overwrote level " + std::to_string(level) +
                                       "'s buffer: " + data.buf);
    st->holding[level] = false;
    bpf_bprintf_cleanup(&data);
  }
  st->inside[level] = false;
}

void nested_printers(Scenario& s) {
  auto st = std::make_shared<State>();
  st->goal_refused = s.goal("NMI refused inside hardirq inside softirq inside task");
  st->goal_three_deep = s.goal("hardirq printing inside softirq inside task");
  s.on_cpu(0, [st] { print_at(st.get(), kTask); });
  s.softirq(0, [st] { print_at(st.get(), kSoftirq); });
  s.hardirq(0, [st] { print_at(st.get(), kHardirq); });
  s.nmi(0, [st] { print_at(st.get(), kNmi); });
  // CPU 1 prints too: per-CPU buffers never interfere across CPUs.
  s.on_cpu(1, [st] {
    const u64 args[1] = {9};
    bpf_bprintf_data data;
    MODEL_ASSERT(bpf_stream_format("cpu1 %d", args, 8, &data) == 6, "CPU 1 could not print");
    MODEL_ASSERT(std::string("cpu1 9") == data.buf, "CPU 1's buffer was overwritten");
    bpf_bprintf_cleanup(&data);
  });
  s.at_end([st] {
    for (int cpu = 0; cpu < 2; ++cpu)
      MODEL_ASSERT(bpf_bprintf_nest_level_read(cpu) == 0, "a nest level leaked");
    for (int l = 0; l < kLevels; ++l)
      MODEL_ASSERT(!st->holding[l] && !st->inside[l], "a printer did not finish");
  });
}

// An error at every nesting depth must leave the counter where it was.
void nested_errors(Scenario& s) {
  auto bad = [] {
    const u64 args[1] = {1};
    bpf_bprintf_data data;
    const int before = bpf_bprintf_nest_level_read(smp_processor_id());
    const int ret = bpf_stream_format("%5.1d", args, 8, &data);
    MODEL_ASSERT(ret == -EINVAL || ret == -EBUSY, "bad format accepted: " + std::to_string(ret));
    MODEL_ASSERT(bpf_bprintf_nest_level_read(smp_processor_id()) == before,
                 "an error path changed the nest level");
  };
  auto good_then_bad = [bad] {
    const u64 args[1] = {1};
    bpf_bprintf_data data;
    if (bpf_stream_format("%d", args, 8, &data) >= 0) {
      bad();
      bpf_bprintf_cleanup(&data);
    }
  };
  s.on_cpu(0, good_then_bad);
  s.softirq(0, good_then_bad);
  s.hardirq(0, good_then_bad);
  s.nmi(0, bad);
  s.at_end([] { MODEL_ASSERT(bpf_bprintf_nest_level_read(0) == 0, "a nest level leaked"); });
}

}  // namespace

TEST_CASE("exactly the fourth nested printer on a CPU gets -EBUSY") {
  Config config{.cpus = 2, .seed = 2026, .iterations = 20000, .interrupt_probability = 0.4};
  CheckResult r = check(config, nested_printers);
  INFO(r.report());
  REQUIRE(r.ok());
  CHECK(r.runs == 20000);
  for (const GoalCount& g : r.goals) {
    INFO(g.name);
    CHECK(g.runs_reached > 0);
  }
}

TEST_CASE("errors at any nesting depth change no state") {
  Config config{.cpus = 1, .seed = 7, .iterations = 5000, .interrupt_probability = 0.4};
  CheckResult r = check(config, nested_errors);
  INFO(r.report());
  REQUIRE(r.ok());
}

TEST_CASE("a run's schedule replays to the same trace") {
  Config config{.cpus = 2, .interrupt_probability = 0.4};
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    RandomStrategy strategy(seed, config.interrupt_probability);
    RunResult first = run_once(config, nested_printers, strategy);
    REQUIRE(first.ok());
    auto again = replay(config, nested_printers, first.schedule());
    REQUIRE(again.ok());
    CHECK(again->trace == first.trace);
  }
}
