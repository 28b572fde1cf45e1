#include "sync/llist.h"

KMODEL_NAMESPACE_BEGIN

bool llist_add_batch(llist_node* new_first, llist_node* new_last, llist_head* head) {
  llist_node* first = READ_ONCE(head->first);
  do {
    // new_last is not published until the cmpxchg succeeds: a plain store.
    plain_write(new_last->next, first);
  } while (!try_cmpxchg(&head->first, &first, new_first));
  return first == nullptr;
}

llist_node* llist_del_first(llist_head* head) {
  llist_node* entry = smp_load_acquire(&head->first);
  llist_node* next;
  do {
    if (entry == nullptr) return nullptr;
    next = READ_ONCE(entry->next);
  } while (!try_cmpxchg(&head->first, &entry, next));
  return entry;
}

bool llist_del_first_this(llist_head* head, llist_node* self) {
  llist_node* entry = smp_load_acquire(&head->first);
  llist_node* next;
  do {
    if (entry != self) return false;
    next = READ_ONCE(entry->next);
  } while (!try_cmpxchg(&head->first, &entry, next));
  return true;
}

llist_node* llist_reverse_order(llist_node* head) {
  llist_node* new_head = nullptr;
  while (head != nullptr) {
    llist_node* tmp = head;
    head = llist_next(head);
    plain_write(tmp->next, new_head);
    new_head = tmp;
  }
  return new_head;
}

KMODEL_NAMESPACE_END
