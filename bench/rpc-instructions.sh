#!/usr/bin/env bash
# User-space instructions per echo call of each server (BENCHMARKS.md,
# "RPC echo"), counted by callgrind: unlike req/s, they do not depend on
# what else the machine runs. The kernel's share (TCP over loopback, the
# system calls) is not counted. Never run by CI.
#
# Each server runs under callgrind (pinned to SERVER_CPU) while `rpc-load`
# drives it at concurrency C for DURATION seconds, then exits by itself;
# its whole-run instruction count (start-up included, well under 1%) is
# divided by every call it answered.
#
#   bench/rpc-instructions.sh                  # C=64 DURATION=8
#   C=1 SERVERS="ours volo" bench/rpc-instructions.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

c=${C:-64}
duration=${DURATION:-8}
servers=(${SERVERS:-ours volo apache})
server_cpu=${SERVER_CPU:-0}
load_cpu=${LOAD_CPU:-1}
port=${PORT:-19300}
cargo build --release --bin rpc-load --bin rpc-ours --bin rpc-volo --bin rpc-apache >&2
bin=${CARGO_TARGET_DIR:-target}/release
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

printf '%-8s %12s %14s %10s\n' server calls instructions instr/call
for server in "${servers[@]}"; do
    port=$((port + 1))
    args=()
    [[ $server == apache ]] && args=(--workers 64)
    # Up to 20 s to start under callgrind, then the load; the server then
    # exits by itself and callgrind writes its totals.
    taskset -c "$server_cpu" valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        "$bin/rpc-$server" --port "$port" "${args[@]}" --max-seconds $((duration + 22)) 2>"$tmp/$server.log" &
    pid=$!
    for _ in $(seq 400); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
        sleep 0.05
    done
    line=$(taskset -c "$load_cpu" "$bin/rpc-load" --port "$port" --concurrency "$c" --warmup 0 --duration "$duration")
    wait "$pid" || true
    calls=$(sed -n 's/.*all_calls=\([0-9]*\).*/\1/p' <<<"$line")
    instr=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$tmp/$server.log")
    printf '%-8s %12s %14s %10.0f\n' "$server" "$calls" "$instr" "$(bc -l <<<"$instr / $calls")"
done
