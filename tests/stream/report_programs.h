// tests/stream/report_programs.h: the programs of stream_report_test.bpf.c,
// loaded from the clang-built object, their C++ bodies (the model does not
// execute BPF: a body runs "as" the program and says which instruction it is
// at), and the kernel selftests' expected-text regular expressions.
//
// Header-only and backend-neutral: the native and the simulator tests both
// include it (each links its own build of the stream library).
#ifndef KMODEL_TESTS_STREAM_REPORT_PROGRAMS_H_
#define KMODEL_TESTS_STREAM_REPORT_PROGRAMS_H_

#include <regex.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "linfo/bpf_object.h"
#include "model/atomic.h"
#include "model/clock.h"
#include "stream/bpf_prog.h"
#include "stream/bpf_report.h"
#include "stream/bpf_stream.h"
#include "sync/rqspinlock.h"

namespace report_test {

using namespace kmodel;

inline std::string data_path(const std::string& file) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* ws = std::getenv("TEST_WORKSPACE");
  const std::string rel = "tests/stream/" + file;
  if (srcdir == nullptr || ws == nullptr) return rel;
  return std::string(srcdir) + "/" + ws + "/" + rel;
}

inline constexpr const char* kSourceName = "stream_report_test.bpf.c";

// The object and its source, loaded once.
struct ReportObject {
  std::shared_ptr<const bpf_object_linfo> obj;
  std::vector<std::string> src;

  // 1-based number of the line marked `// MARK:<name>`.
  int mark_line(const std::string& name) const {
    const std::string tag = "// MARK:" + name;
    for (std::size_t i = 0; i < src.size(); i++) {
      const std::size_t at = src[i].find(tag);
      if (at != std::string::npos && at + tag.size() == src[i].size())
        return static_cast<int>(i + 1);
    }
    throw std::runtime_error("no line marked " + name);
  }
  // The source text of that line as the dump prints it (leading blanks cut).
  std::string mark_text(const std::string& name) const {
    const std::string& l = src[static_cast<std::size_t>(mark_line(name) - 1)];
    const std::size_t at = l.find_first_not_of(" \t");
    return at == std::string::npos ? "" : l.substr(at);
  }
  // The first instruction of function `func` whose line info is that line.
  u32 mark_insn(const std::string& func, const std::string& name) const {
    const bpf_object_func* f = obj->find_func(func);
    if (f == nullptr) throw std::runtime_error("no function " + func);
    const int line = mark_line(name);
    for (u32 i = 0; i < f->prog.nr_linfo; i++) {
      const bpf_line_info& li = f->prog.linfo[i];
      if (li.insn_off >= f->insn_start + f->prog.len) break;
      if (static_cast<int>(BPF_LINE_INFO_LINE_NUM(li.line_col)) == line) return li.insn_off;
    }
    throw std::runtime_error("no instruction of " + func + " on line " + name);
  }
};

inline const ReportObject& report_object() {
  static const ReportObject* r = [] {
    auto* ro = new ReportObject();
    auto loaded = bpf_object_load_linfo(data_path("stream_report_test.bpf.o"));
    if (!loaded.ok()) throw std::runtime_error(loaded.status().ToString());
    ro->obj = std::shared_ptr<const bpf_object_linfo>(std::move(*loaded));
    std::ifstream in(data_path(kSourceName));
    for (std::string l; std::getline(in, l);) ro->src.push_back(l);
    if (ro->src.empty()) throw std::runtime_error("no source");
    return ro;
  }();
  return *r;
}

// bpftool prog tracelog: 512-byte reads until 0 or an error.
inline std::string read_all(bpf_fd_table* table, int fd, int stream_id) {
  std::string out;
  char buf[512];
  for (;;) {
    const int n = bpf_prog_stream_read_by_fd(table, fd, stream_id, buf, sizeof(buf));
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

// The seed pushes every line with its NUL: the text without them, and the count.
inline std::string strip_nul(const std::string& s, int* nuls = nullptr) {
  std::string out;
  int n = 0;
  for (char c : s) {
    if (c == '\0') {
      n++;
      continue;
    }
    out += c;
  }
  if (nuls != nullptr) *nuls = n;
  return out;
}

// prog_tests/stream.c: regcomp(REG_EXTENDED | REG_NEWLINE), regexec anywhere.
inline bool match_regex(const std::string& pattern, const std::string& text) {
  regex_t re;
  if (regcomp(&re, pattern.c_str(), REG_EXTENDED | REG_NEWLINE) != 0) return false;
  const int rc = regexec(&re, text.c_str(), 0, nullptr, 0);
  regfree(&re);
  return rc == 0;
}

// The selftests' expected texts (tools/testing/selftests/bpf/prog_tests/stream.c,
// test_stream_errors), rebuilt from the kernel's texts.
inline constexpr const char* kCallTraceRe =
    "CPU: [0-9]+ UID: 0 PID: [0-9]+ Comm: .*\n"
    "Call trace:\n"
    "([a-zA-Z_][a-zA-Z0-9_]*\\+0x[0-9a-fA-F]+/0x[0-9a-fA-F]+\n"
    "|[ \t]+[^\n]+\n)*";
inline std::string deadlock_re() {
  return std::string(
             "ERROR: AA or ABBA deadlock detected for bpf_res_spin_lock\n"
             "Attempted lock   = (0x[0-9a-fA-F]+)\n"
             "Total held locks = 1\n"
             "Held lock\\[ 0\\] = \\1\n") +
         kCallTraceRe;
}
inline std::string may_goto_re() {
  return std::string("ERROR: Timeout detected for may_goto instruction\n") + kCallTraceRe;
}
inline std::string arena_re(bool write) {
  return std::string("ERROR: Arena ") + (write ? "WRITE" : "READ") +
         " access at unmapped address 0x.*\n" + kCallTraceRe;
}

// The two lines of a BPF frame, as dump_stack_cb prints them.
inline std::string bpf_frame_text(const bpf_prog* p, u32 insn, const std::string& mark) {
  char head[256];
  std::snprintf(head, sizeof(head), "%s+0x%x/0x%x\n", p->ksym.c_str(),
                (insn - p->insn_start) * 8, p->jited_len);
  return std::string(head) + "  " + report_object().mark_text(mark) + " @ " + kSourceName + ":" +
         std::to_string(report_object().mark_line(mark)) + "\n";
}

// A loaded program: fd, main program, its functions by name.
struct Loaded {
  bpf_fd_table table;
  int fd = -1;
  bpf_prog* main = nullptr;
  bpf_prog* func(const std::string& name) const {
    for (bpf_prog* f : main->aux->func)
      if (f->aux->name == name) return f;
    throw std::runtime_error("no function " + name);
  }
  ~Loaded() { bpf_fd_table_release(&table); }
};

inline std::unique_ptr<Loaded> load(const std::string& main_name,
                                    const std::vector<std::string>& subs = {}) {
  auto l = std::make_unique<Loaded>();
  l->fd = bpf_prog_load(&l->table, report_object().obj, main_name, subs);
  if (l->fd < 0) throw std::runtime_error("bpf_prog_load " + main_name + " failed");
  l->main = bpf_prog_get(&l->table, l->fd);
  bpf_prog_put(l->main);  // the fd keeps it
  return l;
}

// ---- The program bodies --------------------------------------------------------------

// deadlock -> take_twice: the second bpf_res_spin_lock of the same lock (AA);
// with irqsave, the _irqsave kfuncs.
inline int run_deadlock(const Loaded& l, struct bpf_res_spin_lock* lock, bool irqsave = false) {
  const ReportObject& o = report_object();
  bpf_prog* sub = l.func("take_twice");
  return bpf_prog_run(l.main, [&] {
    return bpf_call_subprog(o.mark_insn("deadlock", "deadlock_call"), sub, [&] {
      unsigned long f1 = 0, f2 = 0;
      bpf_prog_set_insn(o.mark_insn("take_twice", "first_lock"));
      if (irqsave ? bpf_res_spin_lock_irqsave(lock, &f1) : bpf_res_spin_lock(lock)) return 1;
      bpf_prog_set_insn(o.mark_insn("take_twice", "second_lock"));
      const int ret = irqsave ? bpf_res_spin_lock_irqsave(lock, &f2) : bpf_res_spin_lock(lock);
      if (!ret) {
        if (irqsave) bpf_res_spin_unlock_irqrestore(lock, &f2);
        else bpf_res_spin_unlock(lock);
      }
      if (irqsave) bpf_res_spin_unlock_irqrestore(lock, &f1);
      else bpf_res_spin_unlock(lock);
      return ret;
    });
  });
}

// cond_break: a loop bounded only by the timed may_goto. Returns the
// iterations it ran; *ns the time it took.
inline long run_cond_break(const Loaded& l, u64* ns) {
  long iterations = 0;
  const u64 start = ktime_get_mono_fast_ns();
  bpf_prog_run(l.main, [&] {
    bpf_prog_set_insn(report_object().mark_insn("cond_break", "loop"));
    bpf_timed_may_goto slot;
    while (!bpf_may_goto(&slot)) {
      iterations++;
      cpu_relax();
    }
    return 0;
  });
  *ns = ktime_get_mono_fast_ns() - start;
  return iterations;
}

// arena_fault: a store to `woff`, then a load from `roff`.
inline int run_arena_fault(const Loaded& l, bpf_arena* arena, u32 woff, u32 roff) {
  const ReportObject& o = report_object();
  u8 v = 0xff;
  return bpf_prog_run(l.main, [&] {
    bpf_prog_set_insn(o.mark_insn("arena_fault", "arena_write"));
    int ret = bpf_arena_store(arena, woff, 1);
    bpf_prog_set_insn(o.mark_insn("arena_fault", "arena_read"));
    ret |= bpf_arena_load(arena, roff, &v);
    return ret;
  });
}

}  // namespace report_test

#endif  // KMODEL_TESTS_STREAM_REPORT_PROGRAMS_H_
