// bench/ck_stack_shim.h: Concurrency Kit's Treiber stack behind a C ABI.
// CK's headers are C only (implicit void* conversions), so the two
// operations llist_bench compares against are compiled as C in
// ck_stack_shim.c and called out of line, as llist_add_batch and
// llist_del_all are (sync/llist.cc), so neither side is inlined.
#ifndef KMODEL_BENCH_CK_STACK_SHIM_H_
#define KMODEL_BENCH_CK_STACK_SHIM_H_

#ifdef __cplusplus
extern "C" {
#endif

// Layout of struct ck_stack_entry (one next pointer).
typedef struct ck_stack_shim_entry {
  struct ck_stack_shim_entry* next;
} ck_stack_shim_entry;

// Storage for struct ck_stack (head pointer + generation).
typedef struct {
  void* words[2];
} ck_stack_shim;

void ck_stack_shim_init(ck_stack_shim* stack);
// ck_stack_push_upmc: multiple producers, CAS loop on the head.
void ck_stack_shim_push_upmc(ck_stack_shim* stack, ck_stack_shim_entry* entry);
// ck_stack_batch_pop_upmc: detach every entry with one exchange (newest first).
ck_stack_shim_entry* ck_stack_shim_batch_pop_upmc(ck_stack_shim* stack);

#ifdef __cplusplus
}
#endif

#endif  // KMODEL_BENCH_CK_STACK_SHIM_H_
