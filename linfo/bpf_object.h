// linfo/bpf_object.h: the line info of every function in a BPF ELF object
// (clang -target bpf -g output), checked as the kernel would check it.
//
// Mirrors: what libbpf reads from an object (the .BTF string section, the
// .BTF.ext line_info block, the function symbols of executable sections) and
// what the verifier's check_btf_line() (kernel/bpf/verifier.c) then demands
// of the line info it is given.
//
// Contract of bpf_object_load_linfo(path):
//   - Returns an immutable object, or an error; it changes no other state
//     (a pure function of the file's bytes).
//   - Every error message starts with the path, names the ELF section or
//     record at fault, and says what is wrong, e.g.
//       "a.bpf.o: .BTF.ext line_info for section 'syscall': record 3 has
//        insn_off 1 not greater than 1".
//     The status code is kNotFound when the file cannot be read and
//     kInvalidArgument otherwise; linfo_errno() maps them to the kernel's
//     -ENOENT / -EINVAL.
//   - Checks, in the verifier's words where it has them: the record size is
//     at least sizeof(bpf_line_info) and a multiple of 4; in each section
//     the insn_off values are strictly increasing, inside the section and
//     not on the second half of a 16-byte instruction; file_name_off and
//     line_off name strings of .BTF; and every function starts with an
//     entry ("missing bpf_line_info for func").
//   - Coordinates: a function's instructions and its line info are indexed
//     from the start of its ELF section, in instructions (the .BTF.ext bytes
//     are divided by 8). libbpf would later append the called subprograms to
//     each program and renumber; the model keeps every function in place,
//     which gives the same file:line for every instruction.
//
// Each function becomes a bpf_linfo_view (bpf_line_info.h) whose pointers stay
// valid as long as the object lives; functions of .text are subprograms
// (func_idx 1, no main_prog: a subprogram may be shared by several programs,
// and libbpf gives each its own copy).
#ifndef KMODEL_LINFO_BPF_OBJECT_H_
#define KMODEL_LINFO_BPF_OBJECT_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "linfo/bpf_line_info.h"
#include "model/types.h"

KMODEL_NAMESPACE_BEGIN

// An executable ELF section: its instructions' opcodes and its line info.
struct bpf_object_section {
  std::string name;
  std::vector<u8> codes;              // bpf_insn.code of each instruction
  std::vector<bpf_line_info> linfo;   // insn_off in instructions
};

// One function symbol (STT_FUNC) of an executable section.
struct bpf_object_func {
  std::string section;
  u32 insn_start = 0;  // first instruction, section coordinates
  bpf_linfo_view prog;       // prog.len, prog.linfo point into the section
};

struct bpf_object_linfo {
  std::string path;
  struct btf btf;
  std::vector<bpf_object_section> sections;
  std::vector<bpf_object_func> funcs;

  // The function called `name`, or nullptr.
  const bpf_object_func* find_func(std::string_view name) const;
};

absl::StatusOr<std::unique_ptr<const bpf_object_linfo>> bpf_object_load_linfo(
    const std::string& path);

// -ENOENT for kNotFound, -EINVAL for other errors, 0 for OK.
int linfo_errno(const absl::Status& status);

KMODEL_NAMESPACE_END

#endif  // KMODEL_LINFO_BPF_OBJECT_H_
