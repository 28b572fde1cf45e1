// tests/stream/stream_report_test.cc: the design test natively (CPU 0 is a
// real thread): a clang-built BPF object deadlocks (plain and _irqsave), runs
// out of may_goto time (250 ms of real time) and faults in its arena; its
// stderr matches the kernel selftests' regexes and the exact kernel lines.
#include <catch2/catch.hpp>

#include <cstdio>
#include <string>

#include "alloc/stream_elem.h"
#include "model/native/cpu_binding.h"
#include "model/profile.h"
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
}  // namespace

TEST_CASE("native design: deadlock, may_goto timeout and arena fault texts in stderr") {
  native::CpuBinding cpu(0);
  bpf_set_current_task(31337, 0, "test_progs");
  for (Profile p : kProfiles) {
    ScopedProfile scoped(p);
    INFO(profile_name(p));
    for (bool irqsave : {false, true}) {
      INFO("irqsave " << irqsave);
      auto l = load("deadlock", {"take_twice"});
      struct bpf_res_spin_lock lock {};
      CHECK(run_deadlock(*l, &lock, irqsave) == -EDEADLK);
      const std::string text = strip_nul(read_all(&l->table, l->fd, BPF_STDERR));
      INFO(text);
      const std::string suffix = irqsave ? "_irqsave" : "";
      CHECK(text.rfind("ERROR: AA or ABBA deadlock detected for bpf_res_spin_lock" + suffix +
                           "\nAttempted lock   = " + hex16(&lock) +
                           "\nTotal held locks = 1\nHeld lock[ 0] = " + hex16(&lock) +
                           "\nCPU: 0 UID: 0 PID: 31337 Comm: test_progs\nCall trace:\n",
                       0) == 0);
      if (!irqsave) CHECK(match_regex(deadlock_re(), text));
      CHECK(text.find(bpf_frame_text(l->func("take_twice"),
                                     report_object().mark_insn("take_twice", "second_lock"),
                                     "second_lock")) != std::string::npos);
    }
    {
      auto l = load("cond_break");
      u64 ns = 0;
      CHECK(run_cond_break(*l, &ns) >= 2 * static_cast<long>(BPF_MAX_TIMED_LOOPS));
      CHECK(ns >= NSEC_PER_SEC / 4);
      const std::string text = strip_nul(read_all(&l->table, l->fd, BPF_STDERR));
      INFO(text);
      CHECK(match_regex(may_goto_re(), text));
    }
    {
      auto l = load("arena_fault");
      bpf_arena arena;
      bpf_arena_init(&arena, 2);
      l->main->aux->arena = &arena;
      CHECK(run_arena_fault(*l, &arena, 0x1004, 0x100) == -EFAULT);
      const std::string text = strip_nul(read_all(&l->table, l->fd, BPF_STDERR));
      INFO(text);
      CHECK(match_regex(arena_re(true), text));
      CHECK(match_regex(arena_re(false), text));
    }
  }
  bpf_stream_alloc_drain_all();
  CHECK(bpf_stream_alloc_stats_read().elems_live == 0);
}

TEST_CASE("bpf_prog_load: bad names are refused and register nothing") {
  native::CpuBinding cpu(0);
  const int before = bpf_prog_registry_count();
  bpf_fd_table table;
  const auto& obj = report_object().obj;
  CHECK(bpf_prog_load(&table, obj, "no_such_prog", {}) == -ENOENT);
  CHECK(bpf_prog_load(&table, obj, "deadlock", {"no_such_sub"}) == -ENOENT);
  CHECK(bpf_prog_load(&table, obj, "take_twice", {}) == -EINVAL);  // a .text function as main
  CHECK(bpf_prog_load(&table, obj, "deadlock", {"cond_break"}) == -EINVAL);  // not in .text
  CHECK(bpf_prog_load(&table, obj, "deadlock",
                      {"take_twice", "take_twice", "take_twice", "take_twice", "take_twice",
                       "take_twice", "take_twice", "take_twice"}) == -E2BIG);
  CHECK(bpf_prog_registry_count() == before);
  CHECK(table.fds.empty());
  // A good load: one id, one fd, main and subprogram laid out in the JIT area.
  const int fd = bpf_prog_load(&table, obj, "timer_owner", {"timer_cb"});
  REQUIRE(fd == BPF_FD_BASE);
  bpf_prog* p = bpf_prog_get(&table, fd);
  REQUIRE(p != nullptr);
  CHECK(bpf_prog_by_id(p->aux->id) == p);
  bpf_prog* sub = p->aux->func[1];
  CHECK(sub->aux->main_prog_aux == p->aux);
  CHECK(bpf_is_subprog(sub));
  CHECK(bpf_prog_ksym_find(sub->bpf_func) == sub);
  CHECK(bpf_stream_get(BPF_STDERR, sub->aux) == bpf_stream_get(BPF_STDERR, p->aux));
  CHECK(sub->ksym == "bpf_prog_" + sub->ksym.substr(9, 16) + "_timer_cb");
  bpf_prog_put(p);
  bpf_fd_table_release(&table);
  CHECK(bpf_prog_registry_count() == before);
}
