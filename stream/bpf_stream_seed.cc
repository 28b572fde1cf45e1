// stream/bpf_stream_seed.cc: see bpf_stream_seed.h.
#include "stream/bpf_stream_seed.h"

#include <cstddef>
#include <cstring>

#include "model/atomic.h"
#include "model/cpu.h"
#include "model/machine_state.h"
#include "stream/bpf_prog.h"
#include "sync/rqspinlock.h"

KMODEL_NAMESPACE_BEGIN

namespace {

atomic_t g_batches_dropped, g_elems_dropped, g_bytes_dropped;
atomic_t g_last_error, g_last_cpu, g_last_in_nmi;

void reset_stats() {
  atomic_set(&g_last_error, 0);
  atomic_set(&g_last_cpu, -1);
  atomic_set(&g_last_in_nmi, 0);
  atomic_set(&g_batches_dropped, 0);
  atomic_set(&g_elems_dropped, 0);
  atomic_set(&g_bytes_dropped, 0);
}
const MachineStateReset kReset(&reset_stats);

// The backlog is a FIFO; the caller holds res_lock.
llist_node* backlog_pop(bpf_stream* stream) {
  llist_node* node = stream->backlog_head;
  if (node == nullptr) return nullptr;
  if (node == stream->backlog_tail) {
    stream->backlog_head = nullptr;
    stream->backlog_tail = nullptr;
  } else {
    stream->backlog_head = llist_next(node);
  }
  return node;
}

// The seed's failure path: the detached batch is freed, its charge kept.
void drop_batch(llist_node* head, int error) {
  atomic_set(&g_last_error, error);
  atomic_set(&g_last_cpu, smp_processor_id());
  atomic_set(&g_last_in_nmi, in_nmi() ? 1 : 0);
  int elems = 0, bytes = 0;
  for (llist_node* n = head; n != nullptr; n = llist_next(n)) {
    elems++;
    bytes += llist_entry(n, bpf_stream_elem, node)->total_len;
  }
  atomic_add(1, &g_batches_dropped);
  atomic_add(elems, &g_elems_dropped);
  atomic_add(bytes, &g_bytes_dropped);
  bpf_stream_free_list(head);
}

// Slow path: detach the log, reverse it, append it under the lock, pop.
llist_node* log_pop(bpf_stream* stream) {
  if (llist_empty(&stream->log)) return nullptr;
  llist_node* tail = llist_del_all(&stream->log);
  if (tail == nullptr) return nullptr;
  llist_node* head = llist_reverse_order(tail);
  unsigned long flags = 0;
  if (const int err = raw_res_spin_lock_irqsave(&stream->res_lock, flags)) {
    drop_batch(head, err);
    return nullptr;
  }
  if (stream->backlog_head == nullptr) {
    stream->backlog_head = head;
  } else {
    plain_write(stream->backlog_tail->next, head);
  }
  stream->backlog_tail = tail;
  llist_node* node = backlog_pop(stream);
  raw_res_spin_unlock_irqrestore(&stream->res_lock, flags);
  return node;
}

}  // namespace

bpf_stream* bpf_prog_stream_get(int stream_id, u32 prog_id) {
  bpf_prog* prog = bpf_prog_by_id(prog_id);
  if (prog == nullptr) return nullptr;
  bpf_prog_inc(prog);
  bpf_stream* stream = bpf_stream_get(stream_id, prog->aux);
  if (stream == nullptr) bpf_prog_put(prog);
  return stream;
}

void bpf_prog_stream_put(bpf_stream* stream) {
  // The seed's container_of(stream, struct bpf_prog_aux, stream[stream_id - 1]):
  // the model's streams are objects of their own that record their program.
  bpf_prog_put(stream->aux->prog);
}

bpf_stream_elem* bpf_stream_next_elem(bpf_stream* stream) {
  unsigned long flags = 0;
  if (raw_res_spin_lock_irqsave(&stream->res_lock, flags)) return nullptr;
  llist_node* node = backlog_pop(stream);
  raw_res_spin_unlock_irqrestore(&stream->res_lock, flags);
  if (node == nullptr) node = log_pop(stream);
  if (node == nullptr) return nullptr;
  bpf_stream_elem* elem = llist_entry(node, bpf_stream_elem, node);
  bpf_stream_release_capacity(stream, elem);
  return elem;
}

int bpf_dynptr_from_mem_slice(const bpf_mem_slice* slice, u64 flags, bpf_dynptr_kern* ptr) {
  if (flags != 0) {
    *ptr = bpf_dynptr_kern{};
    return -EINVAL;
  }
  ptr->data = slice->ptr;
  ptr->size = slice->len;
  ptr->rdonly = true;
  return 0;
}

int bpf_dynptr_read(void* dst, u32 len, const bpf_dynptr_kern* src, u32 offset, u64 flags) {
  if (src->data == nullptr || flags != 0) return -EINVAL;
  if (offset > src->size || len > src->size - offset) return -E2BIG;
  std::memcpy(dst, static_cast<const char*>(src->data) + offset, len);
  return 0;
}

int bpf_dynptr_write(const bpf_dynptr_kern* dst, u32 offset, const void* src, u32 len, u64 flags) {
  (void)offset;
  (void)src;
  (void)len;
  if (dst->data == nullptr || dst->rdonly || flags != 0) return -EINVAL;
  return -EINVAL;  // the only dynptr kind modelled is read-only
}

bpf_stream_seed_stats bpf_stream_seed_stats_read() {
  return {static_cast<u64>(atomic_read(&g_batches_dropped)),
          static_cast<u64>(atomic_read(&g_elems_dropped)),
          static_cast<u64>(atomic_read(&g_bytes_dropped)), atomic_read(&g_last_error),
          atomic_read(&g_last_cpu), atomic_read(&g_last_in_nmi) != 0};
}

KMODEL_NAMESPACE_END
