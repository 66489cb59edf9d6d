#!/usr/bin/env bash
# The main job end to end on a private PostgreSQL: build, migrate, generate a demo drop, settle it, report.
# Usage: Scripts/demo.sh [records]   (default 200000)
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-200000}
Scripts/install-deps.sh

echo "== building (release)"
swift build -c release --product mynapoint 2>&1 | grep -E "error|warning: [^p]|Compiling mynapoint|Build complete" || true
bin=$(swift build -c release --show-bin-path)/mynapoint

# shellcheck source=Scripts/services.sh
source Scripts/services.sh
trap stop_services EXIT
demo=$(pwd)/.build/demo
rm -rf "$demo"
mkdir -p "$demo"
start_postgres "$demo/postgres"

echo "== mynapoint migrate"
"$bin" migrate
echo "== mynapoint generate (a registry and a drop of $records records over 4 providers, with some bad input)"
"$bin" generate --registry "$demo/registry" --inbox "$demo/inbox" --holders $((records / 3 + 100)) \
    --records "$records" --providers 4 --files-per-provider 2 --faults
echo "== mynapoint registry import"
"$bin" registry import "$demo/registry"
echo "== mynapoint settle"
set +e
"$bin" settle --inbox "$demo/inbox" --outbox "$demo/outbox" --archive "$demo/archive" \
    --quarantine "$demo/quarantine" --summary-json "$demo/summary.json"
status=$?
set -e
echo "(exit $status: 0 all settled, 3 some file quarantined — the demo drop includes bad files on purpose)"
[ "$status" -eq 0 ] || [ "$status" -eq 3 ] || exit "$status"
echo "== result files"
find "$demo/outbox" -type f | sort | head -20
echo "== first result rows of one file"
zstd -dc "$demo/outbox/P0001/P0001_20210105_0001.result.csv.zst" | head -8 || true
echo "== quarantine"
ls "$demo/quarantine"
echo "== mynapoint report --format json"
"$bin" report --format json
echo "== a second run finds nothing new (exactly once)"
"$bin" settle --inbox "$demo/inbox" --outbox "$demo/outbox" --archive "$demo/archive" --quarantine "$demo/quarantine"
echo "demo files are in $demo"
