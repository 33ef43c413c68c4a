#!/usr/bin/env bash
# The README's test command (`make test`) and what CI runs: installs what is
# missing, builds three configurations, builds the guest image, runs every
# suite, and ends with one summary line "N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
ASAN_BUILD=${ASAN_BUILD:-build-asan}
FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}
FLAGS=(-Dwerror=true)
logs=()
status=0

step() { printf '\n==> %s\n' "$*"; }

scripts/install-deps.sh
# The image cache lives under $HOME (or $XDG_CACHE_HOME); CI may not set it.
if [ -z "${HOME:-}" ]; then
	HOME=$(getent passwd "$(id -u)" | cut -d: -f6)
	export HOME
fi

step "format check"
clang-format --dry-run --Werror $(git ls-files '*.c' '*.h') || status=1

step "build ($BUILD)"
[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" "${FLAGS[@]}"
ninja -C "$BUILD"

step "guest image"
# Every configuration boots the image just built by the normal build;
# `image build` prints its directory on stdout.
LUMINAGUARD_IMAGE=$("$BUILD/src/cli/luminaguard" image build)
export LUMINAGUARD_IMAGE
export LG_TEST_KERNEL="$LUMINAGUARD_IMAGE/vmlinux"
export LG_TEST_INITRD="$LUMINAGUARD_IMAGE/initramfs.cpio"
# Here the image exists, so a test that cannot find it has failed.
export LG_REQUIRE_IMAGE=1

step "MCP test servers (npm)"
# The MCP tests talk to real servers from npm (tests/mcp/package.json,
# pinned by its lock file); installed here, a test that lacks them fails.
tests/mcp/setup-servers.sh
export LG_REQUIRE_MCP=1

run_suite() {
	local dir=$1
	shift
	step "tests: $dir $*"
	meson test -C "$dir" --print-errorlogs "$@" || status=1
	logs+=("$dir/meson-logs/testlog.json")
}

run_suite "$BUILD"

step "build ($ASAN_BUILD: AddressSanitizer + UndefinedBehaviorSanitizer)"
[ -f "$ASAN_BUILD/build.ninja" ] || meson setup "$ASAN_BUILD" "${FLAGS[@]}" \
	-Db_sanitize=address,undefined -Db_lundef=false \
	-Dbuildtype=debug
ninja -C "$ASAN_BUILD"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
run_suite "$ASAN_BUILD" --timeout-multiplier 3

step "build ($FUZZ_BUILD: clang libFuzzer)"
[ -f "$FUZZ_BUILD/build.ninja" ] || CC=clang meson setup "$FUZZ_BUILD" \
	"${FLAGS[@]}" -Dfuzz=true -Dguest_agent=false
ninja -C "$FUZZ_BUILD"
run_suite "$FUZZ_BUILD" --suite fuzz

step "summary"
python3 - "${logs[@]}" <<'PY'
import json, sys
count = {"OK": 0, "FAIL": 0, "SKIP": 0, "TIMEOUT": 0, "ERROR": 0,
         "EXPECTEDFAIL": 0, "UNEXPECTEDPASS": 0}
for path in sys.argv[1:]:
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            count[r["result"]] = count.get(r["result"], 0) + 1
            if r["result"] != "OK":
                print(f"  {r['result']:8} {path.split('/')[0]}: {r['name']}")
failed = count["FAIL"] + count["TIMEOUT"] + count["ERROR"] + count["UNEXPECTEDPASS"]
print(f"{count['OK'] + count['EXPECTEDFAIL']} passed, {failed} failed, {count['SKIP']} skipped")
PY
exit $status
