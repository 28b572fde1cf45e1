// docs/bprintf.md's contract example, compiled and run, so the doc cannot
// drift from the API (tools/check_doc_examples.py checks the doc's copy).
#include <catch2/catch.hpp>

#include "model/native/cpu_binding.h"
#include "stream/bprintf.h"

using namespace kmodel;

namespace {

int write_formatted(const char* fmt, const u64* args, u32 data_len) {
  bpf_bprintf_data data;                     // get_bin_args, get_buf set by the call
  int len = bpf_stream_format(fmt, args, data_len, &data);
  if (len < 0) return len;                   // nothing held; data.diag says why
  /* stream layer: charge capacity, allocate, copy data.buf */
  bpf_bprintf_cleanup(&data);                // release this nesting level
  return len;
}

}  // namespace

TEST_CASE("the bprintf contract example formats, then releases its level") {
  native::CpuBinding cpu(0);  // kernel-shaped code runs on a CPU
  const u64 args[2] = {7, 42};
  CHECK(write_formatted("%d of %d\n", args, sizeof(args)) == 8);
  CHECK(bpf_bprintf_nest_level_read(0) == 0);
  CHECK(write_formatted("%5.2d", args, sizeof(args)) == -EINVAL);
  CHECK(bpf_bprintf_nest_level_read(0) == 0);
}
