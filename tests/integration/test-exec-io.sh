#!/usr/bin/env bash
# Bulk output, stdin, copy-in/copy-out.
source "$(dirname "$0")/lib.sh"
need_image
o=$WORK/out e=$WORK/err

# 10 MB of output arrives intact: compare its hash with the guest's own.
run_lg "$o" "$e" exec -- sh -c 'head -c 10485760 /dev/urandom >/tmp/blob && sha256sum </tmp/blob >&2 && cat /tmp/blob'
expect_eq "10 MB exec exit" "$RC" 0
expect_eq "10 MB of stdout arrive intact" "$(sha256sum <"$o" | cut -d' ' -f1)" "$(cut -d' ' -f1 <"$e")"
expect_eq "10 MB size" "$(stat -c %s "$o")" 10485760

# A closed local pipe stops the guest writer as in a local pipeline.
set +e
first=$("$LG" exec -- yes 2>"$e" </dev/null | head -1)
status=("${PIPESTATUS[@]}")
set -e
expect_eq "exec into a closed pipe ends with SIGPIPE" "$first ${status[0]}" "y 141"

# stdin is forwarded when it is not a terminal.
head -c 300000 /dev/urandom >"$WORK/host/in.bin"
set +e
"$LG" exec -- sh -c 'cat >/tmp/in; sha256sum </tmp/in' <"$WORK/host/in.bin" >"$o" 2>"$e"
RC=$?
set -e
expect_eq "stdin exec exit" "$RC" 0
expect_eq "stdin delivered byte for byte" "$(cut -d' ' -f1 <"$o")" "$(sha256sum <"$WORK/host/in.bin" | cut -d' ' -f1)"

# copy-in and copy-out round-trip a binary file (mode kept).
head -c 2000000 /dev/urandom >"$WORK/host/data.bin"
chmod 0751 "$WORK/host/data.bin"
run_lg "$o" "$e" exec --copy-in "$WORK/host/data.bin:/work/in/data.bin" \
	--copy-out "/tmp/copy.bin:$WORK/host/back.bin" \
	-- sh -c 'cp /work/in/data.bin /tmp/copy.bin && stat -c %a /work/in/data.bin'
expect_eq "copy exec exit" "$RC" 0
expect_eq "copy-in keeps the mode" "$(cat "$o")" 751
if cmp -s "$WORK/host/data.bin" "$WORK/host/back.bin"; then ok "copy-in/copy-out round-trip byte for byte"; else not_ok "copy round-trip differs"; fi

run_lg "$o" "$e" exec --copy-max 1 --copy-out "/tmp/big:$WORK/host/big.bin" -- sh -c 'head -c 3000000 /dev/zero >/tmp/big'
expect_eq "copy-out over --copy-max fails" "$RC" 125
expect_match "copy-out over the limit says so" "$(cat "$e")" "copy limit"
if grep -q big <<<"$(ls "$WORK/host/")"; then not_ok "copy-out over the limit left a file"; else ok "copy-out over the limit leaves no file"; fi

run_lg "$o" "$e" exec --copy-out "/no/such/file:$WORK/host/never.bin" -- true
expect_eq "copy-out of a missing guest file fails" "$RC" 125
expect_match "copy-out error names the file" "$(cat "$e")" "/no/such/file"
if [ -e "$WORK/host/never.bin" ]; then not_ok "failed copy-out left a file"; else ok "failed copy-out leaves no file"; fi
rm -f "$WORK/host/"*.bin
expect_clean "io tests"
finish
