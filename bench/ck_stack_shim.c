// Concurrency Kit's ck_stack, compiled as C (see ck_stack_shim.h).
#include "bench/ck_stack_shim.h"

#include <ck_stack.h>

_Static_assert(sizeof(ck_stack_shim) >= sizeof(ck_stack_t), "ck_stack_t does not fit");
_Static_assert(sizeof(ck_stack_shim_entry) == sizeof(ck_stack_entry_t), "entry layout");

void ck_stack_shim_init(ck_stack_shim* stack) { ck_stack_init((ck_stack_t*)stack); }

void ck_stack_shim_push_upmc(ck_stack_shim* stack, ck_stack_shim_entry* entry) {
  ck_stack_push_upmc((ck_stack_t*)stack, (ck_stack_entry_t*)entry);
}

ck_stack_shim_entry* ck_stack_shim_batch_pop_upmc(ck_stack_shim* stack) {
  return (ck_stack_shim_entry*)ck_stack_batch_pop_upmc((ck_stack_t*)stack);
}
