#!/usr/bin/env bash
# Installs kcat (librdkafka's command-line client) from Debian for the interop
# suite. Idempotent: when kcat is already on PATH it only prints its version.
# Runs unattended (CI, no stdin, as root; sudo otherwise).
set -euo pipefail

if ! command -v kcat >/dev/null 2>&1; then
	"$(dirname "$0")/apt-install.sh" kcat
fi

# kcat -V prints e.g. "kcat - Apache Kafka producer and consumer tool ... Version 1.7.1 (... librdkafka 2.0.2 builtin.features=...)".
ver=$(kcat -V 2>&1 | grep -o 'librdkafka [0-9][0-9.]*' | head -n1 || true)
if [ -z "$ver" ]; then
	echo "install-kcat: could not read librdkafka's version from 'kcat -V'" >&2
	exit 1
fi
major=$(echo "$ver" | awk '{print $2}' | cut -d. -f1)
if [ "$major" -lt 2 ]; then
	echo "install-kcat: kcat is built with $ver; the interop suite needs librdkafka 2.x" >&2
	exit 1
fi
echo "kcat: $(command -v kcat) ($ver)"
