// The simulator core: determinism, replay, interrupts nested by the kernel's
// context rules, simulated time, and failures reported with their schedule.
#include <catch2/catch.hpp>

#include <memory>
#include <vector>

#include "model/atomic.h"
#include "model/bug.h"
#include "model/clock.h"
#include "model/cpu.h"
#include "model/local_lock.h"
#include "model/page_alloc.h"
#include "model/sim/check.h"

using namespace kmodel;

namespace {

// Two CPUs increment a counter non-atomically (read, then write): a lost
// update is possible, and the checker must find it.
void racy_counter(Scenario& s) {
  auto counter = std::make_shared<Atomic<int>>(0);
  for (int cpu = 0; cpu < 2; ++cpu)
    s.on_cpu(cpu, [counter] {
      int v = READ_ONCE(*counter);
      WRITE_ONCE(*counter, v + 1);
    });
  s.at_end([counter] { MODEL_ASSERT(READ_ONCE(*counter) == 2, "lost update"); });
}

void atomic_counter(Scenario& s) {
  auto counter = std::make_shared<Atomic<int>>(0);
  for (int cpu = 0; cpu < 3; ++cpu)
    s.on_cpu(cpu, [counter] {
      for (int i = 0; i < 3; ++i) atomic_inc(counter.get());
    });
  s.nmi(1, [counter] { atomic_inc(counter.get()); }, 2);
  s.at_end([counter] {
    MODEL_ASSERT(READ_ONCE(*counter) >= 9 && READ_ONCE(*counter) <= 11, "bad count");
  });
}

}  // namespace

TEST_CASE("the checker finds a lost update and its schedule replays it") {
  Config config{.cpus = 2, .seed = 7, .iterations = 500};
  CheckResult r = check(config, racy_counter);
  REQUIRE_FALSE(r.ok());
  INFO(r.report());
  CHECK(r.failure->outcome == RunResult::Outcome::kFailed);
  CHECK_THAT(r.failure->message, Catch::Contains("lost update"));

  auto again = replay(config, racy_counter, r.failure->schedule());
  REQUIRE(again.ok());
  CHECK(again->outcome == RunResult::Outcome::kFailed);
  CHECK(again->message == r.failure->message);
  CHECK(again->trace == r.failure->trace);
  CHECK(again->schedule() == r.failure->schedule());
}

TEST_CASE("atomic increments never lose an update, with NMIs") {
  Config config{.cpus = 3, .seed = 11, .iterations = 2000, .interrupt_probability = 0.2};
  CheckResult r = check(config, atomic_counter);
  INFO(r.report());
  CHECK(r.ok());
  CHECK(r.runs == 2000);
}

TEST_CASE("the same seed gives the same runs; different seeds differ") {
  Config config{.cpus = 3, .seed = 3, .iterations = 1};
  RandomStrategy a(42, 0.2), b(42, 0.2), c(43, 0.2);
  RunResult ra = run_once(config, atomic_counter, a);
  RunResult rb = run_once(config, atomic_counter, b);
  RunResult rc = run_once(config, atomic_counter, c);
  CHECK(ra.schedule() == rb.schedule());
  CHECK(ra.trace == rb.trace);
  CHECK(ra.schedule() != rc.schedule());
}

TEST_CASE("a replay that does not fit the scenario is reported as divergence") {
  Config config{.cpus = 2};
  auto r = replay(config, racy_counter, "v1:5");
  REQUIRE(r.ok());
  CHECK(r->outcome == RunResult::Outcome::kDivergence);
  CHECK_THAT(r->message, Catch::Contains("CPU 5 is not runnable"));

  auto short_one = replay(config, racy_counter, "v1:0");
  REQUIRE(short_one.ok());
  CHECK(short_one->outcome == RunResult::Outcome::kDivergence);

  auto bad = replay(config, racy_counter, "nonsense");
  CHECK_FALSE(bad.ok());
}

TEST_CASE("interrupts nest by the kernel's context rules") {
  // Record the context each handler sees; an NMI may land inside the
  // hardirq, never the other way round; a hardirq never lands with irqs off.
  struct Seen {
    bool nmi_in_irq = false, nmi_ran = false, irq_ran = false, irq_with_irqs_off = false;
    int bad = 0;
  };
  auto scenario = [](std::shared_ptr<Seen> seen) {
    return [seen](Scenario& s) {
      auto flag = std::make_shared<Atomic<int>>(0);
      s.on_cpu(0, [flag] {
        unsigned long flags;
        for (int i = 0; i < 4; ++i) WRITE_ONCE(*flag, i);
        local_irq_save(flags);
        for (int i = 0; i < 4; ++i) WRITE_ONCE(*flag, 10 + i);
        local_irq_restore(flags);
      });
      s.hardirq(0, [seen, flag] {
        seen->irq_ran = true;
        if (!in_hardirq() || in_nmi() || !irqs_disabled()) seen->bad++;
        if (READ_ONCE(*flag) >= 10 && READ_ONCE(*flag) < 13) seen->irq_with_irqs_off = true;
        WRITE_ONCE(*flag, 100);
      });
      s.nmi(0, [seen] {
        seen->nmi_ran = true;
        if (!in_nmi() || interrupt_context_level() != 3) seen->bad++;
        if (in_hardirq() && preempt_count() & HARDIRQ_OFFSET * 2) seen->nmi_in_irq = true;
      });
    };
  };
  auto seen = std::make_shared<Seen>();
  Config config{.cpus = 1, .seed = 5, .iterations = 3000, .interrupt_probability = 0.3};
  CheckResult r = check(config, scenario(seen));
  INFO(r.report());
  CHECK(r.ok());
  CHECK(seen->bad == 0);
  CHECK(seen->nmi_ran);
  CHECK(seen->irq_ran);
  CHECK(seen->nmi_in_irq);  // reachable: NMI during the hardirq
  CHECK_FALSE(seen->irq_with_irqs_off);
}

TEST_CASE("local_trylock refuses the NMI that interrupts its holder") {
  struct State {
    PerCpu<local_trylock_t> lock;
    int nmi_refused = 0, nmi_took = 0;
  };
  auto st = std::make_shared<State>();
  auto scenario = [st](Scenario& s) {
    s.on_cpu(0, [st] {
      unsigned long flags;
      MODEL_ASSERT(local_trylock_irqsave(&st->lock, flags), "task must get the lock");
      cpu_relax();
      local_unlock_irqrestore(&st->lock, flags);
    });
    s.nmi(0, [st] {
      unsigned long flags;
      if (local_trylock_irqsave(&st->lock, flags)) {
        st->nmi_took++;
        local_unlock_irqrestore(&st->lock, flags);
      } else {
        st->nmi_refused++;
      }
    });
  };
  CheckResult r = check(Config{.cpus = 1, .seed = 9, .iterations = 2000,
                               .interrupt_probability = 0.3},
                        scenario);
  INFO(r.report());
  CHECK(r.ok());
  CHECK(st->nmi_refused > 0);  // NMI inside the critical section
  CHECK(st->nmi_took > 0);     // NMI outside it
}

TEST_CASE("simulated time jumps while every CPU spins, so timeouts are cheap") {
  auto timed_out = std::make_shared<bool>(false);
  auto scenario = [timed_out](Scenario& s) {
    auto never = std::make_shared<Atomic<int>>(0);
    s.on_cpu(0, [never, timed_out] {
      const u64 deadline = ktime_get_mono_fast_ns() + 250 * NSEC_PER_MSEC;
      while (READ_ONCE(*never) == 0) {
        if (ktime_get_mono_fast_ns() > deadline) {
          *timed_out = true;
          return;
        }
        cpu_relax();
      }
    });
  };
  RandomStrategy strategy(1, 0);
  RunResult r = run_once(Config{.cpus = 1}, scenario, strategy);
  INFO(r.report());
  CHECK(r.ok());
  CHECK(*timed_out);
  CHECK(r.sim_time_ns >= 250 * NSEC_PER_MSEC);
  CHECK(r.steps < 2000);
}

namespace {
// CPU 0 waits for time alone until `until` (declared); CPU 1 waits for CPU
// 0's flag with smp_cond_load_acquire (a declared wait for a write), or
// spins `bare_spins` times with a bare cpu_relax() (a bounded spin) and
// notes the time it saw.
struct DeadlineRun {
  u64 start = 0, cpu0_done = 0, cpu1_saw = 0;
  int wakeups = 0;
};
ScenarioFn deadline_scenario(std::shared_ptr<DeadlineRun> out, int bare_spins) {
  return [out, bare_spins](Scenario& s) {
    auto flag = std::make_shared<Atomic<int>>(0);
    out->start = ktime_get_mono_fast_ns();
    s.on_cpu(0, [out, flag] {
      const u64 until = out->start + 5 * NSEC_PER_MSEC;
      while (ktime_get_mono_fast_ns() < until) {
        out->wakeups += spin_deadline_reached();
        spin_wait_deadline(until);
        cpu_relax();
      }
      out->cpu0_done = ktime_get_mono_fast_ns();
      WRITE_ONCE(*flag, 1);
    });
    s.on_cpu(1, [out, flag, bare_spins] {
      if (bare_spins == 0) {
        smp_cond_load_acquire(flag.get(), [](int v) { return v != 0; });
      } else {
        for (int i = 0; i < bare_spins; ++i) cpu_relax();
      }
      out->cpu1_saw = ktime_get_mono_fast_ns();
    });
  };
}
}  // namespace

TEST_CASE("clock: when every CPU waits, it jumps straight to the declared deadline") {
  auto out = std::make_shared<DeadlineRun>();
  RandomStrategy strategy(1, 0);
  RunResult r = run_once(Config{.cpus = 2}, deadline_scenario(out, 0), strategy);
  INFO(r.report());
  REQUIRE(r.ok());
  CHECK(out->cpu0_done >= out->start + 5 * NSEC_PER_MSEC);
  CHECK(out->cpu0_done < out->start + 5 * NSEC_PER_MSEC + NSEC_PER_USEC);
  CHECK(out->cpu1_saw >= out->cpu0_done);
  CHECK(r.steps < 40);
  // The v1 clock ignores the declaration: 1 us jumps doubling to 1 ms.
  Config v1{.cpus = 2};
  v1.jump_to_deadlines = false;
  RandomStrategy again(1, 0);
  RunResult old = run_once(v1, deadline_scenario(out, 0), again);
  REQUIRE(old.ok());
  CHECK(old.schedule().rfind("v1:", 0) == 0);
  CHECK(old.steps > r.steps);
}

TEST_CASE("clock: a bounded spin (bare cpu_relax) is not a wait, so no jump under it") {
  auto out = std::make_shared<DeadlineRun>();
  RandomStrategy strategy(1, 0);
  RunResult r = run_once(Config{.cpus = 2}, deadline_scenario(out, 20), strategy);
  INFO(r.report());
  REQUIRE(r.ok());
  // CPU 1's 20 spins cost their steps and relax_ns, not CPU 0's 5 ms.
  CHECK(out->cpu1_saw < out->start + NSEC_PER_USEC);
  // Once CPU 1 has finished, CPU 0 waits alone: the clock jumps for it.
  CHECK(out->cpu0_done >= out->start + 5 * NSEC_PER_MSEC);
  CHECK(r.steps < 120);
}

TEST_CASE("clock: a periodic check is jumped to only if memory changed since the last look") {
  // A waiter with a 100 ms timeout and a check every 1 ms (rqspinlock's
  // deadlock checks): alone, nothing changes after its first look, so the
  // clock goes check, timeout - not 100 checks.
  struct Out {
    int checks = 0;
    u64 end = 0, start = 0;
  };
  auto out = std::make_shared<Out>();
  auto scenario = [out](Scenario& s) {
    s.on_cpu(0, [out] {
      out->start = ktime_get_mono_fast_ns();
      const u64 timeout = out->start + 100 * NSEC_PER_MSEC;
      u64 last_check = out->start;
      for (;;) {
        const u64 now = ktime_get_mono_fast_ns();
        if (now > timeout) break;
        if (now > last_check + NSEC_PER_MSEC) {
          ++out->checks;
          last_check = now;
        }
        spin_wait_deadline(timeout + 1, last_check + NSEC_PER_MSEC + 1);
        cpu_relax();
      }
      out->end = ktime_get_mono_fast_ns();
    });
  };
  RandomStrategy strategy(1, 0);
  RunResult r = run_once(Config{.cpus = 1}, scenario, strategy);
  INFO(r.report());
  REQUIRE(r.ok());
  CHECK(out->checks == 1);
  CHECK(out->end > out->start + 100 * NSEC_PER_MSEC);
  CHECK(r.steps < 20);
}

TEST_CASE("hang: CPUs that all wait for a write nobody can make are a deadlock at once") {
  // Each waits for the other's flag in smp_cond_load_acquire (a declared
  // wait): no step can change anything, so the run fails right there
  // rather than after max_steps.
  auto deadlock = [](bool nmi) {
    return [nmi](Scenario& s) {
      auto a = std::make_shared<Atomic<int>>(0);
      auto b = std::make_shared<Atomic<int>>(0);
      s.on_cpu(0, [a, b] {
        smp_cond_load_acquire(b.get(), [](int v) { return v != 0; });
        WRITE_ONCE(*a, 1);
      });
      s.on_cpu(1, [a, b] {
        smp_cond_load_acquire(a.get(), [](int v) { return v != 0; });
        WRITE_ONCE(*b, 1);
      });
      // An NMI that could still come (and write) makes it no certainty.
      if (nmi) s.nmi(0, [b] { WRITE_ONCE(*b, 1); });
    };
  };
  RandomStrategy strategy(1, 0);
  RunResult r = run_once(Config{.cpus = 2, .max_steps = 5000}, deadlock(false), strategy);
  INFO(r.report());
  CHECK(r.kind == FailureKind::kHang);
  CHECK_THAT(r.message, Catch::Contains("no completion: deadlock after"));
  CHECK_THAT(r.message, Catch::Contains("CPUs 0, 1 each wait for a write"));
  CHECK(r.steps < 20);
  // On the v1 machine (and with an interrupt left) only max_steps tells.
  Config v1{.cpus = 2, .max_steps = 5000};
  v1.jump_to_deadlines = false;
  RandomStrategy again(1, 0);
  RunResult old = run_once(v1, deadlock(false), again);
  CHECK(old.kind == FailureKind::kHang);
  CHECK(old.steps == 5000);
  RandomStrategy no_nmi_yet(1, 0);  // probability 0: the NMI never comes
  RunResult pending = run_once(Config{.cpus = 2, .max_steps = 5000}, deadlock(true), no_nmi_yet);
  CHECK(pending.kind == FailureKind::kHang);
  CHECK(pending.steps == 5000);
}

TEST_CASE("a CPU that never finishes is reported as a hang") {
  auto scenario = [](Scenario& s) {
    auto x = std::make_shared<Atomic<int>>(0);
    s.on_cpu(0, [x] {
      for (;;) WRITE_ONCE(*x, READ_ONCE(*x) + 1);  // busy, never relaxes
    });
    s.on_cpu(1, [x] { READ_ONCE(*x); });
  };
  CheckResult r = check(Config{.cpus = 2, .iterations = 3, .max_steps = 500}, scenario);
  REQUIRE_FALSE(r.ok());
  CHECK(r.failure->outcome == RunResult::Outcome::kHang);
  CHECK(r.failure->steps == 500);
  CHECK_THAT(r.report(), Catch::Contains("schedule: v2:"));
}

TEST_CASE("bad scenario input is reported, not crashed on") {
  auto bad_cpu = [](Scenario& s) { s.on_cpu(4, [] {}); };
  CheckResult r = check(Config{.cpus = 2, .iterations = 1}, bad_cpu);
  REQUIRE_FALSE(r.ok());
  CHECK(r.failure->outcome == RunResult::Outcome::kBadInput);
  CHECK_THAT(r.failure->message, Catch::Contains("cpu=4"));

  CheckResult zero = check(Config{.cpus = 0, .iterations = 1}, [](Scenario&) {});
  REQUIRE_FALSE(zero.ok());
  CHECK(zero.failure->outcome == RunResult::Outcome::kBadInput);
}

TEST_CASE("explored page-allocation failures are strategy choices") {
  auto failures = std::make_shared<int>(0);
  auto successes = std::make_shared<int>(0);
  auto scenario = [failures, successes](Scenario& s) {
    set_page_fault_policy(PageFaultPolicy::explored());
    s.on_cpu(0, [failures, successes] {
      page* p = alloc_pages_nolock(0, NUMA_NO_NODE, 0);
      if (p == nullptr) {
        ++*failures;
        return;
      }
      ++*successes;
      free_pages_nolock(p, 0);
    });
  };
  CheckResult r = check(Config{.cpus = 1, .iterations = 200}, scenario);
  set_page_fault_policy(PageFaultPolicy::never());
  CHECK(r.ok());
  CHECK(*failures > 0);
  CHECK(*successes > 0);
  CHECK(page_alloc_stats().pages_live == 0);
}

// ---- irq_work's self-interrupt and idle CPUs (model/cpu.h) -------------------------

namespace {

// The handler the irq_work layer would register: counts its runs and checks
// it runs as a hardirq (never inside the NMI that raised it).
int g_irq_work_runs = 0;
void count_irq_work() {
  MODEL_ASSERT(in_hardirq() && !in_nmi(), "irq_work interrupt outside hardirq context");
  ++g_irq_work_runs;
}

}  // namespace

TEST_CASE("a raised irq_work interrupt runs at its CPU's first step with irqs on") {
  set_irq_work_interrupt_handler(&count_irq_work);
  auto scenario = [](Scenario& s) {
    g_irq_work_runs = 0;
    auto x = std::make_shared<Atomic<int>>(0);
    s.on_cpu(0, [x] {
      unsigned long flags;
      local_irq_save(flags);
      arch_irq_work_raise();
      WRITE_ONCE(*x, 1);
      MODEL_ASSERT(g_irq_work_runs == 0, "irq_work ran with irqs off");
      local_irq_restore(flags);  // the interrupt comes in here
      MODEL_ASSERT(g_irq_work_runs == 1, "irq_work not taken when irqs came back on");
      arch_irq_work_raise();  // the body ends: the idle CPU takes it
    });
    s.at_end([] { MODEL_ASSERT(g_irq_work_runs == 2, "irq_work not taken at the body's end"); });
  };
  CheckResult r = check(Config{.cpus = 1, .iterations = 20}, scenario);
  INFO(r.report());
  CHECK(r.ok());
  set_irq_work_interrupt_handler(nullptr);
}

TEST_CASE("irq_work raised in an NMI runs after the NMI, on the NMI's CPU") {
  set_irq_work_interrupt_handler(&count_irq_work);
  auto scenario = [](Scenario& s) {
    g_irq_work_runs = 0;
    auto nmi_done = std::make_shared<Atomic<int>>(0);
    auto seen_before_end = std::make_shared<bool>(false);
    s.on_cpu(0, [nmi_done, seen_before_end] {
      for (int i = 0; i < 20; i++) {
        if (READ_ONCE(*nmi_done) && g_irq_work_runs == 1) *seen_before_end = true;
      }
    });
    s.nmi(0, [nmi_done] {
      arch_irq_work_raise();
      WRITE_ONCE(*nmi_done, 1);
      MODEL_ASSERT(g_irq_work_runs == 0, "irq_work ran inside the NMI");
    });
    s.at_end([nmi_done] {
      MODEL_ASSERT(g_irq_work_runs == READ_ONCE(*nmi_done), "irq_work raised by the NMI lost");
    });
  };
  CheckResult r = check(Config{.cpus = 1, .iterations = 200, .interrupt_probability = 0.2},
                        scenario);
  INFO(r.report());
  CHECK(r.ok());
  set_irq_work_interrupt_handler(nullptr);
}

TEST_CASE("an idle CPU takes the interrupt its sleeping task waits for; a spinner does not") {
  // The task sleeps until its own CPU's NMI sets the flag. No strategy
  // delivers the NMI (probability 0): only the idle rule can.
  auto sleeper = [](bool asleep) {
    return [asleep](Scenario& s) {
      auto flag = std::make_shared<Atomic<int>>(0);
      auto nmi_saw_idle = std::make_shared<bool>(false);
      s.on_cpu(0, [flag, asleep] {
        if (asleep) {
          TaskAsleep sleeping;
          while (!READ_ONCE(*flag)) schedule();
        } else {
          while (!READ_ONCE(*flag)) cpu_relax();
        }
      });
      s.nmi(0, [flag, nmi_saw_idle] {
        *nmi_saw_idle = cpu_is_idle();
        WRITE_ONCE(*flag, 1);
      });
      s.at_end([nmi_saw_idle, asleep] {
        MODEL_ASSERT(*nmi_saw_idle == asleep, "cpu_is_idle() wrong in the NMI");
      });
    };
  };
  Config config{.cpus = 1, .iterations = 5, .max_steps = 2000, .interrupt_probability = 0};
  CheckResult idle = check(config, sleeper(true));
  INFO(idle.report());
  CHECK(idle.ok());
  CheckResult spinning = check(config, sleeper(false));
  REQUIRE_FALSE(spinning.ok());
  CHECK(spinning.failure->outcome == RunResult::Outcome::kHang);
  // The idle rule's delivery is the state's, not a decision: it replays.
  RandomStrategy strategy(3, 0);
  RunResult once = run_once(config, sleeper(true), strategy);
  REQUIRE(once.ok());
  CHECK(once.interrupts_delivered == std::vector<int>{1});
  auto again = replay(config, sleeper(true), once.schedule());
  REQUIRE(again.ok());
  CHECK(again->ok());
  CHECK(again->trace == once.trace);
}
