#!/usr/bin/env bash
# Runs a libFuzzer target for a bounded time: new inputs go to a scratch
# corpus that is removed afterwards; the seeds in the source tree stay
# untouched; a crashing input is kept as ./fuzz-crash-* for reproduction.
set -euo pipefail
fuzzer=$1 seeds=$2 seconds=${3:-20}
work=$(mktemp -d "${TMPDIR:-/tmp}/lg-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$fuzzer" -max_total_time="$seconds" -rss_limit_mb=1024 \
	-artifact_prefix="$PWD/fuzz-crash-" "$work" "$seeds"
