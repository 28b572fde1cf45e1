#!/usr/bin/env python3
"""Checks that every C++ example in the docs is code a test compiles.

Usage: check_doc_examples.py --compiled FILE... --docs DOC.md...

Every ```cpp block of a doc must be preceded (on the line before the fence)
by a marker `<!-- example: PATH -->`, where PATH is one of the --compiled
files (sources of targets that tests build), and the block's text must stand
in PATH verbatim: the whole file, or a contiguous run of its lines. So a doc
example cannot rot: change the code and the doc check fails until the doc
follows. Prints one line per problem, naming the doc, line and example.
"""
import re
import sys

MARKER = re.compile(r"^<!--\s*example:\s*(\S+)\s*-->\s*$")


def blocks(doc_text):
    """Yields (line_number, marker_path_or_None, block_lines) per cpp block."""
    lines = doc_text.split("\n")
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```cpp":
            start = i
            marker = MARKER.match(lines[i - 1]) if i > 0 else None
            j = i + 1
            while j < len(lines) and lines[j].strip() != "```":
                j += 1
            yield start + 1, marker.group(1) if marker else None, lines[i + 1:j]
            i = j + 1
        else:
            i += 1


def stands_in(block, file_lines):
    n = len(block)
    return any(file_lines[k:k + n] == block for k in range(len(file_lines) - n + 1))


def main(argv):
    try:
        split = argv.index("--docs")
        compiled, docs = argv[argv.index("--compiled") + 1:split], argv[split + 1:]
    except ValueError:
        print(__doc__.strip().split("\n")[2], file=sys.stderr)
        return 2
    by_name = {}
    for path in compiled:
        with open(path, encoding="utf-8") as f:
            by_name[path] = f.read().rstrip("\n").split("\n")
    problems, checked = [], 0
    for doc in docs:
        with open(doc, encoding="utf-8") as f:
            text = f.read()
        for line, path, block in blocks(text):
            checked += 1
            where = f"{doc}:{line}"
            if path is None:
                problems.append(f"{where}: a cpp example without an "
                                "'<!-- example: PATH -->' marker naming the compiled file it comes from")
            elif path not in by_name:
                problems.append(f"{where}: the example names {path}, which no doc-example test compiles "
                                f"(compiled: {', '.join(sorted(by_name)) or 'none'})")
            elif not stands_in(block, by_name[path]):
                problems.append(f"{where}: the example differs from {path} (copy it from the file)")
    for p in problems:
        print(p)
    print(f"{checked} doc examples checked, {len(problems)} problems")
    return 1 if problems or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
