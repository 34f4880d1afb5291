#!/usr/bin/env bash
# Fetches the Apache Kafka Java client and tools (kafka-clients, kafka-tools and
# their dependencies, version pinned in test/interop/java/pom.xml) from Maven
# Central into .deps/kafka-jars. The interop suite puts every jar there on the
# classpath. Idempotent: skips Maven when the jars are newer than the pom.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
pom="$root/test/interop/java/pom.xml"
out="$root/.deps/kafka-jars"
stamp="$out/.installed"

if [ -f "$stamp" ] && [ "$stamp" -nt "$pom" ]; then
	echo "kafka jars: already in $out ($(ls "$out" | grep -c '\.jar$') jars)"
	exit 0
fi
if ! command -v java >/dev/null 2>&1 || ! command -v mvn >/dev/null 2>&1; then
	"$root/scripts/apt-install.sh" openjdk-17-jdk-headless maven
fi

rm -rf "$out"
mkdir -p "$out"
mvn -B -q -Dstyle.color=never -f "$pom" dependency:copy-dependencies \
	-DoutputDirectory="$out" -DincludeScope=runtime </dev/null
ls "$out"/kafka-tools-*.jar "$out"/kafka-clients-*.jar >/dev/null
touch "$stamp"
echo "kafka jars: $(ls "$out" | grep -c '\.jar$') jars in $out"
