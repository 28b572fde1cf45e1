// bench/ck_mcs_shim.h: Concurrency Kit's MCS lock behind a C ABI. CK's
// spinlock headers are C only (implicit void* conversions), so the lock is
// compiled as C in ck_mcs_shim.c and called out of line from C++.
#ifndef KMODEL_BENCH_CK_MCS_SHIM_H_
#define KMODEL_BENCH_CK_MCS_SHIM_H_

#ifdef __cplusplus
extern "C" {
#endif

// Storage for one MCS queue node (struct ck_spinlock_mcs: two pointers).
typedef struct {
  void* words[2];
} ck_mcs_shim_node;

void ck_mcs_shim_lock(void** lock, ck_mcs_shim_node* node);
void ck_mcs_shim_unlock(void** lock, ck_mcs_shim_node* node);

#ifdef __cplusplus
}
#endif

#endif  // KMODEL_BENCH_CK_MCS_SHIM_H_
