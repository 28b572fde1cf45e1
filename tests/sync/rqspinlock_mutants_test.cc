// rqspinlock decisions that tools/mutate.py showed untested
// (docs/reliability.md): which CPUs the ABBA check may conclude from, and
// whether an NMI that is the first user of its CPU's MCS nodes queues
// (mainline) instead of falling back to the TAS loop. Real threads bound to
// CPUs; the other CPUs' held-locks tables are forged where a scenario needs
// a CPU in a state no thread could be left in for long.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "model/machine_state.h"
#include "model/native/cpu_binding.h"
#include "model/profile.h"
#include "sync/rqspinlock.h"

using namespace kmodel;

namespace {

void fast_cadence() {
  rqspinlock_cadence c;
  c.spins_per_clock_sample = 1;
  c.deadlock_check_interval_ns = NSEC_PER_MSEC;
  rqspinlock_set_cadence(c);
}

// Makes CPU `cpu`'s held-locks table say: holds locks[0..n-2], waits for
// locks[n-1]. Returns the previous contents' count to restore.
void forge_table(int cpu, std::initializer_list<void*> locks) {
  rqspinlock_held* t = per_cpu_ptr(&rqspinlock_held_locks, cpu);
  int i = 0;
  for (void* l : locks) WRITE_ONCE(t->locks[i++], l);
  WRITE_ONCE(t->cnt, i);
}

void clear_table(int cpu) {
  rqspinlock_held* t = per_cpu_ptr(&rqspinlock_held_locks, cpu);
  for (int i = 0; i < RES_NR_HELD; ++i) WRITE_ONCE(t->locks[i], nullptr);
  WRITE_ONCE(t->cnt, 0);
}

// A thread bound to `cpu` that takes `lock` and holds it until released.
class Holder {
 public:
  Holder(int cpu, rqspinlock_t* lock) {
    thread_ = std::thread([this, cpu, lock] {
      native::CpuBinding bind(cpu);
      REQUIRE(res_spin_lock(lock) == 0);
      held_.store(true);
      while (!release_.load()) cpu_relax();
      res_spin_unlock(lock);
    });
    while (!held_.load()) std::this_thread::yield();
  }
  void release() {
    release_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  ~Holder() { release(); }

 private:
  std::thread thread_;
  std::atomic<bool> held_{false};
  std::atomic<bool> release_{false};
};

}  // namespace

// CPU 2 holds A and waits for B, we hold B and wait for A: ABBA. CPU 1,
// scanned first, waits for A as well (and holds something else): it is no
// partner of ours, and must not end the scan before CPU 2 is looked at.
TEST_CASE("ABBA: a CPU that waits for the same lock does not hide the real partner") {
  reset_machine_state();
  fast_cadence();
  for (Profile p : {Profile::kLinux618, Profile::kMainline}) {
    ScopedProfile profile(p);
    INFO(profile_name(p));
    rqspinlock_t a, b, x;
    Holder holder(2, &a);  // CPU 2 really holds A ...
    forge_table(2, {&a, &b});  // ... and (forged) waits for B
    forge_table(1, {&x, &a});
    {
      native::CpuBinding cpu(0);
      REQUIRE(res_spin_lock(&b) == 0);
      CHECK(res_spin_lock(&a) == -EDEADLK);
      res_spin_unlock(&b);
    }
    clear_table(1);
    forge_table(2, {&a});
    holder.release();
    reset_machine_state();
    fast_cadence();
  }
}

// CPU 2 holds A and (forged) waits for A again: it is stuck on itself. We
// wait for A holding nothing: no cycle through us, so our wait ends by the
// timeout, not by a deadlock verdict about us.
TEST_CASE("ABBA: another CPU's AA on our lock is not our deadlock: we time out") {
  reset_machine_state();
  fast_cadence();
  ScopedProfile profile(Profile::kMainline);
  rqspinlock_t a;
  Holder holder(2, &a);
  forge_table(2, {&a, &a});
  {
    native::CpuBinding cpu(0);
    CHECK(res_spin_lock(&a) == -ETIMEDOUT);
  }
  forge_table(2, {&a});
  holder.release();
  reset_machine_state();
}

// mainline: an NMI that interrupted no lock user of its CPU (node index 0)
// queues in the MCS queue like anyone else; only a nested user (index > 0)
// must take the TAS fallback. Seen from outside: its tail appears in the
// lock word. (6.18 sends every NMI to the fallback.)
TEST_CASE("mainline: an NMI with no lock user below it queues behind the pending waiter") {
  reset_machine_state();
  ScopedProfile profile(Profile::kMainline);
  rqspinlock_t a;
  Holder holder(0, &a);
  // CPU 2 waits first: it becomes the pending waiter, so the next one queues.
  std::atomic<int> waiter_ret{1};
  std::thread waiter([&] {
    native::CpuBinding bind(2);
    waiter_ret.store(res_spin_lock(&a));
    if (waiter_ret.load() == 0) res_spin_unlock(&a);
  });
  while (!(atomic_read(&a.val) & _Q_PENDING_MASK)) cpu_relax();

  struct Nmi {
    rqspinlock_t* lock;
    std::atomic<int> ret{1};
    std::atomic<bool> done{false};
  } nmi{&a};
  native::set_interrupt_handler(1, IrqKind::kNmi, {[](void* arg) {
                                  auto* n = static_cast<Nmi*>(arg);
                                  const int r = res_spin_lock(n->lock);
                                  if (r == 0) res_spin_unlock(n->lock);
                                  n->ret.store(r);
                                  n->done.store(true);
                                }, &nmi});
  std::atomic<bool> stop{false};
  std::thread target([&] {
    native::CpuBinding bind(1);
    while (!stop.load()) cpu_relax();
  });
  while (native::send_nmi(1) != 0) std::this_thread::yield();
  // Queued: its tail shows up while the lock is still held. Fallback: no
  // tail ever, and the NMI gives up at its timeout.
  bool queued = false;
  while (!queued && !nmi.done.load()) queued = (atomic_read(&a.val) & _Q_TAIL_MASK) != 0;
  holder.release();
  while (!nmi.done.load()) cpu_relax();
  stop.store(true);
  target.join();
  waiter.join();
  native::set_interrupt_handler(1, IrqKind::kNmi, {});
  CHECK(queued);
  CHECK(nmi.ret.load() == 0);
  CHECK(waiter_ret.load() == 0);
  reset_machine_state();
}
