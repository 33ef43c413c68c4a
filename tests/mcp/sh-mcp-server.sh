#!/bin/sh
# A tiny MCP stdio server in POSIX sh (runs under busybox in the guest
# image, and under dash on the host): just enough of the protocol for the
# gateway tests. Tools: echo {text} (echoed back), info (where it runs:
# kernel, hostname, pid), crash (exits at once, for the crashed-upstream
# test). Not a JSON parser: it handles the compact single-line messages
# our client sends.
reply() {
	printf '{"jsonrpc":"2.0","id":%s,"result":%s}\n' "$1" "$2"
}
while IFS= read -r line; do
	id=$(printf '%s' "$line" | sed -n 's/.*"id":\([0-9][0-9]*\).*/\1/p')
	[ -n "$id" ] || id=$(printf '%s' "$line" | sed -n 's/.*"id":\("[^"]*"\).*/\1/p')
	method=$(printf '%s' "$line" | sed -n 's/.*"method":"\([^"]*\)".*/\1/p')
	[ -n "$id" ] || continue # notifications need no answer
	case "$method" in
	initialize)
		v=$(printf '%s' "$line" | sed -n 's/.*"protocolVersion":"\([^"]*\)".*/\1/p')
		reply "$id" "{\"protocolVersion\":\"$v\",\"capabilities\":{\"tools\":{}},\"serverInfo\":{\"name\":\"sh-mcp\",\"version\":\"1\"}}"
		;;
	ping)
		reply "$id" '{}'
		;;
	tools/list)
		reply "$id" '{"tools":[{"name":"echo","description":"echo text","inputSchema":{"type":"object","properties":{"text":{"type":"string"}}}},{"name":"info","description":"where am I","inputSchema":{"type":"object"}},{"name":"crash","description":"exit now","inputSchema":{"type":"object"}}]}'
		;;
	tools/call)
		tool=$(printf '%s' "$line" | sed -n 's/.*"name":"\([^"]*\)".*/\1/p')
		case "$tool" in
		echo)
			text=$(printf '%s' "$line" | sed -n 's/.*"text":"\([^"\\]*\)".*/\1/p')
			reply "$id" "{\"content\":[{\"type\":\"text\",\"text\":\"echo: $text\"}]}"
			;;
		info)
			reply "$id" "{\"content\":[{\"type\":\"text\",\"text\":\"kernel=$(uname -r) host=$(uname -n) pid=$$\"}]}"
			;;
		crash)
			exit 3
			;;
		*)
			printf '{"jsonrpc":"2.0","id":%s,"error":{"code":-32602,"message":"unknown tool"}}\n' "$id"
			;;
		esac
		;;
	*)
		printf '{"jsonrpc":"2.0","id":%s,"error":{"code":-32601,"message":"method not found"}}\n' "$id"
		;;
	esac
done
