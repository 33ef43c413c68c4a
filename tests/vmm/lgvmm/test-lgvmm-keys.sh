#!/usr/bin/env bash
# SendCtrlAltDel end to end: lgvmm with its API, the console guest in
# mode=k polling the i8042 and printing each scancode it reads, then
# resetting through the i8042 once Delete's make code has come. Checks
# the refusal before boot, the scancodes (Firecracker's sequence, set 2
# make codes only: Ctrl 14, Alt 11, Delete e0 71, src/vmm/devices/i8042.c),
# exit status 0 after the guest's reset, and the API socket removed.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
SOCK=$WORK/api.sock
API_MAX_S=10

"$LGVMM" --api-sock "$SOCK" --log-path "$WORK/log" --level Info \
	</dev/null >"$WORK/out" 2>"$WORK/err" &
pid=$!
PIDS+=("$pid")
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
PIDS=()
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
