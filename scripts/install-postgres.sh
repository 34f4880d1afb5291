#!/usr/bin/env bash
# Installs Debian's PostgreSQL server (the database tests start their own
# throw-away server from its binaries, as a non-root user, on a free loopback
# port) and the sqlite3 CLI. Idempotent.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && command -v sqlite3 >/dev/null 2>&1; then
	echo "postgresql: $(ls -d /usr/lib/postgresql/*/bin | tail -1)"
	exit 0
fi
"$root/scripts/apt-install.sh" postgresql sqlite3
# The server the package starts is not used; the tests run their own.
if command -v service >/dev/null 2>&1; then service postgresql stop >/dev/null 2>&1 || true; fi
echo "postgresql: $(ls -d /usr/lib/postgresql/*/bin | tail -1)"
