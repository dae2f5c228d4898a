/* traces/tests/fuzz_trace_text — libFuzzer target for the text trace form, the importer behind
 * `eptsim trace convert` (trace_parse_line in traces/trace.c, trace_convert in traces/tools.c).
 *
 * Every line of the input goes through trace_parse_line(); a record or header it accepts is
 * formatted back (trace_format_record / trace_format_header) and must parse to the same
 * thing.  Then the whole input is converted with trace_convert(), and a clean conversion is
 * read back and must hold one record per record line.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/tests/fuzz_util.h"
#include "traces/tools.h"
#include "traces/trace.h"

static int fuzz_text_same(const struct trace_record *a, const struct trace_record *b)
{
	return a->kind == b->kind && a->vcpu == b->vcpu && a->size == b->size && a->arg == b->arg &&
	       a->icount == b->icount && a->addr == b->addr && a->len == b->len;
}

/* Format rec (or h, when rec is NULL) as text, parse it again: the same record or header. */
static void fuzz_text_roundtrip(const struct trace_record *rec, const struct trace_header *h)
{
	struct trace_record rec2;
	struct trace_header h2;
	struct trace_error err = { "" };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int k;

	if (!f)
		abort();
	if (rec)
		trace_format_record(rec, f);
	else
		trace_format_header(h, f);
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	memset(&h2, 0, sizeof(h2));
	k = trace_parse_line(buf, 1, "roundtrip", &rec2, &h2, &err);
	if (rec) {
		FUZZ_CHECK(k == 1 && fuzz_text_same(rec, &rec2));
	} else {
		FUZZ_CHECK(k == 2 && h2.version == h->version && h2.nr_vcpus == h->nr_vcpus &&
			   h2.addr_kind == h->addr_kind && h2.paging == h->paging &&
			   !strcmp(h2.source, h->source));
	}
	free(buf);
}

/* Returns trace_convert()'s result (0 or a negative errno). */
static int fuzz_trace_text_input(const uint8_t *data, size_t size)
{
	char in_path[FUZZ_PATH_MAX], out[FUZZ_PATH_MAX];
	struct trace_error err = { "" };
	struct trace_record rec;
	struct trace_header h;
	struct trace_reader *rd;
	char *text = malloc(size + 1), *line, *next;
	uint64_t lineno = 0, records = 0, n = 0;
	int fd, r, bad = 0;

	if (!text)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	for (line = text; line && (size_t)(line - text) < size; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		memset(&h, 0, sizeof(h));
		r = trace_parse_line(line, lineno, "fuzz", &rec, &h, &err);
		if (r == 1) {
			fuzz_text_roundtrip(&rec, NULL);
			records++;
		} else if (r == 2) {
			fuzz_text_roundtrip(NULL, &h);
		} else if (r < 0) {
			FUZZ_CHECK(err.msg[0]);
			bad = 1;
		} else {
			FUZZ_CHECK(r == 0);
		}
	}
	free(text);

	fd = fuzz_memfd(data, size, in_path);
	if (fd < 0)
		abort();
	fuzz_scratch_path("text.trace.gz", out);
	r = trace_convert(in_path, out, &err);
	close(fd);
	if (r) {
		FUZZ_CHECK(r < 0 && err.msg[0]);
		return r;
	}
	/* A NUL byte ends a line early for the per-line pass, so only a clean pass counts. */
	FUZZ_CHECK(trace_open(out, &rd, &err) == 0);
	while ((r = trace_next(rd, &rec, &err)) == 1)
		n++;
	FUZZ_CHECK(r == 0);
	FUZZ_CHECK(bad || memchr(data, '\0', size) || n == records);
	trace_close(rd);
	unlink(out);
	return 0;
}

#ifndef FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_trace_text_input(data, size);
	return 0;
}
#endif
