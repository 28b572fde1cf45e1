#!/usr/bin/env python3
"""Mutation testing of the mirrored kernel functions against the project's tests.

Applies one small, realistic bug at a time (a flipped comparison, a boundary
off by one, && for ||, a dropped statement, a wrong errno, a negated
condition) inside the functions listed in REGIONS, runs the tests that own
that code, and reports each mutant as

  killed      a test failed (or timed out)
  survived    every test passed: either the tests miss a bug, or the mutant
              is equivalent (docs/reliability.md says which)
  stillborn   the mutant does not compile (not counted in the rate)

The work happens in a copy of the tree (git archive HEAD of the current
branch plus uncommitted changes to tracked files), never in the working
tree, so editing and committing may go on meanwhile. Bazel builds the copy
with its own output base and the shared disk cache. Deterministic: the same
seed and sources give the same mutants.

  python3 tools/mutate.py --list                 # the mutants, no runs
  python3 tools/mutate.py --max=40 --seed=1      # run them (report at the end)
  python3 tools/mutate.py --only=3,17            # re-run chosen mutants by id
  options: --timeout=S per mutant (default 300), --json=FILE for the results,
           --keep (keep the copy)

Memory-ordering mutations (acquire -> relaxed) are not generated: the
simulator explores sequentially consistent interleavings, so only the TSan
runs can see them; they are out of this tool's scope.
"""
import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# file -> (functions to mutate, tests that own them)
REGIONS = [
    ("sync/llist.cc",
     ["llist_add_batch", "llist_del_first", "llist_del_first_this", "llist_reverse_order"],
     ["//tests/sync:llist_test", "//tests/sync:llist_sim_test"]),
    ("sync/rqspinlock.cc",
     ["check_deadlock_AA", "is_lock_released", "check_deadlock_ABBA", "check_timeout_618",
      "check_timeout_mainline", "res_check_timeout", "pending_wait", "trylock_fallback",
      "mcs_queue", "queue_slowpath", "resilient_queued_spin_lock_slowpath",
      "resilient_tas_spin_lock"],
     ["//tests/sync:rqspinlock_test", "//tests/sync:rqspinlock_sim_test",
      "//tests/sync:rqspinlock_mutants_test"]),
    ("alloc/stream_page.h",
     ["bpf_stream_page_check_room", "bpf_stream_page_push_elem", "bpf_stream_page_reserve_elem",
      "bpf_stream_page_get", "bpf_stream_page_put", "bpf_stream_page_reserve"],
     ["//tests/alloc:stream_alloc_test", "//tests/alloc:stream_alloc_sim_test"]),
    ("alloc/stream_page.cc",
     ["bpf_stream_page_replace", "bpf_stream_page_reserve_slow", "bpf_stream_page_free"],
     ["//tests/alloc:stream_alloc_test", "//tests/alloc:stream_alloc_sim_test"]),
    ("stream/bpf_stream.cc",
     ["bpf_stream_consume_capacity", "bpf_stream_push_str", "bpf_stream_backlog_pop",
      "bpf_stream_backlog_fill", "bpf_stream_consume_elem", "bpf_stream_read",
      "bpf_prog_stream_read"],
     ["//tests/stream:bpf_stream_test", "//tests/stream:bpf_stream_sim_test"]),
    ("stream/bprintf.cc",
     ["scan", "check_text", "conversion", "pointer_conv", "ip_conv", "string_conv", "char_conv",
      "int_conv", "pack_value", "done", "bpf_try_get_buffers", "bpf_bprintf_prepare",
      "bpf_stream_format"],
     ["//tests/stream:bprintf_test", "//tests/stream:bprintf_sim_test",
      "//tests/stream:bprintf_mutants_test", "//tests/fuzz:bprintf_fuzz_replay_test"]),
]

# (name, regex, replacement). Applied at each match inside a region.
OPERATORS = [
    ("lt->le", r"(?<![<>=!-])<(?![<=])(?=\s)", "<="),
    ("le->lt", r"<=", "<"),
    ("gt->ge", r"(?<![<>=-])>(?![>=])(?=\s)", ">="),
    ("ge->gt", r">=", ">"),
    ("eq->ne", r"==", "!="),
    ("ne->eq", r"!=", "=="),
    ("and->or", r"&&", "||"),
    ("or->and", r"\|\|", "&&"),
    ("plus1->minus1", r"\+ 1\b", "- 1"),
    ("minus1->plus1", r"- 1\b", "+ 1"),
    ("not-dropped", r"if \(!(?=[A-Za-z_(])", "if ("),
    ("true->false", r"\btrue\b", "false"),
    ("false->true", r"\bfalse\b", "true"),
    ("errno", r"-E(NOMEM|NOSPC|EINVAL|BUSY|DEADLK|TIMEDOUT|E2BIG|ENOENT)\b", None),
]
ERRNO_SWAP = {"NOMEM": "NOSPC", "NOSPC": "NOMEM", "INVAL": "NOSPC", "BUSY": "NOMEM",
              "DEADLK": "TIMEDOUT", "TIMEDOUT": "DEADLK", "2BIG": "NOSPC", "NOENT": "INVAL"}
STATEMENT = re.compile(r"^\s+(?!return\b|if\b|else\b|for\b|while\b|do\b|case\b|break\b|"
                       r"continue\b|goto\b|const\b|auto\b|u\d+\b|s\d+\b|int\b|bool\b|char\b|"
                       r"unsigned\b|long\b|std::|struct\b|\}|\{|//)"
                       r"[A-Za-z_][\w:>.\-\[\]]*\s*\(.*\);\s*$")


def function_ranges(lines, names):
    """Line index ranges [start, end) of the bodies of the named functions."""
    out = []
    for i, line in enumerate(lines):
        for name in names:
            m = re.search(r"\b" + re.escape(name) + r"\(", line)
            if not m or line.strip().startswith("//") or line.rstrip().endswith(";"):
                continue
            # A definition: the line (or a following one) opens a body.
            j = i
            while j < len(lines) and "{" not in lines[j] and ";" not in lines[j]:
                j += 1
            if j >= len(lines) or "{" not in lines[j]:
                continue
            depth = 0
            for k in range(j, len(lines)):
                depth += lines[k].count("{") - lines[k].count("}")
                if depth <= 0 and k >= j:
                    out.append((name, i, k + 1))
                    break
    return out


def code_part(line):
    """The line without a trailing // comment (strings are left alone)."""
    idx = line.find("//")
    return line if idx < 0 else line[:idx]


def enumerate_mutants():
    mutants = []
    for path, funcs, tests in REGIONS:
        with open(os.path.join(ROOT, path)) as f:
            lines = f.read().split("\n")
        seen = set()
        for name, start, end in function_ranges(lines, funcs):
            for ln in range(start, end):
                if ln in seen:
                    continue
                seen.add(ln)
                line = lines[ln]
                code = code_part(line)
                if not code.strip() or code.strip().startswith(("#", "//", "*")):
                    continue
                if any(s in code for s in ("MODEL_ASSERT", "WARN", "seeded_bug", "debug_", "stat_")):
                    continue
                if '"' in code:  # messages and format strings
                    continue
                for op, pattern, repl in OPERATORS:
                    for m in re.finditer(pattern, code):
                        if op == "errno":
                            new = "-E" + ERRNO_SWAP[m.group(1)]
                        else:
                            new = repl
                        mutated = line[:m.start()] + new + line[m.end():]
                        mutants.append({"file": path, "function": name, "line": ln + 1,
                                        "op": op, "before": line.strip(),
                                        "after": mutated.strip(), "tests": tests,
                                        "_new_line": mutated})
                if STATEMENT.match(code):
                    mutants.append({"file": path, "function": name, "line": ln + 1,
                                    "op": "drop-statement", "before": line.strip(),
                                    "after": "(removed)", "tests": tests,
                                    "_new_line": re.match(r"^\s*", line).group(0) + ";"})
    return mutants


def pick(mutants, max_count, seed):
    """A seeded sample spread over the files in proportion to their mutants,
    at least 3 per file."""
    rng = random.Random(seed)
    by_file = {}
    for m in mutants:
        by_file.setdefault(m["file"], []).append(m)
    total = len(mutants)
    chosen = []
    for path, ms in by_file.items():
        k = max(3, round(max_count * len(ms) / total))
        chosen += rng.sample(ms, min(k, len(ms)))
    rng.shuffle(chosen)
    chosen = chosen[:max_count]
    chosen.sort(key=lambda m: (m["file"], m["line"], m["op"]))
    return chosen


def make_copy():
    tmp = tempfile.mkdtemp(prefix="kmodel-mutate-")
    tree = os.path.join(tmp, "src")
    os.makedirs(tree)
    archive = subprocess.run(["git", "-C", ROOT, "ls-files", "-z"], capture_output=True,
                             check=True).stdout.split(b"\0")
    for rel in archive:
        if not rel:
            continue
        rel = rel.decode()
        src = os.path.join(ROOT, rel)
        if not os.path.isfile(src):
            continue
        dst = os.path.join(tree, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(src, dst)
    return tmp, tree


def run_tests(tree, tests, timeout):
    cmd = ["bazel", "test", "--nocache_test_results", "--test_output=errors",
           "--test_timeout=%d" % max(30, timeout - 60),
           "--noshow_progress", "--keep_going"] + tests
    start = time.time()
    try:
        p = subprocess.run(cmd, cwd=tree, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "killed", "timeout", time.time() - start
    secs = time.time() - start
    if p.returncode == 0:
        return "survived", "", secs
    out = p.stdout + p.stderr
    if p.returncode == 1 and ("error:" in out or "FAILED TO BUILD" in out) and \
            not re.search(r"\s(FAILED|TIMEOUT) in ", out):
        return "stillborn", "does not compile", secs
    failed = re.findall(r"^(//\S+)\s+(?:FAILED|TIMEOUT)", out, re.M)
    return "killed", " ".join(failed) or "exit %d" % p.returncode, secs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--max", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=int, default=300)
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--only", default="")
    ap.add_argument("--json", default="")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    everything = enumerate_mutants()
    chosen = pick(everything, args.max, args.seed)
    for i, m in enumerate(chosen):
        m["id"] = i
    if args.only:
        ids = {int(x) for x in args.only.split(",")}
        chosen = [m for m in chosen if m["id"] in ids]
    print("mutate: %d candidate mutants, %d chosen (seed %d)" % (len(everything), len(chosen),
                                                                 args.seed), flush=True)
    if args.list:
        for m in chosen:
            print("#%-3d %s:%d %s [%s]\n      - %s\n      + %s" % (
                m["id"], m["file"], m["line"], m["function"], m["op"], m["before"], m["after"]))
        return 0

    tmp, tree = make_copy()
    results = []
    try:
        # Baseline: the unmutated tree must pass, or every verdict is void.
        all_tests = sorted({t for m in chosen for t in m["tests"]})
        verdict, why, secs = run_tests(tree, all_tests, args.timeout * 3)
        print("mutate: baseline %s (%.0f s)" % ("passes" if verdict == "survived" else
                                                   "FAILS: " + why, secs), flush=True)
        if verdict != "survived":
            return 2
        for m in chosen:
            path = os.path.join(tree, m["file"])
            with open(path) as f:
                original = f.read()
            lines = original.split("\n")
            lines[m["line"] - 1] = m["_new_line"]
            with open(path, "w") as f:
                f.write("\n".join(lines))
            try:
                verdict, why, secs = run_tests(tree, m["tests"], args.timeout)
            finally:
                with open(path, "w") as f:
                    f.write(original)
            m.update(verdict=verdict, why=why, seconds=round(secs))
            results.append(m)
            print("#%-3d %-9s %s:%d %s [%s] %s (%.0f s)" % (
                m["id"], verdict, m["file"], m["line"], m["function"], m["op"], why, secs),
                flush=True)
    finally:
        subprocess.run(["bazel", "shutdown"], cwd=tree, capture_output=True)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    killed = sum(m["verdict"] == "killed" for m in results)
    survived = [m for m in results if m["verdict"] == "survived"]
    stillborn = sum(m["verdict"] == "stillborn" for m in results)
    live = killed + len(survived)
    print("\nmutate: %d killed, %d survived, %d stillborn; kill rate %d/%d = %.0f%%" % (
        killed, len(survived), stillborn, killed, live, 100.0 * killed / live if live else 0))
    for m in survived:
        print("SURVIVED #%d %s:%d %s [%s]\n      - %s\n      + %s" % (
            m["id"], m["file"], m["line"], m["function"], m["op"], m["before"], m["after"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump([{k: v for k, v in m.items() if not k.startswith("_")} for m in results],
                      f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
