// tests/kernel/stream_read_tracelog.bpf.c: the program cli/tracelog dumps in
// //tests/kernel:stream_read_tracelog_kernel_test.
//
// One message on each stream (stdout, then stderr); returns the first
// failing write's result, or 0. Its name and code are this test's own, so
// `tracelog ... name tracelog_probe` and `tag` name exactly one program even
// while other live-kernel tests have their programs loaded. Compiled once
// per kfunc name, as stream_probe.bpf.c.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#ifndef STREAM_VPRINTK
#error "compile with -DSTREAM_VPRINTK=<kfunc name>"
#endif

#define BPF_STDOUT 1
#define BPF_STDERR 2

extern int STREAM_VPRINTK(int stream_id, const char *fmt__str, const void *args, __u32 len__sz,
                          void *aux__prog) __ksym;

SEC("syscall")
int tracelog_probe(void *ctx) {
  static const char out_fmt[] = "tracelog test: stdout %d\n";
  static const char err_fmt[] = "tracelog test: stderr %d\n";
  __u64 args[1] = {42};
  int ret;

  ret = STREAM_VPRINTK(BPF_STDOUT, out_fmt, args, sizeof(args), 0);
  if (ret)
    return ret;
  return STREAM_VPRINTK(BPF_STDERR, err_fmt, args, sizeof(args), 0);
}

char _license[] SEC("license") = "GPL";
