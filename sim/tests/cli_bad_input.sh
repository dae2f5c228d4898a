#!/usr/bin/env bash
# The bad-input table (README, "Bad input"), end to end through the CLI: one test per row.
# Each row runs build/eptsim on one bad input and checks exit status 2, a message that
# names the file and (where the row has one) the line or record number, and that no output
# (the --out folder, or the trace file being written) was created or left half-written.
# Prints cmocka's lines, so sim/tests/run-tests.sh counts the rows.
#
#   sim/tests/cli_bad_input.sh [EPTSIM]      (default: $EPTSIM_BIN, else build/eptsim)
set -u
. "$(dirname "$0")/lib-cli.sh"
cli_init eptsim-bad "$@"

# row NAME WANT OUT -- COMMAND...: WANT is a substring of stderr (grep -F); OUT a path
# that must not exist afterwards ("" for none).
row() {
	local name=$1 want=$2 out=$3; shift 4
	echo "[ RUN      ] $name"
	"$@" > "$T/stdout" 2> "$T/stderr"
	local rc=$? why=""
	[ $rc -eq 2 ] || why="exit status $rc, not 2"
	grep -qF -- "$want" "$T/stderr" || why="${why:+$why; }message lacks '$want'"
	[ -z "$out" ] || [ ! -e "$out" ] || why="${why:+$why; }$out was created"
	# no temporary file left beside the output either
	[ -z "$out" ] || ! ls "$out".tmp* > /dev/null 2>&1 || why="${why:+$why; }$out.tmp* left behind"
	if [ -z "$why" ]; then
		cli_pass "$name"
	else
		echo "$why; stderr was:"; sed 's/^/    /' "$T/stderr"
		cli_fail "$name"
	fi
}

# Inputs.  A good multi-vCPU trace, then broken copies of it.
"$E" workload random --out good.gz --records 200000 > /dev/null 2>&1 || { echo "cannot make a trace"; exit 1; }
size=$(stat -c %s good.gz)
head -c $((size / 2)) good.gz > trunc.gz                       # gzip stream cut in half
zcat good.gz > raw 2> /dev/null
printf 'XXXXXXXXXXXX' | gzip > magic.gz                        # not EPTSIMTR
cp raw raw2; printf '\002' | dd of=raw2 bs=1 seek=8 conv=notrunc 2> /dev/null; gzip -c raw2 > future.gz  # version 2
head -c 2000 raw | gzip > inrec.gz                             # whole gzip, records cut mid-record
: > empty.gz
mkdir adir
printf '# eptsim-trace 1 vcpus=4 addr=gva paging=4-level source="t"\n0 R 0x1000 8 1\n3 R 0x2000 8 1\n' > v4.txt
printf '# eptsim-trace 1 vcpus=1 addr=gpa paging=none source="t"\n0 R 0x1000 8 1\n0 R 0x2000 8 1\n0 W 0x40000000000 8 1\n' > gpa.txt
printf '# eptsim-trace 1 vcpus=1 addr=gva paging=4-level source="t"\n0 R 0x1000 8 1\n0 R 0x900000000000 8 1\n' > gva.txt
printf '# eptsim-trace 1 vcpus=1 addr=gva paging=4-level source="t"\n0 R 0x1000 8 1\n0 R 0x20' > cut.txt
printf 'I  04001000,3\n L 1ffefff000,8\n S 1ffe' > lackey.txt
printf '# eptsim-trace 1 vcpus=1 addr=gva paging=4-level source="t"\n0 R 0x1000 8 1\n0 MEMSLOT move 0xfebc0000 0xffffffffff000000 1\n' > move.txt
for t in v4 gpa gva move; do "$E" trace convert $t.txt $t.gz || exit 1; done
ini() { printf "$2" > "$1"; }
ini v0.ini '[guest]\nvcpus = 0\n'
ini vbig.ini '[guest]\nvcpus = 100000\n'
ini unknown.ini '[guest]\nvcpus = 2\nnosuch = 1\n'
ini dup.ini '[guest]\nvcpus = 2\nvcpus = 3\n'
ini num.ini '[guest]\nvcpus = 2x\n'
ini neg.ini '[guest]\nmem = -1G\n'
ini huge.ini '[guest]\nmem = 4T\nprefault = true\nthp_fraction = 0\n[memslot.big]\nbase = 0x100000000000\nsize = 60T\n'
small="[guest]\nvcpus = 2\nmem = 64M\nkernel_mem = 16M\n%s[workload]\nduration_ms = 50\ntrace = $T/%s\n"
ini v4.ini "$(printf "$small" "" v4.gz)"
ini gpa.ini "$(printf "$small" "paging = none\n" gpa.gz)"
ini gva.ini "$(printf "$small" "" gva.gz)"
{ printf "$small" "" move.gz; printf '[memslot.rom]\nbase = 0xfebc0000\nsize = 256K\n'; } > move.ini
ini slot48.ini '[memslot.x]\nsize = 4K\nbase = 0x1000000000000\n'
ini inrec.ini "$(printf "$small" "" inrec.gz | sed "s/vcpus = 2/vcpus = 4/")"
ini empty.ini "$(printf "$small" "" empty.gz)"
: > good.ini

row "truncated gzip (trace info)" "trunc.gz: record " "" -- "$E" trace info trunc.gz
grep -qF "truncated gzip data" "$T/stderr" || echo "(note: no 'truncated gzip data')"
row "wrong magic" "magic.gz: header: not an eptsim trace (bad magic)" "" -- "$E" trace info magic.gz
row "future version" "future.gz: header: version 2 is newer than this eptsim (1)" "" -- "$E" trace info future.gz
row "record for a vCPU that does not exist (run)" "v4.gz: record 2: vCPU 3 does not exist (guest.vcpus = 2)" out-v4 -- \
	"$E" run v4.ini --out out-v4 --quiet
row "record for a vCPU above the trace's count (convert)" "bad.txt:2: bad.gz: record 1: vCPU 5 out of range (vcpus=1)" bad.gz -- \
	bash -c "printf '# eptsim-trace 1 vcpus=1 addr=gva paging=4-level source=\"t\"\n5 R 0x1000 8 1\n' > bad.txt; \"$E\" trace convert bad.txt bad.gz"
row "GPA beyond the guest (run)" "gpa.gz: record 3: GPA 0x40000000000 (size 8) is beyond the guest" out-gpa -- \
	"$E" run gpa.ini --out out-gpa --quiet
row "GVA no guest can have (run)" "gva.gz: record 2: GVA 0x900000000000 (size 8) is neither a user address" out-gva -- \
	"$E" run gva.ini --out out-gva --quiet
row "memslot beyond the 48-bit GPA space" "slot48.ini:3: memslot.x.base: beyond the 48-bit guest-physical space" \
	out-s48 -- "$E" run slot48.ini --out out-s48
row "memslot ending beyond the 48-bit GPA space (--set)" \
	"--set: memslot.x.size: beyond the 48-bit guest-physical space (the slot would end at 0x1000000001000)" out-s48s -- \
	"$E" run good.ini --set memslot.x.base=0xfffffffff000 --set memslot.x.size=8K --out out-s48s
row "memslot move beyond the 48-bit GPA space (run)" \
	"move.gz: record 2: memslot move to 0xffffffffff000000: beyond the 48-bit guest-physical space" out-move -- \
	"$E" run move.ini --out out-move --quiet
row "zero vCPUs" "v0.ini:2: guest.vcpus: 0 is out of range [1, 1024]" out-v0 -- "$E" run v0.ini --out out-v0
row "absurd vCPU count" "vbig.ini:2: guest.vcpus: 100000 is out of range [1, 1024]" out-vbig -- "$E" run vbig.ini --out out-vbig
row "absurd vCPU count (--set)" "--set: guest.vcpus: 4096 is out of range [1, 1024]" out-vset -- \
	"$E" run good.ini --set guest.vcpus=4096 --out out-vset
row "guest larger than the machine" "huge.ini: this run needs about" out-huge -- "$E" run huge.ini --out out-huge
grep -qF "GiB, this machine has" "$T/stderr" || echo "(note: no 'this machine has')"
row "unknown key" "unknown.ini:3: guest.nosuch: unknown key" out-unk -- "$E" run unknown.ini --out out-unk
row "duplicate key" "dup.ini:3: guest.vcpus: duplicate key" out-dup -- "$E" run dup.ini --out out-dup
row "bad number" "num.ini:2: guest.vcpus: '2x' is not a non-negative integer" out-num -- "$E" run num.ini --out out-num
row "negative size" "neg.ini:2: guest.mem: '-1G' is not a size" out-neg -- "$E" run neg.ini --out out-neg
row "empty trace (trace info)" "empty.gz: header: empty file (not an eptsim trace)" "" -- "$E" trace info empty.gz
row "empty trace (run)" "empty.gz: header: empty file (not an eptsim trace)" out-empty -- "$E" run empty.ini --out out-empty
row "directory for a config" "adir: is a directory, not a config file" out-dir -- "$E" run adir --out out-dir
row "directory for a trace" "adir: header: read error: Is a directory" "" -- "$E" trace info adir
# Unreadable: the tests run as root, whom chmod 000 does not stop; a path through a regular
# file (good.gz/x) cannot be opened by anyone (ENOTDIR).  chmod 000 is tried when not root.
row "unreadable config (path through a file)" "good.ini/x.ini: Not a directory" out-unr -- "$E" run good.ini/x.ini --out out-unr
row "unreadable trace (path through a file)" "good.gz/x: cannot open: Not a directory" "" -- "$E" trace info good.gz/x
if [ "$(id -u)" != 0 ]; then
	cp good.gz noperm.gz; chmod 000 noperm.gz
	row "unreadable trace (chmod 000)" "noperm.gz: cannot open: Permission denied" "" -- "$E" trace info noperm.gz
fi
row "trace ending inside a record (trace info)" "inrec.gz: record 289: end of stream inside a record (truncated trace)" "" -- \
	"$E" trace info inrec.gz
row "trace ending inside a record (run)" "inrec.gz: record 289: end of stream inside a record (truncated trace)" out-inrec -- \
	"$E" run inrec.ini --out out-inrec --quiet
row "text trace line cut off (convert)" "cut.txt:3: missing size" cut.gz -- "$E" trace convert cut.txt cut.gz
row "lackey line cut off (import)" "lackey.txt:3: cut-off line (expected ',SIZE'): ' S 1ffe'" lackey.gz -- \
	"$E" trace import --format lackey lackey.txt lackey.gz

# Output paths (sim/paths.c), refused before any work: empty, a control character (it
# would inject a command into jobs.txt or sweep.sbatch), not a folder, not writable.
ini tiny.ini '[guest]\nvcpus = 1\nmem = 64M\nkernel_mem = 16M\n[workload]\nduration_ms = 2\n[output]\nseries = false\n'
printf '[sweep]\nbase = tiny.ini\nvary = guest.vcpus: 1, 2\n' > s.ini
nl=$'x\ntouch INJECTED #'
row "empty --out (run)" "eptsim: --out: empty path" "" -- "$E" run tiny.ini --out ""
row "empty --out (sweep)" "eptsim sweep: --out: empty path" "" -- "$E" sweep s.ini --out ""
row "empty --out (workload)" "eptsim workload: --out: empty path" "" -- "$E" workload random --out ""
row "empty OUT (trace convert)" "eptsim trace convert: OUT: empty path" "" -- "$E" trace convert v4.txt ""
row "empty --out (plot)" "eptsim plot: --out: empty path" "" -- "$E" plot adir --out ""
row "newline in --out (sweep --emit slurm)" "eptsim sweep: --out 'x\\x0atouch INJECTED #': control character 0x0a" "$nl" -- \
	"$E" sweep s.ini --out "$nl" --emit slurm
row "newline in --out (sweep --emit parallel)" "control character 0x0a in the path" "$nl" -- \
	"$E" sweep s.ini --out "$nl" --emit parallel
row "newline in --out (run)" "eptsim: --out 'x\\x0atouch INJECTED #': control character 0x0a" "$nl" -- \
	"$E" run tiny.ini --out "$nl"
if [ -e INJECTED ]; then   # the text after the newline must never run
	cli_fail "an injected command ran" "" "injected command"
fi
row "--out is a regular file (run)" "eptsim: --out good.ini: exists and is a regular file, not a folder" "" -- \
	"$E" run tiny.ini --out good.ini
row "--out through a regular file (sweep)" "eptsim sweep: --out good.ini/x: Not a directory" "" -- \
	"$E" sweep s.ini --out good.ini/x
row "OUT is a folder (workload)" "eptsim workload: --out adir: exists and is a folder, not a regular file" "" -- \
	"$E" workload random --out adir
row "OUT in a missing folder (trace convert)" "eptsim trace convert: OUT nodir/v4.gz: nodir: No such file or directory" \
	"" -- "$E" trace convert v4.txt nodir/v4.gz
# A read-only and a full file system: small tmpfs mounts (root with CAP_SYS_ADMIN, as in CI's
# container); skipped with a note where mount is not allowed.
mkdir ro full
if mount -t tmpfs -o ro,size=64k tmpfs ro 2> /dev/null; then
	mounts+=("$T/ro")
	row "read-only --out (run)" "eptsim: --out ro/x: cannot write in ro: Read-only file system" ro/x -- \
		"$E" run tiny.ini --out ro/x
else
	echo "(note: cannot mount a tmpfs here: the read-only --out row is skipped)"
fi
if mount -t tmpfs -o size=64k tmpfs full 2> /dev/null; then
	mounts+=("$T/full")
	dd if=/dev/zero of=full/fill bs=4k count=64 2> /dev/null
	row "--out on a full disk (run)" "eptsim: --out full/x: cannot write in full: No space left on device" full/x -- \
		"$E" run tiny.ini --out full/x
else
	echo "(note: cannot mount a tmpfs here: the full-disk --out row is skipped)"
fi
# A FIFO where a results file belongs: an error naming it, at once (it used to wait forever
# for a writer; timeout turns a hang into exit 124)
"$E" run tiny.ini --out fifo --quiet || exit 1
rm fifo/stats.json; mkfifo fifo/stats.json
row "FIFO at DIR/stats.json (run --skip-done)" "eptsim: --skip-done: fifo/stats.json: is a FIFO, not a regular file" "" -- \
	timeout 20 "$E" run tiny.ini --out fifo --skip-done
row "FIFO at DIR/stats.json (plot)" "eptsim plot: fifo/stats.json: is a FIFO, not a regular file" fifo.png -- \
	timeout 20 "$E" plot fifo --out fifo.png

# Issue 12: numbers, lines and files read wrongly without a word.
row "--seed with a blank and a sign" "--seed: ' -1' is not a non-negative integer" out-seed -- \
	"$E" run good.ini --seed " -1" --out out-seed
row "--seed beyond 2^63 - 1 (stats.json's signed integer)" \
	"--seed: 9223372036854775808 is out of range [0, 9223372036854775807]" out-seed -- \
	"$E" run good.ini --seed 9223372036854775808 --out out-seed
row "--vcpu beyond 32 bits (trace import)" "--vcpu: 4294967296 is out of range [0, 4095]" imp.gz -- \
	"$E" trace import --format lackey --vcpu 4294967296 lackey.txt imp.gz
row "--from that is not a number (plot)" "--from: 'inf' is not a time in ms" plot.png -- \
	"$E" plot adir --kind timeline --from inf --out plot.png
printf '[guest]\nvcpus = 1\0002\n' > nul.ini
row "NUL byte in a config line" "nul.ini:2: a NUL byte in the line" out-nul -- "$E" run nul.ini --out out-nul
ini junk.ini '[guest]\nvcpus = 2\n[memslot.a]b]\nsize = 4K\n'
row "junk after a section header" "junk.ini:3: junk after the section header's ']'" out-junk -- \
	"$E" run junk.ini --out out-junk
ini cpi.ini '[cpu]\ncpi = 1e-320\n'
row "a number below the normal doubles" "cpi.ini:2: cpu.cpi: 1e-320 is out of range [0.05, 100]" out-cpi -- \
	"$E" run cpi.ini --out out-cpi
ini tlb.ini '[tlb]\nl1d_4k_ways = 3\n'
row "TLB geometry (run)" "tlb.ini:2: tlb.l1d_4k_ways: 64 entries in 3 ways" out-tlb -- "$E" run tlb.ini --out out-tlb
ini tlbsweep.ini '[sweep]\nbase = good.ini\nvary = tlb.l1d_4k_ways: 4, 3\n'
row "TLB geometry (sweep)" "tlbsweep.ini: run l1d_4k_ways=3: tlb.l1d_4k_ways: 64 entries in 3 ways" out-tlbs -- \
	"$E" sweep tlbsweep.ini --out out-tlbs
ini elfsweep.ini '[sweep]\nbase = good.ini\nset = workload.elf = ""\nvary = guest.vcpus: 1, 2\n'
row "sweep: a set every run would fail on" 'elfsweep.ini: run vcpus=1: "": No such file or directory' out-elfs -- \
	"$E" sweep elfsweep.ini --out out-elfs
ini seeds0.ini '[sweep]\nbase = good.ini\nseeds =\n'
row "sweep: an empty seeds line" "seeds0.ini:3: seeds: no seed (expected A..B or a list" out-seeds0 -- \
	"$E" sweep seeds0.ini --out out-seeds0
ini seedsvary.ini '[sweep]\nbase = good.ini\nvary = run.seed: 1, 2\nseeds = 1..3\n'
row "sweep: seeds and a run.seed axis" "seedsvary.ini:4: seeds: run.seed is also varied on line 3" out-seedsv -- \
	"$E" sweep seedsvary.ini --out out-seedsv
ini seedsbad.ini '[sweep]\nbase = good.ini\nseeds = 1, 2, x\n'
row "sweep: a seed that is not one" "seedsbad.ini:3: seeds: run.seed: 'x' is not a non-negative integer" out-seedsb -- \
	"$E" sweep seedsbad.ini --out out-seedsb
row "run --replicates 0" "--replicates: 0 is out of range [1, 10000]" out-rep0 -- \
	"$E" run good.ini --replicates 0 --out out-rep0
row "run --replicates with seeds past the largest" "--replicates 3 from seed 9223372036854775806: 1 to 10000 seeds" out-repbig -- \
	"$E" run good.ini --replicates 3 --seed 9223372036854775806 --out out-repbig
long=$(printf 'lib%04d.so,' $(seq 1 150))
row "--set value longer than its key holds" \
	"--set: workload.elf: a value of 1649 characters is longer than the 1023 this key holds" out-long -- \
	"$E" run good.ini --set "workload.elf=${long%,}" --out out-long
row "ELF load bias that wraps" "load bias 0xffffffffffffffff moves the file's end" out-bias -- \
	"$E" run good.ini --set "workload.elf=$E@0xffffffffffffffff" --set workload.duration_ms=1 --out out-bias
head -c 3000 /dev/urandom | tr -d '\n' > rnd.bin
row "lackey import of random bytes" "rnd.bin: no lackey access line in 1 line" rnd.gz -- \
	"$E" trace import --format lackey rnd.bin rnd.gz
: > empty.txt
row "lackey import of an empty file" "empty.txt: no lackey access line in 0 lines" emp.gz -- \
	"$E" trace import --format lackey empty.txt emp.gz
printf 'addr\tsize\n0x1000\t8\n' > t.tsv
row "lackey import of a TSV" "t.tsv: no lackey access line in 2 lines" tsv.gz -- \
	"$E" trace import --format lackey t.tsv tsv.gz
cp good.gz junk.gz; printf 'JUNK' >> junk.gz
row "trailing garbage after the gzip data (trace info)" \
	"junk.gz: record 193566: trailing garbage after the gzip data (at byte $size of the file)" "" -- \
	"$E" trace info junk.gz
printf '# eptsim-trace 1 vcpus=1 addr=gva paging=4-level source="t"\n0 R 0x1000 8 1\0002\n' > nul.txt
row "NUL byte in a text trace line (convert)" "nul.txt:2: a NUL byte in the line" nul.gz -- \
	"$E" trace convert nul.txt nul.gz
row "--source longer than a trace header holds" "--source: 1100 characters, longer than the 1024" src.gz -- \
	"$E" trace import --format lackey --source "$(head -c 1100 /dev/zero | tr '\0' s)" lackey.txt src.gz

cli_done
