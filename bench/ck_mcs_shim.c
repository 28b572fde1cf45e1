#include "bench/ck_mcs_shim.h"

#include <ck_spinlock.h>

_Static_assert(sizeof(ck_mcs_shim_node) >= sizeof(struct ck_spinlock_mcs),
               "shim node too small for ck_spinlock_mcs");

void ck_mcs_shim_lock(void** lock, ck_mcs_shim_node* node) {
  ck_spinlock_mcs_lock((ck_spinlock_mcs_t*)lock, (struct ck_spinlock_mcs*)node);
}

void ck_mcs_shim_unlock(void** lock, ck_mcs_shim_node* node) {
  ck_spinlock_mcs_unlock((ck_spinlock_mcs_t*)lock, (struct ck_spinlock_mcs*)node);
}
