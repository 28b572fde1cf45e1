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
  // irq_work's self-interrupt raised on this CPU and not yet taken (see
  // arch_irq_work_raise below).
  std::atomic<bool> irq_work_raised{false};
  // Its task sleeps (TaskAsleep): the CPU idles and takes interrupts.
  std::atomic<bool> idle{false};
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

// ---- irq_work's self-interrupt and a blocked task -------------------------------
//
// Mirrors: arch_irq_work_raise() (the irq_work IPI a CPU sends itself) and
// schedule() as seen from the CPU: a task that blocks leaves its CPU idle.
//
// irq_work_queue() (stream/bpf_stream_wait.h) raises the interrupt on its own
// CPU when its list was empty. The CPU takes it as a hardirq as soon as one
// can be delivered there: task or softirq context with irqs on. So a work
// queued in an NMI or a hardirq runs right after that handler returns to a
// context with irqs on (or when irqs come back on), and one queued in task
// context with irqs on runs at the CPU's next step. The handler is the one
// registered by irq_work (irq_work_run), so this layer does not depend on it.
//   Simulator: the machine takes it at every scheduling point of the CPU
//   where a hardirq is deliverable, and when a CPU's body returns (the CPU
//   goes idle with irqs on): the callback runs at the next point the CPU can
//   run it, whatever the code around it.
//   Native: no real IPI exists; the model takes it where it polls for it
//   (irq_work_interrupt_point(): a program run's return to task context, a
//   task blocked in schedule(), irq_work_sync's spin).
//
// A task that sleeps (wait_woken, stream/bpf_stream_wait.h) holds a
// TaskAsleep while it waits and calls schedule() between two looks at its
// wake-up flag: its CPU is idle all that time (cpu_is_idle()) and takes
// interrupts, the irq_work one included, at every step.
//   Simulator: schedule() is a scheduling point like cpu_relax(); in
//   addition, when every CPU that could step is only spinning or sleeping,
//   an interrupt that may still be delivered to an idle CPU is delivered
//   there (an idle CPU does not stay idle while its interrupts are due), so
//   a run where the only writer is an interrupt on the sleeper's own CPU is
//   never reported as a hang for want of that interrupt.
//   Native: cpu_relax() after taking this CPU's raised irq_work.
using irq_work_interrupt_fn = void (*)();
void set_irq_work_interrupt_handler(irq_work_interrupt_fn fn);

inline void arch_irq_work_raise() {
  current_cpu()->irq_work_raised.store(true, std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
}

// Takes ctx's raised irq_work interrupt if a hardirq can be delivered on it
// now (runs the handler in hardirq context). Returns whether it ran. Called
// by the backends; kernel-shaped code calls irq_work_interrupt_point().
bool take_irq_work_interrupt(CpuContext* ctx);

// A point where native code polls for its CPU's irq_work interrupt. In the
// simulator it does nothing: the machine delivers the interrupt by itself.
inline void irq_work_interrupt_point() {
#if !KMODEL_IS_SIM
  take_irq_work_interrupt(current_cpu());
#endif
}

void schedule();

// set_current_state(TASK_INTERRUPTIBLE) .. __set_current_state(TASK_RUNNING)
// as the CPU sees it: the task is off its CPU while this object lives.
class TaskAsleep {
 public:
  TaskAsleep() : ctx_(current_cpu()) {
    ctx_->idle.store(true, std::memory_order_relaxed);
    std::atomic_signal_fence(std::memory_order_seq_cst);
  }
  ~TaskAsleep() {
    std::atomic_signal_fence(std::memory_order_seq_cst);
    ctx_->idle.store(false, std::memory_order_relaxed);
  }
  TaskAsleep(const TaskAsleep&) = delete;
  TaskAsleep& operator=(const TaskAsleep&) = delete;

 private:
  CpuContext* ctx_;
};

// is_idle_task(current) as an interrupt handler sees it: whether the task
// this interrupt arrived on sleeps (the CPU was idle).
inline bool cpu_is_idle() { return current_cpu()->idle.load(std::memory_order_relaxed); }

KMODEL_NAMESPACE_END

#endif  // KMODEL_MODEL_CPU_H_
