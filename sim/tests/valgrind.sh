#!/usr/bin/env bash
# make valgrind: the end-to-end commands under `valgrind --leak-check=full --error-exitcode=1`
# (memory errors and leaks fail it).  Short runs that still reach every algorithm: zap-alls
# of the three variants, MMIO invalidations, dirty logging and its collapse, a prefaulted
# guest above 4 GiB, trace tools, a sweep, its report and plots.
set -eu
B=${1:-build}
E=$B/eptsim
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
VG="valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=1 -q"
n=0

check() {   # check NAME COMMAND...
	local name=$1
	shift
	if ! $VG "$@" > "$out/$name.out" 2> "$out/$name.err"; then
		echo "valgrind: $name FAILED: $*" >&2
		cat "$out/$name.err" >&2
		exit 1
	fi
	n=$((n + 1))
	echo "valgrind: $name clean"
}

toggles="--set events.toggle_start_ms=4 --set events.toggle_period_ms=3 --set events.toggle_count=4"
for v in legacy fast-flush-at-break fast-v7; do
	check "zap-$v" "$E" run configs/pci-rom-kbuild.ini --set mmu.zap_all="$v" --set workload.duration_ms=16 \
		$toggles --out "$out/zap-$v" --quiet
done
for v in zap-walk generation; do
	check "mmio-$v" "$E" run configs/mmio-churn.ini --set mmu.mmio_invalidate="$v" --set workload.duration_ms=12 \
		--out "$out/mmio-$v" --quiet
done
for c in lazy-zap in-place; do
	check "collapse-$c" "$E" run configs/migration-cancel.ini --set mmu.collapse="$c" --set workload.duration_ms=14 \
		--set events.dirty_start_ms=4 --set events.dirty_round_ms=2 --out "$out/mc-$c" --quiet
done
check scale "$E" run configs/scale-1t.ini --set guest.mem=5G --set guest.vcpus=8 --set guest.kernel_mem=256M \
	--set workload.insns_per_access=1e5 --out "$out/scale" --quiet
check replay "$E" run configs/replay-ls.ini --set workload.duration_ms=3 --out "$out/replay" --quiet
check per-access "$E" run configs/pci-rom-kbuild.ini --engine per-access --set workload.duration_ms=6 \
	--set events.toggle_start_ms=2 --set events.toggle_period_ms=2 --set events.toggle_count=2 --out "$out/pa" --quiet
check plot "$E" plot "$out/zap-legacy" "$out/zap-fast-v7" --out "$out/zap.png"
check trace-info "$E" trace info traces/samples/sort-licenses.trace.gz
"$E" trace cat traces/samples/ls-l-usr-sbin.trace.gz | head -100000 > "$out/ls.txt"
check trace-convert "$E" trace convert "$out/ls.txt" "$out/ls.trace.gz"
check trace-merge "$E" trace merge "$out/ls.trace.gz" traces/samples/sort-licenses.trace.gz "$out/m.trace.gz"
check workload "$E" workload kbuild --records 200000 --out "$out/k.trace.gz"
cat > "$out/sw.ini" <<EOF
[sweep]
base = $PWD/configs/pci-rom-kbuild.ini
set = workload.duration_ms=8
set = output.series=false
vary = mmu.zap_all: legacy, fast-v7
vary = guest.vcpus: 1, 2
EOF
# Under valgrind /proc/self/exe is valgrind's tool, so the local back end cannot re-execute
# eptsim: emit the jobs under valgrind, run them plainly, collect and report under valgrind.
check sweep-emit "$E" sweep "$out/sw.ini" --out "$out/sw" --emit parallel
bash "$out/sw/jobs.txt" > /dev/null 2>&1 || bash -c "while read -r l; do eval \"\$l\"; done < '$out/sw/jobs.txt'"
check sweep-collect "$E" sweep --collect "$out/sw"
check report "$E" report "$out/sw"
echo "valgrind: $n commands clean"
