#include "model/machine_state.h"

#include <vector>

KMODEL_NAMESPACE_BEGIN

namespace {
std::vector<void (*)()>& resets() {
  static auto* list = new std::vector<void (*)()>();  // outlives static dtors
  return *list;
}
}  // namespace

MachineStateReset::MachineStateReset(void (*reset)()) { resets().push_back(reset); }

void reset_machine_state() {
  for (auto* reset : resets()) reset();
}

KMODEL_NAMESPACE_END
