#!/usr/bin/env bash
# `luminaguard mcp ...` against the real npm servers over stdio: output,
# --json, exit codes (0 ok, 1 isError, 2 usage, 125 failure), servers
# named in a config file, and no server process left behind.
set -uo pipefail
: "${LG:?LG must point at the luminaguard binary}"
here=$(cd "$(dirname "$0")" && pwd)
if ! bin=$("$here/setup-servers.sh" 2>/dev/null) || [ ! -x "$bin/mcp-server-everything" ]; then
	echo "npm MCP servers not available" >&2
	[ "${LG_REQUIRE_MCP:-0}" = 1 ] && exit 1
	exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/lg-mcp-cli.XXXXXX")
trap 'rm -rf "$work"' EXIT
fails=0
# Every server we start inherits this directory: that is how the end of
# the script finds leftovers of ours and no one else's.
cd "$work"
ev=(-- "$bin/mcp-server-everything" stdio)

check() { # NAME WANT-RC GREP-PATTERN -- ARGS...
	local name=$1 want=$2 pat=$3
	shift 4
	timeout 60 "$LG" "$@" >"$work/out" 2>"$work/err"
	local rc=$?
	if [ "$rc" != "$want" ] || ! grep -qE -- "$pat" "$work/out" "$work/err"; then
		echo "FAIL $name: rc $rc (want $want), pattern '$pat'" >&2
		sed 's/^/  out: /' "$work/out" | head -20 >&2
		sed 's/^/  err: /' "$work/err" | head -20 >&2
		fails=$((fails + 1))
	else
		echo "ok   $name"
	fi
}

check tools 0 '^echo - Echo Tool' -- mcp tools "${ev[@]}"
check tools-args 0 'args: a: number \(required\), b: number \(required\)' -- mcp tools "${ev[@]}"
check tools-json 0 '"name": "get-sum"' -- mcp --json tools "${ev[@]}"
check call-text 0 'Echo: hi there' -- mcp call echo '{"message":"hi there"}' "${ev[@]}"
check call-image 0 '^\[image/png, [0-9]+ bytes\]' -- mcp call get-tiny-image "${ev[@]}"
check call-link 0 '^\[resource link demo://' -- mcp call get-resource-links '{"count":2}' "${ev[@]}"
check call-resource 0 '^\[resource demo://resource/dynamic/text/1' -- mcp call get-resource-reference "${ev[@]}"
check call-structured 0 '^\[structured content\]' -- mcp call get-structured-content '{"location":"Chicago"}' "${ev[@]}"
check call-json 0 '"structuredContent"' -- mcp call --json get-structured-content '{"location":"Chicago"}' "${ev[@]}"
check call-iserror 1 '^\[tool error\]' -- mcp call get-sum '{"a":"x"}' "${ev[@]}"
check call-bad-json 2 'must be a JSON object' -- mcp call echo '[1]' "${ev[@]}"
check resources 0 'demo://resource/static/document/architecture.md' -- mcp resources "${ev[@]}"
check templates 0 '\(template\)' -- mcp resources "${ev[@]}"
check read 0 'demo://resource/static/document/architecture.md' -- mcp read demo://resource/static/document/architecture.md "${ev[@]}"
check prompts 0 '^simple-prompt' -- mcp prompts "${ev[@]}"
check prompt 0 '^user:' -- mcp prompt args-prompt '{"city":"Paris"}' "${ev[@]}"
check usage-nocmd 2 'which command' -- mcp
check usage-noserver 2 'which server' -- mcp tools
check usage-extra 2 'bad arguments' -- mcp tools x y
check usage-timeout 2 'timeout' -- mcp --timeout abc tools x
check help 0 'Exit codes' -- mcp --help
check cannot-run 125 'cannot run /nonexistent' -- mcp tools -- /nonexistent
check crash 125 'exited with status 3' -- mcp tools -- sh -c 'read l; exit 3'
check timeout 125 'timed out' -- mcp --timeout 0.5 tools -- sh -c 'sleep 30'
echo '{}' >"$work/empty.json"
check no-config-name 125 'no server "nosuch"' -- mcp --config "$work/empty.json" tools nosuch

# Servers by name from a config file.
mkdir -p "$work/files"
echo "hello from a config" >"$work/files/a.txt"
cat >"$work/config.json" <<JSON
{"exec": {}, "mcp": {"servers": {
  "fs": {"command": ["$bin/mcp-server-filesystem", "$work/files"]},
  "mem": {"command": ["$bin/mcp-server-memory"],
          "env": {"MEMORY_FILE_PATH": "$work/mem.jsonl"}, "cwd": "$work"}
}}}
JSON
check config-fs-list 0 '\[FILE\] a.txt' -- mcp --config "$work/config.json" call fs list_directory "{\"path\":\"$work/files\"}"
check config-fs-read 0 'hello from a config' -- mcp --config "$work/config.json" call fs read_text_file "{\"path\":\"$work/files/a.txt\"}"
check config-mem-create 0 'lgcli' -- mcp --config "$work/config.json" call mem create_entities '{"entities":[{"name":"lgcli","entityType":"t","observations":["seen"]}]}'
check config-mem-read 0 '"seen"' -- mcp --config "$work/config.json" call mem read_graph
LUMINAGUARD_CONFIG="$work/config.json" check config-env 0 '^read_text_file' -- mcp tools fs
echo '{"mcp": {"servers": {"x": {"command": ["a"], "bogus": 1}}}}' >"$work/bad.json"
check config-strict 125 'unknown key "bogus"' -- mcp --config "$work/bad.json" tools x

# Nothing left behind: no server process of ours still running.
sleep 0.2
left=
for p in /proc/[0-9]*; do
	pid=${p#/proc/}
	[ "$pid" = $$ ] && continue
	[ "$(readlink "$p/cwd" 2>/dev/null)" = "$work" ] || continue
	grep -q '^State:.*Z' "$p/status" 2>/dev/null && continue
	left="$left $pid:$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)"
done
if [ -n "$left" ]; then
	echo "FAIL: processes left behind:$left" >&2
	fails=$((fails + 1))
fi
echo "$fails failure(s)"
[ "$fails" = 0 ]
