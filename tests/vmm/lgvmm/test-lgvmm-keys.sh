#!/usr/bin/env bash
# SendCtrlAltDel end to end: lgvmm with its API, the console guest in
# mode=k polling the i8042 and printing each scancode it reads, then
# resetting through the i8042 once Delete's make code has come. Checks
# the refusal before boot, the scancodes (Firecracker's sequence, set 2
# make codes only: Ctrl 14, Alt 11, Delete e0 71, src/vmm/devices/i8042.c),
# exit status 0 after the guest's reset, and the API socket removed.
set -euo pipefail

: "${LGVMM:?LGVMM must point at the lgvmm binary}"
: "${GUEST:?GUEST must point at console-guest.elf}"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/lgvmm-keys.XXXXXX")
SOCK=$WORK/api.sock
PASS=0
FAIL=0
pid=

cleanup() {
	[ -z "$pid" ] || kill -9 "$pid" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

ok() { PASS=$((PASS + 1)); echo "ok - $*"; }
not_ok() { FAIL=$((FAIL + 1)); echo "not ok - $*"; }
expect_eq() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1: got '$2', want '$3'"; fi; }
expect_match() {
	if printf '%s' "$2" | grep -Eq -- "$3"; then ok "$1"; else not_ok "$1: '$2' does not match /$3/"; fi
}

[ -r /dev/kvm ] && [ -w /dev/kvm ] || { echo "SKIP: /dev/kvm not usable"; exit 77; }
command -v curl >/dev/null || { echo "FAIL: curl missing (scripts/install-deps.sh installs it)"; exit 1; }

# api METHOD PATH [BODY]: prints "<status> <body>"; curl bounded.
api() {
	local args=(-s -m 10 -o "$WORK/resp" -w '%{http_code}' --unix-socket "$SOCK"
		-X "$1" "http://localhost$2")
	[ $# -ge 3 ] && args+=(-H 'Content-Type: application/json' -d "$3")
	local code
	code=$(curl "${args[@]}" 2>/dev/null) || code=000
	printf '%s %s' "$code" "$(cat "$WORK/resp" 2>/dev/null)"
}

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

"$LGVMM" --api-sock "$SOCK" --log-path "$WORK/log" --level Info \
	</dev/null >"$WORK/out" 2>"$WORK/err" &
pid=$!
wait_for 10 test -S "$SOCK" && ok "API socket appears" || not_ok "API socket appears"

r=$(api PUT /actions '{"action_type": "SendCtrlAltDel"}')
expect_match "SendCtrlAltDel before InstanceStart is refused" "$r" '^400 .*fault_message'
r=$(api PUT /boot-source "{\"kernel_image_path\": \"$GUEST\", \"boot_args\": \"mode=k\"}")
expect_match "PUT /boot-source" "$r" '^204'
r=$(api PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64}')
expect_match "PUT /machine-config" "$r" '^204'
r=$(api PUT /actions '{"action_type": "InstanceStart"}')
expect_match "InstanceStart" "$r" '^204'
wait_for 30 grep -q '^keys: waiting' "$WORK/out" && ok "the guest polls the i8042" ||
	not_ok "the guest polls the i8042: $(cat "$WORK/out")"
r=$(api PUT /actions '{"action_type": "SendCtrlAltDel"}')
expect_match "SendCtrlAltDel" "$r" '^204'

set +e
wait_exit "$pid" 30
st=$?
set -e
pid=
expect_eq "exit status after the guest's reset" "$st" 0
# A triple fault ends lgvmm with 0 too: the log names the cause.
expect_match "lgvmm saw the reset at the i8042" "$(cat "$WORK/log" 2>/dev/null)" \
	'the guest reset the machine \(i8042\)'
keys=$(grep '^key ' "$WORK/out" | cut -d' ' -f2 | tr '\n' ' ' || true)
expect_eq "scancodes the guest read, in order" "$keys" "14 11 e0 71 "
expect_eq "the guest's reset came right after Delete" "$(tail -n 1 "$WORK/out")" "key 71"
[ ! -e "$SOCK" ] && ok "API socket removed on exit" || not_ok "API socket removed on exit"
[ "$FAIL" -eq 0 ] || { echo "--- lgvmm stdout:"; cat "$WORK/out"; echo "--- stderr:"; cat "$WORK/err"; echo "--- log:"; cat "$WORK/log" 2>/dev/null || true; }

echo "# $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
