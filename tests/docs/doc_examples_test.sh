#!/usr/bin/env bash
# Runs tools/check_doc_examples.py over docs/*.md (arguments from BUILD).
set -euo pipefail
exec python3 tools/check_doc_examples.py "$@"
