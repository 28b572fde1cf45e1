#!/usr/bin/python3
"""tools/bench_report.py: tables, ratios, plots and the docs section, from a
small Google Benchmark JSON written here (values chosen so every ratio is
known), plus its errors for bad input."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "bench_report.py")


def bench(name, aggregate, **fields):
    return dict(name=f"{name}_{aggregate}", run_name=name, run_type="aggregate",
                aggregate_name=aggregate, time_unit="ns", **fields)


def alloc_json(floor, stream):
    rows = []
    for impl, value in (("Floor", floor), ("Stream", stream)):
        name = f"BM_pair<{impl}>/64/threads:1"
        rows.append(bench(name, "median", real_time=1.0, cpu_time=1.0, items_per_second=value))
        rows.append(bench(name, "cv", real_time=0.1, cpu_time=0.1, items_per_second=0.05))
    return {"context": {}, "benchmarks": rows}


def render(tmp, files, *extra):
    return subprocess.run([SCRIPT, "render", f"--out={tmp}/out", *extra, *files],
                          capture_output=True, text=True)


class BenchReportTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp()

    def write(self, name, data):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(data if isinstance(data, str) else json.dumps(data))
        return path

    def test_ratio_against_the_baseline_of_the_same_run(self):
        path = self.write("alloc.json", alloc_json(floor=100e6, stream=80e6))
        r = render(self.tmp, [path])
        self.assertEqual(r.returncode, 0, r.stderr)
        table = open(os.path.join(self.tmp, "out", "alloc.md")).read()
        self.assertIn("| Stream | 80 M (cv 5%) **0.80x** |", table)
        self.assertIn("| Floor | 100 M (cv 5%) **1.00x** |", table)
        with open(os.path.join(self.tmp, "out", "alloc-0.png"), "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")

    def test_refused_share_is_shown_where_the_bench_counts_it(self):
        rows = []
        for impl, value, refused in (("stream", 2e6, 0.14), ("mutex", 1e6, 0.88)):
            name = f"BM_{impl}_e2e/real_time/threads:1"
            rows.append(bench(name, "median", real_time=1.0, cpu_time=1.0,
                              items_per_second=value, rejected=refused))
        path = self.write("stream.json", {"context": {}, "benchmarks": rows})
        r = render(self.tmp, [path])
        self.assertEqual(r.returncode, 0, r.stderr)
        table = open(os.path.join(self.tmp, "out", "stream.md")).read()
        self.assertIn("| stream | 2 M (refused 14%) **2.00x** |", table)
        self.assertIn("| mutex | 1 M (refused 88%) **1.00x** |", table)
        self.assertIn("refused = share of writes refused", table)
        alloc = self.write("alloc.json", alloc_json(floor=100e6, stream=80e6))
        render(self.tmp, [alloc])
        self.assertNotIn("refused", open(os.path.join(self.tmp, "out", "alloc.md")).read())

    def test_docs_section_is_replaced_and_the_rest_kept(self):
        path = self.write("alloc.json", alloc_json(floor=50e6, stream=100e6))
        doc = self.write("doc.md", "head\n<!-- bench:alloc -->\nold\n<!-- /bench:alloc -->\ntail\n")
        r = render(self.tmp, [path], f"--docs={doc}")
        self.assertEqual(r.returncode, 0, r.stderr)
        text = open(doc).read()
        self.assertNotIn("old", text)
        self.assertIn("**2.00x**", text)
        self.assertTrue(text.startswith("head\n") and text.endswith("tail\n"))

    def test_bad_input_is_named(self):
        wrong_suite = self.write("nosuch.json", alloc_json(1, 1))
        r = render(self.tmp, [wrong_suite])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("unknown suite 'nosuch'", r.stdout + r.stderr)
        failed = alloc_json(1, 1)
        failed["benchmarks"][0].update(error_occurred=True, error_message="boom")
        r = render(self.tmp, [self.write("alloc.json", failed)])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("failed: boom", r.stdout + r.stderr)
        r = subprocess.run([SCRIPT, "run", "--repetitions=0"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--repetitions=0", r.stderr)
        r = subprocess.run([SCRIPT, "run", "--out"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--out needs a value", r.stderr)


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    sys.exit(0 if result.wasSuccessful() else 1)
