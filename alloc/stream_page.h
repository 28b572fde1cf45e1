// alloc/stream_page.h: the per-CPU page bump allocator of BPF stream
// elements (the `seed` and `linux-6.18` profiles).
//
// Mirrors: struct bpf_stream_page and bpf_stream_page_* of kernel/bpf/stream.c
// (Linux 6.17/6.18), same names, constants and failure cases.
//
// Glossary
//   current page : the page a CPU bump-allocates from, this CPU's
//                  stream_pcpu_page; the CPU holds one reference to it.
//   consumed     : bytes of buf[] handed out so far (only grows).
//   usable size  : BPF_STREAM_PAGE_SZ = PAGE_SIZE - 8 (the header is the
//                  refcount and `consumed`).
//
// Invariants (the model checks the starred ones in the simulator build,
// before any memory is touched, so a broken run is reported, not crashed)
//   ref == (page is current on its CPU) + (live elements in the page)
//   * a page is freed exactly once, when ref reaches 0: never while current,
//     never while an element is in it;
//   * no reference is taken on a freed page;
//   * an element never runs past the end of its page (see "kernel bug");
//   consumed % 8 == 0 and consumed <= BPF_STREAM_PAGE_SZ.
//
// Concurrency rules
//   Allocation runs under this CPU's stream_local_lock, a local_trylock_t
//   taken with irqs saved. Irqs off keeps hardirqs and softirqs out, so the
//   only code that can find the lock taken is an NMI that interrupted an
//   allocation on the same CPU: it gets nullptr (-ENOMEM for the stream)
//   instead of corrupting `consumed` or the current page pointer. Hence
//   `consumed` and stream_pcpu_page are only ever written by their own CPU
//   with the lock held, and need no atomic RMW.
//
//   Frees come from any CPU and any context and touch only the page's
//   refcount (an atomic). The CPU's own reference keeps the current page
//   alive however many of its elements other CPUs free; replacing the page
//   drops that reference (the page may then be freed right away, by the
//   replacing CPU, or later, by whoever frees its last element).
//
//                     | alloc (same CPU) | alloc (other CPU) | free (any)
//     alloc           | trylock refuses  |        -          |     -
//     free            |        -         |        -          |     -
//
// Kernel bug (6.17/6.18, found by this model; verify upstream before
// reporting): bpf_stream_page_check_room() checks that the payload fits in
// what remains after the 16-byte header, clamped at 0; for len == 0 the
// check passes even when fewer than 16 bytes remain (consumed = 4080 or
// 4088), and the element header is written 8 or 16 bytes past the page. An
// empty bpf_stream_printk() output is such an allocation. The model keeps the
// kernel's check and adds a WARN in bpf_stream_page_push_elem() that fires
// before the write (scenario alloc/kernel_bug_zero_len_overrun).
#ifndef KMODEL_ALLOC_STREAM_PAGE_H_
#define KMODEL_ALLOC_STREAM_PAGE_H_

#include <cstddef>

#include "alloc/refcount.h"
#include "alloc/stream_elem.h"
#include "model/atomic.h"
#include "model/page_alloc.h"

KMODEL_NAMESPACE_BEGIN

struct bpf_stream_page {
  refcount_t ref;
  // Written only by the owning CPU under its stream_local_lock. An Atomic
  // accessed with READ_ONCE/WRITE_ONCE (plain moves natively) so that the
  // simulator can put an NMI between its read and its write.
  Atomic<u32> consumed;
  char buf[];
};
static_assert(sizeof(bpf_stream_page) == 8, "refcount + consumed");

inline constexpr int BPF_STREAM_PAGE_SZ =
    static_cast<int>(PAGE_SIZE - sizeof(bpf_stream_page));  // 4088

// round_up(offsetof(struct bpf_stream_elem, str[len]), 8)
inline constexpr int bpf_stream_page_elem_size(int len) {
  return (BPF_STREAM_ELEM_HDR + len + 7) & ~7;
}

// The 6.18 bpf_stream_elem_alloc()/bpf_stream_free_elem() (the contract of
// alloc/stream_elem.h, page allocator only; no accounting of elements).
bpf_stream_elem* bpf_stream_page_elem_alloc(int len);
void bpf_stream_page_elem_free(bpf_stream_elem* elem);

// PAGE_ALIGN_DOWN of the element's address.
inline bpf_stream_page* bpf_stream_page_from_elem(const bpf_stream_elem* elem) {
  return static_cast<bpf_stream_page*>(page_address(virt_to_page(elem)));
}

// Tests: `cpu`'s current page (nullptr if none). Racy unless `cpu` is idle.
bpf_stream_page* bpf_stream_page_current(int cpu);

// Tests and teardown: drops `cpu`'s reference to its current page and
// forgets it (the page is freed now if no element is in it, else when its
// last element is freed). Only while no allocation runs on `cpu`.
void bpf_stream_page_drain_cpu(int cpu);

KMODEL_NAMESPACE_END

#endif  // KMODEL_ALLOC_STREAM_PAGE_H_
