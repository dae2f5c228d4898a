#!/usr/bin/env bash
# capture-lackey.sh OUT.trace.gz PROGRAM [ARGS...]
#
# Record a real program's memory accesses with Valgrind lackey and import them on the fly
# into an eptsim trace (one vCPU, guest-virtual addresses).  The raw lackey text (tens of
# bytes per access) only goes through a pipe; it is never stored.
#
#   valgrind --tool=lackey --trace-mem=yes --log-fd=3 PROGRAM ARGS 3>&1 1>/dev/null 2>/dev/null \
#     | eptsim trace import --format lackey --source "lackey: PROGRAM ARGS" - OUT
#
# It also writes OUT.elf: the ELF objects of the traced process with their load bias, as one
# line ready for `workload.elf =` (ELF attribution), read from valgrind -v's "Reading syms
# from" messages (runtime address = ELF address + bias).  Valgrind's tool itself is left out.
#
# The program's own stdout and stderr are discarded; its stdin is this script's stdin (so
# `capture-lackey.sh out.trace.gz sort < words` works).  Set EPTSIM to use another eptsim
# binary (default: build/eptsim of this repository).
#
# Exit status: 0 when both valgrind (that is, the program) and the import succeed.  When the
# import fails no trace is left.  When the program exits non-zero (or valgrind fails) the
# trace the import wrote is kept, a warning says so, and the script exits with that status.
set -u
set -o pipefail

me=$(basename "$0")
usage() {
	echo "usage: $me OUT.trace.gz PROGRAM [ARGS...]" >&2
	echo "  records PROGRAM with valgrind --tool=lackey --trace-mem=yes into the eptsim trace OUT" >&2
	exit 2
}

[ $# -ge 2 ] || usage
case "$1" in
-h|--help) usage ;;
esac
out=$1
shift
[ -n "$out" ] || usage

if ! command -v valgrind >/dev/null 2>&1; then
	echo "$me: valgrind is not installed (Debian/Ubuntu: apt-get install valgrind)" >&2
	exit 1
fi
if ! command -v -- "$1" >/dev/null 2>&1; then
	echo "$me: $1: program not found" >&2
	exit 1
fi

EPTSIM=${EPTSIM:-$(dirname "$0")/../build/eptsim}
if [ ! -x "$EPTSIM" ]; then
	echo "$me: $EPTSIM: not found or not executable (run make, or set EPTSIM)" >&2
	exit 1
fi
outdir=$(dirname -- "$out")
if [ ! -d "$outdir" ]; then
	echo "$me: $outdir: no such directory" >&2
	exit 1
fi

map=$(mktemp)
trap 'rm -f "$map"' EXIT
valgrind -v -v --tool=lackey --trace-mem=yes --log-fd=3 "$@" 3>&1 1>/dev/null 2>/dev/null |
	tee >(grep -E 'Reading syms from|svma 0x' > "$map") |
	"$EPTSIM" trace import --format lackey --source "lackey: $*" - "$out"
st=("${PIPESTATUS[@]}")
vg=${st[0]}
imp=${st[2]}
wait

# "Reading syms from FILE" then "svma 0xS, avma 0xA": bias = A - S
elf=""
file=""
while read -r line; do
	case "$line" in
	*"Reading syms from "*) file=${line##*Reading syms from } ;;
	*svma*)
		[ -n "$file" ] || continue
		case "$file" in */valgrind/*-linux) file=""; continue ;; esac   # the tool, not traced
		s=$(sed -n 's/.*svma \(0x[0-9a-fA-F]*\).*/\1/p' <<<"$line")
		a=$(sed -n 's/.*avma \(0x[0-9a-fA-F]*\).*/\1/p' <<<"$line")
		[ -n "$s" ] && [ -n "$a" ] && elf="${elf:+$elf,}$file@$(printf '0x%x' $((a - s)))"
		file=""
		;;
	esac
done < "$map"
[ "$imp" -ne 0 ] || [ -z "$elf" ] || echo "$elf" > "$out.elf"

if [ "$imp" -ne 0 ]; then
	echo "$me: the import failed (status $imp); no trace written" >&2
	[ "$vg" -eq 0 ] || echo "$me: valgrind $1 exited with status $vg" >&2
	exit "$imp"
fi
if [ "$vg" -ne 0 ]; then
	echo "$me: warning: valgrind $* exited with status $vg; $out holds what it ran" >&2
	exit "$vg"
fi
exit 0
