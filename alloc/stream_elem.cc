// alloc/stream_elem.cc: the profile switch between the page bump allocator
// (seed, linux-6.18) and kmalloc_nolock (mainline), and the accounting.
#include "alloc/stream_elem.h"

#include "alloc/internal/stats.h"
#include "alloc/kmalloc_nolock.h"
#include "alloc/stream_page.h"
#include "model/machine_state.h"
#include "model/profile.h"

KMODEL_NAMESPACE_BEGIN

namespace alloc_internal {

PerCpu<StatCpu> g_stats;

void stats_clear() {
  for (int cpu = 0; cpu < NR_CPUS; ++cpu)
    for (StatSlot& s : g_stats.ptr(cpu)->level)
      for (auto& v : s.v) v.store(0, std::memory_order_relaxed);
}

}  // namespace alloc_internal

namespace {


bool uses_kmalloc_nolock() { return current_profile() == Profile::kMainline; }

// The mainline element allocator: exact size, any context, may fail.
bpf_stream_elem* bpf_stream_kmalloc_elem_alloc(int len) {
  if (len < 0 || len > BPF_STREAM_ELEM_MAX_LEN) return nullptr;
  const std::size_t size = BPF_STREAM_ELEM_HDR + static_cast<std::size_t>(len);
  auto* elem = static_cast<bpf_stream_elem*>(kmalloc_nolock(size, __GFP_ZERO, NUMA_NO_NODE));
  if (elem == nullptr) return nullptr;
  bpf_stream_elem_init(elem, len);
  return elem;
}

#if KMODEL_IS_SIM
// Each run starts with zero counters; an aborted run's elements were given
// back by the allocators' own resets.
const MachineStateReset kReset(&alloc_internal::stats_clear);
#endif

// In-use accounting of one element: +1 on allocation, -1 on free.
void account_elem(bool kmalloc, int len, int sign) {
  using namespace alloc_internal;
  const int footprint = kmalloc ? BPF_STREAM_ELEM_HDR + len : bpf_stream_page_elem_size(len);
  StatSlot* slot = stat_slot();
  stat_add(slot, kElemsLive, sign);
  stat_add(slot, kBytesInUse, sign * footprint);
  stat_add(slot, kPayloadInUse, sign * len);
  if (kmalloc)
    stat_add(slot, kKmallocReserved,
             sign * static_cast<s64>(kmalloc_size_roundup(static_cast<std::size_t>(footprint))));
}

}  // namespace

bpf_stream_elem* bpf_stream_elem_alloc(int len) {
  const bool kmalloc = uses_kmalloc_nolock();
  bpf_stream_elem* elem =
      kmalloc ? bpf_stream_kmalloc_elem_alloc(len) : bpf_stream_page_elem_alloc(len);
  if (elem != nullptr) account_elem(kmalloc, len, +1);
  return elem;
}

void bpf_stream_free_elem(bpf_stream_elem* elem) {
  const bool kmalloc = uses_kmalloc_nolock();
  account_elem(kmalloc, elem->total_len, -1);
  if (kmalloc) kfree_nolock(elem);
  else bpf_stream_page_elem_free(elem);
}

void bpf_stream_free_list(llist_node* list) {
  llist_node* pos;
  llist_node* n;
  llist_for_each_safe(pos, n, list) bpf_stream_free_elem(llist_entry(pos, bpf_stream_elem, node));
}

bpf_stream_alloc_stats bpf_stream_alloc_stats_read() {
  using namespace alloc_internal;
  bpf_stream_alloc_stats s;
  s.pages_live = stat_sum(kPagesLive);
  s.bytes_reserved = s.pages_live * static_cast<s64>(PAGE_SIZE) + stat_sum(kKmallocReserved);
  s.elems_live = stat_sum(kElemsLive);
  s.bytes_in_use = stat_sum(kBytesInUse);
  s.payload_bytes_in_use = stat_sum(kPayloadInUse);
  return s;
}

void bpf_stream_alloc_drain_all() {
  for (int cpu = 0; cpu < NR_CPUS; ++cpu) bpf_stream_page_drain_cpu(cpu);
}

KMODEL_NAMESPACE_END
