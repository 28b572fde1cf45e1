// End-to-end messages/s of bpf_stream_vprintk (native build, linux-6.18
// profile) against three user-space logging designs doing the same work, in
// the same run (issue 11, "Benchmark"; docs/benchmarks.md has the table).
//
// The work, the same for every side: 1 or 2 writer threads (Google Benchmark
// threads; for the stream each is bound as model CPU 0 / 1) each format
// "cpu %d seq %d %s\n" (two integers and "abc": 19 to 24 bytes, never within
// std::string's 15-byte inline buffer) and hand it over; one reader thread
// (model CPU 2 for the stream) drains concurrently, 512 bytes at a time like
// bpftool, and counts the messages. A message counts when it is written AND
// consumed: items/s is the number of messages the reader had consumed when
// the writers stopped, over the writers' real time. Every side is bounded the
// same way as the stream: when its queue is full the message is refused at
// once (the -ENOSPC a BPF program sees, it does not wait) and counted in
// `rejected` (a fraction of the attempts), never retried. A reader with
// nothing to read yields the CPU (the machine has 2 cores; a spinning reader
// would steal a writer's). After the run the reader drains the rest and the
// totals are checked: every accepted message is consumed exactly once.
//
// What each side pays per message:
//   stream    bprintf-rules formatting into the CPU's buffer (checking and
//             packing, then formatting; the nesting counter up and down: two
//             atomics), the capacity charge (one atomic add), an element from
//             the stream allocator (one atomic on its page's reference), a
//             copy, llist_add (one cmpxchg); the reader: its lock and one
//             llist_del_all per batch, the copy to the user buffer, the
//             capacity release (one atomic sub) and the element's free (one
//             atomic on the page's reference).
//             Bound: BPF_STREAM_MAX_CAPACITY = 100000 payload bytes.
//   stream_noformat  the same minus the formatting: a 22-byte text formatted
//             once, pushed with bpf_stream_push_str (the floor of the
//             stream's design under any formatter).
//   mutex     snprintf into a stack buffer, a std::string (one malloc),
//             std::mutex around a push_back on a std::deque plus a byte
//             count; the reader takes the lock once per batch, swaps the
//             whole deque out, copies into its 512-byte buffer and frees the
//             strings. Bound: the same 100000 payload bytes.
//   lockfree  snprintf, one malloc of exactly the message (the writer owns
//             it until the push succeeds, the reader frees it after copying:
//             the same ownership as a stream element), a push of the pointer
//             on a bounded boost::lockfree::queue (fixed_sized, no
//             allocation inside the queue); the reader pops one pointer at a
//             time. Bound: 100000 / 20 = 5000 slots (about the stream's
//             capacity in messages).
//   spdlog    its async logger: fmt formatting ("cpu {} seq {} {}") into the
//             message's inline buffer, a copy into the pre-allocated ring
//             under the queue's mutex and a condition-variable notify; its
//             one worker thread is the reader and hands each message to a
//             sink that does what a null sink does plus the same count and
//             copy as the other readers (no pattern formatting). Bound: 5000
//             slots; spdlog 1.10 has no discard-new policy, so a full queue
//             drops its oldest message (overrun_oldest; counted as rejected).
#include <benchmark/benchmark.h>

#include <boost/lockfree/queue.hpp>
#include <spdlog/async.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "model/native/cpu_binding.h"
#include "model/profile.h"
#include "stream/bpf_prog.h"
#include "stream/bpf_stream.h"

namespace {

using namespace kmodel;

constexpr const char* kWord = "abc";
constexpr int kChunk = 512;               // bpftool's read size
constexpr int kReaderCpu = 2;             // writers are CPUs 0 and 1
constexpr int kCapacityBytes = BPF_STREAM_MAX_CAPACITY;
constexpr int kQueueSlots = kCapacityBytes / 20;

// What every reader does with bytes it consumed: copy into its 512-byte
// buffer (the stream's reader copies as part of the read) and count
// messages by their newline.
long count_messages(const char* buf, int n) {
  long msgs = 0;
  for (const char* p = buf; (p = static_cast<const char*>(std::memchr(p, '\n', buf + n - p)));
       ++p)
    ++msgs;
  return msgs;
}

// ---- The sides ------------------------------------------------------------------
// Each side: write(cpu, seq) -> accepted?; drain(buf) -> messages consumed
// (0: nothing there). self_reading sides consume on their own thread.

// kFormats = false is the design's floor under the formatter: the same
// message text (formatted once, outside the loop) pushed with
// bpf_stream_push_str, so every charge, allocation, llist_add, read and free
// is the stream's and only bprintf is left out. What no formatting speedup
// can beat.
template <bool kFormats>
class StreamSideT {
 public:
  StreamSideT() : profile_(Profile::kLinux618) {
    bpf_prog_stream_init(&prog_);
    stdout_ = bpf_stream_get(BPF_STDOUT, &prog_);
  }
  ~StreamSideT() { bpf_prog_stream_free(&prog_); }
  static constexpr bool self_reading = false;
  static constexpr bool binds_cpus = true;

  bool write(int cpu, int seq) {
    int ret;
    if constexpr (kFormats) {
      const u64 args[3] = {static_cast<u64>(cpu), static_cast<u64>(seq),
                           reinterpret_cast<u64>(kWord)};
      ret = bpf_stream_vprintk(BPF_STDOUT, "cpu %d seq %d %s\n", args, sizeof(args), &prog_);
    } else {
      static constexpr char kText[] = "cpu 0 seq 1234567 abc\n";  // a typical 22 bytes
      ret = bpf_stream_push_str(stdout_, kText, sizeof(kText) - 1);
    }
    if (ret == 0) return true;
    if (ret != -ENOSPC) unexpected_.store(ret, std::memory_order_relaxed);
    return false;
  }
  long drain(char* buf) {
    const int n = bpf_prog_stream_read(&prog_, BPF_STDOUT, buf, kChunk);
    if (n < 0) unexpected_.store(n, std::memory_order_relaxed);
    return n > 0 ? count_messages(buf, n) : 0;
  }
  int unexpected() const { return unexpected_.load(); }

 private:
  ScopedProfile profile_;
  bpf_prog_unregistered prog_;
  bpf_stream* stdout_;
  std::atomic<int> unexpected_{0};
};
using StreamSide = StreamSideT<true>;
using StreamPushSide = StreamSideT<false>;

class MutexSide {
 public:
  static constexpr bool self_reading = false;
  static constexpr bool binds_cpus = false;

  bool write(int cpu, int seq) {
    char tmp[64];
    const int len = std::snprintf(tmp, sizeof(tmp), "cpu %d seq %d %s\n", cpu, seq, kWord);
    std::string msg(tmp, static_cast<std::size_t>(len));
    std::lock_guard<std::mutex> guard(mu_);
    if (bytes_ + len >= kCapacityBytes) return false;  // the stream's rule
    bytes_ += len;
    q_.push_back(std::move(msg));
    return true;
  }
  long drain(char* buf) {
    std::deque<std::string> batch;
    {
      std::lock_guard<std::mutex> guard(mu_);
      if (q_.empty()) return 0;
      batch.swap(q_);
      bytes_ = 0;
    }
    // Copied out 512 bytes at a time, as the stream's reader hands them.
    long msgs = 0;
    int fill = 0;
    for (const std::string& s : batch) {
      std::size_t off = 0;
      while (off < s.size()) {
        const std::size_t n = std::min<std::size_t>(s.size() - off, kChunk - fill);
        std::memcpy(buf + fill, s.data() + off, n);
        fill += static_cast<int>(n);
        off += n;
        if (fill == kChunk) {
          msgs += count_messages(buf, fill);
          fill = 0;
        }
      }
    }
    return msgs + count_messages(buf, fill);
  }
  int unexpected() const { return 0; }

 private:
  std::mutex mu_;
  std::deque<std::string> q_;
  int bytes_ = 0;
};

class LockfreeSide {
 public:
  ~LockfreeSide() {
    char* p;
    while (q_.pop(p)) std::free(p);
  }
  static constexpr bool self_reading = false;
  static constexpr bool binds_cpus = false;

  bool write(int cpu, int seq) {
    char tmp[64];
    const int len = std::snprintf(tmp, sizeof(tmp), "cpu %d seq %d %s\n", cpu, seq, kWord);
    char* msg = static_cast<char*>(std::malloc(static_cast<std::size_t>(len) + 1));
    std::memcpy(msg, tmp, static_cast<std::size_t>(len) + 1);
    if (q_.bounded_push(msg)) return true;
    std::free(msg);
    return false;
  }
  long drain(char* buf) {
    long msgs = 0;
    int fill = 0;
    char* p;
    while (fill < kChunk - 64 && q_.pop(p)) {
      const std::size_t len = std::strlen(p);
      std::memcpy(buf + fill, p, len);
      fill += static_cast<int>(len);
      std::free(p);
    }
    msgs += count_messages(buf, fill);
    return msgs;
  }
  int unexpected() const { return 0; }

 private:
  boost::lockfree::queue<char*, boost::lockfree::fixed_sized<true>> q_{kQueueSlots};
};

// spdlog's worker thread is the reader: this sink is what it drains into.
class CountingSink : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
 public:
  std::atomic<long> consumed{0};

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    const std::size_t n = std::min<std::size_t>(msg.payload.size(), kChunk);
    std::memcpy(buf_, msg.payload.data(), n);
    consumed.store(consumed.load(std::memory_order_relaxed) +
                       count_messages(buf_, static_cast<int>(n)),
                   std::memory_order_release);
  }
  void flush_() override {}

 private:
  char buf_[kChunk];
};

class SpdlogSide {
 public:
  SpdlogSide()
      : pool_(std::make_shared<spdlog::details::thread_pool>(kQueueSlots, 1)),
        sink_(std::make_shared<CountingSink>()),
        logger_(std::make_shared<spdlog::async_logger>("bench", sink_, pool_,
                                                       spdlog::async_overflow_policy::overrun_oldest)) {}
  static constexpr bool self_reading = true;
  static constexpr bool binds_cpus = false;

  bool write(int cpu, int seq) {
    logger_->info("cpu {} seq {} {}\n", cpu, seq, kWord);
    return true;  // a drop shows up later as an overrun: see rejected()
  }
  long consumed() const { return sink_->consumed.load(std::memory_order_acquire); }
  long rejected() { return static_cast<long>(pool_->overrun_counter()); }
  int unexpected() const { return 0; }

 private:
  std::shared_ptr<spdlog::details::thread_pool> pool_;
  std::shared_ptr<CountingSink> sink_;
  std::shared_ptr<spdlog::async_logger> logger_;
};

// ---- The harness ------------------------------------------------------------------

template <class Side>
struct Run {
  std::unique_ptr<Side> side;
  std::thread reader;
  std::atomic<bool> stop{false};
  std::atomic<long> consumed{0};
  std::atomic<long> accepted{0};
  std::atomic<long> rejected{0};
  std::atomic<int> published{0};
};

template <class Side>
void reader_loop(Run<Side>* run) {
  native::CpuBinding bind(kReaderCpu);
  char buf[kChunk];
  for (;;) {
    const bool stopping = run->stop.load(std::memory_order_acquire);
    const long n = run->side->drain(buf);
    if (n > 0) {
      run->consumed.store(run->consumed.load(std::memory_order_relaxed) + n,
                          std::memory_order_release);
    } else if (stopping) {
      return;
    } else {
      std::this_thread::yield();
    }
  }
}

template <class Side>
void BM_e2e(benchmark::State& state) {
  static Run<Side>* run;
  const int threads = state.threads();
  if (state.thread_index() == 0) {
    run = new Run<Side>;
    run->side = std::make_unique<Side>();
    if constexpr (!Side::self_reading) run->reader = std::thread(reader_loop<Side>, run);
  }
  // Writers bind before the start barrier; the reader may still be binding.
  std::unique_ptr<native::CpuBinding> bind;
  if constexpr (Side::binds_cpus) bind = std::make_unique<native::CpuBinding>(state.thread_index());
  const int cpu = state.thread_index();
  long accepted = 0, rejected = 0;
  int seq = 0;
  for (auto _ : state) {
    if (run->side->write(cpu, seq++)) ++accepted;
    else ++rejected;
  }
  // Past the end barrier: the clock has stopped for every writer.
  if (state.thread_index() == 0) {
    long consumed_at_stop;
    if constexpr (Side::self_reading) consumed_at_stop = run->side->consumed();
    else consumed_at_stop = run->consumed.load(std::memory_order_acquire);
    state.SetItemsProcessed(consumed_at_stop);
  }
  run->accepted.fetch_add(accepted);
  run->rejected.fetch_add(rejected);
  run->published.fetch_add(1);
  bind.reset();
  if (state.thread_index() != 0) return;
  while (run->published.load() != threads) std::this_thread::yield();

  long total_accepted = run->accepted.load(), total_rejected = run->rejected.load();
  long total_consumed;
  if constexpr (Side::self_reading) {
    // spdlog reports its drops only as overruns of accepted calls.
    while (run->side->consumed() + run->side->rejected() < total_accepted)
      std::this_thread::yield();
    total_rejected = run->side->rejected();
    total_accepted -= total_rejected;
    total_consumed = run->side->consumed();
  } else {
    run->stop.store(true, std::memory_order_release);
    run->reader.join();
    total_consumed = run->consumed.load();
  }
  const double attempts = static_cast<double>(total_accepted + total_rejected);
  state.counters["rejected"] = attempts > 0 ? static_cast<double>(total_rejected) / attempts : 0;
  if (run->side->unexpected() != 0)
    state.SkipWithError(("unexpected error " + std::to_string(run->side->unexpected())).c_str());
  else if (total_consumed != total_accepted)
    state.SkipWithError(("consumed " + std::to_string(total_consumed) + " of " +
                         std::to_string(total_accepted) + " accepted")
                            .c_str());
  delete run;
  run = nullptr;
}

// The same work on one CPU, without concurrency: write kOneCpuBatch messages,
// then drain them all with the same reader code. What each side costs per
// message in CPU time, with no scheduling and no refusals in the way (spdlog
// cannot run here: its reader is its own thread). Rated by CPU time: the
// machine is shared, and waiting for a core is not a cost of the design.
constexpr int kOneCpuBatch = 16;

template <class Side>
void BM_onecpu(benchmark::State& state) {
  native::CpuBinding bind(0);
  Side side;
  char buf[kChunk];
  long accepted = 0, consumed = 0;
  int seq = 0;
  for (auto _ : state) {
    for (int i = 0; i < kOneCpuBatch; ++i) accepted += side.write(0, seq++) ? 1 : 0;
    for (long n; (n = side.drain(buf)) > 0;) consumed += n;
  }
  state.SetItemsProcessed(consumed);
  if (side.unexpected() != 0)
    state.SkipWithError(("unexpected error " + std::to_string(side.unexpected())).c_str());
  else if (consumed != accepted || accepted != static_cast<long>(state.iterations()) * kOneCpuBatch)
    state.SkipWithError("a message was refused or lost");
}

void BM_stream_onecpu(benchmark::State& state) { BM_onecpu<StreamSide>(state); }
void BM_stream_noformat_onecpu(benchmark::State& state) { BM_onecpu<StreamPushSide>(state); }
void BM_mutex_onecpu(benchmark::State& state) { BM_onecpu<MutexSide>(state); }
void BM_lockfree_onecpu(benchmark::State& state) { BM_onecpu<LockfreeSide>(state); }
BENCHMARK(BM_stream_onecpu)->Threads(1);
BENCHMARK(BM_stream_noformat_onecpu)->Threads(1);
BENCHMARK(BM_mutex_onecpu)->Threads(1);
BENCHMARK(BM_lockfree_onecpu)->Threads(1);

void BM_stream_e2e(benchmark::State& state) { BM_e2e<StreamSide>(state); }
void BM_stream_noformat_e2e(benchmark::State& state) { BM_e2e<StreamPushSide>(state); }
void BM_mutex_e2e(benchmark::State& state) { BM_e2e<MutexSide>(state); }
void BM_lockfree_e2e(benchmark::State& state) { BM_e2e<LockfreeSide>(state); }
void BM_spdlog_e2e(benchmark::State& state) { BM_e2e<SpdlogSide>(state); }

#define E2E(fn) BENCHMARK(fn)->UseRealTime()->Threads(1)->Threads(2)
E2E(BM_stream_e2e);
E2E(BM_stream_noformat_e2e);
E2E(BM_mutex_e2e);
E2E(BM_lockfree_e2e);
E2E(BM_spdlog_e2e);

}  // namespace
