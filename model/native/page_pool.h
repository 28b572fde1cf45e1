// model/native/page_pool.h: the native backend's async-signal-safe page
// source behind alloc_pages_nolock() / free_pages_nolock().
//
// Mirrors nothing in the kernel by name: it stands in for the buddy
// allocator's per-CPU lists and zone trylock that let alloc_pages_nolock()
// serve NMIs (mm/page_alloc.c). Natively an NMI is a signal handler, and the
// host malloc is not async-signal-safe, so pages for interrupt context come
// from a preallocated pool that only atomics touch.
//
// Contract
//   - Interrupt context (a signal handler of model/native/cpu_binding.h, i.e.
//     NMI or hardirq context): allocation takes a cached page of the wanted
//     order from the pool, never calling the host allocator; an empty pool is
//     an allocation failure (nullptr), as a failed trylock or an empty free
//     list is in the kernel. A free returns the page to the pool; if the pool
//     has no free slot, the page is parked on a lock-free deferred list (the
//     kernel parks it on zone->trylock_free_pages the same way) and given
//     back by the next task-context call.
//   - Task context (a thread not in an interrupt): every call first frees
//     deferred pages and tops the pool up to its target when it is below its
//     low mark (the refill, from the host allocator). An allocation takes
//     from the pool only when it holds more than its target, otherwise from
//     the host; a free keeps the page while the pool is below its target.
//   - Orders 0..kPagePoolMaxOrder are pooled; a larger order in interrupt
//     context fails.
//   - Under AddressSanitizer a cached page is poisoned, so a use after free
//     of a page that went back to the pool is still reported.
//
// Concurrency rule: the allocation and free entry points may run on any
// thread and in any signal handler at once (lock-free: tagged index stacks
// with a generation count against ABA). The pool hands a page from the
// freeing thread to the next owner with release/acquire, so the page's
// contents need no other synchronisation. page_pool_set_limits() and
// page_pool_drain() need quiescence: no allocation or free in flight.
#ifndef KMODEL_MODEL_NATIVE_PAGE_POOL_H_
#define KMODEL_MODEL_NATIVE_PAGE_POOL_H_

#include <cstddef>

#include "model/types.h"

namespace kmodel::native {

inline constexpr unsigned kPagePoolMaxOrder = 3;
// Slots per order: the most pages one order's pool can hold.
inline constexpr unsigned kPagePoolSlots = 1024;

struct PagePoolLimits {
  unsigned low = 0;     // a task-context call refills when fewer are cached
  unsigned target = 0;  // ... up to this many
};

// Defaults: order 0 {32, 128}, orders 1..3 {4, 16}.
PagePoolLimits page_pool_limits(unsigned order);
// For tests. target <= kPagePoolSlots, low <= target. Quiescent callers only;
// the new limits apply from the next refill (call page_pool_drain() first to
// start from an empty pool).
void page_pool_set_limits(unsigned order, PagePoolLimits limits);

struct PagePoolStats {
  u64 cached[kPagePoolMaxOrder + 1] = {};  // pages in the pool now, per order
  u64 irq_allocations = 0; // interrupt-context allocations served
  u64 irq_empty = 0;       // interrupt-context allocations refused: pool empty
  u64 irq_frees = 0;       // interrupt-context frees
  u64 deferred_frees = 0;  // of those, parked because the pool was full
  u64 refilled = 0;        // pages taken from the host by refills
};
PagePoolStats page_pool_stats();

// Tops every order up to its target now. Task context only.
void page_pool_refill();
// Gives every cached and deferred page back to the host. Quiescent callers.
void page_pool_drain();

// The backend's entry points (model/page_alloc.cc). `bytes` = PAGE_SIZE <<
// order, the alignment too. Return nullptr on failure.
void* page_pool_alloc(unsigned order, std::size_t bytes);
void page_pool_free(void* mem, unsigned order, std::size_t bytes);

}  // namespace kmodel::native

#endif  // KMODEL_MODEL_NATIVE_PAGE_POOL_H_
