// alloc/stream_elem.h: the BPF stream element and the allocator the stream
// uses for it, whichever design the profile selects.
//
// Mirrors: struct bpf_stream_elem (include/linux/bpf.h; defined in
// alloc/stream_elem_layout.h, included here), and
// bpf_stream_elem_alloc() / bpf_stream_free_elem() of kernel/bpf/stream.c
// (Linux 6.17/6.18 for the `seed` and `linux-6.18` profiles; the 2026
// mainline version, which allocates with kmalloc_nolock(), for `mainline`).
//
// Glossary
//   element  : a 16-byte header (llist node, total length, consumed length)
//              followed by the payload `str` (not NUL-terminated).
//   footprint: the bytes an element occupies in its allocator:
//              page allocator  round_up(16 + len, 8)   (bpf_stream_page_elem_size)
//              kmalloc_nolock  16 + len, exact          (bpf_stream_kmalloc_elem_size)
//
// Contract
//   bpf_stream_elem_alloc(len) may be called from any context, NMI included,
//   on a CPU (smp_processor_id() must be valid). It never blocks and never
//   waits for another CPU. It returns an initialised element
//   (init_llist_node'd, total_len = len, consumed_len = 0), or nullptr when
//     - len < 0 or len > BPF_STREAM_ELEM_MAX_LEN (1024, the bprintf buffer);
//     - the same CPU is already inside the allocator (an NMI that interrupted
//       an allocation: the per-CPU local_trylock fails);
//     - the page source fails (alloc_pages_nolock, failure injection).
//   The stream turns nullptr into -ENOMEM (bpf_stream_elem_alloc_errno).
//
//   bpf_stream_free_elem(elem) may be called from any context on any CPU,
//   exactly once per element, concurrently with allocations and frees on
//   every CPU.
//
//   The profile current at allocation decides the allocator (page allocator
//   for seed and linux-6.18, kmalloc_nolock for mainline). The element
//   remembers it: bpf_stream_free_elem() asks the element's memory which
//   allocator it came from (kmalloc_nolock_owns(), the model's
//   folio_test_slab()), never the profile current at free time, so an element
//   outlives a profile switch (say, a program loaded under one profile and
//   torn down under another).
//
// Accounting (bpf_stream_alloc_stats): exact when no CPU allocates or frees,
// a consistent-enough snapshot otherwise. Invariants when quiescent:
//   elems_live           == allocations - frees
//   bytes_in_use         == sum of footprints of live elements
//   payload_bytes_in_use == sum of total_len of live elements
//   bytes_reserved       == pages_live * PAGE_SIZE   (page allocator)
//                         + sum of kmalloc size classes of live kmalloc'd
//                           elements                (kmalloc_nolock)
#ifndef KMODEL_ALLOC_STREAM_ELEM_H_
#define KMODEL_ALLOC_STREAM_ELEM_H_

#include <atomic>
#include <cstddef>

#include "alloc/internal/stats.h"
#include "alloc/kmalloc_nolock.h"
#include "alloc/stream_elem_layout.h"
#include "alloc/stream_page.h"
#include "model/profile.h"
#include "model/types.h"

KMODEL_NAMESPACE_BEGIN

// Profile-dispatched allocation and free (see the contract above). Inline:
// the page allocator's fast path and the accounting are below.
BPF_STREAM_ALLOC_INLINE bpf_stream_elem* bpf_stream_elem_alloc(int len);
BPF_STREAM_ALLOC_INLINE void bpf_stream_free_elem(bpf_stream_elem* elem);

// The same, in the form the stream's push returns: 0 or -ENOMEM.
inline int bpf_stream_elem_alloc_errno(int len, bpf_stream_elem** out) {
  *out = bpf_stream_elem_alloc(len);
  return *out != nullptr ? 0 : -ENOMEM;
}

// Frees a detached chain of elements (bpf_stream_free_list).
void bpf_stream_free_list(llist_node* list);

struct bpf_stream_alloc_stats {
  s64 pages_live = 0;            // bpf_stream_page pages held (page allocator)
  s64 bytes_reserved = 0;        // memory held from the page source, see above
  s64 elems_live = 0;
  s64 bytes_in_use = 0;          // footprints of live elements
  s64 payload_bytes_in_use = 0;  // payloads of live elements
};
bpf_stream_alloc_stats bpf_stream_alloc_stats_read();

// Tests and tools: releases what the allocators hold for no element (each
// CPU's current page, its own reference). Call only while no CPU allocates.
// Afterwards, with no element live, page_alloc_stats().pages_live is back to
// what it was before the first allocation.
void bpf_stream_alloc_drain_all();

// ---- Implementation ----------------------------------------------------------
// The page allocator's path is inline (its own fast path is inline in
// stream_page.h); the mainline path is out of line in stream_elem.cc.

namespace alloc_internal {

// kmalloc_nolock() elements, with their accounting.
bpf_stream_elem* bpf_stream_kmalloc_elem_alloc(int len);
void bpf_stream_kmalloc_free_elem(bpf_stream_elem* elem);

inline bool uses_kmalloc_nolock() { return has_mainline_fixes(); }

// Set for good before the process's first kmalloc_nolock element exists
// (bpf_stream_kmalloc_elem_alloc). Whoever frees an element got it through
// something that happened after its allocation, so a relaxed load that reads
// false proves the element is not one.
extern std::atomic<bool> g_kmalloc_elems_seen;

// Which allocator `elem` came from (see the contract). Until a mainline
// element has existed the answer is known without the load of the element's
// page word, which would sit on the free's path to its locked decrement.
inline bool elem_from_kmalloc_nolock(const bpf_stream_elem* elem) {
  return __builtin_expect(g_kmalloc_elems_seen.load(std::memory_order_relaxed), 0) &&
         kmalloc_nolock_owns(elem);
}

// In-use accounting of one element, in the caller's slot: three
// single-writer adds (no locked instruction) to the allocated counters, or to
// the freed ones (internal/stats.h says why two sets).
BPF_STREAM_ALLOC_INLINE void account_elem_alloc(StatSlot* slot, int footprint, int len) {
  stat_add(slot, kElemsAllocated, 1);
  stat_add(slot, kBytesAllocated, footprint);
  stat_add(slot, kPayloadAllocated, len);
}
BPF_STREAM_ALLOC_INLINE void account_elem_free(StatSlot* slot, int footprint, int len) {
  stat_add(slot, kElemsFreed, 1);
  stat_add(slot, kBytesFreed, footprint);
  stat_add(slot, kPayloadFreed, len);
}

}  // namespace alloc_internal

BPF_STREAM_ALLOC_INLINE bpf_stream_elem* bpf_stream_elem_alloc(int len) {
  using namespace alloc_internal;
  if (__builtin_expect(uses_kmalloc_nolock(), 0)) return bpf_stream_kmalloc_elem_alloc(len);
  // The slot is looked up first: its loads then overlap the allocation's
  // locked increment instead of waiting for it.
  StatSlot* slot = stat_slot();
  bpf_stream_elem* elem = bpf_stream_page_elem_alloc(len);
  if (elem != nullptr) account_elem_alloc(slot, bpf_stream_page_elem_size(len), len);
  return elem;
}

BPF_STREAM_ALLOC_INLINE void bpf_stream_free_elem(bpf_stream_elem* elem) {
  using namespace alloc_internal;
  // The accounting's stores come after the locked decrement (what they need
  // is read before it: the element may be gone after the put). A locked
  // instruction waits for every older store: before the decrement they
  // delayed it, and here a pair measured 0.3 to 0.5 ns faster
  // (docs/alloc.md, "Fast path").
  const int len = elem->total_len;
  StatSlot* slot = stat_slot();
  if (__builtin_expect(elem_from_kmalloc_nolock(elem), 0)) return bpf_stream_kmalloc_free_elem(elem);
  bpf_stream_page_elem_free(elem);
  account_elem_free(slot, bpf_stream_page_elem_size(len), len);
}

KMODEL_NAMESPACE_END

#endif  // KMODEL_ALLOC_STREAM_ELEM_H_
