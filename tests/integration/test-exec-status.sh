#!/usr/bin/env bash
# Exit statuses, output streams, environment and working directory.
source "$(dirname "$0")/lib.sh"
need_image
o=$WORK/out e=$WORK/err

for code in 0 1 42; do
	run_lg "$o" "$e" exec -- sh -c "exit $code"
	expect_eq "exit code $code" "$RC" "$code"
done
expect_clean "exit codes"

run_lg "$o" "$e" exec -- sh -c 'kill -9 $$'
expect_eq "death by SIGKILL is 128+9" "$RC" 137
run_lg "$o" "$e" exec -- sh -c 'kill -TERM $$'
expect_eq "death by SIGTERM is 128+15" "$RC" 143

run_lg "$o" "$e" exec -- sh -c 'for i in 1 2 3; do echo out$i; echo err$i >&2; done'
expect_eq "stdout kept apart, in order" "$(cat "$o")" "$(printf 'out1\nout2\nout3')"
expect_eq "stderr kept apart, in order" "$(cat "$e")" "$(printf 'err1\nerr2\nerr3')"

run_lg "$o" "$e" exec --env GREETING=hello --env 'SPACED=a b  c' --workdir /tmp \
	-- sh -c 'echo "$GREETING|$SPACED|$(pwd)"'
expect_eq "env and workdir applied" "$(cat "$o")" "hello|a b  c|/tmp"

run_lg "$o" "$e" exec --workdir /no/such/dir -- true
expect_eq "missing workdir fails" "$RC" 125
expect_match "missing workdir is named" "$(cat "$e")" "/no/such/dir"

run_lg "$o" "$e" exec -- /no/such/command arg
expect_eq "command not found is 127" "$RC" 127
expect_match "command not found says so" "$(cat "$e")" "/no/such/command"

run_lg "$o" "$e" exec -- /etc/hostname
expect_eq "non-executable command is 126" "$RC" 126

run_lg "$o" "$e" exec --vcpus 2 --mem 192 -- sh -c 'grep -c ^processor /proc/cpuinfo; hostname; cat /sys/class/net/lo/operstate /sys/class/net/lo/flags'
expect_eq "vcpus applied, hostname set, loopback up" "$(cat "$o")" "$(printf '2\nluminaguard\nunknown\n0x9')"
# The bzImage boots the same way as the PVH vmlinux.
img=$("$LG" image info --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["dir"])')
run_lg "$o" "$e" exec --kernel "$img/bzImage" --initrd "$img/initramfs.cpio" -- sh -c 'echo bz; exit 7'
expect_eq "bzImage boot runs the command" "$RC/$(cat "$o")" "7/bz"

# Defaults from the config file; flags still win.
echo '{"exec": {"vcpus": 2, "mem_mib": 192}}' >"$WORK/config.json"
LUMINAGUARD_CONFIG=$WORK/config.json run_lg "$o" "$e" exec -- sh -c 'grep -c ^processor /proc/cpuinfo'
expect_eq "config file sets vcpus" "$(cat "$o")" 2
LUMINAGUARD_CONFIG=$WORK/config.json run_lg "$o" "$e" exec --vcpus 1 -- sh -c 'grep -c ^processor /proc/cpuinfo'
expect_eq "a flag overrides the config file" "$(cat "$o")" 1
rm -f "$WORK/config.json"
expect_clean "status tests"
finish
