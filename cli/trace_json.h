// cli/trace_json.h: a simulated run as Chrome trace-event JSON.
//
// The format that Perfetto (ui.perfetto.dev) and chrome://tracing open. The
// run's trace becomes one process with one thread track per CPU ("CPU n",
// tid n). Time is the trace's event index, written as microseconds, so that
// the step numbers shown match the `step` column of Trace::timeline():
//
//   - every operation step: a complete slice ("ph":"X", dur 1) named after
//     the operation (load, rmw, ...), args {object, step, level}; a memory
//     operation of model/atomic.h adds what it did: "op" (load, store,
//     xchg, cmpxchg, fetch_add, ...), "order" (relaxed, acquire, release,
//     seq_cst) and its values: "value" (load, store), "old" and "new"
//     (xchg, fetch ops), "expected", "found", "new" and "ok" (cmpxchg);
//     integers are JSON numbers (strings beyond 2^53), pointers "0x..."
//     strings; and any step whose caller is known has "at":
//     "stream/bpf_stream.cc:123";
//   - every interrupt: a slice "interrupt <n>" from its kInterrupt event to
//     the matching kInterruptEnd on the same CPU, so the handler's
//     operations appear nested under it (an interrupt still open when the
//     run ended, e.g. because it failed inside the handler, ends with the
//     trace);
//   - every clock jump: a global instant event ("ph":"i", "s":"g");
//   - a failed run: a global instant event with the outcome and message.
//
// The run's outcome, message and schedule are in "otherData".
#ifndef KMODEL_CLI_TRACE_JSON_H_
#define KMODEL_CLI_TRACE_JSON_H_

#include <string>

#include "model/sim/machine.h"

namespace streamcheck {

// The process id every event of the exported run carries.
inline constexpr int kTracePid = 1;

std::string chrome_trace_json(const kmodel::RunResult& run);

}  // namespace streamcheck

#endif  // KMODEL_CLI_TRACE_JSON_H_
