// Native unit tests of the BPF stream element allocators: layout, limits,
// bump order, page replacement and freeing, cross-CPU frees, failure
// injection, accounting, the mainline kmalloc_nolock path, teardown.
#include <catch2/catch.hpp>

#include <cstdint>
#include <thread>
#include <vector>

#include "alloc/kmalloc_nolock.h"
#include "alloc/stream_elem.h"
#include "alloc/stream_page.h"
#include "model/native/cpu_binding.h"
#include "model/page_alloc.h"
#include "model/profile.h"

using namespace kmodel;

namespace {

std::uintptr_t addr(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }

// Every test runs as CPU 0 and leaves no page behind.
struct Fixture {
  native::CpuBinding cpu{0};
  s64 pages_base;
  Fixture() {
    set_page_fault_policy(PageFaultPolicy::never());
    bpf_stream_alloc_drain_all();
    pages_base = page_alloc_stats().pages_live;
  }
  ~Fixture() {
    set_page_fault_policy(PageFaultPolicy::never());
    bpf_stream_alloc_drain_all();
  }
  s64 pages() const { return page_alloc_stats().pages_live - pages_base; }
};

}  // namespace

TEST_CASE("element and page layout follow the kernel") {
  STATIC_REQUIRE(sizeof(bpf_stream_elem) == 16);
  STATIC_REQUIRE(BPF_STREAM_PAGE_SZ == 4088);
  CHECK(bpf_stream_page_elem_size(0) == 16);
  CHECK(bpf_stream_page_elem_size(1) == 24);
  CHECK(bpf_stream_page_elem_size(8) == 24);
  CHECK(bpf_stream_page_elem_size(9) == 32);
  CHECK(bpf_stream_page_elem_size(64) == 80);
  CHECK(bpf_stream_page_elem_size(1024) == 1040);
}

TEST_CASE("the seed's element header is 24 bytes (struct bpf_mem_slice inside)") {
  ScopedProfile seed(Profile::kSeed);
  CHECK(bpf_stream_page_elem_hdr() == 24);
  CHECK(bpf_stream_page_elem_size(0) == 24);
  CHECK(bpf_stream_page_elem_size(1) == 32);
  CHECK(bpf_stream_page_elem_size(1024) == 1048);
  ScopedProfile l618(Profile::kLinux618);
  CHECK(bpf_stream_page_elem_hdr() == 16);
}

TEST_CASE("the fast path's room limit is the kernel's bpf_stream_page_check_room") {
  // For every header size, every consumed a page can hold (multiples of 8:
  // other values WARN in both) and every length: check_room(page, len) ==
  // len exactly when consumed <= bpf_stream_page_room_limit(hdr, len).
  alignas(4096) static char buf[4096];
  auto* page = reinterpret_cast<bpf_stream_page*>(buf);
  refcount_set(&page->ref, 1);
  for (Profile p : {Profile::kLinux618, Profile::kSeed}) {
    ScopedProfile profile(p);
    const int hdr = bpf_stream_page_elem_hdr();
    long checked = 0, mismatches = 0;
    int first_consumed = -1, first_len = -1;
    for (int consumed = 0; consumed <= BPF_STREAM_PAGE_SZ; consumed += 8) {
      WRITE_ONCE(page->consumed, static_cast<u32>(consumed));
      for (int len = 0; len <= BPF_STREAM_ELEM_MAX_LEN; ++len) {
        const bool kernel = alloc_internal::bpf_stream_page_check_room(page, len) == len;
        const bool fast = alloc_internal::bpf_stream_page_has_room(
            page, hdr, alloc_internal::bpf_stream_page_room_limit(hdr, len));
        ++checked;
        if (kernel != fast && mismatches++ == 0) first_consumed = consumed, first_len = len;
      }
    }
    INFO(profile_name(p) << ": first mismatch at consumed " << first_consumed << ", len "
                         << first_len);
    CHECK(checked == 512L * 1025);
    CHECK(mismatches == 0);
  }
  // The boundary, concretely (6.18): 64 bytes fit at consumed 4088 - 16 - 64.
  CHECK(alloc_internal::bpf_stream_page_room_limit(16, 64) == 4008);
  CHECK(alloc_internal::bpf_stream_page_room_limit(16, 1) == 4088 - 16 - 8);
  CHECK(alloc_internal::bpf_stream_page_room_limit(24, 0) == BPF_STREAM_PAGE_SZ);
}

TEST_CASE_METHOD(Fixture, "seed: the 24-byte header changes where a page fills up") {
  // Three 1024-byte payloads: 3 * 1040 = 3120 in 6.18, leaving room for a
  // 952-byte fourth (968); 3 * 1048 = 3144 in the seed leaves 944 - 24 =
  // 920 bytes of payload room, so the same fourth needs a new page.
  for (Profile p : {Profile::kLinux618, Profile::kSeed}) {
    ScopedProfile profile(p);
    INFO(profile_name(p));
    bpf_stream_alloc_drain_all();
    bpf_stream_elem* e[4];
    for (int i = 0; i < 3; ++i) REQUIRE((e[i] = bpf_stream_elem_alloc(1024)) != nullptr);
    e[3] = bpf_stream_elem_alloc(952);
    REQUIRE(e[3] != nullptr);
    const bool same_page = bpf_stream_page_from_elem(e[3]) == bpf_stream_page_from_elem(e[0]);
    CHECK(same_page == (p == Profile::kLinux618));
    for (bpf_stream_elem* x : e) bpf_stream_free_elem(x);
  }
}

TEST_CASE_METHOD(Fixture, "lengths outside 0..1024 are refused without touching a page") {
  const u64 allocs = page_alloc_stats().allocations;
  bpf_stream_elem* e = nullptr;
  CHECK(bpf_stream_elem_alloc_errno(-1, &e) == -ENOMEM);
  CHECK(e == nullptr);
  CHECK(bpf_stream_elem_alloc(1025) == nullptr);
  CHECK(page_alloc_stats().allocations == allocs);
  bpf_stream_elem* max = bpf_stream_elem_alloc(1024);
  REQUIRE(max != nullptr);
  CHECK(max->total_len == 1024);
  CHECK(max->consumed_len == 0);
  CHECK_FALSE(llist_on_list(&max->node));
  bpf_stream_free_elem(max);
}

TEST_CASE_METHOD(Fixture, "elements are bumped in order; a full page is replaced and freed with its last element") {
  std::vector<bpf_stream_elem*> first;
  for (int i = 0; i < 51; ++i) first.push_back(bpf_stream_elem_alloc(64));
  bpf_stream_page* page = bpf_stream_page_from_elem(first[0]);
  CHECK(addr(first[0]) == addr(page) + 8);
  for (int i = 1; i < 51; ++i) {
    REQUIRE(first[i] != nullptr);
    CHECK(addr(first[i]) == addr(first[i - 1]) + 80);
    CHECK(bpf_stream_page_from_elem(first[i]) == page);
  }
  CHECK(READ_ONCE(page->consumed) == 4080u);
  CHECK(refcount_read(&page->ref) == 52u);  // CPU + 51 elements
  CHECK(pages() == 1);

  bpf_stream_elem* next = bpf_stream_elem_alloc(64);  // no room: fresh page
  REQUIRE(next != nullptr);
  CHECK(bpf_stream_page_from_elem(next) != page);
  CHECK(bpf_stream_page_current(0) == bpf_stream_page_from_elem(next));
  CHECK(refcount_read(&page->ref) == 51u);  // the CPU's reference was dropped
  CHECK(pages() == 2);

  for (int i = 0; i < 50; ++i) bpf_stream_free_elem(first[i]);
  CHECK(pages() == 2);
  bpf_stream_free_elem(first[50]);  // last element of a non-current page
  CHECK(pages() == 1);
  bpf_stream_free_elem(next);
}

TEST_CASE_METHOD(Fixture, "the current page outlives its elements and keeps bumping") {
  bpf_stream_elem* a = bpf_stream_elem_alloc(10);
  bpf_stream_elem* b = bpf_stream_elem_alloc(10);
  REQUIRE((a && b));
  bpf_stream_page* page = bpf_stream_page_from_elem(a);
  bpf_stream_free_elem(a);
  bpf_stream_free_elem(b);
  CHECK(pages() == 1);
  CHECK(refcount_read(&page->ref) == 1u);
  bpf_stream_elem* c = bpf_stream_elem_alloc(10);
  CHECK(addr(c) == addr(b) + 32);  // bump memory is not reused
  bpf_stream_free_elem(c);
  bpf_stream_page_drain_cpu(0);
  CHECK(pages() == 0);
  CHECK(bpf_stream_page_current(0) == nullptr);
}

TEST_CASE_METHOD(Fixture, "elements freed on another CPU release their pages") {
  std::vector<bpf_stream_elem*> elems;
  for (int i = 0; i < 20; ++i) elems.push_back(bpf_stream_elem_alloc(1000));  // 4 per page
  CHECK(pages() == 5);
  std::thread other([&] {
    native::CpuBinding cpu1(1);
    for (bpf_stream_elem* e : elems) bpf_stream_free_elem(e);
  });
  other.join();
  CHECK(pages() == 1);  // only CPU 0's current page
  CHECK(bpf_stream_alloc_stats_read().elems_live == 0);
}

TEST_CASE_METHOD(Fixture, "page allocation failures give -ENOMEM and leave the allocator usable") {
  bpf_stream_elem* e = nullptr;
  SECTION("every call fails") {
    set_page_fault_policy(PageFaultPolicy::every_nth(1));
    CHECK(bpf_stream_elem_alloc_errno(8, &e) == -ENOMEM);
    CHECK(bpf_stream_page_current(0) == nullptr);
    set_page_fault_policy(PageFaultPolicy::never());
    REQUIRE(bpf_stream_elem_alloc_errno(8, &e) == 0);
    bpf_stream_free_elem(e);
  }
  SECTION("every 2nd call fails: replacement fails, the old page stays current") {
    set_page_fault_policy(PageFaultPolicy::every_nth(2));
    bpf_stream_elem* a = bpf_stream_elem_alloc(1000);  // call 1: page
    REQUIRE(a != nullptr);
    bpf_stream_page* page = bpf_stream_page_current(0);
    for (int i = 0; i < 3; ++i) bpf_stream_free_elem(bpf_stream_elem_alloc(1000));
    CHECK(bpf_stream_elem_alloc(1000) == nullptr);  // call 2 fails
    CHECK(bpf_stream_page_current(0) == page);
    // 8 payload bytes still fit the old page (4064 + 24 = 4088): no call.
    bpf_stream_elem* small = bpf_stream_elem_alloc(8);
    REQUIRE(small != nullptr);
    CHECK(bpf_stream_page_from_elem(small) == page);
    bpf_stream_free_elem(small);
    bpf_stream_free_elem(a);
  }
  SECTION("probability 1 fails, probability 0 never does") {
    set_page_fault_policy(PageFaultPolicy::with_probability(1.0, 7));
    CHECK(bpf_stream_elem_alloc(8) == nullptr);
    set_page_fault_policy(PageFaultPolicy::with_probability(0.0, 7));
    e = bpf_stream_elem_alloc(8);
    REQUIRE(e != nullptr);
    bpf_stream_free_elem(e);
  }
  bpf_stream_alloc_drain_all();
  CHECK(pages() == 0);
}

TEST_CASE_METHOD(Fixture, "accounting: pages live, bytes reserved, bytes in use") {
  const int lens[] = {1, 7, 64, 300, 1024, 1000, 1000, 1000, 5};
  std::vector<bpf_stream_elem*> elems;
  s64 in_use = 0, payload = 0;
  for (int len : lens) {
    elems.push_back(bpf_stream_elem_alloc(len));
    in_use += bpf_stream_page_elem_size(len);
    payload += len;
  }
  bpf_stream_alloc_stats st = bpf_stream_alloc_stats_read();
  CHECK(st.elems_live == 9);
  CHECK(st.bytes_in_use == in_use);
  CHECK(st.payload_bytes_in_use == payload);
  CHECK(st.pages_live == pages());
  CHECK(st.bytes_reserved == pages() * 4096);
  for (bpf_stream_elem* e : elems) bpf_stream_free_elem(e);
  st = bpf_stream_alloc_stats_read();
  CHECK(st.elems_live == 0);
  CHECK(st.bytes_in_use == 0);
  CHECK(st.pages_live == 1);
  bpf_stream_alloc_drain_all();
  CHECK(bpf_stream_alloc_stats_read().bytes_reserved == 0);
  CHECK(pages() == 0);
}

TEST_CASE_METHOD(Fixture, "mainline: kmalloc_nolock, exact size, no per-CPU page") {
  ScopedProfile mainline(Profile::kMainline);
  bpf_stream_elem* e = bpf_stream_elem_alloc(100);
  REQUIRE(e != nullptr);
  CHECK(e->total_len == 100);
  CHECK(bpf_stream_page_current(0) == nullptr);
  bpf_stream_alloc_stats st = bpf_stream_alloc_stats_read();
  CHECK(st.bytes_in_use == 116);    // 16 + 100, not rounded
  CHECK(st.bytes_reserved == 128);  // SLUB's kmalloc-128
  CHECK(st.pages_live == 0);
  CHECK(bpf_stream_elem_alloc(1025) == nullptr);
  set_page_fault_policy(PageFaultPolicy::every_nth(1));
  CHECK(bpf_stream_elem_alloc(8) == nullptr);
  set_page_fault_policy(PageFaultPolicy::never());
  bpf_stream_free_elem(e);
  CHECK(bpf_stream_alloc_stats_read().bytes_reserved == 0);
  CHECK(pages() == 0);
}

TEST_CASE("kmalloc size classes and limits") {
  native::CpuBinding cpu(0);
  CHECK(kmalloc_size_roundup(1) == 8);
  CHECK(kmalloc_size_roundup(80) == 96);
  CHECK(kmalloc_size_roundup(1040) == 2048);
  CHECK(kmalloc_size_roundup(8193) == 0);
  CHECK(kmalloc_nolock(0, 0, NUMA_NO_NODE) == nullptr);
  CHECK(kmalloc_nolock(KMALLOC_MAX_CACHE_SIZE + 1, 0, NUMA_NO_NODE) == nullptr);
  const s64 base = page_alloc_stats().pages_live;
  void* big = kmalloc_nolock(KMALLOC_MAX_CACHE_SIZE, __GFP_ZERO, NUMA_NO_NODE);
  REQUIRE(big != nullptr);
  CHECK(static_cast<unsigned char*>(big)[KMALLOC_MAX_CACHE_SIZE - 1] == 0);
  kfree_nolock(big);
  CHECK(page_alloc_stats().pages_live == base);
}
