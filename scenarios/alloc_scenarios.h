// scenarios/alloc_scenarios.h: the stream element allocator scenarios, for
// tests that drive them directly (they are also registered in the catalogue
// under "alloc/").
#ifndef KMODEL_SCENARIOS_ALLOC_SCENARIOS_H_
#define KMODEL_SCENARIOS_ALLOC_SCENARIOS_H_

#include <cstdint>

#include "model/sim/scenario.h"

KMODEL_NAMESPACE_BEGIN
namespace alloc_scenarios {

// CPU 0 allocates (replacing pages) while its NMI allocates too; CPU 1 frees
// what CPU 0 hands over and allocates under its own NMI. An NMI allocation
// may fail only while CPU 0 is inside an allocation (seed and 6.18: the
// CPU's one page allocator; mainline: never, SLUB retrying in the next
// kmalloc bucket when the NMI finds its cache busy).
void nmi_reentry(Scenario& s);
// CPU 0 allocates across several pages and hands every element to CPUs 1
// and 2, which free them while CPU 0 keeps replacing its page.
void cross_cpu_free(Scenario& s);
// nmi_reentry and cross-CPU frees with every alloc_pages_nolock() call a
// choice of the checker (PageFaultPolicy::explored()).
void page_alloc_failure(Scenario& s);
// 34 elements of 120 bytes (header included) fill a page to consumed =
// 4080; then len = 0.
void zero_len_overrun(Scenario& s);

// Runs in which an NMI allocation returned nullptr because its CPU was
// inside an allocation (counted across runs; tests reset it).
std::uint64_t nmi_enomem_count();
void reset_nmi_enomem_count();

}  // namespace alloc_scenarios
KMODEL_NAMESPACE_END

#endif  // KMODEL_SCENARIOS_ALLOC_SCENARIOS_H_
