#!/usr/bin/env bash
# End-to-end benchmark of the nightly batch on generated worlds.
#
#   benches/e2e.sh                    # 10k, 100k and 1M households
#   SIZES="10000 100000" benches/e2e.sh
#
# For each size it generates a world (hedui generate, seed 1, cached under
# $WORK and reused while its world.json matches), starts the simulated HR and
# education departments (`hedui simulate --no-rate-limit`, zero latency),
# runs the production command `hedui run` against them with the engine's
# education rate limit lifted (HEDUI_EDUCATION_RATE_LIMIT=0) under
# /usr/bin/time -v, checks the outputs against the world's expected files
# (shared/tools/compare.py), and prints a table: wall time per phase (from
# the run's run.json: each source's seconds, rules, outputs, total), rows/s,
# peak RSS. The table is also written to $WORK/e2e-table.md.
#
# A size whose batch would not fit in this machine's memory (extrapolated
# linearly from the previous size's peak RSS, engine and simulator together)
# is generated but not run: its row says what it would need.
#
# The binary is built with the `perf` profile of the root Cargo.toml
# (release without LTO, 16 codegen units, incremental): optimized code in a
# fraction of a full release build's time.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SIZES="${SIZES:-10000 100000 1000000}"
AS_OF="${AS_OF:-2026-11-26}"
SEED="${SEED:-1}"
WORK="${WORK:-$ROOT/target/e2e}"
COMPARE="${COMPARE:-$ROOT/../shared/tools/compare.py}"
mkdir -p "$WORK"

# GNU time for peak RSS (`-v`): install it if missing.
if ! /usr/bin/time -v true >/dev/null 2>&1; then
    echo "installing GNU time…" >&2
    if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq time >/dev/null; else sudo apt-get update -qq && sudo apt-get install -y -qq time >/dev/null; fi
fi

echo "building hedui (profile perf)…" >&2
(cd "$ROOT" && cargo build --profile perf -p hedui-cli --bin hedui)
BIN="$ROOT/target/perf/hedui"
COMMIT="$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)"
DIRTY="$(cd "$ROOT" && git status --porcelain 2>/dev/null | grep -q . && echo "+changes" || true)"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

SIM_PID=""
cleanup() { if [ -n "$SIM_PID" ]; then kill "$SIM_PID" 2>/dev/null || true; wait "$SIM_PID" 2>/dev/null || true; fi; }
trap cleanup EXIT

ROWS=()
MEM_KB="$(awk '/MemTotal/ {print $2}' /proc/meminfo)"
PREV_N=""; PREV_KB=""
for n in $SIZES; do
    world="$WORK/w$n"
    want="{\"households\": $n, \"seed\": $SEED, \"as_of\": \"$AS_OF\"}"
    if ! python3 - "$world/world.json" "$n" "$SEED" "$AS_OF" <<'EOF' 2>/dev/null; then
import json, sys
m = json.load(open(sys.argv[1]))
ok = m["households"] == int(sys.argv[2]) and m["seed"] == int(sys.argv[3]) and m["as_of"] == sys.argv[4]
sys.exit(0 if ok else 1)
EOF
        echo "generating $n households…" >&2
        /usr/bin/time -v -o "$WORK/gen$n.time" "$BIN" generate --households "$n" --seed "$SEED" --as-of "$AS_OF" --out "$world" 2>"$WORK/gen$n.log"
    fi
    gen_s="$(grep -o 'written to .* in [0-9.]* s' "$WORK/gen$n.log" | grep -o '[0-9.]* s$' | tr -d ' s' || echo '?')"

    if [ -n "$PREV_N" ]; then
        need_kb=$(( PREV_KB * n / PREV_N ))
        if [ "$need_kb" -gt $(( MEM_KB * 9 / 10 )) ]; then
            echo "skipping the batch on $n households: it would need about $(( need_kb / 1048576 )) GiB (engine + simulator), the machine has $(( MEM_KB / 1048576 ))" >&2
            ROWS+=("| ${n} | — | — | — | ${gen_s} | not run: needs ≈ $(( need_kb / 1048576 )) GiB (engine + simulator, extrapolated from ${PREV_N}), machine has $(( MEM_KB / 1048576 )) GiB |||||||||||||||||")
            continue
        fi
    fi

    port="$(free_port)"
    "$BIN" simulate --world "$world" --port "$port" --no-rate-limit >"$WORK/sim$n.log" 2>&1 &
    SIM_PID=$!
    # The simulator reads the whole api/ folder before it listens (minutes at 1M).
    for _ in $(seq 1 1200); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
        if ! kill -0 "$SIM_PID" 2>/dev/null; then echo "the simulator died: $(cat "$WORK/sim$n.log")" >&2; exit 1; fi
        sleep 0.5
    done
    sim_rss_kb="$(awk '/VmRSS/ {print $2}' "/proc/$SIM_PID/status" 2>/dev/null || echo 0)"

    out="$WORK/out$n"
    rm -rf "$out" "$WORK/outbox$n"
    echo "running the batch on $n households…" >&2
    set +e
    HEDUI_HR_URL="http://127.0.0.1:$port" HEDUI_HR_TOKEN=hr-test-token \
    HEDUI_EDUCATION_URL="http://127.0.0.1:$port" HEDUI_EDUCATION_KEY=edu-test-key \
    HEDUI_EDUCATION_RATE_LIMIT=0 HEDUI_LOG=warn \
        /usr/bin/time -v -o "$WORK/run$n.time" "$BIN" run --as-of "$AS_OF" --inbox "$world/inbox" \
        --outbox "$WORK/outbox$n" --out "$out" --no-progress 2>"$WORK/run$n.log"
    rc=$?
    set -e
    cleanup
    SIM_PID=""
    if [ "$rc" != "$(cat "$world/expected/exit_code")" ]; then
        echo "hedui run exited $rc (expected $(cat "$world/expected/exit_code")); see $WORK/run$n.log" >&2
        exit 1
    fi
    agree="$(python3 "$COMPARE" "$out/latest" "$world/expected" | tail -1)"
    run_kb="$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/run$n.time")"
    PREV_N="$n"; PREV_KB=$(( run_kb + sim_rss_kb ))

    ROWS+=("$(python3 - "$out/latest/run.json" "$WORK/run$n.time" "$n" "$agree" "$sim_rss_kb" "$world" "$gen_s" <<'EOF'
import json, os, re, sys
m = json.load(open(sys.argv[1]))
t = open(sys.argv[2]).read()
def field(name):
    return re.search(re.escape(name) + r":\s*(.+)", t).group(1).strip()
wall = field("Elapsed (wall clock) time (h:mm:ss or m:ss)")
parts = [float(x) for x in wall.split(":")]
wall_s = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
rss_gib = int(field("Maximum resident set size (kbytes)")) / 1024 / 1024
src = {s["code"]: s for s in m["sources"]}
rows = sum(s["records"]["read"] for s in m["sources"]) + m["members"] + m["households"]
ts = m["timings_seconds"]
fetch = max(s["seconds"] for s in m["sources"])
size = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(os.path.join(sys.argv[6], "inbox")) for f in fs) / 1e9
order = ["public_security", "hr_social_security", "health", "market_regulation", "banking", "education", "housing", "disability"]
cells = [f"{int(sys.argv[3]):,}", f"{m['members']:,}", f"{rows:,}", f"{size:.2f}", sys.argv[7]]
cells += [f"{src[c]['seconds']:.1f}" if c in src else "-" for c in order]
cells += [f"{fetch:.1f}", f"{ts.get('rules', 0):.1f}", f"{ts.get('outputs', 0):.1f}", f"{ts.get('total', 0):.1f}", f"{wall_s:.1f}", f"{rows / wall_s:,.0f}", f"{rss_gib:.2f}", f"{int(sys.argv[5]) / 1024 / 1024:.2f}", sys.argv[4]]
print("| " + " | ".join(cells) + " |")
EOF
)")
done

{
    echo "Measured on commit \`$COMMIT$DIRTY\`, $(date -u +%Y-%m-%d), $(nproc) cores, profile perf; as of $AS_OF, seed $SEED."
    echo
    echo "| households | persons | rows read | inbox GB | generate s | public_security s | hr s | health s | market s | banking s | education s | housing s | disability s | fetch (all, concurrent) s | rules s | outputs s | total s | wall s | rows/s | peak RSS GiB | simulator RSS GiB | vs truth |"
    echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    printf '%s\n' "${ROWS[@]}"
} | tee "$WORK/e2e-table.md"
