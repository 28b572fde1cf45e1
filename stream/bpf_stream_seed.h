// stream/bpf_stream_seed.h: the seed series' BPF-side reader: a program
// (BPF_PROG_TYPE_SYSCALL for bpf_prog_stream_get, any type for the rest)
// pops a stream's messages one element at a time.
//
// Mirrors: kernel/bpf/stream.c and kernel/bpf/helpers.c of the seed series
// (v1, May 2025: bpf_stream_get, bpf_prog_stream_get, bpf_prog_stream_put,
// bpf_stream_next_elem with bpf_stream_log_pop / bpf_stream_backlog_pop,
// bpf_stream_free_elem, struct bpf_mem_slice, bpf_dynptr_from_mem_slice).
// Merged kernels (6.17 on) dropped it for the BPF_PROG_STREAM_READ_BY_FD
// syscall (stream/bpf_stream.h); the model offers it under every profile
// but only the seed had it (docs/stream.md, "The seed's reader").
//
// Contract
//   bpf_stream_get(id, aux) (stream/bpf_stream.h) is the seed's kfunc too:
//   the calling program's stream, NULL for a bad id.
//   bpf_prog_stream_get(id, prog_id): the stream of the program with that
//   id, holding a reference on the program (NULL: no such program, or a bad
//   id: no reference kept). Task context (the seed restricts it to syscall
//   programs). Drop with bpf_prog_stream_put(stream), which finds the
//   program from the stream (its stream_id) as the kernel's container_of.
//
//   bpf_stream_next_elem(stream): the oldest message not yet popped, or
//   NULL. Any context, NMI included: the backlog is under an rqspinlock
//   (stream->res_lock). Steps as the seed wrote them:
//     1. lock (failure: NULL, nothing changed); pop the backlog's head;
//        unlock. Found: give its bytes back (capacity) and return it.
//     2. Else detach the whole log (llist_del_all), reverse it, lock again,
//        append it to the backlog, pop the head, unlock, give back, return.
//        If this second lock fails (-EDEADLK: an NMI on a CPU inside
//        next_elem; -ETIMEDOUT), the seed FREES the detached batch: its
//        messages are lost and their charge is never given back.
//   The element belongs to the caller until bpf_stream_free_elem(elem)
//   (alloc/stream_elem.h: any context). Its payload is elem->mem_slice:
//   bpf_stream_elem_mem_slice(elem) (the model's element keeps total_len,
//   the seed's kept a struct bpf_mem_slice {ptr, len} in its 24-byte header;
//   the page allocator lays the seed's 24 bytes out, alloc/stream_page.h).
//   Order: per writer FIFO across all poppers together; a reader never sees
//   a message twice.
//
//   One reader kind per stream: the seed reader (res_lock) and the syscall
//   reader (its reader lock) do not exclude each other.
//
//   bpf_dynptr_from_mem_slice(slice, flags, ptr): a READ-ONLY dynptr over the
//   slice; -EINVAL (and a null dynptr) for flags != 0. bpf_dynptr_read copies
//   out (-E2BIG past the end, -EINVAL on a null dynptr), bpf_dynptr_write
//   fails with -EINVAL on a read-only one.
#ifndef KMODEL_STREAM_BPF_STREAM_SEED_H_
#define KMODEL_STREAM_BPF_STREAM_SEED_H_

#include "alloc/stream_elem.h"
#include "model/types.h"
#include "stream/bpf_stream.h"

KMODEL_NAMESPACE_BEGIN

struct bpf_mem_slice {
  const void* ptr;
  u32 len;
};
inline bpf_mem_slice bpf_stream_elem_mem_slice(const bpf_stream_elem* elem) {
  return {elem->str, static_cast<u32>(elem->total_len)};
}

bpf_stream* bpf_prog_stream_get(int stream_id, u32 prog_id);
void bpf_prog_stream_put(bpf_stream* stream);

bpf_stream_elem* bpf_stream_next_elem(bpf_stream* stream);

// include/linux/bpf.h struct bpf_dynptr_kern, reduced to what a read-only
// slice needs.
struct bpf_dynptr_kern {
  const void* data = nullptr;
  u32 size = 0;
  bool rdonly = false;
};
int bpf_dynptr_from_mem_slice(const bpf_mem_slice* slice, u64 flags, bpf_dynptr_kern* ptr);
int bpf_dynptr_read(void* dst, u32 len, const bpf_dynptr_kern* src, u32 offset, u64 flags);
int bpf_dynptr_write(const bpf_dynptr_kern* dst, u32 offset, const void* src, u32 len, u64 flags);
inline u32 bpf_dynptr_size(const bpf_dynptr_kern* ptr) { return ptr->size; }

// Statistics of the seed reader's failure path (tests and scenarios).
struct bpf_stream_seed_stats {
  u64 batches_dropped;  // detached batches freed because the lock failed
  u64 elems_dropped;
  u64 bytes_dropped;    // their payload: charged, never given back
  // The last drop: the lock's error, the CPU and whether it ran in an NMI.
  int last_error;
  int last_cpu;
  bool last_in_nmi;
};
bpf_stream_seed_stats bpf_stream_seed_stats_read();

KMODEL_NAMESPACE_END

#endif  // KMODEL_STREAM_BPF_STREAM_SEED_H_
