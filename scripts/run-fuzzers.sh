#!/bin/sh
# Runs every libFuzzer target in BUILD_DIR for SECONDS each, starting from the
# seed corpus in fuzz/corpus/<name>/ (kept out of the tree's seeds: new inputs
# go to a scratch copy). Fails on the first crash, leak or timeout.
set -eu
build_dir=$1
seconds=${2:-10}
src_dir=$(cd "$(dirname "$0")/.." && pwd)
found=0
for fuzzer in "$build_dir"/fuzz_*; do
    [ -x "$fuzzer" ] || continue
    found=1
    name=$(basename "$fuzzer")
    work=$(mktemp -d)
    if [ -d "$src_dir/fuzz/corpus/$name" ]; then
        cp -r "$src_dir/fuzz/corpus/$name/." "$work/"
    fi
    echo "fuzz: $name for ${seconds}s"
    "$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=0 "$work" >"$work.log" 2>&1 || {
        tail -n 60 "$work.log"
        echo "fuzz: $name FAILED (log: $work.log)"
        exit 1
    }
    grep -E "^#[0-9]+.*DONE|Done [0-9]+ runs" "$work.log" | tail -n 1 || true
    rm -rf "$work" "$work.log"
done
[ "$found" -eq 1 ] || echo "fuzz: no fuzz targets built"
