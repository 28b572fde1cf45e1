// stream/bpf_stream_fd.cc: see bpf_stream_fd.h.
#include "stream/bpf_stream_fd.h"

#include <cerrno>

#include "model/internal/hooks.h"
#include "model/machine_state.h"
#include "model/profile.h"

KMODEL_NAMESPACE_BEGIN

#if KMODEL_IS_SIM
namespace {
StreamFdSeededBug g_seeded = StreamFdSeededBug::kNone;
void reset_seeded() { g_seeded = StreamFdSeededBug::kNone; }
const MachineStateReset kReset(&reset_seeded);
}  // namespace
void stream_fd_seed_bug(StreamFdSeededBug bug) { g_seeded = bug; }
bool stream_fd_seeded_bug(StreamFdSeededBug bug) { return g_seeded == bug; }
#endif

namespace {

void bpf_stream_notify_readers(bpf_stream* stream) {
  atomic_set(&stream->notify_used, 1);
  irq_work_queue(&stream->notify_work);
}

}  // namespace

void bpf_stream_publish(bpf_stream* stream, int len) {
  if (!has_stream_fds() || len <= 0) return;
  if (stream_fd_seeded_bug(StreamFdSeededBug::kNotifyCheckedBeforePublish)) {
    const bool was_empty = atomic_read(&stream->readable) == 0;
    atomic_add_return_release(len, &stream->readable);
    if (was_empty) bpf_stream_notify_readers(stream);
    return;
  }
  // Only the empty-to-non-empty transition notifies: the reader sleeps
  // only when it saw 0, and this writer's add is the one that ended the 0.
  if (atomic_add_return_release(len, &stream->readable) == len)
    bpf_stream_notify_readers(stream);
}

bool bpf_stream_has_data(bpf_stream* stream) {
  return atomic_read_acquire(&stream->readable) > 0;
}

namespace {

bool readable_or_dead(bpf_stream* stream) {
  return bpf_stream_has_data(stream) || smp_load_acquire(&stream->dead) != 0;
}

// wait_event_interruptible(stream->waitq, has_data || dead): 0, or
// -ERESTARTSYS when a signal ends the wait first.
int bpf_stream_wait_readable(bpf_stream* stream) {
  wait_queue_entry wait;
  if (stream_fd_seeded_bug(StreamFdSeededBug::kCheckBeforeRegister)) {
    if (readable_or_dead(stream)) return 0;
    prepare_to_wait(&stream->waitq, &wait);
    wait_woken(&wait);
    finish_wait(&stream->waitq, &wait);
    return 0;
  }
  int ret = 0;
  for (;;) {
    prepare_to_wait(&stream->waitq, &wait);
    if (readable_or_dead(stream)) break;
    // The condition first, then the signal, as ___wait_event does.
    if (signal_pending() && !stream_fd_seeded_bug(StreamFdSeededBug::kSignalIgnored)) {
      ret = -ERESTARTSYS;
      break;
    }
    wait_woken(&wait);
  }
  finish_wait(&stream->waitq, &wait);
  return ret;
}

}  // namespace

int bpf_stream_file_read(bpf_stream_file* file, bpf_user_buf* buf, int len) {
  bpf_stream* stream = file->stream;
  if (len == 0) return 0;
  for (;;) {
    // Dead first: a stream seen dead here had its last data published
    // before, so the read below returns it before any EOF.
    const bool dead = smp_load_acquire(&stream->dead) != 0;
    const int ret = bpf_stream_read(stream, buf, len);
    if (ret != 0) return ret;
    if (dead) return 0;
    if (file->f_flags & BPF_STREAM_O_NONBLOCK) return -EAGAIN;
    // A signal ends the wait with nothing consumed.
    const int err = bpf_stream_wait_readable(stream);
    if (err) return err;
  }
}

int bpf_stream_file_read(bpf_stream_file* file, char* buf, int len) {
  bpf_user_buf ubuf = bpf_user_buf_of(buf, len > 0 ? static_cast<u64>(len) : 0);
  return bpf_stream_file_read(file, &ubuf, len);
}

unsigned bpf_stream_poll(bpf_stream_file* file, wait_queue_entry* pt) {
  bpf_stream* stream = file->stream;
  unsigned events = 0;
  if (pt != nullptr) prepare_to_wait(&stream->waitq, pt);  // poll_wait
  if (bpf_stream_has_data(stream)) events |= EPOLLIN | EPOLLRDNORM;
  if (smp_load_acquire(&stream->dead)) events |= EPOLLHUP;
  return events;
}

namespace {

// The open file is model memory too: in the simulator its leak and use after
// free are checked like the stream's (a failed run's stay with the machine).
bpf_stream_file* bpf_stream_file_alloc() {
  auto* file = new bpf_stream_file;
#if KMODEL_IS_SIM
  internal::track_alloc(file, sizeof(*file), "bpf_stream_file");
#endif
  return file;
}

void bpf_stream_file_delete(void* p) { delete static_cast<bpf_stream_file*>(p); }

}  // namespace

void bpf_stream_release(bpf_stream_file* file) {
  bpf_stream_put(file->stream);
#if KMODEL_IS_SIM
  if (internal::track_free(file, sizeof(*file), "bpf_stream_file", &bpf_stream_file_delete)) return;
#endif
  bpf_stream_file_delete(file);
}

int bpf_prog_stream_new_fd(bpf_fd_table* table, int prog_fd, int stream_id, u32 flags) {
  if (!has_stream_fds()) return -EINVAL;  // no such command before the series
  int err = 0;
  bpf_prog* prog = bpf_prog_get(table, prog_fd, &err);
  if (prog == nullptr) return err;
  int ret;
  bpf_stream* stream = bpf_stream_get(stream_id, prog->aux);
  if (flags & ~BPF_F_STREAM_NONBLOCK) {
    ret = -EINVAL;  // BPF_F_RDONLY / BPF_F_WRONLY / unknown: the file is read-only
  } else if (stream == nullptr) {
    ret = -ENOENT;
  } else {
    refcount_inc(&stream->refcnt);
    bpf_stream_file* file = bpf_stream_file_alloc();
    file->stream = stream;
    file->f_flags = (flags & BPF_F_STREAM_NONBLOCK) ? BPF_STREAM_O_NONBLOCK : 0;
    ret = bpf_fd_install_stream(table, file);
  }
  bpf_prog_put(prog);
  return ret;
}

bpf_stream_file* bpf_stream_file_get(bpf_fd_table* table, int fd) {
  bpf_fd_file* f = bpf_fd_lookup(table, fd);
  return f != nullptr && f->kind == bpf_fd_kind::kStream ? f->stream_file : nullptr;
}

int bpf_stream_fd_read(bpf_fd_table* table, int fd, char* buf, int len) {
  bpf_stream_file* file = bpf_stream_file_get(table, fd);
  return file == nullptr ? -EBADF : bpf_stream_file_read(file, buf, len);
}

int bpf_stream_fd_poll(bpf_fd_table* table, int fd) {
  bpf_stream_file* file = bpf_stream_file_get(table, fd);
  return file == nullptr ? -EBADF : static_cast<int>(bpf_stream_poll(file, nullptr));
}

int bpf_prog_stream_open(bpf_fd_table* table, int prog_fd, int stream_id,
                         const bpf_prog_stream_open_opts* opts) {
  return bpf_prog_stream_new_fd(table, prog_fd, stream_id, opts != nullptr ? opts->flags : 0);
}

KMODEL_NAMESPACE_END
