// fuzz/stream_state_fuzz.cc: the stream API as a state machine
// (stream/bpf_stream.h, stream/bpf_prog.h), checked after every step against
// a small sequential reference model.
//
// One input is one program (bpf_prog_load_bare, with 0-2 subprograms) under
// one profile, driven through a sequence of steps:
//   vprintk    bpf_stream_vprintk through the main program or a subprogram
//              (a literal of 0..1499 letters, then nothing, %d or %llx)
//   push       bpf_stream_push_str of 0..1099 bytes
//   stage      a staged report of 1..5 lines of 0..1199 characters
//              (bpf_stream_stage_init / printk / commit / free)
//   read       bpf_prog_stream_read_by_fd of 0..2099 bytes (bad fds and ids too)
//   fill       pushes of one length until the capacity refuses (-ENOSPC)
//   faults     set_page_fault_policy: never, or every k-th page allocation
//   reload     close the fd (teardown) and load a new program
//   drain      reads of 64..16384 bytes until the stream is empty
// The reference model (Ref below) is written from the contract in
// stream/bpf_stream.h and the profile table of docs/profiles.md, not from the
// implementation: per stream, the queue of elements a reader must see (exact
// bytes, in order, element boundaries for the capacity given back) and the
// capacity charge, including each profile's documented leaks (linux-6.18: an
// output over 1024 bytes, a failed allocation after the charge, a staged
// line that failed; seed: a failed allocation after the charge).
// Allocation failures are injected with the page fault policy; whether a
// given allocation failed is observed through page_alloc_stats()'s
// injected_failures (which allocation needs a new page is the allocator's
// business), and the return code and the state must then agree with it.
//
// Checked after every step: the return code, the bytes read, both streams'
// charges, and the element allocator's live elements and payload bytes
// against the model's queues. At the end of an input: teardown frees every
// element and, after bpf_stream_alloc_drain_all, the page count is back to
// where the input started. A mismatch aborts naming the step and operation.
//
// Not driven: zero-length elements under seed and linux-6.18 (empty
// vprintk output, a push of 0 bytes, an empty staged line under 6.18): the
// page allocator's room check lets one be written past its page, kernel
// finding 6 of docs/kernel-findings.md, which the model turns into a WARN.
// The fuzzer found it again within a minute
// (fuzz/regressions/stream_state/zero-len-overrun-*); such a step is skipped.
// Nor the seed profile's commit of a one-element report (a kernel bug
// of the series the model turns into a MODEL_ASSERT, docs/stream.md): the
// target frees such a report instead of committing it.
//
// Input layout: byte 0 profile (% 3: seed, linux-6.18, mainline), byte 1
// subprograms (% 3); then steps, each an op byte (% 8, order above) and its
// parameter bytes (see each case). Past the end of the input reads are zeros.
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include "alloc/stream_elem.h"
#include "fuzz/fuzz_util.h"
#include "model/native/cpu_binding.h"
#include "model/page_alloc.h"
#include "model/profile.h"
#include "stream/bpf_prog.h"
#include "stream/bpf_stream.h"

using namespace kmodel;
using kmodel::fuzz::ByteReader;

namespace {

constexpr int kMaxSteps = 64;
constexpr int kElemMax = 1024;  // BPF_STREAM_ELEM_MAX_LEN, MAX_BPRINTF_BUF

struct RefElem {
  std::string bytes;
  int consumed = 0;
};

// The sequential reference model of one stream.
struct RefStream {
  std::deque<RefElem> queue;
  long charge = 0;

  // bpf_stream_consume_capacity as the contract states it.
  bool charge_ok(long len, long max) const { return charge < max && charge + len < max; }

  // The reader: oldest first, across elements; a fully consumed element
  // gives its length back. Returns the bytes a read of len must return.
  std::string read(int len) {
    std::string out;
    int rem = len;
    while (rem > 0 && !queue.empty()) {
      RefElem& e = queue.front();
      const int total = static_cast<int>(e.bytes.size());
      const int used = std::min(total - e.consumed, rem);
      out.append(e.bytes, static_cast<std::size_t>(e.consumed), static_cast<std::size_t>(used));
      e.consumed += used;
      rem -= used;
      if (e.consumed == total) {
        charge -= total;
        queue.pop_front();
      }
    }
    return out;
  }
};

struct Ref {
  RefStream s[2];  // BPF_STDOUT, BPF_STDERR
  RefStream& of(int id) { return s[id - 1]; }
  long elems() const { return long(s[0].queue.size() + s[1].queue.size()); }
  long payload() const {
    long n = 0;
    for (const auto& st : s)
      for (const auto& e : st.queue) n += long(e.bytes.size());
    return n;
  }
};

const char* const kOpNames[] = {"vprintk", "push",   "stage",  "read",
                                "fill",    "faults", "reload", "drain"};

// A letter pattern of n characters (bprintf accepts letters in any profile).
std::string letters(std::size_t n, std::uint8_t seed) {
  std::string s(n, 'a');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (seed + i) % 26);
  return s;
}

u64 injected() { return page_alloc_stats().injected_failures; }

// A zero-length element from the page allocator (seed, linux-6.18) is kernel
// finding 6 (see the top of the file): not driven.
bool zero_len_is_finding6(std::size_t len) {
  return len == 0 && current_profile() != Profile::kMainline;
}

// What a push of these `out` bytes (formatted length n = out.size()) queues
// under the current profile, for vprintk (bytes per message, docs/profiles.md).
// *len: the length charged and pushed; returns false when mainline refuses
// before the charge (-E2BIG), or (mainline) pushes nothing for empty output.
struct PushPlan {
  int ret_before_charge = 0;  // nonzero: returned before any charge
  bool nothing = false;       // mainline empty output: returns 0, no charge
  int len = 0;                // charged and pushed
  std::string bytes;          // what the element carries (when len <= 1024)
};

std::string truncated_with_nul(const std::string& out, int len) {
  // The bprintf buffer holds at most 1023 characters and a NUL; a push of
  // len bytes takes them from the buffer.
  std::string buf = out.substr(0, std::min<std::size_t>(out.size(), kElemMax - 1));
  buf.push_back('\0');
  return buf.substr(0, static_cast<std::size_t>(std::min<int>(len, int(buf.size()))));
}

PushPlan plan_vprintk(const std::string& out) {
  PushPlan p;
  const int n = static_cast<int>(out.size());
  switch (current_profile()) {
    case Profile::kSeed:
      p.len = std::min(n + 1, kElemMax);
      p.bytes = truncated_with_nul(out, p.len);
      break;
    case Profile::kLinux618:
      p.len = n;
      if (n <= kElemMax) p.bytes = truncated_with_nul(out, n);
      break;
    case Profile::kMainline:
    case Profile::kNext:  // not drawn by this fuzzer (its stream fds are stream_next/'s)
      if (n >= kElemMax) p.ret_before_charge = -E2BIG;
      else if (n == 0) p.nothing = true;
      else { p.len = n; p.bytes = out; }
      break;
  }
  return p;
}

class Machine {
 public:
  Machine(std::uint8_t nr_subprogs) : nr_subprogs_(nr_subprogs) { load(); }
  ~Machine() { bpf_fd_table_release(&table_); }

  void run(ByteReader& in) {
    for (step_ = 0; step_ < kMaxSteps && in.remaining() > 0; ++step_) {
      op_ = in.u8() % 8;
      switch (op_) {
        case 0: vprintk(in); break;
        case 1: push(in); break;
        case 2: stage(in); break;
        case 3: read(in); break;
        case 4: fill(in); break;
        case 5: faults(in); break;
        case 6: reload(); break;
        case 7: drain(in); break;
      }
      check_state();
    }
    set_page_fault_policy(PageFaultPolicy::never());
    op_ = 6;
    // Teardown frees every element still queued.
    FUZZ_CHECK(bpf_prog_close_fd(&table_, fd_) == 0, "final close");
    fd_ = -1;
    const auto st = bpf_stream_alloc_stats_read();
    FUZZ_CHECK(st.elems_live == 0, "after teardown: %lld elements live",
               static_cast<long long>(st.elems_live));
  }

 private:
  [[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "stream_state: step %d (%s), profile %s: %s\n", step_, kOpNames[op_],
                 profile_name(current_profile()), what);
    std::abort();
  }
  void expect(bool ok, const char* what) {
    if (!ok) fail(what);
  }
  void expect_eq(long got, long want, const char* what) {
    if (got == want) return;
    char msg[256];
    std::snprintf(msg, sizeof msg, "%s: got %ld, the reference model expects %ld", what, got,
                  want);
    fail(msg);
  }

  void load() {
    fd_ = bpf_prog_load_bare(&table_, "fuzz", 4, nr_subprogs_);
    expect(fd_ >= BPF_FD_BASE, "bpf_prog_load_bare failed");
    ref_ = Ref{};
  }

  bpf_prog* prog() {
    bpf_prog* p = bpf_prog_get(&table_, fd_);
    expect(p != nullptr, "bpf_prog_get of the live fd");
    bpf_prog_put(p);  // the fd keeps it alive
    return p;
  }

  static int stream_id(std::uint8_t b) { return (b & 1) + 1; }
  long max() const { return bpf_stream_max_capacity(); }

  // A charge then an allocation that failed or not: the model's bookkeeping
  // for one push of plan.len bytes. ret is what the implementation returned.
  void account_push(RefStream& rs, const PushPlan& p, int ret, u64 inj_before) {
    if (p.ret_before_charge) {
      expect_eq(ret, p.ret_before_charge, "return code (refused before the charge)");
      return;
    }
    if (p.nothing) {
      expect_eq(ret, 0, "return code (empty output)");
      return;
    }
    if (!rs.charge_ok(p.len, max())) {
      expect_eq(ret, -ENOSPC, "return code (capacity full)");
      return;
    }
    const bool too_long = p.len > kElemMax;
    const bool injected_fail = injected() != inj_before;
    if (too_long || injected_fail) {
      expect_eq(ret, -ENOMEM, "return code (allocation refused)");
      expect(!(too_long && injected_fail), "an over-long element reached the page allocator");
      // Only mainline gives the charge of a failed allocation back.
      if (current_profile() != Profile::kMainline) rs.charge += p.len;
      return;
    }
    expect_eq(ret, 0, "return code (queued)");
    rs.charge += p.len;
    rs.queue.push_back(RefElem{p.bytes, 0});
  }

  void vprintk(ByteReader& in) {
    const std::uint8_t flags = in.u8();
    const int id = (flags & 0x10) ? 3 : stream_id(flags);  // 3: a bad id
    const std::size_t lit = (in.u8() | (std::size_t{in.u8()} << 8)) % 1500;
    const std::uint8_t pat = in.u8();
    const u64 arg = in.u64();
    std::string fmt = letters(lit, pat);
    const int kind = (flags >> 1) % 3;
    u64 args[1] = {arg};
    u32 args_len = 0;
    char tail[64] = "";
    if (kind == 1) {
      fmt += "%d";
      args_len = 8;
      std::snprintf(tail, sizeof tail, "%d", static_cast<int>(arg));
    } else if (kind == 2) {
      fmt += "%llx";
      args_len = 8;
      std::snprintf(tail, sizeof tail, "%llx", static_cast<unsigned long long>(arg));
    }
    // Through the main program or one of its subprograms: same streams.
    bpf_prog* p = prog();
    const int fn = nr_subprogs_ ? (flags >> 3) % (nr_subprogs_ + 1) : 0;
    bpf_prog* target = p->aux->func.empty() ? p : p->aux->func[static_cast<std::size_t>(fn)];
    if (id != 3 && current_profile() == Profile::kLinux618 && lit == 0 && kind == 0) return;
    const u64 inj = injected();
    const int ret = bpf_stream_vprintk(id, fmt.c_str(), args, args_len, target);
    if (id == 3) {
      expect_eq(ret, -ENOENT, "return code (bad stream id)");
      return;
    }
    // (the empty output was filtered before the call, see below)
    account_push(ref_.of(id), plan_vprintk(fmt.substr(0, lit) + tail), ret, inj);
  }

  void push(ByteReader& in) {
    const int id = stream_id(in.u8());
    const int len = (in.u8() | (int{in.u8()} << 8)) % 1100;
    if (zero_len_is_finding6(std::size_t(len))) return;
    std::string bytes(static_cast<std::size_t>(len), '\0');
    for (int i = 0; i < len; ++i) bytes[std::size_t(i)] = static_cast<char>(in.u8() ^ i);
    PushPlan p;
    if (len == 0 && current_profile() == Profile::kMainline) p.nothing = true;
    p.len = len;
    if (len <= kElemMax) p.bytes = bytes;
    const u64 inj = injected();
    const int ret = bpf_stream_push_str(bpf_stream_get(id, prog()), bytes.data(), len);
    account_push(ref_.of(id), p, ret, inj);
  }

  void stage(ByteReader& in) {
    const std::uint8_t flags = in.u8();
    const int id = (flags & 0x80) ? 0 : stream_id(flags);  // 0: a bad id
    const int nlines = 1 + (flags >> 1) % 5;
    bpf_stream_stage ss;
    bpf_stream_stage_init(&ss);
    std::vector<std::string> staged;  // what a reader must see, in order
    long ss_len = 0;
    for (int i = 0; i < nlines; ++i) {
      const int n = (in.u8() | (int{in.u8()} << 8)) % 1200;
      const std::string line = letters(std::size_t(n), in.u8());
      if (current_profile() == Profile::kLinux618 && n == 0) continue;  // finding 6
      const u64 inj = injected();
      const int ret = bpf_stream_printk(ss, "%s", line.c_str());
      const bool inj_fail = injected() != inj;
      // Per profile (stream/bpf_stream.h, staging).
      int len = 0;
      bool counted_always = false;
      std::string bytes;
      switch (current_profile()) {
        case Profile::kSeed:
          len = std::min(n + 1, kElemMax);
          bytes = truncated_with_nul(line, len);
          counted_always = true;
          break;
        case Profile::kLinux618:
          len = n;
          if (n <= kElemMax) bytes = truncated_with_nul(line, len);
          counted_always = true;
          break;
        case Profile::kMainline:
        case Profile::kNext:
          len = std::min(n, kElemMax - 1);
          bytes = line.substr(0, std::size_t(len));
          break;
      }
      const bool pushes = !(current_profile() == Profile::kMainline && len == 0);
      const bool fails = pushes && (len > kElemMax || inj_fail);
      expect(!(len > kElemMax && inj_fail), "an over-long staged line reached the page allocator");
      expect_eq(ret, fails ? -ENOMEM : 0, "staged line's return code");
      if (!pushes) continue;
      if (counted_always || !fails) ss_len += len;
      if (!fails) staged.push_back(bytes);
    }
    expect_eq(ss.len, ss_len, "ss->len");
    bpf_prog* p = prog();
    if (current_profile() == Profile::kSeed && staged.size() == 1 && id != 0 &&
        ref_.of(id).charge_ok(ss_len, max())) {
      // The seed's one-element commit is the documented kernel bug (MODEL_ASSERT).
      bpf_stream_stage_free(&ss);
      return;
    }
    const int ret = bpf_stream_stage_commit(&ss, p, id);
    bpf_stream_stage_free(&ss);
    if (id == 0) {
      expect_eq(ret, -EINVAL, "commit's return code (bad stream id)");
      return;
    }
    RefStream& rs = ref_.of(id);
    if (!rs.charge_ok(ss_len, max())) {
      expect_eq(ret, -ENOSPC, "commit's return code (capacity full)");
      return;
    }
    expect_eq(ret, 0, "commit's return code");
    rs.charge += ss_len;  // all of it, even bytes no element carries (6.18)
    for (auto& b : staged) rs.queue.push_back(RefElem{std::move(b), 0});
  }

  void read(ByteReader& in) {
    const std::uint8_t flags = in.u8();
    const int len = (in.u8() | (int{in.u8()} << 8)) % 2100;
    std::string buf(std::size_t(len) + 1, '\x5a');
    if ((flags & 0x30) == 0x30) {
      const int ret = bpf_prog_stream_read_by_fd(&table_, fd_ + 7, stream_id(flags), buf.data(), len);
      expect_eq(ret, -EBADF, "read of a bad fd");  // a closed fd, as the kernel answers
      return;
    }
    if ((flags & 0x30) == 0x20) {
      const int ret = bpf_prog_stream_read_by_fd(&table_, fd_, 3, buf.data(), len);
      expect_eq(ret, -ENOENT, "read of a bad stream id");
      return;
    }
    do_read(stream_id(flags), len, buf);
  }

  void do_read(int id, int len, std::string& buf) {
    const std::string want = ref_.of(id).read(len);
    const int ret = bpf_prog_stream_read_by_fd(&table_, fd_, id, buf.data(), len);
    expect_eq(ret, long(want.size()), "bytes read");
    expect(std::memcmp(buf.data(), want.data(), want.size()) == 0, "bytes read differ");
    expect(buf[std::size_t(len)] == '\x5a', "read wrote past len");
  }

  void fill(ByteReader& in) {
    const int id = stream_id(in.u8());
    const int len = 1 + (in.u8() | (int{in.u8()} << 8)) % kElemMax;
    const std::string bytes = letters(std::size_t(len), std::uint8_t(len));
    PushPlan p;
    p.len = len;
    p.bytes = bytes;
    for (int i = 0; i < 5000; ++i) {
      const u64 inj = injected();
      const int ret = bpf_stream_push_str(bpf_stream_get(id, prog()), bytes.data(), len);
      account_push(ref_.of(id), p, ret, inj);
      if (ret == -ENOSPC) return;
    }
  }

  void faults(ByteReader& in) {
    const int k = in.u8() % 6;
    set_page_fault_policy(k == 0 ? PageFaultPolicy::never() : PageFaultPolicy::every_nth(u64(k)));
  }

  void reload() {
    expect_eq(bpf_prog_close_fd(&table_, fd_), 0, "close");
    expect_eq(bpf_prog_close_fd(&table_, fd_), -EBADF, "second close");
    expect_eq(bpf_stream_alloc_stats_read().elems_live, 0, "elements live after teardown");
    load();
  }

  void drain(ByteReader& in) {
    const int id = stream_id(in.u8());
    // Chunks of 64..16384 bytes (small reads of a full seed stream, 4 MiB,
    // would take seconds per input; `read` covers the small lengths).
    const int chunk = 64 + in.u8() * 64;
    std::string buf(std::size_t(chunk) + 1, '\x5a');
    // Every read the model predicts takes >= 1 byte or pops an empty element.
    while (!ref_.of(id).queue.empty()) do_read(id, chunk, buf);
    do_read(id, chunk, buf);  // an empty stream reads 0
  }

  void check_state() {
    bpf_prog* p = prog();
    for (int id = BPF_STDOUT; id <= BPF_STDERR; ++id)
      expect_eq(bpf_stream_capacity_read(bpf_stream_get(id, p)), ref_.of(id).charge,
                id == BPF_STDOUT ? "stdout charge" : "stderr charge");
    const auto st = bpf_stream_alloc_stats_read();
    expect_eq(st.elems_live, ref_.elems(), "elements live");
    expect_eq(st.payload_bytes_in_use, ref_.payload(), "payload bytes live");
  }

  bpf_fd_table table_;
  int fd_ = -1;
  int nr_subprogs_;
  Ref ref_;
  int step_ = 0;
  int op_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  [[maybe_unused]] static native::CpuBinding cpu(0);  // the whole process is CPU 0
  ByteReader in(data, size);
  const Profile profiles[] = {Profile::kSeed, Profile::kLinux618, Profile::kMainline};
  ScopedProfile profile(profiles[in.u8() % 3]);
  const std::uint8_t nr_subprogs = in.u8() % 3;
  set_page_fault_policy(PageFaultPolicy::never());
  bpf_stream_alloc_drain_all();
  const s64 pages_before = page_alloc_stats().pages_live;
  FUZZ_CHECK(bpf_stream_alloc_stats_read().elems_live == 0, "elements live before the input");
  {
    Machine m(nr_subprogs);
    m.run(in);
  }
  set_page_fault_policy(PageFaultPolicy::never());
  bpf_stream_alloc_drain_all();
  FUZZ_CHECK(page_alloc_stats().pages_live == pages_before,
             "pages live %lld after the input, %lld before",
             static_cast<long long>(page_alloc_stats().pages_live),
             static_cast<long long>(pages_before));
  return 0;
}
