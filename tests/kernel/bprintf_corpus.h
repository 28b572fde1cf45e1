// tests/kernel/bprintf_corpus.h: the corpus of the bprintf conformance test
// (bprintf_diff_test.cc): formats and argument lists that probe every rule of
// bpf_bprintf_prepare() and bstr_printf() as bpf_stream_vprintk() and
// bpf_snprintf() reach them.
//
// Contract: generate() is deterministic (a fixed seed for its random part)
// and returns at least 1000 cases; every case is self-contained (its strings
// and IP bytes are in the case). Arguments that a conversion dereferences are
// never arbitrary numbers: they name memory the test owns (kernel or user),
// or NULL, or a low address no process maps, so the model, which must not
// touch unknown memory, can be given the same pointers.
#ifndef KMODEL_TESTS_KERNEL_BPRINTF_CORPUS_H_
#define KMODEL_TESTS_KERNEL_BPRINTF_CORPUS_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace bprintf_corpus {

// What an argument slot holds. The test turns the pointer kinds into
// addresses: for the kernel, of the BPF program's global data (kernel memory)
// or of the test's own buffers (user memory); for the model, of buffers with
// the same contents, the user ones registered as user memory.
enum class ArgKind : std::uint8_t {
  kValue,      // the number itself
  kKernelStr,  // the case's kernel string (kstr)
  kKernelIp,   // the case's kernel IP bytes (kip)
  kUserStr,    // the case's user string (ustr)
  kUserIp,     // the case's user IP bytes (uip)
};

struct Arg {
  ArgKind kind = ArgKind::kValue;
  std::uint64_t value = 0;
};

inline constexpr int kMaxArgs = 13;      // one past MAX_BPRINTF_VARARGS
inline constexpr int kMaxFmt = 2047;     // the BPF program's format buffer, less the NUL
inline constexpr int kMaxString = 1000;  // kstr / ustr

struct Case {
  std::string family;  // which rule it probes, for the summary
  std::string fmt;
  std::vector<Arg> args;          // at most kMaxArgs
  std::uint32_t data_len = 0;     // the args length passed; usually args.size() * 8
  std::uint32_t stream_id = 2;    // BPF_STDERR
  std::string kstr = "kernel string";
  std::string ustr = "user string";
  std::array<std::uint8_t, 16> kip = {192, 168, 1, 1, 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  std::array<std::uint8_t, 16> uip = {10, 0, 0, 1, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 2};
  // How much of bpf_snprintf's answer is comparable: kText all of it;
  // kLength the return only (hashed %p / %pK: the kernel's siphash key is
  // unknown); kSign only success/failure (an overrun makes bstr_printf read
  // stale per-CPU bytes the kernel never wrote).
  enum Compare { kText, kLength, kSign } compare = kText;
  // The kernel WARNs on this case (once per boot, tainting it): a width over
  // 8388607 (lib/vsprintf.c format_decode), or a pre-formatted argument
  // after a packed-argument overrun (vsnprintf's size > INT_MAX check). The
  // test skips these where panic_on_warn is set.
  bool kernel_warns = false;
};

std::vector<Case> generate();

// The case as one line for failure messages: family, escaped format, args.
std::string describe(const Case& c);

}  // namespace bprintf_corpus

#endif  // KMODEL_TESTS_KERNEL_BPRINTF_CORPUS_H_
