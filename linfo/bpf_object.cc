// linfo/bpf_object.cc: see bpf_object.h.
//
// ELF structure (sections, symbols) comes from libelf, which bounds-checks
// section headers and data against the buffer. The BTF and BTF.ext blobs are
// parsed here by hand: libbpf 1.1 keeps its .BTF.ext parser private, and a
// hand parser can say exactly which field is wrong.
#include "linfo/bpf_object.h"

#include <gelf.h>
#include <libelf.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <span>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

KMODEL_NAMESPACE_BEGIN

namespace {

constexpr u16 BTF_MAGIC = 0xeB9F;
constexpr u32 BPF_INSN_SZ = 8;
constexpr u32 BTF_HEADER_SIZE = 24;      // magic..str_len
constexpr u32 BTF_EXT_HEADER_SIZE = 24;  // magic..line_info_len
constexpr u8 BPF_CODE_NONE = 0;  // the second half of a 16-byte load

using Bytes = std::span<const u8>;

// Reads a little-endian u32/u16 at `off`; false when it does not fit.
bool read_u32(Bytes b, u64 off, u32* out) {
  if (off + 4 > b.size()) return false;
  std::memcpy(out, b.data() + off, 4);
  return true;
}

bool read_u16(Bytes b, u64 off, u16* out) {
  if (off + 2 > b.size()) return false;
  std::memcpy(out, b.data() + off, 2);
  return true;
}

// Builds errors that all start with the input's name.
struct Errors {
  std::string path;
  template <typename... Args>
  absl::Status invalid(const absl::FormatSpec<Args...>& fmt, const Args&... args) const {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", absl::StrFormat(fmt, args...)));
  }
};

// The ELF pieces the line info needs, borrowed from the libelf handle.
struct ElfParts {
  Bytes btf, btf_ext;
  std::map<std::string, Bytes> exec;  // executable sections by name
  std::map<size_t, std::string> exec_by_index;
  Elf_Scn* symtab = nullptr;
};

struct ElfCloser {
  void operator()(Elf* e) const { elf_end(e); }
};
using ElfHandle = std::unique_ptr<Elf, ElfCloser>;

absl::StatusOr<std::vector<u8>> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open: ", std::strerror(errno)));
  return std::vector<u8>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

Bytes section_bytes(Elf_Scn* scn) {
  Elf_Data* data = elf_getdata(scn, nullptr);
  if (data == nullptr || data->d_buf == nullptr) return {};
  return {static_cast<const u8*>(data->d_buf), data->d_size};
}

absl::Status check_ehdr(Elf* elf, const Errors& err) {
  if (elf_kind(elf) != ELF_K_ELF) return err.invalid("not an ELF object");
  GElf_Ehdr ehdr;
  if (gelf_getehdr(elf, &ehdr) == nullptr) return err.invalid("bad ELF header: %s", elf_errmsg(-1));
  if (ehdr.e_ident[EI_DATA] != ELFDATA2LSB)
    return err.invalid("big-endian ELF objects are not supported");
  if (ehdr.e_machine != EM_BPF) return err.invalid("not a BPF object (e_machine %d)", ehdr.e_machine);
  return absl::OkStatus();
}

absl::StatusOr<ElfParts> collect_sections(Elf* elf, const Errors& err) {
  size_t shstrndx;
  if (elf_getshdrstrndx(elf, &shstrndx) != 0)
    return err.invalid("no section name table: %s", elf_errmsg(-1));
  ElfParts parts;
  for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn; scn = elf_nextscn(elf, scn)) {
    GElf_Shdr sh;
    if (gelf_getshdr(scn, &sh) == nullptr) return err.invalid("bad section header: %s", elf_errmsg(-1));
    const char* name = elf_strptr(elf, shstrndx, sh.sh_name);
    if (name == nullptr) return err.invalid("section %zu has a bad name offset", elf_ndxscn(scn));
    const bool wanted = sh.sh_type == SHT_SYMTAB || std::strcmp(name, ".BTF") == 0 ||
                        std::strcmp(name, ".BTF.ext") == 0 ||
                        (sh.sh_type == SHT_PROGBITS && (sh.sh_flags & SHF_EXECINSTR));
    if (!wanted) continue;
    if (sh.sh_type == SHT_SYMTAB) {
      parts.symtab = scn;
      continue;
    }
    Bytes bytes = section_bytes(scn);
    if (bytes.size() != sh.sh_size)
      return err.invalid("section '%s' is truncated or unreadable: %s", name, elf_errmsg(-1));
    if (std::strcmp(name, ".BTF") == 0) {
      parts.btf = bytes;
    } else if (std::strcmp(name, ".BTF.ext") == 0) {
      parts.btf_ext = bytes;
    } else {
      parts.exec[name] = bytes;
      parts.exec_by_index[elf_ndxscn(scn)] = name;
    }
  }
  if (parts.btf.empty()) return err.invalid("no .BTF section (compile with -g)");
  if (parts.btf_ext.empty()) return err.invalid("no .BTF.ext section (compile with -g)");
  return parts;
}

// The .BTF header and string section (kernel/bpf/btf.c: btf_parse_hdr,
// btf_parse_str_sec). Types are not needed for line info and not parsed.
absl::Status parse_btf(Bytes b, const Errors& err, btf* out) {
  u16 magic;
  u32 hdr_len, type_off, type_len, str_off, str_len;
  if (!read_u16(b, 0, &magic) || !read_u32(b, 4, &hdr_len))
    return err.invalid(".BTF: header truncated (%zu bytes)", b.size());
  if (magic != BTF_MAGIC) return err.invalid(".BTF: bad magic 0x%04x", magic);
  if (b[2] != 1) return err.invalid(".BTF: unsupported version %d", b[2]);
  if (hdr_len < BTF_HEADER_SIZE) return err.invalid(".BTF: hdr_len %u is too small", hdr_len);
  if (hdr_len > b.size()) return err.invalid(".BTF: hdr_len %u exceeds the section (%zu bytes)", hdr_len, b.size());
  read_u32(b, 8, &type_off);
  read_u32(b, 12, &type_len);
  read_u32(b, 16, &str_off);
  read_u32(b, 20, &str_len);
  const u64 data_len = b.size() - hdr_len;
  if (u64{type_off} + type_len > data_len)
    return err.invalid(".BTF: type section [%u, +%u) exceeds the data (%u bytes)", type_off, type_len, data_len);
  if (u64{str_off} + str_len > data_len)
    return err.invalid(".BTF: string section [%u, +%u) exceeds the data (%u bytes)", str_off, str_len, data_len);
  const u8* strs = b.data() + hdr_len + str_off;
  if (str_len == 0 || strs[0] != '\0' || strs[str_len - 1] != '\0')
    return err.invalid(".BTF: string section does not start and end with NUL");
  out->strings.assign(reinterpret_cast<const char*>(strs), str_len);
  return absl::OkStatus();
}

// The .BTF.ext header; returns the line_info block.
absl::StatusOr<Bytes> line_info_block(Bytes b, const Errors& err) {
  u16 magic;
  u32 hdr_len, li_off, li_len;
  if (!read_u16(b, 0, &magic) || !read_u32(b, 4, &hdr_len))
    return err.invalid(".BTF.ext: header truncated (%zu bytes)", b.size());
  if (magic != BTF_MAGIC) return err.invalid(".BTF.ext: bad magic 0x%04x", magic);
  if (b[2] != 1) return err.invalid(".BTF.ext: unsupported version %d", b[2]);
  if (hdr_len < BTF_EXT_HEADER_SIZE) return err.invalid(".BTF.ext: hdr_len %u is too small", hdr_len);
  if (hdr_len > b.size())
    return err.invalid(".BTF.ext: hdr_len %u exceeds the section (%zu bytes)", hdr_len, b.size());
  read_u32(b, 16, &li_off);
  read_u32(b, 20, &li_len);
  if (li_len == 0) return err.invalid(".BTF.ext: no line_info (compile with -g)");
  if (u64{hdr_len} + li_off + li_len > b.size())
    return err.invalid(".BTF.ext: line_info [%u, +%u) exceeds the section (%zu bytes)", li_off, li_len,
                       b.size() - hdr_len);
  return b.subspan(hdr_len + li_off, li_len);
}

// One record, checked against its section (verifier: check_btf_line).
absl::Status check_record(const bpf_line_info& r, const bpf_line_info* prev, u32 i,
                          const bpf_object_section& sec, const btf& btf, const Errors& err) {
  const std::string where = absl::StrCat(".BTF.ext line_info for section '", sec.name, "'");
  if (prev != nullptr && r.insn_off <= prev->insn_off)
    return err.invalid("%s: record %u has insn_off %u not greater than %u", where, i, r.insn_off,
                       prev->insn_off);
  if (r.insn_off >= sec.codes.size())
    return err.invalid("%s: record %u has insn_off %u past the section's %zu instructions", where, i,
                       r.insn_off, sec.codes.size());
  if (sec.codes[r.insn_off] == BPF_CODE_NONE)
    return err.invalid("%s: record %u has insn_off %u on an instruction with code 0", where, i, r.insn_off);
  if (btf_name_by_offset(&btf, r.file_name_off) == nullptr)
    return err.invalid("%s: record %u has file_name_off %u outside the string section (%zu bytes)", where,
                       i, r.file_name_off, btf.strings.size());
  if (btf_name_by_offset(&btf, r.line_off) == nullptr)
    return err.invalid("%s: record %u has line_off %u outside the string section (%zu bytes)", where, i,
                       r.line_off, btf.strings.size());
  return absl::OkStatus();
}

// Reads `num` records of `rec_size` bytes at `off` into sec->linfo.
absl::Status read_records(Bytes blk, u64 off, u32 num, u32 rec_size, const btf& btf,
                          const Errors& err, bpf_object_section* sec) {
  for (u32 i = 0; i < num; i++, off += rec_size) {
    bpf_line_info r;
    std::memcpy(&r, blk.data() + off, sizeof(r));  // the caller checked the extent
    if (r.insn_off % BPF_INSN_SZ != 0)
      return err.invalid(".BTF.ext line_info for section '%s': record %u has byte offset %u, not a "
                         "multiple of %u", sec->name, i, r.insn_off, BPF_INSN_SZ);
    r.insn_off /= BPF_INSN_SZ;
    const bpf_line_info* prev = sec->linfo.empty() ? nullptr : &sec->linfo.back();
    if (absl::Status s = check_record(r, prev, i, *sec, btf, err); !s.ok()) return s;
    sec->linfo.push_back(r);
  }
  return absl::OkStatus();
}

std::vector<u8> insn_codes(Bytes code) {
  std::vector<u8> codes(code.size() / BPF_INSN_SZ);
  for (size_t i = 0; i < codes.size(); i++) codes[i] = code[i * BPF_INSN_SZ];
  return codes;
}

// The line_info block: rec_size, then per section {sec_name_off, num_info,
// records} (libbpf: btf_ext_setup_info).
absl::Status parse_line_info(Bytes blk, const ElfParts& parts, const btf& btf, const Errors& err,
                             std::vector<bpf_object_section>* out) {
  u32 rec_size;
  if (!read_u32(blk, 0, &rec_size)) return err.invalid(".BTF.ext line_info: truncated record size");
  if (rec_size < MIN_BPF_LINEINFO_SIZE)
    return err.invalid(".BTF.ext line_info: record size %u is smaller than %u", rec_size,
                       MIN_BPF_LINEINFO_SIZE);
  if (rec_size % 4 != 0)
    return err.invalid(".BTF.ext line_info: record size %u is not a multiple of 4", rec_size);
  u64 off = 4;
  while (off < blk.size()) {
    u32 name_off, num;
    if (!read_u32(blk, off, &name_off) || !read_u32(blk, off + 4, &num))
      return err.invalid(".BTF.ext line_info: section header at byte %u truncated", off);
    const char* name = btf_name_by_offset(&btf, name_off);
    if (name == nullptr)
      return err.invalid(".BTF.ext line_info: sec_name_off %u outside the string section (%zu bytes)",
                         name_off, btf.strings.size());
    auto code = parts.exec.find(name);
    if (code == parts.exec.end())
      return err.invalid(".BTF.ext line_info for section '%s': no such executable section", name);
    for (const bpf_object_section& s : *out)
      if (s.name == name) return err.invalid(".BTF.ext line_info for section '%s': listed twice", name);
    if (num == 0) return err.invalid(".BTF.ext line_info for section '%s': no records", name);
    off += 8;
    if (off + u64{num} * rec_size > blk.size())
      return err.invalid(".BTF.ext line_info for section '%s': %u records of %u bytes exceed the block",
                         name, num, rec_size);
    bpf_object_section sec{.name = name, .codes = insn_codes(code->second), .linfo = {}};
    if (absl::Status s = read_records(blk, off, num, rec_size, btf, err, &sec); !s.ok()) return s;
    out->push_back(std::move(sec));
    off += u64{num} * rec_size;
  }
  return absl::OkStatus();
}

// Executable sections without line info still hold functions.
void add_sections_without_linfo(const ElfParts& parts, std::vector<bpf_object_section>* out) {
  for (const auto& [name, code] : parts.exec) {
    bool listed = false;
    for (const bpf_object_section& s : *out) listed |= s.name == name;
    if (!listed) out->push_back({.name = name, .codes = insn_codes(code), .linfo = {}});
  }
}

bpf_object_section* find_section(std::vector<bpf_object_section>& secs, const std::string& name) {
  for (bpf_object_section& s : secs)
    if (s.name == name) return &s;
  return nullptr;
}

// Points the function's bpf_linfo_view at its section's line info; the verifier's
// rule: a function starts with an entry.
absl::Status attach_linfo(bpf_object_func* f, const bpf_object_section& sec, const Errors& err) {
  if (sec.linfo.empty()) return absl::OkStatus();
  for (size_t i = 0; i < sec.linfo.size(); i++) {
    if (sec.linfo[i].insn_off == f->insn_start) {
      f->prog.linfo = &sec.linfo[i];
      f->prog.nr_linfo = static_cast<u32>(sec.linfo.size() - i);
      return absl::OkStatus();
    }
  }
  return err.invalid("section '%s': missing bpf_line_info for func '%s' at insn %u", sec.name,
                     f->prog.name, f->insn_start);
}

absl::Status collect_funcs(Elf* elf, const ElfParts& parts, const Errors& err, bpf_object_linfo* obj) {
  if (parts.symtab == nullptr) return err.invalid("no symbol table");
  Elf_Data* data = elf_getdata(parts.symtab, nullptr);
  GElf_Shdr sh;
  if (data == nullptr || gelf_getshdr(parts.symtab, &sh) == nullptr)
    return err.invalid("symbol table unreadable: %s", elf_errmsg(-1));
  const size_t count = sh.sh_entsize ? data->d_size / sh.sh_entsize : 0;
  for (size_t i = 0; i < count; i++) {
    GElf_Sym sym;
    if (gelf_getsym(data, static_cast<int>(i), &sym) == nullptr) return err.invalid("symbol %zu unreadable", i);
    if (GELF_ST_TYPE(sym.st_info) != STT_FUNC) continue;
    auto sec_name = parts.exec_by_index.find(sym.st_shndx);
    if (sec_name == parts.exec_by_index.end()) continue;
    const char* name = elf_strptr(elf, sh.sh_link, sym.st_name);
    if (name == nullptr) return err.invalid("symbol %zu has a bad name offset", i);
    bpf_object_section* sec = find_section(obj->sections, sec_name->second);
    if (sym.st_value % BPF_INSN_SZ || sym.st_size % BPF_INSN_SZ ||
        sym.st_value + sym.st_size > sec->codes.size() * BPF_INSN_SZ)
      return err.invalid("func '%s' [%u, +%u) is not whole instructions of section '%s'", name,
                         sym.st_value, sym.st_size, sec->name);
    bpf_object_func f{.section = sec->name, .insn_start = static_cast<u32>(sym.st_value / BPF_INSN_SZ),
                      .prog = {}};
    f.prog.name = name;
    f.prog.btf = &obj->btf;
    f.prog.len = static_cast<u32>(sym.st_size / BPF_INSN_SZ);
    f.prog.func_idx = sec->name == ".text" ? 1 : 0;
    if (absl::Status s = attach_linfo(&f, *sec, err); !s.ok()) return s;
    obj->funcs.push_back(std::move(f));
  }
  return absl::OkStatus();
}

absl::Status load(Elf* elf, const Errors& err, bpf_object_linfo* obj) {
  if (absl::Status s = check_ehdr(elf, err); !s.ok()) return s;
  absl::StatusOr<ElfParts> parts = collect_sections(elf, err);
  if (!parts.ok()) return parts.status();
  if (absl::Status s = parse_btf(parts->btf, err, &obj->btf); !s.ok()) return s;
  absl::StatusOr<Bytes> blk = line_info_block(parts->btf_ext, err);
  if (!blk.ok()) return blk.status();
  if (absl::Status s = parse_line_info(*blk, *parts, obj->btf, err, &obj->sections); !s.ok()) return s;
  add_sections_without_linfo(*parts, &obj->sections);
  return collect_funcs(elf, *parts, err, obj);
}

}  // namespace

const bpf_object_func* bpf_object_linfo::find_func(std::string_view name) const {
  for (const bpf_object_func& f : funcs)
    if (f.prog.name == name) return &f;
  return nullptr;
}

absl::StatusOr<std::unique_ptr<const bpf_object_linfo>> bpf_object_load_linfo(const std::string& path) {
  absl::StatusOr<std::vector<u8>> bytes = read_file(path);
  if (!bytes.ok()) return bytes.status();
  const Errors err{path};
  if (elf_version(EV_CURRENT) == EV_NONE) return err.invalid("libelf: %s", elf_errmsg(-1));
  ElfHandle elf(elf_memory(reinterpret_cast<char*>(bytes->data()), bytes->size()));
  if (!elf) return err.invalid("not an ELF object: %s", elf_errmsg(-1));
  // Sections are complete before funcs take pointers into them, and the
  // object lives on the heap, so those pointers survive the return.
  auto obj = std::make_unique<bpf_object_linfo>();
  obj->path = path;
  if (absl::Status s = load(elf.get(), err, obj.get()); !s.ok()) return s;
  return std::unique_ptr<const bpf_object_linfo>(std::move(obj));
}

int linfo_errno(const absl::Status& status) {
  if (status.ok()) return 0;
  return status.code() == absl::StatusCode::kNotFound ? -ENOENT : -EINVAL;
}

KMODEL_NAMESPACE_END
