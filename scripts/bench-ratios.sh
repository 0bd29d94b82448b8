#!/usr/bin/env bash
# Runs the benchmarks that have a baseline (BenchmarkX and BenchmarkXBaseline,
# measured in the same run) and prints each as a ratio to its baseline, so
# the figures hold on any machine.
set -euo pipefail
out=$(go test -run '^$' -bench . -benchmem -count "${BENCH_COUNT:-3}" ./shared/kapso/ ./shared/meta/ "$@")
echo "$out" | awk '
  /^Benchmark/ {
    name=$1; sub(/-[0-9]+$/, "", name)
    for (i=2; i<=NF; i++) if ($(i+1)=="ns/op") { sum[name]+=$i; n[name]++ }
  }
  END {
    printf "%-34s %14s %14s %8s\n", "benchmark", "ns/op", "baseline ns/op", "ratio"
    for (b in sum) {
      if (b ~ /Baseline$/) continue
      base=b "Baseline"
      if (!(base in sum)) continue
      x=sum[b]/n[b]; y=sum[base]/n[base]
      printf "%-34s %14.0f %14.0f %8.2f\n", b, x, y, x/y
    }
  }'
