// sync/rqspinlock.cc: the slow path of the resilient queued spinlock.
//
// Mirrors kernel/bpf/rqspinlock.c; see sync/rqspinlock.h for the contract,
// the held-locks table and the differences between the two profiles.
//
//              fast     :    slow                                  :    unlock
//                       :                                          :
// uncontended  (0,0,0) -:--> (0,0,1) ------------------------------:--> (*,*,0)
//                       :       | ^--------.------.             /  :
//                       :       v           \      \            |  :
// pending               :    (0,1,1) +--> (0,1,0)   \           |  :
//                       :       | ^--'              |           |  :
//                       :       v                   |           |  :
// uncontended           :    (n,x,y) +--> (n,0,0) --'           |  :
//   queue               :       | ^--'                          |  :
//                       :       v                               |  :
// contended             :    (*,x,y) +--> (*,0,0) ---> (*,0,1) -'  :
//   queue               :         ^--'                             :
#include "sync/rqspinlock.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include "model/machine_state.h"

KMODEL_NAMESPACE_BEGIN

PerCpu<rqspinlock_held> rqspinlock_held_locks;

namespace {

// Written into a successor's node->locked by a queue head that timed out.
constexpr int RES_TIMEOUT_VAL = 2;

PerCpu<qnode_set> rqnodes;

// Model lockevents, per CPU (each written by its own CPU only).
struct rqspinlock_lockevents {
  Atomic<u64> count[static_cast<int>(RqspinlockEvent::kNrEvents)];
};
PerCpu<rqspinlock_lockevents> rqspinlock_events;

void lockevent_inc(RqspinlockEvent e) {
  Atomic<u64>& c = this_cpu_ptr(&rqspinlock_events)->count[static_cast<int>(e)];
  plain_write(c, plain_read(c) + 1);
}

rqspinlock_cadence g_cadence;

#if KMODEL_IS_SIM
RqspinlockSeededBug g_seeded_bug = RqspinlockSeededBug::kNone;
#endif

void reset_rqspinlock_state() {
  for (int cpu = 0; cpu < NR_CPUS; ++cpu) {
    rqspinlock_held* rqh = per_cpu_ptr(&rqspinlock_held_locks, cpu);
    plain_write(rqh->cnt, 0);
    for (auto& entry : rqh->locks) plain_write(entry, nullptr);
    for (auto& c : per_cpu_ptr(&rqspinlock_events, cpu)->count) plain_write(c, u64{0});
    for (qnode& q : per_cpu_ptr(&rqnodes, cpu)->nodes) {
      plain_write(q.mcs.next, nullptr);
      plain_write(q.mcs.locked, 0);
      plain_write(q.mcs.count, 0);
    }
  }
  g_cadence = rqspinlock_cadence{};
#if KMODEL_IS_SIM
  g_seeded_bug = RqspinlockSeededBug::kNone;
#endif
}

const MachineStateReset kReset(&reset_rqspinlock_state);

// ---- Timeouts and deadlock checks -------------------------------------------

struct rqspinlock_timeout {
  u64 timeout_end = 0;
  u64 duration = 0;
  u64 cur = 0;  // when deadlock checks last ran
  u32 spin = 0;
};

// Each waiting period has its own duration; `spin` keeps running across
// periods, as the kernel's u16 counter does.
void res_reset_timeout(rqspinlock_timeout* ts, u64 duration) {
  ts->timeout_end = 0;
  ts->duration = duration;
}

int check_deadlock_AA(rqspinlock_t* lock) {
  if (rqspinlock_seeded_bug(RqspinlockSeededBug::kSkipAaCheck)) return 0;
  rqspinlock_held* rqh = this_cpu_ptr(&rqspinlock_held_locks);
  const int cnt = std::min(RES_NR_HELD, READ_ONCE(rqh->cnt));
  // The top entry is this attempt; any entry below it naming the same lock
  // is an acquisition this CPU made (or is making) in an outer context.
  for (int i = 0; i < cnt - 1; i++) {
    if (READ_ONCE(rqh->locks[i]) == lock) return -EDEADLK;
  }
  return 0;
}

bool is_lock_released(rqspinlock_t* lock, u32 mask) {
  return !(atomic_read_acquire(&lock->val) & mask);
}

// Does the remote CPU hold `lock` below its top entry while its top entry
// (what it waits for) is a lock we hold below ours? Only the common
// two-CPU cycle is detected; longer cycles are left to the timeouts.
int check_deadlock_ABBA(rqspinlock_t* lock, u32 mask) {
  rqspinlock_held* rqh = this_cpu_ptr(&rqspinlock_held_locks);
  const int rqh_cnt = std::min(RES_NR_HELD, READ_ONCE(rqh->cnt));
  const int self = smp_processor_id();
  for (int cpu = 0; cpu < num_possible_cpus(); cpu++) {
    rqspinlock_held* remote = per_cpu_ptr(&rqspinlock_held_locks, cpu);
    const int real_cnt = READ_ONCE(remote->cnt);
    const int cnt = std::min(RES_NR_HELD, real_cnt);
    // Stop as soon as the lock can be taken: no deadlock then.
    if (is_lock_released(lock, mask)) return 0;
    // A participant holds one lock and attempts another (cnt >= 2); past
    // the table its attempt is not recorded, so nothing can be concluded.
    if (cpu == self || real_cnt < 2 || real_cnt > RES_NR_HELD) continue;
    void* remote_lock = READ_ONCE(remote->locks[cnt - 1]);
    if (remote_lock == nullptr) continue;  // raced with an update: skip
    for (int i = 0; i < cnt - 1; i++) {
      if (READ_ONCE(remote->locks[i]) != lock) continue;
      for (int j = 0; j < rqh_cnt - 1; j++) {
        if (READ_ONCE(rqh->locks[j]) == remote_lock) return -EDEADLK;
      }
      return 0;  // inconclusive: check again later
    }
  }
  return 0;
}

// 6.18: the first call starts the clock; AA and ABBA wait for the next
// sample at least one check interval later.
int check_timeout_618(rqspinlock_t* lock, u32 mask, rqspinlock_timeout* ts) {
  const u64 time = ktime_get_mono_fast_ns();
  const u64 prev = ts->cur;
  if (!ts->timeout_end) {
    ts->cur = time;
    ts->timeout_end = time + ts->duration;
    return 0;
  }
  if (time > ts->timeout_end) return -ETIMEDOUT;
  if (prev + g_cadence.deadlock_check_interval_ns < time) {
    ts->cur = time;
    int ret = check_deadlock_AA(lock);
    if (!ret) ret = check_deadlock_ABBA(lock, mask);
    return ret;
  }
  return 0;
}

// mainline: AA once, immediately, when a waiting period starts (before the
// clock is even read); ABBA at most once per check interval after that.
int check_timeout_mainline(rqspinlock_t* lock, u32 mask, rqspinlock_timeout* ts) {
  const u64 prev = ts->cur;
  if (!ts->timeout_end) {
    if (check_deadlock_AA(lock)) return -EDEADLK;
    ts->cur = ktime_get_mono_fast_ns();
    ts->timeout_end = ts->cur + ts->duration;
    return 0;
  }
  const u64 time = ktime_get_mono_fast_ns();
  if (time > ts->timeout_end) return -ETIMEDOUT;
  if (prev + g_cadence.deadlock_check_interval_ns < time) {
    ts->cur = time;
    return check_deadlock_ABBA(lock, mask);
  }
  return 0;
}

// When the wait next has something to do without any memory change: the
// timeout (time > timeout_end); earlier, the next deadlock check (AA and
// ABBA in 6.18, ABBA in mainline; both run when prev + interval < time),
// which can only find something if another CPU wrote meanwhile. Before this
// period's first sample: at once.
void res_declare_wait(const rqspinlock_timeout* ts) {
  if (!ts->timeout_end) {
    spin_wait_deadline(0);
    return;
  }
  spin_wait_deadline(ts->timeout_end + 1, ts->cur + g_cadence.deadlock_check_interval_ns + 1);
}

// RES_CHECK_TIMEOUT: amortised over spins_per_clock_sample spins. Returns
// the (sticky) error, 0 while the wait may go on. In the simulator the wait
// declares its next deadline; a clock jump to it stands for the spins until
// then, so the sample happens now (model/clock.h, "Waiting for time").
int res_check_timeout(rqspinlock_t* lock, u32 mask, rqspinlock_timeout* ts, int* ret) {
  if (spin_deadline_reached()) ts->spin = 0;
  if (ts->spin++ == 0) {
    *ret = rqspinlock_nov2025_fixes() ? check_timeout_mainline(lock, mask, ts)
                                      : check_timeout_618(lock, mask, ts);
  }
  if (ts->spin >= g_cadence.spins_per_clock_sample) ts->spin = 0;
  if (!*ret) res_declare_wait(ts);
  return *ret;
}

// ---- Pending path -----------------------------------------------------------

// We own the pending bit (0,1,x): wait for the owner to leave, then take the
// lock and clear pending in one step (0,1,0 -> 0,0,1).
int pending_wait(rqspinlock_t* lock, u32 val, rqspinlock_timeout* ts) {
  if (!rqspinlock_nov2025_fixes()) grab_held_lock_entry(lock);
  int ret = 0;
  if (val & _Q_LOCKED_MASK) {
    res_reset_timeout(ts, RES_DEF_TIMEOUT);
    // Acquire pairs with the owner's release of the locked byte.
    smp_cond_load_acquire(&lock->val, [&](u32 v) {
      return !(v & _Q_LOCKED_MASK) || res_check_timeout(lock, _Q_LOCKED_MASK, ts, &ret);
    });
  }
  if (ret) {
    // We own the pending bit: give it back, or the lock stays unusable
    // once the stuck owner recovers (*,1,* -> *,0,*).
    if (!rqspinlock_seeded_bug(RqspinlockSeededBug::kPendingNotClearedOnTimeout))
      clear_pending(lock);
    release_held_lock_entry();
    return ret;
  }
  clear_pending_set_locked(lock);
  return 0;
}

// ---- Queue path ---------------------------------------------------------------

// No usable MCS node (all four in use, or an NMI that must not queue behind
// the waiter it interrupted): 6.18 spins on trylock until the timeout;
// mainline tries once.
int trylock_fallback(rqspinlock_t* lock, rqspinlock_timeout* ts) {
  if (rqspinlock_nov2025_fixes()) return queued_spin_trylock(lock) ? 0 : -EDEADLK;
  int ret = 0;
  res_reset_timeout(ts, RES_DEF_TIMEOUT);
  while (!queued_spin_trylock(lock)) {
    if (res_check_timeout(lock, ~0u, ts, &ret)) return ret;
    cpu_relax();
  }
  return 0;
}

// The head timed out, or a successor was told to leave: unlink ourselves if
// we are the tail (n,*,* -> 0,*,*), else tell our successor to leave too.
// Everyone behind the head thus leaves in FIFO order and no tail is lost.
void waitq_leave(rqspinlock_t* lock, mcs_spinlock* node, u32 tail) {
  if (try_cmpxchg_tail(lock, tail, 0)) return;
  mcs_spinlock* next = smp_cond_load_relaxed(&node->next, [](mcs_spinlock* n) { return n != nullptr; });
  if (rqspinlock_seeded_bug(RqspinlockSeededBug::kQueueTimeoutForgetsSuccessor)) return;
  WRITE_ONCE(next->locked, RES_TIMEOUT_VAL);
}

// MCS queueing on `node`, which encodes as `tail`.
int mcs_queue(rqspinlock_t* lock, mcs_spinlock* node, u32 tail, rqspinlock_timeout* ts) {
  plain_write(node->locked, 0);
  plain_write(node->next, nullptr);
  // The node's cache line was cold: maybe the lock went free meanwhile.
  if (queued_spin_trylock(lock)) return 0;
  // Publish the node's initialisation before the tail names it.
  smp_wmb();
  const u32 old = xchg_tail(lock, tail);
  mcs_spinlock* next = nullptr;
  int ret = 0;
  if (old & _Q_TAIL_MASK) {
    mcs_spinlock* prev = decode_tail(old, &rqnodes);
    WRITE_ONCE(prev->next, node);
    // Non-head waiters have no timeout of their own: the head's covers them.
    const int v = smp_cond_load_acquire(&node->locked, [](int l) { return l != 0; });
    if (v == RES_TIMEOUT_VAL) {
      lockevent_inc(RqspinlockEvent::kToldToLeave);
      waitq_leave(lock, node, tail);
      return rqspinlock_told_to_leave_errno();
    }
    next = READ_ONCE(node->next);
  }
  // Queue head: wait for owner and pending waiter to go (*,x,y -> *,0,0).
  // Both may be ahead of us, hence twice the default timeout.
  res_reset_timeout(ts, RES_DEF_TIMEOUT * 2);
  u32 val = smp_cond_load_acquire(&lock->val, [&](u32 v) {
    return !(v & _Q_LOCKED_PENDING_MASK) ||
           res_check_timeout(lock, _Q_LOCKED_PENDING_MASK, ts, &ret);
  });
  if (ret) {
    if (ret == -EDEADLK) {
      // The last waiter: the queue ends with us either way.
      if (!next && try_cmpxchg_tail(lock, tail, 0)) return ret;
      lockevent_inc(RqspinlockEvent::kHeadDeadlockWithWaiters);
      if (rqspinlock_keeps_queue_on_deadlock()) {
        // Mainline: the deadlock is ours, not the queue's; the successor
        // becomes the head (arch_mcs_spin_unlock_contended).
        if (!next) next = smp_cond_load_relaxed(&node->next, [](mcs_spinlock* n) { return n != nullptr; });
        smp_store_release(&next->locked, 1);
        return ret;
      }
    }
    waitq_leave(lock, node, tail);  // seed, 6.18: the whole queue leaves
    return ret;
  }
  // Alone in the queue: n,0,0 -> 0,0,1. A concurrent pending setter makes
  // this fail and will queue behind us, so we then see a successor.
  if ((val & _Q_TAIL_MASK) == tail &&
      atomic_try_cmpxchg_relaxed(&lock->val, &val, _Q_LOCKED_VAL))
    return 0;
  set_locked(lock);  // *,*,0 -> *,*,1
  if (!next) next = smp_cond_load_relaxed(&node->next, [](mcs_spinlock* n) { return n != nullptr; });
  smp_store_release(&next->locked, 1);  // hand the queue head over
  return 0;
}

int queue_slowpath(rqspinlock_t* lock, rqspinlock_timeout* ts) {
  if (rqspinlock_nov2025_fixes()) {
    // Do not queue behind a lock this CPU holds or waits for in an outer
    // context: nobody ahead of us could ever move.
    if (check_deadlock_AA(lock)) {
      release_held_lock_entry();
      return -EDEADLK;
    }
  } else {
    grab_held_lock_entry(lock);
  }
  mcs_spinlock* base = &this_cpu_ptr(&rqnodes)->nodes[0].mcs;
  const int idx = plain_read(base->count);
  plain_write(base->count, idx + 1);
  // The count must be taken before the node is written: an interrupt that
  // queues in between must pick the next node, not ours.
  std::atomic_signal_fence(std::memory_order_seq_cst);
  // seed: an NMI queues like anyone; 6.18: never; mainline: only on its
  // first node (none of this CPU's contexts is queued).
  const bool nmi_must_not_queue =
      in_nmi() && !rqspinlock_nmi_queues() && (!rqspinlock_nov2025_fixes() || idx > 0);
  int ret;
  if (__builtin_expect(idx >= _Q_MAX_NODES || nmi_must_not_queue, 0))
    ret = trylock_fallback(lock, ts);
  else
    ret = mcs_queue(lock, grab_mcs_node(base, idx), encode_tail(smp_processor_id(), idx), ts);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  plain_write(base->count, idx);
  if (ret) release_held_lock_entry();
  return ret;
}

}  // namespace

int resilient_queued_spin_lock_slowpath(rqspinlock_t* lock, u32 val) {
  rqspinlock_timeout ts;
  // An in-flight pending->locked handover (0,1,0 -> 0,0,1): give it a
  // bounded number of spins before treating it as contention.
  if (val == _Q_PENDING_VAL) val = queued_spin_pending_loops(lock);
  if (!(val & ~_Q_LOCKED_MASK)) {
    // trylock || pending: 0,0,* -> 0,1,*
    val = queued_fetch_set_pending_acquire(lock);
    if (!(val & ~_Q_LOCKED_MASK)) return pending_wait(lock, val, &ts);
    // Someone else is pending or queued: undo our pending bit (if it was
    // ours) - it may be what keeps the queue head from n,0,0 -> 0,0,1.
    if (!(val & _Q_PENDING_MASK)) clear_pending(lock);
  }
  return queue_slowpath(lock, &ts);
}

int resilient_tas_spin_lock(rqspinlock_t* lock) {
  rqspinlock_timeout ts;
  int ret = 0;
  // No fast path precedes the TAS fallback: take the entry here.
  grab_held_lock_entry(lock);
  // The wait depends on the amount of contention, not on one critical
  // section: a second, not 250 ms.
  res_reset_timeout(&ts, NSEC_PER_SEC);
  for (;;) {
    u32 val = atomic_read(&lock->val);
    if (!val && atomic_try_cmpxchg(&lock->val, &val, 1u)) return 0;
    if (res_check_timeout(lock, ~0u, &ts, &ret)) break;
    cpu_relax();
  }
  release_held_lock_entry();
  return ret;
}

int rqspinlock_told_to_leave_errno() { return rqspinlock_nov2025_fixes() ? -ETIMEDOUT : -EDEADLK; }

// ---- BPF kfuncs ----------------------------------------------------------------

namespace {

// Snapshot of this CPU's table after the failed attempt dropped its entry,
// handed to the sink (the stream module stages it on the program's stderr).
void bpf_prog_report_rqspinlock_violation(int ret, struct bpf_res_spin_lock* lock, bool irqsave) {
  RqspinlockReportSink* sink = rqspinlock_report_sink();
  if (sink == nullptr) return;
  rqspinlock_held* rqh = this_cpu_ptr(&rqspinlock_held_locks);
  RqspinlockViolation v;
  v.ret = ret;
  v.irqsave = irqsave;
  v.lock = lock;
  v.held_cnt = READ_ONCE(rqh->cnt);
  for (int i = 0; i < std::min(RES_NR_HELD, v.held_cnt); i++) v.held[i] = READ_ONCE(rqh->locks[i]);
  sink->report(v);
}

}  // namespace

int bpf_res_spin_lock(struct bpf_res_spin_lock* lock) {
  preempt_disable();
  const int ret = res_spin_lock(&lock->lock);
  if (__builtin_expect(ret != 0, 0)) {
    bpf_prog_report_rqspinlock_violation(ret, lock, false);
    preempt_enable();
    return ret;
  }
  return 0;
}

void bpf_res_spin_unlock(struct bpf_res_spin_lock* lock) {
  res_spin_unlock(&lock->lock);
  preempt_enable();
}

int bpf_res_spin_lock_irqsave(struct bpf_res_spin_lock* lock, unsigned long* flags__irq_flag) {
  unsigned long flags;
  preempt_disable();
  local_irq_save(flags);
  const int ret = res_spin_lock(&lock->lock);
  if (__builtin_expect(ret != 0, 0)) {
    bpf_prog_report_rqspinlock_violation(ret, lock, true);
    local_irq_restore(flags);
    preempt_enable();
    return ret;
  }
  *flags__irq_flag = flags;
  return 0;
}

void bpf_res_spin_unlock_irqrestore(struct bpf_res_spin_lock* lock, unsigned long* flags__irq_flag) {
  const unsigned long flags = *flags__irq_flag;
  res_spin_unlock(&lock->lock);
  local_irq_restore(flags);
  preempt_enable();
}

// ---- Introspection and configuration --------------------------------------------

u64 rqspinlock_event_count(int cpu, RqspinlockEvent event) {
  return plain_read(per_cpu_ptr(&rqspinlock_events, cpu)->count[static_cast<int>(event)]);
}

int rqspinlock_nodes_in_use(int cpu) {
  return plain_read(per_cpu_ptr(&rqnodes, cpu)->nodes[0].mcs.count);
}

std::string rqspinlock_describe(const rqspinlock_t* lock) {
  const u32 val = plain_read(lock->val);
  const u32 tail = val & _Q_TAIL_MASK;
  char where[32] = "no tail";
  if (tail != 0)
    std::snprintf(where, sizeof(where), "tail cpu %d idx %u",
                  static_cast<int>(tail >> _Q_TAIL_CPU_OFFSET) - 1,
                  (tail & _Q_TAIL_IDX_MASK) >> _Q_TAIL_IDX_OFFSET);
  char buf[96];
  std::snprintf(buf, sizeof(buf), "0x%08x (%s, pending %u, locked %u)", val, where,
                (val & _Q_PENDING_MASK) >> _Q_PENDING_OFFSET, val & _Q_LOCKED_MASK);
  return buf;
}

namespace {
// "cpu/idx" of a node, "-" for none, "?" for a pointer that is no node.
std::string describe_node_ptr(const mcs_spinlock* node) {
  if (node == nullptr) return "-";
  for (int cpu = 0; cpu < NR_CPUS; ++cpu)
    for (int idx = 0; idx < _Q_MAX_NODES; ++idx)
      if (node == &per_cpu_ptr(&rqnodes, cpu)->nodes[idx].mcs)
        return std::to_string(cpu) + "/" + std::to_string(idx);
  return "?";
}
}  // namespace

std::string rqspinlock_describe_cpu(int cpu) {
  qnode_set* set = per_cpu_ptr(&rqnodes, cpu);
  std::string out = "cpu " + std::to_string(cpu) + ": nodes in use " +
                    std::to_string(plain_read(set->nodes[0].mcs.count));
  for (int idx = 0; idx < _Q_MAX_NODES; ++idx) {
    const mcs_spinlock& n = set->nodes[idx].mcs;
    out += "; node " + std::to_string(idx) + " locked " + std::to_string(plain_read(n.locked)) +
           " next " + describe_node_ptr(plain_read(n.next));
  }
  rqspinlock_held* rqh = per_cpu_ptr(&rqspinlock_held_locks, cpu);
  const int cnt = plain_read(rqh->cnt);
  out += "; held cnt " + std::to_string(cnt) + " [";
  char buf[24];
  for (int i = 0; i < std::min(cnt, RES_NR_HELD); ++i) {
    std::snprintf(buf, sizeof(buf), "%s%p", i ? " " : "", plain_read(rqh->locks[i]));
    out += buf;
  }
  return out + "]";
}

const rqspinlock_cadence& rqspinlock_get_cadence() { return g_cadence; }

void rqspinlock_set_cadence(const rqspinlock_cadence& cadence) {
  g_cadence = cadence;
  if (g_cadence.spins_per_clock_sample == 0) g_cadence.spins_per_clock_sample = 1;
}

namespace rqspinlock_internal {
// kUnlockTableBeforeRelease: the table forgets the lock before the word is
// released, so an NMI in between cannot see the AA it is about to cause.
void unlock_seeded(rqspinlock_t* lock, rqspinlock_held* rqh) {
  const int cnt = READ_ONCE(rqh->cnt);
  if (cnt <= RES_NR_HELD) WRITE_ONCE(rqh->locks[cnt - 1], nullptr);
  WRITE_ONCE(rqh->cnt, cnt - 1);
  queued_spin_release(lock);
}
}  // namespace rqspinlock_internal

#if KMODEL_IS_SIM
void rqspinlock_seed_bug(RqspinlockSeededBug bug) { g_seeded_bug = bug; }
bool rqspinlock_seeded_bug(RqspinlockSeededBug bug) {
  return bug != RqspinlockSeededBug::kNone && g_seeded_bug == bug;
}
#endif

KMODEL_NAMESPACE_END
