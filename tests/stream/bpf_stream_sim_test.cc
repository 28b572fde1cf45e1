// struct bpf_stream under the simulator: CPU 0's task and an NMI on CPU 0
// write, CPU 1's task writes and reads (in 3-byte chunks) until every message
// that was accepted has arrived. Every accepted message arrives exactly once,
// in FIFO order per writer; the capacity ends at 0, or, under linux-6.18, at
// exactly the bytes of writes whose allocation failed (the kernel's leak);
// the machine's leak check sees every element and page freed. Seeded and
// replayable; a failure prints the run's report and schedule.
#include <catch2/catch.hpp>

#include <cerrno>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "alloc/kmalloc_nolock.h"
#include "alloc/stream_elem.h"
#include "model/bug.h"
#include "model/profile.h"
#include "model/sim/check.h"
#include "stream/bpf_prog.h"
#include "stream/bpf_stream.h"

using namespace kmodel;

namespace {

constexpr int kTaskMsgs = 4;  // CPU 0 task, writer 'a'
constexpr int kNmiMsgs = 3;   // NMI on CPU 0, writer 'n'
constexpr int kCpu1Msgs = 3;  // CPU 1 task, writer 'b'

struct State {
  bpf_prog_unregistered prog;
  std::map<char, std::vector<int>> accepted;  // per writer, indices accepted
  int accepted_total = 0;
  int leaked = 0;  // bytes charged by writes whose allocation failed
  bool cpu0_done = false;
  bool nmi_running = false;
  std::string received;
  int goal_interleaved = -1;
  // Seed and 6.18: an NMI write refused (-ENOMEM) inside CPU 0's allocation.
  // Mainline: an NMI write inside CPU 0's kmalloc_nolock() of the same size
  // class, served by the next kmalloc bucket.
  int goal_nmi_reentry = -1;
};

void write_msg(State* st, char who, int i) {
  const u64 args[1] = {static_cast<u64>(i)};
  const char fmt[] = {who, '%', 'd', ';', '\0'};
  const u64 retries_before = kmalloc_nolock_stats().bucket_retries;
  const int ret = bpf_stream_vprintk(BPF_STDOUT, fmt, args, 8, &st->prog);
  // The counter is global, but only an NMI can find a cache busy (task
  // context holds it with irqs off), so a change across an NMI write is its.
  if (who == 'n' && kmalloc_nolock_stats().bucket_retries != retries_before)
    reached(st->goal_nmi_reentry);
  if (ret == 0) {
    st->accepted[who].push_back(i);
    ++st->accepted_total;
    return;
  }
  MODEL_ASSERT(ret == -ENOMEM, absl::StrCat("write ", std::string(1, who), i, " failed with ", ret));
  // Only an NMI that interrupted CPU 0's allocation is refused, and never
  // under mainline (the next kmalloc bucket serves it).
  MODEL_ASSERT(who == 'n', absl::StrCat("a non-nested write failed: ", std::string(1, who), i));
  MODEL_ASSERT(current_profile() != Profile::kMainline,
               absl::StrCat("mainline refused NMI write n", i));
  reached(st->goal_nmi_reentry);
  st->leaked += static_cast<int>(std::string(fmt).size() - 2 + std::to_string(i).size());
}

int count_msgs(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == ';';
  return n;
}

void read_some(State* st) {
  char buf[3];
  const int n = bpf_stream_read(bpf_stream_get(BPF_STDOUT, &st->prog), buf, 3);
  MODEL_ASSERT(n >= 0 && n <= 3, absl::StrCat("read returned ", n));
  st->received.append(buf, static_cast<std::size_t>(n));
}

void writers_and_reader(Scenario& s) {
  auto st = std::make_shared<State>();
  bpf_prog_stream_init(&st->prog);
  st->goal_interleaved = s.goal("an NMI message arrived between two task messages of CPU 0");
  st->goal_nmi_reentry =
      s.goal(current_profile() == Profile::kMainline
                 ? "an NMI write inside CPU 0's kmalloc_nolock() served by the next bucket"
                 : "an NMI write refused inside CPU 0's allocation");
  s.on_cpu(0, [st] {
    for (int i = 0; i < kTaskMsgs; ++i) write_msg(st.get(), 'a', i);
    st->cpu0_done = true;
  });
  s.nmi(0, [st] {
    st->nmi_running = true;
    for (int i = 0; i < kNmiMsgs; ++i) write_msg(st.get(), 'n', i);
    st->nmi_running = false;
  });
  s.on_cpu(1, [st] {
    for (int i = 0; i < kCpu1Msgs; ++i) {
      write_msg(st.get(), 'b', i);
      read_some(st.get());
    }
    while (!(st->cpu0_done && !st->nmi_running &&
             count_msgs(st->received) == st->accepted_total))
      read_some(st.get());
  });
  s.at_end([st] {
    // An NMI could in principle land after CPU 0's last step: drain the rest.
    for (;;) {
      const std::size_t before = st->received.size();
      read_some(st.get());
      if (st->received.size() == before) break;
    }
    // Parse "<w><i>;" tokens; check exactly-once and per-writer FIFO.
    std::map<char, std::vector<int>> got;
    std::string tok;
    bool a_seen = false, n_after_a = false;
    for (char c : st->received) {
      if (c != ';') {
        tok += c;
        continue;
      }
      MODEL_ASSERT(tok.size() >= 2, "malformed message in " + st->received);
      got[tok[0]].push_back(std::stoi(tok.substr(1)));
      if (tok[0] == 'a') {
        if (n_after_a) reached(st->goal_interleaved);
        a_seen = true;
      }
      if (tok[0] == 'n' && a_seen) n_after_a = true;
      tok.clear();
    }
    MODEL_ASSERT(tok.empty(), "a message was cut short: " + st->received);
    MODEL_ASSERT(got == st->accepted,
                 "messages lost, duplicated or reordered: received " + st->received);
    const int cap = bpf_stream_capacity_read(bpf_stream_get(BPF_STDOUT, &st->prog));
    MODEL_ASSERT(cap == st->leaked, absl::StrCat("capacity ", cap, " at the end, expected ",
                                                 st->leaked, " (", profile_name(current_profile()),
                                                 ")"));
    bpf_prog_stream_free(&st->prog);
    bpf_stream_alloc_drain_all();
    MODEL_ASSERT(bpf_stream_alloc_stats_read().elems_live == 0, "elements still live");
  });
}

}  // namespace

TEST_CASE("every accepted message arrives exactly once, FIFO per writer, capacity returned") {
  for (Profile profile : {Profile::kLinux618, Profile::kMainline}) {
    ScopedProfile p(profile);
    INFO(profile_name(profile));
    Config config{.cpus = 2, .seed = 618, .iterations = 3000, .interrupt_probability = 0.3};
    CheckResult r = check(config, writers_and_reader);
    INFO(r.report());
    REQUIRE(r.ok());
    CHECK(r.runs == 3000);
    for (const GoalCount& g : r.goals) {
      INFO(g.name);
      CHECK(g.runs_reached > 0);
    }
  }
}

TEST_CASE("a stream run's schedule replays to the same trace") {
  ScopedProfile p(Profile::kLinux618);
  Config config{.cpus = 2, .interrupt_probability = 0.3};
  for (std::uint64_t seed = 0; seed < 10; ++seed) {
    RandomStrategy strategy(seed, config.interrupt_probability);
    RunResult first = run_once(config, writers_and_reader, strategy);
    INFO(first.report());
    REQUIRE(first.ok());
    auto again = replay(config, writers_and_reader, first.schedule());
    REQUIRE(again.ok());
    CHECK(again->trace == first.trace);
  }
}
