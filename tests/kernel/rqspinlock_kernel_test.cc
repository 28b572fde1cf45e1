// The running kernel's rqspinlock against the model's, through the BPF kfuncs.
//
// What it proves: for the same sequence of bpf_res_spin_lock[_irqsave] calls
// (lock/unlock; AA through two pointers to one lock; the same with _irqsave;
// AA below another held lock), the model under the profile that matches this
// machine's kernel (linux-6.18) returns the codes the kernel returns, and
// the report it hands to its RqspinlockReportSink, formatted with
// rqspinlock_report_format_line(), is the text the kernel stages on the
// program's stderr stream, up to what legitimately differs (lock addresses,
// and the CPU/PID/comm line and call trace that only a stream can dump).
//
// Why: every other rqspinlock test checks the model against our reading of
// kernel/bpf/rqspinlock.c. This one asks the kernel itself, so a misreading
// (an AA the kernel does not catch, an error code, a word of the report)
// fails here. Mainline's codes are printed for information only: no kernel
// here runs it.
//
// How: tests/kernel/rqspinlock_kernel.bpf.c holds one SEC("syscall")
// program per case; each runs once with BPF_PROG_TEST_RUN and leaves its
// kfunc return codes in .data. The stderr stream is read with the raw bpf(2)
// command BPF_PROG_STREAM_READ_BY_FD (libbpf 1.1 has no wrapper).
//
// Skips (printed as "SKIPPED: ..." on stderr, in the JUnit system-out and as
// a Catch2 WARN; the test case then passes): no /sys/kernel/btf/vmlinux; no
// privilege (bpf() EPERM, e.g. as non-root or in a user namespace); a kernel
// without the kfuncs (libbpf's log is printed); for the text only, a kernel
// without streams or one whose stream writes fail with -ENOMEM. Anything
// else that goes wrong fails, naming the step.
#include <catch2/catch.hpp>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <sstream>
#include <string>

#include "model/machine_state.h"
#include "model/native/cpu_binding.h"
#include "sync/rqspinlock.h"
#include "tests/kernel/bpf_test_support.h"

namespace {

using kmodel::Profile;

using kernel_test::errno_text;
using kernel_test::skip;

// ---- The kernel side ----------------------------------------------------------

// What the lock calls of one case returned, in call order (the BPF
// program's .data). kNotCalled is no kfunc's return value.
constexpr int kNotCalled = 1;
struct Rets {
  int ret[3] = {kNotCalled, kNotCalled, kNotCalled};
};

std::string describe(const Rets& r) {
  std::ostringstream out;
  out << "{" << r.ret[0] << ", " << r.ret[1] << ", " << r.ret[2] << "}";
  return out.str();
}

// A loaded BPF object. `skip` or `error` is set when loading did not work.
struct BpfObject {
  bpf_object* obj = nullptr;
  std::string skip;
  std::string error;

  BpfObject() = default;
  BpfObject(const BpfObject&) = delete;
  BpfObject& operator=(const BpfObject&) = delete;
  ~BpfObject() { bpf_object__close(obj); }
};

void open_and_load(BpfObject& o, const std::string& path, const char* kfunc) {
  if (o.skip = kernel_test::kernel_unavailable(); !o.skip.empty()) return;
  kernel_test::clear_libbpf_log();
  o.obj = bpf_object__open_file(path.c_str(), nullptr);
  if (o.obj == nullptr) {
    o.error = "open " + path + ": " + errno_text(errno) + "\n" + kernel_test::libbpf_log();
    return;
  }
  const int err = bpf_object__load(o.obj);
  if (err == 0) return;
  const std::string what =
      "load " + path + ": " + errno_text(err) + "\nlibbpf log:\n" + kernel_test::libbpf_log();
  o.skip = kernel_test::load_skip_reason(err, what, kfunc);
  if (o.skip.empty()) o.error = what;
}

// The cases' programs, loaded once for the whole binary.
BpfObject& rqspinlock_progs() {
  static BpfObject o;
  static bool loaded = false;
  if (!loaded) {
    loaded = true;
    open_and_load(o, kernel_test::data_path("RQSPINLOCK_KERNEL_BPF_OBJ", "rqspinlock_kernel.bpf.o"),
                  "bpf_res_spin_lock");
  }
  return o;
}

int prog_fd(bpf_object* obj, const char* name) {
  bpf_program* prog = bpf_object__find_program_by_name(obj, name);
  return prog == nullptr ? -1 : bpf_program__fd(prog);
}

using kernel_test::test_run;

// Runs case `name` in the kernel and reads back its return codes.
Rets run_kernel_case(bpf_object* obj, const char* name, std::string* error) {
  Rets r;
  const int fd = prog_fd(obj, name);
  if (fd < 0) {
    *error = std::string("no program ") + name + " in the object";
    return r;
  }
  if (const int retval = test_run(fd, name, error); error->empty() && retval != 0)
    *error = std::string(name) + ": bpf_map_lookup_elem failed in the program";
  if (!error->empty()) return r;
  bpf_map* data = bpf_object__find_map_by_name(obj, ".data");
  const int key = 0;
  if (data == nullptr || bpf_map__lookup_elem(data, &key, sizeof(key), r.ret, sizeof(r.ret), 0))
    *error = std::string("reading .data after ") + name + ": " + errno_text(errno);
  return r;
}

// ---- Streams: BPF_PROG_STREAM_READ_BY_FD (include/uapi/linux/bpf.h, 6.17+) ----

constexpr unsigned BPF_STREAM_STDERR = 2;

// Drains a program's stderr stream. Returns -errno of the first failed read.
int read_stderr_stream(int fd, std::string* out) {
  char buf[4096];
  for (;;) {
    const long n = kernel_test::prog_stream_read(fd, BPF_STREAM_STDERR, buf, sizeof(buf));
    if (n < 0) return static_cast<int>(n);
    if (n == 0) return 0;
    out->append(buf, static_cast<std::size_t>(n));
  }
}

// When an AA left the stderr stream empty: can this kernel write to a stream
// at all? Returns why not when it cannot (the text cannot be compared: skip),
// else "". An unexpected answer of the probe goes to *error (a failure).
// Loads stream_probe.bpf.c built for the kfunc name the kernel's BTF has.
std::string stream_write_failure(std::string* error) {
  const char* kfunc = kernel_test::stream_vprintk_kfunc(error);
  if (!error->empty()) return "";
  if (kfunc == nullptr) return "the kernel has no bpf_stream_vprintk kfunc (no BPF streams)";
  const std::string file = std::string("stream_probe_") + kfunc + ".bpf.o";
  BpfObject probe;
  open_and_load(probe, kernel_test::data_path("STREAM_PROBE_BPF_OBJ", file.c_str()), kfunc);
  *error = probe.skip + probe.error;  // loading worked for the cases: must work here
  if (!error->empty()) return "";
  const int ret = test_run(prog_fd(probe.obj, "stream_probe"), "stream_probe", error);
  if (!error->empty()) return "";
  if (ret == -ENOMEM)
    return std::string(kfunc) +
           "() fails with -ENOMEM: this kernel cannot allocate stream elements "
           "(alloc_pages_nolock() returns NULL while deferred struct-page init is "
           "pending, e.g. with deferred_init=lazy on the command line), so it drops "
           "every report";
  if (ret != 0)
    *error = std::string("stream probe: ") + kfunc + "() returned " + std::to_string(ret);
  return "";
}

// ---- The model side: the same calls as the BPF programs ------------------------

struct ModelLocks {
  struct kmodel::bpf_res_spin_lock a{};  // array element 0
  struct kmodel::bpf_res_spin_lock b{};  // array element 1
};

Rets model_lock_unlock(ModelLocks& l) {
  Rets r;
  if ((r.ret[0] = kmodel::bpf_res_spin_lock(&l.a))) return r;
  kmodel::bpf_res_spin_unlock(&l.a);
  return r;
}

Rets model_aa(ModelLocks& l) {
  Rets r;
  if ((r.ret[0] = kmodel::bpf_res_spin_lock(&l.a))) return r;
  if (!(r.ret[1] = kmodel::bpf_res_spin_lock(&l.a))) kmodel::bpf_res_spin_unlock(&l.a);
  kmodel::bpf_res_spin_unlock(&l.a);
  return r;
}

Rets model_aa_irqsave(ModelLocks& l) {
  Rets r;
  unsigned long f1 = 0, f2 = 0;
  if ((r.ret[0] = kmodel::bpf_res_spin_lock_irqsave(&l.a, &f1))) return r;
  if (!(r.ret[1] = kmodel::bpf_res_spin_lock_irqsave(&l.a, &f2)))
    kmodel::bpf_res_spin_unlock_irqrestore(&l.a, &f2);
  kmodel::bpf_res_spin_unlock_irqrestore(&l.a, &f1);
  return r;
}

Rets model_aa_under_b(ModelLocks& l) {
  Rets r;
  if ((r.ret[0] = kmodel::bpf_res_spin_lock(&l.a))) return r;
  if ((r.ret[1] = kmodel::bpf_res_spin_lock(&l.b))) {
    kmodel::bpf_res_spin_unlock(&l.a);
    return r;
  }
  if (!(r.ret[2] = kmodel::bpf_res_spin_lock(&l.a))) kmodel::bpf_res_spin_unlock(&l.a);
  kmodel::bpf_res_spin_unlock(&l.b);
  kmodel::bpf_res_spin_unlock(&l.a);
  return r;
}

struct Case {
  const char* prog;  // the SEC("syscall") program of rqspinlock_kernel.bpf.c
  Rets (*model)(ModelLocks&);
};

constexpr Case kCases[] = {
    {"lock_unlock", model_lock_unlock},
    {"aa", model_aa},
    {"aa_irqsave", model_aa_irqsave},
    {"aa_under_b", model_aa_under_b},
};

// The model's reports as the stream module will stage them. NMI-safe like a
// real sink: formats into a fixed buffer, no allocation.
class TextSink : public kmodel::RqspinlockReportSink {
 public:
  void report(const kmodel::RqspinlockViolation& v) override {
    for (int i = 0; i < kmodel::rqspinlock_report_nr_lines(v); i++) {
      const std::size_t room = sizeof(buf_) - len_;
      const int n = kmodel::rqspinlock_report_format_line(v, i, buf_ + len_, room);
      if (n < 0) return;
      len_ += std::min<std::size_t>(static_cast<std::size_t>(n), room - 1);
    }
  }
  std::string text() const { return std::string(buf_, len_); }

 private:
  char buf_[8192] = {};
  std::size_t len_ = 0;
};

// Runs one case on model CPU 0 under `profile`; the reports go to *text.
Rets run_model_case(const Case& c, Profile profile, std::string* text) {
  kmodel::reset_machine_state();
  // The native default cadence (a clock sample at every cpu_relax() yield,
  // see sync/rqspinlock.h) keeps the kernel's timing on a loaded machine.
  kmodel::native::CpuBinding cpu(0);
  kmodel::ScopedProfile scoped(profile);
  TextSink sink;
  kmodel::RqspinlockReportSink* saved = kmodel::set_rqspinlock_report_sink(&sink);
  ModelLocks locks;
  const Rets r = c.model(locks);
  kmodel::set_rqspinlock_report_sink(saved);
  *text = sink.text();
  return r;
}

// ---- Comparing report texts ---------------------------------------------------

// Drops what only the kernel's stream produces: each report's stack dump,
// from "CPU: <n> UID: <n> PID: <n> Comm: <comm>" through the empty line that
// ends the report. The model's lines stop where the dump begins.
std::string drop_stack_dumps(const std::string& text) {
  std::istringstream in(text);
  std::string line, out;
  bool in_dump = false;
  while (std::getline(in, line)) {
    if (line.rfind("CPU: ", 0) == 0) in_dump = true;
    if (!in_dump) out += line + "\n";
    if (in_dump && line.empty()) in_dump = false;
  }
  return out;
}

// Replaces each "0x" + 16 hex digits (the kernel's %px) by "<lockN>", N
// numbered by first appearance: addresses differ, which lock is which must not.
std::string name_addresses(const std::string& text) {
  std::map<std::string, int> names;
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    const bool addr = text.compare(i, 2, "0x") == 0 && i + 18 <= text.size() &&
                      std::all_of(text.begin() + i + 2, text.begin() + i + 18, [](char ch) {
                        return std::isxdigit(static_cast<unsigned char>(ch));
                      });
    if (!addr) {
      out += text[i++];
      continue;
    }
    const std::string a = text.substr(i, 18);
    const auto it = names.emplace(a, static_cast<int>(names.size())).first;
    out += "<lock" + std::to_string(it->second) + ">";
    i += 18;
  }
  return out;
}

std::string normalise(const std::string& text) { return name_addresses(drop_stack_dumps(text)); }

}  // namespace

TEST_CASE("the normaliser reduces the kernel's documented report to the model's lines") {
  // The sample of the BPF streams series' cover letter (kernel address,
  // stack dump with BPF line info), and what the model formats for it.
  const std::string kernel =
      "ERROR: AA or ABBA deadlock detected for bpf_res_spin_lock\n"
      "Attempted lock   = 0xff11000108f3a5e0\n"
      "Total held locks = 1\n"
      "Held lock[ 0] = 0xff11000108f3a5e0\n"
      "CPU: 48 UID: 0 PID: 786 Comm: test_progs\n"
      "Call trace:\n"
      "bpf_stream_stage_dump_stack+0xb0/0xd0\n"
      "bpf_prog_report_rqspinlock_violation+0x10b/0x130\n"
      "bpf_res_spin_lock+0x8c/0xa0\n"
      "bpf_prog_3699ea119d1f6ed8_foo+0xe5/0x140\n"
      "  if (!bpf_res_spin_lock(&v2->lock)) @ stream_bpftool.c:62\n"
      "entry_SYSCALL_64_after_hwframe+0x76/0x7e\n"
      "\n";
  kmodel::RqspinlockViolation v;
  v.ret = -EDEADLK;
  int lock = 0;
  v.lock = &lock;
  v.held_cnt = 1;
  v.held[0] = &lock;
  CHECK(normalise(kernel) == normalise(kmodel::rqspinlock_report_text(v)));
  CHECK(normalise(kernel) ==
        "ERROR: AA or ABBA deadlock detected for bpf_res_spin_lock\n"
        "Attempted lock   = <lock0>\n"
        "Total held locks = 1\n"
        "Held lock[ 0] = <lock0>\n");
}

TEST_CASE("the kernel's bpf_res_spin_lock return codes are the model's (linux-6.18)") {
  BpfObject& progs = rqspinlock_progs();
  if (!progs.skip.empty()) return skip(progs.skip);
  REQUIRE(progs.error == "");
  for (const Case& c : kCases) {
    INFO("case " << c.prog);
    std::string error, text;
    const Rets kernel = run_kernel_case(progs.obj, c.prog, &error);
    REQUIRE(error == "");
    const Rets model = run_model_case(c, Profile::kLinux618, &text);
    const Rets mainline = run_model_case(c, Profile::kMainline, &text);
    std::printf("%-12s kernel %s  model linux-6.18 %s  (mainline %s)\n", c.prog,
                describe(kernel).c_str(), describe(model).c_str(), describe(mainline).c_str());
    CHECK(describe(model) == describe(kernel));
  }
}

TEST_CASE("the kernel's stderr report of a failed lock is the model's text") {
  BpfObject& progs = rqspinlock_progs();
  if (!progs.skip.empty()) return skip(progs.skip);
  REQUIRE(progs.error == "");
  std::string why_not;  // set once the kernel is known to drop its reports
  for (const Case& c : kCases) {
    INFO("case " << c.prog);
    std::string error, kernel_text, model_text;
    run_kernel_case(progs.obj, c.prog, &error);
    REQUIRE(error == "");
    const int err = read_stderr_stream(prog_fd(progs.obj, c.prog), &kernel_text);
    if (err == -EINVAL)
      return skip("the kernel has no BPF_PROG_STREAM_READ_BY_FD (no BPF streams)");
    REQUIRE(err == 0);
    run_model_case(c, Profile::kLinux618, &model_text);
    std::printf("---- %s: kernel stderr stream ----\n%s---- %s: model ----\n%s", c.prog,
                kernel_text.c_str(), c.prog, model_text.c_str());
    if (kernel_text.empty() && !model_text.empty()) {
      std::string probe_error;
      if (why_not.empty()) why_not = stream_write_failure(&probe_error);
      REQUIRE(probe_error == "");
      if (!why_not.empty()) continue;  // skipped below, after every case ran
    }
    CHECK(normalise(kernel_text) == normalise(model_text));
  }
  if (!why_not.empty()) skip("report text not compared: " + why_not);
}
