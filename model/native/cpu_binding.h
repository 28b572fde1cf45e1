// model/native/cpu_binding.h: real threads as CPUs, POSIX signals as
// interrupts.
//
// A thread becomes CPU n by holding a CpuBinding for n; at most one thread is
// bound to a CPU at a time. Another thread may then interrupt it:
//
//   send_nmi(n)      delivers a signal (SIGUSR1) to CPU n's thread; its
//                    handler enters NMI context and runs CPU n's NMI handler.
//                    It runs even with irqs disabled, like an NMI.
//   send_hardirq(n)  the same in hardirq context; while CPU n has irqs
//                    disabled, the interrupt waits and runs when
//                    local_irq_restore()/local_irq_enable() re-enables them.
//                    (SIGUSR2.)
//
// Nesting follows the hardware: an NMI handler is never interrupted (its
// delivery masks both signals), a hardirq handler may be interrupted by an
// NMI but not by another hardirq.
//
// Like a hardware interrupt line, an interrupt sent while the same one is
// still pending on that CPU merges with it: count deliveries with
// interrupts_handled(), and send the next one after the previous was taken
// when each must run.
//
// Handlers run on the interrupted thread, on its stack, exactly where an
// interrupt would: everything they call must be async-signal-safe in the way
// NMI code must be NMI-safe (no locks that the interrupted code may hold, no
// malloc). That is the point: the model's NMI-safe code is tested by real
// asynchronous interruption.
#ifndef KMODEL_MODEL_NATIVE_CPU_BINDING_H_
#define KMODEL_MODEL_NATIVE_CPU_BINDING_H_

#include <atomic>

#include "model/cpu.h"

namespace kmodel::native {

// An interrupt handler: a plain function and its argument (async-signal-safe
// to call; no allocation on delivery).
struct InterruptHandler {
  void (*fn)(void* arg) = nullptr;
  void* arg = nullptr;
};

class CpuBinding {
 public:
  // Binds the calling thread to `cpu` (0 <= cpu < NR_CPUS). Aborts with a
  // message if the CPU is taken or the thread is already bound.
  explicit CpuBinding(int cpu);
  ~CpuBinding();
  CpuBinding(const CpuBinding&) = delete;
  CpuBinding& operator=(const CpuBinding&) = delete;

  int cpu() const { return cpu_; }

 private:
  int cpu_;
};

// Installs CPU `cpu`'s handler for the given kind (kNmi or kHardirq). Set
// handlers before interrupts are sent; {nullptr, nullptr} removes one.
void set_interrupt_handler(int cpu, IrqKind kind, InterruptHandler handler);

// Interrupts CPU `cpu`'s bound thread. Returns 0, or -ESRCH if no thread is
// bound to that CPU, or -EINVAL for a bad cpu or kind.
int send_nmi(int cpu);
int send_hardirq(int cpu);

// How many interrupts of each kind have completed on `cpu` (for tests that
// wait for delivery without sleeping).
unsigned long interrupts_handled(int cpu, IrqKind kind);

// Sends one interrupt (kNmi or kHardirq) and spins until CPU `cpu` has
// handled it: one interrupt in flight, so none merges with another (nor is
// coalesced by a sanitizer that defers signals). Returns 0, the send's
// error, or -ESRCH if the target unbound before handling it. The caller must
// not be CPU `cpu` itself, and a hardirq is only handled once that CPU
// enables irqs. Under ThreadSanitizer, which rarely drops a signal it has
// deferred, an interrupt still unhandled after 500 ms is sent again.
int send_interrupt_and_wait(int cpu, IrqKind kind);

}  // namespace kmodel::native

#endif  // KMODEL_MODEL_NATIVE_CPU_BINDING_H_
