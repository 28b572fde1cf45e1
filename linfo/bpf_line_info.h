// linfo/bpf_line_info.h: BTF line info of a loaded BPF program, and the
// lookup that turns an instruction of that program into `file:line`.
//
// Mirrors: include/uapi/linux/bpf.h (struct bpf_line_info and its
// BPF_LINE_INFO_LINE_NUM/_COL accessors), kernel/bpf/btf.c
// (btf_name_by_offset) and kernel/bpf/core.c (bpf_prog_get_file_line,
// Linux 6.18, with the July 2025 bounds fix of its loop).
//
// Contract of bpf_prog_get_file_line(prog, insn, &file, &line, &num):
//   - `prog` is one function: a main program or one of its subprograms (the
//     kernel's func[func_idx]). Its line info starts at prog->linfo[0], which
//     the verifier (check_btf_line) made the entry at the function's first
//     instruction, so that entry's insn_off is where the function starts.
//   - The entries that belong to the function are the run from linfo[0]
//     whose insn_off lies in [start, start + len); the run stops at the first
//     entry outside (the next subprogram's) or at the end of the array.
//   - The answer is the LAST of those entries whose insn_off <= insn, where
//     `insn` is the instruction the frame is at: the faulting instruction, or
//     for a caller's frame its call instruction. (The kernel compares JIT
//     addresses: it takes entries whose first JITed byte is strictly below
//     the return address ip. An ip just past a call instruction is therefore
//     the same rule as `insn_off <= call insn` here.)
//   - file = the basename of the entry's file name; line = the source line
//     text without its leading whitespace; num = line_col >> 10.
//   - Returns 0, -EINVAL when the program has no BTF or no line info (the
//     caller then prints the frame without a source line), or -ENOENT when
//     no entry of the function is at or before `insn`.
//   - The returned strings point into prog->btf's string section and live as
//     long as it does.
//
// The model has no JIT, so `insn` is an instruction index in the same
// coordinate as bpf_line_info.insn_off (the kernel keeps linfo in BPF
// instruction units too, and only jited_linfo in addresses).
#ifndef KMODEL_LINFO_BPF_LINE_INFO_H_
#define KMODEL_LINFO_BPF_LINE_INFO_H_

#include <array>
#include <cstddef>
#include <string>

#include "model/types.h"

KMODEL_NAMESPACE_BEGIN

// One record of the program's line info, as in the uapi header. In the
// kernel (and in this model after loading) insn_off counts instructions; in
// an ELF object's .BTF.ext it counts bytes from the section start.
struct bpf_line_info {
  u32 insn_off;
  u32 file_name_off;  // into the BTF string section
  u32 line_off;       // into the BTF string section: the source line's text
  u32 line_col;       // line number << 10 | column
};

// The smallest record the kernel and libbpf accept (offsetofend(line_col)).
inline constexpr u32 MIN_BPF_LINEINFO_SIZE = sizeof(bpf_line_info);

// The uapi header <linux/bpf.h> defines these two as macros of the same
// meaning; a file that includes both (a live-kernel test) gets the macros.
#ifndef BPF_LINE_INFO_LINE_NUM
constexpr u32 BPF_LINE_INFO_LINE_NUM(u32 line_col) { return line_col >> 10; }
constexpr u32 BPF_LINE_INFO_LINE_COL(u32 line_col) { return line_col & 0x3ff; }
#endif

// The part of struct btf the line info needs: the string section. Like the
// kernel's, it starts with an empty string at offset 0 and ends with a NUL,
// so every in-range offset names a terminated string.
struct btf {
  std::string strings;
};

// The string at `offset`, or nullptr when the offset is outside the section.
const char* btf_name_by_offset(const btf* btf, u32 offset);

// The kernel's file-name trim (lib/string.c): the part after the last '/'.
const char* kbasename(const char* path);

// The view of one function of a program (a main program or a subprogram)
// that the lookup and the stack dump read: the fields of the kernel's
// struct bpf_prog and its aux they use. It is not a program: the program
// object is struct bpf_prog in stream/bpf_prog.h (above linfo/ in the layer
// order, because it owns the streams), which embeds one view per function
// and finds its way back from a view with container_of. The loader fills
// views from an ELF object (bpf_object.h); a test may fill one by hand.
struct bpf_linfo_view {
  std::string name;               // function name (from BTF func info / symbol)
  std::array<u8, 8> tag{};        // prog->tag; the model does not compute it
  const struct btf* btf = nullptr;  // prog->aux->btf
  const bpf_line_info* linfo = nullptr;  // &aux->linfo[aux->linfo_idx]
  u32 nr_linfo = 0;               // aux->nr_linfo - aux->linfo_idx
  u32 len = 0;                    // instructions in this function
  u32 func_idx = 0;               // aux->func_idx: 0 for a main program
  const bpf_linfo_view* main_prog = nullptr;  // a subprogram's main program, if known
};

inline bool bpf_is_subprog(const bpf_linfo_view* prog) { return prog->func_idx != 0; }

// See the contract above.
int bpf_prog_get_file_line(const bpf_linfo_view* prog, u32 insn, const char** filep,
                           const char** linep, int* nump);

// The name kallsyms gives the program's JITed image:
// "bpf_prog_<16 hex digits of tag>_<name>" (kernel/bpf/core.c: bpf_get_prog_name).
std::string bpf_prog_ksym_name(const bpf_linfo_view* prog);

// The same name into buf, with snprintf's contract (returns the full
// length). No allocation: usable in NMI context.
int bpf_prog_ksym_snprint(const bpf_linfo_view* prog, char* buf, std::size_t size);

KMODEL_NAMESPACE_END

#endif  // KMODEL_LINFO_BPF_LINE_INFO_H_
