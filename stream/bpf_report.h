// stream/bpf_report.h: the kernel's error reports into a program's stderr
// stream: rqspinlock deadlock/timeout, may_goto timeout, arena fault, the
// stack dump that ends each of them, and the bpf_stream_print_stack kfunc.
//
// Mirrors: kernel/bpf/stream.c (bpf_stream_stage_dump_stack, dump_stack_cb,
// bpf_stream_print_stack, the seed's bpf_prog_stream_error_limit),
// kernel/bpf/rqspinlock.c (bpf_prog_report_rqspinlock_violation),
// kernel/bpf/core.c (bpf_check_timed_may_goto,
// bpf_prog_report_may_goto_violation), kernel/bpf/arena.c
// (bpf_prog_report_arena_violation), Linux 6.18, with the seed and mainline
// differences below. docs/stream.md has the story.
//
// Contract
//   Every report runs on the CPU and in the context where the kernel writes
//   it (NMI included): it finds its program on this CPU's stack
//   (bpf_prog_find_from_stack, stream/bpf_prog.h; no program: no report),
//   stages its lines and the stack dump (bpf_stream_stage), and commits
//   them to that program's BPF_STDERR as one unit: a reader sees the whole
//   report or nothing. Nothing here locks or allocates from the host.
//   Texts, exactly (the stack dump's in linfo/dump_stack.h):
//     ERROR: AA or ABBA deadlock detected for bpf_res_spin_lock[_irqsave]
//     ERROR: Timeout detected for bpf_res_spin_lock[_irqsave]
//       + Attempted lock / Total held locks / Held lock[%2d] lines
//     ERROR: Timeout detected for may_goto instruction
//     ERROR: Arena READ|WRITE access at unmapped address 0x<addr>
//   The stack dump is staged line by line (CPU/UID/PID/Comm, "Call trace:",
//   one element per frame, a BPF frame's source line in the same element,
//   the closing empty line) and stops at the first line that fails.
//
// Profiles
//                    seed                 linux-6.18           mainline
//   report cap       512 per program      none                 none
//                    (stream_error_cnt, counted before staging)
//   program search   first main program   first BPF frame, mapped to its main program
//   arena address    the 32-bit offset    clear_lo32(user_vm_start) + offset
//   print_stack      -EOPNOTSUPP          -EOPNOTSUPP          yes (-ENOENT bad id)
//                    (the kfunc does not exist: a program calling it would not load)
#ifndef KMODEL_STREAM_BPF_REPORT_H_
#define KMODEL_STREAM_BPF_REPORT_H_

#include <vector>

#include "model/types.h"
#include "stream/bpf_prog.h"
#include "stream/bpf_stream.h"

KMODEL_NAMESPACE_BEGIN

// The seed's BPF_PROG_STREAM_ERROR_CNT.
inline constexpr int BPF_PROG_STREAM_ERROR_CNT = 512;

// Seed only: true when the program already had its 512 kernel reports (the
// counter is incremented by every call, as the series' atomic_fetch_add).
// Always false under the other profiles.
bool bpf_prog_stream_error_limit(bpf_prog* prog);

// A kernel function on the report path, as %pS prints it.
struct bpf_ksym {
  const char* name;
  u64 off;
  u64 size;
};

// Stages the stack dump: this CPU's task line, "Call trace:", the report
// path's kernel frames `path` (innermost first), the BPF and kernel frames
// of this CPU's stack (every context from the current one down to task),
// and the empty line. Returns 0 or the first failing line's errno.
int bpf_stream_stage_dump_stack(bpf_stream_stage* ss, const bpf_ksym* path, int npath);

// The kfunc (mainline): stage a stack dump of the calling program into its
// stream `stream_id`. -ENOENT for a bad id; -EOPNOTSUPP under seed and
// linux-6.18; else 0 (the commit's result is not returned, as the kernel).
int bpf_stream_print_stack(int stream_id, bpf_prog_aux* aux);

// ---- may_goto --------------------------------------------------------------------

// The stack slot of a timed may_goto (count, then the timestamp of the
// current slice). A program starts with count BPF_MAX_TIMED_LOOPS and no
// timestamp.
inline constexpr u64 BPF_MAX_TIMED_LOOPS = 0xffff;
struct bpf_timed_may_goto {
  u64 count = BPF_MAX_TIMED_LOOPS;
  u64 timestamp = 0;
};

// kernel/bpf/core.c: called when the count ran out. Starts the time slice
// (returns BPF_MAX_TIMED_LOOPS), or after 250 ms (NSEC_PER_SEC / 4) of it
// reports the timeout and returns 0; otherwise refills.
u64 bpf_check_timed_may_goto(bpf_timed_may_goto* p);

// The may_goto instruction as the JIT emits it: true when it jumps (the loop
// ends: count was already 0); otherwise decrements, calls
// bpf_check_timed_may_goto when the count reaches 0, stores the result and
// falls through (the loop body runs once more).
bool bpf_may_goto(bpf_timed_may_goto* p);

void bpf_prog_report_may_goto_violation();

// ---- arena -------------------------------------------------------------------------

// The part of struct bpf_arena the fault report reads, and a page table:
// which of its pages are mapped. Accessed by offset (the program's 32-bit
// arena pointer).
struct bpf_arena {
  u64 user_vm_start = 0x7f1200000000ull;  // the user mapping (mmap of the map)
  u64 kern_vm_start = 0xffffc90000000000ull;
  std::vector<bool> mapped;  // per page of the arena
  std::vector<u8> mem;       // backing store of mapped pages
};

void bpf_arena_init(bpf_arena* arena, u32 nr_pages);
void bpf_arena_map_page(bpf_arena* arena, u32 pgoff);

// A BPF load / store through an arena pointer `off` by the running program.
// A mapped page: the access happens (returns 0). An unmapped one faults: the
// JIT's exception handler skips the access (a load gives 0), the fault is
// reported, and -EFAULT is returned.
int bpf_arena_load(bpf_arena* arena, u32 off, u8* val);
int bpf_arena_store(bpf_arena* arena, u32 off, u8 val);

// The report (arena.c): the faulting program's main program gets it.
void bpf_prog_report_arena_violation(bool write, u32 off);

KMODEL_NAMESPACE_END

#endif  // KMODEL_STREAM_BPF_REPORT_H_
