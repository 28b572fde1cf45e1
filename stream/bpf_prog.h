// stream/bpf_prog.h: the program object (struct bpf_prog + struct
// bpf_prog_aux), its registry (ids, a per-process fd table, the simulated
// JIT address space) and the model of "a program is running on this CPU"
// that the error reports walk.
//
// Mirrors: include/linux/bpf.h and include/linux/filter.h (struct bpf_prog,
// struct bpf_prog_aux: id, name, tag, func[], func_idx, main_prog_aux,
// stream[2], stream_error_cnt of the seed), kernel/bpf/syscall.c
// (bpf_prog_load, prog_idr, bpf_prog_get(fd), bpf_prog_put), kernel/bpf/core.c
// (bpf_prog_ksym_find, bpf_prog_find_from_stack, bpf_check_timed_may_goto's
// caller side), Linux 6.18, with the seed's differences.
//
// Why here: the program owns its two streams, so it sits in stream/, the top
// layer (model < sync < alloc < linfo < stream). linfo/ only needs to read a
// function's line info; it takes a bpf_linfo_view (linfo/bpf_line_info.h),
// which every bpf_prog embeds (`linfo`), and this layer maps a view back to
// its program with container_of (bpf_prog_from_linfo).
//
// Contract
//   Loading (bpf_prog_load) builds a main program and its subprograms from an
//   ELF object's functions (linfo/bpf_object.h), gives the main program an id
//   (1, 2, ... as the kernel's prog_idr), a tag, a simulated JIT image per
//   function (bpf_func, jited_len: 8 bytes per instruction, images laid out
//   one after another from BPF_JIT_BASE), initialises the two streams of the
//   main program and installs an fd in the caller's fd table. Subprograms
//   have no streams of their own: bpf_stream_get() of any function gives the
//   main program's (aux->main_prog_aux).
//   Teardown: the last bpf_prog_put() (closing the last fd) frees every
//   element still queued on the streams (log and backlog), removes the
//   program from the registry and frees it. Staged reports are never owned
//   by a program: bpf_stream_stage frees what it did not commit.
//   Registry operations (load, fd, put, lookup by id/fd/address) run in task
//   context and never concurrently with a CPU that runs or reports on the
//   same program (natively they take a mutex; the simulator runs them in
//   scenario setup and end checks). The report path never touches the
//   registry: it finds programs on the running CPU's call stack.
//
//   Running (bpf_prog_run, bpf_call_subprog, bpf_run_callback,
//   bpf_prog_set_insn): the model of the CPU's call stack. Each CPU has one
//   stack per context level (task, softirq, hardirq, NMI) of at most
//   MAX_CALL_FRAMES BPF frames; bpf_prog_run pushes the main program's frame
//   for the duration of the body, bpf_call_subprog a subprogram's,
//   bpf_run_callback a subprogram run directly by the kernel (a timer or
//   workqueue callback: no frame of its main program below it). The body says
//   where it is with bpf_prog_set_insn(insn) (section coordinates, as the
//   line info). A report walks these stacks from the current context down to
//   task context, as the unwinder crosses from an interrupt stack to the
//   interrupted one. Any context, NMI included; no allocation.
#ifndef KMODEL_STREAM_BPF_PROG_H_
#define KMODEL_STREAM_BPF_PROG_H_

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "linfo/bpf_line_info.h"
#include "linfo/bpf_object.h"
#include "model/atomic.h"
#include "model/types.h"
#include "stream/bpf_stream.h"

KMODEL_NAMESPACE_BEGIN

struct bpf_prog;
struct bpf_arena;

struct bpf_prog_aux {
  u32 id = 0;          // main program: its prog_idr id; subprograms 0
  std::string name;    // the function's name (the kernel keeps 16 bytes)
  u32 func_idx = 0;    // 0: main program
  // Main program only: every function, func[0] the main program itself.
  std::vector<bpf_prog*> func;
  bpf_prog_aux* main_prog_aux = nullptr;  // the main program's aux (itself for it)
  bpf_prog* prog = nullptr;               // back pointer
  bpf_stream* stream[2] = {};             // main program only (bpf_prog_stream_init)
  atomic_t stream_error_cnt;              // seed: kernel error reports so far
  bpf_arena* arena = nullptr;             // the program's arena, if it uses one
  Atomic<int> refcnt;                     // main program: references (fds, loader)
};

struct bpf_prog {
  u32 len = 0;                 // instructions of this function
  std::array<u8, 8> tag{};     // prog->tag (the model: FNV-1a of the opcodes)
  u64 bpf_func = 0;            // simulated JIT image start
  u32 jited_len = 0;           // 8 bytes per instruction
  u32 insn_start = 0;          // first instruction, section coordinates
  bpf_prog_aux* aux = nullptr;
  bpf_linfo_view linfo;        // what linfo/ reads (name, tag, line info)
  std::string ksym;            // "bpf_prog_<tag>_<name>", what %pS prints
  // Owned storage.
  std::unique_ptr<bpf_prog_aux> aux_storage;
  std::shared_ptr<const bpf_object_linfo> object;  // keeps the line info alive
};

// The simulated JIT area: images are laid out from here, 16-byte aligned.
inline constexpr u64 BPF_JIT_BASE = 0xffffffffa0000000ull;
inline constexpr u32 BPF_INSN_SZ = 8;
inline constexpr int MAX_CALL_FRAMES = 8;

inline bool bpf_is_subprog(const bpf_prog* prog) { return prog->aux->func_idx != 0; }
inline bpf_prog* bpf_main_prog(const bpf_prog* prog) { return prog->aux->main_prog_aux->prog; }
bpf_prog* bpf_prog_from_linfo(const bpf_linfo_view* view);

// A main program outside the registry, without line info (tests of the
// stream alone); its streams still need bpf_prog_stream_init.
struct bpf_prog_unregistered : bpf_prog {
  explicit bpf_prog_unregistered(const char* name = "test");
};

// Conveniences over the kernel's aux-taking forms.
inline bpf_stream* bpf_stream_get(int stream_id, bpf_prog* prog) {
  return bpf_stream_get(stream_id, prog->aux);
}
inline int bpf_stream_vprintk(int stream_id, const char* fmt, const void* args, u32 len,
                              bpf_prog* prog) {
  return bpf_stream_vprintk(stream_id, fmt, args, len, prog->aux);
}

// A process's fd table (the model's struct files_struct). An open fd is a
// program or some other file: the syscall tells them apart (a map, a
// non-BPF file: -EINVAL), as the kernel's bpf_prog_get does by f_op.
// kStream: a `next` stream fd (stream/bpf_stream_fd.h).
enum class bpf_fd_kind { kProg, kMap, kOther, kStream };
struct bpf_stream_file;
struct bpf_fd_file {
  bpf_fd_kind kind = bpf_fd_kind::kProg;
  bpf_prog* prog = nullptr;  // kProg only
  bpf_stream_file* stream_file = nullptr;  // kStream only (owned)
  bool open() const {
    return kind == bpf_fd_kind::kProg    ? prog != nullptr
           : kind == bpf_fd_kind::kStream ? stream_file != nullptr
                                          : true;
  }
};
struct bpf_fd_table {
  std::vector<bpf_fd_file> fds;  // index = fd - BPF_FD_BASE; !open() = closed
};
inline constexpr int BPF_FD_BASE = 3;

// Opens an fd of a file that is not a program (a map, /dev/null); returns it.
int bpf_fd_install_file(bpf_fd_table* table, bpf_fd_kind kind);
// Opens an fd for a stream file (the table owns it; close releases it).
int bpf_fd_install_stream(bpf_fd_table* table, bpf_stream_file* file);
// The open fd's file, or nullptr for a negative or closed fd.
bpf_fd_file* bpf_fd_lookup(bpf_fd_table* table, int fd);

// Loads `main_name` of `obj` with the subprograms `subprog_names` (functions
// of .text it calls), installs an fd in `table` and returns it, or
//   -ENOENT  no function of that name in the object;
//   -EINVAL  a "subprogram" that is not in .text, or the main program is;
//   -E2BIG   more than MAX_CALL_FRAMES - 1 subprograms (the model's limit).
// Nothing is registered on error.
int bpf_prog_load(bpf_fd_table* table, std::shared_ptr<const bpf_object_linfo> obj,
                  const std::string& main_name, const std::vector<std::string>& subprog_names);

// A program without line info (tests and scenarios of the stream alone):
// registered, with one fd, and `nr_subprogs` subprograms named
// "<name>_sub<i>" (func[i]), each of `len` instructions. Returns the fd.
int bpf_prog_load_bare(bpf_fd_table* table, const std::string& name, u32 len,
                       int nr_subprogs = 0);

// bpf_prog_get(fd): the program (a new reference), or nullptr with *err
// (when err is given) -EBADF for a negative or closed fd, -EINVAL for an
// open fd that is not a program. Drop it with bpf_prog_put.
bpf_prog* bpf_prog_get(bpf_fd_table* table, int fd, int* err = nullptr);
void bpf_prog_inc(bpf_prog* prog);
// Drops a reference; the last one tears the program down (see above).
void bpf_prog_put(bpf_prog* prog);
// close(fd), a program's or another file's: 0 or -EBADF.
int bpf_prog_close_fd(bpf_fd_table* table, int fd);
// Closes every fd of the table (process exit).
void bpf_fd_table_release(bpf_fd_table* table);

// The registered program with this id (no reference taken), or nullptr.
bpf_prog* bpf_prog_by_id(u32 id);
// The function whose simulated JIT image contains ip, or nullptr.
bpf_prog* bpf_prog_ksym_find(u64 ip);
// Registered programs (main programs).
int bpf_prog_registry_count();

// BPF_PROG_STREAM_READ_BY_FD (kernel/bpf/syscall.c, prog_stream_read): the
// attribute as the syscall copies it in, with the word after prog_fd that
// CHECK_ATTR requires to be zero. The buffer is the model's user memory.
struct bpf_prog_stream_read_attr {
  bpf_user_buf* stream_buf = nullptr;  // nullptr: the user address 0
  u32 stream_buf_len = 0;
  u32 stream_id = 0;
  u32 prog_fd = 0;          // the u32 the kernel reads; -1 is 0xffffffff
  u32 past_last_field = 0;  // any non-zero byte after prog_fd
};
// In the kernel's order: CHECK_ATTR (-EINVAL for a non-zero byte after
// prog_fd), the fd (-EBADF negative/closed, -EINVAL not a program), the
// stream id (-ENOENT), the length (mainline: -EINVAL above INT_MAX), then
// the read (bytes copied, or -EFAULT: bpf_stream_read). A failed check
// changes no state.
int bpf_prog_stream_read_by_fd(bpf_fd_table* table, const bpf_prog_stream_read_attr& attr);
// The same with a kernel buffer of len writable bytes (nullptr: address 0).
int bpf_prog_stream_read_by_fd(bpf_fd_table* table, int fd, int stream_id, char* buf, int len);

// ---- The running CPU -----------------------------------------------------------

// `current` of the CPU's task context: what the stack dump's first line shows.
struct bpf_task {
  int pid = 0;
  u32 euid = 0;
  char comm[16] = "test_progs";
};
// Sets this CPU's task (task context, before it runs programs).
void bpf_set_current_task(int pid, u32 euid, const char* comm);
const bpf_task* bpf_current_task();

struct bpf_run_frame {
  bpf_prog* prog;
  u32 insn;  // the instruction the frame is at (section coordinates)
};

// A BPF frame of this CPU's current context (for the bodies below).
void bpf_prog_set_insn(u32 insn);

namespace stream_internal {
bool bpf_frame_push(bpf_prog* prog, u32 insn);
void bpf_frame_pop();
}  // namespace stream_internal

// Runs body as `prog` (a main program) on this CPU in the current context.
// Returns body's result. MAX_CALL_FRAMES frames at most (a deeper push is a
// WARN and the body does not run: returns -E2BIG).
template <typename Body>
int bpf_prog_run(bpf_prog* prog, Body&& body) {
  if (!stream_internal::bpf_frame_push(prog, prog->insn_start)) return -E2BIG;
  const int ret = body();
  stream_internal::bpf_frame_pop();
  return ret;
}

// The caller (the current frame) calls subprogram `sub` at its instruction
// `call_insn`; body runs as the subprogram.
template <typename Body>
int bpf_call_subprog(u32 call_insn, bpf_prog* sub, Body&& body) {
  bpf_prog_set_insn(call_insn);
  return bpf_prog_run(sub, body);
}

// The kernel runs subprogram `cb` directly (a bpf_timer / bpf_wq callback):
// same as bpf_prog_run; named for what it stands for.
template <typename Body>
int bpf_run_callback(bpf_prog* cb, Body&& body) {
  return bpf_prog_run(cb, body);
}

// The frames of this CPU, innermost first: the current context's stack from
// the top, then the interrupted contexts' below it. Writes at most `max`
// frames and the number of interrupt boundaries crossed before each frame
// (levels[i]: the context level of frames[i]). Returns the count.
int bpf_walk_stack(bpf_run_frame* frames, int* levels, int max);

// bpf_prog_find_from_stack(): the program a report belongs to, from this
// CPU's stack (see bpf_walk_stack). seed: the first main program frame
// (subprogram frames skipped); linux-6.18 and mainline: the first BPF frame
// of any kind, mapped to its main program. nullptr when there is none.
bpf_prog* bpf_prog_find_from_stack();

KMODEL_NAMESPACE_END

#endif  // KMODEL_STREAM_BPF_PROG_H_
