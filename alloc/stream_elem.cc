// alloc/stream_elem.cc: the out-of-line parts of the element API: the
// mainline (kmalloc_nolock) path, the accounting's storage and reader, and
// teardown. The page allocator's path is inline in stream_elem.h.
#include "alloc/stream_elem.h"

#include "alloc/internal/stats.h"
#include "alloc/kmalloc_nolock.h"
#include "alloc/stream_page.h"
#include "model/machine_state.h"

KMODEL_NAMESPACE_BEGIN

namespace alloc_internal {

PerCpu<StatSlot> g_stats;
std::atomic<bool> g_kmalloc_elems_seen{false};

void stats_clear() {
  for (int cpu = 0; cpu < NR_CPUS; ++cpu)
    for (auto& v : g_stats.ptr(cpu)->v) v.store(0, std::memory_order_relaxed);
}

namespace {

#if KMODEL_IS_SIM
// Each run starts with zero counters; an aborted run's elements were given
// back by the allocators' own resets.
const MachineStateReset kReset(&stats_clear);
#endif

// The kmalloc size class SLUB would use for an element of `len` bytes.
s64 kmalloc_reserved(int len) {
  return static_cast<s64>(
      kmalloc_size_roundup(BPF_STREAM_ELEM_HDR + static_cast<std::size_t>(len)));
}

}  // namespace

// The mainline element allocator: exact size, any context, may fail.
bpf_stream_elem* bpf_stream_kmalloc_elem_alloc(int len) {
  if (len < 0 || len > BPF_STREAM_ELEM_MAX_LEN) return nullptr;
  const std::size_t size = BPF_STREAM_ELEM_HDR + static_cast<std::size_t>(len);
  if (!g_kmalloc_elems_seen.load(std::memory_order_relaxed))
    g_kmalloc_elems_seen.store(true, std::memory_order_relaxed);
  auto* elem = static_cast<bpf_stream_elem*>(kmalloc_nolock(size, __GFP_ZERO, NUMA_NO_NODE));
  if (elem == nullptr) return nullptr;
  bpf_stream_elem_init(elem, len);
  account_elem_alloc(stat_slot(), BPF_STREAM_ELEM_HDR + len, len);
  stat_add(kKmallocReserved, kmalloc_reserved(len));
  return elem;
}

void bpf_stream_kmalloc_free_elem(bpf_stream_elem* elem) {
  const int len = elem->total_len;
  account_elem_free(stat_slot(), BPF_STREAM_ELEM_HDR + len, len);
  stat_add(kKmallocReserved, -kmalloc_reserved(len));
  kfree_nolock(elem);
}

}  // namespace alloc_internal

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
  s.elems_live = stat_sum(kElemsAllocated) - stat_sum(kElemsFreed);
  s.bytes_in_use = stat_sum(kBytesAllocated) - stat_sum(kBytesFreed);
  s.payload_bytes_in_use = stat_sum(kPayloadAllocated) - stat_sum(kPayloadFreed);
  return s;
}

void bpf_stream_alloc_drain_all() {
  for (int cpu = 0; cpu < NR_CPUS; ++cpu) bpf_stream_page_drain_cpu(cpu);
}

KMODEL_NAMESPACE_END
