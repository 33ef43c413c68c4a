#!/usr/bin/env bash
# build-kernel.sh SRC_TARBALL FRAGMENT OUTDIR [JOBS]
#
# Builds the LuminaGuard guest kernel: `make tinyconfig` + FRAGMENT, then
# vmlinux and bzImage.  Writes into OUTDIR:
#   vmlinux         stripped ELF, boots via the PVH entry (QEMU -kernel, PVH VMMs)
#   bzImage         the same kernel in bzImage format
#   config          the final .config (also copied as .config)
#   kernel.version  e.g. 6.1.158
#   build.log       full make output
#   build.stamp     hash of the inputs; a rerun with the same inputs is a no-op
#
# Environment:
#   BUILD_DIR=DIR   where to extract/build (default: OUTDIR); needs ~1.5 GiB
#   KEEP_TREE=1     keep the extracted/built source tree (path is printed)
#   FORCE=1         rebuild even if build.stamp says OUTDIR is up to date
#
# Outputs are built in a temporary directory and renamed into OUTDIR at the
# end, so an interrupted build never leaves a half-written image behind.
# build.stamp is written last: if it matches, the whole set is complete.
set -euo pipefail

prog=${0##*/}
say() { printf '%s: %s\n' "$prog" "$*" >&2; }
die() { say "error: $*"; exit 1; }

if [[ $# -lt 3 || $# -gt 4 ]]; then
    echo "usage: $prog SRC_TARBALL FRAGMENT OUTDIR [JOBS]" >&2
    exit 2
fi

src_tarball=$(realpath -e -- "$1") || die "no such tarball: $1"
fragment=$(realpath -e -- "$2") || die "no such fragment: $2"
mkdir -p -- "$3"
outdir=$(realpath -e -- "$3")
jobs=${4:-$(nproc)}
[[ $jobs =~ ^[1-9][0-9]*$ ]] || die "JOBS must be a positive integer, got '$jobs'"
build_parent=${BUILD_DIR:-$outdir}
mkdir -p -- "$build_parent"
build_parent=$(realpath -e -- "$build_parent")
script_path=$(realpath -e -- "${BASH_SOURCE[0]}")

for tool in tar make gcc flex bison bc readelf strip sha256sum; do
    command -v "$tool" >/dev/null 2>&1 || die "missing tool: $tool"
done

# ---------------------------------------------------------------------------
# Up-to-date check: same tarball, fragment and script => nothing to do.
stamp=$(
    {
        sha256sum -- "$src_tarball" | cut -d' ' -f1
        sha256sum -- "$fragment" | cut -d' ' -f1
        sha256sum -- "$script_path" | cut -d' ' -f1
    } | sha256sum | cut -d' ' -f1
)
outputs=(vmlinux bzImage config .config kernel.version)
if [[ ${FORCE:-0} != 1 && -f $outdir/build.stamp ]] &&
    [[ $(cat -- "$outdir/build.stamp") == "$stamp" ]]; then
    complete=1
    for f in "${outputs[@]}"; do [[ -s $outdir/$f ]] || complete=0; done
    if [[ $complete == 1 ]]; then
        say "up to date: $outdir (kernel $(cat -- "$outdir/kernel.version"); FORCE=1 rebuilds)"
        exit 0
    fi
fi

# ---------------------------------------------------------------------------
work=$(mktemp -d -- "$build_parent/.lg-kbuild.XXXXXX")
staging=$(mktemp -d -- "$outdir/.lg-kout.XXXXXX")
log=$outdir/build.log
: >"$log"

cleanup() {
    local rc=$?
    rm -rf -- "$staging"
    if [[ ${KEEP_TREE:-0} == 1 ]]; then
        say "kept build tree: $work/src"
    else
        rm -rf -- "$work"
    fi
    exit "$rc"
}
trap cleanup EXIT

# Long-running steps run in their own session (process group) in the
# background, so that a signal to this script is handled at once (bash defers
# traps while a foreground child runs) and the whole make -j tree is stopped.
child=
run_logged() { # title command...
    printf '### %s\n' "$1" >>"$log"
    shift
    setsid "$@" >>"$log" 2>&1 </dev/null &
    child=$!
    local rc=0
    wait "$child" || rc=$?
    child=
    return "$rc"
}
on_signal() {
    trap - INT TERM
    say "interrupted; stopping the build and removing temporary files"
    if [[ -n $child ]]; then
        kill -TERM -- "-$child" 2>/dev/null || kill -TERM "$child" 2>/dev/null || true
        wait "$child" 2>/dev/null || true
    fi
    exit "$1"
}
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

fail() {
    say "FAILED: $*"
    say "last 30 lines of $log:"
    tail -n 30 -- "$log" >&2 || true
    exit 1
}

# Reproducible-ish build metadata (uname -v inside the guest).
export KBUILD_BUILD_USER=luminaguard
export KBUILD_BUILD_HOST=luminaguard
export KBUILD_BUILD_TIMESTAMP="${SOURCE_DATE_EPOCH:+@$SOURCE_DATE_EPOCH}"
[[ -n $KBUILD_BUILD_TIMESTAMP ]] || KBUILD_BUILD_TIMESTAMP="1970-01-01"
export ARCH=x86_64
unset CROSS_COMPILE

# ---------------------------------------------------------------------------
say "extracting $(basename -- "$src_tarball") into $work ..."
mkdir -p -- "$work/src"
run_logged "tar -xf $src_tarball" tar -xf "$src_tarball" -C "$work/src" \
    --strip-components=1 --exclude='*/Documentation/*' --exclude='*/Documentation' ||
    fail "extracting $src_tarball"
# Kconfig sources Documentation/Kconfig (6.0+); recreate an empty one.
if grep -q '^source "Documentation/Kconfig"' "$work/src/Kconfig" 2>/dev/null; then
    mkdir -p -- "$work/src/Documentation"
    : >"$work/src/Documentation/Kconfig"
fi
ksrc=$work/src
[[ -f $ksrc/Makefile ]] || fail "tarball has no top-level Makefile"

# ---------------------------------------------------------------------------
say "configuring (tinyconfig + $(basename -- "$fragment")) ..."
run_logged "make tinyconfig" make -C "$ksrc" tinyconfig || fail "make tinyconfig"
# merge_config.sh works relative to the current directory.
run_logged "merge_config.sh -m .config $fragment" \
    env -C "$ksrc" ./scripts/kconfig/merge_config.sh -m .config "$fragment" ||
    fail "merging $fragment"
run_logged "make olddefconfig" make -C "$ksrc" olddefconfig || fail "make olddefconfig"

# Every option in the fragment must have the requested value in the result.
missing=()
while IFS= read -r line; do
    if [[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]]; then
        opt=${BASH_REMATCH[1]} want=${BASH_REMATCH[2]}
        got=$(grep -E "^(# )?${opt}[= ]" "$ksrc/.config" || true)
        if [[ $got != "$opt=$want" ]]; then
            missing+=("$opt: wanted '$want', got '${got:-<absent>}'")
        fi
    elif [[ $line =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set ]]; then
        opt=${BASH_REMATCH[1]}
        if got=$(grep -E "^$opt=" "$ksrc/.config"); then
            missing+=("$opt: wanted 'not set', got '$got'")
        fi
    fi
done <"$fragment"
if [[ ${#missing[@]} -gt 0 ]]; then
    say "the final .config does not honour the fragment (Kconfig dependencies?):"
    for m in "${missing[@]}"; do say "  $m"; done
    exit 1
fi
say "all $(grep -cE '^(CONFIG_|# CONFIG_.* is not set)' "$fragment") fragment options verified in .config"

# ---------------------------------------------------------------------------
say "building (about 3 min on 2 cores, -j$jobs) ..."
start=$SECONDS
run_logged "make -j$jobs vmlinux bzImage" make -C "$ksrc" -j"$jobs" vmlinux bzImage ||
    fail "make"
say "compiled in $((SECONDS - start)) s"

kver=$(make -C "$ksrc" -s kernelversion 2>>"$log") || fail "make kernelversion"

strip --strip-all -o "$staging/vmlinux" "$ksrc/vmlinux" >>"$log" 2>&1 ||
    fail "stripping vmlinux"
# The PVH entry point is advertised by a Xen ELF note of type
# XEN_ELFNOTE_PHYS32_ENTRY (0x12); without it `-kernel vmlinux` cannot boot.
if ! readelf -n "$staging/vmlinux" |
    grep -Eq '^[[:space:]]*Xen[[:space:]]+0x[0-9a-f]+[[:space:]].*(0x0*12\)|PHYS32_ENTRY)'; then
    readelf -n "$staging/vmlinux" >>"$log" 2>&1 || true
    fail "vmlinux lacks the Xen PVH note (XEN_ELFNOTE_PHYS32_ENTRY, 0x12)"
fi
cp -- "$ksrc/arch/x86/boot/bzImage" "$staging/bzImage"
cp -- "$ksrc/.config" "$staging/config"
cp -- "$ksrc/.config" "$staging/.config"
printf '%s\n' "$kver" >"$staging/kernel.version"
chmod 0644 -- "$staging"/*  "$staging/.config"
sync -f "$staging/vmlinux" 2>/dev/null || true

# ---------------------------------------------------------------------------
rm -f -- "$outdir/build.stamp"
for f in "${outputs[@]}"; do
    mv -f -- "$staging/$f" "$outdir/$f"
done
printf '%s\n' "$stamp" >"$staging/build.stamp"
mv -f -- "$staging/build.stamp" "$outdir/build.stamp"

say "done: kernel $kver -> $outdir (vmlinux $(stat -c %s -- "$outdir/vmlinux") B, bzImage $(stat -c %s -- "$outdir/bzImage") B)"
