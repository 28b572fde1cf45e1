"""Build macros shared by the whole tree.

One source, two machines: `km_library` compiles the same sources twice, once
against the native backend (`name`) and once against the simulator (`name_sim`,
built with KMODEL_SIM=1 so its symbols live in the inline namespace
kmodel::sim instead of kmodel::native). Both can be linked into one binary.

`kdeps` are other km_library targets (written with an explicit target name,
e.g. "//sync:llist"); the simulator variant depends on their `_sim` twins.
"""

# Warnings are on and fatal for project code; system headers stay quiet.
KM_COPTS = [
    "-Wall",
    "-Wextra",
    "-Werror",
    "-Wno-missing-field-initializers",
]

def _sim_label(label):
    return label + "_sim"

def km_library(name, srcs = [], hdrs = [], deps = [], kdeps = [], visibility = None, **kwargs):
    native.cc_library(
        name = name,
        srcs = srcs,
        hdrs = hdrs,
        copts = KM_COPTS,
        deps = deps + kdeps + ["//model:platform"],
        linkstatic = True,
        visibility = visibility,
        **kwargs
    )
    native.cc_library(
        name = name + "_sim",
        srcs = srcs,
        hdrs = hdrs,
        copts = KM_COPTS,
        deps = deps + [_sim_label(d) for d in kdeps] + ["//model:platform_sim"],
        linkstatic = True,
        visibility = visibility,
        **kwargs
    )

def km_test(name, srcs, deps = [], size = "small", **kwargs):
    """A Catch2 test of project code: fatal warnings, static linking."""
    native.cc_test(
        name = name,
        srcs = srcs,
        copts = KM_COPTS,
        deps = deps + ["//third_party:catch2_main"],
        linkstatic = True,
        size = size,
        **kwargs
    )

def km_binary(name, srcs, deps = [], **kwargs):
    native.cc_binary(
        name = name,
        srcs = srcs,
        copts = KM_COPTS,
        deps = deps,
        linkstatic = True,
        **kwargs
    )

def km_scenarios(name, deps = []):
    """A catalogue scenario library: <name>_scenarios.{h,cc}, simulator only.

    Always linked whole: its entries register themselves at static init.
    """
    native.cc_library(
        name = name,
        srcs = [name + "_scenarios.cc"],
        hdrs = [name + "_scenarios.h"],
        copts = KM_COPTS,
        linkstatic = True,
        alwayslink = True,
        deps = deps + [":catalogue", "//third_party:absl"],
    )
