#include "model/cpu.h"

#include <cstdio>
#include <cstdlib>

KMODEL_NAMESPACE_BEGIN

namespace internal {
constinit thread_local CpuContext* tls_current_cpu = nullptr;

void no_cpu_bound() {
  std::fprintf(stderr,
               "kmodel: this thread is not bound to a CPU; bind it with "
               "kmodel::native::CpuBinding (or run the code inside a "
               "simulated machine)\n");
  std::abort();
}
}  // namespace internal

const char* irq_kind_name(IrqKind kind) {
  switch (kind) {
    case IrqKind::kSoftirq: return "softirq";
    case IrqKind::kHardirq: return "hardirq";
    case IrqKind::kNmi: return "nmi";
  }
  return "?";
}

static unsigned offset_of(IrqKind kind) {
  switch (kind) {
    case IrqKind::kSoftirq: return SOFTIRQ_OFFSET;
    case IrqKind::kHardirq: return HARDIRQ_OFFSET;
    case IrqKind::kNmi: return NMI_OFFSET + HARDIRQ_OFFSET;
  }
  return 0;
}

InterruptContext::InterruptContext(IrqKind kind)
    : ctx_(current_cpu()),
      offset_(offset_of(kind)),
      irqs_were_disabled_(ctx_->irqs_disabled.load(std::memory_order_relaxed)) {
  ctx_->preempt_count.fetch_add(offset_, std::memory_order_relaxed);
  // Hardware masks irqs while it delivers a hardirq or an NMI.
  if (kind != IrqKind::kSoftirq)
    ctx_->irqs_disabled.store(true, std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
}

InterruptContext::~InterruptContext() {
  std::atomic_signal_fence(std::memory_order_seq_cst);
  ctx_->irqs_disabled.store(irqs_were_disabled_, std::memory_order_relaxed);
  ctx_->preempt_count.fetch_sub(offset_, std::memory_order_relaxed);
}

namespace {
std::atomic<irq_work_interrupt_fn> g_irq_work_handler{nullptr};
}  // namespace

void set_irq_work_interrupt_handler(irq_work_interrupt_fn fn) {
  g_irq_work_handler.store(fn, std::memory_order_release);
}

bool take_irq_work_interrupt(CpuContext* ctx) {
  const unsigned pc = ctx->preempt_count.load(std::memory_order_relaxed);
  if (ctx->irqs_disabled.load(std::memory_order_relaxed) || (pc & (HARDIRQ_MASK | NMI_MASK)))
    return false;
  if (!ctx->irq_work_raised.exchange(false, std::memory_order_relaxed)) return false;
  const irq_work_interrupt_fn fn = g_irq_work_handler.load(std::memory_order_acquire);
  if (fn == nullptr) return false;
  InterruptContext in(IrqKind::kHardirq);
  fn();
  return true;
}

KMODEL_NAMESPACE_END
