#include "model/native/page_pool.h"

#include <atomic>
#include <cstdint>
#include <cstdlib>

#include "model/cpu.h"
#include "model/page_alloc.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define KMODEL_POOL_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define KMODEL_POOL_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define KMODEL_POOL_POISON(p, n) ((void)(p), (void)(n))
#define KMODEL_POOL_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace kmodel::native {

namespace {

constexpr u32 kNil = 0xffffffffu;

// A Treiber stack of slot indices. The head packs {generation, index}: every
// successful push or pop bumps the generation, so a pop that read a stale
// next index fails its compare-exchange instead of corrupting the stack
// (ABA). Links live in `next`, outside the pages, so no one ever reads a page
// that another thread owns.
struct IndexStack {
  std::atomic<u64> head{kNil};

  static u64 pack(u64 generation, u32 index) { return (generation << 32) | index; }

  void push(std::atomic<u32>* next, u32 index) {
    u64 old = head.load(std::memory_order_relaxed);
    for (;;) {
      next[index].store(static_cast<u32>(old), std::memory_order_relaxed);
      if (head.compare_exchange_weak(old, pack((old >> 32) + 1, index), std::memory_order_release,
                                     std::memory_order_relaxed))
        return;
    }
  }

  u32 pop(std::atomic<u32>* next) {
    u64 old = head.load(std::memory_order_acquire);
    for (;;) {
      const u32 index = static_cast<u32>(old);
      if (index == kNil) return kNil;
      const u32 after = next[index].load(std::memory_order_relaxed);
      if (head.compare_exchange_weak(old, pack((old >> 32) + 1, after), std::memory_order_acquire,
                                     std::memory_order_acquire))
        return index;
    }
  }
};

// One order's pool: slots holding a page (`full`) or nothing (`empty`, plus
// the never-used slots from `fresh` up). Constant-initialised, so the first
// use may be in a signal handler.
struct OrderPool {
  std::atomic<void*> page[kPagePoolSlots] = {};
  std::atomic<u32> next[kPagePoolSlots] = {};
  IndexStack full;
  IndexStack empty;
  std::atomic<u32> fresh{0};
  std::atomic<u32> cached{0};
  std::atomic<u32> low;
  std::atomic<u32> target;
  // Interrupt-context frees that found no slot: an llist through the pages'
  // first word (the page belongs to nobody else then), taken whole by xchg.
  std::atomic<void*> deferred{nullptr};

  constexpr OrderPool(u32 low_mark, u32 target_mark) : low(low_mark), target(target_mark) {}

  u32 take_empty_slot() {
    const u32 slot = empty.pop(next);
    if (slot != kNil) return slot;
    u32 f = fresh.load(std::memory_order_relaxed);
    while (f < kPagePoolSlots)
      if (fresh.compare_exchange_weak(f, f + 1, std::memory_order_relaxed)) return f;
    return kNil;
  }

  // Caches `mem` (already poisoned); false when every slot is taken.
  bool put(void* mem) {
    const u32 slot = take_empty_slot();
    if (slot == kNil) return false;
    page[slot].store(mem, std::memory_order_relaxed);
    cached.fetch_add(1, std::memory_order_relaxed);
    full.push(next, slot);
    return true;
  }

  void* get() {
    const u32 slot = full.pop(next);
    if (slot == kNil) return nullptr;
    void* mem = page[slot].load(std::memory_order_relaxed);
    cached.fetch_sub(1, std::memory_order_relaxed);
    empty.push(next, slot);
    return mem;
  }
};

constinit OrderPool g_pools[kPagePoolMaxOrder + 1] = {
    OrderPool(32, 128), OrderPool(4, 16), OrderPool(4, 16), OrderPool(4, 16)};

struct Counters {
  std::atomic<u64> irq_allocations{0};
  std::atomic<u64> irq_empty{0};
  std::atomic<u64> irq_frees{0};
  std::atomic<u64> deferred_frees{0};
  std::atomic<u64> refilled{0};
};
constinit Counters g_counters;

void bump(std::atomic<u64>& c) { c.fetch_add(1, std::memory_order_relaxed); }

// Interrupt context = inside one of cpu_binding's signal handlers (NMI or
// hardirq; a deferred hardirq run from local_irq_restore counts too, which
// only makes it stricter than needed).
bool in_interrupt_signal() {
  return cpu_bound() && (preempt_count() & (NMI_MASK | HARDIRQ_MASK));
}

void host_free(void* mem, std::size_t bytes) {
  KMODEL_POOL_UNPOISON(mem, bytes);
  std::free(mem);
}

// Task context only: gives deferred pages a slot or back to the host.
void drain_deferred(OrderPool& pool, std::size_t bytes) {
  if (pool.deferred.load(std::memory_order_relaxed) == nullptr) return;
  void* mem = pool.deferred.exchange(nullptr, std::memory_order_acquire);
  while (mem != nullptr) {
    KMODEL_POOL_UNPOISON(mem, sizeof(void*));
    void* after = *static_cast<void**>(mem);
    KMODEL_POOL_POISON(mem, bytes);
    if (!pool.put(mem)) host_free(mem, bytes);
    mem = after;
  }
}

void refill(OrderPool& pool, std::size_t bytes) {
  const u32 target = pool.target.load(std::memory_order_relaxed);
  while (pool.cached.load(std::memory_order_relaxed) < target) {
    void* mem = std::aligned_alloc(bytes, bytes);
    if (mem == nullptr) return;
    KMODEL_POOL_POISON(mem, bytes);
    if (!pool.put(mem)) {
      host_free(mem, bytes);
      return;
    }
    bump(g_counters.refilled);
  }
}

// Interrupt-context frees of pages above the pooled orders: an llist through
// the pages' first word.
constinit std::atomic<void*> g_big_deferred{nullptr};

void defer_big(void* mem, unsigned order) {
  (void)order;
  auto** words = static_cast<void**>(mem);
  void* head = g_big_deferred.load(std::memory_order_relaxed);
  do {
    words[0] = head;
  } while (!g_big_deferred.compare_exchange_weak(head, mem, std::memory_order_release,
                                                 std::memory_order_relaxed));
}

void drain_big_deferred() {
  if (g_big_deferred.load(std::memory_order_relaxed) == nullptr) return;
  void* mem = g_big_deferred.exchange(nullptr, std::memory_order_acquire);
  while (mem != nullptr) {
    void* after = static_cast<void**>(mem)[0];
    std::free(mem);
    mem = after;
  }
}

// The task-context housekeeping every call does first.
void task_upkeep(OrderPool& pool, std::size_t bytes) {
  drain_big_deferred();
  drain_deferred(pool, bytes);
  if (pool.cached.load(std::memory_order_relaxed) < pool.low.load(std::memory_order_relaxed))
    refill(pool, bytes);
}

}  // namespace

void* page_pool_alloc(unsigned order, std::size_t bytes) {
  if (in_interrupt_signal()) {
    if (order > kPagePoolMaxOrder) return nullptr;
    void* mem = g_pools[order].get();
    if (mem == nullptr) {
      bump(g_counters.irq_empty);
      return nullptr;
    }
    KMODEL_POOL_UNPOISON(mem, bytes);
    bump(g_counters.irq_allocations);
    return mem;
  }
  if (order > kPagePoolMaxOrder) drain_big_deferred();
  if (order <= kPagePoolMaxOrder) {
    OrderPool& pool = g_pools[order];
    task_upkeep(pool, bytes);
    if (pool.cached.load(std::memory_order_relaxed) > pool.target.load(std::memory_order_relaxed))
      if (void* mem = pool.get()) {
        KMODEL_POOL_UNPOISON(mem, bytes);
        return mem;
      }
  }
  return std::aligned_alloc(bytes, bytes);
}

void page_pool_free(void* mem, unsigned order, std::size_t bytes) {
  if (in_interrupt_signal()) {
    bump(g_counters.irq_frees);
    if (order > kPagePoolMaxOrder) {
      // A big page a task allocated: parked for the next task-context call.
      bump(g_counters.deferred_frees);
      defer_big(mem, order);
      return;
    }
    OrderPool& pool = g_pools[order];
    KMODEL_POOL_POISON(mem, bytes);
    if (pool.put(mem)) return;
    bump(g_counters.deferred_frees);
    KMODEL_POOL_UNPOISON(mem, sizeof(void*));
    void* head = pool.deferred.load(std::memory_order_relaxed);
    do {
      *static_cast<void**>(mem) = head;
    } while (!pool.deferred.compare_exchange_weak(head, mem, std::memory_order_release,
                                                  std::memory_order_relaxed));
    return;
  }
  if (order > kPagePoolMaxOrder) drain_big_deferred();
  if (order <= kPagePoolMaxOrder) {
    OrderPool& pool = g_pools[order];
    task_upkeep(pool, bytes);
    if (pool.cached.load(std::memory_order_relaxed) < pool.target.load(std::memory_order_relaxed)) {
      KMODEL_POOL_POISON(mem, bytes);
      if (pool.put(mem)) return;
      KMODEL_POOL_UNPOISON(mem, bytes);
    }
  }
  std::free(mem);
}

PagePoolLimits page_pool_limits(unsigned order) {
  if (order > kPagePoolMaxOrder) return {};
  return {g_pools[order].low.load(std::memory_order_relaxed),
          g_pools[order].target.load(std::memory_order_relaxed)};
}

void page_pool_set_limits(unsigned order, PagePoolLimits limits) {
  if (order > kPagePoolMaxOrder) return;
  if (limits.target > kPagePoolSlots) limits.target = kPagePoolSlots;
  if (limits.low > limits.target) limits.low = limits.target;
  g_pools[order].low.store(limits.low, std::memory_order_relaxed);
  g_pools[order].target.store(limits.target, std::memory_order_relaxed);
}

PagePoolStats page_pool_stats() {
  PagePoolStats s;
  for (unsigned o = 0; o <= kPagePoolMaxOrder; ++o)
    s.cached[o] = g_pools[o].cached.load(std::memory_order_relaxed);
  s.irq_allocations = g_counters.irq_allocations.load(std::memory_order_relaxed);
  s.irq_empty = g_counters.irq_empty.load(std::memory_order_relaxed);
  s.irq_frees = g_counters.irq_frees.load(std::memory_order_relaxed);
  s.deferred_frees = g_counters.deferred_frees.load(std::memory_order_relaxed);
  s.refilled = g_counters.refilled.load(std::memory_order_relaxed);
  return s;
}

void page_pool_refill() {
  for (unsigned order = 0; order <= kPagePoolMaxOrder; ++order) {
    const std::size_t bytes = PAGE_SIZE << order;
    drain_deferred(g_pools[order], bytes);
    refill(g_pools[order], bytes);
  }
}

void page_pool_drain() {
  drain_big_deferred();
  for (unsigned order = 0; order <= kPagePoolMaxOrder; ++order) {
    const std::size_t bytes = PAGE_SIZE << order;
    OrderPool& pool = g_pools[order];
    void* mem = pool.deferred.exchange(nullptr, std::memory_order_acquire);
    while (mem != nullptr) {
      KMODEL_POOL_UNPOISON(mem, sizeof(void*));
      void* after = *static_cast<void**>(mem);
      host_free(mem, bytes);
      mem = after;
    }
    while (void* cached = pool.get()) host_free(cached, bytes);
  }
}

}  // namespace kmodel::native
