// alloc/kmalloc_nolock.cc: the contract model of kmalloc_nolock() (see the
// header): one page-source block per object, a per-CPU trylock against
// re-entry from an NMI on the same CPU.
#include "alloc/kmalloc_nolock.h"

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

PerCpu<local_trylock_t> kmalloc_nolock_lock;

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
  for (int cpu = 0; cpu < NR_CPUS; ++cpu)
    plain_write(per_cpu_ptr(&kmalloc_nolock_lock, cpu)->acquired, 0);
}

const MachineStateReset kReset(&reset_kmalloc_nolock);

}  // namespace

std::size_t kmalloc_size_roundup(std::size_t size) {
  static constexpr std::size_t kClasses[] = {8,   16,  32,  64,   96,   128, 192,
                                             256, 512, 1024, 2048, 4096, 8192};
  for (std::size_t c : kClasses)
    if (size <= c) return c;
  return 0;
}

void* kmalloc_nolock(std::size_t size, gfp_t gfp_flags, int node) {
  if (size == 0 || size > KMALLOC_MAX_CACHE_SIZE) return nullptr;
  unsigned long flags;
  // SLUB's per-CPU state is under a local_trylock too: re-entry fails.
  if (!local_trylock_irqsave(&kmalloc_nolock_lock, flags)) return nullptr;
  const unsigned int order = order_for(size + sizeof(KmallocHeader));
  page* pg = alloc_pages_nolock(gfp_flags & __GFP_ZERO, node, order);
  local_unlock_irqrestore(&kmalloc_nolock_lock, flags);
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
