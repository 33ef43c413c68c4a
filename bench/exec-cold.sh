#!/usr/bin/env bash
# Benchmark: cold `luminaguard exec -- true` (boot, agent ready, command,
# teardown), broken down by phase from the timestamps luminaguard records
# (--timings), plus peak RSS of the host process and of the VMM process.
# Reports the median of N runs. Not a test: it asserts nothing.
#
#   bench/exec-cold.sh [N] [extra exec flags...]     (default N=10)
set -euo pipefail
cd "$(dirname "$0")/.."
LG=${LG:-build/src/cli/luminaguard}
n=${1:-10}
shift || true
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

for i in $(seq "$n"); do
	start=$(date +%s%N)
	"$LG" exec --timings "$out/$i.json" "$@" -- true
	end=$(date +%s%N)
	python3 - "$out/$i.json" "$(((end - start) / 1000))" <<'PY'
import json, sys
p = sys.argv[1]
j = json.load(open(p))
j["wall_ms"] = int(sys.argv[2]) / 1000.0
json.dump(j, open(p, "w"))
PY
	printf '.' >&2
done
echo >&2

python3 - "$out" "$n" <<'PY'
import json, os, statistics, sys
runs = [json.load(open(os.path.join(sys.argv[1], f)))
        for f in sorted(os.listdir(sys.argv[1]))]
keys = ["wall_ms", "total_ms", "spawn_ms", "boot_ms", "hello_ms",
        "command_ms", "finish_ms", "teardown_ms", "host_maxrss_kb", "vmm_maxrss_kb"]
print(f"luminaguard exec -- true, {len(runs)} runs, accel={runs[0]['accel']}")
print(f"{'metric':16} {'median':>10} {'min':>10} {'max':>10}")
for k in keys:
    v = [r[k] for r in runs]
    print(f"{k:16} {statistics.median(v):10.1f} {min(v):10.1f} {max(v):10.1f}")
PY
