#!/usr/bin/env bash
# Echo RPC benchmark (BENCHMARKS.md, "RPC echo"): thrift-mu2sls's server
# against Volo's and Apache's `TServer`, one load generator for all
# (`rpc-load`). Never run by CI.
#
# Each run starts one server pinned to SERVER_CPU, waits for its port, runs
# `rpc-load` pinned to LOAD_CPU, and stops the server. Three scenarios:
#   cross-1   server on SERVER_CPU, load on LOAD_CPU, concurrency 1
#   cross-64  the same, concurrency 64
#   same-1    server and load both on SERVER_CPU, concurrency 1
# Rounds are interleaved (every server in every scenario once per round,
# the server order rotating), and the table gives per-cell medians.
#
#   bench/rpc.sh                                  # ROUNDS=3 WARMUP=5 DURATION=10
#   ROUNDS=1 WARMUP=1 DURATION=3 bench/rpc.sh     # smoke run, about a minute
#
# Settings (environment): ROUNDS, WARMUP and DURATION (seconds), SIZE
# (string bytes, 64), WORKERS (tokio worker threads for ours and Volo, 1),
# RUNTIME (multi or current, multi), APACHE_WORKERS (TServer threads, 64),
# SERVERS ("ours volo apache"), SCENARIOS ("cross-1 cross-64 same-1"),
# SERVER_CPU (0), LOAD_CPU (1), PORT (first port, 19100; each run takes the
# next), OUT (raw results file).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

rounds=${ROUNDS:-3}
warmup=${WARMUP:-5}
duration=${DURATION:-10}
size=${SIZE:-64}
workers=${WORKERS:-1}
runtime=${RUNTIME:-multi}
apache_workers=${APACHE_WORKERS:-64}
servers=(${SERVERS:-ours volo apache})
scenarios=(${SCENARIOS:-cross-1 cross-64 same-1})
server_cpu=${SERVER_CPU:-0}
load_cpu=${LOAD_CPU:-1}
port=${PORT:-19100}
out=${OUT:-${TMPDIR:-/tmp}/rpc-bench-$(date -u +%Y%m%dT%H%M%SZ).txt}

cargo build --release --bin rpc-load --bin rpc-ours --bin rpc-volo --bin rpc-apache >&2
bin=${CARGO_TARGET_DIR:-target}/release

load1() { cut -d' ' -f1 /proc/loadavg; }

# Waits until something accepts on port $1 (at most 10 s).
wait_port() {
    for _ in $(seq 200); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    echo "rpc.sh: nothing listens on port $1" >&2
    return 1
}

# run ROUND SCENARIO SERVER: one measurement, appended to $out.
run() {
    local round=$1 scenario=$2 server=$3 c load_on args pid line
    case $scenario in
        cross-1) c=1 load_on=$load_cpu ;;
        cross-64) c=64 load_on=$load_cpu ;;
        same-1) c=1 load_on=$server_cpu ;;
        *) echo "rpc.sh: unknown scenario $scenario" >&2; exit 2 ;;
    esac
    case $server in
        apache) args=(--workers "$apache_workers") ;;
        ours | volo) args=(--workers "$workers" --runtime "$runtime") ;;
        *) echo "rpc.sh: unknown server $server" >&2; exit 2 ;;
    esac
    port=$((port + 1))
    # taskset execs the server, so $! is the server's own pid. It ends by
    # itself after --max-seconds if this script dies first.
    taskset -c "$server_cpu" "$bin/rpc-$server" --port "$port" "${args[@]}" \
        --max-seconds $((warmup + duration + 60)) >/dev/null 2>&1 &
    pid=$!
    wait_port "$port"
    local before
    before=$(load1)
    line=$(taskset -c "$load_on" "$bin/rpc-load" --port "$port" --concurrency "$c" --warmup "$warmup" \
        --duration "$duration" --size "$size" --server-pid "$pid")
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    line="round=$round scenario=$scenario server=$server load1_before=$before load1_after=$(load1) $line"
    echo "$line" >>"$out"
    echo "$line" >&2
}

echo "rpc.sh: $(date -u +%FT%TZ) $(nproc) cores, $(uptime | sed 's/.*load/load/'); raw results in $out" >&2
echo "# rounds=$rounds warmup=$warmup duration=$duration size=$size workers=$workers runtime=$runtime apache_workers=$apache_workers" >"$out"
for ((r = 1; r <= rounds; r++)); do
    for scenario in "${scenarios[@]}"; do
        n=${#servers[@]}
        for ((i = 0; i < n; i++)); do
            run "$r" "$scenario" "${servers[$(((i + r - 1) % n))]}"
        done
    done
done
echo "rpc.sh: done $(date -u +%FT%TZ), $(uptime | sed 's/.*load/load/')" >&2

python3 - "$out" <<'EOF'
import statistics, sys
rows = [dict(kv.split("=", 1) for kv in line.split()) for line in open(sys.argv[1]) if not line.startswith("#")]
cells = {}
for r in rows:
    cells.setdefault((r["scenario"], r["server"]), []).append(r)
def med(rs, key):
    return statistics.median(float(r[key]) for r in rs)
cols = [("rps", "req/s", "{:,.0f}"), ("p50_us", "p50 µs", "{:.1f}"), ("p99_us", "p99 µs", "{:.1f}"),
        ("server_us_per_call", "server CPU µs/call", "{:.2f}"), ("server_cpu", "server CPU", "{:.2f}"),
        ("gen_us_per_call", "load CPU µs/call", "{:.2f}"), ("gen_cpu", "load CPU", "{:.2f}"),
        ("load1_before", "load avg", "{:.1f}")]
print("| scenario | server | runs | " + " | ".join(c[1] for c in cols) + " |")
print("|---|---|---:|" + "---:|" * len(cols))
for (scenario, server), rs in sorted(cells.items(), key=lambda kv: (kv[0][0], ["ours", "volo", "apache"].index(kv[0][1]) if kv[0][1] in ("ours", "volo", "apache") else 9)):
    print(f"| {scenario} | {server} | {len(rs)} | " + " | ".join(f.format(med(rs, k)) for k, _, f in cols) + " |")
print()
print("| scenario | req/s ours/volo | req/s ours/apache | p50 ours/volo | p99 ours/volo | p50 ours/apache | p99 ours/apache |")
print("|---|---:|---:|---:|---:|---:|---:|")
for scenario in sorted({s for s, _ in cells}):
    ours = cells.get((scenario, "ours"))
    if not ours:
        continue
    def ratio(peer, key):
        rs = cells.get((scenario, peer))
        return f"{med(ours, key) / med(rs, key):.2f}" if rs else "-"
    print(f"| {scenario} | {ratio('volo', 'rps')} | {ratio('apache', 'rps')} | {ratio('volo', 'p50_us')} | "
          f"{ratio('volo', 'p99_us')} | {ratio('apache', 'p50_us')} | {ratio('apache', 'p99_us')} |")
EOF
