// tests/kernel/rqspinlock_kernel.bpf.c: the real kernel's bpf_res_spin_lock
// kfuncs, driven from user space by tests/kernel/rqspinlock_kernel_test.cc.
//
// Each SEC("syscall") program is one case, run once with BPF_PROG_TEST_RUN.
// The kfuncs' return codes are stored in global data (.bss) for the test to
// read; a failed lock also makes the kernel stage its report on this
// program's stderr stream, which the test reads with
// BPF_PROG_STREAM_READ_BY_FD. The test runs the same sequence of calls on the
// model and compares codes and report text.
//
// Debian's kernel headers are 6.1, older than these kfuncs, so the lock type
// and the kfunc prototypes are declared here. The verifier matches the lock
// by BTF struct name and size: struct bpf_res_spin_lock { u32 val; } as in
// include/asm-generic/rqspinlock.h.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct bpf_res_spin_lock {
  __u32 val;
};

extern int bpf_res_spin_lock(struct bpf_res_spin_lock *lock) __ksym;
extern void bpf_res_spin_unlock(struct bpf_res_spin_lock *lock) __ksym;
extern int bpf_res_spin_lock_irqsave(struct bpf_res_spin_lock *lock,
                                     unsigned long *flags__irq_flag) __ksym;
extern void bpf_res_spin_unlock_irqrestore(struct bpf_res_spin_lock *lock,
                                           unsigned long *flags__irq_flag) __ksym;

struct elem {
  struct bpf_res_spin_lock lock;
};

// Element 0 is lock A, element 1 lock B.
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 2);
  __type(key, int);
  __type(value, struct elem);
} locks SEC(".maps");

// What each lock call returned, in call order: the whole of .data, which
// the test reads after a run. NOT_CALLED is no kfunc's return value.
#define NOT_CALLED 1
int rets[3] = {NOT_CALLED, NOT_CALLED, NOT_CALLED};

// Every program starts from "not called" (.data outlives a run).
static void reset_results(void) {
  rets[0] = NOT_CALLED;
  rets[1] = NOT_CALLED;
  rets[2] = NOT_CALLED;
}

// Not-found is impossible for an array's in-range key; the verifier needs
// the NULL check all the same.
static struct elem *lookup(int key) { return bpf_map_lookup_elem(&locks, &key); }

// a) lock A, unlock A.
SEC("syscall")
int lock_unlock(void *ctx) {
  struct elem *a = lookup(0);

  reset_results();
  if (!a) return 1;
  rets[0] = bpf_res_spin_lock(&a->lock);
  if (rets[0]) return 0;
  bpf_res_spin_unlock(&a->lock);
  return 0;
}

// b) AA: lock A, then lock A again through a second lookup. The verifier
// gives each lookup its own pointer id, so it cannot see that both name the
// same lock and accepts the nested acquisition; the kernel must catch it.
SEC("syscall")
int aa(void *ctx) {
  struct elem *a1 = lookup(0), *a2 = lookup(0);

  reset_results();
  if (!a1 || !a2) return 1;
  rets[0] = bpf_res_spin_lock(&a1->lock);
  if (rets[0]) return 0;
  rets[1] = bpf_res_spin_lock(&a2->lock);
  if (!rets[1]) bpf_res_spin_unlock(&a2->lock);
  bpf_res_spin_unlock(&a1->lock);
  return 0;
}

// c) AA with the _irqsave pair.
SEC("syscall")
int aa_irqsave(void *ctx) {
  struct elem *a1 = lookup(0), *a2 = lookup(0);
  unsigned long f1, f2;

  reset_results();
  if (!a1 || !a2) return 1;
  rets[0] = bpf_res_spin_lock_irqsave(&a1->lock, &f1);
  if (rets[0]) return 0;
  rets[1] = bpf_res_spin_lock_irqsave(&a2->lock, &f2);
  if (!rets[1]) bpf_res_spin_unlock_irqrestore(&a2->lock, &f2);
  bpf_res_spin_unlock_irqrestore(&a1->lock, &f1);
  return 0;
}

// d) AA below the top of the held-locks table: lock A, lock B, then A again.
// The report lists both held locks in acquisition order.
SEC("syscall")
int aa_under_b(void *ctx) {
  struct elem *a1 = lookup(0), *b = lookup(1), *a2 = lookup(0);

  reset_results();
  if (!a1 || !b || !a2) return 1;
  rets[0] = bpf_res_spin_lock(&a1->lock);
  if (rets[0]) return 0;
  rets[1] = bpf_res_spin_lock(&b->lock);
  if (rets[1]) {
    bpf_res_spin_unlock(&a1->lock);
    return 0;
  }
  rets[2] = bpf_res_spin_lock(&a2->lock);
  if (!rets[2]) bpf_res_spin_unlock(&a2->lock);
  bpf_res_spin_unlock(&b->lock);
  bpf_res_spin_unlock(&a1->lock);
  return 0;
}

char _license[] SEC("license") = "GPL";
