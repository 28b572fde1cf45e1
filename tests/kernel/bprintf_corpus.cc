// tests/kernel/bprintf_corpus.cc: see bprintf_corpus.h. Each family below
// names the rule of bpf_bprintf_prepare() / bstr_printf() it probes.
#include "tests/kernel/bprintf_corpus.h"

#include <cstdio>
#include <random>
#include <utility>

namespace bprintf_corpus {
namespace {

using u64 = std::uint64_t;

// Integers worth printing: zero, sign edges of 32 and 64 bits, a long pattern.
constexpr u64 kValues[] = {0,          1,          42,         255,
                           0x7fffffff, 0x80000000, 0xffffffff, 0x123456789abcdef0ull,
                           ~0ull,      0x8000000000000000ull};
constexpr int kNumValues = sizeof(kValues) / sizeof(kValues[0]);

// A low address that no process maps: reads of it fault (user or kernel way).
constexpr u64 kUnmapped = 0x1000;

Arg val(u64 v) { return {ArgKind::kValue, v}; }
Arg kstr() { return {ArgKind::kKernelStr, 0}; }
Arg ustr() { return {ArgKind::kUserStr, 0}; }
Arg kip() { return {ArgKind::kKernelIp, 0}; }
Arg uip() { return {ArgKind::kUserIp, 0}; }

class Builder {
 public:
  Case& add(std::string family, std::string fmt, std::vector<Arg> args) {
    Case c;
    c.family = std::move(family);
    c.fmt = std::move(fmt);
    c.args = std::move(args);
    c.data_len = static_cast<std::uint32_t>(c.args.size() * 8);
    cases_.push_back(std::move(c));
    return cases_.back();
  }
  std::vector<Case> take() { return std::move(cases_); }
  u64 next_value() { return kValues[counter_++ % kNumValues]; }

 private:
  std::vector<Case> cases_;
  unsigned counter_ = 0;
};

// Every conversion letter, alone and between text.
void letters(Builder& b) {
  for (char c : std::string("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")) {
    for (const char* shape : {"%%%c", "<%%%c>", "%%%c\n"}) {
      char fmt[16];
      std::snprintf(fmt, sizeof(fmt), shape, c);
      if (c == 's') b.add("letter", fmt, {kstr()});
      else if (c == 'p') b.add("letter", fmt, {val(0x41)}).compare = Case::kLength;
      else b.add("letter", fmt, {val(65)});
    }
  }
}

// Integers: every conversion with every length modifier; flags and widths.
void integers(Builder& b) {
  const char* convs = "diuxX";
  const char* lens[] = {"", "l", "ll", "h", "hh", "z", "j", "t", "L", "q", "lll"};
  const char* flags[] = {"", "0", "-", "+", " ", "#", "-0", "+0", " -", "0+- ", "00"};
  const char* widths[] = {"", "1", "7", "20"};
  for (const char* conv = convs; *conv; ++conv) {
    for (const char* len : lens) {
      b.add("int-length", std::string("%") + len + *conv, {val(b.next_value())});
      b.add("int-length", std::string("[%") + len + *conv + "]", {val(b.next_value())});
    }
    for (const char* flag : flags)
      for (const char* width : widths)
        for (const char* len : {"", "ll"})
          b.add("int-flags", std::string("[%") + flag + width + len + *conv + "]",
                {val(b.next_value())});
  }
}

void precision(Builder& b) {
  for (const char* fmt : {"%.3d", "%5.2d", "%.d", "%10.5x", "%.0s", "%.*d", "%*d", "%-*d",
                          "%0*d", "%.3s", "%.1c", "%.2pI4", "%.5p", "%3.2lld"})
    b.add("precision", fmt, {val(3), val(4)});
}

void chars(Builder& b) {
  for (u64 v : {u64{'A'}, u64{0}, u64{0xff}, u64{0x141}, u64{' '}, u64{'\n'}, u64{0x80}})
    for (const char* fmt : {"%c", "[%5c]", "[%-5c]", "[%05c]", "%c%c"})
      b.add("char", fmt, {val(v), val(v + 1)});
  for (const char* fmt : {"%lc", "%llc", "%hc", "%+c", "% c"}) b.add("char", fmt, {val('x')});
}

void strings(Builder& b) {
  const std::pair<const char*, Arg> targets[] = {
      {"kernel", kstr()}, {"user", ustr()}, {"null", val(0)}, {"unmapped", val(kUnmapped)}};
  for (const auto& [name, arg] : targets)
    for (const char* conv : {"s", "pks", "pus"})
      for (const char* width : {"", "20", "-20", "020", "3"})
        b.add(std::string("string-") + name, std::string("[%") + width + conv + "]", {arg});
  // What may follow a string conversion: end, whitespace, punctuation
  // (Latin-1 classes above 0x7f), nothing else.
  for (const char* conv : {"%s", "%pks", "%pus"})
    for (const char* next : {"", " ", ".", "x", "1", "_", "%%", "\t", "-", "\xa0", "\xa1",
                             "\xbf", "\xc0", "\xd7", "\x85", "\xff", "\xf7"})
      b.add("string-next", std::string(conv) + next, {kstr()});
  for (const char* fmt : {"%ls", "%lls", "%hs", "%S", "%pks%pus%s"})
    b.add("string-misc", fmt, {kstr(), ustr(), kstr()});
  // Contents: empty, long (cut at the 512-byte packed area), high bytes.
  Case& empty = b.add("string-content", "[%s][%pks][%pus]", {kstr(), kstr(), ustr()});
  empty.kstr = "";
  empty.ustr = "";
  for (int len : {100, 505, 510, 511, 512, 600, 1000}) {
    Case& k = b.add("string-long", "%s", {kstr()});
    k.kstr = std::string(static_cast<std::size_t>(len), 'k');
    Case& u = b.add("string-long", "%pus|", {ustr()});
    u.ustr = std::string(static_cast<std::size_t>(len), 'u');
  }
  Case& hi = b.add("string-content", "<%s>", {kstr()});
  hi.kstr = "caf\xc3\xa9 \x01\x7f\xff";
}

// The %p family: the extensions bprintf admits (with the argument each
// reads) and a sample of those it does not.
void pointers(Builder& b) {
  const u64 values[] = {0, 0x41, ~0ull, static_cast<u64>(-4095), 0xdeadbeef};
  for (const char* ext : {"", "K", "x", "s", "S", "B"})
    for (const char* width : {"", "20", "-20", "08"})
      for (u64 v : values) {
        Case& c = b.add("pointer", std::string("[%") + width + "p" + ext + "]", {val(v)});
        const bool hashed = (*ext == 0 || *ext == 'K') && v != 0 && v < static_cast<u64>(-4095);
        if (hashed) c.compare = Case::kLength;
      }
  const std::pair<const char*, Arg> ips[] = {
      {"kernel", kip()}, {"user", uip()}, {"null", val(0)}, {"unmapped", val(kUnmapped)}};
  for (const auto& [name, arg] : ips)
    for (const char* ext : {"i4", "I4", "i6", "I6", "I6c", "i4x", "I4|", "i6 ", "15I4"}) {
      std::string fmt = std::string("[%") + (ext[0] == '1' ? "15p" + std::string(ext + 2)
                                                           : "p" + std::string(ext)) + "]";
      b.add(std::string("pointer-ip-") + name, fmt, {arg});
    }
  for (const char* ext : {"a", "ad", "d", "M", "m", "E", "U", "V", "b", "h", "r", "R", "f", "F",
                          "D", "g", "C", "N", "t", "OF", "X", "e", "4cc", "i5", "I", "i", "k",
                          "u", "kx", "ux", "Bx", "Sx", "sx", "Kx", "xx", "p"})
    b.add("pointer-ext", std::string("%p") + ext, {val(0x41)}).compare = Case::kLength;
  for (const char* fmt : {"%p%", "%p%d", "%p %d", "%p.%d", "%p,", "%px%d", "%pK%d"})
    b.add("pointer-next", fmt, {val(0), val(7)});
}

void high_bytes(Builder& b) {
  for (int c = 0x80; c <= 0xff; ++c) {
    const std::string byte(1, static_cast<char>(c));
    b.add("high-text", "a" + byte + "z", {});
    b.add("high-after-int", "%d" + byte, {val(5)});
    b.add("high-after-s", "%s" + byte, {kstr()});
  }
  for (int c : {0x80, 0xa0, 0xa1, 0xc3, 0xe9, 0xff}) {
    const std::string byte(1, static_cast<char>(c));
    b.add("high-after-percent", "%" + byte, {val(5)});
    b.add("high-after-percent", "%5" + byte, {val(5)});
    b.add("high-after-percent", "%l" + byte, {val(5)});
    b.add("high-after-p", "%p" + byte, {val(0)});
  }
  b.add("high-text", "caf\xc3\xa9 \xe2\x9c\x93 %d", {val(1)});
}

void controls(Builder& b) {
  for (int c = 0x01; c <= 0x20; ++c) b.add("control", "a" + std::string(1, static_cast<char>(c)) + "z", {});
  b.add("control", "a\x7fz", {});
  for (int c : {0x01, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x1b, 0x7f})
    b.add("control-after-int", "%d" + std::string(1, static_cast<char>(c)), {val(1)});
}

void arg_counts(Builder& b) {
  for (int nspec = 0; nspec <= 13; ++nspec) {
    std::string fmt;
    for (int i = 0; i < nspec; ++i) fmt += "%d ";
    for (int nargs : {nspec - 1, nspec, nspec + 1}) {
      if (nargs < 0 || nargs > kMaxArgs) continue;
      std::vector<Arg> args;
      for (int i = 0; i < nargs; ++i) args.push_back(val(static_cast<u64>(i + 1)));
      b.add("argcount", fmt.empty() ? "none" : fmt, std::move(args));
    }
  }
  for (std::uint32_t len : {0u, 1u, 4u, 7u, 9u, 12u, 95u, 96u, 100u, 104u}) {
    std::vector<Arg> args;
    for (int i = 0; i < kMaxArgs; ++i) args.push_back(val(static_cast<u64>(i)));
    Case& c = b.add("data-len", "x", std::move(args));
    c.data_len = len;
  }
  for (std::uint32_t id : {0u, 1u, 2u, 3u, 0xffffffffu}) {
    Case& c = b.add("stream-id", "id %d", {val(1)});
    c.stream_id = id;
  }
}

// 12 conversions of every packing kind; 13.
void twelve(Builder& b) {
  const std::string mixed = "%d %u %x %lld %c %s %pks %pus %pI4 %pi6 %px %ps";
  std::vector<Arg> args = {val(1),    val(2),    val(3),   val(~0ull), val('c'), kstr(),
                           kstr(),    ustr(),    kip(),    uip(),      val(0x10), val(0x20)};
  b.add("twelve", mixed, args);
  b.add("twelve", mixed + " %d", args);
  args.push_back(val(13));
  b.add("thirteen", mixed + " %d", args);
  b.add("thirteen", mixed, args);
  std::string d12;
  for (int i = 0; i < 12; ++i) d12 += "%lld|";
  b.add("twelve", d12, std::vector<Arg>(12, val(~0ull)));
  b.add("thirteen", d12 + "%d", std::vector<Arg>(13, val(1)));
}

// Formats and outputs around the 1024-byte output buffer.
void long_formats(Builder& b) {
  for (int len : {100, 1000, 1022, 1023, 1024, 1025, 1500, 2046}) {
    b.add("long-text", std::string(static_cast<std::size_t>(len), 'L'), {});
    b.add("long-text", std::string(static_cast<std::size_t>(len - 2), 'L') + "%d", {val(7)});
  }
  for (int width : {1020, 1022, 1023, 1024, 1025, 2000, 8388607, 8388608, 99999999})
    b.add("long-width", "%" + std::to_string(width) + "d", {val(7)}).kernel_warns = width > 8388607;
  Case& c = b.add("long-width", "%1000s%30d%pI4", {kstr(), val(1), kip()});
  c.kstr = "abc";
}

// The 512-byte packed-argument area: what fits, -ENOSPC, and the overrun
// (an IP or %pB text that does not fit moves the cursor past the end).
void packed_overflow(Builder& b) {
  const std::pair<const char*, Arg> tails[] = {
      {"%d", val(7)},  {"%lld", val(~0ull)}, {"%c", val('c')}, {"%s", kstr()},
      {"%pks", kstr()}, {"%pi4", kip()},     {"%pI4", kip()},  {"%pi6", kip()},
      {"%pI6", kip()}, {"%pB", val(0xdeadbeef)}, {"%p", val(0)}};
  for (int len : {480, 490, 494, 496, 500, 502, 504, 505, 506, 507, 508, 509, 510, 511}) {
    for (const auto& [first, first_arg] : tails) {
      for (const auto& [second, second_arg] : {tails[0], tails[2], tails[3]}) {
        const std::string fmt = std::string("%s") + first + second;
        Case& c = b.add("packed", fmt, {kstr(), first_arg, second_arg});
        c.kstr = std::string(static_cast<std::size_t>(len), 'b');
        c.kstr = c.kstr.substr(0, static_cast<std::size_t>(len));
        // After an IP/%pB overrun bstr_printf reads bytes prepare never
        // wrote (stale per-CPU memory in the kernel).
        const std::string f = first;
        if (f.rfind("%pi", 0) == 0 || f.rfind("%pI", 0) == 0 || f == "%pB")
          c.compare = Case::kSign;
      }
    }
  }
  // A second IP after an overrun: the kernel's snprintf gets the negative
  // room as a size over INT_MAX, WARNs and writes nothing.
  for (int len : {490, 500, 505}) {
    Case& c = b.add("packed", "%s%pI6%pi4%d", {kstr(), kip(), kip(), val(1)});
    c.kstr = std::string(static_cast<std::size_t>(len), 'b');
    c.compare = Case::kSign;
    c.kernel_warns = true;
  }
  b.add("percent", "%012345678d", {val(42)}).kernel_warns = true;
}

void percents(Builder& b) {
  for (const char* fmt : {"%%", "%%%d", "100%%", "%", "abc%", "%-", "%0", "%5", "% %", "%%%",
                          "%%%%", "%s%", "%d%", "%+", "%#x", "%-+ 0d", "%  d", "%--5d",
                          "%00005d", "%1$d", "%'d", "%I", "%n", "%m", "%f",
                          "%e", "%g", "%a", "%o", "%zu", "%hhd", "%Lf", "% 5d|% -5d"})
    b.add("percent", fmt, {val(42), val(43)});
}

// Random formats built from fragments, with argument lists that sometimes
// miss one. Seeded: the same corpus every run.
void random_formats(Builder& b, int count) {
  struct Piece {
    const char* text;
    int kind;  // 0 text, 1 int, 2 kstr, 3 ustr, 4 kip, 5 char, 6 value pointer
  };
  static constexpr Piece kPieces[] = {
      {"x", 0},      {" ", 0},       {"caf\xc3\xa9", 0}, {"\t", 0},   {"-", 0},
      {"%%", 0},     {"%d", 1},      {"%5u", 1},         {"%-3x", 1}, {"%llx", 1},
      {"%lX", 1},    {"%+i", 1},     {"%08lld", 1},      {"%c", 5},   {"%s", 2},
      {"%s", 3},     {"%pks", 2},    {"%pus", 3},        {"%pus", 2}, {"%pI4", 4},
      {"%pi6", 4},   {"%pI6c", 4},   {"%px", 6},         {"%ps", 6},  {"%pS", 6},
      {"%pB", 6},    {"%q", 1},      {"%.2d", 1},        {"\x01", 0}, {"%\xc3", 1},
      {"%pa", 6},    {"%hd", 1},     {"%s", 6}};
  std::mt19937 rng(20261201);
  std::uniform_int_distribution<int> n_pieces(1, 8);
  std::uniform_int_distribution<int> pick(0, static_cast<int>(std::size(kPieces)) - 1);
  std::uniform_int_distribution<int> slack(0, 9);
  for (int n = 0; n < count; ++n) {
    std::string fmt;
    std::vector<Arg> args;
    const int pieces = n_pieces(rng);
    for (int i = 0; i < pieces; ++i) {
      const Piece& p = kPieces[pick(rng)];
      fmt += p.text;
      switch (p.kind) {
        case 1: args.push_back(val(b.next_value())); break;
        case 2: args.push_back(kstr()); break;
        case 3: args.push_back(ustr()); break;
        case 4: args.push_back(i % 2 ? kip() : uip()); break;
        case 5: args.push_back(val('A' + static_cast<u64>(i))); break;
        case 6: args.push_back(val(0x10 * static_cast<u64>(i + 1))); break;
        default: break;
      }
      if (static_cast<int>(args.size()) > 12) args.resize(12);
    }
    const int s = slack(rng);
    if (s == 0 && !args.empty()) args.pop_back();        // one too few
    else if (s == 1 && args.size() < 12) args.push_back(val(9));  // one spare
    b.add("random", fmt, std::move(args));
  }
}

}  // namespace

std::vector<Case> generate() {
  Builder b;
  letters(b);
  integers(b);
  precision(b);
  chars(b);
  strings(b);
  pointers(b);
  high_bytes(b);
  controls(b);
  arg_counts(b);
  twelve(b);
  long_formats(b);
  packed_overflow(b);
  percents(b);
  random_formats(b, 300);
  return b.take();
}

std::string describe(const Case& c) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = c.family + " \"";
  for (std::size_t i = 0; i < c.fmt.size() && i < 120; ++i) {
    const unsigned char ch = static_cast<unsigned char>(c.fmt[i]);
    if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') {
      out += static_cast<char>(ch);
    } else {
      out += "\\x";
      out += kHex[ch >> 4];
      out += kHex[ch & 0xf];
    }
  }
  out += c.fmt.size() > 120 ? "\"... (" + std::to_string(c.fmt.size()) + " bytes)" : "\"";
  out += " args[" + std::to_string(c.args.size()) + "]";
  for (const Arg& a : c.args) {
    switch (a.kind) {
      case ArgKind::kValue: {
        char buf[24];
        std::snprintf(buf, sizeof(buf), " %#llx", static_cast<unsigned long long>(a.value));
        out += buf;
        break;
      }
      case ArgKind::kKernelStr: out += " &kstr(" + std::to_string(c.kstr.size()) + ")"; break;
      case ArgKind::kUserStr: out += " &ustr(" + std::to_string(c.ustr.size()) + ")"; break;
      case ArgKind::kKernelIp: out += " &kip"; break;
      case ArgKind::kUserIp: out += " &uip"; break;
    }
  }
  if (c.data_len != c.args.size() * 8) out += " data_len=" + std::to_string(c.data_len);
  if (c.stream_id != 2) out += " stream_id=" + std::to_string(c.stream_id);
  return out;
}

}  // namespace bprintf_corpus
