// tests/kernel/bpf_test_support.h: what every live-kernel test needs: the
// skip protocol, libbpf's captured log, runfile paths, loading with the skip
// rules, running a SEC("syscall") program, and the raw bpf(2) stream read.
//
// Skips: Catch2 v2 has no SKIP, so skip() prints "SKIPPED: <why>" on stderr
// (test.log), on stdout (JUnit system-out) and as a WARN, and the caller
// returns (the test case passes). A test skips only for a missing feature
// or privilege; anything else that goes wrong must fail, naming the step.
#ifndef KMODEL_TESTS_KERNEL_BPF_TEST_SUPPORT_H_
#define KMODEL_TESTS_KERNEL_BPF_TEST_SUPPORT_H_

#include <bpf/libbpf.h>

#include <string>

namespace kernel_test {

void skip(const std::string& why);

std::string errno_text(int err);

// libbpf's warnings and info (the verifier log among them) since the last
// clear_libbpf_log(); installs the capturing print callback on first use.
void clear_libbpf_log();
const std::string& libbpf_log();

// Runfiles path of tests/kernel/<file>, or $<env> when set.
std::string data_path(const char* env, const char* file);

// Why the kernel cannot run BPF with kfuncs here at all, or "".
std::string kernel_unavailable();

// Whether a failed load (err, libbpf's log) means the kernel lacks `kfunc`.
bool kfunc_missing(int err, const std::string& log, const char* kfunc);

// After bpf_object__load() failed with err: the skip reason when it is a
// missing privilege or kfunc, else "" (a failure; a program the verifier
// rejected is a failure even though the verifier answers -EACCES).
std::string load_skip_reason(int err, const std::string& what, const char* kfunc);

// The name this kernel's BTF gives the stream kfunc (bpf_stream_vprintk in
// 6.17/6.18, bpf_stream_vprintk_impl in later kernels and some stable
// builds), or nullptr when it has neither; *error on a BTF parse failure.
const char* stream_vprintk_kfunc(std::string* error);

// A BPF object compiled once per name of the stream kfunc (the BUILD file's
// "<stem>_<kfunc>.bpf.o"), opened and loaded for this kernel: either `obj`
// is loaded, or `skip` says which feature or privilege is missing, or
// `error` says what else went wrong (a failure, never a skip).
struct StreamObject {
  bpf_object* obj = nullptr;
  const char* kfunc = nullptr;  // the stream kfunc's name on this kernel
  std::string skip;
  std::string error;
  StreamObject() = default;
  StreamObject(const StreamObject&) = delete;
  StreamObject& operator=(const StreamObject&) = delete;
  ~StreamObject() { bpf_object__close(obj); }
  // The fd of the program `name` (-1 when the object has none).
  int prog_fd(const char* name) const;
};
// Loads "<stem>_<kfunc>.bpf.o" from the runfiles (or $<env>).
void load_stream_object(StreamObject* o, const char* env, const std::string& stem);

// BPF_PROG_TEST_RUN of prog fd once; returns its retval, or sets *error.
int test_run(int fd, const char* name, std::string* error);

// BPF_PROG_STREAM_READ_BY_FD (include/uapi/linux/bpf.h, 6.17+), raw: the
// bpf(2) return, or -errno. libbpf 1.1 has no wrapper.
constexpr int BPF_PROG_STREAM_READ_BY_FD = 37;  // enum bpf_cmd
long prog_stream_read(int prog_fd, unsigned stream_id, void* buf, unsigned len);

}  // namespace kernel_test

#endif  // KMODEL_TESTS_KERNEL_BPF_TEST_SUPPORT_H_
