/* Tests for workloads/kbuild: determinism per (scenario, vCPU), the configured mix, and that
 * every record is something the guest can execute. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "cpu/gpt.h"
#include "cpu/guest.h"
#include "sim/config.h"
#include "workloads/workload.h"

static char errbuf[512];
#define NREC 1000000

static void scenario(struct scenario *sc, struct guest_layout *l, double life_ms)
{
	struct config_error err;

	config_defaults(sc);
	sc->proc_life_ms = life_ms;   /* short: many process exits in a test-sized stream */
	assert_int_equal(config_validate(sc, &err), 0);
	guest_layout_init(l, sc);
}

static bool is_mem(const struct trace_record *r)
{
	return r->kind == REC_READ || r->kind == REC_WRITE || r->kind == REC_FETCH;
}

static bool same(const struct trace_record *a, const struct trace_record *b)
{
	return a->kind == b->kind && a->vcpu == b->vcpu && a->size == b->size &&
	       a->icount == b->icount && a->addr == b->addr && a->len == b->len;
}

/* The process slot of a text or data address. */
static uint32_t slot_of(uint64_t a)
{
	return (uint32_t)((a < GUEST_DATA_BASE(0) ? a : a - GUEST_DATA_BASE(0)) >> 30);
}

static void test_deterministic(void **state)
{
	struct scenario sc, sc2;
	struct guest_layout l, l2;
	struct trace_record a, b, c;

	scenario(&sc, &l, 0.05);
	scenario(&sc2, &l2, 0.05);
	sc2.seed = 2;
	struct workload *w1 = workload_new(&sc, &l, 1, errbuf, sizeof(errbuf)), *w1b = workload_new(&sc, &l, 1, errbuf, sizeof(errbuf));
	struct workload *w2 = workload_new(&sc, &l, 2, errbuf, sizeof(errbuf)), *w1s = workload_new(&sc2, &l2, 1, errbuf, sizeof(errbuf));
	assert_true(w1 && w1b && w2 && w1s);
	unsigned diff_vcpu = 0, diff_seed = 0, n = 200000;
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(1, workload_next(w1, &a));
		assert_int_equal(1, workload_next(w1b, &b));
		assert_true(same(&a, &b));
		assert_int_equal(a.vcpu, 1);
		assert_int_equal(1, workload_next(w2, &c));
		assert_int_equal(c.vcpu, 2);
		diff_vcpu += a.addr != c.addr || a.icount != c.icount;
		assert_int_equal(1, workload_next(w1s, &c));
		diff_seed += a.addr != c.addr || a.icount != c.icount;
	}
	assert_true(diff_vcpu > n * 9 / 10);
	assert_true(diff_seed > n * 9 / 10);
	workload_free(w1), workload_free(w1b), workload_free(w2), workload_free(w1s);

	/* an unknown generator */
	strcpy(sc.generator, "nosuch");
	assert_null(workload_new(&sc, &l, 0, errbuf, sizeof(errbuf)));
	assert_non_null(strstr(errbuf, "nosuch"));
}

static void check_mix(double fetch, double kernel, double write)
{
	struct scenario sc;
	struct guest_layout l;
	struct trace_record r;
	uint64_t mem = 0, fetches = 0, kern = 0, data = 0, writes = 0, insns = 0, unmaps = 0;

	config_defaults(&sc);
	sc.fetch_fraction = fetch, sc.kernel_fraction = kernel, sc.write_fraction = write;
	sc.proc_life_ms = 0.05;
	struct config_error err;
	assert_int_equal(config_validate(&sc, &err), 0);
	guest_layout_init(&l, &sc);
	struct workload *w = workload_new(&sc, &l, 0, errbuf, sizeof(errbuf));
	assert_non_null(w);
	for (unsigned i = 0; i < NREC; i++) {
		assert_int_equal(1, workload_next(w, &r));
		if (!is_mem(&r)) {
			unmaps += r.kind == REC_UNMAP;
			continue;
		}
		mem++;
		insns += r.icount;
		fetches += r.kind == REC_FETCH;
		kern += r.addr >= GUEST_DIRECTMAP;
		data += r.kind != REC_FETCH;
		writes += r.kind == REC_WRITE;
	}
	print_message("fetch %.4f/%.2f kernel %.4f/%.2f write %.4f/%.2f insns %.2f/%.0f unmaps %llu\n",
		      (double)fetches / mem, fetch, (double)kern / mem, kernel, (double)writes / data,
		      write, (double)insns / mem, sc.insns_per_access, (unsigned long long)unmaps);
	assert_true(fabs((double)fetches / mem - fetch) < 0.01);
	assert_true(fabs((double)kern / mem - kernel) < 0.01);
	assert_true(fabs((double)writes / data - write) < 0.01);   /* share of data accesses */
	assert_true(fabs((double)insns / mem - sc.insns_per_access) < 0.02 * sc.insns_per_access);
	assert_true(unmaps > 100);
	workload_free(w);
}

static void test_mix(void **state)
{
	check_mix(0.2, 0.15, 0.3);   /* the defaults */
	check_mix(0.45, 0.3, 0.6);
	check_mix(0.0, 0.5, 0.1);
}

/* Run a stream against the guest's own page tables, as a vCPU would. */
static void check_stream(uint32_t vcpu, uint64_t wr_pages[2])
{
	struct scenario sc;
	struct guest_layout l;
	struct trace_record r;
	uint64_t gpa, pairs = 0, kwrites = 0;

	scenario(&sc, &l, 0.03);
	struct workload *w = workload_new(&sc, &l, vcpu, errbuf, sizeof(errbuf));
	struct gpa_pool *pool = gpa_pool_new(guest_pool_base(&l, vcpu), l.pool_size);
	struct gpt *g = gpt_new(pool);
	assert_true(w && pool && g);
	uint32_t slot = 0;   /* the running process's slot, once seen */
	wr_pages[0] = UINT64_MAX, wr_pages[1] = 0;
	for (unsigned i = 0; i < NREC; i++) {
		assert_int_equal(1, workload_next(w, &r));
		assert_int_equal(r.vcpu, vcpu);
		if (r.kind == REC_UNMAP) {
			/* process exit: its data, then its text; the next process has the next slot */
			assert_int_equal(r.addr, GUEST_DATA_BASE(slot_of(r.addr)));
			assert_int_equal(r.len, GUEST_SLOT_SPAN);
			uint32_t s = slot_of(r.addr);
			assert_true(s == slot || !slot);
			assert_in_range(s, 1, GUEST_PROC_SLOTS);
			gpt_unmap_range(g, r.addr, r.len, pool, pool);
			assert_int_equal(1, workload_next(w, &r));
			assert_int_equal(r.kind, REC_UNMAP);
			assert_int_equal(r.addr, GUEST_TEXT_BASE(s));
			assert_int_equal(r.len, l.text_size);
			gpt_unmap_range(g, r.addr, r.len, pool, pool);
			assert_int_equal(gpt_translate(g, GUEST_DATA_BASE(s), &gpa, NULL), -ENOENT);
			slot = s % GUEST_PROC_SLOTS + 1;
			pairs++;
			continue;
		}
		assert_true(is_mem(&r));
		assert_int_equal(r.size, 8);
		assert_true(r.icount >= 1);
		assert_int_equal(r.addr & 7, 0);
		if (r.addr >= GUEST_DIRECTMAP) {
			/* the page cache, through the kernel's direct map */
			assert_int_not_equal(r.kind, REC_FETCH);
			uint64_t pa = r.addr - GUEST_DIRECTMAP;
			assert_true(pa >= l.cache_gpa && pa < l.kernel_mem);
			if (r.kind == REC_WRITE) {
				uint64_t p = (pa - l.cache_gpa) >> 12;
				wr_pages[0] = p < wr_pages[0] ? p : wr_pages[0];
				wr_pages[1] = p > wr_pages[1] ? p : wr_pages[1];
				kwrites++;
			}
			continue;
		}
		/* process memory: text for fetches, data otherwise, in the running slot */
		assert_true(r.kind == REC_FETCH ? r.addr < GUEST_DATA_BASE(0) : r.addr >= GUEST_DATA_BASE(1));
		if (!slot)
			slot = slot_of(r.addr);
		assert_int_equal(slot_of(r.addr), slot);
		assert_int_equal(guest_page_fault(&l, g, pool, r.addr), 0);
		assert_int_equal(gpt_translate(g, r.addr, &gpa, NULL), 0);
		if (r.kind == REC_FETCH)
			assert_int_equal(gpa, l.text_gpa + (r.addr & (GUEST_SLOT_SPAN - 1)));
		else
			assert_true(gpa >= guest_pool_base(&l, vcpu) &&
				    gpa < guest_pool_base(&l, vcpu) + l.pool_size);
	}
	/* ~250 processes: the slots wrapped around */
	assert_true(pairs > GUEST_PROC_SLOTS);
	assert_true(kwrites > 1000);
	gpt_free(g);
	gpa_pool_free(pool);
	workload_free(w);
}

static void test_stream_valid(void **state)
{
	uint64_t w0[2], w1[2];

	check_stream(0, w0);
	check_stream(3, w1);
	/* each vCPU writes its own area of the page cache */
	assert_true(w0[1] < w1[0] || w1[1] < w0[0]);
}

/* Processes of one stream: how many, and how many of them touched at most 60 private pages. */
static void count_small(double helper_fraction, unsigned nrec, unsigned *procs, unsigned *small)
{
	static bool seen[GUEST_SLOT_SPAN >> 12];
	static uint32_t list[GUEST_SLOT_SPAN >> 12];
	struct scenario sc;
	struct guest_layout l;
	struct trace_record r;
	struct config_error err;
	unsigned n = 0;

	config_defaults(&sc);
	sc.proc_mem_mb = 64, sc.helper_mem_mb = 0.01, sc.helper_fraction = helper_fraction;
	sc.new_page_fraction = 0.2, sc.proc_life_ms = 0.1;
	assert_int_equal(config_validate(&sc, &err), 0);
	guest_layout_init(&l, &sc);
	struct workload *w = workload_new(&sc, &l, 0, errbuf, sizeof(errbuf));
	assert_non_null(w);
	*procs = *small = 0;
	for (unsigned i = 0; i < nrec; i++) {
		assert_int_equal(1, workload_next(w, &r));
		if (r.kind == REC_UNMAP) {
			if (r.addr < GUEST_DATA_BASE(0))
				continue;   /* the text unmap that follows */
			/* the process exits: its footprint drops to nothing */
			(*procs)++;
			*small += n <= 60;
			while (n)
				seen[list[--n]] = false;
			continue;
		}
		if (r.kind == REC_FETCH || r.addr >= GUEST_DIRECTMAP)
			continue;
		uint32_t pg = (uint32_t)((r.addr & (GUEST_SLOT_SPAN - 1)) >> 12);
		if (!seen[pg])
			seen[pg] = true, list[n++] = pg;
	}
	while (n)
		seen[list[--n]] = false;
	workload_free(w);
}

/* make -j's job count varies: workload.helper_fraction of the processes are helpers (make,
 * sh, as) of helper_mem_mb.  Hand-checked: with 64 MiB compile jobs that touch a new page
 * in 1 of 5 data records (~1,000 in a mean lifetime) and helpers of 16 + ~2.4 pages, a
 * process touches at most 60 pages if it is a helper, or (4.5%) a compile job that exits
 * within ~4.4% of its mean lifetime: 52% of them with helper_fraction 0.5, 4.5% with 0. */
static void test_helpers(void **state)
{
	unsigned procs, small;

	count_small(0.5, 4000000, &procs, &small);
	print_message("helper_fraction 0.5: %u of %u processes small\n", small, procs);
	assert_true(procs > 300);
	assert_true(fabs((double)small / procs - 0.52) < 0.08);
	count_small(0, 4000000, &procs, &small);
	print_message("helper_fraction 0: %u of %u processes small\n", small, procs);
	assert_true(procs > 300);
	assert_true((double)small / procs < 0.1);
}

/* The page cache grows at workload.cache_new_page_fraction: that share of the page-cache
 * writes moves the vCPU's write cursor to the next page (Binomial: 1% of ~45,000 writes,
 * 450 +- 64 at 3 sigma); at 0 every write goes to one page. */
static void test_cache_growth(void **state)
{
	for (int k = 0; k < 2; k++) {
		struct scenario sc;
		struct guest_layout l;
		struct trace_record r;
		struct config_error err;

		config_defaults(&sc);
		sc.cache_new_page_fraction = k ? 0.01 : 0;
		assert_int_equal(config_validate(&sc, &err), 0);
		guest_layout_init(&l, &sc);
		struct workload *w = workload_new(&sc, &l, 1, errbuf, sizeof(errbuf));
		assert_non_null(w);
		uint64_t writes = 0, moves = 0, last = 0;
		for (unsigned i = 0; i < NREC; i++) {
			assert_int_equal(1, workload_next(w, &r));
			if (r.kind != REC_WRITE || r.addr < GUEST_DIRECTMAP)
				continue;
			uint64_t pg = (r.addr - GUEST_DIRECTMAP) >> 12;
			moves += writes && pg != last;
			last = pg;
			writes++;
		}
		print_message("cache_new_page_fraction %.2f: %llu writes, %llu moves\n", sc.cache_new_page_fraction,
			      (unsigned long long)writes, (unsigned long long)moves);
		assert_true(writes > 40000 && writes < 50000);
		if (k)
			assert_true(fabs((double)moves - 0.01 * writes) < 3 * sqrt(0.01 * 0.99 * writes));
		else
			assert_int_equal(moves, 0);
		workload_free(w);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_mix),
		cmocka_unit_test(test_stream_valid),
		cmocka_unit_test(test_helpers),
		cmocka_unit_test(test_cache_growth),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
