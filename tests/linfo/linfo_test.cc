// tests/linfo/linfo_test.cc: linfo/ against a real clang -g BPF object.
//
// Expected line numbers are never written down: the BPF source marks its
// lines with `// MARK:<name>` and the tests look them up in the source file,
// so a different compiler or layout changes nothing here. Corrupt inputs are
// made by mutating a copy of the valid object.
#include <gelf.h>
#include <libelf.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include "linfo/bpf_line_info.h"
#include "linfo/bpf_object.h"
#include "linfo/dump_stack.h"

using namespace kmodel;

namespace {

std::string data_path(const std::string& file) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* ws = std::getenv("TEST_WORKSPACE");
  const std::string rel = "tests/linfo/" + file;
  if (srcdir == nullptr || ws == nullptr) return rel;
  return std::string(srcdir) + "/" + ws + "/" + rel;
}

const std::string kObject = data_path("linfo_test.bpf.o");
const std::string kSource = data_path("linfo_test.bpf.c");

std::vector<std::string> source_lines() {
  std::ifstream in(kSource);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  REQUIRE(!lines.empty());
  return lines;
}

// The 1-based number of the line marked `// MARK:<name>`.
int mark_line(const std::string& name) {
  const std::vector<std::string> lines = source_lines();
  const std::string tag = "// MARK:" + name;
  for (size_t i = 0; i < lines.size(); i++) {
    const size_t at = lines[i].find(tag);
    if (at != std::string::npos && at + tag.size() == lines[i].size()) return static_cast<int>(i + 1);
  }
  FAIL("no line marked " << name);
  return 0;
}

std::string ltrimmed(const std::string& s) {
  const size_t at = s.find_first_not_of(" \t");
  return at == std::string::npos ? "" : s.substr(at);
}

std::vector<char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string write_temp(const std::string& name, const std::vector<char>& bytes) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string path = std::string(tmp ? tmp : "/tmp") + "/" + name;
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}

// File offset of the named section in an ELF image.
size_t section_offset(std::vector<char> bytes, const char* name) {
  REQUIRE(elf_version(EV_CURRENT) != EV_NONE);
  Elf* elf = elf_memory(bytes.data(), bytes.size());
  REQUIRE(elf != nullptr);
  size_t shstrndx = 0;
  REQUIRE(elf_getshdrstrndx(elf, &shstrndx) == 0);
  size_t offset = 0;
  for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn; scn = elf_nextscn(elf, scn)) {
    GElf_Shdr sh;
    gelf_getshdr(scn, &sh);
    if (std::strcmp(elf_strptr(elf, shstrndx, sh.sh_name), name) == 0) offset = sh.sh_offset;
  }
  elf_end(elf);
  REQUIRE(offset != 0);
  return offset;
}

u32 get_u32(const std::vector<char>& b, size_t off) {
  u32 v;
  std::memcpy(&v, b.data() + off, 4);
  return v;
}

void put_u32(std::vector<char>& b, size_t off, u32 v) { std::memcpy(b.data() + off, &v, 4); }

// Offsets inside the object of the .BTF header and of the first line_info
// section header ({sec_name_off, num_info}, records follow).
struct Layout {
  size_t btf;
  size_t ext;
  size_t rec_size;  // the line_info block's record-size word
  size_t sec;       // first section header of the block
};

Layout layout(const std::vector<char>& b) {
  Layout l{};
  l.btf = section_offset(b, ".BTF");
  l.ext = section_offset(b, ".BTF.ext");
  l.rec_size = l.ext + get_u32(b, l.ext + 4) + get_u32(b, l.ext + 16);
  l.sec = l.rec_size + 4;
  return l;
}

std::unique_ptr<const bpf_object_linfo> load_valid() {
  auto obj = bpf_object_load_linfo(kObject);
  INFO(obj.status().ToString());
  REQUIRE(obj.ok());
  return std::move(*obj);
}

struct FileLine {
  int ret;
  std::string file, line;
  int num;
};

FileLine lookup(const bpf_linfo_view* prog, u32 insn) {
  const char* file = "";
  const char* line = "";
  int num = -1;
  const int ret = bpf_prog_get_file_line(prog, insn, &file, &line, &num);
  return {ret, file, line, num};
}

// The first entry of `f` on source line `num`.
const bpf_line_info* entry_on_line(const bpf_object_func& f, int num) {
  for (u32 i = 0; i < f.prog.nr_linfo; i++) {
    const bpf_line_info& li = f.prog.linfo[i];
    if (li.insn_off >= f.insn_start + f.prog.len) break;
    if (static_cast<int>(BPF_LINE_INFO_LINE_NUM(li.line_col)) == num) return &li;
  }
  FAIL("func " << f.prog.name << " has no entry on line " << num);
  return nullptr;
}

// The first instruction of `f` with opcode `code`.
u32 find_insn(const bpf_object_linfo& obj, const bpf_object_func& f, u8 code) {
  for (const bpf_object_section& s : obj.sections) {
    if (s.name != f.section) continue;
    for (u32 i = f.insn_start; i < f.insn_start + f.prog.len; i++)
      if (s.codes[i] == code) return i;
  }
  FAIL("func " << f.prog.name << " has no instruction with code " << int{code});
  return 0;
}

constexpr u8 BPF_CALL_CODE = 0x85;  // BPF_JMP | BPF_CALL

}  // namespace

TEST_CASE("the object's functions, programs and subprogram are found") {
  auto obj = load_valid();
  for (const char* name : {"first", "second", "classify", "bump"}) {
    INFO(name);
    const bpf_object_func* f = obj->find_func(name);
    REQUIRE(f != nullptr);
    CHECK(f->prog.len > 0);
    REQUIRE(f->prog.linfo != nullptr);
    CHECK(f->prog.linfo[0].insn_off == f->insn_start);  // the verifier's rule
  }
  CHECK(obj->find_func("first")->section == "syscall");
  CHECK(obj->find_func("second")->section == "syscall");
  CHECK(obj->find_func("second")->insn_start > 0);
  CHECK(obj->find_func("classify")->section == "tc");
  CHECK(obj->find_func("bump")->section == ".text");
  CHECK(bpf_is_subprog(&obj->find_func("bump")->prog));
  CHECK_FALSE(bpf_is_subprog(&obj->find_func("first")->prog));
  CHECK(obj->find_func("nope") == nullptr);
}

TEST_CASE("every line-info entry names this source file and the text of its line") {
  auto obj = load_valid();
  const std::vector<std::string> src = source_lines();
  for (const bpf_object_func& f : obj->funcs) {
    for (u32 i = 0; i < f.prog.nr_linfo && f.prog.linfo[i].insn_off < f.insn_start + f.prog.len; i++) {
      const FileLine fl = lookup(&f.prog, f.prog.linfo[i].insn_off);
      INFO(f.prog.name << " entry " << i);
      REQUIRE(fl.ret == 0);
      CHECK(fl.file == "linfo_test.bpf.c");
      REQUIRE(fl.num >= 1);
      REQUIRE(fl.num <= static_cast<int>(src.size()));
      CHECK(fl.line == ltrimmed(src[fl.num - 1]));
    }
  }
}

TEST_CASE("file:line of chosen instructions") {
  auto obj = load_valid();
  SECTION("a call instruction is on its statement's line") {
    for (auto [func, mark] : {std::pair{"first", "first_call"}, std::pair{"second", "second_call"}}) {
      const bpf_object_func* f = obj->find_func(func);
      const FileLine fl = lookup(&f->prog, find_insn(*obj, *f, BPF_CALL_CODE));
      CHECK(fl.ret == 0);
      CHECK(fl.num == mark_line(mark));
    }
  }
  SECTION("exactly at an entry, and on the instructions up to the next one") {
    const bpf_object_func* f = obj->find_func("bump");
    const int add = mark_line("bump_add");
    const bpf_line_info* li = entry_on_line(*f, add);
    CHECK(lookup(&f->prog, li->insn_off).num == add);
    const bpf_line_info* ret = entry_on_line(*f, mark_line("bump_ret"));
    REQUIRE(ret->insn_off > li->insn_off);
    for (u32 insn = li->insn_off; insn < ret->insn_off; insn++) {
      const int num = lookup(&f->prog, insn).num;
      CHECK((num == add || num == static_cast<int>(BPF_LINE_INFO_LINE_NUM(f->prog.linfo[0].line_col))));
    }
    CHECK(lookup(&f->prog, ret->insn_off).num == mark_line("bump_ret"));
  }
  SECTION("the second program of a section has its own entries") {
    const bpf_object_func* f = obj->find_func("second");
    const FileLine fl = lookup(&f->prog, f->insn_start);
    CHECK(fl.ret == 0);
    CHECK(fl.num == mark_line("second_store"));
  }
  SECTION("past the last entry: the last entry of the function") {
    const bpf_object_func* f = obj->find_func("second");
    const FileLine last = lookup(&f->prog, f->insn_start + f->prog.len - 1);
    CHECK(last.ret == 0);
    CHECK(lookup(&f->prog, f->insn_start + f->prog.len + 100).num == last.num);
  }
  SECTION("before the function's first entry: -ENOENT") {
    const bpf_object_func* f = obj->find_func("second");
    CHECK(lookup(&f->prog, f->insn_start - 1).ret == -ENOENT);
  }
}

TEST_CASE("bpf_prog_get_file_line on hand-built line info") {
  btf b;
  b.strings = std::string("\0/src/dir/prog.bpf.c\0\t  x = 1;\0y();\0other.c\0 \v\fz;\0", 49);
  auto off = [&](const char* s) { return static_cast<u32>(b.strings.find(s)); };
  // Function [10, 18) of a program whose next subprogram starts at 18.
  const bpf_line_info linfo[] = {
      {10, off("/src"), off("\t  x"), (7u << 10) | 3},
      {14, off("/src"), off("y();"), 9u << 10},
      {16, off("other.c"), off(" \v\f"), (12u << 10) | 0x3ff},
      {18, off("/src"), off("y();"), 99u << 10},  // the next subprogram's
  };
  bpf_linfo_view prog;
  prog.btf = &b;
  prog.linfo = linfo;
  prog.nr_linfo = 4;
  prog.len = 8;

  CHECK(lookup(&prog, 9).ret == -ENOENT);
  const FileLine at = lookup(&prog, 10);
  CHECK(at.ret == 0);
  CHECK(at.file == "prog.bpf.c");
  CHECK(at.line == "x = 1;");
  CHECK(at.num == 7);
  CHECK(lookup(&prog, 13).num == 7);
  CHECK(lookup(&prog, 14).num == 9);
  CHECK(lookup(&prog, 15).num == 9);
  const FileLine third = lookup(&prog, 16);
  CHECK(third.file == "other.c");
  CHECK(third.line == "z;");
  CHECK(third.num == 12);
  CHECK(BPF_LINE_INFO_LINE_COL(linfo[2].line_col) == 0x3ff);
  CHECK(lookup(&prog, 18).num == 12);  // entry 3 is outside [10, 18)
  CHECK(lookup(&prog, 1000).num == 12);

  prog.nr_linfo = 1;  // the array ends: only the first entry is seen
  CHECK(lookup(&prog, 16).num == 7);

  bpf_linfo_view no_btf = prog;
  no_btf.btf = nullptr;
  CHECK(lookup(&no_btf, 10).ret == -EINVAL);
  bpf_linfo_view no_linfo = prog;
  no_linfo.linfo = nullptr;
  no_linfo.nr_linfo = 0;
  CHECK(lookup(&no_linfo, 10).ret == -EINVAL);

  CHECK(btf_name_by_offset(&b, static_cast<u32>(b.strings.size())) == nullptr);
  CHECK(std::string(kbasename("noslash")) == "noslash");
}

namespace {

// Loads `bytes` from a temp file; returns the error message (empty if OK).
std::string load_error(const std::string& name, const std::vector<char>& bytes) {
  const std::string path = write_temp(name, bytes);
  auto obj = bpf_object_load_linfo(path);
  if (obj.ok()) return "";
  CHECK(obj.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(linfo_errno(obj.status()) == -EINVAL);
  const std::string msg(obj.status().message());
  CHECK(msg.rfind(path + ": ", 0) == 0);  // names the input first
  return msg;
}

}  // namespace

TEST_CASE("bad inputs give an error that names the input and the problem") {
  const std::vector<char> good = read_bytes(kObject);
  REQUIRE(good.size() > 1024);
  const Layout l = layout(good);
  using Catch::Matchers::Contains;

  SECTION("missing file") {
    auto obj = bpf_object_load_linfo("/nonexistent/x.bpf.o");
    REQUIRE_FALSE(obj.ok());
    CHECK(obj.status().code() == absl::StatusCode::kNotFound);
    CHECK(linfo_errno(obj.status()) == -ENOENT);
    CHECK_THAT(std::string(obj.status().message()), Contains("/nonexistent/x.bpf.o: cannot open"));
  }
  SECTION("not an ELF") {
    std::vector<char> b = good;
    b[1] = 'X';
    CHECK_THAT(load_error("magic.o", b), Contains("not an ELF object"));
    CHECK_THAT(load_error("text.o", std::vector<char>{'h', 'i', '\n'}), Contains("not an ELF object"));
  }
  SECTION("every truncation fails cleanly") {
    for (size_t len = 0; len < good.size(); len += 29) {
      INFO("truncated to " << len);
      CHECK_FALSE(load_error("trunc.o", std::vector<char>(good.begin(), good.begin() + len)).empty());
    }
  }
  SECTION(".BTF magic") {
    std::vector<char> b = good;
    b[l.btf] ^= 0x10;
    CHECK_THAT(load_error("btf_magic.o", b), Contains(".BTF: bad magic 0xeb8f"));
  }
  const size_t rec0 = l.sec + 8;
  const size_t rec1 = rec0 + get_u32(good, l.rec_size);
  // One 32-bit field of a header or record overwritten, and the error that
  // must name it.
  struct FieldCorruption {
    const char* file;
    size_t offset;
    u32 value;
    const char* error;
  };
  const FieldCorruption field_cases[] = {
      {"btf_str.o", l.btf + 20, 0x7fffffff, ".BTF: string section ["},
      {"btf_hdr.o", l.btf + 4, 8, ".BTF: hdr_len 8 is too small"},
      {"ext_len.o", l.ext + 20, 0x10000000, ".BTF.ext: line_info ["},
      {"rec0.o", l.rec_size, 0, ".BTF.ext line_info: record size 0 is smaller than 16"},
      {"rec18.o", l.rec_size, 18, "record size 18 is not a multiple of 4"},
      {"secname.o", l.sec, 0x00ffffff, "sec_name_off 16777215 outside the string section"},
      {"norec.o", l.sec + 4, 0, "': no records"},
      {"lineoff.o", rec0 + 8, 0x00ffffff, "record 0 has line_off 16777215 outside the string section"},
      {"fileoff.o", rec0 + 4, 0x00ffffff, "record 0 has file_name_off 16777215 outside"},
      {"past.o", rec1, 0x7ffffff8, "record 1 has insn_off 268435455 past the section's"},
  };
  for (const FieldCorruption& c : field_cases) {
    SECTION(c.file) {
      std::vector<char> b = good;
      put_u32(b, c.offset, c.value);
      CHECK_THAT(load_error(c.file, b), Contains(c.error));
    }
  }
  SECTION(".BTF.ext magic") {
    std::vector<char> b = good;
    b[l.ext + 1] = 0;
    CHECK_THAT(load_error("ext_magic.o", b), Contains(".BTF.ext: bad magic 0x009f"));
  }
  SECTION("duplicate insn_off") {
    REQUIRE(get_u32(good, l.sec + 4) >= 2);
    std::vector<char> b = good;
    put_u32(b, rec1, get_u32(good, rec0));
    const u32 insn = get_u32(good, rec0) / 8;
    CHECK_THAT(load_error("dup.o", b),
               Contains("': record 1 has insn_off " + std::to_string(insn) + " not greater than " +
                        std::to_string(insn)));
  }
  SECTION("insn_off not on an instruction boundary") {
    std::vector<char> b = good;
    put_u32(b, rec1, get_u32(good, rec1) + 4);
    CHECK_THAT(load_error("odd.o", b), Contains("record 1 has byte offset"));
  }
  SECTION("a function without an entry at its start") {
    std::vector<char> b = good;
    put_u32(b, rec0, get_u32(good, rec1) - 8);  // still increasing, but not at insn 0
    const std::string msg = load_error("nofunc.o", b);
    // Unless insn (rec1 - 1) is the second half of a 16-byte load:
    if (msg.find("code 0") == std::string::npos)
      CHECK_THAT(msg, Contains("missing bpf_line_info for func '"));
  }
  SECTION("a bad load changes nothing: the good object loads the same after it") {
    auto before = load_valid();
    std::vector<char> b = good;
    put_u32(b, l.rec_size, 0);
    CHECK_FALSE(load_error("rec0b.o", b).empty());
    auto after = load_valid();
    REQUIRE(after->funcs.size() == before->funcs.size());
    CHECK(after->btf.strings == before->btf.strings);
  }
}

TEST_CASE("dump_stack text, exactly") {
  btf b;
  b.strings = std::string("\0/home/u/p/prog.bpf.c\0\t\tbpf_res_spin_lock(&a);\0", 47);
  const bpf_line_info linfo[] = {
      {0, 1, 22, (42u << 10) | 2},
  };
  bpf_linfo_view main_prog;
  main_prog.name = "lock_aa";
  main_prog.tag = {0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0x02, 0x03};
  main_prog.btf = &b;
  main_prog.linfo = linfo;
  main_prog.nr_linfo = 1;
  main_prog.len = 12;
  bpf_linfo_view no_linfo = main_prog;
  no_linfo.name = "stripped";
  no_linfo.btf = nullptr;

  const bpf_stack_frame frames[] = {
      kernel_frame("bpf_res_spin_lock", 0x5c, 0x120),
      bpf_prog_frame(&main_prog, 0, 5),
      bpf_prog_frame(&no_linfo, 0, 0),
      kernel_frame("bpf_test_run", 0x1d2, 0x3a0, "mod"),
  };
  const dump_stack_task task{.cpu = 3, .euid = 0xffffffffu, .pid = 1234,
                             .comm = "a_very_long_command_name"};
  CHECK(bpf_stream_dump_stack(task, frames) ==
        "CPU: 3 UID: -1 PID: 1234 Comm: a_very_long_com\n"
        "Call trace:\n"
        "bpf_res_spin_lock+0x5c/0x120\n"
        "bpf_prog_deadbeef00010203_lock_aa+0x28/0x60\n"
        "  bpf_res_spin_lock(&a); @ prog.bpf.c:42\n"
        "bpf_prog_deadbeef00010203_stripped+0x0/0x60\n"
        "bpf_test_run+0x1d2/0x3a0 [mod]\n"
        "\n");
  CHECK(bpf_stream_dump_stack(dump_stack_task{}, {}) == "CPU: 0 UID: 0 PID: 0 Comm: \nCall trace:\n\n");
}

TEST_CASE("dump_stack of a frame in the loaded object") {
  auto obj = load_valid();
  const bpf_object_func* bump = obj->find_func("bump");
  const bpf_line_info* li = entry_on_line(*bump, mark_line("bump_add"));
  const std::string text = dump_stack_frame(bpf_prog_frame(&bump->prog, bump->insn_start, li->insn_off));
  std::ostringstream want;
  want << "bpf_prog_0000000000000000_bump+0x" << std::hex << (li->insn_off - bump->insn_start) * 8 << "/0x"
       << bump->prog.len * 8 << "\n  " << std::dec
       << ltrimmed(source_lines()[mark_line("bump_add") - 1]) << " @ linfo_test.bpf.c:"
       << mark_line("bump_add") << "\n";
  CHECK(text == want.str());
}

TEST_CASE("bpf_prog_find_from_stack picks the report's program") {
  bpf_linfo_view main_prog, sub;
  main_prog.name = "main";
  sub.name = "sub";
  sub.func_idx = 1;
  sub.main_prog = &main_prog;
  const bpf_stack_frame frames[] = {
      kernel_frame("bpf_res_spin_lock", 0, 1),
      bpf_prog_frame(&sub, 0, 0),
      bpf_prog_frame(&main_prog, 0, 0),
  };
  CHECK(bpf_prog_find_from_stack(frames, Profile::kLinux618) == &main_prog);
  CHECK(bpf_prog_find_from_stack(frames, Profile::kMainline) == &main_prog);
  CHECK(bpf_prog_find_from_stack(frames, Profile::kSeed) == &main_prog);
  const bpf_stack_frame only_sub[] = {bpf_prog_frame(&sub, 0, 0)};
  CHECK(bpf_prog_find_from_stack(only_sub, Profile::kLinux618) == &main_prog);
  CHECK(bpf_prog_find_from_stack(only_sub, Profile::kSeed) == nullptr);
  CHECK(bpf_prog_find_from_stack(std::span(frames, 1), Profile::kLinux618) == nullptr);
}
