#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into fuzz/corpus/<target>/.

Run from the repository root: `python3 fuzz/make_seeds.py [--reports A.json B.json]`.
The seeds are committed; this script documents where they came from and
regenerates them. Input layouts are described at the top of each
fuzz/<target>_fuzz.cc.

  bprintf      the format strings of tests/stream/bprintf_test.cc (accepted
               and rejected ones), with matching arguments and pointer masks
  linfo        real BPF objects: the test programs compiled with
               clang -target bpf -O2 -g (tests/linfo, tests/kernel), and
               truncations of one of them
  schedule     valid and invalid replay strings (tests/model/schedule_test.cc)
  options      one value per parser, valid and invalid
  stream_state one step sequence per operation and profile, and mixes: long
               outputs, staged reports, exhaustion, faults, teardown (the
               layout is in fuzz/stream_state_fuzz.cc)
  report_json  streamcheck --json reports of two shards (pass --reports) and
               their concatenation (the merge input), plus small JSON texts
"""
import hashlib
import os
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")


def put(target, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- bprintf -------------------------------------------------------------
# (format, args, pointer mask): a pointer argument is an offset into the
# arena (the whole input), so it points at text the input carries.
def bprintf_seed(control, fmt, args=(), mask=0, out_size=205, num_args=None, tail=b""):
    if num_args is None:
        num_args = len(args)
    args = list(args) + [0] * (12 - len(args))
    header = bytes([control, num_args, out_size // 5, mask & 0xFF, mask >> 8])
    body = b"".join(struct.pack("<Q", a & 0xFFFFFFFFFFFFFFFF) for a in args)
    return header + body + fmt + tail


BPRINTF_FORMATS = [
    (b"simple case\0", []),
    (b"100%% %d\0", [5]),
    (b"%d %i %u\0", [-8, 9, 96]),
    (b"%x %X %08x\0", [255, 255, 0xBEEF]),
    (b"[%5d][%-5d][%05d][%+d][% d]\0", [42, 42, -42, 7, 7]),
    (b"%ld %lu %lld %llx\0", [-1, -1, -(1 << 63), 0x123456789ABCDEF0]),
    (b"%c%c [%3c][%-3c]\0", [ord("o"), ord("k"), ord("x"), ord("y")]),
    (b"%px %px\0", [0xFFFF888012345678, 0x1234]),
    (b"%p %pK\0", [0, 0xFFFF00000ADD4E55]),
    (b"%ps %pS %pB\0", [0x1000, 0x2010, 0x1010]),
    (b"%d %d %d %d %d %d %d %d %d %d %d %d\0", list(range(12))),
    (b"tab\there\n\0", []),
    # rejected ones
    (b"%5.2d\0", [1]),
    (b"%n\0", [1]),
    (b"%d %d\0", [1]),
    (b"%hd\0", [1]),
    (b"%*d\0", [1, 2]),
    (b"no terminator", []),
    (b"%pZ\0", [1]),
    (b"%sX\0", [0]),
    (b"\x01ctl\0", []),
    (b"caf\xc3\xa9 %d\0", [1]),
    (b"%\xc3\0", [1]),
    (b"%p%d\0", [1]),
    (b"%p%\0", [1]),
]


def bprintf_seeds():
    for i, (fmt, args) in enumerate(BPRINTF_FORMATS):
        profile = i % 3
        control = profile | 4 | 32 | 64 | 128
        yield bprintf_seed(control, fmt, args)
    # Strings and IP addresses read from the arena: the pointed-at bytes
    # follow the format (offsets are computed against the whole input).
    fmt = b"[%s][%10s][%pks][%pus]\0"
    text = b"hello\0"
    base = 5 + 96 + len(fmt)
    yield bprintf_seed(0xE5, fmt, [base, base, base, base], mask=0xF, tail=text)
    fmt = b"%pi4 %pI4 %pI6 %pi6 %pI6c\0"
    ip = bytes([127, 0, 0, 1]) + bytes.fromhex("20010db8000000000000000000000001")
    base = 5 + 96 + len(fmt)
    yield bprintf_seed(0xE5, fmt, [base, base, base + 4, base + 4, base + 4], mask=0x1F, tail=ip)
    # a string too long for bin_args (-ENOSPC), an output cut at the buffer
    fmt = b"%s%s%s\0"
    base = 5 + 96 + len(fmt)
    yield bprintf_seed(0xE5, fmt, [base] * 3, mask=7, tail=b"x" * 300 + b"\0")
    yield bprintf_seed(0xE5, b"%0999d%0999d\0", [1, 2], out_size=1275)
    yield bprintf_seed(0xC5 | 0x18, b"%pK %p\0", [0xFFFF0000, 0], out_size=0)
    yield bprintf_seed(0xF5, b"%d\0", [1], num_args=13)


# ---- linfo ---------------------------------------------------------------
def linfo_seeds():
    cflags = ["clang", "-target", "bpf", "-O2", "-g"]
    multiarch = subprocess.run(["gcc", "-print-multiarch"], capture_output=True,
                               text=True).stdout.strip()
    cflags.append("-I/usr/include/" + multiarch)
    objs = []
    with tempfile.TemporaryDirectory() as tmp:
        for src, defines in [("tests/linfo/linfo_test.bpf.c", []),
                             ("tests/kernel/rqspinlock_kernel.bpf.c", []),
                             ("tests/kernel/stream_probe.bpf.c",
                              ["-DSTREAM_VPRINTK=bpf_stream_vprintk"])]:
            out = os.path.join(tmp, os.path.basename(src) + ".o")
            subprocess.run(cflags + defines + ["-c", os.path.join(ROOT, src), "-o", out],
                           check=True)
            with open(out, "rb") as f:
                objs.append(f.read())
    for o in objs:
        yield o
    small = min(objs, key=len)
    for cut in (16, 64, len(small) // 2, len(small) - 1):
        yield small[:cut]
    yield b""
    yield b"\x7fELF"


# ---- schedule, options ---------------------------------------------------
SCHEDULES = ["v1:", "v1:0*3.!2.1.?1.12", "v1:0.1.0.1.!1.0.?1.?2", "v1:0..1", "v1:0*0",
             "v1:x", "v1:!0", "v1:1*99999999", "v1:-1", "v2:0", "v1:3*1000.!3.2*7"]

OPTIONS = [(0, "0/4"), (0, "3/4"), (0, "4/4"), (0, "0/0"), (0, "1/"), (0, "+1/2"),
           (0, "18446744073709551615/18446744073709551615"), (1, "1"), (1, "8"), (1, "0"),
           (1, "99"), (2, "100000"), (2, "18446744073709551616"), (2, "-1"), (3, "1.5"),
           (3, "0"), (3, "inf"), (3, "nan"), (3, "-0"), (3, "1e308"), (3, "1e-320")]


def report_seeds(paths):
    docs = []
    for p in paths:
        with open(p, "rb") as f:
            docs.append(f.read())
    for d in docs:
        yield d
    if len(docs) >= 2:
        yield docs[0] + b"\0" + docs[1]
        yield docs[0] + b"\0" + docs[0]
    yield b'{"a": [1, 2.5e3, true, null, "x\\u00e9"]}'
    yield b"[" * 70 + b"]" * 70
    yield b'{"format": "streamcheck-report", "version": 1}'


# ---- stream_state --------------------------------------------------------
def u16(n):
    return struct.pack("<H", n)


def ss_vprintk(flags, lit, pat=0, arg=0):
    return bytes([0, flags]) + u16(lit) + bytes([pat]) + struct.pack("<Q", arg)


def ss_push(sid, n, fill=0x41):
    return bytes([1, sid]) + u16(n) + bytes([fill]) * n


def ss_stage(flags, lines):
    out = bytes([2, flags])
    for n, pat in lines:
        out += u16(n) + bytes([pat])
    return out


def ss_read(flags, n):
    return bytes([3, flags]) + u16(n)


def ss_fill(sid, n):
    return bytes([4, sid]) + u16(n - 1)


def ss_faults(k):
    return bytes([5, k])


RELOAD = bytes([6])


def ss_drain(sid, chunk):
    return bytes([7, sid, chunk])


def stream_state_seeds():
    # Stage flags: bit 0 stream, bits 1-3 lines - 1 (% 5), bit 7 bad id.
    mix = (ss_vprintk(0, 10, 3) + ss_vprintk(2, 5, 1, 0xffffffff) + ss_vprintk(5, 3, 2, 0xabc)
           + ss_push(1, 7) + ss_stage(2 << 1, [(40, 1), (0, 2), (1100, 3)])
           + ss_read(0, 4) + ss_read(0, 100) + ss_read(1, 2000) + ss_drain(0, 1))
    long_out = ss_vprintk(0, 1023) + ss_vprintk(0, 1024) + ss_vprintk(0, 1025) + ss_vprintk(1, 1400)
    exhaust = ss_fill(0, 1000) + ss_read(0, 1500) + ss_fill(0, 1) + ss_drain(0, 255)
    faults = (ss_faults(2) + ss_push(0, 900) * 6 + ss_stage(4 << 1, [(700, 1)] * 5)
              + ss_faults(0) + ss_drain(0, 30))
    teardown = ss_push(0, 50) + ss_stage(1 << 1, [(20, 5), (30, 6)]) + RELOAD + ss_push(1, 3) + ss_read(1, 3) + RELOAD
    bad = ss_vprintk(0x10, 4) + ss_stage(0x80 | (2 << 1), [(5, 1)] * 3) + ss_read(0x30, 10) + ss_read(0x20, 10)
    empty = ss_vprintk(0, 0) + ss_push(0, 0) + ss_stage(0, [(0, 0)]) + ss_read(0, 0) + ss_read(0, 1)
    for profile in range(3):
        for subs in range(3):
            put("stream_state", bytes([profile, subs]) + mix)
        for seq in (long_out, exhaust, faults, teardown, bad, empty,
                    ss_fill(1, 1024) + ss_stage(3, [(100, 1), (200, 2)]) + ss_drain(1, 200),
                    faults + exhaust + teardown + mix):
            put("stream_state", bytes([profile, 1]) + seq)


def main():
    if "--only" in sys.argv:
        globals()[sys.argv[sys.argv.index("--only") + 1] + "_seeds"]()
        return
    reports = []
    if "--reports" in sys.argv:
        reports = sys.argv[sys.argv.index("--reports") + 1:]
    for s in bprintf_seeds():
        put("bprintf", s)
    for s in linfo_seeds():
        put("linfo", s)
    for s in SCHEDULES:
        put("schedule", s.encode())
    for parser, text in OPTIONS:
        put("options", bytes([parser]) + text.encode())
    for s in report_seeds(reports):
        put("report_json", s)
    stream_state_seeds()


if __name__ == "__main__":
    main()
