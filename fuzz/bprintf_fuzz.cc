// fuzz/bprintf_fuzz.cc: format string + argument bytes through
// bpf_bprintf_prepare(), bstr_printf() and bpf_stream_format()
// (stream/bprintf.h).
//
// Properties: never a crash or an access outside the buffers (ASan: the
// format, the output and the arena are heap blocks of their exact sizes);
// prepare returns 0, -EINVAL or -ENOSPC (-EBUSY needs nesting, which a
// single call never has), with a reason on every error and nothing held
// afterwards; bstr_printf returns the would-be length and NUL-terminates
// where snprintf would; bpf_stream_format returns a length or one of the
// kernel's errnos, its text NUL-terminated inside MAX_BPRINTF_BUF.
//
// Input layout:
//   byte 0   bits 0-1 profile (seed, linux-6.18, mainline, mainline),
//            bit 2 no_hash_pointers, bits 3-4 kptr_restrict (0..2),
//            bit 5 a symbol table for %ps/%pS/%pB, bit 6 get_bin_args,
//            bit 7 get_buf
//   byte 1   num_args (0..15: above 12 is an error the kernel checks)
//   byte 2   output size for bstr_printf: byte * 5 (0..1275)
//   byte 3-4 pointer mask: argument i points into the arena when bit i is set
//   12 x 8   the arguments, little-endian (a pointer argument's value is an
//            offset into the arena)
//   rest     the format string, fmt_size = its length (NUL inside or not)
// The arena is a copy of the whole input plus a NUL; every other address
// "faults" for the nofault reads (bprintf_fault_range_add), so a raw
// argument used as a pointer is read as the kernel reads a bad pointer.
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "fuzz/fuzz_util.h"
#include "model/native/cpu_binding.h"
#include "model/profile.h"
#include "stream/bprintf.h"

using namespace kmodel;
using kmodel::fuzz::ByteReader;

namespace {

bool fuzz_symbols(u64 addr, bprintf_symbol* sym) {
  // Two fake symbols: one built in, one in a module.
  if (addr >= 0x1000 && addr < 0x1040) {
    *sym = {"schedule", addr - 0x1000, 0x40, nullptr};
    return true;
  }
  if (addr >= 0x2000 && addr < 0x2100) {
    *sym = {"probe", addr - 0x2000, 0x100, "mymod"};
    return true;
  }
  return false;
}

bool prepare_errno_ok(int ret) { return ret == 0 || ret == -EINVAL || ret == -ENOSPC; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  [[maybe_unused]] static native::CpuBinding cpu(0);  // the whole process is CPU 0
  ByteReader in(data, size);
  const std::uint8_t control = in.u8();
  const Profile profiles[] = {Profile::kSeed, Profile::kLinux618, Profile::kMainline,
                              Profile::kMainline};
  ScopedProfile profile(profiles[control & 3]);
  const u32 num_args = in.u8() % 16;
  const std::size_t out_size = std::size_t{in.u8()} * 5;
  const unsigned ptr_mask = in.u8() | (unsigned{in.u8()} << 8);
  u64 raw[MAX_BPRINTF_VARARGS + 4] = {};
  for (int i = 0; i < MAX_BPRINTF_VARARGS; ++i) raw[i] = in.u64();
  const std::string_view fmt_bytes = in.rest();

  // The arena: the input and a NUL; everything else faults.
  std::unique_ptr<char[]> arena(new char[size + 1]);
  std::memcpy(arena.get(), data, size);
  arena[size] = '\0';
  const u64 arena_start = reinterpret_cast<u64>(arena.get());
  const u64 arena_end = arena_start + size + 1;
  bprintf_fault_ranges_clear();
  FUZZ_CHECK(bprintf_fault_range_add(nullptr, arena_start), "fault range");
  FUZZ_CHECK(bprintf_fault_range_add(reinterpret_cast<const void*>(arena_end), 0 - arena_end),
             "fault range");
  for (int i = 0; i < MAX_BPRINTF_VARARGS; ++i)
    if (ptr_mask & (1u << i)) raw[i] = arena_start + raw[i] % (size + 1);

  bprintf_config config;
  config.no_hash_pointers = control & 4;
  config.kptr_restrict = ((control >> 3) & 3) % 3;
  config.lookup_symbol = (control & 32) ? fuzz_symbols : nullptr;
  bprintf_config_set(config);

  // The format, exactly its bytes (no NUL added).
  std::unique_ptr<char[]> fmt(new char[fmt_bytes.size() ? fmt_bytes.size() : 1]);
  std::memcpy(fmt.get(), fmt_bytes.data(), fmt_bytes.size());
  const u32 fmt_size = static_cast<u32>(fmt_bytes.size());

  bpf_bprintf_data pd;
  pd.get_bin_args = control & 64;
  pd.get_buf = control & 128;
  const int ret = bpf_bprintf_prepare(fmt.get(), fmt_size, raw, num_args, &pd);
  FUZZ_CHECK(prepare_errno_ok(ret), "bpf_bprintf_prepare returned %d", ret);
  if (ret != 0) {
    FUZZ_CHECK(pd.diag.reason != nullptr, "error %d without a reason", ret);
    FUZZ_CHECK(pd.diag.offset < static_cast<int>(fmt_size), "diag offset %d past fmt_size %u",
               pd.diag.offset, fmt_size);
    FUZZ_CHECK(bpf_bprintf_nest_level_read(0) == 0, "failed prepare holds a buffer");
    const std::string why = bpf_bprintf_explain("bpf_bprintf_prepare", fmt.get(), ret, pd, fmt_size);
    FUZZ_CHECK(!why.empty(), "empty explanation");
  } else {
    // prepare accepted it, so fmt is NUL-terminated within fmt_size.
    FUZZ_CHECK(std::memchr(fmt.get(), '\0', fmt_size) != nullptr, "accepted fmt without NUL");
    if (pd.get_bin_args) {
      std::unique_ptr<char[]> out(new char[out_size ? out_size : 1]);
      const int n = bstr_printf(out_size ? out.get() : nullptr, out_size, fmt.get(), pd.bin_args);
      FUZZ_CHECK(n >= 0, "bstr_printf returned %d", n);
      if (out_size > 0) {
        const std::size_t end = std::min<std::size_t>(static_cast<std::size_t>(n), out_size - 1);
        FUZZ_CHECK(out[end] == '\0', "bstr_printf did not terminate at %zu", end);
      }
    }
    bpf_bprintf_cleanup(&pd);
    FUZZ_CHECK(bpf_bprintf_nest_level_read(0) == 0, "cleanup left a buffer held");
  }

  // What bpf_stream_vprintk does with a NUL-terminated format (fmt__str).
  std::string fmt_str(fmt_bytes);
  const u32 data_len = num_args * 8 + ((control & 0x30) == 0x30 ? 4 : 0);  // sometimes unaligned
  bpf_bprintf_data sd;
  const int len = bpf_stream_format(fmt_str.c_str(), raw, data_len, &sd);
  if (len >= 0) {
    FUZZ_CHECK(sd.buf != nullptr, "no buffer");
    FUZZ_CHECK(std::memchr(sd.buf, '\0', MAX_BPRINTF_BUF) != nullptr, "unterminated output");
    bpf_bprintf_cleanup(&sd);
  } else {
    FUZZ_CHECK(prepare_errno_ok(len), "bpf_stream_format returned %d", len);
  }
  FUZZ_CHECK(bpf_bprintf_nest_level_read(0) == 0, "bpf_stream_format left a buffer held");
  bprintf_fault_ranges_clear();
  return 0;
}
