#!/usr/bin/env bash
# Backend selection and the lgvmm/firecracker backends' refusals, through
# the CLI: each gives a clear message and exit 125, and leaves nothing
# behind. Needs no guest image (the kernel and initrd given are dummies:
# every case here fails before a guest could boot).
source "$(dirname "$0")/lib.sh"
o=$WORK/out e=$WORK/err
k=$WORK/host/vmlinux i=$WORK/host/initrd
echo "not a kernel" >"$k"
echo "not an initramfs" >"$i"

# The same test as kvm-probe.c's cheap checks: hardware virtualization
# offered and not kvm_pvm (whose KVM emulates ring 0).
hw_kvm() {
	[ -r /dev/kvm ] && [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo &&
		[ ! -d /sys/module/kvm_pvm ]
}

run_lg "$o" "$e" exec --help
expect_match "exec --help lists the backends" "$(cat "$o")" "qemu,lgvmm,firecracker"
expect_match "exec --help gives the default" "$(cat "$o")" "default: lgvmm where KVM is"

# firecracker not installed: its exact message, exit 125.
nofc=$WORK/host/bin
mkdir -p "$nofc"
for tool in qemu-system-x86_64; do
	p=$(command -v "$tool" || true)
	[ -n "$p" ] && ln -s "$p" "$nofc/$tool"
done
set +e
env -u LG_FIRECRACKER PATH="$nofc" "$LG" exec --backend firecracker \
	--kernel "$k" --initrd "$i" -- true >"$o" 2>"$e" </dev/null
RC=$?
set -e
expect_eq "firecracker missing: exit code" "$RC" 125
expect_eq "firecracker missing: message" "$(cat "$e")" \
	"luminaguard: error: firecracker not found (looked in PATH; set LG_FIRECRACKER)"
expect_clean "firecracker missing"

LG_FIRECRACKER=$WORK/nothing-here run_lg "$o" "$e" exec --backend firecracker \
	--kernel "$k" --initrd "$i" -- true
expect_eq "LG_FIRECRACKER naming nothing: exit code" "$RC" 125
expect_match "LG_FIRECRACKER naming nothing: message" "$(cat "$e")" \
	"firecracker not found: LG_FIRECRACKER=.*nothing-here: No such file"
expect_clean "LG_FIRECRACKER naming nothing"

run_lg "$o" "$e" exec --backend lgvmm --accel tcg --kernel "$k" --initrd "$i" -- true
expect_eq "lgvmm with --accel tcg: exit code" "$RC" 125
expect_match "lgvmm with --accel tcg: message" "$(cat "$e")" \
	"lgvmm runs guests on KVM only; --accel tcg needs --backend qemu"
expect_clean "lgvmm with --accel tcg"

if hw_kvm; then
	echo "# hardware KVM here: the software-KVM refusal and the qemu default are not checked"
	run_lg "$o" "$e" --log-level info exec --kernel "$k" --initrd "$i" -- true
	expect_match "default backend is logged" "$(cat "$e")" "info: backend (lgvmm|qemu) \(default: "
	expect_clean "default backend"
	finish
	exit
fi

# This host's KVM is not hardware accelerated: lgvmm refuses at once.
start=$(date +%s%N)
run_lg "$o" "$e" exec --backend lgvmm --kernel "$k" --initrd "$i" -- true
ms=$((($(date +%s%N) - start) / 1000000))
expect_eq "lgvmm on a software KVM: exit code" "$RC" 125
expect_match "lgvmm on a software KVM: says why" "$(cat "$e")" \
	"^luminaguard: error: lgvmm needs hardware KVM to boot Linux, and KVM here is not hardware accelerated \(.*\); use --backend qemu$"
[ "$ms" -lt 5000 ] && ok "lgvmm refusal is fast (${ms} ms)" || not_ok "lgvmm refusal took ${ms} ms"
expect_clean "lgvmm on a software KVM"

# The config file can name the backend too.
echo '{"exec": {"backend": "lgvmm"}}' >"$WORK/config.json"
LUMINAGUARD_CONFIG=$WORK/config.json run_lg "$o" "$e" exec --kernel "$k" --initrd "$i" -- true
expect_eq "backend from the config file: exit code" "$RC" 125
expect_match "backend from the config file: lgvmm refuses" "$(cat "$e")" "lgvmm needs hardware KVM"
rm -f "$WORK/config.json"
expect_clean "backend from the config file"

# No --backend: qemu (TCG), and the choice is logged with its reason. The
# dummy kernel then makes QEMU fail at once.
run_lg "$o" "$e" --log-level info exec --kernel "$k" --initrd "$i" -- true
expect_match "default backend here is qemu, logged" "$(cat "$e")" \
	"info: backend qemu \(default: KVM is not hardware accelerated: "
expect_match "default backend: qemu ran" "$(cat "$e")" "qemu: accelerator tcg"
expect_eq "default backend, dummy kernel: exit code" "$RC" 125
expect_clean "default backend"

finish
