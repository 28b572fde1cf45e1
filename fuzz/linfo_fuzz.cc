// fuzz/linfo_fuzz.cc: arbitrary bytes as a BPF ELF object through
// bpf_object_load_linfo() (linfo/bpf_object.h).
//
// Properties: never a crash or an out-of-bounds read; an error is
// InvalidArgument (the file is readable) and its message starts with the
// path; a loaded table keeps the contract's invariants (per section,
// insn_off strictly increasing and inside the section; every function
// inside its section, with its line info inside the section's), and every
// instruction of every function maps to a file:line whose strings end
// inside .BTF's string section, or to the kernel's "no line" answer.
//
// The seed corpus holds real objects (clang -target bpf -g); libFuzzer's
// mutations of them reach the section, symbol and .BTF.ext parsers.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "fuzz/fuzz_util.h"
#include "linfo/bpf_object.h"

using namespace kmodel;

namespace {

// The bytes as a file the loader can open: a memfd, by its /proc path.
class MemFile {
 public:
  MemFile(const std::uint8_t* data, std::size_t size) {
    fd_ = memfd_create("linfo_fuzz", 0);
    FUZZ_CHECK(fd_ >= 0, "memfd_create failed");
    std::size_t done = 0;
    while (done < size) {
      const ssize_t n = write(fd_, data + done, size - done);
      FUZZ_CHECK(n > 0, "write to memfd failed");
      done += static_cast<std::size_t>(n);
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~MemFile() { close(fd_); }
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

bool in_strings(const btf& b, const char* p) {
  const char* begin = b.strings.data();
  const char* end = begin + b.strings.size();
  if (p < begin || p >= end) return false;
  for (; p < end; ++p)
    if (*p == '\0') return true;
  return false;  // not terminated inside the section
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  MemFile file(data, size);
  auto loaded = bpf_object_load_linfo(file.path());
  if (!loaded.ok()) {
    const absl::Status& st = loaded.status();
    FUZZ_CHECK(st.code() == absl::StatusCode::kInvalidArgument, "status %s",
               st.ToString().c_str());
    FUZZ_CHECK(std::string(st.message()).substr(0, file.path().size()) == file.path(),
               "message does not start with the path: %s", std::string(st.message()).c_str());
    FUZZ_CHECK(linfo_errno(st) == -EINVAL, "errno %d", linfo_errno(st));
    return 0;
  }
  const bpf_object_linfo& obj = **loaded;
  for (const bpf_object_section& sec : obj.sections) {
    for (std::size_t i = 0; i < sec.linfo.size(); ++i) {
      FUZZ_CHECK(sec.linfo[i].insn_off < sec.codes.size(), "%s: linfo %zu outside the section",
                 sec.name.c_str(), i);
      FUZZ_CHECK(i == 0 || sec.linfo[i - 1].insn_off < sec.linfo[i].insn_off,
                 "%s: linfo %zu not increasing", sec.name.c_str(), i);
    }
  }
  for (const bpf_object_func& fn : obj.funcs) {
    const bpf_object_section* sec = nullptr;
    for (const bpf_object_section& s : obj.sections)
      if (s.name == fn.section) sec = &s;
    FUZZ_CHECK(sec != nullptr, "function %s in unknown section %s", fn.prog.name.c_str(),
               fn.section.c_str());
    FUZZ_CHECK(fn.insn_start + static_cast<std::uint64_t>(fn.prog.len) <= sec->codes.size(),
               "function %s outside its section", fn.prog.name.c_str());
    if (fn.prog.nr_linfo > 0) {
      FUZZ_CHECK(fn.prog.linfo >= sec->linfo.data() &&
                     fn.prog.linfo + fn.prog.nr_linfo <= sec->linfo.data() + sec->linfo.size(),
                 "function %s: line info outside its section's", fn.prog.name.c_str());
    }
    FUZZ_CHECK(obj.find_func(fn.prog.name) != nullptr, "find_func(%s) failed",
               fn.prog.name.c_str());
    for (u32 insn = 0; insn < fn.prog.len && insn < 4096; ++insn) {
      const char* filep = nullptr;
      const char* linep = nullptr;
      int num = -1;
      const int ret = bpf_prog_get_file_line(&fn.prog, insn, &filep, &linep, &num);
      if (ret < 0) continue;
      FUZZ_CHECK(filep != nullptr && in_strings(obj.btf, filep), "file name outside .BTF strings");
      FUZZ_CHECK(linep != nullptr && in_strings(obj.btf, linep), "line text outside .BTF strings");
    }
    (void)bpf_prog_ksym_name(&fn.prog);
  }
  return 0;
}
