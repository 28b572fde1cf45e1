// stream/bpf_stream.cc: see bpf_stream.h.
#include "stream/bpf_stream.h"

#include <algorithm>
#include <cstring>

#include "model/profile.h"
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

void bpf_prog_stream_init(bpf_prog_streams* prog) {
  for (bpf_stream& s : prog->stream) {
    atomic_set(&s.capacity, 0);
    init_llist_head(&s.log);
    s.backlog_head = nullptr;
    s.backlog_tail = nullptr;
    atomic_set(&s.lock.locked, 0);
  }
}

void bpf_prog_stream_free(bpf_prog_streams* prog) {
  for (bpf_stream& s : prog->stream) {
    bpf_stream_free_list(llist_del_all(&s.log));
    bpf_stream_free_list(s.backlog_head);
    s.backlog_head = nullptr;
    s.backlog_tail = nullptr;
  }
}

bpf_stream* bpf_stream_get(int stream_id, bpf_prog_streams* prog) {
  if (stream_id != BPF_STDOUT && stream_id != BPF_STDERR) return nullptr;
  return &prog->stream[stream_id - 1];
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
  if (len == 0 && current_profile() == Profile::kMainline) return 0;
  int ret = bpf_stream_consume_capacity(stream, len);
  if (ret) return ret;
  ret = push_to_log(&stream->log, str, len);
  // 6.17/6.18 (and the seed) keep the charge of an element that was never
  // queued: no reader can ever give it back. Mainline returns it.
  if (ret && current_profile() == Profile::kMainline) release_len(stream, len);
  return ret;
}

int bpf_stream_vprintk(int stream_id, const char* fmt, const void* args, u32 len,
                       bpf_prog_streams* prog) {
  bpf_stream* stream = bpf_stream_get(stream_id, prog);
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

int bpf_stream_read(bpf_stream* stream, char* buf, int len) {
  if (len <= 0) return 0;
  int rem_len = len;
  bpf_stream_reader_lock_acquire(&stream->lock);
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
    // The kernel's copy_to_user (and its -EFAULT path) is a plain copy here.
    std::memcpy(buf + pos, elem->str + cons_len,
                static_cast<std::size_t>(elem->consumed_len - cons_len));
    if (!done) continue;
    bpf_stream_backlog_pop(stream);
    bpf_stream_release_capacity(stream, elem);
    bpf_stream_free_elem(elem);
  }
  bpf_stream_reader_lock_release(&stream->lock);
  return len - rem_len;
}

int bpf_prog_stream_read(bpf_prog_streams* prog, int stream_id, char* buf, int len) {
  bpf_stream* stream = bpf_stream_get(stream_id, prog);
  if (stream == nullptr) return -ENOENT;
  return bpf_stream_read(stream, buf, len);
}

KMODEL_NAMESPACE_END
