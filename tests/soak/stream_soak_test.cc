// The soak's short variant (tests/soak/stream_soak.h): a fixed number of
// iterations per writer on 4 CPUs, every profile, so that TSan and
// ASan+UBSan run the same checks (tag native_concurrency).
#include <catch2/catch.hpp>

#include "tests/soak/stream_soak.h"

using namespace kmodel;

TEST_CASE("native soak: nothing lost or duplicated, memory back to its start") {
  for (Profile p : {Profile::kSeed, Profile::kLinux618, Profile::kMainline}) {
    soak::SoakOptions opt;
    opt.profile = p;
    opt.cpus = 4;
    opt.iterations = 20000;
    opt.min_nmis = 300;
    opt.fault_probability = 0.02;
    opt.seed = 7;
    const soak::SoakResult r = soak::run_stream_soak(opt);
    INFO(profile_name(p) << "\n" << r.summary());
    CHECK(r.ok);
    CHECK(r.nmi_written > 0);
    CHECK(r.nmi_reports_committed > 0);
    CHECK(r.injected_failures > 0);
    CHECK(r.rejected.count(ENOMEM) == 1);
  }
}
