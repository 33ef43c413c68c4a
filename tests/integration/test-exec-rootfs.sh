#!/usr/bin/env bash
# A user-supplied read-only ext4 root filesystem: the guest runs from it,
# with a tmpfs overlay so it can write, and the image file is never changed.
source "$(dirname "$0")/lib.sh"
need_image
command -v mkfs.ext4 >/dev/null || skip "mkfs.ext4 not installed (e2fsprogs)"
o=$WORK/out e=$WORK/err

root=$WORK/rootdir
mkdir -p "$root"/{bin,etc,tmp,proc,sys,dev,run,mnt}
cp /bin/busybox "$root/bin/busybox"
for applet in sh cat echo ls touch rm mount true; do ln -s busybox "$root/bin/$applet"; done
echo "from the user's rootfs" >"$root/etc/marker"
mkfs.ext4 -q -F -O ^has_journal -d "$root" "$WORK/host/rootfs.ext4" 16M >/dev/null
before=$(sha256sum <"$WORK/host/rootfs.ext4")

run_lg "$o" "$e" exec --rootfs "$WORK/host/rootfs.ext4" -- sh -c \
	'cat /etc/marker && echo new >/etc/written && cat /etc/written && rm /etc/marker && ls /etc'
expect_eq "rootfs exec exit" "$RC" 0
expect_eq "runs from the rootfs, writes land in the overlay" "$(cat "$o")" \
	"$(printf "from the user's rootfs\nnew\nwritten")"
expect_eq "the rootfs image is not modified" "$(sha256sum <"$WORK/host/rootfs.ext4")" "$before"

# JSON logs: one object a line on stderr.
run_lg "$o" "$e" --log-format json --log-level info exec --rootfs "$WORK/host/rootfs.ext4" -- true
expect_eq "json log exec exit" "$RC" 0
if python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1]) if l.strip()]' "$e" &&
	grep -q '"level":"info"' "$e"; then
	ok "--log-format json writes JSON lines"
else
	not_ok "--log-format json output: $(head -3 "$e")"
fi
rm -f "$WORK/host/rootfs.ext4"
rm -rf "$root"
expect_clean "rootfs"
finish
