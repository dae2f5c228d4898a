/* Tests for cpu/gpt (frame pools, guest page tables) and cpu/guest (the guest's page-fault
 * handler). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/gpt.h"
#include "cpu/guest.h"
#include "sim/config.h"

#define K4 0x1000ULL
#define M2 0x200000ULL

static uint64_t pop(struct gpa_pool *p, bool large)
{
	uint64_t g;
	assert_int_equal(gpa_pool_alloc(p, large, &g), 0);
	return g;
}

static uint64_t xlate(const struct gpt *g, uint64_t gva)
{
	uint64_t gpa = 0;
	assert_int_equal(gpt_translate(g, gva, &gpa, NULL), 0);
	return gpa;
}

/* ------------------------------------------------------------------ gpa_pool */

static void test_pool_fresh(void **state)
{
	/* base and end deliberately not 2M aligned: [1M, 9M) */
	struct gpa_pool *p = gpa_pool_new(1ULL << 20, 8ULL << 20);
	uint64_t g;

	assert_non_null(p);
	assert_int_equal(gpa_pool_fresh_left(p), (8ULL << 20) - (1ULL << 20));   /* [1M, 8M) */
	for (uint64_t i = 0; i < 4; i++)
		assert_int_equal(pop(p, false), (1ULL << 20) + i * K4);
	/* 2M frames from the top, each 2M aligned and inside [base, end) */
	assert_int_equal(pop(p, true), 6ULL << 20);
	assert_int_equal(pop(p, true), 4ULL << 20);
	assert_int_equal(pop(p, true), 2ULL << 20);
	/* [1M+16K, 2M) is left: no 2M frame, but 4K ones up to the 2M frames */
	assert_int_equal(gpa_pool_alloc(p, true, &g), -ENOMEM);
	assert_int_equal(gpa_pool_fresh_left(p), (1ULL << 20) - 4 * K4);
	uint64_t n = 0, last = 0;
	while (gpa_pool_alloc(p, false, &g) == 0) {
		assert_true(g > last && g < (2ULL << 20));
		last = g;
		n++;
	}
	assert_int_equal(n, 256 - 4);
	assert_int_equal(last, (2ULL << 20) - K4);
	assert_int_equal(gpa_pool_fresh_left(p), 0);
	assert_int_equal(gpa_pool_alloc(p, false, &g), -ENOMEM);
	assert_int_equal(gpa_pool_alloc(p, true, &g), -ENOMEM);
	gpa_pool_free(p);

	/* one 4K frame in the way of the only 2M frame */
	p = gpa_pool_new(0, M2);
	assert_int_equal(gpa_pool_alloc(p, false, &g), 0);
	assert_int_equal(gpa_pool_alloc(p, true, &g), -ENOMEM);
	gpa_pool_free(p);
	p = gpa_pool_new(0, M2);
	assert_int_equal(pop(p, true), 0);
	assert_int_equal(gpa_pool_alloc(p, false, &g), -ENOMEM);
	gpa_pool_free(p);
}

static void test_pool_lifo(void **state)
{
	struct gpa_pool *p = gpa_pool_new(0, 16ULL << 20);
	uint64_t a[3], big;

	for (int i = 0; i < 3; i++)
		a[i] = pop(p, false);
	big = pop(p, true);
	uint64_t left = gpa_pool_fresh_left(p);
	gpa_pool_put(p, a[0], false), gpa_pool_put(p, a[2], false), gpa_pool_put(p, a[1], false);
	gpa_pool_put(p, big, true);
	assert_int_equal(gpa_pool_fresh_left(p), left);   /* freed frames are not fresh */
	assert_int_equal(pop(p, false), a[1]);
	assert_int_equal(pop(p, false), a[2]);
	assert_int_equal(pop(p, true), big);      /* the 2M free list is separate */
	assert_int_equal(pop(p, false), a[0]);
	assert_int_equal(gpa_pool_fresh_left(p), left);
	assert_int_equal(pop(p, false), 3 * K4);  /* then fresh again */
	gpa_pool_free(p);
}

/* Pool [0, 16M): 8 frames in use, then scatter: every 4K frame of [0, 12M) not in use is
 * free; the 8 come back too.  Returns all 3072 frames in the order handed out. */
#define NSC 3072
static void scatter_order(uint64_t seed, uint64_t stream, uint64_t *out)
{
	struct gpa_pool *p = gpa_pool_new(0, 16ULL << 20);
	uint64_t used[8];

	for (int i = 0; i < 8; i++)
		used[i] = pop(p, false);
	gpa_pool_scatter(p, seed, stream);
	for (int i = 0; i < 8; i++)
		gpa_pool_put(p, used[i], false);
	gpa_pool_put(p, 0x100000000ULL, false);   /* not the pool's: ignored */
	for (int i = 0; i < NSC; i++)
		out[i] = pop(p, false);
	assert_int_equal(pop(p, false), 12ULL << 20);   /* the free set is empty: fresh frames */
	assert_int_equal(pop(p, true), 14ULL << 20);    /* 2M frames: still from the top */
	gpa_pool_free(p);
}

/* gpa_pool_reclaim(), hand-checked on pool [0, 16M) with runs of 32 frames (128 KiB): the
 * 3072 frames of [0, 12M) start in the page cache, 96 runs in a random order; with nothing
 * free, frames come from the oldest run first, each run whole and in address order; a freed
 * frame is the next one handed out (LIFO); with cache_share 1 every freed frame goes to the
 * newest end of the LRU and comes back only after all older ones. */
static void test_pool_reclaim(void **state)
{
	static bool seen[3072], run_start[96];
	struct gpa_pool *p = gpa_pool_new(0, 16ULL << 20);
	(void)state;

	gpa_pool_reclaim(p, 5, 9, 32, 0);
	uint64_t first = 0, in_order = 0;
	for (int i = 0; i < 3072; i++) {
		uint64_t g = pop(p, false);
		assert_true(g < (12ULL << 20));
		assert_false(seen[g / K4]);
		seen[g / K4] = true;
		if (i % 32 == 0) {
			assert_int_equal(g % (32 * K4), 0);       /* a run starts at a 128 KiB boundary */
			run_start[g / (32 * K4)] = true;
			in_order += g / (32 * K4) == (uint64_t)i / 32;
			if (!i)
				first = g;
		} else {
			assert_int_equal(g, first + K4);           /* and goes on in address order */
		}
		first = g;
		if (i == 100) {
			/* LIFO: a freed frame comes back at once, then the run goes on */
			gpa_pool_put(p, g, false);
			assert_int_equal(pop(p, false), g);
		}
	}
	for (int r = 0; r < 96; r++)
		assert_true(run_start[r]);
	assert_true(in_order < 10);   /* the runs are shuffled (about 1 in place by chance) */
	assert_int_equal(pop(p, false), 12ULL << 20);   /* page cache used up: fresh frames */
	gpa_pool_free(p);

	/* cache_share 1: freed frames join the LRU's newest end */
	p = gpa_pool_new(0, 16ULL << 20);
	gpa_pool_reclaim(p, 5, 9, 32, 1.0);
	uint64_t a = pop(p, false), b = pop(p, false);
	gpa_pool_put(p, a, false);
	assert_int_equal(pop(p, false), b + K4);   /* not a: the run goes on */
	for (int i = 3; i < 3072; i++)
		assert_int_not_equal(pop(p, false), a);
	assert_int_equal(pop(p, false), a);         /* after every older frame */
	gpa_pool_free(p);

	/* cache_share 0.25: about a quarter of the freed frames are not handed out again next */
	p = gpa_pool_new(0, 16ULL << 20);
	gpa_pool_reclaim(p, 5, 9, 32, 0.25);
	uint64_t got[1000];
	for (int i = 0; i < 1000; i++)
		got[i] = pop(p, false);
	for (int i = 0; i < 1000; i++)
		gpa_pool_put(p, got[i], false);
	int reused = 0;
	for (int i = 0; i < 1000; i++) {
		uint64_t g = pop(p, false);
		for (int j = 0; j < 1000; j++)
			reused += g == got[j];
	}
	print_message("reused %d of 1000 (expected ~750 +- 41)\n", reused);
	assert_in_range(reused, 750 - 41, 750 + 41);   /* 3 sigma of Binomial(1000, 0.75) */
	gpa_pool_free(p);
}

static void test_pool_scatter(void **state)
{
	static uint64_t a[NSC], b[NSC], c[NSC];
	static bool seen[NSC];
	int runs = 0, same_ac = 0;

	scatter_order(42, 3, a);
	scatter_order(42, 3, b);
	scatter_order(43, 3, c);
	assert_memory_equal(a, b, sizeof(a));    /* deterministic for a seed */
	for (int i = 0; i < NSC; i++) {
		uint64_t k = a[i] / K4;
		assert_true(k < NSC && a[i] % K4 == 0);
		assert_false(seen[k]);               /* every free frame exactly once */
		seen[k] = true;
		runs += i && (a[i] == a[i - 1] + K4 || a[i] + K4 == a[i - 1]);
		same_ac += a[i] == c[i];
	}
	assert_true(runs < NSC / 100);           /* neither ascending nor LIFO */
	assert_true(same_ac < NSC / 100);        /* another seed, another order */
}

/* ------------------------------------------------------------------ gpt */

static void test_gpt_map_translate(void **state)
{
	struct gpa_pool *tp = gpa_pool_new(0x100000, 1ULL << 20);
	struct gpt *g = gpt_new(tp);
	uint64_t gpa, va = 0x7f0012345000ULL;
	bool large = true;

	assert_non_null(g);
	struct gpt_node *root = gpt_root(g);
	assert_int_equal(root->gpa, 0x100000);
	uint64_t left = gpa_pool_fresh_left(tp);
	assert_int_equal(gpt_translate(g, va, &gpa, &large), -ENOENT);
	assert_int_equal(gpt_map(g, va + 0x123, 0x5000000, false, tp), 0);
	assert_int_equal(gpa_pool_fresh_left(tp), left - 3 * K4);   /* PDPT, PD, PT */
	assert_int_equal(gpt_translate(g, va + 0xabc, &gpa, &large), 0);
	assert_int_equal(gpa, 0x5000abc);
	assert_false(large);
	assert_int_equal(gpt_translate(g, va + K4, &gpa, NULL), -ENOENT);
	/* the intermediate tables are the pool's next frames, linked by GPA */
	const struct gpt_node *n = root;
	for (int l = 4; l > 1; l--) {
		unsigned i = gpt_index(va, l);
		assert_int_equal(n->e[i] & GPTE_PRESENT, GPTE_PRESENT);
		assert_non_null(n->child[i]);
		assert_int_equal(n->e[i] & GPTE_ADDR_MASK, n->child[i]->gpa);
		assert_int_equal(n->child[i]->gpa, 0x100000 + (uint64_t)(5 - l) * K4);
		n = n->child[i];
	}
	assert_int_equal(n->e[gpt_index(va, 1)], 0x5000000 | GPTE_PRESENT);

	/* a neighbour in the same PT needs no new table */
	assert_int_equal(gpt_map(g, va + K4, 0x7000000, false, tp), 0);
	assert_int_equal(gpa_pool_fresh_left(tp), left - 3 * K4);
	assert_int_equal(gpt_map(g, va, 0x9000000, false, tp), -EEXIST);
	assert_int_equal(xlate(g, va), 0x5000000);            /* unchanged */

	/* 2M pages: one new PD under a new PDPT entry... */
	uint64_t big = 0x40000000ULL + 3 * M2;
	assert_int_equal(gpt_map(g, big + 0x4567, 0x600000, true, tp), 0);
	assert_int_equal(gpa_pool_fresh_left(tp), left - 5 * K4);
	assert_int_equal(gpt_translate(g, big + 0x12345, &gpa, &large), 0);
	assert_int_equal(gpa, 0x612345);
	assert_true(large);
	assert_int_equal(gpt_translate(g, big + M2, &gpa, NULL), -ENOENT);
	assert_int_equal(gpt_map(g, big, 0x800000, true, tp), -EEXIST);
	assert_int_equal(gpt_map(g, big + 5 * K4, 0x800000, false, tp), -EEXIST);   /* 4K under 2M */
	assert_int_equal(gpt_map(g, va & ~(M2 - 1), 0x800000, true, tp), -EEXIST); /* 2M over a PT */

	/* tables come from the pool: an exhausted pool fails the map */
	struct gpa_pool *tiny = gpa_pool_new(0x100000000ULL, K4);
	assert_int_equal(gpa_pool_fresh_left(tiny), 0);   /* a 4K pool below any 2M boundary */
	gpa_pool_put(tiny, 0x100000000ULL, false);
	assert_int_equal(gpt_map(g, 0x500000000000ULL, 0x1000, false, tiny), -ENOMEM);
	gpt_free(g);
	gpa_pool_free(tiny), gpa_pool_free(tp);
}

static void test_gpt_unmap(void **state)
{
	struct gpa_pool *tp = gpa_pool_new(0x100000, 1ULL << 20);
	struct gpa_pool *dp = gpa_pool_new(0x10000000, 64ULL << 20);
	struct gpt *g = gpt_new(tp);
	const uint64_t A = 0x200000000ULL;   /* 8G: its own PDPT entry */
	uint64_t gpa, d[8];

	for (int i = 0; i < 8; i++) {
		d[i] = pop(dp, false);
		assert_int_equal(gpt_map(g, A + (uint64_t)i * K4, d[i], false, tp), 0);
	}
	uint64_t d2m = pop(dp, true);
	assert_int_equal(gpt_map(g, A + 4 * M2, d2m, true, tp), 0);
	uint64_t d2m_part = pop(dp, true);
	assert_int_equal(gpt_map(g, A + 6 * M2, d2m_part, true, tp), 0);
	uint64_t far = pop(dp, false);   /* other PDPT entry, other PD */
	assert_int_equal(gpt_map(g, A + (1ULL << 30), far, false, tp), 0);
	uint64_t tables_left = gpa_pool_fresh_left(tp);

	/* pages 2..7 of the PT, the whole 2M page at 4*M2, half of the one at 6*M2 */
	assert_int_equal(gpt_unmap_range(g, A + 2 * K4, 6 * M2 + M2 / 2 - 2 * K4, dp, tp), 7);
	for (int i = 0; i < 8; i++)
		assert_int_equal(gpt_translate(g, A + (uint64_t)i * K4, &gpa, NULL), i >= 2 ? -ENOENT : 0);
	assert_int_equal(gpt_translate(g, A + 4 * M2, &gpa, NULL), -ENOENT);
	assert_int_equal(gpt_translate(g, A + 6 * M2, &gpa, NULL), 0);   /* partly in range: stays */
	assert_int_equal(xlate(g, A + (1ULL << 30)), far);
	/* the data frames are back in dp (LIFO), no table was freed (the PT is not empty) */
	assert_int_equal(pop(dp, true), d2m);
	for (int i = 7; i >= 2; i--)
		assert_int_equal(pop(dp, false), d[i]);
	assert_int_equal(pop(dp, false), far + K4);   /* free list empty: fresh */
	assert_int_equal(gpa_pool_fresh_left(tp), tables_left);
	assert_int_equal(pop(tp, false), 0x100000 + 6 * K4);   /* fresh: nothing was freed */

	/* now the rest of the PT: it and nothing else goes back to tp */
	struct gpt_node *pd = gpt_root(g)->child[gpt_index(A, 4)]->child[gpt_index(A, 3)];
	uint64_t pt_gpa = pd->child[gpt_index(A, 2)]->gpa;
	assert_int_equal(gpt_unmap_range(g, A, 2 * K4, NULL, tp), 2);
	assert_null(pd->child[gpt_index(A, 2)]);
	assert_int_equal(pd->e[gpt_index(A, 2)], 0);
	assert_int_equal(pop(tp, false), pt_gpa);
	assert_int_equal(pop(tp, false), 0x100000 + 7 * K4);   /* only one table freed */
	assert_int_equal(pop(dp, false), far + 2 * K4);        /* data_pool NULL: not freed */

	/* everything: the PDs, the PDPT go back as they empty, the root stays */
	uint64_t pdpt = gpt_root(g)->child[gpt_index(A, 4)]->gpa;
	assert_int_equal(gpt_unmap_range(g, 0, 1ULL << 47, dp, tp), 2);
	assert_null(gpt_root(g)->child[gpt_index(A, 4)]);
	for (int l = 0; l < 512; l++)
		assert_int_equal(gpt_root(g)->e[l], 0);
	assert_int_equal(pop(tp, false), pdpt);   /* the PDPT emptied last */
	assert_int_equal(gpt_unmap_range(g, 0, 1ULL << 47, dp, tp), 0);
	gpt_free(g);
	gpa_pool_free(tp), gpa_pool_free(dp);
}

static void test_gpt_share(void **state)
{
	struct gpa_pool *kp = gpa_pool_new(0, 8ULL << 20);
	struct gpa_pool *up = gpa_pool_new(64ULL << 20, 64ULL << 20);
	struct gpt *kg = gpt_new(kp), *ug = gpt_new(up), *ug2 = gpt_new(up);
	uint64_t gpa;

	for (uint64_t a = 0; a < 8 * M2; a += M2)
		assert_int_equal(gpt_map(kg, GUEST_DIRECTMAP + a, a, true, kp), 0);
	gpt_share(ug, kg, GUEST_KERNEL_PML4, 511);
	gpt_share(ug2, kg, GUEST_KERNEL_PML4, 511);
	unsigned ki = gpt_index(GUEST_DIRECTMAP, 4);
	assert_true(ki >= GUEST_KERNEL_PML4);
	assert_ptr_equal(gpt_root(ug)->child[ki], gpt_root(kg)->child[ki]);
	assert_int_equal(gpt_root(ug)->e[ki], gpt_root(kg)->e[ki]);
	assert_int_equal(xlate(ug, GUEST_DIRECTMAP + 5 * M2 + 77), 5 * M2 + 77);
	/* a user page in ug only */
	assert_int_equal(gpt_map(ug, GUEST_DATA_BASE(1), 0x5000000, false, up), 0);
	assert_int_equal(gpt_translate(ug2, GUEST_DATA_BASE(1), &gpa, NULL), -ENOENT);
	/* unmapping everything never touches the shared half */
	assert_int_equal(gpt_unmap_range(ug, 0, 1ULL << 48, up, up), 1);
	assert_int_equal(gpt_unmap_range(ug, GUEST_DIRECTMAP, 8 * M2, up, up), 0);
	assert_ptr_equal(gpt_root(ug)->child[ki], gpt_root(kg)->child[ki]);
	assert_int_equal(xlate(ug, GUEST_DIRECTMAP + 7 * M2), 7 * M2);
	/* freeing the process tables leaves the kernel's (ASan: no double free) */
	gpt_free(ug);
	assert_int_equal(xlate(ug2, GUEST_DIRECTMAP + 3 * M2), 3 * M2);
	gpt_free(ug2);
	assert_int_equal(gpt_translate(kg, GUEST_DIRECTMAP, &gpa, NULL), 0);
	gpt_free(kg);
	gpa_pool_free(kp), gpa_pool_free(up);
}

/* ------------------------------------------------------------------ guest_page_fault */

static void layout_for(struct guest_layout *l, int page_size)
{
	struct scenario sc;
	struct config_error err;

	config_defaults(&sc);
	sc.mem = 256ULL << 20, sc.kernel_mem = 64ULL << 20, sc.vcpus = 2;
	sc.text_mb = 3;   /* rounds up to 4M */
	sc.page_size = page_size;
	assert_int_equal(config_validate(&sc, &err), 0);
	guest_layout_init(l, &sc);
	assert_int_equal(l->text_gpa, 8ULL << 20);
	assert_int_equal(l->text_size, 4ULL << 20);
	assert_int_equal(l->pool_size, 96ULL << 20);
}

static void test_guest_fault_text_and_bad(void **state)
{
	struct guest_layout l;
	layout_for(&l, MAP_4K);
	struct gpa_pool *pool = gpa_pool_new(guest_pool_base(&l, 1), l.pool_size);
	struct gpt *g = gpt_new(pool);
	uint64_t gpa, left;
	bool large = true;

	assert_int_equal(guest_page_fault(&l, g, pool, GUEST_TEXT_BASE(3) + 0x12345), 0);
	assert_int_equal(gpt_translate(g, GUEST_TEXT_BASE(3) + 0x12345, &gpa, &large), 0);
	assert_int_equal(gpa, l.text_gpa + 0x12345);
	assert_false(large);
	left = gpa_pool_fresh_left(pool);
	assert_int_equal(guest_page_fault(&l, g, pool, GUEST_TEXT_BASE(3) + 0x12000), 0);   /* again */
	/* same text in another slot: the same page-cache frame, no data frame used */
	assert_int_equal(guest_page_fault(&l, g, pool, GUEST_TEXT_BASE(255) + 0x12ff8), 0);
	assert_int_equal(xlate(g, GUEST_TEXT_BASE(255) + 0x12ff8), l.text_gpa + 0x12ff8);
	assert_int_equal(gpa_pool_fresh_left(pool), left - 2 * K4);   /* only its PD and PT */
	uint64_t last = GUEST_TEXT_BASE(7) + l.text_size - 8;
	assert_int_equal(guest_page_fault(&l, g, pool, last), 0);
	assert_int_equal(xlate(g, last), l.text_gpa + l.text_size - 8);

	/* beyond the program text in the text window, and the kernel's half: no user mapping */
	const uint64_t bad[] = { GUEST_TEXT_BASE(7) + l.text_size, GUEST_TEXT_BASE(200) + l.text_size + K4,
				 GUEST_USER_TOP, GUEST_DIRECTMAP, GUEST_DIRECTMAP + 0x1000000 };
	left = gpa_pool_fresh_left(pool);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(guest_page_fault(&l, g, pool, bad[i]), -EFAULT);
		assert_int_equal(gpt_translate(g, bad[i], &gpa, NULL), -ENOENT);
	}
	assert_int_equal(gpa_pool_fresh_left(pool), left);

	/* any other user address (a replayed program's stack, say) is anonymous memory */
	const uint64_t anon[] = { 0x1000, GUEST_TEXT_BASE(1) - 8, GUEST_TEXT_BASE(256), 0x7ffd12345678ULL };
	for (size_t i = 0; i < sizeof(anon) / sizeof(anon[0]); i++) {
		assert_int_equal(guest_page_fault(&l, g, pool, anon[i]), 0);
		uint64_t a = xlate(g, anon[i]);
		assert_true(a >= guest_pool_base(&l, 1) && a < guest_pool_base(&l, 1) + l.pool_size);
	}
	/* without shared text (a replayed trace), the text window is anonymous memory too */
	l.shared_text = false;
	assert_int_equal(guest_page_fault(&l, g, pool, GUEST_TEXT_BASE(9) + 0x5000), 0);
	assert_true(xlate(g, GUEST_TEXT_BASE(9) + 0x5000) >= guest_pool_base(&l, 1));
	l.shared_text = true;

	/* process exit unmaps the text: its page-cache frames never join the process pool */
	assert_int_equal(gpt_unmap_range(g, GUEST_TEXT_BASE(3), l.text_size, pool, pool), 1);
	assert_int_equal(gpt_translate(g, GUEST_TEXT_BASE(3) + 0x12345, &gpa, NULL), -ENOENT);
	for (int i = 0; i < 4; i++)
		assert_true(pop(pool, false) >= guest_pool_base(&l, 1));
	gpt_free(g);
	gpa_pool_free(pool);
}

static void test_guest_fault_data(void **state)
{
	struct guest_layout l;
	uint64_t gpa, g1, g2;
	bool large = true;

	layout_for(&l, MAP_4K);
	uint64_t base = guest_pool_base(&l, 1);
	struct gpa_pool *pool = gpa_pool_new(base, l.pool_size);
	struct gpt *g = gpt_new(pool);
	uint64_t va = GUEST_DATA_BASE(2) + 5 * K4 + 7;
	assert_int_equal(guest_page_fault(&l, g, pool, va), 0);
	assert_int_equal(gpt_translate(g, va, &g1, &large), 0);
	assert_false(large);
	assert_true(g1 >= base && g1 < base + l.pool_size);
	assert_true((g1 & ~4095ULL) != gpt_root(g)->gpa);
	assert_int_equal(g1 & 4095, 7);
	assert_int_equal(guest_page_fault(&l, g, pool, va + 8), 0);   /* spurious: same frame */
	assert_int_equal(xlate(g, va), g1);
	assert_int_equal(guest_page_fault(&l, g, pool, va + K4), 0);
	g2 = xlate(g, va + K4);
	assert_true(g2 != g1 && g2 >= base && g2 < base + l.pool_size);
	gpt_free(g), gpa_pool_free(pool);

	/* 2M guest pages, from a pool with two 2M frames */
	layout_for(&l, MAP_2M);
	assert_true(l.proc_large);
	pool = gpa_pool_new(0x40000000, 3 * M2);
	g = gpt_new(pool);
	va = GUEST_DATA_BASE(9) + 3 * M2 + 0x1234;
	assert_int_equal(guest_page_fault(&l, g, pool, va), 0);
	assert_int_equal(gpt_translate(g, va, &gpa, &large), 0);
	assert_true(large);
	assert_int_equal(gpa, 0x40000000 + 2 * M2 + 0x1234);
	assert_int_equal(guest_page_fault(&l, g, pool, va + M2 / 2), 0);   /* inside it: nothing new */
	assert_int_equal(xlate(g, va + M2 / 2), 0x40000000 + 2 * M2 + M2 / 2 + 0x1234);
	/* no 2M frame left: falls back to 4K */
	uint64_t x = pop(pool, true), vb = va + 2 * M2;
	assert_int_equal(x, 0x40000000 + M2);
	assert_int_equal(guest_page_fault(&l, g, pool, vb), 0);
	assert_int_equal(gpt_translate(g, vb, &gpa, &large), 0);
	assert_false(large);
	assert_true(gpa >= 0x40000000 && gpa < 0x40000000 + M2);
	/* a 2M frame again, but the region has 4K pages already: it maps 4K and keeps the frame */
	gpa_pool_put(pool, x, true);
	assert_int_equal(guest_page_fault(&l, g, pool, vb + K4), 0);
	assert_int_equal(gpt_translate(g, vb + K4, &gpa, &large), 0);
	assert_false(large);
	assert_true(gpa >= 0x40000000 && gpa < 0x40000000 + M2);
	assert_int_equal(pop(pool, true), x);
	gpt_free(g), gpa_pool_free(pool);
}

/* Above 3 GiB the per-vCPU pools fill [kernel_mem, 3G) and then [4G, 4G + mem - 3G): every
 * pool lies inside one RAM slot, none straddles the PCI hole, none overlaps another, and
 * they leave out less than two pools' worth of RAM.  At or below 3 GiB nothing changes. */
static void test_guest_layout_hole(void **state)
{
	(void)state;
	static const struct { const char *mem; uint32_t vcpus; } cases[] = {
		{ "1G", 4 }, { "3G", 4 }, { "5G", 3 }, { "8G", 8 }, { "64G", 7 }, { "1T", 256 },
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct scenario sc;
		struct config_error err;
		char set[64];
		config_defaults(&sc);
		snprintf(set, sizeof(set), "guest.mem=%s", cases[c].mem);
		assert_int_equal(config_set(&sc, set, &err), 0);
		snprintf(set, sizeof(set), "guest.vcpus=%u", cases[c].vcpus);
		assert_int_equal(config_set(&sc, set, &err), 0);
		assert_int_equal(config_validate(&sc, &err), 0);
		struct guest_layout l;
		guest_layout_init(&l, &sc);
		if (sc.mem <= GUEST_LOWMEM) {
			assert_int_equal(l.pools_low, sc.vcpus);
			assert_int_equal(l.pool_size, ((sc.mem - sc.kernel_mem) / sc.vcpus) & ~(M2 - 1));
		}
		uint64_t total = 0;
		for (uint32_t i = 0; i < sc.vcpus; i++) {
			uint64_t b = guest_pool_base(&l, i), e = b + l.pool_size;
			bool in_slot = false;
			for (uint32_t s = 0; s < config_nr_ram_slots(&sc); s++)
				in_slot |= b >= sc.slots[s].base && e <= sc.slots[s].base + sc.slots[s].size;
			assert_true(in_slot);
			assert_true(b >= sc.kernel_mem);
			assert_int_equal(b & (M2 - 1), 0);
			if (i)
				assert_true(b >= guest_pool_base(&l, i - 1) + l.pool_size);
			total += l.pool_size;
		}
		assert_true(sc.mem - sc.kernel_mem - total < 2 * l.pool_size + sc.vcpus * M2);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool_fresh),
		cmocka_unit_test(test_pool_lifo),
		cmocka_unit_test(test_pool_scatter),
		cmocka_unit_test(test_pool_reclaim),
		cmocka_unit_test(test_gpt_map_translate),
		cmocka_unit_test(test_gpt_unmap),
		cmocka_unit_test(test_gpt_share),
		cmocka_unit_test(test_guest_fault_text_and_bad),
		cmocka_unit_test(test_guest_fault_data),
		cmocka_unit_test(test_guest_layout_hole),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
