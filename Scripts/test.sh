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
swift test --skip-build --parallel "$@" 2>&1 | tee .build/test-output.txt
status=${PIPESTATUS[0]}
exit "$status"
