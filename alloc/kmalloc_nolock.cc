// alloc/kmalloc_nolock.cc: the contract model of kmalloc_nolock() (see the
// header): one page-source block per object; per size class a per-CPU
// trylock against re-entry from an NMI on the same CPU, and SLUB's one retry
// in the next size class.
#include "alloc/kmalloc_nolock.h"

#include <atomic>

#include "model/bug.h"
#include "model/local_lock.h"
#include "model/machine_state.h"
#include "model/percpu.h"

#if KMODEL_IS_SIM
#include <unordered_set>
#endif

KMODEL_NAMESPACE_BEGIN

namespace {

// Hidden before every object: what kfree_nolock() needs to give the block
// back, and a magic that catches a pointer kmalloc_nolock() did not return.
struct KmallocHeader {
  u32 magic;
  u32 order;
  u64 size;
};
static_assert(sizeof(KmallocHeader) == 16, "objects stay 16-byte aligned");
constexpr u32 kKmallocMagic = KMALLOC_NOLOCK_MAGIC;

constexpr std::size_t kSizeClasses[] = {8,   16,  32,  64,   96,   128, 192,
                                        256, 512, 1024, 2048, 4096, 8192};
constexpr int kNrSizeClasses = sizeof(kSizeClasses) / sizeof(kSizeClasses[0]);

// The per-CPU slab state of each kmalloc cache, reduced to its lock: SLUB's
// s->cpu_slab->lock, one per cache and CPU.
PerCpu<local_trylock_t> kmalloc_cache_lock[kNrSizeClasses];

std::atomic<u64> g_bucket_retries{0};
std::atomic<u64> g_reentry_failures{0};

// The smallest class that holds `size`, or -1 above KMALLOC_MAX_CACHE_SIZE.
int size_class(std::size_t size) {
  for (int c = 0; c < kNrSizeClasses; ++c)
    if (size <= kSizeClasses[c]) return c;
  return -1;
}

// The cache's per-CPU critical section: in SLUB, the freelist update that an
// NMI on the same CPU must not re-enter. The new slab itself is taken outside
// it (___slab_alloc() drops the lock around new_slab()), as the model's page
// is. False: this CPU is inside that section already (only an NMI can find
// it so, irqs being off while it is held).
bool enter_cache(int cls) {
  unsigned long flags;
  if (!local_trylock_irqsave(&kmalloc_cache_lock[cls], flags)) return false;
  local_unlock_irqrestore(&kmalloc_cache_lock[cls], flags);
  return true;
}

unsigned int order_for(std::size_t bytes) {
  unsigned int order = 0;
  while ((PAGE_SIZE << order) < bytes) ++order;
  return order;
}

#if KMODEL_IS_SIM
// Simulator: the blocks a run holds, so the reset can give back what an
// aborted run left behind.
std::unordered_set<KmallocHeader*>& live_blocks() {
  static auto* blocks = new std::unordered_set<KmallocHeader*>();
  return *blocks;
}
#endif

void reset_kmalloc_nolock() {
#if KMODEL_IS_SIM
  for (KmallocHeader* h : live_blocks()) free_pages_nolock(virt_to_page(h), h->order);
  live_blocks().clear();
#endif
  for (auto& lock : kmalloc_cache_lock)
    for (int cpu = 0; cpu < NR_CPUS; ++cpu) plain_write(per_cpu_ptr(&lock, cpu)->acquired, 0);
}

const MachineStateReset kReset(&reset_kmalloc_nolock);

}  // namespace

std::size_t kmalloc_size_roundup(std::size_t size) {
  const int cls = size_class(size);
  return cls < 0 ? 0 : kSizeClasses[cls];
}

KmallocNolockStats kmalloc_nolock_stats() {
  return {g_bucket_retries.load(std::memory_order_relaxed),
          g_reentry_failures.load(std::memory_order_relaxed)};
}

void* kmalloc_nolock(std::size_t size, gfp_t gfp_flags, int node) {
  if (size == 0) return nullptr;
  int cls = size_class(size);
  if (cls < 0) return nullptr;
  if (!enter_cache(cls)) {
    // Re-entered this CPU's section of the cache: SLUB retries once in the
    // next kmalloc bucket (object_size + 1), none above the largest.
    if (++cls == kNrSizeClasses || !enter_cache(cls)) {
      g_reentry_failures.fetch_add(1, std::memory_order_relaxed);
      return nullptr;
    }
    g_bucket_retries.fetch_add(1, std::memory_order_relaxed);
  }
  const unsigned int order = order_for(size + sizeof(KmallocHeader));
  page* pg = alloc_pages_nolock(gfp_flags & __GFP_ZERO, node, order);
  if (pg == nullptr) return nullptr;
  auto* h = static_cast<KmallocHeader*>(page_address(pg));
  h->magic = kKmallocMagic;
  h->order = order;
  h->size = size;
#if KMODEL_IS_SIM
  live_blocks().insert(h);
#endif
  return h + 1;
}

void kfree_nolock(const void* obj) {
  if (obj == nullptr) return;
  auto* h = const_cast<KmallocHeader*>(static_cast<const KmallocHeader*>(obj) - 1);
#if KMODEL_IS_SIM
  // Checked before the header is read: a double free is reported, not a
  // host use-after-free.
  if (live_blocks().erase(h) == 0)
    internal::invariant_failed(__FILE__, __LINE__,
                               "kfree_nolock of an object not allocated (double free?)");
#endif
  WARN_ON_ONCE(h->magic != kKmallocMagic);
  h->magic = 0;
  free_pages_nolock(virt_to_page(h), h->order);
}

KMODEL_NAMESPACE_END
