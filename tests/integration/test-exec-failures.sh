#!/usr/bin/env bash
# Usage errors, timeouts, interrupts, and VMs that die: each gives a clear
# message, the documented exit code, and leaves nothing behind.
source "$(dirname "$0")/lib.sh"
o=$WORK/out e=$WORK/err

# Usage errors are found before any VM boots.
run_lg "$o" "$e" exec --no-such-flag -- true
expect_eq "unknown flag is a usage error" "$RC" 2
expect_match "unknown flag is named" "$(cat "$e")" "no-such-flag"
run_lg "$o" "$e" exec
expect_eq "missing command is a usage error" "$RC" 2
run_lg "$o" "$e" exec --vcpus 0 -- true
expect_eq "bad --vcpus is a usage error" "$RC" 2
run_lg "$o" "$e" exec --backend no-such-backend -- true
expect_eq "unknown backend is a usage error" "$RC" 2
expect_match "unknown backend lists the known ones" "$(cat "$e")" "available: qemu"
run_lg "$o" "$e" exec --copy-in "$WORK/missing.bin:/x" -- true
expect_eq "missing copy-in source is a usage error" "$RC" 2
expect_match "missing copy-in source is named" "$(cat "$e")" "missing.bin"
run_lg "$o" "$e" exec --help
expect_eq "exec --help exits 0" "$RC" 0
expect_match "exec --help documents --timeout" "$(cat "$o")" "--timeout"

# A config file with a typo is an error, not silently ignored.
echo '{"exec": {"vcpu": 2}}' >"$WORK/bad-config.json"
LUMINAGUARD_CONFIG=$WORK/bad-config.json run_lg "$o" "$e" exec -- true
expect_eq "unknown config key is a usage error" "$RC" 2
expect_match "unknown config key is named" "$(cat "$e")" "exec.vcpu"
rm -f "$WORK/bad-config.json"

# A missing image names the command that builds it.
LUMINAGUARD_IMAGE=$WORK/no-image run_lg "$o" "$e" exec -- true
expect_eq "missing image fails" "$RC" 125
expect_match "missing image tells how to build it" "$(cat "$e")" "luminaguard image build"
expect_clean "usage errors"

need_image

# --timeout kills the command and the VM.
start=$(date +%s)
run_lg "$o" "$e" exec --timeout 2 -- sleep 60
expect_eq "timeout exit code" "$RC" 124
expect_match "timeout is reported" "$(cat "$e")" "timed out"
[ $(($(date +%s) - start)) -lt 50 ] && ok "timeout did not wait for the command" || not_ok "timeout waited"
expect_clean "timeout"

# A local reader that stops reading cannot block --timeout.
mkfifo "$WORK/stall"
exec 7<>"$WORK/stall" # a reader that never reads
set +e
timeout 120 "$LG" exec --timeout 3 -- yes >"$WORK/stall" 2>"$e" </dev/null
RC=$?
set -e
exec 7>&-
rm -f "$WORK/stall"
expect_eq "stalled stdout reader: --timeout still fires" "$RC" 124
expect_clean "stalled reader"

# Ctrl-C (SIGINT) stops the guest command and the VM.
set +e
"$LG" exec -- sleep 60 >"$o" 2>"$e" </dev/null &
pid=$!
for _ in $(seq 100); do
	grep -qs . "$LUMINAGUARD_RUNTIME_DIR"/*/console.log && break
	sleep 0.1
done
sleep 3
kill -INT "$pid"
wait "$pid"
RC=$?
set -e
expect_eq "SIGINT exit code" "$RC" 130
expect_clean "SIGINT"

# Ctrl-C while the guest is still booting.
set +e
"$LG" exec -- true >"$o" 2>"$e" </dev/null &
pid=$!
for _ in $(seq 100); do
	[ -S "$(echo "$LUMINAGUARD_RUNTIME_DIR"/*/qmp.sock)" ] && break
	sleep 0.02
done
kill -INT "$pid"
wait "$pid"
RC=$?
set -e
expect_eq "SIGINT during boot exit code" "$RC" 130
expect_match "SIGINT during boot is reported" "$(cat "$e")" "interrupted while the guest was booting"
expect_clean "SIGINT during boot"

# A QEMU killed from outside is reported as a failed VM with the reason.
set +e
"$LG" exec -- sleep 60 >"$o" 2>"$e" </dev/null &
pid=$!
qpid=
for _ in $(seq 300); do
	qpid=$(pgrep -f "qemu-system-x86_64.*$LUMINAGUARD_RUNTIME_DIR" | head -1)
	[ -n "$qpid" ] && grep -qs . "$LUMINAGUARD_RUNTIME_DIR"/*/console.log && break
	sleep 0.1
done
sleep 4
[ -n "$qpid" ] && kill -9 "$qpid"
wait "$pid"
RC=$?
set -e
expect_eq "killed QEMU exit code" "$RC" 125
expect_match "killed QEMU is reported with the signal" "$(cat "$e")" "(signal|killed|SIGKILL)"
expect_clean "killed QEMU"

# A guest kernel panic (an initramfs with no init) is reported as such.
mkdir -p "$WORK/empty/dev"
(cd "$WORK/empty" && find . | cpio -o -H newc -R 0:0 --quiet >"$WORK/host/empty.cpio")
kernel=$("$LG" image info --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["dir"])')/vmlinux
run_lg "$o" "$e" exec --kernel "$kernel" --initrd "$WORK/host/empty.cpio" -- true
expect_eq "kernel panic exit code" "$RC" 125
expect_match "kernel panic is reported" "$(cat "$e")" "[Pp]anic"
rm -f "$WORK/host/empty.cpio"
expect_clean "kernel panic"
finish
