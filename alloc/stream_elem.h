// alloc/stream_elem.h: the BPF stream element and the allocator the stream
// uses for it, whichever design the profile selects.
//
// Mirrors: struct bpf_stream_elem (include/linux/bpf.h), and
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
//   The profile decides the allocator, and must not change while elements
//   are live (model/profile.h: set it before CPUs run): an element is freed
//   by the allocator of the profile current at free time.
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

#include <cstddef>

#include "model/types.h"
#include "sync/llist.h"

KMODEL_NAMESPACE_BEGIN

struct bpf_stream_elem {
  llist_node node;
  int total_len;     // payload bytes
  int consumed_len;  // payload bytes the reader has consumed (reader-owned)
  char str[];
};

inline constexpr int BPF_STREAM_ELEM_HDR = 16;  // offsetof(bpf_stream_elem, str)
static_assert(sizeof(bpf_stream_elem) == BPF_STREAM_ELEM_HDR,
              "the kernel's element header is 16 bytes");

// The largest payload: ARRAY_SIZE(bpf_bprintf_buffers.buf) = MAX_BPRINTF_BUF.
inline constexpr int BPF_STREAM_ELEM_MAX_LEN = 1024;

inline void bpf_stream_elem_init(bpf_stream_elem* elem, int len) {
  init_llist_node(&elem->node);
  elem->total_len = len;
  elem->consumed_len = 0;
}

// Profile-dispatched allocation and free (see the contract above).
bpf_stream_elem* bpf_stream_elem_alloc(int len);
void bpf_stream_free_elem(bpf_stream_elem* elem);

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

KMODEL_NAMESPACE_END

#endif  // KMODEL_ALLOC_STREAM_ELEM_H_
