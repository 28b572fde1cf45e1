// stream/bpf_report.cc: see bpf_report.h.
#include "stream/bpf_report.h"

#include "linfo/dump_stack.h"
#include "model/atomic.h"
#include "model/clock.h"
#include "model/cpu.h"
#include "model/page_alloc.h"
#include "model/profile.h"
#include "sync/rqspinlock_report.h"

KMODEL_NAMESPACE_BEGIN

bool bpf_prog_stream_error_limit(bpf_prog* prog) {
  if (current_profile() != Profile::kSeed) return false;
  return atomic_fetch_add(1, &prog->aux->main_prog_aux->stream_error_cnt) >=
         BPF_PROG_STREAM_ERROR_CNT;
}

namespace {

constexpr int kLevels = 4;

// The kernel frames a context's program runs under (innermost first): how
// the CPU got from the interrupted context (or from user space) to the
// program. Offsets and sizes are the model's, in the %pS format.
constexpr bpf_ksym kTaskEntry[] = {
    {"bpf_prog_test_run_syscall", 0x102, 0x240}, {"__sys_bpf", 0xd68, 0x2bf0},
    {"__x64_sys_bpf", 0x1e, 0x30},               {"do_syscall_64", 0x68, 0x140},
    {"entry_SYSCALL_64_after_hwframe", 0x76, 0x7e},
};
constexpr bpf_ksym kSoftirqEntry[] = {
    {"bpf_timer_cb", 0x7a, 0x180}, {"__hrtimer_run_queues", 0x112, 0x2a0},
    {"handle_softirqs", 0xd4, 0x2f0}, {"__irq_exit_rcu", 0x9a, 0xc0},
};
constexpr bpf_ksym kHardirqEntry[] = {
    {"bpf_timer_cb", 0x7a, 0x180}, {"__hrtimer_run_queues", 0x112, 0x2a0},
    {"hrtimer_interrupt", 0xfe, 0x230}, {"__sysvec_apic_timer_interrupt", 0x55, 0x120},
    {"sysvec_apic_timer_interrupt", 0x6c, 0x90}, {"asm_sysvec_apic_timer_interrupt", 0x1a, 0x20},
};
constexpr bpf_ksym kNmiEntry[] = {
    {"bpf_overflow_handler", 0xd0, 0x1a0}, {"__perf_event_overflow", 0x10b, 0x4a0},
    {"perf_event_nmi_handler", 0x2a, 0x50}, {"nmi_handle", 0x5e, 0x170},
    {"default_do_nmi", 0x45, 0x140}, {"exc_nmi", 0x124, 0x1b0}, {"asm_exc_nmi", 0x9b, 0xbf},
};

struct LevelEntry {
  const bpf_ksym* syms;
  int n;
};
constexpr LevelEntry kEntry[kLevels] = {
    {kTaskEntry, 5}, {kSoftirqEntry, 4}, {kHardirqEntry, 6}, {kNmiEntry, 7}};

struct dump_stack_ctx {
  bpf_stream_stage* ss;
  int err;
};

struct frame_arg {
  const char* sym;
  u64 off;
  u64 size;
  const bpf_linfo_view* prog;
  u32 insn;
};

int format_frame(char* buf, std::size_t size, const void* arg) {
  const auto* f = static_cast<const frame_arg*>(arg);
  return dump_stack_frame_snprint(buf, size, f->sym, f->off, f->size, nullptr, f->prog, f->insn);
}

int format_task(char* buf, std::size_t size, const void*) {
  const bpf_task* task = bpf_current_task();
  return dump_stack_task_snprint(buf, size, smp_processor_id(), task->euid, task->pid, task->comm);
}

// dump_stack_cb: one frame, one element (a BPF frame's source line is part
// of it: the kernel's single "%pS\n  %s @ %s:%d\n"); false stops the walk.
bool dump_stack_cb(dump_stack_ctx* ctx, const char* sym, u64 off, u64 size,
                   const bpf_linfo_view* prog, u32 insn) {
  const frame_arg arg = {sym, off, size, prog, insn};
  ctx->err = stream_internal::bpf_stream_stage_print_with(ctx->ss, format_frame, &arg);
  return ctx->err == 0;
}

}  // namespace

int bpf_stream_stage_dump_stack(bpf_stream_stage* ss, const bpf_ksym* path, int npath) {
  int ret = stream_internal::bpf_stream_stage_print_with(ss, format_task, nullptr);
  if (ret) return ret;
  ret = bpf_stream_stage_printk(ss, "Call trace:\n");
  if (ret) return ret;

  dump_stack_ctx ctx = {ss, 0};
  bool more = true;
  for (int i = 0; i < npath && more; i++)
    more = dump_stack_cb(&ctx, path[i].name, path[i].off, path[i].size, nullptr, 0);
  bpf_run_frame frames[kLevels * MAX_CALL_FRAMES];
  int levels[kLevels * MAX_CALL_FRAMES];
  const int n = bpf_walk_stack(frames, levels, kLevels * MAX_CALL_FRAMES);
  for (int i = 0; i < n && more; i++) {
    const bpf_run_frame& f = frames[i];
    bpf_prog* p = f.prog;
    more = dump_stack_cb(&ctx, p->ksym.c_str(), u64{f.insn - p->insn_start} * BPF_INSN_SZ,
                         p->jited_len, &p->linfo, f.insn);
    // Leaving a context: the kernel frames that entered it.
    const bool last_of_level = i + 1 == n || levels[i + 1] != levels[i];
    if (last_of_level) {
      const LevelEntry& e = kEntry[levels[i]];
      for (int k = 0; k < e.n && more; k++)
        more = dump_stack_cb(&ctx, e.syms[k].name, e.syms[k].off, e.syms[k].size, nullptr, 0);
    }
  }
  if (ctx.err) return ctx.err;
  return bpf_stream_stage_printk(ss, "\n");
}

int bpf_stream_print_stack(int stream_id, bpf_prog_aux* aux) {
  if (!has_mainline_fixes()) return -EOPNOTSUPP;
  if (bpf_stream_get(stream_id, aux) == nullptr) return -ENOENT;
  bpf_prog* prog = aux->main_prog_aux->prog;
  static constexpr bpf_ksym kPath[] = {{"bpf_stream_stage_dump_stack", 0x6c, 0x150},
                                       {"bpf_stream_print_stack", 0x4f, 0x90}};
  bpf_stream_stage ss;
  bpf_stream_stage(ss, prog, stream_id, bpf_stream_stage_dump_stack(&ss, kPath, 2));
  return 0;
}

// ---- rqspinlock ------------------------------------------------------------------

namespace {

// The real path behind sync/'s report hook (sync/ sits below stream/ and
// cannot stage): installed when this library is linked.
class StreamRqspinlockReport : public RqspinlockReportSink {
 public:
  void report(const RqspinlockViolation& v) override {
    bpf_prog* prog = bpf_prog_find_from_stack();
    if (prog == nullptr) return;
    if (bpf_prog_stream_error_limit(prog)) return;
    static constexpr bpf_ksym kPath[] = {
        {"bpf_stream_stage_dump_stack", 0x6c, 0x150},
        {"bpf_prog_report_rqspinlock_violation", 0x98, 0x1a0},
    };
    const bpf_ksym kfunc = v.irqsave ? bpf_ksym{"bpf_res_spin_lock_irqsave", 0x9f, 0xd0}
                                     : bpf_ksym{"bpf_res_spin_lock", 0x8c, 0xa0};
    const bpf_ksym path[] = {kPath[0], kPath[1], kfunc};
    bpf_stream_stage ss;
    bpf_stream_stage(ss, prog, BPF_STDERR, ({
                       char line[96];
                       const int nr = rqspinlock_report_nr_lines(v);
                       for (int i = 0; i < nr; i++) {
                         rqspinlock_report_format_line(v, i, line, sizeof(line));
                         bpf_stream_printk(ss, "%s", line);
                       }
                       bpf_stream_stage_dump_stack(&ss, path, 3);
                     }));
  }
};

StreamRqspinlockReport g_rqspinlock_report;
[[maybe_unused]] RqspinlockReportSink* const kInstalled =
    set_rqspinlock_report_sink(&g_rqspinlock_report);

}  // namespace

// ---- may_goto --------------------------------------------------------------------

void bpf_prog_report_may_goto_violation() {
  bpf_prog* prog = bpf_prog_find_from_stack();
  if (prog == nullptr) return;
  if (bpf_prog_stream_error_limit(prog)) return;
  static constexpr bpf_ksym kPath[] = {
      {"bpf_stream_stage_dump_stack", 0x6c, 0x150},
      {"bpf_prog_report_may_goto_violation", 0x6e, 0xb0},
      {"bpf_check_timed_may_goto", 0x49, 0x60},
      {"arch_bpf_timed_may_goto", 0x21, 0x44},
  };
  bpf_stream_stage ss;
  bpf_stream_stage(ss, prog, BPF_STDERR, ({
                     bpf_stream_printk(ss, "ERROR: Timeout detected for may_goto instruction\n");
                     bpf_stream_stage_dump_stack(&ss, kPath, 4);
                   }));
}

u64 bpf_check_timed_may_goto(bpf_timed_may_goto* p) {
  const u64 time = ktime_get_mono_fast_ns();
  if (!p->timestamp) {
    p->timestamp = time;
    return BPF_MAX_TIMED_LOOPS;
  }
  if (time - p->timestamp >= NSEC_PER_SEC / 4) {
    bpf_prog_report_may_goto_violation();
    return 0;
  }
  return BPF_MAX_TIMED_LOOPS;
}

bool bpf_may_goto(bpf_timed_may_goto* p) {
  if (p->count == 0) return true;
  if (--p->count == 0) p->count = bpf_check_timed_may_goto(p);
  return false;
}

// ---- arena -------------------------------------------------------------------------

void bpf_arena_init(bpf_arena* arena, u32 nr_pages) {
  arena->mapped.assign(nr_pages, false);
  arena->mem.assign(std::size_t{nr_pages} * PAGE_SIZE, 0);
}

void bpf_arena_map_page(bpf_arena* arena, u32 pgoff) {
  if (pgoff < arena->mapped.size()) arena->mapped[pgoff] = true;
}

namespace {

bool arena_mapped(const bpf_arena* arena, u32 off) {
  const std::size_t pg = off >> PAGE_SHIFT;
  return pg < arena->mapped.size() && arena->mapped[pg];
}

constexpr u64 clear_lo32(u64 x) { return x & ~u64{0xffffffff}; }

}  // namespace

int bpf_arena_load(bpf_arena* arena, u32 off, u8* val) {
  if (arena_mapped(arena, off)) {
    *val = arena->mem[off];
    return 0;
  }
  *val = 0;  // ex_handler_bpf: the destination register is zeroed
  bpf_prog_report_arena_violation(false, off);
  return -EFAULT;
}

int bpf_arena_store(bpf_arena* arena, u32 off, u8 val) {
  if (arena_mapped(arena, off)) {
    arena->mem[off] = val;
    return 0;
  }
  bpf_prog_report_arena_violation(true, off);
  return -EFAULT;
}

void bpf_prog_report_arena_violation(bool write, u32 off) {
  bpf_prog* prog = bpf_prog_find_from_stack();
  if (prog == nullptr) return;
  prog = bpf_main_prog(prog);  // "Use main prog for stream access"
  if (bpf_prog_stream_error_limit(prog)) return;
  u64 addr = off;
  if (current_profile() != Profile::kSeed && prog->aux->arena != nullptr)
    addr += clear_lo32(prog->aux->arena->user_vm_start);
  static constexpr bpf_ksym kPath[] = {
      {"bpf_stream_stage_dump_stack", 0x6c, 0x150},
      {"bpf_prog_report_arena_violation", 0x98, 0xf0},
      {"ex_handler_bpf", 0x4a, 0xa0},
      {"fixup_exception", 0xde, 0x310},
      {"kernelmode_fixup_or_oops", 0x2f, 0x70},
      {"exc_page_fault", 0xdd, 0x1d0},
      {"asm_exc_page_fault", 0x26, 0x30},
  };
  bpf_stream_stage ss;
  bpf_stream_stage(ss, prog, BPF_STDERR, ({
                     bpf_stream_printk(ss, "ERROR: Arena %s access at unmapped address 0x%lx\n",
                                       write ? "WRITE" : "READ", static_cast<unsigned long>(addr));
                     bpf_stream_stage_dump_stack(&ss, kPath, 7);
                   }));
}

KMODEL_NAMESPACE_END
