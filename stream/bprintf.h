// stream/bprintf.h: the bprintf machinery behind bpf_stream_vprintk():
// format validation and argument packing, the per-CPU buffers it borrows,
// and the formatting step that turns format + packed arguments into text.
//
// Mirrors: kernel/bpf/helpers.c (bpf_bprintf_prepare, bpf_bprintf_cleanup,
// bpf_try_get_buffers, bpf_put_buffers, struct bpf_bprintf_buffers,
// struct bpf_bprintf_data), the argument checks of bpf_stream_vprintk()
// (kernel/bpf/stream.c), and the part of lib/vsprintf.c that bstr_printf()
// reaches for the conversions bprintf admits (numbers, %c, %s, the %p
// extensions). Linux 6.18; profile differences below. docs/bprintf.md has the
// whole story, with the model's choices where userspace cannot be the kernel.
//
// Contract
//   bpf_bprintf_prepare(fmt, fmt_size, raw_args, num_args, data) validates
//   `fmt` and, when data->get_bin_args, packs raw_args[0..num_args) into the
//   per-CPU bin_args buffer the way bstr_printf() reads them back. When it
//   needs a buffer ((get_bin_args && num_args) || get_buf) it borrows this
//   CPU's next free bpf_bprintf_buffers; on success the caller owns it until
//   bpf_bprintf_cleanup(data). It may be called in any context, NMI included
//   (no allocation, no lock, no wait). It returns 0 or
//     -EINVAL  fmt not NUL-terminated within fmt_size; an ASCII control
//              character; a byte >= 0x80 right after '%' (in the seed: any
//              byte >= 0x80); more conversion
//              specifiers than num_args; anything but the admitted set:
//                %%  flags [0+- ]* width [1-9][0-9]*  then one of
//                d i u x X with optional l / ll;  c;  s;
//                p pK px ps pS pB pks pus pi4 pI4 pi6 pI6
//              (no precision, no '*', no h/z/j/t, no %o %f %n %lc ...);
//              a %s / %pks / %pus followed by anything but end, whitespace
//              or punctuation.
//     -EBUSY   MAX_BPRINTF_NEST_LEVEL users already hold this CPU's buffers
//              (task -> softirq -> hardirq all printing: the NMI is refused).
//     -ENOSPC  the packed arguments do not fit in MAX_BPRINTF_BIN_ARGS bytes
//              (with the kernel's overrun: an IP address or %pB whose text
//              did not fit moves the cursor past the end, and every later
//              room check passes; docs/kernel-findings.md).
//   On any error nothing is held: the nest counter is as before the call.
//   data->diag tells which input was wrong and why (static text, so an NMI
//   can fail too); bpf_bprintf_explain() renders it for people.
//
//   bstr_printf(buf, size, fmt, bin_args) formats into buf (at most size
//   bytes incl. the NUL, always NUL-terminated when size > 0) and returns
//   the length the whole output would have had (snprintf semantics), with
//   the kernel's quirks kept: see docs/bprintf.md "Formatting".
//
//   bpf_stream_format(fmt, args, data_len, data) is what bpf_stream_vprintk()
//   does before it touches a stream: the args checks (data_len a multiple of
//   8, at most MAX_BPRINTF_VARARGS * 8, args non-NULL when data_len != 0:
//   else -EINVAL), prepare with get_bin_args and get_buf, then bstr_printf
//   into data->buf (MAX_BPRINTF_BUF bytes). It returns the would-be length
//   (>= 0) with the buffers held, or a negative errno with nothing held. The
//   stream layer then decides what a length over the buffer means:
//     seed        pushes min(len + 1, MAX_BPRINTF_BUF) bytes (NUL counted);
//     linux-6.18  pushes len bytes; len > MAX_BPRINTF_BUF fails element
//                 allocation (-ENOMEM); len == MAX_BPRINTF_BUF pushes 1023
//                 characters and the terminating NUL;
//     mainline    -E2BIG for len > MAX_BPRINTF_BUF.
//   and calls bpf_bprintf_cleanup(data) when it has copied data->buf.
//
//   bpf_snprintf(str, str_size, fmt, args, data_len) is the BPF helper of
//   that name (kernel/bpf/helpers.c): the same args checks, prepare with
//   get_bin_args only, bstr_printf into str; returns the would-be length + 1
//   or a negative errno. The conformance test compares it with the kernel's.
//
// Profiles (model/profile.h)
//   linux-6.18, mainline
//               bytes >= 0x80 are allowed in plain text (UTF-8 literals);
//               a byte >= 0x80 right after '%' is -EINVAL (commit
//               b960430ea886, April 2026; in 6.18.y from the 6.18.32-rc1
//               review series, May 2026; checked against 6.18.44).
//   seed        any byte >= 0x80 is -EINVAL; and `%p` followed by whitespace
//               or punctuation also swallows that next character from
//               validation (so "%p%d" with one argument passes, and "%p%" is
//               accepted): the pre-June-2025 behaviour the seed series was
//               written against.
//
// Concurrency: the nest counter is per CPU and changed with one indivisible
// read-modify-write (this_cpu_inc_return), so any interrupt may nest at any
// step; each level owns its own buffer. The configuration below
// (bprintf_config_set, bprintf_fault_range_add) is process-global and must
// be set while no CPU runs.
#ifndef KMODEL_STREAM_BPRINTF_H_
#define KMODEL_STREAM_BPRINTF_H_

#include <cstddef>
#include <string>

#include "model/types.h"

KMODEL_NAMESPACE_BEGIN

inline constexpr int MAX_BPRINTF_VARARGS = 12;
inline constexpr int MAX_BPRINTF_BUF = 1024;
inline constexpr int MAX_BPRINTF_NEST_LEVEL = 3;
inline constexpr int MAX_BPRINTF_BIN_ARGS = 512;

// One nesting level's scratch space (a per-CPU array of three of these).
struct bpf_bprintf_buffers {
  alignas(8) char bin_args[MAX_BPRINTF_BIN_ARGS];
  char buf[MAX_BPRINTF_BUF];
};

// Why a call failed, for people. Not in the kernel (which only returns the
// errno); filled on every error path, cleared on success.
struct bprintf_diag {
  const char* reason = nullptr;  // static text; nullptr: no error
  int offset = -1;               // byte of fmt it refers to; -1: not in fmt
};

struct bpf_bprintf_data {
  u32* bin_args = nullptr;  // out: packed arguments (nullptr when none)
  char* buf = nullptr;      // out: MAX_BPRINTF_BUF output buffer
  bool get_bin_args = false;
  bool get_buf = false;
  bprintf_diag diag;  // model only
};

int bpf_bprintf_prepare(const char* fmt, u32 fmt_size, const u64* raw_args, u32 num_args,
                        bpf_bprintf_data* data);
void bpf_bprintf_cleanup(bpf_bprintf_data* data);

// The buffer borrow itself, as the kernel's staged printk uses it:
// 0 and *bufs set, or -EBUSY. Every success is paired with bpf_put_buffers().
int bpf_try_get_buffers(bpf_bprintf_buffers** bufs);
void bpf_put_buffers();

// lib/vsprintf.c bstr_printf for the bprintf subset. bin_buf is what
// prepare packed (4-byte aligned; nullptr when there are no arguments); this
// entry point reads at most MAX_BPRINTF_BIN_ARGS bytes of it and reads zeros
// past that (where the kernel would read whatever follows).
// bpf_stream_format and bpf_snprintf, which know bin_buf starts a
// bpf_bprintf_buffers, let it read on into the output buffer as the kernel
// does after an overrun.
int bstr_printf(char* buf, std::size_t size, const char* fmt, const u32* bin_buf);

// bpf_stream_vprintk() up to (not including) the push; see the contract.
int bpf_stream_format(const char* fmt, const u64* args, u32 data_len, bpf_bprintf_data* data);

// The bpf_snprintf() helper; see the contract.
int bpf_snprintf(char* str, u32 str_size, const char* fmt, const u64* args, u32 data_len);

// "bpf_bprintf_prepare(\"%5.2d\"): -EINVAL at offset 2 ('.'): precision ..."
// `call` names the entry point; err is the errno the call returned.
// fmt_size bounds the read of fmt (pass prepare's fmt_size: after its
// "not NUL-terminated" error fmt has no NUL).
std::string bpf_bprintf_explain(const char* call, const char* fmt, int err,
                                const bpf_bprintf_data& data,
                                std::size_t fmt_size = static_cast<std::size_t>(-1));

// `cpu`'s nesting depth (the kernel's per-CPU bpf_bprintf_nest_level): the
// number of bprintf users holding a buffer there; 0 when none.
int bpf_bprintf_nest_level_read(int cpu);

// ---- What userspace cannot be: pointers, symbols, memory faults ------------

// A symbol for %ps / %pS / %pB: what kallsyms would say about an address.
struct bprintf_symbol {
  const char* name = nullptr;
  u64 offset = 0;              // address - symbol start
  u64 size = 0;                // symbol size
  const char* module = nullptr;  // nullptr: built in
};
// Returns true and fills *sym when `addr` lies in a known symbol. Called in
// any context: must not allocate or lock.
using bprintf_symbol_lookup_fn = bool (*)(u64 addr, bprintf_symbol* sym);

struct bprintf_config {
  // %p prints the raw address (the kernel booted with no_hash_pointers);
  // false: a deterministic 32-bit hash, zero-extended, like the kernel's
  // siphash output shape (NULL and error pointers stay raw, as there).
  bool no_hash_pointers = true;
  // kernel.kptr_restrict for %pK: 0 = as %p; 1 = "pK-error" in irq context,
  // zeros otherwise (the model's caller never has CAP_SYSLOG); 2 = zeros.
  int kptr_restrict = 0;
  // nullptr: no kallsyms, every address prints as 0x<hex> (the kernel's
  // fallback for an address it cannot resolve).
  bprintf_symbol_lookup_fn lookup_symbol = nullptr;
};
void bprintf_config_set(const bprintf_config& config);
bprintf_config bprintf_config_get();

// Memory that "faults" for the nofault reads of %s / %pks / %pus / %pi4 /
// %pI6 ...: nullptr always does; so does any byte inside a registered range
// (at most kBprintfFaultRanges). Every other pointer is trusted to be
// readable: the model cannot probe arbitrary memory safely.
inline constexpr int kBprintfFaultRanges = 8;
bool bprintf_fault_range_add(const void* addr, std::size_t len);  // false: table full
void bprintf_fault_ranges_clear();

// User and kernel memory. The kernel reads %pus with the user-access routine
// (strncpy_from_user_nofault: fails on a kernel address), %pks and the IP
// conversions with the kernel ones (fail on a user address), and %s (x86-64)
// one way or the other by where the pointer lies. In the model, memory in a
// registered user range (at most kBprintfUserRanges) is the program's user
// task's; every other address is kernel memory. So by default %pus of any
// pointer reads an empty string, as in the kernel for a kernel pointer.
inline constexpr int kBprintfUserRanges = 8;
bool bprintf_user_range_add(const void* addr, std::size_t len);  // false: table full
void bprintf_user_ranges_clear();

KMODEL_NAMESPACE_END

#endif  // KMODEL_STREAM_BPRINTF_H_
