// model/percpu.h: per-CPU variables.
//
// Mirrors: include/linux/percpu-defs.h (this_cpu_ptr, per_cpu_ptr).
//
// A PerCpu<T> holds one T per possible CPU, each on its own cache line so
// that CPUs do not false-share. this_cpu_ptr() is only meaningful while the
// caller cannot migrate; in this model a CPU binding never migrates, so the
// rule is trivially kept, but kernel-shaped code still calls it where the
// kernel would (with irqs or preemption disabled) so it ports back unchanged.
#ifndef KMODEL_MODEL_PERCPU_H_
#define KMODEL_MODEL_PERCPU_H_

#include <array>
#include <cstddef>

#include "model/cpu.h"

KMODEL_NAMESPACE_BEGIN

inline constexpr std::size_t SMP_CACHE_BYTES = 64;

template <typename T>
class PerCpu {
 public:
  PerCpu() = default;
  PerCpu(const PerCpu&) = delete;
  PerCpu& operator=(const PerCpu&) = delete;

  T* ptr(int cpu) { return &slots_[static_cast<std::size_t>(cpu)].value; }
  const T* ptr(int cpu) const {
    return &slots_[static_cast<std::size_t>(cpu)].value;
  }

 private:
  struct alignas(SMP_CACHE_BYTES) Slot {
    T value{};
  };
  std::array<Slot, NR_CPUS> slots_;
};

template <typename T>
inline T* this_cpu_ptr(PerCpu<T>* var) {
  return var->ptr(smp_processor_id());
}
template <typename T>
inline T* per_cpu_ptr(PerCpu<T>* var, int cpu) {
  return var->ptr(cpu);
}

KMODEL_NAMESPACE_END

#endif  // KMODEL_MODEL_PERCPU_H_
