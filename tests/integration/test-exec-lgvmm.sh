#!/usr/bin/env bash
# `luminaguard exec --backend lgvmm`: the project's guest kernel booted by
# lgvmm, commands run through lg-agent over vsock. Needs hardware KVM (a
# Linux guest does not boot on a KVM that emulates ring 0): skips here
# with the reason. LG_LGVMM (set by meson) names the lgvmm binary.
source "$(dirname "$0")/lib.sh"
o=$WORK/out e=$WORK/err

[ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "/dev/kvm is not usable"
grep -qwE 'vmx|svm' /proc/cpuinfo || skip "no vmx/svm CPU flag: KVM is not hardware accelerated here, and lgvmm needs it to boot Linux"
[ ! -d /sys/module/kvm_pvm ] || skip "/dev/kvm is kvm_pvm, a software KVM: lgvmm needs hardware KVM to boot Linux"
[ -n "${LG_LGVMM:-}" ] && [ -x "$LG_LGVMM" ] || skip "lgvmm is not built (LG_LGVMM unset)"
"$LG" image info >/dev/null 2>&1 || skip "no guest image; build it with 'make image'"

run_lg "$o" "$e" exec --backend lgvmm -- true
expect_eq "exec --backend lgvmm -- true" "$RC" 0
expect_clean "true"

run_lg "$o" "$e" exec --backend lgvmm -- sh -c 'echo out; echo err >&2; exit 3'
expect_eq "exit status comes back" "$RC" 3
expect_eq "stdout comes back" "$(cat "$o")" "out"
expect_match "stderr comes back" "$(cat "$e")" "err"
expect_clean "status and output"

run_lg "$o" "$e" --log-level info exec -- true
expect_eq "default backend runs" "$RC" 0
expect_match "default backend is lgvmm, logged" "$(cat "$e")" "info: backend lgvmm \(default: hardware KVM"
expect_clean "default backend"

run_lg "$o" "$e" exec --backend lgvmm --timeout 2 -- sleep 60
expect_eq "timeout under lgvmm" "$RC" 124
expect_clean "timeout"

finish
