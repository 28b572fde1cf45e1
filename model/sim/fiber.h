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
#ifndef KMODEL_MODEL_SIM_FIBER_H_
#define KMODEL_MODEL_SIM_FIBER_H_

#include <cstddef>
#include <functional>

#include <boost/context/fiber.hpp>

#include "model/backend.h"

KMODEL_NAMESPACE_BEGIN

class Fiber {
 public:
  explicit Fiber(std::function<void()> entry);
  ~Fiber();
  Fiber(const Fiber&) = delete;
  Fiber& operator=(const Fiber&) = delete;

  void resume();
  void suspend();
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

KMODEL_NAMESPACE_END

#endif  // KMODEL_MODEL_SIM_FIBER_H_
