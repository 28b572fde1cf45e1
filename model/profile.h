// model/profile.h: which version of the design the model reproduces.
//
// The BPF streams design changed between the seed patch series (May 2025),
// the merged kernel (6.17/6.18) and mainline (2026 fixes). The model keeps
// all three as run-time profiles, so the same scenario can be checked under
// each and the outcomes compared (docs/profiles.md has the table of
// differences, each with the kernel commit or release it comes from):
//
//   seed        the patch series: 4 MiB streams, NUL counted, BPF-side reader
//               under an rqspinlock, at most 512 kernel error reports.
//   linux-6.18  6.18.y as it runs on these machines, stable backports
//               included (checked against 6.18.44).
//   mainline    page allocator replaced by kmalloc_nolock, -E2BIG for long
//               output, capacity leaks fixed, rqspinlock Nov 2025 fixes.
//   next        mainline plus the in-review pollable stream fds
//               (kernel-patches/bpf "stream-fd v1", docs/next.md): refcounted
//               streams, a published `readable` count, a wait queue woken
//               through irq_work, a `dead` flag, bpf_prog_stream_new_fd().
//
// The profiles are ordered: every version from mainline on keeps mainline's
// fixes (profile_has_mainline_fixes), so code that tests "mainline" asks
// that, and only the stream fd code asks has_stream_fds().
//
// The profile is process-global and read by kernel-shaped code at the points
// where the versions differ. Set it before any CPU runs; changing it while
// CPUs run is not supported.
#ifndef KMODEL_MODEL_PROFILE_H_
#define KMODEL_MODEL_PROFILE_H_

#include <atomic>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "model/backend.h"

KMODEL_NAMESPACE_BEGIN

enum class Profile { kSeed, kLinux618, kMainline, kNext };

inline constexpr Profile kAllProfiles[] = {Profile::kSeed, Profile::kLinux618,
                                           Profile::kMainline, Profile::kNext};

const char* profile_name(Profile profile);  // "seed", "linux-6.18", "mainline", "next"

// Accepts the names above; anything else is an InvalidArgument error that
// lists the valid names.
absl::StatusOr<Profile> parse_profile(std::string_view name);

namespace internal {
extern std::atomic<Profile> g_profile;
}  // namespace internal

// Read on hot paths (lock, allocation): an inline relaxed load.
inline Profile current_profile() { return internal::g_profile.load(std::memory_order_relaxed); }
// mainline and every later version (next): mainline's fixes are in.
inline constexpr bool profile_has_mainline_fixes(Profile p) { return p >= Profile::kMainline; }
inline bool has_mainline_fixes() { return profile_has_mainline_fixes(current_profile()); }
// next: the pollable stream fds (refcounted streams, readable, wait queue).
inline bool has_stream_fds() { return current_profile() == Profile::kNext; }
inline void set_profile(Profile profile) {
  internal::g_profile.store(profile, std::memory_order_relaxed);
}

// Sets a profile for the lifetime of the object, then restores the previous.
class ScopedProfile {
 public:
  explicit ScopedProfile(Profile profile) : saved_(current_profile()) { set_profile(profile); }
  ~ScopedProfile() { set_profile(saved_); }
  ScopedProfile(const ScopedProfile&) = delete;
  ScopedProfile& operator=(const ScopedProfile&) = delete;

 private:
  Profile saved_;
};

KMODEL_NAMESPACE_END

#endif  // KMODEL_MODEL_PROFILE_H_
