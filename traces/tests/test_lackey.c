/* traces/lackey: every lackey line type becomes the exact records (read back through
 * trace_open / trace_next), cut-off and malformed lines are -EINVAL naming path:line, lines
 * cross the 1 MiB read buffer, and the committed sample captures read to the end with the
 * record counts traces/samples/README states. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "traces/lackey.h"
#include "traces/trace.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A temporary folder per test: in.txt (the lackey text) and out.trace.gz. */
struct tenv {
	char dir[64];
	char in[96];
	char out[96];
};

static int setup(void **state)
{
	struct tenv *t = calloc(1, sizeof(*t));
	const char *tmp = getenv("TMPDIR");

	if (!t)
		return -1;
	snprintf(t->dir, sizeof(t->dir), "%s/test_lackey.XXXXXX", tmp && strlen(tmp) < 40 ? tmp : "/tmp");
	if (!mkdtemp(t->dir)) {
		free(t);
		return -1;
	}
	snprintf(t->in, sizeof(t->in), "%s/in.txt", t->dir);
	snprintf(t->out, sizeof(t->out), "%s/out.trace.gz", t->dir);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tenv *t = *state;

	unlink(t->in);
	unlink(t->out);
	rmdir(t->dir);
	free(t);
	return 0;
}

static void write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static struct trace_header header(uint32_t nr_vcpus)
{
	struct trace_header h;

	memset(&h, 0, sizeof(h));
	h.version = TRACE_VERSION;
	h.nr_vcpus = nr_vcpus;
	h.addr_kind = TRACE_ADDR_GVA;
	h.paging = TRACE_PAGING_4LEVEL;
	snprintf(h.source, sizeof(h.source), "lackey: test");
	return h;
}

/* Import in (the file t->in, named `name` in messages) into t->out.  On success the trace is
 * finished; on failure it is aborted and the import's return value is returned. */
static int import(struct tenv *t, const char *name, uint16_t vcpu, uint32_t nr_vcpus,
		  struct lackey_stats *st, struct trace_error *err)
{
	struct trace_header h = header(nr_vcpus);
	struct trace_writer *w = NULL;
	FILE *in = fopen(t->in, "r");
	int rc;

	assert_non_null(in);
	rc = trace_create(t->out, &h, &w, err);
	assert_int_equal(rc, 0);
	rc = lackey_import(in, name, w, vcpu, st, err);
	fclose(in);
	if (rc < 0) {
		trace_abort(w);
		return rc;
	}
	assert_int_equal(trace_writer_count(w), st->records);
	rc = trace_finish(w, err);
	if (rc < 0)
		fail_msg("trace_finish: %s", err->msg);
	return 0;
}

static int import_text(struct tenv *t, const char *text, const char *name, struct lackey_stats *st,
		       struct trace_error *err)
{
	write_file(t->in, text, strlen(text));
	return import(t, name, 0, 1, st, err);
}

/* Read t->out back; returns the records (count in *n). */
static struct trace_record *read_back(const char *path, size_t *n, struct trace_header *h)
{
	struct trace_reader *r = NULL;
	struct trace_error err;
	struct trace_record rec, *v = NULL;
	size_t cap = 0;
	int rc;

	*n = 0;
	rc = trace_open(path, &r, &err);
	if (rc < 0)
		fail_msg("trace_open: %s", err.msg);
	if (h)
		*h = *trace_reader_header(r);
	while ((rc = trace_next(r, &rec, &err)) == 1) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 64;
			v = realloc(v, cap * sizeof(*v));
			assert_non_null(v);
		}
		v[(*n)++] = rec;
	}
	if (rc < 0)
		fail_msg("trace_next: %s", err.msg);
	assert_int_equal(trace_reader_count(r), *n);
	trace_close(r);
	return v;
}

static void check_rec(const struct trace_record *got, uint8_t kind, uint16_t vcpu, uint64_t addr,
		      uint32_t size, uint64_t icount)
{
	assert_int_equal(got->kind, kind);
	assert_int_equal(got->vcpu, vcpu);
	assert_int_equal(got->addr, addr);
	assert_int_equal(got->size, size);
	assert_int_equal(got->icount, icount);
	assert_int_equal(got->arg, 0);
	assert_int_equal(got->len, 0);
}

/* What `valgrind --tool=lackey --trace-mem=yes --log-fd=3 /bin/true` prints, cut down, plus a
 * few hand-made lines at the edges (leading zeros, the top of the address space, big sizes). */
static const char sample[] =
	"==487== Lackey, an example Valgrind tool\n"
	"==487== Copyright (C) 2002-2017, and GNU GPL'd, by Nicholas Nethercote.\n"
	"==487== Using Valgrind-3.19.0 and LibVEX; rerun with -h for copyright info\n"
	"==487== Command: /bin/true\n"
	"==487== \n"
	"I  0401ab70,3\n"                        /*  6 */
	"I  0401ab73,5\n"
	" S 1fff000708,8\n"
	"I  0401b770,1\n"
	" L 04a19de0,8\n"                        /* 10 */
	" M 1fff0006f0,4\n"
	"\n"
	"I  ffffffffff600000,7\n"
	" L 0000000000000000000000001000,32\n"
	" S ffffffffffffffff,1\n"                /* 15 */
	" M 0,4294967295\n"
	"I  0401B7A0,15\n"
	"==487== \n"
	"==487== Counted 1 call to main()\n"
	"==487== \n"                             /* 20 */
	"==487== Jccs:\n"
	"==487==   total:         26,113\n"
	"==487==   taken:         10,337 (40%)\n"
	"==487== \n"
	"==487== Executed:\n"                    /* 25 */
	"==487==   SBs entered:   26,764\n"
	"==487==   SBs completed: 17,095\n"
	"==487==   guest instrs:  128,902\n"
	"==487==   IRStmts:       890,295\n"
	"==487== \n"                             /* 30 */
	"==487== Ratios:\n"
	"==487==   guest instrs : SB entered  = 48 : 10\n"
	"==487==        IRStmts : SB entered  = 332 : 10\n"
	"==487==        IRStmts : guest instr = 69 : 10\n"
	"==487== \n"                             /* 35 */
	"==487== Exit code:       0\n"
	"--487-- a debug message\n"
	"**487** a warning\n"
	"\r\n"
	"Lackey says something else\n";       /* 40 */

static void test_every_line_type(void **state)
{
	struct tenv *t = *state;
	struct lackey_stats st;
	struct trace_error err;
	struct trace_header h;
	struct trace_record *v;
	size_t n;

	assert_int_equal(import_text(t, sample, t->in, &st, &err), 0);
	assert_int_equal(st.lines, 40);
	assert_int_equal(st.instr, 5);
	assert_int_equal(st.loads, 2);
	assert_int_equal(st.stores, 2);
	assert_int_equal(st.modifies, 2);
	assert_int_equal(st.ignored, 29);
	assert_int_equal(st.records, 11);

	v = read_back(t->out, &n, &h);
	assert_int_equal(h.nr_vcpus, 1);
	assert_string_equal(h.source, "lackey: test");
	assert_int_equal(n, 11);
	check_rec(&v[0], REC_FETCH, 0, 0x0401ab70, 3, 1);
	check_rec(&v[1], REC_FETCH, 0, 0x0401ab73, 5, 1);
	check_rec(&v[2], REC_WRITE, 0, 0x1fff000708, 8, 0);
	check_rec(&v[3], REC_FETCH, 0, 0x0401b770, 1, 1);
	check_rec(&v[4], REC_READ, 0, 0x04a19de0, 8, 0);
	check_rec(&v[5], REC_WRITE, 0, 0x1fff0006f0, 4, 0);     /* M: one write */
	check_rec(&v[6], REC_FETCH, 0, 0xffffffffff600000ull, 7, 1);
	check_rec(&v[7], REC_READ, 0, 0x1000, 32, 0);
	check_rec(&v[8], REC_WRITE, 0, UINT64_MAX, 1, 0);
	check_rec(&v[9], REC_WRITE, 0, 0, UINT32_MAX, 0);
	check_rec(&v[10], REC_FETCH, 0, 0x0401b7a0, 15, 1);
	free(v);
}

/* No access line at all: an empty input, only "==" lines and blank lines (a program that
 * valgrind could not start), random bytes, a TSV.  Not a trace of nothing: an error naming
 * the input, with the lines counted. */
static void test_no_accesses(void **state)
{
	struct tenv *t = *state;
	struct lackey_stats st;
	struct trace_error err;
	static const char random_bytes[] = "\x8f\x01zq\xfe\x80\n\x13\x37garbage\xc3(";

	assert_int_equal(import_text(t, "", "in.txt", &st, &err), -EINVAL);
	assert_int_equal(st.lines, 0);
	assert_non_null(strstr(err.msg, "in.txt: no lackey access line in 0 lines"));
	assert_int_equal(import_text(t, "==1== Lackey\n\n==1== Exit code: 1", "-", &st, &err), -EINVAL);
	assert_int_equal(st.lines, 3);
	assert_int_equal(st.ignored, 3);
	assert_int_equal(st.records, 0);
	assert_non_null(strstr(err.msg, "-: no lackey access line in 3 lines"));
	assert_int_equal(import_text(t, random_bytes, "rnd", &st, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "rnd: no lackey access line"));
	assert_int_equal(import_text(t, "addr\tsize\n0x1000\t8\n0x2000\t4\n", "t.tsv", &st, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "t.tsv: no lackey access line in 3 lines"));
	/* one access line among the rest is a trace */
	assert_int_equal(import_text(t, "==1== Lackey\n I 1000,4\nI  1000,4\n", "-", &st, &err), 0);
	assert_int_equal(st.records, 1);
}

/* The records go to the vCPU asked for; one the trace does not have is trace_write's error. */
static void test_vcpu(void **state)
{
	struct tenv *t = *state;
	struct lackey_stats st;
	struct trace_error err;
	struct trace_record *v;
	size_t n;

	write_file(t->in, "I  1000,4\n L 2000,8\n", 20);
	assert_int_equal(import(t, t->in, 2, 3, &st, &err), 0);
	v = read_back(t->out, &n, NULL);
	assert_int_equal(n, 2);
	check_rec(&v[0], REC_FETCH, 2, 0x1000, 4, 1);
	check_rec(&v[1], REC_READ, 2, 0x2000, 8, 0);
	free(v);
	assert_true(import(t, t->in, 3, 3, &st, &err) < 0);
	assert_int_equal(st.records, 0);
}

struct bad_case {
	const char *text;
	unsigned line;
	const char *what;       /* a word the message must hold */
};

static const struct bad_case bad_cases[] = {
	{ "I  04000\n", 1, "cut-off" },
	{ "==1== x\nI  0401ab70,3\nI  04000\nI  0401ab73,5\n", 3, "cut-off" },
	{ "I  0401ab70,3\n L zz,8\n", 2, "hex address" },
	{ "I  0401ab70,3\n S 1fff000708\n", 2, "cut-off" },
	{ " M 1fff000708,\n", 1, "cut-off" },
	{ "I\n", 1, "cut-off" },
	{ " L\n", 1, "cut-off" },
	{ " S \n", 1, "cut-off" },
	{ "I  ,3\n", 1, "hex address" },
	{ "I  0x1000,3\n", 1, "','" },
	{ "I  10000000000000000,3\n", 1, "64 bits" },
	{ " L fffffffffffffffff,8\n", 1, "64 bits" },
	{ "\n\n L 1000,0\n", 3, "size 0" },
	{ " L 1000,00\n", 1, "size 0" },
	{ " L 1000,8x\n", 1, "junk" },
	{ " L 1000,8 \n", 1, "junk" },
	{ " L 1000,-8\n", 1, "decimal size" },
	{ " L 1000,4294967296\n", 1, "32 bits" },
	{ "I  0401ab70,3\nI  0401ab73,5", 2, "no newline" },
	{ "I  0401ab70,3\nI  0401ab7", 2, "cut-off" },
	{ "I  0401ab70,3\n S", 2, "cut-off" },
};

static void test_bad_lines(void **state)
{
	struct tenv *t = *state;
	struct lackey_stats st;
	struct trace_error err;
	char want[128];
	size_t i;

	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		const char *name = i % 2 ? "-" : "capture.txt";

		memset(&err, 0, sizeof(err));
		unlink(t->out);
		if (import_text(t, c->text, name, &st, &err) != -EINVAL)
			fail_msg("case %zu (%s): expected -EINVAL", i, c->text);
		snprintf(want, sizeof(want), "%s:%u: ", name, c->line);
		if (strncmp(err.msg, want, strlen(want)) || !strstr(err.msg, c->what))
			fail_msg("case %zu: message '%s', want '%s...%s'", i, err.msg, want, c->what);
		assert_int_equal(st.lines, c->line);
		/* The aborted trace leaves nothing behind. */
		assert_int_not_equal(access(t->out, F_OK), 0);
	}
}

/* Many lines: they cross the 1 MiB read buffer at every offset a line can be cut at. */
static void test_buffer_boundaries(void **state)
{
	struct tenv *t = *state;
	struct lackey_stats st;
	struct trace_error err;
	struct trace_record *v;
	size_t n, i, len = 0, cap = 8u << 20;
	char *text = malloc(cap);
	const unsigned nr = 200000;

	assert_non_null(text);
	for (i = 0; i < nr; i++) {
		uint64_t addr = 0x400000 + i * 0x1234567ull;
		if (i % 3 == 0)
			len += (size_t)snprintf(text + len, cap - len, "I  %08llx,%zu\n",
						(unsigned long long)addr, i % 15 + 1);
		else
			len += (size_t)snprintf(text + len, cap - len, " %c %llx,%zu\n",
						i % 3 == 1 ? 'L' : i % 2 ? 'S' : 'M',
						(unsigned long long)addr, i % 64 + 1);
		if (i % 1000 == 999)
			len += (size_t)snprintf(text + len, cap - len, "==1== %zu lines\n", i + 1);
	}
	write_file(t->in, text, len);
	free(text);
	assert_int_equal(import(t, t->in, 0, 1, &st, &err), 0);
	assert_int_equal(st.records, nr);
	assert_int_equal(st.ignored, nr / 1000);
	assert_int_equal(st.lines, nr + nr / 1000);

	v = read_back(t->out, &n, NULL);
	assert_int_equal(n, nr);
	for (i = 0; i < nr; i++) {
		uint64_t addr = 0x400000 + i * 0x1234567ull;
		if (i % 3 == 0)
			check_rec(&v[i], REC_FETCH, 0, addr, (uint32_t)(i % 15 + 1), 1);
		else
			check_rec(&v[i], i % 3 == 1 ? REC_READ : REC_WRITE, 0, addr, (uint32_t)(i % 64 + 1), 0);
	}
	free(v);
}

/* A message line longer than the read buffer is skipped; an access line that long is an error. */
static void test_long_lines(void **state)
{
	struct tenv *t = *state;
	struct lackey_stats st;
	struct trace_error err;
	struct trace_record *v;
	size_t n, big = 3u << 20, len;
	char *text = malloc(big + 64);

	assert_non_null(text);
	len = (size_t)sprintf(text, "I  1000,4\n==1== ");
	memset(text + len, 'x', big);
	len += big;
	len += (size_t)sprintf(text + len, "\n L 2000,8\n");
	write_file(t->in, text, len);
	assert_int_equal(import(t, t->in, 0, 1, &st, &err), 0);
	assert_int_equal(st.lines, 3);
	assert_int_equal(st.ignored, 1);
	v = read_back(t->out, &n, NULL);
	assert_int_equal(n, 2);
	check_rec(&v[0], REC_FETCH, 0, 0x1000, 4, 1);
	check_rec(&v[1], REC_READ, 0, 0x2000, 8, 0);
	free(v);

	len = (size_t)sprintf(text, "I  1000,4\n L ");
	memset(text + len, '0', big);
	len += big;
	len += (size_t)sprintf(text + len, "2000,8\n");
	write_file(t->in, text, len);
	assert_int_equal(import(t, "long.txt", 0, 1, &st, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "long.txt:2: "));
	free(text);
}

/* The committed captures (traces/samples/README has the commands and these counts). */
struct sample_trace {
	const char *file;
	uint64_t records;
	const char *source_prefix;
};

static const struct sample_trace samples[] = {
	{ "traces/samples/ls-l-usr-sbin.trace.gz", 2797403, "lackey: ls -l /usr/sbin" },
	{ "traces/samples/sort-licenses.trace.gz", 2209096, "lackey: sort /usr/share/common-licenses/" },
};

static void test_samples(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		const struct sample_trace *s = &samples[i];
		struct trace_reader *r = NULL;
		struct trace_error err;
		struct trace_record rec;
		uint64_t n = 0, fetches = 0;
		int rc;

		rc = trace_open(s->file, &r, &err);
		if (rc < 0)
			fail_msg("%s (run the tests from the repository root): %s", s->file, err.msg);
		assert_int_equal(trace_reader_header(r)->nr_vcpus, 1);
		assert_int_equal(trace_reader_header(r)->addr_kind, TRACE_ADDR_GVA);
		assert_int_equal(strncmp(trace_reader_header(r)->source, s->source_prefix,
					 strlen(s->source_prefix)), 0);
		while ((rc = trace_next(r, &rec, &err)) == 1) {
			if (n++ == 0)   /* ld-linux-x86-64.so.2's entry, loaded at 0x4000000 (README) */
				check_rec(&rec, REC_FETCH, 0, 0x401ab70, 3, 1);
			assert_int_equal(rec.vcpu, 0);
			assert_true(rec.kind == REC_FETCH || rec.kind == REC_READ || rec.kind == REC_WRITE);
			assert_true(rec.size > 0);
			assert_int_equal(rec.icount, rec.kind == REC_FETCH);
			fetches += rec.kind == REC_FETCH;
		}
		if (rc < 0)
			fail_msg("%s: %s", s->file, err.msg);
		trace_close(r);
		if (n != s->records)
			fail_msg("%s: %llu records, README says %llu", s->file, (unsigned long long)n,
				 (unsigned long long)s->records);
		assert_true(fetches > n / 4);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_every_line_type, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_accesses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vcpu, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_buffer_boundaries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_lines, setup, teardown),
		cmocka_unit_test(test_samples),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
