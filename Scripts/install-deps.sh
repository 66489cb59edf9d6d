#!/usr/bin/env bash
# Installs the Debian packages mynapoint builds and runs with (idempotent; needs root or sudo).
set -euo pipefail

packages=(
    pkg-config libpq-dev libzstd-dev zstd libssl-dev openssl
    libpcsclite-dev pcscd vsmartcard-vpcd pcsc-tools
    postgresql-15 postgresql-client-15 procps
    # The HTML report's browser test: headless Chromium and the fonts its screenshots draw text with (Noto CJK for
    # the Japanese report).
    chromium fonts-liberation fonts-dejavu-core fonts-noto-cjk
    # The Debian package: dpkg-dev and binutils build it (dpkg-shlibdeps, strip); systemd-analyze verifies the
    # installed units; adduser makes the system user.
    dpkg-dev binutils systemd adduser
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
echo "installing: ${missing[*]}" >&2
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
