// tests/kernel/stream_probe.bpf.c: can this kernel write to a BPF stream?
//
// One bpf_stream_vprintk call on the program's stderr stream; the program
// returns the kfunc's result. rqspinlock_kernel_test.cc runs it when an AA
// left the stderr stream empty, to tell a kernel that cannot allocate stream
// elements (-ENOMEM: alloc_pages_nolock() refuses while deferred struct-page
// init is still pending) from a kernel that did not report at all.
//
// The kfunc is bpf_stream_vprintk in 6.17/6.18 and bpf_stream_vprintk_impl
// in later kernels (and some stable builds); the genrule compiles this file
// once per name (-DSTREAM_VPRINTK=...) and the test loads the one that the
// kernel's BTF has. libbpf 1.1 cannot test a weak kfunc for existence.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#ifndef STREAM_VPRINTK
#error "compile with -DSTREAM_VPRINTK=<kfunc name>"
#endif

#define BPF_STDERR 2

extern int STREAM_VPRINTK(int stream_id, const char *fmt__str, const void *args, __u32 len__sz,
                          void *aux__prog) __ksym;

SEC("syscall")
int stream_probe(void *ctx) {
  static const char fmt[] = "stream probe %d\n";
  __u64 args[1] = {1};

  // The verifier passes the program as aux__prog; NULL args are refused.
  return STREAM_VPRINTK(BPF_STDERR, fmt, args, sizeof(args), 0);
}

char _license[] SEC("license") = "GPL";
