// model/sim/fiber.h: one simulated CPU's stack, on Boost.Context.
//
// A Fiber runs `entry` on its own stack. The scheduler calls resume(); the
// fiber runs until it calls suspend() (back to the scheduler) or its entry
// returns. Every switch is annotated for AddressSanitizer
// (__sanitizer_start/finish_switch_fiber) and ThreadSanitizer
// (__tsan_switch_to_fiber), so both follow the stacks instead of reporting
// false errors; stacks come from a per-thread pool (guard page below each) so
// thousands of runs do not pay an mmap each.
//
// Rules: resume() only from the scheduler's context, suspend() only from
// inside the fiber; `entry` must not let an exception escape.
//
// resume() and suspend() are inline: every simulated step pays a pair, and
// a pair behind out-of-line calls costs three times the bare switch (each
// return after a stack switch is mispredicted: bench/sim_bench.cc,
// BM_fiber_switch_*; docs/checker.md, "Speed").
#ifndef KMODEL_MODEL_SIM_FIBER_H_
#define KMODEL_MODEL_SIM_FIBER_H_

#include <cstddef>
#include <functional>
#include <utility>

#include <boost/context/fiber.hpp>

#include "model/backend.h"

#if KMODEL_ASAN
#include <sanitizer/common_interface_defs.h>
#endif
#if KMODEL_TSAN
#include <sanitizer/tsan_interface.h>
#endif

KMODEL_NAMESPACE_BEGIN

class Fiber {
 public:
  explicit Fiber(std::function<void()> entry);
  ~Fiber();
  Fiber(const Fiber&) = delete;
  Fiber& operator=(const Fiber&) = delete;

  inline void resume();
  inline void suspend();
  bool finished() const { return finished_; }

 private:
  boost::context::fiber run_entry(boost::context::fiber&& caller);

  std::function<void()> entry_;
  boost::context::fiber self_;    // this fiber, while suspended
  boost::context::fiber caller_;  // the scheduler, while this fiber runs
  bool finished_ = false;
  // Sanitizer bookkeeping.
  const void* stack_bottom_ = nullptr;
  std::size_t stack_size_ = 0;
  const void* caller_bottom_ = nullptr;
  std::size_t caller_size_ = 0;
  void* fake_stack_ = nullptr;
  void* tsan_fiber_ = nullptr;
  void* tsan_caller_ = nullptr;
};

void Fiber::resume() {
#if KMODEL_TSAN
  tsan_caller_ = __tsan_get_current_fiber();
  __tsan_switch_to_fiber(tsan_fiber_, 0);
#endif
#if KMODEL_ASAN
  void* fake = nullptr;
  __sanitizer_start_switch_fiber(&fake, stack_bottom_, stack_size_);
#endif
  self_ = std::move(self_).resume();
#if KMODEL_ASAN
  __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#endif
}

void Fiber::suspend() {
#if KMODEL_ASAN
  __sanitizer_start_switch_fiber(&fake_stack_, caller_bottom_, caller_size_);
#endif
#if KMODEL_TSAN
  __tsan_switch_to_fiber(tsan_caller_, 0);
#endif
  caller_ = std::move(caller_).resume();
#if KMODEL_ASAN
  __sanitizer_finish_switch_fiber(fake_stack_, &caller_bottom_, &caller_size_);
#endif
}

KMODEL_NAMESPACE_END

#endif  // KMODEL_MODEL_SIM_FIBER_H_
