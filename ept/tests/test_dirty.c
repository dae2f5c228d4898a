/* Tests of ept/dirty: dirty logging on a memslot (write-protection, the fast page fault,
 * KVM_GET_DIRTY_LOG rounds) and the collapse of the 4K sptes it leaves behind when it stops
 * (mmu.collapse = none, lazy-zap, in-place).
 *
 * Two kinds of test:
 *  - MMU level, as in test_mmu.c: the MMU runs in the fiber of a test actor (the `actor` of
 *    a zeroed struct vcpu, ctx NULL), both vCPUs OUTSIDE_GUEST_MODE, so requests only set
 *    bits.  One test puts vCPU 1 in guest mode: a polling helper actor then plays its IPI
 *    handler and its request loop, and another actor contends for mmu_lock.  Checks in a
 *    fiber record the first failure and return; the test fails after engine_run.
 *  - whole simulations (sim_new / sim_run) of the small THP guest, whose RAM is
 *    dirty-logged for two rounds; kvm->collapse_ops is replaced by a probe that snapshots
 *    the EPT right before and right after the real collapse (in the VMM thread's fiber,
 *    inside kvm_dirty_log_disable()).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/tlb.h"
#include "cpu/vcpu.h"
#include "ept/dirty.h"
#include "ept/memslot.h"
#include "ept/mmu.h"
#include "sim/config.h"
#include "sim/engine.h"
#include "sim/fiber.h"
#include "sim/host.h"
#include "sim/rng.h"
#include "sim/sim.h"
#include "sim/stats.h"

static bool verbose;   /* TEST_DIRTY_VERBOSE=1: print what the whole simulations measured */

/* ================================================================ EPT snapshots */

#define MAXREG 256
#define MAXV 4

/* The EPT as reachable from the vCPUs' root, per 2M region of one memslot, and counters. */
struct snap {
	uint16_t k4[MAXREG];    /* 4K leaves */
	uint8_t m2[MAXREG];     /* 2M leaves */
	uint32_t writable;      /* leaves of the slot with SPTE_WRITABLE */
	uint64_t nr4k, nr2m;    /* kvm->nr_leaves[] (these also count leaves of unlinked tables) */
	uint64_t reach4k, reach2m;   /* kvm->nr_reach[]: leaves of linked tables */
	uint64_t faults, spurious, large_replaced, tlb_flush_count, flushes, fast;
	uint64_t rflush[MAXV];  /* per vCPU: TLB flushes done for KVM_REQ_TLB_FLUSH so far */
	unsigned req[MAXV];     /* per vCPU: pending requests */
};

struct snap_ctx { struct snap *s; const struct kvm_memory_slot *slot; };
static void snap_leaf(void *ctx, struct kvm_mmu_page *sp, unsigned idx, gfn_t gfn, int level)
{
	struct snap_ctx *c = ctx;
	if (gfn < c->slot->base_gfn || gfn >= c->slot->base_gfn + c->slot->npages)
		return;
	uint64_t r = (gfn >> 9) - (c->slot->base_gfn >> 9);
	if (level == PT_PAGE_TABLE_LEVEL)
		c->s->k4[r]++;
	else if (level == PT_DIRECTORY_LEVEL)
		c->s->m2[r]++;
	c->s->writable += (sp->spt[idx] & SPTE_WRITABLE) != 0;
}

static uint64_t counter(struct kvm *kvm, const char *name)
{
	stat_id id = stats_lookup(kvm->st, name);
	return id == STAT_NONE ? UINT64_MAX : stats_counter(kvm->st, id);
}

static void take_snap(struct kvm *kvm, const struct kvm_memory_slot *slot, struct snap *s)
{
	struct kvm_mmu_page *root = NULL;
	memset(s, 0, sizeof(*s));
	for (uint32_t i = 0; i < kvm->nr_vcpus && !root; i++)
		if (kvm->vcpus[i]->root && !kvm->vcpus[i]->root->role.invalid)
			root = kvm->vcpus[i]->root;
	struct snap_ctx c = { s, slot };
	kvm_mmu_for_each_leaf(kvm, root, snap_leaf, &c);
	s->nr4k = kvm->nr_leaves[PT_PAGE_TABLE_LEVEL];
	s->nr2m = kvm->nr_leaves[PT_DIRECTORY_LEVEL];
	s->reach4k = kvm->nr_reach[PT_PAGE_TABLE_LEVEL];
	s->reach2m = kvm->nr_reach[PT_DIRECTORY_LEVEL];
	s->faults = counter(kvm, "ept.faults");
	s->spurious = counter(kvm, "ept.spurious_faults");
	s->large_replaced = counter(kvm, "ept.large_replaced_table");
	s->tlb_flush_count = counter(kvm, "tlb_flush.count");
	s->flushes = kvm->flushes;
	s->fast = counter(kvm, "ept.fast_page_faults");
	for (uint32_t i = 0; i < kvm->nr_vcpus && i < MAXV; i++) {
		struct vcpu *v = kvm->vcpus[i];
		s->rflush[i] = v->tlb ? tlb_counters(v->tlb)->flushes[TLB_CAUSE_REMOTE] : v->n.flush_requests;
		s->req[i] = v->requests;
	}
}

/* ================================================================ MMU level */

/* body_flush_order: phase is 1 while the collapse runs (vCPU 1 in guest mode, contention) */
#define MENV_EXTRA							\
	struct actor helper, contender;					\
	int phase;							\
	unsigned nipis, nhandled, holds;				\
	uint64_t rem_at_ipi[4096];      /* droppable 4K leaves left when each IPI arrived */ \
	uint64_t rem_at_handled;        /* ... when vCPU 1 last handled KVM_REQ_TLB_FLUSH */
#include "ept/tests/mmu_harness.h"

static void contender_main(void *arg);

/* "mix": 16M of THP-backed RAM at 1G, 8 regions of 2M; "odd": hugetlb-2m RAM whose first and
 * last 2M frames cross the slot's edges (mapping_level() keeps them 4K). */
#define MIX_GFN 0x40000ULL
#define ODD_GFN 0x43001ULL
static const char *const mix_slots[] = {
	"memslot.mix.base=0x40000000", "memslot.mix.size=16M", "memslot.mix.backing=thp",
	"memslot.mix.thp_fraction=0.5", "memslot.odd.base=0x43001000", "memslot.odd.size=4M",
	"memslot.odd.backing=hugetlb-2m", "memslot.rom.base=0x44000000", "memslot.rom.size=64K",
	"memslot.rom.readonly=true",
};

static void run(void (*body)(struct menv *), const char *collapse, const char *preempt)
{
	static struct menv mm;
	char cbuf[64], pbuf[64];
	const char *sets[2 + sizeof(mix_slots) / sizeof(mix_slots[0])] = { cbuf, pbuf };
	const size_t n = sizeof(sets) / sizeof(sets[0]);

	snprintf(cbuf, sizeof(cbuf), "mmu.collapse=%s", collapse);
	snprintf(pbuf, sizeof(pbuf), "host.preempt=%s", preempt);
	for (size_t i = 2; i < n; i++)
		sets[i] = mix_slots[i - 2];
	menv_build(&mm, body, sets, n, &mm.contender, "contender", contender_main);
	/* vCPU 1 can take IPIs (body_flush_order puts it in guest mode) */
	__typeof__(*mm.vc[1].ipis) ipis[4];
	mm.vc[1].ipis = ipis;
	mm.vc[1].max_ipis = 4;
	mm.vc[1].ipi_at = UINT64_MAX;
	menv_run_and_free(&mm);
}

static gfn_t G(unsigned region, unsigned page) { return MIX_GFN + 512ULL * region + page; }
#define ROM_GFN 0x44000ULL
static uint64_t GPA(unsigned region, unsigned page) { return G(region, page) << 12; }

/* The leaf that maps gfn from root: its spte, and its level in *level (0: none). */
static uint64_t leaf_of(struct kvm *kvm, struct kvm_mmu_page *sp, gfn_t gfn, int *level)
{
	for (int l = PT64_ROOT_LEVEL; sp; l--) {
		uint64_t spte = sp->spt[spte_index(gfn << 12, l)];
		if (!is_shadow_present_pte(spte))
			break;
		if (is_last_spte(spte, l)) {
			*level = l;
			return spte;
		}
		sp = mmu_page(kvm, spte_child_id(spte));
	}
	*level = 0;
	return 0;
}
static int level_of(struct menv *m, gfn_t gfn)
{
	int l;
	leaf_of(m->kvm, m->vc[0].root, gfn, &l);
	return l;
}
static bool writable(struct menv *m, gfn_t gfn)
{
	int l;
	return leaf_of(m->kvm, m->vc[0].root, gfn, &l) & SPTE_WRITABLE;
}
static bool dirty_bit(const struct kvm_memory_slot *s, gfn_t gfn)
{
	uint64_t i = gfn - s->base_gfn;
	return s->dirty_bitmap && (s->dirty_bitmap[i / 64] >> (i % 64)) & 1;
}
static uint64_t dirty_bits(const struct kvm_memory_slot *s)
{
	uint64_t n = 0;
	for (uint64_t w = 0; s->dirty_bitmap && w < (s->npages + 63) / 64; w++)
		n += (uint64_t)__builtin_popcountll(s->dirty_bitmap[w]);
	return n;
}

/* A write's EPT violation as cpu/vcpu.c handles it: fast_page_fault(), else the slow path. */
static enum pf_result write_exit(struct menv *m, gfn_t gfn)
{
	return kvm_fast_page_fault(&m->vc[0], gfn << 12) ? PF_FIXED : kvm_tdp_page_fault(&m->vc[0], gfn << 12, true);
}

/* The mix slot, its host backing fixed: THP in the even regions, 4K pages in the odd ones. */
static struct kvm_memory_slot *mix(struct menv *m)
{
	struct kvm_memory_slot *s = kvm_slot_by_name(m->kvm, "mix");
	for (uint64_t r = 0; s && r < s->thp_n; r++)
		s->thp[r] = r % 2 == 0;
	return s;
}

/* ---------------------------------------------------------------- basics (mmu.collapse=none) */

static void body_basics(struct menv *m)
{
	struct kvm *kvm = m->kvm;
	struct vcpu *v = &m->vc[0];
	struct kvm_memory_slot *s = mix(m), *ram = kvm_slot_by_name(kvm, "ram");
	struct snap sn;

	kvm_mmu_load(v);
	/* before logging: one 2M leaf per THP region, 4K leaves elsewhere; reads map writable too */
	for (unsigned r = 0; r < 8; r++)
		for (unsigned k = 0; k < 8; k++)
			CHECK(m, kvm_tdp_page_fault(v, GPA(r, 37 * k), k & 1) == PF_FIXED);
	CHECK(m, kvm_tdp_page_fault(v, 0x5000, false) == PF_FIXED && writable(m, 5));
	take_snap(kvm, s, &sn);
	for (unsigned r = 0; r < 8; r++)
		CHECK(m, r % 2 ? sn.k4[r] == 8 && !sn.m2[r] : sn.m2[r] == 1 && !sn.k4[r]);
	CHECK(m, sn.writable == 4 + 4 * 8 && kvm->nr_leaves[PT_DIRECTORY_LEVEL] == 4);
	CHECK(m, mapping_level(kvm, s, G(0, 5)) == 2 && mapping_level(kvm, s, G(1, 5)) == 1);
	/* nothing to get or disable before logging; the fast path finds a writable leaf (a
	 * spurious fault: retry) or none (the slow path) and changes nothing */
	CHECK(m, kvm_get_dirty_log(kvm, s, NULL) == -EINVAL && kvm_dirty_log_disable(kvm, s) == -EINVAL);
	CHECK(m, kvm_fast_page_fault(v, GPA(1, 0)) && !kvm_fast_page_fault(v, GPA(1, 1)) && !s->dirty_bitmap);
	CHECK(m, ctr(m, "ept.fast_page_faults") == 0);
	CHECK_MMU(m);

	/* enable: large sptes dropped, 4K ones write-protected, one remote flush */
	uint64_t fl = ctr(m, "tlb_flush.count"), freed = ctr(m, "ept.pages_freed");
	v->requests = m->vc[1].requests = 0;
	CHECK(m, kvm_dirty_log_enable(kvm, s) == 0);
	CHECK(m, kvm_dirty_log_enable(kvm, s) == -EINVAL && s->dirty_logging && s->dirty_bitmap);
	take_snap(kvm, s, &sn);
	for (unsigned r = 0; r < 8; r++)
		CHECK(m, r % 2 ? sn.k4[r] == 8 && !sn.m2[r] : !sn.m2[r] && !sn.k4[r]);
	CHECK(m, sn.writable == 0 && kvm->nr_leaves[PT_DIRECTORY_LEVEL] == 0 && kvm->nr_leaves[PT_PAGE_TABLE_LEVEL] == 33);
	for (unsigned r = 0; r < 8; r += 2)
		CHECK(m, kvm_rmap_count(kvm, G(r, 0), 2) == 0);
	CHECK(m, writable(m, 5));   /* another slot: untouched */
	CHECK(m, ctr(m, "tlb_flush.count") == fl + 1 && ctr(m, "ept.pages_freed") == freed);
	CHECK(m, v->requests == KVM_REQ_TLB_FLUSH && m->vc[1].requests == KVM_REQ_TLB_FLUSH);
	for (gfn_t g = s->base_gfn; g < s->base_gfn + s->npages; g++)
		CHECK(m, mapping_level(kvm, s, g) == 1);
	CHECK(m, host_mapping_level(s, G(0, 1)) == 2 && mapping_level(kvm, ram, 7) == 1);
	CHECK(m, dirty_bits(s) == 0 && ctr(m, "dirty_log.write_faults") == 0);
	CHECK(m, stats_array_len(m->st, stats_lookup(m->st, "dirty_log.protect_cycles")) == 1);
	CHECK_MMU(m);

	/* the fast path: a write to a write-protected 4K page is fixed without the lock */
	uint64_t faults = ctr(m, "ept.faults"), acq = host_lock_acquisitions(m->h);
	gfn_t a = G(1, 0);
	CHECK(m, kvm_fast_page_fault(v, a << 12));
	CHECK(m, level_of(m, a) == 1 && writable(m, a) && dirty_bit(s, a) && dirty_bits(s) == 1);
	CHECK(m, ctr(m, "dirty_log.write_faults") == 1 && ctr(m, "ept.faults") == faults);
	CHECK(m, host_lock_acquisitions(m->h) == acq && ctr(m, "ept.fast_page_faults") == 1);
	CHECK(m, kvm_fast_page_fault(v, a << 12));                /* writable already: spurious */
	CHECK(m, !kvm_fast_page_fault(v, GPA(1, 1)));             /* not mapped */
	CHECK(m, !kvm_fast_page_fault(v, GPA(0, 0)));             /* its 2M spte is gone */
	CHECK(m, kvm_fast_page_fault(v, 0x5000));                 /* not dirty-logged: writable */
	CHECK(m, dirty_bits(s) == 1 && ctr(m, "dirty_log.write_faults") == 1 && ctr(m, "ept.fast_page_faults") == 1);
	/* a read-only slot's leaf has no SPTE_HOST_WRITEABLE: not locklessly modifiable; a write
	 * there is emulated */
	CHECK(m, kvm_tdp_page_fault(v, ROM_GFN << 12, false) == PF_FIXED && level_of(m, ROM_GFN) == 1);
	CHECK(m, !writable(m, ROM_GFN) && !kvm_fast_page_fault(v, ROM_GFN << 12));
	CHECK(m, write_exit(m, ROM_GFN) == PF_EMULATE && !writable(m, ROM_GFN));

	/* the slow path maps 4K (even THP-backed), writable and dirty, for a write and, as
	 * 3.10's __direct_map() maps TDP sptes with ACC_ALL, for a read too */
	gfn_t t = G(0, 100), u = G(2, 7);
	CHECK(m, kvm_tdp_page_fault(v, t << 12, true) == PF_FIXED);
	CHECK(m, level_of(m, t) == 1 && writable(m, t) && dirty_bit(s, t));
	CHECK(m, kvm_tdp_page_fault(v, u << 12, false) == PF_FIXED);
	CHECK(m, level_of(m, u) == 1 && writable(m, u) && dirty_bit(s, u));
	CHECK(m, kvm_fast_page_fault(v, u << 12) && ctr(m, "ept.fast_page_faults") == 1);
	/* a slow write fault on a write-protected 4K leaf fixes it too */
	gfn_t w = G(3, 37);
	CHECK(m, level_of(m, w) == 1 && !writable(m, w));
	CHECK(m, kvm_tdp_page_fault(v, w << 12, true) == PF_FIXED && writable(m, w) && dirty_bit(s, w));
	CHECK(m, dirty_bits(s) == 4 && ctr(m, "dirty_log.write_faults") == 4 && kvm->nr_leaves[2] == 0);
	CHECK_MMU(m);

	/* a round reports exactly those pages, re-protects them, clears the log and flushes */
	uint64_t n = 99;
	fl = ctr(m, "tlb_flush.count");
	v->requests = m->vc[1].requests = 0;
	CHECK(m, kvm_get_dirty_log(kvm, s, &n) == 0 && n == 4 && dirty_bits(s) == 0);
	CHECK(m, !writable(m, a) && !writable(m, t) && !writable(m, u) && !writable(m, w));
	take_snap(kvm, s, &sn);
	CHECK(m, sn.writable == 0 && ctr(m, "tlb_flush.count") == fl + 1 && m->vc[1].requests == KVM_REQ_TLB_FLUSH);
	CHECK(m, ctr(m, "dirty_log.rounds") == 1);
	stat_id dp = stats_lookup(m->st, "dirty_log.dirty_pages");
	CHECK(m, stats_array_len(m->st, dp) == 1 && stats_array_at(m->st, dp, 0) == 4);
	/* nothing written since: nothing reported, no flush */
	CHECK(m, kvm_get_dirty_log(kvm, s, &n) == 0 && n == 0 && ctr(m, "tlb_flush.count") == fl + 1);
	CHECK(m, kvm_get_dirty_log(kvm, ram, &n) == -EINVAL);
	CHECK_MMU(m);

	/* random accesses against a model: a write to a page that is not writable exits (fast
	 * path, or the slow one when unmapped) and makes it dirty, and so does a read of an
	 * unmapped page (the slow path maps it writable); a round reports exactly those pages
	 * since the last one.  Half of the accesses go to 64 hot pages. */
	static bool dirty[4096];
	struct rng rg;
	uint64_t wf = ctr(m, "dirty_log.write_faults"), fast = 0, slow = 0, rounds = 2;
	memset(dirty, 0, sizeof(dirty));
	rng_seed(&rg, 3, 11);
	for (int round = 0; round < 6; round++) {
		for (int step = 0; step < 500; step++) {
			unsigned i = rng_below(&rg, 2) ? 61 * (unsigned)rng_below(&rg, 64) : (unsigned)rng_below(&rg, 4096);
			gfn_t g = s->base_gfn + i;
			bool wr = rng_below(&rg, 3) == 0;
			int l = level_of(m, g);
			CHECK(m, l == 0 || l == 1);
			CHECK(m, l == 0 || writable(m, g) == dirty[i]);   /* writable <=> dirty this round */
			if (wr && !(l && writable(m, g))) {
				bool f = kvm_fast_page_fault(v, g << 12);
				CHECK(m, f == (l == 1));
				if (!f)
					CHECK(m, kvm_tdp_page_fault(v, g << 12, true) == PF_FIXED);
				fast += f, slow += !f, wf++;
				dirty[i] = true;
			} else if (!l) {
				CHECK(m, kvm_tdp_page_fault(v, g << 12, false) == PF_FIXED);
				slow++, wf++;
				dirty[i] = true;
			}
			CHECK(m, level_of(m, g) == 1 && dirty_bit(s, g) == dirty[i] && mapping_level(kvm, s, g) == 1);
		}
		uint64_t want = 0;
		for (unsigned i = 0; i < 4096; i++) {
			CHECK(m, dirty_bit(s, s->base_gfn + i) == dirty[i]);
			want += dirty[i];
		}
		CHECK(m, ctr(m, "dirty_log.write_faults") == wf);
		CHECK(m, kvm_get_dirty_log(kvm, s, &n) == 0 && n == want && dirty_bits(s) == 0);
		rounds++;
		memset(dirty, 0, sizeof(dirty));
		take_snap(kvm, s, &sn);
		CHECK(m, sn.writable == 0 && kvm->nr_leaves[PT_DIRECTORY_LEVEL] == 0);
		CHECK_MMU(m);
	}
	CHECK(m, fast > 200 && slow > 200 && ctr(m, "dirty_log.rounds") == rounds);

	/* disable with none: nothing changes, nothing is flushed, large mappings allowed again */
	struct snap pre;
	take_snap(kvm, s, &pre);
	fl = ctr(m, "tlb_flush.count");
	CHECK(m, kvm_dirty_log_disable(kvm, s) == 0 && kvm_dirty_log_disable(kvm, s) == -EINVAL);
	take_snap(kvm, s, &sn);
	CHECK(m, !memcmp(pre.k4, sn.k4, sizeof(sn.k4)) && !memcmp(pre.m2, sn.m2, sizeof(sn.m2)));
	CHECK(m, sn.nr4k == pre.nr4k && ctr(m, "tlb_flush.count") == fl && !s->dirty_bitmap && !s->dirty_logging);
	CHECK(m, ctr(m, "collapse.dropped") == 0 && ctr(m, "collapse.flushes") == 0 && ctr(m, "collapse.scanned") == 0);
	CHECK(m, mapping_level(kvm, s, G(0, 1)) == 2 && mapping_level(kvm, s, G(1, 1)) == 1);
	/* the 4K sptes stay until a fault maps 2M over them: a write to a write-protected leaf
	 * is fixed by the fast path, THP-backed or not (its level is 4K until the slow path's
	 * transparent_hugepage_adjust()); a fault on a page not mapped in a THP region takes the
	 * slow path, which maps 2M over the 4K table (unlinked with its leaves) */
	gfn_t w1 = G(1, 37), w0 = G(0, 0), w2 = G(2, 0);
	for (; level_of(m, w0) != 1; w0++)
		;
	for (; level_of(m, w2); w2++)
		;
	CHECK(m, !writable(m, w1) && !writable(m, w0) && pre.k4[0] > 1 && pre.k4[2] > 1);
	uint64_t lr = ctr(m, "ept.large_replaced_table"), ff = ctr(m, "ept.fast_page_faults");
	faults = ctr(m, "ept.faults");
	CHECK(m, write_exit(m, w1) == PF_FIXED && level_of(m, w1) == 1 && writable(m, w1));
	CHECK(m, write_exit(m, w0) == PF_FIXED && level_of(m, w0) == 1 && writable(m, w0));
	CHECK(m, ctr(m, "ept.fast_page_faults") == ff + 2 && ctr(m, "ept.faults") == faults);
	CHECK(m, kvm_tdp_page_fault(v, w2 << 12, false) == PF_FIXED && level_of(m, w2) == 2 && writable(m, w2));
	CHECK(m, ctr(m, "ept.large_replaced_table") == lr + 1 && ctr(m, "tlb_flush.count") == fl + 1);
	take_snap(kvm, s, &sn);
	CHECK(m, sn.m2[2] == 1 && !sn.k4[2] && sn.k4[0] == pre.k4[0] && sn.k4[1] == pre.k4[1] && !sn.m2[0]);
	CHECK(m, kvm->nr_leaves[PT_PAGE_TABLE_LEVEL] == pre.nr4k && ctr(m, "collapse.refaults") == 0);
	CHECK(m, dirty_bits(s) == 0 && !s->dirty_bitmap);
	CHECK_MMU(m);
}

/* ---------------------------------------------------------------- lazy-zap / in-place */

/* Before logging: THP regions 0, 2, 4 mapped 2M; 4K regions 1 and 3 with 16 pages.  Then
 * logging: 40 pages of region 0 written, 20 of region 2 read, region 1's 16 pages written
 * again (fast path) and 10 more, 5 new pages of region 3 read, region 4 untouched (its 2M
 * spte went at enable); the reads map writable and dirty too (3.10: ACC_ALL).  In "odd": pages of the first frame (crossing the slot's start)
 * and of the second (whole).  Returns the snapshot of "mix" at the end. */
#define DROPPABLE (40 + 20)
static void setup_logged(struct menv *m, struct snap *pre)
{
	struct kvm *kvm = m->kvm;
	struct vcpu *v = &m->vc[0];
	struct kvm_memory_slot *s = mix(m), *odd = kvm_slot_by_name(kvm, "odd");

	kvm_mmu_load(v);
	for (unsigned r = 0; r < 5; r++)
		for (unsigned k = 0; k < (r % 2 ? 16 : 1); k++)
			CHECK(m, kvm_tdp_page_fault(v, GPA(r, 3 * k), true) == PF_FIXED);
	CHECK(m, kvm_dirty_log_enable(kvm, s) == 0 && kvm_dirty_log_enable(kvm, odd) == 0);
	for (unsigned k = 0; k < 40; k++)
		CHECK(m, kvm_tdp_page_fault(v, GPA(0, 11 * k + 1), true) == PF_FIXED);
	for (unsigned k = 0; k < 20; k++)
		CHECK(m, kvm_tdp_page_fault(v, GPA(2, 25 * k), false) == PF_FIXED);
	for (unsigned k = 0; k < 16; k++)
		CHECK(m, kvm_fast_page_fault(v, GPA(1, 3 * k)));
	for (unsigned k = 0; k < 10; k++)
		CHECK(m, kvm_tdp_page_fault(v, GPA(1, 300 + k), true) == PF_FIXED);
	for (unsigned k = 0; k < 5; k++)
		CHECK(m, kvm_tdp_page_fault(v, GPA(3, 400 + k), false) == PF_FIXED);
	for (unsigned k = 0; k < 4; k++) {
		CHECK(m, kvm_tdp_page_fault(v, (ODD_GFN + 5 * k) << 12, true) == PF_FIXED);
		CHECK(m, kvm_tdp_page_fault(v, (ODD_GFN + 0x1ff + 7 * k) << 12, true) == PF_FIXED);
	}
	uint64_t n;
	CHECK(m, kvm_get_dirty_log(kvm, s, &n) == 0 && n == 40 + 20 + 16 + 10 + 5);
	take_snap(kvm, s, pre);
	CHECK(m, pre->k4[0] == 40 && pre->k4[1] == 26 && pre->k4[2] == 20 && pre->k4[3] == 21 && !pre->k4[4]);
	CHECK(m, kvm->nr_leaves[PT_DIRECTORY_LEVEL] == 0 && kvm->nr_leaves[PT_PAGE_TABLE_LEVEL] == 107 + 8);
	CHECK(m, level_of(m, ODD_GFN) == 1 && level_of(m, ODD_GFN + 0x1ff) == 1);
	CHECK_MMU(m);
}

/* mmu.collapse=none, after logging stops (Linux 3.10 tdp_page_fault() and fast_page_fault()):
 * under THP every write to a write-protected 4K leaf is fixed by the fast path, without
 * mmu_lock, and the leaf stays 4K (the level the fast path is given is 4K: host_mapping_level()
 * sees the vma's page size, and only the slow path's transparent_hugepage_adjust() raises
 * it); under hugetlbfs the fast path is given the 2M level, its walk stops below it at the
 * 4K leaf, which is not a leaf at that level, and the slow path maps 2M over the table,
 * except in a frame that crosses the slot's edge (4K level).  A fault on a page not mapped
 * in a THP region maps 2M over the table too. */
static void body_none_after_logging(struct menv *m)
{
	struct kvm *kvm = m->kvm;
	struct vcpu *v = &m->vc[0];
	struct kvm_memory_slot *s = mix(m), *odd = kvm_slot_by_name(kvm, "odd");
	struct snap pre, sn;
	uint64_t n;

	setup_logged(m, &pre);
	if (m->failed)
		return;
	CHECK(m, kvm_get_dirty_log(kvm, odd, &n) == 0 && n == 8);   /* odd's 8 pages protected again */
	CHECK(m, kvm_dirty_log_disable(kvm, s) == 0 && kvm_dirty_log_disable(kvm, odd) == 0);
	take_snap(kvm, s, &sn);
	CHECK(m, !memcmp(pre.k4, sn.k4, sizeof(sn.k4)) && sn.writable == 0);

	/* THP (regions 0 and 2) and 4K (1 and 3): every leaf written, each by the fast path */
	uint64_t acq = host_lock_acquisitions(m->h), faults = ctr(m, "ept.faults"), fl = ctr(m, "tlb_flush.count");
	uint64_t ff = ctr(m, "ept.fast_page_faults"), lr = ctr(m, "ept.large_replaced_table"), fixed = 0;
	for (gfn_t g = s->base_gfn; g < s->base_gfn + s->npages; g++) {
		if (!level_of(m, g))
			continue;
		CHECK(m, level_of(m, g) == 1 && !writable(m, g) && kvm_fast_page_fault(v, g << 12));
		CHECK(m, level_of(m, g) == 1 && writable(m, g));
		fixed++;
	}
	take_snap(kvm, s, &sn);
	CHECK(m, fixed == 107 && !memcmp(pre.k4, sn.k4, sizeof(sn.k4)) && !memcmp(pre.m2, sn.m2, sizeof(sn.m2)));
	CHECK(m, sn.writable == 107 && ctr(m, "ept.fast_page_faults") == ff + 107);
	CHECK(m, host_lock_acquisitions(m->h) == acq && ctr(m, "ept.faults") == faults);
	CHECK(m, ctr(m, "tlb_flush.count") == fl && ctr(m, "ept.large_replaced_table") == lr);
	CHECK(m, kvm->nr_leaves[PT_DIRECTORY_LEVEL] == 0 && !s->dirty_bitmap && ctr(m, "dirty_log.write_faults") == 91 + 8);
	CHECK_MMU(m);

	/* hugetlbfs: the frame across the slot's start stays 4K (fast path); a write in the
	 * whole frame goes to the slow path, which maps 2M over its 4K table */
	gfn_t e = ODD_GFN + 5, w = ODD_GFN + 0x1ff + 7;
	CHECK(m, mapping_level(kvm, odd, e) == 1 && mapping_level(kvm, odd, w) == 2);
	CHECK(m, level_of(m, e) == 1 && !writable(m, e) && level_of(m, w) == 1 && !writable(m, w));
	CHECK(m, write_exit(m, e) == PF_FIXED && level_of(m, e) == 1 && writable(m, e));
	CHECK(m, ctr(m, "ept.fast_page_faults") == ff + 108 && host_lock_acquisitions(m->h) == acq);
	CHECK(m, !kvm_fast_page_fault(v, w << 12) && level_of(m, w) == 1 && !writable(m, w));
	CHECK(m, write_exit(m, w) == PF_FIXED && level_of(m, w) == 2 && writable(m, w) && level_of(m, w - 7) == 2);
	CHECK(m, ctr(m, "ept.fast_page_faults") == ff + 108 && ctr(m, "ept.faults") == faults + 1);
	CHECK(m, ctr(m, "ept.large_replaced_table") == lr + 1 && ctr(m, "tlb_flush.count") == fl + 1);
	CHECK_MMU(m);

	/* THP: a fault on a page not mapped takes the slow path, which maps 2M over the table */
	gfn_t u = G(0, 2);
	CHECK(m, level_of(m, u) == 0 && level_of(m, G(0, 1)) == 1 && write_exit(m, u) == PF_FIXED);
	CHECK(m, level_of(m, u) == 2 && level_of(m, G(0, 1)) == 2 && level_of(m, G(2, 0)) == 1);
	CHECK(m, ctr(m, "ept.large_replaced_table") == lr + 2 && ctr(m, "ept.fast_page_faults") == ff + 108);
	CHECK_MMU(m);
}

/* mmu.collapse=lazy-zap: drop every 4K spte the host backs with a huge page, none other;
 * one flush; the next fault in an emptied region maps 2M (a refault). */
static void body_lazy_zap(struct menv *m)
{
	struct kvm *kvm = m->kvm;
	struct vcpu *v = &m->vc[0];
	struct kvm_memory_slot *s = mix(m), *odd = kvm_slot_by_name(kvm, "odd");
	struct snap pre, sn;

	setup_logged(m, &pre);
	if (m->failed)
		return;
	uint64_t fl = ctr(m, "tlb_flush.count"), faults = ctr(m, "ept.faults"), pages = kvm->n_used_mmu_pages;
	v->requests = m->vc[1].requests = 0;
	CHECK(m, kvm_dirty_log_disable(kvm, s) == 0);
	take_snap(kvm, s, &sn);
	/* the 4K-backed regions keep every leaf; the THP ones have none left */
	for (unsigned r = 0; r < 8; r++)
		CHECK(m, r % 2 ? sn.k4[r] == pre.k4[r] && !sn.m2[r] : !sn.k4[r] && !sn.m2[r]);
	for (unsigned k = 0; k < 16; k++)
		CHECK(m, kvm_rmap_count(kvm, G(1, 3 * k), 1) == 1 && level_of(m, G(1, 3 * k)) == 1);
	for (unsigned k = 0; k < 40; k++)
		CHECK(m, kvm_rmap_count(kvm, G(0, 11 * k + 1), 1) == 0 && level_of(m, G(0, 11 * k + 1)) == 0);
	CHECK(m, ctr(m, "collapse.dropped") == DROPPABLE && ctr(m, "collapse.scanned") == s->npages);
	CHECK(m, ctr(m, "collapse.flushes") == 1 && ctr(m, "collapse.lock_breaks") == 0);
	CHECK(m, ctr(m, "tlb_flush.count") == fl + 1 && kvm->flushes == fl + 1);
	CHECK(m, v->requests == KVM_REQ_TLB_FLUSH && m->vc[1].requests == KVM_REQ_TLB_FLUSH);
	CHECK(m, kvm->nr_leaves[PT_PAGE_TABLE_LEVEL] == pre.nr4k - DROPPABLE);
	/* the tables stay, empty (lazy: the refault replaces them) */
	CHECK(m, kvm->n_used_mmu_pages == pages && ctr(m, "ept.faults") == faults);
	CHECK(m, s->collapsed && s->collapsed[0] && !s->collapsed[1] && s->collapsed[2] && !s->collapsed[3] &&
		 !s->collapsed[4]);
	CHECK(m, stats_array_len(m->st, stats_lookup(m->st, "collapse.duration_cycles")) == 1);
	CHECK_MMU(m);

	/* the next faults: 2M in the emptied THP regions, counted once as a refault; 4K where
	 * the host backs 4K; 2M in region 4 but no refault (lazy-zap did not empty it) */
	uint64_t lr = ctr(m, "ept.large_replaced_table");
	CHECK(m, kvm_tdp_page_fault(v, GPA(0, 300), false) == PF_FIXED && level_of(m, G(0, 300)) == 2);
	CHECK(m, writable(m, G(0, 1)) && ctr(m, "collapse.refaults") == 1 && ctr(m, "ept.large_replaced_table") == lr + 1);
	CHECK(m, kvm_tdp_page_fault(v, GPA(0, 1), true) == PF_FIXED && ctr(m, "collapse.refaults") == 1);
	CHECK(m, kvm_tdp_page_fault(v, GPA(4, 9), false) == PF_FIXED && level_of(m, G(4, 9)) == 2);
	CHECK(m, kvm_tdp_page_fault(v, GPA(1, 400), true) == PF_FIXED && level_of(m, G(1, 400)) == 1);
	/* a write to a page whose write-protected 4K leaf lazy-zap dropped: not present, so not
	 * the fast path; the slow path maps 2M */
	uint64_t ff = ctr(m, "ept.fast_page_faults");
	CHECK(m, level_of(m, G(2, 0)) == 0 && write_exit(m, G(2, 0)) == PF_FIXED && level_of(m, G(2, 77)) == 2);
	CHECK(m, ctr(m, "ept.fast_page_faults") == ff && writable(m, G(2, 0)));
	CHECK(m, ctr(m, "collapse.refaults") == 2 && !s->collapsed[0] && !s->collapsed[2]);
	CHECK_MMU(m);

	/* Linux 4.1 checks only PageTransCompound(): the 4K sptes of a huge frame that crosses
	 * the slot's edge are dropped too, and come back 4K */
	uint64_t dropped = ctr(m, "collapse.dropped");
	CHECK(m, kvm_dirty_log_disable(kvm, odd) == 0);
	CHECK(m, ctr(m, "collapse.dropped") == dropped + 8 && level_of(m, ODD_GFN) == 0);
	CHECK(m, kvm_tdp_page_fault(v, ODD_GFN << 12, false) == PF_FIXED && level_of(m, ODD_GFN) == 1);
	CHECK(m, kvm_tdp_page_fault(v, (ODD_GFN + 0x1ff) << 12, false) == PF_FIXED && level_of(m, ODD_GFN + 0x1ff) == 2);
	CHECK_MMU(m);
}

/* mmu.collapse=in-place: each collapsible 4K table becomes one 2M spte under the lock; one
 * flush; no refault; frames that cross the slot's edge stay 4K. */
static void body_in_place(struct menv *m)
{
	struct kvm *kvm = m->kvm;
	struct vcpu *v = &m->vc[0];
	struct kvm_memory_slot *s = mix(m), *odd = kvm_slot_by_name(kvm, "odd");
	struct snap pre, sn;

	setup_logged(m, &pre);
	if (m->failed)
		return;
	uint64_t fl = ctr(m, "tlb_flush.count"), faults = ctr(m, "ept.faults"), pages = kvm->n_used_mmu_pages;
	uint64_t freed = ctr(m, "ept.pages_freed");
	v->requests = m->vc[1].requests = 0;
	CHECK(m, kvm_dirty_log_disable(kvm, s) == 0);
	take_snap(kvm, s, &sn);
	for (unsigned r = 0; r < 8; r++)
		CHECK(m, r % 2 ? sn.k4[r] == pre.k4[r] && !sn.m2[r] : !sn.k4[r] && sn.m2[r] == (r < 4));
	for (unsigned r = 0; r < 4; r += 2) {
		CHECK(m, level_of(m, G(r, 0)) == 2 && level_of(m, G(r, 511)) == 2 && writable(m, G(r, 5)));
		CHECK(m, kvm_rmap_count(kvm, G(r, 0), 2) == 1 && kvm_rmap_count(kvm, G(r, 1), 1) == 0);
	}
	CHECK(m, ctr(m, "collapse.dropped") == DROPPABLE && ctr(m, "collapse.tables_replaced") == 2);
	CHECK(m, ctr(m, "collapse.scanned") == 8 && ctr(m, "collapse.flushes") == 1);
	CHECK(m, ctr(m, "tlb_flush.count") == fl + 1 && kvm->flushes == fl + 1);
	CHECK(m, v->requests == KVM_REQ_TLB_FLUSH && m->vc[1].requests == KVM_REQ_TLB_FLUSH);
	CHECK(m, ctr(m, "ept.pages_freed") == freed + 2 && kvm->n_used_mmu_pages == pages - 2);
	CHECK(m, kvm->nr_leaves[PT_PAGE_TABLE_LEVEL] == pre.nr4k - DROPPABLE && kvm->nr_leaves[PT_DIRECTORY_LEVEL] == 2);
	CHECK(m, ctr(m, "ept.faults") == faults && ctr(m, "collapse.refaults") == 0 && !s->collapsed);
	CHECK_MMU(m);

	/* no refault: an access to a collapsed region finds its 2M spte */
	uint64_t lr = ctr(m, "ept.large_replaced_table"), sp = ctr(m, "ept.spurious_faults");
	CHECK(m, kvm_tdp_page_fault(v, GPA(0, 300), true) == PF_FIXED && ctr(m, "ept.spurious_faults") == sp + 1);
	CHECK(m, ctr(m, "ept.large_replaced_table") == lr && ctr(m, "collapse.refaults") == 0);
	CHECK(m, kvm_tdp_page_fault(v, GPA(1, 400), true) == PF_FIXED && level_of(m, G(1, 400)) == 1);
	CHECK_MMU(m);

	/* a frame that crosses the slot's start stays 4K; the whole one is collapsed */
	CHECK(m, kvm_dirty_log_disable(kvm, odd) == 0);
	CHECK(m, level_of(m, ODD_GFN) == 1 && level_of(m, ODD_GFN + 5) == 1 && level_of(m, ODD_GFN + 0x1ff) == 2);
	CHECK(m, ctr(m, "collapse.tables_replaced") == 3 && ctr(m, "collapse.dropped") == DROPPABLE + 4);
	CHECK_MMU(m);
}

/* A slot that lazy-zap collapsed, then moved (a trace's memslot record): the move zapped
 * everything and its 2M regions are others now (here one more: the new base is not 2M
 * aligned), so no fault there is a refault, and none reads past the old per-region flags. */
static void body_move_after_collapse(struct menv *m)
{
	struct kvm *kvm = m->kvm;
	struct vcpu *v = &m->vc[0];
	struct kvm_memory_slot *s = mix(m);
	struct snap pre;

	setup_logged(m, &pre);
	if (m->failed)
		return;
	CHECK(m, kvm_dirty_log_disable(kvm, s) == 0 && s->collapsed && s->collapsed[0]);
	CHECK(m, kvm_set_memory_region(kvm, s, KVM_MR_MOVE, 0x50001000) == 0);
	CHECK(m, s->base_gfn == 0x50001 && s->thp_n == 9 && kvm->nr_leaves[PT_PAGE_TABLE_LEVEL] == 0);
	kvm_mmu_unload(v);   /* the zap-all asked for a reload */
	kvm_mmu_load(v);
	uint64_t faults = ctr(m, "ept.faults");
	for (gfn_t g = s->base_gfn; g < s->base_gfn + s->npages; g += 256)
		CHECK(m, kvm_tdp_page_fault(v, g << 12, false) == PF_FIXED);
	CHECK(m, kvm_tdp_page_fault(v, (s->base_gfn + s->npages - 1) << 12, true) == PF_FIXED);
	CHECK(m, ctr(m, "ept.faults") == faults + 17 && ctr(m, "collapse.refaults") == 0);
	CHECK_MMU(m);
}

/* ---------------------------------------------------------------- flush ordering */

/* Droppable 4K leaves left: rmap entries of the THP regions (0, 2, 4, 6) of mix. */
static uint64_t droppable(struct menv *m)
{
	uint64_t n = 0;
	for (unsigned r = 0; r < 8; r += 2)
		for (unsigned k = 0; k < 512; k++)
			n += kvm_rmap_count(m->kvm, G(r, k), 1);
	return n;
}

/* vCPU 1 in guest mode, polled every 100 cycles: takes an IPI once delivered and acks it
 * (as vcpu_take_ipis()), then handles its requests and enters the guest again (as
 * vcpu_handle_requests() and vcpu_enter_guest()). */
static void helper_run(struct actor *a)
{
	struct menv *m = a->ctx;
	struct vcpu *v = &m->vc[1];

	if (v->nr_ipis && a->clock >= v->ipi_at) {
		for (uint32_t i = 0; i < v->nr_ipis; i++) {
			struct ipi_wait *w = v->ipis[i].w;
			uint64_t ack = (v->ipis[i].at > a->clock ? v->ipis[i].at : a->clock) + m->sc.costs.ipi_handler;
			if (ack > w->last_ack)
				w->last_ack = ack;
			if (--w->pending == 0 && w->blocked) {
				w->waiter->cls = ACTOR_MUTATOR;
				engine_wake(m->e, w->waiter, w->last_ack);
			}
			if (m->nipis < sizeof(m->rem_at_ipi) / sizeof(m->rem_at_ipi[0]))
				m->rem_at_ipi[m->nipis] = droppable(m);
			m->nipis++;
		}
		v->nr_ipis = 0;
		v->ipi_req = 0;
		v->ipi_at = UINT64_MAX;
		v->mode = OUTSIDE_GUEST_MODE;
	}
	if (v->mode == OUTSIDE_GUEST_MODE && m->phase == 1 && !m->done) {
		if (v->requests & KVM_REQ_TLB_FLUSH) {
			v->requests &= ~KVM_REQ_TLB_FLUSH;
			m->nhandled++;
			m->rem_at_handled = droppable(m);
		}
		v->mode = IN_GUEST_MODE;
	}
	if ((m->phase == 1 && !m->done) || v->nr_ipis)
		engine_wake(m->e, a, a->clock + 100);
}

/* Another thread that takes mmu_lock for 200 cycles every 500 while the collapse runs. */
static void contender_main(void *arg)
{
	struct menv *m = arg;
	struct actor *me = &m->contender;
	while (m->phase == 1 && !m->done) {
		spin_lock(m->h, me);
		actor_spend(m->e, me, 200);
		spin_unlock(m->h, me);
		m->holds++;
		engine_wake(m->e, me, me->clock + 300);
		actor_block(m->e, me);
	}
}

/* lazy-zap or in-place under CONFIG_PREEMPT with mmu_lock contended: it breaks the lock,
 * flushing first when sptes were dropped (lazy-zap) or tables replaced (in-place: the commit
 * of those tables) since the last flush; its last flush comes after its last drop, and
 * every vCPU flushes its TLB before it runs guest code again.  In-place looks once per 2M
 * region (8 in mix), lazy-zap once per 4K page. */
static void body_flush_order(struct menv *m)
{
	struct kvm *kvm = m->kvm;
	struct vcpu *v = &m->vc[0], *v1 = &m->vc[1];
	struct kvm_memory_slot *s = mix(m);
	struct snap pre;

	setup_logged(m, &pre);
	if (m->failed)
		return;
	/* more to drop: 200 more pages in region 6 */
	for (unsigned k = 0; k < 200; k++)
		CHECK(m, kvm_tdp_page_fault(v, GPA(6, 2 * k), k & 1) == PF_FIXED);
	const uint64_t total = DROPPABLE + 200;
	CHECK(m, droppable(m) == total);
	uint64_t fl = kvm->flushes, freed = ctr(m, "ept.pages_freed");
	v->requests = v1->requests = 0;
	m->phase = 1;
	v1->mode = IN_GUEST_MODE;
	m->helper = (struct actor){ .name = "vcpu1", .run = helper_run, .ctx = m };
	CHECK(m, engine_add_actor(m->e, &m->helper) == 0);
	engine_wake(m->e, &m->helper, v->actor.clock);
	engine_wake(m->e, &m->contender, v->actor.clock);
	CHECK(m, kvm_dirty_log_disable(kvm, s) == 0);
	m->phase = 2;
	unsigned nipis = m->nipis, nhandled = m->nhandled;
	uint64_t rem_handled = m->rem_at_handled;
	bool pending1 = v1->requests & KVM_REQ_TLB_FLUSH;

	uint64_t flushes = ctr(m, "collapse.flushes"), breaks = ctr(m, "collapse.lock_breaks");
	if (verbose)
		fprintf(stderr, "flush order: %llu flushes, %llu lock-breaks, %u IPIs, %u handled, %u contender holds\n",
			(unsigned long long)flushes, (unsigned long long)breaks, nipis, nhandled, m->holds);
	bool in_place = m->sc.collapse == COLLAPSE_IN_PLACE;
	CHECK(m, ctr(m, "collapse.dropped") == total && droppable(m) == 0);
	CHECK(m, breaks > (in_place ? 1 : 5) && m->holds > breaks / 2);
	if (in_place)   /* each break with tables replaced since the last commit frees them */
		CHECK(m, ctr(m, "collapse.tables_replaced") == 3 && ctr(m, "ept.pages_freed") == freed + 3);   /* 0, 2, 6 */
	CHECK(m, flushes >= 2 && flushes <= breaks + 1);
	/* nobody else flushed meanwhile: each flush of the collapse IPI'd vCPU 1 once */
	CHECK(m, kvm->flushes == fl + flushes && nipis == flushes && nipis <= 4096);
	/* a flush only after new drops, and the last one after the last drop */
	CHECK(m, m->rem_at_ipi[0] < total);
	for (unsigned i = 1; i < nipis; i++)
		CHECK(m, m->rem_at_ipi[i] < m->rem_at_ipi[i - 1]);
	CHECK(m, m->rem_at_ipi[nipis - 1] == 0);
	/* vCPU 1 handled the last flush request before it re-entered; vCPU 0 (the caller: no
	 * IPI to itself) has it pending */
	CHECK(m, nhandled == nipis && rem_handled == 0 && !pending1 && v1->mode == IN_GUEST_MODE);
	CHECK(m, v->requests == KVM_REQ_TLB_FLUSH);
	CHECK_MMU(m);
	v1->mode = OUTSIDE_GUEST_MODE;
}

static void test_basics(void **state) { run(body_basics, "none", "voluntary"); }
static void test_none_after_logging(void **state) { run(body_none_after_logging, "none", "voluntary"); }
static void test_lazy_zap_keeps_4k_backed(void **state) { run(body_lazy_zap, "lazy-zap", "voluntary"); }
static void test_in_place(void **state) { run(body_in_place, "in-place", "voluntary"); }
static void test_move_after_collapse(void **state) { run(body_move_after_collapse, "lazy-zap", "voluntary"); }
static void test_flush_after_last_drop(void **state) { run(body_flush_order, "lazy-zap", "full"); }
static void test_in_place_breaks_lock(void **state) { run(body_flush_order, "in-place", "full"); }

/* ================================================================ whole simulations */

struct probe {
	const struct collapse_ops *real;
	int calls;
	struct snap before, after;
};
static struct probe P;   /* the collapse callback has no context pointer */

static void probe_collapse(struct kvm *kvm, struct kvm_memory_slot *slot)
{
	P.calls++;
	take_snap(kvm, slot, &P.before);
	P.real->collapse(kvm, slot);
	take_snap(kvm, slot, &P.after);
}
static const struct collapse_ops probe_ops = { "probe", probe_collapse };

/* Everything a test looks at, gathered before sim_free(). */
struct simres {
	uint32_t nreg, vcpus;
	uint64_t npages;
	uint8_t huge[MAXREG];          /* host_mapping_level() of the region >= 2 */
	struct snap before, after, end;
	int calls;
	uint64_t dropped, scanned, lock_breaks, flushes, refaults, replaced, rounds, write_faults;
	size_t durations;
};

/* The small guest: 2 vCPUs, 256M with 64M of kernel, THP on about half of the 2M
 * regions, 2M guest pages, touch-all; RAM dirty-logged from 10 ms for two 10 ms rounds; then
 * 30 ms, more than one full touch of every vCPU's memory. */
static const char *const base_sets[] = {
	"guest.vcpus=2", "guest.mem=256M", "guest.kernel_mem=64M", "guest.backing=thp",
	"guest.thp_fraction=0.5", "guest.page_size=2m", "workload.generator=touch-all",
	"workload.duration_ms=60", "events.dirty_slot=ram", "events.dirty_start_ms=10",
	"events.dirty_round_ms=10", "events.dirty_rounds=2", "output.series=false",
};
#define SIM(r, ...) \
	run_sim((const char *const[]){ __VA_ARGS__ }, sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(char *), r)

static void run_sim(const char *const *extra, size_t n, struct simres *r)
{
	static struct scenario sc;
	struct config_error e;
	char err[256] = "";
	size_t nb = sizeof(base_sets) / sizeof(base_sets[0]);

	memset(r, 0, sizeof(*r));
	memset(&P, 0, sizeof(P));
	config_defaults(&sc);
	for (size_t i = 0; i < nb + n; i++)
		if (config_set(&sc, i < nb ? base_sets[i] : extra[i - nb], &e))
			fail_msg("config_set: %s", e.msg);
	assert_int_equal(config_validate(&sc, &e), 0);
	struct sim *s = sim_new(&sc, ENGINE_BATCHED, err, sizeof(err));
	if (!s)
		fail_msg("sim_new: %s", err);
	struct kvm *kvm = sim_kvm(s);
	struct kvm_memory_slot *ram = kvm_slot_by_name(kvm, "ram");
	assert_non_null(ram);
	r->npages = ram->npages;
	r->nreg = (uint32_t)(ram->npages >> 9);
	r->vcpus = kvm->nr_vcpus;
	assert_true(r->nreg <= MAXREG && r->vcpus <= MAXV);
	for (uint32_t k = 0; k < r->nreg; k++)
		r->huge[k] = host_mapping_level(ram, ram->base_gfn + ((uint64_t)k << 9)) >= PT_DIRECTORY_LEVEL;
	P.real = kvm->collapse_ops;
	kvm->collapse_ops = &probe_ops;
	assert_int_equal(sim_run(s), 0);

	char why[256];
	if (kvm_mmu_check(kvm, why, sizeof(why)))
		fail_msg("MMU invariants broken at the end: %s", why);
	take_snap(kvm, ram, &r->end);
	r->before = P.before;
	r->after = P.after;
	r->calls = P.calls;
	/* RAM is the only slot: the leaves walked from the root are the reachable ones */
	const struct snap *sn[3] = { &r->before, &r->after, &r->end };
	for (int i = 0; i < 3; i++) {
		uint64_t k4 = 0, m2 = 0;
		for (uint32_t k = 0; k < r->nreg; k++)
			k4 += sn[i]->k4[k], m2 += sn[i]->m2[k];
		assert_int_equal(sn[i]->reach4k, k4);
		assert_int_equal(sn[i]->reach2m, m2);
	}
	r->dropped = counter(kvm, "collapse.dropped");
	r->scanned = counter(kvm, "collapse.scanned");
	r->lock_breaks = counter(kvm, "collapse.lock_breaks");
	r->flushes = counter(kvm, "collapse.flushes");
	r->refaults = counter(kvm, "collapse.refaults");
	r->replaced = counter(kvm, "collapse.tables_replaced");
	r->rounds = counter(kvm, "dirty_log.rounds");
	r->write_faults = counter(kvm, "dirty_log.write_faults");
	r->durations = stats_array_len(kvm->st, stats_lookup(kvm->st, "collapse.duration_cycles"));
	if (verbose) {
		uint64_t h4 = 0, e4 = 0, e2 = 0;
		unsigned hr = 0;
		for (uint32_t k = 0; k < r->nreg; k++) {
			h4 += r->huge[k] ? r->before.k4[k] : 0;
			hr += r->huge[k] && r->before.k4[k];
			e4 += r->huge[k] ? r->end.k4[k] : 0;
			e2 += r->huge[k] ? r->end.m2[k] : 0;
		}
		fprintf(stderr, "[%s] at disable: 4K leaves %llu, in %u huge regions %llu; at the end in huge regions: "
			"4K %llu 2M %llu\n  dropped %llu scanned %llu lock-breaks %llu flushes %llu refaults %llu "
			"replaced %llu rounds %llu write faults %llu\n  ept.faults %llu / %llu / %llu (spurious %llu / %llu "
			"/ %llu) large_replaced %llu / %llu / %llu, pages_4k %llu / %llu / %llu\n",
			P.real->name, (unsigned long long)r->before.nr4k, hr, (unsigned long long)h4,
			(unsigned long long)e4, (unsigned long long)e2, (unsigned long long)r->dropped,
			(unsigned long long)r->scanned, (unsigned long long)r->lock_breaks,
			(unsigned long long)r->flushes, (unsigned long long)r->refaults,
			(unsigned long long)r->replaced, (unsigned long long)r->rounds,
			(unsigned long long)r->write_faults, (unsigned long long)r->before.faults,
			(unsigned long long)r->after.faults, (unsigned long long)r->end.faults,
			(unsigned long long)r->before.spurious, (unsigned long long)r->after.spurious,
			(unsigned long long)r->end.spurious, (unsigned long long)r->before.large_replaced,
			(unsigned long long)r->after.large_replaced, (unsigned long long)r->end.large_replaced,
			(unsigned long long)r->before.nr4k, (unsigned long long)r->after.nr4k,
			(unsigned long long)r->end.nr4k);
	}
	sim_free(s);
}

/* Common to every run: one collapse, at the second round; at that point logging had dropped
 * every 2M spte of RAM and the guest had touched THP-backed regions with 4K sptes. */
static uint64_t check_logged(const struct simres *r, unsigned *huge_regions, bool writes)
{
	uint64_t h4 = 0;
	*huge_regions = 0;
	assert_int_equal(r->calls, 1);
	assert_int_equal(r->durations, 1);
	assert_int_equal(r->rounds, 2);
	/* a guest that only reads dirties only the pages its faults mapped during logging (3.10
	 * maps them writable), each once: no more than the 4K leaves there are at the end */
	assert_true(writes ? r->write_faults > 1000 : r->write_faults > 0 && r->write_faults <= r->before.nr4k);
	for (uint32_t k = 0; k < r->nreg; k++) {
		assert_int_equal(r->before.m2[k], 0);
		h4 += r->huge[k] ? r->before.k4[k] : 0;
		*huge_regions += r->huge[k] && r->before.k4[k];
	}
	assert_true(*huge_regions >= 5);
	return h4;
}

/* lazy-zap, right after the collapse and at the end of a run: every 2M region the host backs
 * with a huge page and the guest touched is mapped by one 2M spte, the others by 4K ones. */
static void check_lazy_zap(const struct simres *r, uint64_t h4, bool contended)
{
	uint64_t after4 = 0, end4 = 0;
	assert_int_equal(r->dropped, h4);
	assert_int_equal(r->scanned, r->npages);
	for (uint32_t k = 0; k < r->nreg; k++) {
		if (r->huge[k]) {
			/* every 4K spte of a huge-backed region dropped (faults during lock-breaks may
			 * have mapped 2M already) */
			assert_int_equal(r->after.k4[k], 0);
			assert_int_equal(r->end.k4[k], 0);
			if (r->before.k4[k])
				assert_int_equal(r->end.m2[k], 1);
		} else {
			/* never a 4K-backed one: kept (more may have been faulted in during breaks) */
			if (contended)
				assert_true(r->after.k4[k] >= r->before.k4[k]);
			else
				assert_int_equal(r->after.k4[k], r->before.k4[k]);
			assert_int_equal(r->after.m2[k], 0);
			assert_int_equal(r->end.m2[k], 0);
		}
		after4 += r->after.k4[k];
		end4 += r->end.k4[k];
	}
	/* no 4K spte is left behind in an unlinked table either */
	assert_int_equal(r->after.nr4k, after4);
	assert_int_equal(r->end.nr4k, end4);
}

static void test_sim_lazy_zap(void **state)
{
	struct simres r;
	unsigned hr;
	(void)state;
	SIM(&r, "mmu.collapse=lazy-zap");
	uint64_t h4 = check_logged(&r, &hr, true);
	check_lazy_zap(&r, h4, false);
	/* no lock-break (voluntary host, no background load): one flush, at the end */
	assert_int_equal(r.lock_breaks, 0);
	assert_int_equal(r.flushes, 1);
	assert_int_equal(r.after.flushes - r.before.flushes, 1);
	assert_int_equal(r.after.faults, r.before.faults);
	assert_int_equal(r.after.nr4k, r.before.nr4k - r.dropped);
	/* every emptied region refaulted once, each replacing its empty table by a 2M spte */
	assert_int_equal(r.refaults, hr);
	assert_int_equal(r.end.large_replaced - r.after.large_replaced, hr);
	/* that flush reached every vCPU: pending, or already done (an IPI'd vCPU runs first) */
	for (uint32_t i = 0; i < r.vcpus; i++) {
		assert_true((r.after.req[i] & KVM_REQ_TLB_FLUSH) || r.after.rflush[i] > r.before.rflush[i]);
		if (r.after.req[i] & KVM_REQ_TLB_FLUSH)
			assert_true(r.end.rflush[i] > r.after.rflush[i]);
	}
}

/* none: the collapse changes nothing; a 4K spte goes only when a fault on a page not mapped
 * maps 2M over its table (unlinked with its leaves, so ept.pages_4k never shrinks): writes to
 * write-protected leaves are fixed by the fast path and leave them 4K (THP backing). */
static void test_sim_none(void **state)
{
	struct simres r;
	unsigned hr, replaced = 0, kept = 0;
	(void)state;
	SIM(&r, "mmu.collapse=none");
	check_logged(&r, &hr, true);
	assert_memory_equal(r.before.k4, r.after.k4, sizeof(r.after.k4));
	assert_memory_equal(r.before.m2, r.after.m2, sizeof(r.after.m2));
	assert_int_equal(r.after.tlb_flush_count, r.before.tlb_flush_count);
	assert_int_equal(r.dropped + r.scanned + r.flushes + r.refaults + r.replaced, 0);
	assert_true(r.end.fast - r.after.fast > 1000);
	for (uint32_t k = 0; k < r.nreg; k++) {
		if (r.end.m2[k]) {
			assert_true(r.huge[k]);
			assert_int_equal(r.end.k4[k], 0);
			assert_true(r.before.k4[k] < 512);   /* a page of it was not mapped */
			replaced += r.before.k4[k] > 0;
		} else {
			assert_true(r.end.k4[k] >= r.before.k4[k]);
			kept += r.huge[k] && r.before.k4[k];
		}
	}
	assert_int_equal(replaced, r.end.large_replaced - r.after.large_replaced);
	assert_int_equal(replaced + kept, hr);
	assert_true(r.end.nr4k >= r.before.nr4k);

	/* a guest that only reads its memory: nothing faults after logging, it all stays 4K */
	uint64_t h4 = 0, e4 = 0;
	SIM(&r, "mmu.collapse=none", "workload.generator=random", "workload.wss_mb=8", "workload.write_fraction=0");
	check_logged(&r, &hr, false);
	for (uint32_t k = 0; k < r.nreg; k++) {
		assert_int_equal(r.end.k4[k], r.before.k4[k]);
		assert_int_equal(r.end.m2[k], 0);
		h4 += r.huge[k] ? r.before.k4[k] : 0;
		e4 += r.huge[k] ? r.end.k4[k] : 0;
	}
	assert_true(h4 >= 1000 && e4 == h4);
	assert_int_equal(r.end.faults, r.after.faults);
	assert_int_equal(r.end.nr4k, r.before.nr4k);
}

/* in-place: 2M sptes right after the collapse, no refault, and fewer faults than lazy-zap by
 * exactly its refaults. */
static void test_sim_in_place(void **state)
{
	struct simres r, lz;
	unsigned hr, hr_lz;
	(void)state;
	SIM(&r, "mmu.collapse=in-place");
	uint64_t h4 = check_logged(&r, &hr, true);
	for (uint32_t k = 0; k < r.nreg; k++) {
		bool had = r.huge[k] && r.before.k4[k];
		assert_int_equal(r.after.m2[k], had);
		assert_int_equal(r.after.k4[k], r.huge[k] ? 0 : r.before.k4[k]);
		/* nothing re-mapped a collapsed region: its 2M spte stayed until the end */
		if (had)
			assert_int_equal(r.end.m2[k], 1);
		if (r.huge[k])
			assert_int_equal(r.end.k4[k], 0);
	}
	assert_int_equal(r.dropped, h4);
	assert_int_equal(r.replaced, hr);
	assert_int_equal(r.refaults, 0);
	assert_int_equal(r.flushes, 1);
	assert_int_equal(r.after.faults, r.before.faults);
	assert_int_equal(r.end.large_replaced, r.after.large_replaced);
	assert_int_equal(r.end.nr4k, r.after.nr4k);

	SIM(&lz, "mmu.collapse=lazy-zap");
	uint64_t h4_lz = check_logged(&lz, &hr_lz, true);
	/* the same guest up to the disable */
	assert_int_equal(h4_lz, h4);
	assert_int_equal(hr_lz, hr);
	assert_true(lz.refaults > 0);
	uint64_t lz_faults = (lz.end.faults - lz.after.faults) - (lz.end.spurious - lz.after.spurious);
	uint64_t ip_faults = (r.end.faults - r.after.faults) - (r.end.spurious - r.after.spurious);
	assert_int_equal(lz_faults, ip_faults + lz.refaults);
}

/* lazy-zap with lock-breaks (CONFIG_PREEMPT host, vCPUs faulting on mmu_lock, 4K guest
 * pages): flushes <= lock-breaks + 1, and the last flush reaches every vCPU. */
static void test_sim_lazy_zap_lock_breaks(void **state)
{
	struct simres r;
	unsigned hr;
	(void)state;
	SIM(&r, "mmu.collapse=lazy-zap", "host.preempt=full", "host.bg_wakeup_hz=4000", "guest.page_size=4k");
	uint64_t h4 = check_logged(&r, &hr, true);
	check_lazy_zap(&r, h4, true);
	assert_true(r.lock_breaks >= 10);
	assert_true(r.flushes >= 1 && r.flushes <= r.lock_breaks + 1);
	/* here some breaks come while no spte was dropped since the last flush (a background
	 * wake-up during a stretch of 4K-backed regions): no flush for those */
	assert_true(r.flushes < r.lock_breaks);
	assert_true(r.after.flushes - r.before.flushes >= r.flushes);
	/* vCPUs faulted during the breaks */
	assert_true(r.after.faults > r.before.faults);
	for (uint32_t i = 0; i < r.vcpus; i++) {
		assert_true((r.after.req[i] & KVM_REQ_TLB_FLUSH) || r.after.rflush[i] > r.before.rflush[i]);
		if (r.after.req[i] & KVM_REQ_TLB_FLUSH)
			assert_true(r.end.rflush[i] > r.after.rflush[i]);
	}
}

/* events.dirty_slot = all on a 4 GiB guest, two RAM slots ("ram" below 3 GiB, "ram-high" from
 * 4 GiB; the memory of vCPUs 0 and 1 in the one, vCPU 2's in the other: guest_layout_init()): every ioctl runs once per slot
 * in slot order (QEMU's kvm_set_migration_log() and its syncs), so each round's
 * KVM_GET_DIRTY_LOG finds pages in both, and logging stops, with its collapse, in both. */
static const struct kvm_memory_slot *collapsed_slots[4];
static int nr_collapsed;
static const struct collapse_ops *real_collapse;
static void record_collapse(struct kvm *kvm, struct kvm_memory_slot *slot)
{
	if (nr_collapsed < 4)
		collapsed_slots[nr_collapsed] = slot;
	nr_collapsed++;
	real_collapse->collapse(kvm, slot);
}
static const struct collapse_ops record_ops = { "record", record_collapse };

static void test_sim_dirty_all_slots(void **state)
{
	static struct scenario sc;
	static const char *const sets[] = {
		"guest.vcpus=3", "guest.mem=4G", "guest.kernel_mem=64M", "guest.backing=thp",
		"guest.thp_fraction=0.5", "guest.page_size=4k", "workload.generator=random", "workload.wss_mb=8",
		"workload.write_fraction=0.3", "workload.duration_ms=40", "events.dirty_slot=all",
		"events.dirty_start_ms=10", "events.dirty_round_ms=10", "events.dirty_rounds=2",
		"mmu.collapse=lazy-zap", "output.series=false",
	};
	struct config_error e;
	char err[256] = "";
	(void)state;

	config_defaults(&sc);
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
		if (config_set(&sc, sets[i], &e))
			fail_msg("config_set: %s", e.msg);
	assert_int_equal(config_validate(&sc, &e), 0);
	struct sim *s = sim_new(&sc, ENGINE_BATCHED, err, sizeof(err));
	if (!s)
		fail_msg("sim_new: %s", err);
	struct kvm *kvm = sim_kvm(s);
	struct kvm_memory_slot *ram = kvm_slot_by_name(kvm, "ram"), *high = kvm_slot_by_name(kvm, "ram-high");
	assert_true(ram && high && ram->id < high->id);
	nr_collapsed = 0;
	real_collapse = kvm->collapse_ops;
	kvm->collapse_ops = &record_ops;
	assert_int_equal(sim_run(s), 0);

	/* two rounds of each slot, alternating ram, ram-high; each found dirty pages */
	stat_id dp = stats_lookup(kvm->st, "dirty_log.dirty_pages");
	assert_int_equal(counter(kvm, "dirty_log.rounds"), 4);
	assert_int_equal(stats_array_len(kvm->st, dp), 4);
	for (size_t i = 0; i < 4; i++)
		assert_true(stats_array_at(kvm->st, dp, i) > 0);
	/* enabled in both (one write-protect each), disabled and collapsed in both, in order */
	assert_int_equal(stats_array_len(kvm->st, stats_lookup(kvm->st, "dirty_log.protect_cycles")), 2 + 4);
	assert_int_equal(nr_collapsed, 2);
	assert_ptr_equal(collapsed_slots[0], ram);
	assert_ptr_equal(collapsed_slots[1], high);
	assert_int_equal(stats_array_len(kvm->st, stats_lookup(kvm->st, "collapse.duration_cycles")), 2);
	assert_true(!ram->dirty_logging && !high->dirty_logging && !ram->dirty_bitmap && !high->dirty_bitmap);
	assert_true(counter(kvm, "collapse.dropped") > 0 && counter(kvm, "collapse.scanned") == ram->npages + high->npages);
	char why[256];
	if (kvm_mmu_check(kvm, why, sizeof(why)))
		fail_msg("MMU invariants broken at the end: %s", why);
	sim_free(s);

	/* no memslot may be called "all" */
	config_defaults(&sc);
	assert_int_not_equal(config_set(&sc, "memslot.all.size=64K", &e), 0);
	assert_non_null(strstr(e.msg, "every RAM slot"));
}

int main(void)
{
	verbose = getenv("TEST_DIRTY_VERBOSE") != NULL;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basics),
		cmocka_unit_test(test_none_after_logging),
		cmocka_unit_test(test_lazy_zap_keeps_4k_backed),
		cmocka_unit_test(test_in_place),
		cmocka_unit_test(test_move_after_collapse),
		cmocka_unit_test(test_flush_after_last_drop),
		cmocka_unit_test(test_in_place_breaks_lock),
		cmocka_unit_test(test_sim_lazy_zap),
		cmocka_unit_test(test_sim_none),
		cmocka_unit_test(test_sim_in_place),
		cmocka_unit_test(test_sim_lazy_zap_lock_breaks),
		cmocka_unit_test(test_sim_dirty_all_slots),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
