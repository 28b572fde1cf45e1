#include "cli/trace_json.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/json.h"
#include "model/sim/trace.h"

namespace streamcheck {
namespace {

using kmodel::TraceEvent;

const char* level_name(unsigned level) {
  static constexpr const char* kNames[] = {"task", "softirq", "hardirq", "nmi"};
  return level < 4 ? kNames[level] : "?";
}

// The fields every event of the run shares.
std::string head(const char* ph, int tid, std::uint64_t ts, std::string_view name) {
  return absl::StrCat("{\"ph\":\"", ph, "\",\"pid\":", kTracePid, ",\"tid\":", tid,
                      ",\"ts\":", ts, ",\"name\":", json_quote(name));
}

std::string thread_metadata(int cpu) {
  return absl::StrCat("{\"ph\":\"M\",\"pid\":", kTracePid, ",\"tid\":", cpu,
                      ",\"name\":\"thread_name\",\"args\":{\"name\":\"CPU ", cpu,
                      "\"}},\n{\"ph\":\"M\",\"pid\":", kTracePid, ",\"tid\":", cpu,
                      ",\"name\":\"thread_sort_index\",\"args\":{\"sort_index\":", cpu, "}}");
}

// A value of an access: a JSON number when a double holds it exactly,
// else (and for pointers) a string, "0x..." or decimal.
std::string json_value(const kmodel::internal::Access& a, std::uint64_t bits) {
  using kmodel::internal::Access;
  constexpr std::uint64_t kExact = std::uint64_t{1} << 53;
  if (a.flags & Access::kPointer) return json_quote(kmodel::access_value_text(a, bits));
  const bool negative = (a.flags & Access::kSigned) && static_cast<std::int64_t>(bits) < 0;
  const std::uint64_t magnitude = negative ? 0 - bits : bits;
  const std::string text = kmodel::access_value_text(a, bits);
  return magnitude < kExact ? text : json_quote(text);
}

// What a memory operation did: "op", "order" and its values (load/store:
// "value"; xchg and fetch ops: "old", "new"; cmpxchg: "expected", "found",
// "new", "ok").
std::string access_args(const kmodel::internal::Access& a) {
  using kmodel::internal::Access;
  if (a.what == nullptr) return "";
  std::string out = absl::StrCat(",\"op\":", json_quote(a.what), ",\"order\":\"",
                                 kmodel::internal::order_name(a.order), "\"");
  const bool read = a.flags & Access::kRead;
  const bool written = a.flags & Access::kWritten;
  if (a.flags & Access::kExpected)
    absl::StrAppend(&out, ",\"expected\":", json_value(a, a.expected), ",\"found\":",
                    json_value(a, a.read), ",\"new\":", json_value(a, a.written), ",\"ok\":",
                    (a.flags & Access::kOk) ? "true" : "false");
  else if (read && written)
    absl::StrAppend(&out, ",\"old\":", json_value(a, a.read), ",\"new\":",
                    json_value(a, a.written));
  else if (read || written)
    absl::StrAppend(&out, ",\"value\":", json_value(a, read ? a.read : a.written));
  return out;
}

std::string op_slice(const TraceEvent& e, std::uint64_t index) {
  std::string args = absl::StrCat("\"object\":", e.object, ",\"step\":", index,
                                  ",\"level\":\"", level_name(e.level), "\"",
                                  access_args(e.access));
  if (e.at.file != nullptr)
    absl::StrAppend(&args, ",\"at\":", json_quote(kmodel::location_text(e.at, true)));
  return absl::StrCat(head("X", e.cpu, index, kmodel::internal::op_name(e.op)),
                      ",\"dur\":1,\"cat\":\"op\",\"args\":{", args, "}}");
}

std::string interrupt_slice(int cpu, std::uint64_t interrupt, std::uint64_t begin,
                            std::uint64_t end, bool finished) {
  // Interrupt 0 is the CPU's irq_work self-interrupt (model/sim/trace.h).
  const std::string name =
      interrupt == 0 ? std::string("irq_work") : absl::StrCat("interrupt ", interrupt);
  return absl::StrCat(head("X", cpu, begin, name),
                      ",\"dur\":", end - begin,
                      ",\"cat\":\"interrupt\",\"args\":{\"interrupt\":", interrupt,
                      ",\"step\":", begin, ",\"finished\":", finished ? "true" : "false", "}}");
}

std::string global_instant(std::uint64_t ts, std::string_view name, std::string args) {
  return absl::StrCat(head("i", 0, ts, name), ",\"s\":\"g\",\"args\":{", args, "}}");
}

struct OpenInterrupt {
  std::uint64_t number;
  std::uint64_t begin;
};

// Emits the trace's events; interrupts become slices once their end is seen.
class Exporter {
 public:
  explicit Exporter(int cpus) : open_(static_cast<std::size_t>(std::max(cpus, 1))) {}

  void add(const TraceEvent& e, std::uint64_t i) {
    switch (e.kind) {
      case TraceEvent::Kind::kOp:
        out_.push_back(op_slice(e, i));
        break;
      case TraceEvent::Kind::kInterrupt:
        stack(e.cpu).push_back({e.arg, i});
        break;
      case TraceEvent::Kind::kInterruptEnd:
        close(e.cpu, e.arg, i);
        break;
      case TraceEvent::Kind::kClockJump:
        out_.push_back(global_instant(i, absl::StrCat("clock +", e.arg, " ns"),
                                      absl::StrCat("\"ns\":", e.arg)));
        break;
    }
  }

  // Interrupts the run never finished end with the trace.
  std::vector<std::string> finish(std::uint64_t end) {
    for (std::size_t cpu = 0; cpu < open_.size(); ++cpu)
      for (const OpenInterrupt& o : open_[cpu])
        out_.push_back(interrupt_slice(static_cast<int>(cpu), o.number, o.begin, end, false));
    return std::move(out_);
  }

 private:
  std::vector<OpenInterrupt>& stack(std::size_t cpu) {
    if (cpu >= open_.size()) open_.resize(cpu + 1);
    return open_[cpu];
  }

  // Interrupts nest strictly on one CPU, so the match is the innermost open
  // one; anything opened above it (never expected) is closed with it.
  void close(std::size_t cpu, std::uint64_t number, std::uint64_t end) {
    std::vector<OpenInterrupt>& s = stack(cpu);
    while (!s.empty()) {
      const OpenInterrupt o = s.back();
      s.pop_back();
      out_.push_back(interrupt_slice(static_cast<int>(cpu), o.number, o.begin, end, true));
      if (o.number == number) return;
    }
  }

  std::vector<std::vector<OpenInterrupt>> open_;
  std::vector<std::string> out_;
};

int cpus_of(const kmodel::RunResult& run) {
  int cpus = run.cpus;
  for (const TraceEvent& e : run.trace.events()) cpus = std::max(cpus, e.cpu + 1);
  return cpus;
}

std::string other_data(const kmodel::RunResult& run) {
  return absl::StrCat("{\"outcome\":", json_quote(kmodel::outcome_name(run.outcome)),
                      ",\"message\":", json_quote(run.message),
                      ",\"schedule\":", json_quote(run.schedule()), ",\"steps\":\"", run.steps,
                      "\",\"sim_time_ns\":\"", run.sim_time_ns, "\"}");
}

}  // namespace

std::string chrome_trace_json(const kmodel::RunResult& run) {
  const int cpus = cpus_of(run);
  std::vector<std::string> events;
  events.push_back(absl::StrCat("{\"ph\":\"M\",\"pid\":", kTracePid,
                                ",\"name\":\"process_name\",\"args\":{\"name\":",
                                json_quote(absl::StrCat("simulated run (", cpus, " CPUs)")),
                                "}}"));
  for (int c = 0; c < cpus; ++c) events.push_back(thread_metadata(c));
  Exporter exporter(cpus);
  const std::vector<TraceEvent>& trace = run.trace.events();
  for (std::size_t i = 0; i < trace.size(); ++i) exporter.add(trace[i], i);
  for (std::string& e : exporter.finish(trace.size())) events.push_back(std::move(e));
  if (!run.ok())
    events.push_back(global_instant(
        trace.size(), absl::StrCat(kmodel::outcome_name(run.outcome), ": ", run.message),
        absl::StrCat("\"schedule\":", json_quote(run.schedule()))));
  // otherData values are strings: chrome://tracing shows them as metadata.
  return absl::StrCat("{\"displayTimeUnit\":\"ns\",\"otherData\":", other_data(run),
                      ",\"traceEvents\":[\n", absl::StrJoin(events, ",\n"), "\n]}\n");
}

}  // namespace streamcheck
