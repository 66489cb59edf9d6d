#!/usr/bin/env bash
# Builds the Debian package and tests it on this machine as an administrator would use it: dpkg -i, the installed
# binary, user, folders and configuration, systemd-analyze verify on the installed units, then dpkg --purge, after
# which nothing of it may be left. Needs root (it installs a package); Scripts/test.sh runs it, and CI runs that.
# Usage: Scripts/package-test.sh [PATH.deb]   (without an argument it runs Scripts/package.sh first)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
    if [ -n "${CI:-}" ]; then
        echo "package-test: must run as root in CI (it installs and purges the package)" >&2
        exit 1
    fi
    echo "package-test: SKIPPED: not root; installing a package needs root (run Scripts/test.sh as root, as CI does)"
    exit 0
fi

# One package test at a time on a machine, whoever starts it: two would install and purge the same package.
exec 9>/run/lock/mynapoint-package-test.lock
flock 9

deb=${1:-}
if [ -z "$deb" ]; then
    deb=$(Scripts/package.sh | tail -n 1)
fi
version=$(dpkg-deb --field "$deb" Version)

passed=0
failed=0
output=$(mktemp)
trap 'rm -f "$output"' EXIT
check() { # check DESCRIPTION COMMAND... — runs the command, counts the outcome; its output only on failure
    local what=$1
    shift
    if "$@" >"$output" 2>&1; then
        passed=$((passed + 1))
        echo "  ok    $what"
    else
        failed=$((failed + 1))
        echo "  FAIL  $what"
        sed 's/^/        /' "$output"
    fi
}
mode_owner() { [ "$(stat -c '%a %U:%G' "$1")" = "$2" ]; }
absent_user() { ! getent passwd mynapoint >/dev/null && ! getent group mynapoint >/dev/null; }
# Everything on the machine whose path names the package, outside dpkg's and apt's own records and logs.
traces() {
    find /etc /srv /usr /lib /var -xdev -name '*mynapoint*' \
        -not -path '/var/lib/dpkg/*' -not -path '/var/cache/*' -not -path '/var/log/apt/*' \
        -not -path '/var/tmp/*' 2>/dev/null | sort
}

if dpkg-query -W -f='${Status}' mynapoint 2>/dev/null | grep -q 'install ok installed'; then
    echo "package-test: mynapoint is already installed here; it is replaced and purged by this test" >&2
    dpkg --purge mynapoint >/dev/null
fi
before=$(traces)

echo "== package test: $deb"
check "dpkg -i installs it" dpkg -i "$deb"
check "mynapoint --version prints $version" test "$(/usr/bin/mynapoint --version)" = "$version"
check "the binary needs no Swift toolchain library" \
    bash -c "! ldd /usr/bin/mynapoint | grep -Eq 'not found|libswift|libFoundation|/usr/share/swift'"
check "it runs with an empty environment" env -i /usr/bin/mynapoint --help
check "the release binary has no fault injection (no crash points, no MYNAPOINT_CRASH_AT)" \
    bash -c '! grep -aqE "MYNAPOINT_CRASH_AT|grants-copy|before-commit" /usr/bin/mynapoint'
check "system user mynapoint, no login" \
    bash -c 'getent passwd mynapoint | grep -Eq "^mynapoint:[^:]*:[0-9]+:[0-9]+:[^:]*:/var/lib/mynapoint:/usr/sbin/nologin$"'
for folder in inbox outbox archive quarantine; do
    check "/srv/mynapoint/$folder is mynapoint:mynapoint 0750" mode_owner /srv/mynapoint/$folder "750 mynapoint:mynapoint"
done
check "/srv/mynapoint/providers is root:mynapoint 0750 (sshd chroots below it)" \
    mode_owner /srv/mynapoint/providers "750 root:mynapoint"
check "/etc/mynapoint/mynapoint.json is a conffile" \
    bash -c "dpkg-query -W -f='\${Conffiles}' mynapoint | grep -q '/etc/mynapoint/mynapoint.json '"
check "/etc/mynapoint/mynapoint.json is root:mynapoint 0640" mode_owner /etc/mynapoint/mynapoint.json "640 root:mynapoint"
check "the configuration is the repository's default" cmp -s /etc/mynapoint/mynapoint.json Config/mynapoint.json
check "units, scripts and cron example name no /usr/local path" \
    bash -c '! grep -l /usr/local /lib/systemd/system/mynapoint* /usr/lib/mynapoint/* /usr/share/doc/mynapoint/examples/*'
check "the scripts are executable" test -x /usr/lib/mynapoint/mynapoint-alert -a -x /usr/lib/mynapoint/mynapoint-collect \
    -a -x /usr/lib/mynapoint/mynapoint-settle-cron
check "the service user can run it" runuser -u mynapoint -- /usr/bin/mynapoint --version

if command -v systemd-analyze >/dev/null; then
    # verify loads the units as systemd would (directives, ExecStart= binaries, the user); it needs no running
    # systemd, so it works in a container. The template is verified through an instance of it.
    # Unknown keys are only warnings (exit 0), so any line about our units fails the check too.
    verify() {
        local log
        log=$(SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no \
            /lib/systemd/system/mynapoint-settle.service /lib/systemd/system/mynapoint-settle.timer \
            mynapoint-alert@mynapoint-settle.service.service 2>&1) || { echo "$log"; return 1; }
        echo "$log"
        ! grep -q mynapoint <<<"$log"
    }
    check "systemd-analyze verify: the installed units" verify
    check "the timer's calendar is valid" systemd-analyze calendar '*-*-* *:10:00 Asia/Tokyo' >/dev/null
else
    check "systemd-analyze is installed (Scripts/install-deps.sh installs systemd)" false
fi
# What an administrator does after configuring; purge must undo it too. Works without a running systemd.
check "systemctl enable mynapoint-settle.timer" systemctl enable mynapoint-settle.timer --quiet

check "dpkg --purge removes it" dpkg --purge mynapoint
check "no mynapoint user or group left" absent_user
check "no /srv/mynapoint left" test ! -e /srv/mynapoint
# Purge keeps drop folders that hold files (the providers' data) and the user that owns them.
check "dpkg -i installs it again" dpkg -i "$deb"
check "a file in the archive" install -o mynapoint -g mynapoint -m 0640 /dev/null /srv/mynapoint/archive/kept.csv.zst
check "dpkg --purge removes it" dpkg --purge mynapoint
check "the archive with its file is kept" test -f /srv/mynapoint/archive/kept.csv.zst
check "and so is its owner" getent passwd mynapoint
check "the empty folders are not" test ! -e /srv/mynapoint/inbox -a ! -e /srv/mynapoint/quarantine
rm -rf /srv/mynapoint
userdel mynapoint 2>/dev/null || true
groupdel mynapoint 2>/dev/null || true

after=$(traces)
leftover=$(comm -13 <(echo "$before") <(echo "$after"))
[ -z "$leftover" ] || echo "$leftover" | sed 's/^/    left behind: /'
check "nothing named mynapoint left on the machine" test -z "$leftover"

echo "package: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
