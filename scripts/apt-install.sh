#!/usr/bin/env bash
# apt-install.sh PACKAGE...: installs Debian packages unattended (CI: no stdin,
# root; sudo otherwise), running `apt-get update` only when apt does not know
# one of them yet. Used by the other install scripts.
set -euo pipefail

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
for pkg in "$@"; do
	if ! apt-cache show "$pkg" >/dev/null 2>&1; then
		$SUDO apt-get update -qq
		break
	fi
done
$SUDO apt-get install -y -qq --no-install-recommends "$@" </dev/null >/dev/null
