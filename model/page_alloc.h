// model/page_alloc.h: pages from any context, allocation that may fail.
//
// Mirrors: alloc_pages_nolock() / free_pages_nolock() (mm/page_alloc.c,
// Linux 6.18), the page source of the BPF stream element allocator.
//
// Contract
//   alloc_pages_nolock(gfp, nid, order) never blocks and may be called from
//   any context, NMI included; it returns nullptr on failure, and callers
//   must handle that. The memory of a page is PAGE_SIZE << order bytes,
//   aligned to its size, so virt_to_page() finds a page from any address in it.
//   Its contents are undefined unless __GFP_ZERO is passed. In the simulator
//   a freed page is poisoned (0x6b) and kept until the run ends, so a stale
//   access is reported (model/sim/machine.h).
//
// Failure injection
//   set_page_fault_policy() makes allocations fail on purpose: never, every
//   k-th call, with a seeded probability, or (simulator only) as a choice the
//   model checker explores at each call. The policy is global to the backend
//   and deterministic for a given seed and call order.
//
// Page source: the simulator uses the host allocator (and tracks every page).
// Natively, interrupt context (signal-NMIs and hardirqs) cannot call malloc,
// so pages come from a preallocated lock-free pool refilled outside signal
// context (model/native/page_pool.h); an empty pool fails the allocation,
// like the kernel's trylock-only path.
//
// Accounting: page_alloc_stats() counts live pages, injected failures and
// the page source's refusals, so tests can assert that nothing leaked.
#ifndef KMODEL_MODEL_PAGE_ALLOC_H_
#define KMODEL_MODEL_PAGE_ALLOC_H_

#include <cstddef>

#include "model/types.h"

KMODEL_NAMESPACE_BEGIN

inline constexpr unsigned PAGE_SHIFT = 12;
inline constexpr std::size_t PAGE_SIZE = std::size_t{1} << PAGE_SHIFT;
inline constexpr int NUMA_NO_NODE = -1;
inline constexpr gfp_t __GFP_ZERO = 0x100u;
inline constexpr gfp_t __GFP_ACCOUNT = 0x400000u;

// Opaque: a page is its own memory; page_address() gives the bytes.
struct page;

page* alloc_pages_nolock(gfp_t gfp_flags, int nid, unsigned int order);
void free_pages_nolock(page* pg, unsigned int order);
void* page_address(const page* pg);
page* virt_to_page(const void* addr);

struct PageFaultPolicy {
  enum class Mode { kNever, kEveryNth, kProbability, kExplore };
  Mode mode = Mode::kNever;
  u64 nth = 0;             // kEveryNth: calls nth, 2*nth, ... fail
  double probability = 0;  // kProbability
  u64 seed = 0;            // kProbability

  static PageFaultPolicy never() { return {}; }
  static PageFaultPolicy every_nth(u64 k) { return {Mode::kEveryNth, k, 0, 0}; }
  static PageFaultPolicy with_probability(double p, u64 seed) {
    return {Mode::kProbability, 0, p, seed};
  }
  // Simulator only: every allocation is a choice of the strategy.
  static PageFaultPolicy explored() { return {Mode::kExplore, 0, 0, 0}; }
};

// Installs the policy and restarts its call count. Not thread-safe against
// concurrent allocations: set it before the CPUs run.
void set_page_fault_policy(const PageFaultPolicy& policy);

struct PageAllocStats {
  s64 pages_live = 0;     // allocated and not yet freed
  u64 allocations = 0;    // successful calls
  u64 injected_failures = 0;
  // Refused by the page source itself: the host is out of memory, or
  // (natively, in interrupt context) the async-signal-safe pool is empty.
  u64 source_failures = 0;
};
PageAllocStats page_alloc_stats();

KMODEL_NAMESPACE_END

#endif  // KMODEL_MODEL_PAGE_ALLOC_H_
