// alloc/internal/stats.h: the allocators' accounting counters.
//
// Instrumentation, not model state: plain std::atomic (never a scheduling
// point), one slot per CPU, updated the way the kernel's this_cpu_add() is:
// natively (x86-64) one non-locked `add` to memory, which an interrupt on the
// same CPU (a signal: the model's NMI and hardirq) cannot split, so no update
// is lost to an NMI and no locked instruction is on the allocation fast path.
// The simulator interleaves CPUs only at scheduling points, and a stat_add is
// none, so there a relaxed load and store is the same. Readers sum all slots;
// the counters are net, so a free on another CPU than the allocation simply
// makes one slot negative.
#ifndef KMODEL_ALLOC_INTERNAL_STATS_H_
#define KMODEL_ALLOC_INTERNAL_STATS_H_

#include <atomic>

#include "model/cpu.h"
#include "model/percpu.h"
#include "model/types.h"

KMODEL_NAMESPACE_BEGIN
namespace alloc_internal {

// The element counters come in two sets: allocations add to the first,
// frees to the second (both only grow), and the reader subtracts. A free then
// never updates a word the allocation before it just updated: with one net
// counter, an allocation and a free on the same CPU chained their
// read-modify-writes through store forwarding right before the free's locked
// decrement, which waits for them (docs/alloc.md, "Fast path").
enum Counter {
  kPagesLive,
  kKmallocReserved,
  kElemsAllocated,
  kBytesAllocated,
  kPayloadAllocated,
  kElemsFreed,
  kBytesFreed,
  kPayloadFreed,
  kNumCounters,
};
static_assert(kNumCounters * sizeof(s64) <= 64, "one slot, one cache line");

struct StatSlot {
  std::atomic<s64> v[kNumCounters];
};

extern PerCpu<StatSlot> g_stats;

// The caller's CPU's slot. A thread that is not a CPU (a test's teardown
// while nothing runs) counts in CPU 0's. Look it up once per operation.
inline StatSlot* stat_slot() {
  if (__builtin_expect(!cpu_bound(), 0)) return g_stats.ptr(0);
  return g_stats.ptr(smp_processor_id());
}

inline void stat_add(StatSlot* slot, Counter c, s64 delta) {
  std::atomic<s64>& x = slot->v[c];
#if !KMODEL_IS_SIM && defined(__x86_64__) && !KMODEL_TSAN
  // this_cpu_add(): one instruction, so atomic with respect to this CPU's
  // interrupts. Other CPUs only read (stat_sum), and an aligned 8-byte store
  // is never torn.
  static_assert(sizeof(x) == sizeof(s64) && std::atomic<s64>::is_always_lock_free);
  asm volatile("addq %1, %0" : "+m"(x) : "er"(delta));
#elif !KMODEL_IS_SIM
  // Elsewhere (and under ThreadSanitizer, which does not see inline asm): a
  // relaxed atomic add, correct with any interleaving, locked.
  x.fetch_add(delta, std::memory_order_relaxed);
#else
  x.store(x.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
#endif
}

inline void stat_add(Counter c, s64 delta) { stat_add(stat_slot(), c, delta); }

inline s64 stat_sum(Counter c) {
  s64 sum = 0;
  for (int cpu = 0; cpu < NR_CPUS; ++cpu)
    sum += g_stats.ptr(cpu)->v[c].load(std::memory_order_relaxed);
  return sum;
}

void stats_clear();  // only while no CPU allocates or frees

}  // namespace alloc_internal
KMODEL_NAMESPACE_END

#endif  // KMODEL_ALLOC_INTERNAL_STATS_H_
