// cli/tracelog_follow.cc: see tracelog_follow.h.
#include "cli/tracelog_follow.h"

#include <cerrno>

#include "cli/tracelog.h"
#include "stream/bpf_stream_fd.h"

namespace tracelog {

int tracelog_follow_fd(kmodel::bpf_fd_table* table, int stream_fd, std::FILE* out) {
  if (kmodel::bpf_stream_file_get(table, stream_fd) == nullptr) return -EBADF;
  // The stream id is the fd's: the loop's argument is not used.
  const int ret = tracelog_stream(
      [table, stream_fd](int, char* buf, std::uint32_t len) {
        return kmodel::bpf_stream_fd_read(table, stream_fd, buf, static_cast<int>(len));
      },
      BPF_STREAM_STDOUT, out);
  kmodel::bpf_prog_close_fd(table, stream_fd);
  return ret;
}

int tracelog_follow_model(kmodel::bpf_fd_table* table, int prog_fd, int stream_id, std::FILE* out) {
  const int fd = kmodel::bpf_prog_stream_open(table, prog_fd, stream_id, nullptr);
  if (fd < 0) return fd;
  return tracelog_follow_fd(table, fd, out);
}

}  // namespace tracelog
