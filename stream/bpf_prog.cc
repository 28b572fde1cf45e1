// stream/bpf_prog.cc: see bpf_prog.h.
#include "stream/bpf_prog.h"

#include <cstddef>
#include <cstring>
#include <map>
#include <mutex>

#include "model/bug.h"
#include "model/cpu.h"
#include "model/machine_state.h"
#include "stream/bpf_stream_fd.h"
#include "model/percpu.h"
#include "linfo/dump_stack.h"
#include "model/profile.h"

KMODEL_NAMESPACE_BEGIN

namespace {

// ---- Registry ----------------------------------------------------------------------

struct Registry {
  std::mutex mu;
  u32 next_id = 1;
  u64 next_jit = BPF_JIT_BASE;
  std::map<u32, bpf_prog*> by_id;
  std::map<u64, bpf_prog*> by_addr;  // bpf_func -> function (every function)
};

Registry& registry() {
  static auto* r = new Registry();
  return *r;
}

// The model's tag: FNV-1a over the function's opcodes and name (the kernel
// hashes the loaded instructions with SHA-1).
std::array<u8, 8> model_tag(const bpf_object_linfo* obj, const bpf_object_func* f,
                            const std::string& name) {
  u64 h = 0xcbf29ce484222325ull;
  auto mix = [&h](u8 b) {
    h ^= b;
    h *= 0x100000001b3ull;
  };
  if (obj != nullptr && f != nullptr) {
    for (const bpf_object_section& sec : obj->sections) {
      if (sec.name != f->section) continue;
      for (u32 i = f->insn_start; i < f->insn_start + f->prog.len && i < sec.codes.size(); i++)
        mix(sec.codes[i]);
    }
  }
  for (char c : name) mix(static_cast<u8>(c));
  std::array<u8, 8> tag{};
  for (int i = 0; i < 8; i++) tag[static_cast<std::size_t>(i)] = static_cast<u8>(h >> (56 - 8 * i));
  return tag;
}

// One function; not yet registered.
std::unique_ptr<bpf_prog> make_func(const bpf_object_linfo* obj, const bpf_object_func* f,
                                    const std::string& name, u32 len, u32 func_idx) {
  auto prog = std::make_unique<bpf_prog>();
  prog->aux_storage = std::make_unique<bpf_prog_aux>();
  prog->aux = prog->aux_storage.get();
  prog->aux->prog = prog.get();
  prog->aux->name = name;
  prog->aux->func_idx = func_idx;
  prog->len = len;
  prog->jited_len = len * BPF_INSN_SZ;
  prog->insn_start = f != nullptr ? f->insn_start : 0;
  prog->tag = model_tag(obj, f, name);
  if (f != nullptr) prog->linfo = f->prog;  // btf, linfo, nr_linfo, len
  prog->linfo.name = name;
  prog->linfo.tag = prog->tag;
  prog->linfo.len = len;
  prog->linfo.func_idx = func_idx;
  prog->ksym = bpf_prog_ksym_name(&prog->linfo);
  return prog;
}

int install_fd(bpf_fd_table* table, bpf_fd_file file) {
  for (std::size_t i = 0; i < table->fds.size(); i++) {
    if (!table->fds[i].open()) {
      table->fds[i] = file;
      return BPF_FD_BASE + static_cast<int>(i);
    }
  }
  table->fds.push_back(file);
  return BPF_FD_BASE + static_cast<int>(table->fds.size()) - 1;
}

// The open file of fd, or nullptr (-EBADF).
bpf_fd_file* fd_lookup(bpf_fd_table* table, int fd) {
  if (fd < BPF_FD_BASE) return nullptr;
  const auto i = static_cast<std::size_t>(fd - BPF_FD_BASE);
  if (i >= table->fds.size() || !table->fds[i].open()) return nullptr;
  return &table->fds[i];
}

// Registers main (owning its subprograms through aux->func) and returns an fd.
int register_prog(bpf_fd_table* table, std::vector<std::unique_ptr<bpf_prog>> funcs) {
  Registry& r = registry();
  bpf_prog* main = funcs[0].get();
  std::lock_guard<std::mutex> lock(r.mu);
  main->aux->id = r.next_id++;
  for (auto& f : funcs) {
    f->aux->main_prog_aux = main->aux;
    f->linfo.main_prog = &main->linfo;
    f->bpf_func = r.next_jit;
    r.next_jit += (u64{f->jited_len} + 15) & ~u64{15};
    r.next_jit += 16;  // a gap: an address between images belongs to none
    r.by_addr[f->bpf_func] = f.get();
    main->aux->func.push_back(f.release());
  }
  bpf_prog_stream_init(main);
  atomic_set(&main->aux->stream_error_cnt, 0);
  atomic_set(&main->aux->refcnt, 1);  // the fd's
  r.by_id[main->aux->id] = main;
  return install_fd(table, bpf_fd_file{bpf_fd_kind::kProg, main});
}

}  // namespace

bpf_prog_unregistered::bpf_prog_unregistered(const char* name) {
  aux_storage = std::make_unique<bpf_prog_aux>();
  aux = aux_storage.get();
  aux->prog = this;
  aux->main_prog_aux = aux;
  aux->name = name;
  linfo.name = name;
  ksym = bpf_prog_ksym_name(&linfo);
  atomic_set(&aux->stream_error_cnt, 0);
}

bpf_prog* bpf_prog_from_linfo(const bpf_linfo_view* view) {
  // container_of(view, struct bpf_prog, linfo)
  return reinterpret_cast<bpf_prog*>(reinterpret_cast<char*>(const_cast<bpf_linfo_view*>(view)) -
                                     offsetof(bpf_prog, linfo));
}

int bpf_prog_load(bpf_fd_table* table, std::shared_ptr<const bpf_object_linfo> obj,
                  const std::string& main_name, const std::vector<std::string>& subprog_names) {
  const bpf_object_func* main_f = obj->find_func(main_name);
  if (main_f == nullptr) return -ENOENT;
  if (main_f->section == ".text") return -EINVAL;
  if (subprog_names.size() + 1 > static_cast<std::size_t>(MAX_CALL_FRAMES)) return -E2BIG;
  std::vector<std::unique_ptr<bpf_prog>> funcs;
  funcs.push_back(make_func(obj.get(), main_f, main_name, main_f->prog.len, 0));
  u32 idx = 1;
  for (const std::string& name : subprog_names) {
    const bpf_object_func* f = obj->find_func(name);
    if (f == nullptr) return -ENOENT;
    if (f->section != ".text") return -EINVAL;
    funcs.push_back(make_func(obj.get(), f, name, f->prog.len, idx++));
  }
  for (auto& f : funcs) f->object = obj;
  return register_prog(table, std::move(funcs));
}

int bpf_prog_load_bare(bpf_fd_table* table, const std::string& name, u32 len, int nr_subprogs) {
  if (nr_subprogs < 0 || nr_subprogs + 1 > MAX_CALL_FRAMES) return -E2BIG;
  std::vector<std::unique_ptr<bpf_prog>> funcs;
  funcs.push_back(make_func(nullptr, nullptr, name, len, 0));
  for (int i = 1; i <= nr_subprogs; i++)
    funcs.push_back(make_func(nullptr, nullptr, name + "_sub" + std::to_string(i), len,
                              static_cast<u32>(i)));
  return register_prog(table, std::move(funcs));
}

int bpf_fd_install_file(bpf_fd_table* table, bpf_fd_kind kind) {
  return install_fd(table, bpf_fd_file{kind, nullptr, nullptr});
}

int bpf_fd_install_stream(bpf_fd_table* table, bpf_stream_file* file) {
  return install_fd(table, bpf_fd_file{bpf_fd_kind::kStream, nullptr, file});
}

bpf_fd_file* bpf_fd_lookup(bpf_fd_table* table, int fd) { return fd_lookup(table, fd); }

bpf_prog* bpf_prog_get(bpf_fd_table* table, int fd, int* err) {
  bpf_fd_file* file = fd_lookup(table, fd);
  const int e = file == nullptr ? -EBADF : file->kind != bpf_fd_kind::kProg ? -EINVAL : 0;
  if (e != 0) {
    if (err != nullptr) *err = e;
    return nullptr;
  }
  bpf_prog_inc(file->prog);
  return file->prog;
}

void bpf_prog_inc(bpf_prog* prog) { atomic_inc(&prog->aux->refcnt); }

void bpf_prog_put(bpf_prog* prog) {
  if (!atomic_dec_and_test(&prog->aux->refcnt)) return;
  Registry& r = registry();
  {
    std::lock_guard<std::mutex> lock(r.mu);
    r.by_id.erase(prog->aux->id);
    for (bpf_prog* f : prog->aux->func) r.by_addr.erase(f->bpf_func);
  }
  bpf_prog_stream_free(prog);
  // func[0] is prog itself; delete the subprograms first.
  std::vector<bpf_prog*> funcs = std::move(prog->aux->func);
  for (std::size_t i = funcs.size(); i-- > 0;) delete funcs[i];
}

int bpf_prog_close_fd(bpf_fd_table* table, int fd) {
  bpf_fd_file* file = fd_lookup(table, fd);
  if (file == nullptr) return -EBADF;
  const bpf_fd_file closed = *file;
  *file = bpf_fd_file{};
  if (closed.kind == bpf_fd_kind::kProg) bpf_prog_put(closed.prog);
  if (closed.kind == bpf_fd_kind::kStream) bpf_stream_release(closed.stream_file);
  return 0;
}

void bpf_fd_table_release(bpf_fd_table* table) {
  for (std::size_t i = 0; i < table->fds.size(); i++)
    if (table->fds[i].open()) bpf_prog_close_fd(table, BPF_FD_BASE + static_cast<int>(i));
  table->fds.clear();
}

bpf_prog* bpf_prog_by_id(u32 id) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  auto it = r.by_id.find(id);
  return it == r.by_id.end() ? nullptr : it->second;
}

bpf_prog* bpf_prog_ksym_find(u64 ip) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  auto it = r.by_addr.upper_bound(ip);
  if (it == r.by_addr.begin()) return nullptr;
  --it;
  bpf_prog* f = it->second;
  return ip < f->bpf_func + f->jited_len ? f : nullptr;
}

int bpf_prog_registry_count() {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  return static_cast<int>(r.by_id.size());
}

int bpf_prog_stream_read_by_fd(bpf_fd_table* table, const bpf_prog_stream_read_attr& attr) {
  if (attr.past_last_field != 0) return -EINVAL;  // CHECK_ATTR
  int err = 0;
  // The kernel's prog_fd is a u32 handed to an int parameter.
  bpf_prog* prog = bpf_prog_get(table, static_cast<int>(attr.prog_fd), &err);
  if (prog == nullptr) return err;
  bpf_user_buf null_buf = bpf_user_buf_of(nullptr, 0);
  const int ret = bpf_prog_stream_read(prog, static_cast<int>(attr.stream_id),
                                       attr.stream_buf != nullptr ? attr.stream_buf : &null_buf,
                                       attr.stream_buf_len);
  bpf_prog_put(prog);
  return ret;
}

int bpf_prog_stream_read_by_fd(bpf_fd_table* table, int fd, int stream_id, char* buf, int len) {
  bpf_user_buf ubuf = bpf_user_buf_of(buf, len > 0 ? static_cast<u64>(len) : 0);
  bpf_prog_stream_read_attr attr;
  attr.stream_buf = &ubuf;
  attr.stream_buf_len = static_cast<u32>(len);
  attr.stream_id = static_cast<u32>(stream_id);
  attr.prog_fd = static_cast<u32>(fd);
  return bpf_prog_stream_read_by_fd(table, attr);
}

// ---- The running CPU ---------------------------------------------------------------

namespace {

constexpr int kLevels = 4;  // task, softirq, hardirq, NMI

struct ContextStack {
  int depth = 0;
  bpf_run_frame frames[MAX_CALL_FRAMES] = {};
};

struct CpuStacks {
  ContextStack level[kLevels];
  bpf_task task;
};

PerCpu<CpuStacks> g_stacks;

void reset_stacks() {
  for (int cpu = 0; cpu < NR_CPUS; ++cpu) *per_cpu_ptr(&g_stacks, cpu) = CpuStacks{};
}

const MachineStateReset kReset(&reset_stacks);

ContextStack* this_stack() {
  return &this_cpu_ptr(&g_stacks)->level[interrupt_context_level()];
}

}  // namespace

void bpf_set_current_task(int pid, u32 euid, const char* comm) {
  bpf_task* t = &this_cpu_ptr(&g_stacks)->task;
  t->pid = pid;
  t->euid = euid;
  std::strncpy(t->comm, comm, sizeof(t->comm) - 1);
  t->comm[sizeof(t->comm) - 1] = '\0';
}

const bpf_task* bpf_current_task() { return &this_cpu_ptr(&g_stacks)->task; }

void bpf_prog_set_insn(u32 insn) {
  ContextStack* s = this_stack();
  if (s->depth > 0) s->frames[s->depth - 1].insn = insn;
}

namespace stream_internal {

bool bpf_frame_push(bpf_prog* prog, u32 insn) {
  ContextStack* s = this_stack();
  if (WARN_ON(s->depth >= MAX_CALL_FRAMES)) return false;
  s->frames[s->depth++] = {prog, insn};
  return true;
}

void bpf_frame_pop() {
  ContextStack* s = this_stack();
  if (s->depth > 0) s->depth--;
  // next: natively, a run that returns to task context with irqs on is a
  // point where the model takes this CPU's irq_work interrupt (the simulator
  // takes it at every step where it can: model/cpu.h).
  if (s->depth == 0 && has_stream_fds()) irq_work_interrupt_point();
}

}  // namespace stream_internal

int bpf_walk_stack(bpf_run_frame* frames, int* levels, int max) {
  CpuStacks* cs = this_cpu_ptr(&g_stacks);
  int n = 0;
  for (int level = interrupt_context_level(); level >= 0 && n < max; level--) {
    const ContextStack& s = cs->level[level];
    for (int i = s.depth - 1; i >= 0 && n < max; i--) {
      frames[n] = s.frames[i];
      levels[n] = level;
      n++;
    }
  }
  return n;
}

bpf_prog* bpf_prog_find_from_stack() {
  bpf_run_frame frames[kLevels * MAX_CALL_FRAMES];
  int levels[kLevels * MAX_CALL_FRAMES];
  const int n = bpf_walk_stack(frames, levels, kLevels * MAX_CALL_FRAMES);
  for (int i = 0; i < n; i++) {
    // The one rule (linfo/dump_stack.h): seed skips subprograms, later
    // versions map any function to its main program.
    const bpf_linfo_view* owner = bpf_find_from_stack_frame(&frames[i].prog->linfo, current_profile());
    if (owner != nullptr) return bpf_prog_from_linfo(owner);
  }
  return nullptr;
}

KMODEL_NAMESPACE_END
