// sync/rqspinlock_baseline.cc: kernel/locking/qspinlock.c's slow path, the
// check-free twin of sync/rqspinlock.cc (same transitions, no way out).
#include "sync/rqspinlock_baseline.h"

#include "model/machine_state.h"

KMODEL_NAMESPACE_BEGIN

namespace {

PerCpu<qnode_set> qnodes;

void reset_qnodes() {
  for (int cpu = 0; cpu < NR_CPUS; ++cpu) {
    for (qnode& q : per_cpu_ptr(&qnodes, cpu)->nodes) {
      plain_write(q.mcs.next, nullptr);
      plain_write(q.mcs.locked, 0);
      plain_write(q.mcs.count, 0);
    }
  }
}

const MachineStateReset kReset(&reset_qnodes);

void pending_wait(qspinlock* lock, u32 val) {
  if (val & _Q_LOCKED_MASK)
    smp_cond_load_acquire(&lock->val, [](u32 v) { return !(v & _Q_LOCKED_MASK); });
  clear_pending_set_locked(lock);
}

void mcs_queue(qspinlock* lock, mcs_spinlock* node, u32 tail) {
  plain_write(node->locked, 0);
  plain_write(node->next, nullptr);
  if (queued_spin_trylock(lock)) return;
  smp_wmb();
  const u32 old = xchg_tail(lock, tail);
  mcs_spinlock* next = nullptr;
  if (old & _Q_TAIL_MASK) {
    WRITE_ONCE(decode_tail(old, &qnodes)->next, node);
    smp_cond_load_acquire(&node->locked, [](int l) { return l != 0; });
    next = READ_ONCE(node->next);
  }
  u32 val = smp_cond_load_acquire(&lock->val, [](u32 v) { return !(v & _Q_LOCKED_PENDING_MASK); });
  if ((val & _Q_TAIL_MASK) == tail &&
      atomic_try_cmpxchg_relaxed(&lock->val, &val, _Q_LOCKED_VAL))
    return;
  set_locked(lock);
  if (!next) next = smp_cond_load_relaxed(&node->next, [](mcs_spinlock* n) { return n != nullptr; });
  smp_store_release(&next->locked, 1);
}

void queue_slowpath(qspinlock* lock) {
  mcs_spinlock* base = &this_cpu_ptr(&qnodes)->nodes[0].mcs;
  const int idx = plain_read(base->count);
  plain_write(base->count, idx + 1);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  if (__builtin_expect(idx >= _Q_MAX_NODES, 0)) {
    while (!queued_spin_trylock(lock)) cpu_relax();
  } else {
    mcs_queue(lock, grab_mcs_node(base, idx), encode_tail(smp_processor_id(), idx));
  }
  std::atomic_signal_fence(std::memory_order_seq_cst);
  plain_write(base->count, idx);
}

}  // namespace

void queued_spin_lock_slowpath(qspinlock* lock, u32 val) {
  if (val == _Q_PENDING_VAL) val = queued_spin_pending_loops(lock);
  if (!(val & ~_Q_LOCKED_MASK)) {
    val = queued_fetch_set_pending_acquire(lock);
    if (!(val & ~_Q_LOCKED_MASK)) return pending_wait(lock, val);
    if (!(val & _Q_PENDING_MASK)) clear_pending(lock);
  }
  queue_slowpath(lock);
}

KMODEL_NAMESPACE_END
