// stream/bpf_stream.cc: see bpf_stream.h.
#include "stream/bpf_stream.h"

#include <algorithm>
#include <climits>
#include <cstring>

#include <cstdarg>
#include <cstdio>

#include "model/bug.h"
#include "model/internal/hooks.h"
#include "model/profile.h"
#include "stream/bpf_prog.h"
#include "stream/bpf_stream_fd.h"
#include "stream/bpf_stream_fd.h"
#include "stream/bprintf.h"

KMODEL_NAMESPACE_BEGIN

int bpf_stream_max_capacity() {
  return current_profile() == Profile::kSeed ? BPF_STREAM_MAX_CAPACITY_SEED
                                             : BPF_STREAM_MAX_CAPACITY;
}

void bpf_stream_reader_lock_acquire(bpf_stream_reader_lock* lock) {
  for (;;) {
    int expected = 0;
    if (try_cmpxchg_acquire(&lock->locked, &expected, 1)) return;
    atomic_cond_read_relaxed(&lock->locked, [](int v) { return v == 0; });
  }
}

void bpf_stream_reader_lock_release(bpf_stream_reader_lock* lock) {
  smp_store_release(&lock->locked, 0);
}

namespace {

// Every reader and poller of the stream (wake_up: all are non-exclusive).
void bpf_stream_wake_waiters(bpf_stream* stream) {
  if (stream_fd_seeded_bug(StreamFdSeededBug::kWakeOneWaiter)) wake_up_nr(&stream->waitq, 1);
  else wake_up(&stream->waitq);
}

void bpf_stream_notify(irq_work* work) {
  bpf_stream_wake_waiters(llist_entry(work, bpf_stream, notify_work));
}

bpf_stream* bpf_stream_alloc(int id) {
  bpf_stream* s = new bpf_stream;
#if KMODEL_IS_SIM
  // Under next the stream's lifetime is its own (refcounted past the
  // program): the simulator checks it for leaks and use after free. In the
  // other profiles it is part of the program, freed with it.
  s->tracked = has_stream_fds();
  if (s->tracked) internal::track_alloc(s, sizeof(*s), "bpf_stream");
#endif
  s->stream_id = id;
  raw_res_spin_lock_init(&s->res_lock);
  atomic_set(&s->capacity, 0);
  init_llist_head(&s->log);
  s->backlog_head = nullptr;
  s->backlog_tail = nullptr;
  atomic_set(&s->lock.locked, 0);
  refcount_set(&s->refcnt, 1);
  atomic_set(&s->readable, 0);
  init_waitqueue_head(&s->waitq);
  init_irq_work(&s->notify_work, bpf_stream_notify);
  atomic_set(&s->notify_used, 0);
  atomic_set(&s->dead, 0);
  return s;
}

void bpf_stream_delete(void* p) { delete static_cast<bpf_stream*>(p); }

}  // namespace

void bpf_prog_stream_init(bpf_prog* prog) {
  int id = BPF_STDOUT;
  for (bpf_stream*& s : prog->aux->stream) {
    s = bpf_stream_alloc(id++);
    s->aux = prog->aux;
  }
}

void bpf_stream_put(bpf_stream* s) {
  if (!refcount_dec_and_test(&s->refcnt)) return;
  // A notification still queued on some CPU must not run on freed memory.
  if (atomic_read(&s->notify_used)) irq_work_sync(&s->notify_work);
  bpf_stream_free_list(llist_del_all(&s->log));
  bpf_stream_free_list(s->backlog_head);
  s->backlog_head = nullptr;
  s->backlog_tail = nullptr;
#if KMODEL_IS_SIM
  if (s->tracked && internal::track_free(s, sizeof(*s), "bpf_stream", &bpf_stream_delete)) return;
#endif
  bpf_stream_delete(s);
}

void bpf_prog_stream_free(bpf_prog* prog) {
  for (bpf_stream*& s : prog->aux->stream) {
    if (s == nullptr) continue;
    if (has_stream_fds()) {
      // After the program's last write: readers that find the stream drained
      // from now on see EOF; sleepers and pollers get EPOLLHUP.
      smp_store_release(&s->dead, 1);
      bpf_stream_wake_waiters(s);
    }
    bpf_stream_put(s);
    s = nullptr;
  }
}

bpf_stream* bpf_stream_get(int stream_id, bpf_prog_aux* aux) {
  if (stream_id != BPF_STDOUT && stream_id != BPF_STDERR) return nullptr;
  return aux->main_prog_aux->stream[stream_id - 1];
}

int bpf_stream_consume_capacity(bpf_stream* stream, int len) {
  const int max = bpf_stream_max_capacity();
  if (atomic_read(&stream->capacity) >= max) return -ENOSPC;
  if (atomic_add_return(len, &stream->capacity) >= max) {
    atomic_sub(len, &stream->capacity);
    return -ENOSPC;
  }
  return 0;
}

namespace {

void release_len(bpf_stream* stream, int len) { atomic_sub(len, &stream->capacity); }

// Allocate, copy, publish: the part after the charge.
int push_to_log(llist_head* log, const char* str, int len) {
  bpf_stream_elem* elem = nullptr;
  const int ret = bpf_stream_elem_alloc_errno(len, &elem);
  if (ret) return ret;
  std::memcpy(elem->str, str, static_cast<std::size_t>(len));
  llist_add(&elem->node, log);
  return 0;
}

}  // namespace

void bpf_stream_release_capacity(bpf_stream* stream, bpf_stream_elem* elem) {
  release_len(stream, elem->total_len);
}

int bpf_stream_push_str(bpf_stream* stream, const char* str, int len) {
  // Mainline: empty output pushes nothing (docs/profiles.md: source caveat).
  if (len == 0 && has_mainline_fixes()) return 0;
  int ret = bpf_stream_consume_capacity(stream, len);
  if (ret) return ret;
  ret = push_to_log(&stream->log, str, len);
  if (!ret) bpf_stream_publish(stream, len);
  // 6.17/6.18 (and the seed) keep the charge of an element that was never
  // queued: no reader can ever give it back. Mainline returns it.
  if (ret && has_mainline_fixes()) release_len(stream, len);
  return ret;
}

int bpf_stream_failed_write_charge(int n) {
  switch (current_profile()) {
    case Profile::kSeed:
      return std::min(n + 1, MAX_BPRINTF_BUF);
    case Profile::kLinux618:
      return n;
    case Profile::kMainline:
    case Profile::kNext:
      break;
  }
  return 0;
}

int bpf_stream_vprintk(int stream_id, const char* fmt, const void* args, u32 len,
                       bpf_prog_aux* aux) {
  bpf_stream* stream = bpf_stream_get(stream_id, aux);
  if (stream == nullptr) return -ENOENT;
  bpf_bprintf_data data;
  int ret = bpf_stream_format(fmt, static_cast<const u64*>(args), len, &data);
  if (ret < 0) return ret;
  switch (current_profile()) {
    case Profile::kSeed:
      // The NUL is pushed too; output over the buffer is truncated to it.
      ret = bpf_stream_push_str(stream, data.buf, std::min(ret + 1, MAX_BPRINTF_BUF));
      break;
    case Profile::kLinux618:
      // len > MAX_BPRINTF_BUF is charged and then fails the allocation.
      ret = bpf_stream_push_str(stream, data.buf, ret);
      break;
    case Profile::kMainline:
    case Profile::kNext:
      // Truncated output (len >= MAX_BPRINTF_BUF: the buffer kept 1023
      // characters) is refused before the charge (docs/profiles.md).
      ret = ret >= MAX_BPRINTF_BUF ? -E2BIG : bpf_stream_push_str(stream, data.buf, ret);
      break;
  }
  bpf_bprintf_cleanup(&data);
  return ret;
}

namespace {

// Reader-owned backlog, under stream->lock.
llist_node* bpf_stream_backlog_peek(bpf_stream* stream) { return stream->backlog_head; }

llist_node* bpf_stream_backlog_pop(bpf_stream* stream) {
  llist_node* node = stream->backlog_head;
  if (stream->backlog_head == stream->backlog_tail) {
    stream->backlog_head = nullptr;
    stream->backlog_tail = nullptr;
  } else {
    stream->backlog_head = llist_next(node);
  }
  return node;
}

void bpf_stream_backlog_fill(bpf_stream* stream) {
  if (llist_empty(&stream->log)) return;
  llist_node* tail = llist_del_all(&stream->log);
  if (tail == nullptr) return;
  llist_node* head = llist_reverse_order(tail);
  if (stream->backlog_head == nullptr) {
    stream->backlog_head = head;
  } else {
    plain_write(stream->backlog_tail->next, head);
  }
  stream->backlog_tail = tail;
}

// Consumes up to *len bytes of elem; true when elem is now fully consumed.
bool bpf_stream_consume_elem(bpf_stream_elem* elem, int* len) {
  const int used = std::min(elem->total_len - elem->consumed_len, *len);
  elem->consumed_len += used;
  *len -= used;
  return elem->consumed_len == elem->total_len;
}

}  // namespace

unsigned long copy_to_user(bpf_user_buf* to, u64 offset, const void* from, unsigned long n) {
  // access_ok: the range must not wrap or leave the (model's) address space.
  if (n > (u64{1} << 47) || offset > (u64{1} << 47)) return n;
  const u64 limit = std::min(to->size, to->fault_from);
  const u64 ok = offset >= limit ? 0 : std::min<u64>(n, limit - offset);
  if (ok != 0) std::memcpy(to->mem + offset, from, static_cast<std::size_t>(ok));
  return static_cast<unsigned long>(n - ok);
}

int bpf_stream_read(bpf_stream* stream, bpf_user_buf* buf, int len) {
  const bool keep_partial = has_mainline_fixes();
  int ret = 0;
  bpf_stream_reader_lock_acquire(&stream->lock);
  // next: only published bytes are read (an element on the log whose
  // writer has not yet published it waits for the next read).
  const bool fds = has_stream_fds();
  if (fds && len > 0) len = std::min(len, atomic_read_acquire(&stream->readable));
  int rem_len = len;
  while (rem_len) {
    const int pos = len - rem_len;
    llist_node* node = bpf_stream_backlog_peek(stream);
    if (node == nullptr) {
      bpf_stream_backlog_fill(stream);
      node = bpf_stream_backlog_peek(stream);
    }
    if (node == nullptr) break;
    bpf_stream_elem* elem = llist_entry(node, bpf_stream_elem, node);
    const int cons_len = elem->consumed_len;
    const bool done = bpf_stream_consume_elem(elem, &rem_len);
    // The chunk as the kernel passes it: an int widened to unsigned long.
    const unsigned long chunk =
        static_cast<unsigned long>(static_cast<long>(elem->consumed_len - cons_len));
    const unsigned long missed = copy_to_user(buf, static_cast<u64>(pos), elem->str + cons_len, chunk);
    if (missed != 0) {
      if (!keep_partial || missed > chunk) {
        // 6.18: the whole chunk is taken back, the call fails.
        rem_len += elem->consumed_len - cons_len;
        elem->consumed_len = cons_len;
        ret = -EFAULT;
      } else {
        // mainline: the copied prefix stays consumed.
        elem->consumed_len -= static_cast<int>(missed);
        rem_len += static_cast<int>(missed);
        ret = rem_len == len ? -EFAULT : 0;
      }
      break;
    }
    if (!done) continue;
    bpf_stream_backlog_pop(stream);
    bpf_stream_release_capacity(stream, elem);
    bpf_stream_free_elem(elem);
  }
  if (fds && len > rem_len) atomic_sub(len - rem_len, &stream->readable);
  bpf_stream_reader_lock_release(&stream->lock);
  return ret != 0 ? ret : len - rem_len;
}

int bpf_stream_read(bpf_stream* stream, char* buf, int len) {
  bpf_user_buf ubuf = bpf_user_buf_of(buf, len > 0 ? static_cast<u64>(len) : 0);
  return bpf_stream_read(stream, &ubuf, len);
}

int bpf_prog_stream_read(bpf_prog* prog, int stream_id, bpf_user_buf* buf, u32 len) {
  bpf_stream* stream = bpf_stream_get(stream_id, prog->aux);
  if (stream == nullptr) return -ENOENT;
  if (has_mainline_fixes() && len > static_cast<u32>(INT_MAX)) return -EINVAL;
  return bpf_stream_read(stream, buf, static_cast<int>(len));
}

int bpf_prog_stream_read(bpf_prog* prog, int stream_id, char* buf, int len) {
  bpf_user_buf ubuf = bpf_user_buf_of(buf, len > 0 ? static_cast<u64>(len) : 0);
  return bpf_prog_stream_read(prog, stream_id, &ubuf, static_cast<u32>(len));
}

// ---- Staging ---------------------------------------------------------------------

void bpf_stream_stage_init(bpf_stream_stage* ss) {
  init_llist_head(&ss->log);
  ss->len = 0;
}

void bpf_stream_stage_free(bpf_stream_stage* ss) { bpf_stream_free_list(llist_del_all(&ss->log)); }

namespace {

// One staged line, already formatted into buf->buf with would-be length n:
// each profile's accounting and push. Drops the buffers.
int stage_push_line(bpf_stream_stage* ss, bpf_bprintf_buffers* buf, int n) {
  int ret;
  switch (current_profile()) {
    case Profile::kSeed: {
      // The NUL is part of every line; a truncated line is the whole buffer.
      const int len = std::min(n + 1, MAX_BPRINTF_BUF);
      ss->len += len;
      ret = push_to_log(&ss->log, buf->buf, len);
      break;
    }
    case Profile::kLinux618:
      // Counted before the push: a line that fails (over 1024 bytes, or no
      // memory) stays in ss->len and is charged at commit.
      ss->len += n;
      ret = push_to_log(&ss->log, buf->buf, n);
      break;
    case Profile::kMainline:
    case Profile::kNext:
    default: {
      // vscnprintf: what was written, at most 1023 characters.
      const int len = std::min(n, MAX_BPRINTF_BUF - 1);
      ret = len ? push_to_log(&ss->log, buf->buf, len) : 0;
      if (!ret) ss->len += len;
      break;
    }
  }
  bpf_put_buffers();
  return ret;
}

}  // namespace

int bpf_stream_stage_printk(bpf_stream_stage* ss, const char* fmt, ...) {
  bpf_bprintf_buffers* buf;
  if (bpf_try_get_buffers(&buf)) return -EBUSY;
  va_list args;
  va_start(args, fmt);
  const int n = std::vsnprintf(buf->buf, sizeof(buf->buf), fmt, args);
  va_end(args);
  return stage_push_line(ss, buf, n);
}

namespace stream_internal {

int bpf_stream_stage_print_with(bpf_stream_stage* ss,
                                int (*format)(char* buf, std::size_t size, const void* arg),
                                const void* arg) {
  bpf_bprintf_buffers* buf;
  if (bpf_try_get_buffers(&buf)) return -EBUSY;
  return stage_push_line(ss, buf, format(buf->buf, sizeof(buf->buf), arg));
}

}  // namespace stream_internal

int bpf_stream_stage_commit(bpf_stream_stage* ss, bpf_prog* prog, int stream_id) {
  bpf_stream* stream = bpf_stream_get(stream_id, prog->aux);
  if (stream == nullptr) return -EINVAL;
  const int ret = bpf_stream_consume_capacity(stream, ss->len);
  if (ret) return ret;
  llist_node* list = llist_del_all(&ss->log);
  if (list == nullptr) return 0;
  llist_node* head = list;
  // The seed's walk starts with tail unset and only assigns it inside the
  // loop, so a one-element list reaches llist_add_batch with garbage.
  llist_node* tail = current_profile() == Profile::kSeed ? nullptr : list;
  while (llist_next(list) != nullptr) {
    tail = llist_next(list);
    list = tail;
  }
  if (tail == nullptr) {
    // Give the element back to the stage so bpf_stream_stage_free frees it,
    // then report the finding (the kernel would write through garbage).
    llist_add(head, &ss->log);
    MODEL_ASSERT(false,
                 "seed stage commit: one-element report spliced with an uninitialised tail");
    return -EFAULT;
  }
  llist_add_batch(head, tail, &stream->log);
  bpf_stream_publish(stream, ss->len);
  return 0;
}

KMODEL_NAMESPACE_END
