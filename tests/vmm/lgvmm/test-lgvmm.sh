#!/usr/bin/env bash
# The lgvmm executable end to end: --config-file boots, the API (curl over
# the Unix socket) configures and starts, console output and input, pause
# and resume, errors, and nothing left behind. The guest is a small PVH
# test guest that talks over the UART (console-guest.S): this host's KVM
# emulates ring 0, so a Linux kernel cannot boot here.
set -euo pipefail

. "$(dirname "$0")/lib.sh"

config() { # MODE [EXTRA-JSON]
	cat <<-JSON
	{"boot-source": {"kernel_image_path": "$GUEST", "boot_args": "mode=$1 console=ttyS0"},
	 "machine-config": {"vcpu_count": 1, "mem_size_mib": 64}${2:-}}
	JSON
}

# 1. --no-api --config-file: boots, prints, the guest's reset ends lgvmm.
config h >"$WORK/h.json"
set +e
timeout 60 "$LGVMM" --no-api --config-file "$WORK/h.json" \
	</dev/null >"$WORK/h.out" 2>"$WORK/h.err"
st=$?
set -e
expect_eq "config-file boot: exit status after the guest's reset" "$st" 0
out=$(cat "$WORK/h.out")
expect_match "config-file boot: guest console output" "$out" '^lgvmm-guest: up'
expect_match "config-file boot: the guest saw boot_args" "$out" 'cmdline: mode=h console=ttyS0'

# 2. Console input reaches the guest through the UART.
config e >"$WORK/e.json"
set +e
printf 'ping pong\n' | timeout 60 "$LGVMM" --no-api --config-file "$WORK/e.json" \
	>"$WORK/e.out" 2>"$WORK/e.err"
st=$?
set -e
expect_eq "console input: exit status" "$st" 0
expect_match "console input: echoed by the guest" "$(cat "$WORK/e.out")" 'got: ping pong'

# 2b. PUT /serial sends the console to a file instead of stdout.
"$LGVMM" --api-sock "$WORK/serial.sock" </dev/null >"$WORK/serial.out" 2>"$WORK/serial.err" &
spid=$!
PIDS+=("$spid")
wait_sock "$WORK/serial.sock" || not_ok "serial: API socket appears"
expect_match "PUT /serial" "$(api_at "$WORK/serial.sock" PUT /serial "{\"serial_out_path\": \"$WORK/console.txt\"}")" '^204'
api_at "$WORK/serial.sock" PUT /boot-source "{\"kernel_image_path\": \"$GUEST\", \"boot_args\": \"mode=h\"}" >/dev/null
expect_match "serial: InstanceStart" "$(api_at "$WORK/serial.sock" PUT /actions '{"action_type": "InstanceStart"}')" '^204'
set +e
wait_exit "$spid" 30; st=$?
set -e
expect_eq "serial: the guest's reset ends lgvmm" "$st" 0
expect_match "serial: console output in the file" "$(cat "$WORK/console.txt" 2>/dev/null)" '^lgvmm-guest: up'
expect_eq "serial: nothing on stdout" "$(wc -c <"$WORK/serial.out")" 0

# 3. Bad usage and bad config files.
set +e
"$LGVMM" --no-api >/dev/null 2>"$WORK/u.err"; st=$?
set -e
expect_eq "--no-api without --config-file: usage error" "$st" 2
expect_match "--no-api without --config-file: message" "$(cat "$WORK/u.err")" 'needs --config-file'
printf '{"boot-source": {"kernel_image_path": "%s"}, "bogus": 1}' "$GUEST" >"$WORK/bad.json"
set +e
timeout 30 "$LGVMM" --no-api --config-file "$WORK/bad.json" </dev/null >/dev/null 2>"$WORK/bad.err"; st=$?
set -e
expect_eq "config file with an unknown field: exit status" "$st" 1
expect_match "config file with an unknown field: names it" "$(cat "$WORK/bad.err")" 'bogus'
config h ', "drives": [{"drive_id": "rootfs", "path_on_host": "/nonexistent/disk", "is_root_device": true, "is_read_only": true}]' >"$WORK/nodisk.json"
set +e
timeout 30 "$LGVMM" --no-api --config-file "$WORK/nodisk.json" </dev/null >/dev/null 2>"$WORK/nodisk.err"; st=$?
set -e
expect_eq "missing drive file: exit status" "$st" 1
expect_match "missing drive file: message" "$(cat "$WORK/nodisk.err")" '/nonexistent/disk'

# 4. The API: configure and start over the socket.
SOCK=$WORK/api.sock
"$LGVMM" --api-sock "$SOCK" --id test-vm </dev/null >"$WORK/api.out" 2>"$WORK/api.err" &
pid=$!
PIDS+=("$pid")
wait_sock "$SOCK" && ok "API socket appears" || not_ok "API socket appears"
r=$(api GET /)
expect_match "GET / before boot" "$r" '^200 .*"state": ?"Not started"'
expect_match "GET / names the instance" "$r" '"id": ?"test-vm"'
r=$(api PUT /actions '{"action_type": "InstanceStart"}')
expect_match "InstanceStart without a boot source is refused" "$r" '^400 .*fault_message'
r=$(api PUT /boot-source "{\"kernel_image_path\": \"$WORK/missing-kernel\"}")
expect_match "PUT /boot-source with a missing kernel: 400 naming it" "$r" '^400 .*missing-kernel'
echo "not a kernel at all" >"$WORK/junk-kernel"
r=$(api PUT /boot-source "{\"kernel_image_path\": \"$WORK/junk-kernel\"}")
expect_match "PUT /boot-source (a file that is no kernel)" "$r" '^204'
r=$(api PUT /actions '{"action_type": "InstanceStart"}')
expect_match "InstanceStart with a file that is no kernel: 400" "$r" '^400 .*junk-kernel'
expect_match "GET / after a failed start" "$(api GET /)" '"state": ?"Not started"'
r=$(api PUT /boot-source "{\"kernel_image_path\": \"$GUEST\", \"boot_args\": \"mode=t\"}")
expect_match "PUT /boot-source (good kernel)" "$r" '^204'
r=$(api PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 128}')
expect_match "PUT /machine-config" "$r" '^204'
truncate -s 64K "$WORK/disk1.img"
truncate -s 128K "$WORK/disk2.img"
r=$(api PUT /drives/scratch "{\"drive_id\": \"scratch\", \"path_on_host\": \"$WORK/disk1.img\", \"is_root_device\": false, \"is_read_only\": false}")
expect_match "PUT /drives/scratch" "$r" '^204'
r=$(api PATCH /drives/scratch "{\"drive_id\": \"scratch\", \"path_on_host\": \"$WORK/disk2.img\"}")
expect_match "PATCH /drives before start is refused" "$r" '^400'
r=$(api PUT /actions '{"action_type": "InstanceStart"}')
expect_match "InstanceStart" "$r" '^204'
expect_match "GET / after start" "$(api GET /)" '"state": ?"Running"'
r=$(api PUT /actions '{"action_type": "InstanceStart"}')
expect_match "a second InstanceStart is refused" "$r" '^400'
r=$(api PUT /boot-source "{\"kernel_image_path\": \"$GUEST\"}")
expect_match "PUT /boot-source after start is refused" "$r" '^400'
expect_match "GET /vm/config shows the machine" "$(api GET /vm/config)" '"vcpu_count": ?2'
r=$(api PATCH /drives/scratch "{\"drive_id\": \"scratch\", \"path_on_host\": \"$WORK/disk2.img\"}")
expect_match "PATCH /drives swaps the backing file" "$r" '^204'
expect_match "GET /vm/config shows the new file" "$(api GET /vm/config)" 'disk2.img'
r=$(api PATCH /drives/scratch "{\"drive_id\": \"scratch\", \"path_on_host\": \"$WORK/no-such-disk\"}")
expect_match "PATCH /drives with a missing file: 400" "$r" '^400 .*no-such-disk'
r=$(api PATCH /drives/other "{\"drive_id\": \"other\", \"path_on_host\": \"$WORK/disk2.img\"}")
expect_match "PATCH /drives of an unknown drive: 400" "$r" '^400'

# 5. Pause and resume: no console output while paused.
for _ in $(seq 1 100); do grep -q 'tick 2' "$WORK/api.out" && break; sleep 0.05; done
expect_match "the guest runs" "$(cat "$WORK/api.out")" 'tick 2'
r=$(api PATCH /vm '{"state": "Paused"}')
expect_match "PATCH /vm Paused" "$r" '^204'
expect_match "GET / while paused" "$(api GET /)" '"state": ?"Paused"'
n1=$(wc -c <"$WORK/api.out")
sleep 0.5
n2=$(wc -c <"$WORK/api.out")
expect_eq "no guest output while paused" "$n2" "$n1"
r=$(api PATCH /vm '{"state": "Resumed"}')
expect_match "PATCH /vm Resumed" "$r" '^204'
for _ in $(seq 1 100); do [ "$(wc -c <"$WORK/api.out")" -gt "$n2" ] && break; sleep 0.05; done
n3=$(wc -c <"$WORK/api.out")
[ "$n3" -gt "$n2" ] && ok "the guest runs again after resume" || not_ok "the guest runs again after resume ($n3 <= $n2)"
last=$(grep -o 'tick [0-9]*' "$WORK/api.out" | tail -1 | cut -d' ' -f2)
seq_ok=1
grep -o 'tick [0-9]*' "$WORK/api.out" | cut -d' ' -f2 | awk -v last="$last" 'NR-1 != $1 { exit 1 }' || seq_ok=0
expect_eq "ticks continue without a gap or repeat across the pause" "$seq_ok" 1

# 6. SIGTERM ends the VM; the socket is gone afterwards.
kill -TERM "$pid"
set +e
wait_exit "$pid" 20; st=$?
set -e
expect_eq "SIGTERM: exit status 128+15" "$st" 143
[ ! -e "$SOCK" ] && ok "API socket removed on exit" || not_ok "API socket removed on exit"

echo "# $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
