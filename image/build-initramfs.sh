#!/usr/bin/env bash
# build-initramfs.sh AGENT_BINARY BUSYBOX_BINARY OUT_CPIO
#
# Builds the LuminaGuard guest initramfs: an uncompressed newc cpio archive,
# every entry owned by 0:0, entries in a fixed (sorted) order, all mtimes set
# to SOURCE_DATE_EPOCH (default 0), so the same inputs give the same bytes.
#
# Contents:
#   /init                  AGENT_BINARY (mode 0755; a static ELF, or a script)
#   /bin/busybox           BUSYBOX_BINARY (must be static) + a symlink in /bin
#                          for every applet that `busybox --list` prints
#   /sbin, /usr/bin, /usr/sbin   symlinks to /bin (merged-/usr layout)
#   /dev/console, /dev/null      device nodes, so that /init starts with
#                          stdin/stdout/stderr on the console even before it
#                          mounts devtmpfs (written without needing root)
#   /dev /proc /sys /tmp /run /etc /root /mnt /var   (empty dirs)
#   /etc/passwd /etc/group (root, nobody), /etc/hostname (luminaguard),
#   /etc/hosts
#
# OUT_CPIO is written atomically (temporary file + rename).
set -euo pipefail

prog=${0##*/}
die() { printf '%s: error: %s\n' "$prog" "$*" >&2; exit 1; }

if [[ $# -ne 3 ]]; then
    echo "usage: $prog AGENT_BINARY BUSYBOX_BINARY OUT_CPIO" >&2
    exit 2
fi
agent=$(realpath -e -- "$1") || die "no such agent binary: $1"
busybox=$(realpath -e -- "$2") || die "no such busybox binary: $2"
out=$3
out_dir=$(dirname -- "$out")
mkdir -p -- "$out_dir"
epoch=${SOURCE_DATE_EPOCH:-0}
[[ $epoch =~ ^[0-9]+$ ]] || die "SOURCE_DATE_EPOCH must be a number"

for tool in cpio find sort readelf; do
    command -v "$tool" >/dev/null 2>&1 || die "missing tool: $tool"
done

# Nothing in the image provides a dynamic loader or shared libraries.
is_elf() { [[ $(head -c 4 -- "$1" | od -An -c | tr -d ' ') == '177ELF' ]]; }
check_static() { # path what
    if ! readelf -h -- "$1" >/dev/null 2>&1; then
        die "$2 is not an ELF file: $1"
    fi
    if readelf -l -- "$1" 2>/dev/null | grep -q 'Requesting program interpreter'; then
        die "$2 is dynamically linked (needs a static binary): $1"
    fi
}
if is_elf "$agent"; then
    check_static "$agent" "AGENT_BINARY"
elif [[ $(head -c 2 -- "$agent") != '#!' ]]; then
    die "AGENT_BINARY is neither an ELF file nor a #! script: $agent"
fi
check_static "$busybox" "BUSYBOX_BINARY"

stage=$(mktemp -d -- "${TMPDIR:-/tmp}/lg-initramfs.XXXXXX")
tmp_out=$(mktemp -- "$out_dir/.$(basename -- "$out").XXXXXX")
cleanup() {
    rm -rf -- "$stage"
    rm -f -- "$tmp_out"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

umask 022
root=$stage/root
mkdir -p -- "$root"
for d in bin dev proc sys tmp run etc root mnt var usr; do
    mkdir -p -- "$root/$d"
done
chmod 1777 "$root/tmp"
chmod 0700 "$root/root"
ln -s bin "$root/sbin"
ln -s ../bin "$root/usr/bin"
ln -s ../bin "$root/usr/sbin"

install -m 0755 -- "$agent" "$root/init"
install -m 0755 -- "$busybox" "$root/bin/busybox"

applets=$("$busybox" --list) || die "'$busybox --list' failed"
n_applets=0
while IFS= read -r applet; do
    [[ -n $applet && $applet != busybox && $applet != */* ]] || continue
    ln -s busybox "$root/bin/$applet"
    n_applets=$((n_applets + 1))
done <<<"$applets"
[[ $n_applets -gt 0 ]] || die "'$busybox --list' printed no applets"

cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
nobody:x:65534:
EOF
echo luminaguard >"$root/etc/hostname"
cat >"$root/etc/hosts" <<'EOF'
127.0.0.1	localhost luminaguard
::1	localhost
EOF
chmod 0644 "$root"/etc/*

# Fixed timestamps (symlinks included), then a sorted file list.
find "$root" -depth -exec touch -h -d "@$epoch" {} +
(
    cd "$root"
    find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort |
        cpio --quiet -o -H newc -R 0:0 --reproducible
) >"$tmp_out" || die "cpio failed"

# Append a second newc archive with the device nodes (the kernel unpacks
# concatenated archives in order; /dev already exists from the first one).
# Written by hand so that building the image never needs root or mknod.
newc_entry() { # name mode rdevmajor rdevminor ino
    local name=$1 mode=$2 rmaj=$3 rmin=$4 ino=$5 namesize pad
    namesize=$((${#name} + 1))
    printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
        "$ino" "$mode" 0 0 1 "$epoch" 0 0 0 "$rmaj" "$rmin" "$namesize" 0
    printf '%s\0' "$name"
    pad=$(((4 - (110 + namesize) % 4) % 4))
    head -c "$pad" /dev/zero
}
{
    newc_entry dev/console $((0020600)) 5 1 1
    newc_entry dev/null $((0020666)) 1 3 2
    newc_entry 'TRAILER!!!' 0 0 0 0
} >>"$tmp_out"

chmod 0644 -- "$tmp_out"
mv -f -- "$tmp_out" "$out"
printf '%s: wrote %s (%s bytes, %d busybox applets)\n' "$prog" "$out" \
    "$(stat -c %s -- "$out")" "$n_applets" >&2
