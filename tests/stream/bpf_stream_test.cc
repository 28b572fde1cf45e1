// Native unit tests of struct bpf_stream: round trip, FIFO, byte-granular
// reads, ids, capacity (-ENOSPC and its return), and the profile differences
// (6.18's -ENOMEM capacity leak for long output vs mainline's -E2BIG, the
// seed's len + 1 accounting, the capacity kept or returned after a failed
// allocation).
#include <catch2/catch.hpp>

#include <cerrno>
#include <string>
#include <vector>

#include "alloc/stream_elem.h"
#include "model/native/cpu_binding.h"
#include "model/page_alloc.h"
#include "model/profile.h"
#include "stream/bpf_prog.h"
#include "stream/bpf_stream.h"

using namespace kmodel;

namespace {

// Every test runs as CPU 0 on a fresh program and frees everything after.
struct Fixture {
  native::CpuBinding cpu{0};
  bpf_prog_unregistered prog;
  Fixture() {
    set_page_fault_policy(PageFaultPolicy::never());
    bpf_prog_stream_init(&prog);
  }
  ~Fixture() {
    bpf_prog_stream_free(&prog);
    set_page_fault_policy(PageFaultPolicy::never());
    bpf_stream_alloc_drain_all();
    CHECK(bpf_stream_alloc_stats_read().elems_live == 0);
  }
  bpf_stream* out() { return bpf_stream_get(BPF_STDOUT, &prog); }
  std::string read_all(int id, int chunk = 512) {
    std::string all;
    std::vector<char> buf(static_cast<std::size_t>(chunk));
    for (;;) {
      const int n = bpf_prog_stream_read(&prog, id, buf.data(), chunk);
      REQUIRE(n >= 0);
      if (n == 0) return all;
      all.append(buf.data(), static_cast<std::size_t>(n));
    }
  }
  int printk(int id, const char* fmt, std::vector<u64> args = {}) {
    return bpf_stream_vprintk(id, fmt, args.empty() ? nullptr : args.data(),
                              static_cast<u32>(args.size() * 8), &prog);
  }
};

}  // namespace

TEST_CASE_METHOD(Fixture, "a write reads back; the capacity goes back to 0") {
  ScopedProfile p(Profile::kLinux618);
  REQUIRE(bpf_stream_push_str(out(), "hello", 5) == 0);
  CHECK(bpf_stream_capacity_read(out()) == 5);
  CHECK(read_all(BPF_STDOUT) == "hello");
  CHECK(bpf_stream_capacity_read(out()) == 0);
  CHECK(bpf_stream_alloc_stats_read().elems_live == 0);
}

TEST_CASE_METHOD(Fixture, "vprintk formats into the right stream") {
  ScopedProfile p(Profile::kLinux618);
  CHECK(printk(BPF_STDOUT, "x=%d ", {42}) == 0);
  CHECK(printk(BPF_STDERR, "err %s", {reinterpret_cast<u64>("boom")}) == 0);
  CHECK(printk(BPF_STDOUT, "y=%u", {7}) == 0);
  CHECK(read_all(BPF_STDERR) == "err boom");
  CHECK(read_all(BPF_STDOUT) == "x=42 y=7");
  CHECK(printk(BPF_STDOUT, "%5.1d", {1}) == -EINVAL);  // a format error passes through
  CHECK(bpf_stream_capacity_read(out()) == 0);
}

TEST_CASE_METHOD(Fixture, "FIFO order per writer, also across a backlog refill") {
  ScopedProfile p(Profile::kLinux618);
  std::string want;
  for (int i = 0; i < 10; ++i) {
    const std::string m = "m" + std::to_string(i) + ";";
    REQUIRE(bpf_stream_push_str(out(), m.data(), static_cast<int>(m.size())) == 0);
    want += m;
  }
  char buf[7];
  const int n = bpf_prog_stream_read(&prog, BPF_STDOUT, buf, 7);  // backlog now holds the rest
  REQUIRE(n == 7);
  for (int i = 10; i < 15; ++i) {  // these go to the log, behind the backlog
    const std::string m = "m" + std::to_string(i) + ";";
    REQUIRE(bpf_stream_push_str(out(), m.data(), static_cast<int>(m.size())) == 0);
    want += m;
  }
  CHECK(std::string(buf, 7) + read_all(BPF_STDOUT, 3) == want);
}

TEST_CASE_METHOD(Fixture, "reads are byte granular; a partly read element keeps its rest") {
  ScopedProfile p(Profile::kLinux618);
  REQUIRE(bpf_stream_push_str(out(), "abcdef", 6) == 0);
  REQUIRE(bpf_stream_push_str(out(), "XY", 2) == 0);
  char c[8] = {};
  CHECK(bpf_stream_read(out(), c, 1) == 1);
  CHECK(c[0] == 'a');
  CHECK(bpf_stream_capacity_read(out()) == 8);  // nothing fully consumed yet
  CHECK(bpf_stream_read(out(), c, 6) == 6);     // crosses into the second element
  CHECK(std::string(c, 6) == "bcdefX");
  CHECK(bpf_stream_capacity_read(out()) == 2);  // the first is given back
  CHECK(bpf_stream_alloc_stats_read().elems_live == 1);
  CHECK(bpf_stream_read(out(), c, 8) == 1);
  CHECK(c[0] == 'Y');
  CHECK(bpf_stream_capacity_read(out()) == 0);
  CHECK(bpf_stream_read(out(), c, 8) == 0);
}

TEST_CASE_METHOD(Fixture, "an empty stream reads 0; a bad id is -ENOENT") {
  char c[4];
  CHECK(bpf_prog_stream_read(&prog, BPF_STDOUT, c, 4) == 0);
  CHECK(bpf_prog_stream_read(&prog, BPF_STDERR, c, 4) == 0);
  for (int id : {0, 3, -1}) {
    CHECK(bpf_stream_get(id, &prog) == nullptr);
    CHECK(bpf_prog_stream_read(&prog, id, c, 4) == -ENOENT);
    CHECK(printk(id, "hi") == -ENOENT);
  }
}

TEST_CASE_METHOD(Fixture, "capacity: -ENOSPC at the limit, nothing queued, room after a read") {
  for (Profile profile : {Profile::kLinux618, Profile::kMainline}) {
    ScopedProfile p(profile);
    INFO(profile_name(profile));
    REQUIRE(bpf_stream_max_capacity() == 100000);
    static char chunk[1000];
    for (int i = 0; i < 99; ++i) REQUIRE(bpf_stream_push_str(out(), chunk, 1000) == 0);
    CHECK(bpf_stream_capacity_read(out()) == 99000);
    // charge + len must stay below the capacity: 99000 + 1000 is refused ...
    CHECK(bpf_stream_push_str(out(), chunk, 1000) == -ENOSPC);
    CHECK(bpf_stream_capacity_read(out()) == 99000);
    // ... 99000 + 999 is accepted, after which the stream is at 99999.
    CHECK(bpf_stream_push_str(out(), chunk, 999) == 0);
    CHECK(bpf_stream_push_str(out(), chunk, 1) == -ENOSPC);
    CHECK(bpf_stream_alloc_stats_read().elems_live == 100);
    std::vector<char> buf(1000);
    REQUIRE(bpf_stream_read(out(), buf.data(), 1000) == 1000);
    CHECK(bpf_stream_capacity_read(out()) == 98999);
    CHECK(bpf_stream_push_str(out(), chunk, 1000) == 0);
    CHECK(read_all(BPF_STDOUT).size() == 99999);
    CHECK(bpf_stream_capacity_read(out()) == 0);
  }
}

TEST_CASE_METHOD(Fixture, "output over 1024 bytes: 6.18 -ENOMEM leaks the charge, mainline -E2BIG") {
  // %s copies at most 511 bytes of a string: long output comes from the format.
  const std::string big(1500, 'z');
  {
    ScopedProfile p(Profile::kLinux618);
    CHECK(printk(BPF_STDOUT, big.c_str()) == -ENOMEM);
    CHECK(bpf_stream_capacity_read(out()) == 1500);  // the kernel bug
    CHECK(read_all(BPF_STDOUT).empty());
    CHECK(bpf_stream_capacity_read(out()) == 1500);  // never given back
  }
  bpf_prog_stream_free(&prog);
  bpf_prog_stream_init(&prog);
  {
    ScopedProfile p(Profile::kMainline);
    CHECK(printk(BPF_STDOUT, big.c_str()) == -E2BIG);
    CHECK(bpf_stream_capacity_read(out()) == 0);
    CHECK(read_all(BPF_STDOUT).empty());
  }
}

TEST_CASE_METHOD(Fixture, "seed: the NUL is counted and pushed; long output is truncated") {
  ScopedProfile p(Profile::kSeed);
  CHECK(bpf_stream_max_capacity() == 4 * 1024 * 1024);
  CHECK(printk(BPF_STDOUT, "abc") == 0);
  CHECK(bpf_stream_capacity_read(out()) == 4);
  CHECK(read_all(BPF_STDOUT) == std::string("abc", 4));
  const std::string big(1500, 'q');
  CHECK(printk(BPF_STDOUT, big.c_str()) == 0);
  CHECK(bpf_stream_capacity_read(out()) == 1024);
  CHECK(read_all(BPF_STDOUT) == std::string(1023, 'q') + std::string(1, '\0'));
  CHECK(bpf_stream_capacity_read(out()) == 0);
}

TEST_CASE_METHOD(Fixture, "6.18 / mainline count the formatted length only") {
  for (Profile profile : {Profile::kLinux618, Profile::kMainline}) {
    ScopedProfile p(profile);
    CHECK(printk(BPF_STDOUT, "abc") == 0);
    CHECK(bpf_stream_capacity_read(out()) == 3);
    CHECK(read_all(BPF_STDOUT) == "abc");
  }
}

TEST_CASE_METHOD(Fixture, "alloc failure after the charge: 6.18 leaks it, mainline returns it") {
  {
    ScopedProfile p(Profile::kLinux618);
    bpf_stream_alloc_drain_all();  // no current page: the next element needs one
    set_page_fault_policy(PageFaultPolicy::every_nth(1));
    CHECK(bpf_stream_push_str(out(), "abc", 3) == -ENOMEM);
    set_page_fault_policy(PageFaultPolicy::never());
    CHECK(bpf_stream_capacity_read(out()) == 3);
  }
  bpf_prog_stream_free(&prog);
  bpf_prog_stream_init(&prog);
  {
    ScopedProfile p(Profile::kMainline);
    set_page_fault_policy(PageFaultPolicy::every_nth(1));
    CHECK(bpf_stream_push_str(out(), "abc", 3) == -ENOMEM);
    set_page_fault_policy(PageFaultPolicy::never());
    CHECK(bpf_stream_capacity_read(out()) == 0);
  }
}

TEST_CASE_METHOD(Fixture, "teardown frees queued elements in the log and the backlog") {
  ScopedProfile p(Profile::kLinux618);
  for (int i = 0; i < 5; ++i) REQUIRE(bpf_stream_push_str(out(), "abcd", 4) == 0);
  char c[2];
  REQUIRE(bpf_stream_read(out(), c, 2) == 2);  // 5 elements now in the backlog
  REQUIRE(bpf_stream_push_str(out(), "late", 4) == 0);
  REQUIRE(bpf_stream_push_str(bpf_stream_get(BPF_STDERR, &prog), "e", 1) == 0);
  CHECK(bpf_stream_alloc_stats_read().elems_live == 7);
  bpf_prog_stream_free(&prog);
  CHECK(bpf_stream_alloc_stats_read().elems_live == 0);
  bpf_prog_stream_init(&prog);
}

TEST_CASE_METHOD(Fixture, "profiles: output of exactly 1024 bytes, and empty output") {
  const std::string exact(1024, 'e');  // bstr_printf keeps 1023 and the NUL
  {
    ScopedProfile p(Profile::kLinux618);
    CHECK(printk(BPF_STDOUT, exact.c_str()) == 0);  // 1023 'e' and the NUL
    CHECK(read_all(BPF_STDOUT) == std::string(1023, 'e') + std::string(1, '\0'));
    CHECK(printk(BPF_STDOUT, "") == 0);  // a zero-length element is queued
    CHECK(read_all(BPF_STDOUT).empty());
  }
  {
    ScopedProfile p(Profile::kMainline);
    CHECK(printk(BPF_STDOUT, exact.c_str()) == -E2BIG);  // truncated: refused
    CHECK(bpf_stream_capacity_read(out()) == 0);
    const std::string fits(1023, 'f');
    CHECK(printk(BPF_STDOUT, fits.c_str()) == 0);
    CHECK(read_all(BPF_STDOUT) == fits);
    const u64 allocs = page_alloc_stats().allocations;
    CHECK(printk(BPF_STDOUT, "") == 0);  // nothing allocated, nothing queued
    CHECK(page_alloc_stats().allocations == allocs);
    CHECK(bpf_stream_alloc_stats_read().elems_live == 0);
  }
}
