#!/usr/bin/env bash
# The streamcheck binary end to end: commands, exit codes (0 met, 1 unmet,
# 2 usage), error messages naming the flag or path, the JSON outputs and
# merge of shard reports.
set -uo pipefail

bin=$1
tmp=${TEST_TMPDIR:-$(mktemp -d)}
failures=0

fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# expect_exit CODE DESCRIPTION -- ARGS...: runs streamcheck, checks the code.
expect_exit() {
  local want=$1 what=$2
  shift 3
  "$bin" "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  [ "$got" -eq "$want" ] || fail "$what: exit $got, want $want (streamcheck $*): $(cat "$tmp/err")"
}

expect_stdout() {
  grep -qF -- "$1" "$tmp/out" || fail "stdout lacks \"$1\": $(cat "$tmp/out")"
}

expect_stderr() {
  grep -qF -- "$1" "$tmp/err" || fail "stderr lacks \"$1\": $(cat "$tmp/err")"
}

expect_exit 0 "list" -- list
grep -q '^llist/' "$tmp/out" || fail "list shows no llist scenario"

expect_exit 0 "help" -- --help
grep -q 'streamcheck merge' "$tmp/out" || fail "--help does not document merge"
expect_exit 0 "version" -- --version
expect_stdout "streamcheck 0."
expect_stdout "profiles: seed linux-6.18 mainline next"
expect_stdout "build: optimized"
grep -q "Debug build" "$tmp/out" && fail "--version still prints Abseil's 'Debug build' line"

# The catalogue's pass-expecting llist scenarios hold in 50 runs.
expect_exit 0 "run pass scenarios" -- run 'llist/[dp]*' --iterations=50
# PCT finds the seeded llist bug within 50 runs; every expectation is met.
expect_exit 0 "run llist" -- run 'llist/*' --iterations=50 --strategy=pct --json="$tmp/all.json"
grep -q '"verdict": "unmet"' "$tmp/all.json" && fail "run llist: an unmet verdict in the report"
# One run cannot find that bug: an unmet expectation is exit 1.
expect_exit 1 "unmet expectation" -- run 'llist/bug_*' --iterations=1 --strategy=random
grep -q '^FAIL llist/bug_' "$tmp/out" || fail "unmet expectation: no FAIL line"

# Bad flag values: exit 2, the flag named.
expect_exit 2 "bad --iterations" -- run 'llist/*' --iterations=lots
expect_stderr "--iterations=lots"
expect_exit 2 "bad --shard" -- run 'llist/*' --shard=4/4
expect_stderr "--shard=4/4"
expect_exit 2 "bad --shard" -- run 'llist/*' --shard=x
expect_stderr "--shard=x"
expect_exit 2 "bad --cpus" -- run 'llist/*' --cpus=0
expect_stderr "--cpus=0"
expect_exit 2 "bad --strategy" -- run 'llist/*' --strategy=dfs
expect_stderr "--strategy=dfs"
expect_exit 2 "bad --profile" -- run --profile=linux-2.4
expect_stderr "--profile=linux-2.4"
expect_exit 2 "unknown flag" -- run --iteration=5
expect_stderr "--iteration"
expect_exit 2 "unwritable --json" -- run 'llist/*' --iterations=5 --json="$tmp/no/such/dir/r.json"
expect_stderr "$tmp/no/such/dir/r.json"
expect_exit 2 "unwritable --trace-out" -- run 'llist/*' --iterations=5 --trace-out=/proc/none.json
expect_stderr "/proc/none.json"
expect_exit 2 "no match" -- run 'nothing/*'
expect_exit 2 "unknown command" -- frobnicate

# Replay: a malformed schedule or unknown scenario is a usage error.
scenario=$("$bin" list | awk '/^llist\// { print $1; exit }')
expect_exit 2 "replay bad schedule" -- replay "$scenario" 'v1:zz'
expect_exit 2 "replay a schedule of an unknown version" -- replay "$scenario" 'v3:0'
expect_stderr 'schedule version "v3" is not known: this build reads v1'
# A v1 schedule (recorded before declared deadlines) is still read, never
# refused for its version (tests/sync:rqspinlock_sim_test replays one exactly).
"$bin" replay "$scenario" 'v1:0' >"$tmp/out" 2>"$tmp/err"
grep -q 'version' "$tmp/err" && fail "a v1 schedule was refused for its version: $(cat "$tmp/err")"
# Usage errors exit 2 and name the input (issue 13): never 1, never ignored.
for flag in iterations seed profile strategy time-budget cpus shard json failures-dir; do
  expect_exit 2 "--$flag without its value" -- run 'llist/d*' "--$flag"
  expect_stderr "--${flag//-/_} needs a value"
done
expect_exit 2 "empty --profile" -- run 'llist/d*' --profile=
expect_stderr "--profile= is empty"
expect_exit 2 "--iterations=0" -- run 'llist/d*' --iterations=0
expect_stderr "--iterations=0"
expect_exit 2 "a glob that matches nothing among several" -- run 'llist/d*' 'nosuch/*'
expect_stderr "'nosuch/*' matches no scenario"
expect_exit 2 "--flagfile of a missing file" -- --flagfile="$tmp/none.flags" run 'llist/d*'
expect_stderr "cannot read the file"
expect_exit 2 "a flag list ignores" -- list --iterations=5
expect_stderr "list does not use --iterations"
expect_exit 2 "a flag replay ignores" -- replay "$scenario" 'v1:0' --seed=3
expect_stderr "replay does not use --seed"
expect_exit 2 "a flag run ignores" -- run 'llist/d*' --out="$tmp/x.json"
expect_stderr "run does not use --out"
expect_exit 2 "replay under a profile the scenario is not checked under" -- \
  replay stream_next/nonblock_eagain 'v1:0'
expect_stderr "is not checked under linux-6.18: give --profile= one of next"
# list filters by glob and profile, and writes JSON.
expect_exit 0 "list a glob" -- list 'llist/d*'
expect_stdout "llist/del_first_single_consumer"
grep -q '^rqspinlock/' "$tmp/out" && fail "list 'llist/d*' shows rqspinlock scenarios"
expect_exit 0 "list --profile" -- list --profile=next
grep -q '^llist/' "$tmp/out" && fail "list --profile=next shows llist scenarios (6.18 only)"
expect_stdout "stream_next/"
expect_exit 0 "list --json" -- list 'llist/*' --json=-
expect_stdout '"name": "llist/del_first_single_consumer"'
expect_stdout '"expect": {"linux-6.18": "pass"}'

expect_exit 2 "replay unknown scenario" -- replay no/such 'v1:0'
expect_exit 2 "replay arity" -- replay "$scenario"

# Shards write reports that merge into the sum of their runs.
expect_exit 0 "shard 0/2" -- run 'llist/[dp]*' --iterations=30 --shard=0/2 --json="$tmp/s0.json"
expect_exit 0 "shard 1/2" -- run 'llist/[dp]*' --iterations=30 --shard=1/2 --json="$tmp/s1.json" \
  --trace-out="$tmp/trace.json"
expect_exit 0 "merge" -- merge "$tmp/s0.json" "$tmp/s1.json" --out="$tmp/merged.json"
grep -q '"shard": "0/2,1/2"' "$tmp/merged.json" || fail "merged report lacks its shards"
runs=$(grep -o '"summary": {[^}]*}' "$tmp/merged.json" | grep -o '"runs": [0-9]*' | grep -o '[0-9]*$')
checks=$(grep -o '"summary": {[^}]*}' "$tmp/merged.json" | grep -o '"checks": [0-9]*' | grep -o '[0-9]*$')
[ "$runs" = $((checks * 30)) ] || fail "merged runs $runs, want $((checks * 30)) ($checks checks x 30)"
grep -q '"traceEvents"' "$tmp/trace.json" || fail "--trace-out wrote no trace events"
grep -q '"name":"CPU 0"' "$tmp/trace.json" || fail "--trace-out has no CPU 0 track"

echo 'not json' >"$tmp/bad.json"
expect_exit 2 "merge malformed" -- merge "$tmp/s0.json" "$tmp/bad.json" --out="$tmp/m2.json"
expect_stderr "$tmp/bad.json"
expect_exit 2 "merge missing" -- merge "$tmp/missing.json" --out="$tmp/m2.json"
expect_stderr "$tmp/missing.json"
expect_exit 2 "merge same shard twice" -- merge "$tmp/s0.json" "$tmp/s0.json" "$tmp/s1.json"
# An incomplete set of shards is refused (it once merged to "met").
expect_exit 2 "merge incomplete shards" -- merge "$tmp/s0.json"
expect_stderr "missing 1/2"
# Two whole reports of the same checks would count every run twice.
expect_exit 2 "merge overlapping reports" -- merge "$tmp/merged.json" "$tmp/s0.json" "$tmp/s1.json"
expect_stderr "covered twice"
# The output is named by --out and is never one of the inputs.
cp "$tmp/s1.json" "$tmp/s1.copy"
expect_exit 2 "merge onto an input" -- merge "$tmp/s0.json" "$tmp/s1.json" --out="$tmp/s1.json"
cmp -s "$tmp/s1.json" "$tmp/s1.copy" || fail "merge overwrote an input"
# Without --out, merge judges and writes nothing.
expect_exit 0 "merge without --out" -- merge "$tmp/s0.json" "$tmp/s1.json"

# A setup error is never the expected violation (both once exited 0).
expect_exit 1 "bad setup is not a finding" -- run 'llist/bug_*' --cpus=1
expect_stdout "the machine has CPUs 0..0"
expect_stdout 'expected: violation assertion'
# Another failure than the named one does not meet the expectation.
expect_exit 1 "another failure is not the finding" -- run 'rqspinlock/seeded_bug/*' --cpus=1 \
  --profile=mainline
expect_stdout 'got:      assertion: at end:'
# Its timeline keeps the columns by default; --verbose adds each step's
# values and caller.
grep -q "values @caller" "$tmp/out" && fail "the default failure timeline shows values: $(cat "$tmp/out")"
expect_exit 1 "another failure, verbose" -- run 'rqspinlock/seeded_bug/*' --cpus=1 \
  --profile=mainline --verbose
expect_stdout "values @caller"

# Replaying a failure found by run reproduces it (exit 1) and writes its trace.
"$bin" run 'llist/bug_*' --verbose >"$tmp/bug.out" 2>&1
cmd=$(grep -o "streamcheck replay [^ ]* '[^']*' --profile=[^ ]*" "$tmp/bug.out" | head -1)
if [ -n "$cmd" ]; then
  read -r _ _ name sched profile <<<"$cmd"
  sched=${sched//\'/}
  expect_exit 1 "replay of a found failure" -- replay "$name" "$sched" "$profile" \
    --trace-out="$tmp/replay.json"
  grep -q '"outcome":"failed"' "$tmp/replay.json" || fail "replay trace lacks the failure"
  # The timeline is printed once: one header row ("step  CPU0 ...").
  headers=$(grep -c '^ *step  CPU0' "$tmp/out")
  [ "$headers" -eq 1 ] || fail "replay printed the timeline $headers times, want once: $(cat "$tmp/out")"
else
  fail "run 'llist/bug_*' printed no replay command: $(cat "$tmp/bug.out")"
fi

# The trace of a stream failure shows what each step read and wrote, and the
# line of the model that did it (stream/, not model/atomic.h): as args of the
# --trace-out slices, and in replay's timeline.
expect_exit 0 "trace with values" -- run 'stream/kernel_bug_capacity_leak_long_output' \
  --profile=linux-6.18 --trace-out="$tmp/values.json" --failures-dir=
grep -qE '"value":-?[0-9]+,"at":"stream/bpf_stream\.cc:[0-9]+"' "$tmp/values.json" ||
  fail "--trace-out has no load or store with a value in stream/bpf_stream.cc: $(cat "$tmp/values.json")"
grep -qE '"op":"cmpxchg","order":"[a-z_]+","expected":-?[0-9]+,"found":-?[0-9]+,"new":-?[0-9]+,"ok":(true|false),"at":"[a-z_]+/[a-z_.]+:[0-9]+"' \
  "$tmp/values.json" || fail "--trace-out has no cmpxchg with its values and caller"
grep -q '"at":"model/atomic.h' "$tmp/values.json" && fail "--trace-out names model/atomic.h as a caller"
sched=$(grep -oE '"schedule":"v[0-9]+:[^"]*"' "$tmp/values.json" | head -1 | cut -d'"' -f4)
expect_exit 1 "replay with values" -- replay stream/kernel_bug_capacity_leak_long_output "$sched" \
  --profile=linux-6.18
expect_stdout "values @caller"
grep -qE '(= |:= |fetch_[a-z]+ |cmpxchg )-?[0-9].*  @bpf_stream\.cc:[0-9]+$' "$tmp/out" ||
  fail "replay's timeline shows no value and bpf_stream.cc line: $(cat "$tmp/out")"

# The default output is one line per check: an expected finding prints no
# details (its schedule goes to a file, the summary says where); --quiet
# prints only what did not meet its expectation, and the summary.
expect_exit 0 "default output" -- run 'llist/bug_*' --failures-dir="$tmp/quietfails"
grep -q "replay:" "$tmp/out" && fail "the default output prints replay commands of expected findings"
[ "$(grep -c '^ok ' "$tmp/out")" -eq 4 ] || fail "want 4 verdict lines: $(cat "$tmp/out")"
grep -q "seed 1, " "$tmp/out" || fail "a verdict line lacks its seed: $(cat "$tmp/out")"
expect_stdout "schedules of the 4 expected findings are in $tmp/quietfails"
ls "$tmp"/quietfails/failure-llist_bug_*.txt >/dev/null 2>&1 || fail "no failure files written"
expect_exit 0 "--quiet" -- run 'llist/*' --quiet
grep -q '^ok ' "$tmp/out" && fail "--quiet printed a met check: $(cat "$tmp/out")"
expect_stdout "expectations met, 0 not met"
expect_exit 2 "--verbose --quiet" -- run 'llist/*' --verbose --quiet

# Ctrl-C: the check under way ends, then a partial summary, the --json of
# what ran, exit 130. The signal is sent once the first verdict is printed.
"$bin" run --json="$tmp/int.json" >"$tmp/int.out" 2>&1 &
pid=$!
for _ in $(seq 1 600); do grep -q '^ok ' "$tmp/int.out" && break; sleep 0.05; done
grep -q '^ok ' "$tmp/int.out" || fail "run printed no verdict to interrupt after"
kill -INT "$pid"
wait "$pid"
rc=$?
[ "$rc" -eq 130 ] || fail "interrupted run: exit $rc, want 130: $(tail -3 "$tmp/int.out")"
grep -q "interrupted (Ctrl-C)" "$tmp/int.out" || fail "interrupted run: no partial summary"
grep -q "expectations met" "$tmp/int.out" || fail "interrupted run: no summary line"
n=$(grep -c '"name":' "$tmp/int.json" 2>/dev/null || echo 0)
all=$("$bin" list --json=- | grep -c '"name":')
[ "$n" -ge 1 ] || fail "interrupted run: --json has no entry"
[ "$n" -lt "$all" ] || fail "interrupted run: --json has all $all scenarios: it was not interrupted"

# Every failing schedule is written to a file; replay takes @FILE, '-' and
# a --json report as well as the string.
expect_exit 0 "failure files" -- run 'rqspinlock/hardirq_same_lock_irqs_on' --profile=seed --verbose \
  --failures-dir="$tmp/fails" --json="$tmp/hang.json"
file=$(ls "$tmp"/fails/failure-rqspinlock_hardirq_same_lock_irqs_on-seed-*.txt 2>/dev/null | head -1)
[ -n "$file" ] || fail "run wrote no failure file: $(cat "$tmp/out")"
expect_stdout "no completion: deadlock after"
expect_stdout "wait-for:"
expect_exit 1 "replay @FILE" -- replay rqspinlock/hardirq_same_lock_irqs_on "@$file" --profile=seed
expect_stdout "hang: no completion: deadlock after"
expect_exit 1 "replay -" -- replay rqspinlock/hardirq_same_lock_irqs_on - --profile=seed <"$file"
expect_stdout "hang: no completion: deadlock after"
expect_exit 1 "replay @report.json" -- replay rqspinlock/hardirq_same_lock_irqs_on "@$tmp/hang.json"
expect_stdout "under seed: hang"
expect_exit 2 "replay @report.json without that failure" -- replay rqspinlock/abba "@$tmp/hang.json"
expect_stderr "has no failure of rqspinlock/abba"
expect_exit 2 "replay @missing" -- replay rqspinlock/abba "@$tmp/none.txt"
expect_stderr "$tmp/none.txt"

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all streamcheck CLI checks passed"
