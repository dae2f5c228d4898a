/* ept/mmu — KVM's MMU for TDP (EPT), after arch/x86/kvm/mmu.c of Linux 3.10/3.11.
 *
 * One struct kvm_mmu_page per shadow (EPT) page-table page: gfn, role (level, direct,
 * invalid), spt[512], parent_ptes, root_count, mmu_valid_gen, a link on active_mmu_pages
 * (new pages at the head) and a hash link keyed by gfn.  Per-memslot rmaps per level.
 * Memslots carry their host backing, which bounds the mapping level as
 * host_mapping_level() / PageTransCompound() do.
 *
 * An spte is a 64-bit word: bit 0 present, bit 1 writable, bit 7 large (a leaf above 4K),
 * bits 10 and 11 host- and mmu-writable (a leaf), bits 12.. the child page's id for a
 * non-leaf spte.  A "spte reference" names an spte as
 * (page id << 9 | index) and is what rmaps and parent_ptes store (KVM stores u64 *sptep).
 *
 * All functions that change MMU state expect mmu_lock held by the calling actor (asserted),
 * as the kernel does; costs are charged to the calling actor through kvm_spend().
 */
#ifndef EPTSIM_EPT_MMU_H
#define EPTSIM_EPT_MMU_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/bigmem.h"
#include "sim/list.h"
#include "sim/stats.h"

struct scenario;
struct engine;
struct host;
struct actor;
struct vcpu;
struct ipi_wait;

typedef uint64_t gfn_t;

#define PT_PAGE_TABLE_LEVEL 1
#define PT_DIRECTORY_LEVEL 2
#define PT_PDPE_LEVEL 3
#define PT64_ROOT_LEVEL 4
#define PT64_ENT_PER_PAGE 512
#define KVM_NR_PAGE_SIZES 3

#define SPTE_PRESENT   (1ULL << 0)
#define SPTE_WRITABLE  (1ULL << 1)
#define SPTE_LARGE     (1ULL << 7)
#define SPTE_CHILD_SHIFT 12
/* Software bits of a leaf (Linux 3.10, PT_FIRST_AVAIL_BITS_SHIFT = 10): set_spte() sets
 * SPTE_HOST_WRITEABLE when the host page may be written (map_writable: not a read-only slot)
 * and SPTE_MMU_WRITEABLE with the writable bit whenever it maps the page writable, which
 * for TDP is every leaf of a host-writable page, a read fault's too (__direct_map() passes
 * ACC_ALL).  The write protection of dirty logging (spte_write_protect(), pt_protect false)
 * clears only the writable bit, so fast_page_fault() may set it again without mmu_lock:
 * spte_is_locklessly_modifiable(). */
#define SPTE_HOST_WRITEABLE (1ULL << 10)
#define SPTE_MMU_WRITEABLE  (1ULL << 11)
/* An MMIO spte (mark_mmio_spte()): not present, so the hardware takes an EPT misconfig;
 * it carries the low mmu.mmio_gen_bits bits of the memslots generation it was made in. */
#define SPTE_MMIO      (1ULL << 62)
#define SPTE_MMIO_GEN_SHIFT 20
#define SPTE_MMIO_GEN_MAX_BITS 32

static inline bool is_shadow_present_pte(uint64_t spte) { return spte & SPTE_PRESENT; }
static inline bool is_large_pte(uint64_t spte) { return spte & SPTE_LARGE; }
static inline bool is_mmio_spte(uint64_t spte) { return spte & SPTE_MMIO; }
/* 3.10 spte_is_locklessly_modifiable() */
static inline bool spte_is_locklessly_modifiable(uint64_t spte)
{
	return (spte & (SPTE_HOST_WRITEABLE | SPTE_MMU_WRITEABLE)) == (SPTE_HOST_WRITEABLE | SPTE_MMU_WRITEABLE);
}
static inline unsigned get_mmio_spte_generation(uint64_t spte)
{
	return (unsigned)((spte >> SPTE_MMIO_GEN_SHIFT) & 0xffffffffULL);
}
static inline bool is_last_spte(uint64_t spte, int level)
{
	return level == PT_PAGE_TABLE_LEVEL || is_large_pte(spte);
}
static inline uint32_t spte_child_id(uint64_t spte) { return (uint32_t)(spte >> SPTE_CHILD_SHIFT); }
/* Index of addr (a GPA) in a table of the given level. */
static inline unsigned spte_index(uint64_t gpa, int level)
{
	return (unsigned)(gpa >> (12 + 9 * (level - 1))) & (PT64_ENT_PER_PAGE - 1);
}
static inline uint64_t kvm_pages_per_hpage(int level) { return 1ULL << (9 * (level - 1)); }

union kvm_mmu_page_role {
	uint32_t word;
	struct {
		unsigned level : 4;
		unsigned direct : 1;
		unsigned invalid : 1;
	};
};

struct kvm_mmu_page {
	struct list_head link;
	struct list_head hash_link;    /* on kvm->mmu_page_hash, the kernel's chain */
	struct kvm_mmu_page *index_next, **index_pprev;   /* on kvm->sp_index (the simulator's) */
	gfn_t gfn;
	union kvm_mmu_page_role role;
	uint32_t id;
	uint64_t *spt;
	uint64_t parent_ptes;          /* pte_list of spte references */
	int root_count;
	unsigned long mmu_valid_gen;
	uint32_t nr_present;
	uint32_t nr_mmio;              /* MMIO sptes (not counted in nr_present) */
	uint32_t nr_leaf;              /* present leaf sptes (counted in nr_present too) */
	bool mmio_cached;              /* 3.10: mark_mmio_spte() set an MMIO spte here once (never cleared) */
};

struct kvm_memory_slot {
	uint32_t id;
	const char *name;
	gfn_t base_gfn;
	uint64_t npages;
	int backing;                   /* enum backing */
	bool readonly;
	bool present;
	uint64_t *rmap[KVM_NR_PAGE_SIZES];   /* per level 1..3 */
	uint64_t rmap_n[KVM_NR_PAGE_SIZES];  /* heads in each */
	uint8_t *thp;                  /* per 2M region: host backs it with a THP */
	bool dirty_logging;            /* KVM_MEM_LOG_DIRTY_PAGES */
	uint64_t *dirty_bitmap;        /* a bit per 4K page dirtied since the last get */
	uint8_t *collapsed;            /* per 2M region: lazy-zap dropped its sptes, not refaulted yet */
	uint64_t thp_n;                /* entries of thp */
};

enum pf_result { PF_FIXED, PF_RETRY, PF_EMULATE };

struct kvm;

/* Zap-all variants (ept/zap.c) fill this in kvm->zap_ops. */
struct zap_all_ops;
struct mmio_invalidate_ops;
struct collapse_ops;
struct dirty_stats_ids;
struct mmio_stats_ids;

struct mmu_hash_ops;
struct hash_stats_ids { stat_id entries, walk, longest; };   /* in hash_stats[] order (mmu.c) */

struct kvm_stats_ids {   /* in kvm_stats[] order (mmu.c) */
	stat_id faults, spurious, pages_created, pages_freed, flush_count, flush_requester,
		flush_ipis, reloads_requested, mmio_exits, large_replaced, prefaulted, readonly_writes,
		remote_tlb_flush;
};

struct kvm {
	const struct scenario *sc;
	struct engine *e;
	struct host *host;
	struct stats *st;

	struct kvm_memory_slot *slots;
	uint32_t nr_slots;
	struct kvm_memory_slot *rmap_slot_hint;   /* gfn_to_rmap()'s last slot */
	uint64_t memslots_generation;

	struct list_head active_mmu_pages;
	/* The kernel's mmu_page_hash (mmu.hash): each chain in the order for_each_gfn_sp() walks
	 * it (hlist_add_head(): newest first) and its length.  It prices a look-up. */
	const struct mmu_hash_ops *hash_ops;
	struct list_head *mmu_page_hash;
	uint32_t *mmu_page_hash_len;
	struct hash_stats_ids hash_sid;
	/* The simulator's own index of the same pages (hash_64 over max(1024, mem / 2M)
	 * buckets): finds a page without walking a 3.10 chain, which on a 1 TiB guest holds
	 * 260,000 pages.  It decides nothing the kernel's walk would not. */
	struct kvm_mmu_page **sp_index;
	unsigned sp_index_bits;        /* log2 of its bucket count */
	unsigned long mmu_valid_gen;
	uint32_t n_used_mmu_pages;

	struct kvm_mmu_page **pages;   /* by id */
	struct spt_pool spt_pool;      /* the pages' spt[] tables */
	uint32_t nr_ids, cap_ids;
	uint32_t *free_ids;
	uint32_t nr_free_ids;

	/* pte_list descriptors (rmap / parent_ptes with more than one entry) */
	struct pte_list_desc *descs;
	uint32_t nr_descs, cap_descs, free_desc;

	struct vcpu **vcpus;
	uint32_t nr_vcpus;

	/* kvm->slots_lock (ept/memslot.c): its holder and the actors waiting for it, in order */
	struct actor *slots_owner;
	struct actor **slots_waiters;  /* room for every vCPU thread and the VMM thread */
	uint32_t nr_slots_waiters;

	const struct zap_all_ops *zap_ops;
	/* kvm_mmu_prepare_zap_page() of a root in use requests a reload every time (Linux 3.9,
	 * 3.10: even for a root already invalid, or obsolete); since v7 10/11 only for a root
	 * neither invalid nor obsolete, the reload being done when the generation was bumped. */
	bool root_zap_reload_always;

	/* Called at the end of every zap-all, mmu_lock still held (tests, invariant checks). */
	void (*zap_done_hook)(struct kvm *kvm, void *ctx);
	void *zap_done_ctx;

	/* MMIO invalidation (ept/mmio.c) */
	const struct mmio_invalidate_ops *mmio_ops;
	unsigned int mmio_gen_mask;
	struct mmio_stats_ids *mmio_sid;

	/* leaf sptes by level (1..3), like KVM's pages_4k / pages_2m / pages_1g */
	uint64_t nr_leaves[KVM_NR_PAGE_SIZES + 1];
	/* the same, in tables that have a parent or are a root: what translations can reach
	 * (a table unlinked by a large mapping keeps its sptes until it is zapped) */
	uint64_t nr_reach[KVM_NR_PAGE_SIZES + 1];
	/* dirty logging and collapse (ept/dirty.c) */
	const struct collapse_ops *collapse_ops;
	struct dirty_stats_ids *dirty_sid;

	struct kvm_stats_ids sid;
	uint64_t flushes;              /* kvm_flush_remote_tlbs() calls that IPI'd or requested */
	bool building;                 /* kvm_mmu_prefault() runs: no actor, no cycles charged */
};

/* hash_64() of include/linux/hash.h (64-bit, Linux 4.7+): the top bits of gfn times
 * GOLDEN_RATIO_64. */
static inline uint32_t hash_64(uint64_t val, unsigned bits)
{
	return (uint32_t)((val * 0x61C8864680B583EBULL) >> (64 - bits));
}

/* mmu.hash variants: kvm_page_table_hashfn() over 1 << shift buckets (KVM_MMU_HASH_SHIFT). */
struct mmu_hash_ops {
	const char *name;
	unsigned shift;
	uint32_t (*hashfn)(gfn_t gfn, unsigned shift);
};
extern const struct mmu_hash_ops mmu_hash_variants[];

/* The bucket of gfn in kvm->mmu_page_hash: 3.10's `gfn & ((1 << KVM_MMU_HASH_SHIFT) - 1)`,
 * or hash_64(gfn, KVM_MMU_HASH_SHIFT) (mmu.c, mmu_hash_variants). */
static inline uint32_t kvm_page_table_hashfn(const struct kvm *kvm, gfn_t gfn)
{
	return kvm->hash_ops->hashfn(gfn, kvm->hash_ops->shift);
}

struct kvm *kvm_new(const struct scenario *sc, struct engine *e, struct host *h, struct stats *st);
void kvm_free(struct kvm *kvm);
void kvm_attach_vcpus(struct kvm *kvm, struct vcpu **vcpus, uint32_t n);

/* Cost accounting: charge the running actor (a vCPU charges its current category). */
void kvm_spend(struct kvm *kvm, uint64_t cycles);
struct actor *kvm_current(struct kvm *kvm);

/* memslots */
struct kvm_memory_slot *gfn_to_memslot(struct kvm *kvm, gfn_t gfn);
int host_mapping_level(const struct kvm_memory_slot *slot, gfn_t gfn);
int mapping_level(struct kvm *kvm, const struct kvm_memory_slot *slot, gfn_t gfn);
struct kvm_memory_slot *kvm_slot_by_name(struct kvm *kvm, const char *name);

/* shadow pages */
static inline struct kvm_mmu_page *mmu_page(const struct kvm *kvm, uint32_t id) { return kvm->pages[id]; }
static inline bool is_obsolete_sp(const struct kvm *kvm, const struct kvm_mmu_page *sp)
{
	return sp->mmu_valid_gen != kvm->mmu_valid_gen;
}
struct kvm_mmu_page *kvm_mmu_get_page(struct kvm *kvm, gfn_t gfn, int level);
int kvm_mmu_prepare_zap_page(struct kvm *kvm, struct kvm_mmu_page *sp, struct list_head *invalid_list);
void kvm_mmu_commit_zap_page(struct kvm *kvm, struct list_head *invalid_list);

/* Drop one MMIO spte (prepare_zap, a fault over it). */
void drop_mmio_spte(struct kvm *kvm, struct kvm_mmu_page *sp, unsigned idx);
/* Resize a slot's rmaps after a move (they are empty: the move zapped everything). */
int kvm_slot_rmaps_realloc(struct kvm *kvm, struct kvm_memory_slot *slot);

/* Dirty logging helpers (ept/dirty.c uses them; mmu_lock held). */
void mark_page_dirty(struct kvm *kvm, struct kvm_memory_slot *slot, gfn_t gfn);
/* __rmap_write_protect() of the sptes mapping gfn at level: a large spte is dropped, a 4K
 * one loses its write bit.  Returns true if a flush is needed. */
bool kvm_rmap_write_protect(struct kvm *kvm, struct kvm_memory_slot *slot, gfn_t gfn, int level);
/* kvm_mmu_zap_collapsible_spte(): drop gfn's 4K sptes if the host backs gfn with a huge page.
 * Returns the number dropped. */
unsigned kvm_zap_collapsible_spte(struct kvm *kvm, struct kvm_memory_slot *slot, gfn_t gfn);
/* In place: replace the level-1 table holding gfn's spte by one large spte, if the host
 * backs the region with a huge page and the table maps only that slot.  The table goes to
 * invalid_list.  Returns the number of 4K sptes replaced (0: nothing done). */
unsigned kvm_collapse_table_inplace(struct kvm *kvm, struct kvm_memory_slot *slot, gfn_t gfn,
				    struct list_head *invalid_list);
/* fast_page_fault() of Linux 3.10 for a write to a present leaf: a leaf that is
 * spte_is_locklessly_modifiable() but not writable (write-protected by dirty logging, which
 * may have stopped since) is made writable without mmu_lock; a writable one was a spurious
 * fault.  true if the access can be retried, false for the slow path. */
bool kvm_fast_page_fault(struct vcpu *v, uint64_t gpa);

/* guest.prefault: map every page of every present memslot as a fault-in in ascending GPA
 * order would, outside simulated time.  Returns the leaf sptes set. */
uint64_t kvm_mmu_prefault(struct kvm *kvm);
/* The entries of a pte_list (an rmap head or parent_ptes), at most max (tests). */
unsigned kvm_pte_list_refs(const struct kvm *kvm, uint64_t head, uint64_t *refs, unsigned max);

/* the fault path, roots */
enum pf_result kvm_tdp_page_fault(struct vcpu *v, uint64_t gpa, bool write);
void kvm_mmu_load(struct vcpu *v);
void kvm_mmu_unload(struct vcpu *v);

/* virt/kvm/kvm_main.c */
bool make_all_cpus_request(struct kvm *kvm, unsigned int req);
void kvm_flush_remote_tlbs(struct kvm *kvm);
void kvm_reload_remote_mmus(struct kvm *kvm);

/* Walk every present leaf spte reachable from root (tests and invariants). */
typedef void (*spte_visit_fn)(void *ctx, struct kvm_mmu_page *sp, unsigned idx, gfn_t gfn, int level);
void kvm_mmu_for_each_leaf(struct kvm *kvm, struct kvm_mmu_page *root, spte_visit_fn fn, void *ctx);
/* rmap entries of gfn at level (tests). */
unsigned kvm_rmap_count(struct kvm *kvm, gfn_t gfn, int level);
/* Sanity checks of the MMU's invariants; returns 0 or -1 with a message in buf. */
int kvm_mmu_check(struct kvm *kvm, char *buf, size_t n);
/* kvm_mmu_check() and: every page reachable from a current root is current and valid.  On a
 * failure: a message naming `when`, the actor and the cycle, then abort().  A build with
 * -DEPTSIM_CHECK_INVARIANTS (make check-invariants) runs it at every release of mmu_lock. */
void kvm_check_invariants(struct kvm *kvm, const char *when);

#endif
