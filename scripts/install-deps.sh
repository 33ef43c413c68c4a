#!/usr/bin/env bash
# Installs every Debian package the build, the guest image and the tests need.
# Idempotent: does nothing when all are present; otherwise one `apt-get update`
# and a non-interactive install.
set -euo pipefail

packages=(
	# build
	build-essential meson ninja-build pkg-config clang clang-format
	libclang-rt-14-dev libjansson-dev libcmocka-dev
	# lgvmm's API server and seccomp filters; the hv backends' API client
	libmicrohttpd-dev libseccomp-dev libcurl4-openssl-dev curl
	# MCP tests: TLS certificates (openssl) and the TLS test server's
	# client-certificate check (GnuTLS, what libmicrohttpd uses)
	openssl libgnutls28-dev
	# guest image: kernel from Debian's source package, busybox userland
	linux-source-6.1 flex bison bc libelf-dev libssl-dev cpio xz-utils
	busybox-static
	# reference VMM / backend and test tools
	qemu-system-x86 e2fsprogs procps psmisc python3
)

# Node.js and npm run the MCP servers the tests talk to (tests/mcp); a
# machine that has them from elsewhere keeps its own.
if ! command -v npm >/dev/null 2>&1; then
	packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO=sudo
	else
		echo "install-deps: missing packages (${missing[*]}) and not root; run as root or install sudo" >&2
		exit 1
	fi
else
	SUDO=
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
