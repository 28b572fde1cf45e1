// alloc/refcount.h: refcount_t, a reference count that refuses to resurrect.
//
// Mirrors: include/linux/refcount.h (Linux 6.18), the subset the BPF stream
// page allocator uses: refcount_set, refcount_read, refcount_inc,
// refcount_dec_and_test.
//
// Contract
//   refcount_inc() on a count that is already 0 is a use-after-free: the
//   kernel WARNs ("addition on 0; use-after-free") and saturates; the model
//   WARNs, which fails the run (model/bug.h). refcount_dec_and_test() below 0
//   is an underflow, WARNed the same way. It returns true for exactly one
//   caller: the one whose decrement reached 0, who then owns the object.
//
// Ordering
//   refcount_inc is relaxed (taking a reference needs no ordering: the caller
//   already holds one, or owns the object). The kernel's dec_and_test is a
//   release plus an acquire on the path that reaches 0, so that the last
//   owner sees every write made under the other references before it frees.
//   The model uses a fully ordered decrement: at least as strong, the same
//   `lock xadd` on x86, and a pattern ThreadSanitizer understands (it does
//   not model standalone acquire fences).
//
// The count is an Atomic<int>, so every operation is a scheduling point of
// the simulator and the interleavings around it are explored.
#ifndef KMODEL_ALLOC_REFCOUNT_H_
#define KMODEL_ALLOC_REFCOUNT_H_

#include "model/atomic.h"
#include "model/bug.h"

KMODEL_NAMESPACE_BEGIN

struct refcount_t {
  atomic_t refs;
};

inline void refcount_set(refcount_t* r, int n) { atomic_set(&r->refs, n); }

inline unsigned int refcount_read(const refcount_t* r) {
  return static_cast<unsigned int>(atomic_read(&r->refs));
}

inline void refcount_inc(refcount_t* r) {
  const int old = atomic_fetch_add_relaxed(1, &r->refs);
  WARN_ON_ONCE(old <= 0);  // addition on 0: use-after-free
}

inline bool refcount_dec_and_test(refcount_t* r) {
  const int old = atomic_fetch_sub(1, &r->refs);
  WARN_ON_ONCE(old <= 0);  // underflow: one put too many
  return old == 1;
}

KMODEL_NAMESPACE_END

#endif  // KMODEL_ALLOC_REFCOUNT_H_
