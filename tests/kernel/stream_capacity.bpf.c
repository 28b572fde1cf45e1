// tests/kernel/stream_capacity.bpf.c: 110 writes of 1000 bytes to one
// program's stderr stream, for tests/kernel/stream_capacity_kernel_test.cc.
//
// On a kernel whose stream writes fail with -ENOMEM after the capacity
// charge (6.17/6.18, and any write over 1024 bytes there), each failed write
// keeps its charge: the 100th write finds 99000 + 1000 >= 100000 and gets
// -ENOSPC although nothing was ever queued. The returns go to .bss.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#ifndef STREAM_VPRINTK
#error "compile with -DSTREAM_VPRINTK=<kfunc name>"
#endif

#define BPF_STDERR 2
#define NWRITES 110

extern int STREAM_VPRINTK(int stream_id, const char *fmt__str, const void *args, __u32 len__sz,
                          void *aux__prog) __ksym;

static const char fmt[1001] = {[0 ... 999] = 'c'};  // 1000 characters, no conversion

int rets[NWRITES];

SEC("syscall")
int write_many(void *ctx) {
  __u64 args[1] = {0};  // unused by the format; the verifier refuses NULL args

  for (int i = 0; i < NWRITES; i++)
    rets[i] = STREAM_VPRINTK(BPF_STDERR, fmt, args, sizeof(args), 0);
  return 0;
}

char _license[] SEC("license") = "GPL";
