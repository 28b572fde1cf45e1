// scenarios/stream_next_scenarios.h: the `next` profile's pollable stream
// fds (stream/bpf_stream_fd.h) against concurrent writers, registered in the
// catalogue under "stream_next/". See docs/next.md.
#ifndef KMODEL_SCENARIOS_STREAM_NEXT_SCENARIOS_H_
#define KMODEL_SCENARIOS_STREAM_NEXT_SCENARIOS_H_

#include "model/sim/scenario.h"

KMODEL_NAMESPACE_BEGIN
namespace stream_next_scenarios {

// CPU 0 reads a blocking stream fd until it has every byte; the stream holds
// "ab" at the start; CPU 1 writes "xyz" from task, hardirq or NMI context;
// its notification runs where the machine delivers CPU 1's irq_work
// interrupt. The reader is always woken: a missed wake-up is a hang.
// readable never goes negative and ends 0.
void no_lost_wakeup_task(Scenario& s);
void no_lost_wakeup_hardirq(Scenario& s);
void no_lost_wakeup_nmi(Scenario& s);
// The same with a seeded bug: the writer's notify decision read before its
// add (kNotifyCheckedBeforePublish), or the reader's check before it
// registers (kCheckBeforeRegister). The checker must find the hang.
void lost_wakeup_notify_before_publish(Scenario& s);
void lost_wakeup_check_before_register(Scenario& s);
// An NMI on the reader's CPU writes (its irq_work is queued on the CPU that
// sleeps in the read) while CPU 1 writes "cd!"; the reader reads until '!'.
// Nothing is lost; readable equals the unread bytes at the end.
void nmi_on_reader_cpu(Scenario& s);
// The reader on CPU 1 sleeps on an empty stream; the only writer is an NMI
// (or a hardirq) on CPU 1 itself, which may arrive while the reader sleeps
// (the CPU idle: model/cpu.h): its irq_work runs on CPU 1 after it and wakes
// the reader, who reads "xyz". Goal: the interrupt wrote while the reader
// slept. The seeded variant checks before registering: a hang.
void nmi_writes_while_reader_asleep(Scenario& s);
void hardirq_writes_while_reader_asleep(Scenario& s);
void nmi_writes_while_reader_asleep_check_before_register(Scenario& s);
// Two readers (CPUs 0, 1) blocked in read and a poller (CPU 2) asleep on
// the same stream fd; CPU 3 writes, then kills the program once the poller
// has seen EPOLLIN: every waiter is woken by the data and by the death (both
// readers get EOF, the poller EPOLLHUP). Seeded: wake one waiter only.
void several_waiters_all_woken(Scenario& s);
void several_waiters_wake_one(Scenario& s);
// A blocked read ended by a signal (a hardirq on the reader's CPU signals
// its task): -ERESTARTSYS with nothing consumed; with a writer racing, the
// restarted read gets every byte.
void signal_interrupts_read(Scenario& s);
void signal_and_writer(Scenario& s);
// Seeded: the read ignores the signal (a hang: it cannot leave the read).
void signal_ignored(Scenario& s);
// CPU 1 writes and then tears the program down (the last fd closed); CPU 0
// reads (blocking) and polls: every byte is read before EOF, EOF comes only
// once dead and drained, EPOLLHUP is seen after death; the fd, closed last,
// frees the stream (leak and use-after-free checks of the simulator).
void eof_when_dead_and_drained(Scenario& s);
// Non-blocking reads against two writers: -EAGAIN only when nothing was
// readable (readable observed 0 before and the read found nothing);
// readable never negative, equal to the bytes published and not yet read.
void nonblock_eagain(Scenario& s);

}  // namespace stream_next_scenarios
KMODEL_NAMESPACE_END

#endif  // KMODEL_SCENARIOS_STREAM_NEXT_SCENARIOS_H_
