/* ept/mmu — see mmu.h.  Function names are those of arch/x86/kvm/mmu.c (Linux 3.10/3.11)
 * and virt/kvm/kvm_main.c; each says which one it mirrors where the behaviour is subtle. */
#include "ept/mmu.h"

#include "cpu/vcpu.h"
#include "ept/dirty.h"
#include "ept/mmio.h"
#include "ept/zap.h"
#include "sim/bigmem.h"
#include "sim/config.h"
#include "sim/engine.h"
#include "sim/host.h"
#include "sim/rng.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PTE_LIST_EXT 3
#define PTE_LIST_DESC_BIT (1ULL << 63)
#define THP_RNG_STREAM 0x7417ULL

struct pte_list_desc {
	uint64_t refs[PTE_LIST_EXT];   /* spte reference + 1; 0 = empty */
	uint32_t more;                 /* next descriptor + 1; 0 = none */
};

static inline uint64_t spte_ref(const struct kvm_mmu_page *sp, unsigned idx)
{
	return ((uint64_t)sp->id << 9) | idx;
}
static inline struct kvm_mmu_page *ref_page(const struct kvm *kvm, uint64_t ref)
{
	return kvm->pages[ref >> 9];
}
static inline unsigned ref_index(uint64_t ref) { return (unsigned)(ref & 511); }

static const struct stat_def kvm_stats[] = {
	{ "ept.faults", STAT_COUNTER, "events", "EPT violations handled by the fault path" },
	{ "ept.spurious_faults", STAT_COUNTER, "events", "faults that found the spte already present" },
	{ "ept.pages_created", STAT_COUNTER, "pages", "shadow pages allocated" },
	{ "ept.pages_freed", STAT_COUNTER, "pages", "shadow pages freed by kvm_mmu_commit_zap_page" },
	{ "tlb_flush.count", STAT_COUNTER, "events", "kvm_flush_remote_tlbs() calls" },
	{ "tlb_flush.requester_cycles", STAT_HIST, "cycles", "requester's wait per remote flush (IPIs + acks)" },
	{ "tlb_flush.ipis", STAT_COUNTER, "events", "IPIs sent for remote TLB flushes" },
	{ "vcpu.reload_requests", STAT_COUNTER, "events", "kvm_reload_remote_mmus() calls" },
	{ "ept.noslot_faults", STAT_COUNTER, "events", "EPT violations on a GPA outside every memslot (an MMIO spte is made)" },
	{ "ept.large_replaced_table", STAT_COUNTER, "events", "a large spte installed over a page table" },
	{ "ept.prefaulted", STAT_COUNTER, "sptes", "leaf sptes set by guest.prefault before the run (no fault simulated)" },
	{ "ept.readonly_writes", STAT_COUNTER, "events", "writes to a read-only memslot: emulated (KVM_PFN_ERR_RO_FAULT), no spte" },
	{ "tlb_flush.remote_tlb_flush", STAT_COUNTER, "events",
	  "KVM's kvm->stat.remote_tlb_flush: kvm_flush_remote_tlbs() calls that sent IPIs (3.10 counts a call only when make_all_cpus_request() returns true)" },
};

static const struct stat_def hash_stats[] = {
	{ "ept.hash_entries_walked", STAT_COUNTER, "entries",
	  "mmu_page_hash entries compared by for_each_gfn_sp() walks (kvm_mmu_get_page, mmu_need_write_protect)" },
	{ "ept.hash_walk_entries", STAT_HIST, "entries", "entries compared per for_each_gfn_sp() walk" },
	{ "ept.hash_longest_chain", STAT_COUNTER, "pages", "the longest mmu_page_hash chain of the run (guest.prefault's too)" },
};

/* ---------------------------------------------------------------- pte_list (rmap) */

static uint32_t desc_alloc(struct kvm *kvm)
{
	if (kvm->free_desc) {
		uint32_t d = kvm->free_desc - 1;
		kvm->free_desc = kvm->descs[d].more;
		memset(&kvm->descs[d], 0, sizeof(kvm->descs[d]));
		return d;
	}
	if (kvm->nr_descs == kvm->cap_descs) {
		kvm->cap_descs = kvm->cap_descs ? 2 * kvm->cap_descs : 1024;
		kvm->descs = realloc(kvm->descs, kvm->cap_descs * sizeof(*kvm->descs));
		if (!kvm->descs)
			abort();
	}
	memset(&kvm->descs[kvm->nr_descs], 0, sizeof(kvm->descs[0]));
	return kvm->nr_descs++;
}

static void desc_free(struct kvm *kvm, uint32_t d)
{
	kvm->descs[d].more = kvm->free_desc;
	kvm->free_desc = d + 1;
}

/* Mirrors pte_list_add(): a single entry in the head, more in chained descriptors. */
static void pte_list_add(struct kvm *kvm, uint64_t *head, uint64_t ref)
{
	if (!*head) {
		*head = ref + 1;
		return;
	}
	if (!(*head & PTE_LIST_DESC_BIT)) {
		uint32_t d = desc_alloc(kvm);
		kvm->descs[d].refs[0] = *head;
		kvm->descs[d].refs[1] = ref + 1;
		*head = PTE_LIST_DESC_BIT | d;
		return;
	}
	uint32_t d = (uint32_t)(*head & ~PTE_LIST_DESC_BIT);
	for (;;) {
		struct pte_list_desc *desc = &kvm->descs[d];
		for (int i = 0; i < PTE_LIST_EXT; i++) {
			if (!desc->refs[i]) {
				desc->refs[i] = ref + 1;
				return;
			}
		}
		if (!desc->more) {
			uint32_t n = desc_alloc(kvm);
			kvm->descs[d].more = n + 1;   /* desc may have moved */
			kvm->descs[n].refs[0] = ref + 1;
			return;
		}
		d = desc->more - 1;
	}
}

/* Model invariant (rmap_remove()): ref is on the list, since every present spte was added
 * to its gfn's rmap when it was set and is removed once, when it is dropped. */
static void pte_list_remove(struct kvm *kvm, uint64_t *head, uint64_t ref)
{
	assert(*head);
	if (!(*head & PTE_LIST_DESC_BIT)) {
		assert(*head == ref + 1);
		*head = 0;
		return;
	}
	uint32_t first = (uint32_t)(*head & ~PTE_LIST_DESC_BIT);
	uint32_t prev = UINT32_MAX;
	for (uint32_t d = first;;) {
		struct pte_list_desc *desc = &kvm->descs[d];
		for (int i = 0; i < PTE_LIST_EXT; i++) {
			if (desc->refs[i] != ref + 1)
				continue;
			/* Compact: move the last entry of this descriptor into the hole. */
			int last = PTE_LIST_EXT - 1;
			while (!desc->refs[last])
				last--;
			desc->refs[i] = desc->refs[last];
			desc->refs[last] = 0;
			if (last == 0) {
				/* descriptor empty: unlink it */
				if (prev == UINT32_MAX) {
					*head = desc->more ? (PTE_LIST_DESC_BIT | (desc->more - 1)) : 0;
				} else {
					kvm->descs[prev].more = desc->more;
				}
				desc_free(kvm, d);
			}
			/* a list down to one entry goes back to the single form */
			if (*head & PTE_LIST_DESC_BIT) {
				struct pte_list_desc *h = &kvm->descs[*head & ~PTE_LIST_DESC_BIT];
				if (!h->more && h->refs[0] && !h->refs[1]) {
					uint32_t hd = (uint32_t)(*head & ~PTE_LIST_DESC_BIT);
					*head = h->refs[0];
					desc_free(kvm, hd);
				}
			}
			return;
		}
		assert(desc->more);   /* ref is on the list (above) */
		prev = d;
		d = desc->more - 1;
	}
}

/* Any entry of the list, or UINT64_MAX if empty (rmap_get_first()). */
static uint64_t pte_list_first(const struct kvm *kvm, uint64_t head)
{
	if (!head)
		return UINT64_MAX;
	if (!(head & PTE_LIST_DESC_BIT))
		return head - 1;
	return kvm->descs[head & ~PTE_LIST_DESC_BIT].refs[0] - 1;
}

static unsigned pte_list_count(const struct kvm *kvm, uint64_t head)
{
	if (!head)
		return 0;
	if (!(head & PTE_LIST_DESC_BIT))
		return 1;
	unsigned n = 0;
	for (uint32_t d = (uint32_t)(head & ~PTE_LIST_DESC_BIT) + 1; d; d = kvm->descs[d - 1].more)
		for (int i = 0; i < PTE_LIST_EXT; i++)
			n += kvm->descs[d - 1].refs[i] != 0;
	return n;
}

static bool pte_list_contains(const struct kvm *kvm, uint64_t head, uint64_t ref)
{
	if (!head)
		return false;
	if (!(head & PTE_LIST_DESC_BIT))
		return head == ref + 1;
	for (uint32_t d = (uint32_t)(head & ~PTE_LIST_DESC_BIT) + 1; d; d = kvm->descs[d - 1].more)
		for (int i = 0; i < PTE_LIST_EXT; i++)
			if (kvm->descs[d - 1].refs[i] == ref + 1)
				return true;
	return false;
}

/* ---------------------------------------------------------------- memslots */

static uint64_t gfn_to_index(gfn_t gfn, gfn_t base_gfn, int level)
{
	unsigned s = 9 * (unsigned)(level - 1);
	return (gfn >> s) - (base_gfn >> s);
}

/* The slot holding gfn, present or not (NULL if none). */
static struct kvm_memory_slot *gfn_to_any_slot(struct kvm *kvm, gfn_t gfn)
{
	for (uint32_t i = 0; i < kvm->nr_slots; i++)
		if (gfn >= kvm->slots[i].base_gfn && gfn < kvm->slots[i].base_gfn + kvm->slots[i].npages)
			return &kvm->slots[i];
	return NULL;
}

/* The slot is found even when it is not present: a slot being deleted is still in memslots
 * (KVM_MEMSLOT_INVALID) while the zap drops its sptes; only the fault path skips it. */
static uint64_t *gfn_to_rmap(struct kvm *kvm, gfn_t gfn, int level)
{
	struct kvm_memory_slot *slot = kvm->rmap_slot_hint;   /* zaps go slot by slot */

	if (!slot || gfn < slot->base_gfn || gfn >= slot->base_gfn + slot->npages) {
		slot = gfn_to_any_slot(kvm, gfn);
		/* a spte maps a gfn of a slot; a delete or move zaps every spte before the slot
		 * changes, and a slot's base is its config's or a move's (both below 2^48) */
		assert(slot);
		kvm->rmap_slot_hint = slot;
	}
	return &slot->rmap[level - 1][gfn_to_index(gfn, slot->base_gfn, level)];
}

struct kvm_memory_slot *gfn_to_memslot(struct kvm *kvm, gfn_t gfn)
{
	for (uint32_t i = 0; i < kvm->nr_slots; i++) {
		struct kvm_memory_slot *s = &kvm->slots[i];
		if (s->present && gfn >= s->base_gfn && gfn < s->base_gfn + s->npages)
			return s;
	}
	return NULL;
}

struct kvm_memory_slot *kvm_slot_by_name(struct kvm *kvm, const char *name)
{
	for (uint32_t i = 0; i < kvm->nr_slots; i++)
		if (!strcmp(kvm->slots[i].name, name))
			return &kvm->slots[i];
	return NULL;
}

/* Mirrors host_mapping_level() + the PageTransCompound() test of
 * transparent_hugepage_adjust(): the host page backing gfn bounds the EPT mapping. */
int host_mapping_level(const struct kvm_memory_slot *slot, gfn_t gfn)
{
	switch (slot->backing) {
	case BACKING_HUGETLB_1G:
		return PT_PDPE_LEVEL;
	case BACKING_HUGETLB_2M:
		return PT_DIRECTORY_LEVEL;
	case BACKING_THP:
		return slot->thp[gfn_to_index(gfn, slot->base_gfn, PT_DIRECTORY_LEVEL)] ?
		       PT_DIRECTORY_LEVEL : PT_PAGE_TABLE_LEVEL;
	default:
		return PT_PAGE_TABLE_LEVEL;
	}
}

/* host_mapping_level() of Linux 3.10 itself: kvm_host_page_size(), the page size of the
 * vma, which is a hugetlbfs page's size and 4K for anonymous memory even where a THP backs
 * it (PageTransCompound() is looked at later, by transparent_hugepage_adjust()). */
static int vma_mapping_level(const struct kvm_memory_slot *slot)
{
	return slot->backing == BACKING_THP ? PT_PAGE_TABLE_LEVEL : host_mapping_level(slot, slot->base_gfn);
}

/* The level for gfn given the host's: bounded by the CPU and the slot's edges (lpage_info's
 * write_count is raised for large frames that cross them, so they are never mapped large);
 * 4K while the slot is dirty-logged (force_pt_level = mapping_level_dirty_bitmap()). */
static int __mapping_level(struct kvm *kvm, const struct kvm_memory_slot *slot, gfn_t gfn, int level)
{
	/* mapping_level_dirty_bitmap(): dirty logging tracks 4K pages, so it maps 4K */
	if (slot->dirty_logging)
		return PT_PAGE_TABLE_LEVEL;
	int max = kvm->sc->max_mapping + 1;

	if (level > max)
		level = max;
	for (; level > PT_PAGE_TABLE_LEVEL; level--) {
		uint64_t n = kvm_pages_per_hpage(level);
		gfn_t start = gfn & ~(n - 1);
		if (start >= slot->base_gfn && start + n <= slot->base_gfn + slot->npages)
			break;
	}
	return level;
}

/* Mirrors mapping_level() and, for THP, transparent_hugepage_adjust() on the slow path
 * (Linux 3.10 tdp_page_fault()): the largest level the host backing, the CPU and the slot's
 * bounds allow. */
int mapping_level(struct kvm *kvm, const struct kvm_memory_slot *slot, gfn_t gfn)
{
	return __mapping_level(kvm, slot, gfn, host_mapping_level(slot, gfn));
}

static void rmaps_free(struct kvm_memory_slot *s)
{
	for (int l = 0; l < KVM_NR_PAGE_SIZES; l++) {
		big_free(s->rmap[l], s->rmap_n[l] * sizeof(uint64_t));
		s->rmap[l] = NULL;
		s->rmap_n[l] = 0;
	}
}

/* One head per frame of each level in the slot (KVM's per-memslot rmap arrays). */
static int rmaps_alloc(struct kvm_memory_slot *s)
{
	for (int l = 1; l <= KVM_NR_PAGE_SIZES; l++) {
		uint64_t n = gfn_to_index(s->base_gfn + s->npages - 1, s->base_gfn, l) + 1;
		s->rmap[l - 1] = big_zalloc(n * sizeof(uint64_t));
		if (!s->rmap[l - 1])
			return -1;
		s->rmap_n[l - 1] = n;
	}
	return 0;
}

static int slots_init(struct kvm *kvm)
{
	const struct scenario *sc = kvm->sc;

	kvm->nr_slots = sc->nr_slots;
	kvm->slots = calloc(sc->nr_slots, sizeof(*kvm->slots));
	if (!kvm->slots)
		return -1;
	for (uint32_t i = 0; i < sc->nr_slots; i++) {
		const struct memslot_cfg *c = &sc->slots[i];
		struct kvm_memory_slot *s = &kvm->slots[i];
		s->id = i;
		s->name = c->name;
		s->base_gfn = c->base >> 12;
		s->npages = c->size >> 12;
		s->backing = c->backing;
		s->readonly = c->readonly;
		s->present = c->present;
		if (rmaps_alloc(s))
			return -1;
		uint64_t n2m = gfn_to_index(s->base_gfn + s->npages - 1, s->base_gfn, 2) + 1;
		s->thp = calloc(n2m, 1);
		s->thp_n = n2m;
		if (!s->thp)
			return -1;
		/* Which 2M regions got a THP is fixed per run: one draw per region. */
		struct rng r;
		rng_seed(&r, sc->seed, THP_RNG_STREAM + i);
		for (uint64_t k = 0; k < n2m; k++)
			s->thp[k] = rng_double(&r) < c->thp_fraction;
	}
	return 0;
}

/* ---------------------------------------------------------------- mmu_page_hash */

static uint32_t hashfn_linux_310(gfn_t gfn, unsigned shift) { return (uint32_t)(gfn & ((1ULL << shift) - 1)); }
static uint32_t hashfn_hash64(gfn_t gfn, unsigned shift) { return hash_64(gfn, shift); }

const struct mmu_hash_ops mmu_hash_variants[] = {
	/* 3.10 (and up to 4.10) kvm_page_table_hashfn(): `gfn & ((1 << KVM_MMU_HASH_SHIFT) - 1)`,
	 * KVM_MMU_HASH_SHIFT 10 (arch/x86/include/asm/kvm_host.h).  A direct map's table gfns
	 * are multiples of 512 (the pseudo_gfn of __direct_map()): they all go to buckets 0 and
	 * 512, and every data gfn that is a multiple of 512 walks one of those two chains in
	 * mmu_need_write_protect(). */
	[MMU_HASH_LINUX_310] = { .name = "linux-3.10", .shift = 10, .hashfn = hashfn_linux_310 },
	/* Linux 4.11: hash_64(gfn, KVM_MMU_HASH_SHIFT), KVM_MMU_HASH_SHIFT 12 (commit 114df303a7ee,
	 * "kvm: x86: reduce collisions in mmu_page_hash"; 4.10.17 still has the mask, 4.11.0 this). */
	[MMU_HASH_HASH64] = { .name = "hash64", .shift = 12, .hashfn = hashfn_hash64 },
};

static int mmu_hash_init(struct kvm *kvm)
{
	kvm->hash_ops = &mmu_hash_variants[kvm->sc->mmu_hash];
	size_t n = (size_t)1 << kvm->hash_ops->shift;
	kvm->mmu_page_hash = malloc(n * sizeof(*kvm->mmu_page_hash));
	kvm->mmu_page_hash_len = calloc(n, sizeof(*kvm->mmu_page_hash_len));
	if (!kvm->mmu_page_hash || !kvm->mmu_page_hash_len)
		return -ENOMEM;
	for (size_t b = 0; b < n; b++)
		INIT_LIST_HEAD(&kvm->mmu_page_hash[b]);
	return STATS_REGISTER_STRUCT(kvm->st, hash_stats, &kvm->hash_sid);
}

static inline uint32_t sp_index_bucket(const struct kvm *kvm, gfn_t gfn) { return hash_64(gfn, kvm->sp_index_bits); }

/* hlist_add_head(&sp->hash_link, &mmu_page_hash[kvm_page_table_hashfn(gfn)]) of 3.10
 * kvm_mmu_get_page(), and the same page in the index. */
static void hash_add(struct kvm *kvm, struct kvm_mmu_page *sp)
{
	uint32_t b = kvm_page_table_hashfn(kvm, sp->gfn);
	list_add(&sp->hash_link, &kvm->mmu_page_hash[b]);
	if (++kvm->mmu_page_hash_len[b] > stats_counter(kvm->st, kvm->hash_sid.longest))
		stats_set(kvm->st, kvm->hash_sid.longest, kvm->mmu_page_hash_len[b]);

	uint32_t i = sp_index_bucket(kvm, sp->gfn);
	sp->index_next = kvm->sp_index[i];
	if (sp->index_next)
		sp->index_next->index_pprev = &sp->index_next;
	kvm->sp_index[i] = sp;
	sp->index_pprev = &kvm->sp_index[i];
}

/* hlist_del(&sp->hash_link) of 3.10 kvm_mmu_free_page(). */
static void hash_del(struct kvm *kvm, struct kvm_mmu_page *sp)
{
	list_del_init(&sp->hash_link);
	kvm->mmu_page_hash_len[kvm_page_table_hashfn(kvm, sp->gfn)]--;
	*sp->index_pprev = sp->index_next;
	if (sp->index_next)
		sp->index_next->index_pprev = sp->index_pprev;
}

/* Where sp sits in its chain, counted from the head (1: the first entry the walk compares).
 * Counted from whichever end is nearer: a long chain's hit is mostly recent or the oldest
 * page (the root), and the count is the same. */
static uint32_t hash_chain_pos(const struct kvm *kvm, const struct kvm_mmu_page *sp)
{
	uint32_t b = kvm_page_table_hashfn(kvm, sp->gfn);
	const struct list_head *f = kvm->mmu_page_hash[b].next, *r = kvm->mmu_page_hash[b].prev;

	for (uint32_t i = 1;; i++, f = f->next, r = r->prev) {
		if (f == &sp->hash_link)
			return i;
		if (r == &sp->hash_link)
			return kvm->mmu_page_hash_len[b] + 1 - i;
	}
}

/* The walk of for_each_gfn_sp(kvm, sp, gfn): every entry of gfn's chain from the head until
 * the one the caller stops at (found), or all of them; each entry compared costs
 * costs.hash_chain_entry.  Obsolete and invalid pages are entries like any other: they stay
 * hashed until kvm_mmu_free_page(). */
static void hash_walk(struct kvm *kvm, gfn_t gfn, const struct kvm_mmu_page *found)
{
	if (kvm->building)
		return;   /* kvm_mmu_prefault(): outside simulated time */
	uint64_t n = found ? hash_chain_pos(kvm, found) : kvm->mmu_page_hash_len[kvm_page_table_hashfn(kvm, gfn)];

	stats_add(kvm->st, kvm->hash_sid.entries, n);
	stats_hist_add(kvm->st, kvm->hash_sid.walk, n);
	if (n)
		kvm_spend(kvm, n * kvm->sc->costs.hash_chain_entry);
}

/* Mirrors mmu_need_write_protect() of 3.10, called by set_spte() for every spte it makes
 * writable: for_each_gfn_indirect_valid_sp() walks the data gfn's chain looking for an
 * indirect (shadow-paging) page of that gfn.  A TDP guest has none, so it walks the whole
 * chain and finds nothing. */
static void mmu_need_write_protect(struct kvm *kvm, gfn_t gfn)
{
	hash_walk(kvm, gfn, NULL);
}

/* ---------------------------------------------------------------- kvm */

#ifdef EPTSIM_CHECK_INVARIANTS
static void check_on_release(void *ctx, struct actor *a)
{
	(void)a;
	kvm_check_invariants(ctx, "when mmu_lock was released");
}
#endif

struct kvm *kvm_new(const struct scenario *sc, struct engine *e, struct host *h, struct stats *st)
{
	struct kvm *kvm = calloc(1, sizeof(*kvm));

	if (!kvm)
		return NULL;
	kvm->sc = sc;
	kvm->e = e;
	kvm->host = h;
	kvm->st = st;
	INIT_LIST_HEAD(&kvm->active_mmu_pages);
	spt_pool_init(&kvm->spt_pool);
	/* The index: one bucket per 2M of guest memory, at least 1024. */
	uint64_t want = sc->mem >> 21;
	uint32_t n = 1024;
	while (n < want && n < (1u << 24))
		n <<= 1;
	kvm->sp_index = calloc(n, sizeof(*kvm->sp_index));
	kvm->sp_index_bits = (unsigned)__builtin_ctz(n);
	kvm->slots_waiters = calloc((size_t)sc->vcpus + 1, sizeof(*kvm->slots_waiters));
	if (!kvm->sp_index || !kvm->slots_waiters || mmu_hash_init(kvm) || slots_init(kvm) ||
	    STATS_REGISTER_STRUCT(st, kvm_stats, &kvm->sid)) {
		kvm_free(kvm);
		return NULL;
	}
	if (zap_init(kvm) || mmio_init(kvm) || dirty_init(kvm)) {
		kvm_free(kvm);
		return NULL;
	}
#ifdef EPTSIM_CHECK_INVARIANTS
	host_set_release_hook(h, check_on_release, kvm);
#endif
	return kvm;
}

void kvm_free(struct kvm *kvm)
{
	if (!kvm)
		return;
	mmio_free(kvm);
	dirty_free(kvm);
	/* Every page there is, whatever list it is on: a run that ends while an actor is inside
	 * a zap leaves pages on its invalid_list (whose head was on its fiber's stack, freed
	 * with the fiber).  The lists, the hash and the spt pool go as a whole. */
	for (uint32_t i = 0; i < kvm->nr_ids; i++)
		free(kvm->pages[i]);
	for (uint32_t i = 0; kvm->slots && i < kvm->nr_slots; i++) {
		rmaps_free(&kvm->slots[i]);
		free(kvm->slots[i].thp);
	}
	free(kvm->slots);
	free(kvm->slots_waiters);
	spt_pool_destroy(&kvm->spt_pool);
	free(kvm->sp_index);
	free(kvm->mmu_page_hash);
	free(kvm->mmu_page_hash_len);
	free(kvm->pages);
	free(kvm->free_ids);
	free(kvm->descs);
	free(kvm);
}

void kvm_attach_vcpus(struct kvm *kvm, struct vcpu **vcpus, uint32_t n)
{
	kvm->vcpus = vcpus;
	kvm->nr_vcpus = n;
}

struct actor *kvm_current(struct kvm *kvm) { return engine_current(kvm->e); }

static inline void spend(struct kvm *kvm, uint64_t cycles)
{
	if (kvm->building)
		return;   /* kvm_mmu_prefault(): outside simulated time */
	struct actor *a = engine_current(kvm->e);

	if (a->ctx)   /* a vCPU: charge its current category */
		vcpu_spend((struct vcpu *)a->ctx, cycles);
	else
		actor_spend(kvm->e, a, cycles);
}

void kvm_spend(struct kvm *kvm, uint64_t cycles) { spend(kvm, cycles); }

/* Model invariant: the kernel code calls these under mmu_lock, as the kernel does. */
static void assert_locked(struct kvm *kvm)
{
	(void)kvm;
	assert(kvm->building || spin_is_locked_by(kvm->host, kvm_current(kvm)));
}

/* ---------------------------------------------------------------- shadow pages */

static uint32_t id_alloc(struct kvm *kvm)
{
	if (kvm->nr_free_ids)
		return kvm->free_ids[--kvm->nr_free_ids];
	if (kvm->nr_ids == kvm->cap_ids) {
		kvm->cap_ids = kvm->cap_ids ? 2 * kvm->cap_ids : 1024;
		kvm->pages = realloc(kvm->pages, kvm->cap_ids * sizeof(*kvm->pages));
		kvm->free_ids = realloc(kvm->free_ids, kvm->cap_ids * sizeof(*kvm->free_ids));
		if (!kvm->pages || !kvm->free_ids)
			abort();
	}
	return kvm->nr_ids++;
}


static struct kvm_mmu_page *kvm_mmu_alloc_page(struct kvm *kvm)
{
	struct kvm_mmu_page *sp = calloc(1, sizeof(*sp));
	if (!sp)
		abort();
	sp->spt = spt_pool_alloc(&kvm->spt_pool);
	if (!sp->spt)
		abort();
	sp->id = id_alloc(kvm);
	kvm->pages[sp->id] = sp;
	/* New pages go to the head: zap-all walks from the tail, oldest first. */
	list_add(&sp->link, &kvm->active_mmu_pages);
	kvm->n_used_mmu_pages++;
	return sp;
}

/* Mirrors kvm_mmu_free_page(): the page leaves the hash here, at commit, not at prepare
 * time (3.10: hlist_del() in kvm_mmu_free_page(); the v7 09/11 review). */
static void kvm_mmu_free_page(struct kvm *kvm, struct kvm_mmu_page *sp)
{
	hash_del(kvm, sp);
	list_del_init(&sp->link);
	kvm->pages[sp->id] = NULL;
	kvm->free_ids[kvm->nr_free_ids++] = sp->id;
	spt_pool_free(&kvm->spt_pool, sp->spt);
	free(sp);
}

/* Mirrors kvm_mmu_get_page() for direct pages, with the v7 rule that the hash look-up
 * ignores obsolete pages (the v7 09/11 review).  The page is found through the index; the
 * walk of its mmu_page_hash chain the kernel does is charged (hash_walk()). */
struct kvm_mmu_page *kvm_mmu_get_page(struct kvm *kvm, gfn_t gfn, int level)
{
	union kvm_mmu_page_role role = { .word = 0 };
	struct kvm_mmu_page *sp;

	assert_locked(kvm);
	role.level = (unsigned)level;
	role.direct = 1;
	for (sp = kvm->sp_index[sp_index_bucket(kvm, gfn)]; sp; sp = sp->index_next) {
		if (sp->gfn != gfn || is_obsolete_sp(kvm, sp) || sp->role.word != role.word)
			continue;
		hash_walk(kvm, gfn, sp);
		return sp;
	}
	hash_walk(kvm, gfn, NULL);
	sp = kvm_mmu_alloc_page(kvm);
	sp->gfn = gfn;
	sp->role = role;
	hash_add(kvm, sp);
	sp->mmu_valid_gen = kvm->mmu_valid_gen;
	stats_add(kvm->st, kvm->sid.pages_created, 1);
	kvm_spend(kvm, kvm->sc->costs.sp_alloc);
	return sp;
}

static bool sp_linked(const struct kvm_mmu_page *sp) { return sp->parent_ptes || sp->root_count; }

/* Leaf accounting: every leaf in nr_leaves, leaves of linked tables in nr_reach. */
static void leaf_added(struct kvm *kvm, struct kvm_mmu_page *sp)
{
	sp->nr_leaf++;
	kvm->nr_leaves[sp->role.level]++;
	if (sp_linked(sp))
		kvm->nr_reach[sp->role.level]++;
}

static void leaf_removed(struct kvm *kvm, struct kvm_mmu_page *sp)
{
	sp->nr_leaf--;
	kvm->nr_leaves[sp->role.level]--;
	if (sp_linked(sp))
		kvm->nr_reach[sp->role.level]--;
}

static void link_shadow_page(struct kvm *kvm, struct kvm_mmu_page *parent, unsigned idx,
			     struct kvm_mmu_page *child)
{
	if (!sp_linked(child))
		kvm->nr_reach[child->role.level] += child->nr_leaf;
	parent->spt[idx] = SPTE_PRESENT | SPTE_WRITABLE | ((uint64_t)child->id << SPTE_CHILD_SHIFT);
	parent->nr_present++;
	pte_list_add(kvm, &child->parent_ptes, spte_ref(parent, idx));
}

/* Mirrors drop_parent_pte(): unlink child from one parent spte and clear that spte. */
static void drop_parent_pte(struct kvm *kvm, struct kvm_mmu_page *child, uint64_t ref)
{
	struct kvm_mmu_page *parent = ref_page(kvm, ref);

	pte_list_remove(kvm, &child->parent_ptes, ref);
	parent->spt[ref_index(ref)] = 0;
	parent->nr_present--;
	if (!sp_linked(child))
		kvm->nr_reach[child->role.level] -= child->nr_leaf;
}

static gfn_t spte_gfn(const struct kvm_mmu_page *sp, unsigned idx)
{
	return sp->gfn + ((gfn_t)idx << (9 * (sp->role.level - 1)));
}

/* Mirrors drop_spte(): clear a leaf spte and remove it from its rmap. */
static void drop_spte(struct kvm *kvm, struct kvm_mmu_page *sp, unsigned idx)
{
	gfn_t gfn = spte_gfn(sp, idx);

	pte_list_remove(kvm, gfn_to_rmap(kvm, gfn, sp->role.level), spte_ref(sp, idx));
	sp->spt[idx] = 0;
	sp->nr_present--;
	leaf_removed(kvm, sp);
}

void drop_mmio_spte(struct kvm *kvm, struct kvm_mmu_page *sp, unsigned idx)
{
	(void)kvm;
	assert(is_mmio_spte(sp->spt[idx]));   /* every caller has just tested is_mmio_spte() */
	sp->spt[idx] = 0;
	sp->nr_mmio--;
}

/* Mirrors mmu_page_zap_pte(): a present spte is dropped or unlinked, an MMIO spte cleared. */
static void mmu_page_zap_pte(struct kvm *kvm, struct kvm_mmu_page *sp, unsigned idx)
{
	uint64_t spte = sp->spt[idx];

	if (is_mmio_spte(spte)) {
		drop_mmio_spte(kvm, sp, idx);
		return;
	}
	if (!is_shadow_present_pte(spte))
		return;
	if (is_last_spte(spte, sp->role.level))
		drop_spte(kvm, sp, idx);
	else
		drop_parent_pte(kvm, mmu_page(kvm, spte_child_id(spte)), spte_ref(sp, idx));
	kvm_spend(kvm, kvm->sc->costs.zap_spte);
}

/* mmu_page_zap_pte() over a level-1 table without MMIO sptes: every present spte is a leaf,
 * and most rmaps hold that one spte.  The same steps and costs, fewer calls (through
 * drop_spte() a 32 GiB build+zap takes 22% more instructions). */
static void zap_leaf_table(struct kvm *kvm, struct kvm_mmu_page *sp)
{
	uint64_t cost = kvm->sc->costs.zap_spte;

	for (unsigned i = 0; i < PT64_ENT_PER_PAGE && sp->nr_present; i++) {
		if (!is_shadow_present_pte(sp->spt[i]))
			continue;
		uint64_t *head = gfn_to_rmap(kvm, sp->gfn + i, PT_PAGE_TABLE_LEVEL);
		uint64_t ref = spte_ref(sp, i);
		if (*head == ref + 1)
			*head = 0;   /* pte_list_remove() of the only entry */
		else
			pte_list_remove(kvm, head, ref);
		sp->spt[i] = 0;
		sp->nr_present--;
		leaf_removed(kvm, sp);
		spend(kvm, cost);
	}
}

static void kvm_mmu_page_unlink_children(struct kvm *kvm, struct kvm_mmu_page *sp)
{
	if (sp->role.level == PT_PAGE_TABLE_LEVEL && !sp->nr_mmio) {
		zap_leaf_table(kvm, sp);
		return;
	}
	for (unsigned i = 0; i < PT64_ENT_PER_PAGE && (sp->nr_present || sp->nr_mmio); i++)
		mmu_page_zap_pte(kvm, sp, i);
}

static void kvm_mmu_unlink_parents(struct kvm *kvm, struct kvm_mmu_page *sp)
{
	uint64_t ref;

	while ((ref = pte_list_first(kvm, sp->parent_ptes)) != UINT64_MAX)
		drop_parent_pte(kvm, sp, ref);
}

/* Mirrors kvm_mmu_prepare_zap_page() of Linux 3.10: unlink the page from its children and
 * parents; a page that is not a root goes to invalid_list (counted), a root in use stays on
 * active_mmu_pages, marked invalid, and the vCPUs are asked to reload: every time in 3.9 and
 * 3.10 (`kvm_reload_remote_mmus(kvm);` with no test), in 3.11 only
 * `if (!sp->role.invalid && !is_obsolete_sp(kvm, sp))` (kvm->root_zap_reload_always). */
int kvm_mmu_prepare_zap_page(struct kvm *kvm, struct kvm_mmu_page *sp, struct list_head *invalid_list)
{
	int ret = 0;   /* mmu_zap_unsync_children(): TDP pages are never unsync */

	assert_locked(kvm);
	kvm_spend(kvm, kvm->sc->costs.zap_page);
	kvm_mmu_page_unlink_children(kvm, sp);
	kvm_mmu_unlink_parents(kvm, sp);
	if (!sp->root_count) {
		ret++;
		list_move(&sp->link, invalid_list);
		kvm->n_used_mmu_pages--;
	} else {
		list_move(&sp->link, &kvm->active_mmu_pages);
		if (kvm->root_zap_reload_always || (!sp->role.invalid && !is_obsolete_sp(kvm, sp)))
			kvm_reload_remote_mmus(kvm);
	}
	sp->role.invalid = 1;
	return ret;
}

/* Mirrors kvm_mmu_commit_zap_page(): one remote TLB flush, which also waits for every vCPU
 * to leave guest mode (lockless walkers), then free the pages. */
void kvm_mmu_commit_zap_page(struct kvm *kvm, struct list_head *invalid_list)
{
	struct kvm_mmu_page *sp, *n;

	if (list_empty(invalid_list))
		return;
#ifdef EPTSIM_CHECK_INVARIANTS
	/* the flush requests each vCPU has taken so far; on this actor's stack, not the heap:
	 * a run that ends while the flush below waits tears the fiber down here (a heap copy
	 * leaked then, found by test_scen seed 154 under LeakSanitizer); 1024 vCPUs are 8 KiB */
	uint64_t taken[kvm->nr_vcpus + 1];
	for (uint32_t i = 0; i < kvm->nr_vcpus; i++)
		taken[i] = kvm->vcpus[i]->n.flush_requests;
#endif
	kvm_flush_remote_tlbs(kvm);
#ifdef EPTSIM_CHECK_INVARIANTS
	/* Before the pages are freed, no vCPU may still run guest code with its TLB unflushed:
	 * each is out of guest mode, or has the flush pending and takes it before its next
	 * access (checked in vcpu_exec()), or has taken it since the request (a vCPU outside
	 * guest mode gets no IPI: it can take the request and enter the guest again while the
	 * requester waits for the others' acknowledgements). */
	for (uint32_t i = 0; i < kvm->nr_vcpus; i++) {
		struct vcpu *v = kvm->vcpus[i];
		if (v->mode == IN_GUEST_MODE && !(v->requests & KVM_REQ_TLB_FLUSH) && v->n.flush_requests == taken[i] &&
		    &v->actor != kvm_current(kvm)) {
			fprintf(stderr, "eptsim: invariant broken: vCPU %u is in guest mode without a pending "
				"flush when shadow pages are freed\n", v->id);
			abort();
		}
	}
#endif
	list_for_each_entry_safe(sp, n, invalid_list, link) {
		/* kvm_mmu_prepare_zap_page() lists only invalid pages no root holds */
		assert(sp->role.invalid && !sp->root_count);
		kvm_mmu_free_page(kvm, sp);
		stats_add(kvm->st, kvm->sid.pages_freed, 1);
		kvm_spend(kvm, kvm->sc->costs.free_page);
	}
}


/* The leaf set_spte() of Linux 3.10 makes for TDP (pte_access ACC_ALL): writable, and
 * mmu-writable, whenever the host page is (host_writable), whether the fault read or wrote. */
static uint64_t tdp_leaf_spte(bool host_writable, int level)
{
	return SPTE_PRESENT | (host_writable ? SPTE_HOST_WRITEABLE | SPTE_WRITABLE | SPTE_MMU_WRITEABLE : 0) |
	       (level > PT_PAGE_TABLE_LEVEL ? SPTE_LARGE : 0);
}

/* ---------------------------------------------------------------- dirty logging, collapse */

/* Copy gfn's rmap at level into refs (the list changes while we act on it). */
static unsigned rmap_refs(const struct kvm *kvm, uint64_t head, uint64_t *refs, unsigned max)
{
	unsigned n = 0;
	if (!head)
		return 0;
	if (!(head & PTE_LIST_DESC_BIT)) {
		refs[n++] = head - 1;
		return n;
	}
	for (uint32_t d = (uint32_t)(head & ~PTE_LIST_DESC_BIT) + 1; d; d = kvm->descs[d - 1].more)
		for (int i = 0; i < PTE_LIST_EXT && n < max; i++)
			if (kvm->descs[d - 1].refs[i])
				refs[n++] = kvm->descs[d - 1].refs[i] - 1;
	return n;
}

unsigned kvm_pte_list_refs(const struct kvm *kvm, uint64_t head, uint64_t *refs, unsigned max)
{
	return rmap_refs(kvm, head, refs, max);
}

#define RMAP_MAX_REFS 64

void mark_page_dirty(struct kvm *kvm, struct kvm_memory_slot *slot, gfn_t gfn)
{
	if (!slot || !slot->dirty_logging)
		return;
	uint64_t i = gfn - slot->base_gfn;
	slot->dirty_bitmap[i / 64] |= 1ULL << (i % 64);
	kvm_dirty_write_fault(kvm);
}

/* Mirrors __rmap_write_protect() / spte_write_protect() of Linux 3.10. */
bool kvm_rmap_write_protect(struct kvm *kvm, struct kvm_memory_slot *slot, gfn_t gfn, int level)
{
	uint64_t refs[RMAP_MAX_REFS];
	uint64_t *head = &slot->rmap[level - 1][gfn_to_index(gfn, slot->base_gfn, level)];
	unsigned n = rmap_refs(kvm, *head, refs, RMAP_MAX_REFS);
	bool flush = false;

	for (unsigned i = 0; i < n; i++) {
		struct kvm_mmu_page *sp = ref_page(kvm, refs[i]);
		unsigned idx = ref_index(refs[i]);
		uint64_t spte = sp->spt[idx];
		if (!(spte & SPTE_WRITABLE))
			continue;
		kvm_spend(kvm, kvm->sc->costs.zap_spte);
		if (is_large_pte(spte)) {
			/* __drop_large_spte(): a large mapping cannot track 4K dirtiness */
			drop_spte(kvm, sp, idx);
		} else {
			/* pt_protect is false for dirty logging: SPTE_MMU_WRITEABLE stays, and
			 * fast_page_fault() may make the spte writable again */
			sp->spt[idx] = spte & ~SPTE_WRITABLE;
		}
		flush = true;
	}
	return flush;
}

/* Mirrors kvm_mmu_zap_collapsible_spte() of the lazy-collapse patch (Linux 4.1). */
unsigned kvm_zap_collapsible_spte(struct kvm *kvm, struct kvm_memory_slot *slot, gfn_t gfn)
{
	uint64_t refs[RMAP_MAX_REFS];
	uint64_t *head = &slot->rmap[0][gfn_to_index(gfn, slot->base_gfn, PT_PAGE_TABLE_LEVEL)];
	unsigned n = rmap_refs(kvm, *head, refs, RMAP_MAX_REFS), dropped = 0;

	for (unsigned i = 0; i < n; i++) {
		struct kvm_mmu_page *sp = ref_page(kvm, refs[i]);
		/* sp->role.direct && PageTransCompound(pfn): the host backs it with a huge page */
		if (sp->role.direct && host_mapping_level(slot, gfn) > PT_PAGE_TABLE_LEVEL) {
			drop_spte(kvm, sp, ref_index(refs[i]));
			kvm_spend(kvm, kvm->sc->costs.zap_spte);
			dropped++;
		}
	}
	return dropped;
}

unsigned kvm_collapse_table_inplace(struct kvm *kvm, struct kvm_memory_slot *slot, gfn_t gfn,
				    struct list_head *invalid_list)
{
	uint64_t refs[RMAP_MAX_REFS];
	uint64_t *head = &slot->rmap[0][gfn_to_index(gfn, slot->base_gfn, PT_PAGE_TABLE_LEVEL)];
	unsigned n = rmap_refs(kvm, *head, refs, RMAP_MAX_REFS), replaced = 0;
	gfn_t base = gfn & ~(kvm_pages_per_hpage(PT_DIRECTORY_LEVEL) - 1);

	if (mapping_level(kvm, slot, base) < PT_DIRECTORY_LEVEL)
		return 0;   /* 4K backing, or the 2M frame is not all in the slot */
	for (unsigned i = 0; i < n; i++) {
		struct kvm_mmu_page *sp = ref_page(kvm, refs[i]);
		uint64_t pref = pte_list_first(kvm, sp->parent_ptes);
		if (!sp->role.direct || sp->role.invalid || pref == UINT64_MAX || pte_list_count(kvm, sp->parent_ptes) != 1)
			continue;
		struct kvm_mmu_page *parent = ref_page(kvm, pref);
		unsigned pidx = ref_index(pref);
		/* drop the 4K leaves, unlink the table, put one large leaf where it was */
		for (unsigned k = 0; k < PT64_ENT_PER_PAGE && (sp->nr_present || sp->nr_mmio); k++) {
			if (is_shadow_present_pte(sp->spt[k]) || is_mmio_spte(sp->spt[k])) {
				replaced += is_shadow_present_pte(sp->spt[k]);
				mmu_page_zap_pte(kvm, sp, k);
			}
		}
		drop_parent_pte(kvm, sp, pref);
		kvm_mmu_prepare_zap_page(kvm, sp, invalid_list);
		parent->spt[pidx] = tdp_leaf_spte(!slot->readonly, PT_DIRECTORY_LEVEL);
		parent->nr_present++;
		leaf_added(kvm, parent);
		pte_list_add(kvm, gfn_to_rmap(kvm, base, PT_DIRECTORY_LEVEL), spte_ref(parent, pidx));
		kvm_spend(kvm, kvm->sc->costs.spte_set);
		break;   /* one table per region */
	}
	return replaced;
}

/* Mirrors fast_page_fault() of Linux 3.10, as tdp_page_fault() calls it for a write to a
 * present leaf (page_fault_can_be_fast()), with the level it chose before taking mmu_lock:
 * 4K while the slot is dirty-logged, else mapping_level(), whose host_mapping_level() is
 * 4K for THP-backed memory (only the locked slow path raises that to 2M) and the huge page's
 * size for hugetlbfs.  The lockless walk stops at a leaf or below that level; a leaf of that
 * level or larger that is writable was a spurious fault, one that is
 * spte_is_locklessly_modifiable() is made writable by cmpxchg (fast_pf_fix_direct_spte(),
 * which marks the page dirty if the slot is still logged); anything else takes the slow
 * path.  So after logging stops a write to a write-protected 4K leaf is fixed here and the
 * leaf stays 4K under THP, while under hugetlbfs the walk stops below the 2M level and the
 * slow path maps 2M over the 4K table.  (A leaf zapped since the exit: KVM retries the
 * access; here the slow path maps it, which is where the retry would go.) */
bool kvm_fast_page_fault(struct vcpu *v, uint64_t gpa)
{
	struct kvm *kvm = v->kvm;
	struct kvm_mmu_page *sp = v->root;
	gfn_t gfn = gpa >> 12;
	struct kvm_memory_slot *slot = gfn_to_memslot(kvm, gfn);

	if (!slot || !sp)
		return false;
	int level = __mapping_level(kvm, slot, gfn, vma_mapping_level(slot));
	/* The walk happens at one instant and its cost is charged after it: the vCPU never
	 * pauses holding page pointers (KVM's lockless walk runs with interrupts off, which the
	 * flush before freeing pages waits for). */
	bool ret = false;
	int levels = 0;
	uint64_t spte = 0;
	unsigned idx = 0;
	for (int l = PT64_ROOT_LEVEL; l >= PT_PAGE_TABLE_LEVEL; l--) {
		levels++;
		idx = spte_index(gpa, l);
		spte = sp->spt[idx];
		/* for_each_shadow_entry_lockless(): stop at a non-present spte, below the level, at a leaf */
		if (!is_shadow_present_pte(spte) || l < level || is_last_spte(spte, l))
			break;
		sp = mmu_page(kvm, spte_child_id(spte));
	}
	if (is_shadow_present_pte(spte) && is_last_spte(spte, level)) {
		if (spte & SPTE_WRITABLE) {
			ret = true;   /* "a spurious fault caused by TLB lazily flushed" */
		} else if (spte_is_locklessly_modifiable(spte)) {
			sp->spt[idx] = spte | SPTE_WRITABLE;
			mark_page_dirty(kvm, slot, gfn);
			kvm_fast_page_fault_fixed(kvm);
			ret = true;
		}
	}
	vcpu_spend(v, (uint64_t)levels * kvm->sc->costs.mmio_walk_level);
	return ret;
}

/* ---------------------------------------------------------------- fault path */

/* Mirrors mmu_set_spte() for a TDP leaf.  A leaf of a host-writable page is writable and
 * marks the page dirty in a dirty-logged slot (set_spte() -> mark_page_dirty()), on a read
 * fault too: Linux 3.10's __direct_map() maps TDP sptes with ACC_ALL. */
static enum pf_result mmu_set_spte(struct kvm *kvm, struct kvm_memory_slot *slot, struct kvm_mmu_page *sp,
				   unsigned idx, int level, gfn_t gfn, bool host_writable)
{
	uint64_t spte = sp->spt[idx], new_spte = tdp_leaf_spte(host_writable, level);

	/* set_spte() of 3.10, for an spte with ACC_WRITE_MASK (a host-writable page), whatever it
	 * finds there: "if (mmu_need_write_protect(vcpu, gfn, can_unsync))" walks the gfn's chain */
	if (new_spte & SPTE_WRITABLE)
		mmu_need_write_protect(kvm, gfn);
	if (is_shadow_present_pte(spte) && is_last_spte(spte, level) && (new_spte & SPTE_WRITABLE) &&
	    !(spte & SPTE_WRITABLE)) {
		/* a write-protected leaf of the same page (was_rmapped): set again, writable;
		 * the page is dirty */
		sp->spt[idx] = new_spte;
		mark_page_dirty(kvm, slot, gfn);
		kvm_spend(kvm, kvm->sc->costs.spte_set);
		return PF_FIXED;
	}

	if (is_mmio_spte(spte)) {
		/* the GPA was MMIO and is memory now (its slot was created) */
		drop_mmio_spte(kvm, sp, idx);
		spte = 0;
	}
	if (is_shadow_present_pte(spte)) {
		if (level > PT_PAGE_TABLE_LEVEL && !is_large_pte(spte)) {
			/* A page table is where the large spte goes: unlink it and flush. */
			drop_parent_pte(kvm, mmu_page(kvm, spte_child_id(spte)), spte_ref(sp, idx));
			kvm_flush_remote_tlbs(kvm);
			stats_add(kvm->st, kvm->sid.large_replaced, 1);
		} else {
			stats_add(kvm->st, kvm->sid.spurious, 1);
			return PF_FIXED;
		}
	}
	sp->spt[idx] = new_spte;
	sp->nr_present++;
	leaf_added(kvm, sp);
	pte_list_add(kvm, gfn_to_rmap(kvm, gfn, level), spte_ref(sp, idx));
	if (new_spte & SPTE_WRITABLE)
		mark_page_dirty(kvm, slot, gfn);
	kvm_spend(kvm, kvm->sc->costs.spte_set);
	return PF_FIXED;
}

/* Mirrors __direct_map(): walk from the vCPU's root, creating missing tables with
 * kvm_mmu_get_page(), and install the leaf at `level`: a mapping, or for a GPA in no memslot
 * (noslot) an MMIO spte (set_mmio_spte()). */
static enum pf_result __direct_map(struct kvm *kvm, struct kvm_mmu_page *root, struct kvm_memory_slot *slot,
				   uint64_t gpa, int level, gfn_t gfn, bool host_writable, uint64_t slots_gen)
{
	bool noslot = !slot;
	struct kvm_mmu_page *sp = root;

	assert(sp);   /* vcpu_handle_requests() loads a root before every guest entry */
	for (int l = PT64_ROOT_LEVEL;; l--) {
		unsigned idx = spte_index(gpa, l);

		kvm_spend(kvm, kvm->sc->costs.fault_walk_level);
		if (l == level && noslot) {
			if (is_shadow_present_pte(sp->spt[idx])) {
				stats_add(kvm->st, kvm->sid.spurious, 1);
				return PF_FIXED;
			}
			mark_mmio_spte(kvm, sp, idx, slots_gen);
			/* mmu_set_spte() of Linux 3.11: "if (unlikely(is_mmio_spte(*sptep) &&
			 * emulate)) *emulate = 1;": kvm_mmu_page_fault() emulates the access in
			 * the same exit */
			return PF_EMULATE;
		}
		if (l == level)
			return mmu_set_spte(kvm, slot, sp, idx, l, gfn, host_writable);
		uint64_t spte = sp->spt[idx];
		if (is_mmio_spte(spte)) {
			/* a stale MMIO spte where a table must go (the slot came back larger) */
			drop_mmio_spte(kvm, sp, idx);
			spte = 0;
		}
		if (is_shadow_present_pte(spte) && is_large_pte(spte)) {
			/* A smaller mapping is wanted under a large one (drop_large_spte()). */
			drop_spte(kvm, sp, idx);
			kvm_flush_remote_tlbs(kvm);
			spte = 0;
		}
		if (!is_shadow_present_pte(spte)) {
			uint64_t shift = 12 + 9 * (uint64_t)(l - 1);
			gfn_t pseudo_gfn = ((gpa >> shift) << shift) >> 12;
			struct kvm_mmu_page *child = kvm_mmu_get_page(kvm, pseudo_gfn, l - 1);
			link_shadow_page(kvm, sp, idx, child);
			spte = sp->spt[idx];
		}
		sp = mmu_page(kvm, spte_child_id(spte));
	}
}

/* Mirrors tdp_page_fault() of Linux 3.10. */
enum pf_result kvm_tdp_page_fault(struct vcpu *v, uint64_t gpa, bool write)
{
	struct kvm *kvm = v->kvm;
	gfn_t gfn = gpa >> 12;
	uint64_t slots_gen = kvm->memslots_generation;
	struct kvm_memory_slot *slot = gfn_to_memslot(kvm, gfn);

	/* A write to a read-only slot: __gfn_to_pfn_memslot() gives KVM_PFN_ERR_RO_FAULT,
	 * handle_abnormal_pfn() -> kvm_handle_bad_page() returns 1 ("Do not cache the mmio info
	 * caused by writing the readonly gfn into the spte ...  Return 1 to tell kvm to emulate
	 * it"), and kvm_mmu_page_fault() emulates the access, an MMIO write to userspace (Linux
	 * 3.10): no mmu_lock, no spte.  Mapping it read-only again would fault for ever. */
	if (slot && slot->readonly && write) {
		stats_add(kvm->st, kvm->sid.readonly_writes, 1);
		kvm_spend(kvm, kvm->sc->costs.ept_fault_base + kvm->sc->costs.mmio_emulate);
		return PF_EMULATE;
	}
	/* No memslot: an MMIO access; the fault installs an MMIO spte (is_noslot_pfn()) and
	 * is emulated in the same exit.  handle_abnormal_pfn() of 3.11 caches the gfn first,
	 * before mmu_lock (vcpu_cache_mmio_info()). */
	if (!slot)
		vcpu_cache_mmio_info(v, gfn);
	int level = slot ? mapping_level(kvm, slot, gfn) : PT_PAGE_TABLE_LEVEL;
	gfn &= ~(kvm_pages_per_hpage(level) - 1);
	kvm_spend(kvm, kvm->sc->costs.ept_fault_base);

	spin_lock(kvm->host, &v->actor);
	/* KVM deletes or moves a slot only after synchronize_srcu() has waited for the faults
	 * that found it, then zaps.  With no SRCU here, a fault that found a slot before the
	 * memslots changed must not map it (a deleted slot would stay mapped): retry.  So must
	 * a fault that found no slot: under zap-walk its MMIO spte would stay over a slot
	 * created meanwhile, the walk being over (generation: mark_mmio_spte()). */
	if (kvm->memslots_generation != slots_gen) {
		spin_unlock(kvm->host, &v->actor);
		return PF_RETRY;
	}
	stats_add(kvm->st, slot ? kvm->sid.faults : kvm->sid.mmio_exits, 1);
	if (slot && slot->collapsed && slot->collapsed[(gfn >> 9) - (slot->base_gfn >> 9)]) {
		/* the first fault in a region whose sptes lazy-zap dropped: a refault */
		slot->collapsed[(gfn >> 9) - (slot->base_gfn >> 9)] = 0;
		kvm_collapse_refault(kvm);
	}
	enum pf_result r = __direct_map(kvm, v->root, slot, gpa, level, gfn, slot && !slot->readonly, slots_gen);
	spin_unlock(kvm->host, &v->actor);
	if (r == PF_EMULATE)   /* kvm_mmu_page_fault() -> x86_emulate_instruction() */
		kvm_spend(kvm, kvm->sc->costs.mmio_emulate);
	return r;
}

/* guest.prefault: the state a vCPU's write faults (read faults on a read-only slot, where a
 * write is emulated) leave behind when they touch every page of every present memslot
 * once, in slot order and ascending GPA (one fault per mapping-level frame), built without simulating the faults: the same __direct_map() and mmu_set_spte(),
 * with no cycles charged and no actor holding mmu_lock.  A run of 4K frames inside one 2M
 * frame goes to one level-1 table, where each fault's __direct_map() walk would end: the
 * first frame takes the walk (creating the tables), the others are set in a tight loop that
 * does what mmu_set_spte() does for an empty spte and an empty rmap (anything else takes
 * mmu_set_spte() itself: calling it for every spte makes a 32 GiB build+zap 1.75x the
 * instructions).  Returns the leaf sptes set. */
uint64_t kvm_mmu_prefault(struct kvm *kvm)
{
	uint64_t n = 0;

	kvm->building = true;
	struct kvm_mmu_page *root = kvm_mmu_get_page(kvm, 0, PT64_ROOT_LEVEL);
	for (uint32_t i = 0; i < kvm->nr_slots; i++) {
		struct kvm_memory_slot *slot = &kvm->slots[i];
		if (!slot->present)
			continue;
		bool writable = !slot->readonly, logged = slot->dirty_logging;
		gfn_t end = slot->base_gfn + slot->npages;
		for (gfn_t gfn = slot->base_gfn; gfn < end;) {
			int level = mapping_level(kvm, slot, gfn);
			gfn_t g = gfn & ~(kvm_pages_per_hpage(level) - 1);
			__direct_map(kvm, root, slot, g << 12, level, g, writable, kvm->memslots_generation);
			n++;
			gfn = g + kvm_pages_per_hpage(level);
			if (level != PT_PAGE_TABLE_LEVEL)
				continue;
			/* the rest of this 2M frame (mapping_level() is the same for all of it) */
			gfn_t stop = (g | (PT64_ENT_PER_PAGE - 1)) + 1;
			if (stop > end)
				stop = end;
			struct kvm_mmu_page *pt = root;
			for (int l = PT64_ROOT_LEVEL; l > PT_PAGE_TABLE_LEVEL; l--)
				pt = mmu_page(kvm, spte_child_id(pt->spt[spte_index(g << 12, l)]));
			uint64_t *rmap = &slot->rmap[0][gfn - slot->base_gfn];
			for (; gfn < stop; gfn++, rmap++, n++) {
				unsigned idx = (unsigned)(gfn & (PT64_ENT_PER_PAGE - 1));
				if (pt->spt[idx] || *rmap || logged) {
					mmu_set_spte(kvm, slot, pt, idx, PT_PAGE_TABLE_LEVEL, gfn, writable);
					continue;
				}
				pt->spt[idx] = tdp_leaf_spte(writable, PT_PAGE_TABLE_LEVEL);
				pt->nr_present++;
				leaf_added(kvm, pt);
				*rmap = spte_ref(pt, idx) + 1;   /* pte_list_add() to an empty list */
			}
		}
	}
	kvm->building = false;
	stats_add(kvm->st, kvm->sid.prefaulted, n);
	return n;
}

/* Mirrors kvm_mmu_load() of Linux 3.10 (arch/x86/kvm/mmu.c) for a direct map: two
 * acquisitions of mmu_lock.
 *  1. mmu_alloc_roots() -> mmu_alloc_direct_roots(): under mmu_lock, the level-4 root of the
 *     current generation (gfn 0, found by the hash look-up), which all vCPUs share;
 *     ++root_count.  (mmu_topup_memory_caches() before it runs outside the lock; its cost
 *     is not modelled.)
 *  2. `spin_lock(&vcpu->kvm->mmu_lock); mmu_sync_roots(vcpu); spin_unlock(...)`:
 *     mmu_sync_roots() returns at once for a direct map, but the lock is taken all the
 *     same (a ticket: behind every waiter queued meanwhile), held costs.mmu_sync_roots.
 * With kvm_mmu_unload() (one more) a reload takes mmu_lock three times, as in 3.10. */
void kvm_mmu_load(struct vcpu *v)
{
	struct kvm *kvm = v->kvm;

	spin_lock(kvm->host, &v->actor);
	struct kvm_mmu_page *sp = kvm_mmu_get_page(kvm, 0, PT64_ROOT_LEVEL);
	sp->root_count++;
	spin_unlock(kvm->host, &v->actor);
	v->root = sp;
	/* kvm_mmu_sync_roots(): mmu_sync_roots() is `if (vcpu->arch.mmu.direct_map) return;` */
	spin_lock(kvm->host, &v->actor);
	kvm_spend(kvm, kvm->sc->costs.mmu_sync_roots);
	spin_unlock(kvm->host, &v->actor);
}

/* Mirrors kvm_mmu_unload() = mmu_free_roots() of Linux 3.10: one acquisition of mmu_lock;
 * drop the root; an invalid root nobody uses any more is zapped and freed on the spot. */
void kvm_mmu_unload(struct vcpu *v)
{
	struct kvm *kvm = v->kvm;
	LIST_HEAD(invalid_list);

	if (!v->root)
		return;
	spin_lock(kvm->host, &v->actor);
	struct kvm_mmu_page *sp = v->root;
	kvm_spend(kvm, kvm->sc->costs.mmu_unload);
	--sp->root_count;
	/* mmu_free_roots() resets root_hpa after the unlock; nothing runs in between, and
	 * resetting it first keeps the vCPU from pointing at a freed page at the release */
	v->root = NULL;
	if (!sp->root_count && sp->role.invalid) {
		kvm_mmu_prepare_zap_page(kvm, sp, &invalid_list);
		kvm_mmu_commit_zap_page(kvm, &invalid_list);
	}
	spin_unlock(kvm->host, &v->actor);
}

/* ---------------------------------------------------------------- kvm_main.c */

/* Mirrors make_all_cpus_request() of Linux 3.10: set the request on every vCPU, IPI those
 * in guest mode (not the caller's own), and wait until each IPI is acknowledged. */
bool make_all_cpus_request(struct kvm *kvm, unsigned int req)
{
	struct actor *me = kvm_current(kvm);
	struct ipi_wait w = { .waiter = me };

	for (uint32_t i = 0; i < kvm->nr_vcpus; i++) {
		struct vcpu *v = kvm->vcpus[i];
		vcpu_request_and_kick(v, req, &v->actor == me ? NULL : &w, me->clock);
	}
	if (!w.sent)
		return false;
	stats_add(kvm->st, kvm->sid.flush_ipis, req == KVM_REQ_TLB_FLUSH ? w.sent : 0);
	kvm_spend(kvm, kvm->sc->costs.ipi_send);
	if (w.pending) {
		uint64_t t0 = me->clock;
		w.blocked = true;
		actor_block(kvm->e, me);
		assert(!w.pending);   /* only vcpu_take_ipis() wakes it, at the last ack */
		if (me->ctx)
			vcpu_account((struct vcpu *)me->ctx, me->clock - t0);
	} else if (w.last_ack > me->clock) {
		kvm_spend(kvm, w.last_ack - me->clock);
	}
	return true;
}

void kvm_flush_remote_tlbs(struct kvm *kvm)
{
	uint64_t t0 = kvm_current(kvm)->clock;

	if (make_all_cpus_request(kvm, KVM_REQ_TLB_FLUSH))   /* 3.10 virt/kvm/kvm_main.c */
		stats_add(kvm->st, kvm->sid.remote_tlb_flush, 1);
	kvm->flushes++;
	stats_add(kvm->st, kvm->sid.flush_count, 1);
	stats_hist_add(kvm->st, kvm->sid.flush_requester, kvm_current(kvm)->clock - t0);
}

void kvm_reload_remote_mmus(struct kvm *kvm)
{
	stats_add(kvm->st, kvm->sid.reloads_requested, 1);
	make_all_cpus_request(kvm, KVM_REQ_MMU_RELOAD);
}

/* ---------------------------------------------------------------- inspection */

static void for_each_leaf(struct kvm *kvm, struct kvm_mmu_page *sp, spte_visit_fn fn, void *ctx)
{
	for (unsigned i = 0; i < PT64_ENT_PER_PAGE; i++) {
		uint64_t spte = sp->spt[i];
		if (!is_shadow_present_pte(spte))
			continue;
		if (is_last_spte(spte, sp->role.level))
			fn(ctx, sp, i, spte_gfn(sp, i), sp->role.level);
		else
			for_each_leaf(kvm, mmu_page(kvm, spte_child_id(spte)), fn, ctx);
	}
}

void kvm_mmu_for_each_leaf(struct kvm *kvm, struct kvm_mmu_page *root, spte_visit_fn fn, void *ctx)
{
	if (root)
		for_each_leaf(kvm, root, fn, ctx);
}

int kvm_slot_rmaps_realloc(struct kvm *kvm, struct kvm_memory_slot *slot)
{
	(void)kvm;
	rmaps_free(slot);
	if (rmaps_alloc(slot))
		return -ENOMEM;
	/* lazy-zap's per-region "emptied, not refaulted yet" flags were sized and indexed for the
	 * old range, and the move zapped every spte anyway: no fault here is a refault. */
	free(slot->collapsed);
	slot->collapsed = NULL;
	/* The host backing moves with the slot: keep the per-region THP draws. */
	uint64_t n2m = gfn_to_index(slot->base_gfn + slot->npages - 1, slot->base_gfn, 2) + 1;
	uint8_t *thp = calloc(n2m, 1);
	if (!thp)
		return -ENOMEM;
	memcpy(thp, slot->thp, n2m < slot->thp_n ? n2m : slot->thp_n);
	free(slot->thp);
	slot->thp = thp;
	slot->thp_n = n2m;
	return 0;
}

unsigned kvm_rmap_count(struct kvm *kvm, gfn_t gfn, int level)
{
	struct kvm_memory_slot *slot = gfn_to_memslot(kvm, gfn);
	if (!slot)
		return 0;
	return pte_list_count(kvm, slot->rmap[level - 1][gfn_to_index(gfn, slot->base_gfn, level)]);
}

/* Pages reachable from a root of the current generation are of that generation and valid:
 * after the generation bump of a fast zap, no new translation can reach an obsolete page
 * (kvm_mmu_get_page() skips them), and a legacy zap leaves nothing behind. */
static int check_reachable(struct kvm *kvm, char *buf, size_t n)
{
	uint32_t *stack = malloc((size_t)(kvm->nr_ids ? kvm->nr_ids : 1) * sizeof(*stack));
	uint8_t *seen = calloc(kvm->nr_ids ? kvm->nr_ids : 1, 1);
	int r = 0;

	if (!stack || !seen) {
		free(stack);
		free(seen);
		return 0;   /* cannot check: not a finding */
	}
	for (uint32_t v = 0; v < kvm->nr_vcpus && !r; v++) {
		struct kvm_mmu_page *root = kvm->vcpus[v]->root;
		if (!root || root->role.invalid || is_obsolete_sp(kvm, root) || seen[root->id])
			continue;
		uint32_t top = 0;
		stack[top++] = root->id;
		seen[root->id] = 1;
		while (top && !r) {
			struct kvm_mmu_page *sp = mmu_page(kvm, stack[--top]);
			if (!sp || sp->role.invalid || is_obsolete_sp(kvm, sp)) {
				snprintf(buf, n, "page %u reachable from vCPU %u's current root is %s", stack[top], v,
					 !sp ? "freed" : sp->role.invalid ? "invalid" : "obsolete");
				r = -1;
				break;
			}
			if (sp->role.level == PT_PAGE_TABLE_LEVEL)
				continue;
			for (unsigned i = 0; i < PT64_ENT_PER_PAGE; i++) {
				uint64_t spte = sp->spt[i];
				if (!is_shadow_present_pte(spte) || is_last_spte(spte, sp->role.level))
					continue;
				uint32_t c = spte_child_id(spte);
				if (c < kvm->nr_ids && !seen[c]) {
					seen[c] = 1;
					stack[top++] = c;
				}
			}
		}
	}
	free(stack);
	free(seen);
	return r;
}

void kvm_check_invariants(struct kvm *kvm, const char *when)
{
	char buf[256] = "";

	if (kvm_mmu_check(kvm, buf, sizeof(buf)) || check_reachable(kvm, buf, sizeof(buf))) {
		struct actor *a = kvm_current(kvm);
		fprintf(stderr, "eptsim: MMU invariant broken %s (%s at cycle %llu): %s\n", when,
			a ? a->name : "no actor", a ? (unsigned long long)a->clock : 0ULL, buf);
		abort();
	}
}

int kvm_mmu_check(struct kvm *kvm, char *buf, size_t n)
{
	struct kvm_mmu_page *sp;

	list_for_each_entry(sp, &kvm->active_mmu_pages, link) {
		unsigned present = 0;
		if (sp->role.invalid && !sp->root_count) {
			snprintf(buf, n, "page %u: invalid, root_count 0, still on active_mmu_pages", sp->id);
			return -1;
		}
		unsigned mmio = 0;
		for (unsigned i = 0; i < PT64_ENT_PER_PAGE; i++) {
			uint64_t spte = sp->spt[i];
			if (is_mmio_spte(spte)) {
				mmio++;
				/* An MMIO spte may sit over a slot created since it was made (its
				 * generation is older): under the generation variant its next access
				 * takes the slow path and maps the slot; under zap-walk the walk of
				 * that create zaps its page (the ioctl may still wait for mmu_lock). */
				bool live = get_mmio_spte_generation(spte) == kvm_current_mmio_generation(kvm);
				if (sp->role.level != PT_PAGE_TABLE_LEVEL || (live && gfn_to_memslot(kvm, spte_gfn(sp, i)))) {
					snprintf(buf, n, "page %u idx %u: MMIO spte (gfn 0x%llx, generation %u of %u) at "
						 "level %u or (current) over a memslot", sp->id, i,
						 (unsigned long long)spte_gfn(sp, i), get_mmio_spte_generation(spte),
						 kvm_current_mmio_generation(kvm), sp->role.level);
					return -1;
				}
				continue;
			}
			if (!is_shadow_present_pte(spte))
				continue;
			present++;
			if (is_last_spte(spte, sp->role.level)) {
				gfn_t gfn = spte_gfn(sp, i);
				/* a slot being deleted (not present) keeps its sptes until the zap */
				if (!gfn_to_any_slot(kvm, gfn) ||
				    !pte_list_contains(kvm, *gfn_to_rmap(kvm, gfn, sp->role.level), spte_ref(sp, i))) {
					snprintf(buf, n, "page %u idx %u: leaf for gfn 0x%llx not in its rmap", sp->id, i,
						 (unsigned long long)gfn);
					return -1;
				}
			} else {
				struct kvm_mmu_page *c = mmu_page(kvm, spte_child_id(spte));
				if (!c || !pte_list_contains(kvm, c->parent_ptes, spte_ref(sp, i)) ||
				    c->role.level != sp->role.level - 1) {
					snprintf(buf, n, "page %u idx %u: child link broken", sp->id, i);
					return -1;
				}
			}
		}
		if (present != sp->nr_present || mmio != sp->nr_mmio) {
			snprintf(buf, n, "page %u: nr_present %u / nr_mmio %u, counted %u / %u", sp->id, sp->nr_present,
				 sp->nr_mmio, present, mmio);
			return -1;
		}
	}
	/* the leaf counters agree with the pages (invalid lists hold none: they were unlinked) */
	uint64_t leaves[KVM_NR_PAGE_SIZES + 1] = { 0 }, reach[KVM_NR_PAGE_SIZES + 1] = { 0 };
	list_for_each_entry(sp, &kvm->active_mmu_pages, link) {
		if (sp->role.level > KVM_NR_PAGE_SIZES)
			continue;
		leaves[sp->role.level] += sp->nr_leaf;
		if (sp_linked(sp))
			reach[sp->role.level] += sp->nr_leaf;
	}
	for (int l = 1; l <= KVM_NR_PAGE_SIZES; l++) {
		if (leaves[l] != kvm->nr_leaves[l] || reach[l] != kvm->nr_reach[l]) {
			snprintf(buf, n, "level %d: %llu leaves / %llu reachable counted, counters say %llu / %llu", l,
				 (unsigned long long)leaves[l], (unsigned long long)reach[l],
				 (unsigned long long)kvm->nr_leaves[l], (unsigned long long)kvm->nr_reach[l]);
			return -1;
		}
	}
	/* every live page is on its mmu_page_hash chain, each chain as long as its count */
	uint64_t hashed = 0;
	for (uint32_t b = 0; b < (1u << kvm->hash_ops->shift); b++) {
		uint32_t len = 0;
		list_for_each_entry(sp, &kvm->mmu_page_hash[b], hash_link) {
			if (kvm_page_table_hashfn(kvm, sp->gfn) != b) {
				snprintf(buf, n, "page %u (gfn 0x%llx) in bucket %u", sp->id, (unsigned long long)sp->gfn, b);
				return -1;
			}
			len++;
		}
		if (len != kvm->mmu_page_hash_len[b]) {
			snprintf(buf, n, "bucket %u: %u pages, its count says %u", b, len, kvm->mmu_page_hash_len[b]);
			return -1;
		}
		hashed += len;
	}
	if (hashed != kvm->nr_ids - kvm->nr_free_ids) {
		snprintf(buf, n, "%llu pages hashed, %u live", (unsigned long long)hashed, kvm->nr_ids - kvm->nr_free_ids);
		return -1;
	}
	/* every rmap entry names a present leaf of the right gfn */
	for (uint32_t s = 0; s < kvm->nr_slots; s++) {
		struct kvm_memory_slot *slot = &kvm->slots[s];
		for (int l = 1; l <= KVM_NR_PAGE_SIZES; l++) {
			uint64_t cnt = gfn_to_index(slot->base_gfn + slot->npages - 1, slot->base_gfn, l) + 1;
			for (uint64_t k = 0; k < cnt; k++) {
				uint64_t head = slot->rmap[l - 1][k];
				if (!head)
					continue;
				uint64_t ref = pte_list_first(kvm, head);
				struct kvm_mmu_page *p = ref_page(kvm, ref);
				if (!p || !is_shadow_present_pte(p->spt[ref_index(ref)]) || p->role.level != (unsigned)l) {
					snprintf(buf, n, "slot %s level %d index %llu: stale rmap entry", slot->name, l,
						 (unsigned long long)k);
					return -1;
				}
			}
		}
	}
	return 0;
}
