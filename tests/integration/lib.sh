# Shared helpers for the exec integration tests (sourced, bash).
# Each test runs luminaguard with a private runtime dir and TMPDIR and checks
# afterwards that nothing was left behind: no process, socket, dir or file.
set -euo pipefail

: "${LG:?LG must point at the luminaguard binary}"
TEST_NAME=$(basename "$0" .sh)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/lg-test.XXXXXX")
export LUMINAGUARD_RUNTIME_DIR="$WORK/run"
export TMPDIR="$WORK/tmp"
mkdir -p "$LUMINAGUARD_RUNTIME_DIR" "$TMPDIR" "$WORK/host"
PASS=0
FAIL=0

cleanup() {
	# Anything still running from this test's runtime dir is a leak too,
	# but it must not outlive the test either way.
	pkill -9 -f "$LUMINAGUARD_RUNTIME_DIR" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

skip() {
	echo "SKIP: $*"
	exit 77
}

need_image() {
	if ! "$LG" image info >/dev/null 2>&1; then
		if [ "${LG_REQUIRE_IMAGE:-0}" = 1 ]; then
			echo "FAIL: no guest image (LG_REQUIRE_IMAGE=1): $("$LG" image info 2>&1)"
			exit 1
		fi
		skip "no guest image; build it with 'make image' ($("$LG" image info 2>&1 | head -1))"
	fi
	command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed"
}

ok() {
	PASS=$((PASS + 1))
	echo "ok - $*"
}

not_ok() {
	FAIL=$((FAIL + 1))
	echo "not ok - $*"
}

# expect_eq WHAT GOT WANT
expect_eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1: got '$2', want '$3'"; fi
}

# expect_match WHAT TEXT REGEX
expect_match() {
	# A here-string, not a pipe: with pipefail, grep -q leaving early can
	# fail the pipeline on a match (SIGPIPE to the writer).
	if grep -Eq -- "$3" <<<"$2"; then ok "$1"; else not_ok "$1: '$2' does not match /$3/"; fi
}

# No VM process, runtime entry or temp file may survive a finished exec.
expect_clean() {
	local what=$1 left procs
	left=$(find "$LUMINAGUARD_RUNTIME_DIR" "$TMPDIR" -mindepth 1 2>/dev/null | head -5)
	procs=$(pgrep -af "$LUMINAGUARD_RUNTIME_DIR" | grep -v pgrep || true)
	if [ -z "$left" ] && [ -z "$procs" ]; then
		ok "$what: nothing left behind"
	else
		not_ok "$what: left behind: ${left:-} ${procs:-}"
	fi
}

# run_lg OUTFILE ERRFILE ARGS... ; sets RC
run_lg() {
	local out=$1 err=$2
	shift 2
	set +e
	"$LG" "$@" >"$out" 2>"$err" </dev/null
	RC=$?
	set -e
}

finish() {
	echo "$TEST_NAME: $PASS passed, $FAIL failed"
	[ "$FAIL" -eq 0 ]
}
