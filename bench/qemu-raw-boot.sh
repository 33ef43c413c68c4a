#!/usr/bin/env bash
# Yardstick for bench/exec-cold.sh: the same kernel booted by the same QEMU
# with the same machine options, but with an /init that reboots at once —
# no agent, no channel, no command. What `exec -- true` adds on top of this
# is LuminaGuard's own cost. Reports the median of N runs in ms.
#
#   bench/qemu-raw-boot.sh [N]            (default N=10; image from `image info`)
set -euo pipefail
cd "$(dirname "$0")/.."
LG=${LG:-build/src/cli/luminaguard}
n=${1:-10}
img=$("$LG" image info --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["dir"])')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

printf '#!/bin/busybox sh\n/bin/busybox reboot -f\n' >"$work/init"
chmod +x "$work/init"
image/build-initramfs.sh "$work/init" /bin/busybox "$work/raw.cpio" 2>/dev/null

accel=tcg cpu=max
if grep -qwE 'vmx|svm' /proc/cpuinfo && [ ! -d /sys/module/kvm_pvm ] && [ -w /dev/kvm ]; then
	accel=kvm cpu=host
fi
for i in $(seq "$n"); do
	start=$(date +%s%N)
	qemu-system-x86_64 -M microvm,acpi=off,x-option-roms=off,isa-serial=on \
		-accel "$accel" -cpu "$cpu" -m 256 -smp 1 -nodefaults -no-user-config \
		-nographic -no-reboot -kernel "$img/vmlinux" -initrd "$work/raw.cpio" \
		-append 'console=ttyS0 reboot=t panic=-1' -serial "file:$work/console.log" \
		-device virtio-serial-device >/dev/null 2>&1
	end=$(date +%s%N)
	echo $(((end - start) / 1000))
done | python3 -c '
import statistics, sys
v = [int(l) / 1000.0 for l in sys.stdin]
print(f"raw QEMU boot-to-reboot ({sys.argv[1]}), {len(v)} runs: median {statistics.median(v):.1f} ms, min {min(v):.1f}, max {max(v):.1f}")
' "$accel"
