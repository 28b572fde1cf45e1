#include "model/sim/fiber.h"

#include <memory>
#include <utility>
#include <vector>

#include <boost/context/protected_fixedsize_stack.hpp>

#if KMODEL_ASAN
#include <sanitizer/common_interface_defs.h>
#endif
#if KMODEL_TSAN
#include <sanitizer/tsan_interface.h>
#endif

KMODEL_NAMESPACE_BEGIN

namespace {

namespace ctx = boost::context;

#if KMODEL_ASAN || KMODEL_TSAN
constexpr std::size_t kStackSize = 1024 * 1024;
#else
constexpr std::size_t kStackSize = 256 * 1024;
#endif

// Stacks are recycled within a thread: a run creates a fiber per CPU, and a
// check makes thousands of runs.
class StackPool {
 public:
  ~StackPool() {
    for (auto& s : free_) base_.deallocate(s);
  }
  ctx::stack_context take() {
    if (free_.empty()) return base_.allocate();
    ctx::stack_context s = free_.back();
    free_.pop_back();
    return s;
  }
  void give(ctx::stack_context& s) { free_.push_back(s); }

 private:
  ctx::protected_fixedsize_stack base_{kStackSize};
  std::vector<ctx::stack_context> free_;
};

StackPool& stack_pool() {
  static thread_local StackPool pool;
  return pool;
}

// The StackAllocator concept of Boost.Context, backed by the pool, telling
// the Fiber where its stack is for the sanitizers.
struct PooledStack {
  const void** bottom;
  std::size_t* size;
  ctx::stack_context allocate() {
    ctx::stack_context s = stack_pool().take();
    *bottom = static_cast<char*>(s.sp) - s.size;
    *size = s.size;
    return s;
  }
  void deallocate(ctx::stack_context& s) { stack_pool().give(s); }
};

}  // namespace

Fiber::Fiber(std::function<void()> entry) : entry_(std::move(entry)) {
  self_ = ctx::fiber(std::allocator_arg, PooledStack{&stack_bottom_, &stack_size_},
                     [this](ctx::fiber&& caller) { return run_entry(std::move(caller)); });
#if KMODEL_TSAN
  tsan_fiber_ = __tsan_create_fiber(0);
#endif
}

Fiber::~Fiber() {
#if KMODEL_TSAN
  if (tsan_fiber_ != nullptr) __tsan_destroy_fiber(tsan_fiber_);
#endif
}

ctx::fiber Fiber::run_entry(ctx::fiber&& caller) {
#if KMODEL_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &caller_bottom_, &caller_size_);
#endif
  caller_ = std::move(caller);
  entry_();
  finished_ = true;
#if KMODEL_ASAN
  // nullptr: this stack is done, ASan may drop its fake frames.
  __sanitizer_start_switch_fiber(nullptr, caller_bottom_, caller_size_);
#endif
#if KMODEL_TSAN
  __tsan_switch_to_fiber(tsan_caller_, 0);
#endif
  return std::move(caller_);
}

KMODEL_NAMESPACE_END
