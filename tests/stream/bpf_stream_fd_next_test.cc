// tests/stream/bpf_stream_fd_next_test.cc: the `next` profile's stream fds,
// natively on CPU 0: the open path's errors, non-blocking reads, poll, EOF
// only when dead and drained, the readable count, the stream outliving its
// program while an fd is open, the irq_work notification's deferral; a
// reader on CPU 1 blocked in read and ended by a signal.
#include <catch2/catch.hpp>

#include <atomic>
#include <cerrno>
#include <string>
#include <thread>

#include "alloc/stream_elem.h"
#include "model/native/cpu_binding.h"
#include "model/page_alloc.h"
#include "model/profile.h"
#include "stream/bpf_prog.h"
#include "stream/bpf_stream.h"
#include "stream/bpf_stream_fd.h"

using namespace kmodel;

namespace {

struct Fixture {
  native::CpuBinding cpu{0};
  ScopedProfile profile{Profile::kNext};
  bpf_fd_table table;
  int prog_fd = -1;
  bpf_prog* prog = nullptr;
  Fixture() {
    set_page_fault_policy(PageFaultPolicy::never());
    prog_fd = bpf_prog_load_bare(&table, "streamer", 8);
    prog = bpf_prog_get(&table, prog_fd);
    bpf_prog_put(prog);  // the fd keeps it
  }
  ~Fixture() {
    bpf_fd_table_release(&table);  // the last put syncs the notification
    bpf_stream_alloc_drain_all();
    CHECK(bpf_stream_alloc_stats_read().elems_live == 0);
  }
  bpf_stream* out() { return bpf_stream_get(BPF_STDOUT, prog); }
  void push(const std::string& s) {
    REQUIRE(bpf_stream_push_str(out(), s.data(), static_cast<int>(s.size())) == 0);
  }
  int open(u32 flags = BPF_F_STREAM_NONBLOCK, int id = BPF_STDOUT) {
    bpf_prog_stream_open_opts opts;
    opts.flags = flags;
    return bpf_prog_stream_open(&table, prog_fd, id, &opts);
  }
};

}  // namespace

TEST_CASE("next: open validates the prog fd, the stream id and the flags, changing nothing") {
  Fixture f;
  const int other = bpf_fd_install_file(&f.table, bpf_fd_kind::kMap);
  const std::size_t fds_before = f.table.fds.size();
  CHECK(bpf_prog_stream_new_fd(&f.table, -1, BPF_STDOUT, 0) == -EBADF);
  CHECK(bpf_prog_stream_new_fd(&f.table, 100, BPF_STDOUT, 0) == -EBADF);
  CHECK(bpf_prog_stream_new_fd(&f.table, other, BPF_STDOUT, 0) == -EINVAL);
  CHECK(bpf_prog_stream_open(&f.table, f.prog_fd, 0, nullptr) == -ENOENT);
  CHECK(bpf_prog_stream_open(&f.table, f.prog_fd, 3, nullptr) == -ENOENT);
  CHECK(f.open(BPF_F_RDONLY) == -EINVAL);
  CHECK(f.open(BPF_F_WRONLY) == -EINVAL);
  CHECK(f.open(1U << 31) == -EINVAL);
  CHECK(f.table.fds.size() == fds_before);
  CHECK(refcount_read(&f.out()->refcnt) == 1);
  const int fd = f.open(0, BPF_STDERR);
  REQUIRE(fd >= BPF_FD_BASE);
  CHECK(refcount_read(&bpf_stream_get(BPF_STDERR, f.prog)->refcnt) == 2);
  CHECK(bpf_stream_fd_read(&f.table, f.prog_fd, nullptr, 1) == -EBADF);  // not a stream fd
  CHECK(bpf_prog_close_fd(&f.table, fd) == 0);
  CHECK(refcount_read(&bpf_stream_get(BPF_STDERR, f.prog)->refcnt) == 1);
}

TEST_CASE("next: the command does not exist under the other profiles") {
  native::CpuBinding cpu{0};
  bpf_fd_table table;
  const int prog_fd = bpf_prog_load_bare(&table, "old", 4);
  for (Profile p : {Profile::kSeed, Profile::kLinux618, Profile::kMainline}) {
    ScopedProfile profile(p);
    INFO(profile_name(p));
    CHECK(bpf_prog_stream_open(&table, prog_fd, BPF_STDOUT, nullptr) == -EINVAL);
  }
  bpf_fd_table_release(&table);
}

TEST_CASE("next: non-blocking read is -EAGAIN only when nothing is readable; readable tracks "
          "the bytes queued and not read") {
  Fixture f;
  const int fd = f.open();
  REQUIRE(fd >= 0);
  char buf[16];
  CHECK(bpf_stream_fd_read(&f.table, fd, buf, sizeof(buf)) == -EAGAIN);
  CHECK(bpf_stream_fd_read(&f.table, fd, buf, 0) == 0);
  CHECK(bpf_stream_fd_poll(&f.table, fd) == 0);
  f.push("hello");
  f.push("world!");
  CHECK(atomic_read(&f.out()->readable) == 11);
  CHECK(bpf_stream_fd_poll(&f.table, fd) == (EPOLLIN | EPOLLRDNORM));
  CHECK(bpf_stream_fd_read(&f.table, fd, buf, 3) == 3);
  CHECK(std::string(buf, 3) == "hel");
  CHECK(atomic_read(&f.out()->readable) == 8);
  CHECK(bpf_stream_fd_read(&f.table, fd, buf, sizeof(buf)) == 8);
  CHECK(std::string(buf, 8) == "loworld!");
  CHECK(atomic_read(&f.out()->readable) == 0);
  CHECK(bpf_stream_fd_read(&f.table, fd, buf, sizeof(buf)) == -EAGAIN);
  // The BY_FD syscall reads the same count down.
  f.push("abc");
  CHECK(bpf_prog_stream_read_by_fd(&f.table, f.prog_fd, BPF_STDOUT, buf, 2) == 2);
  CHECK(atomic_read(&f.out()->readable) == 1);
  // A report (the stage commit) publishes its whole length at once.
  bpf_stream_stage ss;
  CHECK(bpf_stream_stage(ss, f.prog, BPF_STDOUT, (bpf_stream_printk(ss, "xy\n"))) == 0);
  CHECK(atomic_read(&f.out()->readable) == 4);
  CHECK(bpf_stream_fd_read(&f.table, fd, buf, sizeof(buf)) == 4);
  CHECK(std::string(buf, 4) == "cxy\n");
}

TEST_CASE("next: notification only on empty to non-empty, deferred to irq_work_run") {
  Fixture f;
  wait_queue_entry poller;
  bpf_stream_file* file = bpf_stream_file_get(&f.table, f.open());
  REQUIRE(file != nullptr);
  CHECK(bpf_stream_poll(file, &poller) == 0);  // registered
  f.push("a");
  CHECK(atomic_read(&f.out()->notify_work.flags) == IRQ_WORK_PENDING);
  CHECK(atomic_read(&poller.woken) == 0);  // deferred: not woken inside the write
  irq_work_run();
  CHECK(atomic_read(&poller.woken) == 1);
  CHECK(atomic_read(&f.out()->notify_work.flags) == 0);
  atomic_set(&poller.woken, 0);
  f.push("b");  // not a transition from empty: no notification
  CHECK(atomic_read(&f.out()->notify_work.flags) == 0);
  irq_work_run();
  CHECK(atomic_read(&poller.woken) == 0);
  finish_wait(&f.out()->waitq, &poller);
  // A program run that returns to task context runs the queued work.
  char buf[4];
  CHECK(bpf_stream_file_read(file, buf, sizeof(buf)) == 2);
  bpf_prog_run(f.prog, [&] {
    f.push("c");
    return 0;
  });
  CHECK(atomic_read(&f.out()->notify_work.flags) == 0);
}

TEST_CASE("next: EOF only when dead and drained; the fd keeps the stream past the program") {
  native::CpuBinding cpu{0};
  ScopedProfile profile{Profile::kNext};
  set_page_fault_policy(PageFaultPolicy::never());
  bpf_fd_table table;
  const int prog_fd = bpf_prog_load_bare(&table, "dying", 4);
  const int fd = bpf_prog_stream_open(&table, prog_fd, BPF_STDOUT, nullptr);  // blocking
  REQUIRE(fd >= 0);
  bpf_prog* prog = bpf_prog_get(&table, prog_fd);
  bpf_stream* stream = bpf_stream_get(BPF_STDOUT, prog);
  REQUIRE(bpf_stream_push_str(stream, "last words", 10) == 0);
  bpf_prog_put(prog);
  CHECK(bpf_prog_close_fd(&table, prog_fd) == 0);  // the program is freed here
  CHECK(bpf_prog_registry_count() == 0);
  CHECK(refcount_read(&stream->refcnt) == 1);  // the stream fd's
  CHECK(bpf_stream_fd_poll(&table, fd) == (EPOLLIN | EPOLLRDNORM | EPOLLHUP));
  char buf[4];
  std::string got;
  for (int n; (n = bpf_stream_fd_read(&table, fd, buf, sizeof(buf))) > 0;)
    got.append(buf, static_cast<std::size_t>(n));
  CHECK(got == "last words");
  CHECK(bpf_stream_fd_read(&table, fd, buf, sizeof(buf)) == 0);  // EOF, not a sleep
  CHECK(bpf_stream_fd_poll(&table, fd) == EPOLLHUP);
  irq_work_run();
  CHECK(bpf_prog_close_fd(&table, fd) == 0);  // frees the stream
  CHECK(bpf_stream_fd_poll(&table, fd) == -EBADF);
  bpf_fd_table_release(&table);
  bpf_stream_alloc_drain_all();
  CHECK(bpf_stream_alloc_stats_read().elems_live == 0);
}

TEST_CASE("next: a signal ends a blocked read with -ERESTARTSYS, nothing consumed") {
  Fixture f;  // CPU 0: the signaller and writer
  const int fd = f.open(0);  // blocking
  REQUIRE(fd >= 0);
  std::atomic<int> first{1}, second{1};
  std::string got;
  std::thread reader([&] {
    native::CpuBinding cpu{1};
    char buf[8];
    first.store(bpf_stream_fd_read(&f.table, fd, buf, sizeof(buf)));
    const bool pending = signal_pending();
    clear_signal_pending();  // delivered; the read restarts
    const int n = bpf_stream_fd_read(&f.table, fd, buf, sizeof(buf));
    if (n > 0) got.assign(buf, static_cast<std::size_t>(n));
    second.store(pending ? n : -1000);
  });
  // The reader is on the wait queue (asleep, or about to check and sleep).
  while (waitqueue_len(&f.out()->waitq) == 0) cpu_relax();
  signal_wake_up(1);
  while (first.load() == 1) cpu_relax();
  CHECK(first.load() == -ERESTARTSYS);
  CHECK(atomic_read(&f.out()->readable) == 0);
  f.push("after");
  irq_work_run();  // this CPU's notification wakes the restarted read
  reader.join();
  CHECK(second.load() == 5);
  CHECK(got == "after");
}
