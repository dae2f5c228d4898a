// SPDX-License-Identifier: GPL-2.0
/* Tests for cpu/tlb: directed cases for each rule of the contract, then a differential run
 * against a deliberately naive reference model over a long pseudo-random sequence. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/tlb.h"

#define KB4	0x1000ull
#define MB2	0x200000ull
#define GB1	0x40000000ull

static struct tlb *tlb_mk(struct tlb_geom l1d4k, struct tlb_geom stlb4k)
{
	struct tlb_config cfg = { 0 };
	struct tlb *t;

	cfg.l1d[PS_4K] = l1d4k;
	cfg.stlb[PS_4K] = stlb4k;
	t = tlb_new(&cfg);
	assert_non_null(t);
	return t;
}

static void expect_hit_rw(struct tlb *t, bool fetch, bool write, uint64_t gva,
			  enum tlb_level lvl, enum page_size ps)
{
	struct tlb_result r = tlb_lookup(t, fetch, write, gva);

	assert_int_equal(r.level, lvl);
	assert_int_equal(r.ps, ps);
	assert_false(r.refill);
	assert_false(r.perm);
}

static void expect_miss_rw(struct tlb *t, bool fetch, bool write, uint64_t gva, bool refill,
			   bool perm)
{
	struct tlb_result r = tlb_lookup(t, fetch, write, gva);

	assert_int_equal(r.level, TLB_MISS);
	assert_int_equal(r.refill, refill);
	assert_int_equal(r.perm, perm);
}

/* Reads. */
static void expect_hit(struct tlb *t, bool fetch, uint64_t gva, enum tlb_level lvl,
		       enum page_size ps)
{
	expect_hit_rw(t, fetch, false, gva, lvl, ps);
}

static void expect_miss(struct tlb *t, bool fetch, uint64_t gva, bool refill)
{
	expect_miss_rw(t, fetch, false, gva, refill, false);
}

/* ---- directed tests ---- */

static void test_geometry(void **state)
{
	struct tlb_config cfg;
	struct tlb *t;

	/* All absent is a valid (useless) TLB. */
	memset(&cfg, 0, sizeof(cfg));
	t = tlb_new(&cfg);
	assert_non_null(t);
	expect_miss(t, false, 0x1234, false);
	tlb_free(t);

	/* 3 sets: not a power of two. */
	memset(&cfg, 0, sizeof(cfg));
	cfg.l1d[PS_4K] = (struct tlb_geom){ 12, 4 };
	errno = 0;
	assert_null(tlb_new(&cfg));
	assert_int_equal(errno, EINVAL);

	/* ways == 0 with entries. */
	memset(&cfg, 0, sizeof(cfg));
	cfg.stlb[PS_2M] = (struct tlb_geom){ 8, 0 };
	errno = 0;
	assert_null(tlb_new(&cfg));
	assert_int_equal(errno, EINVAL);

	/* entries not a multiple of ways. */
	memset(&cfg, 0, sizeof(cfg));
	cfg.l1i[PS_1G] = (struct tlb_geom){ 10, 4 };
	errno = 0;
	assert_null(tlb_new(&cfg));
	assert_int_equal(errno, EINVAL);

	/* Non-power-of-two ways are fine as long as sets is a power of two; fully
	 * associative is one set; entries 0 ignores ways. */
	memset(&cfg, 0, sizeof(cfg));
	cfg.l1d[PS_4K] = (struct tlb_geom){ 64, 4 };
	cfg.l1d[PS_1G] = (struct tlb_geom){ 4, 4 };
	cfg.l1i[PS_4K] = (struct tlb_geom){ 12, 12 };
	cfg.l1i[PS_2M] = (struct tlb_geom){ 0, 7 };
	cfg.stlb[PS_4K] = (struct tlb_geom){ 1536, 12 };
	cfg.stlb[PS_1G] = (struct tlb_geom){ 16, 4 };
	t = tlb_new(&cfg);
	assert_non_null(t);
	tlb_free(t);
	tlb_free(NULL);
}

/* 4 sets of 4 ways: vpns 0, 4, 8, 12, 16 all map to set 0. */
static void test_lru_eviction(void **state)
{
	struct tlb *t = tlb_mk((struct tlb_geom){ 16, 4 }, (struct tlb_geom){ 0, 0 });
	uint64_t base = 0x7f0000000000ull;
	int i;

	for (i = 0; i < 4; i++)
		tlb_fill(t, false, base + (uint64_t)i * 4 * KB4, PS_4K, true);
	/* Touch page 0: page 1 (vpn 4) is now the LRU one. */
	expect_hit(t, false, base, TLB_HIT_L1, PS_4K);
	tlb_fill(t, false, base + 16 * KB4, PS_4K, true);
	expect_miss(t, false, base + 4 * KB4, false);
	expect_hit(t, false, base, TLB_HIT_L1, PS_4K);
	expect_hit(t, false, base + 8 * KB4, TLB_HIT_L1, PS_4K);
	expect_hit(t, false, base + 12 * KB4, TLB_HIT_L1, PS_4K);
	expect_hit(t, false, base + 16 * KB4, TLB_HIT_L1, PS_4K);
	/* A page of another set is unaffected by all this. */
	tlb_fill(t, false, base + KB4, PS_4K, true);
	expect_hit(t, false, base + KB4, TLB_HIT_L1, PS_4K);
	tlb_free(t);
}

/* Re-filling a live entry only touches it: no duplicate, and it becomes MRU. */
static void test_refill_existing_touches(void **state)
{
	struct tlb *t = tlb_mk((struct tlb_geom){ 4, 4 }, (struct tlb_geom){ 0, 0 });
	int i;

	for (i = 0; i < 4; i++)
		tlb_fill(t, false, (uint64_t)i * KB4, PS_4K, true);
	tlb_fill(t, false, 0, PS_4K, true);
	tlb_fill(t, false, 4 * KB4, PS_4K, true);	/* evicts page 1, not page 0 */
	expect_miss(t, false, 1 * KB4, false);
	for (i = 0; i < 5; i++)
		if (i != 1)
			expect_hit(t, false, (uint64_t)i * KB4, TLB_HIT_L1, PS_4K);
	tlb_free(t);
}

/* Flushed ways are victims before live LRU ways. */
static void test_stale_victim_first(void **state)
{
	struct tlb *t = tlb_mk((struct tlb_geom){ 4, 4 }, (struct tlb_geom){ 0, 0 });
	int i;

	for (i = 0; i < 4; i++)
		tlb_fill(t, false, (uint64_t)i * KB4, PS_4K, true);
	tlb_flush(t, TLB_CAUSE_OTHER);
	/* Pages 0..2 come back into their own (flushed) ways; page 3 stays flushed. */
	for (i = 0; i < 3; i++)
		tlb_fill(t, false, (uint64_t)i * KB4, PS_4K, true);
	/* Page 4 must take page 3's flushed way, although page 0 is the LRU live one. */
	tlb_fill(t, false, 4 * KB4, PS_4K, true);
	for (i = 0; i < 3; i++)
		expect_hit(t, false, (uint64_t)i * KB4, TLB_HIT_L1, PS_4K);
	expect_hit(t, false, 4 * KB4, TLB_HIT_L1, PS_4K);
	/* Page 3's flushed copy was overwritten, so its miss is no longer a refill. */
	expect_miss(t, false, 3 * KB4, false);
	tlb_free(t);
}

static void test_stlb_refills_l1(void **state)
{
	struct tlb *t = tlb_mk((struct tlb_geom){ 4, 4 }, (struct tlb_geom){ 64, 4 });
	const struct tlb_counters *c = tlb_counters(t);
	struct tlb_config cfg = { 0 };
	int i;

	for (i = 0; i < 5; i++)
		tlb_fill(t, false, (uint64_t)i * KB4, PS_4K, true);
	/* Page 0 fell out of the 4-entry L1D but is in the STLB. */
	expect_hit(t, false, 0, TLB_HIT_L2, PS_4K);
	expect_hit(t, false, 0, TLB_HIT_L1, PS_4K);
	/* The refill evicted the L1 LRU (page 1), which the STLB still has. */
	expect_hit(t, false, KB4, TLB_HIT_L2, PS_4K);
	assert_int_equal(c->lookups, 3);
	assert_int_equal(c->l1_hits, 1);
	assert_int_equal(c->l2_hits, 2);
	assert_int_equal(c->misses, 0);
	tlb_free(t);

	/* Fetches refill the L1I, not the L1D; an absent L1 size is just skipped. */
	cfg.l1d[PS_4K] = (struct tlb_geom){ 4, 4 };
	cfg.l1i[PS_4K] = (struct tlb_geom){ 4, 4 };
	cfg.stlb[PS_4K] = (struct tlb_geom){ 16, 4 };
	cfg.stlb[PS_2M] = (struct tlb_geom){ 16, 4 };
	t = tlb_new(&cfg);
	assert_non_null(t);
	tlb_fill(t, false, 0x5000, PS_4K, true);
	expect_hit(t, true, 0x5000, TLB_HIT_L2, PS_4K);
	expect_hit(t, true, 0x5000, TLB_HIT_L1, PS_4K);
	expect_hit(t, false, 0x5000, TLB_HIT_L1, PS_4K);
	tlb_fill(t, false, 3 * MB2 + 0x1000, PS_2M, true);
	expect_hit(t, false, 3 * MB2, TLB_HIT_L2, PS_2M);
	expect_hit(t, false, 3 * MB2, TLB_HIT_L2, PS_2M);
	tlb_free(t);
}

static void test_flush_refill_cause(void **state)
{
	struct tlb *t = tlb_mk((struct tlb_geom){ 16, 4 }, (struct tlb_geom){ 64, 4 });
	const struct tlb_counters *c = tlb_counters(t);
	uint64_t a = 0x12345000;

	tlb_fill(t, false, a, PS_4K, true);
	expect_hit(t, false, a, TLB_HIT_L1, PS_4K);
	tlb_flush(t, TLB_CAUSE_REMOTE);
	expect_miss(t, false, a, true);
	assert_int_equal(c->refill_misses[TLB_CAUSE_REMOTE], 1);
	assert_int_equal(c->refill_misses[TLB_CAUSE_RELOAD], 0);

	tlb_fill(t, false, a, PS_4K, true);
	expect_hit(t, false, a, TLB_HIT_L1, PS_4K);
	tlb_flush(t, TLB_CAUSE_RELOAD);
	expect_miss(t, false, a, true);
	assert_int_equal(c->refill_misses[TLB_CAUSE_REMOTE], 1);
	assert_int_equal(c->refill_misses[TLB_CAUSE_RELOAD], 1);
	/* Still flushed, still charged to the last flush. */
	tlb_flush(t, TLB_CAUSE_OTHER);
	expect_miss(t, false, a, true);
	assert_int_equal(c->refill_misses[TLB_CAUSE_OTHER], 1);

	assert_int_equal(c->flushes[TLB_CAUSE_REMOTE], 1);
	assert_int_equal(c->flushes[TLB_CAUSE_RELOAD], 1);
	assert_int_equal(c->flushes[TLB_CAUSE_OTHER], 1);
	assert_int_equal(c->misses, 3);
	assert_int_equal(c->l1_hits, 2);
	assert_int_equal(c->lookups, 5);
	tlb_free(t);
}

static void test_flush_unseen_plain_miss(void **state)
{
	struct tlb *t = tlb_mk((struct tlb_geom){ 16, 4 }, (struct tlb_geom){ 64, 4 });
	const struct tlb_counters *c = tlb_counters(t);

	/* Same set as the filled page, never seen itself. */
	tlb_fill(t, false, 0x10000, PS_4K, true);
	tlb_flush(t, TLB_CAUSE_REMOTE);
	expect_miss(t, false, 0x10000 + 64 * KB4, false);
	expect_miss(t, false, 0x99999000, false);
	assert_int_equal(c->refill_misses[TLB_CAUSE_REMOTE], 0);
	assert_int_equal(c->misses, 2);
	tlb_free(t);
}

static void test_2m_covers_range(void **state)
{
	struct tlb_config cfg = { 0 };
	struct tlb *t;
	uint64_t base = 0x40000000ull + 5 * MB2, off;

	cfg.l1d[PS_4K] = (struct tlb_geom){ 16, 4 };
	cfg.l1d[PS_2M] = (struct tlb_geom){ 8, 4 };
	cfg.stlb[PS_2M] = (struct tlb_geom){ 16, 4 };
	t = tlb_new(&cfg);
	assert_non_null(t);
	tlb_fill(t, false, base + 0x12345, PS_2M, true);
	for (off = 0; off < MB2; off += KB4)
		expect_hit(t, false, base + off + (off >> 12 & 0xfff), TLB_HIT_L1, PS_2M);
	expect_hit(t, false, base + MB2 - 1, TLB_HIT_L1, PS_2M);
	expect_miss(t, false, base + MB2, false);
	expect_miss(t, false, base - 1, false);
	/* A 1G entry likewise, in a TLB where only the STLB has 1G entries. */
	memset(&cfg, 0, sizeof(cfg));
	tlb_free(t);
	cfg.stlb[PS_1G] = (struct tlb_geom){ 4, 4 };
	t = tlb_new(&cfg);
	assert_non_null(t);
	tlb_fill(t, true, 3 * GB1 + 77, PS_1G, true);
	expect_hit(t, true, 3 * GB1, TLB_HIT_L2, PS_1G);
	expect_hit(t, false, 4 * GB1 - 1, TLB_HIT_L2, PS_1G);
	expect_miss(t, false, 4 * GB1, false);
	tlb_free(t);
}

static void test_invalidate_page(void **state)
{
	struct tlb_config cfg = { 0 };
	struct tlb *t;
	uint64_t r = 7 * MB2, x = r + 3 * KB4, y = r + 9 * KB4, z = r + 100 * KB4;

	cfg.l1d[PS_4K] = (struct tlb_geom){ 16, 4 };
	cfg.l1d[PS_2M] = (struct tlb_geom){ 8, 4 };
	cfg.stlb[PS_4K] = (struct tlb_geom){ 64, 4 };
	cfg.stlb[PS_2M] = (struct tlb_geom){ 16, 4 };
	t = tlb_new(&cfg);
	assert_non_null(t);
	tlb_fill(t, false, x, PS_4K, true);
	tlb_fill(t, false, y, PS_4K, true);
	tlb_fill(t, false, r, PS_2M, true);
	expect_hit(t, false, z, TLB_HIT_L1, PS_2M);
	expect_hit(t, false, x, TLB_HIT_L1, PS_4K);

	tlb_invalidate_page(t, x + 0x10);
	/* Gone from L1 and STLB, 4K and 2M: a plain miss, not a refill. */
	expect_miss(t, false, x, false);
	expect_miss(t, false, z, false);
	/* The other 4K page of the region survives. */
	expect_hit(t, false, y, TLB_HIT_L1, PS_4K);
	assert_int_equal(tlb_counters(t)->refill_misses[TLB_CAUSE_OTHER], 0);

	/* After a flush, INVLPG drops the flushed copy as well: the miss is its doing. */
	tlb_flush(t, TLB_CAUSE_REMOTE);
	tlb_invalidate_page(t, y);
	expect_miss(t, false, y, false);
	assert_int_equal(tlb_counters(t)->refill_misses[TLB_CAUSE_REMOTE], 0);
	tlb_free(t);
}

static void test_tags_isolate(void **state)
{
	struct tlb *t = tlb_mk((struct tlb_geom){ 16, 4 }, (struct tlb_geom){ 64, 4 });
	const struct tlb_counters *c = tlb_counters(t);
	uint64_t a = 0xabc000;

	tlb_set_tag(t, 1);
	tlb_fill(t, false, a, PS_4K, true);
	expect_hit(t, false, a, TLB_HIT_L1, PS_4K);
	tlb_set_tag(t, 2);
	expect_miss(t, false, a, false);
	tlb_fill(t, false, a, PS_4K, true);
	expect_hit(t, false, a, TLB_HIT_L1, PS_4K);
	/* INVLPG under tag 2 leaves tag 1's entry alone. */
	tlb_invalidate_page(t, a);
	expect_miss(t, false, a, false);
	tlb_set_tag(t, 1);
	expect_hit(t, false, a, TLB_HIT_L1, PS_4K);
	/* A flush hits every tag; the flushed copy is a refill only for its own tag. */
	tlb_flush(t, TLB_CAUSE_RELOAD);
	expect_miss(t, false, a, true);
	tlb_set_tag(t, 3);
	expect_miss(t, false, a, false);
	assert_int_equal(c->refill_misses[TLB_CAUSE_RELOAD], 1);
	tlb_free(t);
}

/* A read-only entry: reads hit it, writes miss with perm (not refill), and it stays; a
 * writable fill upgrades it in place, a read-only fill downgrades it. */
static void test_write_protect(void **state)
{
	struct tlb *t = tlb_mk((struct tlb_geom){ 16, 4 }, (struct tlb_geom){ 64, 4 });
	const struct tlb_counters *c = tlb_counters(t);
	uint64_t a = 0x7f1234567000ull;

	tlb_fill(t, false, a, PS_4K, false);
	expect_hit_rw(t, false, false, a + 0x10, TLB_HIT_L1, PS_4K);
	expect_miss_rw(t, false, true, a + 0x20, false, true);
	assert_int_equal(c->perm_misses, 1);
	assert_int_equal(c->misses, 1);
	/* Still there for reads, still a permission miss for writes. */
	expect_hit_rw(t, false, false, a, TLB_HIT_L1, PS_4K);
	expect_miss_rw(t, false, true, a, false, true);
	assert_int_equal(c->perm_misses, 2);

	/* The walk found it writable: the fill upgrades the entry (L1 and STLB). */
	tlb_fill(t, false, a, PS_4K, true);
	expect_hit_rw(t, false, true, a, TLB_HIT_L1, PS_4K);
	expect_hit_rw(t, false, false, a, TLB_HIT_L1, PS_4K);
	/* And a read-only fill downgrades it again. */
	tlb_fill(t, false, a, PS_4K, false);
	expect_miss_rw(t, false, true, a, false, true);
	expect_hit_rw(t, false, false, a, TLB_HIT_L1, PS_4K);

	/* Dirty logging: write-protect + flush, a read refills read-only, the write misses
	 * on permission (not as a refill), the walk's writable fill makes writes hit. */
	tlb_fill(t, false, a, PS_4K, true);
	tlb_flush(t, TLB_CAUSE_REMOTE);
	expect_miss_rw(t, false, false, a, true, false);
	tlb_fill(t, false, a, PS_4K, false);
	expect_miss_rw(t, false, true, a, false, true);
	tlb_fill(t, false, a, PS_4K, true);
	expect_hit_rw(t, false, true, a, TLB_HIT_L1, PS_4K);

	assert_int_equal(c->perm_misses, 4);
	assert_int_equal(c->misses, 5);
	assert_int_equal(c->refill_misses[TLB_CAUSE_REMOTE], 1);
	assert_int_equal(c->l2_hits, 0);
	assert_int_equal(c->l1_hits, 6);
	assert_int_equal(c->lookups, 11);

	/* INVLPG drops the read-only entry: a write is then a plain miss. */
	tlb_fill(t, false, a, PS_4K, false);
	tlb_invalidate_page(t, a);
	expect_miss_rw(t, false, true, a, false, false);
	/* So does another tag: its own read-only entry only. */
	tlb_fill(t, false, a, PS_4K, false);
	tlb_set_tag(t, 9);
	expect_miss_rw(t, false, true, a, false, false);
	assert_int_equal(c->perm_misses, 4);
	tlb_free(t);
}

/* A permission miss is not a hit: it leaves the LRU order alone. */
static void test_perm_miss_no_touch(void **state)
{
	struct tlb *t = tlb_mk((struct tlb_geom){ 4, 4 }, (struct tlb_geom){ 0, 0 });
	int i;

	tlb_fill(t, false, 0, PS_4K, false);
	for (i = 1; i < 4; i++)
		tlb_fill(t, false, (uint64_t)i * KB4, PS_4K, true);
	expect_miss_rw(t, false, true, 0, false, true);
	tlb_fill(t, false, 4 * KB4, PS_4K, true);	/* evicts page 0, still the LRU */
	expect_miss_rw(t, false, true, 0, false, false);
	expect_miss(t, false, 0, false);
	for (i = 1; i < 5; i++)
		expect_hit_rw(t, false, true, (uint64_t)i * KB4, TLB_HIT_L1, PS_4K);
	tlb_free(t);
}

/* An STLB hit refills the L1 with the STLB entry's writable bit. */
static void test_stlb_keeps_writable(void **state)
{
	struct tlb *t = tlb_mk((struct tlb_geom){ 4, 4 }, (struct tlb_geom){ 64, 4 });
	const struct tlb_counters *c = tlb_counters(t);
	int i;

	tlb_fill(t, false, 0, PS_4K, false);
	for (i = 1; i < 5; i++)
		tlb_fill(t, false, (uint64_t)i * KB4, PS_4K, true);
	/* Page 0 (read-only) fell out of the L1D; the STLB has it.  A write does not hit
	 * it there either. */
	expect_miss_rw(t, false, true, 0, false, true);
	expect_hit_rw(t, false, false, 0, TLB_HIT_L2, PS_4K);
	/* Now in the L1, still read-only. */
	expect_miss_rw(t, false, true, 0, false, true);
	expect_hit_rw(t, false, false, 0, TLB_HIT_L1, PS_4K);
	/* The refill evicted page 1 (writable) from the L1: a write hits it in the STLB and
	 * the L1 copy is writable. */
	expect_hit_rw(t, false, true, KB4, TLB_HIT_L2, PS_4K);
	expect_hit_rw(t, false, true, KB4, TLB_HIT_L1, PS_4K);
	/* A read refill copies the writable bit as well. */
	expect_hit_rw(t, false, false, 2 * KB4, TLB_HIT_L2, PS_4K);
	expect_hit_rw(t, false, true, 2 * KB4, TLB_HIT_L1, PS_4K);
	assert_int_equal(c->perm_misses, 2);
	assert_int_equal(c->l2_hits, 3);
	tlb_free(t);
}

/* A write uses any writable entry that covers the address: read-only ones are skipped, in
 * the L1 or the STLB, at any page size.  Fetches never write. */
static void test_write_skips_read_only(void **state)
{
	struct tlb_config cfg = { 0 };
	struct tlb *t;
	const struct tlb_counters *c;
	uint64_t a = 5 * MB2 + 7 * KB4;

	cfg.l1d[PS_4K] = (struct tlb_geom){ 16, 4 };
	cfg.l1d[PS_2M] = (struct tlb_geom){ 8, 4 };
	cfg.l1i[PS_4K] = (struct tlb_geom){ 16, 4 };
	cfg.stlb[PS_4K] = (struct tlb_geom){ 64, 4 };
	cfg.stlb[PS_2M] = (struct tlb_geom){ 16, 4 };
	t = tlb_new(&cfg);
	assert_non_null(t);
	c = tlb_counters(t);

	/* Read-only 4K and writable 2M over the same address (a splintered mapping). */
	tlb_fill(t, false, a, PS_4K, false);
	tlb_fill(t, false, a, PS_2M, true);
	expect_hit_rw(t, false, false, a, TLB_HIT_L1, PS_4K);
	expect_hit_rw(t, false, true, a, TLB_HIT_L1, PS_2M);
	tlb_invalidate_page(t, a);

	/* Read-only in the L1D, writable in the STLB (a fetch's fill upgraded the shared
	 * STLB entry): a write hits the STLB and upgrades the L1D copy. */
	tlb_fill(t, false, a, PS_4K, false);
	tlb_fill(t, true, a, PS_4K, true);
	expect_hit_rw(t, false, true, a, TLB_HIT_L2, PS_4K);
	expect_hit_rw(t, false, true, a, TLB_HIT_L1, PS_4K);
	tlb_invalidate_page(t, a);

	/* A fetch with write set is a fetch: it hits a read-only L1I entry. */
	tlb_fill(t, true, a, PS_4K, false);
	expect_hit_rw(t, true, true, a, TLB_HIT_L1, PS_4K);
	expect_miss_rw(t, false, true, a, false, true);	/* the data write: STLB read-only */
	expect_hit_rw(t, false, false, a, TLB_HIT_L2, PS_4K);

	/* A live read-only copy makes the miss perm, not refill, even with a flushed copy
	 * around: the 2M one is flushed, the 4K one refilled read-only. */
	tlb_fill(t, false, a, PS_2M, true);
	tlb_flush(t, TLB_CAUSE_RELOAD);
	tlb_fill(t, false, a, PS_4K, false);
	expect_miss_rw(t, false, true, a, false, true);
	assert_int_equal(c->refill_misses[TLB_CAUSE_RELOAD], 0);
	/* A read of another 4K page in the flushed 2M region: a refill miss as usual. */
	expect_miss_rw(t, false, false, a + KB4, true, false);
	assert_int_equal(c->refill_misses[TLB_CAUSE_RELOAD], 1);
	assert_int_equal(c->perm_misses, 2);
	assert_int_equal(c->misses, 3);
	tlb_free(t);
}

/* A 4K+2M shared STLB of 4 sets x 2 ways, no L1: 4K pages 0 and 4 and the 2M page 4 all
 * index set 0 (each size by its own page number), so the 2M fill evicts the least recently
 * used 4K entry.  With separate arrays (shared = 0) the 4K entries would both stay. */
static void test_shared_2m_evicts_4k(void **state)
{
	struct tlb_config cfg = { 0 };
	const struct tlb_counters *c;
	struct tlb *t;

	cfg.stlb[PS_4K] = (struct tlb_geom){ 8, 2 };
	cfg.stlb[PS_2M] = (struct tlb_geom){ 8, 2 };	/* not used: 2M lives in the 4K array */
	cfg.shared[TLB_STLB] = 1u << PS_4K | 1u << PS_2M;
	t = tlb_new(&cfg);
	assert_non_null(t);
	c = tlb_counters(t);
	tlb_fill(t, false, 0 * KB4, PS_4K, true);
	tlb_fill(t, false, 4 * KB4, PS_4K, true);
	expect_hit(t, false, 4 * KB4, TLB_HIT_L2, PS_4K);	/* page 0 is now the LRU */
	tlb_fill(t, false, 4 * MB2 + 0x1234, PS_2M, true);
	expect_miss(t, false, 0, false);			/* evicted by the 2M fill */
	expect_hit(t, false, 4 * KB4 + 8, TLB_HIT_L2, PS_4K);
	expect_hit(t, false, 4 * MB2 + 0x1ff000, TLB_HIT_L2, PS_2M);
	/* The 2M entry's page number is 4, as the 4K entry's: neither answers for the other. */
	expect_hit(t, false, 4 * KB4, TLB_HIT_L2, PS_4K);
	tlb_invalidate_page(t, 4 * KB4);
	expect_miss(t, false, 4 * KB4, false);
	expect_hit(t, false, 4 * MB2, TLB_HIT_L2, PS_2M);
	/* 4K pages of other sets do not touch set 0: page 1 and page 5 (set 1) both stay. */
	tlb_fill(t, false, 1 * KB4, PS_4K, true);
	tlb_fill(t, false, 5 * KB4, PS_4K, true);
	expect_hit(t, false, 1 * KB4, TLB_HIT_L2, PS_4K);
	expect_hit(t, false, 5 * KB4, TLB_HIT_L2, PS_4K);
	expect_hit(t, false, 4 * MB2, TLB_HIT_L2, PS_2M);
	/* A second 2M page in set 0 (2M page 8) and the fill of 4K page 8: three entries
	 * for two ways, the LRU (2M page 4) goes. */
	tlb_fill(t, false, 8 * MB2, PS_2M, true);
	tlb_fill(t, false, 8 * KB4, PS_4K, true);
	expect_miss(t, false, 4 * MB2, false);
	expect_hit(t, false, 8 * MB2, TLB_HIT_L2, PS_2M);
	expect_hit(t, false, 8 * KB4, TLB_HIT_L2, PS_4K);
	/* counted by side and size: STLB hits 4K x6, 2M x4, 3 misses, fills 4K x5, 2M x2 */
	assert_int_equal(c->hits[TLB_DATA][1][PS_4K], 6);
	assert_int_equal(c->hits[TLB_DATA][1][PS_2M], 4);
	assert_int_equal(c->l2_hits, 10);
	assert_int_equal(c->stlb_misses[TLB_DATA], 3);
	assert_int_equal(c->stlb_misses[TLB_INSN], 0);
	assert_int_equal(c->fills[TLB_DATA][PS_4K], 5);
	assert_int_equal(c->fills[TLB_DATA][PS_2M], 2);
	tlb_free(t);

	/* The same sequence's first part with separate arrays keeps page 0. */
	cfg.shared[TLB_STLB] = 0;
	t = tlb_new(&cfg);
	assert_non_null(t);
	tlb_fill(t, false, 0 * KB4, PS_4K, true);
	tlb_fill(t, false, 4 * KB4, PS_4K, true);
	tlb_fill(t, false, 4 * MB2, PS_2M, true);
	expect_hit(t, false, 0, TLB_HIT_L2, PS_4K);
	tlb_free(t);
}

/* A shared array takes the geometry of its smallest size and ignores the others' (even an
 * invalid one); a single-size mask is no sharing.  Hits per side and level: a fetch counts
 * on the instruction side, its STLB hit refills the L1I. */
static void test_shared_geometry_and_sides(void **state)
{
	struct tlb_config cfg = { 0 };
	const struct tlb_counters *c;
	struct tlb *t;
	int i;

	cfg.l1d[PS_4K] = (struct tlb_geom){ 4, 4 };	/* fully associative, all sizes */
	cfg.l1d[PS_2M] = (struct tlb_geom){ 12, 4 };	/* invalid, and not used */
	cfg.shared[TLB_L1D] = 7;
	cfg.l1i[PS_4K] = (struct tlb_geom){ 2, 2 };
	cfg.shared[TLB_L1I] = 1u << PS_2M;		/* one size: nothing shared */
	cfg.l1i[PS_2M] = (struct tlb_geom){ 2, 2 };
	cfg.stlb[PS_4K] = (struct tlb_geom){ 16, 4 };
	cfg.stlb[PS_2M] = (struct tlb_geom){ 16, 4 };
	t = tlb_new(&cfg);
	assert_non_null(t);
	c = tlb_counters(t);
	/* 4 entries for 4K, 2M and 1G together: a 1G, a 2M and three 4K fills leave the 1G
	 * page out (the LRU). */
	tlb_fill(t, false, 3 * GB1, PS_1G, true);
	tlb_fill(t, false, 5 * MB2, PS_2M, true);
	for (i = 0; i < 3; i++)
		tlb_fill(t, false, (uint64_t)(i + 1) * KB4, PS_4K, true);
	expect_miss(t, false, 3 * GB1, false);	/* no 1G array in the STLB either */
	expect_hit(t, false, 5 * MB2 + 7, TLB_HIT_L1, PS_2M);
	expect_hit(t, false, 2 * KB4, TLB_HIT_L1, PS_4K);
	/* The L1I: 2M entries in an array of their own, 4K too. */
	tlb_fill(t, true, 9 * MB2, PS_2M, true);
	tlb_fill(t, true, 0x7000, PS_4K, true);
	tlb_fill(t, true, 0x8000, PS_4K, true);
	expect_hit(t, true, 9 * MB2, TLB_HIT_L1, PS_2M);
	expect_hit(t, true, 0x7000, TLB_HIT_L1, PS_4K);
	/* An instruction fetch from a page only the data side filled: an STLB hit. */
	expect_hit(t, true, 5 * MB2, TLB_HIT_L2, PS_2M);
	expect_hit(t, true, 5 * MB2, TLB_HIT_L1, PS_2M);
	assert_int_equal(c->hits[TLB_DATA][0][PS_2M], 1);
	assert_int_equal(c->hits[TLB_DATA][0][PS_4K], 1);
	assert_int_equal(c->stlb_misses[TLB_DATA], 1);
	assert_int_equal(c->hits[TLB_INSN][0][PS_2M], 2);
	assert_int_equal(c->hits[TLB_INSN][0][PS_4K], 1);
	assert_int_equal(c->hits[TLB_INSN][1][PS_2M], 1);
	assert_int_equal(c->fills[TLB_DATA][PS_1G], 1);
	assert_int_equal(c->fills[TLB_INSN][PS_2M], 1);
	assert_int_equal(c->fills[TLB_INSN][PS_4K], 2);
	tlb_free(t);

	/* The smallest size's geometry is checked. */
	cfg.l1d[PS_4K] = (struct tlb_geom){ 12, 4 };
	errno = 0;
	assert_null(tlb_new(&cfg));
	assert_int_equal(errno, EINVAL);
}

/* ---- naive reference model ---- */

#define REF_MAX_WAYS 16

struct ref_e {
	uint64_t vpn;
	int ps;			/* page size: arrays shared by several sizes hold all of them */
	uint32_t tag;
	uint64_t epoch;
	bool w;			/* writable */
};

/* One structure at one page size: sets lists, each ordered most recently used first.  The
 * sizes of a shared array (tlb_config.shared) have views of the same e and n. */
struct ref_arr {
	uint32_t sets, ways;
	uint64_t page;		/* bytes */
	int ps;
	bool view;		/* e and n belong to a smaller size's ref_arr */
	struct ref_e *e;	/* e[set * ways + i], i = 0 is the MRU */
	uint32_t *n;		/* entries in each set */
};

struct ref_tlb {
	struct ref_arr a[3][PS_NR];	/* l1d, l1i, stlb */
	uint64_t epoch;
	uint32_t tag;
	int last_cause;
	struct tlb_counters cnt;
};

static void ref_init(struct ref_tlb *r, const struct tlb_config *cfg)
{
	const struct tlb_geom *g[3] = { cfg->l1d, cfg->l1i, cfg->stlb };
	int s, ps;

	memset(r, 0, sizeof(*r));
	for (s = 0; s < 3; s++) {
		for (ps = 0; ps < PS_NR; ps++) {
			struct ref_arr *a = &r->a[s][ps];
			int k;

			unsigned sh = cfg->shared[s];
			/* the smallest size of a shared group owns the array and its geometry */
			int own = (sh >> ps & 1) && (sh & (sh - 1)) ? __builtin_ctz(sh) : ps;

			a->page = 4096;
			a->ps = ps;
			for (k = 0; k < ps; k++)
				a->page *= 512;
			if (!g[s][own].entries)
				continue;
			assert_true(g[s][own].ways <= REF_MAX_WAYS);
			a->ways = g[s][own].ways;
			a->sets = g[s][own].entries / a->ways;
			if (own != ps) {
				a->view = true;
				a->e = r->a[s][own].e;
				a->n = r->a[s][own].n;
				continue;
			}
			a->e = calloc(g[s][own].entries, sizeof(*a->e));
			a->n = calloc(a->sets, sizeof(*a->n));
			assert_non_null(a->e);
			assert_non_null(a->n);
		}
	}
	r->epoch = 1;
}

static void ref_fini(struct ref_tlb *r)
{
	int s, ps;

	for (s = 0; s < 3; s++) {
		for (ps = 0; ps < PS_NR; ps++) {
			if (r->a[s][ps].view)
				continue;
			free(r->a[s][ps].e);
			free(r->a[s][ps].n);
		}
	}
}

/* Full search of every set for vpn + tag at a's page size; checks the entry is in the set it
 * belongs to. */
static bool ref_find(const struct ref_arr *a, uint64_t vpn, uint32_t tag, uint32_t *set,
		     uint32_t *pos)
{
	uint32_t s, i;

	for (s = 0; s < a->sets; s++) {
		for (i = 0; i < a->n[s]; i++) {
			const struct ref_e *e = &a->e[s * a->ways + i];

			if (e->vpn == vpn && e->ps == a->ps && e->tag == tag) {
				assert_int_equal(s, vpn % a->sets);
				*set = s;
				*pos = i;
				return true;
			}
		}
	}
	return false;
}

static void ref_remove(struct ref_arr *a, uint32_t set, uint32_t pos)
{
	struct ref_e *l = &a->e[set * a->ways];
	uint32_t i;

	for (i = pos; i + 1 < a->n[set]; i++)
		l[i] = l[i + 1];
	a->n[set]--;
}

static void ref_push_front(struct ref_arr *a, uint32_t set, struct ref_e e)
{
	struct ref_e *l = &a->e[set * a->ways];
	uint32_t i;

	assert_true(a->n[set] < a->ways);
	for (i = a->n[set]; i > 0; i--)
		l[i] = l[i - 1];
	l[0] = e;
	a->n[set]++;
}

static void ref_touch(struct ref_arr *a, uint32_t set, uint32_t pos)
{
	struct ref_e e = a->e[set * a->ways + pos];

	ref_remove(a, set, pos);
	ref_push_front(a, set, e);
}

static void ref_insert(struct ref_tlb *r, struct ref_arr *a, uint64_t gva, bool w)
{
	struct ref_e ne = { gva / a->page, a->ps, r->tag, r->epoch, w };
	uint32_t set = (uint32_t)(ne.vpn % a->sets), pos, i;

	if (ref_find(a, ne.vpn, r->tag, &set, &pos)) {
		ref_remove(a, set, pos);
	} else if (a->n[set] == a->ways) {
		/* Evict the least recently used flushed entry, else the least recently used. */
		pos = a->ways - 1;
		for (i = a->ways; i-- > 0;) {
			if (a->e[set * a->ways + i].epoch != r->epoch) {
				pos = i;
				break;
			}
		}
		ref_remove(a, set, pos);
	}
	ref_push_front(a, set, ne);
}

static struct tlb_result ref_lookup(struct ref_tlb *r, bool fetch, bool write, uint64_t gva)
{
	struct ref_arr *l1 = r->a[fetch ? 1 : 0], *l2 = r->a[2];
	int side = fetch ? TLB_INSN : TLB_DATA;
	bool stale = false, ro = false;
	uint32_t set, pos;
	int ps;

	if (fetch)
		write = false;
	r->cnt.lookups++;
	for (ps = 0; ps < PS_NR; ps++) {
		const struct ref_e *e;

		if (!l1[ps].ways || !ref_find(&l1[ps], gva / l1[ps].page, r->tag, &set, &pos))
			continue;
		e = &l1[ps].e[set * l1[ps].ways + pos];
		if (e->epoch != r->epoch) {
			stale = true;
		} else if (write && !e->w) {
			ro = true;
		} else {
			ref_touch(&l1[ps], set, pos);
			r->cnt.l1_hits++;
			r->cnt.hits[side][0][ps]++;
			return (struct tlb_result){ TLB_HIT_L1, (enum page_size)ps, false, false };
		}
	}
	for (ps = 0; ps < PS_NR; ps++) {
		const struct ref_e *e;
		bool w;

		if (!l2[ps].ways || !ref_find(&l2[ps], gva / l2[ps].page, r->tag, &set, &pos))
			continue;
		e = &l2[ps].e[set * l2[ps].ways + pos];
		w = e->w;
		if (e->epoch != r->epoch) {
			stale = true;
		} else if (write && !w) {
			ro = true;
		} else {
			ref_touch(&l2[ps], set, pos);
			if (l1[ps].ways)
				ref_insert(r, &l1[ps], gva, w);
			r->cnt.l2_hits++;
			r->cnt.hits[side][1][ps]++;
			return (struct tlb_result){ TLB_HIT_L2, (enum page_size)ps, false, false };
		}
	}
	r->cnt.misses++;
	r->cnt.stlb_misses[side]++;
	if (ro) {
		r->cnt.perm_misses++;
		return (struct tlb_result){ TLB_MISS, PS_4K, false, true };
	}
	if (stale)
		r->cnt.refill_misses[r->last_cause]++;
	return (struct tlb_result){ TLB_MISS, PS_4K, stale, false };
}

static void ref_fill(struct ref_tlb *r, bool fetch, uint64_t gva, enum page_size ps, bool w)
{
	r->cnt.fills[fetch ? TLB_INSN : TLB_DATA][ps]++;
	if (r->a[fetch ? 1 : 0][ps].ways)
		ref_insert(r, &r->a[fetch ? 1 : 0][ps], gva, w);
	if (r->a[2][ps].ways)
		ref_insert(r, &r->a[2][ps], gva, w);
}

static void ref_flush(struct ref_tlb *r, int cause)
{
	r->epoch++;
	r->last_cause = cause;
	r->cnt.flushes[cause]++;
}

static void ref_invalidate_page(struct ref_tlb *r, uint64_t gva)
{
	uint32_t set, pos;
	int s, ps;

	for (s = 0; s < 3; s++) {
		for (ps = 0; ps < PS_NR; ps++) {
			struct ref_arr *a = &r->a[s][ps];

			if (a->ways && ref_find(a, gva / a->page, r->tag, &set, &pos))
				ref_remove(a, set, pos);
		}
	}
}

/* ---- differential run ---- */

static uint64_t xorshift64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

struct diff_ws {
	unsigned n4k, n2m, n1g;
};

/* Page i of each size class: some consecutive (spread over the sets), some at strides that
 * pile onto few sets. */
static uint64_t ws_base(const struct diff_ws *ws, enum page_size ps, unsigned i)
{
	switch (ps) {
	case PS_4K:
		if (i < ws->n4k / 2)
			return 0x10000000ull + i * KB4;
		return 0x23400000ull + (i - ws->n4k / 2) * 4 * KB4 + (i & 1) * 64 * KB4;
	case PS_2M:
		if (i < ws->n2m / 2)
			return 0x40000000ull + i * MB2;
		return 0x7f8000000000ull + i * 4 * MB2;
	default:
		return 0x1000000000ull + i * GB1 * 3;
	}
}

static void ws_pick(const struct diff_ws *ws, uint64_t *rng, uint64_t *gva, enum page_size *ps)
{
	unsigned c = (unsigned)(xorshift64(rng) % 100);

	if (c < 70) {
		*ps = PS_4K;
		*gva = ws_base(ws, PS_4K, (unsigned)(xorshift64(rng) % ws->n4k));
	} else if (c < 92) {
		*ps = PS_2M;
		*gva = ws_base(ws, PS_2M, (unsigned)(xorshift64(rng) % ws->n2m));
	} else {
		*ps = PS_1G;
		*gva = ws_base(ws, PS_1G, (unsigned)(xorshift64(rng) % ws->n1g));
	}
	*gva += xorshift64(rng) & ((KB4 << (9 * *ps)) - 1);
}

static void assert_counters_equal(const struct tlb_counters *a, const struct tlb_counters *b)
{
	int c;

	assert_int_equal(a->lookups, b->lookups);
	assert_int_equal(a->l1_hits, b->l1_hits);
	assert_int_equal(a->l2_hits, b->l2_hits);
	assert_int_equal(a->misses, b->misses);
	assert_int_equal(a->perm_misses, b->perm_misses);
	for (c = 0; c < TLB_CAUSE_NR; c++) {
		assert_int_equal(a->refill_misses[c], b->refill_misses[c]);
		assert_int_equal(a->flushes[c], b->flushes[c]);
	}
	assert_memory_equal(a->hits, b->hits, sizeof(a->hits));
	assert_memory_equal(a->stlb_misses, b->stlb_misses, sizeof(a->stlb_misses));
	assert_memory_equal(a->fills, b->fills, sizeof(a->fills));
}

/* repeat: percent of look-ups that go to the page of the previous look-up again (another
 * offset, maybe another kind of access), as real code does; this is what the L1s' "last
 * 4K hit" serves, with flushes, invalidations, tag switches and fills in between. */
static void diff_run(const struct tlb_config *cfg, const struct diff_ws *ws, unsigned steps,
		     uint64_t seed, unsigned repeat)
{
	struct tlb *t = tlb_new(cfg);
	struct ref_tlb ref;
	uint64_t rng = seed, gva, last_gva = 0;
	enum page_size ps, last_ps = PS_4K;
	const struct tlb_counters *c;
	unsigned i;
	int cause;

	assert_non_null(t);
	ref_init(&ref, cfg);
	for (i = 0; i < steps; i++) {
		unsigned op = (unsigned)(xorshift64(&rng) % 1000);
		bool fetch = (xorshift64(&rng) & 3) == 0;
		/* Writes are data accesses, but a fetch with write set must act as a fetch. */
		bool write = (xorshift64(&rng) % 5) < 2;
		bool writable = (xorshift64(&rng) % 3) != 0;

		if (op < 2) {
			cause = (int)(xorshift64(&rng) % TLB_CAUSE_NR);
			tlb_flush(t, (enum tlb_flush_cause)cause);
			ref_flush(&ref, cause);
		} else if (op < 10) {
			ws_pick(ws, &rng, &gva, &ps);
			tlb_invalidate_page(t, gva);
			ref_invalidate_page(&ref, gva);
		} else if (op < 13) {
			ref.tag = (uint32_t)(xorshift64(&rng) % 3);
			tlb_set_tag(t, ref.tag);
		} else if (op < 25) {
			/* A fill without a preceding miss (e.g. an already live entry; it
			 * may upgrade or downgrade its writable bit). */
			ws_pick(ws, &rng, &gva, &ps);
			tlb_fill(t, fetch, gva, ps, writable);
			ref_fill(&ref, fetch, gva, ps, writable);
		} else {
			struct tlb_result got, want;

			if (repeat && (unsigned)(xorshift64(&rng) % 100) < repeat) {
				ps = last_ps;
				gva = (last_gva & ~(KB4 - 1)) | (xorshift64(&rng) & (KB4 - 1));
			} else {
				ws_pick(ws, &rng, &gva, &ps);
			}
			last_gva = gva;
			last_ps = ps;
			got = tlb_lookup(t, fetch, write, gva);
			want = ref_lookup(&ref, fetch, write, gva);
			assert_int_equal(got.level, want.level);
			assert_int_equal(got.refill, want.refill);
			assert_int_equal(got.perm, want.perm);
			if (want.level != TLB_MISS)
				assert_int_equal(got.ps, want.ps);
			if (got.level == TLB_MISS && (xorshift64(&rng) % 10) != 0) {
				/* Sometimes the walk yields a smaller page than the mapping
				 * (EPT splintering), which leaves overlapping entries. */
				if (ps > PS_4K && (xorshift64(&rng) % 8) == 0)
					ps--;
				tlb_fill(t, fetch, gva, ps, writable);
				ref_fill(&ref, fetch, gva, ps, writable);
			}
		}
	}
	c = tlb_counters(t);
	assert_counters_equal(c, &ref.cnt);
	/* The sequence must actually exercise every path. */
	assert_true(c->l1_hits > 0);
	assert_true(c->l2_hits > 0);
	assert_true(c->misses > c->lookups / 100);
	assert_true(c->perm_misses > c->lookups / 1000);
	for (int side = 0; side < TLB_SIDE_NR; side++)
		assert_true(c->hits[side][0][PS_4K] > 0 && c->hits[side][1][PS_4K] > 0 &&
			    c->stlb_misses[side] > 0);
	for (cause = 0; cause < TLB_CAUSE_NR; cause++)
		assert_true(c->refill_misses[cause] > 0);
	ref_fini(&ref);
	tlb_free(t);
}

static void test_diff_small(void **state)
{
	struct tlb_config cfg = { 0 };
	/* Working sets a bit larger than the STLB at each size, so there are evictions. */
	struct diff_ws ws = { 96, 24, 6 };

	cfg.l1d[PS_4K] = (struct tlb_geom){ 16, 4 };
	cfg.l1d[PS_2M] = (struct tlb_geom){ 8, 4 };
	cfg.l1d[PS_1G] = (struct tlb_geom){ 4, 4 };
	cfg.l1i[PS_4K] = (struct tlb_geom){ 8, 2 };
	cfg.stlb[PS_4K] = (struct tlb_geom){ 64, 8 };
	cfg.stlb[PS_2M] = (struct tlb_geom){ 16, 4 };
	cfg.stlb[PS_1G] = (struct tlb_geom){ 4, 2 };
	diff_run(&cfg, &ws, 400000, 0x9e3779b97f4a7c15ull, 0);
	diff_run(&cfg, &ws, 100000, 12345, 0);
	diff_run(&cfg, &ws, 400000, 777, 60);
}

/* Skylake's L1s and its 1,536-entry 12-way STLB for 4K (tlb.preset = skylake). */
static void cfg_skylake(struct tlb_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->l1d[PS_4K] = (struct tlb_geom){ 64, 4 };
	cfg->l1d[PS_2M] = (struct tlb_geom){ 32, 4 };
	cfg->l1d[PS_1G] = (struct tlb_geom){ 4, 4 };
	cfg->l1i[PS_4K] = (struct tlb_geom){ 128, 8 };
	cfg->l1i[PS_2M] = (struct tlb_geom){ 8, 8 };
	cfg->stlb[PS_4K] = (struct tlb_geom){ 1536, 12 };
}

/* Closer to a real part: 12-way STLB, 1-set fully associative L1 1G. */
static void test_diff_large(void **state)
{
	struct tlb_config cfg;
	struct diff_ws ws = { 1800, 40, 20 };

	cfg_skylake(&cfg);
	cfg.stlb[PS_2M] = (struct tlb_geom){ 32, 4 };
	cfg.stlb[PS_1G] = (struct tlb_geom){ 16, 4 };
	diff_run(&cfg, &ws, 200000, 0xdeadbeefcafef00dull, 0);
	diff_run(&cfg, &ws, 200000, 4242, 80);
}

/* Shared arrays against the reference: Skylake's geometry (the 4K+2M STLB), a small STLB
 * shared by 4K and 2M with an L1D shared by all three sizes (a fully associative L1 as AMD's),
 * and an STLB shared by 2M and 1G. */
static void test_diff_shared(void **state)
{
	struct tlb_config cfg;
	struct diff_ws ws = { 1800, 400, 20 }, small = { 96, 24, 6 };

	cfg_skylake(&cfg);
	cfg.stlb[PS_1G] = (struct tlb_geom){ 16, 4 };
	cfg.shared[TLB_STLB] = 1u << PS_4K | 1u << PS_2M;
	diff_run(&cfg, &ws, 200000, 0x5eed, 0);
	diff_run(&cfg, &ws, 200000, 99, 70);

	memset(&cfg, 0, sizeof(cfg));
	cfg.l1d[PS_4K] = (struct tlb_geom){ 16, 16 };
	cfg.shared[TLB_L1D] = 7;
	cfg.l1i[PS_4K] = (struct tlb_geom){ 8, 2 };
	cfg.l1i[PS_2M] = (struct tlb_geom){ 4, 4 };
	cfg.stlb[PS_4K] = (struct tlb_geom){ 64, 8 };
	cfg.stlb[PS_1G] = (struct tlb_geom){ 4, 2 };
	cfg.shared[TLB_STLB] = 1u << PS_4K | 1u << PS_2M;
	diff_run(&cfg, &small, 300000, 31337, 0);
	diff_run(&cfg, &small, 300000, 2718, 60);

	cfg.stlb[PS_2M] = (struct tlb_geom){ 16, 4 };
	cfg.shared[TLB_STLB] = 1u << PS_2M | 1u << PS_1G;
	diff_run(&cfg, &small, 300000, 1618, 40);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_geometry),
		cmocka_unit_test(test_lru_eviction),
		cmocka_unit_test(test_refill_existing_touches),
		cmocka_unit_test(test_stale_victim_first),
		cmocka_unit_test(test_stlb_refills_l1),
		cmocka_unit_test(test_flush_refill_cause),
		cmocka_unit_test(test_flush_unseen_plain_miss),
		cmocka_unit_test(test_2m_covers_range),
		cmocka_unit_test(test_invalidate_page),
		cmocka_unit_test(test_tags_isolate),
		cmocka_unit_test(test_write_protect),
		cmocka_unit_test(test_perm_miss_no_touch),
		cmocka_unit_test(test_stlb_keeps_writable),
		cmocka_unit_test(test_write_skips_read_only),
		cmocka_unit_test(test_diff_small),
		cmocka_unit_test(test_diff_large),
		cmocka_unit_test(test_shared_2m_evicts_4k),
		cmocka_unit_test(test_shared_geometry_and_sides),
		cmocka_unit_test(test_diff_shared),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
