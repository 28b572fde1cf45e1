// stream/bprintf.cc: bpf_bprintf_prepare / bpf_bprintf_cleanup, the per-CPU
// buffers they borrow, and bpf_stream_vprintk's formatting front half.
// Mirrors kernel/bpf/helpers.c and kernel/bpf/stream.c (Linux 6.18; profile
// differences in bprintf.h).
#include "stream/bprintf.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "model/atomic.h"
#include "model/bug.h"
#include "model/cpu.h"
#include "model/machine_state.h"
#include "model/percpu.h"
#include "model/profile.h"
#include "model/this_cpu.h"
#include "stream/internal/ctype.h"
#include "stream/internal/vsprintf.h"

KMODEL_NAMESPACE_BEGIN

namespace {
using namespace bprintf_internal;

// DEFINE_PER_CPU(struct bpf_bprintf_buffers[MAX_BPRINTF_NEST_LEVEL], ...).
struct bpf_bprintf_cpu_bufs {
  bpf_bprintf_buffers level[MAX_BPRINTF_NEST_LEVEL];
};
PerCpu<bpf_bprintf_cpu_bufs> bpf_bprintf_bufs;
PerCpu<Atomic<int>> bpf_bprintf_nest_level;

// A simulated run that failed half-way may leave levels held.
void reset_bprintf_nest_levels() {
  for (int cpu = 0; cpu < NR_CPUS; ++cpu) plain_write(*per_cpu_ptr(&bpf_bprintf_nest_level, cpu), 0);
}
const MachineStateReset kReset(&reset_bprintf_nest_levels);

// UTF-8 literals: commit b960430ea886 (mainline, April 2026), backported to
// 6.18.y in the 6.18.32-rc1 review series (May 2026); the running 6.18.44
// accepts them. The seed series predates it.
bool allows_high_bytes() { return current_profile() != Profile::kSeed; }
bool skips_char_after_p() { return current_profile() == Profile::kSeed; }

// One pass over a format, as bpf_bprintf_prepare's loop: i_ is left on the
// last character each conversion consumed.
class Preparer {
 public:
  Preparer(const char* fmt, u32 size, const u64* raw_args, u32 num_args, bpf_bprintf_data* data)
      : fmt_(fmt), size_(size), raw_(raw_args), num_args_(num_args), data_(data) {}

  // Packs into bin_args (nullptr: validate only). mem_end is the end of the
  // memory the cursor may really write: the bpf_bprintf_buffers that
  // bin_args starts (see "The overrun" below).
  void set_bin_args(char* bin_args, char* mem_end) {
    tmp_ = bin_args;
    tmp_end_ = bin_args ? bin_args + MAX_BPRINTF_BIN_ARGS : nullptr;
    mem_end_ = mem_end;
  }

  int scan() {
    for (i_ = 0; i_ < size_; ++i_) {
      if (int err = check_text()) return err;
      if (fmt_[i_] != '%') continue;
      if (fmt_[i_ + 1] == '%') {
        ++i_;
        continue;
      }
      if (num_spec_ >= num_args_)
        return fail(-EINVAL, "more conversion specifiers than arguments", i_);
      if (int err = conversion()) return err;
    }
    // The seed's skipped character can hide a conversion that bstr_printf
    // will still read: it reads past what was packed.
    if (packs_less_than_read_) clear_beyond(tmp_);
    return 0;
  }

 private:
  int fail(int err, const char* why, u32 at) {
    data_->diag = {why, static_cast<int>(at)};
    return err;
  }
  unsigned char at(u32 i) const { return static_cast<unsigned char>(fmt_[i]); }
  u64 arg() const { return raw_[num_spec_]; }

  // ---- The overrun -------------------------------------------------------
  // The kernel's room is tmp_buf_end - tmp_buf, a ptrdiff_t. A pre-formatted
  // argument (an IP address, %pB) advances the cursor by the length snprintf
  // *would* have written, so a text that did not fit leaves the cursor past
  // tmp_buf_end and the room negative. The checks that follow then compare
  // that negative room with a size_t, which converts it to a huge value: the
  // check passes and the next argument is written past bin_args, into this
  // level's output buffer (docs/kernel-findings.md, "packed-argument
  // overrun"). The model keeps that arithmetic; it only refuses to write
  // beyond mem_end_ (the end of this level's bpf_bprintf_buffers), where the
  // kernel would go on into the next level's buffers.
  long room() const { return tmp_end_ - tmp_; }
  bool lacks_room(std::size_t size) const { return static_cast<std::size_t>(room()) < size; }
  std::size_t writable() const { return tmp_ < mem_end_ ? static_cast<std::size_t>(mem_end_ - tmp_) : 0; }
  void store(const void* src, std::size_t n) { std::memcpy(tmp_, src, std::min(n, writable())); }
  // snprintf(tmp_buf, tmp_buf_end - tmp_buf, ...) of a pre-formatted
  // argument: the size is a size_t, so a negative room is a size over
  // INT_MAX, which vsnprintf refuses (WARN_ON_ONCE, returns 0, writes
  // nothing). Returns how far the kernel moves the cursor.
  template <typename Format>
  long preformat(Format format) {
    const std::size_t size = static_cast<std::size_t>(room());
    if (size > static_cast<std::size_t>(INT_MAX)) return 1;
    return format(tmp_, std::min(size, writable())) + 1;
  }

  // Model: the kernel leaves the previous user's bytes in the buffers. Only
  // the seed's skipped character (see scan()) makes bstr_printf read bytes
  // prepare did not write; zeroing them then keeps that output independent
  // of the previous call. (An overrun's reads never see old bytes either:
  // the cut text is read by its real length, so the gap the cursor jumped is
  // never read; and bstr_printf writes its output into the buf that follows
  // bin_args, falling behind its reads by at most 8 bytes for each of the 12
  // arguments, so a read 512 bytes past the start of bin_args lands on
  // output it has already written.)
  void clear_beyond(char* from) {
    if (from < mem_end_) std::memset(from, 0, static_cast<std::size_t>(mem_end_ - from));
  }

  int check_text() {
    const unsigned char c = at(i_);
    if (!k_isascii(c) && !allows_high_bytes())
      return fail(-EINVAL, "byte >= 0x80 in the format (allowed in plain text from mainline on)", i_);
    if (k_isascii(c) && !k_isprint(c) && !k_isspace(c))
      return fail(-EINVAL, "control character in the format", i_);
    return 0;
  }

  // At a '%' that starts a conversion.
  int conversion() {
    ++i_;
    if (allows_high_bytes() && !k_isascii(at(i_)))
      return fail(-EINVAL, "byte >= 0x80 right after '%'", i_);
    while (at(i_) == '0' || at(i_) == '+' || at(i_) == '-' || at(i_) == ' ') ++i_;
    if (at(i_) >= '1' && at(i_) <= '9')
      while (k_isdigit(at(i_))) ++i_;
    switch (at(i_)) {
      case 'p': return pointer_conv();
      case 's': return string_conv('s');
      case 'c': return char_conv();
      default: return int_conv();
    }
  }

  int pointer_conv() {
    const unsigned char c1 = at(i_ + 1);
    if ((c1 == 'k' || c1 == 'u') && at(i_ + 2) == 's') {
      i_ += 2;
      return string_conv(static_cast<char>(c1));
    }
    if (c1 == 'K' || c1 == 'x' || c1 == 's' || c1 == 'S') {
      ++i_;
      return pack_value(sizeof(long));
    }
    if (c1 == 0 || k_isspace(c1) || k_ispunct(c1)) {
      if (skips_char_after_p()) {
        ++i_;
        packs_less_than_read_ = true;
      }
      return pack_value(sizeof(long));
    }
    if (c1 == 'B') return backtrace_conv();
    if ((c1 != 'i' && c1 != 'I') || (at(i_ + 2) != '4' && at(i_ + 2) != '6'))
      return fail(-EINVAL,
                  "unsupported %p extension (allowed: %p %pK %px %ps %pS %pB %pks %pus "
                  "%pi4 %pI4 %pi6 %pI6)",
                  i_ + 1);
    i_ += 2;
    return ip_conv();
  }

  // %pB is pre-formatted (no room check, byte-packed), like the kernel.
  int backtrace_conv() {
    const u64 addr = tmp_ ? arg() : 0;
    if (tmp_) tmp_ += preformat([addr](char* dst, std::size_t n) { return format_backtrace(dst, n, addr); });
    ++i_;
    ++num_spec_;
    return 0;
  }

  int ip_conv() {
    if (!tmp_) return done();
    const std::size_t len = at(i_) == '4' ? 4 : 16;
    if (lacks_room(len))
      return fail(-ENOSPC, "packed arguments exceed MAX_BPRINTF_BIN_ARGS (512 bytes)", i_);
    u8 ip[16];
    if (!copy_nofault(ip, arg(), len)) std::memset(ip, 0, len);  // kernel memory only
    const char kind = static_cast<char>(at(i_ - 1)), version = static_cast<char>(at(i_));
    tmp_ += preformat([&](char* dst, std::size_t n) { return format_ip(dst, n, kind, version, ip); });
    return done();
  }

  // %s, %pks, %pus (i_ on the 's').
  int string_conv(char type) {
    const unsigned char next = at(i_ + 1);
    if (next != 0 && !k_isspace(next) && !k_ispunct(next))
      return fail(-EINVAL,
                  type == 's' ? "%s must be followed by the end, whitespace or punctuation"
                              : "%pks/%pus must be followed by the end, whitespace or punctuation",
                  i_ + 1);
    if (!tmp_) return done();
    if (tmp_ == tmp_end_)  // only equality: past the end passes (the overrun)
      return fail(-ENOSPC, "packed arguments exceed MAX_BPRINTF_BIN_ARGS (512 bytes)", i_);
    // bpf_trace_copy_string() takes the room as a u32: a negative room is
    // about 4G, so the whole string is copied.
    const long count = static_cast<long>(static_cast<u32>(room()));
    const AddressSpace space = type == 'k' ? AddressSpace::kKernel
                               : type == 'u' ? AddressSpace::kUser
                                             : AddressSpace::kEither;
    if (writable() == 0) return done();  // model bound: see "The overrun"
    long n = strncpy_nofault(tmp_, arg(), std::min<long>(count, static_cast<long>(writable())), space);
    if (n < 0) {  // unreadable: an empty string, as the kernel stores
      tmp_[0] = '\0';
      n = 1;
    }
    tmp_ += n;
    return done();
  }

  int char_conv() {
    if (!tmp_) return done();
    if (tmp_ == tmp_end_)  // only equality: past the end passes (the overrun)
      return fail(-ENOSPC, "packed arguments exceed MAX_BPRINTF_BIN_ARGS (512 bytes)", i_);
    const char c = static_cast<char>(arg());
    store(&c, 1);
    ++tmp_;
    return done();
  }

  int int_conv() {
    std::size_t size = sizeof(int);
    if (at(i_) == 'l') {
      size = sizeof(long);
      ++i_;
    }
    if (at(i_) == 'l') {
      size = sizeof(long long);
      ++i_;
    }
    const unsigned char c = at(i_);
    if (c != 'i' && c != 'd' && c != 'u' && c != 'x' && c != 'X') return fail(-EINVAL, why_bad(c), i_);
    return pack_value(size);
  }

  static const char* why_bad(unsigned char c) {
    switch (c) {
      case '\0': return "the format ends inside a conversion specifier";
      case '.': return "precision is not supported";
      case '*': return "'*' width is not supported";
      case 'h': case 'z': case 'j': case 't': case 'L': case 'q':
        return "length modifier not supported (only l and ll)";
      case 'c': return "%lc / %llc are not supported";
      case 's': return "%ls / %lls are not supported";
      case 'p': return "%lp / %llp are not supported";
      default: return "unsupported conversion (allowed: d i u x X [l|ll], c, s, p...)";
    }
  }

  // nocopy_fmt: a value, 4-byte aligned, 4 or 8 bytes.
  int pack_value(std::size_t size) {
    if (tmp_) {
      // PTR_ALIGN(tmp_buf, 4); bpf_bprintf_buffers is 8-byte aligned.
      const long misalign = (tmp_ - tmp_end_ + MAX_BPRINTF_BIN_ARGS) & 3;
      if (misalign) tmp_ += 4 - misalign;
      if (lacks_room(size))
        return fail(-ENOSPC, "packed arguments exceed MAX_BPRINTF_BIN_ARGS (512 bytes)", i_);
      const u64 v = arg();
      store(&v, size);  // little-endian: the low half first
      tmp_ += size;
    }
    return done();
  }

  int done() {
    ++num_spec_;
    return 0;
  }

  const char* fmt_;
  u32 size_;
  const u64* raw_;
  u32 num_args_;
  bpf_bprintf_data* data_;
  char* tmp_ = nullptr;
  char* tmp_end_ = nullptr;
  char* mem_end_ = nullptr;
  bool packs_less_than_read_ = false;
  u32 i_ = 0;
  u32 num_spec_ = 0;
};

}  // namespace

// ---- the per-CPU buffers ---------------------------------------------------------

int bpf_try_get_buffers(bpf_bprintf_buffers** bufs) {
  preempt_disable();
  // this_cpu_inc_return: one unlocked instruction, so an interrupt lands
  // before or after it, never inside (model/this_cpu.h).
  const int level = this_cpu_inc_return(&bpf_bprintf_nest_level);
  if (level > MAX_BPRINTF_NEST_LEVEL) {
    // The kernel also WARN_ON_ONCE()s here; in the model a fourth nested
    // user is an expected outcome, not a failed run.
    this_cpu_dec(&bpf_bprintf_nest_level);
    preempt_enable();
    return -EBUSY;
  }
  *bufs = &this_cpu_ptr(&bpf_bprintf_bufs)->level[level - 1];
  return 0;
}

void bpf_put_buffers() {
  if (WARN_ON_ONCE(this_cpu_read(&bpf_bprintf_nest_level) == 0)) {
    preempt_enable();
    return;
  }
  this_cpu_dec(&bpf_bprintf_nest_level);
  preempt_enable();
}

int bpf_bprintf_nest_level_read(int cpu) {
  return plain_read(*per_cpu_ptr(&bpf_bprintf_nest_level, cpu));
}

// ---- prepare / cleanup -------------------------------------------------------------

void bpf_bprintf_cleanup(bpf_bprintf_data* data) {
  if (!data->bin_args && !data->buf) return;
  bpf_put_buffers();
}

int bpf_bprintf_prepare(const char* fmt, u32 fmt_size, const u64* raw_args, u32 num_args,
                        bpf_bprintf_data* data) {
  data->diag = {};
  if (std::memchr(fmt, '\0', fmt_size) == nullptr) {
    data->diag = {"format is not NUL-terminated within fmt_size", -1};
    return -EINVAL;
  }
  const u32 size = static_cast<u32>(std::strlen(fmt));
  bpf_bprintf_buffers* buffers = nullptr;
  const bool get_buffers = (data->get_bin_args && num_args) || data->get_buf;
  if (get_buffers && bpf_try_get_buffers(&buffers)) {
    data->diag = {"all MAX_BPRINTF_NEST_LEVEL (3) bprintf buffers of this CPU are in use", -1};
    return -EBUSY;
  }
  Preparer prep(fmt, size, raw_args, num_args, data);
  if (data->get_bin_args) {
    char* bin_args = num_args ? buffers->bin_args : nullptr;
    // The buffers keep the previous user's bytes, as in the kernel; only the
    // seed's hidden conversion reads them, and Preparer::clear_beyond()
    // zeroes them then.
    // No buffers were borrowed for a call without arguments: no end either
    // (null + 1 is undefined; clang's UBSan in the fuzzer found it).
    prep.set_bin_args(bin_args, buffers ? reinterpret_cast<char*>(buffers + 1) : nullptr);
    data->bin_args = reinterpret_cast<u32*>(bin_args);
  }
  if (data->get_buf) data->buf = buffers->buf;
  const int err = prep.scan();
  if (err) {
    bpf_bprintf_cleanup(data);
    data->bin_args = nullptr;  // nothing is held: a stray cleanup is a no-op
    data->buf = nullptr;
  }
  return err;
}

// ---- bpf_stream_vprintk up to the push ------------------------------------------

int bpf_stream_format(const char* fmt, const u64* args, u32 data_len, bpf_bprintf_data* data) {
  data->get_bin_args = true;
  data->get_buf = true;
  data->diag = {};
  if (data_len & 7) {
    data->diag = {"args length is not a multiple of 8", -1};
    return -EINVAL;
  }
  if (data_len > MAX_BPRINTF_VARARGS * 8) {
    data->diag = {"args length exceeds MAX_BPRINTF_VARARGS (12) * 8 bytes", -1};
    return -EINVAL;
  }
  if (data_len && !args) {
    data->diag = {"args is NULL but args length is not zero", -1};
    return -EINVAL;
  }
  const u32 fmt_size = static_cast<u32>(std::strlen(fmt)) + 1;
  const int ret = bpf_bprintf_prepare(fmt, fmt_size, args, data_len / 8, data);
  if (ret < 0) return ret;
  return bstr_printf_buffers(data->buf, MAX_BPRINTF_BUF, fmt, data->bin_args);
}

// ---- bpf_snprintf ----------------------------------------------------------------

int bpf_snprintf(char* str, u32 str_size, const char* fmt, const u64* args, u32 data_len) {
  bpf_bprintf_data data;
  data.get_bin_args = true;
  if (data_len % 8 || data_len > MAX_BPRINTF_VARARGS * 8 || (data_len && !args)) return -EINVAL;
  // ARG_PTR_TO_CONST_STR: NUL-terminated, so the size is unbounded.
  const u32 fmt_size = static_cast<u32>(std::strlen(fmt)) + 1;
  const int err = bpf_bprintf_prepare(fmt, fmt_size, args, data_len / 8, &data);
  if (err < 0) return err;
  const int len = bstr_printf_buffers(str, str_size, fmt, data.bin_args);
  bpf_bprintf_cleanup(&data);
  return len + 1;
}

// ---- diagnostics -----------------------------------------------------------------

namespace {
const char* errno_name(int err) {
  switch (-err) {
    case EINVAL: return "-EINVAL";
    case EBUSY: return "-EBUSY";
    case ENOSPC: return "-ENOSPC";
    case ENOMEM: return "-ENOMEM";
    case E2BIG: return "-E2BIG";
    case ENOENT: return "-ENOENT";
    default: return nullptr;
  }
}

void append_escaped(std::string& out, unsigned char c) {
  static constexpr char kHex[] = "0123456789abcdef";
  if (c == '"' || c == '\\') {
    out += '\\';
    out += static_cast<char>(c);
  } else if (c >= 0x20 && c < 0x7f) {
    out += static_cast<char>(c);
  } else {
    out += "\\x";
    out += kHex[c >> 4];
    out += kHex[c & 0xf];
  }
}
}  // namespace

std::string bpf_bprintf_explain(const char* call, const char* fmt, int err,
                                const bpf_bprintf_data& data, std::size_t fmt_size) {
  std::string out = std::string(call) + "(\"";
  // Bounded: after prepare's "not NUL-terminated" error fmt has no NUL.
  const std::size_t len = strnlen(fmt, fmt_size);
  for (std::size_t i = 0; i < len && i < 200; ++i) append_escaped(out, static_cast<unsigned char>(fmt[i]));
  out += len > 200 ? "\"...): " : "\"): ";
  if (err >= 0) return out + "ok";
  const char* name = errno_name(err);
  out += name ? name : std::to_string(err);
  if (data.diag.offset >= 0 && static_cast<std::size_t>(data.diag.offset) <= len &&
      static_cast<std::size_t>(data.diag.offset) < fmt_size) {
    out += " at offset " + std::to_string(data.diag.offset) + " ('";
    const unsigned char c = static_cast<unsigned char>(fmt[data.diag.offset]);
    if (c == 0) out += "end of format";
    else append_escaped(out, c);
    out += "')";
  }
  out += ": ";
  out += data.diag.reason ? data.diag.reason : "(no reason recorded)";
  return out;
}

KMODEL_NAMESPACE_END
