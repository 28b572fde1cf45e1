// model/cpu.h: the CPU a piece of code runs on, and the context it runs in.
//
// Mirrors: include/linux/preempt.h (preempt_count layout and the in_*()
// queries), include/linux/irqflags.h (irq save/restore),
// include/linux/smp.h (smp_processor_id), Linux 6.18.
//
// Each CPU has a CpuContext. Code learns its own through current_cpu(),
// which is a thread-local pointer in both backends: natively a thread binds
// itself to a CPU (model/native/cpu_thread.h); in the simulator the scheduler
// sets it before it switches to a CPU's fiber. Reading one's own context is
// CPU-local, so it is never a scheduling point.
//
// Contexts nest exactly as in the kernel:
//
//   task  <  softirq  <  hardirq  <  NMI
//
//   * a hardirq or softirq is delivered only while irqs are enabled;
//   * an NMI is delivered at any time, except inside another NMI;
//   * entering a hardirq or an NMI disables irqs until it returns.
//
// The preempt_count word uses the kernel's layout, so interrupt_context_level()
// (the index of a CPU's per-context MCS node in rqspinlock) is computed the
// kernel's way.
#ifndef KMODEL_MODEL_CPU_H_
#define KMODEL_MODEL_CPU_H_

#include <atomic>

#include "model/internal/hooks.h"
#include "model/types.h"

KMODEL_NAMESPACE_BEGIN

inline constexpr unsigned PREEMPT_SHIFT = 0;
inline constexpr unsigned SOFTIRQ_SHIFT = 8;
inline constexpr unsigned HARDIRQ_SHIFT = 16;
inline constexpr unsigned NMI_SHIFT = 20;
inline constexpr unsigned PREEMPT_OFFSET = 1u << PREEMPT_SHIFT;
inline constexpr unsigned SOFTIRQ_OFFSET = 1u << SOFTIRQ_SHIFT;
inline constexpr unsigned SOFTIRQ_DISABLE_OFFSET = 2 * SOFTIRQ_OFFSET;
inline constexpr unsigned HARDIRQ_OFFSET = 1u << HARDIRQ_SHIFT;
inline constexpr unsigned NMI_OFFSET = 1u << NMI_SHIFT;
inline constexpr unsigned SOFTIRQ_MASK = 0xffu << SOFTIRQ_SHIFT;
inline constexpr unsigned HARDIRQ_MASK = 0xfu << HARDIRQ_SHIFT;
inline constexpr unsigned NMI_MASK = 0xfu << NMI_SHIFT;

// The state of one CPU that its own code and its interrupts share. Fields are
// atomics only so that a native signal handler (the NMI) may touch them; they
// are accessed with relaxed order plus signal fences, never across CPUs.
struct CpuContext {
  int cpu = -1;
  std::atomic<unsigned> preempt_count{0};
  std::atomic<bool> irqs_disabled{false};
  // Native backend: a hardirq signal that arrived with irqs disabled waits
  // here until local_irq_restore() enables irqs (lazy irq masking).
  std::atomic<bool> hardirq_pending{false};
};

namespace internal {
// Set by the backend: the native CPU binding, or the simulator's scheduler.
// constinit: no TLS wrapper call on every access.
extern constinit thread_local CpuContext* tls_current_cpu;
[[noreturn]] void no_cpu_bound();
// Native: deliver a deferred hardirq. Simulator: nothing (hardirqs are
// injected at scheduling points).
void run_pending_hardirq(CpuContext* ctx);
}  // namespace internal

inline CpuContext* current_cpu() {
  CpuContext* ctx = internal::tls_current_cpu;
  if (__builtin_expect(ctx == nullptr, 0)) internal::no_cpu_bound();
  return ctx;
}

// True when the calling thread is bound to a CPU (or is a simulated CPU).
inline bool cpu_bound() { return internal::tls_current_cpu != nullptr; }

inline int smp_processor_id() { return current_cpu()->cpu; }
inline int raw_smp_processor_id() { return smp_processor_id(); }

// The number of CPUs of the running machine (natively NR_CPUS).
int num_possible_cpus();

// ---- preempt_count and the context queries ---------------------------------

inline unsigned preempt_count() {
  return current_cpu()->preempt_count.load(std::memory_order_relaxed);
}
inline bool in_nmi() { return preempt_count() & NMI_MASK; }
inline bool in_hardirq() { return preempt_count() & HARDIRQ_MASK; }
inline bool in_serving_softirq() { return preempt_count() & SOFTIRQ_OFFSET; }
inline bool in_softirq() { return preempt_count() & SOFTIRQ_MASK; }
inline bool in_interrupt() {
  return preempt_count() & (NMI_MASK | HARDIRQ_MASK | SOFTIRQ_MASK);
}
inline bool in_task() {
  return !(preempt_count() & (NMI_MASK | HARDIRQ_MASK | SOFTIRQ_OFFSET));
}

// 0 task, 1 softirq, 2 hardirq, 3 NMI: the kernel's counting of the bits.
inline unsigned char interrupt_context_level_of(const CpuContext& ctx) {
  const unsigned pc = ctx.preempt_count.load(std::memory_order_relaxed);
  unsigned char level = 0;
  level += !!(pc & NMI_MASK);
  level += !!(pc & (NMI_MASK | HARDIRQ_MASK));
  level += !!(pc & (NMI_MASK | HARDIRQ_MASK | SOFTIRQ_OFFSET));
  return level;
}
inline unsigned char interrupt_context_level() {
  return interrupt_context_level_of(*current_cpu());
}

inline void preempt_disable() {
  current_cpu()->preempt_count.fetch_add(PREEMPT_OFFSET, std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
}
inline void preempt_enable() {
  std::atomic_signal_fence(std::memory_order_seq_cst);
  current_cpu()->preempt_count.fetch_sub(PREEMPT_OFFSET, std::memory_order_relaxed);
}

// ---- irq save / restore ------------------------------------------------------
// Called as in the kernel: `unsigned long flags; local_irq_save(flags);`.

inline bool irqs_disabled() {
  return current_cpu()->irqs_disabled.load(std::memory_order_relaxed);
}
inline void local_irq_disable() {
  internal::sched_point(internal::Op::kIrq, nullptr);
  current_cpu()->irqs_disabled.store(true, std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
}
inline void local_irq_enable() {
  CpuContext* ctx = current_cpu();
  std::atomic_signal_fence(std::memory_order_seq_cst);
  ctx->irqs_disabled.store(false, std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  if (ctx->hardirq_pending.load(std::memory_order_relaxed))
    internal::run_pending_hardirq(ctx);
  internal::sched_point(internal::Op::kIrq, nullptr);
}
inline void local_irq_save(unsigned long& flags) {
  flags = irqs_disabled() ? 1 : 0;
  local_irq_disable();
}
inline void local_irq_restore(unsigned long flags) {
  if (!flags) local_irq_enable();
}

// ---- interrupt contexts (entered by the backends' interrupt delivery) ----

// RAII form of an interrupt's context: the kind decides the preempt_count
// offset, and hardirq/softirq-with-irqs-off bookkeeping is restored on exit.
enum class IrqKind : unsigned char { kSoftirq, kHardirq, kNmi };
const char* irq_kind_name(IrqKind kind);

class InterruptContext {
 public:
  explicit InterruptContext(IrqKind kind);
  ~InterruptContext();
  InterruptContext(const InterruptContext&) = delete;
  InterruptContext& operator=(const InterruptContext&) = delete;

 private:
  CpuContext* ctx_;
  unsigned offset_;
  bool irqs_were_disabled_;
};

KMODEL_NAMESPACE_END

#endif  // KMODEL_MODEL_CPU_H_
