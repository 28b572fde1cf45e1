// cli/tracelog on a model program: bpftool's read loop (512-byte chunks until
// a read returns 0 or an error) over the model's streams, and the command
// line's errors. The live-kernel side is tests/kernel/tracelog_kernel_test.
#include <catch2/catch.hpp>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "alloc/stream_elem.h"
#include "cli/tracelog.h"
#include "model/native/cpu_binding.h"
#include "model/page_alloc.h"
#include "model/profile.h"
#include "stream/bpf_prog.h"
#include "stream/bpf_stream.h"

using namespace kmodel;

namespace {

// A program loaded into the model's registry, read through its fd as
// BPF_PROG_STREAM_READ_BY_FD reads it.
struct ModelProgram {
  native::CpuBinding cpu{0};
  bpf_fd_table fds;
  int fd;
  std::vector<std::uint32_t> read_lens;  // every read's len, in order
  ModelProgram() {
    set_page_fault_policy(PageFaultPolicy::never());
    fd = bpf_prog_load_bare(&fds, "traced", 16);
    REQUIRE(fd >= 0);
  }
  ~ModelProgram() {
    bpf_fd_table_release(&fds);
    bpf_stream_alloc_drain_all();
    CHECK(bpf_stream_alloc_stats_read().elems_live == 0);
  }
  bpf_stream* stream(int id) {
    bpf_prog* prog = bpf_prog_get(&fds, fd);
    bpf_stream* s = bpf_stream_get(id, prog);
    bpf_prog_put(prog);  // the fd keeps the program alive
    return s;
  }
  tracelog::StreamReadFn reader() {
    return [this](int id, char* buf, std::uint32_t len) {
      read_lens.push_back(len);
      return bpf_prog_stream_read_by_fd(&fds, fd, id, buf, static_cast<int>(len));
    };
  }
};

// Runs the loop into a temporary file and returns (status, text).
std::pair<int, std::string> dump(const tracelog::StreamReadFn& read, int stream_id) {
  std::FILE* f = std::tmpfile();
  REQUIRE(f != nullptr);
  const int ret = tracelog::tracelog_stream(read, stream_id, f);
  std::string text(static_cast<std::size_t>(std::ftell(f)), '\0');
  std::rewind(f);
  REQUIRE(std::fread(text.data(), 1, text.size(), f) == text.size());
  std::fclose(f);
  return {ret, text};
}

}  // namespace

TEST_CASE("tracelog drains a model program's stream in 512-byte chunks, in order") {
  ScopedProfile profile(Profile::kLinux618);
  ModelProgram p;
  std::string expected;
  for (int i = 0; i < 40; ++i) {
    std::string line = "message " + std::to_string(i) + " " + std::string(static_cast<std::size_t>(i), 'x') + "\n";
    REQUIRE(bpf_stream_push_str(p.stream(BPF_STDOUT), line.data(), static_cast<int>(line.size())) == 0);
    expected += line;
  }
  REQUIRE(bpf_stream_push_str(p.stream(BPF_STDERR), "on stderr\n", 10) == 0);

  auto [ret, text] = dump(p.reader(), tracelog::BPF_STREAM_STDOUT);
  CHECK(ret == 0);
  CHECK(text == expected);  // stdout only, FIFO, nothing lost at chunk edges
  const std::size_t full_chunks = expected.size() / 512 + (expected.size() % 512 != 0);
  CHECK(p.read_lens.size() == full_chunks + 1);  // the last read returned 0
  for (std::uint32_t len : p.read_lens) CHECK(len == tracelog::TRACELOG_CHUNK);

  auto [ret2, text2] = dump(p.reader(), tracelog::BPF_STREAM_STDERR);
  CHECK(ret2 == 0);
  CHECK(text2 == "on stderr\n");
  auto [ret3, text3] = dump(p.reader(), tracelog::BPF_STREAM_STDOUT);
  CHECK(ret3 == 0);
  CHECK(text3.empty());  // drained: a second dump prints nothing
}

TEST_CASE("tracelog stops at a read error and reports it") {
  ModelProgram p;
  auto [ret, text] = dump(p.reader(), 3);  // no stream 3
  CHECK(ret == -ENOENT);
  CHECK(text.empty());
}

TEST_CASE("tracelog's stream names are bpftool's, prefixes included") {
  CHECK(*tracelog::parse_stream_name("stdout") == tracelog::BPF_STREAM_STDOUT);
  CHECK(*tracelog::parse_stream_name("stde") == tracelog::BPF_STREAM_STDERR);
  for (const char* bad : {"", "std", "out", "stdoutx"}) {
    INFO(bad);
    auto r = tracelog::parse_stream_name(bad);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(std::string(r.status().message()),
               Catch::Contains(std::string("'") + bad + "'"));
  }
}

TEST_CASE("tracelog's PROG errors name the input") {
  struct Case {
    std::vector<std::string> words;
    const char* says;
  };
  for (const Case& c : std::vector<Case>{
           {{"id"}, "expected one of"},
           {{"id", "12x"}, "id '12x': not a program id"},
           {{"id", "-1"}, "id '-1': not a program id"},
           {{"tag", "0011"}, "tag '0011': expected 8 bytes in hex"},
           {{"name", std::string(16, 'n')}, "1 to 15 characters"},
           {{"fd", "3"}, "PROG 'fd': expected one of"},
           {{"id", "1", "extra"}, "expected one of"},
       }) {
    auto r = tracelog::kernel_prog_fd(c.words);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(std::string(r.status().message()), Catch::Contains(c.says));
  }
  CHECK(tracelog::tracelog_main({}) == 255);
  CHECK(tracelog::tracelog_main({"sideways", "id", "1"}) == 255);
  CHECK(tracelog::tracelog_main({"stdout", "tag", "nothex"}) == 255);
}
