#include "model/page_alloc.h"

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "model/bug.h"
#include "model/internal/hooks.h"
#if !KMODEL_IS_SIM
#include "model/native/page_pool.h"
#endif

KMODEL_NAMESPACE_BEGIN

namespace {

struct PageAllocator {
  PageFaultPolicy policy;
  std::atomic<u64> calls{0};
  std::atomic<s64> pages_live{0};
  std::atomic<u64> allocations{0};
  std::atomic<u64> injected_failures{0};
  std::atomic<u64> source_failures{0};
};

PageAllocator& allocator() {
  static PageAllocator* a = new PageAllocator();  // never destroyed: usable at exit
  return *a;
}

u64 splitmix64(u64 x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Decides whether this call fails, deterministically from the call number.
bool inject_failure(PageAllocator& a) {
  const u64 n = a.calls.fetch_add(1, std::memory_order_relaxed) + 1;
  switch (a.policy.mode) {
    case PageFaultPolicy::Mode::kNever:
      return false;
    case PageFaultPolicy::Mode::kEveryNth:
      return a.policy.nth != 0 && n % a.policy.nth == 0;
    case PageFaultPolicy::Mode::kProbability: {
      const double u = static_cast<double>(splitmix64(a.policy.seed ^ n) >> 11) *
                       0x1.0p-53;
      return u < a.policy.probability;
    }
    case PageFaultPolicy::Mode::kExplore:
#if KMODEL_IS_SIM
      return internal::choose(2, "alloc_pages_nolock fails") == 1;
#else
      internal::invariant_failed(__FILE__, __LINE__,
                                 "PageFaultPolicy::explored() needs the simulator");
#endif
  }
  return false;
}

}  // namespace

page* alloc_pages_nolock(gfp_t gfp_flags, int /*nid*/, unsigned int order) {
  internal::sched_point(internal::Op::kPageAlloc, nullptr);
  PageAllocator& a = allocator();
  if (inject_failure(a)) {
    a.injected_failures.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  const std::size_t bytes = PAGE_SIZE << order;
#if KMODEL_IS_SIM
  void* mem = std::aligned_alloc(bytes, bytes);
#else
  // Async-signal-safe in interrupt context (model/native/page_pool.h).
  void* mem = native::page_pool_alloc(order, bytes);
#endif
  if (mem == nullptr) {
    a.source_failures.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  if (gfp_flags & __GFP_ZERO) std::memset(mem, 0, bytes);
  a.pages_live.fetch_add(1, std::memory_order_relaxed);
  a.allocations.fetch_add(1, std::memory_order_relaxed);
#if KMODEL_IS_SIM
  internal::track_alloc(mem, bytes, "page");
#endif
  return static_cast<page*>(mem);
}

void free_pages_nolock(page* pg, unsigned int order) {
  if (pg == nullptr) return;
  internal::sched_point(internal::Op::kPageAlloc, pg);
  const std::size_t bytes = PAGE_SIZE << order;
  allocator().pages_live.fetch_sub(1, std::memory_order_relaxed);
#if KMODEL_IS_SIM
  // POISON_FREE: a stale plain reader sees garbage rather than plausible data.
  std::memset(pg, 0x6b, bytes);
  // The simulator keeps the page (poisoned) until the run ends, so a stale
  // access is reported rather than landing in a reused page.
  if (internal::track_free(pg, bytes, "page", std::free)) return;
  std::free(pg);
#else
  native::page_pool_free(pg, order, bytes);
#endif
}

void* page_address(const page* pg) { return const_cast<page*>(pg); }

page* virt_to_page(const void* addr) {
  const auto v = reinterpret_cast<std::uintptr_t>(addr);
  return reinterpret_cast<page*>(v & ~(std::uintptr_t{PAGE_SIZE} - 1));
}

void set_page_fault_policy(const PageFaultPolicy& policy) {
  PageAllocator& a = allocator();
  a.policy = policy;
  a.calls.store(0, std::memory_order_relaxed);
}

PageAllocStats page_alloc_stats() {
  PageAllocator& a = allocator();
  return {a.pages_live.load(std::memory_order_relaxed),
          a.allocations.load(std::memory_order_relaxed),
          a.injected_failures.load(std::memory_order_relaxed),
          a.source_failures.load(std::memory_order_relaxed)};
}

KMODEL_NAMESPACE_END
