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
const char* op_name(Op op);
// Defined by the simulator engine (model/sim/machine.cc).
void sched_point(Op op, const void* addr);
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
inline void sched_point(Op, const void*) {}
inline void note_write(const void*) {}
inline void plain_access(const void*, bool) {}
inline void declare_deadline(std::uint64_t, std::uint64_t) {}
inline bool deadline_reached() { return false; }
inline void declare_wait_for_write() {}
#endif

}  // namespace internal
KMODEL_NAMESPACE_END

#endif  // KMODEL_MODEL_INTERNAL_HOOKS_H_
