#include "model/native/cpu_binding.h"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>
#include <signal.h>
#include <time.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "model/bug.h"
#include "model/atomic.h"
#include "model/clock.h"

namespace kmodel::native {
namespace {

struct NativeCpu {
  CpuContext ctx;
  std::atomic<bool> bound{false};  // claimed by a CpuBinding
  // Set (release) once `thread` and `ctx` are written: senders check this,
  // not `bound`, which is claimed before the thread id is known.
  std::atomic<bool> ready{false};
  pthread_t thread{};
  std::atomic<void (*)(void*)> nmi_fn{nullptr};
  std::atomic<void*> nmi_arg{nullptr};
  std::atomic<void (*)(void*)> irq_fn{nullptr};
  std::atomic<void*> irq_arg{nullptr};
  std::atomic<unsigned long> nmis_handled{0};
  std::atomic<unsigned long> irqs_handled{0};
};

NativeCpu g_cpus[NR_CPUS];

// Standard (not real-time) signals: they never queue, so a burst of sends
// cannot exhaust the per-user queued-signal limit (RLIMIT_SIGPENDING, shared
// by every process of the user), and, like an NMI line, an interrupt sent
// while the same one is still pending merges with it.
int nmi_signal() { return SIGUSR1; }
int hardirq_signal() { return SIGUSR2; }

void run_handler(NativeCpu& c, IrqKind kind) {
  const bool nmi = kind == IrqKind::kNmi;
  auto fn = (nmi ? c.nmi_fn : c.irq_fn).load(std::memory_order_acquire);
  void* arg = (nmi ? c.nmi_arg : c.irq_arg).load(std::memory_order_acquire);
  {
    InterruptContext irq_ctx(kind);
    if (fn != nullptr) fn(arg);
  }
  (nmi ? c.nmis_handled : c.irqs_handled).fetch_add(1, std::memory_order_release);
}

NativeCpu* this_native_cpu() {
  CpuContext* ctx = internal::tls_current_cpu;
  return ctx == nullptr ? nullptr : &g_cpus[ctx->cpu];
}

void on_nmi_signal(int) {
  const int saved_errno = errno;
  if (NativeCpu* c = this_native_cpu()) {
    // An NMI does not nest inside another NMI.
    if (!(c->ctx.preempt_count.load(std::memory_order_relaxed) & NMI_MASK))
      run_handler(*c, IrqKind::kNmi);
  }
  errno = saved_errno;
}

void on_hardirq_signal(int) {
  const int saved_errno = errno;
  if (NativeCpu* c = this_native_cpu()) {
    if (c->ctx.irqs_disabled.load(std::memory_order_relaxed))
      c->ctx.hardirq_pending.store(true, std::memory_order_relaxed);
    else
      run_handler(*c, IrqKind::kHardirq);
  }
  errno = saved_errno;
}

void install_signal_handlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa = {};
    sa.sa_flags = SA_RESTART;
    // A hardirq must not interrupt an NMI handler: the NMI's delivery masks
    // the hardirq signal (the handler's own signal is masked by default).
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, hardirq_signal());
    sa.sa_handler = on_nmi_signal;
    sigaction(nmi_signal(), &sa, nullptr);
    // An NMI may interrupt a hardirq handler, as on hardware.
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_hardirq_signal;
    sigaction(hardirq_signal(), &sa, nullptr);
  });
}

bool valid_cpu(int cpu) { return cpu >= 0 && cpu < NR_CPUS; }

int send(int cpu, int sig) {
  if (!valid_cpu(cpu)) return -EINVAL;
  NativeCpu& c = g_cpus[cpu];
  if (!c.ready.load(std::memory_order_acquire)) return -ESRCH;
  return -pthread_kill(c.thread, sig);
}

}  // namespace

CpuBinding::CpuBinding(int cpu) : cpu_(cpu) {
  if (!valid_cpu(cpu)) {
    std::fprintf(stderr, "kmodel: CpuBinding(%d): cpu must be in [0, %d)\n", cpu,
                 NR_CPUS);
    std::abort();
  }
  if (internal::tls_current_cpu != nullptr) {
    std::fprintf(stderr, "kmodel: CpuBinding(%d): thread already bound to CPU %d\n",
                 cpu, internal::tls_current_cpu->cpu);
    std::abort();
  }
  NativeCpu& c = g_cpus[cpu];
  bool expected = false;
  if (!c.bound.compare_exchange_strong(expected, true)) {
    std::fprintf(stderr, "kmodel: CpuBinding(%d): CPU already bound to a thread\n",
                 cpu);
    std::abort();
  }
  install_signal_handlers();
  c.ctx.cpu = cpu;
  c.ctx.preempt_count.store(0, std::memory_order_relaxed);
  c.ctx.irqs_disabled.store(false, std::memory_order_relaxed);
  c.ctx.hardirq_pending.store(false, std::memory_order_relaxed);
  c.thread = pthread_self();
  internal::tls_current_cpu = &c.ctx;
  std::atomic_thread_fence(std::memory_order_seq_cst);
  c.ready.store(true, std::memory_order_release);
}

CpuBinding::~CpuBinding() {
  NativeCpu& c = g_cpus[cpu_];
  // Block both signals while unbinding so no handler sees a half-torn CPU.
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, nmi_signal());
  sigaddset(&set, hardirq_signal());
  pthread_sigmask(SIG_BLOCK, &set, &old);
  c.ready.store(false, std::memory_order_release);
  c.bound.store(false, std::memory_order_release);
  internal::tls_current_cpu = nullptr;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void set_interrupt_handler(int cpu, IrqKind kind, InterruptHandler handler) {
  if (!valid_cpu(cpu) || kind == IrqKind::kSoftirq) {
    std::fprintf(stderr, "kmodel: set_interrupt_handler: bad cpu %d or kind %s\n",
                 cpu, irq_kind_name(kind));
    std::abort();
  }
  NativeCpu& c = g_cpus[cpu];
  const bool nmi = kind == IrqKind::kNmi;
  (nmi ? c.nmi_arg : c.irq_arg).store(handler.arg, std::memory_order_release);
  (nmi ? c.nmi_fn : c.irq_fn).store(handler.fn, std::memory_order_release);
}

int send_nmi(int cpu) { return send(cpu, nmi_signal()); }
int send_hardirq(int cpu) { return send(cpu, hardirq_signal()); }

namespace {
int send_interrupt(int cpu, IrqKind kind) {
  return kind == IrqKind::kNmi ? send_nmi(cpu) : send_hardirq(cpu);
}
}  // namespace

unsigned long interrupts_handled(int cpu, IrqKind kind) {
  if (!valid_cpu(cpu)) return 0;
  NativeCpu& c = g_cpus[cpu];
  return (kind == IrqKind::kNmi ? c.nmis_handled : c.irqs_handled)
      .load(std::memory_order_acquire);
}

// Under ThreadSanitizer only: how long an interrupt may stay unhandled
// before send_interrupt_and_wait() sends it again.
constexpr u64 kTsanResendAfterNs = 500 * NSEC_PER_MSEC;

int send_interrupt_and_wait(int cpu, IrqKind kind) {
  const unsigned long before = interrupts_handled(cpu, kind);
  const int rc = send_interrupt(cpu, kind);
  if (rc != 0) return rc;
  // The target may unbind before it takes the interrupt (a hardirq still
  // deferred, or a signal arriving after the binding was torn down): the
  // handled count is read after `bound`, so a delivery that completed before
  // the unbind is still seen.
  const NativeCpu& c = g_cpus[cpu];
  u64 resend_at = ktime_get_mono_fast_ns() + kTsanResendAfterNs;
  while (interrupts_handled(cpu, kind) == before) {
    if (!c.bound.load(std::memory_order_acquire))
      return interrupts_handled(cpu, kind) == before ? -ESRCH : 0;
    if (KMODEL_TSAN && ktime_get_mono_fast_ns() > resend_at) {
      // ThreadSanitizer queues a signal that lands outside a blocking call
      // and, rarely, never runs it (1 run in 25 of an NMI test on a loaded
      // machine). A signal still pending merges with the new one.
      (void)send_interrupt(cpu, kind);
      resend_at = ktime_get_mono_fast_ns() + kTsanResendAfterNs;
    }
    cpu_relax();
  }
  return 0;
}

}  // namespace kmodel::native

// ---- The native backend's side of the platform interface -------------------

namespace kmodel::native {

#if KMODEL_TSAN
// ThreadSanitizer delivers signals only when the thread enters an
// intercepted call; a pure pause loop would never take its NMI.
void cpu_relax() { usleep(0); }
#else
// A simulated CPU is a thread, and threads may outnumber cores (tests run in
// parallel, benchmarks share the machine). A kernel spinner waits for a CPU
// that is running; here the thread it waits for - the lock holder, or the
// queued waiter a FIFO lock was just handed to - may be descheduled, and
// pure spinning would burn whole time slices per handover (an MCS queue of
// three threads on two cores then makes ~100 handovers a second). So every
// CPU_RELAX_YIELD_PERIOD-th spin gives the core away. Semantics are
// unchanged: only wall-clock time, which the model's timeouts measure anyway.
void cpu_relax() {
  static_assert((CPU_RELAX_YIELD_PERIOD & (CPU_RELAX_YIELD_PERIOD - 1)) == 0);
  static thread_local unsigned spins = 0;
  __builtin_ia32_pause();
  if ((++spins & (CPU_RELAX_YIELD_PERIOD - 1)) == 0) sched_yield();
}
#endif

int num_possible_cpus() { return NR_CPUS; }

void schedule() {
  // The task sleeps; its idle CPU takes the irq_work it raised meanwhile.
  take_irq_work_interrupt(current_cpu());
  cpu_relax();
}

u64 ktime_get_mono_fast_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<u64>(ts.tv_sec) * NSEC_PER_SEC + static_cast<u64>(ts.tv_nsec);
}

namespace internal {

void run_pending_hardirq(CpuContext* ctx) {
  // Runs with irqs enabled; a new hardirq signal arriving now runs directly.
  if (ctx->hardirq_pending.exchange(false, std::memory_order_relaxed))
    run_handler(g_cpus[ctx->cpu], IrqKind::kHardirq);
}

void invariant_failed(const char* file, int line, const std::string& what) {
  std::fprintf(stderr, "kmodel: %s:%d: %s\n", file, line, what.c_str());
  std::abort();
}

}  // namespace internal
}  // namespace kmodel::native
