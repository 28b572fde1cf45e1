// The Chrome trace-event export (cli/trace_json.h): well-formed JSON, one
// named track per CPU, op slices at their step, and interrupt slices that
// contain exactly the operations their CPU ran between the interrupt's start
// and end, for a handmade trace (nested interrupts) and for real runs.
#include <catch2/catch.hpp>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cli/json.h"
#include "cli/trace_json.h"
#include "model/atomic.h"
#include "model/sim/check.h"

using streamcheck::JsonValue;
using Type = streamcheck::JsonValue::Type;

namespace {

std::uint64_t num(const JsonValue& v, const char* key) {
  absl::StatusOr<std::uint64_t> n = streamcheck::get_u64(v, key);
  REQUIRE(n.ok());
  return *n;
}

std::string str(const JsonValue& v, const char* key) {
  absl::StatusOr<std::string> s = streamcheck::get_string(v, key);
  REQUIRE(s.ok());
  return *s;
}

struct Slice {
  std::string name;
  std::uint64_t tid, ts, dur;
  std::string level;  // ops only
};

// The parsed export, checked for the keys every event must carry.
struct Exported {
  std::map<std::uint64_t, std::string> thread_names;  // tid -> name
  std::vector<Slice> ops, interrupts;
  std::vector<std::string> instants;
};

Exported parse_export(const std::string& json) {
  absl::StatusOr<JsonValue> doc = streamcheck::parse_json(json);
  INFO(json.substr(0, 2000));
  REQUIRE(doc.ok());
  REQUIRE(doc->find("otherData") != nullptr);
  absl::StatusOr<const JsonValue*> events =
      streamcheck::get_member(*doc, "traceEvents", Type::kArray);
  REQUIRE(events.ok());
  Exported out;
  for (const JsonValue& e : (*events)->array()) {
    REQUIRE(e.is(Type::kObject));
    const std::string ph = str(e, "ph");
    CHECK(num(e, "pid") == static_cast<std::uint64_t>(streamcheck::kTracePid));
    const std::string name = str(e, "name");
    if (ph == "M") {
      if (name == "thread_name") out.thread_names[num(e, "tid")] = str(*e.find("args"), "name");
    } else if (ph == "X") {
      const JsonValue& args = *e.find("args");
      Slice s{name, num(e, "tid"), num(e, "ts"), num(e, "dur"), ""};
      if (str(e, "cat") == "op") {
        s.level = str(args, "level");
        CHECK(num(args, "step") == s.ts);
        CHECK(args.find("object") != nullptr);
        CHECK(s.dur == 1);
        out.ops.push_back(s);
      } else {
        CHECK(str(e, "cat") == "interrupt");
        out.interrupts.push_back(s);
      }
    } else {
      REQUIRE(ph == "i");
      CHECK(str(e, "s") == "g");
      out.instants.push_back(name);
    }
  }
  return out;
}

bool contains(const Slice& outer, const Slice& inner) {
  return outer.tid == inner.tid && outer.ts <= inner.ts &&
         inner.ts + inner.dur <= outer.ts + outer.dur;
}

// Every interrupt slice holds exactly the ops its CPU ran between the
// interrupt's start and end events; every non-task op is inside one.
void check_nesting(const kmodel::Trace& trace, const Exported& x) {
  for (const Slice& irq : x.interrupts) {
    std::size_t expected = 0;
    for (std::size_t i = irq.ts; i < irq.ts + irq.dur && i < trace.events().size(); ++i) {
      const kmodel::TraceEvent& e = trace.events()[i];
      expected += e.kind == kmodel::TraceEvent::Kind::kOp && e.cpu == irq.tid;
    }
    std::size_t inside = 0;
    for (const Slice& op : x.ops) inside += contains(irq, op);
    INFO(irq.name << " at " << irq.ts << " dur " << irq.dur);
    CHECK(inside == expected);
    CHECK(expected > 0);  // a handler starts with a scheduling point
  }
  for (const Slice& op : x.ops) {
    if (op.level == "task") continue;
    bool nested = false;
    for (const Slice& irq : x.interrupts) nested = nested || contains(irq, op);
    INFO(op.name << " at " << op.ts << " level " << op.level);
    CHECK(nested);
  }
}

// A hardirq on CPU 1 with an NMI nested inside it; CPU 0 runs meanwhile.
kmodel::RunResult handmade_run() {
  using kmodel::internal::Op;
  kmodel::RunResult r;
  r.cpus = 2;
  static int a, b;
  kmodel::Trace& t = r.trace;
  t.add_op(0, 0, Op::kStart, nullptr);     // 0
  t.add_op(1, 0, Op::kStart, nullptr);     // 1
  t.add_interrupt(1, 0, 1);                // 2: hardirq begins
  t.add_op(1, 2, Op::kStart, nullptr);     // 3
  t.add_op(0, 0, Op::kLoad, &a);           // 4  (CPU 0, not nested)
  t.add_op(1, 2, Op::kRmw, &a);            // 5
  t.add_interrupt(1, 2, 2);                // 6: NMI inside the hardirq
  t.add_op(1, 3, Op::kStore, &b);          // 7
  t.add_interrupt_end(1, 2, 2);            // 8
  t.add_clock_jump(1000);                  // 9
  t.add_op(1, 2, Op::kLoad, &b);           // 10
  t.add_interrupt_end(1, 0, 1);            // 11
  t.add_op(1, 0, Op::kStore, &a);          // 12
  r.schedule = "v1:handmade \"quoted\"";
  return r;
}

}  // namespace

TEST_CASE("trace export: tracks per CPU, op slices, nested interrupt slices") {
  const kmodel::RunResult run = handmade_run();
  const Exported x = parse_export(streamcheck::chrome_trace_json(run));
  CHECK(x.thread_names == std::map<std::uint64_t, std::string>{{0, "CPU 0"}, {1, "CPU 1"}});
  CHECK(x.ops.size() == 8);
  REQUIRE(x.interrupts.size() == 2);
  std::map<std::string, Slice> irq;
  for (const Slice& s : x.interrupts) irq[s.name] = s;
  CHECK(irq["interrupt 1"].ts == 2);
  CHECK(irq["interrupt 1"].dur == 9);
  CHECK(irq["interrupt 2"].ts == 6);
  CHECK(irq["interrupt 2"].dur == 2);
  CHECK(contains(irq["interrupt 1"], irq["interrupt 2"]));
  CHECK(x.instants == std::vector<std::string>{"clock +1000 ns"});
  check_nesting(run.trace, x);
}

TEST_CASE("trace export: an interrupt still open when a run failed ends with the trace") {
  kmodel::RunResult run = handmade_run();
  kmodel::Trace cut;
  for (std::size_t i = 0; i < 8; ++i) {  // stop inside the NMI
    const kmodel::TraceEvent& e = run.trace.events()[i];
    if (e.kind == kmodel::TraceEvent::Kind::kInterrupt) cut.add_interrupt(e.cpu, e.level, static_cast<int>(e.arg));
    else cut.add_op(e.cpu, e.level, e.op, e.object ? &e : nullptr);
  }
  run.trace = cut;
  run.outcome = kmodel::RunResult::Outcome::kFailed;
  run.message = "boom \"x\"\n";
  const Exported x = parse_export(streamcheck::chrome_trace_json(run));
  REQUIRE(x.interrupts.size() == 2);
  for (const Slice& s : x.interrupts) CHECK(s.ts + s.dur == 8);
  REQUIRE(x.instants.size() == 1);
  CHECK(x.instants[0] == "failed: boom \"x\"\n");
}

TEST_CASE("trace export: real runs with NMIs nest each handler under its interrupt") {
  auto scenario = [](kmodel::Scenario& s) {
    auto counter = std::make_shared<kmodel::Atomic<int>>(0);
    for (int cpu = 0; cpu < 2; ++cpu)
      s.on_cpu(cpu, [counter] {
        for (int i = 0; i < 4; ++i) kmodel::atomic_inc(counter.get());
      });
    s.nmi(0, [counter] { kmodel::atomic_inc(counter.get()); }, 2);
    s.hardirq(1, [counter] { kmodel::atomic_inc(counter.get()); });
  };
  kmodel::Config config{.cpus = 2, .seed = 3, .iterations = 40, .interrupt_probability = 0.5};
  int with_interrupts = 0;
  kmodel::check(config, scenario, [&](std::uint64_t, const kmodel::RunResult& r) {
    const Exported x = parse_export(streamcheck::chrome_trace_json(r));
    CHECK(x.thread_names.size() == 2);
    std::set<std::uint64_t> tids;
    for (const Slice& s : x.ops) tids.insert(s.tid);
    CHECK(tids == std::set<std::uint64_t>{0, 1});
    CHECK(x.ops.size() + x.interrupts.size() == r.steps);  // one slice per step
    with_interrupts += !x.interrupts.empty();
    check_nesting(r.trace, x);
  });
  CHECK(with_interrupts > 0);
}

TEST_CASE("json parser: accepts what the writers produce, rejects malformed text") {
  const std::string quoted = streamcheck::json_quote("a\"b\\c\n\t\x01 \xc3\xa9");
  absl::StatusOr<JsonValue> v = streamcheck::parse_json(quoted);
  REQUIRE(v.ok());
  CHECK(v->text() == "a\"b\\c\n\t\x01 \xc3\xa9");
  CHECK(streamcheck::parse_json(R"({"a": [1, -2.5e3, true, null, "\u00e9\ud83d\ude00"]})").ok());
  for (const char* bad : {"", "{", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "01", "1.", "\"\\x\"",
                          "{\"a\":1,\"a\":2}", "[1] x", "\"\x01\"", "\"\\ud800\"", "tru"}) {
    INFO(bad);
    CHECK_FALSE(streamcheck::parse_json(bad).ok());
  }
}
