// llist on real threads: two producer CPUs push while signal-NMIs push on
// the same CPUs, and a consumer CPU drains with llist_del_all. Every node
// must be seen exactly once, and each producer's nodes in push order.
#include <catch2/catch.hpp>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "model/native/cpu_binding.h"
#include "sync/llist.h"

using namespace kmodel;

namespace {

constexpr int kProducers = 2;
constexpr int kPerProducer = 200000;
constexpr int kNmisPerCpu = 300;
constexpr int kWriters = 2 * kProducers;  // producers, then their NMIs

struct Item {
  llist_node node;
  int writer;
  int seq;
};

struct Shared {
  llist_head head;
  std::vector<std::unique_ptr<Item[]>> items;
  std::atomic<int> nmi_next[kProducers] = {};  // touched only by that CPU's NMI
  std::atomic<int> nmis_pushed{0};
  std::atomic<int> producers_done{0};
  std::atomic<bool> sender_done{false};
  Shared() {
    init_llist_head(&head);
    for (int w = 0; w < kWriters; ++w) {
      const int n = w < kProducers ? kPerProducer : kNmisPerCpu;
      items.emplace_back(new Item[n]);
      for (int s = 0; s < n; ++s) {
        items[w][s].writer = w;
        items[w][s].seq = s;
      }
    }
  }
};

Shared* g_shared;

// NMI handler: async-signal-safe, no allocation; pushes the next NMI node.
void nmi_push(void* arg) {
  const int cpu = static_cast<int>(reinterpret_cast<intptr_t>(arg));
  const int s = g_shared->nmi_next[cpu].load(std::memory_order_relaxed);
  if (s >= kNmisPerCpu) return;
  g_shared->nmi_next[cpu].store(s + 1, std::memory_order_relaxed);
  llist_add(&g_shared->items[kProducers + cpu][s].node, &g_shared->head);
  g_shared->nmis_pushed.fetch_add(1, std::memory_order_release);
}

}  // namespace

TEST_CASE("producers, signal-NMIs and a del_all consumer: each node exactly once, FIFO") {
  auto shared = std::make_unique<Shared>();
  g_shared = shared.get();
  std::atomic<int> bound{0};

  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    native::set_interrupt_handler(p, IrqKind::kNmi,
                                  {nmi_push, reinterpret_cast<void*>(intptr_t{p})});
    producers.emplace_back([&, p] {
      native::CpuBinding cpu(p);
      bound.fetch_add(1);
      for (int s = 0; s < kPerProducer; ++s) llist_add(&shared->items[p][s].node, &shared->head);
      shared->producers_done.fetch_add(1);
      // Stay bound (able to take NMIs) until the sender has finished.
      while (!shared->sender_done.load()) cpu_relax();
    });
  }

  std::vector<int> seen_count(static_cast<std::size_t>(kWriters) * kPerProducer, 0);
  std::vector<int> last_seq(kWriters, -1);
  long total = 0;
  bool fifo_ok = true, once_ok = true;
  std::thread consumer([&] {
    native::CpuBinding cpu(2);
    auto done = [&] {
      return shared->producers_done.load() == kProducers && shared->sender_done.load() &&
             total == long{kProducers} * kPerProducer +
                          shared->nmis_pushed.load(std::memory_order_acquire);
    };
    while (!done()) {
      llist_node* batch = llist_reverse_order(llist_del_all(&shared->head));
      llist_node* pos;
      llist_for_each(pos, batch) {
        Item* it = llist_entry(pos, Item, node);
        if (++seen_count[static_cast<std::size_t>(it->writer) * kPerProducer + it->seq] != 1)
          once_ok = false;
        if (it->seq <= last_seq[it->writer]) fifo_ok = false;
        last_seq[it->writer] = it->seq;
        ++total;
      }
      cpu_relax();
    }
  });

  while (bound.load() != kProducers) std::this_thread::yield();
  // One NMI in flight per CPU at a time: the next is sent only when the
  // previous was handled, so no signal is coalesced (ThreadSanitizer keeps
  // one pending signal per number) and every NMI sent is one handled.
  unsigned long sent[kProducers] = {};
  for (int i = 0; i < kNmisPerCpu; ++i) {
    for (int p = 0; p < kProducers; ++p) {
      if (native::send_interrupt_and_wait(p, IrqKind::kNmi) == 0) ++sent[p];
    }
  }
  shared->sender_done.store(true);
  for (auto& t : producers) t.join();
  consumer.join();
  for (int p = 0; p < kProducers; ++p) native::set_interrupt_handler(p, IrqKind::kNmi, {});

  CHECK(sent[0] == kNmisPerCpu);
  CHECK(sent[1] == kNmisPerCpu);
  CHECK(once_ok);
  CHECK(fifo_ok);
  CHECK(total == long{kProducers} * kPerProducer + shared->nmis_pushed.load());
  CHECK(shared->nmis_pushed.load() == 2 * kNmisPerCpu);
  CHECK(llist_empty(&shared->head));
}
