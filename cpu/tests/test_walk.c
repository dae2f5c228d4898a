/* Tests for cpu/walk: hand-computed walks over a hand-built EPT, then a differential test of
 * walk_2d against a recursive reference walk over the EPT and guest page tables a short
 * simulation built. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cache.h"
#include "cpu/gpt.h"
#include "cpu/guest.h"
#include "cpu/pwc.h"
#include "cpu/vcpu.h"
#include "ept/mmu.h"
#include "sim/config.h"
#include "sim/sim.h"

#define K4 0x1000ULL
#define M2 0x200000ULL
#define G1 0x40000000ULL

static struct pwc *pwc_mk(void)
{
	struct pwc_config c = { .entries = { 0, 0, 32, 4, 2 }, .ways = { 0, 0, 32, 4, 2 } };
	struct pwc *p = pwc_new(&c);
	assert_non_null(p);
	return p;
}

static void ctx_init(struct walk_ctx *w, struct kvm *kvm, struct kvm_mmu_page *root,
		     const struct gpt_node *groot, struct rng *rng, struct scenario *sc)
{
	*w = (struct walk_ctx){ .kvm = kvm, .root = root, .groot = groot, .rng = rng };
	walk_ctx_costs(w, &sc->costs);
}

/* ------------------------------------------------------------ a hand-built EPT */

struct fake { struct kvm kvm; struct kvm_mmu_page *pg[64]; uint32_t n; };

static struct kvm_mmu_page *fake_page(struct fake *f, gfn_t gfn, int level)
{
	struct kvm_mmu_page *sp = calloc(1, sizeof(*sp));
	assert_true(sp && f->n < 64);
	*sp = (struct kvm_mmu_page){ .spt = calloc(512, sizeof(uint64_t)), .id = f->n, .gfn = gfn,
				     .role = { .level = (unsigned)level, .direct = 1 } };
	f->pg[f->n++] = sp;
	return sp;
}

/* A leaf at `level` for gpa, with tables (gfn, level) as __direct_map() makes them. */
static void fake_map(struct fake *f, uint64_t gpa, int level)
{
	struct kvm_mmu_page *sp = f->pg[0];
	for (int l = PT64_ROOT_LEVEL; l > level; l--) {
		unsigned i = spte_index(gpa, l), sh = 12 + 9 * (unsigned)(l - 1);
		if (!is_shadow_present_pte(sp->spt[i]))
			sp->spt[i] = SPTE_PRESENT | SPTE_WRITABLE |
				     (uint64_t)fake_page(f, ((gpa >> sh) << sh) >> 12, l - 1)->id << SPTE_CHILD_SHIFT;
		assert_false(is_large_pte(sp->spt[i]));
		sp = mmu_page(&f->kvm, spte_child_id(sp->spt[i]));
	}
	sp->spt[spte_index(gpa, level)] = SPTE_PRESENT | SPTE_WRITABLE | (level > 1 ? SPTE_LARGE : 0);
}

static void fake_free(struct fake *f)
{
	for (uint32_t i = 0; i < f->n; i++)
		free(f->pg[i]->spt), free(f->pg[i]);
}

#define expect(...) expect_at(__FILE__, __LINE__, __VA_ARGS__)
static void expect_at(const char *file, int line, struct walk_ctx *w, uint64_t gva,
		      enum walk_status st, uint64_t gpa, enum page_size ps, unsigned refs)
{
	struct walk_result r = walk_2d(w, gva);
	_assert_int_equal(r.status, st, file, line);
	_assert_int_equal(r.refs, refs, file, line);
	_assert_int_equal(r.cycles, 4ULL * refs, file, line);   /* each ref an L1 hit: 4 cycles */
	if (st != WALK_GUEST_FAULT)
		_assert_int_equal(r.gpa, gpa, file, line);
	if (st == WALK_OK)
		_assert_int_equal(r.ps, ps, file, line);
}

static void test_walk_hand(void **state)
{
	struct fake f = { .n = 0 };
	struct scenario sc;
	struct rng rng;
	struct walk_ctx w;

	config_defaults(&sc);
	sc.costs.ref_p_l1 = 1, sc.costs.ref_p_l2 = sc.costs.ref_p_l3 = 0, sc.costs.ref_l1 = 4;
	rng_seed(&rng, 1, 1);
	f.kvm.pages = f.pg;
	struct kvm_mmu_page *root = fake_page(&f, 0, PT64_ROOT_LEVEL);

	/* guest tables at 1M (root, PDPT, PD, PT), each 4K-mapped in EPT */
	struct gpa_pool *tp = gpa_pool_new(0x100000, 0x100000);
	struct gpt *g = gpt_new(tp);
	assert_non_null(g);
	const uint64_t VA = 0x7f1234567000ULL, VC = 0x7f1234800000ULL, VD = 0x7f1234a00000ULL;
	assert_int_equal(gpt_map(g, VA, 0x300000, false, tp), 0);
	assert_int_equal(gpt_map(g, VA + K4, 0x600000, false, tp), 0);
	assert_int_equal(gpt_map(g, VC, 0x800000, true, tp), 0);
	assert_int_equal(gpt_map(g, VD, 0xa00000, true, tp), 0);
	assert_int_equal(gpt_map(g, VD + 2 * M2, G1 + M2, true, tp), 0);
	for (uint64_t t = 0x100000; t < 0x104000; t += K4)
		fake_map(&f, t, 1);
	fake_map(&f, 0x300000, 1);
	fake_map(&f, 0x600000, 2);
	fake_map(&f, 0x800000, 2);
	fake_map(&f, 0xa05000, 1);
	fake_map(&f, G1, 3);

	/* paging none: GVA = GPA, refs = EPT levels walked */
	ctx_init(&w, &f.kvm, root, NULL, &rng, &sc);
	expect(&w, 0x300abc, WALK_OK, 0x300abc, PS_4K, 4);
	expect(&w, 0x6f0abc, WALK_OK, 0x6f0abc, PS_2M, 3);
	expect(&w, G1 + 0x3456789, WALK_OK, G1 + 0x3456789, PS_1G, 2);
	expect(&w, 0x301000, WALK_EPT_VIOLATION, 0x301000, 0, 4);     /* PT entry missing */
	expect(&w, 0x1000000, WALK_EPT_VIOLATION, 0x1000000, 0, 3);   /* PD entry missing */
	expect(&w, 1ULL << 39, WALK_EPT_VIOLATION, 1ULL << 39, 0, 1);  /* root entry missing */

	/* 4-level guest: each level 4 + 1, then the data GPA */
	ctx_init(&w, &f.kvm, root, gpt_root(g), &rng, &sc);
	expect(&w, VA + 0x8, WALK_OK, 0x300008, PS_4K, 24);
	expect(&w, VA + K4 + 0x10, WALK_OK, 0x600010, PS_4K, 23);        /* data in a 2M EPT page */
	expect(&w, VC + 0x12345, WALK_OK, 0x812345, PS_2M, 3 * 5 + 3);   /* 2M over 2M */
	expect(&w, VD + 0x5123, WALK_OK, 0xa05123, PS_4K, 3 * 5 + 4);    /* 2M over 4K */
	expect(&w, VD + 2 * M2 + 0x777, WALK_OK, G1 + M2 + 0x777, PS_2M, 3 * 5 + 2); /* 2M over 1G */
	expect(&w, VD + 0x6000, WALK_EPT_VIOLATION, 0xa06000, 0, 3 * 5 + 4);
	expect(&w, VA + 2 * K4, WALK_GUEST_FAULT, 0, 0, 20);             /* PTE not present */
	expect(&w, VD + M2, WALK_GUEST_FAULT, 0, 0, 15);                 /* PDE not present */
	expect(&w, 0x1000, WALK_GUEST_FAULT, 0, 0, 5);                   /* PML4E not present */

	/* a guest whose PDPT page is not in EPT: the violation names the PDPTE's GPA */
	struct gpa_pool *tp2 = gpa_pool_new(0x2000000, M2);
	struct gpt *g2 = gpt_new(tp2);
	assert_non_null(g2);
	assert_int_equal(gpt_map(g2, VA, 0x300000, false, tp2), 0);
	fake_map(&f, 0x2000000, 1);
	ctx_init(&w, &f.kvm, root, gpt_root(g2), &rng, &sc);
	uint64_t pdpte = 0x2001000 + 8 * gpt_index(VA, 3);
	expect(&w, VA, WALK_EPT_VIOLATION, pdpte, 0, 5 + 4);

	/* paging-structure caches */
	ctx_init(&w, &f.kvm, root, gpt_root(g), &rng, &sc);
	w.gpwc = pwc_mk(), w.epwc = pwc_mk();
	/* even cold, the EPT PWC fills within the walk: the root's GPA costs 4 + 1, the other
	 * tables share its EPT PDE (1 + 1 each), the data GPA its EPT PDPTE (2) */
	expect(&w, VA, WALK_OK, 0x300000, PS_4K, 5 + 3 * 2 + 2);
	expect(&w, VA + 0x18, WALK_OK, 0x300018, PS_4K, 3);   /* warm: 1 + 1, data 1 */
	expect(&w, VA + K4, WALK_OK, 0x600000, PS_4K, 3);   /* same PT; data: EPT PDPTE cached */
	pwc_flush(w.gpwc), pwc_flush(w.epwc);
	expect(&w, VA, WALK_OK, 0x300000, PS_4K, 13);
	pwc_flush(w.gpwc);   /* guest PWC only cold: the EPT PWC serves every table */
	expect(&w, VA, WALK_OK, 0x300000, PS_4K, 4 * 2 + 1);
	pwc_free(w.gpwc), pwc_free(w.epwc);

	/* the latency model: all DRAM, then a mix within [l1, dram] per reference */
	sc.costs.ref_p_l1 = sc.costs.ref_p_l2 = sc.costs.ref_p_l3 = 0;
	ctx_init(&w, &f.kvm, root, gpt_root(g), &rng, &sc);
	assert_int_equal(walk_2d(&w, VA).cycles, 24 * sc.costs.ref_dram);
	config_defaults(&sc);
	ctx_init(&w, &f.kvm, root, gpt_root(g), &rng, &sc);
	uint64_t lo = UINT64_MAX, hi = 0;
	for (int i = 0; i < 200; i++) {
		struct walk_result r = walk_2d(&w, VA);
		assert_in_range(r.cycles, 24 * sc.costs.ref_l1, 24 * sc.costs.ref_dram);
		lo = r.cycles < lo ? r.cycles : lo;
		hi = r.cycles > hi ? r.cycles : hi;
	}
	assert_true(lo < hi);
	gpt_free(g), gpt_free(g2);
	gpa_pool_free(tp), gpa_pool_free(tp2);
	fake_free(&f);
}

/* ------------------------------------------------------------ the reference walk */

struct ref { enum walk_status st; uint64_t gpa; int level; unsigned refs; };

/* EPT: the level of the leaf mapping gpa, or 0; counts the sptes read. */
static int ref_ept(const struct kvm *kvm, const struct kvm_mmu_page *sp, int level, uint64_t gpa,
		   unsigned *refs)
{
	uint64_t spte = sp->spt[(gpa >> (12 + 9 * (level - 1))) & 511];
	++*refs;
	if (!(spte & SPTE_PRESENT))
		return 0;
	if (level == 1 || (spte & SPTE_LARGE))
		return level;
	const struct kvm_mmu_page *c = mmu_page(kvm, spte_child_id(spte));
	assert_true(c && (int)c->role.level == level - 1);
	return ref_ept(kvm, c, level - 1, gpa, refs);
}

/* Guest: the GPAs of the entries read, top down; the leaf level and GPA, or 0. */
static int ref_guest(const struct gpt_node *n, int level, uint64_t gva, uint64_t *ent, int *ne,
		     uint64_t *gpa)
{
	unsigned i = (gva >> (12 + 9 * (level - 1))) & 511;
	ent[(*ne)++] = n->gpa + 8 * i;
	if (!(n->e[i] & GPTE_PRESENT))
		return 0;
	if (level == 1 || (n->e[i] & GPTE_LARGE)) {
		uint64_t m = (1ULL << (12 + 9 * (level - 1))) - 1;
		*gpa = (n->e[i] & GPTE_ADDR_MASK & ~m) | (gva & m);
		return level;
	}
	return ref_guest(n->child[i], level - 1, gva, ent, ne, gpa);
}

static struct ref ref_walk(const struct kvm *kvm, const struct kvm_mmu_page *root,
			   const struct gpt_node *groot, uint64_t gva)
{
	struct ref r = { .st = WALK_OK };
	uint64_t gpa = gva, ent[GPT_LEVELS];
	int gl = 3, ne = 0;

	if (groot) {
		gl = ref_guest(groot, GPT_LEVELS, gva, ent, &ne, &gpa);
		for (int i = 0; i < ne; i++) {
			if (!ref_ept(kvm, root, PT64_ROOT_LEVEL, ent[i], &r.refs))
				return (struct ref){ WALK_EPT_VIOLATION, ent[i], 0, r.refs };
			r.refs++;   /* the entry itself */
		}
		if (!gl)
			return (struct ref){ WALK_GUEST_FAULT, 0, 0, r.refs };
	}
	int el = ref_ept(kvm, root, PT64_ROOT_LEVEL, gpa, &r.refs);
	r.gpa = gpa;
	if (!el)
		r.st = WALK_EPT_VIOLATION;
	r.level = el < gl ? el : gl;
	assert_in_range(r.refs, 1, WALK_MAX_REFS);
	return r;
}

/* ------------------------------------------------------------ the differential test */

struct leaves { uint64_t a[1 << 16]; size_t n; };   /* (start << 2 | level) */

static void leaf_add(struct leaves *l, uint64_t start, int level)
{
	assert_true(l->n < sizeof(l->a) / sizeof(l->a[0]));
	l->a[l->n++] = start << 2 | (uint64_t)level;
}

static void ept_leaf(void *ctx, struct kvm_mmu_page *sp, unsigned idx, gfn_t gfn, int level)
{
	leaf_add(ctx, gfn << 12, level);
}

static void guest_leaves(struct leaves *l, const struct gpt_node *n, int level, uint64_t base)
{
	for (unsigned i = 0; i < 512; i++) {
		uint64_t va = base + ((uint64_t)i << (12 + 9 * (level - 1)));
		if (level == GPT_LEVELS && i >= 256)
			va |= 0xffff000000000000ULL;
		if (!(n->e[i] & GPTE_PRESENT))
			continue;
		if (level == 1 || (n->e[i] & GPTE_LARGE))
			leaf_add(l, va & ((1ULL << 48) - 1), level);
		else
			guest_leaves(l, n->child[i], level - 1, va);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The EPT leaf level covering gpa by the leaf list (independent of the walk), or 0. */
static int leaf_level(const struct leaves *l, uint64_t gpa)
{
	size_t lo = 0, hi = l->n;
	while (lo < hi) {   /* past the last entry with start <= gpa */
		size_t m = (lo + hi) / 2;
		if ((l->a[m] >> 2) <= gpa)
			lo = m + 1;
		else
			hi = m;
	}
	if (!lo)
		return 0;
	uint64_t start = l->a[lo - 1] >> 2;
	int level = (int)(l->a[lo - 1] & 3);
	return gpa - start < (1ULL << (12 + 9 * (level - 1))) ? level : 0;
}

struct tally { unsigned n, st[3], ps[3], cached_fewer; };

static void check_one(struct walk_ctx *w, struct walk_ctx *wc, const struct leaves *el,
		      const struct gpt *g, uint64_t gva, struct tally *t)
{
	struct ref ref = ref_walk(w->kvm, w->root, w->groot, gva);
	struct walk_result r = walk_2d(w, gva);

	assert_int_equal(r.status, ref.st);
	assert_int_equal(r.refs, ref.refs);
	assert_int_equal(r.cycles, 4ULL * r.refs);
	if (ref.st != WALK_GUEST_FAULT) {
		assert_int_equal(r.gpa, ref.gpa);
		unsigned junk = 0;   /* the EPT reference agrees with the MMU's own leaf walk */
		assert_int_equal(ref_ept(w->kvm, w->root, 4, ref.gpa, &junk), leaf_level(el, ref.gpa));
	}
	if (ref.st == WALK_OK)
		assert_int_equal(r.ps, ref.level - 1);
	if (g) {   /* the guest half agrees with the guest kernel's software walk */
		uint64_t gpa;
		bool ok = gpt_translate(g, gva, &gpa, NULL) == 0;
		if (ref.st == WALK_GUEST_FAULT)
			assert_false(ok);
		if (ref.st == WALK_OK)
			assert_true(ok && gpa == r.gpa);
	}
	/* the same walk with paging-structure caches warmed by every walk before it */
	for (int k = 0; k < 2; k++) {
		struct walk_result c = walk_2d(wc, gva);
		assert_int_equal(c.status, ref.st);
		if (ref.st != WALK_GUEST_FAULT)
			assert_int_equal(c.gpa, ref.gpa);
		if (ref.st == WALK_OK)
			assert_int_equal(c.ps, r.ps);
		assert_true(c.refs <= ref.refs);
		if (k == 1 && ref.refs > 1)
			assert_true(c.refs < ref.refs);   /* just walked: something is cached */
		t->cached_fewer += k == 0 && c.refs < ref.refs;
	}
	t->n++;
	t->st[ref.st]++;
	if (ref.st == WALK_OK)
		t->ps[ref.level - 1]++;
}

static void run_differential(int page_size, int kernel_page_size, uint64_t seed)
{
	struct scenario sc;
	struct config_error err;
	char msg[256] = "";

	config_defaults(&sc);
	sc.mem = 64ULL << 20, sc.kernel_mem = 32ULL << 20, sc.vcpus = 1;
	sc.thp_fraction = 0.5;   /* EPT: 4K and 2M leaves */
	sc.page_size = page_size, sc.kernel_page_size = kernel_page_size;
	sc.text_mb = 2, sc.proc_mem_mb = 4;
	sc.proc_life_ms = 0.4;   /* processes exit: freed tables and frames are reused */
	sc.duration_ms = 2, sc.series = false, sc.seed = seed;
	sc.costs.ref_p_l1 = 1, sc.costs.ref_p_l2 = sc.costs.ref_p_l3 = 0, sc.costs.ref_l1 = 4;
	assert_int_equal(config_validate(&sc, &err), 0);
	struct sim *s = sim_new(&sc, ENGINE_BATCHED, msg, sizeof(msg));
	assert_non_null(s);
	assert_int_equal(sim_run(s), 0);

	struct kvm *kvm = sim_kvm(s);
	assert_int_equal(kvm->nr_vcpus, 1);
	struct vcpu *v = kvm->vcpus[0];
	assert_true(v->root && v->gpt);
	assert_true(v->n.records > 10000 && v->n.exits > 50 && v->n.guest_pfs > 100);
	static struct leaves el, gl;
	el.n = gl.n = 0;
	kvm_mmu_for_each_leaf(kvm, v->root, ept_leaf, &el);
	qsort(el.a, el.n, sizeof(*el.a), cmp_u64);
	guest_leaves(&gl, gpt_root(v->gpt), GPT_LEVELS, 0);
	assert_true(el.n > 100 && gl.n > 100);

	struct rng rng, pick;
	struct walk_ctx w, wc;   /* without PWCs; with PWCs kept warm across the calls */
	struct tally t = { 0 };
	rng_seed(&rng, seed, 99);
	rng_seed(&pick, seed, 100);
	ctx_init(&w, kvm, v->root, gpt_root(v->gpt), &rng, &sc);
	ctx_init(&wc, kvm, v->root, gpt_root(v->gpt), &rng, &sc);
	wc.gpwc = pwc_mk(), wc.epwc = pwc_mk();

	/* every mapped guest page (sampled), at a random offset in it */
	size_t step = gl.n / 3000 + 1;
	for (size_t i = rng_below(&pick, step); i < gl.n; i += step) {
		uint64_t va = gl.a[i] >> 2;
		int lvl = (int)(gl.a[i] & 3);
		if (va >> 47)
			va |= 0xffff000000000000ULL;
		va += rng_below(&pick, 1ULL << (12 + 9 * (lvl - 1)));
		check_one(&w, &wc, &el, v->gpt, va, &t);
	}
	for (int i = 0; i < 6000; i++) {
		uint64_t u = rng_below(&pick, 4), va;
		uint32_t slot = 1 + (uint32_t)rng_below(&pick, 4);
		if (u == 0)   /* the direct map, and a little beyond kernel_mem */
			va = GUEST_DIRECTMAP + rng_below(&pick, sc.kernel_mem + (4ULL << 20));
		else if (u == 1)
			va = GUEST_TEXT_BASE(slot) + rng_below(&pick, 4ULL << 20);
		else if (u == 2)
			va = GUEST_DATA_BASE(slot) + rng_below(&pick, 16ULL << 20);
		else   /* anywhere canonical */
			va = (uint64_t)((int64_t)(rng_next(&pick) << 16) >> 16);
		check_one(&w, &wc, &el, v->gpt, va, &t);
	}
	/* paging none over the same EPT: GVA = GPA */
	w.groot = wc.groot = NULL;
	for (int i = 0; i < 3000; i++)
		check_one(&w, &wc, &el, NULL, rng_below(&pick, sc.mem + (8ULL << 20)), &t);

	print_message("%zu EPT leaves, %zu guest leaves, %u walks: ok %u guest-fault %u ept-violation %u;"
		      " 4K %u 2M %u; fewer refs with PWC %u\n", el.n, gl.n, t.n, t.st[WALK_OK],
		      t.st[WALK_GUEST_FAULT], t.st[WALK_EPT_VIOLATION], t.ps[0], t.ps[1], t.cached_fewer);
	/* the inputs cover every outcome and both combined page sizes */
	for (int k = 0; k < 3; k++)
		assert_true(t.st[k] > 50);
	assert_true(t.ps[0] > 50 && t.ps[1] > 50);
	assert_true(t.cached_fewer > t.n / 2);
	pwc_free(wc.gpwc), pwc_free(wc.epwc);
	sim_free(s);
}

static void test_walk_differential_4k(void **state) { run_differential(MAP_4K, MAP_2M, 7); }
static void test_walk_differential_2m(void **state) { run_differential(MAP_2M, MAP_4K, 11); }

/* walk.refs = cache over the hand-built EPT: the 24 references of a cold walk, hand-counted
 * by the lines they touch; the same walk again hits L1 for every reference; data lines that
 * fill the L1D push the walk's lines out with no flush, and the walk after them refetches
 * from L2 what it does not refetch itself. */
static void test_walk_cache(void **state)
{
	struct fake f = { .n = 0 };
	struct scenario sc;
	struct walk_ctx w;
	struct cache_geom llcg = { 1 << 20, 8, 2 };
	struct cache *llc = cache_new(&llcg, 6);
	struct cache_hier h;
	struct cache_hier_config cfg = { { 32 << 10, 8, 1 }, { 32 << 10, 8, 1 }, { 1 << 20, 16, 1 }, 6 };

	config_defaults(&sc);
	const uint64_t l1 = sc.costs.ref_l1, l2 = sc.costs.ref_l2, dram = sc.costs.ref_dram;
	assert_int_equal(cache_hier_init(&h, &cfg, llc), 0);
	f.kvm.pages = f.pg;
	struct kvm_mmu_page *root = fake_page(&f, 0, PT64_ROOT_LEVEL);
	struct gpa_pool *tp = gpa_pool_new(0x100000, 0x100000);
	struct gpt *g = gpt_new(tp);
	const uint64_t VA = 0x7f1234567000ULL;
	assert_int_equal(gpt_map(g, VA, 0x300000, false, tp), 0);
	for (uint64_t t = 0x100000; t < 0x104000; t += K4)
		fake_map(&f, t, 1);
	fake_map(&f, 0x300000, 1);
	ctx_init(&w, &f.kvm, root, gpt_root(g), NULL, &sc);
	w.cache = &h;

	/* Cold.  The four guest tables (0x100000..0x103000) share the EPT root, PDPT and PD
	 * entries and one line of the EPT PT (entries 0x100..0x103): the first table's 4 EPT
	 * references miss, the other three tables' hit; each guest entry misses (4 tables);
	 * the data GPA 0x300000 shares the root and PDPT entries and the PD entry's line (entry
	 * 1 next to 0) and misses its own EPT PT: 4 + 4 + 1 = 9 misses, 15 hits. */
	struct walk_result r = walk_2d(&w, VA);
	assert_int_equal(r.status, WALK_OK);
	assert_int_equal(r.refs, 24);
	assert_int_equal(r.cycles, 9 * dram + 15 * l1);
	assert_int_equal(h.served[CACHE_WALK][CACHE_MEM], 9);
	assert_int_equal(h.served[CACHE_WALK][CACHE_L1], 15);

	/* the same walk again: every reference an L1 hit */
	r = walk_2d(&w, VA);
	assert_int_equal(r.refs, 24);
	assert_int_equal(r.cycles, 24 * l1);
	assert_int_equal(h.served[CACHE_WALK][CACHE_L1], 15 + 24);

	/* 32 KiB of data, 8 lines in each of the L1D's 64 sets: every line the walk left there
	 * is evicted (no TLB or cache flush).  The walk then takes its 9 distinct lines from L2
	 * and hits L1 for the 15 references that reuse them. */
	for (uint64_t a = 0x1000000; a < 0x1000000 + (32 << 10); a += 64)
		cache_hier_access(&h, CACHE_DATA, a);
	assert_int_equal(h.served[CACHE_DATA][CACHE_MEM], 512);
	r = walk_2d(&w, VA);
	assert_int_equal(r.cycles, 9 * l2 + 15 * l1);
	assert_int_equal(h.served[CACHE_WALK][CACHE_L2], 9);
	/* fetches go to the L1I: they leave the walk's L1D lines alone */
	for (uint64_t a = 0x2000000; a < 0x2000000 + (32 << 10); a += 64)
		cache_hier_access(&h, CACHE_FETCH, a);
	assert_int_equal(walk_2d(&w, VA).cycles, 24 * l1);

	cache_hier_destroy(&h);
	cache_free(llc);
	gpt_free(g);
	gpa_pool_free(tp);
	fake_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_walk_hand),
		cmocka_unit_test(test_walk_cache),
		cmocka_unit_test(test_walk_differential_4k),
		cmocka_unit_test(test_walk_differential_2m),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
