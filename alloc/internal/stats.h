// alloc/internal/stats.h: the allocators' accounting counters.
//
// Instrumentation, not model state: plain std::atomic (never a scheduling
// point) in one slot per (CPU, context level). A slot has a single writer at
// a time (a CPU runs one context of each level at once, and an NMI does not
// nest in an NMI), so updates are a relaxed load and store: no locked
// instruction on the allocation fast path, and no update lost to an NMI that
// interrupts the task between the load and the store (it uses another slot).
// Readers sum all slots; the counters are net, so a free on another CPU than
// the allocation simply makes one slot negative.
#ifndef KMODEL_ALLOC_INTERNAL_STATS_H_
#define KMODEL_ALLOC_INTERNAL_STATS_H_

#include <atomic>

#include "model/cpu.h"
#include "model/percpu.h"
#include "model/types.h"

KMODEL_NAMESPACE_BEGIN
namespace alloc_internal {

enum Counter {
  kPagesLive,
  kKmallocReserved,
  kElemsLive,
  kBytesInUse,
  kPayloadInUse,
  kNumCounters,
};

struct StatSlot {
  std::atomic<s64> v[kNumCounters];
};

struct StatCpu {
  StatSlot level[4];  // task, softirq, hardirq, NMI
};

extern PerCpu<StatCpu> g_stats;

// The caller's slot: its CPU's, at its interrupt_context_level(). A thread
// that is not a CPU (a test's teardown while nothing runs) counts in CPU 0's
// task slot. Look it up once per operation. Task context is tested first,
// as a predicted branch: the slot's address then does not wait for
// preempt_count (this is on the allocation fast path).
inline StatSlot* stat_slot() {
  if (__builtin_expect(!cpu_bound(), 0)) return &g_stats.ptr(0)->level[0];
  CpuContext* ctx = current_cpu();
  StatCpu* cpu = g_stats.ptr(ctx->cpu);
  const unsigned pc = ctx->preempt_count.load(std::memory_order_relaxed);
  if (__builtin_expect((pc & (NMI_MASK | HARDIRQ_MASK | SOFTIRQ_OFFSET)) == 0, 1))
    return &cpu->level[0];
  return &cpu->level[interrupt_context_level_of(*ctx)];
}

inline void stat_add(StatSlot* slot, Counter c, s64 delta) {
  std::atomic<s64>& x = slot->v[c];
  x.store(x.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
}

inline void stat_add(Counter c, s64 delta) { stat_add(stat_slot(), c, delta); }

inline s64 stat_sum(Counter c) {
  s64 sum = 0;
  for (int cpu = 0; cpu < NR_CPUS; ++cpu)
    for (const StatSlot& s : g_stats.ptr(cpu)->level)
      sum += s.v[c].load(std::memory_order_relaxed);
  return sum;
}

void stats_clear();  // only while no CPU allocates or frees

}  // namespace alloc_internal
KMODEL_NAMESPACE_END

#endif  // KMODEL_ALLOC_INTERNAL_STATS_H_
