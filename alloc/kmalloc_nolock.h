// alloc/kmalloc_nolock.h: kmalloc_nolock()/kfree_nolock(), the `mainline`
// profile's element allocator.
//
// Mirrors the contract of kmalloc_nolock() and kfree_nolock()
// (include/linux/slab.h, mm/slub.c, Linux 6.18+), not SLUB's implementation:
//
//   kmalloc_nolock(size, gfp_flags, node)
//     any context (NMI included), never blocks or spins on another CPU,
//     may fail (nullptr); size is the exact size the caller needs, at most
//     KMALLOC_MAX_CACHE_SIZE; only __GFP_ACCOUNT/__GFP_ZERO-style flags.
//     Like SLUB, it never re-enters a cache's per-CPU state: an NMI that
//     interrupts a kmalloc_nolock() of the same size class on the same CPU
//     retries once in the next size class (SLUB's "pick the next kmalloc
//     bucket", mm/slub.c kmalloc_nolock_noprof()), and fails only if that
//     one is busy too or there is none (the 8192-byte class).
//   kfree_nolock(obj)
//     any context, any CPU; obj must come from kmalloc_nolock().
//
// Model
//   Each object is its own block from alloc_pages_nolock() (so the page
//   source's failure injection applies, and poisoning on free catches a use
//   after free), with a small hidden header before the object. The block is
//   taken outside the cache's per-CPU section, as SLUB takes a new slab
//   outside it; the section itself is the trylock/unlock pair, the window in
//   which an NMI finds the cache busy. The memory
//   this takes is not what SLUB takes; kmalloc_size_roundup() gives the size
//   class SLUB would use, which is what the accounting reports.
#ifndef KMODEL_ALLOC_KMALLOC_NOLOCK_H_
#define KMODEL_ALLOC_KMALLOC_NOLOCK_H_

#include <cstddef>

#include "model/page_alloc.h"
#include "model/types.h"

KMODEL_NAMESPACE_BEGIN

inline constexpr std::size_t KMALLOC_MAX_CACHE_SIZE = 2 * PAGE_SIZE;

void* kmalloc_nolock(std::size_t size, gfp_t gfp_flags, int node);
void kfree_nolock(const void* obj);

// Whether `obj` (a live object of kmalloc_nolock() or of the stream's page
// allocator) came from kmalloc_nolock(): the model's folio_test_slab(). It
// reads the block header at the start of the page obj lies in (a
// kmalloc_nolock() object always sits 16 bytes into its block's first page;
// a stream page starts with its refcount, which never holds the magic).
// Any context; obj must be live. Inline: the stream's free path asks it for
// every element.
inline constexpr u32 KMALLOC_NOLOCK_MAGIC = 0x6b6d6e6cu;  // "kmnl", the block header's first word
inline bool kmalloc_nolock_owns(const void* obj) {
  const auto addr = reinterpret_cast<unsigned long>(obj) & ~(static_cast<unsigned long>(PAGE_SIZE) - 1);
  // Relaxed atomic load: on a stream page these bytes are its refcount,
  // which other CPUs change atomically.
  return __atomic_load_n(reinterpret_cast<const u32*>(addr), __ATOMIC_RELAXED) ==
         KMALLOC_NOLOCK_MAGIC;
}

// Re-entry outcomes so far (monotonic, every CPU): allocations served by the
// next size class, and allocations refused because both were busy.
struct KmallocNolockStats {
  u64 bucket_retries = 0;
  u64 reentry_failures = 0;
};
KmallocNolockStats kmalloc_nolock_stats();

// The kmalloc size class of `size` (8, 16, 32, 64, 96, 128, 192, 256, 512,
// 1024, 2048, 4096, 8192), or 0 above KMALLOC_MAX_CACHE_SIZE.
std::size_t kmalloc_size_roundup(std::size_t size);

KMODEL_NAMESPACE_END

#endif  // KMODEL_ALLOC_KMALLOC_NOLOCK_H_
