// tests/kernel/bprintf_diff.bpf.c: one format + argument list through the
// running kernel's bprintf, for tests/kernel/bprintf_diff_test.cc.
//
// The case lives in .rodata (`in`): the verifier demands that a kfunc's
// fmt__str and bpf_snprintf's fmt point into a frozen read-only map, so the
// test sets .rodata's initial value before each load (no recompilation: the
// same object serves every case). Two programs:
//   run_vprintk   calls the stream kfunc on BPF_STDERR and keeps its return
//                 (the errno of bpf_bprintf_prepare for a rejected format;
//                 -ENOMEM for an accepted one on a kernel that cannot
//                 allocate stream pages);
//   run_snprintf  calls bpf_snprintf (the same bpf_bprintf_prepare, then
//                 bstr_printf into res.out) and keeps its return, so the
//                 text can be compared too. Its format is checked by the
//                 verifier, so the test loads it only for accepted formats.
// Argument slots are literal values, or (kind 1/2) the kernel address of
// kmem.str / kmem.ip (array-map memory: a kernel pointer), filled at run time.
//
// STREAM_VPRINTK names the kfunc (bpf_stream_vprintk or _impl, per kernel).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#ifndef STREAM_VPRINTK
#error "compile with -DSTREAM_VPRINTK=<kfunc name>"
#endif

#define FMT_MAX 2048
#define NARGS 13
#define OUT_MAX 1024
#define KSTR_MAX 1024

extern int STREAM_VPRINTK(int stream_id, const char *fmt__str, const void *args, __u32 len__sz,
                          void *aux__prog) __ksym;

// Keep in step with struct KernelCaseIn in bprintf_diff_test.cc.
struct case_in {
  char fmt[FMT_MAX];
  __u64 argv[NARGS];
  __u8 kind[NARGS];  // 0 literal argv[i], 1 &kmem.str, 2 &kmem.ip
  __u32 stream_id;
  __u32 data_len;
};
const volatile struct case_in in;

struct kernel_mem {
  char str[KSTR_MAX];
  __u8 ip[16];
};
struct kernel_mem kmem = {.str = "k"};  // .data: the test sets it per case

struct result {
  int vprintk_ret;
  int snprintf_ret;
  char out[OUT_MAX];
};
struct result res;

static __always_inline void fill_args(__u64 *args) {
#pragma unroll
  for (int i = 0; i < NARGS; i++) {
    if (in.kind[i] == 1)
      args[i] = (__u64)(unsigned long)kmem.str;
    else if (in.kind[i] == 2)
      args[i] = (__u64)(unsigned long)kmem.ip;
    else
      args[i] = in.argv[i];
  }
}

SEC("syscall")
int run_vprintk(void *ctx) {
  __u64 args[NARGS];

  fill_args(args);
  res.vprintk_ret = STREAM_VPRINTK(in.stream_id, (const char *)in.fmt, args, in.data_len, 0);
  return 0;
}

SEC("syscall")
int run_snprintf(void *ctx) {
  __u64 args[NARGS];

  fill_args(args);
  res.snprintf_ret = bpf_snprintf(res.out, sizeof(res.out), (const char *)in.fmt, args,
                                  in.data_len);
  return 0;
}

char _license[] SEC("license") = "GPL";
