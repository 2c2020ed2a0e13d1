#!/usr/bin/env bash
# The README's test command: a fresh virtualenv with the package and its test extras, then pytest.
# Set DATABASE_URL to a PostgreSQL URL to run every SQL test on PostgreSQL as well as SQLite.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e '.[test]'
mkdir -p artifacts
.venv/bin/pytest "$@"
