#!/usr/bin/env bash
# Rewrites the key table in docs/configuration.md from the schema (`imprint config-reference`).
# Run after adding or changing a key (any Section); tests/test_config.cpp fails until the two agree.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 - "$(./build/imprint config-reference)" <<'PY'
import sys
path = "docs/configuration.md"
doc = open(path).read()
start, end = doc.index("| key | type |"), doc.index("\nNotes:")
open(path, "w").write(doc[:start] + sys.argv[1] + "\n" + doc[end:])
PY
