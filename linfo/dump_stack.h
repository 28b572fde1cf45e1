// linfo/dump_stack.h: the stack dump that ends every BPF stream error
// report, and the stack walk that picks the program a report belongs to.
//
// Mirrors: kernel/bpf/stream.c (bpf_stream_stage_dump_stack and its
// dump_stack_cb) and kernel/bpf/core.c (bpf_prog_find_from_stack), Linux 6.18.
//
// The model has no call stack of BPF programs to unwind (the kernel calls
// arch_bpf_stack_walk). The caller describes the stack instead: a list of
// frames, innermost first, each either a kernel symbol or a BPF function at
// an instruction. The text is, exactly:
//
//   CPU: <cpu> UID: <euid> PID: <pid> Comm: <comm>
//   Call trace:
//   <sym>+0x<off>/0x<size>              one line per frame (%pS), and for a
//     <source line> @ <file>:<line>     BPF frame with line info this 2nd line
//   (an empty line)
//
// The second line appears only when bpf_prog_get_file_line() succeeds; on
// -EINVAL/-ENOENT the kernel falls back to the bare %pS line, as here. UID is
// printed with %d (a uid above INT_MAX shows negative) and Comm is the
// task's 16-byte comm, so at most 15 characters.
//
// What %pS prints for a BPF frame is the kallsyms name of the JITed image
// with the JIT offset and size. The model has no JIT: bpf_prog_frame() fills
// in the bytecode offset and size instead (8 bytes per instruction), and a
// caller that wants other numbers sets sym/off/size itself.
#ifndef KMODEL_LINFO_DUMP_STACK_H_
#define KMODEL_LINFO_DUMP_STACK_H_

#include <cstddef>
#include <span>
#include <string>

#include "linfo/bpf_line_info.h"
#include "model/profile.h"
#include "model/types.h"

KMODEL_NAMESPACE_BEGIN

// One return address found by the unwinder.
struct bpf_stack_frame {
  // What %pS prints: <sym>+0x<off>/0x<size>, then " [<module>]" if set.
  std::string sym;
  u64 off = 0;
  u64 size = 0;
  std::string module;
  // A BPF frame: the function, and the instruction the frame is at (the
  // faulting one, or the call), in the coordinate of prog->linfo insn_off.
  const bpf_linfo_view* prog = nullptr;
  u32 insn = 0;
};

// The task the report is written from (`current` in the kernel).
struct dump_stack_task {
  int cpu = 0;
  u32 euid = 0;  // current_real_cred()->euid
  int pid = 0;
  std::string comm;
};

// A BPF frame of `prog`, whose first instruction is `insn_start`, at `insn`.
bpf_stack_frame bpf_prog_frame(const bpf_linfo_view* prog, u32 insn_start, u32 insn);

// A kernel frame.
bpf_stack_frame kernel_frame(std::string sym, u64 off, u64 size, std::string module = "");

// The lines of one frame (dump_stack_cb).
std::string dump_stack_frame(const bpf_stack_frame& frame);

// The same text into buf with snprintf's contract (returns the full length),
// from plain fields: `sym`+0x`off`/0x`sym_size`, " [`module`]" when module is
// non-empty, "\n", and when `prog` is set and its lookup of `insn` succeeds,
// "  <line> @ <file>:<num>\n". The kernel prints both lines with ONE
// bpf_stream_printk, so a BPF frame is one element of a staged report. No
// allocation: the stream's report path calls it in any context, NMI included.
int dump_stack_frame_snprint(char* buf, std::size_t size, const char* sym, u64 off, u64 sym_size,
                             const char* module, const bpf_linfo_view* prog, u32 insn);

// The first line, "CPU: .. UID: .. PID: .. Comm: ..\n", into buf with
// snprintf's contract; comm is cut to 15 characters. No allocation.
int dump_stack_task_snprint(char* buf, std::size_t size, int cpu, u32 euid, int pid,
                            const char* comm);

// The whole dump (bpf_stream_stage_dump_stack), frames innermost first.
std::string bpf_stream_dump_stack(const dump_stack_task& task,
                                  std::span<const bpf_stack_frame> frames);

// The program the report goes to: the first BPF frame from the innermost.
// Profile seed (the patch series) skips subprogram frames and takes the
// first main program; later profiles take the first BPF frame of any kind
// and map a subprogram to its main program (prog->main_prog). Returns
// nullptr when no frame qualifies. A subprogram without a known main_prog
// stands for itself.
const bpf_linfo_view* bpf_prog_find_from_stack(std::span<const bpf_stack_frame> frames,
                                         Profile profile);

// The rule above for one BPF frame of function `prog`: the program the
// report goes to, or nullptr to keep walking (seed: a subprogram). The
// stream's walk over its CPU stacks (stream/bpf_prog.h) applies the same.
const bpf_linfo_view* bpf_find_from_stack_frame(const bpf_linfo_view* prog, Profile profile);

KMODEL_NAMESPACE_END

#endif  // KMODEL_LINFO_DUMP_STACK_H_
