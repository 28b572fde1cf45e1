// scenarios/alloc_scenarios.cc: model-check scenarios of the BPF stream
// element allocator (alloc/stream_elem.h, alloc/stream_page.h).
//
// Every scenario keeps a shadow of the live elements and checks, on the
// simulated machine:
//   - no element overlaps another live element (checked at each allocation);
//   - an element's payload is intact when it is freed (a page freed or
//     reused under it shows the 0x6b poison or another element's pattern);
//   - an allocation fails only for a stated reason (NMI re-entry on its CPU,
//     an injected page-allocation failure);
//   - at teardown, after freeing every element and draining every CPU's
//     current page, the allocator's accounting is zero and the platform's
//     pages_live is back to its value before the run: nothing leaked.
// The allocator itself checks, in its simulator build, that a page is freed
// exactly once, never while current and never with an element in it.
#include "scenarios/alloc_scenarios.h"

#include <cstring>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "alloc/internal/seeded_bugs.h"
#include "alloc/stream_elem.h"
#include "alloc/stream_page.h"
#include "model/bug.h"
#include "model/page_alloc.h"
#include "model/profile.h"
#include "scenarios/catalogue.h"
#include "sync/llist.h"

KMODEL_NAMESPACE_BEGIN
namespace alloc_scenarios {

namespace {

std::uint64_t g_nmi_enomem = 0;

struct Live {
  bpf_stream_elem* elem;
  int len;
  int footprint;
  unsigned char pattern;
};

// The shadow of the live elements, and the scenario's hand-over list. The
// simulator runs all CPUs on one host thread and none of this is a
// scheduling point, so each method is atomic with respect to the CPUs.
struct Shadow {
  std::vector<Live> live;
  llist_head handoff;  // elements allocated on one CPU, freed on another
  s64 pages_base = page_alloc_stats().pages_live;
  u64 failures_base = page_alloc_stats().injected_failures;
  bool kmalloc = has_mainline_fixes();
  unsigned counter = 0;
  bool in_alloc[NR_CPUS] = {};  // task context of that CPU is inside alloc

  Shadow() { init_llist_head(&handoff); }

  int footprint(int len) const {
    return kmalloc ? BPF_STREAM_ELEM_HDR + len : bpf_stream_page_elem_size(len);
  }

  unsigned char next_pattern() {
    unsigned char p;
    do {
      p = static_cast<unsigned char>(++counter);
    } while (p == 0 || p == 0x6b);  // never zero-fill or poison-like
    return p;
  }

  // Records a fresh element: header initialised, no overlap, payload stamped.
  void record(bpf_stream_elem* e, int len) {
    MODEL_ASSERT(e->total_len == len && e->consumed_len == 0,
                 absl::StrCat("element header not initialised (len ", len, ")"));
    const char* lo = reinterpret_cast<const char*>(e);
    const char* hi = lo + footprint(len);
    for (const Live& l : live) {
      const char* llo = reinterpret_cast<const char*>(l.elem);
      const char* lhi = llo + l.footprint;
      MODEL_ASSERT(hi <= llo || lhi <= lo,
                   absl::StrCat("new element [", len, " bytes] overlaps a live one [",
                                l.len, " bytes] at offset ", lo - llo));
    }
    const unsigned char pat = next_pattern();
    std::memset(e->str, pat, static_cast<std::size_t>(len));
    live.push_back({e, len, footprint(len), pat});
  }

  // Task-context allocation on `cpu` (which must be the calling CPU).
  bpf_stream_elem* alloc_task(int cpu, int len) {
    in_alloc[cpu] = true;
    const u64 failures = page_alloc_stats().injected_failures;
    bpf_stream_elem* e = nullptr;
    const int err = bpf_stream_elem_alloc_errno(len, &e);
    in_alloc[cpu] = false;
    if (err != 0) {
      MODEL_ASSERT(err == -ENOMEM, "allocation failure must be -ENOMEM");
      // In task context nothing re-enters: only the page source may fail.
      MODEL_ASSERT(page_alloc_stats().injected_failures > failures,
                   absl::StrCat("task allocation of ", len,
                                " bytes failed without a page-allocation failure"));
      return nullptr;
    }
    record(e, len);
    return e;
  }

  // NMI allocation on `cpu`: may fail only if its task is inside an
  // allocation or the page source failed.
  bpf_stream_elem* alloc_nmi(int cpu, int len) {
    const u64 failures = page_alloc_stats().injected_failures;
    bpf_stream_elem* e = bpf_stream_elem_alloc(len);
    if (e == nullptr) {
      const bool injected = page_alloc_stats().injected_failures > failures;
      MODEL_ASSERT(in_alloc[cpu] || injected,
                   absl::StrCat("NMI allocation on CPU ", cpu,
                                " failed although CPU ", cpu, " was not allocating"));
      if (!injected) ++g_nmi_enomem;
      return nullptr;
    }
    record(e, len);
    return e;
  }

  void free(bpf_stream_elem* e) {
    for (std::size_t i = 0; i < live.size(); ++i) {
      if (live[i].elem != e) continue;
      const Live l = live[i];
      MODEL_ASSERT(e->total_len == l.len, "element header overwritten while live");
      for (int b = 0; b < l.len; ++b) {
        const auto got = static_cast<unsigned char>(e->str[b]);
        MODEL_ASSERT(got == l.pattern,
                     absl::StrCat("payload byte ", b, " of a live ", l.len,
                                  "-byte element is 0x", absl::Hex(got), ", expected 0x",
                                  absl::Hex(l.pattern),
                                  got == 0x6b ? " (poison: use after free)" : " (overwritten)"));
      }
      live[i] = live.back();
      live.pop_back();
      bpf_stream_free_elem(e);
      return;
    }
    MODEL_ASSERT(false, "freeing an element that is not live");
  }

  void hand_over(bpf_stream_elem* e) { llist_add(&e->node, &handoff); }

  // Frees whatever has been handed over so far; returns how many.
  int free_handed_over() {
    int n = 0;
    llist_node* list = llist_del_all(&handoff);
    llist_node* pos;
    llist_node* next;
    llist_for_each_safe(pos, next, list) {
      free(llist_entry(pos, bpf_stream_elem, node));
      ++n;
    }
    return n;
  }

  // Outside the machine (at_end): free everything, drain, check accounting.
  void teardown() {
    free_handed_over();
    while (!live.empty()) free(live.back().elem);
    bpf_stream_alloc_drain_all();
    const bpf_stream_alloc_stats st = bpf_stream_alloc_stats_read();
    MODEL_ASSERT(st.elems_live == 0 && st.bytes_in_use == 0 && st.payload_bytes_in_use == 0,
                 absl::StrCat("accounting not zero at teardown: ", st.elems_live,
                              " elements, ", st.bytes_in_use, " bytes in use"));
    MODEL_ASSERT(st.pages_live == 0 && st.bytes_reserved == 0,
                 absl::StrCat("allocator still holds ", st.pages_live, " pages / ",
                              st.bytes_reserved, " bytes at teardown"));
    const s64 pages = page_alloc_stats().pages_live;
    MODEL_ASSERT(pages == pages_base,
                 absl::StrCat("page leak: ", pages - pages_base, " page(s) not returned"));
    set_page_fault_policy(PageFaultPolicy::never());
  }
};

// Payload sizes that make CPU 0 replace its page every few allocations
// (1016-byte footprints: 4 per page) and mix in small ones.
constexpr int kBigLens[] = {1000, 24, 1000, 1000, 1024, 8, 1000, 500};

// nmi_len: what CPU 0's NMI allocates. 1000 shares the size class of most
// task allocations (1024 under mainline's kmalloc_nolock), so the NMI can
// find that cache busy; 64 never does.
void build_nmi_reentry(Scenario& s, int nmi_count, int nmi_len) {
  auto sh = std::make_shared<Shadow>();
  s.on_cpu(0, [sh] {
    int i = 0;
    for (int len : kBigLens) {
      bpf_stream_elem* e = sh->alloc_task(0, len);
      if (e == nullptr) continue;
      // Alternate: free on this CPU now, or hand over to CPU 1.
      if (i++ % 2 == 0) sh->free(e);
      else sh->hand_over(e);
    }
  });
  s.nmi(0, [sh, nmi_len] {
    if (bpf_stream_elem* e = sh->alloc_nmi(0, nmi_len)) sh->hand_over(e);
  }, nmi_count, "nmi0_alloc");
  s.on_cpu(1, [sh] {
    for (int round = 0; round < 3; ++round) {
      sh->free_handed_over();
      if (bpf_stream_elem* e = sh->alloc_task(1, 200)) sh->free(e);
    }
  });
  s.nmi(1, [sh] {
    // Allocate and free in NMI context on CPU 1.
    if (bpf_stream_elem* e = sh->alloc_nmi(1, 1024)) sh->free(e);
  }, 1, "nmi1_alloc_free");
  s.at_end([sh] { sh->teardown(); });
}

void build_cross_cpu_free(Scenario& s) {
  auto sh = std::make_shared<Shadow>();
  s.on_cpu(0, [sh] {
    // 520-byte footprints: 7 per page, so the page is replaced while CPUs 1
    // and 2 free elements of the previous ones.
    constexpr int kLens[] = {500, 500, 500, 700, 500, 1024, 500, 500, 300, 500, 8, 500};
    int i = 0;
    for (int len : kLens) {
      bpf_stream_elem* e = sh->alloc_task(0, len);
      if (e == nullptr) continue;
      if (i++ % 4 == 3) sh->free(e);  // some die on their own CPU
      else sh->hand_over(e);
    }
  });
  for (int cpu = 1; cpu <= 2; ++cpu) {
    s.on_cpu(cpu, [sh] {
      for (int round = 0; round < 6; ++round) {
        if (sh->free_handed_over() == 0) cpu_relax();
      }
    });
  }
  s.nmi(1, [sh] {
    // A free in NMI context on another CPU than the allocation.
    sh->free_handed_over();
  }, 1, "nmi1_free");
  s.at_end([sh] { sh->teardown(); });
}

void set_bug(bool alloc_internal::SeededBugs::*knob) {
  alloc_internal::g_seeded_bugs.*knob = true;
}

}  // namespace

std::uint64_t nmi_enomem_count() { return g_nmi_enomem; }
void reset_nmi_enomem_count() { g_nmi_enomem = 0; }

void nmi_reentry(Scenario& s) {
  set_page_fault_policy(PageFaultPolicy::never());
  build_nmi_reentry(s, 2, 1000);
}

void cross_cpu_free(Scenario& s) {
  set_page_fault_policy(PageFaultPolicy::never());
  build_cross_cpu_free(s);
}

void page_alloc_failure(Scenario& s) {
  set_page_fault_policy(PageFaultPolicy::explored());
  build_nmi_reentry(s, 2, 64);
}

void zero_len_overrun(Scenario& s) {
  set_page_fault_policy(PageFaultPolicy::never());
  auto sh = std::make_shared<Shadow>();
  s.on_cpu(0, [sh] {
    // 34 elements of 120 bytes (header included: 16 in 6.18, 24 in the
    // seed): consumed = 4080, then a zero-length element.
    const int len = 120 - bpf_stream_page_elem_hdr();
    for (int i = 0; i < 34; ++i) sh->alloc_task(0, len);
    sh->alloc_task(0, 0);
  });
  s.at_end([sh] { sh->teardown(); });
}

namespace {

const std::vector<std::pair<Profile, Expectation>> kAllPass = {
    {Profile::kSeed, Expect::kPass},
    {Profile::kLinux618, Expect::kPass},
    {Profile::kMainline, Expect::kPass},
};

// A page freed while still in use: freed with an element in it, or while
// it is a CPU's current page, whichever the schedule reaches first (both
// seeded bugs can do either).
Expectation freed_early() {
  return expect_violation(FailureKind::kAssertion, "bpf_stream_page freed while");
}

const ScenarioRegistrar kNmiReentry({
    "alloc/nmi_reentry",
    "an NMI allocates while its CPU is inside an allocation of the same size (-ENOMEM; "
    "mainline retries in the next kmalloc bucket), with page replacement and cross-CPU "
    "frees; no overlap, no leak",
    Config{.cpus = 2, .iterations = 2000, .interrupt_probability = 0.1},
    nmi_reentry,
    kAllPass,
});

const ScenarioRegistrar kCrossCpuFree({
    "alloc/cross_cpu_free",
    "two CPUs (and an NMI) free elements while the owner keeps replacing its page; "
    "pages freed once, never current, never with an element in them",
    Config{.cpus = 3, .iterations = 2000, .interrupt_probability = 0.05},
    cross_cpu_free,
    kAllPass,
});

const ScenarioRegistrar kPageFailure({
    "alloc/page_alloc_failure",
    "every alloc_pages_nolock() call may fail (explored): -ENOMEM, state intact, "
    "no leak",
    Config{.cpus = 2, .iterations = 2000, .interrupt_probability = 0.1},
    page_alloc_failure,
    kAllPass,
});

const ScenarioRegistrar kZeroLen({
    "alloc/kernel_bug_zero_len_overrun",
    "6.18 and seed: a zero-length element on a page with consumed = 4080 is written "
    "past the page (bpf_stream_page_check_room lets len 0 through)",
    Config{.cpus = 1, .iterations = 1},
    zero_len_overrun,
    {{Profile::kSeed, expect_violation(FailureKind::kWarn, "WARN_ON(consumed + size")},
     {Profile::kLinux618,
      expect_violation(FailureKind::kWarn, "WARN_ON(consumed + size > static_cast<u32>(BPF_STREAM_PAGE_SZ))")},
     {Profile::kMainline, expect_pass()}},
});

const ScenarioRegistrar kBugMissingRef({
    "alloc/bug_missing_page_ref_on_reserve",
    "seeded bug: reserve takes no page reference for the element; must be caught",
    Config{.cpus = 3, .iterations = 2000},
    [](Scenario& s) {
      cross_cpu_free(s);
      set_bug(&alloc_internal::SeededBugs::skip_elem_page_ref);
    },
    {{Profile::kLinux618, freed_early()}},
});

const ScenarioRegistrar kBugFreeCurrent({
    "alloc/bug_free_current_page",
    "seeded bug: the CPU holds no reference to its current page, so freeing its "
    "last element frees the current page; must be caught",
    Config{.cpus = 3, .iterations = 2000},
    [](Scenario& s) {
      cross_cpu_free(s);
      set_bug(&alloc_internal::SeededBugs::no_cpu_page_ref);
    },
    {{Profile::kLinux618, freed_early()}},
});

const ScenarioRegistrar kBugNoTrylock({
    "alloc/bug_no_trylock_in_nmi",
    "seeded bug: allocation disables irqs but takes no local_trylock, so an NMI "
    "re-enters the bump allocation; must be caught",
    Config{.cpus = 2, .iterations = 5000, .interrupt_probability = 0.2},
    [](Scenario& s) {
      set_page_fault_policy(PageFaultPolicy::never());
      build_nmi_reentry(s, 3, 64);
      set_bug(&alloc_internal::SeededBugs::no_trylock);
    },
    {{Profile::kLinux618, // The nested bump allocation shows as an overlap, or (exhaustive
      // search finds this first) as bytes the allocator lost track of.
      expect_violation_matching(FailureKind::kAssertion,
                                "overlaps a live one|allocator still holds [0-9]+ pages")}},
});

}  // namespace

}  // namespace alloc_scenarios
KMODEL_NAMESPACE_END
