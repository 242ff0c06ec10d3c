#!/usr/bin/env bash
# The readers on files of at least 1,000,000 data rows per delivery format.
#
#   benches/readers.sh              # every format, best of 3 runs each
#   RUNS=1 FORMATS="gbk_csv xlsx" benches/readers.sh
#
# Builds examples/read_1m.rs with the `perf` profile, writes the files once
# (deterministic, under target/bench-worlds/rows-1m/; see hedui-benches'
# src/big.rs), then reads each format through its adapter in a process of
# its own — so that its peak RSS (VmHWM, reset before each run) is its own —
# and prints a table: rows, MB, MB/s, rows/s, RSS before the read, RSS with
# the adapter's output still held after it, and peak RSS during it. The
# output (the records a batch keeps) is most of the peak; peak − "with
# output" is what reading needed on top (a few 64 KiB buffers and one row
# for the streaming readers, plus growth of the record vectors).
# The table is also written to target/bench-worlds/rows-1m/readers.md.
#
# The same files are benchmarked with divan (MB/s only) by
#   cargo bench --profile perf -p hedui-benches --bench hot_paths -- read_1m
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RUNS="${RUNS:-3}"
FORMATS="${FORMATS:-gbk_csv bom_csv csv roster_csv jsonl banking_rsp xlsx}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
OUT="$ROOT/target/bench-worlds/rows-1m"

echo "building read_1m (profile perf)…" >&2
cargo build --quiet --profile perf -p hedui-benches --example read_1m --manifest-path "$ROOT/Cargo.toml"
BIN="$CARGO_TARGET_DIR/perf/examples/read_1m"

echo "writing the files (once)…" >&2
"$BIN" write

mkdir -p "$OUT"
RESULTS="$OUT/readers.jsonl"
: > "$RESULTS"
for f in $FORMATS; do
    echo "reading $f ($RUNS runs)…" >&2
    "$BIN" "$f" "$RUNS" | tee -a "$RESULTS" >&2
done

python3 - "$RESULTS" "$OUT/readers.md" "$(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- . ':!target' || echo '+changes')" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
lines = [
    f"Readers on 1M rows (commit {sys.argv[3]}, profile perf, best of the runs):",
    "",
    "| format | rows | MB | MB/s | rows/s | RSS before | RSS with output | peak RSS |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
]
for r in rows:
    lines.append(
        f"| {r['what']} | {r['rows']:,} | {r['mb']:.0f} | {r['mb_per_s']:.0f} | {r['rows_per_s']/1e6:.2f} M | "
        f"{r['rss_before_mib']:.0f} MiB | {r['rss_held_mib']:.0f} MiB | {r['peak_rss_mib']:.0f} MiB |"
    )
table = "\n".join(lines)
print(table)
open(sys.argv[2], "w").write(table + "\n")
PY
