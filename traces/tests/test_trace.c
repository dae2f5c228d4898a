// SPDX-License-Identifier: GPL-2.0
/* Tests for traces/trace: binary round trips of every record kind and of a long
 * pseudo-random stream, the gzip framing (zcat reads it), the text form (format/parse and
 * binary -> text -> binary byte-identical), corrupt and truncated files (every one an error
 * naming the record or the header, never a crash or a clean end), rewind, stdin/stdout,
 * the atomic create, and that reading does not allocate in proportion to the trace.
 * Wherever a trace is read, trace_read() in batches is checked against trace_next(). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "traces/trace.h"

#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#ifdef TEST_ASAN
/* From <sanitizer/allocator_interface.h>, not always installed: ASan replaces malloc, so
 * mallinfo2() does not see the heap; ask the sanitizer's allocator instead. */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

#define NR_RANDOM	200000
#define NR_STREAMING	2000000
#define NR_CORRUPT	50000
#define NR_RAW_FLIP	100		/* records of the trace whose raw bytes are flipped */
#define RAW_FLIP_MAX	(64u << 10)	/* room for its raw bytes */
#define STREAM_LIMIT	(4u << 20)	/* bytes a reader may hold, whatever the trace length */
#define STREAM_GROWTH	(64u << 10)	/* bytes reading may add after trace_open */

/* ---- helpers ---------------------------------------------------------------------- */

struct tmpdir { char path[64]; };

static void tmpdir_make(struct tmpdir *d)
{
	strcpy(d->path, "/tmp/test_trace.XXXXXX");
	assert_non_null(mkdtemp(d->path));
}

static void tmpdir_remove(struct tmpdir *d)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->path);
	assert_int_equal(system(cmd), 0);
}

/* Each test gets a fresh directory, removed even when the test fails. */
static int dir_setup(void **state)
{
	struct tmpdir *d = malloc(sizeof(*d));

	if (!d)
		return -1;
	tmpdir_make(d);
	*state = d;
	return 0;
}

static int dir_teardown(void **state)
{
	tmpdir_remove(*state);
	free(*state);
	return 0;
}

static char *tmpfile_in(const struct tmpdir *d, const char *name)
{
	static char buf[4][128];
	static unsigned next;
	char *p = buf[next++ % 4];

	snprintf(p, sizeof(buf[0]), "%s/%s", d->path, name);
	return p;
}

static uint64_t rnd_state;

static uint64_t rnd(void)
{
	/* splitmix64: fixed seed, so every run tests the same stream */
	uint64_t z = (rnd_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static struct trace_header mkheader(uint32_t nr_vcpus, const char *source)
{
	struct trace_header h;

	memset(&h, 0, sizeof(h));
	h.version = TRACE_VERSION;
	h.nr_vcpus = nr_vcpus;
	h.addr_kind = TRACE_ADDR_GVA;
	h.paging = TRACE_PAGING_4LEVEL;
	snprintf(h.source, sizeof(h.source), "%s", source);
	return h;
}

static struct trace_record mem(uint16_t vcpu, uint8_t kind, uint64_t addr, uint32_t size,
			       uint64_t icount)
{
	struct trace_record r = { .kind = kind, .vcpu = vcpu, .size = size, .icount = icount,
				  .addr = addr };
	return r;
}

static struct trace_record ctl(uint16_t vcpu, uint8_t kind, uint32_t arg, uint64_t addr,
			       uint64_t len, uint64_t icount)
{
	struct trace_record r = { .kind = kind, .vcpu = vcpu, .arg = arg, .icount = icount,
				  .addr = addr, .len = len };
	return r;
}

static bool rec_equal(const struct trace_record *a, const struct trace_record *b)
{
	return a->kind == b->kind && a->vcpu == b->vcpu && a->size == b->size &&
	       a->arg == b->arg && a->icount == b->icount && a->addr == b->addr &&
	       a->len == b->len;
}

static void assert_rec_equal(const struct trace_record *got, const struct trace_record *want,
			     size_t i)
{
	if (!rec_equal(got, want))
		fail_msg("record %zu: got kind %u vcpu %u size %u arg %u icount %llu addr 0x%llx "
			 "len 0x%llx, want kind %u vcpu %u size %u arg %u icount %llu addr 0x%llx "
			 "len 0x%llx", i + 1,
			 got->kind, got->vcpu, got->size, got->arg, (unsigned long long)got->icount,
			 (unsigned long long)got->addr, (unsigned long long)got->len,
			 want->kind, want->vcpu, want->size, want->arg,
			 (unsigned long long)want->icount, (unsigned long long)want->addr,
			 (unsigned long long)want->len);
}

static void write_trace(const char *path, const struct trace_header *h,
			const struct trace_record *recs, size_t n)
{
	struct trace_writer *w;
	struct trace_error err;
	size_t i;

	if (trace_create(path, h, &w, &err))
		fail_msg("%s", err.msg);
	for (i = 0; i < n; i++)
		if (trace_write(w, &recs[i], &err))
			fail_msg("%s", err.msg);
	assert_int_equal(trace_writer_count(w), n);
	if (trace_finish(w, &err))
		fail_msg("%s", err.msg);
}

/* trace_read() must read exactly what trace_next() reads: the same records, then the same
 * end or error with the same message (sticky), whatever the batch size.  Header errors come
 * from trace_open(), which both share.  One reader after the other, so that both get the
 * same file descriptor, which zlib's messages name. */
static void expect_batched_same(const char *path, unsigned batch)
{
	struct trace_reader *r;
	struct trace_error e1, e2, again;
	struct trace_record *want = NULL, *got = calloc(batch, sizeof(*got));
	size_t n = 0, cap = 0, i = 0;
	int r1, r2;

	assert_non_null(got);
	if (trace_open(path, &r, &e1)) {
		free(got);
		return;
	}
	for (;;) {
		if (n == cap) {
			cap = cap ? 2 * cap : 1024;
			want = realloc(want, cap * sizeof(*want));
			assert_non_null(want);
		}
		if ((r1 = trace_next(r, &want[n], &e1)) != 1)
			break;
		n++;
	}
	trace_close(r);

	if (trace_open(path, &r, &e2))
		fail_msg("%s", e2.msg);
	while ((r2 = trace_read(r, got, batch, &e2)) > 0) {
		assert_true((unsigned)r2 <= batch);
		for (int k = 0; k < r2; k++, i++) {
			if (i == n)
				fail_msg("%s: batches of %u: trace_read gave record %zu, trace_next "
					 "%d (%s)", path, batch, i + 1, r1, r1 < 0 ? e1.msg : "the end");
			assert_rec_equal(&got[k], &want[i], i);
		}
		assert_int_equal(trace_reader_count(r), i);
	}
	if (r1 != r2 || i != n)
		fail_msg("%s: batches of %u: trace_read %d (%s) after %zu records, trace_next %d "
			 "(%s) after %zu", path, batch, r2, r2 < 0 ? e2.msg : "", i, r1,
			 r1 < 0 ? e1.msg : "", n);
	if (r1 < 0)
		assert_string_equal(e2.msg, e1.msg);
	assert_int_equal(trace_read(r, got, batch, &again), r2);
	if (r2 < 0)
		assert_string_equal(again.msg, e2.msg);
	trace_close(r);
	free(want);
	free(got);
}

/* The batch sizes the differential checks use: one record, and a typical batch. */
static void expect_batched_same_all(const char *path)
{
	expect_batched_same(path, 1);
	expect_batched_same(path, 256);
}

static void expect_records(struct trace_reader *r, const struct trace_record *recs, size_t n)
{
	struct trace_record got;
	struct trace_error err;
	size_t i;
	int ret;

	for (i = 0; i < n; i++) {
		ret = trace_next(r, &got, &err);
		if (ret != 1)
			fail_msg("record %zu: trace_next %d: %s", i + 1, ret,
				 ret < 0 ? err.msg : "(end)");
		assert_rec_equal(&got, &recs[i], i);
	}
	ret = trace_next(r, &got, &err);
	if (ret != 0)
		fail_msg("after %zu records: trace_next %d: %s", n, ret, ret < 0 ? err.msg : "");
	assert_int_equal(trace_reader_count(r), n);
	/* the end is sticky */
	assert_int_equal(trace_next(r, &got, &err), 0);
}

static void read_and_check(const char *path, const struct trace_header *h,
			   const struct trace_record *recs, size_t n)
{
	struct trace_reader *r;
	struct trace_error err;
	const struct trace_header *got;

	if (trace_open(path, &r, &err))
		fail_msg("%s", err.msg);
	got = trace_reader_header(r);
	assert_int_equal(got->version, TRACE_VERSION);
	assert_int_equal(got->nr_vcpus, h->nr_vcpus);
	assert_int_equal(got->addr_kind, h->addr_kind);
	assert_int_equal(got->paging, h->paging);
	assert_string_equal(got->source, h->source);
	expect_records(r, recs, n);
	trace_close(r);
	expect_batched_same_all(path);
}

/* Every kind, size, op and the edge values of each field. */
static size_t edge_records(struct trace_record *out)
{
	static const uint8_t mkinds[] = { REC_READ, REC_WRITE, REC_FETCH, REC_MMIO_READ,
					  REC_MMIO_WRITE };
	static const uint32_t sizes[] = { 1, 2, 4, 8, 16, 64, 3, 4096, UINT32_MAX };
	static const uint64_t addrs[] = {
		0x7fffdeadbeef, 0x7fffdeadbef7,		/* small step up */
		0x7fffdeadbee0,				/* small step down */
		0, UINT64_MAX, 1, 0x8000000000000000ull,	/* huge steps either way */
		0xffff800000000000ull, 0x1000, 0xfff, 0x0000555555554000ull,
	};
	static const uint64_t icounts[] = { 0, 1, 127, 128, 300, UINT64_MAX };
	size_t n = 0, k, s, a, op;
	uint16_t vcpu = 0;

	for (k = 0; k < sizeof(mkinds); k++)
		for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
			for (a = 0; a < sizeof(addrs) / sizeof(addrs[0]); a++) {
				/* switch vCPU now and then, up to the last one */
				if ((k + s + a) % 5 == 0)
					vcpu = (uint16_t)((vcpu + 1 + a) % 4);
				out[n++] = mem(vcpu, mkinds[k], addrs[a] + k, sizes[s],
					       icounts[(k + s + a) % 6]);
			}
	out[n++] = ctl(3, REC_UNMAP, 0, 0x7f0000000000ull, 0x200000, 0);
	out[n++] = ctl(3, REC_UNMAP, 0, UINT64_MAX, UINT64_MAX, UINT64_MAX);
	for (op = 0; op < 4; op++)
		out[n++] = ctl((uint16_t)op, REC_MEMSLOT, (uint32_t)op, 0xfeb00000 + op, 0x40000,
			       op * 1000);
	for (op = 0; op < 3; op++)
		out[n++] = ctl(1, REC_DIRTY_LOG, (uint32_t)op, 0xc0000000, 0, op);
	out[n++] = ctl(2, REC_MARKER, 0, 0, 0, 0);
	out[n++] = ctl(0, REC_MARKER, UINT32_MAX, 0, 0, 12345);
	/* a memory record after control records still diffs against its own stream */
	out[n++] = mem(0, REC_READ, 0x7fffdeadbeef, 8, 0);
	out[n++] = mem(0, REC_FETCH, 0x400000, 1, 1);
	return n;
}

#define EDGE_MAX 1024

static void random_record(struct trace_record *r, uint32_t nr_vcpus, uint64_t *last)
{
	uint64_t x = rnd(), y = rnd();
	unsigned pick = (unsigned)(x % 100);
	uint16_t vcpu = (uint16_t)((x >> 8) % nr_vcpus);

	if (pick < 96) {
		static const uint32_t sizes[] = { 8, 8, 8, 4, 4, 1, 2, 16, 64, 7 };
		uint8_t kind = (uint8_t)((x >> 24) % 5);
		uint64_t addr;

		switch ((x >> 32) % 4) {
		case 0: addr = last[vcpu] + (y % 64); break;			/* forward */
		case 1: addr = last[vcpu] - (y % 4096); break;			/* back */
		case 2: addr = y & 0x00007fffffffffffull; break;		/* anywhere */
		default: addr = y; break;					/* any 64 bits */
		}
		last[vcpu] = addr;
		*r = mem(vcpu, kind, addr, sizes[(x >> 40) % 10],
			 (x >> 44) % 3 ? (x >> 50) % 40 : 0);
	} else if (pick < 97) {
		*r = ctl(vcpu, REC_UNMAP, 0, y, rnd(), (x >> 40) % 1000);
	} else if (pick < 98) {
		*r = ctl(vcpu, REC_MEMSLOT, (uint32_t)(y % 4), rnd(), rnd() >> 20, 0);
	} else if (pick < 99) {
		*r = ctl(vcpu, REC_DIRTY_LOG, (uint32_t)(y % 3), rnd(), 0, (x >> 40) % 3);
	} else {
		*r = ctl(vcpu, REC_MARKER, (uint32_t)y, 0, 0, (x >> 40) % 7);
	}
}

static struct trace_record *random_records(size_t n, uint32_t nr_vcpus, uint64_t seed)
{
	struct trace_record *recs = calloc(n, sizeof(*recs));
	uint64_t last[TRACE_MAX_VCPUS] = { 0 };
	size_t i;

	assert_non_null(recs);
	rnd_state = seed;
	for (i = 0; i < n; i++)
		random_record(&recs[i], nr_vcpus, last);
	return recs;
}

static void *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void write_file(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* Write raw (uncompressed) trace bytes as a gzip file, as a hand-crafted trace. */
static void write_gz(const char *path, const void *buf, size_t len)
{
	gzFile gz = gzopen(path, "wb");

	assert_non_null(gz);
	assert_int_equal(gzwrite(gz, buf, (unsigned)len), (int)len);
	assert_int_equal(gzclose(gz), Z_OK);
}

static size_t put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

/* The header bytes of a hand-crafted trace. */
static size_t craft_header(uint8_t *p, uint64_t version, uint64_t nr_vcpus)
{
	size_t n = 0;

	memcpy(p, TRACE_MAGIC, 8);
	n += 8;
	n += put_varint(p + n, version);
	n += put_varint(p + n, nr_vcpus);
	p[n++] = TRACE_ADDR_GPA;
	p[n++] = TRACE_PAGING_NONE;
	n += put_varint(p + n, 3);
	memcpy(p + n, "abc", 3);
	return n + 3;
}

/* Read path to its end and return the error; the message must name the path and the record
 * being read (or the header) and contain `what`.  Also checks the number in the message is
 * the count of records read + 1, and that the error is sticky. */
static int expect_error(const char *path, const char *what, long want_record)
{
	struct trace_reader *r;
	struct trace_record rec;
	struct trace_error err, again;
	char prefix[300];
	int ret;

	memset(&err, 0, sizeof(err));
	expect_batched_same_all(path);
	ret = trace_open(path, &r, &err);
	if (ret == 0) {
		uint64_t n = 0;

		while ((ret = trace_next(r, &rec, &err)) == 1)
			n++;
		if (ret == 0)
			fail_msg("%s: read %llu records and a clean end; wanted an error (%s)", path,
				 (unsigned long long)n, what ? what : "any");
		assert_int_equal(n, trace_reader_count(r));
		snprintf(prefix, sizeof(prefix), "%s: record %llu: ", path,
			 (unsigned long long)n + 1);
		if (strncmp(err.msg, prefix, strlen(prefix)))
			fail_msg("message '%s' does not start with '%s'", err.msg, prefix);
		if (want_record >= 0)
			assert_int_equal(n + 1, (uint64_t)want_record);
		assert_int_equal(trace_next(r, &rec, &again), ret);
		assert_string_equal(again.msg, err.msg);
		trace_close(r);
	} else {
		snprintf(prefix, sizeof(prefix), "%s: header: ", path);
		if (strncmp(err.msg, prefix, strlen(prefix)))
			fail_msg("message '%s' does not start with '%s'", err.msg, prefix);
		if (want_record > 0)
			fail_msg("header error '%s', wanted one at record %ld", err.msg, want_record);
	}
	assert_true(ret < 0);
	if (what && !strstr(err.msg, what))
		fail_msg("message '%s' does not say '%s'", err.msg, what);
	return ret;
}

/* ---- round trips ------------------------------------------------------------------ */

static void test_roundtrip_every_kind(void **state)
{
	struct trace_record *recs = calloc(EDGE_MAX, sizeof(*recs));
	struct trace_header h = mkheader(4, "kbuild \"quoted\" back\\slash\ttab\nnewline é");
	struct tmpdir d = *(struct tmpdir *)*state;
	size_t n;

	assert_non_null(recs);
	n = edge_records(recs);
	assert_true(n < EDGE_MAX);
	write_trace(tmpfile_in(&d, "a.trace"), &h, recs, n);
	read_and_check(tmpfile_in(&d, "a.trace"), &h, recs, n);

	/* the other header values, an empty source and the longest one */
	h = mkheader(TRACE_MAX_VCPUS, "");
	h.addr_kind = TRACE_ADDR_GPA;
	h.paging = TRACE_PAGING_NONE;
	recs[0] = mem(TRACE_MAX_VCPUS - 1, REC_WRITE, 0x1234, 8, 0);
	write_trace(tmpfile_in(&d, "b.trace"), &h, recs, 1);
	read_and_check(tmpfile_in(&d, "b.trace"), &h, recs, 1);
	memset(h.source, 'x', TRACE_SOURCE_MAX);
	h.source[TRACE_SOURCE_MAX] = 0;
	write_trace(tmpfile_in(&d, "c.trace"), &h, recs, 0);
	read_and_check(tmpfile_in(&d, "c.trace"), &h, recs, 0);
	free(recs);
}

static void test_roundtrip_random(void **state)
{
	struct trace_header h = mkheader(7, "random");
	struct trace_record *recs = random_records(NR_RANDOM, h.nr_vcpus, 42);
	struct tmpdir d = *(struct tmpdir *)*state;

	write_trace(tmpfile_in(&d, "r.trace"), &h, recs, NR_RANDOM);
	read_and_check(tmpfile_in(&d, "r.trace"), &h, recs, NR_RANDOM);
	free(recs);

	/* many vCPUs: vCPU numbers of two bytes, a switch nearly every record */
	h = mkheader(1000, "random, 1000 vCPUs");
	recs = random_records(NR_RANDOM / 4, h.nr_vcpus, 43);
	write_trace(tmpfile_in(&d, "m.trace"), &h, recs, NR_RANDOM / 4);
	read_and_check(tmpfile_in(&d, "m.trace"), &h, recs, NR_RANDOM / 4);
	free(recs);
}

/* Fields a kind does not use are not stored and read back as 0. */
static void test_unused_fields_dropped(void **state)
{
	struct trace_header h = mkheader(2, "");
	struct trace_record in[4], want[4];
	struct tmpdir d = *(struct tmpdir *)*state;

	in[0] = mem(1, REC_READ, 0x1000, 8, 3);
	in[0].arg = 7;
	in[0].len = 99;
	in[1] = ctl(0, REC_UNMAP, 5, 0x2000, 0x1000, 0);
	in[1].size = 8;
	in[2] = ctl(0, REC_DIRTY_LOG, DIRTY_LOG_GET, 0x3000, 0x77, 1);
	in[3] = ctl(1, REC_MARKER, 9, 0x4000, 0x10, 2);
	want[0] = mem(1, REC_READ, 0x1000, 8, 3);
	want[1] = ctl(0, REC_UNMAP, 0, 0x2000, 0x1000, 0);
	want[2] = ctl(0, REC_DIRTY_LOG, DIRTY_LOG_GET, 0x3000, 0, 1);
	want[3] = ctl(1, REC_MARKER, 9, 0, 0, 2);
	write_trace(tmpfile_in(&d, "u.trace"), &h, in, 4);
	read_and_check(tmpfile_in(&d, "u.trace"), &h, want, 4);
}

static void test_is_gzip(void **state)
{
	struct trace_header h = mkheader(1, "zcat");
	struct trace_record rec = mem(0, REC_READ, 0x1000, 8, 1);
	struct tmpdir d = *(struct tmpdir *)*state;
	char cmd[256], got[16] = { 0 };
	FILE *p;

	write_trace(tmpfile_in(&d, "z.trace"), &h, &rec, 1);
	snprintf(cmd, sizeof(cmd), "zcat '%s' | head -c 8", tmpfile_in(&d, "z.trace"));
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_int_equal(fread(got, 1, sizeof(got) - 1, p), 8);
	assert_int_equal(pclose(p), 0);
	assert_string_equal(got, "EPTSIMTR");
}

/* ---- writer contract -------------------------------------------------------------- */

static void test_create_atomic_and_abort(void **state)
{
	struct trace_header h = mkheader(2, "");
	struct trace_record rec = mem(0, REC_READ, 0x1000, 8, 1);
	struct trace_writer *w;
	struct trace_error err;
	struct tmpdir d = *(struct tmpdir *)*state;
	char tmp[200];
	struct stat st;
	const char *path;

	path = tmpfile_in(&d, "t.trace");
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());

	assert_int_equal(trace_create(path, &h, &w, &err), 0);
	assert_int_equal(trace_write(w, &rec, &err), 0);
	assert_int_equal(stat(tmp, &st), 0);
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(trace_finish(w, &err), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(stat(tmp, &st), -1);

	/* an abort leaves the old file as it was and no temporary behind */
	assert_int_equal(trace_create(path, &h, &w, &err), 0);
	assert_int_equal(trace_write(w, &rec, &err), 0);
	trace_abort(w);
	assert_int_equal(stat(tmp, &st), -1);
	read_and_check(path, &h, &rec, 1);

	/* refusals: a bad header, a bad record (nothing of it written) */
	h.nr_vcpus = 0;
	assert_int_equal(trace_create(path, &h, &w, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "header: vCPU count 0 out of range"));
	h.nr_vcpus = TRACE_MAX_VCPUS + 1;
	assert_int_equal(trace_create(path, &h, &w, &err), -EINVAL);
	h = mkheader(2, "");
	h.addr_kind = 2;
	assert_int_equal(trace_create(path, &h, &w, &err), -EINVAL);
	h = mkheader(2, "");
	h.paging = 9;
	assert_int_equal(trace_create(path, &h, &w, &err), -EINVAL);
	h = mkheader(2, "");
	memset(h.source, 'y', sizeof(h.source));	/* no terminating NUL */
	assert_int_equal(trace_create(path, &h, &w, &err), -EINVAL);

	h = mkheader(2, "");
	assert_int_equal(trace_create(path, &h, &w, &err), 0);
	assert_int_equal(trace_write(w, &rec, &err), 0);
	rec.vcpu = 2;
	assert_int_equal(trace_write(w, &rec, &err), -EINVAL);
	assert_non_null(strstr(err.msg, ": record 2: vCPU 2 out of range"));
	rec = ctl(0, REC_END, 0, 0, 0, 0);
	assert_int_equal(trace_write(w, &rec, &err), -EINVAL);
	rec = ctl(0, 12, 0, 0, 0, 0);
	assert_int_equal(trace_write(w, &rec, &err), -EINVAL);
	rec = ctl(0, REC_MEMSLOT, 4, 0, 0, 0);
	assert_int_equal(trace_write(w, &rec, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "memslot op 4 unknown"));
	rec = ctl(0, REC_DIRTY_LOG, 3, 0, 0, 0);
	assert_int_equal(trace_write(w, &rec, &err), -EINVAL);
	assert_int_equal(trace_writer_count(w), 1);
	rec = mem(1, REC_FETCH, 0x5000, 4, 0);
	assert_int_equal(trace_write(w, &rec, &err), 0);
	assert_int_equal(trace_finish(w, &err), 0);
	{
		struct trace_record want[2] = { mem(0, REC_READ, 0x1000, 8, 1),
						mem(1, REC_FETCH, 0x5000, 4, 0) };

		read_and_check(path, &h, want, 2);
	}

	/* a directory that does not exist */
	assert_int_equal(trace_create(tmpfile_in(&d, "missing/x.trace"), &h, &w, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "missing/x.trace.tmp."));
	{
		struct trace_reader *r;

		assert_int_equal(trace_open(tmpfile_in(&d, "missing.trace"), &r, &err), -ENOENT);
		assert_non_null(strstr(err.msg, "missing.trace: cannot open"));
	}
}

/* "-" writes stdout and reads stdin. */
static void test_stdio(void **state)
{
	struct trace_header h = mkheader(3, "stdio");
	struct trace_record *recs = random_records(1000, h.nr_vcpus, 7);
	struct trace_reader *r;
	struct trace_writer *w;
	struct trace_error err;
	struct tmpdir d = *(struct tmpdir *)*state;
	int saved, fd, ret;
	size_t i;

	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	fd = open(tmpfile_in(&d, "out.trace"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(saved >= 0 && fd >= 0);
	assert_true(dup2(fd, STDOUT_FILENO) >= 0);
	close(fd);
	ret = trace_create("-", &h, &w, &err);
	for (i = 0; ret == 0 && i < 1000; i++)
		ret = trace_write(w, &recs[i], &err);
	if (ret == 0)
		ret = trace_finish(w, &err);
	assert_true(dup2(saved, STDOUT_FILENO) >= 0);
	close(saved);
	if (ret)
		fail_msg("%s", err.msg);
	read_and_check(tmpfile_in(&d, "out.trace"), &h, recs, 1000);

	saved = dup(STDIN_FILENO);
	fd = open(tmpfile_in(&d, "out.trace"), O_RDONLY);
	assert_true(saved >= 0 && fd >= 0);
	assert_true(dup2(fd, STDIN_FILENO) >= 0);
	close(fd);
	ret = trace_open("-", &r, &err);
	assert_true(dup2(saved, STDIN_FILENO) >= 0);
	close(saved);
	if (ret)
		fail_msg("%s", err.msg);
	assert_string_equal(trace_reader_header(r)->source, "stdio");
	expect_records(r, recs, 1000);
	trace_close(r);

	/* a write error (stdout is /dev/full) comes back from trace_finish at the latest */
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	fd = open("/dev/full", O_WRONLY);
	if (fd >= 0) {
		assert_true(dup2(fd, STDOUT_FILENO) >= 0);
		close(fd);
		ret = trace_create("-", &h, &w, &err);
		for (i = 0; ret == 0 && i < 1000; i++)
			ret = trace_write(w, &recs[i], &err);
		if (ret == 0)
			ret = trace_finish(w, &err);
		else
			trace_abort(w);
		assert_true(dup2(saved, STDOUT_FILENO) >= 0);
		assert_int_equal(ret, -ENOSPC);
		assert_non_null(strstr(err.msg, "<stdout>: write error: "));
	}
	close(saved);

	/* a pipe cannot be rewound: an error, not a crash */
	{
		int pfd[2];
		struct trace_error e2;
		size_t len;
		void *buf = read_file(tmpfile_in(&d, "out.trace"), &len);

		assert_int_equal(pipe(pfd), 0);
		assert_true(len < 60000);	/* fits the pipe buffer */
		assert_int_equal(write(pfd[1], buf, len), (ssize_t)len);
		close(pfd[1]);
		saved = dup(STDIN_FILENO);
		assert_true(dup2(pfd[0], STDIN_FILENO) >= 0);
		close(pfd[0]);
		ret = trace_open("-", &r, &err);
		assert_true(dup2(saved, STDIN_FILENO) >= 0);
		close(saved);
		if (ret)
			fail_msg("%s", err.msg);
		expect_records(r, recs, 1000);
		assert_true(trace_rewind(r, &e2) < 0);
		assert_non_null(strstr(e2.msg, "<stdin>: "));
		trace_close(r);
		free(buf);
	}
	free(recs);
}

static void test_rewind(void **state)
{
	struct trace_header h = mkheader(5, "rewind");
	struct trace_record *recs = random_records(30000, h.nr_vcpus, 99);
	struct trace_reader *r;
	struct trace_record rec;
	struct trace_error err;
	struct tmpdir d = *(struct tmpdir *)*state;
	int i;

	write_trace(tmpfile_in(&d, "w.trace"), &h, recs, 30000);
	if (trace_open(tmpfile_in(&d, "w.trace"), &r, &err))
		fail_msg("%s", err.msg);
	/* rewind at the end, and in the middle (the per-vCPU address state must reset) */
	expect_records(r, recs, 30000);
	assert_int_equal(trace_rewind(r, &err), 0);
	assert_int_equal(trace_reader_count(r), 0);
	for (i = 0; i < 12345; i++) {
		assert_int_equal(trace_next(r, &rec, &err), 1);
		assert_rec_equal(&rec, &recs[i], (size_t)i);
	}
	assert_int_equal(trace_rewind(r, &err), 0);
	expect_records(r, recs, 30000);
	assert_int_equal(trace_rewind(r, &err), 0);
	expect_records(r, recs, 30000);
	assert_string_equal(trace_reader_header(r)->source, "rewind");
	trace_close(r);
	free(recs);
}

/* ---- text form -------------------------------------------------------------------- */

static int parse(const char *line, uint64_t lineno, struct trace_record *rec,
		 struct trace_header *h, struct trace_error *err)
{
	return trace_parse_line(line, lineno, "t.txt", rec, h, err);
}

static void test_text_format_parse(void **state)
{
	struct trace_record *recs = calloc(EDGE_MAX, sizeof(*recs));
	struct trace_header h = mkheader(4, "src \"q\" \\b\\ \x01 tab\t end"), h2;
	struct trace_record rec;
	struct trace_error err;
	char *buf = NULL, *line, *save = NULL;
	size_t len = 0, n, i;
	uint64_t lineno = 0;
	FILE *f;

	assert_non_null(recs);
	n = edge_records(recs);
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	trace_format_header(&h, f);
	for (i = 0; i < n; i++)
		trace_format_record(&recs[i], f);
	assert_int_equal(fclose(f), 0);

	i = 0;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		int ret = parse(line, ++lineno, &rec, &h2, &err);

		if (lineno == 1) {
			if (ret != 2)
				fail_msg("header '%s': %d %s", line, ret, err.msg);
			assert_int_equal(h2.version, TRACE_VERSION);
			assert_int_equal(h2.nr_vcpus, 4);
			assert_int_equal(h2.addr_kind, TRACE_ADDR_GVA);
			assert_int_equal(h2.paging, TRACE_PAGING_4LEVEL);
			assert_string_equal(h2.source, h.source);
			continue;
		}
		if (ret != 1)
			fail_msg("line %llu '%s': %d %s", (unsigned long long)lineno, line, ret,
				 err.msg);
		assert_rec_equal(&rec, &recs[i], i);
		i++;
	}
	assert_int_equal(i, n);
	free(buf);

	/* the exact text of each shape */
	{
		static const struct { struct trace_record r; const char *text; } cases[] = {
			{ { .kind = REC_READ, .vcpu = 1, .size = 8, .icount = 3, .addr = 0x7fff0010 },
			  "1 R 0x7fff0010 8 3\n" },
			{ { .kind = REC_MMIO_WRITE, .vcpu = 0, .size = 4, .addr = 0xfeb00000 },
			  "0 MW 0xfeb00000 4 0\n" },
			{ { .kind = REC_UNMAP, .vcpu = 2, .addr = 0x7f0000000000, .len = 0x200000,
			    .icount = 10 }, "2 UNMAP 0x7f0000000000 0x200000 10\n" },
			{ { .kind = REC_MEMSLOT, .arg = MEMSLOT_MOVE, .addr = 0xc0000, .len = 0x40000 },
			  "0 MEMSLOT move 0xc0000 0x40000 0\n" },
			{ { .kind = REC_DIRTY_LOG, .arg = DIRTY_LOG_DISABLE, .addr = 0x1000, .icount = 1 },
			  "0 DIRTY disable 0x1000 1\n" },
			{ { .kind = REC_MARKER, .vcpu = 3, .arg = 42, .icount = 5 }, "3 MARK 42 5\n" },
		};
		struct trace_header hh = mkheader(2, "a\"b\\c");

		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			f = open_memstream(&buf, &len);
			trace_format_record(&cases[i].r, f);
			fclose(f);
			assert_string_equal(buf, cases[i].text);
			free(buf);
		}
		hh.addr_kind = TRACE_ADDR_GPA;
		hh.paging = TRACE_PAGING_NONE;
		f = open_memstream(&buf, &len);
		trace_format_header(&hh, f);
		fclose(f);
		assert_string_equal(buf, "# eptsim-trace 1 vcpus=2 addr=gpa paging=none "
				    "source=\"a\\\"b\\\\c\"\n");
		free(buf);
	}

	/* lenient spacing, a trailing CR/LF, comments, blank lines */
	assert_int_equal(parse("  1\tW  0x10 2 0 \r\n", 1, &rec, &h2, &err), 1);
	assert_int_equal(rec.kind, REC_WRITE);
	assert_int_equal(rec.addr, 0x10);
	assert_int_equal(rec.size, 2);
	assert_int_equal(parse("0 R 4096 8 0", 1, &rec, &h2, &err), 1);	/* decimal address */
	assert_int_equal(rec.addr, 4096);
	assert_int_equal(parse("", 1, &rec, &h2, &err), 0);
	assert_int_equal(parse("   ", 1, &rec, &h2, &err), 0);
	assert_int_equal(parse("# a comment", 1, &rec, &h2, &err), 0);
	assert_int_equal(parse("#eptsim-tracer is not the header", 1, &rec, &h2, &err), 0);
	assert_int_equal(parse("# eptsim-trace 1 source=\"x y\" paging=none addr=gpa vcpus=9",
			       1, &rec, &h2, &err), 2);
	assert_int_equal(h2.nr_vcpus, 9);
	assert_string_equal(h2.source, "x y");
	assert_int_equal(parse("# eptsim-trace 1 vcpus=9 addr=gpa paging=none", 1, &rec, &h2,
			       &err), 2);
	assert_string_equal(h2.source, "");

	/* errors name path:line and what */
	{
		static const struct { const char *line; const char *what; } bad[] = {
			{ "0 Q 0x10 8 0", "unknown record kind 'Q'" },
			{ "0 R 0x10 8", "missing icount" },
			{ "0 R 0x10 8 0 junk", "trailing text" },
			{ "0 R 0xzz 8 0", "bad address '0xzz'" },
			{ "0 R 0x10000000000000000 8 0", "bad address" },
			{ "0 R 0x10 4294967296 0", "size 4294967296 out of range" },
			{ "0 R 0x10 -1 0", "bad size" },
			{ "4096 R 0x10 8 0", "vCPU 4096 out of range" },
			{ "x R 0x10 8 0", "bad vCPU" },
			{ "0 MEMSLOT resize 0x0 0x1000 0", "unknown memslot op (create|delete|move|flags) 'resize'" },
			{ "0 DIRTY clear 0x0 0", "unknown dirty-log op" },
			{ "0 MARK 4294967296 0", "marker id" },
			{ "0 END 0", "unknown record kind 'END'" },
			{ "0 UNMAP 0x1000", "missing length" },
			{ "# eptsim-trace 2 vcpus=1 addr=gva paging=none", "version 2 is newer" },
			{ "# eptsim-trace 1 vcpus=0 addr=gva paging=none", "vCPU count 0" },
			{ "# eptsim-trace 1 vcpus=1 addr=hva paging=none", "unknown header: addr" },
			{ "# eptsim-trace 1 vcpus=1 addr=gva paging=5-level", "paging" },
			{ "# eptsim-trace 1 vcpus=1 addr=gva", "missing paging=" },
			{ "# eptsim-trace 1 vcpus=1 addr=gva paging=none source=\"x", "closing quote" },
			{ "# eptsim-trace 1 vcpus=1 addr=gva paging=none source=\"\\q\"", "bad escape" },
			{ "# eptsim-trace 1 vcpus=1 addr=gva paging=none color=red", "unknown key" },
			{ "# eptsim-trace 1 vcpus=1 addr=gva paging=none bare", "key=value" },
		};

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			memset(&err, 0, sizeof(err));
			assert_int_equal(parse(bad[i].line, 17, &rec, &h2, &err), -EINVAL);
			if (strncmp(err.msg, "t.txt:17: ", 10) || !strstr(err.msg, bad[i].what))
				fail_msg("'%s' gave '%s', wanted 't.txt:17: ...%s'", bad[i].line,
					 err.msg, bad[i].what);
		}
	}
	free(recs);
}

/* Binary A -> text (cat) -> binary B (convert): A and B are the same bytes. */
static void test_text_binary_identical(void **state)
{
	struct trace_header h = mkheader(6, "cat \"then\" convert \\ ok\n");
	struct trace_record *recs = random_records(NR_RANDOM / 4, h.nr_vcpus, 1234);
	size_t nedge, n = NR_RANDOM / 4, alen, blen;
	struct trace_record edge[EDGE_MAX], rec;
	struct trace_header th;
	struct trace_reader *r;
	struct trace_writer *w;
	struct trace_error err;
	struct tmpdir d = *(struct tmpdir *)*state;
	char *line = NULL;
	size_t cap = 0;
	uint64_t lineno = 0;
	void *a, *b;
	FILE *f;
	int ret;

	nedge = edge_records(edge);
	memcpy(recs, edge, nedge * sizeof(edge[0]));	/* the edge cases first */
	write_trace(tmpfile_in(&d, "a.trace"), &h, recs, n);

	/* cat */
	if (trace_open(tmpfile_in(&d, "a.trace"), &r, &err))
		fail_msg("%s", err.msg);
	f = fopen(tmpfile_in(&d, "a.txt"), "w");
	assert_non_null(f);
	trace_format_header(trace_reader_header(r), f);
	fputs("# a comment line, as a person might add\n\n", f);
	while ((ret = trace_next(r, &rec, &err)) == 1)
		trace_format_record(&rec, f);
	assert_int_equal(ret, 0);
	assert_int_equal(fclose(f), 0);
	trace_close(r);

	/* convert */
	f = fopen(tmpfile_in(&d, "a.txt"), "r");
	assert_non_null(f);
	w = NULL;
	while (getline(&line, &cap, f) >= 0) {
		ret = trace_parse_line(line, ++lineno, "a.txt", &rec, &th, &err);
		if (ret < 0)
			fail_msg("%s", err.msg);
		if (ret == 2) {
			assert_null(w);
			if (trace_create(tmpfile_in(&d, "b.trace"), &th, &w, &err))
				fail_msg("%s", err.msg);
		} else if (ret == 1) {
			assert_non_null(w);
			if (trace_write(w, &rec, &err))
				fail_msg("%s", err.msg);
		}
	}
	free(line);
	fclose(f);
	assert_non_null(w);
	assert_int_equal(trace_finish(w, &err), 0);

	a = read_file(tmpfile_in(&d, "a.trace"), &alen);
	b = read_file(tmpfile_in(&d, "b.trace"), &blen);
	assert_int_equal(alen, blen);
	assert_memory_equal(a, b, alen);
	free(a);
	free(b);
	free(recs);
}

/* ---- corrupt, truncated, hand-crafted --------------------------------------------- */

static void test_truncated(void **state)
{
	struct trace_header h = mkheader(4, "truncate me");
	struct trace_record *recs = random_records(NR_CORRUPT, h.nr_vcpus, 5);
	struct tmpdir d = *(struct tmpdir *)*state;
	size_t len, cuts[16], i, nc = 0;
	char *buf;

	write_trace(tmpfile_in(&d, "full.trace"), &h, recs, NR_CORRUPT);
	buf = read_file(tmpfile_in(&d, "full.trace"), &len);
	assert_true(len > 4096);
	cuts[nc++] = 0;			/* empty file */
	cuts[nc++] = 1;
	cuts[nc++] = 5;			/* inside the gzip header */
	cuts[nc++] = 12;		/* the start of the deflate data */
	cuts[nc++] = 40;
	cuts[nc++] = len / 3;		/* mid-deflate */
	cuts[nc++] = len / 2 + 17;
	cuts[nc++] = len - 100;
	cuts[nc++] = len - 9;		/* the last deflate byte goes */
	cuts[nc++] = len - 8;		/* no trailer at all */
	cuts[nc++] = len - 6;		/* inside the CRC */
	cuts[nc++] = len - 4;		/* CRC, no length */
	cuts[nc++] = len - 1;		/* inside the length */
	for (i = 0; i < nc; i++) {
		write_file(tmpfile_in(&d, "cut.trace"), buf, cuts[i]);
		expect_error(tmpfile_in(&d, "cut.trace"), NULL, -1);
	}
	/* an empty file names itself */
	write_file(tmpfile_in(&d, "cut.trace"), buf, 0);
	expect_error(tmpfile_in(&d, "cut.trace"), "empty file", 0);
	/* the whole file is fine */
	read_and_check(tmpfile_in(&d, "full.trace"), &h, recs, NR_CORRUPT);
	/* a second trace appended (cat a b > c) continues the stream after the end marker */
	{
		char *twice = malloc(2 * len);

		assert_non_null(twice);
		memcpy(twice, buf, len);
		memcpy(twice + len, buf, len);
		write_file(tmpfile_in(&d, "twice.trace"), twice, 2 * len);
		expect_error(tmpfile_in(&d, "twice.trace"), "trailing bytes after the end marker",
			     NR_CORRUPT + 1);
		free(twice);
	}
	free(buf);
	free(recs);
}

/* Bytes after the last gzip member that start no other member: gzread() drops them without
 * a word (zlib's gz_look()); the reader reports them, with their offset.  A trace split over
 * several members (as concatenated .gz files or bgzip make) stays good. */
static void test_trailing_garbage(void **state)
{
	struct trace_header h = mkheader(2, "garbage after me");
	struct trace_record *recs = random_records(NR_CORRUPT, h.nr_vcpus, 7);
	struct tmpdir d = *(struct tmpdir *)*state;
	static const char *const junk[] = { "JUNK", "\n", "\x1f", "\x1f\x8c", "\0\0\0\0\0\0\0\0" };
	static const size_t junk_len[] = { 4, 1, 1, 2, 8 };
	char want[64], *buf, *raw;
	size_t len, rawlen, i;
	gzFile gz;

	write_trace(tmpfile_in(&d, "full.trace"), &h, recs, NR_CORRUPT);
	buf = read_file(tmpfile_in(&d, "full.trace"), &len);
	for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		char *bad = malloc(len + junk_len[i]);

		assert_non_null(bad);
		memcpy(bad, buf, len);
		memcpy(bad + len, junk[i], junk_len[i]);
		write_file(tmpfile_in(&d, "junk.trace"), bad, len + junk_len[i]);
		snprintf(want, sizeof(want), "trailing garbage after the gzip data (at byte %zu of the file)", len);
		expect_error(tmpfile_in(&d, "junk.trace"), want, -1);
		free(bad);
	}
	/* much garbage: more than the reader's input chunk */
	{
		size_t big = len + (1u << 20);
		char *bad = calloc(1, big);

		assert_non_null(bad);
		memcpy(bad, buf, len);
		memset(bad + len, 'x', big - len);
		write_file(tmpfile_in(&d, "junk.trace"), bad, big);
		expect_error(tmpfile_in(&d, "junk.trace"), want, -1);
		free(bad);
	}
	/* the same bytes in two gzip members read as one trace */
	gz = gzopen(tmpfile_in(&d, "full.trace"), "rb");
	assert_non_null(gz);
	raw = malloc(64u << 20);
	assert_non_null(raw);
	rawlen = (size_t)gzread(gz, raw, 64u << 20);
	gzclose(gz);
	write_gz(tmpfile_in(&d, "m1"), raw, rawlen / 2);
	write_gz(tmpfile_in(&d, "m2"), raw + rawlen / 2, rawlen - rawlen / 2);
	{
		size_t l1, l2;
		char *a = read_file(tmpfile_in(&d, "m1"), &l1), *b = read_file(tmpfile_in(&d, "m2"), &l2);
		char *both = malloc(l1 + l2);

		assert_non_null(both);
		memcpy(both, a, l1);
		memcpy(both + l1, b, l2);
		write_file(tmpfile_in(&d, "members.trace"), both, l1 + l2);
		read_and_check(tmpfile_in(&d, "members.trace"), &h, recs, NR_CORRUPT);
		free(a);
		free(b);
		free(both);
	}
	free(raw);
	free(buf);
	free(recs);
}

/* A flipped bit either makes the read fail (the usual case: the deflate data or the CRC
 * catches it) or changes nothing the reader returns (padding bits at the end of the deflate
 * data, or gzip header fields gzip ignores).  Never different records and a clean end.
 * Returns true when the read was intact. */
static bool expect_error_or_intact(const char *path, const struct trace_record *recs, size_t n)
{
	struct trace_reader *r;
	struct trace_record rec;
	struct trace_error err;
	size_t i = 0, differ = 0;
	int ret;

	if (trace_open(path, &r, &err) == 0) {
		while ((ret = trace_next(r, &rec, &err)) == 1) {
			if (i >= n || !rec_equal(&rec, &recs[i]))
				differ++;
			i++;
		}
		trace_close(r);
		if (ret == 0) {
			if (differ || i != n)
				fail_msg("%s: a clean end after %zu records, %zu of them different",
					 path, i, differ);
			expect_batched_same_all(path);
			return true;
		}
	}
	expect_error(path, NULL, -1);
	return false;
}

/* Flip each bit of a small trace in turn.  Some flips go unseen by design (gzip ignores
 * FTEXT, mtime, XFL and OS; a stored block's and the last byte's padding bits), so the
 * check is the one that matters: unseen means the same records; and it must be rare. */
static void flip_every_bit(const struct tmpdir *d, const struct trace_header *h,
			   const struct trace_record *recs, size_t n)
{
	size_t len, j, intact = 0;
	unsigned bit;
	char *buf;

	write_trace(tmpfile_in(d, "small.trace"), h, recs, n);
	buf = read_file(tmpfile_in(d, "small.trace"), &len);
	for (j = 0; j < len; j++)
		for (bit = 0; bit < 8; bit++) {
			buf[j] ^= (char)(1u << bit);
			write_file(tmpfile_in(d, "flip.trace"), buf, len);
			buf[j] ^= (char)(1u << bit);
			intact += expect_error_or_intact(tmpfile_in(d, "flip.trace"), recs, n);
		}
	print_message("%zu-byte trace: %zu of %zu single-bit flips read back intact, every "
		      "other one is an error\n", len, intact, len * 8);
	assert_true(intact * 10 < len * 8);
	free(buf);
}

static void test_flipped_bytes(void **state)
{
	struct trace_header h = mkheader(4, "flip me");
	struct trace_record *recs = random_records(NR_CORRUPT, h.nr_vcpus, 6);
	struct tmpdir d = *(struct tmpdir *)*state;
	size_t len, i, at[12], na = 0, intact = 0;
	char *buf;

	write_trace(tmpfile_in(&d, "full.trace"), &h, recs, NR_CORRUPT);
	buf = read_file(tmpfile_in(&d, "full.trace"), &len);
	at[na++] = 0;			/* gzip magic: read as a raw file -> bad magic */
	at[na++] = 2;			/* compression method */
	at[na++] = 11;
	at[na++] = 30;
	at[na++] = len / 4;
	at[na++] = len / 2;
	at[na++] = len - 50;
	at[na++] = len - 7;		/* CRC */
	at[na++] = len - 2;		/* length */
	for (i = 0; i < na; i++) {
		unsigned char mask;

		for (mask = 0x01; mask; mask = (unsigned char)(mask << 3)) {
			buf[at[i]] ^= (char)mask;
			write_file(tmpfile_in(&d, "flip.trace"), buf, len);
			buf[at[i]] ^= (char)mask;
			intact += expect_error_or_intact(tmpfile_in(&d, "flip.trace"), recs,
							 NR_CORRUPT);
		}
	}
	assert_true(intact * 10 <= na * 3);

	/* every bit of two small traces, flipped in turn: random records (zlib stores them:
	 * a stored block) and regular ones (Huffman-coded) */
	{
		struct trace_record small[64];
		size_t k;

		for (k = 0; k < 64; k++)
			small[k] = mem((uint16_t)(k % 2), (uint8_t)(k % 3), 0x400000 + 64 * k, 8, k % 4);
		flip_every_bit(&d, &h, recs, 64);
		flip_every_bit(&d, &h, small, 64);
	}
	free(buf);
	free(recs);
}

/* The decoder itself against bad bytes: flip each bit of an uncompressed trace (read in
 * zlib's transparent mode, so no CRC stands in front of the decoder) and check that
 * trace_read() in batches and trace_next() agree on every record and on the error. */
static void test_flipped_raw(void **state)
{
	struct trace_header h = mkheader(4, "raw");
	struct trace_record *recs = random_records(NR_RAW_FLIP, h.nr_vcpus, 8);
	struct tmpdir d = *(struct tmpdir *)*state;
	size_t len = 0, j;
	unsigned bit;
	uint8_t *buf = malloc(RAW_FLIP_MAX);
	gzFile gz;
	int n;

	assert_non_null(buf);
	write_trace(tmpfile_in(&d, "z.trace"), &h, recs, NR_RAW_FLIP);
	gz = gzopen(tmpfile_in(&d, "z.trace"), "rb");
	assert_non_null(gz);
	while ((n = gzread(gz, buf + len, (unsigned)(RAW_FLIP_MAX - len))) > 0)
		len += (size_t)n;
	assert_int_equal(gzclose(gz), Z_OK);
	assert_true(len < RAW_FLIP_MAX);
	write_file(tmpfile_in(&d, "raw.trace"), buf, len);
	read_and_check(tmpfile_in(&d, "raw.trace"), &h, recs, NR_RAW_FLIP);
	for (j = 0; j < len; j++)
		for (bit = 0; bit < 8; bit++) {
			buf[j] ^= (uint8_t)(1u << bit);
			write_file(tmpfile_in(&d, "flip.trace"), buf, len);
			buf[j] ^= (uint8_t)(1u << bit);
			expect_batched_same(tmpfile_in(&d, "flip.trace"), 1);
			expect_batched_same(tmpfile_in(&d, "flip.trace"), 64);
		}
	free(buf);
	free(recs);
}

static void test_crafted(void **state)
{
	uint8_t b[256];
	size_t n;
	struct tmpdir d = *(struct tmpdir *)*state;
	const char *path;

	path = tmpfile_in(&d, "c.trace");

	/* a valid hand-crafted trace first, so the encoding is what the comment says */
	n = craft_header(b, 1, 2);
	b[n++] = REC_READ | 0x80;		/* vCPU 0, size 8, icount 0 */
	b[n++] = 0x20;				/* +16 (zigzag 32) */
	b[n++] = REC_FETCH | 0x10 | 0x40;	/* vCPU 1, size 1 */
	b[n++] = 1;				/* vCPU 1 */
	b[n++] = 5;				/* icount 5 */
	b[n++] = 0x03;				/* -2 (zigzag 3) */
	b[n++] = REC_WRITE | 0x60 | 0x80;	/* explicit size, icount 0 */
	b[n++] = 2;				/* size 2 */
	b[n++] = 0x01;				/* -1 */
	b[n++] = REC_MARKER | 0x80;
	b[n++] = 7;				/* id */
	b[n++] = 0;
	b[n++] = 0;
	b[n++] = REC_END;
	b[n++] = 4;
	write_gz(path, b, n);
	{
		struct trace_record want[4] = {
			mem(0, REC_READ, 16, 8, 0), mem(1, REC_FETCH, (uint64_t)-2, 1, 5),
			mem(1, REC_WRITE, (uint64_t)-1, 2, 0), ctl(1, REC_MARKER, 7, 0, 0, 0),
		};
		struct trace_header h = mkheader(2, "abc");

		h.addr_kind = TRACE_ADDR_GPA;
		h.paging = TRACE_PAGING_NONE;
		read_and_check(path, &h, want, 4);
	}

	/* a plain gzip file that is not a trace */
	write_gz(path, "hello, world, this is not a trace\n", 34);
	expect_error(path, "not an eptsim trace (bad magic)", 0);
	write_gz(path, "EPTSIM", 6);
	expect_error(path, "bad magic", 0);
	/* a file that is not gzip at all */
	write_file(path, "#!/bin/sh\necho hi\n", 18);
	expect_error(path, "bad magic", 0);

	/* header fields */
	n = craft_header(b, 7, 2);
	write_gz(path, b, n);
	expect_error(path, "version 7 is newer than this eptsim (1)", 0);
	n = craft_header(b, 0, 2);
	write_gz(path, b, n);
	expect_error(path, "version 0 unknown", 0);
	n = craft_header(b, 1, 0);
	write_gz(path, b, n);
	expect_error(path, "vCPU count 0 out of range", 0);
	n = craft_header(b, 1, TRACE_MAX_VCPUS + 1);
	write_gz(path, b, n);
	expect_error(path, "vCPU count 4097 out of range", 0);
	n = craft_header(b, 1, 2);
	write_gz(path, b, n - 2);
	expect_error(path, "header: truncated", 0);
	n = craft_header(b, 1, 2);
	b[n - 6] = 4;		/* address kind */
	write_gz(path, b, n);
	expect_error(path, "address kind 4 unknown", 0);
	n = craft_header(b, 1, 2);
	b[n - 5] = 2;		/* paging */
	write_gz(path, b, n);
	expect_error(path, "paging 2 unknown", 0);
	n = craft_header(b, 1, 2);
	b[n - 2] = 0;		/* a NUL in the source */
	write_gz(path, b, n);
	expect_error(path, "NUL", 0);
	memset(b, 0, 28);
	memcpy(b, TRACE_MAGIC, 8);
	memset(b + 8, 0x80, 11);	/* a version varint of 12 bytes */
	b[19] = 0x01;
	write_gz(path, b, 28);
	expect_error(path, "varint longer than 10 bytes", 0);

	/* records: the message names the record being read */
#define CRAFT(...) do { \
		static const uint8_t tail[] = { __VA_ARGS__ }; \
		n = craft_header(b, 1, 2); \
		b[n++] = REC_READ | 0x80; b[n++] = 0x20;	/* record 1: fine */ \
		memcpy(b + n, tail, sizeof(tail)); \
		n += sizeof(tail); \
		write_gz(path, b, n); \
	} while (0)
	CRAFT(REC_READ | 0x10, 2, 0, 0);
	expect_error(path, "vCPU 2 out of range (vcpus=2)", 2);
	CRAFT(REC_READ | 0x10, 0xff, 0xff, 0x03, 0, 0);
	expect_error(path, "vCPU 65535 out of range", 2);
	CRAFT(REC_READ, 0x80);				/* the icount is cut off */
	expect_error(path, "end of stream inside a record", 2);
	CRAFT(REC_MEMSLOT, 0, 0);			/* control record without its len */
	expect_error(path, "end of stream inside a record", 2);
	CRAFT(REC_READ | 0x10);				/* only the tag */
	expect_error(path, "end of stream inside a record", 2);
	CRAFT(REC_READ | 0x80, 0x02);			/* no end marker */
	expect_error(path, "without the end marker", 3);
	CRAFT();					/* ends after record 1 */
	expect_error(path, "without the end marker", 2);
	CRAFT(REC_END);					/* the count is cut off */
	expect_error(path, "inside the end marker", 2);
	CRAFT(REC_END, 5);
	expect_error(path, "end marker counts 5 records, the trace has 1", 2);
	CRAFT(REC_END, 1, 'x');
	expect_error(path, "trailing bytes after the end marker", 2);
	CRAFT(REC_END, 1, REC_END, 1);
	expect_error(path, "trailing bytes after the end marker", 2);
	CRAFT(REC_END | 0x80, 1);
	expect_error(path, "end marker with tag 0x86", 2);
	CRAFT(0x0c, 0, 0, 0, 0, REC_END, 2);
	expect_error(path, "record kind 12 unknown", 2);
	CRAFT(0x0f | 0x80, 0, 0, 0, REC_END, 2);
	expect_error(path, "record kind 15 unknown", 2);
	CRAFT(REC_READ, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0,
	      REC_END, 2);
	expect_error(path, "varint longer than 10 bytes", 2);
	CRAFT(REC_READ, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02, 0,
	      REC_END, 2);
	expect_error(path, "varint overflows 64 bits", 2);
	CRAFT(REC_READ | 0x60 | 0x80, 0x80, 0x80, 0x80, 0x80, 0x10, 0, REC_END, 2);
	expect_error(path, "size over 2^32 - 1", 2);
	CRAFT(REC_UNMAP | 0x20 | 0x80, 0, 0, 0, REC_END, 2);
	expect_error(path, "size bits set on a control record", 2);
	CRAFT(REC_UNMAP | 0x80, 1, 0, 0, REC_END, 2);
	expect_error(path, "UNMAP with arg 1", 2);
	CRAFT(REC_MEMSLOT | 0x80, 4, 0, 0, REC_END, 2);
	expect_error(path, "memslot op 4 unknown", 2);
	CRAFT(REC_DIRTY_LOG | 0x80, 3, 0, 0, REC_END, 2);
	expect_error(path, "dirty-log op 3 unknown", 2);
	CRAFT(REC_DIRTY_LOG | 0x80, 1, 0, 1, REC_END, 2);
	expect_error(path, "DIRTY with len", 2);
	CRAFT(REC_MARKER | 0x80, 1, 1, 0, REC_END, 2);
	expect_error(path, "MARK with addr", 2);
	CRAFT(REC_MARKER | 0x80, 0x80, 0x80, 0x80, 0x80, 0x10, 0, 0, REC_END, 2);
	expect_error(path, "arg 4294967296 over", 2);
#undef CRAFT

	/* a gzip member that ends mid-record, followed by another member that finishes it:
	 * gzip concatenation is one stream, so this is a valid trace */
	{
		gzFile gz;
		struct trace_record want = mem(0, REC_READ, 16, 8, 0);
		struct trace_header h = mkheader(2, "abc");

		n = craft_header(b, 1, 2);
		b[n++] = REC_READ | 0x80;
		b[n++] = 0x20;
		b[n++] = REC_END;
		b[n++] = 1;
		gz = gzopen(path, "wb");
		assert_int_equal(gzwrite(gz, b, (unsigned)(n - 3)), (int)(n - 3));
		assert_int_equal(gzclose(gz), Z_OK);
		gz = gzopen(path, "ab");
		assert_int_equal(gzwrite(gz, b + n - 3, 3), 3);
		assert_int_equal(gzclose(gz), Z_OK);
		h.addr_kind = TRACE_ADDR_GPA;
		h.paging = TRACE_PAGING_NONE;
		read_and_check(path, &h, &want, 1);
	}
}

/* ---- streaming -------------------------------------------------------------------- */

static size_t heap_in_use(void)
{
#ifdef TEST_ASAN
	return __sanitizer_get_current_allocated_bytes();
#else
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;	/* small chunks + mmapped big ones */
#endif
}

static void test_streaming_memory(void **state)
{
	struct trace_header h = mkheader(4, "streaming");
	uint64_t last[4] = { 0 };
	struct trace_record rec, want;
	struct trace_writer *w;
	struct trace_reader *r;
	struct trace_error err;
	size_t before, opened, peak = 0, after, i;
	struct tmpdir d = *(struct tmpdir *)*state;
	int ret;

	rnd_state = 77;
	if (trace_create(tmpfile_in(&d, "s.trace"), &h, &w, &err))
		fail_msg("%s", err.msg);
	for (i = 0; i < NR_STREAMING; i++) {
		random_record(&rec, h.nr_vcpus, last);
		if (trace_write(w, &rec, &err))
			fail_msg("%s", err.msg);
	}
	assert_int_equal(trace_finish(w, &err), 0);

	before = heap_in_use();
	if (trace_open(tmpfile_in(&d, "s.trace"), &r, &err))
		fail_msg("%s", err.msg);
	opened = heap_in_use();
	memset(last, 0, sizeof(last));
	rnd_state = 77;
	for (i = 0; (ret = trace_next(r, &rec, &err)) == 1; i++) {
		if (i % 100000 == 0) {
			size_t now = heap_in_use();

			peak = now > peak ? now : peak;
		}
		random_record(&want, h.nr_vcpus, last);
		if (!rec_equal(&rec, &want))
			assert_rec_equal(&rec, &want, i);
	}
	if (ret)
		fail_msg("%s", err.msg);
	assert_int_equal(i, NR_STREAMING);
	after = heap_in_use();
	peak = after > peak ? after : peak;
	print_message("streaming %d records: reader holds %zu KiB after open, %zu KiB at most "
		      "while reading\n", NR_STREAMING, (opened - before) >> 10, (peak - before) >> 10);
	assert_true(opened - before < STREAM_LIMIT);
	assert_true(peak - before < STREAM_LIMIT);
	assert_true(peak - opened < STREAM_GROWTH);
	trace_close(r);
	assert_true(heap_in_use() <= before + STREAM_GROWTH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip_every_kind, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_roundtrip_random, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_unused_fields_dropped, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_is_gzip, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_create_atomic_and_abort, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_stdio, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_rewind, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_text_format_parse, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_text_binary_identical, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_truncated, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_trailing_garbage, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_flipped_bytes, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_flipped_raw, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_crafted, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_streaming_memory, dir_setup, dir_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
