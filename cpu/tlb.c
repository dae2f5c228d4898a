// SPDX-License-Identifier: GPL-2.0
/* cpu/tlb — a vCPU's TLBs.  See tlb.h for the contract.
 *
 * Layout: nine arrays (L1D, L1I, STLB x 4K, 2M, 1G), each a flat run of sets * ways entries
 * inside one cache-line aligned allocation, so a probe touches one contiguous set and
 * nothing else.  The set index is a mask (sets is a power of two), the set base a multiply
 * by the set's size in bytes (ways need not be a power of two: 12-way STLBs exist).
 *
 * Page sizes that share an array (tlb_config.shared) get views of one run of entries: the
 * same entries, set mask and ways, each with its own shift.  An entry's vpn field holds a
 * key, the page number at its size with the size in bits 62-63 (tlb_key()), so a 4K and a 2M
 * entry never match each other's probes; a 4K key is the bare page number (the size bits are
 * 0), so the L1 4K hit path computes it as before.  The set index masks the low bits of the
 * key, which are the page number's: each size indexes with its own page number.
 *
 * An entry's tag, epoch and writable bit are packed into one 64-bit "ctx" word
 * (tag << 32 | epoch << 1 | W, a 31-bit epoch) so a hit is a compare and a subtract-compare
 * against the TLB's current ctx, which never has W set.  With base = current ctx for a read
 * and current ctx + 1 (= | W) for a write, an entry matches iff ctx - base < 2 (unsigned):
 *   read:  ctx is cur or cur | W: any live entry;
 *   write: ctx is cur | W or cur + 2; cur + 2 would be the next epoch, which no entry has
 *          (epochs only grow; the wrap squashes them all below the current one), and it
 *          cannot carry into the tag because the epoch stops at TLB_EPOCH_MAX: so exactly
 *          the writable live entries.
 * So the hit path keeps one word (base) and has no extra load or branch for the bit, and a
 * write skips read-only entries for free.  Epoch 0 marks an empty way (never filled, or
 * removed by tlb_invalidate_page); live epochs start at 1.  An entry whose vpn and tag match
 * but whose epoch is non-zero and not current was flushed: it makes a miss a refill miss, and
 * it is a victim before any live way.  One whose epoch is current but that a write did not
 * match is read-only: it makes the miss a permission miss.
 *
 * LRU is exact: every touch stamps the entry with a per-TLB 64-bit clock, the victim is the
 * smallest stamp.  Stamps are unique, so there are no ties between live entries.
 *
 * Each L1 (D and I) remembers the 4K entry of its last 4K hit.  Code runs through a page and
 * data stays on a stack or a heap page for a while, so most look-ups are for that page again,
 * and a look-up tries that entry before probing: if it still holds the vpn and matches, it is
 * the entry the probes would find first (the 4K array is probed first, and a set holds at
 * most one copy of a vpn + tag, so no other 4K way can match).  Nothing has to forget it: an
 * entry that was flushed, invalidated, retagged or refilled with another page no longer
 * matches, and then the probes run as before.
 *
 * Victim choice, in order: the way already holding this vpn + tag (live or flushed: reusing
 * it keeps a set free of duplicates), an empty way, the least recently used flushed way, the
 * least recently used way.  The flushed-before-live preference needs no code of its own: a
 * flushed entry was last touched before the flush and a live one after it, and the clock is
 * monotonic, so the smallest stamp is a flushed way whenever there is one.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/tlb.h"

#define TLB_W		1ull		/* the entry's translation permits writes */
#define TLB_EPOCH_ONE	2ull		/* epoch 1 in a ctx word */
#define TLB_LOW_MASK	0xffffffffull	/* epoch and writable bit */
/* The largest epoch: one below the field's, so that current ctx + 2 cannot carry into the
 * tag (see above). */
#define TLB_EPOCH_MAX	0x7ffffffeu

struct tlb_entry {
	uint64_t vpn;
	uint64_t ctx;		/* tag << 32 | epoch << 1 | W; epoch 0 = empty way */
	uint64_t lru;		/* clock value at the last touch */
};

struct tlb_array {
	struct tlb_entry *e;	/* sets * ways entries, set-major */
	uint64_t set_mask;	/* sets - 1 */
	uint32_t ways;		/* 0 = absent */
	uint32_t shift;		/* page_shift(ps) */
	uint64_t stride;	/* bytes per set: ways * sizeof(struct tlb_entry) */
	uint64_t size_tag;	/* ps << TLB_SIZE_SHIFT: the size bits of this array's keys */
};

/* Where a key keeps its page size: above any page number (gva >> 12 < 2^52). */
#define TLB_SIZE_SHIFT	62

struct tlb {
	struct tlb_array arr[TLB_STRUCT_NR][PS_NR];
	struct tlb_entry *last_4k[TLB_L1I + 1];	/* [L1D, L1I]: the entry of the last 4K hit */
	struct tlb_entry none;	/* last_4k before any hit: an empty way, it never matches */
	uint64_t ctx;		/* current tag << 32 | current epoch << 1 (never TLB_W) */
	uint64_t clock;		/* LRU clock */
	enum tlb_flush_cause last_cause;
	struct tlb_entry *slots;	/* backing store of every array */
	size_t nr_slots;
	struct tlb_counters cnt;
};

static inline uint32_t ctx_epoch(uint64_t ctx)
{
	return (uint32_t)(ctx & TLB_LOW_MASK) >> 1;
}

static inline uint32_t ctx_tag(uint64_t ctx)
{
	return (uint32_t)(ctx >> 32);
}

bool tlb_geom_valid(const struct tlb_geom *g)
{
	uint32_t sets;

	if (!g->entries)
		return true;
	if (!g->ways || g->entries % g->ways)
		return false;
	sets = g->entries / g->ways;
	return (sets & (sets - 1)) == 0;
}

/* The page size whose array ps uses in a structure with shared-size mask `shared`: the
 * smallest size of the mask if ps is in it, else ps itself. */
static int tlb_owner(unsigned shared, int ps)
{
	if (!(shared >> ps & 1) || !(shared & (shared - 1)))
		return ps;
	return __builtin_ctz(shared);
}

struct tlb *tlb_new(const struct tlb_config *cfg)
{
	const struct tlb_geom *geom[TLB_STRUCT_NR] = { cfg->l1d, cfg->l1i, cfg->stlb };
	struct tlb *t;
	size_t total = 0, bytes, off = 0;
	int s, ps;

	for (s = 0; s < TLB_STRUCT_NR; s++) {
		for (ps = 0; ps < PS_NR; ps++) {
			if (tlb_owner(cfg->shared[s], ps) != ps)
				continue;	/* a view of a smaller size's array */
			if (!tlb_geom_valid(&geom[s][ps])) {
				errno = EINVAL;
				return NULL;
			}
			total += geom[s][ps].entries;
		}
	}

	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	/* aligned_alloc wants a multiple of the alignment; never ask for 0 bytes. */
	bytes = total * sizeof(struct tlb_entry);
	bytes = (bytes + 63) & ~(size_t)63;
	if (!bytes)
		bytes = 64;
	t->slots = aligned_alloc(64, bytes);
	if (!t->slots) {
		free(t);
		return NULL;
	}
	memset(t->slots, 0, bytes);
	t->nr_slots = total;

	for (s = 0; s < TLB_STRUCT_NR; s++) {
		for (ps = 0; ps < PS_NR; ps++) {
			int owner = tlb_owner(cfg->shared[s], ps);
			const struct tlb_geom *g = &geom[s][owner];
			struct tlb_array *a = &t->arr[s][ps];

			a->shift = page_shift((enum page_size)ps);
			a->size_tag = (uint64_t)ps << TLB_SIZE_SHIFT;
			if (!g->entries)
				continue;
			a->ways = g->ways;
			a->set_mask = g->entries / g->ways - 1;
			a->stride = (uint64_t)g->ways * sizeof(struct tlb_entry);
			if (owner != ps) {	/* owner < ps: its array is laid out already */
				a->e = t->arr[s][owner].e;
				continue;
			}
			a->e = t->slots + off;
			off += g->entries;
		}
	}
	t->last_4k[TLB_L1D] = t->last_4k[TLB_L1I] = &t->none;
	t->ctx = TLB_EPOCH_ONE;	/* tag 0, epoch 1: epoch 0 is reserved for empty ways */
	t->last_cause = TLB_CAUSE_OTHER;
	return t;
}

void tlb_free(struct tlb *t)
{
	if (!t)
		return;
	free(t->slots);
	free(t);
}

/* The key of gva's page in a: its page number at a's size, tagged with the size. */
static inline uint64_t tlb_key(const struct tlb_array *a, uint64_t gva)
{
	return (gva >> a->shift) | a->size_tag;
}

/* Only for a present array (ways != 0).  vpn is a key (tlb_key()): the mask keeps the low
 * bits of its page number. */
static inline struct tlb_entry *tlb_set(const struct tlb_array *a, uint64_t vpn)
{
	return (struct tlb_entry *)((char *)a->e + (vpn & a->set_mask) * a->stride);
}

/* Returns the live entry for vpn in a that the access may use, or NULL.  base is the current
 * ctx for a read (any live entry), the current ctx + 1 for a write (writable ones only). */
static inline struct tlb_entry *tlb_probe(const struct tlb_array *a, uint64_t vpn,
					  uint64_t base)
{
	struct tlb_entry *e = tlb_set(a, vpn);
	/* An end pointer from the stride: cheaper than counting ways (and a second multiply). */
	const struct tlb_entry *end = (const struct tlb_entry *)((const char *)e + a->stride);

	for (; e != end; e++) {
		if (e->vpn == vpn && e->ctx - base < 2)
			return e;
	}
	return NULL;
}

enum { TLB_MISS_PLAIN = 0, TLB_MISS_REFILL = 1, TLB_MISS_PERM = 2 };

/* What copy of vpn a holds, with the current tag, that the look-up could not use: a live one
 * (current epoch; the probes skipped it, so the look-up was a write and it is read-only) makes
 * TLB_MISS_PERM, a flushed one (non-zero, older epoch) TLB_MISS_REFILL.  One set holds at most
 * one copy of a vpn + tag.  Only asked on a miss, to keep it off the hit path. */
static int tlb_miss_kind(const struct tlb_array *a, uint64_t vpn, uint64_t ctx)
{
	const struct tlb_entry *set = tlb_set(a, vpn);
	uint32_t w;

	for (w = 0; w < a->ways; w++) {
		const struct tlb_entry *e = &set[w];

		if (e->vpn == vpn && !((e->ctx ^ ctx) >> 32) && ctx_epoch(e->ctx))
			return ctx_epoch(e->ctx) == ctx_epoch(ctx) ? TLB_MISS_PERM : TLB_MISS_REFILL;
	}
	return TLB_MISS_PLAIN;
}

/* Make vpn live in a with writable bit wbit (TLB_W or 0), most recently used. */
static void tlb_insert(struct tlb *t, struct tlb_array *a, uint64_t vpn, uint64_t wbit)
{
	struct tlb_entry *set = tlb_set(a, vpn);
	/* ways >= 1; if way 0 is empty, an empty victim wins over lru anyway. */
	struct tlb_entry *victim = NULL, *lru = set;
	uint32_t tag = ctx_tag(t->ctx);
	uint32_t w;

	for (w = 0; w < a->ways; w++) {
		struct tlb_entry *e = &set[w];

		if (!ctx_epoch(e->ctx)) {
			/* Empty; keep looking in case this vpn + tag sits further on. */
			if (!victim)
				victim = e;
			continue;
		}
		if (e->vpn == vpn && ctx_tag(e->ctx) == tag) {
			victim = e;
			goto store;
		}
		if (e->lru < lru->lru)
			lru = e;
	}
	if (!victim)
		victim = lru;
store:
	victim->vpn = vpn;
	victim->ctx = t->ctx | wbit;
	victim->lru = ++t->clock;
}

/* Look-up results are returned as copies of these constants.  Building the struct in place
 * makes GCC assemble it on the stack with narrow stores and reload it wide, a store-forwarding
 * stall that cost more than the whole look-up (~15 ns vs ~2.5 ns per call, GCC 12 -O2). */
static const struct tlb_result tlb_res_hit[2][PS_NR] = {
	{ { TLB_HIT_L1, PS_4K, false, false }, { TLB_HIT_L1, PS_2M, false, false },
	  { TLB_HIT_L1, PS_1G, false, false } },
	{ { TLB_HIT_L2, PS_4K, false, false }, { TLB_HIT_L2, PS_2M, false, false },
	  { TLB_HIT_L2, PS_1G, false, false } },
};
static const struct tlb_result tlb_res_miss[3] = {	/* indexed by TLB_MISS_* */
	[TLB_MISS_PLAIN] = { TLB_MISS, PS_4K, false, false },
	[TLB_MISS_REFILL] = { TLB_MISS, PS_4K, true, false },
	[TLB_MISS_PERM] = { TLB_MISS, PS_4K, false, true },
};

/* The STLB probe and the miss path, kept out of line so that the L1 hit path needs no
 * stack frame. */
static __attribute__((noinline)) struct tlb_result tlb_lookup_l2(struct tlb *t, int side,
								 struct tlb_array *l1,
								 uint64_t gva, uint64_t base)
{
	struct tlb_array *l2 = t->arr[TLB_STLB];
	uint64_t ctx = t->ctx;
	struct tlb_entry *e;
	int kind = TLB_MISS_PLAIN, k, ps;

	for (ps = 0; ps < PS_NR; ps++) {
		uint64_t vpn;

		if (!l2[ps].ways)
			continue;
		vpn = tlb_key(&l2[ps], gva);
		e = tlb_probe(&l2[ps], vpn, base);
		if (e) {
			e->lru = ++t->clock;
			t->cnt.l2_hits++;
			t->cnt.hits[side][1][ps]++;
			if (l1[ps].ways)	/* same size, same key */
				tlb_insert(t, &l1[ps], vpn, e->ctx & TLB_W);
			return tlb_res_hit[1][ps];
		}
	}

	/* A miss: was it only because of write protection, or of a flush?  Searched here
	 * rather than during the probes above, to keep that work off the hit paths.  A live
	 * read-only copy anywhere wins over a flushed copy anywhere. */
	t->cnt.misses++;
	t->cnt.stlb_misses[side]++;
	for (ps = 0; ps < PS_NR && kind != TLB_MISS_PERM; ps++) {
		if (l1[ps].ways) {
			k = tlb_miss_kind(&l1[ps], tlb_key(&l1[ps], gva), ctx);
			kind = k > kind ? k : kind;
		}
		if (l2[ps].ways) {
			k = tlb_miss_kind(&l2[ps], tlb_key(&l2[ps], gva), ctx);
			kind = k > kind ? k : kind;
		}
	}
	if (kind == TLB_MISS_PERM)
		t->cnt.perm_misses++;
	else if (kind == TLB_MISS_REFILL)
		t->cnt.refill_misses[t->last_cause]++;
	return tlb_res_miss[kind];
}

/* The L1 probes for large pages after the 4K ones found nothing; then the STLB. */
static __attribute__((noinline)) struct tlb_result tlb_lookup_large(struct tlb *t, int side,
								    struct tlb_array *l1,
								    uint64_t gva, uint64_t base)
{
	struct tlb_entry *e;
	int ps;

	for (ps = PS_2M; ps < PS_NR; ps++) {
		if (!l1[ps].ways)
			continue;
		e = tlb_probe(&l1[ps], tlb_key(&l1[ps], gva), base);
		if (e) {
			e->lru = ++t->clock;
			t->cnt.l1_hits++;
			t->cnt.hits[side][0][ps]++;
			return tlb_res_hit[0][ps];
		}
	}
	return tlb_lookup_l2(t, side, l1, gva, base);
}

struct tlb_result tlb_lookup(struct tlb *t, bool fetch, bool write, uint64_t gva)
{
	int s = fetch ? TLB_L1I : TLB_L1D;	/* = TLB_INSN : TLB_DATA */
	struct tlb_array *l1 = t->arr[s];
	/* A read (or fetch) ignores an entry's writable bit, a write needs it (tlb_probe). */
	uint64_t base = t->ctx + (write && !fetch);
	uint64_t vpn = gva >> page_shift(PS_4K);
	struct tlb_entry *e = t->last_4k[s];

	t->cnt.lookups++;
	if (!(e->vpn == vpn && e->ctx - base < 2)) {
		if (!l1[PS_4K].ways || !(e = tlb_probe(&l1[PS_4K], vpn, base)))
			return tlb_lookup_large(t, s, l1, gva, base);
		t->last_4k[s] = e;
	}
	e->lru = ++t->clock;
	t->cnt.l1_hits++;
	t->cnt.hits[s][0][PS_4K]++;
	return tlb_res_hit[0][PS_4K];
}

void tlb_fill(struct tlb *t, bool fetch, uint64_t gva, enum page_size ps, bool writable)
{
	struct tlb_array *l1, *l2;
	uint64_t wbit = writable ? TLB_W : 0;

	if ((unsigned)ps >= PS_NR)
		return;
	l1 = &t->arr[fetch ? TLB_L1I : TLB_L1D][ps];
	l2 = &t->arr[TLB_STLB][ps];
	t->cnt.fills[fetch ? TLB_INSN : TLB_DATA][ps]++;
	if (l1->ways)
		tlb_insert(t, l1, tlb_key(l1, gva), wbit);
	if (l2->ways)
		tlb_insert(t, l2, tlb_key(l2, gva), wbit);
}

/* The epoch is about to reach its limit (after 2^31 - 3 flushes).  Every entry is then either empty
 * or flushed, so squash all flushed epochs to 1 and continue from 2: which entries are stale
 * is preserved exactly, and refill accounting does not notice the wrap.  (A flushed entry's
 * writable bit means nothing: only a fill makes it live again, and the fill sets the bit.) */
static void tlb_rebase_epochs(struct tlb *t)
{
	size_t i;

	for (i = 0; i < t->nr_slots; i++) {
		struct tlb_entry *e = &t->slots[i];

		if (ctx_epoch(e->ctx))
			e->ctx = (e->ctx & ~TLB_LOW_MASK) | TLB_EPOCH_ONE;
	}
	t->ctx = (t->ctx & ~TLB_LOW_MASK) | TLB_EPOCH_ONE;
}

void tlb_flush(struct tlb *t, enum tlb_flush_cause cause)
{
	if ((unsigned)cause >= TLB_CAUSE_NR)
		cause = TLB_CAUSE_OTHER;
	if (ctx_epoch(t->ctx) == TLB_EPOCH_MAX)
		tlb_rebase_epochs(t);
	t->ctx += TLB_EPOCH_ONE;
	t->last_cause = cause;
	t->cnt.flushes[cause]++;
}

/* INVLPG acts on the current tag only, and also drops flushed copies: a later miss on this
 * page is then the invalidation's doing, not the flush's, so it must not count as a refill. */
void tlb_invalidate_page(struct tlb *t, uint64_t gva)
{
	uint32_t tag = ctx_tag(t->ctx);
	int s, ps;

	for (s = 0; s < TLB_STRUCT_NR; s++) {
		for (ps = 0; ps < PS_NR; ps++) {
			struct tlb_array *a = &t->arr[s][ps];
			uint64_t vpn = tlb_key(a, gva);
			struct tlb_entry *set;
			uint32_t w;

			if (!a->ways)
				continue;
			set = tlb_set(a, vpn);
			for (w = 0; w < a->ways; w++) {
				struct tlb_entry *e = &set[w];

				if (e->vpn == vpn && ctx_tag(e->ctx) == tag && ctx_epoch(e->ctx))
					e->ctx &= ~TLB_LOW_MASK;
			}
		}
	}
}

void tlb_set_tag(struct tlb *t, uint32_t tag)
{
	t->ctx = (uint64_t)tag << 32 | (t->ctx & TLB_LOW_MASK);
}

const struct tlb_counters *tlb_counters(const struct tlb *t)
{
	return &t->cnt;
}
