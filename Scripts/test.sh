#!/usr/bin/env bash
# Runs the whole test suite against a private PostgreSQL and a real pcscd, then stops both.
# Usage: Scripts/test.sh [extra arguments for swift test]
set -euo pipefail
cd "$(dirname "$0")/.."
Scripts/install-deps.sh

# shellcheck source=Scripts/services.sh
source Scripts/services.sh
trap stop_services EXIT
work=$(pwd)/.build/services
start_postgres "$work/postgres"
start_pcscd "$work/pcscd"

echo "== swift format lint"
swift format lint --strict -r Sources Tests Package.swift
swift build --build-tests

# The Debian package, built, installed, verified and purged (a release build: a few minutes). Run before the
# suite so that the suite's summary stays the last thing printed; a failure here still fails the whole run.
echo "== package"
package_status=0
Scripts/package-test.sh || package_status=$?

swift test --skip-build --parallel "$@" 2>&1 | tee .build/test-output.txt
status=${PIPESTATUS[0]}
if [ "$status" -eq 0 ] && [ "$package_status" -ne 0 ]; then
    echo "test.sh: the package test failed (exit $package_status); see '== package' above" >&2
    status=$package_status
fi
exit "$status"
