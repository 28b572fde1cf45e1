// scenarios/llist_scenarios.h: the llist scenarios, for tests that drive
// them directly (they are also registered in the catalogue).
#ifndef KMODEL_SCENARIOS_LLIST_SCENARIOS_H_
#define KMODEL_SCENARIOS_LLIST_SCENARIOS_H_

#include "model/sim/scenario.h"

KMODEL_NAMESPACE_BEGIN
namespace llist_scenarios {

// Two CPUs and two NMIs push; a third CPU detaches, reverses and checks.
void producers_and_nmis(Scenario& s);
// One llist_del_first consumer against two adders.
void del_first_single_consumer(Scenario& s);
// Broken on purpose: two concurrent llist_del_first consumers.
void two_del_first_consumers(Scenario& s);
// Seeded bugs (broken variants that exist only in scenarios/).
void bug_add_batch_lost_update(Scenario& s);
void bug_missing_reverse(Scenario& s);
void bug_plain_add_in_nmi(Scenario& s);

}  // namespace llist_scenarios
KMODEL_NAMESPACE_END

#endif  // KMODEL_SCENARIOS_LLIST_SCENARIOS_H_
