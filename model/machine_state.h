// model/machine_state.h: kernel-global state that must start clean on every
// simulated run.
//
// The kernel keeps some state in global per-CPU variables (rqspinlock's MCS
// nodes and held-locks tables, the stream allocator's current pages). The
// model keeps them global too, so code reads like the kernel's; but a model
// checker runs thousands of machines in one process, and a run that failed
// half-way leaves such state behind. A module registers a reset function
// once (a namespace-scope MachineStateReset object); the simulator calls
// every registered reset before each run's setup. Natively nothing calls them
// unless a test does, through reset_machine_state(), while no CPU runs.
#ifndef KMODEL_MODEL_MACHINE_STATE_H_
#define KMODEL_MODEL_MACHINE_STATE_H_

#include "model/backend.h"

KMODEL_NAMESPACE_BEGIN

class MachineStateReset {
 public:
  explicit MachineStateReset(void (*reset)());
};

// Calls every registered reset function, in registration order.
void reset_machine_state();

KMODEL_NAMESPACE_END

#endif  // KMODEL_MODEL_MACHINE_STATE_H_
