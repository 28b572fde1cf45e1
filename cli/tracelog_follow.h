// cli/tracelog_follow.h: `tracelog --follow` for a model program: like
// `tail -f`, the stream is printed as it is written until the program dies.
//
// It needs the `next` profile's stream fds (stream/bpf_stream_fd.h): the
// follow opens a *blocking* stream fd with bpf_prog_stream_open() and runs
// the same loop as the one-shot dump (tracelog_stream, cli/tracelog.h) over
// it. Each read sleeps until bytes are readable, so the 0 that ends the loop
// is EOF: the program died (its last fd closed) and every byte it wrote was
// printed. The stream fd keeps the stream alive after the program is freed
// and is closed when the follow ends.
//
// The running kernel has no stream fds yet (the series is in review), so
// `tracelog --follow ... PROG` of a kernel program is refused with a message
// (cli/tracelog.cc).
#ifndef KMODEL_CLI_TRACELOG_FOLLOW_H_
#define KMODEL_CLI_TRACELOG_FOLLOW_H_

#include <cstdio>

#include "stream/bpf_prog.h"

namespace tracelog {

// Follows an open stream fd of `table` to EOF, writing to `out`, then closes
// it. 0 at EOF, else the negative errno of the read that failed (-EBADF: not
// an open stream fd).
int tracelog_follow_fd(kmodel::bpf_fd_table* table, int stream_fd, std::FILE* out);

// Opens stream `stream_id` of the program behind `prog_fd` (blocking) and
// follows it. The open's errors are returned as they are: -EBADF/-EINVAL for
// the prog fd, -ENOENT for the id, -EINVAL under a profile without stream
// fds (anything but `next`); nothing is written then.
int tracelog_follow_model(kmodel::bpf_fd_table* table, int prog_fd, int stream_id, std::FILE* out);

}  // namespace tracelog

#endif  // KMODEL_CLI_TRACELOG_FOLLOW_H_
