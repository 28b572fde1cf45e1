// stream/bpf_stream_wait.h: the two notification pieces the `next` profile's
// stream fds need: irq_work (a callback deferred from any context, NMI
// included, to a later point of the same CPU) and a wait queue (sleepers a
// waker finds under a lock).
//
// Mirrors: include/linux/irq_work.h and kernel/irq_work.c (irq_work_queue,
// irq_work_run, irq_work_sync), include/linux/wait.h and kernel/sched/wait.c
// (wait_queue_head, prepare_to_wait, finish_wait, wake_up), Linux 6.18, the
// subset kernel/bpf/stream.c of the in-review "stream-fd" series uses.
//
// Contract
//   irq_work_queue(work) from any context: claims the work (false when it is
//   already pending: the queued run will see the caller's data, because the
//   claim is a full-barrier cmpxchg after the caller's writes) and puts it on
//   this CPU's list; the first work on an empty list raises the CPU's
//   irq_work interrupt (model/cpu.h: arch_irq_work_raise). The callback runs
//   later, on this CPU, when irq_work_run() runs there:
//     - the interrupt: the simulator takes it at the CPU's next step where a
//       hardirq can be delivered (task or softirq context, irqs on: right
//       after an NMI or hardirq handler that queued it returns, when irqs
//       come back on, and when the CPU goes idle, its body done or its task
//       asleep), whatever code runs there, inside bpf_prog_run or not;
//       natively at the points that poll for it (a program run's return to
//       task context, a task asleep in wait_woken, irq_work_sync's spin);
//     - or an explicit irq_work_run() (tests; the setup of scenarios).
//   Never inside the queueing call: a writer in NMI never runs the wake-up.
//   irq_work_sync(work) waits (spinning with cpu_relax) until a queued or
//   running callback has finished; spinning with irqs on it takes this
//   CPU's irq_work interrupt. A work queued on another CPU needs that CPU to
//   take its interrupt, as the kernel's always does.
//
//   Wait queue: wait_queue_head_init; a sleeper does
//       prepare_to_wait(wq, &wait)   // registered, then a full barrier
//       if (!condition) wait_woken(&wait);   // asleep until a wake_up
//       finish_wait(wq, &wait);
//   wake_up(wq) marks every registered sleeper woken (release) under the
//   queue's lock (irqs off): every entry is non-exclusive, so two readers
//   and a poller on one stream are all woken. A sleeper that registers
//   before it checks the condition cannot miss a wake-up that follows the
//   condition's change.
//
//   Signals (the part wait_event_interruptible needs): each CPU runs one
//   task in the model, so a task's pending signal is a per-CPU flag.
//   signal_wake_up(cpu) (kill(), from any CPU or an interrupt) sets it
//   (release) and so ends that task's interruptible sleep: wait_woken
//   returns when woken OR a signal is pending. A sleeper that finds its
//   condition false and a signal pending returns -ERESTARTSYS (user space
//   sees -EINTR, or the call restarted). signal_pending() reads the current
//   task's flag (acquire); clear_signal_pending() is its delivery on the
//   return to user space.
//
// Concurrency: the queue's lock is a test-and-set lock on the platform's
// atomics (every step a scheduling point in the simulator), taken with irqs
// off, as spin_lock_irqsave. Entries live on the sleeper's stack.
#ifndef KMODEL_STREAM_BPF_STREAM_WAIT_H_
#define KMODEL_STREAM_BPF_STREAM_WAIT_H_

#include "model/atomic.h"
#include "model/types.h"
#include "sync/llist.h"

KMODEL_NAMESPACE_BEGIN

// ---- irq_work --------------------------------------------------------------------

struct irq_work;
using irq_work_func_t = void (*)(irq_work* work);

// flags: 0 idle, IRQ_WORK_PENDING queued, IRQ_WORK_BUSY running.
inline constexpr int IRQ_WORK_PENDING = 1;
inline constexpr int IRQ_WORK_BUSY = 2;

struct irq_work {
  Atomic<int> flags;
  llist_node node;
  irq_work_func_t func = nullptr;
};

void init_irq_work(irq_work* work, irq_work_func_t func);
bool irq_work_queue(irq_work* work);
// Runs every work queued on this CPU (task context or a hardirq's exit).
void irq_work_run();
void irq_work_sync(irq_work* work);

// ---- wait queues -----------------------------------------------------------------

struct wait_queue_entry {
  Atomic<int> woken;                  // set by wake_up (release)
  wait_queue_entry* next = nullptr;   // under the head's lock
  wait_queue_entry* prev = nullptr;
  bool queued = false;
};

struct wait_queue_head {
  Atomic<int> lock;                   // 0 free, 1 held (irqs off while held)
  wait_queue_entry* first = nullptr;  // under lock
};

void init_waitqueue_head(wait_queue_head* wq);
// Registers `wait` (not yet woken) and issues a full barrier, as
// prepare_to_wait + set_current_state.
void prepare_to_wait(wait_queue_head* wq, wait_queue_entry* wait);
// Sleeps until woken or signalled: schedule() (model/cpu.h) until
// wait->woken or a pending signal is seen (acquire). The task is off its
// CPU: the idle CPU takes interrupts, its irq_work included.
void wait_woken(wait_queue_entry* wait);
void finish_wait(wait_queue_head* wq, wait_queue_entry* wait);
void wake_up(wait_queue_head* wq);
// Wakes at most nr sleepers (the first nr of the list; nr <= 0: all), as the
// kernel's wake_up_nr does for exclusive waiters. Only seeded bugs use it on
// a stream: its waiters are all non-exclusive.
void wake_up_nr(wait_queue_head* wq, int nr);
// Whether anyone is registered (a snapshot under the lock; for checks).
bool waitqueue_active(wait_queue_head* wq);
// How many are registered (a snapshot under the lock; for checks).
int waitqueue_len(wait_queue_head* wq);

// ---- signals ---------------------------------------------------------------------

// The kernel's internal "restart the system call" (include/linux/errno.h).
inline constexpr int ERESTARTSYS = 512;

void signal_wake_up(int cpu);
bool signal_pending();
void clear_signal_pending();

KMODEL_NAMESPACE_END

#endif  // KMODEL_STREAM_BPF_STREAM_WAIT_H_
