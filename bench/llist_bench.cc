// llist (add + del_all) against boost::lockfree::stack (push + pop) and
// Concurrency Kit's Treiber stack (ck_stack_push_upmc + one
// ck_stack_batch_pop_upmc: the same detach-all design as llist, the stronger
// anchor), 1 and 2 threads, in the same run. Each iteration pushes a batch of 64 nodes and
// then drains the structure; items/s counts nodes pushed and consumed.
//
// Why llist can be faster: its consumer never pops one node with a
// compare-and-swap on a tagged head; it detaches the whole list with one
// exchange, which is immune to ABA, so no tag, no per-node CAS on the
// consume side.
//
// Node ownership (the same for both structures, so the comparison is fair):
// a node is pushed only by its owner thread; whoever drains it hands it back
// (directly if it is its own, else through the owner's lock-less return
// list), so no node is re-pushed while another thread still reads it.
#include <benchmark/benchmark.h>

#include <boost/lockfree/stack.hpp>

#include <memory>
#include <vector>

#include "bench/ck_stack_shim.h"
#include "sync/llist.h"

namespace {

using namespace kmodel;

constexpr int kBatch = 64;
constexpr int kNodesPerThread = 4 * kBatch;
constexpr int kMaxThreads = 2;

struct Node {
  llist_node node;    // on the structure under test (llist case)
  ck_stack_shim_entry ck;  // on the structure under test (ck case)
  llist_node ret;     // on its owner's return list
  int owner = 0;
  long payload = 1;
};

llist_head g_returns[kMaxThreads];

class Pool {
 public:
  explicit Pool(int owner) : nodes_(new Node[kNodesPerThread]), owner_(owner) {
    for (int i = 0; i < kNodesPerThread; ++i) {
      nodes_[i].owner = owner;
      free_.push_back(&nodes_[i]);
    }
  }
  Node* take() {
    while (free_.empty()) refill();
    Node* n = free_.back();
    free_.pop_back();
    return n;
  }
  void give_back(Node* n) {
    if (n->owner == owner_) free_.push_back(n);
    else llist_add(&n->ret, &g_returns[n->owner]);
  }

 private:
  void refill() {
    llist_node* pos;
    llist_for_each(pos, llist_del_all(&g_returns[owner_]))
        free_.push_back(llist_entry(pos, Node, ret));
  }
  std::unique_ptr<Node[]> nodes_;
  std::vector<Node*> free_;
  int owner_;
};

llist_head g_head;
boost::lockfree::stack<Node*>* g_stack;

void BM_llist_add_del_all(benchmark::State& state) {
  if (state.thread_index() == 0) {
    init_llist_head(&g_head);
    for (auto& r : g_returns) init_llist_head(&r);
  }
  Pool pool(state.thread_index());
  long sum = 0;
  for (auto _ : state) {
    for (int i = 0; i < kBatch; ++i) llist_add(&pool.take()->node, &g_head);
    llist_node *pos, *next;
    llist_for_each_safe(pos, next, llist_del_all(&g_head)) {
      Node* n = llist_entry(pos, Node, node);
      sum += n->payload;
      pool.give_back(n);
    }
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations() * kBatch);
}

void BM_boost_lockfree_push_pop(benchmark::State& state) {
  if (state.thread_index() == 0) {
    g_stack = new boost::lockfree::stack<Node*>(kMaxThreads * kNodesPerThread);
    for (auto& r : g_returns) init_llist_head(&r);
  }
  Pool pool(state.thread_index());
  long sum = 0;
  for (auto _ : state) {
    for (int i = 0; i < kBatch; ++i) g_stack->push(pool.take());
    Node* n;
    while (g_stack->pop(n)) {
      sum += n->payload;
      pool.give_back(n);
    }
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations() * kBatch);
}

ck_stack_shim g_ck_stack;

void BM_ck_stack_push_batch_pop(benchmark::State& state) {
  if (state.thread_index() == 0) {
    ck_stack_shim_init(&g_ck_stack);
    for (auto& r : g_returns) init_llist_head(&r);
  }
  Pool pool(state.thread_index());
  long sum = 0;
  for (auto _ : state) {
    for (int i = 0; i < kBatch; ++i) ck_stack_shim_push_upmc(&g_ck_stack, &pool.take()->ck);
    ck_stack_shim_entry* next;
    for (ck_stack_shim_entry* e = ck_stack_shim_batch_pop_upmc(&g_ck_stack); e != nullptr; e = next) {
      next = e->next;  // read before the node can go back to its owner
      Node* n = reinterpret_cast<Node*>(reinterpret_cast<char*>(e) - offsetof(Node, ck));
      sum += n->payload;
      pool.give_back(n);
    }
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations() * kBatch);
}

}  // namespace

BENCHMARK(BM_llist_add_del_all)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_boost_lockfree_push_pop)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_ck_stack_push_batch_pop)->Threads(1)->Threads(2)->UseRealTime();
