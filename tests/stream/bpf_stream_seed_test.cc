// tests/stream/bpf_stream_seed_test.cc: the seed's BPF-side reader
// (stream/bpf_stream_seed.h) natively on CPU 0: references, order, capacity
// given back at pop, the read-only dynptr, the lock-failure path.
#include <catch2/catch.hpp>

#include <cerrno>
#include <string>

#include "alloc/stream_elem.h"
#include "model/native/cpu_binding.h"
#include "model/page_alloc.h"
#include "model/profile.h"
#include "stream/bpf_prog.h"
#include "stream/bpf_stream.h"
#include "stream/bpf_stream_seed.h"

using namespace kmodel;

namespace {

struct Fixture {
  native::CpuBinding cpu{0};
  ScopedProfile profile{Profile::kSeed};
  bpf_fd_table table;
  int fd = -1;
  bpf_prog* prog = nullptr;
  Fixture() {
    set_page_fault_policy(PageFaultPolicy::never());
    fd = bpf_prog_load_bare(&table, "seed_reader", 8);
    prog = bpf_prog_get(&table, fd);
    bpf_prog_put(prog);
  }
  ~Fixture() {
    bpf_fd_table_release(&table);
    bpf_stream_alloc_drain_all();
    CHECK(bpf_stream_alloc_stats_read().elems_live == 0);
  }
  bpf_stream* out() { return bpf_stream_get(BPF_STDOUT, prog); }
  void push(const std::string& s) {
    REQUIRE(bpf_stream_push_str(out(), s.data(), static_cast<int>(s.size())) == 0);
  }
  std::string pop() {
    bpf_stream_elem* e = bpf_stream_next_elem(out());
    if (e == nullptr) return "<none>";
    const bpf_mem_slice slice = bpf_stream_elem_mem_slice(e);
    std::string s(static_cast<const char*>(slice.ptr), slice.len);
    bpf_stream_free_elem(e);
    return s;
  }
};

}  // namespace

TEST_CASE("seed reader: bpf_prog_stream_get/put by id hold a reference") {
  Fixture f;
  const u32 id = f.prog->aux->id;
  CHECK(bpf_prog_stream_get(BPF_STDOUT, id + 1000) == nullptr);
  const int before = atomic_read(&f.prog->aux->refcnt);
  CHECK(bpf_prog_stream_get(3, id) == nullptr);  // bad id: no reference kept
  CHECK(atomic_read(&f.prog->aux->refcnt) == before);
  bpf_stream* s = bpf_prog_stream_get(BPF_STDERR, id);
  REQUIRE(s == bpf_stream_get(BPF_STDERR, f.prog));
  CHECK(atomic_read(&f.prog->aux->refcnt) == before + 1);
  // The fd closes; the stream's reference keeps the program.
  REQUIRE(bpf_prog_close_fd(&f.table, f.fd) == 0);
  CHECK(bpf_prog_by_id(id) == f.prog);
  REQUIRE(bpf_stream_push_str(s, "kept", 4) == 0);
  bpf_prog_stream_put(s);  // the last reference: teardown frees the element
  CHECK(bpf_prog_by_id(id) == nullptr);
}

TEST_CASE("seed reader: FIFO across the log and the backlog, capacity back at pop") {
  Fixture f;
  CHECK(f.pop() == "<none>");
  f.push("one");
  f.push("two");
  CHECK(bpf_stream_capacity_read(f.out()) == 6);
  bpf_stream_elem* e = bpf_stream_next_elem(f.out());  // detaches both, pops "one"
  REQUIRE(e != nullptr);
  CHECK(bpf_stream_capacity_read(f.out()) == 3);  // given back at pop, before the free
  f.push("three");
  CHECK(f.pop() == "two");  // from the backlog
  CHECK(f.pop() == "three");
  CHECK(f.pop() == "<none>");
  CHECK(bpf_stream_capacity_read(f.out()) == 0);
  // The caller owns the popped element until it frees it.
  const bpf_mem_slice slice = bpf_stream_elem_mem_slice(e);
  CHECK(std::string(static_cast<const char*>(slice.ptr), slice.len) == "one");
  bpf_stream_free_elem(e);
}

TEST_CASE("seed reader: bpf_dynptr_from_mem_slice is read-only") {
  Fixture f;
  f.push("hello world");
  bpf_stream_elem* e = bpf_stream_next_elem(f.out());
  REQUIRE(e != nullptr);
  const bpf_mem_slice slice = bpf_stream_elem_mem_slice(e);
  bpf_dynptr_kern d;
  CHECK(bpf_dynptr_from_mem_slice(&slice, 1, &d) == -EINVAL);
  CHECK(d.data == nullptr);
  REQUIRE(bpf_dynptr_from_mem_slice(&slice, 0, &d) == 0);
  CHECK(bpf_dynptr_size(&d) == 11);
  char out[8] = {};
  CHECK(bpf_dynptr_read(out, 5, &d, 6, 0) == 0);
  CHECK(std::string(out, 5) == "world");
  CHECK(bpf_dynptr_read(out, 6, &d, 6, 0) == -E2BIG);
  CHECK(bpf_dynptr_write(&d, 0, "X", 1, 0) == -EINVAL);
  CHECK(std::string(e->str, 11) == "hello world");
  bpf_stream_free_elem(e);
}

TEST_CASE("seed reader: the lock held on this CPU: NULL, nothing popped or dropped") {
  Fixture f;
  f.push("abc");
  unsigned long flags = 0;
  REQUIRE(raw_res_spin_lock_irqsave(&f.out()->res_lock, flags) == 0);
  CHECK(bpf_stream_next_elem(f.out()) == nullptr);  // AA: -EDEADLK inside
  raw_res_spin_unlock_irqrestore(&f.out()->res_lock, flags);
  CHECK(bpf_stream_seed_stats_read().batches_dropped == 0);
  CHECK(bpf_stream_capacity_read(f.out()) == 3);
  CHECK(f.pop() == "abc");
}
