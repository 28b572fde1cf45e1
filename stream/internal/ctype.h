// stream/internal/ctype.h: the kernel's character classes (lib/ctype.c).
//
// The kernel's ctype table is ISO 8859-1 (Latin-1), not the C locale: bytes
// 0xA1-0xBF, 0xD7 and 0xF7 are punctuation, 0xA0 is a space, 0xC0-0xFF
// (but those two) are letters. That matters to bprintf in the mainline
// profile, where bytes >= 0x80 may appear in plain text right after a `%s`
// or a `%p...` (the punctuation rule and bstr_printf's "skip alphanumerics
// after a pointer extension" both consult these classes). Host <cctype> is
// locale-dependent, so the model carries its own table.
#ifndef KMODEL_STREAM_INTERNAL_CTYPE_H_
#define KMODEL_STREAM_INTERNAL_CTYPE_H_

#include "model/backend.h"

KMODEL_NAMESPACE_BEGIN
namespace bprintf_internal {

enum : unsigned char { kU = 1, kL = 2, kD = 4, kC = 8, kP = 16, kS = 32, kSP = 128 };

constexpr unsigned char kctype_of(unsigned char c) {
  if (c <= 0x08) return kC;
  if (c <= 0x0d) return kC | kS;
  if (c <= 0x1f) return kC;
  if (c == 0x20) return kS | kSP;
  if (c <= 0x2f) return kP;
  if (c <= 0x39) return kD;
  if (c <= 0x40) return kP;
  if (c <= 0x5a) return kU;
  if (c <= 0x60) return kP;
  if (c <= 0x7a) return kL;
  if (c <= 0x7e) return kP;
  if (c <= 0x9f) return kC;  // DEL and the C1 controls
  if (c == 0xa0) return kS | kSP;
  if (c <= 0xbf) return kP;
  if (c == 0xd7 || c == 0xf7) return kP;
  if (c <= 0xde) return kU;
  return kL;
}

// One lookup per character, as lib/ctype.c's _ctype[] (the chain above
// runs once, at compile time).
struct KctypeTable {
  unsigned char cls[256];
  constexpr KctypeTable() : cls() {
    for (int c = 0; c < 256; ++c) cls[c] = kctype_of(static_cast<unsigned char>(c));
  }
};
inline constexpr KctypeTable kKctype{};
constexpr unsigned char kctype(unsigned char c) { return kKctype.cls[c]; }

constexpr bool k_isascii(unsigned char c) { return c <= 0x7f; }
constexpr bool k_isspace(unsigned char c) { return kctype(c) & kS; }
constexpr bool k_ispunct(unsigned char c) { return kctype(c) & kP; }
constexpr bool k_isalnum(unsigned char c) { return kctype(c) & (kU | kL | kD); }
constexpr bool k_isprint(unsigned char c) { return kctype(c) & (kP | kU | kL | kD | kSP); }
constexpr bool k_isdigit(unsigned char c) { return c >= '0' && c <= '9'; }

}  // namespace bprintf_internal
KMODEL_NAMESPACE_END

#endif  // KMODEL_STREAM_INTERNAL_CTYPE_H_
