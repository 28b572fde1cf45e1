// tests/stream/bpf_stream_read_test.cc: the read syscall's whole contract on
// the model's fd table (BPF_PROG_STREAM_READ_BY_FD: attribute check, fd
// kinds, stream id, u32 length) and the user-buffer model (NULL, read-only,
// a second page unmapped), per profile, natively on CPU 0.
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

struct Fixture {
  native::CpuBinding cpu{0};
  bpf_fd_table table;
  int fd = -1;
  bpf_prog* prog = nullptr;
  Fixture() {
    set_page_fault_policy(PageFaultPolicy::never());
    fd = bpf_prog_load_bare(&table, "reader", 8);
    prog = bpf_prog_get(&table, fd);
    bpf_prog_put(prog);  // the fd keeps it
  }
  ~Fixture() {
    bpf_fd_table_release(&table);
    bpf_stream_alloc_drain_all();
    CHECK(bpf_stream_alloc_stats_read().elems_live == 0);
  }
  bpf_stream* out() { return bpf_stream_get(BPF_STDOUT, prog); }
  void push(const std::string& s) {
    REQUIRE(bpf_stream_push_str(out(), s.data(), static_cast<int>(s.size())) == 0);
  }
  int charge() { return bpf_stream_capacity_read(out()); }
  std::string drain() {
    std::string all;
    char b[64];
    for (int n; (n = bpf_prog_stream_read_by_fd(&table, fd, BPF_STDOUT, b, sizeof(b))) > 0;)
      all.append(b, static_cast<std::size_t>(n));
    return all;
  }
};

bpf_prog_stream_read_attr attr_of(int fd, u32 id, bpf_user_buf* buf, u32 len) {
  bpf_prog_stream_read_attr a;
  a.stream_buf = buf;
  a.stream_buf_len = len;
  a.stream_id = id;
  a.prog_fd = static_cast<u32>(fd);
  return a;
}

}  // namespace

TEST_CASE("read syscall: attribute, fd, id and length checks in the kernel's order") {
  for (Profile p : kAllProfiles) {
    ScopedProfile scope(p);
    INFO(profile_name(p));
    Fixture f;
    f.push("abc");
    const int map_fd = bpf_fd_install_file(&f.table, bpf_fd_kind::kMap);
    const int other_fd = bpf_fd_install_file(&f.table, bpf_fd_kind::kOther);
    const int closed_fd = bpf_fd_install_file(&f.table, bpf_fd_kind::kOther);
    REQUIRE(bpf_prog_close_fd(&f.table, closed_fd) == 0);
    char mem[64];
    bpf_user_buf buf = bpf_user_buf_of(mem, sizeof(mem));
    auto read = [&](bpf_prog_stream_read_attr a) { return bpf_prog_stream_read_by_fd(&f.table, a); };
    CHECK(read(attr_of(-1, BPF_STDOUT, &buf, 64)) == -EBADF);
    CHECK(read(attr_of(closed_fd, BPF_STDOUT, &buf, 64)) == -EBADF);
    CHECK(read(attr_of(0, BPF_STDOUT, &buf, 64)) == -EBADF);
    CHECK(read(attr_of(map_fd, BPF_STDOUT, &buf, 64)) == -EINVAL);
    CHECK(read(attr_of(other_fd, BPF_STDOUT, &buf, 64)) == -EINVAL);
    for (u32 id : {0u, 3u, 0xffffffffu}) CHECK(read(attr_of(f.fd, id, &buf, 64)) == -ENOENT);
    auto past = attr_of(f.fd, BPF_STDOUT, &buf, 64);
    past.past_last_field = 1;
    CHECK(read(past) == -EINVAL);
    // Order: the fd before the id, the attribute before the fd, the id
    // before the length.
    CHECK(read(attr_of(-1, 7, &buf, 64)) == -EBADF);
    auto bad_both = attr_of(-1, BPF_STDOUT, &buf, 64);
    bad_both.past_last_field = 1;
    CHECK(read(bad_both) == -EINVAL);
    CHECK(read(attr_of(f.fd, 9, &buf, 0x80000000u)) == -ENOENT);
    // None of the refused calls consumed anything.
    CHECK(f.charge() == 3);
    CHECK(read(attr_of(f.fd, BPF_STDOUT, &buf, 64)) == 3);
    CHECK(std::string(mem, 3) == "abc");
    CHECK(f.charge() == 0);
    CHECK(bpf_prog_close_fd(&f.table, map_fd) == 0);
    CHECK(bpf_prog_close_fd(&f.table, map_fd) == -EBADF);
  }
}

TEST_CASE("read syscall: a length above INT_MAX, per profile") {
  for (Profile p : kAllProfiles) {
    ScopedProfile scope(p);
    INFO(profile_name(p));
    Fixture f;
    char mem[64];
    bpf_user_buf buf = bpf_user_buf_of(mem, sizeof(mem));
    for (u32 len : {0x80000000u, 0xfffffffeu, 0xffffffffu}) {
      INFO(len);
      // Empty stream: 6.18 reads nothing (0), as the running kernel answers.
      const int empty = bpf_prog_stream_read_by_fd(&f.table, attr_of(f.fd, BPF_STDOUT, &buf, len));
      CHECK(empty == (profile_has_mainline_fixes(p) ? -EINVAL : 0));
      f.push("hello");
      const int full = bpf_prog_stream_read_by_fd(&f.table, attr_of(f.fd, BPF_STDOUT, &buf, len));
      // 6.18: the negative int reaches the copy as a huge size: -EFAULT,
      // the data stays. mainline refuses the length before the read.
      CHECK(full == (profile_has_mainline_fixes(p) ? -EINVAL : -EFAULT));
      CHECK(f.charge() == 5);
      CHECK(f.drain() == "hello");
    }
  }
}

TEST_CASE("read syscall: NULL and read-only buffers give -EFAULT and keep the data") {
  for (Profile p : kAllProfiles) {
    ScopedProfile scope(p);
    INFO(profile_name(p));
    Fixture f;
    // Empty stream: the buffer is never touched.
    CHECK(bpf_prog_stream_read_by_fd(&f.table, attr_of(f.fd, BPF_STDOUT, nullptr, 64)) == 0);
    f.push("abc");
    f.push("defg");
    CHECK(bpf_prog_stream_read_by_fd(&f.table, attr_of(f.fd, BPF_STDOUT, nullptr, 64)) == -EFAULT);
    CHECK(bpf_prog_stream_read_by_fd(&f.table, attr_of(f.fd, BPF_STDOUT, nullptr, 0)) == 0);
    char mem[64];
    bpf_user_buf ro = bpf_user_buf_of(mem, sizeof(mem));
    ro.fault_from = 0;  // mapped read-only
    CHECK(bpf_prog_stream_read_by_fd(&f.table, attr_of(f.fd, BPF_STDOUT, &ro, 64)) == -EFAULT);
    CHECK(f.charge() == 7);
    CHECK(f.drain() == "abcdefg");
    CHECK(f.charge() == 0);
  }
}

TEST_CASE("read syscall: the second page unmapped, per profile") {
  for (Profile p : kAllProfiles) {
    ScopedProfile scope(p);
    INFO(profile_name(p));
    Fixture f;
    // a (4090 bytes in five elements, at most 1024 each), then b (10) and
    // c (6): the page boundary (4096) falls inside b.
    const std::string a(4090, 'a'), b = "bbbbbbbbbb", c = "cccccc";
    for (int i = 0; i < 4; i++) f.push(std::string(1000, 'a'));
    f.push(std::string(90, 'a'));
    f.push(b);
    f.push(c);
    std::vector<char> mem(2 * bpf_user_buf::page_size, '\0');
    bpf_user_buf buf = bpf_user_buf_of(mem.data(), mem.size());
    buf.fault_from = bpf_user_buf::page_size;
    const int n = bpf_prog_stream_read_by_fd(&f.table, attr_of(f.fd, BPF_STDOUT, &buf, 8192));
    const std::string rest = f.drain();
    if (profile_has_mainline_fixes(p)) {
      // The count copied: all of a and b's first 6 bytes; the rest follows.
      CHECK(n == 4096);
      CHECK(std::string(mem.data(), 4096) == a + b.substr(0, 6));
      CHECK(rest == b.substr(6) + c);
    } else {
      // -EFAULT, and a (copied, given back, freed) is gone: the reader sees
      // b and c only (docs/kernel-findings.md #5).
      CHECK(n == -EFAULT);
      CHECK(rest == b + c);
    }
    CHECK(f.charge() == 0);
  }
}

TEST_CASE("read syscall: a fault on the first byte is -EFAULT under every profile") {
  for (Profile p : kAllProfiles) {
    ScopedProfile scope(p);
    Fixture f;
    f.push("xyz");
    char mem[8];
    bpf_user_buf buf = bpf_user_buf_of(mem, sizeof(mem));
    buf.fault_from = 0;
    CHECK(bpf_prog_stream_read_by_fd(&f.table, attr_of(f.fd, BPF_STDOUT, &buf, 8)) == -EFAULT);
    CHECK(f.drain() == "xyz");
  }
}
