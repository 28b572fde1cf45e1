// cli/tracelog.h: `bpftool prog tracelog { stdout | stderr } PROG`, for a
// model program and for a program of the running kernel.
//
// Mirrors: tools/bpf/bpftool/prog.c (prog_tracelog_stream, do_tracelog_any,
// prog_parse_fd), Linux 6.17+.
//
// The read loop (tracelog_stream) is the same for both: read the stream in
// TRACELOG_CHUNK (512) byte chunks, write every chunk to `out` as it comes,
// stop at the first read that returns 0 (drained) or an error. A stream's
// reader never blocks and never returns a partial message twice, so the loop
// ends as soon as the stream is empty *at that moment*: messages written
// after the last read wait for the next dump (bpftool has no --follow).
//
// What reads the stream is a StreamReadFn:
//   - a model program: a lambda over stream/'s bpf_prog_stream_read (see
//     docs/stream.md, "tracelog");
//   - the running kernel: kernel_stream_reader(prog_fd), which issues the
//     bpf() command BPF_PROG_STREAM_READ_BY_FD (= 37) itself, since Debian's
//     libbpf 1.1 predates bpf_prog_stream_read().
//
// Exit status as bpftool's: 0 when the stream was read to its end, 255
// (bpftool's -1) for a read error or a PROG that names no single program,
// after a message on stderr that names the input.
#ifndef KMODEL_CLI_TRACELOG_H_
#define KMODEL_CLI_TRACELOG_H_

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tracelog {

inline constexpr int TRACELOG_CHUNK = 512;  // bpftool's buffer
inline constexpr int BPF_STREAM_STDOUT = 1;
inline constexpr int BPF_STREAM_STDERR = 2;
inline constexpr int BPF_PROG_STREAM_READ_BY_FD = 37;  // enum bpf_cmd, 6.17+

// Reads up to `len` bytes of stream `stream_id` into `buf`: the byte count
// (0 when the stream is empty) or a negative errno.
using StreamReadFn = std::function<int(int stream_id, char* buf, std::uint32_t len)>;

// The loop of prog_tracelog_stream: 0 when a read returned 0, else the
// negative errno of the read that failed (bytes read before it are written).
int tracelog_stream(const StreamReadFn& read, int stream_id, std::FILE* out);

// "stdout" or "stderr", or a prefix of either as bpftool accepts ("stdo",
// "stde"; "std" is ambiguous): the stream id, or an error naming the word.
absl::StatusOr<int> parse_stream_name(const std::string& word);

// ---- The running kernel ----------------------------------------------------

// BPF_PROG_STREAM_READ_BY_FD on a kernel program fd (the raw syscall).
StreamReadFn kernel_stream_reader(int prog_fd);

// bpftool's PROG: `id ID`, `pinned FILE`, `tag TAG` (8 bytes in hex, as
// `bpftool prog show` prints it, with or without colons) or `name NAME`.
// Returns an fd of the one program it names (the caller closes it); an error
// names the input when it is malformed, names no program, or names several
// (tag and name need not be unique). `words` is consumed exactly: extra
// words are an error.
absl::StatusOr<int> kernel_prog_fd(const std::vector<std::string>& words);

// The whole command line after "tracelog": `{ stdout | stderr } PROG...`.
// Writes the stream to stdout or stderr (as bpftool does) and returns the
// process exit status.
int tracelog_main(const std::vector<std::string>& args);

}  // namespace tracelog

#endif  // KMODEL_CLI_TRACELOG_H_
