/* traces/lackey — import Valgrind lackey memory traces (README, Traces).
 *
 * `valgrind --tool=lackey --trace-mem=yes PROGRAM` prints one line per access:
 *   "I  ADDR,SIZE"  an instruction fetch      -> REC_FETCH, icount 1 (one instruction executed)
 *   " L ADDR,SIZE"  a data load               -> REC_READ,  icount 0
 *   " S ADDR,SIZE"  a data store              -> REC_WRITE, icount 0
 *   " M ADDR,SIZE"  a modify (load + store of the same bytes) -> one REC_WRITE, icount 0
 *                   (a read-modify-write makes one translation)
 * ADDR is hex (any number of digits, at most 64 bits), SIZE decimal (1 .. 2^32-1).
 * Lines starting with "==" (Valgrind's messages and lackey's summary), blank lines and anything
 * else lackey prints are ignored and counted.  A line that starts like an access ("I ",
 * " L ", " S ", " M ") but does not parse — cut off, bad hex, an address over 64 bits, a size of
 * 0, trailing junk, or a last line with no newline (lackey ends every line, so that is a cut-off
 * stream) — is an error naming path:line.
 *
 * The reader streams through a fixed 1 MiB buffer (no per-line allocation, no sscanf): memory
 * use does not grow with the input.
 */
#ifndef EPTSIM_TRACES_LACKEY_H
#define EPTSIM_TRACES_LACKEY_H

#include <stdint.h>
#include <stdio.h>

#include "traces/trace.h"

struct lackey_stats {
	uint64_t lines;      /* every input line */
	uint64_t instr;      /* "I" lines */
	uint64_t loads;      /* " L" lines */
	uint64_t stores;     /* " S" lines */
	uint64_t modifies;   /* " M" lines */
	uint64_t ignored;    /* "==" lines, blank lines, anything else */
	uint64_t records;    /* records written to the trace */
};

/* Read `valgrind --tool=lackey --trace-mem=yes` output from in and append records for vCPU
 * `vcpu` to w.  path is for messages only ("-" = stdin).  st (may be NULL) is zeroed, then
 * counts what was read, also on error.  Returns 0; -EINVAL for a cut-off or malformed line
 * (err names path:line) or for an input with no access line at all (an empty file, random
 * bytes, a TSV: err names path); -EIO for a read error; or what trace_write returned. */
int lackey_import(FILE *in, const char *path, struct trace_writer *w, uint16_t vcpu,
		  struct lackey_stats *st, struct trace_error *err);

#endif
