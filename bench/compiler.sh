#!/usr/bin/env bash
# Compiler benchmark: `thrift-mu2sls -r --gen rust` against Apache
# `thrift -r --gen rs` on one seeded synthetic IDL (BENCHMARKS.md,
# "Compiler"). Both compile the same files, runs are interleaved (and the
# order alternates), and the table gives medians and the ratios.
#
#   bench/compiler.sh                 # seed 42, 50,000 lines, 5 runs each
#   SEED=7 LINES=80000 RUNS=9 bench/compiler.sh
#
# Needs Apache Thrift on PATH (or THRIFT=/path/to/thrift) and GNU time at
# /usr/bin/time (Debian packages `thrift-compiler` and `time`). Wall time is
# taken around each run from bash's microsecond clock, peak RSS from
# `/usr/bin/time -v` ("Maximum resident set size"). Takes under two minutes
# after the build while thrift-mu2sls is no slower than Apache (RUNS x both
# run times). Not for CI: timings need a quiet machine.
set -euo pipefail

if [[ -n "${CI:-}" ]]; then
    echo "bench/compiler.sh: a benchmark, not a test; not run in CI" >&2
    exit 1
fi

export LC_ALL=C
seed=${SEED:-42}
lines=${LINES:-50000}
runs=${RUNS:-5}
thrift=${THRIFT:-thrift}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
gnu_time=/usr/bin/time

die() {
    echo "bench/compiler.sh: $*" >&2
    exit 1
}

[[ -x $gnu_time ]] || die "$gnu_time is missing: install GNU time (Debian package \`time\`)"
command -v "$thrift" >/dev/null || die "Apache \`$thrift\` is not on PATH: install Thrift 0.17 (Debian package \`thrift-compiler\`) or set THRIFT"
((runs >= 1)) || die "RUNS must be at least 1"

echo "building thrift-mu2sls and synth-idl (release)..." >&2
(cd "$root" && cargo build --quiet --release -p thrift-gen --bin thrift-mu2sls -p mu2sls-tests --bin synth-idl)
ours=$target/release/thrift-mu2sls
synth=$target/release/synth-idl

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
idl=$work/idl
"$synth" --seed "$seed" --lines "$lines" --out "$idl" >/dev/null
line_count=$(cat "$idl"/*.thrift | wc -l)
file_count=$(find "$idl" -name '*.thrift' | wc -l)

# One output file per program; ours adds a mod.rs.
expected_apache=()
for f in "$idl"/*.thrift; do
    expected_apache+=("$(basename "$f" .thrift).rs")
done
expected_ours=("${expected_apache[@]}" mod.rs)

# run NAME: one timed run into a fresh, empty output directory (ours leaves
# files whose contents are unchanged alone, so a reused directory would be a
# different workload). Appends "wall_seconds rss_kib cpu_seconds" to
# $work/NAME.results; CPU time (user + system) is the steadier figure when
# other work shares the machine.
run() {
    local name=$1 out=$work/out-$1 log=$work/$1.log timing=$work/$1.time
    local -a cmd expected
    rm -rf "$out"
    mkdir "$out"
    if [[ $name == apache ]]; then
        cmd=("$thrift" -r --gen rs -out "$out" top.thrift)
        expected=("${expected_apache[@]}")
    else
        cmd=("$ours" -r --gen rust -out "$out" top.thrift)
        expected=("${expected_ours[@]}")
    fi
    local start=$EPOCHREALTIME status=0
    (cd "$idl" && "$gnu_time" -v -o "$timing" "${cmd[@]}" >"$log" 2>&1) || status=$?
    local end=$EPOCHREALTIME
    if ((status != 0)); then
        tail -n 20 "$log" >&2
        die "$name exited with status $status: ${cmd[*]}"
    fi
    local f
    for f in "${expected[@]}"; do
        [[ -s $out/$f ]] || die "$name wrote no (or an empty) $f in $out"
    done
    local rss cpu
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$timing")
    cpu=$(awk -F': ' '/User time \(seconds\)|System time \(seconds\)/ {t += $2} END {print t}' "$timing")
    [[ -n $rss && -n $cpu ]] || die "no peak RSS or CPU time in the output of $gnu_time -v"
    awk -v s="$start" -v e="$end" -v r="$rss" -v c="$cpu" 'BEGIN { printf "%.4f %d %.2f\n", e - s, r, c }' >>"$work/$name.results"
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
# Warm the page cache for Apache (ours was just built), then measure,
# alternating who goes first.
run apache
rm -f "$work"/*.results
for ((i = 0; i < runs; i++)); do
    if ((i % 2 == 0)); then
        run apache
        run ours
    else
        run ours
        run apache
    fi
done

# median COLUMN FILE
median() {
    awk -v c="$1" '{print $c}' "$2" | sort -g | awk '{v[NR] = $1} END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
range() {
    awk -v c="$1" '{print $c}' "$2" | sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%.2f–%.2f", lo, hi}'
}

a_wall=$(median 1 "$work/apache.results")
o_wall=$(median 1 "$work/ours.results")
a_rss=$(median 2 "$work/apache.results")
o_rss=$(median 2 "$work/ours.results")
a_cpu=$(median 3 "$work/apache.results")
o_cpu=$(median 3 "$work/ours.results")
ours_lines=$(cat "$work"/out-ours/*.rs | wc -l)
apache_lines=$(cat "$work"/out-apache/*.rs | wc -l)

cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
cat <<EOF
Compiler benchmark: $file_count files, $line_count lines (synth-idl --seed $seed --lines $lines), $runs interleaved runs each

| compiler | median wall | wall min–max | median CPU (user+sys) | median peak RSS | generated Rust |
|---|---|---|---|---|---|
| Apache \`thrift -r --gen rs\` | $(printf '%.3f' "$a_wall") s | $(range 1 "$work/apache.results") s | $(printf '%.2f' "$a_cpu") s | $(awk -v r="$a_rss" 'BEGIN {printf "%.1f", r / 1024}') MiB | $apache_lines lines |
| \`thrift-mu2sls -r --gen rust\` | $(printf '%.3f' "$o_wall") s | $(range 1 "$work/ours.results") s | $(printf '%.2f' "$o_cpu") s | $(awk -v r="$o_rss" 'BEGIN {printf "%.1f", r / 1024}') MiB | $ours_lines lines |
| ratio (target) | Apache/ours $(awk -v a="$a_wall" -v o="$o_wall" 'BEGIN {printf "%.2f", a / o}') (≥ 2) | | Apache/ours $(awk -v a="$a_cpu" -v o="$o_cpu" 'BEGIN {printf "%.2f", a / o}') | ours/Apache $(awk -v a="$a_rss" -v o="$o_rss" 'BEGIN {printf "%.2f", o / a}') (≤ 0.5) | ours/Apache $(awk -v a="$apache_lines" -v o="$ours_lines" 'BEGIN {printf "%.2f", o / a}') |

- CPU: $cpu, $(nproc) cores; kernel $(uname -r); load average at the start: $load_start, at the end: $(cut -d' ' -f1-3 /proc/loadavg)
- $(rustc --version); $("$thrift" --version); thrift-mu2sls $("$ours" --version | awk '{print $2}')
EOF
