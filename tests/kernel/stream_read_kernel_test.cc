// BPF_PROG_STREAM_READ_BY_FD against the running kernel: the error answers
// of the read syscall, as a table the model's fd-level reader must match.
//
// What it proves: for each malformed read (bad fd, an fd that is not a
// program, a bad stream id, a NULL or bad buffer, a huge or zero length, a
// non-zero byte past the command's last field), the kernel answers what the
// table says, and the model's syscall (bpf_prog_stream_read_by_fd under the
// linux-6.18 profile, on its own fd table with the same kinds of fds: a
// program, a map, a non-BPF file, a closed fd, -1) answers the same, row for
// row (docs/stream.md, "The read syscall").
//
// The kernel's streams are empty here (writes fail with -ENOMEM on this
// machine), so the rows that pass a valid program read nothing: a NULL or
// unmapped buffer is never touched and the answer is 0. Where writes work
// the same rows would copy (or fault, -EFAULT); the test then skips them.
//
// Skips ("SKIPPED: ..."): no BTF; no privilege; no stream kfunc (no streams).
#include <catch2/catch.hpp>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "model/native/cpu_binding.h"
#include "stream/bpf_prog.h"
#include "stream/bpf_stream.h"
#include "tests/kernel/bpf_test_support.h"

namespace {

using kernel_test::skip;

// The read command's attribute with one more word after prog_fd: the
// kernel's CHECK_ATTR refuses a non-zero byte there.
struct ReadAttr {
  __aligned_u64 stream_buf;
  __u32 stream_buf_len;
  __u32 stream_id;
  __u32 prog_fd;
  __u32 past_last_field;
};

long raw_read(int fd, unsigned id, const void* buf, unsigned len, unsigned past = 0) {
  ReadAttr attr{};
  attr.stream_buf = reinterpret_cast<__u64>(buf);
  attr.stream_buf_len = len;
  attr.stream_id = id;
  attr.prog_fd = static_cast<__u32>(fd);
  attr.past_last_field = past;
  const long n = syscall(__NR_bpf, kernel_test::BPF_PROG_STREAM_READ_BY_FD, &attr, sizeof(attr));
  return n < 0 ? -errno : n;
}

enum class Fd { kProg, kClosed, kMinusOne, kDevNull, kMap };

struct Row {
  const char* what;
  Fd fd;
  unsigned id;
  enum { kBuf, kNull, kUnmapped } buf;
  unsigned len;
  unsigned past;
  long kernel;  // the kernel's answer (6.18.44, empty streams); the model's too
};

// docs/stream.md carries the same table.
constexpr Row kRows[] = {
    {"valid: stderr, 64 bytes, empty stream", Fd::kProg, 2, Row::kBuf, 64, 0, 0},
    {"valid: stdout, empty stream", Fd::kProg, 1, Row::kBuf, 64, 0, 0},
    {"prog_fd -1", Fd::kMinusOne, 2, Row::kBuf, 64, 0, -EBADF},
    {"prog_fd not open", Fd::kClosed, 2, Row::kBuf, 64, 0, -EBADF},
    {"prog_fd of /dev/null (not BPF)", Fd::kDevNull, 2, Row::kBuf, 64, 0, -EINVAL},
    {"prog_fd of a map (BPF, not a program)", Fd::kMap, 2, Row::kBuf, 64, 0, -EINVAL},
    {"stream_id 0", Fd::kProg, 0, Row::kBuf, 64, 0, -ENOENT},
    {"stream_id 3", Fd::kProg, 3, Row::kBuf, 64, 0, -ENOENT},
    {"stream_id 0xffffffff", Fd::kProg, 0xffffffffu, Row::kBuf, 64, 0, -ENOENT},
    {"stream_buf NULL, len 64, empty stream", Fd::kProg, 2, Row::kNull, 64, 0, 0},
    {"stream_buf NULL, len 0", Fd::kProg, 2, Row::kNull, 0, 0, 0},
    {"stream_buf unmapped, empty stream", Fd::kProg, 2, Row::kUnmapped, 64, 0, 0},
    {"stream_buf_len 0", Fd::kProg, 2, Row::kBuf, 0, 0, 0},
    {"stream_buf_len 0xffffffff, empty stream", Fd::kProg, 2, Row::kBuf, 0xffffffffu, 0, 0},
    {"non-zero byte past prog_fd", Fd::kProg, 2, Row::kBuf, 64, 1, -EINVAL},
    {"bad fd and bad id: the fd is checked first", Fd::kMinusOne, 7, Row::kBuf, 64, 0, -EBADF},
    {"bad fd and a byte past prog_fd: the attribute first", Fd::kMinusOne, 2, Row::kBuf, 64, 1,
     -EINVAL},
};

}  // namespace

TEST_CASE("BPF_PROG_STREAM_READ_BY_FD: the kernel's answers to malformed reads") {
  if (const std::string why = kernel_test::kernel_unavailable(); !why.empty()) return skip(why);
  kernel_test::StreamObject loaded;
  kernel_test::load_stream_object(&loaded, "STREAM_PROBE_BPF_OBJ", "stream_probe");
  if (!loaded.skip.empty()) return skip(loaded.skip);
  if (!loaded.error.empty()) FAIL(loaded.error);
  std::string error;
  const int prog_fd = loaded.prog_fd("stream_probe");
  REQUIRE(prog_fd >= 0);
  // A write first: when this kernel can write, the streams are not empty
  // and the "empty stream" rows do not apply.
  const int written = kernel_test::test_run(prog_fd, "stream_probe", &error);
  REQUIRE(error == "");
  if (written == 0)
    return skip("this kernel's stream writes succeed: the table is for empty streams (rerun "
                "on a kernel whose stream writes fail with -ENOMEM, or extend the table)");
  REQUIRE(written == -ENOMEM);

  const int devnull = open("/dev/null", O_RDONLY);
  REQUIRE(devnull >= 0);
  const int map_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "read_test", 4, 4, 1, nullptr);
  REQUIRE(map_fd >= 0);
  const int closed = dup(devnull);
  close(closed);

  // The model's side: the same kinds of fds in its own table.
  kmodel::native::CpuBinding cpu(0);
  kmodel::ScopedProfile profile(kmodel::Profile::kLinux618);
  kmodel::bpf_fd_table table;
  const int m_prog = kmodel::bpf_prog_load_bare(&table, "stream_probe", 8);
  const int m_devnull = kmodel::bpf_fd_install_file(&table, kmodel::bpf_fd_kind::kOther);
  const int m_map = kmodel::bpf_fd_install_file(&table, kmodel::bpf_fd_kind::kMap);
  const int m_closed = kmodel::bpf_fd_install_file(&table, kmodel::bpf_fd_kind::kOther);
  REQUIRE(kmodel::bpf_prog_close_fd(&table, m_closed) == 0);

  char buf[64];
  std::printf("%-52s %8s %8s\n", "BPF_PROG_STREAM_READ_BY_FD", "kernel", "model");
  for (const Row& row : kRows) {
    INFO(row.what);
    int fd = prog_fd, mfd = m_prog;
    switch (row.fd) {
      case Fd::kProg: fd = prog_fd; mfd = m_prog; break;
      case Fd::kClosed: fd = closed; mfd = m_closed; break;
      case Fd::kMinusOne: fd = -1; mfd = -1; break;
      case Fd::kDevNull: fd = devnull; mfd = m_devnull; break;
      case Fd::kMap: fd = map_fd; mfd = m_map; break;
    }
    const void* b = row.buf == Row::kBuf ? buf
                    : row.buf == Row::kNull ? nullptr
                                            : reinterpret_cast<const void*>(0x1000);
    const long kernel = raw_read(fd, row.id, b, row.len, row.past);
    kmodel::bpf_user_buf ubuf = kmodel::bpf_user_buf_of(buf, sizeof(buf));
    if (row.buf == Row::kUnmapped) ubuf.fault_from = 0;  // nothing mapped there
    kmodel::bpf_prog_stream_read_attr attr;
    attr.stream_buf = row.buf == Row::kNull ? nullptr : &ubuf;
    attr.stream_buf_len = row.len;
    attr.stream_id = row.id;
    attr.prog_fd = static_cast<__u32>(mfd);
    attr.past_last_field = row.past;
    const long model = kmodel::bpf_prog_stream_read_by_fd(&table, attr);
    std::printf("%-52s %8ld %8ld\n", row.what, kernel, model);
    CHECK(kernel == row.kernel);
    CHECK(model == kernel);
  }
  kmodel::bpf_fd_table_release(&table);
  close(map_fd);
  close(devnull);
}
