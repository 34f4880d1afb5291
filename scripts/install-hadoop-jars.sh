#!/usr/bin/env bash
# Fetches Apache Hadoop's hadoop-common (version pinned in
# internal/seqfile/testdata/hadoop-pom.xml) and its runtime dependencies from
# Maven Central into .deps/hadoop-jars. The tests that have Hadoop's own
# SequenceFile.Reader and codecs read what the hdfs sink writes use them
# (RUNNEL_HADOOP_JARS, set by `make test`). Idempotent.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
pom="$root/internal/seqfile/testdata/hadoop-pom.xml"
out="$root/.deps/hadoop-jars"
stamp="$out/.installed"

if [ -f "$stamp" ] && [ "$stamp" -nt "$pom" ]; then
	echo "hadoop jars: already in $out ($(ls "$out" | grep -c '\.jar$') jars)"
	exit 0
fi
if ! command -v javac >/dev/null 2>&1 || ! command -v mvn >/dev/null 2>&1; then
	"$root/scripts/apt-install.sh" openjdk-17-jdk-headless maven
fi
rm -rf "$out"
mkdir -p "$out"
mvn -B -q -Dstyle.color=never -f "$pom" dependency:copy-dependencies \
	-DoutputDirectory="$out" -DincludeScope=runtime </dev/null
ls "$out"/hadoop-common-*.jar >/dev/null
touch "$stamp"
echo "hadoop jars: $(ls "$out" | grep -c '\.jar$') jars in $out"
