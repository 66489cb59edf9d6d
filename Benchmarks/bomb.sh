#!/usr/bin/env bash
# Zstd bombs: data files of 2 GiB or more decompressed and a few hundred KiB compressed, each settled by the
# release binary under /usr/bin/time -v. Asserts the quarantine code (settlement spec §11.2) and that the peak
# resident set size stays under a bound: memory must not grow with the compression ratio.
# Usage: Benchmarks/bomb.sh [BOUND_MIB] [GIB]   (defaults: 300 MiB, 2 GiB decompressed per file)
set -euo pipefail
cd "$(dirname "$0")/.."
bound_mib=${1:-300}
gib=${2:-2}
Scripts/install-deps.sh
if [ ! -x /usr/bin/time ]; then
    sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends time >/dev/null
fi

swift build -c release --product mynapoint 2>&1 | grep -E "error|Build complete" || true
bin=$(swift build -c release --show-bin-path)/mynapoint
work=$(pwd)/.build/bomb
rm -rf "$work/runs"
mkdir -p "$work/data" "$work/runs"

# shellcheck source=Scripts/services.sh
source Scripts/services.sh
trap stop_services EXIT
start_postgres "$work/postgres"
psql -qX -d postgres -c "CREATE DATABASE bomb" >/dev/null
export PGDATABASE=bomb
"$bin" migrate >/dev/null
"$bin" generate --registry "$work/registry" --inbox "$work/generated" --holders 10 --records 10 --providers 1 \
    --files-per-provider 1 --seed 1 >/dev/null
"$bin" registry import "$work/registry" >/dev/null

header='record_id,mykey_id,kind,amount_yen,occurred_at'
line='R1,AAAA0001,charge,100,2021-03-01T00:00:00+09:00'
bytes=$((gib * 1024 * 1024 * 1024))

# make NAME — writes $work/data/NAME.csv.zst (the header, then $bytes bytes of the variant's body) once.
make_bomb() {
    local name=$1 file="$work/data/$1.csv.zst"
    [ -f "$file" ] && return 0
    echo "== making $name ($gib GiB decompressed)" >&2
    {
        printf '%s\n' "$header"
        case $name in
        endless-line) head -c "$bytes" /dev/zero | tr '\0' 'A' ;;
        empty-lines) (yes '' || true) | head -c "$bytes" ;;
        lines-beyond-declared) (yes "$line" || true) | head -c "$bytes" ;;
        esac
    } | zstd -q -3 -T1 -f -o "$file.tmp"
    mv "$file.tmp" "$file"
}

results=()
# run VARIANT BODY RECORDS EXPECTED_CODE EXPECTED_LINE [settle flags…]
run() {
    local variant=$1 body=$2 records=$3 code=$4 expected_line=$5
    shift 5
    local dir="$work/runs/$variant" stem="P0001_20210105_$(printf %04d $((${#results[@]} + 1)))"
    make_bomb "$body"
    mkdir -p "$dir/inbox"
    cp "$work/data/$body.csv.zst" "$dir/inbox/$stem.csv.zst"
    local sha
    sha=$(sha256sum "$dir/inbox/$stem.csv.zst" | cut -d' ' -f1)
    printf '{"format": "mynapoint-records/1", "file": "%s", "sha256": "%s", "records": %d, "amount_total": %d}' \
        "$stem.csv.zst" "$sha" "$records" "$((records * 100))" >"$dir/inbox/$stem.ctl"
    local command=("$bin" settle --inbox "$dir/inbox" --outbox "$dir/outbox" --archive "$dir/archive"
        --quarantine "$dir/quarantine" --workers 1 "$@")
    echo "== $variant: ${command[*]}" >&2
    local status=0
    /usr/bin/time -v -o "$dir/time.txt" "${command[@]}" >"$dir/stdout.txt" 2>"$dir/stderr.txt" || status=$?
    local rss_kib wall found_code found_line
    rss_kib=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$dir/time.txt")
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { print $2 }' "$dir/time.txt")
    found_code=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["code"])' \
        "$dir/quarantine/$stem.error.json" 2>/dev/null || echo none)
    found_line=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["line"])' \
        "$dir/quarantine/$stem.error.json" 2>/dev/null || echo none)
    local verdict=ok
    if [ "$status" -ne 3 ]; then
        verdict="FAIL: exit $status, expected 3 ($(tail -1 "$dir/stderr.txt"))"
    elif [ "$found_code" != "$code" ] || [ "$found_line" != "$expected_line" ]; then
        verdict="FAIL: quarantined $found_code line $found_line, expected $code line $expected_line"
    elif [ ! -f "$dir/quarantine/$stem.csv.zst" ]; then
        verdict="FAIL: the data file is not in quarantine"
    elif [ "$rss_kib" -ge $((bound_mib * 1024)) ]; then
        verdict="FAIL: peak RSS $((rss_kib / 1024)) MiB, bound $bound_mib MiB"
    fi
    local compressed
    compressed=$(stat -c %s "$dir/inbox/$stem.csv.zst" 2>/dev/null || stat -c %s "$dir/quarantine/$stem.csv.zst")
    results+=("$(printf '%-34s %9s %11s %-17s %6s %9s %9s  %s' "$variant" "$((bytes / 1048576))" "$compressed" \
        "$found_code" "$found_line" "$wall" "$((rss_kib / 1024))" "$verdict")")
}

run endless-line endless-line 1 TOO_LARGE 2
run endless-line-16MiB-lines endless-line 1 TOO_LARGE 2 --max-line-bytes 16777216
run empty-lines-streamed-whole empty-lines 1 CONTROL_MISMATCH None
run empty-lines-over-max-file-bytes empty-lines 1 TOO_LARGE None --max-file-bytes 1073741824
run lines-beyond-declared lines-beyond-declared 1000 CONTROL_MISMATCH 1002
run lines-beyond-max-file-records lines-beyond-declared 1000 TOO_LARGE 1002 --max-file-records 1000

echo
echo "bound: peak RSS < $bound_mib MiB; body: $gib GiB after the header line; release build, --workers 1"
printf '%-34s %9s %11s %-17s %6s %9s %9s  %s\n' variant "body MiB" "zst bytes" code line wall "RSS MiB" verdict
failed=0
for row in "${results[@]}"; do
    echo "$row"
    [[ $row == *FAIL* ]] && failed=1
done
exit "$failed"
