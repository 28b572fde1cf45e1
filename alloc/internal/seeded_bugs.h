// alloc/internal/seeded_bugs.h: bugs the model checker must find, switched
// on per run by scenario code. Simulator build only.
//
// Why this shape: the bugs must never reach production code, and the
// scenarios that show them must run in the same binary as the correct ones.
// So the knobs exist only in the `_sim` build of //alloc (in the native
// build the code that reads them compiles to `false` and vanishes), this
// header is visible only through //alloc:seeded_bugs_sim, whose visibility
// admits only //scenarios and //tests/alloc, and the allocator's machine-state reset clears them before every simulated
// run, so a scenario that does not set them runs the correct allocator.
#ifndef KMODEL_ALLOC_INTERNAL_SEEDED_BUGS_H_
#define KMODEL_ALLOC_INTERNAL_SEEDED_BUGS_H_

#include "model/backend.h"

#if !KMODEL_IS_SIM
#error "seeded bugs exist only in the simulator build (link //alloc:seeded_bugs_sim)"
#endif

KMODEL_NAMESPACE_BEGIN
namespace alloc_internal {

struct SeededBugs {
  // bpf_stream_page_reserve_elem() forgets bpf_stream_page_get(): elements
  // hold no page reference.
  bool skip_elem_page_ref = false;
  // The CPU holds no reference to its current page (refcount starts at 0 and
  // replacing does not put it): the page is freed when its last element is,
  // even while it is still current.
  bool no_cpu_page_ref = false;
  // bpf_stream_page_elem_alloc() disables irqs but takes no local_trylock:
  // an NMI re-enters the bump allocation of the CPU it interrupted.
  bool no_trylock = false;
};

extern SeededBugs g_seeded_bugs;

}  // namespace alloc_internal
KMODEL_NAMESPACE_END

#endif  // KMODEL_ALLOC_INTERNAL_SEEDED_BUGS_H_
