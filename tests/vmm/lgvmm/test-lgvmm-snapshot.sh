#!/usr/bin/env bash
# Snapshots through lgvmm's API: a running console guest (mode=t prints
# "tick N" lines) is paused and snapshotted, its process killed, and the
# snapshot loaded into fresh lgvmm processes - paused, then resumed, and
# with resume_vm - where the guest goes on exactly where it stopped. A
# corrupt state file is refused. The memory file is never written.
set -euo pipefail

. "$(dirname "$0")/lib.sh"

start_vmm() { # NAME: starts lgvmm with NAME.sock, output NAME.out; sets PID
	"$LGVMM" --api-sock "$WORK/$1.sock" </dev/null >"$WORK/$1.out" 2>"$WORK/$1.err" &
	PID=$!
	PIDS+=("$PID")
	wait_sock "$WORK/$1.sock" && return 0
	not_ok "$1: API socket never appeared"
	return 1
}

wait_ticks() { # FILE N: until FILE has N tick lines
	for _ in $(seq 1 200); do
		[ "$(grep -c '^tick' "$1" 2>/dev/null || true)" -ge "$2" ] && return 0
		sleep 0.05
	done
	return 1
}

# Ticks across two outputs must be 0, 1, 2, ... with no gap or repeat.
continuous() {
	cat "$@" | grep -o 'tick [0-9]*$' | cut -d' ' -f2 |
		awk 'NR - 1 != $1 { bad = 1 } END { exit bad || NR < 2 }'
}

truncate -s 1M "$WORK/disk.img"
cat >"$WORK/vm.json" <<JSON
{"boot-source": {"kernel_image_path": "$GUEST", "boot_args": "mode=t"},
 "machine-config": {"vcpu_count": 1, "mem_size_mib": 64},
 "drives": [{"drive_id": "scratch", "path_on_host": "$WORK/disk.img",
             "is_root_device": false, "is_read_only": false}],
 "entropy": {}}
JSON

# 1. The source VM: run, pause, snapshot.
start_vmm src
src=$PID
for sec in boot-source machine-config; do
	body=$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))[sys.argv[2]]))' "$WORK/vm.json" "$sec")
	expect_match "source: PUT /$sec" "$(api_at "$WORK/src.sock" PUT "/$sec" "$body")" '^204'
done
expect_match "source: PUT /drives/scratch" "$(api_at "$WORK/src.sock" PUT /drives/scratch "{\"drive_id\": \"scratch\", \"path_on_host\": \"$WORK/disk.img\", \"is_root_device\": false, \"is_read_only\": false}")" '^204'
expect_match "source: PUT /entropy" "$(api_at "$WORK/src.sock" PUT /entropy '{}')" '^204'
expect_match "source: InstanceStart" "$(api_at "$WORK/src.sock" PUT /actions '{"action_type": "InstanceStart"}')" '^204'
wait_ticks "$WORK/src.out" 3 && ok "source: the guest ticks" || not_ok "source: the guest ticks"
snap="{\"snapshot_path\": \"$WORK/vm.state\", \"mem_file_path\": \"$WORK/vm.mem\"}"
expect_match "snapshot/create while running is refused" "$(api_at "$WORK/src.sock" PUT /snapshot/create "$snap")" '^400'
expect_match "source: pause" "$(api_at "$WORK/src.sock" PATCH /vm '{"state": "Paused"}')" '^204'
expect_match "snapshot/create" "$(api_at "$WORK/src.sock" PUT /snapshot/create "$snap")" '^204'
[ -s "$WORK/vm.state" ] && [ -f "$WORK/vm.mem" ] && ok "state and memory files written" || not_ok "state and memory files written"
expect_eq "memory file size = guest RAM" "$(stat -c %s "$WORK/vm.mem")" $((64 << 20))
grep -q '\.tmp' <<<"$(ls "$WORK")" && not_ok "no temp files left by the snapshot" || ok "no temp files left by the snapshot"
kill -9 "$src"; wait "$src" 2>/dev/null || true
mem_sum=$(sha256sum <"$WORK/vm.mem")

# 2. Load into a fresh process, paused; resume there.
load="{\"snapshot_path\": \"$WORK/vm.state\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$WORK/vm.mem\"}"
start_vmm a
a=$PID
expect_match "load (paused)" "$(api_at "$WORK/a.sock" PUT /snapshot/load "$load}")" '^204'
expect_match "state after load: Paused" "$(api_at "$WORK/a.sock" GET /)" '"state": ?"Paused"'
expect_match "GET /vm/config after load shows the restored machine" "$(api_at "$WORK/a.sock" GET /vm/config)" '"mem_size_mib": ?64'
sleep 0.3
expect_eq "no guest output while loaded paused" "$(wc -c <"$WORK/a.out")" 0
expect_match "a second load is refused" "$(api_at "$WORK/a.sock" PUT /snapshot/load "$load}")" '^400'
expect_match "resume the restored VM" "$(api_at "$WORK/a.sock" PATCH /vm '{"state": "Resumed"}')" '^204'
wait_ticks "$WORK/a.out" 2 && ok "restored guest ticks" || not_ok "restored guest ticks"
grep -q 'lgvmm-guest: up' "$WORK/a.out" && not_ok "restored guest did not boot again" || ok "restored guest did not boot again"
continuous "$WORK/src.out" "$WORK/a.out" && ok "ticks continue across the snapshot (paused load)" \
	|| not_ok "ticks continue across the snapshot: $(tail -c 40 "$WORK/src.out" | tr '\n' '|') / $(head -c 40 "$WORK/a.out" | tr '\n' '|')"
kill -9 "$a"; wait "$a" 2>/dev/null || true

# 3. The same snapshot again, with resume_vm.
start_vmm b
b=$PID
expect_match "load with resume_vm" "$(api_at "$WORK/b.sock" PUT /snapshot/load "$load, \"resume_vm\": true}")" '^204'
expect_match "state after load with resume_vm: Running" "$(api_at "$WORK/b.sock" GET /)" '"state": ?"Running"'
wait_ticks "$WORK/b.out" 2 && ok "guest ticks after load with resume_vm" || not_ok "guest ticks after load with resume_vm"
continuous "$WORK/src.out" "$WORK/b.out" && ok "ticks continue across the snapshot (resume_vm)" || not_ok "ticks continue across the snapshot (resume_vm)"
kill -9 "$b"; wait "$b" 2>/dev/null || true
expect_eq "memory file unchanged by the restored guests" "$(sha256sum <"$WORK/vm.mem")" "$mem_sum"

# 4. A corrupt state file is refused with the reason.
cp "$WORK/vm.state" "$WORK/bad.state"
size=$(stat -c %s "$WORK/bad.state")
printf '\xff' | dd of="$WORK/bad.state" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
start_vmm c
c=$PID
r=$(api_at "$WORK/c.sock" PUT /snapshot/load "{\"snapshot_path\": \"$WORK/bad.state\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$WORK/vm.mem\"}}")
expect_match "corrupt state file: 400 saying so" "$r" '^400 .*(checksum|CRC|corrupt)'
expect_match "state after a failed load: Not started" "$(api_at "$WORK/c.sock" GET /)" '"state": ?"Not started"'
expect_match "after a failed load, InstanceStart is refused" "$(api_at "$WORK/c.sock" PUT /actions '{"action_type": "InstanceStart"}')" '^400'
kill -TERM "$c"; wait "$c" 2>/dev/null || true
[ ! -e "$WORK/c.sock" ] && ok "socket removed after the failed load" || not_ok "socket removed after the failed load"

echo "# $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
