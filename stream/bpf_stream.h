// stream/bpf_stream.h: struct bpf_stream and its core operations: the
// capacity charge, the lock-free writer path, the kfunc bpf_stream_vprintk()
// and the byte-granular reader over the backlog.
//
// Mirrors: kernel/bpf/stream.c (Linux 6.17/6.18: struct bpf_stream,
// bpf_stream_consume_capacity, bpf_stream_release_capacity,
// bpf_stream_push_str, bpf_stream_get, bpf_stream_backlog_*,
// bpf_stream_read, bpf_stream_vprintk, bpf_prog_stream_init,
// bpf_prog_stream_free), with the profile differences below. docs/stream.md
// has the story, the profile table and what is not built yet.
//
// Contract
//   Writers (bpf_stream_push_str, bpf_stream_vprintk) run in any context,
//   NMI included, on a CPU; they never lock and never wait. They return 0 or
//     -ENOENT  bad stream id (vprintk only; BPF_STDOUT = 1, BPF_STDERR = 2);
//     -ENOSPC  the capacity charge was refused (nothing queued);
//     -ENOMEM  element allocation failed (alloc/stream_elem.h);
//     -E2BIG   mainline: formatted output longer than MAX_BPRINTF_BUF;
//     any error of bpf_stream_format (stream/bprintf.h).
//   Capacity: bpf_stream_consume_capacity(stream, len) refuses (-ENOSPC) when
//   the charge already is >= BPF_STREAM_MAX_CAPACITY, or when charge + len
//   would reach it (>=); both comparisons as the kernel makes them. Only
//   payload bytes count. A reader gives an element's total_len back when it
//   has consumed the element completely.
//
//   bpf_stream_read(stream, buf, len) runs in task context only (the kernel
//   takes a mutex). It copies up to len bytes, across element boundaries,
//   oldest first; a partly read element keeps its rest for the next read. It
//   returns the number of bytes copied (0 for an empty stream). Readers are
//   serialized by the stream's reader lock; writers are never blocked by it.
//
// Order: per writer FIFO (a writer's elements arrive in the order it pushed
// them); writers on different CPUs interleave arbitrarily.
//
// Profiles (model/profile.h)
//                      seed              linux-6.18           mainline
//   capacity           4 MiB             100000               100000
//   bytes per message  min(len+1, 1024)  len                  len
//   output > 1024      truncated         -ENOMEM, capacity    -E2BIG before
//                                        leaked (kernel bug)  the charge
//   alloc failure      capacity leaked   capacity leaked      capacity given
//   after the charge                     (kernel bug)         back
//   read fault         -EFAULT, earlier     -EFAULT, earlier     bytes copied
//                      elements lost        elements lost        (-EFAULT if none)
//   read len > INT_MAX as a negative int   as a negative int    -EINVAL
//   The syscall reader above serves every profile (the seed's BPF-side reader
//   is not modelled).
//
// The reader lock: the kernel's 6.18 reader takes a mutex. A std::mutex would
// be invisible to the simulator, so the model uses bpf_stream_reader_lock, a
// test-and-set lock on the platform's atomics (cmpxchg_acquire, spinning
// with atomic_cond_read_relaxed, released with smp_store_release): every step
// is a scheduling point in the simulator. It is only ever taken by readers in
// task context, so, like the mutex, it never meets an interrupt that wants it.
#ifndef KMODEL_STREAM_BPF_STREAM_H_
#define KMODEL_STREAM_BPF_STREAM_H_

#include <cstddef>

#include "alloc/refcount.h"
#include "alloc/stream_elem.h"
#include "model/atomic.h"
#include "stream/bpf_stream_wait.h"
#include "model/types.h"
#include "sync/llist.h"
#include "sync/rqspinlock.h"

KMODEL_NAMESPACE_BEGIN

enum bpf_stream_id {
  BPF_STDOUT = 1,
  BPF_STDERR = 2,
};

// The kernel's BPF_STREAM_MAX_CAPACITY (6.17/6.18 and mainline), the seed
// series' 4 MiB, and the one the current profile uses.
inline constexpr int BPF_STREAM_MAX_CAPACITY_SEED = 4 * 1024 * 1024;
inline constexpr int BPF_STREAM_MAX_CAPACITY = 100000;
int bpf_stream_max_capacity();

// The model's stand-in for the reader's mutex (see the header comment).
struct bpf_stream_reader_lock {
  Atomic<int> locked;  // 0 free, 1 held
};
void bpf_stream_reader_lock_acquire(bpf_stream_reader_lock* lock);
void bpf_stream_reader_lock_release(bpf_stream_reader_lock* lock);

struct bpf_prog_aux;

struct bpf_stream {
  atomic_t capacity;  // payload bytes charged and not yet given back
  llist_head log;     // writers push here, newest first
  // The backlog: a FIFO of elements the reader detached from the log, oldest
  // first. Reader-owned, under `lock`.
  llist_node* backlog_head = nullptr;
  llist_node* backlog_tail = nullptr;
  bpf_stream_reader_lock lock;
  // The seed's BPF-side reader (stream/bpf_stream_seed.h): its backlog lock
  // (the seed's stream->lock, an rqspinlock: popped from any context) and
  // which of the program's streams this is (bpf_prog_stream_put finds the
  // program from it).
  rqspinlock_t res_lock;
  int stream_id = 0;
  bpf_prog_aux* aux = nullptr;  // the owning program's (the seed's container_of)
  // next (stream/bpf_stream_fd.h): the stream is its own object. refcnt: the
  // program's reference plus one per open stream fd; the last put frees it.
  // readable: bytes published to readers and not yet read (writers add with
  // release after their element is on the log; the reader subtracts what it
  // copied). Writers that make it non-empty queue notify_work, which wakes
  // waitq. dead: set with a release store at teardown, after the last write.
  // In the other profiles only refcnt is used (always 1 -> 0 at teardown).
  refcount_t refcnt;
  atomic_t readable;
  wait_queue_head waitq;
  irq_work notify_work;
  Atomic<int> notify_used;
  Atomic<int> dead;
  bool tracked = false;  // simulator: in its leak / use-after-free registry
};

struct bpf_prog;      // stream/bpf_prog.h
struct bpf_prog_aux;

// Sets up / tears down the main program's two streams (allocated objects,
// aux->stream[i]). The teardown drops the program's reference; the last
// reference frees every element still queued (log and backlog) and the
// stream. Under `next` the teardown first marks the stream dead (release)
// and wakes its readers; an open stream fd keeps the stream until its last
// close. Call when no CPU writes the program's streams. The charge is not
// given back (the streams die with the program), as in the kernel.
void bpf_prog_stream_init(bpf_prog* prog);
void bpf_prog_stream_free(bpf_prog* prog);

// nullptr for any id but BPF_STDOUT / BPF_STDERR. The streams are the main
// program's (aux->main_prog_aux): subprograms share them.
bpf_stream* bpf_stream_get(int stream_id, bpf_prog_aux* aux);

// Drops a reference (the last one frees the stream, see above).
void bpf_stream_put(bpf_stream* stream);

int bpf_stream_consume_capacity(bpf_stream* stream, int len);
void bpf_stream_release_capacity(bpf_stream* stream, bpf_stream_elem* elem);

// Charge len, allocate an element, copy len bytes of str, llist_add it.
int bpf_stream_push_str(bpf_stream* stream, const char* str, int len);

// The kfunc: format (bprintf rules), then push per the profile. args holds
// len / 8 u64 arguments.
int bpf_stream_vprintk(int stream_id, const char* fmt, const void* args, u32 len,
                       bpf_prog_aux* aux);

// ---- The reader's user buffer ---------------------------------------------------
//
// The model of the user memory the syscall copies to: `size` bytes at `mem`,
// split into pages of `page_size` bytes, of which every page from offset
// `fault_from` (page aligned) on is unmapped or read-only. copy_to_user()
// copies up to the first faulting byte and returns the bytes NOT copied, as
// the kernel's does (a size whose unsigned long is past the address space,
// e.g. a negative int, fails access_ok: nothing copied). A NULL buffer is
// the user address 0: nothing mapped.
struct bpf_user_buf {
  char* mem = nullptr;
  u64 size = 0;
  u64 fault_from = ~u64{0};  // first offset that faults; ~0: none within size
  static constexpr u64 page_size = 4096;
};
// A buffer of `len` writable bytes at mem (nullptr: address 0, unmapped).
inline bpf_user_buf bpf_user_buf_of(char* mem, u64 len) {
  bpf_user_buf b;
  b.mem = mem;
  b.size = mem != nullptr ? len : 0;
  b.fault_from = mem != nullptr ? ~u64{0} : 0;
  return b;
}
unsigned long copy_to_user(bpf_user_buf* to, u64 offset, const void* from, unsigned long n);

// bpf_stream_read(stream, buf, len): the syscall's reader (see the contract
// above) with the kernel's fault handling, per profile:
//   seed, linux-6.18  a copy that faults restores the current element's
//                     consumed length and returns -EFAULT, even when earlier
//                     elements of the same call were already copied, given
//                     back and freed: their bytes are lost (kernel bug,
//                     docs/kernel-findings.md #5).
//   mainline          keeps what was copied (the faulting element's copied
//                     prefix included), returns that count; -EFAULT only
//                     when nothing was copied.
// len is the kernel's int: a negative one (a u32 length above INT_MAX that
// linux-6.18 passes on) copies nothing: 0 on an empty stream, else -EFAULT
// with the data kept (the copy size is negative, access_ok refuses it).
int bpf_stream_read(bpf_stream* stream, bpf_user_buf* buf, int len);
// A kernel buffer: all of [buf, buf + len) writable; nullptr is address 0.
int bpf_stream_read(bpf_stream* stream, char* buf, int len);

// BPF_PROG_STREAM_READ_BY_FD after the fd lookup: -ENOENT for a bad id; then
// len, the attribute's u32: above INT_MAX mainline answers -EINVAL,
// linux-6.18 and seed pass it on as a negative int (see bpf_stream_read).
int bpf_prog_stream_read(bpf_prog* prog, int stream_id, bpf_user_buf* buf, u32 len);
int bpf_prog_stream_read(bpf_prog* prog, int stream_id, char* buf, int len);

// ---- Staging (kernel-internal writers: the error reports) ----------------------
//
// bpf_stream_stage_init(ss); bpf_stream_stage_printk(ss, fmt, ...) per line;
// bpf_stream_stage_commit(ss, prog, id); bpf_stream_stage_free(ss), or all four
// as bpf_stream_stage(ss, prog, id, expr). Any context, NMI included; the
// stage lives on the caller's stack and is private to it.
//
// printk formats one line (vsnprintf) into this CPU's bprintf buffer
// (-EBUSY when all MAX_BPRINTF_NEST_LEVEL are taken: nothing staged, ss->len
// unchanged) and pushes it as its own element onto the private ss->log, with
// no capacity check. Per profile, exactly as each version's source:
//   seed        len = min(n + 1, 1024) (the NUL is pushed); ss->len += len
//               before the push.
//   linux-6.18  len = n (vsnprintf's would-be length); ss->len += len before
//               the push, so a line over 1024 bytes (-ENOMEM) or a failed
//               allocation stays in ss->len: the commit charges bytes no
//               element carries, and no reader ever gives them back.
//   mainline    len = vscnprintf's n (<= 1023; an empty line pushes nothing);
//               ss->len += len only when the push succeeded.
// commit: -EINVAL for a bad id (nothing charged, elements stay staged);
// one bpf_stream_consume_capacity(ss->len) for the whole report (-ENOSPC:
// nothing queued, everything stays staged for free); then the staged list
// goes onto the stream's log with ONE llist_add_batch, so a reader sees all
// of the report contiguous, or none of it. The seed's commit leaves `tail`
// unset for a one-element list (a kernel bug of the series): the model
// fails a MODEL_ASSERT "seed stage commit: one-element report spliced with
// an uninitialised tail" there instead of splicing through garbage.
// free: frees whatever is still staged.
struct bpf_stream_stage {
  llist_head log;
  int len = 0;
};

void bpf_stream_stage_init(bpf_stream_stage* ss);
void bpf_stream_stage_free(bpf_stream_stage* ss);
int bpf_stream_stage_printk(bpf_stream_stage* ss, const char* fmt, ...)
    __attribute__((format(printf, 2, 3)));
int bpf_stream_stage_commit(bpf_stream_stage* ss, bpf_prog* prog, int stream_id);

namespace stream_internal {
// bpf_stream_stage_printk with the line produced by format(buf, size, arg)
// (snprintf's contract) in place of vsnprintf: for lines the model prints
// with its own formatter (%pS frames, the task line). One bprintf buffer,
// like the kernel's one vsnprintf.
int bpf_stream_stage_print_with(bpf_stream_stage* ss,
                                int (*format)(char* buf, std::size_t size, const void* arg),
                                const void* arg);
}  // namespace stream_internal

// The kernel's macro: init, expr (its bpf_stream_printk lines), commit,
// free. Evaluates to the commit's result (the kernel discards it).
#define bpf_stream_stage(ss, prog, stream_id, expr)                                  \
  ({                                                                                 \
    ::kmodel::bpf_stream_stage_init(&(ss));                                          \
    (expr);                                                                          \
    const int __commit_ret = ::kmodel::bpf_stream_stage_commit(&(ss), prog, stream_id); \
    ::kmodel::bpf_stream_stage_free(&(ss));                                          \
    __commit_ret;                                                                    \
  })
#define bpf_stream_printk(ss, ...) ::kmodel::bpf_stream_stage_printk(&(ss), __VA_ARGS__)

// The current charge (a snapshot).
inline int bpf_stream_capacity_read(const bpf_stream* stream) {
  return atomic_read(&stream->capacity);
}

// What the current profile leaves charged for good when an n-byte write
// (or staged line) fails after its charge, e.g. -ENOMEM from the element
// allocator: the seed n + 1 (its NUL; at most a buffer), 6.17/6.18 n,
// mainline and next nothing (docs/profiles.md). For tests and scenarios
// that predict the charge at the end.
int bpf_stream_failed_write_charge(int n);

KMODEL_NAMESPACE_END

#endif  // KMODEL_STREAM_BPF_STREAM_H_
