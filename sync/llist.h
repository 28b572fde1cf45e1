// sync/llist.h: lock-less NULL-terminated singly linked lists (a Treiber
// stack whose consumers detach the whole list at once).
//
// Mirrors: include/linux/llist.h and lib/llist.c (Linux 6.18), same names,
// same semantics.
//
// Concurrency rules (the kernel's table). Adders never need a lock; neither
// does a single consumer, or any number of llist_del_all() callers. What
// needs a lock is more than one llist_del_first() consumer at a time, or
// llist_del_first() concurrent with llist_del_all():
//
//                    |  add  | del_first | del_all
//     add            |   -   |     -     |    -
//     del_first      |       |     L     |    L
//     del_all        |       |           |    -
//
// (L: a lock is needed between the two.) Why: llist_del_first() reads
// first->next and then swings head->first from `first` to that next; if
// meanwhile another consumer removed `first` and its successor and re-added
// `first`, the compare-and-swap still succeeds (ABA) and installs a node that
// is no longer on the list. llist_del_all() is immune: it exchanges the head
// with NULL and never looks at a next pointer. That is also why an llist
// needs no ABA tag, unlike a general lock-free stack.
//
// Order: the list is LIFO. A consumer that wants FIFO detaches everything
// with llist_del_all() and reverses it with llist_reverse_order().
//
// Nodes: init_llist_node() marks a node "not on a list" by pointing it at
// itself; llist_on_list() tests that mark. The llist functions do not
// maintain it; callers that use it re-init a node when they take it off.
//
// Functions with a `__` prefix are the kernel's non-atomic variants, for a
// list that only the caller can reach.
#ifndef KMODEL_SYNC_LLIST_H_
#define KMODEL_SYNC_LLIST_H_

#include <cstddef>

#include "model/atomic.h"

KMODEL_NAMESPACE_BEGIN

struct llist_node {
  Atomic<llist_node*> next;
};

struct llist_head {
  Atomic<llist_node*> first;
};

// The struct containing `ptr` as its `member` (the kernel's container_of).
#define llist_entry(ptr, type, member) \
  (reinterpret_cast<type*>(reinterpret_cast<char*>(ptr) - offsetof(type, member)))

inline void init_llist_head(llist_head* list) { WRITE_ONCE(list->first, nullptr); }

// Marks the node as not on any list.
inline void init_llist_node(llist_node* node) { WRITE_ONCE(node->next, node); }

// Only meaningful for nodes whose owner keeps the init_llist_node() mark.
inline bool llist_on_list(const llist_node* node) { return READ_ONCE(node->next) != node; }

// A hint only: the list may change right after the answer.
inline bool llist_empty(const llist_head* head) { return READ_ONCE(head->first) == nullptr; }

// The next node of a list the caller owns (detached, or not yet published).
inline llist_node* llist_next(const llist_node* node) { return plain_read(node->next); }

// Adds the chain new_first..new_last (already linked) at the head. Any
// context, any number of concurrent callers. Returns whether the list was
// empty before.
bool llist_add_batch(llist_node* new_first, llist_node* new_last, llist_head* head);

// The same for a list only the caller can reach.
inline bool __llist_add_batch(llist_node* new_first, llist_node* new_last,
                              llist_head* head) {
  llist_node* first = plain_read(head->first);
  plain_write(new_last->next, first);
  plain_write(head->first, new_first);
  return first == nullptr;
}

inline bool llist_add(llist_node* node, llist_head* head) {
  return llist_add_batch(node, node, head);
}
inline bool __llist_add(llist_node* node, llist_head* head) {
  return __llist_add_batch(node, node, head);
}

// Detaches the whole list, newest first. Safe against adders and other
// del_all callers without a lock.
inline llist_node* llist_del_all(llist_head* head) { return xchg(&head->first, nullptr); }

inline llist_node* __llist_del_all(llist_head* head) {
  llist_node* first = plain_read(head->first);
  plain_write(head->first, nullptr);
  return first;
}

// Removes and returns the newest node, or nullptr. At most ONE such consumer
// at a time (see the table above).
llist_node* llist_del_first(llist_head* head);

// llist_del_first() that also marks the taken node as off-list.
inline llist_node* llist_del_first_init(llist_head* head) {
  llist_node* node = llist_del_first(head);
  if (node != nullptr) init_llist_node(node);
  return node;
}

// Removes `self` if it is the first node; returns whether it did. Same
// single-consumer rule as llist_del_first().
bool llist_del_first_this(llist_head* head, llist_node* self);

// Reverses a detached chain and returns its new head (its old tail).
llist_node* llist_reverse_order(llist_node* head);

// Iteration over a detached chain. Deleting `pos` while iterating needs the
// _safe variants, which read the next node first.
#define llist_for_each(pos, node) \
  for ((pos) = (node); (pos) != nullptr; (pos) = ::kmodel::llist_next(pos))

#define llist_for_each_safe(pos, n, node)                                      \
  for ((pos) = (node); (pos) != nullptr && ((n) = ::kmodel::llist_next(pos), true); \
       (pos) = (n))

KMODEL_NAMESPACE_END

#endif  // KMODEL_SYNC_LLIST_H_
