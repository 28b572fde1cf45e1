// The Chrome trace-event export (cli/trace_json.h): well-formed JSON, one
// named track per CPU, op slices at their step, and interrupt slices that
// contain exactly the operations their CPU ran between the interrupt's start
// and end, for a handmade trace (nested interrupts) and for real runs; the
// values each memory operation read and wrote and its caller's file:line.
#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cli/json.h"
#include "cli/trace_json.h"
#include "model/atomic.h"
#include "model/sim/check.h"
#include "sync/llist.h"

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
  const JsonValue* args = nullptr;  // into Exported::doc
};

// The parsed export, checked for the keys every event must carry.
struct Exported {
  std::shared_ptr<JsonValue> doc;
  std::map<std::uint64_t, std::string> thread_names;  // tid -> name
  std::vector<Slice> ops, interrupts;
  std::vector<std::string> instants;
};

Exported parse_export(const std::string& json) {
  absl::StatusOr<JsonValue> doc = streamcheck::parse_json(json);
  INFO(json.substr(0, 2000));
  REQUIRE(doc.ok());
  REQUIRE(doc->find("otherData") != nullptr);
  Exported out;
  out.doc = std::make_shared<JsonValue>(*std::move(doc));
  absl::StatusOr<const JsonValue*> events =
      streamcheck::get_member(*out.doc, "traceEvents", Type::kArray);
  REQUIRE(events.ok());
  for (const JsonValue& e : (*events)->array()) {
    REQUIRE(e.is(Type::kObject));
    const std::string ph = str(e, "ph");
    CHECK(num(e, "pid") == static_cast<std::uint64_t>(streamcheck::kTracePid));
    const std::string name = str(e, "name");
    if (ph == "M") {
      if (name == "thread_name") out.thread_names[num(e, "tid")] = str(*e.find("args"), "name");
    } else if (ph == "X") {
      const JsonValue& args = *e.find("args");
      Slice s{name, num(e, "tid"), num(e, "ts"), num(e, "dur"), "", &args};
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
  r.set_schedule("v1:handmade \"quoted\"");
  return r;
}

// The text of line `line` of a source file of the workspace (a test data
// file), or "" when there is no such line.
std::string source_line(const std::string& path, std::uint64_t line) {
  std::ifstream in(path);
  std::string text;
  for (std::uint64_t i = 0; i < line && std::getline(in, text); ++i) {
  }
  return in ? text : "";
}

// "file:line" split; line 0 when malformed.
std::pair<std::string, std::uint64_t> split_at(const std::string& at) {
  const std::size_t colon = at.rfind(':');
  if (colon == std::string::npos) return {at, 0};
  return {at.substr(0, colon), std::stoull(at.substr(colon + 1))};
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

TEST_CASE("trace export: a memory operation's slice carries its values and caller") {
  using kmodel::internal::Access;
  kmodel::RunResult run = handmade_run();
  Access load;  // event 4: READ_ONCE that read -2
  load.what = "load";
  load.flags = Access::kRead | Access::kSigned;
  load.read = static_cast<std::uint64_t>(-2);
  run.trace.set_access(4, load);
  Access cas;  // event 5: a failed cmpxchg of a pointer
  cas.what = "cmpxchg";
  cas.order = static_cast<std::uint8_t>(std::memory_order_acquire);
  cas.flags = Access::kRead | Access::kWritten | Access::kExpected | Access::kPointer;
  cas.expected = 0;
  cas.read = 0x10;
  cas.written = 0xffffffffffff0000ull;
  run.trace.set_access(5, cas);
  Access big;  // event 7: a store of a value a double does not hold exactly
  big.what = "store";
  big.flags = Access::kWritten;
  big.written = (std::uint64_t{1} << 60) + 1;
  run.trace.set_access(7, big);
  const std::string json = streamcheck::chrome_trace_json(run);
  const Exported x = parse_export(json);
  INFO(json);
  std::map<std::uint64_t, const JsonValue*> args;
  for (const Slice& s : x.ops) args[s.ts] = s.args;
  REQUIRE(args.count(4) + args.count(5) + args.count(7) == 3);
  CHECK(str(*args[4], "op") == "load");
  CHECK(str(*args[4], "order") == "relaxed");
  REQUIRE(args[4]->find("value") != nullptr);
  CHECK(args[4]->find("value")->is(Type::kNumber));
  CHECK(args[4]->find("value")->text() == "-2");
  CHECK(args[4]->find("at") == nullptr);  // handmade: no caller known
  CHECK(str(*args[5], "op") == "cmpxchg");
  CHECK(str(*args[5], "order") == "acquire");
  CHECK(str(*args[5], "expected") == "0x0");
  CHECK(str(*args[5], "found") == "0x10");
  CHECK(str(*args[5], "new") == "0xffffffffffff0000");
  REQUIRE(args[5]->find("ok") != nullptr);
  CHECK(args[5]->find("ok")->is(Type::kBool));
  CHECK_FALSE(args[5]->find("ok")->boolean());
  CHECK(str(*args[7], "value") == "1152921504606846977");
  CHECK(args[0]->find("op") == nullptr);  // a start step: no memory operand
}

TEST_CASE("trace export: real llist runs name the kernel-shaped line of each cmpxchg") {
  auto scenario = [](kmodel::Scenario& s) {
    struct State {
      kmodel::llist_head head;
      kmodel::llist_node a, b;
    };
    auto st = std::make_shared<State>();
    kmodel::init_llist_head(&st->head);
    s.on_cpu(0, [st] { kmodel::llist_add(&st->a, &st->head); });
    s.on_cpu(1, [st] {
      kmodel::llist_add(&st->b, &st->head);
      kmodel::llist_del_all(&st->head);
    });
  };
  kmodel::Config config{.cpus = 2, .seed = 5, .iterations = 20};
  int cmpxchgs = 0, xchgs = 0;
  kmodel::check(config, scenario, [&](std::uint64_t, const kmodel::RunResult& r) {
    const Exported x = parse_export(streamcheck::chrome_trace_json(r));
    for (const Slice& s : x.ops) {
      if (s.args->find("op") == nullptr) continue;
      const std::string op = str(*s.args, "op");
      const auto [file, line] = split_at(str(*s.args, "at"));
      INFO(op << " at " << file << ":" << line);
      // The caller is the list's code (sync/llist.cc, sync/llist.h), never
      // model/atomic.h, and its line holds the operation.
      CHECK((file == "sync/llist.cc" || file == "sync/llist.h"));
      if (op == "cmpxchg") {
        ++cmpxchgs;
        CHECK_THAT(source_line(file, line), Catch::Contains("cmpxchg"));
        CHECK(s.args->find("expected") != nullptr);
        CHECK(s.args->find("found") != nullptr);
        CHECK(s.args->find("new") != nullptr);
        CHECK(s.args->find("ok") != nullptr);
      } else if (op == "xchg") {
        ++xchgs;
        CHECK_THAT(source_line(file, line), Catch::Contains("xchg"));
        CHECK(str(*s.args, "new") == "0x0");  // llist_del_all swaps in nullptr
      }
    }
  });
  CHECK(cmpxchgs >= 40);  // two adds a run
  CHECK(xchgs == 20);
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
