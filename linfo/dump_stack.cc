// linfo/dump_stack.cc: see dump_stack.h.
#include "linfo/dump_stack.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

KMODEL_NAMESPACE_BEGIN

namespace {

constexpr u32 BPF_INSN_SZ = 8;
constexpr size_t TASK_COMM_LEN = 16;  // including the NUL

// %pS: the kernel prints hex with its 0x prefix even for zero.
std::string sprint_symbol(const bpf_stack_frame& f) {
  std::string s = absl::StrFormat("%s+0x%x/0x%x", f.sym, f.off, f.size);
  if (!f.module.empty()) absl::StrAppend(&s, " [", f.module, "]");
  return s;
}

}  // namespace

bpf_stack_frame bpf_prog_frame(const bpf_prog* prog, u32 insn_start, u32 insn) {
  bpf_stack_frame f;
  f.sym = bpf_prog_ksym_name(prog);
  f.off = u64{insn - insn_start} * BPF_INSN_SZ;
  f.size = u64{prog->len} * BPF_INSN_SZ;
  f.prog = prog;
  f.insn = insn;
  return f;
}

bpf_stack_frame kernel_frame(std::string sym, u64 off, u64 size, std::string module) {
  bpf_stack_frame f;
  f.sym = std::move(sym);
  f.off = off;
  f.size = size;
  f.module = std::move(module);
  return f;
}

std::string dump_stack_frame(const bpf_stack_frame& frame) {
  std::string text = sprint_symbol(frame) + "\n";
  const char* file = "";
  const char* line = "";
  int num = 0;
  if (frame.prog != nullptr && bpf_prog_get_file_line(frame.prog, frame.insn, &file, &line, &num) == 0)
    absl::StrAppendFormat(&text, "  %s @ %s:%d\n", line, file, num);
  return text;
}

std::string bpf_stream_dump_stack(const dump_stack_task& task,
                                  std::span<const bpf_stack_frame> frames) {
  const std::string comm = task.comm.substr(0, TASK_COMM_LEN - 1);
  std::string text = absl::StrFormat("CPU: %d UID: %d PID: %d Comm: %s\n", task.cpu,
                                     static_cast<int>(task.euid), task.pid, comm);
  text += "Call trace:\n";
  for (const bpf_stack_frame& f : frames) text += dump_stack_frame(f);
  text += "\n";
  return text;
}

const bpf_prog* bpf_prog_find_from_stack(std::span<const bpf_stack_frame> frames,
                                         Profile profile) {
  for (const bpf_stack_frame& f : frames) {
    if (f.prog == nullptr) continue;
    if (profile == Profile::kSeed) {
      if (bpf_is_subprog(f.prog)) continue;
      return f.prog;
    }
    return f.prog->main_prog != nullptr ? f.prog->main_prog : f.prog;
  }
  return nullptr;
}

KMODEL_NAMESPACE_END
