// A design test: a mailbox that writers fill from any context (task and
// NMI) with llist_add, and that one reader drains with llist_del_all +
// llist_reverse_order. The simulator checks that every message is read
// exactly once, in the order each writer sent it.
#include <catch2/catch.hpp>

#include <memory>
#include <vector>

#include "model/bug.h"
#include "model/sim/check.h"
#include "sync/llist.h"

using namespace kmodel;

struct Message {
  llist_node node;
  int writer;
  int seq;
};

struct Mailbox {
  llist_head head;
  Message sent[3] = {{{}, 0, 0}, {{}, 0, 1}, {{}, 1, 0}};  // writer, seq
  std::vector<int> next_seq{0, 0};   // per writer: the seq the reader expects
  int sent_count = 0;  // the NMI may not fire in a run: count what was sent
  int received = 0;
};

// What the reader does: take everything, oldest first, and check the order.
void drain(Mailbox* box) {
  llist_node* batch = llist_reverse_order(llist_del_all(&box->head));
  for (llist_node* n = batch; n != nullptr; n = llist_next(n)) {
    Message* m = llist_entry(n, Message, node);
    MODEL_ASSERT(m->seq == box->next_seq[m->writer], "a writer's messages came out of order");
    box->next_seq[m->writer]++;
    box->received++;
  }
}

TEST_CASE("the mailbox keeps every message, in each writer's order") {
  auto scenario = [](Scenario& s) {
    auto box = std::make_shared<Mailbox>();  // fresh for every run
    init_llist_head(&box->head);
    // An interrupt may or may not fire in a given run: a goal makes the check
    // fail as vacuous if no run ever put the NMI where it matters.
    const int nmi_mid_send = s.goal("NMI sends while CPU 0 is between its sends");
    auto sending = std::make_shared<bool>(false);
    s.on_cpu(0, [box, sending] {
      llist_add(&box->sent[0].node, &box->head);
      *sending = true;
      llist_add(&box->sent[1].node, &box->head);
      *sending = false;
      box->sent_count += 2;
    });
    s.nmi(0, [box, sending, nmi_mid_send] {
      if (*sending) reached(nmi_mid_send);
      llist_add(&box->sent[2].node, &box->head);
      box->sent_count += 1;
    });
    s.on_cpu(1, [box] { drain(box.get()); });
    s.at_end([box] {
      drain(box.get());  // whatever arrived after the reader's pass
      MODEL_ASSERT(box->received == box->sent_count, "a message was lost or read twice");
    });
  };
  CheckResult r = check(Config{.cpus = 2, .seed = 1, .iterations = 5000,
                               .interrupt_probability = 0.2},
                        scenario);
  INFO(r.report());  // on failure: message, schedule, per-CPU timeline
  REQUIRE(r.ok());
  CHECK(r.runs == 5000);
}
