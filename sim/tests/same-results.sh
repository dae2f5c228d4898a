#!/usr/bin/env bash
# Same results before and after a speed change (issue 14: "no model change hidden in a speed
# change").  Runs a fixed set of scenarios that cover the replay, the 2D walk with and
# without the cache hierarchy, first-touch faults, dirty logging and each collapse, MMIO
# churn, the zap-all variants and the 256-vCPU scale guest, and keeps each run's stats.json.
#
#   sim/tests/same-results.sh run EPTSIM DIR     run the set with EPTSIM, stats into DIR
#   sim/tests/same-results.sh compare DIR1 DIR2  exit 1 (and say which) if any stats.json differs
#
# A typical use: build the old commit, `run` into /tmp/before; build yours, `run` into
# /tmp/after; `compare /tmp/before /tmp/after`.  About 2 minutes on an idle 2-core machine.
set -eu

usage() { echo "usage: $0 run EPTSIM DIR | compare DIR1 DIR2" >&2; exit 2; }
[ $# = 3 ] || usage

# the config's hash and the trace's path name the temporary trace file, not a result
strip() { sed -e '/"config_hash":/d' -e '/"trace":/d' "$1"; }

if [ "$1" = compare ]; then
	a=$2 b=$3 bad=0 n=0
	for f in "$a"/*.json; do
		name=$(basename "$f")
		n=$((n + 1))
		if [ ! -f "$b/$name" ]; then
			echo "missing in $b: $name"; bad=1
		elif ! diff <(strip "$f") <(strip "$b/$name") > /dev/null; then
			echo "differs: $name"; diff <(strip "$f") <(strip "$b/$name") | head -20; bad=1
		fi
	done
	[ "$n" -gt 0 ] || { echo "no results in $a" >&2; exit 2; }
	[ "$bad" = 0 ] && echo "same results: $n runs"
	exit "$bad"
fi

[ "$1" = run ] || usage
E=$(realpath "$2") D=$3
here=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$D"
D=$(realpath "$D")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$here"

one() {   # one NAME CONFIG [--set ...]
	local name=$1 cfg=$2
	shift 2
	"$E" run "$cfg" --set output.series=false "$@" --out "$tmp/$name" --quiet > /dev/null
	cp "$tmp/$name/stats.json" "$D/$name.json"
	rm -rf "${tmp:?}/$name"
}

# a TLB-miss-heavy trace: random 4K pages over 1 GiB of a 2 GiB guest (as make bench has it)
common="--set guest.vcpus=1 --set guest.mem=2G --set guest.kernel_mem=256M --set workload.insns_per_access=4"
# shellcheck disable=SC2086
"$E" workload random --records 300000 $common --set workload.wss_mb=1024 --out "$tmp/miss.trace.gz" > /dev/null
rep="--set workload.elf= --set workload.trace=$tmp/miss.trace.gz --set workload.trace_end=stop --set workload.duration_ms=100000"

# shellcheck disable=SC2086
{
one replay-ls configs/replay-ls.ini
one replay-ls-cache configs/replay-ls.ini --set walk.refs=cache
one replay-miss configs/replay-ls.ini $rep
one replay-miss-cache configs/replay-ls.ini $rep --set walk.refs=cache
one replay-miss-nopwc configs/replay-ls.ini $rep --set tlb.guest_pwc_pde=0 --set tlb.ept_pwc_pde=0
one replay-miss-skylake configs/replay-ls.ini $rep --set tlb.preset=skylake
for v in legacy fast-flush-at-break fast-v7; do
	one kbuild-$v configs/pci-rom-kbuild.ini --set workload.duration_ms=120 --set mmu.zap_all=$v \
		--set events.toggle_start_ms=30 --set events.toggle_period_ms=30 --set events.toggle_count=3
done
one kbuild-cache configs/pci-rom-kbuild.ini --set workload.duration_ms=60 --set walk.refs=cache
for c in none lazy-zap in-place; do
	one migration-$c configs/migration-cancel.ini --set mmu.collapse=$c --set workload.duration_ms=250
done
one mmio-churn configs/mmio-churn.ini --set workload.duration_ms=80
one touch-all-thp configs/migration-cancel.ini --set workload.generator=touch-all --set events.dirty_slot= \
	--set workload.duration_ms=40 --set guest.backing=thp --set guest.thp_fraction=0.5
one touch-all-4k configs/migration-cancel.ini --set workload.generator=touch-all --set workload.duration_ms=150 \
	--set guest.backing=4k --set events.dirty_start_ms=20 --set events.dirty_round_ms=10
for v in legacy fast-flush-at-break fast-v7; do
	one scale-16g-$v configs/scale-1t.ini --set guest.mem=16G --set mmu.zap_all=$v --set workload.insns_per_access=1e5
done
}
echo "$(ls "$D" | wc -l) runs in $D"
