// stream/bpf_stream_wait.cc: see bpf_stream_wait.h.
#include "stream/bpf_stream_wait.h"

#include "model/cpu.h"
#include "model/machine_state.h"
#include "model/percpu.h"

KMODEL_NAMESPACE_BEGIN

namespace {

// Each CPU's queued works (the kernel's raised_list).
PerCpu<llist_head> g_irq_work_list;
// The pending signal of the task each CPU runs (TIF_SIGPENDING).
PerCpu<Atomic<int>> g_sigpending;

void reset_irq_work() {
  for (int cpu = 0; cpu < NR_CPUS; cpu++) {
    init_llist_head(per_cpu_ptr(&g_irq_work_list, cpu));
    atomic_set(per_cpu_ptr(&g_sigpending, cpu), 0);
  }
}
const MachineStateReset kReset(&reset_irq_work);

// The CPU's irq_work interrupt runs the list (model/cpu.h).
const bool kHandlerSet = (set_irq_work_interrupt_handler(&irq_work_run), true);

}  // namespace

void init_irq_work(irq_work* work, irq_work_func_t func) {
  atomic_set(&work->flags, 0);
  work->func = func;
}

bool irq_work_queue(irq_work* work) {
  // The claim orders the caller's writes before the callback's reads.
  int old = 0;
  if (!try_cmpxchg(&work->flags, &old, IRQ_WORK_PENDING)) {
    // Already queued: that run is still to come. Running (BUSY only): queue
    // again, as the kernel's claim does (PENDING|BUSY).
    if (old != IRQ_WORK_BUSY || !try_cmpxchg(&work->flags, &old, IRQ_WORK_PENDING | IRQ_WORK_BUSY))
      return false;
  }
  // The first work on an empty list raises the CPU's irq_work interrupt;
  // later ones ride on it.
  if (llist_add(&work->node, this_cpu_ptr(&g_irq_work_list))) arch_irq_work_raise();
  return true;
}

void irq_work_run() {
  llist_node* list = llist_del_all(this_cpu_ptr(&g_irq_work_list));
  if (list == nullptr) return;
  list = llist_reverse_order(list);
  while (list != nullptr) {
    irq_work* work = llist_entry(list, irq_work, node);
    list = llist_next(list);
    // PENDING -> BUSY: a queue from now on queues a new run.
    atomic_set(&work->flags, IRQ_WORK_BUSY);
    smp_mb();
    work->func(work);
    int busy = IRQ_WORK_BUSY;
    try_cmpxchg_release(&work->flags, &busy, 0);
  }
}

void irq_work_sync(irq_work* work) {
  // Spinning with irqs on takes this CPU's irq_work interrupt, so a work
  // queued here runs (the kernel's would too).
  while (atomic_read_acquire(&work->flags) != 0) {
    irq_work_interrupt_point();
    cpu_relax();
  }
}

// ---- wait queues -----------------------------------------------------------------

namespace {

void wq_lock(wait_queue_head* wq, unsigned long* flags) {
  local_irq_save(*flags);
  for (;;) {
    int expected = 0;
    if (try_cmpxchg_acquire(&wq->lock, &expected, 1)) return;
    atomic_cond_read_relaxed(&wq->lock, [](int v) { return v == 0; });
  }
}

void wq_unlock(wait_queue_head* wq, unsigned long flags) {
  smp_store_release(&wq->lock, 0);
  local_irq_restore(flags);
}

}  // namespace

void init_waitqueue_head(wait_queue_head* wq) {
  atomic_set(&wq->lock, 0);
  wq->first = nullptr;
}

void prepare_to_wait(wait_queue_head* wq, wait_queue_entry* wait) {
  unsigned long flags;
  atomic_set(&wait->woken, 0);
  wq_lock(wq, &flags);
  if (!wait->queued) {
    wait->prev = nullptr;
    wait->next = wq->first;
    if (wq->first != nullptr) wq->first->prev = wait;
    wq->first = wait;
    wait->queued = true;
  }
  wq_unlock(wq, flags);
  smp_mb();  // set_current_state(): registered before the condition is read
}

void wait_woken(wait_queue_entry* wait) {
  // The task is off its CPU until woken; the idle CPU takes interrupts, so
  // a notification queued on it (an NMI or hardirq that wrote while the
  // reader slept) runs there and wakes this very sleeper (model/cpu.h).
  TaskAsleep asleep;
  while (atomic_read_acquire(&wait->woken) == 0 && !signal_pending()) schedule();
}

void finish_wait(wait_queue_head* wq, wait_queue_entry* wait) {
  unsigned long flags;
  wq_lock(wq, &flags);
  if (wait->queued) {
    if (wait->prev != nullptr) wait->prev->next = wait->next;
    else wq->first = wait->next;
    if (wait->next != nullptr) wait->next->prev = wait->prev;
    wait->queued = false;
  }
  wq_unlock(wq, flags);
}

void wake_up_nr(wait_queue_head* wq, int nr) {
  unsigned long flags;
  wq_lock(wq, &flags);
  int woken = 0;
  for (wait_queue_entry* w = wq->first; w != nullptr && (nr <= 0 || woken < nr); w = w->next) {
    smp_store_release(&w->woken, 1);
    woken++;
  }
  wq_unlock(wq, flags);
}

void wake_up(wait_queue_head* wq) { wake_up_nr(wq, 0); }

int waitqueue_len(wait_queue_head* wq) {
  unsigned long flags;
  wq_lock(wq, &flags);
  int n = 0;
  for (wait_queue_entry* w = wq->first; w != nullptr; w = w->next) n++;
  wq_unlock(wq, flags);
  return n;
}

// ---- signals ---------------------------------------------------------------------

void signal_wake_up(int cpu) { smp_store_release(per_cpu_ptr(&g_sigpending, cpu), 1); }

bool signal_pending() { return atomic_read_acquire(this_cpu_ptr(&g_sigpending)) != 0; }

void clear_signal_pending() { atomic_set(this_cpu_ptr(&g_sigpending), 0); }

bool waitqueue_active(wait_queue_head* wq) {
  unsigned long flags;
  wq_lock(wq, &flags);
  const bool active = wq->first != nullptr;
  wq_unlock(wq, flags);
  return active;
}

KMODEL_NAMESPACE_END
