"""What a workspace needs to use the BPF streams model as a repository.

In the consumer's WORKSPACE (the model checked out at MODEL_PATH):

    local_repository(name = "bpf_streams_model", path = MODEL_PATH)
    load("@bpf_streams_model//:deps.bzl", "kmodel_dependencies")
    kmodel_dependencies(MODEL_PATH)

and in its .bazelrc: `import MODEL_PATH/kmodel.bazelrc`. docs/using.md has
the whole walk-through.
"""

def kmodel_dependencies(model_path):
    """Declares the offline shims Debian's Bazel 4.2.3 asks for.

    Bazel's own @bazel_tools loads @rules_cc and @rules_java and `bazel test`
    wants @remote_coverage_tools; with no network they come from the model's
    third_party/ shims. A repository the workspace already declared is kept.

    Args:
      model_path: the model's checkout, as given to local_repository (a path
        relative to the consumer's workspace, or absolute).
    """
    for name in ["rules_cc", "rules_java", "remote_coverage_tools"]:
        if name not in native.existing_rules():
            native.local_repository(name = name, path = model_path + "/third_party/" + name)
