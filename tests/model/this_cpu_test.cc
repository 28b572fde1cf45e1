// this_cpu_* operations (model/this_cpu.h) on real threads: a CPU's task and
// the NMIs that interrupt it both count on the CPU's counter and no update is
// lost. Natively on x86-64 the operation is one unlocked instruction, which a
// signal cannot split; a load-add-store in its place loses the NMI's updates
// that land between the load and the store, and this test fails.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>
#include <vector>

#include "model/native/cpu_binding.h"
#include "model/this_cpu.h"

using namespace kmodel;

namespace {

PerCpu<Atomic<long>> g_counter;
constexpr int kCpus = 2;
constexpr long kNmiAdds = 1000;  // per NMI: long enough to land amid the task's

void nmi_counts(void*) {
  for (long i = 0; i < kNmiAdds; ++i) this_cpu_inc_return(&g_counter);
}

}  // namespace

TEST_CASE("this_cpu_inc_return: no update lost to an NMI on the same CPU") {
  constexpr int kNmis = 200;
  std::atomic<int> bound{0};
  std::atomic<bool> stop{false};
  long task_adds[kCpus] = {};
  std::vector<std::thread> tasks;
  for (int cpu = 0; cpu < kCpus; ++cpu) {
    native::set_interrupt_handler(cpu, IrqKind::kNmi, {nmi_counts, nullptr});
    tasks.emplace_back([&, cpu] {
      native::CpuBinding bind(cpu);
      bound.fetch_add(1);
      long n = 0;
      long last = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        const long v = this_cpu_inc_return(&g_counter);
        // Monotonic on this CPU: nobody else changes it, and an NMI only adds.
        if (v <= last) n = -1'000'000'000;
        last = v;
        ++n;
        this_cpu_dec(&g_counter);
        this_cpu_inc_return(&g_counter);
      }
      task_adds[cpu] = n;
    });
  }
  while (bound.load() != kCpus) std::this_thread::yield();
  for (int i = 0; i < kNmis; ++i)
    for (int cpu = 0; cpu < kCpus; ++cpu)
      REQUIRE(native::send_interrupt_and_wait(cpu, IrqKind::kNmi) == 0);
  stop.store(true);
  for (auto& t : tasks) t.join();
  for (int cpu = 0; cpu < kCpus; ++cpu) {
    native::set_interrupt_handler(cpu, IrqKind::kNmi, {});
    INFO("CPU " << cpu << ": " << task_adds[cpu] << " task increments");
    REQUIRE(task_adds[cpu] > 0);  // negative: the counter went backwards
    CHECK(READ_ONCE(*per_cpu_ptr(&g_counter, cpu)) == task_adds[cpu] + kNmis * kNmiAdds);
  }
}
