#!/usr/bin/env bash
# Builds the Debian package mynapoint_VERSION_ARCH.deb: a release binary with the Swift runtime linked in
# statically (the server needs no toolchain), the jobs, the default configuration as a conffile, and maintainer
# scripts that make the `mynapoint` system user and the drop folders.
# Usage: Scripts/package.sh [OUTPUT_FOLDER]   (default .build/package; the .deb's path is the last line printed)
set -euo pipefail
cd "$(dirname "$0")/.."
output=${1:-.build/package}

echo "== release build (static Swift runtime)" >&2
swift build -c release --static-swift-stdlib --product mynapoint >&2
binary=$(swift build -c release --static-swift-stdlib --show-bin-path)/mynapoint
version=$("$binary" --version)
arch=$(dpkg --print-architecture)
[[ $version =~ ^[0-9][0-9A-Za-z.+~-]*$ ]] || { echo "package: unusable version '$version'" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stage=$work/mynapoint_${version}_${arch}

# Debian's places, not /usr/local (that belongs to the administrator): the units and scripts in the repository
# name /usr/local for an install from source, so their paths are rewritten here.
relocate() {
    sed -e 's#/usr/local/bin/mynapoint#/usr/bin/mynapoint#g' \
        -e 's#/usr/local/lib/mynapoint#/usr/lib/mynapoint#g' \
        -e 's#/usr/local/share/doc/mynapoint#/usr/share/doc/mynapoint#g' \
        -e 's#^PATH=/usr/local/bin:#PATH=#' "$1"
}

install -d "$stage/DEBIAN" "$stage/usr/bin" "$stage/usr/lib/mynapoint" "$stage/lib/systemd/system" \
    "$stage/etc/mynapoint" "$stage/usr/share/doc/mynapoint/Jobs" "$stage/usr/share/doc/mynapoint/examples"
# Symbols stay out of the server's binary; the Swift runtime needs none of them to run.
strip --strip-unneeded -o "$stage/usr/bin/mynapoint" "$binary"
chmod 0755 "$stage/usr/bin/mynapoint"
for script in mynapoint-alert mynapoint-collect mynapoint-settle-cron; do
    relocate "Jobs/$script" >"$stage/usr/lib/mynapoint/$script"
    chmod 0755 "$stage/usr/lib/mynapoint/$script"
done
for unit in mynapoint-settle.service mynapoint-settle.timer mynapoint-alert@.service; do
    relocate "Jobs/$unit" >"$stage/lib/systemd/system/$unit"
    chmod 0644 "$stage/lib/systemd/system/$unit"
done
install -m 0644 Config/mynapoint.json "$stage/etc/mynapoint/mynapoint.json"
install -m 0644 README.md "$stage/usr/share/doc/mynapoint/README.md"
install -m 0644 Jobs/README.md "$stage/usr/share/doc/mynapoint/Jobs/README.md"
# Examples only: the cron file would run beside the timer, and the environment names example hosts.
relocate Jobs/mynapoint.cron >"$stage/usr/share/doc/mynapoint/examples/mynapoint.cron"
install -m 0644 Jobs/mynapoint.env.example "$stage/usr/share/doc/mynapoint/examples/mynapoint.env.example"
chmod 0644 "$stage/usr/share/doc/mynapoint/examples/mynapoint.cron"
install -m 0755 Scripts/debian/postinst Scripts/debian/prerm Scripts/debian/postrm "$stage/DEBIAN/"
echo /etc/mynapoint/mynapoint.json >"$stage/DEBIAN/conffiles"

# The shared libraries the binary links, as Debian packages with versions (dpkg-shlibdeps reads the binary's
# NEEDED entries and the installed packages' symbols files). Anything beyond the C runtime and the four
# libraries below is a mistake in the build (such as the Swift runtime linked dynamically): stop.
mkdir -p "$work/shlibs/debian"
printf 'Source: mynapoint\n\nPackage: mynapoint\nArchitecture: any\n' >"$work/shlibs/debian/control"
depends=$(cd "$work/shlibs" && dpkg-shlibdeps -O "$stage/usr/bin/mynapoint" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
expected="libc6 libgcc-s1 libpcsclite1 libpq5 libssl3 libstdc++6 libzstd1"
found=$(tr ',' '\n' <<<"$depends" | sed -E 's/^ *//; s/ .*//' | sort -u | tr '\n' ' ' | sed 's/ $//')
if [ "$found" != "$expected" ]; then
    echo "package: the binary links packages '$found', expected '$expected'" >&2
    objdump -p "$stage/usr/bin/mynapoint" | grep NEEDED >&2
    exit 1
fi

size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat >"$stage/DEBIAN/control" <<EOF
Package: mynapoint
Version: $version
Architecture: $arch
Maintainer: mynapoint <dev@mynapoint.invalid>
Section: admin
Priority: optional
Installed-Size: $size
Depends: adduser, $depends
Recommends: postgresql-client, zstd
Description: batch settlement of the Mynapoint premium into PostgreSQL
 Settles cashless payment providers' record files: checks every file and line,
 grants the 25 % premium up to the cap exactly once in PostgreSQL, and writes a
 result file per input file. Finance reports, run history, MyKey ID
 registration with the My Number card, and an hourly systemd timer.
EOF

mkdir -p "$output"
deb="$output/mynapoint_${version}_${arch}.deb"
# xz at level 1: 18 MB in 10 s here, against 15 MB in 37 s at the default level, which CI would pay on every run.
dpkg-deb --root-owner-group -Zxz -z1 --build "$stage" "$deb" >&2
echo "$deb"
