# Shared helpers for the lgvmm end-to-end tests (sourced, bash): a work
# dir and the lgvmm processes in PIDS, both gone at exit; TAP-like
# ok/not_ok lines counted in PASS/FAIL; the API over curl; polling waits.
# Skips (77) without a usable /dev/kvm.
set -euo pipefail

: "${LGVMM:?LGVMM must point at the lgvmm binary}"
: "${GUEST:?GUEST must point at console-guest.elf}"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/$(basename "$0" .sh).XXXXXX")
PASS=0
FAIL=0
PIDS=()
# Seconds one API call may take (curl -m); empty: unbounded.
API_MAX_S=

cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT

ok() { PASS=$((PASS + 1)); echo "ok - $*"; }
not_ok() { FAIL=$((FAIL + 1)); echo "not ok - $*"; }
expect_eq() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1: got '$2', want '$3'"; fi; }
expect_match() {
	# A here-string, not a pipe: with pipefail, grep -q leaving early can
	# fail the pipeline on a match (SIGPIPE to the writer).
	if grep -Eq -- "$3" <<<"$2"; then ok "$1"; else not_ok "$1: '$2' does not match /$3/"; fi
}

[ -r /dev/kvm ] && [ -w /dev/kvm ] || { echo "SKIP: /dev/kvm not usable"; exit 77; }
command -v curl >/dev/null || { echo "FAIL: curl missing (scripts/install-deps.sh installs it)"; exit 1; }

# api_at SOCK METHOD PATH [BODY]: prints "<status> <body>".
api_at() {
	local args=(-s ${API_MAX_S:+-m "$API_MAX_S"} -o "$WORK/resp" -w '%{http_code}'
		--unix-socket "$1" -X "$2" "http://localhost$3")
	[ $# -ge 4 ] && args+=(-H 'Content-Type: application/json' -d "$4")
	local code
	code=$(curl "${args[@]}" 2>/dev/null) || code=000
	printf '%s %s' "$code" "$(cat "$WORK/resp" 2>/dev/null)"
}

# api METHOD PATH [BODY]: the same on $SOCK.
api() { api_at "$SOCK" "$@"; }

# wait_for SECONDS COMMAND...: polls until COMMAND succeeds.
wait_for() {
	local n=$(($1 * 20))
	shift
	while [ "$n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.05
		n=$((n - 1))
	done
	return 1
}

# wait_sock PATH: until the socket exists, for up to 4 s.
wait_sock() {
	for _ in $(seq 1 200); do [ -S "$1" ] && return 0; sleep 0.02; done
	return 1
}

gone() { ! kill -0 "$1" 2>/dev/null; }

# wait_exit PID SECONDS: the exit status, or 124 after killing it.
wait_exit() {
	wait_for "$2" gone "$1" || {
		kill -9 "$1" 2>/dev/null || true
		wait "$1" 2>/dev/null || true
		return 124
	}
	wait "$1" && return 0 || return $?
}
