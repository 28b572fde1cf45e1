#include "model/sim/trace.h"

#include <atomic>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

KMODEL_NAMESPACE_BEGIN

namespace internal {
const char* op_name(Op op) {
  switch (op) {
    case Op::kStart: return "start";
    case Op::kLoad: return "load";
    case Op::kStore: return "store";
    case Op::kRmw: return "rmw";
    case Op::kFence: return "fence";
    case Op::kRelax: return "relax";
    case Op::kClock: return "clock";
    case Op::kPageAlloc: return "page";
    case Op::kChoice: return "choice";
    case Op::kIrq: return "irqflag";
    case Op::kUser: return "point";
  }
  return "?";
}

const char* order_name(std::uint8_t order) {
  switch (static_cast<std::memory_order>(order)) {
    case std::memory_order_relaxed: return "relaxed";
    case std::memory_order_consume: return "consume";
    case std::memory_order_acquire: return "acquire";
    case std::memory_order_release: return "release";
    case std::memory_order_acq_rel: return "acq_rel";
    case std::memory_order_seq_cst: return "seq_cst";
  }
  return "?";
}
}  // namespace internal

namespace {
// The event storage (and object table) of the last trace this thread
// destroyed. A check's runs have similar lengths: reusing one buffer spares
// each run the growth of a new vector through sizes beyond malloc's fast
// bins (that was 10% of the simulator's time once events carried values and
// a caller), and of a new table through its rehashes.
struct SpareEvents {
  std::vector<TraceEvent> events;
  absl::flat_hash_map<const void*, Trace::ObjectEntry> objects;
  ~SpareEvents();
};
thread_local bool spare_gone = false;  // trivially destructible: valid at exit
thread_local SpareEvents spare;
SpareEvents::~SpareEvents() { spare_gone = true; }
constexpr std::size_t kSpareMax = 4096;  // events; a hang's trace is not kept
}  // namespace

Trace::~Trace() {
  if (spare_gone) return;
  if (objects_.capacity() > spare.objects.capacity() && objects_.capacity() <= kSpareMax) {
    objects_.clear();
    spare.objects.swap(objects_);
  }
  if (events_.capacity() == 0 || events_.capacity() > kSpareMax) return;
  if (spare.events.capacity() >= events_.capacity()) return;
  events_.clear();
  spare.events.swap(events_);
}

void Trace::reuse_buffer() {
  if (spare_gone) return;
  if (objects_.empty() && spare.objects.capacity() > objects_.capacity())
    objects_.swap(spare.objects);
  if (!events_.empty() || spare.events.capacity() <= events_.capacity()) return;
  events_.swap(spare.events);
}

namespace {
bool same_file(const char* a, const char* b) {
  return a == b || (a != nullptr && b != nullptr && std::strcmp(a, b) == 0);
}
}  // namespace

bool TraceEvent::operator==(const TraceEvent& o) const {
  using internal::Access;
  if (kind != o.kind || cpu != o.cpu || level != o.level || op != o.op || object != o.object ||
      arg != o.arg || at.line != o.at.line || !same_file(at.file, o.at.file))
    return false;
  const Access& a = access;
  const Access& b = o.access;
  if (a.flags != b.flags || a.order != b.order || !same_file(a.what, b.what)) return false;
  if (a.flags & Access::kPointer) return true;  // addresses differ between runs
  return a.read == b.read && a.written == b.written && a.expected == b.expected;
}

std::string access_value_text(const internal::Access& access, std::uint64_t bits) {
  using internal::Access;
  if (access.flags & Access::kPointer) return absl::StrCat("0x", absl::Hex(bits));
  if (access.flags & Access::kSigned) return absl::StrCat(static_cast<std::int64_t>(bits));
  return absl::StrCat(bits);
}

std::string access_text(const internal::Access& a) {
  using internal::Access;
  auto v = [&a](std::uint64_t bits) { return access_value_text(a, bits); };
  const bool read = a.flags & Access::kRead;
  const bool written = a.flags & Access::kWritten;
  if (a.flags & Access::kExpected) {
    std::string out = absl::StrCat(a.what, " ", v(a.expected), " -> ", v(a.written));
    if (a.flags & Access::kOk) return absl::StrCat(out, " ok");
    return absl::StrCat(out, " failed, saw ", v(a.read));
  }
  if (read && written) return absl::StrCat(a.what, " ", v(a.read), " -> ", v(a.written));
  if (read) return absl::StrCat("= ", v(a.read));
  if (written) return absl::StrCat(":= ", v(a.written));
  return "";
}

std::string location_text(const internal::SrcLoc& at, bool full_path) {
  if (at.file == nullptr) return "";
  absl::string_view file = at.file;
  if (full_path) {
    while (file.substr(0, 2) == "./") file.remove_prefix(2);
    return absl::StrCat(file, ":", at.line);
  }
  if (const std::size_t slash = file.rfind('/'); slash != absl::string_view::npos)
    file.remove_prefix(slash + 1);
  return absl::StrCat("@", file, ":", at.line);
}

std::uint32_t Trace::object_id(const void* addr) {
  if (addr == nullptr) return 0;
  return numbered_object(addr).number;
}

Trace::ObjectEntry& Trace::numbered_object(const void* addr) {
  ObjectEntry& e = objects_[addr];
  if (e.number == 0) e.number = ++numbered_;
  return e;
}

namespace {
TraceEvent make_event(TraceEvent::Kind kind, int cpu, unsigned level, std::uint64_t arg) {
  TraceEvent e;
  e.kind = kind;
  e.cpu = static_cast<std::uint8_t>(cpu);
  e.level = static_cast<std::uint8_t>(level);
  e.arg = arg;
  return e;
}
}  // namespace

void Trace::add_op(int cpu, unsigned level, internal::Op op, const void* addr,
                   internal::SrcLoc at) {
  add_numbered_op(cpu, level, op, object_id(addr), at);
}

void Trace::add_numbered_op(int cpu, unsigned level, internal::Op op, std::uint32_t object,
                            internal::SrcLoc at) {
  TraceEvent e = make_event(TraceEvent::Kind::kOp, cpu, level, 0);
  e.op = op;
  e.object = object;
  e.at = at;
  events_.push_back(e);
}

void Trace::set_access(std::size_t index, const internal::Access& access) {
  if (index < events_.size() && events_[index].kind == TraceEvent::Kind::kOp)
    events_[index].access = access;
}

void Trace::add_interrupt(int cpu, unsigned level, int interrupt) {
  events_.push_back(make_event(TraceEvent::Kind::kInterrupt, cpu, level,
                               static_cast<std::uint64_t>(interrupt)));
}

void Trace::add_interrupt_end(int cpu, unsigned level, int interrupt) {
  events_.push_back(make_event(TraceEvent::Kind::kInterruptEnd, cpu, level,
                               static_cast<std::uint64_t>(interrupt)));
}

void Trace::add_clock_jump(std::uint64_t ns) {
  events_.push_back(make_event(TraceEvent::Kind::kClockJump, 0, 0, ns));
}

std::string Trace::timeline(int cpus, std::size_t max_rows, bool details) const {
  static constexpr const char* kLevel[] = {"", "softirq:", "hardirq:", "nmi:"};
  constexpr int kWidth = 22;
  std::string out = absl::StrFormat("%6s", "step");
  for (int c = 0; c < cpus; ++c) out += absl::StrFormat("  %-*s", kWidth, absl::StrCat("CPU", c));
  if (details) out += "  values @caller";
  out += '\n';
  const std::size_t first = events_.size() > max_rows ? events_.size() - max_rows : 0;
  if (first > 0) absl::StrAppend(&out, "   ... ", first, " earlier steps\n");
  for (std::size_t i = first; i < events_.size(); ++i) {
    const TraceEvent& e = events_[i];
    std::string cell;
    switch (e.kind) {
      case TraceEvent::Kind::kOp:
        cell = absl::StrCat(kLevel[e.level & 3], internal::op_name(e.op));
        if (e.object != 0) absl::StrAppend(&cell, " #", e.object);
        break;
      case TraceEvent::Kind::kInterrupt:
        cell = e.arg == 0 ? std::string(">> irq_work") : absl::StrCat(">> interrupt ", e.arg);
        break;
      case TraceEvent::Kind::kInterruptEnd:
        cell = e.arg == 0 ? std::string("<< irq_work") : absl::StrCat("<< interrupt ", e.arg);
        break;
      case TraceEvent::Kind::kClockJump:
        absl::StrAppend(&out, absl::StrFormat("%6d", i), "  -- clock +", e.arg, " ns --\n");
        continue;
    }
    out += absl::StrFormat("%6d", i);
    for (int c = 0; c < cpus; ++c)
      out += absl::StrFormat("  %-*s", kWidth, c == e.cpu ? cell : std::string());
    if (details && e.kind == TraceEvent::Kind::kOp) {
      const std::string values = access_text(e.access);
      const std::string where = location_text(e.at);
      if (!values.empty() || !where.empty())
        absl::StrAppend(&out, "  ", values, values.empty() || where.empty() ? "" : "  ", where);
    }
    out += '\n';
  }
  return out;
}

KMODEL_NAMESPACE_END
