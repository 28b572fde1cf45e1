// Staged reports on real threads: two CPUs stage 3-line reports into one
// program's stderr while signal-NMIs on the same CPUs stage reports of their
// own (landing anywhere, inside a stage or an allocation included) and a
// reader CPU reads in 7-byte chunks. Every report must arrive contiguous and
// in order with exactly the lines whose printk succeeded, or not at all when
// its commit failed; the charge must end at exactly what each version leaks.
// Every profile, in every build: NMIs allocate from the native
// async-signal-safe page pool (model/native/page_pool.h), so they stage
// under --config=tsan and --config=asan too, and the test requires that
// some NMI report was committed and read back.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "alloc/stream_elem.h"
#include "model/atomic.h"
#include "model/machine_state.h"
#include "model/native/cpu_binding.h"
#include "model/native/page_pool.h"
#include "model/profile.h"
#include "stream/bpf_prog.h"
#include "stream/bpf_stream.h"

using namespace kmodel;

namespace {

constexpr int kWriters = 2;
constexpr int kReaderCpu = 2;
constexpr int kReportsPerTask = 3000;
constexpr int kNmisPerCpu = 150;
constexpr int kLines = 3;
constexpr int kMaxReports = 100000;

struct Report {
  int printk[kLines];
  int commit;
  bool used;
  bool from_nmi;
};

struct Shared {
  bpf_fd_table table;
  bpf_prog* prog = nullptr;
  std::atomic<int> next_id{0};
  Report reports[kMaxReports] = {};
  std::atomic<int> bound{0};
  std::atomic<int> writers_done{0};
  std::atomic<int> nmi_reports{0};
  std::atomic<bool> nmis_done{false};
};

Shared* g;

void stage_one(bool from_nmi) {
  const int id = g->next_id.fetch_add(1);
  if (id >= kMaxReports) return;
  Report& r = g->reports[id];
  r.used = true;
  r.from_nmi = from_nmi;
  bpf_prog_run(g->prog, [&] {
    bpf_stream_stage ss;
    r.commit = bpf_stream_stage(ss, g->prog, BPF_STDERR, ({
      for (int i = 0; i < kLines; i++) r.printk[i] = bpf_stream_printk(ss, "R%06d:%d\n", id, i);
    }));
    return 0;
  });
}

void nmi_handler(void*) {
  g->nmi_reports.fetch_add(1);
  stage_one(true);
}

void writer(int cpu) {
  native::CpuBinding bind(cpu);
  g->bound.fetch_add(1);
  // At least kReportsPerTask reports, then on until every NMI was delivered:
  // the CPU stays bound (an NMI to an unbound CPU is never handled), its
  // reports ids-permitting, yielding between them so that the NMI sender
  // gets a core on a busy machine (on 2 loaded cores it was once starved
  // into 3 deliveries while the writers used up every id).
  for (int i = 0; i < kReportsPerTask || !g->nmis_done.load(); i++) {
    if (i >= kReportsPerTask) std::this_thread::yield();
    if (g->next_id.load() < kMaxReports - 2 * kWriters * kNmisPerCpu) stage_one(false);
  }
  g->writers_done.fetch_add(1);
}

std::string read_all() {
  native::CpuBinding bind(kReaderCpu);
  std::string out;
  char chunk[7];
  for (;;) {
    const bool done = g->writers_done.load() == kWriters;
    const int n = bpf_prog_stream_read(g->prog, BPF_STDERR, chunk, sizeof(chunk));
    if (n < 0) return out + "<read error>";
    out.append(chunk, static_cast<std::size_t>(n));
    if (n == 0 && done) return out;
    if (n == 0) cpu_relax();
  }
}

void send_nmis() {
  while (g->bound.load() != kWriters) std::this_thread::yield();
  for (int k = 0; k < kNmisPerCpu; ++k)
    for (int cpu = 0; cpu < kWriters; ++cpu) native::send_interrupt_and_wait(cpu, IrqKind::kNmi);
  g->nmis_done.store(true);
}

void run_stress(Profile profile) {
  ScopedProfile scoped(profile);
  INFO(profile_name(profile));
  reset_machine_state();
  auto shared = std::make_unique<Shared>();
  g = shared.get();
  const int fd = bpf_prog_load_bare(&g->table, "stress", 16);
  g->prog = bpf_prog_get(&g->table, fd);
  bpf_prog_put(g->prog);
  for (int cpu = 0; cpu < kWriters; ++cpu)
    native::set_interrupt_handler(cpu, IrqKind::kNmi, {nmi_handler, nullptr});
  std::vector<std::thread> writers;
  for (int cpu = 0; cpu < kWriters; ++cpu) writers.emplace_back(writer, cpu);
  std::thread nmis(send_nmis);
  std::string bytes = read_all();
  nmis.join();
  for (auto& t : writers) t.join();
  for (int cpu = 0; cpu < kWriters; ++cpu) native::set_interrupt_handler(cpu, IrqKind::kNmi, {});
  {
    // Reports an NMI committed after the reader's last look.
    native::CpuBinding bind(kReaderCpu);
    char buf[512];
    for (int n; (n = bpf_prog_stream_read(g->prog, BPF_STDERR, buf, sizeof(buf))) > 0;)
      bytes.append(buf, static_cast<std::size_t>(n));
  }

  // Lines in read order, the seed's NULs dropped.
  std::vector<std::string> lines;
  std::string cur;
  for (char c : bytes) {
    if (c == '\0') continue;
    if (c == '\n') {
      lines.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  CHECK(cur.empty());
  const int nr = std::min(g->next_id.load(), kMaxReports);
  std::vector<int> first(static_cast<std::size_t>(nr), -1);
  std::vector<int> seen(static_cast<std::size_t>(nr), 0);
  long bad = 0;
  for (std::size_t i = 0; i < lines.size(); i++) {
    int id = -1, line = -1;
    if (std::sscanf(lines[i].c_str(), "R%d:%d", &id, &line) != 2 || id < 0 || id >= nr) {
      ++bad;
      continue;
    }
    if (first[static_cast<std::size_t>(id)] < 0) first[static_cast<std::size_t>(id)] = static_cast<int>(i);
    seen[static_cast<std::size_t>(id)]++;
  }
  long leaked = 0, committed = 0, refused = 0, nmi_committed = 0;
  std::map<int, int> nmi_printk;  // return code -> lines: the story when no NMI line lands
  for (int id = 0; id < nr; id++) {
    const Report& r = g->reports[id];
    REQUIRE(r.used);
    std::vector<std::string> want;
    long failed = 0;
    for (int i = 0; i < kLines; i++) {
      if (r.from_nmi) nmi_printk[r.printk[i]]++;
      char l[32];
      std::snprintf(l, sizeof(l), "R%06d:%d", id, i);
      if (r.printk[i] == 0) want.push_back(l);
      else if (r.printk[i] != -EBUSY) failed += bpf_stream_failed_write_charge(10);
    }
    if (r.commit != 0) {
      refused++;
      if (seen[static_cast<std::size_t>(id)] != 0) ++bad;
      continue;
    }
    committed++;
    if (r.from_nmi && !want.empty()) nmi_committed++;
    leaked += failed;
    if (seen[static_cast<std::size_t>(id)] != static_cast<int>(want.size())) {
      ++bad;
      continue;
    }
    const int f = first[static_cast<std::size_t>(id)];
    for (std::size_t k = 0; k < want.size(); k++)
      if (lines[static_cast<std::size_t>(f) + k] != want[k]) ++bad;  // interleaved or reordered
  }
  INFO("reports " << nr << ", committed " << committed << ", refused " << refused
                   << ", NMI reports " << g->nmi_reports.load() << " (" << nmi_committed
                   << " committed with lines)");
  std::string nmi_story;
  for (const auto& [ret, count] : nmi_printk)
    nmi_story += " " + std::to_string(count) + " returned " + std::to_string(ret) + ";";
  INFO("NMI printk lines:" << nmi_story);
  const native::PagePoolStats pool = native::page_pool_stats();
  INFO("page pool: irq allocations " << pool.irq_allocations << ", irq empty " << pool.irq_empty
                                     << ", order-0 cached " << pool.cached[0]);
  CHECK(bad == 0);
  CHECK(committed > 0);
  CHECK(g->nmi_reports.load() > 0);
  // NMIs stage in every build (the page pool): some NMI report was read whole.
  CHECK(nmi_committed > 0);
  CHECK(bpf_stream_capacity_read(bpf_stream_get(BPF_STDERR, g->prog)) == leaked);
  bpf_fd_table_release(&g->table);
  CHECK(bpf_stream_alloc_stats_read().elems_live == 0);
  g = nullptr;
}

}  // namespace

TEST_CASE("native: staged reports from tasks and NMIs stay whole against a reader") {
  for (Profile p : {Profile::kSeed, Profile::kLinux618, Profile::kMainline}) run_stress(p);
}
