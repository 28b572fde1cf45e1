// The native backend's async-signal-safe page pool (model/native/page_pool.h),
// through the public alloc_pages_nolock()/free_pages_nolock(): interrupt
// context takes only cached pages and an empty pool is an allocation failure;
// task context refills; frees that find the pool full are deferred, not lost;
// failure injection still applies; and threads plus signal handlers may
// allocate and free at once without losing or sharing a page. Run plain,
// under --config=tsan (native_concurrency) and --config=asan.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "model/atomic.h"
#include "model/cpu.h"
#include "model/native/cpu_binding.h"
#include "model/native/page_pool.h"
#include "model/page_alloc.h"

using namespace kmodel;

namespace {

// Restores the default limits and an empty pool around a test.
struct PoolFixture {
  native::PagePoolLimits saved[native::kPagePoolMaxOrder + 1];
  PoolFixture() {
    set_page_fault_policy(PageFaultPolicy::never());
    for (unsigned o = 0; o <= native::kPagePoolMaxOrder; ++o) saved[o] = native::page_pool_limits(o);
    native::page_pool_drain();
  }
  ~PoolFixture() {
    set_page_fault_policy(PageFaultPolicy::never());
    native::page_pool_drain();
    for (unsigned o = 0; o <= native::kPagePoolMaxOrder; ++o)
      native::page_pool_set_limits(o, saved[o]);
  }
};

// A thread bound to `cpu` that takes NMIs until told to stop; the test runs
// `fn` in that CPU's NMI handler with run_in_nmi().
class NmiTarget {
 public:
  explicit NmiTarget(int cpu) : cpu_(cpu) {
    native::set_interrupt_handler(cpu_, IrqKind::kNmi, {trampoline, this});
    thread_ = std::thread([this] {
      native::CpuBinding bind(cpu_);
      bound_.store(true);
      while (!stop_.load()) cpu_relax();
    });
    while (!bound_.load()) std::this_thread::yield();
  }
  ~NmiTarget() {
    stop_.store(true);
    thread_.join();
    native::set_interrupt_handler(cpu_, IrqKind::kNmi, {});
  }
  template <typename F>
  void run_in_nmi(F fn) {
    // Release: what the caller wrote before is visible to the handler.
    body_arg_.store(&fn, std::memory_order_relaxed);
    body_.store([](void* f) { (*static_cast<F*>(f))(); }, std::memory_order_release);
    REQUIRE(native::send_interrupt_and_wait(cpu_, IrqKind::kNmi) == 0);
  }

 private:
  static void trampoline(void* self) {
    auto* t = static_cast<NmiTarget*>(self);
    t->in_nmi_ok_.store(in_nmi());
    auto* body = t->body_.load(std::memory_order_acquire);
    body(t->body_arg_.load(std::memory_order_relaxed));
  }
  int cpu_;
  std::thread thread_;
  std::atomic<bool> bound_{false};
  std::atomic<bool> stop_{false};
  std::atomic<void (*)(void*)> body_{nullptr};
  std::atomic<void*> body_arg_{nullptr};

 public:
  std::atomic<bool> in_nmi_ok_{false};
};

page* alloc0() { return alloc_pages_nolock(0, NUMA_NO_NODE, 0); }

}  // namespace

TEST_CASE("page pool: an NMI gets only cached pages; an empty pool fails the allocation") {
  PoolFixture fixture;
  native::page_pool_set_limits(0, {4, 8});
  native::page_pool_refill();
  REQUIRE(native::page_pool_stats().cached[0] == 8);
  const PageAllocStats before = page_alloc_stats();
  const native::PagePoolStats pool_before = native::page_pool_stats();

  NmiTarget target(0);
  page* got[20] = {};
  target.run_in_nmi([&] {
    for (page*& p : got) p = alloc0();
  });
  CHECK(target.in_nmi_ok_.load());
  int ok = 0;
  for (page* p : got) ok += p != nullptr;
  CHECK(ok == 8);
  CHECK(got[7] != nullptr);
  CHECK(got[8] == nullptr);  // the 9th found the pool empty
  const PageAllocStats after = page_alloc_stats();
  CHECK(after.source_failures - before.source_failures == 12);
  CHECK(after.injected_failures == before.injected_failures);
  CHECK(after.pages_live - before.pages_live == 8);
  CHECK(native::page_pool_stats().irq_empty - pool_before.irq_empty == 12);
  CHECK(native::page_pool_stats().cached[0] == 0);

  // The pages are real, distinct, aligned pages.
  for (int i = 0; i < 8; ++i) {
    CHECK(reinterpret_cast<std::uintptr_t>(page_address(got[i])) % PAGE_SIZE == 0);
    std::memset(page_address(got[i]), i, PAGE_SIZE);
  }
  for (int i = 0; i < 8; ++i)
    CHECK(static_cast<unsigned char*>(page_address(got[i]))[PAGE_SIZE - 1] == i);

  // An NMI frees them back into the pool; no host call, nothing deferred.
  target.run_in_nmi([&] {
    for (int i = 0; i < 8; ++i) free_pages_nolock(got[i], 0);
  });
  CHECK(native::page_pool_stats().cached[0] == 8);
  CHECK(page_alloc_stats().pages_live == before.pages_live);
}

TEST_CASE("page pool: a task-context call refills the pool below its low mark") {
  PoolFixture fixture;
  native::page_pool_set_limits(0, {4, 8});
  CHECK(native::page_pool_stats().cached[0] == 0);
  NmiTarget target(1);
  page* p = nullptr;
  target.run_in_nmi([&] { p = alloc0(); });
  CHECK(p == nullptr);  // never refilled yet: empty

  const u64 refilled = native::page_pool_stats().refilled;
  page* q = alloc0();  // task context: refills to 8, then takes a host page
  REQUIRE(q != nullptr);
  CHECK(native::page_pool_stats().cached[0] == 8);
  CHECK(native::page_pool_stats().refilled - refilled == 8);
  target.run_in_nmi([&] { p = alloc0(); });
  CHECK(p != nullptr);
  CHECK(native::page_pool_stats().cached[0] == 7);
  free_pages_nolock(q, 0);  // task context, below target: cached
  CHECK(native::page_pool_stats().cached[0] == 8);
  free_pages_nolock(p, 0);  // at target: back to the host
  CHECK(native::page_pool_stats().cached[0] == 8);
}

TEST_CASE("page pool: failure injection applies in interrupt context too") {
  PoolFixture fixture;
  native::page_pool_set_limits(0, {8, 16});
  native::page_pool_refill();
  NmiTarget target(2);
  set_page_fault_policy(PageFaultPolicy::every_nth(2));
  const PageAllocStats before = page_alloc_stats();
  page* got[8] = {};
  target.run_in_nmi([&] {
    for (page*& p : got) p = alloc0();
  });
  set_page_fault_policy(PageFaultPolicy::never());
  int ok = 0;
  for (page* p : got) ok += p != nullptr;
  CHECK(ok == 4);
  CHECK(page_alloc_stats().injected_failures - before.injected_failures == 4);
  CHECK(page_alloc_stats().source_failures == before.source_failures);
  CHECK(native::page_pool_stats().cached[0] == 12);
  target.run_in_nmi([&] {
    for (page* p : got) free_pages_nolock(p, 0);
  });
  CHECK(native::page_pool_stats().cached[0] == 16);
}

TEST_CASE("page pool: interrupt frees beyond the pool's slots are deferred, then given back") {
  PoolFixture fixture;
  native::page_pool_set_limits(0, {0, 0});
  constexpr int kPages = native::kPagePoolSlots + 40;
  std::vector<page*> pages;
  for (int i = 0; i < kPages; ++i) {
    pages.push_back(alloc0());
    REQUIRE(pages.back() != nullptr);
  }
  // A page above the pooled orders, allocated by a task, freed by an NMI.
  page* big = alloc_pages_nolock(0, NUMA_NO_NODE, native::kPagePoolMaxOrder + 1);
  REQUIRE(big != nullptr);
  const s64 live = page_alloc_stats().pages_live;
  const native::PagePoolStats before = native::page_pool_stats();
  NmiTarget target(3);
  page* big_in_nmi = reinterpret_cast<page*>(1);
  target.run_in_nmi([&] {
    for (page* p : pages) free_pages_nolock(p, 0);
    free_pages_nolock(big, native::kPagePoolMaxOrder + 1);
    big_in_nmi = alloc_pages_nolock(0, NUMA_NO_NODE, native::kPagePoolMaxOrder + 1);
  });
  CHECK(big_in_nmi == nullptr);  // no pool for that order in interrupt context
  const native::PagePoolStats after = native::page_pool_stats();
  CHECK(after.irq_frees - before.irq_frees == kPages + 1);
  CHECK(after.deferred_frees - before.deferred_frees == 40 + 1);
  CHECK(after.cached[0] == native::kPagePoolSlots);
  CHECK(page_alloc_stats().pages_live == live - kPages - 1);
  // The next task-context call gives the deferred pages back (to the host:
  // the pool is full). ASan's leak check at exit proves they were freed.
  native::page_pool_refill();
  CHECK(native::page_pool_stats().cached[0] == native::kPagePoolSlots);
}

// Threads in interrupt context (InterruptContext, no signal) hammer the
// lock-free stacks: 4 CPUs, each holding up to 6 pages, with 48 pages in the
// pool; a page is never short (held + cached is constant), so every
// allocation must succeed, and a page is never handed to two owners (each
// owner stamps its page and checks the stamp before freeing).
TEST_CASE("page pool: concurrent interrupt-context alloc/free from threads loses and shares nothing") {
  PoolFixture fixture;
  native::page_pool_set_limits(0, {48, 48});
  native::page_pool_refill();
  REQUIRE(native::page_pool_stats().cached[0] == 48);
  constexpr int kCpus = 4;
  constexpr int kIters = 40000;
  std::atomic<long> failures{0}, corrupt{0};
  std::vector<std::thread> threads;
  for (int cpu = 0; cpu < kCpus; ++cpu)
    threads.emplace_back([&, cpu] {
      native::CpuBinding bind(cpu);
      InterruptContext nmi(IrqKind::kNmi);
      page* held[6] = {};
      u64 stamp[6] = {};
      u64 x = 0x9e3779b97f4a7c15ull * (cpu + 1);
      for (int i = 0; i < kIters; ++i) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        const int k = static_cast<int>(x % 6);
        if (held[k] == nullptr) {
          held[k] = alloc0();
          if (held[k] == nullptr) {
            failures.fetch_add(1);
            continue;
          }
          stamp[k] = x;
          auto* w = static_cast<u64*>(page_address(held[k]));
          w[0] = x, w[PAGE_SIZE / 8 - 1] = ~x;
        } else {
          auto* w = static_cast<u64*>(page_address(held[k]));
          if (w[0] != stamp[k] || w[PAGE_SIZE / 8 - 1] != ~stamp[k]) corrupt.fetch_add(1);
          free_pages_nolock(held[k], 0);
          held[k] = nullptr;
        }
      }
      for (page* p : held) free_pages_nolock(p, 0);
    });
  for (auto& t : threads) t.join();
  CHECK(failures.load() == 0);
  CHECK(corrupt.load() == 0);
  CHECK(native::page_pool_stats().cached[0] == 48);
}

// Signal-NMIs allocate and free while their CPUs' tasks allocate and free
// too (task context: host pages and refills): nothing lost, nothing shared,
// nothing leaked.
TEST_CASE("page pool: signal-NMIs and tasks allocate and free at once") {
  PoolFixture fixture;
  const s64 live0 = page_alloc_stats().pages_live;
  constexpr int kCpus = 2;
  constexpr int kNmis = 300;
  struct PerCpu {
    std::atomic<long> nmi_ok{0}, nmi_failed{0}, corrupt{0};
  } per[kCpus];
  std::atomic<bool> stop{false};
  std::atomic<int> bound{0};
  auto nmi = [](void* arg) {
    auto* pc = static_cast<PerCpu*>(arg);
    page* mine[3];
    for (page*& p : mine) {
      p = alloc0();
      if (p == nullptr) {
        pc->nmi_failed.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      std::memset(page_address(p), 0xa5, PAGE_SIZE);
    }
    for (page* p : mine) {
      if (p == nullptr) continue;
      const auto* b = static_cast<unsigned char*>(page_address(p));
      if (b[0] != 0xa5 || b[PAGE_SIZE - 1] != 0xa5) pc->corrupt.fetch_add(1);
      free_pages_nolock(p, 0);
      pc->nmi_ok.fetch_add(1, std::memory_order_relaxed);
    }
  };
  std::vector<std::thread> tasks;
  for (int cpu = 0; cpu < kCpus; ++cpu) {
    native::set_interrupt_handler(cpu, IrqKind::kNmi, {nmi, &per[cpu]});
    tasks.emplace_back([&, cpu] {
      native::CpuBinding bind(cpu);
      bound.fetch_add(1);
      std::vector<page*> held;
      u64 x = 88172645463325252ull + cpu;
      while (!stop.load(std::memory_order_relaxed)) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        if (held.size() < 16 && (x & 1)) {
          if (page* p = alloc0()) {
            std::memset(page_address(p), cpu, 64);
            held.push_back(p);
          }
        } else if (!held.empty()) {
          page* p = held.back();
          held.pop_back();
          if (static_cast<unsigned char*>(page_address(p))[63] != cpu) per[cpu].corrupt.fetch_add(1);
          free_pages_nolock(p, 0);
        }
      }
      for (page* p : held) free_pages_nolock(p, 0);
    });
  }
  while (bound.load() != kCpus) std::this_thread::yield();
  for (int i = 0; i < kNmis; ++i)
    for (int cpu = 0; cpu < kCpus; ++cpu)
      CHECK(native::send_interrupt_and_wait(cpu, IrqKind::kNmi) == 0);
  stop.store(true);
  for (auto& t : tasks) t.join();
  for (int cpu = 0; cpu < kCpus; ++cpu) native::set_interrupt_handler(cpu, IrqKind::kNmi, {});
  long ok = 0, failed = 0;
  for (auto& pc : per) {
    ok += pc.nmi_ok.load();
    failed += pc.nmi_failed.load();
    CHECK(pc.corrupt.load() == 0);
  }
  INFO("NMI pages: " << ok << " allocated, " << failed << " refused");
  CHECK(ok + failed == long{kCpus} * kNmis * 3);
  CHECK(ok > 0);
  CHECK(page_alloc_stats().pages_live == live0);
}
