#!/usr/bin/env bash
# Installs the MCP servers the tests talk to (package.json, pinned by
# package-lock.json) into tests/mcp/node_modules, once; prints the bin
# directory. Needs node and npm (scripts/install-deps.sh installs them
# when missing) and the npm registry.
set -euo pipefail
cd "$(dirname "$0")"
command -v npm >/dev/null || { echo "setup-servers: npm not found" >&2; exit 1; }
stamp=node_modules/.lg-installed
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ] || [ package.json -nt "$stamp" ]; then
	if [ -f package-lock.json ]; then
		npm ci --no-audit --no-fund --loglevel=error >&2
	else
		npm install --no-audit --no-fund --loglevel=error >&2
	fi
	touch "$stamp"
fi
echo "$PWD/node_modules/.bin"
