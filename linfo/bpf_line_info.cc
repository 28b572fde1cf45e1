// linfo/bpf_line_info.cc: see bpf_line_info.h.
#include "linfo/bpf_line_info.h"

#include <cstdio>
#include <cstring>

KMODEL_NAMESPACE_BEGIN

const char* btf_name_by_offset(const btf* btf, u32 offset) {
  if (btf == nullptr || offset >= btf->strings.size()) return nullptr;
  return btf->strings.data() + offset;
}

const char* kbasename(const char* path) {
  const char* tail = std::strrchr(path, '/');
  return tail != nullptr ? tail + 1 : path;
}

namespace {

// The kernel's isspace() (lib/ctype.c): the C locale's six, plus Latin-1's
// non-breaking space, which the kernel's table also marks as space.
bool kernel_isspace(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u == ' ' || (u >= '\t' && u <= '\r') || u == 0xa0;
}

const char* ltrim(const char* s) {
  while (kernel_isspace(*s)) ++s;
  return s;
}

// Index of the last entry of the function at or before `insn`, or -1. The
// function's entries are the run from linfo[0] inside [start, start + len).
int find_linfo_idx(const bpf_linfo_view* prog, u32 insn) {
  const u64 insn_start = prog->linfo[0].insn_off;
  const u64 insn_end = insn_start + prog->len;
  int idx = -1;
  for (u32 i = 0; i < prog->nr_linfo; i++) {
    const u32 off = prog->linfo[i].insn_off;
    if (off < insn_start || off >= insn_end) break;  // the next function's
    if (off > insn) break;  // kernel: jited_linfo[i] >= ip
    idx = static_cast<int>(i);
  }
  return idx;
}

}  // namespace

int bpf_prog_get_file_line(const bpf_linfo_view* prog, u32 insn, const char** filep,
                           const char** linep, int* nump) {
  if (prog->btf == nullptr || prog->linfo == nullptr || prog->nr_linfo == 0) return -EINVAL;
  const int idx = find_linfo_idx(prog, insn);
  if (idx == -1) return -ENOENT;
  const bpf_line_info& li = prog->linfo[idx];
  // The verifier checked both offsets when the program was loaded.
  const char* file = btf_name_by_offset(prog->btf, li.file_name_off);
  const char* line = btf_name_by_offset(prog->btf, li.line_off);
  if (file == nullptr || line == nullptr) return -EINVAL;
  *filep = kbasename(file);
  *linep = ltrim(line);
  *nump = static_cast<int>(BPF_LINE_INFO_LINE_NUM(li.line_col));
  return 0;
}

int bpf_prog_ksym_snprint(const bpf_linfo_view* prog, char* buf, std::size_t size) {
  const u8* t = prog->tag.data();
  return std::snprintf(buf, size, "bpf_prog_%02x%02x%02x%02x%02x%02x%02x%02x%s%s", t[0], t[1], t[2],
                       t[3], t[4], t[5], t[6], t[7], prog->name.empty() ? "" : "_",
                       prog->name.c_str());
}

std::string bpf_prog_ksym_name(const bpf_linfo_view* prog) {
  const int n = bpf_prog_ksym_snprint(prog, nullptr, 0);
  std::string name(static_cast<std::size_t>(n), '\0');
  bpf_prog_ksym_snprint(prog, name.data(), name.size() + 1);
  return name;
}

KMODEL_NAMESPACE_END
