// linfo/dump_stack.cc: see dump_stack.h.
#include "linfo/dump_stack.h"

#include <cstdio>
#include <utility>


KMODEL_NAMESPACE_BEGIN

namespace {

constexpr u32 BPF_INSN_SZ = 8;
constexpr size_t TASK_COMM_LEN = 16;  // including the NUL

}  // namespace

bpf_stack_frame bpf_prog_frame(const bpf_linfo_view* prog, u32 insn_start, u32 insn) {
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

int dump_stack_frame_snprint(char* buf, std::size_t size, const char* sym, u64 off, u64 sym_size,
                             const char* module, const bpf_linfo_view* prog, u32 insn) {
  const char* file = "";
  const char* line = "";
  int num = 0;
  const bool has_module = module != nullptr && module[0] != '\0';
  const char* mod_open = has_module ? " [" : "";
  const char* mod = has_module ? module : "";
  const char* mod_close = has_module ? "]" : "";
  const auto o = static_cast<unsigned long long>(off);
  const auto z = static_cast<unsigned long long>(sym_size);
  if (prog != nullptr && bpf_prog_get_file_line(prog, insn, &file, &line, &num) == 0)
    return std::snprintf(buf, size, "%s+0x%llx/0x%llx%s%s%s\n  %s @ %s:%d\n", sym, o, z, mod_open,
                         mod, mod_close, line, file, num);
  return std::snprintf(buf, size, "%s+0x%llx/0x%llx%s%s%s\n", sym, o, z, mod_open, mod, mod_close);
}

std::string dump_stack_frame(const bpf_stack_frame& frame) {
  auto print = [&](char* buf, std::size_t size) {
    return dump_stack_frame_snprint(buf, size, frame.sym.c_str(), frame.off, frame.size,
                                    frame.module.c_str(), frame.prog, frame.insn);
  };
  std::string text(static_cast<std::size_t>(print(nullptr, 0)), '\0');
  print(text.data(), text.size() + 1);
  return text;
}

int dump_stack_task_snprint(char* buf, std::size_t size, int cpu, u32 euid, int pid,
                            const char* comm) {
  return std::snprintf(buf, size, "CPU: %d UID: %d PID: %d Comm: %.*s\n", cpu,
                       static_cast<int>(euid), pid, static_cast<int>(TASK_COMM_LEN - 1), comm);
}

std::string bpf_stream_dump_stack(const dump_stack_task& task,
                                  std::span<const bpf_stack_frame> frames) {
  const char* comm = task.comm.c_str();
  std::string text(
      static_cast<std::size_t>(dump_stack_task_snprint(nullptr, 0, task.cpu, task.euid, task.pid, comm)),
      '\0');
  dump_stack_task_snprint(text.data(), text.size() + 1, task.cpu, task.euid, task.pid, comm);
  text += "Call trace:\n";
  for (const bpf_stack_frame& f : frames) text += dump_stack_frame(f);
  text += "\n";
  return text;
}

const bpf_linfo_view* bpf_find_from_stack_frame(const bpf_linfo_view* prog, Profile profile) {
  if (profile == Profile::kSeed) return bpf_is_subprog(prog) ? nullptr : prog;
  return prog->main_prog != nullptr ? prog->main_prog : prog;
}

const bpf_linfo_view* bpf_prog_find_from_stack(std::span<const bpf_stack_frame> frames,
                                         Profile profile) {
  for (const bpf_stack_frame& f : frames) {
    if (f.prog == nullptr) continue;
    if (const bpf_linfo_view* owner = bpf_find_from_stack_frame(f.prog, profile)) return owner;
  }
  return nullptr;
}

KMODEL_NAMESPACE_END
