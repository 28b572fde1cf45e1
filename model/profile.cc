#include "model/profile.h"

#include <atomic>
#include <string>

#include "absl/strings/str_cat.h"

KMODEL_NAMESPACE_BEGIN

namespace internal {
std::atomic<Profile> g_profile{Profile::kLinux618};
}  // namespace internal

const char* profile_name(Profile profile) {
  switch (profile) {
    case Profile::kSeed: return "seed";
    case Profile::kLinux618: return "linux-6.18";
    case Profile::kMainline: return "mainline";
    case Profile::kNext: return "next";
  }
  return "?";
}

absl::StatusOr<Profile> parse_profile(std::string_view name) {
  for (Profile p : kAllProfiles)
    if (name == profile_name(p)) return p;
  return absl::InvalidArgumentError(absl::StrCat(
      "profile \"", std::string(name), "\": unknown; expected seed, linux-6.18, mainline or next"));
}


KMODEL_NAMESPACE_END
