// stream/bpf_stream_fd.h: the `next` profile's pollable stream fds: a
// program's stream opened by user space as a file ("bpf-stream") that can be
// read (blocking or not), polled, and closed after the program is gone.
//
// Mirrors: kernel/bpf/stream.c of the in-review series "stream-fd v1"
// (kernel-patches/bpf PRs #13506/#13507, 2026: bpf_stream_publish,
// bpf_stream_has_data, bpf_stream_file_read, bpf_stream_poll,
// bpf_stream_release, bpf_prog_stream_new_fd), its syscall command and
// libbpf's bpf_prog_stream_open(). docs/next.md has the design, the kernel
// name mapping and what the model checker found.
//
// Contract
//   Writers (bpf_stream_push_str, the stage commit) call
//   bpf_stream_publish(stream, len) after their bytes are on the log: any
//   context, NMI included, never waits. It adds len to `readable` with
//   release; the writer whose add took it from 0 (atomic_add_return == len)
//   queues the stream's irq_work, which wakes the wait queue later on the
//   same CPU (stream/bpf_stream_wait.h). Outside `next` it does nothing.
//
//   The file (task context; one reader at a time per stream, as the reader
//   lock serialises them):
//     read   0 for len 0; else the bytes copied (<= readable); with nothing
//            readable: 0 (EOF) if the stream is dead, -EAGAIN for a
//            non-blocking file, else sleeps until data or death;
//            -ERESTARTSYS when a signal ends that sleep (nothing consumed;
//            user space sees -EINTR or a restarted read).
//            `dead` is read (acquire) BEFORE the data, so data published
//            before the teardown is always returned before EOF.
//     poll   registers the poller's entry on the wait queue (when given),
//            then EPOLLIN | EPOLLRDNORM while readable > 0, EPOLLHUP once
//            dead.
//     close  drops the file's reference: the stream outlives its program
//            while a file is open and is freed at the last close.
//   bpf_prog_stream_new_fd(table, prog_fd, stream_id, flags): the syscall:
//     -EBADF / -EINVAL from the prog fd (stream/bpf_prog.h, bpf_prog_get),
//     -EINVAL for any flag but BPF_F_STREAM_NONBLOCK (BPF_F_RDONLY and
//     BPF_F_WRONLY included: the file is read-only), -ENOENT for a bad
//     stream id, -EINVAL under every profile but `next` (no such command).
//     Changes no state on error. Returns the new fd.
#ifndef KMODEL_STREAM_BPF_STREAM_FD_H_
#define KMODEL_STREAM_BPF_STREAM_FD_H_

#include <sys/epoll.h>

#include "model/types.h"
#include "stream/bpf_prog.h"
#include "stream/bpf_stream.h"
#include "stream/bpf_stream_wait.h"

KMODEL_NAMESPACE_BEGIN

// The flags of the series' uapi (BPF_F_RDONLY / BPF_F_WRONLY as in
// include/uapi/linux/bpf.h; BPF_F_STREAM_NONBLOCK is the model's value).
inline constexpr u32 BPF_F_RDONLY = 1U << 3;
inline constexpr u32 BPF_F_WRONLY = 1U << 4;
inline constexpr u32 BPF_F_STREAM_NONBLOCK = 1U << 0;
inline constexpr unsigned BPF_STREAM_O_NONBLOCK = 04000;  // O_NONBLOCK

void bpf_stream_publish(bpf_stream* stream, int len);
bool bpf_stream_has_data(bpf_stream* stream);

// An open "bpf-stream" file (struct file with private_data = stream).
struct bpf_stream_file {
  bpf_stream* stream = nullptr;
  unsigned f_flags = 0;  // BPF_STREAM_O_NONBLOCK
};

int bpf_stream_file_read(bpf_stream_file* file, bpf_user_buf* buf, int len);
int bpf_stream_file_read(bpf_stream_file* file, char* buf, int len);
// pt: the poller's wait entry to register (nullptr: just the mask). A
// registered entry must be finish_wait()ed by the poller.
unsigned bpf_stream_poll(bpf_stream_file* file, wait_queue_entry* pt);

// close(): drops the file's stream reference and frees the file.
void bpf_stream_release(bpf_stream_file* file);

int bpf_prog_stream_new_fd(bpf_fd_table* table, int prog_fd, int stream_id, u32 flags);
// The open file behind a stream fd, or nullptr (closed, or not a stream).
bpf_stream_file* bpf_stream_file_get(bpf_fd_table* table, int fd);
// read(2) / poll(2) on an fd: -EBADF for anything but an open stream fd.
int bpf_stream_fd_read(bpf_fd_table* table, int fd, char* buf, int len);
int bpf_stream_fd_poll(bpf_fd_table* table, int fd);

// libbpf: bpf_prog_stream_open(prog_fd, stream_id, opts); opts may be null.
struct bpf_prog_stream_open_opts {
  u32 flags = 0;
};
int bpf_prog_stream_open(bpf_fd_table* table, int prog_fd, int stream_id,
                         const bpf_prog_stream_open_opts* opts);

// ---- Seeded bugs (simulator only; see sync/rqspinlock_seeded_bugs.h) -------------
enum class StreamFdSeededBug : unsigned {
  kNone = 0,
  // The writer decides to notify from a `readable` read before its add:
  // a reader that drains in between sleeps past the writer's data.
  kNotifyCheckedBeforePublish,
  // The reader checks for data, then registers and sleeps without checking
  // again: a notification between the two is lost.
  kCheckBeforeRegister,
  // The notification and the teardown wake one sleeper only (as if every
  // waiter were exclusive): the other readers and pollers sleep on.
  kWakeOneWaiter,
  // The sleeping read ignores a pending signal: it never returns
  // -ERESTARTSYS, and a signal that ends its sleep sends it back to sleep.
  kSignalIgnored,
};
#if KMODEL_IS_SIM
void stream_fd_seed_bug(StreamFdSeededBug bug);
bool stream_fd_seeded_bug(StreamFdSeededBug bug);
#else
constexpr bool stream_fd_seeded_bug(StreamFdSeededBug) { return false; }
#endif

KMODEL_NAMESPACE_END

#endif  // KMODEL_STREAM_BPF_STREAM_FD_H_
