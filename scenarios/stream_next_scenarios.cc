// scenarios/stream_next_scenarios.cc: see stream_next_scenarios.h.
//
// Each scenario loads its program and opens a stream fd in setup; writers
// are model code on a CPU (bpf_stream_push_str, as the kfunc's tail). Their
// notification runs where the simulator delivers the CPU's irq_work
// interrupt (model/cpu.h): at the writer CPU's next step with irqs on, or
// when its body ends; no scenario runs it by hand. The end check closes
// every fd and drains the allocators: the machine's leak check follows.
#include "scenarios/stream_next_scenarios.h"

#include <algorithm>
#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "alloc/stream_elem.h"
#include "model/bug.h"
#include "model/cpu.h"
#include "model/page_alloc.h"
#include "model/profile.h"
#include "scenarios/catalogue.h"
#include "stream/bpf_prog.h"
#include "stream/bpf_stream.h"
#include "stream/bpf_stream_fd.h"

KMODEL_NAMESPACE_BEGIN
namespace stream_next_scenarios {

namespace {

struct State {
  bpf_fd_table table;
  int prog_fd = -1;
  int fd = -1;  // the stream fd (BPF_STDOUT)
  bpf_stream* stream = nullptr;
  std::string text;  // everything the reader got, in order

  explicit State(u32 flags) {
    set_page_fault_policy(PageFaultPolicy::never());
    prog_fd = bpf_prog_load_bare(&table, "next", 8);
    bpf_prog* prog = bpf_prog_get(&table, prog_fd);
    stream = bpf_stream_get(BPF_STDOUT, prog);
    bpf_prog_put(prog);
    bpf_prog_stream_open_opts opts;
    opts.flags = flags;
    fd = bpf_prog_stream_open(&table, prog_fd, BPF_STDOUT, &opts);
    MODEL_ASSERT(fd >= 0, absl::StrCat("setup: bpf_prog_stream_open returned ", fd));
  }
  // A failed run never reaches teardown: its open files stay allocated, as
  // the machine keeps a failed run's blocks (never reused, never freed).
  ~State() {
    if (table.fds.empty()) return;
    static auto* kept = new std::vector<bpf_fd_table>;
    kept->push_back(std::move(table));
  }
  bpf_stream_file* file() { return bpf_stream_file_get(&table, fd); }
  void write(const char* s) {
    const int len = static_cast<int>(std::char_traits<char>::length(s));
    const int ret = bpf_stream_push_str(stream, s, len);
    MODEL_ASSERT(ret == 0, absl::StrCat("write \"", s, "\" failed: ", ret));
  }
  void check_readable_sane(const char* when) {
    const int r = atomic_read(&stream->readable);
    MODEL_ASSERT(r >= 0, absl::StrCat("readable went negative (", r, ") ", when));
  }
  // A read of the file; appends what it got.
  int read(int len) {
    char buf[16];
    const int n = bpf_stream_file_read(file(), buf, len);
    if (n > 0) text.append(buf, static_cast<std::size_t>(n));
    check_readable_sane("after a read");
    return n;
  }
  void teardown() {
    bpf_fd_table_release(&table);
    bpf_stream_alloc_drain_all();
  }
};

// Bytes queued and not yet read (end checks only: no CPU runs).
int unread_bytes(bpf_stream* stream) {
  int bytes = 0;
  for (llist_node* n = stream->backlog_head; n != nullptr; n = llist_next(n)) {
    bpf_stream_elem* e = llist_entry(n, bpf_stream_elem, node);
    bytes += e->total_len - e->consumed_len;
    if (n == stream->backlog_tail) break;
  }
  for (llist_node* n = READ_ONCE(stream->log.first); n != nullptr; n = llist_next(n))
    bytes += llist_entry(n, bpf_stream_elem, node)->total_len;
  return bytes;
}

void check_readable_equals_unread(bpf_stream* stream, const char* when) {
  const int r = atomic_read(&stream->readable), q = unread_bytes(stream);
  MODEL_ASSERT(r == q, absl::StrCat("readable ", r, " != ", q, " bytes queued and not yet read ",
                                    when));
}

void lost_wakeup(Scenario& s, int ctx, StreamFdSeededBug bug) {
  auto st = std::make_shared<State>(0);  // blocking
  if (bug != StreamFdSeededBug::kNone) stream_fd_seed_bug(bug);
  st->write("ab");
  irq_work_run();  // setup runs as CPU 0: its notification is delivered now
  const int slept = s.goal("the reader found the stream empty and slept, then was woken");
  s.on_cpu(0, [st, slept] {
    while (st->text.size() < 5) {
      const bool empty = atomic_read(&st->stream->readable) == 0;
      const int n = st->read(8);
      MODEL_ASSERT(n > 0, absl::StrCat("blocking read of a live stream returned ", n));
      if (empty && st->text.size() == 5) reached(slept);
    }
  });
  s.on_cpu(1, [st, ctx] {
    if (ctx < 0) {
      st->write("xyz");
    } else {
      InterruptContext in(static_cast<IrqKind>(ctx));
      st->write("xyz");
    }
  });
  s.at_end([st] {
    MODEL_ASSERT(st->text == "abxyz", absl::StrCat("reader got \"", st->text, "\""));
    check_readable_equals_unread(st->stream, "at the end");
    st->teardown();
  });
}

}  // namespace

void no_lost_wakeup_task(Scenario& s) { lost_wakeup(s, -1, StreamFdSeededBug::kNone); }
void no_lost_wakeup_hardirq(Scenario& s) {
  lost_wakeup(s, static_cast<int>(IrqKind::kHardirq), StreamFdSeededBug::kNone);
}
void no_lost_wakeup_nmi(Scenario& s) {
  lost_wakeup(s, static_cast<int>(IrqKind::kNmi), StreamFdSeededBug::kNone);
}
void lost_wakeup_notify_before_publish(Scenario& s) {
  lost_wakeup(s, -1, StreamFdSeededBug::kNotifyCheckedBeforePublish);
}
void lost_wakeup_check_before_register(Scenario& s) {
  lost_wakeup(s, -1, StreamFdSeededBug::kCheckBeforeRegister);
}

void nmi_on_reader_cpu(Scenario& s) {
  auto st = std::make_shared<State>(0);  // blocking
  auto nmi_wrote = std::make_shared<bool>(false);
  st->write("ab");
  irq_work_run();
  const int nmi_empty = s.goal("the NMI's write made the stream non-empty (its irq_work is queued "
                               "on the reader's CPU)");
  s.on_cpu(0, [st] {
    while (st->text.find('!') == std::string::npos) {
      const int n = st->read(8);
      MODEL_ASSERT(n > 0, absl::StrCat("blocking read of a live stream returned ", n));
    }
  });
  s.nmi(0, [st, nmi_wrote, nmi_empty] {
    if (atomic_read(&st->stream->readable) == 0) reached(nmi_empty);
    st->write("xyz");
    *nmi_wrote = true;
  });
  s.on_cpu(1, [st] {
    st->write("cd!");
  });
  s.at_end([st, nmi_wrote] {
    check_readable_equals_unread(st->stream, "at the end");
    char buf[16];
    for (int n; (n = bpf_stream_read(st->stream, buf, sizeof(buf))) > 0;)
      st->text.append(buf, static_cast<std::size_t>(n));
    std::string sorted = st->text;
    std::sort(sorted.begin(), sorted.end());
    std::string want = *nmi_wrote ? "!abcdxyz" : "!abcd";
    std::sort(want.begin(), want.end());
    MODEL_ASSERT(sorted == want, absl::StrCat("read \"", st->text, "\"", *nmi_wrote ? " (the NMI wrote)" : ""));
    st->teardown();
  });
}

namespace {

// The reader on CPU 1 blocks on an empty stream; the only writer is an
// interrupt on CPU 1 itself. When it arrives while the reader sleeps, the CPU
// is idle: the handler's notification runs there after it (the irq_work
// interrupt) and must wake the reader.
void irq_writer_on_sleeping_reader(Scenario& s, IrqKind kind, StreamFdSeededBug bug) {
  auto st = std::make_shared<State>(0);  // blocking, empty
  if (bug != StreamFdSeededBug::kNone) stream_fd_seed_bug(bug);
  const int asleep = s.goal(absl::StrCat("the ", irq_kind_name(kind),
                                         " wrote while the reader slept on the wait queue "
                                         "(its CPU idle)"));
  s.on_cpu(1, [st] {
    while (st->text.size() < 3) {
      const int n = st->read(8);
      MODEL_ASSERT(n > 0, absl::StrCat("blocking read of a live stream returned ", n));
    }
  });
  auto handler = [st, asleep] {
    if (cpu_is_idle()) reached(asleep);
    st->write("xyz");
  };
  if (kind == IrqKind::kNmi) s.nmi(1, handler);
  else s.hardirq(1, handler);
  s.at_end([st] {
    MODEL_ASSERT(st->text == "xyz", absl::StrCat("reader got \"", st->text, "\""));
    check_readable_equals_unread(st->stream, "at the end");
    st->teardown();
  });
}

}  // namespace

void nmi_writes_while_reader_asleep(Scenario& s) {
  irq_writer_on_sleeping_reader(s, IrqKind::kNmi, StreamFdSeededBug::kNone);
}
void hardirq_writes_while_reader_asleep(Scenario& s) {
  irq_writer_on_sleeping_reader(s, IrqKind::kHardirq, StreamFdSeededBug::kNone);
}
void nmi_writes_while_reader_asleep_check_before_register(Scenario& s) {
  irq_writer_on_sleeping_reader(s, IrqKind::kNmi, StreamFdSeededBug::kCheckBeforeRegister);
}

namespace {

// CPUs 0 and 1 read (blocking) until EOF; CPU 2 polls, sleeping on its entry
// between polls, until EPOLLHUP; CPU 3 waits until all three are on the wait
// queue, writes "abc" and, once the poller has been woken (or seen EPOLLIN),
// kills the program. Nobody may sleep through the data or the death: a
// waiter the wake-ups skip is a hang. (A poller that registers only after
// the readers drained the data has nothing to be woken for: hence the wait
// for all three.)
void several_waiters(Scenario& s, StreamFdSeededBug bug) {
  auto st = std::make_shared<State>(0);
  if (bug != StreamFdSeededBug::kNone) stream_fd_seed_bug(bug);
  auto texts = std::make_shared<std::string[]>(2);
  // Set by the poller when it sees EPOLLIN or is woken: before the write
  // nothing wakes it, so either means the data reached it.
  auto poller_saw_in = std::make_shared<Atomic<int>>(0);
  const int poller_woken = s.goal("the data's wake-up woke the sleeping poller");
  const int death_woke = s.goal("a reader was still asleep when the program died");
  for (int cpu : {0, 1}) {
    s.on_cpu(cpu, [st, texts, cpu] {
      char buf[8];
      for (int n; (n = bpf_stream_file_read(st->file(), buf, sizeof(buf))) != 0;) {
        MODEL_ASSERT(n > 0, absl::StrCat("blocking read on CPU ", cpu, " returned ", n));
        texts[cpu].append(buf, static_cast<std::size_t>(n));
      }
      // EOF: dead and drained.
      MODEL_ASSERT(smp_load_acquire(&st->stream->dead) == 1, "EOF from a stream that is not dead");
    });
  }
  s.on_cpu(2, [st, poller_saw_in, poller_woken] {
    wait_queue_entry entry;
    for (;;) {
      const unsigned ev = bpf_stream_poll(st->file(), &entry);  // registers, then the mask
      if (ev & EPOLLIN) atomic_set(poller_saw_in.get(), 1);
      if (ev & EPOLLHUP) break;
      wait_woken(&entry);  // until the next wake-up: the data's or the death's
      if (smp_load_acquire(&st->stream->dead) == 0) reached(poller_woken);
      atomic_set(poller_saw_in.get(), 1);
    }
    finish_wait(&st->stream->waitq, &entry);
  });
  s.on_cpu(3, [st, poller_saw_in, death_woke] {
    while (waitqueue_len(&st->stream->waitq) < 3) cpu_relax();
    st->write("abc");
    // The poller must learn of the data while the program lives.
    while (atomic_read(poller_saw_in.get()) == 0) cpu_relax();
    if (waitqueue_len(&st->stream->waitq) >= 2) reached(death_woke);  // the poller and a reader
    MODEL_ASSERT(bpf_prog_close_fd(&st->table, st->prog_fd) == 0, "closing the prog fd");
  });
  s.at_end([st, texts] {
    MODEL_ASSERT(texts[0] + texts[1] == "abc" || texts[1] + texts[0] == "abc",
                 absl::StrCat("readers got \"", texts[0], "\" and \"", texts[1], "\""));
    st->teardown();
  });
}

// CPU 0 reads (blocking) the empty stream; a hardirq on CPU 0 (a timer's
// signal) signals its task; CPU 1 writes "ab". A read the signal ends
// returns -ERESTARTSYS with nothing consumed; the restarted read (the signal
// delivered) gets every byte.
void signal_ends_read(Scenario& s, bool writer, StreamFdSeededBug bug) {
  auto st = std::make_shared<State>(0);
  if (bug != StreamFdSeededBug::kNone) stream_fd_seed_bug(bug);
  auto signalled_asleep = std::make_shared<bool>(false);
  const int restart = s.goal("a signal woke the reader asleep: -ERESTARTSYS, nothing consumed");
  const std::string want = writer ? "ab" : "";
  s.on_cpu(0, [st, signalled_asleep, restart, want] {
    // Reads until it has every byte and one read ended with the signal
    // (data is read before a pending signal counts: the condition first).
    bool interrupted = false;
    while (st->text.size() < want.size() || !interrupted) {
      const int n = st->read(8);
      if (n == -ERESTARTSYS) {
        MODEL_ASSERT(signal_pending(), "-ERESTARTSYS without a pending signal");
        MODEL_ASSERT(st->text.empty() || st->text.size() == want.size(),
                     "-ERESTARTSYS after a partial read");
        if (*signalled_asleep) reached(restart);
        interrupted = true;
        clear_signal_pending();  // delivered on the way out; the read restarts
        continue;
      }
      MODEL_ASSERT(n > 0, absl::StrCat("blocking read of a live stream returned ", n));
    }
  });
  s.hardirq(0, [signalled_asleep] {
    *signalled_asleep = cpu_is_idle();
    signal_wake_up(smp_processor_id());
  });
  if (writer) s.on_cpu(1, [st] { st->write("ab"); });
  s.at_end([st, want] {
    MODEL_ASSERT(st->text == want, absl::StrCat("reader got \"", st->text, "\""));
    check_readable_equals_unread(st->stream, "at the end");
    st->teardown();
  });
}

}  // namespace

void several_waiters_all_woken(Scenario& s) { several_waiters(s, StreamFdSeededBug::kNone); }
void several_waiters_wake_one(Scenario& s) {
  several_waiters(s, StreamFdSeededBug::kWakeOneWaiter);
}
void signal_interrupts_read(Scenario& s) {
  signal_ends_read(s, /*writer=*/false, StreamFdSeededBug::kNone);
}
void signal_and_writer(Scenario& s) {
  signal_ends_read(s, /*writer=*/true, StreamFdSeededBug::kNone);
}
void signal_ignored(Scenario& s) {
  signal_ends_read(s, /*writer=*/false, StreamFdSeededBug::kSignalIgnored);
}

void eof_when_dead_and_drained(Scenario& s) {
  auto st = std::make_shared<State>(0);
  auto written = std::make_shared<std::string>();
  const int hup = s.goal("EPOLLHUP seen with the last data still readable");
  s.on_cpu(1, [st, written] {
    st->write("12");
    st->write("345");
    *written = "12345";
    // The program dies: its last fd closes; the stream fd keeps the stream.
    MODEL_ASSERT(bpf_prog_close_fd(&st->table, st->prog_fd) == 0, "closing the prog fd");
  });
  s.on_cpu(0, [st, hup] {
    for (;;) {
      const unsigned ev = bpf_stream_poll(st->file(), nullptr);
      if ((ev & EPOLLHUP) && (ev & EPOLLIN)) reached(hup);
      const int n = st->read(2);
      if (n == 0) break;
      MODEL_ASSERT(n > 0, absl::StrCat("blocking read returned ", n));
    }
    // EOF: the stream must be dead and drained.
    MODEL_ASSERT(smp_load_acquire(&st->stream->dead) == 1, "EOF from a stream that is not dead");
    MODEL_ASSERT(atomic_read(&st->stream->readable) == 0, "EOF with bytes still readable");
    MODEL_ASSERT(bpf_stream_poll(st->file(), nullptr) == EPOLLHUP,
                 "a dead, drained stream polls EPOLLHUP only");
    // Closing the last fd frees the stream (use after this is a UAF).
    MODEL_ASSERT(bpf_prog_close_fd(&st->table, st->fd) == 0, "closing the stream fd");
  });
  s.at_end([st, written] {
    MODEL_ASSERT(st->text == *written,
                 absl::StrCat("EOF before the data: read \"", st->text, "\" of \"", *written, "\""));
    st->teardown();
  });
}

void nonblock_eagain(Scenario& s) {
  auto st = std::make_shared<State>(BPF_F_STREAM_NONBLOCK);
  const int eagain = s.goal("a non-blocking read found nothing readable (-EAGAIN)");
  const int got = s.goal("a non-blocking read got data");
  for (int cpu : {1, 2}) {
    s.on_cpu(cpu, [st, cpu] {
      st->write(cpu == 1 ? "a1" : "b22");
      st->check_readable_sane("after a write");
      st->write(cpu == 1 ? "a3" : "b4");
    });
  }
  s.on_cpu(0, [st, eagain, got] {
    for (int i = 0; i < 4; i++) {
      // Only this reader takes bytes away: readable seen > 0 here stays > 0.
      const int before = atomic_read_acquire(&st->stream->readable);
      const int n = st->read(3);
      if (n == -EAGAIN) {
        MODEL_ASSERT(before == 0, absl::StrCat("-EAGAIN with ", before, " bytes readable"));
        reached(eagain);
      } else {
        MODEL_ASSERT(n > 0, absl::StrCat("non-blocking read of a live stream returned ", n));
        reached(got);
      }
    }
  });
  s.at_end([st] {
    check_readable_equals_unread(st->stream, "at the end");
    char buf[16];
    while (bpf_stream_file_read(st->file(), buf, sizeof(buf)) > 0) {
    }
    MODEL_ASSERT(atomic_read(&st->stream->readable) == 0, "readable after the full read");
    st->teardown();
  });
}

namespace {

using P = Profile;
using E = Expect;

const ScenarioRegistrar kNoLostWakeupTask({
    .name = "stream_next/no_lost_wakeup_task",
    .description = "a blocking reader drains and sleeps; a task-context writer makes the stream "
                   "non-empty: the reader is always woken",
    .config = {.cpus = 2, .iterations = 300},
    .scenario = no_lost_wakeup_task,
    .expect = {{P::kNext, E::kPass}},
});

const ScenarioRegistrar kNoLostWakeupHardirq({
    .name = "stream_next/no_lost_wakeup_hardirq",
    .description = "as no_lost_wakeup_task with the writer in hardirq context",
    .config = {.cpus = 2, .iterations = 300},
    .scenario = no_lost_wakeup_hardirq,
    .expect = {{P::kNext, E::kPass}},
});

const ScenarioRegistrar kNoLostWakeupNmi({
    .name = "stream_next/no_lost_wakeup_nmi",
    .description = "as no_lost_wakeup_task with the writer in NMI context (the wake-up runs "
                   "from irq_work after the NMI)",
    .config = {.cpus = 2, .iterations = 300},
    .scenario = no_lost_wakeup_nmi,
    .expect = {{P::kNext, E::kPass}},
});

const ScenarioRegistrar kSeededNotifyBeforePublish({
    .name = "stream_next/seeded_notify_before_publish",
    .description = "seeded bug: the writer decides to notify from readable read before its "
                   "add; a reader that drains in between sleeps forever",
    // PCT: the writer is preempted between its read and its add while the
    // reader drains and goes to sleep (a long run of the other CPU).
    .config = {.cpus = 2, .iterations = 2000, .max_steps = 3000,
               .strategy = StrategyKind::kPct},
    .scenario = lost_wakeup_notify_before_publish,
    .expect = {{P::kNext, expect_violation(FailureKind::kHang, "no completion within")}},
    .not_for = {{StrategyKind::kRandom,
                 "the lost wake-up needs the writer held between its read of readable and "
                 "its add while the reader drains and sleeps: a long run of one CPU that "
                 "uniform random scheduling did not make in 2000 runs (PCT, this entry's "
                 "strategy, finds it within 17)"}},
});

const ScenarioRegistrar kSeededCheckBeforeRegister({
    .name = "stream_next/seeded_check_before_register",
    .description = "seeded bug: the reader checks for data before it registers on the wait "
                   "queue; the writer's notification in between is lost",
    .config = {.cpus = 2, .iterations = 2000, .max_steps = 3000},
    .scenario = lost_wakeup_check_before_register,
    .expect = {{P::kNext, expect_violation(FailureKind::kHang, "no completion within")}},
});

const ScenarioRegistrar kNmiOnReaderCpu({
    .name = "stream_next/nmi_on_reader_cpu",
    .description = "an NMI writes on the blocked reader's own CPU (its notification is queued "
                   "there) while CPU 1 writes: the reader is woken, nothing is lost",
    .config = {.cpus = 2, .iterations = 300, .interrupt_probability = 0.2},
    .scenario = nmi_on_reader_cpu,
    .expect = {{P::kNext, E::kPass}},
});

const ScenarioRegistrar kNmiWritesWhileReaderAsleep({
    .name = "stream_next/nmi_writes_while_reader_asleep",
    .description = "the reader sleeps on an empty stream; the only writer is an NMI on the "
                   "reader's own idle CPU: its irq_work runs there after the NMI and wakes it",
    .config = {.cpus = 2, .iterations = 300},
    .scenario = nmi_writes_while_reader_asleep,
    .expect = {{P::kNext, E::kPass}},
});

const ScenarioRegistrar kHardirqWritesWhileReaderAsleep({
    .name = "stream_next/hardirq_writes_while_reader_asleep",
    .description = "as nmi_writes_while_reader_asleep with a hardirq writer",
    .config = {.cpus = 2, .iterations = 300},
    .scenario = hardirq_writes_while_reader_asleep,
    .expect = {{P::kNext, E::kPass}},
});

const ScenarioRegistrar kSeededCheckBeforeRegisterNmi({
    .name = "stream_next/seeded_check_before_register_nmi",
    .description = "seeded bug: the reader checks before it registers; the NMI on its own CPU "
                   "writes and notifies in between: the reader sleeps past the data",
    .config = {.cpus = 2, .iterations = 2000, .max_steps = 3000},
    .scenario = nmi_writes_while_reader_asleep_check_before_register,
    .expect = {{P::kNext, expect_violation(FailureKind::kHang, "no completion within")}},
});

const ScenarioRegistrar kSeveralWaiters({
    .name = "stream_next/several_waiters_all_woken",
    .description = "two blocked readers and a poller on one stream fd: all woken by the data "
                   "(the poller sees EPOLLIN) and by the death (both readers get EOF, the "
                   "poller EPOLLHUP)",
    .config = {.cpus = 4, .iterations = 300},
    .scenario = several_waiters_all_woken,
    .expect = {{P::kNext, E::kPass}},
});

const ScenarioRegistrar kSeededWakeOne({
    .name = "stream_next/seeded_wake_one_waiter",
    .description = "seeded bug: the notification and the teardown wake one waiter only; the "
                   "poller or a reader sleeps on",
    .config = {.cpus = 4, .iterations = 2000, .max_steps = 5000},
    .scenario = several_waiters_wake_one,
    .expect = {{P::kNext, expect_violation(FailureKind::kHang, "no completion within")}},
});

const ScenarioRegistrar kSignalRead({
    .name = "stream_next/signal_interrupts_read",
    .description = "a blocked read of an empty stream, signalled by a timer hardirq on its CPU: "
                   "-ERESTARTSYS, nothing consumed",
    .config = {.cpus = 1, .iterations = 300},
    .scenario = signal_interrupts_read,
    .expect = {{P::kNext, E::kPass}},
});

const ScenarioRegistrar kSignalAndWriter({
    .name = "stream_next/signal_and_writer",
    .description = "a blocked read, a signal and a writer race: -ERESTARTSYS only with nothing "
                   "consumed, the restarted read gets every byte",
    .config = {.cpus = 2, .iterations = 300},
    .scenario = signal_and_writer,
    .expect = {{P::kNext, E::kPass}},
});

const ScenarioRegistrar kSeededSignalIgnored({
    .name = "stream_next/seeded_signal_ignored",
    .description = "seeded bug: the blocked read ignores its pending signal: it never returns "
                   "-ERESTARTSYS and the signalled task cannot leave the read",
    .config = {.cpus = 1, .iterations = 100, .max_steps = 3000},
    .scenario = signal_ignored,
    .expect = {{P::kNext, expect_violation(FailureKind::kHang, "no completion within")}},
});

const ScenarioRegistrar kEof({
    .name = "stream_next/eof_when_dead_and_drained",
    .description = "a writer writes then its program dies while a reader blocks and polls: "
                   "all data before EOF, EOF only dead and drained, the fd frees the stream",
    .config = {.cpus = 2, .iterations = 300},
    .scenario = eof_when_dead_and_drained,
    .expect = {{P::kNext, E::kPass}},
});

const ScenarioRegistrar kNonblock({
    .name = "stream_next/nonblock_eagain",
    .description = "non-blocking reads against two writers: -EAGAIN only with nothing readable, "
                   "readable never negative and equal to the bytes unread",
    .config = {.cpus = 3, .iterations = 300},
    .scenario = nonblock_eagain,
    .expect = {{P::kNext, E::kPass}},
    .not_for = {{StrategyKind::kExhaustive,
                 "the goal (a non-blocking read that gets data) needs a writer to publish "
                 "between two reads of the reader: beyond the bound-2 search's runs, vacuous"}},
});

}  // namespace

}  // namespace stream_next_scenarios
KMODEL_NAMESPACE_END
