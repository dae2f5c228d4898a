/* traces/tests/fuzz_trace — libFuzzer target for the trace reader (traces/trace.c).
 *
 * The input is a trace file as trace_open() sees it: gzip or raw bytes (zlib reads both).
 * It is read to its end or its first error twice, with trace_next() and with trace_read() in
 * batches of odd sizes, and the two must agree record for record and on how they stop
 * (trace.h: "reads exactly the records trace_next() would, with the same errors").  A trace
 * that reads cleanly is rewound and must read the same number of records again.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/tests/fuzz_util.h"
#include "traces/trace.h"

#define FUZZ_TRACE_BATCH 37   /* odd, so batches end at every kind of record */

static int fuzz_trace_same(const struct trace_record *a, const struct trace_record *b)
{
	return a->kind == b->kind && a->vcpu == b->vcpu && a->size == b->size && a->arg == b->arg &&
	       a->icount == b->icount && a->addr == b->addr && a->len == b->len;
}

/* Returns 0 when the trace read cleanly to its end, else the reader's negative errno. */
static int fuzz_trace_input(const uint8_t *data, size_t size)
{
	char path[FUZZ_PATH_MAX];
	struct trace_reader *r1 = NULL, *r2 = NULL;
	struct trace_record rec, batch[FUZZ_TRACE_BATCH];
	struct trace_error err = { "" };
	int fd = fuzz_memfd(data, size, path);
	int rc1, rc2 = 1, n = 0, i = 0;
	unsigned calls = 0;
	uint64_t count;

	if (fd < 0)
		abort();
	rc1 = trace_open(path, &r1, &err);
	rc2 = trace_open(path, &r2, &err);
	FUZZ_CHECK((rc1 == 0) == (rc2 == 0));
	if (rc1) {
		FUZZ_CHECK(rc1 < 0 && err.msg[0]);
		close(fd);
		return rc1;
	}
	/* r1 one record at a time, r2 in batches: the same stream. */
	for (;;) {
		rc1 = trace_next(r1, &rec, &err);
		if (i == n) {
			n = trace_read(r2, batch, calls++ % FUZZ_TRACE_BATCH + 1, &err);
			i = 0;
			if (n <= 0) {
				rc2 = n;
				n = 0;
			}
		}
		if (rc1 != 1) {
			FUZZ_CHECK(i == n && rc1 == rc2);
			break;
		}
		FUZZ_CHECK(i < n && fuzz_trace_same(&rec, &batch[i]));
		i++;
	}
	FUZZ_CHECK(trace_reader_count(r1) == trace_reader_count(r2));
	FUZZ_CHECK(rc1 == 0 || err.msg[0]);
	count = trace_reader_count(r1);
	if (rc1 == 0) {
		/* A clean trace replays the same after trace_rewind(). */
		uint64_t again = 0;
		int rc;

		FUZZ_CHECK(trace_rewind(r1, &err) == 0);
		while ((rc = trace_next(r1, &rec, &err)) == 1)
			again++;
		FUZZ_CHECK(rc == 0 && again == count);
	}
	trace_close(r1);
	trace_close(r2);
	close(fd);
	return rc1;
}

#ifndef FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_trace_input(data, size);
	return 0;
}
#endif
