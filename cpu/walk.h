/* cpu/walk — the hardware's 2D page walk after a TLB miss (README, Design: vCPUs, TLBs and the walk).
 *
 * Each guest paging level (4, or fewer with a paging-structure-cache hit) needs the GPA of
 * its table entry translated through EPT (up to 4 references, fewer with an EPT PWC hit)
 * and then the entry itself read (1 reference); the final data GPA needs one more EPT walk:
 * at most 4 * (4 + 1) + 4 = 24 references.  Each reference costs a latency drawn from a
 * hit-rate model of the cache hierarchy ([costs] ref_*), or, with walk.refs = cache, the
 * latency of the level of the cache hierarchy (cpu/cache.h) that served its line.  The walk
 * reads the live EPT (the shadow pages) without mmu_lock, as the hardware does.
 *
 * The addresses the references touch: a guest page-table entry is at its GPA (the table's
 * gpt_node gpa + 8 x index), which stands in for its host-physical address (eptsim has no
 * host frames: a GPA maps to itself); an EPT entry is in its shadow page's spt[], which gets
 * the synthetic host-physical address WALK_SPT_HPA(id) from the page's id, above every GPA.
 * Ids are reused LIFO, as the host's page allocator hands a freed page out again.
 */
#ifndef EPTSIM_CPU_WALK_H
#define EPTSIM_CPU_WALK_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/tlb.h"

struct kvm;
struct kvm_mmu_page;
struct gpt_node;
struct pwc;
struct rng;
struct costs_cfg;
struct cache_hier;

#define WALK_MAX_REFS 24
/* the host-physical address of shadow page id's spt[] (above GUEST_GPA_SPACE) */
#define WALK_SPT_HPA(id) ((1ULL << 52) + ((uint64_t)(id) << 12))

enum walk_status { WALK_OK, WALK_GUEST_FAULT, WALK_EPT_VIOLATION, WALK_EPT_MISCONFIG };

struct walk_result {
	enum walk_status status;
	uint64_t gpa;          /* OK: the data GPA; EPT_VIOLATION / MISCONFIG: the GPA that faulted */
	enum page_size ps;     /* OK: page size of the combined translation */
	bool writable;         /* OK: the final EPT leaf spte has SPTE_WRITABLE (guest tables are
	                        * always writable, so this is the combined permission) */
	unsigned refs;         /* memory references made */
	uint64_t cycles;
};

struct walk_ctx {
	struct kvm *kvm;
	struct kvm_mmu_page *root;      /* EPT root */
	const struct gpt_node *groot;   /* guest CR3; NULL: addresses are GPAs */
	struct pwc *gpwc, *epwc;        /* NULL: no paging-structure cache */
	struct rng *rng;
	struct cache_hier *cache;       /* walk.refs = cache: the vCPU's hierarchy; NULL: probabilistic */
	uint64_t thr[3];                /* reference latency thresholds on rng_next() */
	uint64_t lat[4];                /* by enum cache_level: L1, L2, LLC, DRAM */
};

void walk_ctx_costs(struct walk_ctx *w, const struct costs_cfg *c);
struct walk_result walk_2d(struct walk_ctx *w, uint64_t gva);

#endif
