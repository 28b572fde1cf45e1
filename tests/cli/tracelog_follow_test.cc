// tests/cli/tracelog_follow_test.cc: `tracelog --follow` on model programs
// (the `next` profile): the follow prints what a writer on another CPU
// writes while it runs and ends at EOF when the program dies; the errors of
// the open are returned unchanged and nothing is printed.
#include <catch2/catch.hpp>

#include <cerrno>
#include <cstdio>
#include <string>
#include <thread>

#include "alloc/stream_elem.h"
#include "cli/tracelog_follow.h"
#include "model/native/cpu_binding.h"
#include "model/page_alloc.h"
#include "model/profile.h"
#include "stream/bpf_prog.h"
#include "stream/bpf_stream.h"
#include "stream/bpf_stream_fd.h"

using namespace kmodel;

namespace {

std::string contents(std::FILE* f) {
  std::rewind(f);
  std::string s;
  char buf[256];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof(buf), f)) > 0;) s.append(buf, n);
  return s;
}

}  // namespace

TEST_CASE("tracelog --follow: errors of the open, nothing printed") {
  native::CpuBinding cpu{0};
  bpf_fd_table table;
  const int prog_fd = bpf_prog_load_bare(&table, "follow", 4);
  std::FILE* out = std::tmpfile();
  REQUIRE(out != nullptr);
  {
    ScopedProfile p(Profile::kMainline);
    CHECK(tracelog::tracelog_follow_model(&table, prog_fd, BPF_STDOUT, out) == -EINVAL);
  }
  {
    ScopedProfile p(Profile::kNext);
    CHECK(tracelog::tracelog_follow_model(&table, prog_fd, 0, out) == -ENOENT);
    CHECK(tracelog::tracelog_follow_model(&table, 77, BPF_STDOUT, out) == -EBADF);
    CHECK(tracelog::tracelog_follow_fd(&table, prog_fd, out) == -EBADF);  // not a stream fd
  }
  CHECK(contents(out).empty());
  std::fclose(out);
  bpf_fd_table_release(&table);
}

TEST_CASE("tracelog --follow: blocks for a live program's output, ends at EOF when it dies",
          "[native_concurrency]") {
  native::CpuBinding cpu{0};
  ScopedProfile profile(Profile::kNext);
  set_page_fault_policy(PageFaultPolicy::never());
  bpf_fd_table table;
  const int prog_fd = bpf_prog_load_bare(&table, "follow", 4);
  const int fd = bpf_prog_stream_open(&table, prog_fd, BPF_STDOUT, nullptr);
  REQUIRE(fd >= 0);
  bpf_prog* prog = bpf_prog_get(&table, prog_fd);
  std::string expected;
  for (int i = 0; i < 200; i++) expected += "line " + std::to_string(i) + "\n";
  std::thread writer([&] {
    native::CpuBinding wcpu{1};
    for (int i = 0; i < 200; i++) {
      const std::string line = "line " + std::to_string(i) + "\n";
      // Each run returns to task context: the CPU's irq_work (the wake-up) runs.
      bpf_prog_run(prog, [&] {
        int ret;
        while ((ret = bpf_stream_push_str(bpf_stream_get(BPF_STDOUT, prog), line.data(),
                                          static_cast<int>(line.size()))) == -ENOSPC) {
        }
        return ret;
      });
    }
    bpf_prog_put(prog);
    bpf_prog_close_fd(&table, prog_fd);  // the program dies: EOF after the drain
    irq_work_run();
  });
  std::FILE* out = std::tmpfile();
  REQUIRE(out != nullptr);
  const int ret = tracelog::tracelog_follow_fd(&table, fd, out);
  writer.join();
  CHECK(ret == 0);
  CHECK(contents(out) == expected);
  std::fclose(out);
  CHECK(bpf_prog_registry_count() == 0);
  bpf_fd_table_release(&table);
  bpf_stream_alloc_drain_all();
  CHECK(bpf_stream_alloc_stats_read().elems_live == 0);
}
