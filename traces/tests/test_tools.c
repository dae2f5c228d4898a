/* eptsim trace info / merge / convert, on traces made here. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "traces/tools.h"
#include "traces/trace.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/eptsim-tools-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

/* A single-vCPU trace of n fetches at base + 64*i, each with the given icount. */
static void make_trace(const char *path, int n, uint64_t base, uint64_t icount)
{
	struct trace_header h = { .version = TRACE_VERSION, .nr_vcpus = 1 };
	struct trace_writer *w;
	struct trace_error e;
	snprintf(h.source, sizeof(h.source), "test %s", path);
	assert_int_equal(trace_create(path, &h, &w, &e), 0);
	for (int i = 0; i < n; i++) {
		struct trace_record r = { .kind = REC_FETCH, .size = 4, .addr = base + 64 * (uint64_t)i, .icount = icount };
		assert_int_equal(trace_write(w, &r, &e), 0);
	}
	assert_int_equal(trace_finish(w, &e), 0);
}

static void test_info(void **state)
{
	char p[128];
	struct trace_info info;
	struct trace_error e;
	(void)state;
	snprintf(p, sizeof(p), "%s/a.trace.gz", dir);
	make_trace(p, 200, 0x400000, 3);   /* 200 * 64 bytes = 12800: 4 pages of 4K, 1 of 2M */
	assert_int_equal(trace_info_read(p, &info, &e), 0);
	assert_int_equal(info.records, 200);
	assert_int_equal(info.by_kind[REC_FETCH], 200);
	assert_int_equal(info.by_vcpu[0], 200);
	assert_int_equal(info.instructions, 600);
	assert_int_equal(info.min_addr, 0x400000);
	assert_int_equal(info.max_addr, 0x400000 + 64 * 199);
	assert_int_equal(info.pages_4k, 4);
	assert_int_equal(info.pages_2m, 1);
	assert_true(info.file_bytes > 0);
	trace_info_free(&info);
	snprintf(p, sizeof(p), "%s/missing.trace.gz", dir);
	assert_true(trace_info_read(p, &info, &e) < 0);
	assert_non_null(strstr(e.msg, "missing.trace.gz"));
}

static void test_merge_interleaves_by_instructions(void **state)
{
	char a[128], b[128], out[128];
	struct trace_error e;
	struct trace_reader *r;
	struct trace_record rec;
	(void)state;
	snprintf(a, sizeof(a), "%s/m0.trace.gz", dir);
	snprintf(b, sizeof(b), "%s/m1.trace.gz", dir);
	snprintf(out, sizeof(out), "%s/merged.trace.gz", dir);
	make_trace(a, 10, 0x1000, 2);   /* vCPU 0 executes 2 instructions a record */
	make_trace(b, 5, 0x9000, 4);    /* vCPU 1 executes 4 */
	const char *in[] = { a, b };
	assert_int_equal(trace_merge(in, 2, out, &e), 0);
	assert_int_equal(trace_open(out, &r, &e), 0);
	assert_int_equal(trace_reader_header(r)->nr_vcpus, 2);
	/* expected order: the input with the fewest instructions after its next record goes
	 * first, ties to vCPU 0: 0(2) 0(4) 1(4) 0(6) 0(8) 1(8) ... */
	uint64_t clock[2] = { 0, 0 };
	int n = 0, count[2] = { 0, 0 };
	while (trace_next(r, &rec, &e) > 0) {
		int v = rec.vcpu;
		int o = 1 - v;
		clock[v] += rec.icount;
		/* the other input had not run further than this one when this record went */
		if (count[o] < (o == 0 ? 10 : 5))
			assert_true(clock[v] <= clock[o] + (o == 0 ? 2 : 4));
		count[v]++;
		n++;
	}
	assert_int_equal(n, 15);
	assert_int_equal(count[0], 10);
	assert_int_equal(count[1], 5);
	trace_close(r);
	/* a multi-vCPU input is refused */
	const char *bad[] = { out, a };
	char out2[128];
	snprintf(out2, sizeof(out2), "%s/m2.trace.gz", dir);
	assert_int_equal(trace_merge(bad, 2, out2, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "single-vCPU"));
}

static void test_convert_errors(void **state)
{
	char t[128], out[128];
	struct trace_error e;
	FILE *f;
	(void)state;
	snprintf(t, sizeof(t), "%s/bad.txt", dir);
	snprintf(out, sizeof(out), "%s/bad.trace.gz", dir);
	f = fopen(t, "w");
	fprintf(f, "0 R 0x1000 8 3\n");
	fclose(f);
	assert_int_equal(trace_convert(t, out, &e), -EINVAL);
	assert_non_null(strstr(e.msg, ":1:"));
	f = fopen(t, "w");
	fprintf(f, "# eptsim-trace 1 vcpus=1 addr=gva paging=4-level source=\"x\"\n0 R 0x1000 8 3\n0 Q 0x1 8 0\n");
	fclose(f);
	assert_int_equal(trace_convert(t, out, &e), -EINVAL);
	assert_non_null(strstr(e.msg, ":3:"));
	f = fopen(out, "r");
	assert_null(f);   /* nothing half-written */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_info),
		cmocka_unit_test(test_merge_interleaves_by_instructions),
		cmocka_unit_test(test_convert_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
