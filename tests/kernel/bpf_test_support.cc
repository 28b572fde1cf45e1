// tests/kernel/bpf_test_support.cc: see bpf_test_support.h.
#include "tests/kernel/bpf_test_support.h"

#include <catch2/catch.hpp>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>

namespace kernel_test {
namespace {

std::string g_log;

int capture(enum libbpf_print_level level, const char* fmt, va_list ap) {
  if (level == LIBBPF_DEBUG) return 0;
  char buf[1024];
  std::vsnprintf(buf, sizeof(buf), fmt, ap);
  g_log += buf;
  return 0;
}

}  // namespace

void skip(const std::string& why) {
  std::fflush(stdout);
  std::fprintf(stderr, "SKIPPED: %s\n", why.c_str());  // test.log
  std::cout << "SKIPPED: " << why << '\n';             // JUnit <system-out>
  WARN("SKIPPED: " << why);                            // console runs
}

std::string errno_text(int err) { return std::string(std::strerror(err < 0 ? -err : err)); }

void clear_libbpf_log() {
  libbpf_set_print(capture);
  g_log.clear();
}
const std::string& libbpf_log() { return g_log; }

std::string data_path(const char* env, const char* file) {
  if (const char* p = std::getenv(env)) return p;
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* ws = std::getenv("TEST_WORKSPACE");
  const std::string rel = std::string("tests/kernel/") + file;
  if (srcdir == nullptr || ws == nullptr) return rel;
  return std::string(srcdir) + "/" + ws + "/" + rel;
}

std::string kernel_unavailable() {
  if (access("/sys/kernel/btf/vmlinux", R_OK) != 0)
    return "/sys/kernel/btf/vmlinux is missing: the kernel has no BTF for kfuncs";
  return "";
}

// libbpf fails with -EINVAL or -ESRCH ("extern (func ksym) '<name>': not
// found in kernel or module BTFs"), an older verifier with -EINVAL/-ENOENT
// naming it.
bool kfunc_missing(int err, const std::string& log, const char* kfunc) {
  const bool missing = err == -ESRCH || err == -ENOENT || err == -EINVAL || err == -EOPNOTSUPP ||
                       err == -524 /* ENOTSUPP */;
  return missing && log.find(kfunc) != std::string::npos;
}

std::string load_skip_reason(int err, const std::string& what, const char* kfunc) {
  // The verifier also answers -EACCES: a program it rejected (its log is in
  // libbpf's) is a broken test, not a missing privilege.
  const bool verifier_rejected = libbpf_log().find("BEGIN PROG LOAD LOG") != std::string::npos;
  if ((err == -EPERM || err == -EACCES) && !verifier_rejected)
    return "bpf() refused (no root/CAP_BPF, or a user namespace): " + what;
  if (kfunc_missing(err, libbpf_log(), kfunc))
    return std::string("the kernel lacks a kfunc this test needs (") + kfunc + "...): " + what;
  return "";
}

const char* stream_vprintk_kfunc(std::string* error) {
  btf* vmlinux = btf__load_vmlinux_btf();
  if (vmlinux == nullptr) {
    *error = "parsing /sys/kernel/btf/vmlinux: " + errno_text(errno);
    return nullptr;
  }
  const char* kfunc = nullptr;
  for (const char* name : {"bpf_stream_vprintk", "bpf_stream_vprintk_impl"})
    if (btf__find_by_name_kind(vmlinux, name, BTF_KIND_FUNC) > 0) kfunc = name;
  btf__free(vmlinux);
  return kfunc;
}

int test_run(int fd, const char* name, std::string* error) {
  LIBBPF_OPTS(bpf_test_run_opts, opts);
  if (const int err = bpf_prog_test_run_opts(fd, &opts); err != 0) {
    *error = std::string("BPF_PROG_TEST_RUN of ") + name + ": " + errno_text(errno);
    return 0;
  }
  return static_cast<int>(opts.retval);
}

namespace {
// union bpf_attr's prog_stream_read member.
struct bpf_attr_prog_stream_read {
  __aligned_u64 stream_buf;
  __u32 stream_buf_len;
  __u32 stream_id;
  __u32 prog_fd;
};
}  // namespace

long prog_stream_read(int prog_fd, unsigned stream_id, void* buf, unsigned len) {
  bpf_attr_prog_stream_read attr{};
  attr.stream_buf = reinterpret_cast<__u64>(buf);
  attr.stream_buf_len = len;
  attr.stream_id = stream_id;
  attr.prog_fd = static_cast<__u32>(prog_fd);
  const long n = syscall(__NR_bpf, BPF_PROG_STREAM_READ_BY_FD, &attr, sizeof(attr));
  return n < 0 ? -errno : n;
}

void load_stream_object(StreamObject* o, const char* env, const std::string& stem) {
  if (o->skip = kernel_unavailable(); !o->skip.empty()) return;
  const char* kfunc = o->kfunc = stream_vprintk_kfunc(&o->error);
  if (!o->error.empty()) return;
  if (kfunc == nullptr) {
    o->skip = "the kernel has no bpf_stream_vprintk kfunc (no BPF streams)";
    return;
  }
  const std::string path = data_path(env, (stem + "_" + kfunc + ".bpf.o").c_str());
  clear_libbpf_log();
  o->obj = bpf_object__open_file(path.c_str(), nullptr);
  if (o->obj == nullptr) {
    o->error = "open " + path + ": " + errno_text(errno) + "\n" + libbpf_log();
    return;
  }
  if (const int err = bpf_object__load(o->obj); err != 0) {
    const std::string what = "load " + path + ": " + errno_text(err) + "\n" + libbpf_log();
    o->skip = load_skip_reason(err, what, kfunc);
    if (o->skip.empty()) o->error = what;
  }
}

int StreamObject::prog_fd(const char* name) const {
  bpf_program* prog = obj == nullptr ? nullptr : bpf_object__find_program_by_name(obj, name);
  return prog == nullptr ? -1 : bpf_program__fd(prog);
}

}  // namespace kernel_test
