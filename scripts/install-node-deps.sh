#!/usr/bin/env bash
# Installs kafkajs for the interop suite into test/interop/node/node_modules,
# exactly as pinned by the committed package-lock.json (npm ci). Idempotent:
# skips npm when node_modules already matches the lock file.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	"$here/apt-install.sh" nodejs npm
fi
cd "$here/../test/interop/node"

stamp=node_modules/.package-lock.json
# npm ci writes node_modules/.package-lock.json; newer than the lock file = up to date.
if [ -f "$stamp" ] && [ -d node_modules/kafkajs ] && [ "$stamp" -nt package-lock.json ]; then
	echo "kafkajs: already installed ($(node -p 'require("kafkajs/package.json").version'))"
	exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
echo "kafkajs: installed ($(node -p 'require("kafkajs/package.json").version'))"
