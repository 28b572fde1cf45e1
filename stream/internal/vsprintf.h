// stream/internal/vsprintf.h: the pieces of lib/vsprintf.c that both halves
// of bprintf use. prepare pre-formats IP addresses and %pB into bin_args
// (bstr_printf only copies those back), and reads unsafe memory the nofault
// way; bstr_printf formats everything else.
#ifndef KMODEL_STREAM_INTERNAL_VSPRINTF_H_
#define KMODEL_STREAM_INTERNAL_VSPRINTF_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "model/types.h"
#include "stream/bprintf.h"

KMODEL_NAMESPACE_BEGIN
namespace bprintf_internal {

// An output cursor with snprintf semantics: writes while there is room,
// counts every character.
struct Sink {
  char* buf;
  std::size_t size;
  std::size_t pos = 0;

  bool full() const { return pos >= size; }
  void put(char c) {
    if (pos < size) buf[pos] = c;
    ++pos;
  }
  void pad(char c, long n) {
    if (n <= 0) return;
    if (full()) {
      pos += static_cast<std::size_t>(n);
      return;
    }
    while (n-- > 0) put(c);
  }
  // The kernel copies a string a character at a time, front to back; after
  // bprintf's packed-argument overrun the source can lie in this very
  // output, ahead of the cursor, and then that order decides what is copied.
  // Only a copy that cannot overlap goes as one memcpy.
  void puts(const char* s, std::size_t n) {
    const std::size_t fits = pos < size ? std::min(n, size - pos) : 0;
    if (fits && apart(s, buf + pos, fits)) {
      std::memcpy(buf + pos, s, fits);
      pos += n;
      return;
    }
    for (std::size_t i = 0; i < n; ++i) put(s[i]);
  }
  static bool apart(const char* a, const char* b, std::size_t n) {
    const auto x = reinterpret_cast<std::uintptr_t>(a), y = reinterpret_cast<std::uintptr_t>(b);
    return x + n <= y || y + n <= x;
  }
  // NUL-terminate in place (truncating the last character when full).
  void terminate() {
    if (size == 0) return;
    buf[pos < size ? pos : size - 1] = '\0';
  }
};

// vsprintf's printf_spec, reduced to what bprintf can reach.
enum : unsigned {
  ZEROPAD = 1,
  SIGN = 2,
  PLUS = 4,
  SPACE = 8,
  LEFT = 16,
  SMALL = 32,
  SPECIAL = 64,
};
inline constexpr int FIELD_WIDTH_MAX = (1 << 23) - 1;

struct Spec {
  unsigned flags = 0;
  int width = -1;  // -1: none
  int base = 10;
};

void number(Sink& out, u64 num, Spec spec);

// The text the kernel pre-formats into bin_args for %pi4/%pI4/%pi6/%pI6
// (kind 'i' or 'I', version '4' or '6') and for %pB. Both return the length
// snprintf would have returned.
int format_ip(char* dst, std::size_t room, char kind, char version, const u8* addr);
int format_backtrace(char* dst, std::size_t room, u64 addr);

// Which address space a nofault read may touch (see bprintf.h, "user and
// kernel memory"): kKernel is copy_from_kernel_nofault /
// strncpy_from_kernel_nofault (fails on user memory), kUser is
// strncpy_from_user_nofault (fails on anything else), kEither is what %s
// does on x86-64 (user below TASK_SIZE, kernel above).
enum class AddressSpace { kKernel, kUser, kEither };

// copy_from_kernel_nofault under the model's fault rule (see bprintf.h).
bool copy_nofault(void* dst, u64 src, std::size_t len);
// strncpy_from_{kernel,user}_nofault: copies at most count bytes incl. the
// NUL (a longer string is cut to count - 1 characters); returns the bytes
// stored incl. the NUL, or -EFAULT with dst[0] = '\0'.
long strncpy_nofault(char* dst, u64 src, long count, AddressSpace space);

// bstr_printf over packed arguments that prepare wrote into a
// bpf_bprintf_buffers (bin_buf at its start): reads may run past bin_args
// into the level's output buffer, as the kernel's do after an overrun, up
// to the end of that struct (zeros beyond, where the kernel reads on).
int bstr_printf_buffers(char* buf, std::size_t size, const char* fmt, const u32* bin_buf);

}  // namespace bprintf_internal
KMODEL_NAMESPACE_END

#endif  // KMODEL_STREAM_INTERNAL_VSPRINTF_H_
