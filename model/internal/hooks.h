// model/internal/hooks.h: the narrow seam between platform operations and
// the backend that runs them.
//
// Natively every hook is an empty inline function, so kernel-shaped code pays
// nothing. In the simulator build each platform operation first calls
// sched_point(): the calling CPU stops there, the scheduler picks who runs
// next (and may inject an interrupt on this CPU), and only then does the
// operation happen. Since fibers are cooperative and run on one thread, the
// operation that follows a scheduling point is atomic with respect to every
// other CPU: the simulator explores sequentially consistent interleavings.
//
// For the trace (model/sim/trace.h) the simulator build also learns where a
// memory operation was called from (SrcLoc, captured by a defaulted argument
// of model/atomic.h's functions at the caller's line) and, right after the
// operation, what it read and wrote (note_access). Natively SrcLoc is an
// empty struct and note_access is never called: no cost.
#ifndef KMODEL_MODEL_INTERNAL_HOOKS_H_
#define KMODEL_MODEL_INTERNAL_HOOKS_H_

#include <cstddef>
#include <cstdint>

#include "model/backend.h"

KMODEL_NAMESPACE_BEGIN
namespace internal {

// What a CPU is about to do at a scheduling point (kept in traces).
enum class Op : std::uint8_t {
  kStart,      // a body or interrupt handler begins
  kLoad,       // READ_ONCE, smp_load_acquire, atomic_read
  kStore,      // WRITE_ONCE, smp_store_release, atomic_set
  kRmw,        // xchg, cmpxchg, atomic_*_return, fetch ops
  kFence,      // smp_mb and friends
  kRelax,      // cpu_relax(): the CPU is spinning
  kClock,      // reading the monotonic clock
  kPageAlloc,  // alloc_pages_nolock / free_pages_nolock
  kChoice,     // a data choice (fault injection) the strategy makes
  kIrq,        // irq enable/disable
  kUser,       // a point a scenario marks explicitly
};

#if KMODEL_IS_SIM
// The source file:line of a platform operation's caller, or {} (unknown).
// As a defaulted argument `SrcLoc at = SrcLoc::here()` it names the line
// that called the function declaring it (__builtin_FILE/__builtin_LINE
// rather than std::source_location, which clang 14 lacks with libstdc++).
struct SrcLoc {
  const char* file = nullptr;
  unsigned line = 0;
  static constexpr SrcLoc here(const char* file = __builtin_FILE(),
                               unsigned line = __builtin_LINE()) noexcept {
    return {file, line};
  }
};
#else
// Natively the location is not kept: an empty argument, gone once inlined.
struct SrcLoc {
  static constexpr SrcLoc here() noexcept { return {}; }
};
#endif

// What one memory operation read and wrote, as the trace shows it. Values
// are the operand's bits widened to 64 (signed types sign-extended);
// pointers are flagged so they print in hex. Filled only in the simulator.
struct Access {
  enum Flag : std::uint8_t {
    kRead = 1,       // `read` holds the value found in memory
    kWritten = 2,    // `written` holds the value left in memory
    kExpected = 4,   // a compare-and-exchange: `expected` is its old value
    kOk = 8,         // ... and it succeeded (wrote)
    kPointer = 16,   // the operand is a pointer
    kSigned = 32,    // the operand is a signed integer
  };
  const char* what = nullptr;  // "load", "store", "xchg", "cmpxchg", "fetch_add", ...
  std::uint64_t read = 0;
  std::uint64_t written = 0;
  std::uint64_t expected = 0;
  std::uint8_t flags = 0;
  std::uint8_t order = 0;  // std::memory_order of the operation
  bool operator==(const Access&) const = default;
};

#if KMODEL_IS_SIM
const char* op_name(Op op);
// "relaxed", "acquire", "release", "seq_cst" (Access::order).
const char* order_name(std::uint8_t order);
// Defined by the simulator engine (model/sim/machine.cc).
void sched_point(Op op, const void* addr, SrcLoc at = {});
// The memory operation of the caller's last scheduling point happened and
// did this (kept with that step of the trace).
void note_access(const Access& access);
// A conditional write (cmpxchg) succeeded: the machine made progress.
void note_write(const void* addr);
// A data choice among n alternatives, made (and recorded) by the strategy.
// Outside a running simulated CPU it returns 0.
int choose(int n, const char* label);
// Model memory bookkeeping for use-after-free, double-free and leak checks.
// track_free returns true when the simulator took the block (it poisons it
// and calls `release` when the run ends); false: the caller frees it now.
void track_alloc(void* p, std::size_t n, const char* what);
bool track_free(void* p, std::size_t n, const char* what, void (*release)(void*));
// A plain (unmarked) load or store of `addr`: not a scheduling point, but
// checked for data races against other CPUs' accesses (model/sim/machine.h).
void plain_access(const void* addr, bool write);
// A spinning CPU names the simulated times at which its wait can end without
// any memory change (model/clock.h: spin_wait_deadline); deadline_reached()
// says, once, that the machine jumped the clock there.
void declare_deadline(std::uint64_t deadline_ns, std::uint64_t check_ns);
bool deadline_reached();
// The next cpu_relax() waits for another CPU's write (smp_cond_load_*). A
// cpu_relax() that declares nothing is a bounded spin: it is not waiting,
// and the clock does not jump to deadlines under it.
void declare_wait_for_write();
#else
inline void sched_point(Op, const void*, SrcLoc = {}) {}
inline void note_access(const Access&) {}
inline void note_write(const void*) {}
inline void plain_access(const void*, bool) {}
inline void declare_deadline(std::uint64_t, std::uint64_t) {}
inline bool deadline_reached() { return false; }
inline void declare_wait_for_write() {}
#endif

}  // namespace internal
KMODEL_NAMESPACE_END

#endif  // KMODEL_MODEL_INTERNAL_HOOKS_H_
