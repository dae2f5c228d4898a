#!/usr/bin/env bash
# make bench: speed figures, one per line ("name value unit").  Prints; never fails on a number.
# (Issue 6 extends this with the trace-decoding and 1 TiB / 256-vCPU figures.)
set -eu
B=${1:-build}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
t0=$(date +%s.%N)
"$B/eptsim" run configs/pci-rom-kbuild.ini --set workload.duration_ms=300 --out "$out/r" --quiet
t1=$(date +%s.%N)
recs=$(sed -n 's/.*"vcpu.records": \([0-9]*\).*/\1/p' "$out/r/stats.json" | head -1)
awk -v r="$recs" -v a="$t0" -v b="$t1" 'BEGIN {
	s = b - a
	printf "kbuild_run_wall %.2f s\n", s
	printf "kbuild_records %d records\n", r
	printf "kbuild_records_per_s %.0f records/s\n", r / s
	printf "kbuild_ns_per_record %.1f ns\n", s * 1e9 / r
}'
