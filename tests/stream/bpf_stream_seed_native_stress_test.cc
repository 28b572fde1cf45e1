// The seed's bpf_stream_next_elem on real threads: two writer CPUs push
// numbered records while two popper CPUs pop them with next_elem (the
// backlog under the rqspinlock, batches detached outside it). Every accepted
// record must be popped exactly once, whole, none dropped (without NMIs the
// lock never fails), and the charge must end at 0 (each pop gives its bytes
// back). Per-writer order is NOT checked: the seed breaks it across poppers
// (scenario stream/seed_next_elem_order). Run under --config=tsan/asan too.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "alloc/stream_elem.h"
#include "model/native/cpu_binding.h"
#include "model/page_alloc.h"
#include "model/profile.h"
#include "stream/bpf_prog.h"
#include "stream/bpf_stream.h"
#include "stream/bpf_stream_seed.h"

using namespace kmodel;

namespace {

constexpr int kWriters = 2;
constexpr int kPoppers = 2;
constexpr int kRecords = 20000;  // per writer
constexpr int kRecordLen = 8;    // "<w><seq 6 digits>\n"

}  // namespace

TEST_CASE("seed next_elem: two poppers and two writers, exactly once", "[native_concurrency]") {
  ScopedProfile profile(Profile::kSeed);
  set_page_fault_policy(PageFaultPolicy::never());
  bpf_prog_unregistered prog;
  bpf_prog_stream_init(&prog);
  bpf_stream* stream = bpf_stream_get(BPF_STDOUT, &prog);
  std::vector<std::atomic<int>> seen(kWriters * kRecords);
  std::atomic<int> writers_done{0}, bad{0}, popped{0};
  std::atomic<long> accepted{0};

  auto pop_one = [&]() {
    bpf_stream_elem* e = bpf_stream_next_elem(stream);
    if (e == nullptr) return false;
    const bpf_mem_slice slice = bpf_stream_elem_mem_slice(e);
    const char* s = static_cast<const char*>(slice.ptr);
    int seq = 0;
    for (int i = 1; i < 7; i++) seq = seq * 10 + (s[i] - '0');
    const int w = s[0] - 'A';
    if (slice.len != kRecordLen || w < 0 || w >= kWriters || seq >= kRecords || s[7] != '\n')
      bad.fetch_add(1);
    else
      seen[static_cast<std::size_t>(w * kRecords + seq)].fetch_add(1);
    popped.fetch_add(1);
    bpf_stream_free_elem(e);
    return true;
  };

  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; w++)
    threads.emplace_back([&, w] {
      native::CpuBinding cpu(w);
      char rec[kRecordLen];
      for (int seq = 0; seq < kRecords;) {
        rec[0] = static_cast<char>('A' + w);
        for (int i = 6, v = seq; i >= 1; i--, v /= 10) rec[i] = static_cast<char>('0' + v % 10);
        rec[7] = '\n';
        const int ret = bpf_stream_push_str(stream, rec, kRecordLen);
        if (ret == 0) {
          seq++;
          accepted.fetch_add(1);
        } else if (ret != -ENOSPC) {
          bad.fetch_add(1);
          break;
        }
      }
      writers_done.fetch_add(1);
    });
  for (int p = 0; p < kPoppers; p++)
    threads.emplace_back([&, p] {
      native::CpuBinding cpu(kWriters + p);
      while (writers_done.load() < kWriters) pop_one();
      while (pop_one()) {
      }
    });
  for (std::thread& t : threads) t.join();
  {
    native::CpuBinding cpu(0);
    while (pop_one()) {
    }
    CHECK(bad.load() == 0);
    CHECK(accepted.load() == kWriters * kRecords);
    CHECK(popped.load() == kWriters * kRecords);
    int not_once = 0;
    for (auto& n : seen) not_once += n.load() == 1 ? 0 : 1;
    CHECK(not_once == 0);
    CHECK(bpf_stream_seed_stats_read().batches_dropped == 0);
    CHECK(bpf_stream_capacity_read(stream) == 0);
    bpf_prog_stream_free(&prog);
    bpf_stream_alloc_drain_all();
  }
}
