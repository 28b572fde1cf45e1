// bench/rqspinlock_bench.cc: what resilience costs.
//
// rqspinlock (both generations) against the same qspinlock with the
// resilience checks compiled out (sync/rqspinlock_baseline.h), a
// test-and-set spinlock, a ticket lock, std::mutex, absl::Mutex and
// Concurrency Kit's MCS lock, through one tiny adapter per lock:
//
//   BM_Uncontended<L>   one thread: lock, increment, unlock
//   BM_Contended<L>     two threads on one lock, same critical section;
//                       items/s is the total acquisitions per second
//
// Every thread binds itself to a model CPU first (rqspinlock needs one).
// Contended figures are noisy on 2-core machines: run with
//   bazel run -c opt //bench:rqspinlock_bench -- --benchmark_repetitions=5
//     --benchmark_report_aggregates_only=true
// and compare medians (docs/rqspinlock.md has the table). CK's MCS lock is
// called through an out-of-line C shim (its headers are not C++).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "bench/ck_mcs_shim.h"
#include "model/native/cpu_binding.h"
#include "model/profile.h"
#include "sync/rqspinlock.h"
#include "sync/rqspinlock_baseline.h"

namespace {

using namespace kmodel;

// ---- Adapters: one shared lock per type, lock()/unlock() per thread ---------

template <Profile kProfile>
struct RqspinlockAdapter {
  static inline rqspinlock_t lock_;
  static void setup() { set_profile(kProfile); }
  void lock() { (void)res_spin_lock(&lock_); }
  void unlock() { res_spin_unlock(&lock_); }
};

struct BaselineAdapter {
  static inline qspinlock lock_;
  static void setup() {}
  void lock() { queued_spin_lock(&lock_); }
  void unlock() { queued_spin_unlock(&lock_); }
};

struct TasAdapter {
  static inline std::atomic<bool> flag_{false};
  static void setup() {}
  void lock() {
    while (flag_.exchange(true, std::memory_order_acquire))
      while (flag_.load(std::memory_order_relaxed)) __builtin_ia32_pause();
  }
  void unlock() { flag_.store(false, std::memory_order_release); }
};

struct TicketAdapter {
  static inline std::atomic<unsigned> next_{0};
  static inline std::atomic<unsigned> serving_{0};
  static void setup() {}
  void lock() {
    const unsigned me = next_.fetch_add(1, std::memory_order_relaxed);
    while (serving_.load(std::memory_order_acquire) != me) __builtin_ia32_pause();
  }
  void unlock() {
    serving_.store(serving_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }
};

struct StdMutexAdapter {
  static inline std::mutex mu_;
  static void setup() {}
  void lock() { mu_.lock(); }
  void unlock() { mu_.unlock(); }
};

struct AbslMutexAdapter {
  static inline absl::Mutex mu_;
  static void setup() {}
  void lock() { mu_.Lock(); }
  void unlock() { mu_.Unlock(); }
};

struct CkMcsAdapter {
  static inline void* lock_ = nullptr;  // CK_SPINLOCK_MCS_INITIALIZER
  static void setup() {}
  ck_mcs_shim_node node_;  // this thread's queue node
  void lock() { ck_mcs_shim_lock(&lock_, &node_); }
  void unlock() { ck_mcs_shim_unlock(&lock_, &node_); }
};

// The data every critical section updates.
long g_counter = 0;

template <typename L>
void BM_Uncontended(benchmark::State& state) {
  native::CpuBinding cpu(0);
  L::setup();
  L l;
  for (auto _ : state) {
    l.lock();
    benchmark::DoNotOptimize(++g_counter);
    l.unlock();
  }
  state.SetItemsProcessed(state.iterations());
}

template <typename L>
void BM_Contended(benchmark::State& state) {
  native::CpuBinding cpu(state.thread_index());
  if (state.thread_index() == 0) L::setup();  // the loop start is a barrier
  L l;
  for (auto _ : state) {
    l.lock();
    benchmark::DoNotOptimize(++g_counter);
    l.unlock();
  }
  state.SetItemsProcessed(state.iterations());
}

// The contended figures swing by 3x between repetitions on a shared 2-core
// machine (a descheduled lock holder or queued waiter stalls everyone), so
// besides mean/median/stddev/cv the aggregates report the spread: `min` and
// `max` of each column over the repetitions (of items/s, `min` is the worst
// repetition; of time, the best).
double Min(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }
double Max(const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); }

#define LOCK_BENCHMARKS(L, name)                                                   \
  BENCHMARK_TEMPLATE(BM_Uncontended, L)->Name("uncontended/" name);                \
  BENCHMARK_TEMPLATE(BM_Contended, L)                                              \
      ->Name("contended/" name)                                                    \
      ->Threads(2)                                                                 \
      ->UseRealTime()                                                              \
      ->ComputeStatistics("min", Min)                                              \
      ->ComputeStatistics("max", Max)

using RqMainline = RqspinlockAdapter<Profile::kMainline>;
using Rq618 = RqspinlockAdapter<Profile::kLinux618>;

LOCK_BENCHMARKS(BaselineAdapter, "qspinlock_nochecks");
LOCK_BENCHMARKS(RqMainline, "rqspinlock_mainline");
LOCK_BENCHMARKS(Rq618, "rqspinlock_linux618");
LOCK_BENCHMARKS(TasAdapter, "tas_spinlock");
LOCK_BENCHMARKS(TicketAdapter, "ticket_lock");
LOCK_BENCHMARKS(StdMutexAdapter, "std_mutex");
LOCK_BENCHMARKS(AbslMutexAdapter, "absl_mutex");
LOCK_BENCHMARKS(CkMcsAdapter, "ck_mcs");

}  // namespace
