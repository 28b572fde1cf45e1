// fuzz/fuzz_util.h: what every libFuzzer target of the project shares.
//
// A target defines LLVMFuzzerTestOneInput(data, size) and checks its
// properties with FUZZ_CHECK: a violated property prints the property and
// aborts, which libFuzzer reports as a crash (and saves the input), and
// which fails the Bazel regression test that replays the corpus
// (tests/fuzz/fuzz_replay_test.cc). Sanitizers report memory errors the
// same way. Targets must be deterministic: no clock, no randomness, no
// state carried from one input to the next.
#ifndef KMODEL_FUZZ_FUZZ_UTIL_H_
#define KMODEL_FUZZ_FUZZ_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#define FUZZ_CHECK(cond, ...)                                                  \
  do {                                                                         \
    if (!(cond)) {                                                             \
      std::fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s\n  ", __FILE__,     \
                   __LINE__, #cond);                                           \
      std::fprintf(stderr, __VA_ARGS__);                                       \
      std::fprintf(stderr, "\n");                                              \
      std::abort();                                                            \
    }                                                                          \
  } while (0)

namespace kmodel::fuzz {

// Takes bytes from the front of the input; past the end it yields zeros.
class ByteReader {
 public:
  ByteReader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  std::uint8_t u8() { return pos_ < size_ ? data_[pos_++] : 0; }
  std::uint64_t u64() {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= std::uint64_t{u8()} << (8 * i);
    return v;
  }
  // The rest of the input.
  std::string_view rest() {
    std::string_view r(reinterpret_cast<const char*>(data_) + pos_, size_ - pos_);
    pos_ = size_;
    return r;
  }
  std::size_t remaining() const { return size_ - pos_; }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

}  // namespace kmodel::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

#endif  // KMODEL_FUZZ_FUZZ_UTIL_H_
