#!/usr/bin/env bash
# The intake fuzz test at length, against a private PostgreSQL: seeded mutations of provider drops settled by the
# built binary, checked against the invariants of settlement spec §7.2 and §11.
# Usage: Scripts/fuzz.sh [ITERATIONS] [SEED]   (defaults: 500 iterations, a seed from the clock, printed first)
# A failure names its iteration's seed; MYNAPOINT_FUZZ_SEED=<it> MYNAPOINT_FUZZ_ITERATIONS=1 replays it alone.
set -euo pipefail
cd "$(dirname "$0")/.."
iterations=${1:-500}
seed=${2:-$(date +%s)}
echo "fuzz: $iterations iterations from seed $seed" >&2
Scripts/install-deps.sh

# shellcheck source=Scripts/services.sh
source Scripts/services.sh
trap stop_services EXIT
start_postgres "$(pwd)/.build/services/fuzz-postgres"

swift build --build-tests 2>&1 | grep -E "error|Build complete" || true
MYNAPOINT_FUZZ_SEED=$seed MYNAPOINT_FUZZ_ITERATIONS=$iterations \
    swift test --skip-build --parallel --filter IntakeFuzzTests
