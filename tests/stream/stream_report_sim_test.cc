// tests/stream/stream_report_sim_test.cc: the design test of the error
// reports. A real clang-built BPF object is loaded; on a simulated CPU its
// lock deadlocks, its loop times out, its arena access faults; the exact
// kernel text is read back from the program's stderr under every profile,
// and checked against the kernel selftests' regular expressions.
#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "model/profile.h"
#include "model/sim/check.h"
#include "tests/stream/report_programs.h"

using namespace kmodel;
using namespace report_test;

namespace {

constexpr Profile kProfiles[] = {Profile::kSeed, Profile::kLinux618, Profile::kMainline};

std::string hex16(const void* p) {
  char b[32];
  std::snprintf(b, sizeof(b), "0x%016lx", reinterpret_cast<unsigned long>(p));
  return b;
}

struct Shared {
  std::unique_ptr<Loaded> prog;
  struct bpf_res_spin_lock lock{};
  u64 loop_ns = 0;
  bpf_arena arena;
  int ret = 0;
  long iterations = 0;
  std::string text;  // stderr as read
};

// Runs `body` on CPU 0 of a one-CPU machine once; returns the run's result.
CheckResult run_once(const std::shared_ptr<std::shared_ptr<Shared>>& out,
                     const std::function<std::shared_ptr<Shared>()>& setup,
                     const std::function<void(Shared*)>& body, std::uint64_t max_steps = 100000,
                     std::uint64_t max_stall_jump_ns = 1000000, std::uint64_t relax_ns = 15) {
  auto scenario = [&](Scenario& s) {
    std::shared_ptr<Shared> st = setup();
    *out = st;
    s.on_cpu(0, [st, body] {
      bpf_set_current_task(4242, 0, "test_progs");
      body(st.get());
    });
    s.at_end([st] {
      st->text = read_all(&st->prog->table, st->prog->fd, BPF_STDERR);
      // The page allocator's own reference to each CPU's current page.
      bpf_stream_alloc_drain_all();
    });
  };
  Config c{.cpus = 1, .seed = 7, .iterations = 1, .max_steps = max_steps,
           .interrupt_probability = 0, .relax_ns = relax_ns,
           .max_stall_jump_ns = max_stall_jump_ns};
  return check(c, scenario);
}

// The text as the kernel's selftest reads it: the seed's NULs (one per line)
// removed; their count is the number of elements.
std::string as_read(const std::string& text, Profile p, int* elems) {
  int nuls = 0;
  std::string t = strip_nul(text, &nuls);
  if (p == Profile::kSeed) *elems = nuls;
  return t;
}

}  // namespace

TEST_CASE("design: a deadlocking lock of a real BPF object reports into its stderr") {
  for (Profile p : kProfiles) {
    ScopedProfile scoped(p);
    INFO(profile_name(p));
    auto out = std::make_shared<std::shared_ptr<Shared>>();
    CheckResult r = run_once(
        out,
        [] {
          auto st = std::make_shared<Shared>();
          st->prog = load("deadlock", {"take_twice"});
          return st;
        },
        // The waiting loop samples the clock once per 65536 spins and looks
        // for deadlocks at most once per millisecond; it declares that
        // check to the simulator, whose clock jumps to it (docs/checker.md,
        // "Time"), so the deadlock check wins over the 250 ms timeout.
        [](Shared* st) { st->ret = run_deadlock(*st->prog, &st->lock); });
    INFO(r.report());
    REQUIRE(r.ok());
    Shared& st = **out;
    CHECK(st.ret == -EDEADLK);
    int elems = 0;
    const std::string text = as_read(st.text, p, &elems);
    INFO(text);
    CHECK(match_regex(deadlock_re(), text));
    // The exact lines the kernel prints, built from its format strings.
    const std::string head = "ERROR: AA or ABBA deadlock detected for bpf_res_spin_lock\n"
                             "Attempted lock   = " + hex16(&st.lock) + "\n"
                             "Total held locks = 1\n"
                             "Held lock[ 0] = " + hex16(&st.lock) + "\n"
                             "CPU: 0 UID: 0 PID: 4242 Comm: test_progs\n"
                             "Call trace:\n";
    CHECK(text.rfind(head, 0) == 0);
    const ReportObject& o = report_object();
    const std::string inner =
        bpf_frame_text(st.prog->func("take_twice"), o.mark_insn("take_twice", "second_lock"),
                       "second_lock");
    const std::string outer =
        bpf_frame_text(st.prog->main, o.mark_insn("deadlock", "deadlock_call"), "deadlock_call");
    const std::size_t at_inner = text.find(inner);
    CHECK(at_inner != std::string::npos);
    CHECK(text.find(outer) == at_inner + inner.size());  // the caller right below
    CHECK(text.size() >= 2);
    CHECK(text.substr(text.size() - 2) == "\n\n");  // the closing empty line
    if (p == Profile::kSeed) CHECK(elems > 8);  // a NUL per staged line
  }
}

TEST_CASE("design: a may_goto loop times out after 250 ms and reports into its stderr") {
  for (Profile p : kProfiles) {
    ScopedProfile scoped(p);
    INFO(profile_name(p));
    auto out = std::make_shared<std::shared_ptr<Shared>>();
    CheckResult r = run_once(
        out,
        [] {
          auto st = std::make_shared<Shared>();
          st->prog = load("cond_break");
          return st;
        },
        [](Shared* st) { st->iterations = run_cond_break(*st->prog, &st->loop_ns); },
        // One loop iteration (a may_goto and a cpu_relax) stands for 4 us of
        // simulated time, so the 250 ms slice takes ~62,000 iterations
        // rather than the ~10^7 a 15 ns relax would need.
        3000000, 1000000, 4000);
    INFO(r.report());
    REQUIRE(r.ok());
    Shared& st = **out;
    // The loop can only end at a check, one per 0xffff may_gotos; the first
    // check starts the slice, so at least two ran.
    CHECK(st.iterations % static_cast<long>(BPF_MAX_TIMED_LOOPS) == 0);
    CHECK(st.iterations >= 2 * static_cast<long>(BPF_MAX_TIMED_LOOPS));
    CHECK(st.loop_ns >= NSEC_PER_SEC / 4);
    int elems = 0;
    const std::string text = as_read(st.text, p, &elems);
    INFO(text);
    CHECK(match_regex(may_goto_re(), text));
    CHECK(text.rfind("ERROR: Timeout detected for may_goto instruction\n"
                     "CPU: 0 UID: 0 PID: 4242 Comm: test_progs\nCall trace:\n",
                     0) == 0);
    CHECK(text.find(bpf_frame_text(st.prog->main, report_object().mark_insn("cond_break", "loop"),
                                   "loop")) != std::string::npos);
  }
}

TEST_CASE("design: an arena access at an unmapped address reports READ/WRITE and the address") {
  for (Profile p : kProfiles) {
    ScopedProfile scoped(p);
    INFO(profile_name(p));
    auto out = std::make_shared<std::shared_ptr<Shared>>();
    CheckResult r = run_once(
        out,
        [] {
          auto st = std::make_shared<Shared>();
          st->prog = load("arena_fault");
          bpf_arena_init(&st->arena, 4);
          bpf_arena_map_page(&st->arena, 0);
          st->prog->main->aux->arena = &st->arena;
          return st;
        },
        [](Shared* st) { st->ret = run_arena_fault(*st->prog, &st->arena, 0x3000, 0x2008); });
    INFO(r.report());
    REQUIRE(r.ok());
    Shared& st = **out;
    CHECK(st.ret == -EFAULT);
    int elems = 0;
    const std::string text = as_read(st.text, p, &elems);
    INFO(text);
    CHECK(match_regex(arena_re(true), text));
    CHECK(match_regex(arena_re(false), text));
    // seed: the 32-bit arena offset; later: where user space sees it.
    const unsigned long base = p == Profile::kSeed ? 0 : (st.arena.user_vm_start & ~0xffffffffUL);
    char w[96], rd[96];
    std::snprintf(w, sizeof(w), "ERROR: Arena WRITE access at unmapped address 0x%lx\n",
                  base + 0x3000);
    std::snprintf(rd, sizeof(rd), "ERROR: Arena READ access at unmapped address 0x%lx\n",
                  base + 0x2008);
    CHECK(text.rfind(w, 0) == 0);
    const std::size_t at_read = text.find(rd);
    CHECK(at_read != std::string::npos);
    CHECK(text.find(bpf_frame_text(st.prog->main,
                                   report_object().mark_insn("arena_fault", "arena_read"),
                                   "arena_read"),
                    at_read) != std::string::npos);
  }
}
