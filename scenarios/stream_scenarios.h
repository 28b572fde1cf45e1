// scenarios/stream_scenarios.h: staged reports and program teardown
// (stream/bpf_stream.h staging, stream/bpf_report.h, stream/bpf_prog.h),
// registered in the catalogue under "stream/". See docs/stream.md.
#ifndef KMODEL_SCENARIOS_STREAM_SCENARIOS_H_
#define KMODEL_SCENARIOS_STREAM_SCENARIOS_H_

#include "model/sim/scenario.h"

KMODEL_NAMESPACE_BEGIN
namespace stream_scenarios {

// CPU 0 stages a report, an NMI on CPU 0 stages another and a kernel
// may_goto report, CPU 1 writes single lines and reads: every report arrives
// contiguous, in order, with exactly the lines whose printk succeeded (none
// if its commit failed); the capacity ends at the bytes each version leaks.
void stage_contiguous(Scenario& s);
// The stream is nearly full: CPU 0's report fits whole or not at all while
// CPU 1 writes and reads.
void stage_capacity_exhaustion(Scenario& s);
// Reports from CPU 0 and its NMI queued, partly read by CPU 1; then the
// program's last fd is closed: every element is freed (machine leak check).
void teardown_with_reports_queued(Scenario& s);
// A report whose one line goes through the seed's commit (tail unset).
void one_element_report(Scenario& s);
// A report with a line over 1024 bytes: its length must not stay charged.
void oversize_line_charge(Scenario& s);
// A timer callback subprogram of program B, run by a hardirq on CPU 0 while
// CPU 0 runs program A, reports: the report belongs to B.
void callback_stack_search(Scenario& s);
// A program run by an NMI on CPU 0 reports while CPU 0's task runs a
// subprogram of another program: the report belongs to the NMI's program.
void nmi_report_right_program(Scenario& s);

}  // namespace stream_scenarios
KMODEL_NAMESPACE_END

#endif  // KMODEL_SCENARIOS_STREAM_SCENARIOS_H_
