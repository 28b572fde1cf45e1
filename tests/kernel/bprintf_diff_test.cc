// The running kernel's bprintf against the model's: a differential
// conformance test over a generated corpus (bprintf_corpus.h).
//
// What it proves: for every case (a format, an argument list, a stream id),
// the model under linux-6.18 classifies the call as the kernel does
// (accepted, or which errno bpf_stream_vprintk returns), and, for accepted
// formats, its bpf_snprintf returns what the kernel's does and prints the
// same text (where the text is deterministic; see Case::compare). The
// kernel is the ground truth for linux-6.18.
//
// How: tests/kernel/bprintf_diff.bpf.c holds two SEC("syscall") programs
// that read the case from .rodata (set before each load, no recompilation):
// run_vprintk calls the stream kfunc, run_snprintf the bpf_snprintf helper.
// Each case loads run_vprintk, runs it once, and, when the format was
// accepted, loads and runs run_snprintf. On this machine the kernel cannot
// allocate stream pages, so an accepted format returns -ENOMEM (0 where it
// can; the model's page source is set to fail or not to match), an output
// at or over the stream capacity -ENOSPC, and a rejected format
// bpf_bprintf_prepare's errno. The model runs its whole bpf_stream_vprintk
// on a fresh program per case, so the errnos must be equal.
//
// The summary (cases, disagreements per family, the first 40 disagreements
// in full) is printed on stdout. Reproduce:
//   bazel test //tests/kernel:bprintf_diff_test --test_output=all
//
// Skips ("SKIPPED: ..."): no BTF; no privilege; no stream kfunc. A few
// cases make the kernel WARN once per boot (Case::kernel_warns: the width
// clamp, and the overrun's second pre-formatted argument, which confirms the
// packed-argument overrun finding); they are not run where panic_on_warn is
// set.
#include <catch2/catch.hpp>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "alloc/stream_elem.h"
#include "model/native/cpu_binding.h"
#include "model/page_alloc.h"
#include "model/profile.h"
#include "stream/bpf_prog.h"
#include "stream/bpf_stream.h"
#include "stream/bprintf.h"
#include "tests/kernel/bpf_test_support.h"
#include "tests/kernel/bprintf_corpus.h"

namespace {

using bprintf_corpus::Arg;
using bprintf_corpus::ArgKind;
using bprintf_corpus::Case;
using kernel_test::skip;

// ---- Memory the arguments point to --------------------------------------------

// User memory: this process's, read by the kernel through the user-access
// routines (BPF_PROG_TEST_RUN of a syscall program runs in this task), and
// registered as user memory with the model.
alignas(16) char g_ustr[bprintf_corpus::kMaxString + 1];
alignas(16) std::uint8_t g_uip[16];
// The model's stand-ins for the BPF program's global data (kernel memory).
alignas(16) char g_model_kstr[bprintf_corpus::kMaxString + 1];
alignas(16) std::uint8_t g_model_kip[16];

void set_user_memory(const Case& c) {
  std::memset(g_ustr, 0, sizeof(g_ustr));
  std::memcpy(g_ustr, c.ustr.data(), c.ustr.size());
  std::memcpy(g_uip, c.uip.data(), sizeof(g_uip));
}

std::uint64_t addr(const void* p) { return reinterpret_cast<std::uint64_t>(p); }

// ---- The kernel side ----------------------------------------------------------

// Keep in step with bprintf_diff.bpf.c.
constexpr int kFmtMax = 2048;
constexpr int kOutMax = 1024;
struct KernelCaseIn {
  char fmt[kFmtMax];
  std::uint64_t argv[bprintf_corpus::kMaxArgs];
  std::uint8_t kind[bprintf_corpus::kMaxArgs];
  std::uint32_t stream_id;
  std::uint32_t data_len;
};
static_assert(sizeof(KernelCaseIn) == 2176);
struct KernelMem {
  char str[1024];
  std::uint8_t ip[16];
};
struct KernelResult {
  int vprintk_ret;
  int snprintf_ret;
  char out[kOutMax];
};

struct KernelAnswer {
  int vprintk = 0;
  bool snprintf_ran = false;
  int snprintf = 0;          // when snprintf_ran
  int snprintf_load = 0;     // load error when the verifier refused the format
  std::string out;
};

class Kernel {
 public:
  // "" when usable; else skip_ or error_ says why not.
  bool init() {
    if (skip_ = kernel_test::kernel_unavailable(); !skip_.empty()) return false;
    kfunc_ = kernel_test::stream_vprintk_kfunc(&error_);
    if (!error_.empty()) return false;
    if (kfunc_ == nullptr) {
      skip_ = "the kernel has no bpf_stream_vprintk kfunc (no BPF streams)";
      return false;
    }
    path_ = kernel_test::data_path("BPRINTF_DIFF_BPF_OBJ",
                                   (std::string("bprintf_diff_") + kfunc_ + ".bpf.o").c_str());
    // A first load tells a missing privilege from a broken test.
    Case probe;
    probe.fmt = "probe %d";
    probe.args = {Arg{ArgKind::kValue, 1}};
    probe.data_len = 8;
    KernelAnswer a;
    run(probe, &a);
    pages_fail_ = a.vprintk == -ENOMEM;
    if (skip_.empty() && error_.empty() && a.vprintk != 0 && !pages_fail_)
      error_ = std::string(kfunc_) + "(\"probe %d\") returned " + std::to_string(a.vprintk);
    return skip_.empty() && error_.empty();
  }
  // This kernel's stream writes fail with -ENOMEM (no stream pages while
  // deferred page init is pending).
  bool pages_fail() const { return pages_fail_; }
  const std::string& skip_reason() const { return skip_; }
  const std::string& error() const { return error_; }
  const char* kfunc() const { return kfunc_; }

  // Runs one case; false (with error() or skip_reason() set) when the
  // machinery failed.
  bool run(const Case& c, KernelAnswer* a) {
    set_user_memory(c);
    int err = 0;
    a->vprintk = run_prog(c, "run_vprintk", nullptr, &err);
    if (!skip_.empty() || !error_.empty()) return false;
    if (err) {
      error_ = "loading run_vprintk failed: " + kernel_test::errno_text(err) + "\n" +
               kernel_test::libbpf_log();
      return false;
    }
    // bpf_snprintf's format is checked by the verifier: run it only for a
    // format the stream kfunc did not reject.
    if (a->vprintk != 0 && a->vprintk != -ENOMEM && a->vprintk != -ENOENT) return true;
    KernelResult r{};
    const int ret = run_prog(c, "run_snprintf", &r, &err);
    if (!error_.empty()) return false;
    if (err) {
      a->snprintf_load = err;
      return true;
    }
    a->snprintf_ran = true;
    a->snprintf = ret;
    a->out.assign(r.out, strnlen(r.out, sizeof(r.out)));
    return true;
  }

 private:
  // Opens the object with only `prog` loaded, the case in .rodata and
  // .data; runs it once. Returns the stored kfunc/helper return; *load_err
  // is the load's error (0: loaded).
  int run_prog(const Case& c, const char* prog, KernelResult* result, int* load_err) {
    *load_err = 0;
    kernel_test::clear_libbpf_log();
    bpf_object* obj = bpf_object__open_file(path_.c_str(), nullptr);
    if (obj == nullptr) {
      error_ = "open " + path_ + ": " + kernel_test::errno_text(errno);
      return 0;
    }
    struct Closer {
      bpf_object* o;
      ~Closer() { bpf_object__close(o); }
    } closer{obj};
    bpf_program* p = nullptr;
    bpf_object__for_each_program(p, obj) {
      bpf_program__set_autoload(p, std::strcmp(bpf_program__name(p), prog) == 0);
    }
    KernelCaseIn in{};
    std::memcpy(in.fmt, c.fmt.data(), c.fmt.size());
    for (std::size_t i = 0; i < c.args.size(); ++i) {
      const Arg& arg = c.args[i];
      switch (arg.kind) {
        case ArgKind::kValue: in.argv[i] = arg.value; break;
        case ArgKind::kKernelStr: in.kind[i] = 1; break;
        case ArgKind::kKernelIp: in.kind[i] = 2; break;
        case ArgKind::kUserStr: in.argv[i] = addr(g_ustr); break;
        case ArgKind::kUserIp: in.argv[i] = addr(g_uip); break;
      }
    }
    in.stream_id = c.stream_id;
    in.data_len = c.data_len;
    KernelMem mem{};
    std::memcpy(mem.str, c.kstr.data(), c.kstr.size());
    std::memcpy(mem.ip, c.kip.data(), sizeof(mem.ip));
    bpf_map* rodata = bpf_object__find_map_by_name(obj, ".rodata");
    bpf_map* data = bpf_object__find_map_by_name(obj, ".data");
    bpf_map* bss = bpf_object__find_map_by_name(obj, ".bss");
    if (!rodata || !data || !bss || bpf_map__value_size(rodata) != sizeof(in) ||
        bpf_map__value_size(data) != sizeof(mem) ||
        bpf_map__value_size(bss) != sizeof(KernelResult)) {
      error_ = "bprintf_diff.bpf.o's global data does not have the layout this test expects";
      return 0;
    }
    if (bpf_map__set_initial_value(rodata, &in, sizeof(in)) ||
        bpf_map__set_initial_value(data, &mem, sizeof(mem))) {
      error_ = "setting the case's global data failed";
      return 0;
    }
    if (const int err = bpf_object__load(obj); err != 0) {
      const std::string what = std::string("load ") + prog + ": " + kernel_test::errno_text(err);
      skip_ = kernel_test::load_skip_reason(err, what + "\n" + kernel_test::libbpf_log(), kfunc_);
      if (skip_.empty()) *load_err = err;
      return 0;
    }
    const int fd = bpf_program__fd(bpf_object__find_program_by_name(obj, prog));
    kernel_test::test_run(fd, prog, &error_);
    if (!error_.empty()) return 0;
    KernelResult r{};
    const int key = 0;
    if (bpf_map__lookup_elem(bss, &key, sizeof(key), &r, sizeof(r), 0)) {
      error_ = std::string("reading .bss after ") + prog + ": " + kernel_test::errno_text(errno);
      return 0;
    }
    if (result) *result = r;
    return std::strcmp(prog, "run_vprintk") == 0 ? r.vprintk_ret : r.snprintf_ret;
  }

  const char* kfunc_ = nullptr;
  bool pages_fail_ = false;
  std::string path_;
  std::string skip_;
  std::string error_;
};

// ---- The model side -------------------------------------------------------------

struct ModelAnswer {
  int vprintk = 0;  // bpf_stream_vprintk's return
  int snprintf = 0;
  std::string out;
};

// Model memory: low addresses fault (NULL does anyway), the test's user
// buffers are user memory, everything else kernel memory. Page allocation
// fails when the kernel's does (stream writes -ENOMEM on this machine).
struct ModelMemory {
  explicit ModelMemory(bool pages_fail) {
    kmodel::set_page_fault_policy(pages_fail ? kmodel::PageFaultPolicy::every_nth(1)
                                             : kmodel::PageFaultPolicy::never());
    kmodel::bprintf_fault_range_add(reinterpret_cast<const void*>(1), 0xffff);
    kmodel::bprintf_user_range_add(g_ustr, sizeof(g_ustr));
    kmodel::bprintf_user_range_add(g_uip, sizeof(g_uip));
    kmodel::bprintf_config config;
    config.no_hash_pointers = false;  // as the kernel here: %p hashed
    config.kptr_restrict = 0;
    kmodel::bprintf_config_set(config);
  }
  ~ModelMemory() {
    kmodel::set_page_fault_policy(kmodel::PageFaultPolicy::never());
    kmodel::bpf_stream_alloc_drain_all();
    kmodel::bprintf_fault_ranges_clear();
    kmodel::bprintf_user_ranges_clear();
    kmodel::bprintf_config_set(kmodel::bprintf_config{});
  }
};

ModelAnswer run_model(const Case& c) {
  set_user_memory(c);
  std::memset(g_model_kstr, 0, sizeof(g_model_kstr));
  std::memcpy(g_model_kstr, c.kstr.data(), c.kstr.size());
  std::memcpy(g_model_kip, c.kip.data(), sizeof(g_model_kip));
  std::uint64_t args[bprintf_corpus::kMaxArgs] = {};
  for (std::size_t i = 0; i < c.args.size(); ++i) {
    const Arg& arg = c.args[i];
    switch (arg.kind) {
      case ArgKind::kValue: args[i] = arg.value; break;
      case ArgKind::kKernelStr: args[i] = addr(g_model_kstr); break;
      case ArgKind::kKernelIp: args[i] = addr(g_model_kip); break;
      case ArgKind::kUserStr: args[i] = addr(g_ustr); break;
      case ArgKind::kUserIp: args[i] = addr(g_uip); break;
    }
  }
  ModelAnswer m;
  // A fresh program per case, as the kernel side loads one per case (the
  // 6.18 capacity leak of failed writes must not carry over).
  kmodel::bpf_prog_unregistered prog;
  kmodel::bpf_prog_stream_init(&prog);
  m.vprintk = kmodel::bpf_stream_vprintk(static_cast<int>(c.stream_id), c.fmt.c_str(), args,
                                         c.data_len, &prog);
  kmodel::bpf_prog_stream_free(&prog);
  char out[kOutMax] = {};
  m.snprintf = kmodel::bpf_snprintf(out, sizeof(out), c.fmt.c_str(), args, c.data_len);
  m.out.assign(out, strnlen(out, sizeof(out)));
  return m;
}

// kernel.panic_on_warn: a WARN would bring this machine down.
bool read_panic_on_warn() {
  std::FILE* f = std::fopen("/proc/sys/kernel/panic_on_warn", "r");
  if (f == nullptr) return true;  // unknown: be careful
  int v = 1;
  if (std::fscanf(f, "%d", &v) != 1) v = 1;
  std::fclose(f);
  return v != 0;
}

// ---- Comparing ----------------------------------------------------------------

std::string show(const std::string& s) {
  std::string out;
  for (unsigned char ch : s.substr(0, 160)) {
    char buf[8];
    if (ch >= 0x20 && ch < 0x7f) out += static_cast<char>(ch);
    else std::snprintf(buf, sizeof(buf), "\\x%02x", ch), out += buf;
  }
  return s.size() > 160 ? out + "...(" + std::to_string(s.size()) + ")" : out;
}

// "" when they agree, else what differs.
std::string compare(const Case& c, const KernelAnswer& k, const ModelAnswer& m) {
  if (m.vprintk != k.vprintk)
    return "vprintk: kernel " + std::to_string(k.vprintk) + ", model " + std::to_string(m.vprintk);
  if (!k.snprintf_ran && k.snprintf_load == 0) return "";  // rejected by both: nothing more
  if (!k.snprintf_ran) {
    if (m.snprintf < 0) return "";  // the verifier refused what the helper refuses
    return "bpf_snprintf: the kernel's verifier refused the format (" +
           kernel_test::errno_text(k.snprintf_load) + "), the model returned " +
           std::to_string(m.snprintf);
  }
  const std::string both = " (kernel " + std::to_string(k.snprintf) + " \"" + show(k.out) +
                           "\", model " + std::to_string(m.snprintf) + " \"" + show(m.out) + "\")";
  switch (c.compare) {
    case Case::kSign:
      if ((k.snprintf > 0) != (m.snprintf > 0) || (k.snprintf <= 0 && k.snprintf != m.snprintf))
        return "bpf_snprintf outcome" + both;
      return "";
    case Case::kLength:
      return k.snprintf == m.snprintf ? "" : "bpf_snprintf length" + both;
    case Case::kText:
      return k.snprintf == m.snprintf && k.out == m.out ? "" : "bpf_snprintf text" + both;
  }
  return "";
}

}  // namespace

TEST_CASE("the corpus has at least 1000 cases and every family") {
  const std::vector<Case> corpus = bprintf_corpus::generate();
  CHECK(corpus.size() >= 1000);
  std::map<std::string, int> families;
  for (const Case& c : corpus) {
    ++families[c.family];
    CHECK(c.args.size() <= static_cast<std::size_t>(bprintf_corpus::kMaxArgs));
    CHECK(c.fmt.size() <= static_cast<std::size_t>(bprintf_corpus::kMaxFmt));
    CHECK(c.fmt.find('\0') == std::string::npos);
    CHECK(c.kstr.size() <= static_cast<std::size_t>(bprintf_corpus::kMaxString));
    CHECK(c.ustr.size() <= static_cast<std::size_t>(bprintf_corpus::kMaxString));
  }
  for (const char* f : {"letter", "int-length", "int-flags", "precision", "char", "string-kernel",
                        "string-user", "string-next", "pointer", "pointer-ip-kernel",
                        "pointer-ip-user", "pointer-ext", "high-text", "high-after-s", "control",
                        "argcount", "data-len", "stream-id", "twelve", "thirteen", "long-text",
                        "long-width", "packed", "percent", "random"})
    CHECK(families[f] > 0);
}

// Memory safety of the model on every case under every profile (the
// overrun paths included): meaningful under --config=asan.
TEST_CASE("the model runs the whole corpus under every profile") {
  kmodel::native::CpuBinding cpu(0);
  ModelMemory memory(/*pages_fail=*/true);
  const std::vector<Case> corpus = bprintf_corpus::generate();
  for (kmodel::Profile p : kmodel::kAllProfiles) {
    kmodel::ScopedProfile profile(p);
    int accepted = 0;
    for (const Case& c : corpus) {
      const ModelAnswer m = run_model(c);
      accepted += m.vprintk == -ENOMEM;
      REQUIRE(kmodel::bpf_bprintf_nest_level_read(0) == 0);
    }
    std::printf("model %s: %d of %zu cases formatted (-ENOMEM from the failing pages)\n", kmodel::profile_name(p), accepted,
                corpus.size());
    CHECK(accepted > 0);
    CHECK(accepted < static_cast<int>(corpus.size()));
  }
}

TEST_CASE("the kernel's bprintf agrees with the model's (linux-6.18) on the whole corpus") {
  Kernel kernel;
  if (!kernel.init()) {
    if (!kernel.skip_reason().empty()) return skip(kernel.skip_reason());
    FAIL(kernel.error());
  }
  kmodel::native::CpuBinding cpu(0);
  ModelMemory memory(/*pages_fail=*/kernel.pages_fail());
  kmodel::ScopedProfile profile(kmodel::Profile::kLinux618);
  const std::vector<Case> corpus = bprintf_corpus::generate();
  struct Tally {
    int cases = 0, disagreements = 0, accepted = 0;
  };
  std::map<std::string, Tally> families;
  std::vector<std::string> disagreements;
  int texts = 0, not_run = 0;
  const bool panic_on_warn = read_panic_on_warn();
  for (const Case& c : corpus) {
    if (c.kernel_warns && panic_on_warn) {
      ++not_run;  // this kernel would panic on the WARN
      continue;
    }
    KernelAnswer k;
    if (!kernel.run(c, &k)) {
      if (!kernel.skip_reason().empty()) return skip(kernel.skip_reason());
      FAIL(bprintf_corpus::describe(c) << ": " << kernel.error());
    }
    const ModelAnswer m = run_model(c);
    Tally& t = families[c.family];
    ++t.cases;
    t.accepted += k.vprintk == 0 || k.vprintk == -ENOMEM;
    texts += k.snprintf_ran && c.compare == Case::kText;
    if (const std::string d = compare(c, k, m); !d.empty()) {
      ++t.disagreements;
      disagreements.push_back(bprintf_corpus::describe(c) + "\n    " + d);
    }
  }
  std::printf("bprintf differential, kernel %s vs model linux-6.18: %zu cases, %d texts "
              "compared, %zu disagreements\n",
              kernel.kfunc(), corpus.size() - static_cast<std::size_t>(not_run), texts,
              disagreements.size());
  if (not_run)
    std::printf("%d cases that make the kernel WARN not run: panic_on_warn is set\n", not_run);
  std::printf("%-22s %6s %9s %13s\n", "family", "cases", "accepted", "disagreements");
  for (const auto& [name, t] : families)
    std::printf("%-22s %6d %9d %13d\n", name.c_str(), t.cases, t.accepted, t.disagreements);
  for (std::size_t i = 0; i < disagreements.size() && i < 40; ++i)
    std::printf("DISAGREE %s\n", disagreements[i].c_str());
  CHECK(disagreements.empty());
}
