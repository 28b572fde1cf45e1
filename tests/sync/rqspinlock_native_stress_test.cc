// rqspinlock on real threads: workers bound to CPUs contend on two locks
// while another thread fires signal-NMIs (taking lock A) and signal-hardirqs
// (taking lock B) at them. A plain counter per lock, incremented inside the
// critical section, proves mutual exclusion (and TSan checks the ordering).
// Run under --config=tsan and --config=asan too.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include "model/machine_state.h"
#include "model/native/cpu_binding.h"
#include "sync/rqspinlock.h"

using namespace kmodel;

namespace {

constexpr int kWorkers = 3;
constexpr int kIterations = 20000;
// Interrupts per worker CPU and kind, one in flight at a time. Bounded
// because under linux-6.18 an NMI that finds the lock queued cannot win its
// trylock and spins up to 250 ms (the cost the Nov 2025 fixes removed).
constexpr unsigned long kInterrupts = 30;

struct Guarded {
  rqspinlock_t lock;
  long counter = 0;  // plain on purpose: only the lock orders its updates
};

struct Tally {
  std::atomic<long> acquired{0};
  std::atomic<long> edeadlk{0};
  std::atomic<long> etimedout{0};
  void count(int ret) {
    if (ret == 0) acquired.fetch_add(1, std::memory_order_relaxed);
    else if (ret == -EDEADLK) edeadlk.fetch_add(1, std::memory_order_relaxed);
    else if (ret == -ETIMEDOUT) etimedout.fetch_add(1, std::memory_order_relaxed);
  }
};

// What each (CPU, context level) is doing, for the watchdog's report.
enum class Step : int { kIdle, kLocking, kHolding, kUnlocking };
const char* step_name(int s) {
  static const char* const kNames[] = {"idle", "locking", "holding", "unlocking"};
  return kNames[s];
}

struct Shared {
  Guarded a, b;
  std::atomic<int> step[kWorkers][4];
  std::atomic<const Guarded*> step_lock[kWorkers][4];
  Tally tally_a, tally_b;
  std::atomic<int> other_errors{0};
  std::atomic<int> lost_interrupts{0};
  std::atomic<bool> source_done{false};
  std::atomic<int> bound{0};
};

// Interrupt and task code alike: take, increment, release.
void take(Guarded* g, Tally* t, Shared* sh, bool irqsave) {
  std::atomic<int>& step = sh->step[smp_processor_id()][interrupt_context_level()];
  sh->step_lock[smp_processor_id()][interrupt_context_level()].store(g);
  step.store(static_cast<int>(Step::kLocking));
  unsigned long flags = 0;
  const int ret = irqsave ? raw_res_spin_lock_irqsave(&g->lock, flags) : raw_res_spin_lock(&g->lock);
  t->count(ret);
  if (ret != 0 && ret != -EDEADLK && ret != -ETIMEDOUT) sh->other_errors.fetch_add(1);
  if (ret == 0) {
    step.store(static_cast<int>(Step::kHolding));
    g->counter++;
    step.store(static_cast<int>(Step::kUnlocking));
    if (irqsave) raw_res_spin_unlock_irqrestore(&g->lock, flags);
    else raw_res_spin_unlock(&g->lock);
  }
  step.store(static_cast<int>(Step::kIdle));
}

void nmi_handler(void* arg) {
  auto* sh = static_cast<Shared*>(arg);
  take(&sh->a, &sh->tally_a, sh, false);
}

void hardirq_handler(void* arg) {
  auto* sh = static_cast<Shared*>(arg);
  take(&sh->b, &sh->tally_b, sh, false);
}

std::chrono::steady_clock::time_point deadline() {
  return std::chrono::steady_clock::now() + std::chrono::seconds(120);
}

void worker(Shared* sh, int cpu) {
  native::CpuBinding bind(cpu);
  sh->bound.fetch_add(1);
  const auto until = deadline();
  // Keep contending until the interrupt source is done with this run.
  for (long i = 0; i < kIterations || !sh->source_done.load(); ++i) {
    if (std::chrono::steady_clock::now() > until) break;
    // A with irqs on: NMIs (taking A) and hardirqs (taking B) land inside.
    // B with irqs off, as any lock a hardirq also takes must be: a hardirq
    // that queues behind its own CPU's task on the same lock never returns
    // under 6.18 (see the rqspinlock/hardirq_same_lock_irqs_on scenario).
    take(&sh->a, &sh->tally_a, sh, false);
    take(&sh->b, &sh->tally_b, sh, true);
  }
}

// The interrupt source: round-robin NMIs and hardirqs over the workers.
// One interrupt in flight per CPU: the next is sent once the previous was
// handled, so none is coalesced and every one sent is one handled.
void interrupt_source(Shared* sh) {
  while (sh->bound.load() != kWorkers) std::this_thread::yield();
  for (unsigned long n = 0; n < kInterrupts; ++n) {
    for (int cpu = 0; cpu < kWorkers; ++cpu) {
      if (native::send_interrupt_and_wait(cpu, IrqKind::kNmi) != 0)
        sh->lost_interrupts.fetch_add(1);
      if (native::send_interrupt_and_wait(cpu, IrqKind::kHardirq) != 0)
        sh->lost_interrupts.fetch_add(1);
    }
  }
  sh->source_done.store(true);
}

// A stuck lock must fail the test with the state that explains it, not
// hang until Bazel kills it: after kWatchdogSeconds the watchdog prints both
// lock words, every worker CPU's nodes, table and steps, and aborts.
constexpr int kWatchdogSeconds = 100;

class Watchdog {
 public:
  Watchdog(Shared* sh, Profile profile)
      : sh_(sh), profile_(profile), thread_([this] { watch(); }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> guard(mu_);
      done_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }

 private:
  void watch() {
    std::unique_lock<std::mutex> guard(mu_);
    if (cv_.wait_for(guard, std::chrono::seconds(kWatchdogSeconds), [this] { return done_; }))
      return;
    report();
    std::abort();
  }
  void report() const {
    std::fprintf(stderr, "WATCHDOG: %s stress still running after %d s\n",
                 profile_name(profile_), kWatchdogSeconds);
    std::fprintf(stderr, "  lock A %s\n  lock B %s\n", rqspinlock_describe(&sh_->a.lock).c_str(),
                 rqspinlock_describe(&sh_->b.lock).c_str());
    for (int cpu = 0; cpu < kWorkers; ++cpu) {
      std::fprintf(stderr, "  %s\n", rqspinlock_describe_cpu(cpu).c_str());
      for (int level = 0; level < 4; ++level) {
        const Guarded* g = sh_->step_lock[cpu][level].load();
        std::fprintf(stderr, "    level %d: %s %s\n", level, step_name(sh_->step[cpu][level].load()),
                     g == &sh_->a ? "A" : g == &sh_->b ? "B" : "-");
      }
      std::fprintf(stderr, "    NMIs handled %lu, hardirqs handled %lu\n",
                   native::interrupts_handled(cpu, IrqKind::kNmi),
                   native::interrupts_handled(cpu, IrqKind::kHardirq));
    }
    std::fprintf(stderr, "  source done %d\n", static_cast<int>(sh_->source_done.load()));
  }

  Shared* sh_;
  Profile profile_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

void run_stress(Profile profile) {
  ScopedProfile scoped(profile);
  reset_machine_state();
  Shared sh;
  for (int cpu = 0; cpu < kWorkers; ++cpu) {
    native::set_interrupt_handler(cpu, IrqKind::kNmi, {nmi_handler, &sh});
    native::set_interrupt_handler(cpu, IrqKind::kHardirq, {hardirq_handler, &sh});
  }
  {
    Watchdog watchdog(&sh, profile);
    std::vector<std::thread> threads;
    for (int cpu = 0; cpu < kWorkers; ++cpu) threads.emplace_back(worker, &sh, cpu);
    std::thread source([&sh] { interrupt_source(&sh); });
    source.join();
    for (auto& t : threads) t.join();
  }
  for (int cpu = 0; cpu < kWorkers; ++cpu) {
    native::set_interrupt_handler(cpu, IrqKind::kNmi, {});
    native::set_interrupt_handler(cpu, IrqKind::kHardirq, {});
  }

  INFO(profile_name(profile) << ": A acquired " << sh.tally_a.acquired << ", -EDEADLK "
                             << sh.tally_a.edeadlk << ", -ETIMEDOUT " << sh.tally_a.etimedout
                             << "; B acquired " << sh.tally_b.acquired << ", -EDEADLK "
                             << sh.tally_b.edeadlk << ", -ETIMEDOUT " << sh.tally_b.etimedout);
  CHECK(sh.other_errors.load() == 0);
  CHECK(sh.lost_interrupts.load() == 0);
  CHECK(sh.a.counter == sh.tally_a.acquired.load());
  CHECK(sh.b.counter == sh.tally_b.acquired.load());
  CHECK(sh.tally_a.acquired.load() >= kWorkers * kIterations / 2);
  CHECK(plain_read(sh.a.lock.val) == 0u);
  CHECK(plain_read(sh.b.lock.val) == 0u);
  for (int cpu = 0; cpu < kWorkers; ++cpu) {
    INFO("CPU " << cpu);
    CHECK(plain_read(per_cpu_ptr(&rqspinlock_held_locks, cpu)->cnt) == 0);
    CHECK(rqspinlock_nodes_in_use(cpu) == 0);
  }
}

}  // namespace

TEST_CASE("native: mutual exclusion under contention and signal-NMIs, mainline") {
  run_stress(Profile::kMainline);
}

TEST_CASE("native: mutual exclusion under contention and signal-NMIs, linux-6.18") {
  run_stress(Profile::kLinux618);
}
