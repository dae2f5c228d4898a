/* traces/tests/fuzz_lackey — libFuzzer target for the Valgrind lackey importer
 * (traces/lackey.c).
 *
 * The input is lackey's text output.  It is imported as `eptsim trace import --format lackey`
 * does (lackey_import into a trace_writer); a clean import is finished and read back, and
 * must hold exactly st.records records, all of them reads, writes or fetches of vCPU 0.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/tests/fuzz_util.h"
#include "traces/lackey.h"
#include "traces/trace.h"

/* Returns lackey_import()'s result (0 or a negative errno). */
static int fuzz_lackey_input(const uint8_t *data, size_t size)
{
	char in_path[FUZZ_PATH_MAX], out[FUZZ_PATH_MAX];
	struct trace_header h = { .version = TRACE_VERSION, .nr_vcpus = 1, .addr_kind = TRACE_ADDR_GVA,
				  .paging = TRACE_PAGING_4LEVEL, .source = "fuzz" };
	struct trace_error err = { "" };
	struct trace_writer *w;
	struct trace_reader *rd;
	struct trace_record rec;
	struct lackey_stats st;
	int fd = fuzz_memfd(data, size, in_path);
	uint64_t n = 0;
	FILE *in;
	int r;

	if (fd < 0 || !(in = fdopen(fd, "r")))
		abort();
	rewind(in);
	fuzz_scratch_path("lackey.trace.gz", out);
	FUZZ_CHECK(trace_create(out, &h, &w, &err) == 0);
	r = lackey_import(in, in_path, w, 0, &st, &err);
	fclose(in);
	FUZZ_CHECK(st.instr + st.loads + st.stores + st.modifies + st.ignored <= st.lines);
	if (r) {
		FUZZ_CHECK(r < 0 && err.msg[0]);
		trace_abort(w);
		return r;
	}
	FUZZ_CHECK(st.records == st.instr + st.loads + st.stores + st.modifies);
	FUZZ_CHECK(trace_finish(w, &err) == 0);
	FUZZ_CHECK(trace_open(out, &rd, &err) == 0);
	while ((r = trace_next(rd, &rec, &err)) == 1) {
		FUZZ_CHECK(rec.vcpu == 0);
		FUZZ_CHECK(rec.kind == REC_READ || rec.kind == REC_WRITE || rec.kind == REC_FETCH);
		FUZZ_CHECK(rec.size >= 1);
		n++;
	}
	FUZZ_CHECK(r == 0 && n == st.records);
	trace_close(rd);
	unlink(out);
	return 0;
}

#ifndef FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_lackey_input(data, size);
	return 0;
}
#endif
