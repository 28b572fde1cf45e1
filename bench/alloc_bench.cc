// bench/alloc_bench.cc: the BPF stream element allocator against general
// allocators and against the floor of its own design.
//
//   stream     bpf_stream_elem_alloc(len) / bpf_stream_free_elem (linux-6.18
//              profile: per-CPU page bump allocator), what the stream calls:
//              profile dispatch and the model's accounting included
//   stream_page  bpf_stream_page_elem_alloc / bpf_stream_page_elem_free: the
//              page bump allocator alone (alloc/stream_page.h), the kernel's
//              bpf_stream_elem_alloc()/bpf_stream_free_elem()
//   floor      the irreducible cost of the design: a bump pointer in pages
//              from the same page source, one atomic increment (the
//              element's page reference) and one atomic decrement (its put)
//              per element; no trylock, no irq save, no per-CPU lookup. The
//              page of an element is found as the allocator finds it
//              (PAGE_ALIGN_DOWN of its address).
//   floor_nopage  the same bump + inc + dec inside one static buffer (no page
//              source at all), to show what page turnover costs.
//   breakdown rows (64 B, 1 thread): SpNoIrq, SpNoLock, SpBare (the page
//              allocator with parts of its locking removed), StreamNoStats
//              (no accounting), FloorFlag / FloorFlagAfter (the floor plus
//              one flag store before / after its locked increment: what a
//              store such as the trylock's costs there; docs/benchmarks.md).
//   glibc      __libc_malloc/__libc_free (16 + len bytes: same footprint as
//              an element). Called by their glibc names because linking
//              libmimalloc interposes malloc/free for the whole binary.
//   mimalloc   mi_malloc/mi_free.
//   jemalloc   Debian's jemalloc is built without a prefix: its malloc/free
//              replace glibc's in any binary that links it. So it lives in a
//              second binary, //bench:alloc_bench_jemalloc (this file with
//              ALLOC_BENCH_JEMALLOC), which also runs stream and floor;
//              compare it through the ratio to that binary's floor.
//
// Patterns: alloc+free pairs on one CPU (1 and 2 threads, each its own CPU),
// and produce on one CPU / free on another (an SPSC ring between two
// threads). Each thread binds itself as CPU thread_index().
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "alloc/stream_elem.h"
#include "alloc/stream_page.h"
#include "model/native/cpu_binding.h"
#include "model/page_alloc.h"
#include "model/profile.h"

#if !ALLOC_BENCH_JEMALLOC
#include <mimalloc.h>
extern "C" void* __libc_malloc(std::size_t);
extern "C" void __libc_free(void*);
#endif

using namespace kmodel;

namespace {

// ---- Adapters ---------------------------------------------------------------
// Every adapter is forced inline into the benchmark loop, so that each
// allocator is measured as a caller that includes its header sees it (the
// compiler already inlines the floor's on its own; the stream allocator's
// fast paths are inline in its headers).
#define ADAPTER __attribute__((always_inline)) static

struct Stream {
  ADAPTER void* alloc(int len) { return bpf_stream_elem_alloc(len); }
  ADAPTER void free(void* p) { bpf_stream_free_elem(static_cast<bpf_stream_elem*>(p)); }
};

struct StreamPage {
  ADAPTER void* alloc(int len) { return bpf_stream_page_elem_alloc(len); }
  ADAPTER void free(void* p) { bpf_stream_page_elem_free(static_cast<bpf_stream_elem*>(p)); }
};

// Where StreamPage's time goes: its fast path with parts removed (the same
// inline functions, this file's own locking). Rows, 64 B, 1 thread only.
//   SpNoIrq    the per-CPU trylock without irq save/restore
//   SpNoLock   irq save/restore without the trylock
//   SpBare     neither: current-page lookup, room check, ref, bump
struct SpNoIrq {
  ADAPTER void* alloc(int len) {
    using namespace alloc_internal;
    local_trylock_t* tl = this_cpu_ptr(&stream_local_lock);
    if (READ_ONCE(tl->acquired)) return nullptr;
    WRITE_ONCE(tl->acquired, 1);
    bpf_stream_elem* elem = bpf_stream_page_reserve_elem(len);
    WRITE_ONCE(this_cpu_ptr(&stream_local_lock)->acquired, 0);
    return elem;
  }
  ADAPTER void free(void* p) { bpf_stream_page_elem_free(static_cast<bpf_stream_elem*>(p)); }
};
struct SpNoLock {
  ADAPTER void* alloc(int len) {
    using namespace alloc_internal;
    unsigned long flags;
    local_irq_save(flags);
    bpf_stream_elem* elem = bpf_stream_page_reserve_elem(len);
    local_irq_restore(flags);
    return elem;
  }
  ADAPTER void free(void* p) { bpf_stream_page_elem_free(static_cast<bpf_stream_elem*>(p)); }
};
struct SpBare {
  ADAPTER void* alloc(int len) { return alloc_internal::bpf_stream_page_reserve_elem(len); }
  ADAPTER void free(void* p) { bpf_stream_page_elem_free(static_cast<bpf_stream_elem*>(p)); }
};
// Where Stream's further time goes: its dispatch (profile on alloc, the
// element's allocator on free) without the accounting.
struct StreamNoStats {
  ADAPTER void* alloc(int len) {
    using namespace alloc_internal;
    if (__builtin_expect(uses_kmalloc_nolock(), 0)) return bpf_stream_kmalloc_elem_alloc(len);
    return bpf_stream_page_elem_alloc(len);
  }
  ADAPTER void free(void* p) {
    using namespace alloc_internal;
    auto* elem = static_cast<bpf_stream_elem*>(p);
    if (__builtin_expect(elem_from_kmalloc_nolock(elem), 0)) return bpf_stream_kmalloc_free_elem(elem);
    bpf_stream_page_elem_free(elem);
  }
};

// The floor: per-thread bump state over refcounted pages (no model code).
struct FloorPage {
  std::atomic<int> ref;
  unsigned consumed;
};
thread_local FloorPage* t_floor_page = nullptr;

struct Floor {
  static void put(FloorPage* pg) {
    if (pg->ref.fetch_sub(1, std::memory_order_acq_rel) == 1)
      free_pages_nolock(virt_to_page(pg), 0);
  }
  static __attribute__((noinline)) FloorPage* refill() {
    page* p = alloc_pages_nolock(0, NUMA_NO_NODE, 0);
    if (p == nullptr) return nullptr;
    auto* pg = static_cast<FloorPage*>(page_address(p));
    pg->ref.store(1, std::memory_order_relaxed);
    pg->consumed = 0;
    if (t_floor_page != nullptr) put(t_floor_page);
    t_floor_page = pg;
    return pg;
  }
  ADAPTER void* alloc(int len) {
    const unsigned size = static_cast<unsigned>(bpf_stream_page_elem_size(len));
    FloorPage* pg = t_floor_page;
    if (__builtin_expect(pg == nullptr || pg->consumed + size > BPF_STREAM_PAGE_SZ, 0)) {
      pg = refill();
      if (pg == nullptr) return nullptr;
    }
    pg->ref.fetch_add(1, std::memory_order_relaxed);
    void* p = reinterpret_cast<char*>(pg) + 8 + pg->consumed;
    pg->consumed += size;
    return p;
  }
  // PAGE_ALIGN_DOWN, as bpf_stream_page_from_elem().
  ADAPTER void free(void* p) {
    const auto addr = reinterpret_cast<std::uintptr_t>(p);
    put(reinterpret_cast<FloorPage*>(addr & ~(std::uintptr_t{PAGE_SIZE} - 1)));
  }
};

// Attribution rows (64 B, 1 thread): the floor plus one per-thread flag
// byte set before the increment and cleared after it, as the trylock's
// `acquired` (FloorFlag); the same flag set and cleared both after the
// increment (FloorFlagAfter: as many stores, none between the free's
// decrement and the next increment).
struct alignas(64) FloorFlagByte { volatile unsigned char v; };
thread_local FloorFlagByte t_floor_flag;
struct FloorFlag {
  ADAPTER void* alloc(int len) {
    t_floor_flag.v = 1;
    void* p = Floor::alloc(len);
    t_floor_flag.v = 0;
    return p;
  }
  ADAPTER void free(void* p) { Floor::free(p); }
};
struct FloorFlagAfter {
  ADAPTER void* alloc(int len) {
    void* p = Floor::alloc(len);
    t_floor_flag.v = 1;
    t_floor_flag.v = 0;
    return p;
  }
  ADAPTER void free(void* p) { Floor::free(p); }
};

// floor_nopage: one wrapping buffer per thread, one counter.
struct alignas(64) NoPageArena {
  std::atomic<int> ref{0};
  unsigned consumed = 0;
  char buf[1 << 16];
};
thread_local NoPageArena t_arena;
struct FloorNoPage {
  ADAPTER void* alloc(int len) {
    const unsigned size = static_cast<unsigned>(bpf_stream_page_elem_size(len));
    NoPageArena& a = t_arena;
    if (__builtin_expect(a.consumed + size > sizeof(a.buf), 0)) a.consumed = 0;
    a.ref.fetch_add(1, std::memory_order_relaxed);
    void* p = a.buf + a.consumed;
    a.consumed += size;
    return p;
  }
  ADAPTER void free(void*) { t_arena.ref.fetch_sub(1, std::memory_order_acq_rel); }
};

#if ALLOC_BENCH_JEMALLOC
struct Jemalloc {
  ADAPTER void* alloc(int len) { return std::malloc(16 + static_cast<std::size_t>(len)); }
  ADAPTER void free(void* p) { std::free(p); }
};
#else
struct Glibc {
  ADAPTER void* alloc(int len) { return __libc_malloc(16 + static_cast<std::size_t>(len)); }
  ADAPTER void free(void* p) { __libc_free(p); }
};
struct Mimalloc {
  ADAPTER void* alloc(int len) { return mi_malloc(16 + static_cast<std::size_t>(len)); }
  ADAPTER void free(void* p) { mi_free(p); }
};
#endif

// ---- Patterns -----------------------------------------------------------------

template <typename A>
void BM_pair(benchmark::State& state) {
  native::CpuBinding cpu(state.thread_index());
  const int len = static_cast<int>(state.range(0));
  for (auto _ : state) {
    void* p = A::alloc(len);
    if (p == nullptr) {
      state.SkipWithError("allocation failed");
      break;
    }
    static_cast<char*>(p)[15] = 1;  // touch it, as a writer would
    benchmark::DoNotOptimize(p);
    A::free(p);
  }
  state.SetItemsProcessed(state.iterations());
}

// Single-producer single-consumer ring; indices only grow, so it needs no
// reset between runs (both threads run the same number of iterations).
constexpr std::size_t kRing = 1024;
struct alignas(64) Ring {
  alignas(64) std::atomic<std::size_t> head{0};
  alignas(64) std::atomic<std::size_t> tail{0};
  void* slot[kRing];
};
Ring g_ring;

template <typename A>
void BM_cross_cpu(benchmark::State& state) {
  native::CpuBinding cpu(state.thread_index());
  const int len = static_cast<int>(state.range(0));
  const bool producer = state.thread_index() == 0;
  for (auto _ : state) {
    if (producer) {
      void* p = A::alloc(len);
      if (p == nullptr) std::abort();
      static_cast<char*>(p)[15] = 1;
      const std::size_t h = g_ring.head.load(std::memory_order_relaxed);
      while (h - g_ring.tail.load(std::memory_order_acquire) == kRing) cpu_relax();
      g_ring.slot[h % kRing] = p;
      g_ring.head.store(h + 1, std::memory_order_release);
    } else {
      const std::size_t t = g_ring.tail.load(std::memory_order_relaxed);
      while (g_ring.head.load(std::memory_order_acquire) == t) cpu_relax();
      void* p = g_ring.slot[t % kRing];
      g_ring.tail.store(t + 1, std::memory_order_release);
      A::free(p);
    }
  }
  state.SetItemsProcessed(state.iterations());
}

// Memory held per live payload byte, for a mixed-size workload: 20000 live
// elements with payloads 8..1024 (mostly short, like log lines), then with
// every other one freed (the bump allocator cannot reuse holes).
int mixed_len(int i) {
  static constexpr int kMix[] = {8, 24, 40, 64, 64, 80, 120, 200, 256, 512, 1024, 16};
  return kMix[(i * 7) % 12];
}

void BM_memory_overhead(benchmark::State& state) {
  native::CpuBinding cpu(0);
  const bool mainline = state.range(0) == 1;
  ScopedProfile profile(mainline ? Profile::kMainline : Profile::kLinux618);
  constexpr int kN = 20000;
  std::vector<bpf_stream_elem*> elems(kN);
  double full = 0, half = 0;
  for (auto _ : state) {
    bpf_stream_alloc_drain_all();
    for (int i = 0; i < kN; ++i) elems[i] = bpf_stream_elem_alloc(mixed_len(i));
    bpf_stream_alloc_stats st = bpf_stream_alloc_stats_read();
    full = static_cast<double>(st.bytes_reserved) / static_cast<double>(st.payload_bytes_in_use);
    for (int i = 0; i < kN; i += 2) bpf_stream_free_elem(elems[i]);
    st = bpf_stream_alloc_stats_read();
    half = static_cast<double>(st.bytes_reserved) / static_cast<double>(st.payload_bytes_in_use);
    for (int i = 1; i < kN; i += 2) bpf_stream_free_elem(elems[i]);
  }
  bpf_stream_alloc_drain_all();
  state.counters["reserved_per_payload_byte"] = full;
  state.counters["after_freeing_half"] = half;
}

#if !ALLOC_BENCH_JEMALLOC
// The general allocators' usable size for the same workload (their own
// metadata and page-level slack not included: a lower bound).
void BM_memory_overhead_malloc(benchmark::State& state) {
  const bool mi = state.range(0) == 1;
  constexpr int kN = 20000;
  std::vector<void*> ptrs(kN);
  double ratio = 0;
  for (auto _ : state) {
    double usable = 0, payload = 0;
    for (int i = 0; i < kN; ++i) {
      const std::size_t sz = 16 + static_cast<std::size_t>(mixed_len(i));
      ptrs[i] = mi ? mi_malloc(sz) : __libc_malloc(sz);
      // glibc: chunk = usable + 8-byte size header.
      usable += mi ? static_cast<double>(mi_usable_size(ptrs[i]))
                   : static_cast<double>(((sz + 8 + 15) & ~std::size_t{15}));
      payload += mixed_len(i);
    }
    ratio = usable / payload;
    for (int i = 0; i < kN; ++i) mi ? mi_free(ptrs[i]) : __libc_free(ptrs[i]);
  }
  state.counters["reserved_per_payload_byte"] = ratio;
}
BENCHMARK(BM_memory_overhead_malloc)->Arg(0)->Arg(1)->ArgName("mimalloc")->Iterations(3);
#endif

BENCHMARK(BM_memory_overhead)->Arg(0)->Arg(1)->ArgName("mainline")->Iterations(3);

#define PAIR(A)                                                                    \
  BENCHMARK_TEMPLATE(BM_pair, A)->Arg(8)->Arg(64)->Arg(256)->Arg(1024)->Threads(1); \
  BENCHMARK_TEMPLATE(BM_pair, A)->Arg(8)->Arg(64)->Arg(256)->Arg(1024)->Threads(2)->UseRealTime(); \
  BENCHMARK_TEMPLATE(BM_cross_cpu, A)->Arg(64)->Arg(1024)->Threads(2)->UseRealTime();

PAIR(Stream)
PAIR(StreamPage)
PAIR(Floor)
PAIR(FloorNoPage)
BENCHMARK_TEMPLATE(BM_pair, SpNoIrq)->Arg(64)->Threads(1);
BENCHMARK_TEMPLATE(BM_pair, SpNoLock)->Arg(64)->Threads(1);
BENCHMARK_TEMPLATE(BM_pair, SpBare)->Arg(64)->Threads(1);
BENCHMARK_TEMPLATE(BM_pair, FloorFlag)->Arg(64)->Threads(1);
BENCHMARK_TEMPLATE(BM_pair, FloorFlagAfter)->Arg(64)->Threads(1);
BENCHMARK_TEMPLATE(BM_pair, StreamNoStats)->Arg(64)->Threads(1);
#if ALLOC_BENCH_JEMALLOC
PAIR(Jemalloc)
#else
PAIR(Glibc)
PAIR(Mimalloc)
#endif

}  // namespace
