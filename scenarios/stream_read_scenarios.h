// scenarios/stream_read_scenarios.h: the reader side of the streams
// (stream/bpf_stream.h bpf_stream_read, stream/bpf_prog.h the read syscall)
// against concurrent writers, registered in the catalogue under "stream/".
// See docs/stream.md, "Reader scenarios".
#ifndef KMODEL_SCENARIOS_STREAM_READ_SCENARIOS_H_
#define KMODEL_SCENARIOS_STREAM_READ_SCENARIOS_H_

#include "model/sim/scenario.h"

KMODEL_NAMESPACE_BEGIN
namespace stream_read_scenarios {

// Writers on CPUs 0 and 1 and an NMI on CPU 0; CPU 2 reads in small pieces
// (partial elements) and once with a NULL buffer: every accepted message is
// read exactly once, each writer's in its order; the charge equals the bytes
// queued and not fully read.
void exactly_once_fifo(Scenario& s);
// CPU 1 queues more than a page and reads into a buffer whose second page is
// unmapped, while CPU 0 writes: every accepted byte must reach the reader.
// 6.18 (and the seed) lose the elements copied before the fault.
void read_fault_second_page(Scenario& s);
// Writers on two CPUs meet allocation failures and an over-long message while
// a reader drains: the charge must equal the bytes queued and not fully read.
void capacity_invariant_failures(Scenario& s);
// The stream is 10 bytes short of its capacity: a 10-byte write is always
// refused, a 9-byte one fits unless another CPU's byte is still charged.
void exhaustion_at_boundary(Scenario& s);

// The seed's BPF-side reader: writers on CPUs 0 and 1, bpf_stream_next_elem
// from CPUs 0-2 and an NMI on CPU 0: every accepted message popped exactly
// once, the charge ends at 0. The seed frees a detached batch when its lock
// fails (seed/6.18 rqspinlock: found; mainline's: not).
void seed_next_elem_concurrent(Scenario& s);
// The same without the NMI, checking each popper's per-writer order: a
// batch detached outside the lock can be appended after a later batch.
void seed_next_elem_order(Scenario& s);

}  // namespace stream_read_scenarios
KMODEL_NAMESPACE_END

#endif  // KMODEL_SCENARIOS_STREAM_READ_SCENARIOS_H_
