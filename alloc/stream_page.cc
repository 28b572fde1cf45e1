// alloc/stream_page.cc: the per-CPU page bump allocator (kernel/bpf/stream.c,
// Linux 6.17/6.18): the slow paths and the simulator's checks. The fast path
// is inline in stream_page.h, which also holds the contract and the rules.
#include "alloc/stream_page.h"

#include <cstring>

#include "alloc/internal/stats.h"
#include "model/bug.h"
#include "model/cpu.h"
#include "model/local_lock.h"
#include "model/machine_state.h"
#include "model/percpu.h"

#if KMODEL_IS_SIM
#include <unordered_map>

#include "alloc/internal/seeded_bugs.h"
#endif

KMODEL_NAMESPACE_BEGIN
namespace alloc_internal {

PerCpu<local_trylock_t> stream_local_lock;
PerCpu<Atomic<bpf_stream_page*>> stream_pcpu_page;

#if KMODEL_IS_SIM
SeededBugs g_seeded_bugs;

bool seeded_bug_no_trylock() { return g_seeded_bugs.no_trylock; }
bool seeded_bug_skip_elem_page_ref() { return g_seeded_bugs.skip_elem_page_ref; }
bool seeded_bug_no_cpu_page_ref() { return g_seeded_bugs.no_cpu_page_ref; }
#endif

namespace {

// ---- Simulator-only page registry (graded asserts) -------------------------
// The simulator runs every CPU on one host thread, so a plain map is enough.
// It knows which pages are live and how many elements each holds, and checks
// the starred invariants of stream_page.h before the allocator touches a
// page, so a broken interleaving is reported with its schedule instead of
// becoming a host use-after-free. It also lets the machine-state reset give
// back every page an aborted run left behind.
#if KMODEL_IS_SIM
std::unordered_map<const bpf_stream_page*, int>& page_registry() {
  static auto* pages = new std::unordered_map<const bpf_stream_page*, int>();
  return *pages;
}

void debug_page_new(const bpf_stream_page* page) { page_registry()[page] = 0; }

void debug_check_live(const bpf_stream_page* page, const char* what) {
  if (page_registry().count(page) == 0)
    internal::invariant_failed(__FILE__, __LINE__,
                               std::string(what) + ": bpf_stream_page already freed");
}

void debug_page_free(const bpf_stream_page* page) {
  auto it = page_registry().find(page);
  if (it == page_registry().end())
    internal::invariant_failed(__FILE__, __LINE__, "bpf_stream_page freed twice");
  if (it->second != 0)
    internal::invariant_failed(
        __FILE__, __LINE__,
        "bpf_stream_page freed while " + std::to_string(it->second) +
            " element(s) still in it");
  // The model's own check, not the kernel's code: it looks at every CPU's
  // slot while those CPUs run (exact here, the machine being sequentially
  // consistent), so it is no access of the program's (data_race).
  for (int cpu = 0; cpu < NR_CPUS; ++cpu) {
    if (data_race(*per_cpu_ptr(&stream_pcpu_page, cpu)) == page)
      internal::invariant_failed(
          __FILE__, __LINE__,
          "bpf_stream_page freed while it is CPU " + std::to_string(cpu) + "'s current page");
  }
  page_registry().erase(it);
}
#else
inline void debug_page_new(const bpf_stream_page*) {}
inline void debug_check_live(const bpf_stream_page*, const char*) {}
inline void debug_page_free(const bpf_stream_page*) {}
#endif

// ---- The kernel's functions (slow path) ------------------------------------

void bpf_stream_page_init(bpf_stream_page* stream_page) {
  // The CPU's own reference (missing under the seeded bug no_cpu_page_ref).
  refcount_set(&stream_page->ref, seeded_bug_no_cpu_page_ref() ? 0 : 1);
  WRITE_ONCE(stream_page->consumed, 0);
}

// A fresh page becomes this CPU's current page, and the CPU's reference to
// the old one is dropped. Lock held, irqs off.
bpf_stream_page* bpf_stream_page_replace() {
  page* pg = alloc_pages_nolock(/* don't account */ 0, NUMA_NO_NODE, 0);
  if (pg == nullptr) return nullptr;
  auto* stream_page = static_cast<bpf_stream_page*>(page_address(pg));
  debug_page_new(stream_page);
  stat_add(kPagesLive, 1);
  bpf_stream_page_init(stream_page);

  Atomic<bpf_stream_page*>* slot = this_cpu_ptr(&stream_pcpu_page);
  bpf_stream_page* old = READ_ONCE(*slot);
  // Switch first, then put: the old page is no longer current when its
  // last reference may go (the kernel puts first; the order is invisible
  // there, but the model's "never freed while current" check would see it).
  WRITE_ONCE(*slot, stream_page);
  if (old != nullptr && !seeded_bug_no_cpu_page_ref()) {
    debug_check_live(old, "replace");
    bpf_stream_page_put(old);
  }
  return stream_page;
}

void reset_stream_pages() {
#if KMODEL_IS_SIM
  // Simulator: give back every page a run left behind, whatever state an
  // aborted run left them in (no element of that run is touched again).
  for (int cpu = 0; cpu < NR_CPUS; ++cpu)
    plain_write(*per_cpu_ptr(&stream_pcpu_page, cpu), nullptr);
  auto& registry = page_registry();
  while (!registry.empty()) {
    auto* page = const_cast<bpf_stream_page*>(registry.begin()->first);
    registry.erase(registry.begin());
    free_pages_nolock(virt_to_page(page), 0);
  }
  g_seeded_bugs = {};
#else
  // Natively: a test calls this while no CPU runs; pages still referenced by
  // live elements stay until those are freed.
  for (int cpu = 0; cpu < NR_CPUS; ++cpu) bpf_stream_page_drain_cpu(cpu);
#endif
  for (int cpu = 0; cpu < NR_CPUS; ++cpu)
    plain_write(per_cpu_ptr(&stream_local_lock, cpu)->acquired, 0);
}

const MachineStateReset kReset(&reset_stream_pages);

}  // namespace

#if KMODEL_IS_SIM
void debug_elem_reserved(const bpf_stream_page* page) {
  debug_check_live(page, "reserve");
  ++page_registry()[page];
}

void debug_elem_freed(const bpf_stream_page* page) {
  debug_check_live(page, "bpf_stream_free_elem");
  --page_registry()[page];
}
#endif

// The current page is missing or too full: replace it. Lock held, irqs off.
__attribute__((noinline)) bpf_stream_page* bpf_stream_page_reserve_slow(int len) {
  bpf_stream_page* page = bpf_stream_page_replace();
  if (page == nullptr) return nullptr;
  // A fresh page has room for any len <= BPF_STREAM_ELEM_MAX_LEN.
  WARN_ON_ONCE(bpf_stream_page_check_room(page, len) != len);
  return page;
}

__attribute__((noinline)) bpf_stream_elem* bpf_stream_page_reserve_elem_seed(int len) {
  return bpf_stream_page_reserve_elem_hdr(BPF_STREAM_ELEM_HDR_SEED, len);
}

__attribute__((noinline)) void bpf_stream_page_free(bpf_stream_page* stream_page) {
  if (stream_page == nullptr) return;
  debug_page_free(stream_page);
  stat_add(kPagesLive, -1);
  free_pages_nolock(virt_to_page(stream_page), 0);
}

}  // namespace alloc_internal

bpf_stream_page* bpf_stream_page_current(int cpu) {
  return plain_read(*per_cpu_ptr(&alloc_internal::stream_pcpu_page, cpu));
}

void bpf_stream_page_drain_cpu(int cpu) {
  using namespace alloc_internal;
  Atomic<bpf_stream_page*>* slot = per_cpu_ptr(&stream_pcpu_page, cpu);
  bpf_stream_page* page = plain_read(*slot);
  if (page == nullptr) return;
  plain_write(*slot, nullptr);
  debug_check_live(page, "drain");
  if (!seeded_bug_no_cpu_page_ref()) bpf_stream_page_put(page);
}

KMODEL_NAMESPACE_END
