#!/usr/bin/env bash
# `luminaguard exec --backend lgvmm` booting the project's real guest image
# under lgvmm on a KVM that is hardware accelerated - as far as that KVM can
# tell. The host here has no VMX/SVM (its /dev/kvm emulates ring 0), so the
# test builds a small test VM ("L1") for QEMU/TCG, whose emulated CPU
# (-cpu max) offers AMD SVM with nested paging, with KVM built into its
# kernel (image/kernel.fragment + image/nested-kvm.fragment). Inside L1,
# luminaguard and lgvmm run from an initramfs and boot the image's vmlinux
# and initramfs ("L2"), and lg-agent runs commands over lgvmm's vsock.
#
# Everything is emulated, so it is slow (tens of seconds), and it measures
# nothing: it shows that lgvmm's machine boots Linux and that the lgvmm
# backend, vsock and lg-agent work together. The L1 kernel is built once
# (about 3 minutes) and cached next to the image cache.
set -euo pipefail

: "${LG:?LG must point at the luminaguard binary}"
: "${LGVMM:?LGVMM must point at the lgvmm binary}"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/lg-nested.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok - $*"; }
not_ok() { FAIL=$((FAIL + 1)); echo "not ok - $*"; }
skip() { echo "SKIP: $*"; exit 77; }
expect_match() {
	if grep -Eq -- "$2" "$3"; then ok "$1"; else not_ok "$1: no /$2/ in $3"; fi
}

command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed"
grep -qw svm <<<"$(qemu-system-x86_64 -cpu help 2>/dev/null)" || skip "this QEMU's TCG offers no SVM"
if ! info=$("$LG" image info --json 2>/dev/null); then
	[ "${LG_REQUIRE_IMAGE:-0}" = 1 ] && { echo "FAIL: no guest image (LG_REQUIRE_IMAGE=1)"; exit 1; }
	skip "no guest image; build it with 'make image'"
fi
img=$(printf '%s' "$info" | python3 -c 'import json,sys; print(json.load(sys.stdin)["dir"])')
tarball=/usr/src/linux-source-6.1.tar.xz
[ -r "$tarball" ] || skip "$tarball missing (scripts/install-deps.sh installs linux-source-6.1)"

# 1. The L1 kernel, cached by build-kernel.sh's own input stamp.
cache=${XDG_CACHE_HOME:-$HOME/.cache}/luminaguard/test/nested-kernel
cat "$SRC/image/kernel.fragment" "$SRC/image/nested-kvm.fragment" >"$WORK/l1.fragment"
"$SRC/image/build-kernel.sh" "$tarball" "$WORK/l1.fragment" "$cache" "$(nproc)" >&2

# 2. The L1 initramfs: busybox, luminaguard and lgvmm with their shared
# libraries, the image's kernel and initramfs, and an /init that runs the
# commands under test and reports each exit status.
stage=$WORK/l1
mkdir -p "$stage"/{bin,l2,proc,sys,dev,tmp,run,etc}
cp /bin/busybox "$stage/bin/busybox"
copy_elf() { # BINARY DEST: with its interpreter and libraries
	cp -L "$1" "$stage/$2"
	ldd "$1" | grep -o '/[^ ]*' | sort -u | while read -r lib; do
		mkdir -p "$stage$(dirname "$lib")"
		cp -L "$lib" "$stage$lib"
	done
}
copy_elf "$LG" bin/luminaguard
copy_elf "$LGVMM" bin/lgvmm
gcc -static -O2 -o "$stage/bin/nested-tool" "$SRC/tests/nested/nested-tool.c"
cp "$img/vmlinux" "$img/bzImage" "$img/initramfs.cpio" "$stage/l2/"
cat >"$stage/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
export PATH=/bin LUMINAGUARD_RUNTIME_DIR=/tmp/run LG_LGVMM=/bin/lgvmm HOME=/tmp
mkdir -p /tmp/run
echo "L1: $(grep -c svm /proc/cpuinfo) svm cpu(s), /dev/kvm: $(ls /dev/kvm 2>&1)"
run() { # NAME KERNEL ARGS...: one exec, its output framed for the host
	name=$1
	kernel=$2
	shift 2
	echo "L1-BEGIN $name"
	luminaguard --log-level info exec --boot-timeout 600 \
		--kernel "/l2/$kernel" --initrd /l2/initramfs.cpio "$@" 2>&1
	echo "L1-STATUS $name $?"
}
run hello vmlinux -- sh -c 'echo nested-hello; uname -r; grep -c ^processor /proc/cpuinfo'
run smp vmlinux --backend lgvmm --vcpus 2 -- sh -c 'grep -c ^processor /proc/cpuinfo'
run bzimage bzImage --backend lgvmm -- sh -c 'echo bz-hello'
run bigmem vmlinux --backend lgvmm --mem 4608 -- sh -c 'grep MemTotal /proc/meminfo'
run status vmlinux --backend lgvmm -- sh -c 'exit 7'
# A snapshot of a running Linux guest with its agent listening, restored
# into a fresh lgvmm: the restored kernel must answer a new vsock connection.
cat >/tmp/vm.json <<JSON
{"boot-source": {"kernel_image_path": "/l2/vmlinux", "initrd_path": "/l2/initramfs.cpio",
  "boot_args": "console=ttyS0 reboot=k panic=1 pci=off i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd quiet"},
 "machine-config": {"vcpu_count": 1, "mem_size_mib": 256},
 "vsock": {"guest_cid": 3, "uds_path": "/tmp/v.sock"}}
JSON
lgvmm --api-sock /tmp/a.sock --config-file /tmp/vm.json </dev/null >/tmp/a.console 2>&1 &
src=$!
echo "L1-SNAP agent-up $(nested-tool vsock /tmp/v.sock 5123 600)"
echo "L1-SNAP pause $(nested-tool api /tmp/a.sock PATCH /vm '{"state": "Paused"}')"
echo "L1-SNAP create $(nested-tool api /tmp/a.sock PUT /snapshot/create '{"snapshot_path": "/tmp/vm.state", "mem_file_path": "/tmp/vm.mem"}')"
kill -9 $src
wait $src
rm -f /tmp/v.sock /tmp/a.sock
lgvmm --api-sock /tmp/b.sock </dev/null >/tmp/b.console 2>&1 &
dst=$!
while [ ! -S /tmp/b.sock ]; do sleep 0.1; done
echo "L1-SNAP load $(nested-tool api /tmp/b.sock PUT /snapshot/load '{"snapshot_path": "/tmp/vm.state", "mem_backend": {"backend_type": "File", "backend_path": "/tmp/vm.mem"}, "resume_vm": true}')"
echo "L1-SNAP restored-agent $(nested-tool vsock /tmp/v.sock 5123 120)"
echo "L1-SNAP state $(nested-tool api /tmp/b.sock GET /)"
kill -9 $dst
wait $dst
echo "L1-SNAP console-after-restore $(grep -c 'Linux version' /tmp/b.console)"
rm -f /tmp/vm.mem /tmp/vm.state /tmp/*.sock*
echo "L1-LEFT $(ls /tmp/run | wc -l) $(cat /proc/[0-9]*/comm 2>/dev/null | grep -c '^lgvmm$')"
echo "L1-DONE"
reboot -f
INIT
chmod +x "$stage/init"
(cd "$stage" && find . | cpio -o -H newc --quiet) >"$WORK/l1.cpio"

# 3. L1 under TCG. reboot=t + -no-reboot: L1's reboot ends QEMU.
set +e
timeout 1200 qemu-system-x86_64 -M microvm,acpi=off,isa-serial=on \
	-cpu max -accel tcg -m 2048 -smp 2 -nodefaults -no-user-config \
	-display none -no-reboot -kernel "$cache/vmlinux" -initrd "$WORK/l1.cpio" \
	-append 'console=ttyS0 reboot=t panic=-1' \
	-serial "file:$WORK/console.log" </dev/null >/dev/null 2>"$WORK/qemu.err"
st=$?
set -e
# The serial console ends lines with CR LF.
tr -d '\r' <"$WORK/console.log" >"$WORK/console.txt"
log=$WORK/console.txt
[ "$st" -eq 0 ] && ok "L1 ran to its end" || not_ok "L1 ran to its end (qemu status $st: $(tail -3 "$WORK/qemu.err"))"
expect_match "L1 has KVM with SVM" '^L1: [1-9][0-9]* svm cpu\(s\), /dev/kvm: /dev/kvm$' "$log"
expect_match "on a hardware KVM the default backend is lgvmm" 'backend lgvmm \(default' "$log"
expect_match "lgvmm booted the image's vmlinux (PVH)" 'nested-hello' "$log"
expect_match "exec through lg-agent over vsock: status 0" '^L1-STATUS hello 0$' "$log"
expect_match "the guest saw 1 vCPU" '^1$' "$log"
expect_match "SMP guest sees 2 CPUs (MP table, APs)" '^L1-STATUS smp 0$' "$log"
awk '/^L1-BEGIN smp/{f=1} f && /^2$/{found=1} /^L1-STATUS smp/{f=0} END{exit !found}' "$log" &&
	ok "the 2-vCPU guest counted 2 processors" || not_ok "the 2-vCPU guest counted 2 processors"
expect_match "lgvmm booted the image's bzImage" '^bz-hello$' "$log"
expect_match "exec of the bzImage guest: status 0" '^L1-STATUS bzimage 0$' "$log"
# 4608 MiB: 3 GiB below the MMIO hole, the rest from 4 GiB up.
awk '/^MemTotal:/ { if ($2 > 4400000) found = 1 } END { exit !found }' "$log" &&
	ok "a 4.5 GiB guest has its RAM above the MMIO hole" ||
	not_ok "a 4.5 GiB guest has its RAM above the MMIO hole ($(grep MemTotal "$log"))"
expect_match "the command's exit status comes back" '^L1-STATUS status 7$' "$log"
expect_match "snapshot: the agent answered vsock before" '^L1-SNAP agent-up OK [0-9]+$' "$log"
expect_match "snapshot: paused" '^L1-SNAP pause 204' "$log"
expect_match "snapshot: created" '^L1-SNAP create 204' "$log"
expect_match "snapshot: loaded into a fresh lgvmm with resume_vm" '^L1-SNAP load 204' "$log"
expect_match "snapshot: the restored guest answers a new vsock connection" '^L1-SNAP restored-agent OK [0-9]+$' "$log"
expect_match "snapshot: the restored VM is Running" '^L1-SNAP state 200 .*Running' "$log"
expect_match "snapshot: the restored guest did not boot again" '^L1-SNAP console-after-restore 0$' "$log"
expect_match "nothing left behind in L1 (run dirs, lgvmm processes)" '^L1-LEFT 0 0$' "$log"
if [ "$FAIL" -ne 0 ]; then
	echo "--- L1 console (last 60 lines) ---"
	tail -60 "$log"
fi
echo "# $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
