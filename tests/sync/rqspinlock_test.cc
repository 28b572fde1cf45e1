// rqspinlock on the native backend, one thread bound to CPU 0: the lock word,
// the held-locks table, AA detection per profile, the raw_/bpf_ wrappers,
// the report text, the TAS fallback and the check-free baseline.
#include <catch2/catch.hpp>

#include <cstdio>
#include <string>

#include "model/machine_state.h"
#include "model/native/cpu_binding.h"
#include "sync/rqspinlock.h"
#include "sync/rqspinlock_baseline.h"

using namespace kmodel;

namespace {

// CPU 0 for the test's duration, starting from a clean machine.
struct OnCpu0 {
  OnCpu0() { reset_machine_state(); }
  native::CpuBinding binding{0};
};

rqspinlock_held* table() { return this_cpu_ptr(&rqspinlock_held_locks); }
int held_cnt() { return READ_ONCE(table()->cnt); }
void* held(int i) { return READ_ONCE(table()->locks[i]); }

void fast_cadence(u64 interval_ns = NSEC_PER_MSEC) {
  rqspinlock_cadence c;
  c.spins_per_clock_sample = 1;
  c.deadlock_check_interval_ns = interval_ns;
  rqspinlock_set_cadence(c);
}

std::string hex(const void* p) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "0x%016lx", reinterpret_cast<unsigned long>(p));
  return buf;
}

struct CapturingSink : RqspinlockReportSink {
  int calls = 0;
  RqspinlockViolation last;
  void report(const RqspinlockViolation& v) override {
    ++calls;
    last = v;
  }
};

// Installs a sink for the scope.
struct ScopedSink {
  explicit ScopedSink(RqspinlockReportSink* s) : saved(set_rqspinlock_report_sink(s)) {}
  ~ScopedSink() { set_rqspinlock_report_sink(saved); }
  RqspinlockReportSink* saved;
};

}  // namespace

TEST_CASE("the lock word uses the kernel's layout for NR_CPUS < 16K") {
  CHECK(_Q_LOCKED_MASK == 0xffu);
  CHECK(_Q_PENDING_VAL == 0x100u);
  CHECK(_Q_LOCKED_PENDING_MASK == 0xffffu);
  CHECK(_Q_TAIL_MASK == 0xffff0000u);
  CHECK(encode_tail(0, 0) == 1u << 18);
  CHECK(encode_tail(3, 2) == ((4u << 18) | (2u << 16)));
  CHECK(RES_NR_HELD == 31);
  CHECK(RES_DEF_TIMEOUT == 250 * NSEC_PER_MSEC);
}

TEST_CASE("the check cadence defaults to one sample per yield and resets with the machine") {
  fast_cadence(5);
  CHECK(rqspinlock_get_cadence().spins_per_clock_sample == 1);
  reset_machine_state();
  CHECK(rqspinlock_get_cadence().spins_per_clock_sample == CPU_RELAX_YIELD_PERIOD);
  CHECK(RES_KERNEL_SPINS_PER_CLOCK_SAMPLE == 65536);
  CHECK(rqspinlock_get_cadence().deadlock_check_interval_ns == NSEC_PER_MSEC);
}

TEST_CASE("uncontended lock and unlock maintain the word and the table") {
  OnCpu0 cpu;
  for (Profile p : kAllProfiles) {
    ScopedProfile profile(p);
    INFO(profile_name(p));
    rqspinlock_t lock;
    raw_res_spin_lock_init(&lock);
    REQUIRE(res_spin_lock(&lock) == 0);
    CHECK(plain_read(lock.val) == _Q_LOCKED_VAL);
    CHECK(held_cnt() == 1);
    CHECK(held(0) == &lock);
    res_spin_unlock(&lock);
    CHECK(plain_read(lock.val) == 0u);
    CHECK(held_cnt() == 0);
    CHECK(held(0) == nullptr);
  }
}

TEST_CASE("re-taking a held lock on the same CPU is AA: -EDEADLK, nothing left behind") {
  OnCpu0 cpu;
  for (Profile p : kAllProfiles) {
    ScopedProfile profile(p);
    INFO(profile_name(p));
    fast_cadence();
    rqspinlock_t lock;
    REQUIRE(res_spin_lock(&lock) == 0);
    CHECK(res_spin_lock(&lock) == -EDEADLK);
    // The failed attempt gave back its pending bit and its table entry.
    CHECK(plain_read(lock.val) == _Q_LOCKED_VAL);
    CHECK(held_cnt() == 1);
    CHECK(held(1) == nullptr);
    CHECK(rqspinlock_nodes_in_use(0) == 0);
    res_spin_unlock(&lock);
    CHECK(held_cnt() == 0);
  }
}

TEST_CASE("AA with the default native cadence is -EDEADLK, however busy the machine") {
  OnCpu0 cpu;
  for (Profile p : kAllProfiles) {
    ScopedProfile profile(p);
    INFO(profile_name(p));
    rqspinlock_t lock;
    REQUIRE(res_spin_lock(&lock) == 0);
    const u64 t0 = ktime_get_mono_fast_ns();
    const int ret = res_spin_lock(&lock);
    const u64 waited = ktime_get_mono_fast_ns() - t0;
    CHECK(ret == -EDEADLK);
    // mainline checks before the first spin; 6.18 runs its first deadlock
    // check one interval after the clock started.
    if (!profile_has_mainline_fixes(p)) CHECK(waited > NSEC_PER_MSEC);
    res_spin_unlock(&lock);
  }
}

TEST_CASE("mainline checks AA at once; 6.18 only at the deadlock-check interval") {
  OnCpu0 cpu;
  // An interval longer than the timeout: 6.18 never gets to its AA check.
  fast_cadence(10 * NSEC_PER_SEC);
  rqspinlock_t lock;
  REQUIRE(res_spin_lock(&lock) == 0);
  {
    ScopedProfile profile(Profile::kMainline);
    CHECK(res_spin_lock(&lock) == -EDEADLK);
  }
  {
    ScopedProfile profile(Profile::kLinux618);
    const u64 t0 = ktime_get_mono_fast_ns();
    CHECK(res_spin_lock(&lock) == -ETIMEDOUT);
    CHECK(ktime_get_mono_fast_ns() - t0 > RES_DEF_TIMEOUT);
  }
  CHECK(plain_read(lock.val) == _Q_LOCKED_VAL);
  res_spin_unlock(&lock);
  CHECK(held_cnt() == 0);
}

TEST_CASE("the held-locks table records 31 locks and the count keeps counting") {
  OnCpu0 cpu;
  fast_cadence();
  rqspinlock_t locks[34];
  for (auto& l : locks) REQUIRE(res_spin_lock(&l) == 0);
  CHECK(held_cnt() == 34);
  CHECK(held(30) == &locks[30]);
  // Recorded below the top: AA. The failed attempt does not disturb the count.
  CHECK(res_spin_lock(&locks[5]) == -EDEADLK);
  CHECK(held_cnt() == 34);
  // The kernel's quirk, kept: with the table full, entry 30 is taken to be
  // the top (the attempt itself), so it is not searched and re-taking
  // locks[30] can only time out. So can locks past the table.
  CHECK(res_spin_lock(&locks[30]) == -ETIMEDOUT);
  CHECK(res_spin_lock(&locks[33]) == -ETIMEDOUT);
  CHECK(held_cnt() == 34);
  for (int i = 33; i >= 0; --i) res_spin_unlock(&locks[i]);
  CHECK(held_cnt() == 0);
  for (int i = 0; i < RES_NR_HELD; ++i) CHECK(held(i) == nullptr);
  for (auto& l : locks) CHECK(plain_read(l.val) == 0u);
}

TEST_CASE("raw_res_spin_lock_irqsave holds irqs and preemption off, and restores them on failure") {
  OnCpu0 cpu;
  fast_cadence();
  rqspinlock_t lock;
  unsigned long flags = 0;
  REQUIRE(raw_res_spin_lock_irqsave(&lock, flags) == 0);
  CHECK(irqs_disabled());
  CHECK(preempt_count() == 1);
  unsigned long flags2 = 0;
  CHECK(raw_res_spin_lock_irqsave(&lock, flags2) == -EDEADLK);
  CHECK(irqs_disabled());  // still inside the first section
  CHECK(preempt_count() == 1);
  raw_res_spin_unlock_irqrestore(&lock, flags);
  CHECK_FALSE(irqs_disabled());
  CHECK(preempt_count() == 0);
  CHECK(held_cnt() == 0);
}

TEST_CASE("a failed bpf_res_spin_lock reports the kernel's text to the sink") {
  OnCpu0 cpu;
  fast_cadence();
  CapturingSink sink;
  ScopedSink scoped(&sink);
  struct bpf_res_spin_lock lock{};
  REQUIRE(bpf_res_spin_lock(&lock) == 0);
  CHECK(sink.calls == 0);
  CHECK(bpf_res_spin_lock(&lock) == -EDEADLK);
  REQUIRE(sink.calls == 1);
  CHECK(sink.last.ret == -EDEADLK);
  CHECK_FALSE(sink.last.irqsave);
  CHECK(sink.last.lock == &lock);
  CHECK(sink.last.held_cnt == 1);
  CHECK(sink.last.held[0] == &lock);
  CHECK(rqspinlock_report_text(sink.last) ==
        "ERROR: AA or ABBA deadlock detected for bpf_res_spin_lock\n"
        "Attempted lock   = " + hex(&lock) + "\n"
        "Total held locks = 1\n"
        "Held lock[ 0] = " + hex(&lock) + "\n");
  CHECK(preempt_count() == 1);  // the failed attempt gave its own back

  unsigned long flags = 0;
  CHECK(bpf_res_spin_lock_irqsave(&lock, &flags) == -EDEADLK);
  REQUIRE(sink.calls == 2);
  CHECK(sink.last.irqsave);
  CHECK_FALSE(irqs_disabled());
  bpf_res_spin_unlock(&lock);
  CHECK(preempt_count() == 0);
  CHECK(held_cnt() == 0);

  REQUIRE(bpf_res_spin_lock_irqsave(&lock, &flags) == 0);
  CHECK(irqs_disabled());
  bpf_res_spin_unlock_irqrestore(&lock, &flags);
  CHECK_FALSE(irqs_disabled());
  CHECK(sink.calls == 2);
}

TEST_CASE("without a sink, a failed bpf_res_spin_lock is dropped silently") {
  OnCpu0 cpu;
  fast_cadence();
  ScopedSink scoped(nullptr);
  CHECK(rqspinlock_report_sink() == nullptr);
  struct bpf_res_spin_lock lock{};
  REQUIRE(bpf_res_spin_lock(&lock) == 0);
  CHECK(bpf_res_spin_lock(&lock) == -EDEADLK);
  bpf_res_spin_unlock(&lock);
  CHECK(held_cnt() == 0);
}

TEST_CASE("report lines: timeout, irqsave, two-digit indices, more than 31 held") {
  RqspinlockViolation v;
  v.ret = -ETIMEDOUT;
  v.irqsave = true;
  v.lock = reinterpret_cast<const void*>(0xff11000108f3a5e0ul);
  v.held_cnt = 40;
  for (int i = 0; i < RES_NR_HELD; ++i)
    v.held[i] = reinterpret_cast<const void*>(0x1000ul + 64ul * static_cast<unsigned long>(i));
  REQUIRE(rqspinlock_report_nr_lines(v) == 3 + RES_NR_HELD);
  char buf[128];
  auto line = [&](int i) {
    const int n = rqspinlock_report_format_line(v, i, buf, sizeof(buf));
    REQUIRE(n > 0);
    return std::string(buf, static_cast<std::size_t>(n));
  };
  CHECK(line(0) == "ERROR: Timeout detected for bpf_res_spin_lock_irqsave\n");
  CHECK(line(1) == "Attempted lock   = 0xff11000108f3a5e0\n");
  CHECK(line(2) == "Total held locks = 40\n");
  CHECK(line(3) == "Held lock[ 0] = 0x0000000000001000\n");
  CHECK(line(3 + 12) == "Held lock[12] = 0x0000000000001300\n");
  CHECK(line(3 + 30) == "Held lock[30] = 0x0000000000001780\n");
  CHECK(rqspinlock_report_format_line(v, 3 + RES_NR_HELD, buf, sizeof(buf)) == -EINVAL);
  CHECK(rqspinlock_report_format_line(v, -1, buf, sizeof(buf)) == -EINVAL);
  // snprintf contract: the full length is returned, the buffer stays terminated.
  char small[8];
  CHECK(rqspinlock_report_format_line(v, 2, small, sizeof(small)) == 22);
  CHECK(std::string(small) == "Total h");
  v.held_cnt = 0;
  v.ret = -EDEADLK;
  v.irqsave = false;
  CHECK(rqspinlock_report_text(v) ==
        "ERROR: AA or ABBA deadlock detected for bpf_res_spin_lock\n"
        "Attempted lock   = 0xff11000108f3a5e0\n"
        "Total held locks = 0\n");
}

TEST_CASE("the test-and-set fallback locks, detects AA and unlocks") {
  OnCpu0 cpu;
  fast_cadence();
  for (Profile p : kAllProfiles) {
    ScopedProfile profile(p);
    INFO(profile_name(p));
    rqspinlock_t lock;
    REQUIRE(resilient_tas_spin_lock(&lock) == 0);
    CHECK(plain_read(lock.val) == 1u);
    CHECK(held(0) == &lock);
    CHECK(resilient_tas_spin_lock(&lock) == -EDEADLK);
    CHECK(held_cnt() == 1);
    res_spin_unlock(&lock);
    CHECK(plain_read(lock.val) == 0u);
    CHECK(held_cnt() == 0);
  }
}

TEST_CASE("the check-free baseline qspinlock locks and unlocks without a table") {
  OnCpu0 cpu;
  qspinlock lock{};
  queued_spin_lock(&lock);
  CHECK(plain_read(lock.val) == _Q_LOCKED_VAL);
  CHECK(held_cnt() == 0);
  queued_spin_unlock(&lock);
  CHECK(plain_read(lock.val) == 0u);
}

TEST_CASE("the diagnostic descriptions name the word's fields and the CPU's table") {
  OnCpu0 cpu;
  rqspinlock_t lock;
  CHECK(rqspinlock_describe(&lock) == "0x00000000 (no tail, pending 0, locked 0)");
  REQUIRE(res_spin_lock(&lock) == 0);
  CHECK(rqspinlock_describe(&lock) == "0x00000001 (no tail, pending 0, locked 1)");
  CHECK_THAT(rqspinlock_describe_cpu(0), Catch::Contains("nodes in use 0") &&
                                             Catch::Contains("held cnt 1 ["));
  res_spin_unlock(&lock);
  plain_write(lock.val, encode_tail(2, 1) | _Q_PENDING_VAL);
  CHECK(rqspinlock_describe(&lock) == "0x000d0100 (tail cpu 2 idx 1, pending 1, locked 0)");
}
