// llist: the kernel's single-threaded contract of each function.
#include <catch2/catch.hpp>

#include <vector>

#include "sync/llist.h"

using namespace kmodel;

namespace {
struct Item {
  int value;
  llist_node node;
};
std::vector<int> values(llist_node* first) {
  std::vector<int> out;
  llist_node* pos;
  llist_for_each(pos, first) out.push_back(llist_entry(pos, Item, node)->value);
  return out;
}
}  // namespace

TEST_CASE("add reports whether the list was empty; the list is LIFO") {
  llist_head head;
  init_llist_head(&head);
  Item a{1, {}}, b{2, {}}, c{3, {}};
  CHECK(llist_empty(&head));
  CHECK(llist_add(&a.node, &head));
  CHECK_FALSE(llist_add(&b.node, &head));
  CHECK_FALSE(llist_add(&c.node, &head));
  CHECK_FALSE(llist_empty(&head));
  CHECK(values(READ_ONCE(head.first)) == std::vector<int>{3, 2, 1});
}

TEST_CASE("del_all detaches everything newest first; reverse gives FIFO") {
  llist_head head;
  init_llist_head(&head);
  Item items[4] = {{0, {}}, {1, {}}, {2, {}}, {3, {}}};
  for (Item& it : items) llist_add(&it.node, &head);
  llist_node* all = llist_del_all(&head);
  CHECK(llist_empty(&head));
  CHECK(values(all) == std::vector<int>{3, 2, 1, 0});
  CHECK(values(llist_reverse_order(all)) == std::vector<int>{0, 1, 2, 3});
  CHECK(llist_del_all(&head) == nullptr);
  CHECK(llist_reverse_order(nullptr) == nullptr);
}

TEST_CASE("add_batch splices a pre-linked chain at the head, in one step") {
  llist_head head;
  init_llist_head(&head);
  Item old{0, {}}, x{1, {}}, y{2, {}}, z{3, {}};
  llist_add(&old.node, &head);
  // Chain z -> y -> x (newest first, like the list).
  plain_write(z.node.next, &y.node);
  plain_write(y.node.next, &x.node);
  CHECK_FALSE(llist_add_batch(&z.node, &x.node, &head));
  CHECK(values(READ_ONCE(head.first)) == std::vector<int>{3, 2, 1, 0});

  llist_head empty;
  init_llist_head(&empty);
  Item solo{9, {}};
  CHECK(llist_add_batch(&solo.node, &solo.node, &empty));
}

TEST_CASE("del_first takes the newest node; del_first_this only a matching one") {
  llist_head head;
  init_llist_head(&head);
  CHECK(llist_del_first(&head) == nullptr);
  Item a{1, {}}, b{2, {}};
  llist_add(&a.node, &head);
  llist_add(&b.node, &head);
  CHECK_FALSE(llist_del_first_this(&head, &a.node));
  CHECK(llist_del_first_this(&head, &b.node));
  CHECK(llist_del_first(&head) == &a.node);
  CHECK(llist_empty(&head));
}

TEST_CASE("init_llist_node marks a node off-list; del_first_init restores the mark") {
  llist_head head;
  init_llist_head(&head);
  Item a{1, {}};
  init_llist_node(&a.node);
  CHECK_FALSE(llist_on_list(&a.node));
  llist_add(&a.node, &head);
  CHECK(llist_on_list(&a.node));
  CHECK(llist_del_first_init(&head) == &a.node);
  CHECK_FALSE(llist_on_list(&a.node));
}

TEST_CASE("the __ variants behave like the atomic ones on a private list") {
  llist_head head;
  init_llist_head(&head);
  Item a{1, {}}, b{2, {}};
  CHECK(__llist_add(&a.node, &head));
  CHECK_FALSE(__llist_add(&b.node, &head));
  CHECK(values(__llist_del_all(&head)) == std::vector<int>{2, 1});
  CHECK(llist_empty(&head));
}

TEST_CASE("for_each_safe allows freeing the current node") {
  llist_head head;
  init_llist_head(&head);
  for (int i = 0; i < 5; ++i) llist_add(&(new Item{i, {}})->node, &head);
  int sum = 0, count = 0;
  llist_node *pos, *n;
  llist_for_each_safe(pos, n, llist_del_all(&head)) {
    Item* it = llist_entry(pos, Item, node);
    sum += it->value;
    ++count;
    delete it;
  }
  CHECK(count == 5);
  CHECK(sum == 10);
}
