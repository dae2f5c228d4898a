/* Unit tests for ept/mmu: mapping levels, kvm_mmu_get_page, the TDP fault path, prepare /
 * commit zap, random faults, zaps and generations against a naive model, and guest.prefault
 * against a simulated fault-in.
 *
 * The MMU runs in the fiber of a test actor (mmu_lock is asserted): the `actor` of a zeroed
 * struct vcpu with ctx NULL, so kvm_spend() charges it through actor_spend().  Both vCPUs
 * stay OUTSIDE_GUEST_MODE: requests set bits, no IPI.  Checks in the fiber record the first
 * failure and return; the test fails after engine_run (no longjmp out of a fiber). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/vcpu.h"
#include "ept/mmu.h"
#include "ept/zap.h"
#include "sim/config.h"
#include "sim/engine.h"
#include "sim/fiber.h"
#include "sim/host.h"
#include "sim/rng.h"
#include "sim/stats.h"

#include "ept/tests/mmu_harness.h"

/* ram 4K; 2M slots: THP (all / none), hugetlb-2m, one not 2M aligned; 1G slots: aligned, not */
static const char *const big_slots[] = {
	"memslot.thp1.base=0x40000000", "memslot.thp1.size=8M", "memslot.thp1.backing=thp",
	"memslot.thp1.thp_fraction=1", "memslot.thp0.base=0x41000000", "memslot.thp0.size=8M",
	"memslot.thp0.backing=thp", "memslot.thp0.thp_fraction=0", "memslot.h2m.base=0x42000000",
	"memslot.h2m.size=8M", "memslot.h2m.backing=hugetlb-2m", "memslot.odd.base=0x43001000",
	"memslot.odd.size=8M", "memslot.odd.backing=hugetlb-2m", "memslot.h1g.base=0x80000000",
	"memslot.h1g.size=1G", "memslot.h1g.backing=hugetlb-1g", "memslot.g1odd.base=0xc0200000",
	"memslot.g1odd.size=1G", "memslot.g1odd.backing=hugetlb-1g",
};
#define NBIG (sizeof(big_slots) / sizeof(big_slots[0]))

/* Build a small guest with the given extra keys, run body in the test actor's fiber, free
 * everything, then fail with the first failure the body recorded. */
static void run(void (*body)(struct menv *), const char *const *sets, size_t n)
{
	static struct menv mm;

	menv_build(&mm, body, sets, n, NULL, NULL, NULL);
	menv_run_and_free(&mm);
}

/* The page at `level` on gpa's path from root (NULL: not linked, or a large leaf above). */
static struct kvm_mmu_page *walk_to(struct kvm *kvm, struct kvm_mmu_page *sp, uint64_t gpa, int level)
{
	for (int l = PT64_ROOT_LEVEL; sp && l > level; l--) {
		uint64_t spte = sp->spt[spte_index(gpa, l)];
		if (!is_shadow_present_pte(spte) || is_last_spte(spte, l))
			return NULL;
		sp = mmu_page(kvm, spte_child_id(spte));
	}
	return sp;
}

/* leaves reachable from vCPU 0's root: how many, and the last one's gfn and level */
struct leaves { unsigned n; gfn_t gfn; int level; };
static void count_leaf(void *ctx, struct kvm_mmu_page *sp, unsigned idx, gfn_t gfn, int level)
{
	struct leaves *l = ctx;
	*l = (struct leaves){ l->n + 1, gfn, level };
}
static struct leaves leaves_of(struct menv *m)
{
	struct leaves l = { 0, 0, 0 };
	kvm_mmu_for_each_leaf(m->kvm, m->vc[0].root, count_leaf, &l);
	return l;
}

/* ---------------------------------------------------------------- mapping levels */

static void body_mapping_level(struct menv *m)
{
	static const struct { const char *slot; gfn_t gfn; int host, level[3]; } cases[] = {
		/* level[] under mmu.max_mapping 4k, 2m, 1g */
		{ "ram", 0x123, 1, { 1, 1, 1 } }, { "h2m", 0x42345, 2, { 1, 2, 2 } },
		{ "thp1", 0x40000, 2, { 1, 2, 2 } }, { "thp1", 0x405ff, 2, { 1, 2, 2 } },
		{ "thp0", 0x41000, 1, { 1, 1, 1 } }, { "thp0", 0x417ff, 1, { 1, 1, 1 } },
		{ "h1g", 0x92345, 3, { 1, 2, 3 } }, { "h1g", 0xbffff, 3, { 1, 2, 3 } },
		/* odd: [0x43001, 0x43801): the first and the last 2M frame cross the edges */
		{ "odd", 0x43001, 2, { 1, 1, 1 } }, { "odd", 0x431ff, 2, { 1, 1, 1 } }, { "odd", 0x43200, 2, { 1, 2, 2 } },
		{ "odd", 0x437ff, 2, { 1, 2, 2 } }, { "odd", 0x43800, 2, { 1, 1, 1 } },
		/* g1odd: [0xc0200, 0x100200) holds no whole 1G frame */
		{ "g1odd", 0xc0200, 3, { 1, 2, 2 } }, { "g1odd", 0xf1234, 3, { 1, 2, 2 } },
		{ "g1odd", 0x1001ff, 3, { 1, 2, 2 } },
	};
	CHECK(m, gfn_to_memslot(m->kvm, 0x50000) == NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kvm_memory_slot *s = kvm_slot_by_name(m->kvm, cases[i].slot);
		char what[96];
		snprintf(what, sizeof(what), "%s gfn 0x%llx:", cases[i].slot, (unsigned long long)cases[i].gfn);
		CHECK(m, s && gfn_to_memslot(m->kvm, cases[i].gfn) == s);
		if (host_mapping_level(s, cases[i].gfn) != cases[i].host)
			menv_fail(m, __LINE__, what, "host_mapping_level");
		for (int max = MAP_4K; max <= MAP_1G; max++) {
			m->sc.max_mapping = max;
			if (mapping_level(m->kvm, s, cases[i].gfn) != cases[i].level[max])
				menv_fail(m, __LINE__, what, (const char *[]){ "max 4k", "max 2m", "max 1g" }[max]);
		}
	}
}

/* ---------------------------------------------------------------- kvm_mmu_get_page */

static void body_get_page(struct menv *m)
{
	struct kvm *kvm = m->kvm;
	struct kvm_mmu_page *sp, *a, *c, *d, *f, *g;
	int i = 0;

	spin_lock(m->h, &m->vc[0].actor);
	a = kvm_mmu_get_page(kvm, 0x200, 2);
	CHECK(m, a && a->gfn == 0x200 && a->role.level == 2 && a->role.direct && !a->role.invalid);
	c = kvm_mmu_get_page(kvm, 0x200, 1);
	CHECK(m, kvm_mmu_get_page(kvm, 0x200, 2) == a && c != a && c->role.level == 1);
	/* same hash bucket, other gfn: at the chain's head, a and c still found behind it */
	gfn_t other = 0x400;
	while (kvm_page_table_hashfn(kvm, other) != kvm_page_table_hashfn(kvm, 0x200))
		other += 0x200;
	d = kvm_mmu_get_page(kvm, other, 2);
	CHECK(m, d != a && d != c && d->gfn == other);
	CHECK(m, kvm_mmu_get_page(kvm, 0x200, 2) == a && kvm_mmu_get_page(kvm, 0x200, 1) == c);
	CHECK(m, ctr(m, "ept.pages_created") == 3 && kvm->n_used_mmu_pages == 3);
	/* new pages at the head of active_mmu_pages */
	struct kvm_mmu_page *order[3] = { d, c, a };
	list_for_each_entry(sp, &kvm->active_mmu_pages, link)
		CHECK(m, i < 3 && sp == order[i++]);
	CHECK(m, i == 3);
	CHECK_MMU(m);

	/* a new generation: the obsolete page is ignored, a new one made and put first */
	kvm->mmu_valid_gen++;
	CHECK(m, is_obsolete_sp(kvm, a) && is_obsolete_sp(kvm, c));
	f = kvm_mmu_get_page(kvm, 0x200, 2);
	CHECK(m, f != a && f->gfn == 0x200 && f->mmu_valid_gen == kvm->mmu_valid_gen);
	CHECK(m, list_first_entry(&kvm->active_mmu_pages, struct kvm_mmu_page, link) == f);
	CHECK(m, kvm_mmu_get_page(kvm, 0x200, 2) == f && ctr(m, "ept.pages_created") == 4);

	/* nor is an invalid (zapped) one */
	LIST_HEAD(inv);
	CHECK(m, kvm_mmu_prepare_zap_page(kvm, f, &inv) == 1);
	g = kvm_mmu_get_page(kvm, 0x200, 2);
	kvm_mmu_commit_zap_page(kvm, &inv);
	CHECK(m, g != f && !g->role.invalid);
	CHECK(m, list_empty(&inv) && ctr(m, "ept.pages_freed") == 1);
	CHECK_MMU(m);
	spin_unlock(m->h, &m->vc[0].actor);
}

/* ---------------------------------------------------------------- fault path */

static void body_faults(struct menv *m)
{
	struct kvm *kvm = m->kvm;
	struct vcpu *v = &m->vc[0];
	const uint64_t A = 0x2345000, T = 0x40345000, G = 0x92345000, H = 0x42567000;

	kvm_mmu_load(v);
	struct kvm_mmu_page *root = v->root;
	CHECK(m, root && root->role.level == 4 && root->root_count == 1 && root->gfn == 0);

	/* 4K-backed RAM: tables at 3, 2, 1 and one level-1 leaf */
	CHECK(m, kvm_tdp_page_fault(v, A, true) == PF_FIXED && kvm->n_used_mmu_pages == 4);
	CHECK(m, ctr(m, "ept.pages_created") == 4 && ctr(m, "ept.faults") == 1);
	for (int l = 3; l >= 1; l--) {
		struct kvm_mmu_page *sp = walk_to(kvm, root, A, l);
		CHECK(m, sp && sp->role.level == (unsigned)l && sp->nr_present == 1);
		CHECK(m, sp->gfn == ((A >> (12 + 9 * l)) << (9 * l)));
	}
	uint64_t leaf = walk_to(kvm, root, A, 1)->spt[spte_index(A, 1)];
	CHECK(m, is_shadow_present_pte(leaf) && (leaf & SPTE_WRITABLE) && !is_large_pte(leaf));
	CHECK(m, kvm_rmap_count(kvm, A >> 12, 1) == 1 && kvm_rmap_count(kvm, (A >> 12) + 1, 1) == 0);
	struct leaves lv = leaves_of(m);
	CHECK(m, lv.n == 1 && lv.gfn == A >> 12 && lv.level == 1);
	CHECK_MMU(m);

	/* again: spurious */
	CHECK(m, kvm_tdp_page_fault(v, A, false) == PF_FIXED && ctr(m, "ept.spurious_faults") == 1);
	CHECK(m, ctr(m, "ept.faults") == 2 && kvm_rmap_count(kvm, A >> 12, 1) == 1);
	CHECK(m, kvm->n_used_mmu_pages == 4 && ctr(m, "ept.pages_created") == 4);
	CHECK_MMU(m);

	/* THP region: a 2M leaf (one new level-2 table for the second 1G) */
	CHECK(m, kvm_tdp_page_fault(v, T, true) == PF_FIXED && ctr(m, "ept.pages_created") == 5);
	CHECK(m, kvm_rmap_count(kvm, 0x40200, 2) == 1 && kvm_rmap_count(kvm, 0x40345, 1) == 0);
	struct kvm_mmu_page *t2 = walk_to(kvm, root, T, 2);
	CHECK(m, t2 && t2->gfn == 0x40000 && is_large_pte(t2->spt[spte_index(T, 2)]) && leaves_of(m).n == 2);
	CHECK_MMU(m);

	/* hugetlb-1g: a 1G leaf in the existing level-3 table */
	CHECK(m, kvm_tdp_page_fault(v, G, true) == PF_FIXED && ctr(m, "ept.pages_created") == 5);
	CHECK(m, kvm_rmap_count(kvm, 0x80000, 3) == 1 && kvm_rmap_count(kvm, 0x80000, 2) == 0);
	CHECK(m, leaves_of(m).n == 3);
	CHECK_MMU(m);

	/* a 4K mapping in a hugetlb-2m slot (CPU limited to 4K), then a 2M fault over its table */
	m->sc.max_mapping = MAP_4K;
	CHECK(m, kvm_tdp_page_fault(v, H, true) == PF_FIXED);
	m->sc.max_mapping = MAP_1G;
	struct kvm_mmu_page *ht = walk_to(kvm, root, H, 1), *hp = walk_to(kvm, root, H, 2);
	CHECK(m, ht && ht->gfn == 0x42400 && hp == t2 && kvm_rmap_count(kvm, 0x42567, 1) == 1);
	uint64_t flushes = ctr(m, "tlb_flush.count"), hp_present = hp->nr_present;
	CHECK(m, kvm_tdp_page_fault(v, H, true) == PF_FIXED);
	CHECK(m, ctr(m, "ept.large_replaced_table") == 1 && ctr(m, "tlb_flush.count") == flushes + 1);
	CHECK(m, is_large_pte(hp->spt[spte_index(H, 2)]) && hp->nr_present == hp_present);
	CHECK(m, kvm_rmap_count(kvm, 0x42400, 2) == 1);
	CHECK(m, ht->parent_ptes == 0 && walk_to(kvm, root, H, 1) == NULL);   /* unlinked */
	/* the unlinked table keeps its leaf (and rmap entry) until it is zapped, as in KVM */
	CHECK(m, ht->nr_present == 1 && kvm_rmap_count(kvm, 0x42567, 1) == 1 && leaves_of(m).n == 4);
	CHECK_MMU(m);

	/* 4K under the large spte: the spte is dropped, the table found again by its hash */
	m->sc.max_mapping = MAP_4K;
	CHECK(m, kvm_tdp_page_fault(v, 0x42407000, true) == PF_FIXED);
	m->sc.max_mapping = MAP_1G;
	CHECK(m, ctr(m, "ept.pages_created") == 6 && ctr(m, "tlb_flush.count") == flushes + 2);
	CHECK(m, walk_to(kvm, root, H, 1) == ht && ht->nr_present == 2 && leaves_of(m).n == 5);
	CHECK(m, kvm_rmap_count(kvm, 0x42400, 2) == 0 && kvm_rmap_count(kvm, 0x42407, 1) == 1);
	CHECK_MMU(m);

	/* unloading a valid root keeps it (and its tables); the next load finds it */
	kvm_mmu_unload(v);
	CHECK(m, !v->root && root->root_count == 0 && !root->role.invalid && ctr(m, "ept.pages_freed") == 0);
	kvm_mmu_load(v);
	CHECK(m, v->root == root && root->root_count == 1 && ctr(m, "ept.pages_created") == 6);

	/* a slot deleted (not present: no fault maps it) and then zapped: its rmaps are found */
	struct kvm_memory_slot *s0 = kvm_slot_by_name(kvm, "thp0");
	CHECK(m, kvm_tdp_page_fault(v, 0x41234000, false) == PF_FIXED && kvm_rmap_count(kvm, 0x41234, 1) == 1);
	s0->present = false;
	/* a fault there now finds no slot: it installs an MMIO spte (mark_mmio_spte()) and
	 * emulates the access (3.11 mmu_set_spte()'s *emulate) */
	CHECK(m, kvm_tdp_page_fault(v, 0x41235000, false) == PF_EMULATE && ctr(m, "ept.noslot_faults") == 1);
	CHECK(m, is_mmio_spte(walk_to(kvm, root, 0x41235000, 1)->spt[spte_index(0x41235000, 1)]));
	LIST_HEAD(inv);
	spin_lock(m->h, &v->actor);
	CHECK(m, kvm_mmu_prepare_zap_page(kvm, walk_to(kvm, root, 0x41234000, 1), &inv) == 1);
	kvm_mmu_commit_zap_page(kvm, &inv);
	spin_unlock(m->h, &v->actor);
	s0->present = true;
	CHECK(m, kvm_rmap_count(kvm, 0x41234, 1) == 0);
	CHECK_MMU(m);
}

/* ---------------------------------------------------------------- prepare / commit zap */

static void body_zap(struct menv *m)
{
	struct kvm *kvm = m->kvm;
	struct vcpu *v = &m->vc[0];
	const uint64_t A = 0x2345000, B = 0x2346000, C = 0x400000;
	LIST_HEAD(inv);
	LIST_HEAD(empty);

	kvm_mmu_load(v);
	struct kvm_mmu_page *root = v->root;
	CHECK(m, kvm_tdp_page_fault(v, A, 1) == PF_FIXED && kvm_tdp_page_fault(v, B, 1) == PF_FIXED &&
		 kvm_tdp_page_fault(v, C, 1) == PF_FIXED);
	spin_lock(m->h, &v->actor);

	/* a leaf table */
	struct kvm_mmu_page *sp = walk_to(kvm, root, A, 1), *parent = walk_to(kvm, root, A, 2);
	CHECK(m, sp && parent && sp->nr_present == 2 && sp != walk_to(kvm, root, C, 1));
	uint32_t used = kvm->n_used_mmu_pages, pnr = parent->nr_present;
	uint64_t flushes = ctr(m, "tlb_flush.count");
	CHECK(m, kvm_mmu_prepare_zap_page(kvm, sp, &inv) == 1);
	CHECK(m, kvm_rmap_count(kvm, A >> 12, 1) == 0 && kvm_rmap_count(kvm, B >> 12, 1) == 0 &&
		 kvm_rmap_count(kvm, C >> 12, 1) == 1);
	CHECK(m, sp->nr_present == 0 && sp->parent_ptes == 0 && sp->role.invalid);
	CHECK(m, parent->spt[spte_index(A, 2)] == 0 && parent->nr_present == pnr - 1);
	/* alone on the invalid list (so off active_mmu_pages) */
	CHECK(m, inv.next == &sp->link && sp->link.next == &inv && kvm->n_used_mmu_pages == used - 1);
	CHECK(m, ctr(m, "tlb_flush.count") == flushes);   /* prepare does not flush */
	CHECK_MMU(m);
	kvm_mmu_commit_zap_page(kvm, &empty);
	CHECK(m, ctr(m, "tlb_flush.count") == flushes && ctr(m, "ept.pages_freed") == 0);
	kvm_mmu_commit_zap_page(kvm, &inv);
	CHECK(m, ctr(m, "tlb_flush.count") == flushes + 1 && kvm->flushes == flushes + 1);
	CHECK(m, ctr(m, "ept.pages_freed") == 1 && list_empty(&inv) && leaves_of(m).n == 1);
	CHECK_MMU(m);

	/* a root in use: stays on active_mmu_pages, invalid, and the vCPUs must reload */
	used = kvm->n_used_mmu_pages;
	m->vc[0].requests = m->vc[1].requests = 0;
	struct kvm_mmu_page *l3 = walk_to(kvm, root, A, 3);
	CHECK(m, kvm_mmu_prepare_zap_page(kvm, root, &inv) == 0);
	CHECK(m, list_empty(&inv) && root->role.invalid && root->root_count == 1 && root->nr_present == 0);
	CHECK(m, list_first_entry(&kvm->active_mmu_pages, struct kvm_mmu_page, link) == root);
	CHECK(m, kvm->n_used_mmu_pages == used && l3->parent_ptes == 0 && !l3->role.invalid);
	CHECK(m, m->vc[0].requests == KVM_REQ_MMU_RELOAD && m->vc[1].requests == KVM_REQ_MMU_RELOAD &&
		 ctr(m, "vcpu.reload_requests") == 1);
	kvm_mmu_commit_zap_page(kvm, &inv);
	CHECK(m, ctr(m, "tlb_flush.count") == flushes + 1);
	CHECK_MMU(m);
	spin_unlock(m->h, &v->actor);

	/* the last user drops it: zapped and freed on the spot */
	kvm_mmu_unload(v);
	CHECK(m, v->root == NULL && ctr(m, "ept.pages_freed") == 2);
	CHECK(m, ctr(m, "tlb_flush.count") == flushes + 2 && kvm->n_used_mmu_pages == used - 1);
	CHECK_MMU(m);
}

/* ---------------------------------------------------------------- random, against a model */

/* Naive model: leaves of RAM gfns [0, 4096) (leaf[i], 4K) and of the THP slot's 4 regions
 * (leaf[4096 + r], 2M) per generation g = mmu_valid_gen % NG; tables keyed (g, level, key:
 * 2M region / 1G region / 0) with ex (exists, valid) and ln (linked).  A zap drops a table's
 * leaves or unlinks its children; unlinked tables keep their leaves (a current one is found
 * again by the next fault), so an rmap holds up to one leaf per generation. */
#define NG 4
static const int nkeys[4] = { 0, 8, 2, 1 };
struct model {
	bool leaf[NG][4096 + 4], ex[NG][4][8], ln[NG][4][8];
	unsigned cur;
	uint64_t created, spurious, flushes, freed;
};

static void model_link(struct model *o, int l, int k)
{
	if (!o->ln[o->cur][l][k]) {
		o->created += !o->ex[o->cur][l][k];
		o->ex[o->cur][l][k] = o->ln[o->cur][l][k] = true;
	}
}

static void model_fault(struct model *o, bool thp, unsigned i)
{
	model_link(o, 3, 0);
	model_link(o, 2, thp);
	if (!thp)
		model_link(o, 1, (int)(i >> 9));
	bool *leaf = &o->leaf[o->cur][thp ? 4096 + i : i];
	o->spurious += *leaf;
	*leaf = true;
}

static void model_zap(struct model *o, unsigned g, int l, int k)
{
	if (l == 1)
		memset(&o->leaf[g][k * 512], 0, 512);
	else if (l == 2 && k)
		memset(&o->leaf[g][4096], 0, 4);
	else
		memset(o->ln[g][l - 1], 0, sizeof(o->ln[g][l - 1]));
	o->ex[g][l][k] = o->ln[g][l][k] = false;
	o->freed++;
}

/* (g, level, key) of every existing table; returns how many */
static int model_tables(const struct model *o, int t[][3])
{
	int n = 0;
	for (int g = 0; g < NG; g++)
		for (int l = 1; l <= 3; l++)
			for (int k = 0; k < nkeys[l]; k++)
				if (o->ex[g][l][k])
					t[n][0] = g, t[n][1] = l, t[n++][2] = k;
	return n;
}

static void model_compare(struct menv *m, const struct model *o)
{
	const unsigned c = o->cur;
	unsigned reach = 0;
	int t[NG * 11][3];
	for (unsigned i = 0; i < 4096 + 4; i++) {
		unsigned n = 0;
		for (int g = 0; g < NG; g++)
			n += o->leaf[g][i];
		bool thp = i >= 4096;
		gfn_t gfn = thp ? 0x40000 + 512 * (i - 4096) : i;
		CHECK(m, kvm_rmap_count(m->kvm, gfn, thp ? 2 : 1) == n);
		CHECK(m, kvm_rmap_count(m->kvm, gfn, thp ? 1 : 2) == 0);
		reach += o->leaf[c][i] && o->ln[c][3][0] && o->ln[c][2][thp] && (thp || o->ln[c][1][i >> 9]);
	}
	CHECK(m, m->kvm->n_used_mmu_pages == 1 + (unsigned)model_tables(o, t) && leaves_of(m).n == reach);
	CHECK(m, ctr(m, "ept.pages_created") == o->created && ctr(m, "ept.spurious_faults") == o->spurious);
	CHECK(m, ctr(m, "tlb_flush.count") == o->flushes && ctr(m, "ept.pages_freed") == o->freed);
}

static struct kvm_mmu_page *find_page(struct kvm *kvm, unsigned g, int l, int k)
{
	struct kvm_mmu_page *sp;
	list_for_each_entry(sp, &kvm->active_mmu_pages, link)
		if (!sp->role.invalid && sp->role.level == (unsigned)l && sp->mmu_valid_gen % NG == g &&
		    sp->gfn == (l == 1 ? 512 : 0x40000) * (gfn_t)k)
			return sp;
	return NULL;
}

/* zap 1-3 random tables of any generation, then commit */
static void random_zaps(struct menv *m, struct model *o, struct rng *r)
{
	int t[NG * 11][3], n = 1 + (int)rng_below(r, 3), zapped = 0;
	LIST_HEAD(inv);

	spin_lock(m->h, &m->vc[0].actor);
	for (int nt; zapped < n && (nt = model_tables(o, t)) > 0; zapped++) {
		int *z = t[rng_below(r, (uint64_t)nt)];
		struct kvm_mmu_page *sp = find_page(m->kvm, (unsigned)z[0], z[1], z[2]);
		CHECK(m, sp != NULL);
		if ((unsigned)z[0] == o->cur)   /* the hash finds it: nothing is made */
			CHECK(m, kvm_mmu_get_page(m->kvm, sp->gfn, z[1]) == sp &&
				 ctr(m, "ept.pages_created") == o->created);
		CHECK(m, kvm_mmu_prepare_zap_page(m->kvm, sp, &inv) == 1);
		model_zap(o, (unsigned)z[0], z[1], z[2]);
	}
	kvm_mmu_commit_zap_page(m->kvm, &inv);
	o->flushes += zapped > 0;
	spin_unlock(m->h, &m->vc[0].actor);
}

/* a new generation once the next slot is empty: the root is zapped (unlinking the rest),
 * the vCPU reloads, the obsolete tables stay */
static bool random_bump(struct menv *m, struct model *o)
{
	struct vcpu *v = &m->vc[0];
	unsigned next = (o->cur + 1) % NG;
	LIST_HEAD(inv);

	for (int l = 1; l <= 3; l++)
		for (int k = 0; k < nkeys[l]; k++)
			if (o->ex[next][l][k])
				return false;
	spin_lock(m->h, &v->actor);
	bool ok = kvm_mmu_prepare_zap_page(m->kvm, v->root, &inv) == 0 && list_empty(&inv);
	m->kvm->mmu_valid_gen++;
	spin_unlock(m->h, &v->actor);
	kvm_mmu_unload(v);
	kvm_mmu_load(v);
	o->ln[o->cur][3][0] = false;   /* the old root is freed, a new one made */
	o->cur = next;
	o->freed++, o->flushes++, o->created++;
	return ok && v->root->mmu_valid_gen % NG == next;
}

static void body_random(struct menv *m)
{
	static struct model o;
	struct rng r;
	uint64_t bumps = 0, multi = 0, most = 0;

	memset(&o, 0, sizeof(o));
	rng_seed(&r, 3, 7);
	kvm_mmu_load(&m->vc[0]);
	o.created = 1;
	for (int step = 0; step < 4000; step++) {
		uint64_t op = rng_below(&r, 100);
		if (op < 85) {   /* a fault: half of the RAM ones on 24 hot gfns */
			bool thp = rng_below(&r, 4) == 0, hot = rng_below(&r, 2);
			unsigned i = thp ? (unsigned)rng_below(&r, 4) : hot ? 167 * (unsigned)rng_below(&r, 24)
									: (unsigned)rng_below(&r, 4096);
			uint64_t gpa = thp ? 0x40000000 + ((uint64_t)i << 21) + 4096 * rng_below(&r, 512)
					   : (uint64_t)i << 12;
			CHECK(m, kvm_tdp_page_fault(&m->vc[0], gpa, rng_below(&r, 2)) == PF_FIXED);
			model_fault(&o, thp, i);
			uint64_t n = kvm_rmap_count(m->kvm, thp ? 0x40000 + 512 * i : i, thp ? 2 : 1);
			multi += n > 2, most = n > most ? n : most;
		} else if (op < 95) {
			random_zaps(m, &o, &r);
		} else if (random_bump(m, &o)) {
			bumps++;
		}
		CHECK(m, !m->failed);
		CHECK_MMU(m);
		if (step % 16 == 0 || step == 3999)
			model_compare(m, &o);
	}
	/* the mix did exercise zaps, spurious faults, generations and multi-entry rmaps */
	CHECK(m, o.freed > 300 && o.spurious > 300 && bumps > 10 && multi > 50 && most == NG);
}

/* KVM's own remote_tlb_flush beside tlb_flush.count: 3.10's kvm_flush_remote_tlbs() counts
 * only the calls whose make_all_cpus_request() sent IPIs (to a vCPU in or exiting guest mode,
 * not the caller's own).  Hand-counted: 4 flushes, 2 with an IPI; a reload IPI is not one. */
static void body_remote_tlb_flush(struct menv *m)
{
	struct vcpu *v1 = &m->vc[1];

	v1->actor.clock = UINT64_MAX / 2;   /* inside instructions: its handler acks on arrival */
	kvm_flush_remote_tlbs(m->kvm);      /* vCPU 1 outside guest mode: no IPI */
	CHECK(m, ctr(m, "tlb_flush.count") == 1 && ctr(m, "tlb_flush.remote_tlb_flush") == 0);
	v1->mode = IN_GUEST_MODE;
	kvm_flush_remote_tlbs(m->kvm);
	CHECK(m, v1->mode == EXITING_GUEST_MODE && ctr(m, "tlb_flush.ipis") == 1);
	kvm_flush_remote_tlbs(m->kvm);      /* exiting: IPI'd again (make_all_cpus_request) */
	CHECK(m, ctr(m, "tlb_flush.count") == 3 && ctr(m, "tlb_flush.remote_tlb_flush") == 2);
	kvm_reload_remote_mmus(m->kvm);     /* an IPI, not a TLB flush */
	v1->mode = OUTSIDE_GUEST_MODE;
	kvm_flush_remote_tlbs(m->kvm);
	CHECK(m, ctr(m, "tlb_flush.count") == 4 && ctr(m, "tlb_flush.remote_tlb_flush") == 2 &&
		 ctr(m, "tlb_flush.ipis") == 2 && m->kvm->flushes == 4);
	v1->requests = 0;
}

static void test_remote_tlb_flush(void **state) { run(body_remote_tlb_flush, NULL, 0); }

/* ---------------------------------------------------------------- root reload, IPIs */

/* Issue 13 §1.4: 3.10's kvm_mmu_load() takes mmu_lock in mmu_alloc_direct_roots() and again
 * around mmu_sync_roots() (which returns at once for a direct map), and kvm_mmu_unload()
 * (mmu_free_roots()) takes it once: a load is two acquisitions, a reload three.  The holds,
 * from the lock timeline: the sync one is costs.mmu_sync_roots, the unload one
 * costs.mmu_unload (a valid root: nothing freed). */
static const char *const reload_sets[] = { "output.lock_timeline=true", "costs.mmu_sync_roots=77",
					   "costs.mmu_unload=230" };
static void body_reload_locking(struct menv *m)
{
	struct vcpu *v = &m->vc[0];
	const struct host_hold *h;
	size_t n;
	uint64_t dropped, dropped_cycles, acq = host_lock_acquisitions(m->h);

	kvm_mmu_load(v);
	CHECK(m, v->root && v->root->root_count == 1 && host_lock_acquisitions(m->h) == acq + 2);
	h = host_lock_timeline(m->h, &n, &dropped, &dropped_cycles);
	CHECK(m, n == 2 && h[1].end - h[1].start == 77 && h[0].end <= h[1].start);
	struct kvm_mmu_page *root = v->root;

	kvm_mmu_unload(v);   /* KVM_REQ_MMU_RELOAD, then kvm_mmu_reload() */
	kvm_mmu_load(v);
	CHECK(m, v->root == root && root->root_count == 1 && host_lock_acquisitions(m->h) == acq + 5);
	h = host_lock_timeline(m->h, &n, &dropped, &dropped_cycles);
	CHECK(m, n == 5 && h[2].end - h[2].start == 230 && h[4].end - h[4].start == 77);
	CHECK(m, v->actor.lock_acquisitions == 5);
}

/* Issue 13 §1.10: an IPI that finds a vCPU in guest mode causes a VM exit, and ack_flush()
 * runs in the host after it.  vCPU 1 is in guest mode, inside instructions (its clock is far
 * ahead: acknowledged on arrival, vcpu_request_and_kick()).  The requester's wait, by hand:
 * ipi_send (50) overlaps the IPI's way; the ack comes ipi_deliver (1000) + vmexit (300) +
 * ipi_handler (70) = 1370 after the request.  A second flush finds vCPU 1 in the host (it
 * has not run since: one exit for both, as vcpu_take_ipis() charges it): 1000 + 70. */
static const char *const ipi_sets[] = { "costs.ipi_send=50", "costs.ipi_deliver=1000", "costs.vmexit=300",
					"costs.ipi_handler=70" };
static void body_ipi_ack_after_exit(struct menv *m)
{
	struct actor *me = &m->vc[0].actor;
	struct vcpu *v1 = &m->vc[1];

	v1->mode = IN_GUEST_MODE;
	v1->ipi_at = UINT64_MAX;
	v1->actor.clock = 1000000000;
	uint64_t t0 = me->clock;
	kvm_flush_remote_tlbs(m->kvm);
	CHECK(m, me->clock - t0 == 1370 && v1->mode == EXITING_GUEST_MODE && v1->n.ipis == 1);
	CHECK(m, v1->ipi_at == t0 + 1000 && v1->ipi_req == KVM_REQ_TLB_FLUSH);
	t0 = me->clock;
	kvm_flush_remote_tlbs(m->kvm);
	CHECK(m, me->clock - t0 == 1070 && v1->n.ipis == 2 && ctr(m, "tlb_flush.ipis") == 2);
	stat_id id = stats_lookup(m->st, "tlb_flush.requester_cycles");
	CHECK(m, stats_hist_max(m->st, id) == 1370);
	CHECK(m, m->vc[0].requests == KVM_REQ_TLB_FLUSH && v1->requests == KVM_REQ_TLB_FLUSH);
}

/* Issue 13 §1.6, counted by hand.  vCPU 0 holds the root R; faults at A, B (one 4K table)
 * and C (another) make L3, L2 and two L1 tables; vCPU 1 is in guest mode, inside
 * instructions (IPIs acknowledged on arrival), holding no root.
 *
 * legacy (3.9 / 3.10.99 kvm_mmu_zap_all() from kvm_arch_flush_shadow_memslot()): the walk
 * zaps the four tables (a restart after each), then R, in use: moved to the head, invalid,
 * kvm_reload_remote_mmus() (1); one commit: one remote flush; after the unlock
 * kvm_arch_flush_shadow_all() reloads again (2).  vCPU 1 gets an IPI for each of the three
 * (EXITING_GUEST_MODE is not OUTSIDE_GUEST_MODE).  A second zap before vCPU 0 reloads finds
 * only R: invalid, in use, so 3.9's prepare-zap reloads again (1) and the flush_shadow_all
 * reload follows (2); no page is freed, no flush.
 *
 * fast-v7 (3.11 kvm_mmu_invalidate_zap_all_pages()): the generation bump and one reload up
 * front, R obsolete so no reload when it is zapped, one flush, nothing after; the second
 * zap: the up-front reload only (R is invalid: skipped). */
static void body_flush_shadow_reloads(struct menv *m)
{
	struct kvm *kvm = m->kvm;
	struct vcpu *v = &m->vc[0], *v1 = &m->vc[1];
	bool legacy = kvm->zap_ops == &zap_all_variants[ZAP_ALL_LEGACY];

	kvm_mmu_load(v);
	struct kvm_mmu_page *root = v->root;
	CHECK(m, kvm_tdp_page_fault(v, 0x2345000, true) == PF_FIXED && kvm_tdp_page_fault(v, 0x2346000, true) == PF_FIXED &&
		 kvm_tdp_page_fault(v, 0x400000, true) == PF_FIXED);
	CHECK(m, kvm->n_used_mmu_pages == 5);
	v1->mode = IN_GUEST_MODE;
	v1->ipi_at = UINT64_MAX;
	v1->actor.clock = 1000000000;
	uint64_t reloads = ctr(m, "vcpu.reload_requests"), flushes = ctr(m, "tlb_flush.count");

	kvm_arch_flush_shadow_memslot(kvm);
	CHECK(m, root->role.invalid && root->root_count == 1 && kvm->n_used_mmu_pages == 1);
	CHECK(m, ctr(m, "ept.pages_freed") == 4 && ctr(m, "tlb_flush.count") == flushes + 1);
	CHECK(m, ctr(m, "vcpu.reload_requests") == reloads + (legacy ? 2 : 1));
	CHECK(m, v1->n.ipis == (legacy ? 3 : 2) && ctr(m, "tlb_flush.ipis") == 1);
	CHECK(m, v->requests == (KVM_REQ_MMU_RELOAD | KVM_REQ_TLB_FLUSH) && v1->requests == v->requests);

	kvm_arch_flush_shadow_memslot(kvm);
	CHECK(m, root->role.invalid && root->root_count == 1 && ctr(m, "ept.pages_freed") == 4);
	CHECK(m, ctr(m, "tlb_flush.count") == flushes + 1);
	CHECK(m, ctr(m, "vcpu.reload_requests") == reloads + (legacy ? 4 : 2));
	CHECK(m, v1->n.ipis == (legacy ? 5 : 3));

	kvm_mmu_unload(v);   /* the last user: R is zapped and freed */
	CHECK(m, ctr(m, "ept.pages_freed") == 5 && kvm->n_used_mmu_pages == 0);
}

static const char *const legacy_sets[] = { "mmu.zap_all=legacy" };
static const char *const fast_v7_sets[] = { "mmu.zap_all=fast-v7" };

static void test_reload_locking(void **state) { run(body_reload_locking, reload_sets, 3); }
static void test_ipi_ack_after_exit(void **state) { run(body_ipi_ack_after_exit, ipi_sets, 4); }
static void test_flush_shadow_reloads_legacy(void **state) { run(body_flush_shadow_reloads, legacy_sets, 1); }
static void test_flush_shadow_reloads_fast_v7(void **state) { run(body_flush_shadow_reloads, fast_v7_sets, 1); }

/* ---------------------------------------------------------------- mmu_page_hash */

static const char *const hash310[] = { "mmu.hash=linux-3.10", "costs.hash_chain_entry=7" };
static const char *const hash64[] = { "mmu.hash=hash64", "costs.hash_chain_entry=7" };

/* kvm_page_table_hashfn() by hand.  3.10: the low 10 bits.  hash64: the top 12 bits of
 * gfn * 0x61C8864680B583EB mod 2^64; for 0x200 that is the product shifted left by 9, whose
 * top 12 bits are bits 54..43 of the constant, 1001 0001 0000 = 0x910. */
static void body_hash_bucket(struct menv *m)
{
	struct kvm *kvm = m->kvm;
	static const struct { gfn_t gfn; uint32_t b310, b64; } cases[] = {
		{ 0x0, 0, 0 }, { 0x1, 0x1, 0x61c }, { 0x200, 0x200, 0x910 }, { 0x400, 0x0, 0x221 },
		{ 0x40000, 0x0, 0x191 }, { 0x12345, 0x345, 0x4ba },
	};
	bool is310 = m->sc.mmu_hash == MMU_HASH_LINUX_310;

	CHECK(m, kvm->hash_ops->shift == (is310 ? 10u : 12u));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK(m, kvm_page_table_hashfn(kvm, cases[i].gfn) == (is310 ? cases[i].b310 : cases[i].b64));
	/* a 1 GiB direct map's level-1 table gfns (multiples of 512): 2 buckets under 3.10,
	 * spread under hash64 */
	static uint32_t used[4096];
	uint32_t buckets = 0, most = 0;
	memset(used, 0, sizeof(used));
	for (gfn_t g = 0; g < 0x40000; g += 0x200) {
		uint32_t b = kvm_page_table_hashfn(kvm, g);
		buckets += !used[b]++;
		most = used[b] > most ? used[b] : most;
	}
	CHECK(m, is310 ? buckets == 2 && most == 256 : buckets > 400 && most <= 4);
}

/* Entries walked and cycles charged by one kvm_mmu_get_page() */
static uint64_t walked(struct menv *m, gfn_t gfn, int level, struct kvm_mmu_page **out, uint64_t *cycles)
{
	uint64_t e0 = ctr(m, "ept.hash_entries_walked"), c0 = m->vc[0].actor.clock;
	*out = kvm_mmu_get_page(m->kvm, gfn, level);
	*cycles = m->vc[0].actor.clock - c0;
	return ctr(m, "ept.hash_entries_walked") - e0;
}

/* A hand-built collision: gfns 0x200, 0x600, 0xa00 share 3.10 bucket 512.  A miss walks the
 * whole chain, a hit stops at its page, counted from the newest; 7 cycles an entry. */
static void body_hash_chain_cost(struct menv *m)
{
	struct kvm *kvm = m->kvm;
	struct kvm_mmu_page *a, *b, *c, *x;
	uint64_t cy, alloc = m->sc.costs.sp_alloc;
	stat_id walk = stats_lookup(m->st, "ept.hash_walk_entries");

	spin_lock(m->h, &m->vc[0].actor);
	CHECK(m, walked(m, 0x200, 1, &a, &cy) == 0 && cy == alloc);
	CHECK(m, walked(m, 0x600, 1, &b, &cy) == 1 && cy == alloc + 7);
	CHECK(m, walked(m, 0xa00, 1, &c, &cy) == 2 && cy == alloc + 14);
	CHECK(m, kvm->mmu_page_hash_len[512] == 3 && ctr(m, "ept.hash_longest_chain") == 3);
	/* hits: the oldest is compared last */
	CHECK(m, walked(m, 0x200, 1, &x, &cy) == 3 && x == a && cy == 21);
	CHECK(m, walked(m, 0x600, 1, &x, &cy) == 2 && x == b && cy == 14);
	CHECK(m, walked(m, 0xa00, 1, &x, &cy) == 1 && x == c && cy == 7);
	/* same gfn, another level: compared with all three, then made */
	CHECK(m, walked(m, 0x200, 2, &x, &cy) == 3 && x != a && cy == alloc + 21);
	CHECK(m, walked(m, 0x200, 2, &x, &cy) == 1 && cy == 7);
	/* another bucket: nothing to compare */
	CHECK(m, walked(m, 0x201, 1, &x, &cy) == 0 && cy == alloc);
	CHECK(m, stats_hist_count(m->st, walk) == 9 && stats_hist_max(m->st, walk) == 3);
	CHECK(m, ctr(m, "ept.hash_longest_chain") == 4);
	CHECK_MMU(m);
	spin_unlock(m->h, &m->vc[0].actor);
}

/* Obsolete and invalid pages stay on the chain, compared by every walk, until
 * kvm_mmu_commit_zap_page() frees them (3.10 kvm_mmu_free_page(): hlist_del()). */
static void body_hash_obsolete(struct menv *m)
{
	struct kvm *kvm = m->kvm;
	struct kvm_mmu_page *a, *b, *a2, *x;
	uint64_t cy;
	LIST_HEAD(inv);

	spin_lock(m->h, &m->vc[0].actor);
	CHECK(m, walked(m, 0x200, 1, &a, &cy) == 0 && walked(m, 0x600, 1, &b, &cy) == 1);
	kvm->mmu_valid_gen++;
	/* a is obsolete: compared, skipped, the walk goes on to the end; a2 made at the head */
	CHECK(m, walked(m, 0x200, 1, &a2, &cy) == 2 && a2 != a && kvm->mmu_page_hash_len[512] == 3);
	CHECK(m, walked(m, 0x200, 1, &x, &cy) == 1 && x == a2);
	/* zapped, not committed: still walked */
	CHECK(m, kvm_mmu_prepare_zap_page(kvm, a, &inv) == 1 && kvm_mmu_prepare_zap_page(kvm, b, &inv) == 1);
	CHECK(m, a->role.invalid && kvm->mmu_page_hash_len[512] == 3);
	CHECK(m, walked(m, 0xa00, 1, &x, &cy) == 3 && cy == m->sc.costs.sp_alloc + 21);
	/* an invalid page of the right gfn and level is no match either */
	CHECK(m, walked(m, 0x600, 1, &x, &cy) == 4 && x != b);
	CHECK_MMU(m);
	/* committed: gone from the chain */
	kvm_mmu_commit_zap_page(kvm, &inv);
	CHECK(m, kvm->mmu_page_hash_len[512] == 3);
	CHECK(m, walked(m, 0xe00, 1, &x, &cy) == 3 && walked(m, 0x200, 1, &x, &cy) == 4 && x == a2);
	CHECK_MMU(m);
	spin_unlock(m->h, &m->vc[0].actor);
}

/* set_spte() of 3.10 walks the data gfn's chain in mmu_need_write_protect() for every
 * writable spte.  A write to gfn 0x400 (4K RAM) makes the tables at levels 3, 2, 1 of gfns
 * 0, 0, 0x400, all in bucket 0 behind the root (gfn 0): the look-ups compare 1, 2 and 3
 * pages, the leaf's walk of bucket 0 compares 4.  gfn 0x401 (bucket 1) compares nothing. */
static void body_hash_write_protect(struct menv *m)
{
	struct vcpu *v = &m->vc[0];
	stat_id walk = stats_lookup(m->st, "ept.hash_walk_entries");

	kvm_mmu_load(v);
	CHECK(m, ctr(m, "ept.hash_entries_walked") == 0 && stats_hist_count(m->st, walk) == 1);
	CHECK(m, kvm_tdp_page_fault(v, 0x400000, true) == PF_FIXED && ctr(m, "ept.pages_created") == 4);
	CHECK(m, ctr(m, "ept.hash_entries_walked") == 1 + 2 + 3 + 4 && stats_hist_count(m->st, walk) == 5);
	CHECK(m, kvm_tdp_page_fault(v, 0x401000, true) == PF_FIXED);
	CHECK(m, ctr(m, "ept.hash_entries_walked") == 10 && stats_hist_count(m->st, walk) == 6);
	/* spurious: set_spte() runs again, so does the walk */
	CHECK(m, kvm_tdp_page_fault(v, 0x400000, false) == PF_FIXED && ctr(m, "ept.spurious_faults") == 1);
	CHECK(m, ctr(m, "ept.hash_entries_walked") == 14 && stats_hist_max(m->st, walk) == 4);
	kvm_mmu_unload(v);
}

static void test_hash_bucket_310(void **state) { run(body_hash_bucket, hash310, 2); }
static void test_hash_bucket_hash64(void **state) { run(body_hash_bucket, hash64, 2); }
static void test_hash_chain_cost(void **state) { run(body_hash_chain_cost, hash310, 2); }
static void test_hash_obsolete_walked_until_commit(void **state) { run(body_hash_obsolete, hash310, 2); }
static void test_hash_write_protect_walk(void **state) { run(body_hash_write_protect, hash310, 2); }

static void test_mapping_level(void **state) { run(body_mapping_level, big_slots, NBIG); }
static void test_get_page(void **state) { run(body_get_page, NULL, 0); }
static void test_faults(void **state) { run(body_faults, big_slots, NBIG); }
static void test_zap(void **state) { run(body_zap, NULL, 0); }
static void test_random_against_model(void **state) { run(body_random, big_slots, 4); }   /* ram + thp1 */

/* ---------------------------------------------------------------- prefault */

/* The MMU state as a flat vector: counters, active_mmu_pages order, every page (gfn, role,
 * counts, generation, its 512 sptes, its parent_ptes) and every rmap of every slot. */
struct vec { uint64_t *v; size_t n, cap; };
static void vput(struct vec *x, uint64_t u)
{
	if (x->n == x->cap) {
		x->cap = x->cap ? 2 * x->cap : 4096;
		x->v = realloc(x->v, x->cap * sizeof(*x->v));
		assert_non_null(x->v);
	}
	x->v[x->n++] = u;
}
static void put_list(struct vec *x, struct kvm *kvm, uint64_t head)
{
	uint64_t refs[64];
	unsigned n = kvm_pte_list_refs(kvm, head, refs, 64);
	vput(x, n);
	for (unsigned i = 0; i < n; i++)   /* order inside a pte_list is not state */
		for (unsigned j = i + 1; j < n; j++)
			if (refs[j] < refs[i]) {
				uint64_t t = refs[i];
				refs[i] = refs[j];
				refs[j] = t;
			}
	for (unsigned i = 0; i < n; i++)
		vput(x, refs[i]);
}
static void snapshot(struct kvm *kvm, struct vec *x)
{
	x->n = 0;
	vput(x, kvm->n_used_mmu_pages);
	vput(x, kvm->nr_ids);
	for (int l = 1; l <= KVM_NR_PAGE_SIZES; l++) {
		vput(x, kvm->nr_leaves[l]);
		vput(x, kvm->nr_reach[l]);
	}
	struct kvm_mmu_page *sp;
	list_for_each_entry(sp, &kvm->active_mmu_pages, link)
		vput(x, sp->id);
	for (uint32_t id = 0; id < kvm->nr_ids; id++) {
		sp = mmu_page(kvm, id);
		vput(x, sp != NULL);
		if (!sp)
			continue;
		vput(x, sp->gfn);
		vput(x, sp->role.word);
		vput(x, (uint64_t)sp->root_count);
		vput(x, sp->nr_present);
		vput(x, sp->nr_leaf);
		vput(x, sp->nr_mmio);
		vput(x, sp->mmu_valid_gen);
		for (unsigned i = 0; i < PT64_ENT_PER_PAGE; i++)
			vput(x, sp->spt[i]);
		put_list(x, kvm, sp->parent_ptes);
	}
	for (uint32_t i = 0; i < kvm->nr_slots; i++) {
		struct kvm_memory_slot *slot = &kvm->slots[i];
		for (int l = 1; l <= KVM_NR_PAGE_SIZES; l++) {
			uint64_t n = ((slot->base_gfn + slot->npages - 1) >> (9 * (l - 1))) - (slot->base_gfn >> (9 * (l - 1))) + 1;
			for (uint64_t k = 0; k < n; k++)
				put_list(x, kvm, slot->rmap[l - 1][k]);
		}
	}
}

static struct vec pf_faulted, pf_built;
static uint64_t pf_faults;

/* vCPU 0 loads its root and write-faults every frame of every present slot in slot order,
 * ascending GPA, one fault per mapping-level frame (what guest.prefault claims to equal);
 * a read-only slot's frames take a read fault (a write is emulated, nothing is mapped). */
static void body_fault_in(struct menv *m)
{
	struct kvm *kvm = m->kvm;
	struct vcpu *v = &m->vc[0];

	kvm_mmu_load(v);
	pf_faults = 0;
	for (uint32_t i = 0; i < kvm->nr_slots; i++) {
		struct kvm_memory_slot *slot = &kvm->slots[i];
		if (!slot->present)
			continue;
		for (gfn_t gfn = slot->base_gfn; gfn < slot->base_gfn + slot->npages;) {
			int level = mapping_level(kvm, slot, gfn);
			gfn_t g = gfn & ~(kvm_pages_per_hpage(level) - 1);
			CHECK(m, kvm_tdp_page_fault(v, g << 12, !slot->readonly) == PF_FIXED);
			gfn = g + kvm_pages_per_hpage(level);
			pf_faults++;
		}
	}
	CHECK_MMU(m);
	CHECK(m, ctr(m, "ept.faults") == pf_faults && ctr(m, "ept.spurious_faults") == 0);
	snapshot(kvm, &pf_faulted);
}

static void body_load_prefaulted(struct menv *m)
{
	kvm_mmu_load(&m->vc[0]);
	CHECK_MMU(m);
	CHECK(m, ctr(m, "ept.faults") == 0 && ctr(m, "ept.prefaulted") == pf_faults);
	/* only the root load was charged: its look-up compares every page of bucket 0, the root
	 * (made first) last */
	uint64_t walked_n = ctr(m, "ept.hash_entries_walked");
	CHECK(m, walked_n == m->kvm->mmu_page_hash_len[kvm_page_table_hashfn(m->kvm, 0)]);
	CHECK(m, m->vc[0].actor.clock - walked_n * m->sc.costs.hash_chain_entry < 1000);
	snapshot(m->kvm, &pf_built);
}

/* guest.prefault's state equals a simulated fault-in's, bit for bit: 4K, THP (all, none,
 * some), hugetlb 2M and 1G, slots not aligned to their page size, a read-only slot and a
 * slot that is not present. */
static void test_prefault_equals_fault_in(void **state)
{
	(void)state;
	static const char *const extra[] = {
		"memslot.thp5.base=0x10000000", "memslot.thp5.size=64M", "memslot.thp5.backing=thp",
		"memslot.thp5.thp_fraction=0.5", "memslot.rom.base=0x0fe00000", "memslot.rom.size=256K",
		"memslot.rom.readonly=true", "memslot.gone.base=0x18000000", "memslot.gone.size=4M",
		"memslot.gone.present=false",
	};
	const char *sets[NBIG + sizeof(extra) / sizeof(extra[0])];
	size_t n = 0;
	for (size_t i = 0; i < NBIG; i++)
		sets[n++] = big_slots[i];
	for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++)
		sets[n++] = extra[i];

	static struct menv mm;
	menv_build(&mm, body_fault_in, sets, n, NULL, NULL, NULL);
	menv_run_and_free(&mm);

	menv_build(&mm, body_load_prefaulted, sets, n, NULL, NULL, NULL);
	uint64_t set = kvm_mmu_prefault(mm.kvm);
	menv_run_and_free(&mm);

	assert_int_equal(set, pf_faults);
	assert_true(pf_faults > 16384);   /* the 64M 4K RAM slot alone has 16384 frames */
	assert_int_equal(pf_built.n, pf_faulted.n);
	for (size_t i = 0; i < pf_built.n; i++)
		if (pf_built.v[i] != pf_faulted.v[i])
			fail_msg("state differs at word %zu of %zu: prefault %#llx, fault-in %#llx", i, pf_built.n,
				 (unsigned long long)pf_built.v[i], (unsigned long long)pf_faulted.v[i]);
	free(pf_built.v);
	free(pf_faulted.v);
	pf_built = pf_faulted = (struct vec){ NULL, 0, 0 };
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_remote_tlb_flush),
		cmocka_unit_test(test_mapping_level),
		cmocka_unit_test(test_get_page),
		cmocka_unit_test(test_faults),
		cmocka_unit_test(test_zap),
		cmocka_unit_test(test_random_against_model),
		cmocka_unit_test(test_prefault_equals_fault_in),
		cmocka_unit_test(test_reload_locking),
		cmocka_unit_test(test_ipi_ack_after_exit),
		cmocka_unit_test(test_flush_shadow_reloads_legacy),
		cmocka_unit_test(test_flush_shadow_reloads_fast_v7),
		cmocka_unit_test(test_hash_bucket_310),
		cmocka_unit_test(test_hash_bucket_hash64),
		cmocka_unit_test(test_hash_chain_cost),
		cmocka_unit_test(test_hash_obsolete_walked_until_commit),
		cmocka_unit_test(test_hash_write_protect_walk),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
