// scenarios/stream_write_scenarios.cc: see stream_scenarios.h.
#include "scenarios/stream_write_scenarios.h"

#include <cerrno>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "alloc/stream_elem.h"
#include "model/bug.h"
#include "model/page_alloc.h"
#include "model/profile.h"
#include "scenarios/catalogue.h"
#include "stream/bpf_prog.h"
#include "stream/bpf_stream.h"
#include "stream/bprintf.h"

KMODEL_NAMESPACE_BEGIN
namespace stream_write_scenarios {

namespace {

struct Prog {
  bpf_prog_unregistered streams;
  bool freed = false;
  Prog() { bpf_prog_stream_init(&streams); }
  ~Prog() { free(); }
  // In the end check, before the machine's leak check: under next the
  // streams are refcounted objects of their own, tracked for leaks.
  void free() {
    if (!freed) bpf_prog_stream_free(&streams);
    freed = true;
  }
};

// Reads BPF_STDOUT until it is empty, then checks the charge is back to 0.
void drain_and_check_charge(bpf_prog* streams, const char* what) {
  char buf[512];
  while (bpf_prog_stream_read(streams, BPF_STDOUT, buf, sizeof(buf)) > 0) {
  }
  const int charge = bpf_stream_capacity_read(bpf_stream_get(BPF_STDOUT, streams));
  MODEL_ASSERT(charge == 0, absl::StrCat("capacity charge ", charge, " left after ", what,
                                         " and a full read: a write that queued nothing "
                                         "kept its charge"));
}

}  // namespace

void capacity_leak_long_output(Scenario& s) {
  set_page_fault_policy(PageFaultPolicy::never());
  auto prog = std::make_shared<Prog>();
  s.on_cpu(0, [prog] {
    const std::string big(1500, 'z');  // the format itself is the output
    const int ret = bpf_stream_vprintk(BPF_STDOUT, big.c_str(), nullptr, 0, &prog->streams);
    MODEL_ASSERT(ret == 0 || ret == -ENOMEM || ret == -E2BIG,
                 absl::StrCat("long output: unexpected ", ret));
    drain_and_check_charge(&prog->streams, "a 1500-byte write");
  });
  s.at_end([prog] {
    prog->free();
    bpf_stream_alloc_drain_all();
  });
}

void capacity_leak_alloc_failure(Scenario& s) {
  set_page_fault_policy(PageFaultPolicy::every_nth(1));
  auto prog = std::make_shared<Prog>();
  s.on_cpu(0, [prog] {
    bpf_stream_alloc_drain_all();  // no current page: the element needs a new one
    const int ret = bpf_stream_vprintk(BPF_STDOUT, "abc", nullptr, 0, &prog->streams);
    MODEL_ASSERT(ret == -ENOMEM, absl::StrCat("failing page source: got ", ret));
    drain_and_check_charge(&prog->streams, "a write refused with -ENOMEM");
  });
  s.at_end([prog] {
    set_page_fault_policy(PageFaultPolicy::never());
    prog->free();
    bpf_stream_alloc_drain_all();
  });
}

void bprintf_packed_overrun(Scenario& s) {
  s.on_cpu(0, [] {
    static const u8 ip[4] = {127, 0, 0, 1};
    const std::string s500(500, 'b');
    const u64 args[3] = {reinterpret_cast<u64>(s500.c_str()), reinterpret_cast<u64>(ip), 7};
    char out[64];
    // 501 (string + NUL) + 16 ("127.000.000.001" + NUL) + 4 (%d) = 521 > 512.
    const int ret = bpf_snprintf(out, sizeof(out), "%s%pi4%d", args, sizeof(args));
    MODEL_ASSERT(ret == -ENOSPC,
                 absl::StrCat("\"%s%pi4%d\" packs 521 bytes into the 512-byte area and "
                              "returned ",
                              ret, ", not -ENOSPC: the cursor ran past bin_args"));
  });
}

namespace {

const ScenarioRegistrar kLongOutput({
    "stream/kernel_bug_capacity_leak_long_output",
    "6.18: a write longer than 1024 bytes is charged, then refused by the element "
    "allocator (-ENOMEM); the charge is never given back. seed truncates, mainline "
    "refuses it before the charge (-E2BIG)",
    Config{.cpus = 1, .iterations = 1},
    capacity_leak_long_output,
    {{Profile::kSeed, Expect::kPass},
     {Profile::kLinux618, expect_violation(FailureKind::kAssertion, "kept its charge")},
     {Profile::kMainline, Expect::kPass}, {Profile::kNext, Expect::kPass}},
});

const ScenarioRegistrar kAllocFailure({
    "stream/kernel_bug_capacity_leak_alloc_failure",
    "seed and 6.18: a write whose element allocation fails keeps its charge (-ENOMEM, "
    "nothing queued); mainline gives it back",
    Config{.cpus = 1, .iterations = 1},
    capacity_leak_alloc_failure,
    {{Profile::kSeed, expect_violation(FailureKind::kAssertion, "kept its charge")},
     {Profile::kLinux618, expect_violation(FailureKind::kAssertion, "kept its charge")},
     {Profile::kMainline, Expect::kPass}, {Profile::kNext, Expect::kPass}},
});

const ScenarioRegistrar kPackedOverrun({
    "stream/kernel_bug_bprintf_packed_overrun",
    "every version: an IP address whose text does not fit the packed-argument area "
    "moves the cursor past its end, and the next argument's room check passes "
    "(negative room compared as size_t): 521 bytes packed into 512, no -ENOSPC",
    Config{.cpus = 1, .iterations = 1},
    bprintf_packed_overrun,
    {{Profile::kSeed, expect_violation(FailureKind::kAssertion, "the cursor ran past bin_args")},
     {Profile::kLinux618, expect_violation(FailureKind::kAssertion, "the cursor ran past bin_args")},
     {Profile::kMainline, expect_violation(FailureKind::kAssertion, "the cursor ran past bin_args")},
     {Profile::kNext, expect_violation(FailureKind::kAssertion, "the cursor ran past bin_args")}},
});

}  // namespace

}  // namespace stream_write_scenarios
KMODEL_NAMESPACE_END
