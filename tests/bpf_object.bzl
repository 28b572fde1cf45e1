"""bpf_object: a BPF C source compiled to an ELF object for tests.

clang -target bpf -O2 -g (BTF and .BTF.ext line info included), with Debian's
uapi headers plus the multiarch asm/ ones. The object is meant as `data` of a
test, which finds it in its runfiles.
"""

_BPF_CC = "clang -target bpf -O2 -g -I/usr/include/$$(gcc -print-multiarch)"

def bpf_object(name, src, out, defines = []):
    native.genrule(
        name = name,
        srcs = [src],
        outs = [out],
        cmd = " ".join([_BPF_CC] + ["-D" + d for d in defines] + ["-c $< -o $@"]),
    )
