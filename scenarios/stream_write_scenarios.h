// scenarios/stream_write_scenarios.h: kernel bugs of the stream write path that the
// model reproduces, as catalogue entries under "stream/" (each expected to be
// found under the profiles that have the bug; docs/kernel-findings.md).
#ifndef KMODEL_SCENARIOS_STREAM_WRITE_SCENARIOS_H_
#define KMODEL_SCENARIOS_STREAM_WRITE_SCENARIOS_H_

#include "model/sim/scenario.h"

KMODEL_NAMESPACE_BEGIN
namespace stream_write_scenarios {

// A write whose output is longer than MAX_BPRINTF_BUF, then the stream is
// read empty: the charge must be back to 0 (6.18 keeps it: a leak).
void capacity_leak_long_output(Scenario& s);
// A write whose element allocation fails (every page allocation fails),
// then the stream is read empty: the charge must be back to 0.
void capacity_leak_alloc_failure(Scenario& s);
// bpf_snprintf's preparation of "%s%pi4%d" with a 500-byte string: 501 +
// 16 + 4 packed bytes exceed MAX_BPRINTF_BIN_ARGS, so it must fail with
// -ENOSPC (every kernel accepts it: the packed-argument overrun).
void bprintf_packed_overrun(Scenario& s);

}  // namespace stream_write_scenarios
KMODEL_NAMESPACE_END

#endif  // KMODEL_SCENARIOS_STREAM_WRITE_SCENARIOS_H_
