#!/usr/bin/env bash
# The README's run command: a fresh virtualenv, the platform tables on SQLite, the server and a worker.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e .
.venv/bin/crm init
# A first administrator, once: the password is printed here and nowhere else.
password=${CRM_ADMIN_PASSWORD:-$(python3 -c 'import secrets; print(secrets.token_urlsafe(12))')}
if .venv/bin/crm user create admin --password "$password" --admin >/dev/null 2>&1; then
  echo "Administrator created: sign in at http://${HOST:-127.0.0.1}:${PORT:-5000}/login as admin / $password"
  echo "API token: curl -X POST -H 'Content-Type: application/json' -d '{\"username\": \"admin\", \"password\": \"$password\"}' http://${HOST:-127.0.0.1}:${PORT:-5000}/api/auth/token"
fi
# A working CRM at once: an industry template with sample data, on the first run only (installing
# the same version again would change nothing anyway). CRM_TEMPLATE=education|ecommerce|none.
# The sample data comes with demo users for the template's roles (sales1, sales2, service1,
# manager1) owning its records; their generated passwords are printed here, once.
template=${CRM_TEMPLATE:-b2b}
installed=$(.venv/bin/crm template list)
if [ "$template" != "none" ] && ! grep -q "^$template .*(installed " <<<"$installed"; then
  .venv/bin/crm template install "$template" --sample-data
fi
# The worker runs queued and periodic jobs (the daily re-evaluation of rule tags such as "no contact
# for 90 days") beside the server, on the queue file instance/queue.sqlite unless CRM_QUEUE_URL names
# a Redis; it stops with the server.
.venv/bin/crm worker &
worker=$!
trap 'kill "$worker" 2>/dev/null; wait "$worker" 2>/dev/null' EXIT INT TERM
.venv/bin/crm serve --host "${HOST:-127.0.0.1}" --port "${PORT:-5000}"
