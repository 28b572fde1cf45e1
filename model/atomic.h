// model/atomic.h: the kernel's atomic vocabulary over one type, Atomic<T>.
//
// Mirrors: include/asm-generic/rwonce.h, include/linux/atomic.h,
// include/asm-generic/barrier.h (Linux 6.18).
//
// Contract
//   Every variable that more than one CPU (or an interrupt) touches is an
//   Atomic<T>, and is touched only through the functions below, which keep the
//   kernel's names, argument order and ordering strength:
//
//     READ_ONCE / WRITE_ONCE ........................ relaxed, never torn
//     smp_load_acquire / smp_store_release .......... acquire / release
//     xchg, cmpxchg, try_cmpxchg, atomic_*_return,
//     atomic_fetch_* (no suffix) .................... fully ordered
//     ..._acquire / ..._release / ..._relaxed ....... as named
//     smp_mb, smp_rmb, smp_wmb ...................... fences
//     smp_cond_load_acquire / _relaxed,
//     atomic_cond_read_acquire / _relaxed ........... spin (cpu_relax) until
//                                                     the predicate holds
//     plain_read / plain_write ...................... the kernel's plain C
//                                                     access (race-checked)
//     data_race(x) .................................. a read racy on purpose
//
//   atomic_t, atomic_long_t and atomic64_t are Atomic<int>, Atomic<long> and
//   Atomic<s64>; their atomic_* functions take a pointer, as in the kernel.
//
// Backends
//   Natively these are std::atomic operations with the orderings above (on
//   x86 READ_ONCE/WRITE_ONCE compile to plain moves). In the simulator each
//   one is a scheduling point (model/internal/hooks.h) and runs sequentially
//   consistently; weak-memory reorderings are for TSan to find natively.
#ifndef KMODEL_MODEL_ATOMIC_H_
#define KMODEL_MODEL_ATOMIC_H_

#include <atomic>
#include <type_traits>

#include "model/internal/hooks.h"
#include "model/types.h"

KMODEL_NAMESPACE_BEGIN

// Spin-wait hint. Natively, every CPU_RELAX_YIELD_PERIOD-th consecutive call
// also gives the core away (sched_yield): simulated CPUs are threads and may
// outnumber cores, and the thread a spinner waits for may be descheduled. So
// natively a spin is not a fixed slice of time; code that uses spin counts as
// a clock (rqspinlock's check cadence) must account for it.
void cpu_relax();
inline constexpr unsigned CPU_RELAX_YIELD_PERIOD = 128;

template <typename T>
class Atomic {
  static_assert(std::is_trivially_copyable_v<T>,
                "Atomic<T> models a machine word: T must be trivially copyable");

 public:
  constexpr Atomic() noexcept : value_() {}
  constexpr explicit Atomic(T initial) noexcept : value_(initial) {}
  Atomic(const Atomic&) = delete;
  Atomic& operator=(const Atomic&) = delete;

  // The underlying std::atomic; only the functions of this header use it.
  std::atomic<T>& raw() noexcept { return value_; }
  const std::atomic<T>& raw() const noexcept { return value_; }

 private:
  std::atomic<T> value_;
};

using atomic_t = Atomic<int>;
using atomic_long_t = Atomic<long>;
using atomic64_t = Atomic<s64>;

namespace internal {
template <typename T>
using Value = std::type_identity_t<T>;

template <typename T>
inline T load(const Atomic<T>* a, std::memory_order mo) {
  sched_point(Op::kLoad, a);
  return a->raw().load(mo);
}

template <typename T>
inline void store(Atomic<T>* a, T v, std::memory_order mo) {
  sched_point(Op::kStore, a);
  a->raw().store(v, mo);
  note_write(a);
}

template <typename T>
inline T exchange(Atomic<T>* a, T v, std::memory_order mo) {
  sched_point(Op::kRmw, a);
  T old = a->raw().exchange(v, mo);
  note_write(a);
  return old;
}

// Returns whether the exchange happened; on failure *old holds the value seen.
template <typename T>
inline bool compare_exchange(Atomic<T>* a, T* old, T desired,
                             std::memory_order mo) {
  sched_point(Op::kRmw, a);
  const bool ok = a->raw().compare_exchange_strong(
      *old, desired, mo,
      mo == std::memory_order_release   ? std::memory_order_relaxed
      : mo == std::memory_order_acq_rel ? std::memory_order_acquire
                                        : mo);
  if (ok) note_write(a);
  return ok;
}

template <typename T, typename F>
inline T fetch_update(Atomic<T>* a, F op, std::memory_order mo) {
  sched_point(Op::kRmw, a);
  T old = op(a->raw(), mo);
  note_write(a);
  return old;
}
}  // namespace internal

// ---- READ_ONCE / WRITE_ONCE, acquire / release ----------------------------

template <typename T>
inline T READ_ONCE(const Atomic<T>& a) {
  return internal::load(&a, std::memory_order_relaxed);
}
template <typename T>
inline void WRITE_ONCE(Atomic<T>& a, internal::Value<T> v) {
  internal::store(&a, v, std::memory_order_relaxed);
}
template <typename T>
inline T smp_load_acquire(const Atomic<T>* a) {
  return internal::load(a, std::memory_order_acquire);
}
template <typename T>
inline void smp_store_release(Atomic<T>* a, internal::Value<T> v) {
  internal::store(a, v, std::memory_order_release);
}

// ---- Plain accesses --------------------------------------------------------
// The kernel's plain C loads and stores, for data the caller owns exclusively
// at that moment (a node not yet published, a list already detached). Not a
// scheduling point: no other CPU can observe the difference.

template <typename T>
inline T plain_read(const Atomic<T>& a) {
  internal::plain_access(&a, false);
  return a.raw().load(std::memory_order_relaxed);
}
template <typename T>
inline void plain_write(Atomic<T>& a, internal::Value<T> v) {
  internal::plain_access(&a, true);
  a.raw().store(v, std::memory_order_relaxed);
}

// The kernel's data_race(x) around a plain read: a racy read on purpose
// (statistics, diagnostics, the model's own invariant checks) that KCSAN is
// told to ignore. Not a scheduling point, and the simulator's race detector
// (Config::check_races) does not count it either way.
template <typename T>
inline T data_race(const Atomic<T>& a) {
  return a.raw().load(std::memory_order_relaxed);
}

// ---- Fences ----------------------------------------------------------------

inline void smp_mb() {
  internal::sched_point(internal::Op::kFence, nullptr);
  std::atomic_thread_fence(std::memory_order_seq_cst);
}
inline void smp_rmb() {
  internal::sched_point(internal::Op::kFence, nullptr);
  std::atomic_thread_fence(std::memory_order_acquire);
}
inline void smp_wmb() {
  internal::sched_point(internal::Op::kFence, nullptr);
  std::atomic_thread_fence(std::memory_order_release);
}
inline void smp_mb__before_atomic() { smp_mb(); }
inline void smp_mb__after_atomic() { smp_mb(); }

// ---- xchg / cmpxchg on any Atomic<T> -------------------------------------

#define KMODEL_DEFINE_XCHG(suffix, order)                                   \
  template <typename T>                                                     \
  inline T xchg##suffix(Atomic<T>* a, internal::Value<T> v) {               \
    return internal::exchange(a, v, order);                                 \
  }                                                                         \
  template <typename T>                                                     \
  inline T cmpxchg##suffix(Atomic<T>* a, internal::Value<T> old,            \
                           internal::Value<T> desired) {                    \
    internal::compare_exchange(a, &old, desired, order);                    \
    return old;                                                             \
  }                                                                         \
  template <typename T>                                                     \
  inline bool try_cmpxchg##suffix(Atomic<T>* a, T* old,                     \
                                  internal::Value<T> desired) {             \
    return internal::compare_exchange(a, old, desired, order);              \
  }

KMODEL_DEFINE_XCHG(, std::memory_order_seq_cst)
KMODEL_DEFINE_XCHG(_acquire, std::memory_order_acquire)
KMODEL_DEFINE_XCHG(_release, std::memory_order_release)
KMODEL_DEFINE_XCHG(_relaxed, std::memory_order_relaxed)
#undef KMODEL_DEFINE_XCHG

// ---- atomic_t family: atomic_read(&v), atomic_add(i, &v), ... -------------

template <typename T>
inline T atomic_read(const Atomic<T>* a) { return READ_ONCE(*a); }
template <typename T>
inline T atomic_read_acquire(const Atomic<T>* a) { return smp_load_acquire(a); }
template <typename T>
inline void atomic_set(Atomic<T>* a, internal::Value<T> v) { WRITE_ONCE(*a, v); }
template <typename T>
inline void atomic_set_release(Atomic<T>* a, internal::Value<T> v) {
  smp_store_release(a, v);
}

#define KMODEL_DEFINE_ATOMIC_OPS(suffix, order)                                \
  template <typename T>                                                        \
  inline T atomic_fetch_add##suffix(internal::Value<T> i, Atomic<T>* a) {      \
    return internal::fetch_update(                                             \
        a, [i](std::atomic<T>& x, std::memory_order mo) {                      \
          return x.fetch_add(i, mo); }, order);                                \
  }                                                                            \
  template <typename T>                                                        \
  inline T atomic_fetch_sub##suffix(internal::Value<T> i, Atomic<T>* a) {      \
    return internal::fetch_update(                                             \
        a, [i](std::atomic<T>& x, std::memory_order mo) {                      \
          return x.fetch_sub(i, mo); }, order);                                \
  }                                                                            \
  template <typename T>                                                        \
  inline T atomic_fetch_or##suffix(internal::Value<T> i, Atomic<T>* a) {       \
    return internal::fetch_update(                                             \
        a, [i](std::atomic<T>& x, std::memory_order mo) {                      \
          return x.fetch_or(i, mo); }, order);                                 \
  }                                                                            \
  template <typename T>                                                        \
  inline T atomic_fetch_and##suffix(internal::Value<T> i, Atomic<T>* a) {      \
    return internal::fetch_update(                                             \
        a, [i](std::atomic<T>& x, std::memory_order mo) {                      \
          return x.fetch_and(i, mo); }, order);                                \
  }                                                                            \
  template <typename T>                                                        \
  inline T atomic_fetch_andnot##suffix(internal::Value<T> i, Atomic<T>* a) {   \
    return atomic_fetch_and##suffix<T>(static_cast<T>(~i), a);                 \
  }                                                                            \
  template <typename T>                                                        \
  inline T atomic_add_return##suffix(internal::Value<T> i, Atomic<T>* a) {     \
    return static_cast<T>(atomic_fetch_add##suffix<T>(i, a) + i);              \
  }                                                                            \
  template <typename T>                                                        \
  inline T atomic_sub_return##suffix(internal::Value<T> i, Atomic<T>* a) {     \
    return static_cast<T>(atomic_fetch_sub##suffix<T>(i, a) - i);              \
  }                                                                            \
  template <typename T>                                                        \
  inline T atomic_inc_return##suffix(Atomic<T>* a) {                           \
    return atomic_add_return##suffix<T>(1, a);                                 \
  }                                                                            \
  template <typename T>                                                        \
  inline T atomic_dec_return##suffix(Atomic<T>* a) {                           \
    return atomic_sub_return##suffix<T>(1, a);                                 \
  }                                                                            \
  template <typename T>                                                        \
  inline T atomic_xchg##suffix(Atomic<T>* a, internal::Value<T> v) {           \
    return xchg##suffix(a, v);                                                 \
  }                                                                            \
  template <typename T>                                                        \
  inline T atomic_cmpxchg##suffix(Atomic<T>* a, internal::Value<T> old,        \
                                  internal::Value<T> desired) {                \
    return cmpxchg##suffix(a, old, desired);                                   \
  }                                                                            \
  template <typename T>                                                        \
  inline bool atomic_try_cmpxchg##suffix(Atomic<T>* a, T* old,                 \
                                         internal::Value<T> desired) {         \
    return try_cmpxchg##suffix(a, old, desired);                               \
  }

KMODEL_DEFINE_ATOMIC_OPS(, std::memory_order_seq_cst)
KMODEL_DEFINE_ATOMIC_OPS(_acquire, std::memory_order_acquire)
KMODEL_DEFINE_ATOMIC_OPS(_release, std::memory_order_release)
KMODEL_DEFINE_ATOMIC_OPS(_relaxed, std::memory_order_relaxed)
#undef KMODEL_DEFINE_ATOMIC_OPS

// The void forms are relaxed in the kernel (no return value, no ordering).
template <typename T>
inline void atomic_add(internal::Value<T> i, Atomic<T>* a) {
  atomic_fetch_add_relaxed<T>(i, a);
}
template <typename T>
inline void atomic_sub(internal::Value<T> i, Atomic<T>* a) {
  atomic_fetch_sub_relaxed<T>(i, a);
}
template <typename T>
inline void atomic_inc(Atomic<T>* a) { atomic_add<T>(1, a); }
template <typename T>
inline void atomic_dec(Atomic<T>* a) { atomic_sub<T>(1, a); }
template <typename T>
inline void atomic_or(internal::Value<T> i, Atomic<T>* a) {
  atomic_fetch_or_relaxed<T>(i, a);
}
template <typename T>
inline void atomic_andnot(internal::Value<T> i, Atomic<T>* a) {
  atomic_fetch_andnot_relaxed<T>(i, a);
}
template <typename T>
inline bool atomic_dec_and_test(Atomic<T>* a) {
  return atomic_dec_return<T>(a) == 0;
}
template <typename T>
inline bool atomic_inc_not_zero(Atomic<T>* a) {
  T old = atomic_read(a);
  do {
    if (old == 0) return false;
  } while (!atomic_try_cmpxchg<T>(a, &old, old + 1));
  return true;
}

// ---- Spinning until a condition holds --------------------------------------
// The predicate receives the value read (the kernel's VAL); the value that
// satisfied it is returned.

// A spin here waits for another CPU's write (and for the deadlines the
// predicate may declare, model/clock.h): the simulator may jump the clock
// under it. A predicate that counts spins to give up on its own is a bounded
// spin, not a wait: write it as a loop with a bare cpu_relax().

template <typename T, typename Pred>
inline T smp_cond_load_relaxed(const Atomic<T>* a, Pred cond) {
  for (;;) {
    T val = internal::load(a, std::memory_order_relaxed);
    if (cond(val)) return val;
    internal::declare_wait_for_write();
    cpu_relax();
  }
}
template <typename T, typename Pred>
inline T smp_cond_load_acquire(const Atomic<T>* a, Pred cond) {
  for (;;) {
    T val = internal::load(a, std::memory_order_acquire);
    if (cond(val)) return val;
    internal::declare_wait_for_write();
    cpu_relax();
  }
}
template <typename T, typename Pred>
inline T atomic_cond_read_relaxed(const Atomic<T>* a, Pred cond) {
  return smp_cond_load_relaxed(a, cond);
}
template <typename T, typename Pred>
inline T atomic_cond_read_acquire(const Atomic<T>* a, Pred cond) {
  return smp_cond_load_acquire(a, cond);
}

KMODEL_NAMESPACE_END

#endif  // KMODEL_MODEL_ATOMIC_H_
