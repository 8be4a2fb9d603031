#!/usr/bin/env bash
# Instructions per operation for every codec row (BENCHMARKS.md, "Codec"):
# each row runs under callgrind with N iterations and with none, and the
# difference is divided by N. Independent of machine load, unlike the
# criterion times; run it beside `cargo bench --bench codec`.
#
#   bench/instructions.sh            # N = 20000
#   N=5000 bench/instructions.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
n=${N:-20000}
cargo build --release --bin instructions >&2
bin=${CARGO_TARGET_DIR:-target}/release/instructions

count() { # row iterations -> instructions collected
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 \
        | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

printf '%-28s %12s %10s\n' row instr/op peer/ours
for payload in post echo; do
    for op in encode decode; do
        for proto in binary compact; do
            ours=
            for peer in ours pilota apache; do
                row=$op/$proto/$peer/$payload
                if [[ $row == decode/compact/pilota/post ]]; then
                    # Decodes wrongly (cloudwego/pilota#371): nothing to count.
                    printf '%-28s %12s %10s\n' "$row" "fails" "-"
                    continue
                fi
                base=$(count "$row" 0)
                full=$(count "$row" "$n")
                per=$(( (full - base) / n ))
                ours=${ours:-$per}
                printf '%-28s %12d %10s\n' "$row" "$per" "$(awk -v a="$per" -v b="$ours" 'BEGIN { printf "%.2f", a / b }')"
            done
        done
    done
done
