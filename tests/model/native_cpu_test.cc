// The native backend: CPU binding, contexts, signal-delivered interrupts.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "model/atomic.h"
#include "model/cpu.h"
#include "model/native/cpu_binding.h"
#include "model/page_alloc.h"

using namespace kmodel;

namespace {
struct Probe {
  std::atomic<int> level{-1};
  std::atomic<bool> irqs_off{false};
  std::atomic<int> cpu{-1};
};
void probe_handler(void* arg) {
  auto* p = static_cast<Probe*>(arg);
  p->level.store(interrupt_context_level());
  p->irqs_off.store(irqs_disabled());
  p->cpu.store(smp_processor_id());
}
}  // namespace

TEST_CASE("a bound thread is its CPU, in task context") {
  native::CpuBinding cpu(3);
  CHECK(smp_processor_id() == 3);
  CHECK(in_task());
  CHECK_FALSE(in_nmi());
  CHECK(interrupt_context_level() == 0);
  unsigned long flags;
  local_irq_save(flags);
  CHECK(irqs_disabled());
  local_irq_restore(flags);
  CHECK_FALSE(irqs_disabled());
}

TEST_CASE("an NMI runs on the target CPU's thread in NMI context, irqs off or not") {
  Probe probe;
  native::set_interrupt_handler(1, IrqKind::kNmi, {probe_handler, &probe});
  std::atomic<bool> go{false}, done{false};
  std::thread t([&] {
    native::CpuBinding cpu(1);
    unsigned long flags;
    local_irq_save(flags);  // NMIs are not masked
    go.store(true);
    while (native::interrupts_handled(1, IrqKind::kNmi) == 0) cpu_relax();
    local_irq_restore(flags);
    while (!done.load()) cpu_relax();
  });
  while (!go.load()) cpu_relax();
  REQUIRE(native::send_interrupt_and_wait(1, IrqKind::kNmi) == 0);
  done.store(true);
  t.join();
  CHECK(probe.level.load() == 3);
  CHECK(probe.irqs_off.load());
  CHECK(probe.cpu.load() == 1);
  native::set_interrupt_handler(1, IrqKind::kNmi, {});
}

TEST_CASE("a hardirq waits while irqs are disabled and runs when they are enabled") {
  Probe probe;
  native::set_interrupt_handler(2, IrqKind::kHardirq, {probe_handler, &probe});
  std::atomic<int> phase{0};
  std::atomic<unsigned long> handled_while_off{99};
  std::thread t([&] {
    native::CpuBinding cpu(2);
    unsigned long flags;
    local_irq_save(flags);
    phase.store(1);
    // Wait until the signal has certainly arrived: it is pending.
    while (!current_cpu()->hardirq_pending.load()) cpu_relax();
    handled_while_off.store(native::interrupts_handled(2, IrqKind::kHardirq));
    local_irq_restore(flags);  // runs the pending hardirq here
    phase.store(2);
  });
  while (phase.load() != 1) cpu_relax();
  REQUIRE(native::send_interrupt_and_wait(2, IrqKind::kHardirq) == 0);
  t.join();
  CHECK(handled_while_off.load() == 0);
  CHECK(native::interrupts_handled(2, IrqKind::kHardirq) == 1);
  CHECK(probe.level.load() == 2);
  native::set_interrupt_handler(2, IrqKind::kHardirq, {});
}

TEST_CASE("send_interrupt_and_wait returns -ESRCH when the target unbinds first") {
  std::atomic<bool> irqs_off{false};
  std::thread t([&] {
    native::CpuBinding cpu(4);
    local_irq_disable();
    irqs_off.store(true);
    // The hardirq arrives and stays deferred; the thread then unbinds
    // without ever enabling irqs, so it is never handled.
    while (!current_cpu()->hardirq_pending.load()) cpu_relax();
  });
  while (!irqs_off.load()) cpu_relax();
  CHECK(native::send_interrupt_and_wait(4, IrqKind::kHardirq) == -ESRCH);
  t.join();
  CHECK(native::interrupts_handled(4, IrqKind::kHardirq) == 0);
}

TEST_CASE("interrupting a CPU nobody is bound to is an error") {
  CHECK(native::send_nmi(7) == -ESRCH);
  CHECK(native::send_nmi(-1) == -EINVAL);
  CHECK(native::send_hardirq(NR_CPUS) == -EINVAL);
}

TEST_CASE("page allocation: aligned pages, accounting, injected failures") {
  const s64 live0 = page_alloc_stats().pages_live;
  page* p = alloc_pages_nolock(0, NUMA_NO_NODE, 0);
  REQUIRE(p != nullptr);
  char* mem = static_cast<char*>(page_address(p));
  CHECK(reinterpret_cast<uintptr_t>(mem) % PAGE_SIZE == 0);
  CHECK(virt_to_page(mem + 100) == p);
  CHECK(page_alloc_stats().pages_live == live0 + 1);
  free_pages_nolock(p, 0);
  CHECK(page_alloc_stats().pages_live == live0);

  set_page_fault_policy(PageFaultPolicy::every_nth(3));
  int failed = 0;
  for (int i = 0; i < 9; ++i) {
    page* q = alloc_pages_nolock(0, NUMA_NO_NODE, 0);
    if (q == nullptr) ++failed;
    free_pages_nolock(q, 0);
  }
  CHECK(failed == 3);

  set_page_fault_policy(PageFaultPolicy::with_probability(0.5, 1234));
  failed = 0;
  for (int i = 0; i < 1000; ++i) {
    page* q = alloc_pages_nolock(0, NUMA_NO_NODE, 0);
    if (q == nullptr) ++failed;
    free_pages_nolock(q, 0);
  }
  set_page_fault_policy(PageFaultPolicy::never());
  CHECK(failed > 400);
  CHECK(failed < 600);
  CHECK(page_alloc_stats().pages_live == live0);
}
