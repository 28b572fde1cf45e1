// model/bug.h: invariants that must never break.
//
// Mirrors: include/asm-generic/bug.h (WARN_ON, WARN_ON_ONCE, BUG_ON).
//
// In this model a broken invariant is never just logged: natively it prints
// the condition and aborts; in the simulator it fails the current run, which
// is then reported with the schedule that replays it. WARN_ON(cond) returns
// cond, as in the kernel, for code that continues after a warning in the
// kernel; the model still treats the warning as a failure.
//
// MODEL_ASSERT(cond, msg) is the same check for scenario invariants.
#ifndef KMODEL_MODEL_BUG_H_
#define KMODEL_MODEL_BUG_H_

#include <string>

#include "model/backend.h"

KMODEL_NAMESPACE_BEGIN
namespace internal {
// Reports a broken invariant. Natively: print and abort. Simulator: fail the
// run (throws to unwind the failing CPU back to the scheduler).
[[noreturn]] void invariant_failed(const char* file, int line,
                                   const std::string& what);
}  // namespace internal
KMODEL_NAMESPACE_END

#define MODEL_ASSERT(cond, msg)                                              \
  do {                                                                       \
    if (__builtin_expect(!(cond), 0))                                        \
      ::kmodel::internal::invariant_failed(                                  \
          __FILE__, __LINE__, std::string("assertion `" #cond "` failed: ") + \
                                  (msg));                                    \
  } while (0)

#define WARN_ON(cond)                                                        \
  ({                                                                         \
    bool __warn_cond = !!(cond);                                             \
    if (__builtin_expect(__warn_cond, 0))                                    \
      ::kmodel::internal::invariant_failed(__FILE__, __LINE__,               \
                                           "WARN_ON(" #cond ")");            \
    __warn_cond;                                                             \
  })
#define WARN_ON_ONCE(cond) WARN_ON(cond)
#define BUG_ON(cond)                                                         \
  do {                                                                       \
    if (__builtin_expect(!!(cond), 0))                                       \
      ::kmodel::internal::invariant_failed(__FILE__, __LINE__,               \
                                           "BUG_ON(" #cond ")");             \
  } while (0)

#endif  // KMODEL_MODEL_BUG_H_
