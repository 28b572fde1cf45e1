// scenarios/llist_scenarios.cc: model-check scenarios of sync/llist.
//
// The invariant the streams rely on: every node pushed by any writer, in
// any context, reaches exactly one consumer exactly once, and a consumer that
// detaches with llist_del_all() and reverses sees each writer's nodes in the
// order that writer pushed them (and a batch contiguous).
#include "scenarios/llist_scenarios.h"

#include <array>
#include <memory>
#include <span>
#include <stdexcept>
#include <vector>

#include "absl/strings/str_cat.h"
#include "model/bug.h"
#include "scenarios/catalogue.h"
#include "sync/llist.h"

KMODEL_NAMESPACE_BEGIN
namespace llist_scenarios {

namespace {

struct Item {
  llist_node node;
  int writer = 0;
  int seq = 0;
};

Item* item_of(llist_node* n) { return llist_entry(n, Item, node); }

// Nodes of every writer, and the consumers' record of what they took.
// Built afresh for every run of a check, so in few allocations (it was ten).
struct Shared {
  static constexpr int kMaxWriters = 4;
  llist_head head;
  std::vector<Item> items;                      // writer w's at [w * per_writer, ...)
  std::vector<int> taken;                       // per (writer, seq): times consumed
  std::array<int, kMaxWriters> last_seq;        // per writer: last seq consumed
  std::array<char, kMaxWriters> pushed = {};    // per writer: started pushing
  std::array<char, kMaxWriters> adding = {};    // per writer: inside llist_add*
  int writers;
  int per_writer;

  Shared(int writers_, int per_writer_)
      : items(static_cast<std::size_t>(writers_ * per_writer_)),
        taken(static_cast<std::size_t>(writers_ * per_writer_)),
        writers(writers_),
        per_writer(per_writer_) {
    if (writers < 1 || writers > kMaxWriters)
      throw std::invalid_argument(absl::StrCat("llist scenario: ", writers, " writers (1..",
                                               kMaxWriters, ")"));
    last_seq.fill(-1);
    init_llist_head(&head);
    for (int w = 0; w < writers; ++w) {
      for (int s = 0; s < per_writer; ++s) {
        writer_items(w)[static_cast<std::size_t>(s)].writer = w;
        writer_items(w)[static_cast<std::size_t>(s)].seq = s;
      }
    }
  }

  std::span<Item> writer_items(int w) {
    return std::span<Item>(items).subspan(static_cast<std::size_t>(w * per_writer),
                                          static_cast<std::size_t>(per_writer));
  }

  // Consumes a FIFO chain: each node once, each writer's sequence increasing.
  // The last three nodes of a writer were pushed as one batch: each of the
  // last two must directly follow its predecessor.
  void consume_fifo(llist_node* chain) {
    llist_node* pos;
    const Item* prev = nullptr;
    llist_for_each(pos, chain) {
      Item* it = item_of(pos);
      if (it->seq >= per_writer - 2) {
        MODEL_ASSERT(prev != nullptr && prev->writer == it->writer && prev->seq == it->seq - 1,
                     absl::StrCat("batch of writer ", it->writer, " split before #", it->seq));
      }
      prev = it;
      int& seen = taken[static_cast<std::size_t>(it->writer * per_writer + it->seq)];
      MODEL_ASSERT(++seen == 1, absl::StrCat("node w", it->writer, "#", it->seq,
                                              " consumed twice"));
      MODEL_ASSERT(it->seq > last_seq[it->writer],
                   absl::StrCat("writer ", it->writer, ": #", it->seq, " after #",
                                last_seq[it->writer], " (not FIFO)"));
      last_seq[it->writer] = it->seq;
    }
  }

  void drain_all() { consume_fifo(llist_reverse_order(llist_del_all(&head))); }

  // Writers that never ran (an interrupt not delivered) must have no node
  // consumed; the others, every node exactly once.
  void assert_all_consumed_once() const {
    for (int w = 0; w < writers; ++w)
      for (int s = 0; s < per_writer; ++s)
        MODEL_ASSERT(taken[static_cast<std::size_t>(w * per_writer + s)] == (pushed[w] ? 1 : 0),
                     absl::StrCat("node w", w, "#", s, " consumed ",
                                  taken[static_cast<std::size_t>(w * per_writer + s)],
                                  " times"));
  }
};

// Writer w pushes its nodes: singly, and the last three as one batch.
// `as_owner` (seeded misuse only) uses __llist_add/__llist_add_batch, the
// variants for a list only the caller can reach.
void push_all(Shared& sh, int w, bool as_owner = false) {
  std::span<Item> v = sh.writer_items(w);
  const int n = sh.per_writer;
  sh.pushed[static_cast<std::size_t>(w)] = 1;
  sh.adding[static_cast<std::size_t>(w)] = 1;
  for (int s = 0; s + 3 < n; ++s) {
    if (as_owner) __llist_add(&v[s].node, &sh.head);
    else llist_add(&v[s].node, &sh.head);
  }
  // A batch is linked newest-first, like the list itself.
  plain_write(v[n - 1].node.next, &v[n - 2].node);
  plain_write(v[n - 2].node.next, &v[n - 3].node);
  if (as_owner) __llist_add_batch(&v[n - 1].node, &v[n - 3].node, &sh.head);
  else llist_add_batch(&v[n - 1].node, &v[n - 3].node, &sh.head);
  sh.adding[static_cast<std::size_t>(w)] = 0;
}

}  // namespace

void producers_and_nmis(Scenario& s) {
  // Writers: CPU0, CPU1, NMI on CPU0, NMI on CPU2 (the consumer's CPU).
  // The interleavings this scenario exists for, as reachability goals.
  const int nmi_inside_add = s.goal("NMI pushes while its CPU is inside llist_add");
  const int detach_mid_push = s.goal("consumer detaches while both producers are mid-push");
  auto sh = std::make_shared<Shared>(4, 5);
  s.on_cpu(0, [sh] { push_all(*sh, 0); });
  s.on_cpu(1, [sh] { push_all(*sh, 1); });
  s.on_cpu(2, [sh, detach_mid_push] {
    for (int i = 0; i < 4; ++i) {
      if (sh->adding[0] && sh->adding[1]) reached(detach_mid_push);
      sh->drain_all();
    }
  });
  s.nmi(0, [sh, nmi_inside_add] {
    if (sh->adding[0]) reached(nmi_inside_add);
    push_all(*sh, 2);
  });
  s.nmi(2, [sh] { push_all(*sh, 3); });
  s.at_end([sh] {
    sh->drain_all();
    sh->assert_all_consumed_once();
  });
}

void del_first_single_consumer(Scenario& s) {
  auto sh = std::make_shared<Shared>(2, 4);
  s.on_cpu(0, [sh] { push_all(*sh, 0); });
  s.on_cpu(1, [sh] { push_all(*sh, 1); });
  s.on_cpu(2, [sh] {
    for (int i = 0; i < 6; ++i) {
      if (llist_node* n = llist_del_first(&sh->head)) {
        Item* it = item_of(n);
        MODEL_ASSERT(++sh->taken[it->writer * sh->per_writer + it->seq] == 1,
                     "node consumed twice");
      }
    }
  });
  s.at_end([sh] {
    for (llist_node* n = llist_del_all(&sh->head); n != nullptr; n = llist_next(n)) {
      Item* it = item_of(n);
      MODEL_ASSERT(++sh->taken[it->writer * sh->per_writer + it->seq] == 1,
                   "node consumed twice");
    }
    sh->assert_all_consumed_once();
  });
}

void two_del_first_consumers(Scenario& s) {
  // Broken on purpose: llist_del_first() has two concurrent consumers, one of
  // which re-adds a node it took. The ABA lets CPU0's cmpxchg install a node
  // CPU1 already owns.
  auto sh = std::make_shared<Shared>(1, 3);
  for (int i = 2; i >= 0; --i) llist_add(&sh->writer_items(0)[static_cast<std::size_t>(i)].node, &sh->head);
  sh->pushed[0] = 1;
  auto consumed = std::make_shared<std::vector<int>>(3, 0);
  auto take = [sh, consumed](llist_node* n) {
    if (n != nullptr) ++(*consumed)[item_of(n)->seq];
  };
  s.on_cpu(0, [sh, take] { take(llist_del_first(&sh->head)); });
  s.on_cpu(1, [sh, consumed] {
    llist_node* a = llist_del_first(&sh->head);
    llist_node* b = llist_del_first(&sh->head);
    if (b != nullptr) ++(*consumed)[item_of(b)->seq];
    if (a != nullptr) llist_add(a, &sh->head);  // give `a` back
  });
  s.at_end([sh, consumed] {
    for (llist_node* n = llist_del_all(&sh->head); n != nullptr; n = llist_next(n)) {
      MODEL_ASSERT(++(*consumed)[item_of(n)->seq] <= 1,
                   absl::StrCat("node #", item_of(n)->seq, " is both consumed and on the list"));
    }
    for (int i = 0; i < 3; ++i)
      MODEL_ASSERT((*consumed)[i] == 1, absl::StrCat("node #", i, " lost"));
  });
}

// ---- Seeded bugs: broken variants that live only here, never in sync/ ----

namespace {

// llist_add_batch with the compare-and-swap replaced by a read and a
// separate write: an adder between the two is overwritten (lost update).
void buggy_add_batch_lost_update(llist_node* new_first, llist_node* new_last,
                                 llist_head* head) {
  llist_node* first = READ_ONCE(head->first);
  plain_write(new_last->next, first);
  WRITE_ONCE(head->first, new_first);
}

}  // namespace

void bug_add_batch_lost_update(Scenario& s) {
  auto sh = std::make_shared<Shared>(2, 2);
  auto push = [sh](int w) {
    sh->pushed[w] = 1;
    for (Item& it : sh->writer_items(w)) buggy_add_batch_lost_update(&it.node, &it.node, &sh->head);
  };
  s.on_cpu(0, [push] { push(0); });
  s.on_cpu(1, [push] { push(1); });
  s.at_end([sh] {
    sh->drain_all();
    sh->assert_all_consumed_once();
  });
}

void bug_missing_reverse(Scenario& s) {
  // The consumer forgets llist_reverse_order(): it sees each batch LIFO.
  auto sh = std::make_shared<Shared>(2, 4);
  s.on_cpu(0, [sh] { push_all(*sh, 0); });
  s.on_cpu(1, [sh] {
    for (int i = 0; i < 3; ++i) sh->consume_fifo(llist_del_all(&sh->head));
  });
  s.at_end([sh] {
    sh->drain_all();
    sh->assert_all_consumed_once();
  });
}

void bug_plain_add_in_nmi(Scenario& s) {
  // Broken on purpose: an NMI on CPU 1 pushes with __llist_add_batch, as if
  // the list were its own, while CPUs 0 and 1 push with llist_add_batch.
  // Its plain read and write of head->first race with the others' cmpxchg;
  // the lost node that race allows needs a CPU's cmpxchg between the NMI's
  // read and write, which plain accesses (no scheduling points) never get
  // here, so only the race detector can see this misuse.
  auto sh = std::make_shared<Shared>(3, 4);
  s.on_cpu(0, [sh] { push_all(*sh, 0); });
  s.on_cpu(1, [sh] { push_all(*sh, 1); });
  s.nmi(1, [sh] { push_all(*sh, 2, /*as_owner=*/true); });
  s.at_end([sh] {
    sh->drain_all();
    sh->assert_all_consumed_once();
  });
}

namespace {
const ScenarioRegistrar kPlainAddInNmi({
    "llist/bug_plain_add_in_nmi",
    "seeded misuse: an NMI adds with __llist_add_batch to a list other CPUs add to "
    "(a data race the random walk never turns into a lost node)",
    Config{.cpus = 2, .iterations = 2000},
    bug_plain_add_in_nmi,
    // The NMI's plain access of head->first against another CPU's cmpxchg
    // of it, in either order.
    {{Profile::kLinux618,
      expect_violation_matching(FailureKind::kRace,
                                "data race on object #[0-9]+: (plain (read|write) by CPU 1 "
                                "\\((load|store), level 3\\) unordered with a marked write "
                                "by CPU 0|marked write by CPU 0 .*unordered with a plain "
                                "(read|write) by CPU 1)")}},
});
const ScenarioRegistrar kLostUpdate({
    "llist/bug_add_batch_lost_update",
    "seeded bug: llist_add_batch without compare-and-swap loses a concurrent add",
    Config{.cpus = 2, .iterations = 5000},
    bug_add_batch_lost_update,
    {{Profile::kLinux618, expect_violation(FailureKind::kAssertion, "split before #")}},
});
const ScenarioRegistrar kMissingReverse({
    "llist/bug_missing_reverse",
    "seeded bug: a consumer that does not reverse the detached list sees LIFO order",
    Config{.cpus = 2, .iterations = 5000},
    bug_missing_reverse,
    {{Profile::kLinux618, expect_violation(FailureKind::kAssertion, "split before #")}},
});
const ScenarioRegistrar kProducers({
    "llist/producers_nmis_del_all",
    "2 CPUs and 2 NMIs push (single and batch); a consumer detaches, reverses; "
    "each node once, per-writer FIFO",
    Config{.cpus = 3, .iterations = 2000},
    producers_and_nmis,
    {{Profile::kLinux618, Expect::kPass}},
});
const ScenarioRegistrar kDelFirst({
    "llist/del_first_single_consumer",
    "one llist_del_first consumer against two adders: each node once",
    Config{.cpus = 3, .iterations = 2000},
    del_first_single_consumer,
    {{Profile::kLinux618, Expect::kPass}},
});
const ScenarioRegistrar kTwoDelFirst({
    "llist/bug_two_del_first_consumers",
    "seeded misuse: two concurrent llist_del_first consumers (ABA) must be caught",
    Config{.cpus = 2, .iterations = 5000},
    two_del_first_consumers,
    // Found first as the data race the ABA rides on: CPU 1 re-adds a node
    // (llist_add's plain store of its next) while CPU 0's llist_del_first
    // reads that next (READ_ONCE), with no order between them; the lost or
    // doubled node ("is both consumed and on the list") comes later.
    {{Profile::kLinux618,
      expect_violation_matching(FailureKind::kRace,
                                "data race on object #[0-9]+: (plain write by CPU 1 .*marked "
                                "read by CPU 0|marked read by CPU 0 .*plain write by CPU 1)")}},
});
}  // namespace

}  // namespace llist_scenarios
KMODEL_NAMESPACE_END
