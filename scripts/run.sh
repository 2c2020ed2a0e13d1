#!/usr/bin/env bash
# The README's run command: a fresh virtualenv, the platform tables on SQLite, and the server.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e .
.venv/bin/crm init
exec .venv/bin/crm serve --host "${HOST:-127.0.0.1}" --port "${PORT:-5000}"
