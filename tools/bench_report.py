#!/usr/bin/python3
"""Runs the benchmark suites and turns their JSON into tables and plots.

  tools/bench_report.py run [SUITE...] [--repetitions=N] [--out=DIR]
      builds each suite (-c opt), runs it with Google Benchmark's JSON output
      into DIR/SUITE.json (default DIR: bench-results/), then renders.
  tools/bench_report.py render [--out=DIR] [--docs=docs/benchmarks.md] JSON...
      renders already-written JSON files (the suite is named by the file's
      stem): DIR/SUITE.md (tables) and DIR/SUITE-*.png (plots); with --docs,
      replaces the text between `<!-- bench:SUITE -->` and
      `<!-- /bench:SUITE -->` in that markdown file with the tables.

Every figure is the median over the repetitions; each table also gives the
spread (coefficient of variation) and the ratio against the suite's baseline
measured in the same run, the only comparison that means something on a
shared machine. Plots use matplotlib (Debian: python3-matplotlib).
"""
import json
import os
import re
import subprocess
import sys
from collections import OrderedDict

# What each suite measures and how a benchmark name splits into
# (group, implementation, x): the table is per group, a row per x, a column
# per implementation; `baseline` is the implementation ratios are against.
SUITES = OrderedDict(
    alloc=dict(
        target="//bench:alloc_bench",
        pattern=r"^(?P<group>BM_\w+)<(?P<impl>\w+)>/(?P<x>\d+)/(?:real_time/)?threads:(?P<threads>\d+)$",
        x_label="payload bytes",
        baseline="Floor",
        title="alloc+free pair",
    ),
    llist=dict(
        target="//bench:llist_bench",
        pattern=r"^BM_(?P<impl>\w+?)_\w*/real_time/threads:(?P<x>\d+)$",
        x_label="threads",
        baseline="boost",
        title="push 64 + drain",
    ),
    rqspinlock=dict(
        target="//bench:rqspinlock_bench",
        pattern=r"^(?P<group>uncontended|contended)/(?P<impl>\w+)(?:/real_time)?(?:/threads:(?P<x>\d+))?$",
        x_label="threads",
        baseline="qspinlock_nochecks",
        title="lock+unlock",
    ),
    stream=dict(
        target="//bench:stream_bench",
        pattern=r"^BM_(?P<impl>\w+?)_(?P<group>e2e|onecpu)(?:/real_time)?/threads:(?P<x>\d+)$",
        x_label="writer threads",
        baseline="mutex",
        title="messages written and consumed",
    ),
    sim=dict(
        target="//bench:sim_bench",
        pattern=r"^BM_sim_(?P<group>\w+)/(?P<x>[\d/]+)$",
        x_label="argument",
        baseline=None,
        title="simulator",
    ),
)


class Row:
    """One benchmark's median (and spread) as read from the JSON."""

    def __init__(self, name, value, unit, higher_is_better, cv, refused=None):
        self.name, self.value, self.unit = name, value, unit
        self.higher_is_better, self.cv = higher_is_better, cv
        # The stream bench's `rejected` counter: the share of writes refused,
        # which says whether the run was writer- or reader-bound.
        self.refused = refused


def read_medians(path):
    """Benchmark name -> Row, from a Google Benchmark JSON file."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    medians, cvs, singles = {}, {}, {}
    for b in data.get("benchmarks", []):
        name = b.get("run_name", b["name"])
        kind = b.get("aggregate_name")
        if b.get("error_occurred"):
            raise SystemExit(f"{path}: benchmark {name} failed: {b.get('error_message')}")
        if kind == "median":
            medians[name] = b
        elif kind == "cv":
            cvs[name] = b
        elif kind is None:
            singles.setdefault(name, b)
    rows = {}
    for name, b in (medians or singles).items():
        if "items_per_second" in b:
            value, unit, hib = b["items_per_second"], "items/s", True
            cv = cvs.get(name, {}).get("items_per_second")
        else:
            use_real = "/real_time" in name
            value = b["real_time"] if use_real else b["cpu_time"]
            unit, hib = b.get("time_unit", "ns"), False
            cv = cvs.get(name, {}).get("real_time" if use_real else "cpu_time")
        rows[name] = Row(name, value, unit, hib, cv, b.get("rejected"))
    if not rows:
        raise SystemExit(f"{path}: no benchmark results in the file")
    return rows


def split(suite, rows):
    """group -> x -> impl -> Row, keeping first-seen order."""
    spec = SUITES[suite]
    pattern = re.compile(spec["pattern"])
    out = OrderedDict()
    for name, row in rows.items():
        m = pattern.match(name)
        if not m:
            continue  # e.g. memory-overhead rows: not a ratio table
        d = m.groupdict()
        group = d.get("group") or spec["title"]
        if d.get("threads"):
            group = f"{group}, {d['threads']} thread{'s' if d['threads'] != '1' else ''}"
        impl = d.get("impl") or "run"
        x = d.get("x") or ("1" if spec["x_label"] == "threads" else "-")
        out.setdefault(group, OrderedDict()).setdefault(x, OrderedDict())[impl] = row
    return out


def fmt(value):
    for scale, suffix in ((1e9, " G"), (1e6, " M"), (1e3, " k")):
        if value >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


def tables(suite, groups):
    """A table per group: a row per implementation, a column per x; each cell
    the median, its spread, and the ratio to the baseline's median."""
    spec = SUITES[suite]
    base = spec["baseline"]
    lines = []
    for group, by_x in groups.items():
        impls = list(OrderedDict((i, None) for row in by_x.values() for i in row))
        first = next(iter(next(iter(by_x.values())).values()))
        better = "higher" if first.higher_is_better else "lower"
        ratio = f", ratio to {base} in the same run" if base in impls else ""
        refused = (", refused = share of writes refused (high: the reader bounds the run)"
                   if any(r.refused is not None for row in by_x.values() for r in row.values())
                   else "")
        lines.append(f"**{group}**: median {first.unit} ({better} is better), "
                     f"cv = spread over repetitions{refused}{ratio}")
        lines.append("")
        xs = list(by_x)
        lines.append(f"| {spec['x_label']} | " + " | ".join(xs) + " |")
        lines.append("| --- |" + " --- |" * len(xs))
        for impl in impls:
            cells = [impl]
            for x in xs:
                r, b = by_x[x].get(impl), by_x[x].get(base)
                if r is None:
                    cells.append("")
                    continue
                notes = [f"cv {r.cv:.0%}"] if r.cv is not None else []
                if r.refused is not None:
                    notes.append(f"refused {r.refused:.0%}")
                cell = fmt(r.value) + (f" ({', '.join(notes)})" if notes else "")
                if b is not None and b.value:
                    cell += f" **{r.value / b.value:.2f}x**"
                cells.append(cell)
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def plots(suite, groups, out_dir):
    """One PNG per group: bars per implementation, one cluster per x."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    base = SUITES[suite]["baseline"]
    for n, (group, by_x) in enumerate(groups.items()):
        impls = list(OrderedDict((i, None) for row in by_x.values() for i in row))
        xs = list(by_x)
        fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(xs) * max(1, len(impls)) / 2), 4))
        width = 0.8 / max(1, len(impls))
        unit = next(iter(next(iter(by_x.values())).values())).unit
        for k, impl in enumerate(impls):
            vals = [by_x[x][impl].value if impl in by_x[x] else 0 for x in xs]
            pos = [j + k * width for j in range(len(xs))]
            bars = ax.bar(pos, vals, width, label=impl)
            if base in impls and impl != base:
                for p, x, v in zip(pos, xs, vals):
                    b = by_x[x].get(base)
                    if b and b.value and v:
                        ax.annotate(f"{v / b.value:.2f}x", (p, v), ha="center", va="bottom", fontsize=7)
        ax.set_xticks([j + width * (len(impls) - 1) / 2 for j in range(len(xs))])
        ax.set_xticklabels(xs)
        ax.set_xlabel(SUITES[suite]["x_label"])
        ax.set_ylabel(f"median {unit}")
        ax.set_title(f"{suite}: {group}" + (f" (labels: ratio to {base})" if base in impls else ""))
        ax.legend(fontsize=7)
        fig.tight_layout()
        path = os.path.join(out_dir, f"{suite}-{n}.png")
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written


def update_docs(doc, suite, text):
    with open(doc, encoding="utf-8") as f:
        content = f.read()
    start, end = f"<!-- bench:{suite} -->", f"<!-- /bench:{suite} -->"
    if start not in content or end not in content:
        print(f"{doc}: no '{start}' ... '{end}' section; tables left in the output folder only")
        return
    a, b = content.index(start) + len(start), content.index(end)
    with open(doc, "w", encoding="utf-8") as f:
        f.write(content[:a] + "\n" + text.rstrip("\n") + "\n" + content[b:])


def render(paths, out_dir, docs):
    os.makedirs(out_dir, exist_ok=True)
    for path in paths:
        suite = os.path.splitext(os.path.basename(path))[0]
        if suite not in SUITES:
            raise SystemExit(f"{path}: unknown suite '{suite}' (the file's stem names it: {', '.join(SUITES)})")
        groups = split(suite, read_medians(path))
        if not groups:
            raise SystemExit(f"{path}: no benchmark name matched the {suite} suite's pattern")
        text = tables(suite, groups)
        with open(os.path.join(out_dir, suite + ".md"), "w", encoding="utf-8") as f:
            f.write(text)
        pngs = plots(suite, groups, out_dir)
        if docs:
            update_docs(docs, suite, text)
        print(f"{suite}: {sum(len(g) for g in groups.values())} rows, tables {out_dir}/{suite}.md, plots {' '.join(pngs)}")


def run(suites, repetitions, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for suite in suites:
        target = SUITES[suite]["target"]
        subprocess.run(["bazel", "build", "-c", "opt", target], check=True)
        binary = os.path.join("bazel-bin", target[2:].replace(":", "/"))
        path = os.path.join(out_dir, suite + ".json")
        subprocess.run([binary, f"--benchmark_repetitions={repetitions}",
                        "--benchmark_report_aggregates_only=true",
                        f"--benchmark_out={path}", "--benchmark_out_format=json"], check=True)
        paths.append(path)
    return paths


def main(argv):
    if not argv or argv[0] not in ("run", "render"):
        print(__doc__, file=sys.stderr)
        return 2
    opts = {"--out": "bench-results", "--repetitions": "5", "--docs": None}
    rest = []
    for a in argv[1:]:
        key, eq, val = a.partition("=")
        if key in opts:
            if not eq or not val:
                print(f"bench_report: {key} needs a value ({key}=...)", file=sys.stderr)
                return 2
            opts[key] = val
        elif a.startswith("--"):
            print(f"bench_report: unknown flag {a}", file=sys.stderr)
            return 2
        else:
            rest.append(a)
    if argv[0] == "run":
        bad = [s for s in rest if s not in SUITES]
        if bad:
            print(f"bench_report: unknown suite {', '.join(bad)} (suites: {', '.join(SUITES)})", file=sys.stderr)
            return 2
        if not opts["--repetitions"].isdigit() or int(opts["--repetitions"]) < 1:
            print(f"bench_report: --repetitions={opts['--repetitions']} is not a positive count", file=sys.stderr)
            return 2
        rest = run(rest or list(SUITES), int(opts["--repetitions"]), opts["--out"])
    elif not rest:
        print("bench_report: render needs JSON files", file=sys.stderr)
        return 2
    render(rest, opts["--out"], opts["--docs"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
