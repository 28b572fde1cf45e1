// The kernel's own stream selftests, asked of the model: the programs of
// tools/testing/selftests/bpf/progs/stream.c and the user-space checks of
// prog_tests/stream.c (Linux 6.17 onwards), each written here as the model's
// calls, under every profile that has the merged API. The stderr texts of
// stream_cond_break, stream_deadlock and the arena faults are checked
// against the same selftest regular expressions by stream_report_test
// (native) and stream_report_sim_test (simulator); this file holds the
// selftests whose verdict is a number.
#include <catch2/catch.hpp>

#include <cerrno>
#include <string>

#include "model/native/cpu_binding.h"
#include "model/profile.h"
#include "stream/bpf_prog.h"
#include "stream/bpf_stream.h"

using namespace kmodel;

namespace {

// progs/stream.c's _STR: 54 'x's, written with bpf_stream_printk (no
// arguments), and its `size` that counts the bytes written so far.
const std::string kStr(54, 'x');

struct Exhaust {
  int writes = 0;        // accepted before the first refusal
  int size = 0;          // the selftest's counter at the refusal
  int refusal = 0;       // the first non-zero return
};

// stream_exhaust: write until the first failure; the selftest returns 0 iff
// that failure is -ENOSPC with size == 99954.
Exhaust exhaust(bpf_prog* prog) {
  Exhaust e;
  for (int i = 0; i < 8 * 1024 * 1024; i++) {  // BPF_MAX_LOOPS
    const int ret = bpf_stream_vprintk(BPF_STDOUT, kStr.c_str(), nullptr, 0, prog);
    if (ret != 0) {
      e.refusal = ret;
      return e;
    }
    e.writes++;
    e.size += static_cast<int>(kStr.size());
  }
  return e;
}

// A program loaded as the selftest's skeleton does, run and read from CPU 0.
struct Loaded {
  native::CpuBinding cpu{0};
  bpf_fd_table table;
  int fd;
  bpf_prog* prog;
  Loaded() : fd(bpf_prog_load_bare(&table, "stream_syscall", 8)), prog(bpf_prog_get(&table, fd)) {}
  ~Loaded() {
    bpf_prog_put(prog);
    bpf_fd_table_release(&table);
  }
};

}  // namespace

TEST_CASE("selftest stream_exhaust: -ENOSPC exactly when 99954 bytes are charged") {
  for (Profile p : {Profile::kLinux618, Profile::kMainline, Profile::kNext}) {
    ScopedProfile profile(p);
    INFO(profile_name(p));
    Loaded l;
    const Exhaust e = exhaust(l.prog);
    CHECK(e.refusal == -ENOSPC);
    CHECK(e.size == 99954);  // the selftest's literal: 1851 writes of 54 bytes
    CHECK(bpf_stream_capacity_read(bpf_stream_get(BPF_STDOUT, l.prog)) == e.size);
  }
}

TEST_CASE("selftest stream_exhaust under the seed: its 4 MiB bound and counted NUL fail it") {
  // The seed series charged the NUL too and allowed 4 MiB: the merged
  // selftest's program would return 1 there. The point where it refuses:
  // the first write whose 55 bytes no longer fit.
  ScopedProfile profile(Profile::kSeed);
  Loaded l;
  const Exhaust e = exhaust(l.prog);
  CHECK(e.refusal == -ENOSPC);
  CHECK(e.writes == BPF_STREAM_MAX_CAPACITY_SEED / 55);
  CHECK(e.size != 99954);
}

TEST_CASE("selftest stream_syscall: the read syscall's errors and byte counts") {
  for (Profile p : {Profile::kLinux618, Profile::kMainline, Profile::kNext}) {
    ScopedProfile profile(p);
    INFO(profile_name(p));
    Loaded l;
    REQUIRE(bpf_stream_vprintk(BPF_STDOUT, "foo", nullptr, 0, l.prog) == 0);
    char buf[64];
    // prog_fd 0 is the test's stdin, an open file that is not a program.
    const int not_a_prog = bpf_fd_install_file(&l.table, bpf_fd_kind::kOther);
    CHECK(bpf_prog_stream_read_by_fd(&l.table, not_a_prog, BPF_STDOUT, buf, sizeof(buf)) ==
          -EINVAL);
    CHECK(bpf_prog_stream_read_by_fd(&l.table, l.fd, 0, buf, sizeof(buf)) == -ENOENT);
    CHECK(bpf_prog_stream_read_by_fd(&l.table, l.fd, BPF_STDOUT, nullptr, sizeof(buf)) ==
          -EFAULT);
    // None of the failed calls consumed anything.
    CHECK(bpf_prog_stream_read_by_fd(&l.table, l.fd, BPF_STDOUT, buf, 2) == 2);
    CHECK(std::string(buf, 2) == "fo");
    CHECK(bpf_prog_stream_read_by_fd(&l.table, l.fd, BPF_STDOUT, buf, 2) == 1);
    CHECK(buf[0] == 'o');
    CHECK(bpf_prog_stream_read_by_fd(&l.table, l.fd, BPF_STDOUT, buf, 1) == 0);
    CHECK(bpf_prog_stream_read_by_fd(&l.table, l.fd, BPF_STDERR, buf, 1) == 0);
  }
}
