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
// Kernel bug (6.17/6.18 and the seed, found by this model;
// docs/kernel-findings.md): bpf_stream_page_check_room() checks that the
// payload fits in what remains after the 16-byte header (24 in the seed),
// clamped at 0; for len == 0 the check passes even when fewer than 16 bytes
// remain (consumed = 4080 or 4088), and the element header is written 8 or
// 16 bytes past the page. An
// empty bpf_stream_printk() output is such an allocation. The model keeps the
// kernel's check and adds a WARN in bpf_stream_page_push_elem() that fires
// before the write (scenario alloc/kernel_bug_zero_len_overrun).
#ifndef KMODEL_ALLOC_STREAM_PAGE_H_
#define KMODEL_ALLOC_STREAM_PAGE_H_

#include <cstddef>
#include <cstdint>

#include "alloc/refcount.h"
#include "alloc/stream_elem_layout.h"
#include "model/atomic.h"
#include "model/bug.h"
#include "model/cpu.h"
#include "model/local_lock.h"
#include "model/page_alloc.h"
#include "model/percpu.h"
#include "model/profile.h"

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

// offsetof(struct bpf_stream_elem, str) as the page allocator lays elements
// out: 16 bytes in 6.17/6.18; 24 in the seed series, whose element held a
// struct bpf_mem_slice (pointer + length) after the llist node instead of the
// two int lengths (the model keeps its 16-byte struct and leaves the other 8
// bytes unused: what changes is the page layout and the room check).
inline constexpr int BPF_STREAM_ELEM_HDR_SEED = 24;
inline int bpf_stream_page_elem_hdr() {
  return current_profile() == Profile::kSeed ? BPF_STREAM_ELEM_HDR_SEED : BPF_STREAM_ELEM_HDR;
}

// round_up(offsetof(struct bpf_stream_elem, str[len]), 8), for a header of
// `hdr` bytes, and for the current profile's.
inline constexpr int bpf_stream_page_elem_size_hdr(int hdr, int len) {
  return (hdr + len + 7) & ~7;
}
inline int bpf_stream_page_elem_size(int len) {
  return bpf_stream_page_elem_size_hdr(bpf_stream_page_elem_hdr(), len);
}

// The fast paths (here and in stream_elem.h) are always inlined: the compiler
// would otherwise keep them out of line for the size of their cold WARN
// reports, and on this machine a call (with its register saves) costs about
// as much as all the fast path's own work.
#define BPF_STREAM_ALLOC_INLINE inline __attribute__((always_inline))

// The 6.18 bpf_stream_elem_alloc()/bpf_stream_free_elem() (the contract of
// alloc/stream_elem.h, page allocator only; no accounting of elements).
// Their fast paths are inline, below.
BPF_STREAM_ALLOC_INLINE bpf_stream_elem* bpf_stream_page_elem_alloc(int len);
BPF_STREAM_ALLOC_INLINE void bpf_stream_page_elem_free(bpf_stream_elem* elem);

// PAGE_ALIGN_DOWN of the element's address (the kernel's
// bpf_stream_page_from_elem): a stream page is one page, page-aligned.
inline bpf_stream_page* bpf_stream_page_from_elem(const bpf_stream_elem* elem) {
  const auto addr = reinterpret_cast<std::uintptr_t>(elem);
  return reinterpret_cast<bpf_stream_page*>(addr & ~(std::uintptr_t{PAGE_SIZE} - 1));
}

// Tests: `cpu`'s current page (nullptr if none). Racy unless `cpu` is idle.
bpf_stream_page* bpf_stream_page_current(int cpu);

// Tests and teardown: drops `cpu`'s reference to its current page and
// forgets it (the page is freed now if no element is in it, else when its
// last element is freed). Only while no allocation runs on `cpu`.
void bpf_stream_page_drain_cpu(int cpu);

// ============================================================================
// Implementation. The fast path (the current page has room; a put that is not
// the last) is inline here; everything else (replacing the page, freeing it,
// the simulator's checks) is out of line in stream_page.cc. Both builds
// compile this same code: natively the hooks below are empty and the seeded
// bugs the constant false; in the simulator every Atomic access is still a
// scheduling point, in the same order as the kernel's code.
// ============================================================================

namespace alloc_internal {

// kernel/bpf/stream.c's static DEFINE_PER_CPU variables.
extern PerCpu<local_trylock_t> stream_local_lock;
extern PerCpu<Atomic<bpf_stream_page*>> stream_pcpu_page;

// Slow path: installs a fresh current page (bpf_stream_page_replace) that
// has room for `len`; nullptr when the page source fails. Lock held.
bpf_stream_page* bpf_stream_page_reserve_slow(int len);
// The last reference is gone: give the page back.
void bpf_stream_page_free(bpf_stream_page* stream_page);

#if KMODEL_IS_SIM
// The seeded-bug knobs (internal/seeded_bugs.h, private to scenarios and
// tests) and the page registry's checks, out of line in stream_page.cc.
bool seeded_bug_no_trylock();
bool seeded_bug_skip_elem_page_ref();
bool seeded_bug_no_cpu_page_ref();
void debug_elem_reserved(const bpf_stream_page* page);
void debug_elem_freed(const bpf_stream_page* page);
#else
constexpr bool seeded_bug_no_trylock() { return false; }
constexpr bool seeded_bug_skip_elem_page_ref() { return false; }
constexpr bool seeded_bug_no_cpu_page_ref() { return false; }
inline void debug_elem_reserved(const bpf_stream_page*) {}
inline void debug_elem_freed(const bpf_stream_page*) {}
#endif

// ---- The kernel's functions (fast path) -------------------------------------

BPF_STREAM_ALLOC_INLINE bool bpf_stream_page_local_lock(unsigned long* flags) {
  if (seeded_bug_no_trylock()) {
    local_irq_save(*flags);
    return true;
  }
  return local_trylock_irqsave(&stream_local_lock, *flags);
}

BPF_STREAM_ALLOC_INLINE void bpf_stream_page_local_unlock(unsigned long* flags) {
  if (seeded_bug_no_trylock()) {
    local_irq_restore(*flags);
    return;
  }
  local_unlock_irqrestore(&stream_local_lock, *flags);
}

BPF_STREAM_ALLOC_INLINE void bpf_stream_page_get(bpf_stream_page* stream_page) {
  // Seeded bug no_cpu_page_ref counts elements only, on a bare atomic (so
  // taking the first reference from 0 does not WARN).
  if (seeded_bug_no_cpu_page_ref()) {
    atomic_inc(&stream_page->ref.refs);
    return;
  }
  refcount_inc(&stream_page->ref);
}

BPF_STREAM_ALLOC_INLINE void bpf_stream_page_put(bpf_stream_page* stream_page) {
  if (__builtin_expect(refcount_dec_and_test(&stream_page->ref), 0))
    bpf_stream_page_free(stream_page);
}

// How many of the `len` payload bytes fit after an element header: the
// kernel's check, kept exactly (it is what lets len == 0 overrun, see the
// top of this file; the seed's 24-byte header overruns the same way).
BPF_STREAM_ALLOC_INLINE int bpf_stream_page_check_room(bpf_stream_page* stream_page, int len) {
  const int min = bpf_stream_page_elem_hdr();
  const int consumed = static_cast<int>(READ_ONCE(stream_page->consumed));
  int rem = BPF_STREAM_PAGE_SZ - consumed - min;
  if (rem < 0) rem = 0;
  WARN_ON_ONCE(rem % 8 != 0);
  if (rem < 8) rem = 0;  // leave room of at least 8 bytes
  return len < rem ? len : rem;
}

// The fast path's form of `bpf_stream_page_check_room(page, len) == len` for
// a header of `hdr` bytes: the check passes exactly when `consumed` is at most
// this limit, which depends on len and hdr only, so it is computed before
// `consumed` is read. From the kernel's check, for len > 0:
//   min(len, rem < 8 ? 0 : rem) == len  <=>  rem >= max(len, 8)
//   with rem = max(0, SZ - consumed - hdr)  <=>  consumed <= SZ - hdr - max(len, 8);
// for len == 0 it always passes (min(0, rem) == 0: the kernel bug at the top).
// tests/alloc/stream_alloc_test.cc checks the equivalence for every consumed,
// len and header size.
inline constexpr int bpf_stream_page_room_limit(int hdr, int len) {
  if (len == 0) return BPF_STREAM_PAGE_SZ;  // consumed never exceeds it
  return BPF_STREAM_PAGE_SZ - hdr - (len > 8 ? len : 8);
}

// bpf_stream_page_check_room(stream_page, len) == len, with the limit above
// (one READ_ONCE of `consumed`, as the kernel's check). Why not the kernel's
// expression: the branch on it is the last thing before the locked
// increment, and with the kernel's clamps between the load of `consumed` and
// that branch (or with the header size computed from the profile word, see
// bpf_stream_page_reserve_elem) a pair took about 2 ns longer; with one
// compare against a limit computed beforehand the bare path is at the floor
// (docs/alloc.md, "Fast path", has the measurements).
BPF_STREAM_ALLOC_INLINE bool bpf_stream_page_has_room(bpf_stream_page* stream_page, int hdr,
                                                     int limit) {
  const int consumed = static_cast<int>(READ_ONCE(stream_page->consumed));
  // The kernel's WARN_ON_ONCE(rem % 8 != 0): rem is the unclamped value
  // when positive, and SZ - hdr is a multiple of 8.
  WARN_ON_ONCE((consumed & 7) != 0 && consumed < BPF_STREAM_PAGE_SZ - hdr);
  return consumed <= limit;
}

// `hdr`: bpf_stream_page_elem_hdr(), passed down from the caller.
BPF_STREAM_ALLOC_INLINE bpf_stream_elem* bpf_stream_page_push_elem(bpf_stream_page* stream_page,
                                                                  int hdr, int len) {
  const u32 consumed = READ_ONCE(stream_page->consumed);
  const u32 size = static_cast<u32>(bpf_stream_page_elem_size_hdr(hdr, len));
  // Model-only guard: the element must lie inside the page (kernel bug for
  // len == 0; and the NMI re-entry a missing trylock allows).
  WARN_ON_ONCE(consumed + size > static_cast<u32>(BPF_STREAM_PAGE_SZ));
  WRITE_ONCE(stream_page->consumed, consumed + size);
  return reinterpret_cast<bpf_stream_elem*>(&stream_page->buf[consumed]);
}

// Lock held, irqs off. Fast path: the current page has room. `hdr` is
// bpf_stream_page_elem_hdr(), a constant for each caller (see below).
BPF_STREAM_ALLOC_INLINE bpf_stream_elem* bpf_stream_page_reserve_elem_hdr(int hdr, int len) {
  const int limit = bpf_stream_page_room_limit(hdr, len);
  bpf_stream_page* page = READ_ONCE(*this_cpu_ptr(&stream_pcpu_page));
  if (__builtin_expect(page == nullptr || !bpf_stream_page_has_room(page, hdr, limit), 0)) {
    page = bpf_stream_page_reserve_slow(len);
    if (page == nullptr) return nullptr;
  }
  debug_elem_reserved(page);
  if (!seeded_bug_skip_elem_page_ref()) bpf_stream_page_get(page);
  bpf_stream_elem* elem = bpf_stream_page_push_elem(page, hdr, len);
  bpf_stream_elem_init(elem, len);
  return elem;
}

// The seed's 24-byte header, out of line (stream_page.cc).
bpf_stream_elem* bpf_stream_page_reserve_elem_seed(int len);

// bpf_stream_page_reserve_elem(): the header size is chosen by a branch on
// the profile, not computed from it, so that the room limit and the element
// size are constants on the path to the locked increment (computed from the
// profile word, the bare path stayed about 2 ns over the floor even with the
// one-compare room check: docs/alloc.md).
BPF_STREAM_ALLOC_INLINE bpf_stream_elem* bpf_stream_page_reserve_elem(int len) {
  if (__builtin_expect(current_profile() == Profile::kSeed, 0))
    return bpf_stream_page_reserve_elem_seed(len);
  return bpf_stream_page_reserve_elem_hdr(BPF_STREAM_ELEM_HDR, len);
}

}  // namespace alloc_internal

BPF_STREAM_ALLOC_INLINE bpf_stream_elem* bpf_stream_page_elem_alloc(int len) {
  using namespace alloc_internal;
  if (len < 0 || len > BPF_STREAM_ELEM_MAX_LEN) return nullptr;
  unsigned long flags;
  if (!bpf_stream_page_local_lock(&flags)) return nullptr;  // NMI re-entry
  bpf_stream_elem* elem = bpf_stream_page_reserve_elem(len);
  bpf_stream_page_local_unlock(&flags);
  return elem;
}

BPF_STREAM_ALLOC_INLINE void bpf_stream_page_elem_free(bpf_stream_elem* elem) {
  using namespace alloc_internal;
  bpf_stream_page* page = bpf_stream_page_from_elem(elem);
  debug_elem_freed(page);
  bpf_stream_page_put(page);
}

KMODEL_NAMESPACE_END

#endif  // KMODEL_ALLOC_STREAM_PAGE_H_
