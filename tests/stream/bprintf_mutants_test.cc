// bprintf details that tools/mutate.py showed untested (docs/reliability.md):
// where the diagnosis of a rejected %p extension points.
#include <catch2/catch.hpp>

#include <cerrno>
#include <string>

#include "model/native/cpu_binding.h"
#include "stream/bprintf.h"

using namespace kmodel;

TEST_CASE("an unsupported %p extension is diagnosed at the extension's character") {
  native::CpuBinding cpu(0);
  struct Row {
    const char* fmt;
    int offset;
    const char* shown;
  } rows[] = {
      {"%pZ", 2, "at offset 2 ('Z')"},
      {"ab %pi5 cd", 5, "at offset 5 ('i')"},
      {"%d %pIx", 5, "at offset 5 ('I')"},
  };
  const u64 args[2] = {1, 2};
  for (const Row& row : rows) {
    INFO(row.fmt);
    bpf_bprintf_data data;
    const int ret = bpf_bprintf_prepare(row.fmt, static_cast<u32>(std::string(row.fmt).size() + 1),
                                        args, 2, &data);
    CHECK(ret == -EINVAL);
    CHECK(data.diag.offset == row.offset);
    const std::string why = bpf_bprintf_explain("bpf_bprintf_prepare", row.fmt, ret, data);
    CHECK(why.find(row.shown) != std::string::npos);
    CHECK(why.find("unsupported %p extension") != std::string::npos);
  }
}

TEST_CASE("explaining an unterminated format reads no further than fmt_size") {
  native::CpuBinding cpu(0);
  const char fmt[3] = {'%', 'd', 'x'};  // no NUL
  bpf_bprintf_data data;
  const int ret = bpf_bprintf_prepare(fmt, sizeof(fmt), nullptr, 0, &data);
  REQUIRE(ret == -EINVAL);
  const std::string why = bpf_bprintf_explain("bpf_bprintf_prepare", fmt, ret, data, sizeof(fmt));
  CHECK(why.find("(\"%dx\")") != std::string::npos);
}
