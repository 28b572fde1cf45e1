// cli/tracelog.cc: see tracelog.h.
#include "cli/tracelog.h"

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

namespace tracelog {

int tracelog_stream(const StreamReadFn& read, int stream_id, std::FILE* out) {
  char buf[TRACELOG_CHUNK];
  int ret;
  do {
    ret = read(stream_id, buf, sizeof(buf));
    if (ret > 0) std::fwrite(buf, 1, static_cast<std::size_t>(ret), out);
  } while (ret > 0);
  std::fflush(out);
  return ret;
}

absl::StatusOr<int> parse_stream_name(const std::string& word) {
  const bool out = !word.empty() && std::string_view("stdout").starts_with(word);
  const bool err = !word.empty() && std::string_view("stderr").starts_with(word);
  if (out != err) return out ? BPF_STREAM_STDOUT : BPF_STREAM_STDERR;
  return absl::InvalidArgumentError(
      absl::StrCat("'", word, "': expected stdout or stderr",
                   out && err ? " (the prefix is ambiguous)" : ""));
}

// ---- The running kernel ----------------------------------------------------

namespace {

// union bpf_attr's prog_stream_read member (include/uapi/linux/bpf.h, 6.17+;
// Debian 12's headers predate it).
struct bpf_attr_prog_stream_read {
  __aligned_u64 stream_buf;
  __u32 stream_buf_len;
  __u32 stream_id;
  __u32 prog_fd;
};

std::string errno_text(int err) { return absl::StrCat(std::strerror(err), " (errno ", err, ")"); }

// Whether an fd is a BPF program: its fdinfo has a prog_type line.
bool is_prog_fd(int fd) {
  std::ifstream info(absl::StrCat("/proc/self/fdinfo/", fd));
  std::string line;
  while (std::getline(info, line))
    if (line.rfind("prog_type:", 0) == 0) return true;
  return false;
}

// Parses a tag as `bpftool prog show` prints it (16 hex digits, colons
// between the bytes allowed).
absl::StatusOr<std::string> parse_tag(const std::string& text) {
  std::string hex = absl::StrReplaceAll(text, {{":", ""}});
  if (hex.size() != 2 * BPF_TAG_SIZE ||
      hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
    return absl::InvalidArgumentError(
        absl::StrCat("tag '", text, "': expected ", BPF_TAG_SIZE, " bytes in hex"));
  return absl::AsciiStrToLower(hex);
}

std::string tag_hex(const unsigned char (&tag)[BPF_TAG_SIZE]) {
  std::string out;
  for (unsigned char b : tag) absl::StrAppend(&out, absl::Hex(b, absl::kZeroPad2));
  return out;
}

// Every loaded program whose info satisfies `match`: fds, or an error.
template <typename Match>
absl::StatusOr<int> find_one(const std::string& what, Match match) {
  std::vector<int> fds;
  __u32 id = 0;
  while (bpf_prog_get_next_id(id, &id) == 0) {
    const int fd = bpf_prog_get_fd_by_id(id);
    if (fd < 0) continue;  // unloaded meanwhile
    bpf_prog_info info{};
    __u32 len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && match(info)) {
      fds.push_back(fd);
    } else {
      close(fd);
    }
  }
  if (errno != ENOENT && fds.empty())
    return absl::UnavailableError(absl::StrCat("listing programs for ", what, ": ", errno_text(errno)));
  if (fds.size() == 1) return fds[0];
  for (int fd : fds) close(fd);
  if (fds.empty()) return absl::NotFoundError(absl::StrCat(what, ": no such program"));
  return absl::InvalidArgumentError(
      absl::StrCat(what, ": ", fds.size(), " programs match; name one by id"));
}

}  // namespace

StreamReadFn kernel_stream_reader(int prog_fd) {
  return [prog_fd](int stream_id, char* buf, std::uint32_t len) -> int {
    bpf_attr_prog_stream_read attr{};
    attr.stream_buf = reinterpret_cast<__u64>(buf);
    attr.stream_buf_len = len;
    attr.stream_id = static_cast<__u32>(stream_id);
    attr.prog_fd = static_cast<__u32>(prog_fd);
    const long n = syscall(__NR_bpf, BPF_PROG_STREAM_READ_BY_FD, &attr, sizeof(attr));
    return n < 0 ? -errno : static_cast<int>(n);
  };
}

absl::StatusOr<int> kernel_prog_fd(const std::vector<std::string>& words) {
  if (words.size() != 2)
    return absl::InvalidArgumentError(absl::StrCat(
        "PROG '", absl::StrJoin(words, " "), "': expected one of: id ID, pinned FILE, tag TAG, name NAME"));
  const std::string& kind = words[0];
  const std::string& arg = words[1];
  if (kind == "id") {
    __u32 id;
    if (!absl::SimpleAtoi(arg, &id) || arg.find_first_not_of("0123456789") != std::string::npos)
      return absl::InvalidArgumentError(absl::StrCat("id '", arg, "': not a program id"));
    const int fd = bpf_prog_get_fd_by_id(id);
    if (fd < 0) return absl::NotFoundError(absl::StrCat("id ", arg, ": ", errno_text(errno)));
    return fd;
  }
  if (kind == "pinned") {
    const int fd = bpf_obj_get(arg.c_str());
    if (fd < 0) return absl::NotFoundError(absl::StrCat("pinned '", arg, "': ", errno_text(errno)));
    if (!is_prog_fd(fd)) {
      close(fd);
      return absl::InvalidArgumentError(absl::StrCat("pinned '", arg, "': not a program"));
    }
    return fd;
  }
  if (kind == "tag") {
    absl::StatusOr<std::string> tag = parse_tag(arg);
    if (!tag.ok()) return tag.status();
    return find_one(absl::StrCat("tag ", arg),
                    [&](const bpf_prog_info& info) { return tag_hex(info.tag) == *tag; });
  }
  if (kind == "name") {
    if (arg.empty() || arg.size() >= BPF_OBJ_NAME_LEN)
      return absl::InvalidArgumentError(
          absl::StrCat("name '", arg, "': 1 to ", BPF_OBJ_NAME_LEN - 1, " characters"));
    return find_one(absl::StrCat("name ", arg),
                    [&](const bpf_prog_info& info) { return arg == info.name; });
  }
  return absl::InvalidArgumentError(
      absl::StrCat("PROG '", kind, "': expected one of: id, pinned, tag, name"));
}

int tracelog_main(const std::vector<std::string>& args) {
  constexpr int kFailed = 255;  // bpftool's -1
  auto fail = [](const std::string& what) {
    std::fprintf(stderr, "tracelog: %s\n", what.c_str());
    return kFailed;
  };
  if (args.empty() || args[0] == "help" || args[0] == "--help") {
    std::fprintf(stderr, "usage: tracelog [--follow] { stdout | stderr } PROG\n"
                         "  PROG := { id ID | pinned FILE | tag TAG | name NAME }\n");
    return args.empty() ? kFailed : 0;
  }
  if (args[0] == "--follow")
    return fail("--follow: the running kernel has no stream fds (they come with the in-review "
                "series the model's `next` profile checks); follow model programs instead "
                "(cli/tracelog_follow.h)");
  absl::StatusOr<int> stream_id = parse_stream_name(args[0]);
  if (!stream_id.ok()) return fail(std::string(stream_id.status().message()));
  absl::StatusOr<int> fd = kernel_prog_fd({args.begin() + 1, args.end()});
  if (!fd.ok()) return fail(std::string(fd.status().message()));
  std::FILE* out = *stream_id == BPF_STREAM_STDOUT ? stdout : stderr;
  const int ret = tracelog_stream(kernel_stream_reader(*fd), *stream_id, out);
  close(*fd);
  if (ret < 0)
    return fail(absl::StrCat("reading ", args[0], " of ", absl::StrJoin(args.begin() + 1, args.end(), " "),
                             ": ", errno_text(-ret)));
  return 0;
}

}  // namespace tracelog
