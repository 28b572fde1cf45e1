// stream/vsprintf.cc: bstr_printf() for the conversions bprintf admits, and
// the vsprintf pieces prepare needs (IP and %pB pre-formatting, nofault
// reads). Mirrors lib/vsprintf.c (number, string, pointer_string,
// default_pointer, restricted_pointer, symbol_string, ip4/ip6 strings,
// bstr_printf) and mm/maccess.c (the nofault copies), Linux 6.18.
//
// Nothing here allocates or locks: bstr_printf runs in NMI context.
#include <cerrno>
#include <cstring>

#include "model/cpu.h"
#include "stream/bprintf.h"
#include "stream/internal/ctype.h"
#include "stream/internal/vsprintf.h"

KMODEL_NAMESPACE_BEGIN

namespace {
bprintf_config g_config;

struct FaultRange {
  u64 start;
  u64 len;
};
FaultRange g_fault_ranges[kBprintfFaultRanges];
int g_fault_range_count = 0;
FaultRange g_user_ranges[kBprintfUserRanges];
int g_user_range_count = 0;

bool in_ranges(const FaultRange* ranges, int count, u64 addr) {
  for (int i = 0; i < count; ++i)
    if (addr - ranges[i].start < ranges[i].len) return true;
  return false;
}

bool is_user(u64 addr) { return in_ranges(g_user_ranges, g_user_range_count, addr); }

// Whether reading the byte at addr through `space` faults.
bool faults(u64 addr, bprintf_internal::AddressSpace space) {
  using bprintf_internal::AddressSpace;
  if (addr == 0 || in_ranges(g_fault_ranges, g_fault_range_count, addr)) return true;
  switch (space) {
    case AddressSpace::kKernel: return is_user(addr);  // copy_from_kernel_nofault_allowed()
    case AddressSpace::kUser: return !is_user(addr);   // access_ok()
    case AddressSpace::kEither: return false;
  }
  return true;
}
}  // namespace

void bprintf_config_set(const bprintf_config& config) { g_config = config; }
bprintf_config bprintf_config_get() { return g_config; }

bool bprintf_fault_range_add(const void* addr, std::size_t len) {
  if (g_fault_range_count == kBprintfFaultRanges) return false;
  g_fault_ranges[g_fault_range_count++] = {reinterpret_cast<u64>(addr), len};
  return true;
}
void bprintf_fault_ranges_clear() { g_fault_range_count = 0; }

bool bprintf_user_range_add(const void* addr, std::size_t len) {
  if (g_user_range_count == kBprintfUserRanges) return false;
  g_user_ranges[g_user_range_count++] = {reinterpret_cast<u64>(addr), len};
  return true;
}
void bprintf_user_ranges_clear() { g_user_range_count = 0; }

namespace bprintf_internal {

// ---- nofault reads -----------------------------------------------------------

bool copy_nofault(void* dst, u64 src, std::size_t len) {
  for (std::size_t i = 0; i < len; ++i)
    if (faults(src + i, AddressSpace::kKernel)) return false;
  std::memcpy(dst, reinterpret_cast<const void*>(src), len);
  return true;
}

long strncpy_nofault(char* dst, u64 src, long count, AddressSpace space) {
  if (count <= 0) return 0;
  // %s: the whole read goes one way, chosen by where the string starts.
  if (space == AddressSpace::kEither) space = is_user(src) ? AddressSpace::kUser : AddressSpace::kKernel;
  for (long i = 0; i < count; ++i) {
    if (faults(src + static_cast<u64>(i), space)) {
      dst[0] = '\0';
      return -EFAULT;
    }
    dst[i] = *reinterpret_cast<const char*>(src + static_cast<u64>(i));
    if (dst[i] == '\0') return i + 1;
  }
  dst[count - 1] = '\0';  // cut: the kernel keeps count - 1 characters
  return count;
}

// ---- numbers -----------------------------------------------------------------

// The digits of num, least significant first; returns how many. The base is
// a constant so the division is a multiply (a run-time divisor is a 64-bit
// div per digit).
template <unsigned kBase>
int digits_reversed(char* tmp, u64 num, const char* digits) {
  int n = 0;
  do {
    tmp[n++] = digits[num % kBase];
    num /= kBase;
  } while (num != 0);
  return n;
}

// lib/vsprintf.c number() without precision: sign, "0x" prefix (SPECIAL),
// zero or space padding to the width, left adjustment.
void number(Sink& out, u64 num, Spec spec) {
  const char* digits = (spec.flags & SMALL) ? "0123456789abcdef" : "0123456789ABCDEF";
  if (spec.flags & LEFT) spec.flags &= ~ZEROPAD;
  long width = spec.width;
  char sign = 0;
  if (spec.flags & SIGN) {
    if (static_cast<s64>(num) < 0) {
      sign = '-';
      num = 0 - num;
    } else if (spec.flags & PLUS) {
      sign = '+';
    } else if (spec.flags & SPACE) {
      sign = ' ';
    }
    if (sign) --width;
  }
  const bool prefix = (spec.flags & SPECIAL) && spec.base == 16;
  if (prefix) width -= 2;
  char tmp[24];
  // bprintf reaches bases 10 and 16 only (prepare refuses %o).
  int n = spec.base == 16 ? digits_reversed<16>(tmp, num, digits)
                          : digits_reversed<10>(tmp, num, digits);
  width -= n;
  const bool left = spec.flags & LEFT;
  if (!left && !(spec.flags & ZEROPAD)) out.pad(' ', width);
  if (sign) out.put(sign);
  if (prefix) {
    out.put('0');
    out.put((spec.flags & SMALL) ? 'x' : 'X');
  }
  if (!left && (spec.flags & ZEROPAD)) out.pad('0', width);
  while (n > 0) out.put(tmp[--n]);
  if (left) out.pad(' ', width);
}

namespace {

// string()/widen_string(): pad with spaces to the width, never with zeros.
void string(Sink& out, const char* s, std::size_t len, Spec spec) {
  const long pad = static_cast<long>(spec.width) - static_cast<long>(len);
  if (!(spec.flags & LEFT)) out.pad(' ', pad);
  out.puts(s, len);
  if (spec.flags & LEFT) out.pad(' ', pad);
}

void hex(Sink& out, u64 v) {  // "%lx"
  number(out, v, Spec{.flags = SMALL, .width = -1, .base = 16});
}
void special_hex(Sink& out, u64 v) {  // "%#lx": the kernel prints 0 as 0x0
  number(out, v, Spec{.flags = SMALL | SPECIAL, .width = -1, .base = 16});
}
void cstr(Sink& out, const char* s) { out.puts(s, std::strlen(s)); }

// kallsyms' __sprint_symbol(): name[+0xoff/0xsize][ [module]], or 0x<addr>.
// symbol_offset is -1 for %pB (look up the caller of a return address).
void sprint_symbol(Sink& out, u64 addr, int symbol_offset, bool add_offset) {
  bprintf_symbol sym;
  const u64 lookup = addr + static_cast<u64>(static_cast<s64>(symbol_offset));
  if (g_config.lookup_symbol == nullptr || !g_config.lookup_symbol(lookup, &sym) ||
      sym.name == nullptr) {
    out.puts("0x", 2);
    hex(out, addr);
    return;
  }
  cstr(out, sym.name);
  if (add_offset) {
    out.put('+');
    special_hex(out, sym.offset - static_cast<u64>(static_cast<s64>(symbol_offset)));
    out.put('/');
    special_hex(out, sym.size);
  }
  if (sym.module != nullptr) {
    out.puts(" [", 2);
    cstr(out, sym.module);
    out.put(']');
  }
}

// KSYM_SYMBOL_LEN-sized scratch, as the kernel's symbol_string() has.
constexpr std::size_t kSymLen = 640;

void symbol_string(Sink& out, u64 addr, Spec spec, char ext) {
  char sym[kSymLen];
  Sink s{sym, sizeof(sym)};
  sprint_symbol(s, addr, 0, ext != 's');
  s.terminate();
  string(out, sym, std::strlen(sym), spec);
}

void pointer_string(Sink& out, u64 ptr, Spec spec) {
  spec.base = 16;
  spec.flags |= SMALL;
  if (spec.width == -1) {
    spec.width = 2 * static_cast<int>(sizeof(void*));
    spec.flags |= ZEROPAD;
  }
  number(out, ptr, spec);
}

bool is_err_or_null(u64 ptr) { return ptr == 0 || ptr >= static_cast<u64>(-4095); }

// A stand-in for siphash with the boot-time key: deterministic, 32 bits.
u64 model_ptr_hash(u64 ptr) {
  u64 z = ptr + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return (z ^ (z >> 31)) & 0xffffffffull;
}

void default_pointer(Sink& out, u64 ptr, Spec spec) {
  if (g_config.no_hash_pointers || is_err_or_null(ptr)) return pointer_string(out, ptr, spec);
  pointer_string(out, model_ptr_hash(ptr), spec);
}

void restricted_pointer(Sink& out, u64 ptr, Spec spec) {
  switch (g_config.kptr_restrict) {
    case 0:
      return default_pointer(out, ptr, spec);
    case 1:
      if (in_hardirq() || in_serving_softirq() || in_nmi()) {
        if (spec.width == -1) spec.width = 2 * static_cast<int>(sizeof(void*));
        return string(out, "pK-error", 8, spec);
      }
      return pointer_string(out, 0, spec);  // no CAP_SYSLOG in the model
    default:
      return pointer_string(out, 0, spec);
  }
}

// pointer() for the extensions bstr_printf formats itself.
void pointer(Sink& out, char ext, u64 ptr, Spec spec) {
  switch (ext) {
    case 'S':
    case 's':
      return symbol_string(out, ptr, spec, ext);
    case 'x':
      return pointer_string(out, ptr, spec);
    case 'K':
      return restricted_pointer(out, ptr, spec);
    default:
      return default_pointer(out, ptr, spec);
  }
}

}  // namespace

// ---- pre-formatted arguments -------------------------------------------------

int format_ip(char* dst, std::size_t room, char kind, char version, const u8* addr) {
  Sink out{dst, room};
  if (version == '4') {
    for (int i = 0; i < 4; ++i) {
      if (i) out.put('.');
      Spec spec{.flags = kind == 'i' ? ZEROPAD : 0u, .width = kind == 'i' ? 3 : -1};
      number(out, addr[i], spec);
    }
  } else {
    static constexpr char kHex[] = "0123456789abcdef";
    for (int i = 0; i < 16; ++i) {
      if (kind == 'I' && i > 0 && i % 2 == 0) out.put(':');
      out.put(kHex[addr[i] >> 4]);
      out.put(kHex[addr[i] & 0xf]);
    }
  }
  out.terminate();
  return static_cast<int>(out.pos);
}

int format_backtrace(char* dst, std::size_t room, u64 addr) {
  Sink out{dst, room};
  sprint_symbol(out, addr, -1, true);
  out.terminate();
  return static_cast<int>(out.pos);
}

}  // namespace bprintf_internal

// ---- bstr_printf ---------------------------------------------------------------

namespace {
using namespace bprintf_internal;

// get_arg(): values 4-byte aligned (8-byte ones as two u32 halves), chars
// and pre-formatted strings byte-packed. Past the model's bound: zeros.
struct ArgReader {
  const char* base;
  std::size_t size;
  std::size_t off = 0;

  u64 get(std::size_t bytes) {
    if (bytes > 1) off = (off + 3) & ~std::size_t{3};
    u64 v = 0;
    if (base != nullptr && off + bytes <= size) std::memcpy(&v, base + off, bytes);
    off += bytes;
    return v;
  }
  const char* str(std::size_t* len) {
    static constexpr char kEmpty[] = "";
    if (base == nullptr || off >= size) {
      *len = 0;
      return kEmpty;
    }
    const char* s = base + off;
    const void* nul = std::memchr(s, '\0', size - off);
    *len = nul ? static_cast<std::size_t>(static_cast<const char*>(nul) - s) : size - off;
    return s;
  }
};

enum class Qual { kInt, kLong, kLongLong };

// format_decode(): flags, width and l/ll of one conversion; fmt points after
// the '%' and is left on the conversion character.
Spec decode_spec(const char*& fmt, Qual* qual) {
  Spec spec;
  for (;; ++fmt) {
    if (*fmt == '-') spec.flags |= LEFT;
    else if (*fmt == '+') spec.flags |= PLUS;
    else if (*fmt == ' ') spec.flags |= SPACE;
    else if (*fmt == '#') spec.flags |= SPECIAL;
    else if (*fmt == '0') spec.flags |= ZEROPAD;
    else break;
  }
  if (k_isdigit(static_cast<unsigned char>(*fmt))) {
    long w = 0;
    while (k_isdigit(static_cast<unsigned char>(*fmt))) {
      w = w * 10 + (*fmt++ - '0');
      if (w > FIELD_WIDTH_MAX) w = FIELD_WIDTH_MAX;  // the kernel clamps (and warns)
    }
    spec.width = static_cast<int>(w);
  }
  *qual = Qual::kInt;
  if (*fmt == 'l') {
    ++fmt;
    *qual = Qual::kLong;
    if (*fmt == 'l') {
      ++fmt;
      *qual = Qual::kLongLong;
    }
  }
  return spec;
}

void format_char(Sink& out, ArgReader& args, Spec spec) {
  const char c = static_cast<char>(args.get(1));
  if (!(spec.flags & LEFT)) out.pad(' ', spec.width - 1);
  out.put(c);
  if (spec.flags & LEFT) out.pad(' ', spec.width - 1);
}

void format_str(Sink& out, ArgReader& args, Spec spec) {
  std::size_t len;
  const char* s = args.str(&len);
  args.off += len + 1;
  string(out, s, len, spec);
}

// The alphanumeric extensions bprintf pre-formatted (pB, pI4, pks, ...) are
// copied verbatim, width ignored, and only while there is room: a full
// buffer neither counts them nor consumes them (the kernel's behaviour).
void format_ptr(Sink& out, ArgReader& args, Spec spec, const char*& fmt) {
  const char ext = *fmt;
  const bool process = ext == 'S' || ext == 's' || ext == 'x' || ext == 'K' ||
                       !k_isalnum(static_cast<unsigned char>(ext));
  if (process) {
    pointer(out, ext, args.get(8), spec);
  } else if (!out.full()) {
    std::size_t len;
    const char* s = args.str(&len);
    out.puts(s, len);
    args.off += len + 1;
  }
  while (k_isalnum(static_cast<unsigned char>(*fmt))) ++fmt;
}

void format_int(Sink& out, ArgReader& args, Spec spec, Qual qual, char conv) {
  if (conv == 'd' || conv == 'i') spec.flags |= SIGN;
  if (conv == 'x') spec.flags |= SMALL;
  if (conv == 'x' || conv == 'X') spec.base = 16;
  u64 num;
  if (qual != Qual::kInt) num = args.get(8);
  else if (spec.flags & SIGN) num = static_cast<u64>(static_cast<s64>(static_cast<s32>(args.get(4))));
  else num = args.get(4);
  number(out, num, spec);
}

// One conversion; false when bstr_printf must stop (an invalid conversion,
// reachable only through the seed profile's unvalidated character).
bool format_one(Sink& out, ArgReader& args, const char*& fmt) {
  Qual qual;
  Spec spec = decode_spec(fmt, &qual);
  const char conv = *fmt;
  if (conv == '\0') return false;
  ++fmt;
  switch (conv) {
    case 'c': format_char(out, args, spec); return true;
    case 's': format_str(out, args, spec); return true;
    case 'p': format_ptr(out, args, spec, fmt); return true;
    case 'd': case 'i': case 'u': case 'x': case 'X':
      format_int(out, args, spec, qual, conv);
      return true;
    default:
      return false;
  }
}

}  // namespace

namespace {
int bstr_printf_n(char* buf, std::size_t size, const char* fmt, const u32* bin_buf,
                  std::size_t bin_size) {
  Sink out{buf, size};
  ArgReader args{reinterpret_cast<const char*>(bin_buf), bin_buf ? bin_size : 0};
  while (*fmt) {
    if (*fmt != '%') {
      out.put(*fmt++);
      continue;
    }
    ++fmt;
    if (*fmt == '%') {
      out.put(*fmt++);
      continue;
    }
    if (!format_one(out, args, fmt)) break;
  }
  out.terminate();
  return static_cast<int>(out.pos);
}

}  // namespace

int bstr_printf(char* buf, std::size_t size, const char* fmt, const u32* bin_buf) {
  return bstr_printf_n(buf, size, fmt, bin_buf, MAX_BPRINTF_BIN_ARGS);
}

namespace bprintf_internal {
int bstr_printf_buffers(char* buf, std::size_t size, const char* fmt, const u32* bin_buf) {
  return bstr_printf_n(buf, size, fmt, bin_buf, sizeof(bpf_bprintf_buffers));
}
}  // namespace bprintf_internal

KMODEL_NAMESPACE_END
