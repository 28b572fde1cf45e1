// scenarios/rqspinlock_scenarios.cc: model-check scenarios of sync/rqspinlock.
//
// The invariants: at most one owner per lock at any time; a failed attempt
// leaves nothing behind (lock word, MCS nodes and held-locks tables return
// to empty); AA and ABBA end in -EDEADLK, never in a hang; timeouts fire at
// their bounds and leave the lock usable. Scenarios set the check cadence
// to one spin per clock sample so simulated timeouts cost few steps.
//
// Seeded bugs (sync/rqspinlock_seeded_bugs.h) are registered as their own
// entries under "rqspinlock/seeded_bug/...", each expected to be caught.
#include "scenarios/rqspinlock_scenarios.h"

#include <cstdio>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "model/bug.h"
#include "scenarios/catalogue.h"
#include "sync/rqspinlock.h"

KMODEL_NAMESPACE_BEGIN
namespace rqspinlock_scenarios {

namespace {

constexpr u64 kMs = NSEC_PER_MSEC;

// A CPU that keeps busy until `until` (a stuck owner, a back-off): a
// declared wait, so the clock jumps there once every other CPU waits too.
void spin_until(u64 until) {
  while (ktime_get_mono_fast_ns() < until) {
    spin_wait_deadline(until);
    cpu_relax();
  }
}

void fast_cadence() {
  rqspinlock_cadence c;
  c.spins_per_clock_sample = 1;
  rqspinlock_set_cadence(c);
}

// The (CPU, context) running now, as one small number: nested contexts of
// one CPU are different owners.
int context_id() { return smp_processor_id() * 4 + interrupt_context_level(); }

// A lock and the data it protects. `counter` is deliberately plain: only
// mutual exclusion keeps its read-modify-write from losing updates.
struct Guarded {
  rqspinlock_t lock;
  Atomic<int> owner{-1};
  long counter = 0;
};

void critical_section(Guarded* g, const char* name) {
  const int me = context_id();
  const int other = READ_ONCE(g->owner);
  MODEL_ASSERT(other == -1, absl::StrCat("lock ", name, ": context ", me,
                                         " entered while context ", other, " owns it"));
  WRITE_ONCE(g->owner, me);
  const long c = g->counter;
  // A scheduling point between the read and the write of the counter.
  MODEL_ASSERT(READ_ONCE(g->owner) == me, absl::StrCat("lock ", name, ": owner changed"));
  g->counter = c + 1;
  WRITE_ONCE(g->owner, -1);
}

// Everything a finished run must have given back.
void assert_machine_clean(int cpus) {
  for (int cpu = 0; cpu < cpus; ++cpu) {
    const int cnt = plain_read(per_cpu_ptr(&rqspinlock_held_locks, cpu)->cnt);
    MODEL_ASSERT(cnt == 0, absl::StrCat("CPU ", cpu, ": held-locks count ", cnt, " at end"));
    MODEL_ASSERT(rqspinlock_nodes_in_use(cpu) == 0,
                 absl::StrCat("CPU ", cpu, ": MCS node still in use at end"));
  }
}

void assert_lock_free(const rqspinlock_t* lock, const char* name) {
  const u32 val = plain_read(lock->val);
  MODEL_ASSERT(val == 0, absl::StrCat("lock ", name, " word 0x", absl::Hex(val),
                                      " at end (expected 0: no owner, pending or tail)"));
}

// Lock words, MCS queues and held-locks tables, for a failure report.
// Who holds and who waits, for a failure report (a hang above all): each
// named lock word, then each CPU's held-lock table and queue node.
void describe_wait_for(Scenario& s, std::vector<std::pair<const char*, const rqspinlock_t*>> locks) {
  s.describe_state([locks, cpus = s.cpus()] {
    std::string out = "wait-for:";
    for (const auto& [name, lock] : locks)
      absl::StrAppend(&out, "\n    lock ", name, " ", rqspinlock_describe(lock));
    for (int cpu = 0; cpu < cpus; ++cpu) absl::StrAppend(&out, "\n    ", rqspinlock_describe_cpu(cpu));
    // The held-lock tables print addresses, which differ from run to run:
    // name the scenario's locks instead, so a report replays to the same text.
    for (const auto& [name, lock] : locks) {
      char addr[32];
      std::snprintf(addr, sizeof(addr), "%p", static_cast<const void*>(lock));
      out = absl::StrReplaceAll(out, {{addr, name}});
    }
    return out;
  });
}

std::string describe_locks(const rqspinlock_t* a, const rqspinlock_t* b, int cpus) {
  std::string out = absl::StrCat("lock A ", rqspinlock_describe(a), "; lock B ",
                                 rqspinlock_describe(b));
  for (int cpu = 0; cpu < cpus; ++cpu) absl::StrAppend(&out, "\n    ", rqspinlock_describe_cpu(cpu));
  return out;
}

// ---- Mutual exclusion ----------------------------------------------------------

enum class Variant { kPlain, kRaw, kIrqsave };

int lock_with(Variant v, rqspinlock_t* lock, unsigned long* flags) {
  switch (v) {
    case Variant::kPlain: return res_spin_lock(lock);
    case Variant::kRaw: return raw_res_spin_lock(lock);
    case Variant::kIrqsave: return raw_res_spin_lock_irqsave(lock, *flags);
  }
  return -EINVAL;
}

void unlock_with(Variant v, rqspinlock_t* lock, unsigned long flags) {
  switch (v) {
    case Variant::kPlain: res_spin_unlock(lock); break;
    case Variant::kRaw: raw_res_spin_unlock(lock); break;
    case Variant::kIrqsave: raw_res_spin_unlock_irqrestore(lock, flags); break;
  }
}

struct MutexState {
  Guarded locks[2];
  std::vector<long> taken;  // per context id and lock: successful acquisitions
  explicit MutexState(int cpus) : taken(static_cast<std::size_t>(cpus * 4 * 2), 0) {}
};

const char* lock_name(int i) { return i == 0 ? "A" : "B"; }

// Takes lock i once; a failure must be one of the two resilient errors.
void take_once(MutexState* st, int i, Variant v) {
  unsigned long flags = 0;
  const int ret = lock_with(v, &st->locks[i].lock, &flags);
  MODEL_ASSERT(ret == 0 || ret == -EDEADLK || ret == -ETIMEDOUT,
               absl::StrCat("lock ", lock_name(i), ": unexpected return ", ret));
  if (ret) return;
  critical_section(&st->locks[i], lock_name(i));
  st->taken[static_cast<std::size_t>(context_id() * 2 + i)]++;
  unlock_with(v, &st->locks[i].lock, flags);
}

// Both counters match the acquisitions made, both locks and every CPU's
// nodes and table are back to empty.
void assert_mutex_state_clean(const MutexState& st, int cpus) {
  for (int i = 0; i < 2; ++i) {
    long sum = 0;
    for (std::size_t k = static_cast<std::size_t>(i); k < st.taken.size(); k += 2)
      sum += st.taken[k];
    MODEL_ASSERT(st.locks[i].counter == sum,
                 absl::StrCat("lock ", lock_name(i), ": counter ", st.locks[i].counter, " after ",
                              sum, " acquisitions (lost update)"));
    assert_lock_free(&st.locks[i].lock, lock_name(i));
  }
  assert_machine_clean(cpus);
}

}  // namespace

void mutual_exclusion(Scenario& s) {
  fast_cadence();
  const int cpus = s.cpus();
  auto st = std::make_shared<MutexState>(cpus);
  describe_wait_for(s, {{"A", &st->locks[0].lock}, {"B", &st->locks[1].lock}});
  // Tasks take A with any variant (irqs may stay on) and B with irqs off,
  // as every lock that a hardirq also takes must be taken.
  for (int cpu = 0; cpu < cpus; ++cpu) {
    const Variant v = static_cast<Variant>(cpu % 3);
    s.on_cpu(cpu, [st, cpu, v] {
      for (int round = 0; round < 2; ++round) {
        const int i = (cpu + round) % 2;
        take_once(st.get(), i, i == 0 ? v : Variant::kIrqsave);
      }
    });
  }
  // NMIs take the same lock as the task they interrupt and the other one;
  // hardirqs take B, the other lock of a task that holds or waits for A.
  s.nmi(0, [st] { take_once(st.get(), 0, Variant::kRaw); });
  s.hardirq(0, [st] { take_once(st.get(), 1, Variant::kPlain); });
  s.nmi(cpus - 1, [st] { take_once(st.get(), 1, Variant::kRaw); }, 1, "nmi-b");
  s.hardirq(cpus - 1, [st] { take_once(st.get(), 1, Variant::kPlain); }, 1, "hardirq-b");
  s.at_end([st, cpus] { assert_mutex_state_clean(*st, cpus); });
}

// ---- The native stress test's mix, under the checker --------------------------

void stress_mix(Scenario& s) {
  fast_cadence();
  const int cpus = s.cpus();
  auto st = std::make_shared<MutexState>(cpus);
  // As tests/sync/rqspinlock_native_stress_test: every task takes A with irqs
  // on and B with irqs off; every CPU's NMIs take A and its hardirqs take B.
  for (int cpu = 0; cpu < cpus; ++cpu) {
    s.on_cpu(cpu, [st] {
      for (int round = 0; round < 3; ++round) {
        take_once(st.get(), 0, Variant::kRaw);
        take_once(st.get(), 1, Variant::kIrqsave);
      }
    });
    s.nmi(cpu, [st] { take_once(st.get(), 0, Variant::kRaw); }, 2);
    s.hardirq(cpu, [st] { take_once(st.get(), 1, Variant::kRaw); }, 2);
  }
  s.describe_state([st, cpus] {
    return describe_locks(&st->locks[0].lock, &st->locks[1].lock, cpus);
  });
  s.at_end([st, cpus] { assert_mutex_state_clean(*st, cpus); });
}

// ---- An interrupt takes its task's lock (a hardirq with irqs on; an NMI) --------

namespace {
// Tasks take A twice each; one interrupt on CPU 0 takes A too, landing
// anywhere, also while its task is queued on A.
template <bool kNmi>
void interrupt_takes_task_lock(Scenario& s) {
  fast_cadence();
  auto st = std::make_shared<MutexState>(s.cpus());
  describe_wait_for(s, {{"A", &st->locks[0].lock}});
  for (int cpu = 0; cpu < s.cpus(); ++cpu)
    s.on_cpu(cpu, [st] {
      for (int round = 0; round < 2; ++round) take_once(st.get(), 0, Variant::kRaw);
    });
  if (kNmi) s.nmi(0, [st] { take_once(st.get(), 0, Variant::kRaw); });
  else s.hardirq(0, [st] { take_once(st.get(), 0, Variant::kPlain); });
  s.at_end([st, cpus = s.cpus()] {
    long sum = 0;
    for (std::size_t k = 0; k < st->taken.size(); k += 2) sum += st->taken[k];
    MODEL_ASSERT(st->locks[0].counter == sum, "lost update on lock A");
    assert_lock_free(&st->locks[0].lock, "A");
    assert_machine_clean(cpus);
  });
}
}  // namespace

void hardirq_same_lock_irqs_on(Scenario& s) { interrupt_takes_task_lock<false>(s); }
void nmi_same_lock(Scenario& s) { interrupt_takes_task_lock<true>(s); }

// ---- AA in an NMI -------------------------------------------------------------

namespace {
struct AaState {
  Guarded a;
  int task_failures = 0;  // written by the tasks only, never by the NMI
};

void aa_task(AaState* st) {
  for (int round = 0; round < 2; ++round) {
    if (raw_res_spin_lock(&st->a.lock)) {
      st->task_failures++;
      continue;
    }
    critical_section(&st->a, "A");
    raw_res_spin_unlock(&st->a.lock);
  }
}
}  // namespace

void aa_nmi(Scenario& s) {
  fast_cadence();
  auto st = std::make_shared<AaState>();
  describe_wait_for(s, {{"A", &st->a.lock}});
  // Not vacuous: some run must have the NMI interrupt an owner or waiter.
  const int nmi_saw_aa = s.goal("NMI got -EDEADLK");
  s.on_cpu(0, [st] { aa_task(st.get()); });
  s.on_cpu(1, [st] { aa_task(st.get()); });
  s.nmi(0, [st, nmi_saw_aa] {
    const u64 t0 = ktime_get_mono_fast_ns();
    const int ret = raw_res_spin_lock(&st->a.lock);
    const u64 waited = ktime_get_mono_fast_ns() - t0;
    MODEL_ASSERT(ret != -ETIMEDOUT,
                 absl::StrCat("NMI on CPU 0 spun ", waited / kMs,
                              " ms into -ETIMEDOUT: the AA on lock A went unseen"));
    MODEL_ASSERT(ret == 0 || ret == -EDEADLK, absl::StrCat("NMI: unexpected return ", ret));
    if (ret == 0) {
      critical_section(&st->a, "A");
      raw_res_spin_unlock(&st->a.lock);
    } else {
      reached(nmi_saw_aa);
    }
    if (ret == -EDEADLK && rqspinlock_nov2025_fixes()) {
      MODEL_ASSERT(waited < rqspinlock_get_cadence().deadlock_check_interval_ns,
                   absl::StrCat("mainline reports AA immediately, the NMI waited ", waited,
                                " ns"));
    }
  });
  s.at_end([st] {
    if (rqspinlock_nov2025_fixes())
      MODEL_ASSERT(st->task_failures == 0,
                   absl::StrCat(st->task_failures, " task attempts failed; none may"));
    assert_lock_free(&st->a.lock, "A");
    assert_machine_clean(2);
  });
}

// ---- ABBA across two CPUs -------------------------------------------------------

namespace {
struct AbbaState {
  rqspinlock_t lock[2];
  Atomic<int> first_held[2];
  int first_ret[2] = {1, 1};
  bool done[2] = {false, false};
};

constexpr int kAbbaAttempts = 50;

void abba_check_ret(int ret) {
  MODEL_ASSERT(ret == 0 || ret == -EDEADLK,
               absl::StrCat("ABBA attempt returned ", ret, " (only 0 or -EDEADLK allowed)"));
}

// Takes mine, then theirs; returns the second attempt's result.
int abba_attempt(AbbaState* st, int mine, int theirs, bool sync) {
  const int r1 = raw_res_spin_lock(&st->lock[mine]);
  abba_check_ret(r1);
  if (r1) return r1;
  if (sync) {
    // First attempt only: both hold their first lock before either asks
    // for the second, so the cycle is certain.
    WRITE_ONCE(st->first_held[mine], 1);
    while (!READ_ONCE(st->first_held[theirs])) cpu_relax();
  }
  const int r2 = raw_res_spin_lock(&st->lock[theirs]);
  abba_check_ret(r2);
  if (r2 == 0) raw_res_spin_unlock(&st->lock[theirs]);
  raw_res_spin_unlock(&st->lock[mine]);
  return r2;
}

void abba_body(AbbaState* st, int mine) {
  const int theirs = 1 - mine;
  st->first_ret[mine] = abba_attempt(st, mine, theirs, true);
  if (st->first_ret[mine] == 0) {
    st->done[mine] = true;
    return;
  }
  for (int i = 0; i < kAbbaAttempts && !st->done[mine]; ++i)
    st->done[mine] = abba_attempt(st, mine, theirs, false) == 0;
  MODEL_ASSERT(st->done[mine], absl::StrCat("CPU ", mine, " never got both locks in ",
                                            kAbbaAttempts, " retries"));
}
}  // namespace

void abba(Scenario& s) {
  fast_cadence();
  auto st = std::make_shared<AbbaState>();
  describe_wait_for(s, {{"A", &st->lock[0]}, {"B", &st->lock[1]}});
  s.on_cpu(0, [st] { abba_body(st.get(), 0); });
  s.on_cpu(1, [st] { abba_body(st.get(), 1); });
  s.at_end([st] {
    MODEL_ASSERT(st->first_ret[0] == -EDEADLK || st->first_ret[1] == -EDEADLK,
                 absl::StrCat("forced ABBA: neither side got -EDEADLK (", st->first_ret[0],
                              ", ", st->first_ret[1], ")"));
    assert_lock_free(&st->lock[0], "A");
    assert_lock_free(&st->lock[1], "B");
    assert_machine_clean(2);
  });
}

// ---- Held-locks table overflow ----------------------------------------------------

namespace {
constexpr int kOverflowLocks = 34;
struct OverflowState {
  rqspinlock_t locks[kOverflowLocks];
};
}  // namespace

void held_lock_overflow(Scenario& s) {
  fast_cadence();
  auto st = std::make_shared<OverflowState>();
  s.on_cpu(0, [st] {
    for (int i = 0; i < kOverflowLocks; ++i)
      MODEL_ASSERT(res_spin_lock(&st->locks[i]) == 0, absl::StrCat("lock ", i, " failed"));
    rqspinlock_held* rqh = this_cpu_ptr(&rqspinlock_held_locks);
    MODEL_ASSERT(READ_ONCE(rqh->cnt) == kOverflowLocks, "the count stops at the table size");
    // Lock 33 is held but not recorded: no AA can be seen, only the timeout.
    const u64 t0 = ktime_get_mono_fast_ns();
    const int ret = res_spin_lock(&st->locks[kOverflowLocks - 1]);
    const u64 waited = ktime_get_mono_fast_ns() - t0;
    MODEL_ASSERT(ret == -ETIMEDOUT, absl::StrCat("re-taking an unrecorded lock: ", ret));
    MODEL_ASSERT(waited > RES_DEF_TIMEOUT,
                 absl::StrCat("timed out after ", waited, " ns, before 250 ms"));
    // Lock 5 is recorded: AA.
    MODEL_ASSERT(res_spin_lock(&st->locks[5]) == -EDEADLK, "re-taking a recorded lock");
    MODEL_ASSERT(READ_ONCE(rqh->cnt) == kOverflowLocks, "failed attempts must not count");
    for (int i = kOverflowLocks - 1; i >= 0; --i) res_spin_unlock(&st->locks[i]);
  });
  s.at_end([st] {
    for (int i = 0; i < kOverflowLocks; ++i) assert_lock_free(&st->locks[i], "L");
    assert_machine_clean(1);
  });
}

// ---- Queue timeout ------------------------------------------------------------------

namespace {
// Outlasts the pending waiter (250 ms) and a queue head that starts waiting
// at once (500 ms), so both time out and the queue behind the head unwinds.
constexpr u64 kStuckFor = 600 * kMs;
constexpr int kRetries = 8;
constexpr u64 kBackoff = 1 * kMs;

struct QueueState {
  Guarded a;
  Atomic<int> released{0};  // the owner has unlocked A
  u64 t0 = 0;
  int timeouts = 0;  // tasks only, each CPU its own increments (no NMIs here)
  int bad = 0;
};

// Retries until the lock is taken. While the owner is stuck every attempt
// may fail (a timeout, or told to leave when the head ahead times out, which
// is immediate, so their number has no bound worth stating); only the
// attempts that start after the owner unlocked are limited.
void queue_waiter(QueueState* st, int told_to_leave) {
  const int cpu = smp_processor_id();
  for (int attempt = 0; attempt < kRetries;) {
    const bool after_release = READ_ONCE(st->released) != 0;
    const u64 left = rqspinlock_event_count(cpu, RqspinlockEvent::kToldToLeave);
    const int ret = res_spin_lock(&st->a.lock);
    if (ret == 0) {
      critical_section(&st->a, "A");
      res_spin_unlock(&st->a.lock);
      return;
    }
    if (rqspinlock_event_count(cpu, RqspinlockEvent::kToldToLeave) != left) {
      // -EDEADLK in seed/6.18, -ETIMEDOUT in mainline (Nov 2025).
      MODEL_ASSERT(ret == rqspinlock_told_to_leave_errno(),
                   absl::StrCat("a waiter told to leave got ", ret, ", not ",
                                rqspinlock_told_to_leave_errno()));
      reached(told_to_leave);
    } else {
      MODEL_ASSERT(ret == -ETIMEDOUT, absl::StrCat("waiter got ", ret, " from a stuck owner"));
    }
    if (ret == -ETIMEDOUT) st->timeouts++;
    if (after_release) ++attempt;
    // Back off before retrying. Without it, a fair but adversarial schedule
    // (PCT and exhaustive search find it) keeps the "leave" signal going
    // round forever: each waiter told to leave re-queues behind the waiter
    // it is about to signal, so the queue never drains even after the owner
    // recovers. That livelock belongs to a retry-at-once policy, not to
    // rqspinlock (a BPF program does not spin on res_spin_lock failures).
    const u64 until = ktime_get_mono_fast_ns() + kBackoff;
    spin_until(until);
  }
  MODEL_ASSERT(false, absl::StrCat("CPU ", smp_processor_id(), ": no acquisition in ",
                                   kRetries, " attempts after the owner recovered"));
}
}  // namespace

void queue_timeout_recovers(Scenario& s) {
  fast_cadence();
  auto st = std::make_shared<QueueState>();
  describe_wait_for(s, {{"A", &st->a.lock}});
  // The owner takes the lock before any waiter runs (setup is CPU 0).
  MODEL_ASSERT(res_spin_lock(&st->a.lock) == 0, "setup: lock A");
  st->t0 = ktime_get_mono_fast_ns();
  s.on_cpu(0, [st] {
    spin_until(st->t0 + kStuckFor);
    res_spin_unlock(&st->a.lock);
    WRITE_ONCE(st->released, 1);
  });
  // Not vacuous: some run must unwind a queue behind a timed-out head.
  const int told_to_leave = s.goal("a queued waiter was told to leave");
  for (int cpu = 1; cpu < s.cpus(); ++cpu)
    s.on_cpu(cpu, [st, told_to_leave] { queue_waiter(st.get(), told_to_leave); });
  s.at_end([st, cpus = s.cpus()] {
    MODEL_ASSERT(st->timeouts > 0, "the stuck owner caused no timeout");
    assert_lock_free(&st->a.lock, "A");
    assert_machine_clean(cpus);
  });
}

// ---- A head that finds a deadlock: the queue behind it -----------------------------

namespace {
struct KeepQueueState {
  AbbaState abba;
};
}  // namespace

// CPUs 0 and 1 run the forced ABBA (A,B vs B,A); CPUs 2.. take A once each,
// holding nothing. A bystander can end up queued behind CPU 1 (which holds B
// and waits for A) when CPU 1, as queue head, finds the ABBA. seed/6.18
// unwind the whole queue: the bystander fails with -EDEADLK for a deadlock
// it has no part in. Mainline (7bd6e5ce5be6) hands the queue on: a bystander
// never sees -EDEADLK.
void deadlock_keeps_queue(Scenario& s) {
  fast_cadence();
  auto st = std::make_shared<KeepQueueState>();
  const int head_found = s.goal("a queue head found the ABBA with a waiter behind it");
  for (int mine = 0; mine < 2; ++mine)
    s.on_cpu(mine, [st, mine, head_found] {
      abba_body(&st->abba, mine);
      for (int cpu = 0; cpu < 2; ++cpu)
        if (rqspinlock_event_count(cpu, RqspinlockEvent::kHeadDeadlockWithWaiters))
          reached(head_found);
    });
  for (int cpu = 2; cpu < s.cpus(); ++cpu)
    s.on_cpu(cpu, [st] {
      const int ret = raw_res_spin_lock(&st->abba.lock[0]);
      MODEL_ASSERT(ret != -EDEADLK,
                   "a bystander holding no lock got -EDEADLK: a queue head's deadlock "
                   "unwound the queue behind it");
      MODEL_ASSERT(ret == 0 || ret == -ETIMEDOUT, absl::StrCat("bystander got ", ret));
      if (ret == 0) raw_res_spin_unlock(&st->abba.lock[0]);
    });
  s.at_end([st, cpus = s.cpus()] {
    assert_lock_free(&st->abba.lock[0], "A");
    assert_lock_free(&st->abba.lock[1], "B");
    assert_machine_clean(cpus);
  });
}

// ---- No false deadlock -------------------------------------------------------------

namespace {
struct NestState {
  rqspinlock_t locks[4];  // A < B < C taken by tasks in this order; D by hardirqs
};

const char* const kNestNames[4] = {"A", "B", "C", "D"};

void take_nested(NestState* st, std::vector<int> order) {
  for (int i : order) {
    const int ret = raw_res_spin_lock(&st->locks[i]);
    MODEL_ASSERT(ret == 0, absl::StrCat("CPU ", smp_processor_id(), " lock ", kNestNames[i],
                                        ": ", ret, " in deadlock-free nesting"));
  }
  for (auto it = order.rbegin(); it != order.rend(); ++it) raw_res_spin_unlock(&st->locks[*it]);
}
}  // namespace

void no_false_deadlock(Scenario& s) {
  fast_cadence();
  auto st = std::make_shared<NestState>();
  describe_wait_for(s, {{"A", &st->locks[0]}, {"B", &st->locks[1]}, {"C", &st->locks[2]},
                        {"D", &st->locks[3]}});
  const std::vector<std::vector<int>> orders = {{0, 1, 2}, {1, 2}, {0, 2}};
  for (int cpu = 0; cpu < s.cpus(); ++cpu) {
    const std::vector<int> order = orders[static_cast<std::size_t>(cpu) % orders.size()];
    s.on_cpu(cpu, [st, order] {
      for (int round = 0; round < 2; ++round) take_nested(st.get(), order);
    });
    s.hardirq(cpu, [st] { take_nested(st.get(), {3}); }, 2);
  }
  s.at_end([st, cpus = s.cpus()] {
    for (int i = 0; i < 4; ++i) assert_lock_free(&st->locks[i], kNestNames[i]);
    assert_machine_clean(cpus);
  });
}

// ---- Test-and-set fallback -------------------------------------------------------------

namespace {
struct TasState {
  rqspinlock_t lock;
  u64 t0 = 0;
};
}  // namespace

void tas_timeout(Scenario& s) {
  fast_cadence();
  auto st = std::make_shared<TasState>();
  describe_wait_for(s, {{"T", &st->lock}});
  MODEL_ASSERT(resilient_tas_spin_lock(&st->lock) == 0, "setup: TAS lock");
  st->t0 = ktime_get_mono_fast_ns();
  s.on_cpu(0, [st] {
    spin_until(st->t0 + 1200 * kMs);
    res_spin_unlock(&st->lock);
  });
  s.on_cpu(1, [st] {
    const u64 t0 = ktime_get_mono_fast_ns();
    const int ret = resilient_tas_spin_lock(&st->lock);
    const u64 waited = ktime_get_mono_fast_ns() - t0;
    MODEL_ASSERT(ret == -ETIMEDOUT, absl::StrCat("TAS against a stuck owner: ", ret));
    MODEL_ASSERT(waited > NSEC_PER_SEC, absl::StrCat("TAS timed out after ", waited, " ns"));
    MODEL_ASSERT(resilient_tas_spin_lock(&st->lock) == 0, "TAS after the owner recovered");
    res_spin_unlock(&st->lock);
  });
  s.at_end([st] {
    assert_lock_free(&st->lock, "T");
    assert_machine_clean(2);
  });
}

// ---- Catalogue --------------------------------------------------------------------------

namespace {

template <RqspinlockSeededBug kBug, void (*kScenario)(Scenario&)>
void with_seeded_bug(Scenario& s) {
  rqspinlock_seed_bug(kBug);
  kScenario(s);
}

// seed behaves as linux-6.18 for rqspinlock.
std::vector<std::pair<Profile, Expectation>> everywhere(const Expectation& e) {
  return {{Profile::kSeed, e}, {Profile::kLinux618, e}, {Profile::kMainline, e}};
}

// The failures the violation entries pin.
Expectation aa_unseen() {
  return expect_violation(FailureKind::kAssertion, "the AA on lock A went unseen");
}
Expectation hang() { return expect_violation(FailureKind::kHang, "no completion"); }

// Scenarios whose NMIs take the lock their task holds or waits for: the
// seed's NMI queues behind its own CPU's queued waiter and hangs (see
// nmi_same_lock); 6.18 and mainline pass.
std::vector<std::pair<Profile, Expectation>> nmi_hangs_in_seed() {
  return {{Profile::kSeed, hang()}, {Profile::kLinux618, expect_pass()},
          {Profile::kMainline, expect_pass()}};
}

const ScenarioRegistrar kMutex2({
    "rqspinlock/mutual_exclusion_2cpu",
    "2 CPUs take locks A and B with all lock variants; NMIs and hardirqs take the same "
    "and the other lock: one owner per lock, no lost update, nothing left held",
    // The seed's violation is a hang, seen as a deadlock in a few hundred
    // steps (docs/checker.md, "Hangs"), so it is shrunk like any failure.
    Config{.cpus = 2, .seed = 11, .iterations = 600, .interrupt_probability = 0.1},
    mutual_exclusion,
    nmi_hangs_in_seed(),
    {{StrategyKind::kExhaustive,
      "the seed's NMI hang needs an NMI to arrive while its own CPU's task is queued "
      "behind another CPU (not the head): beyond the bound-2 search within the budget",
      {Profile::kSeed}},
     {StrategyKind::kPct,
      "PCT's priorities with the catalogue's seed never put the NMI behind its own "
      "CPU's queued task within the budget (random finds it)",
      {Profile::kSeed}}}
});
const ScenarioRegistrar kMutex4({
    "rqspinlock/mutual_exclusion_4cpu",
    "as mutual_exclusion_2cpu with 4 CPUs: deep MCS queues and nested contexts",
    Config{.cpus = 4, .seed = 12, .iterations = 400, .interrupt_probability = 0.1},
    mutual_exclusion,
    nmi_hangs_in_seed(),
    {{StrategyKind::kExhaustive,
      "the seed's NMI hang needs an NMI to arrive while its own CPU's task is queued "
      "behind another CPU (not the head): beyond the bound-2 search within the budget",
      {Profile::kSeed}}}
});
const ScenarioRegistrar kStressMix({
    "rqspinlock/stress_mix_3cpu",
    "the native stress test's mix: 3 CPUs take A with irqs on and B with irqs off, "
    "every CPU's NMI takes A and its hardirq takes B",
    Config{.cpus = 3, .seed = 23, .iterations = 2000, .max_steps = 400000,
           .interrupt_probability = 0.1},
    stress_mix,
    nmi_hangs_in_seed(),
    {{StrategyKind::kExhaustive,
      "the seed's NMI hang needs an NMI to arrive while its own CPU's task is queued "
      "behind another CPU (not the head): beyond the bound-2 search within the budget",
      {Profile::kSeed}}}
});
const ScenarioRegistrar kHardirqSameLock({
    "rqspinlock/hardirq_same_lock_irqs_on",
    "tasks take A with irqs on and a hardirq takes A too. 6.18 (and seed): the hardirq "
    "can queue behind its own CPU's queued task and spin forever (non-head waiters "
    "have no timeout); mainline's AA check before queueing returns -EDEADLK instead",
    Config{.cpus = 3, .seed = 17, .iterations = 1000, .max_steps = 20000,
           .interrupt_probability = 0.1},
    hardirq_same_lock_irqs_on,
    {{Profile::kSeed, hang()},
     {Profile::kLinux618, hang()},
     {Profile::kMainline, Expect::kPass}},
    {{StrategyKind::kExhaustive,
      "the hang needs a hardirq on a CPU whose task is queued behind another CPU's "
      "(not the head): deeper than the bound-2 search reaches in 1000 runs "
      "(bench/bug_hunt: 2002 schedules)",
      {Profile::kSeed, Profile::kLinux618}}},
});
const ScenarioRegistrar kNmiSameLock({
    "rqspinlock/nmi_same_lock",
    "tasks take A and an NMI takes A too. seed: the NMI can queue behind its own "
    "CPU's queued task and spin forever (non-head waiters have no timeout); 6.18 "
    "never queues an NMI (trylock fallback, Sep 2025) and mainline tries once",
    Config{.cpus = 3, .seed = 19, .iterations = 1000, .max_steps = 20000,
           .interrupt_probability = 0.1},
    nmi_same_lock,
    {{Profile::kSeed, expect_violation(FailureKind::kHang, "no completion")},
     {Profile::kLinux618, Expect::kPass},
     {Profile::kMainline, Expect::kPass}},
    {{StrategyKind::kExhaustive,
      "the seed's NMI hang needs an NMI to arrive while its own CPU's task is queued "
      "behind another CPU (not the head): beyond the bound-2 search within the budget",
      {Profile::kSeed}}}
});
const ScenarioRegistrar kDeadlockKeepsQueue({
    "rqspinlock/deadlock_keeps_queue",
    "a forced ABBA on two CPUs while two bystanders take A. seed/6.18: a queue head "
    "that finds the deadlock unwinds the queue and a bystander gets -EDEADLK; "
    "mainline (7bd6e5ce5be6) hands the queue on",
    Config{.cpus = 4, .seed = 29, .iterations = 3000, .max_steps = 60000},
    deadlock_keeps_queue,
    {{Profile::kSeed, expect_violation(FailureKind::kAssertion, "a bystander holding no lock got -EDEADLK")},
     {Profile::kLinux618, expect_violation(FailureKind::kAssertion, "a bystander holding no lock got -EDEADLK")},
     {Profile::kMainline, Expect::kPass}},
    {{StrategyKind::kExhaustive,
      "the goal (a queue head finds the forced ABBA with a bystander queued behind it) "
      "needs more preemptions than the bound-2 search makes: never reached, vacuous"}}
});
const ScenarioRegistrar kAaNmi({
    "rqspinlock/aa_nmi",
    "an NMI takes the lock its CPU holds: -EDEADLK, never a hang. 6.18 (and seed): the "
    "checker finds the NMI landing between the fast-path cmpxchg and the held-table "
    "update, which spins 250 ms into -ETIMEDOUT; mainline has no such schedule",
    Config{.cpus = 2, .seed = 3, .iterations = 3000},
    aa_nmi,
    {{Profile::kSeed, aa_unseen()},
     {Profile::kLinux618, aa_unseen()},
     {Profile::kMainline, Expect::kPass}},
});
const ScenarioRegistrar kAbba({
    "rqspinlock/abba",
    "two CPUs forced into A,B vs B,A: at least one side gets -EDEADLK (never a "
    "timeout); both retry and finish",
    Config{.cpus = 2, .seed = 5, .iterations = 500},
    abba,
    everywhere(Expect::kPass),
});
const ScenarioRegistrar kOverflow({
    "rqspinlock/held_lock_overflow",
    "34 locks held; re-taking one past the 31-entry table gives -ETIMEDOUT after "
    "more than 250 ms, re-taking a recorded one gives -EDEADLK",
    Config{.cpus = 1, .seed = 7, .iterations = 20},
    held_lock_overflow,
    everywhere(Expect::kPass),
});
const ScenarioRegistrar kQueueTimeout({
    "rqspinlock/queue_timeout_recovers",
    "a 600 ms owner: the pending waiter and the queue head time out, queued waiters "
    "leave in FIFO order; afterwards the lock word, MCS nodes and tables are clean and "
    "every CPU takes the lock",
    Config{.cpus = 4, .seed = 9, .iterations = 150, .max_steps = 300000},
    queue_timeout_recovers,
    everywhere(Expect::kPass),
});
const ScenarioRegistrar kNoFalse({
    "rqspinlock/no_false_deadlock",
    "3 CPUs nest A<B<C in one order, hardirqs take D: no attempt may fail",
    Config{.cpus = 3, .seed = 13, .iterations = 600, .interrupt_probability = 0.1},
    no_false_deadlock,
    everywhere(Expect::kPass),
});
const ScenarioRegistrar kTas({
    "rqspinlock/tas_timeout",
    "the test-and-set fallback gives up after 1 s against a stuck owner, then works",
    Config{.cpus = 2, .seed = 15, .iterations = 50},
    tas_timeout,
    everywhere(Expect::kPass),
});

// Seeded bugs: each must be caught by the default (random) strategy.
const ScenarioRegistrar kBugSkipAa({
    "rqspinlock/seeded_bug/skip_aa_check",
    "seeded bug: check_deadlock_AA never reports; the aa_nmi NMI spins into -ETIMEDOUT",
    Config{.cpus = 2, .seed = 3, .iterations = 3000},
    with_seeded_bug<RqspinlockSeededBug::kSkipAaCheck, aa_nmi>,
    everywhere(aa_unseen()),
});
const ScenarioRegistrar kBugPending({
    "rqspinlock/seeded_bug/pending_not_cleared_on_timeout",
    "seeded bug: a timed-out pending waiter keeps the pending bit; the lock stays "
    "unusable after the owner recovers",
    Config{.cpus = 4, .seed = 9, .iterations = 150, .max_steps = 300000},
    with_seeded_bug<RqspinlockSeededBug::kPendingNotClearedOnTimeout, queue_timeout_recovers>,
    // (Before fair scheduling this showed as a hang: waiters starved behind
    // spinners until the step budget ran out.)
    everywhere(expect_violation(FailureKind::kAssertion,
                                "no acquisition in 8 attempts after the owner recovered")),
});
const ScenarioRegistrar kBugUnlockOrder({
    "rqspinlock/seeded_bug/unlock_table_before_release",
    "seeded bug: unlock drops the table entry and count before releasing the word; an "
    "NMI in between misses the AA (a regression of the mainline ordering)",
    Config{.cpus = 2, .seed = 3, .iterations = 3000},
    with_seeded_bug<RqspinlockSeededBug::kUnlockTableBeforeRelease, aa_nmi>,
    {{Profile::kMainline, aa_unseen()}},
});
const ScenarioRegistrar kBugForgetsSuccessor({
    "rqspinlock/seeded_bug/queue_timeout_forgets_successor",
    "seeded bug: a timed-out queue head does not signal its successor, which then "
    "spins forever",
    Config{.cpus = 4, .seed = 9, .iterations = 150, .max_steps = 300000},
    with_seeded_bug<RqspinlockSeededBug::kQueueTimeoutForgetsSuccessor,
                    queue_timeout_recovers>,
    everywhere(hang()),
});

}  // namespace

}  // namespace rqspinlock_scenarios
KMODEL_NAMESPACE_END
