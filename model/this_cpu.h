// model/this_cpu.h: this_cpu_read / this_cpu_inc_return / this_cpu_dec on a
// per-CPU counter.
//
// Mirrors: include/linux/percpu-defs.h and arch/x86/include/asm/percpu.h
// (this_cpu_* operations, Linux 6.18).
//
// Contract
//   The counter belongs to the calling CPU and is changed only by that CPU
//   (its task and its interrupts, NMIs included). Each operation is atomic
//   with respect to this CPU's interrupts, never with respect to other CPUs:
//   an interrupt lands before or after it, not inside. Other CPUs may read a
//   slot (per_cpu_ptr + READ_ONCE) but never change it.
//
// Backends
//   Native x86-64: one instruction without a lock prefix (`xadd`, `add`),
//   as the kernel's %gs-relative this_cpu ops are; a signal (the model's NMI
//   and hardirq) cannot split it, and the bus is not locked. Under
//   ThreadSanitizer, which does not see inline assembly, and off x86-64: a
//   relaxed atomic RMW (locked, same result). Simulator: the same relaxed RMW,
//   which is a scheduling point, so an interrupt can be explored on either
//   side of it.
#ifndef KMODEL_MODEL_THIS_CPU_H_
#define KMODEL_MODEL_THIS_CPU_H_

#include <type_traits>

#include "model/atomic.h"
#include "model/backend.h"
#include "model/percpu.h"

KMODEL_NAMESPACE_BEGIN

namespace internal {
#if !KMODEL_IS_SIM && defined(__x86_64__) && !KMODEL_TSAN
inline constexpr bool kUnlockedThisCpuOps = true;
#else
inline constexpr bool kUnlockedThisCpuOps = false;
#endif
}  // namespace internal

template <typename T>
inline T this_cpu_read(PerCpu<Atomic<T>>* var) {
  return READ_ONCE(*this_cpu_ptr(var));
}

template <typename T>
inline T this_cpu_add_return(PerCpu<Atomic<T>>* var, internal::Value<T> i) {
  static_assert(std::is_integral_v<T>, "this_cpu_add_return takes an integer counter");
  Atomic<T>* a = this_cpu_ptr(var);
  if constexpr (internal::kUnlockedThisCpuOps) {
    T old = i;
    // The memory clobber is the compiler barrier preempt_disable() would
    // give: what the counter guards is not touched across it.
    asm volatile("xadd %0, %1" : "+r"(old), "+m"(a->raw()) : : "memory");
    return static_cast<T>(old + i);
  } else {
    return atomic_add_return_relaxed<T>(i, a);
  }
}

template <typename T>
inline T this_cpu_inc_return(PerCpu<Atomic<T>>* var) {
  return this_cpu_add_return<T>(var, 1);
}

template <typename T>
inline void this_cpu_dec(PerCpu<Atomic<T>>* var) {
  this_cpu_add_return<T>(var, static_cast<T>(-1));
}

KMODEL_NAMESPACE_END

#endif  // KMODEL_MODEL_THIS_CPU_H_
