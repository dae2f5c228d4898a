#include "cpu/walk.h"

#include "cpu/cache.h"
#include "cpu/gpt.h"
#include "cpu/guest.h"
#include "cpu/pwc.h"
#include "ept/mmu.h"
#include "sim/config.h"
#include "sim/rng.h"

#include <assert.h>

_Static_assert(WALK_SPT_HPA(0) >= GUEST_GPA_SPACE, "EPT pages' addresses must not alias guest memory");

void walk_ctx_costs(struct walk_ctx *w, const struct costs_cfg *c)
{
	const double two64 = 18446744073709551616.0;
	double p1 = c->ref_p_l1, p2 = p1 + c->ref_p_l2, p3 = p2 + c->ref_p_l3;

	w->thr[0] = p1 >= 1 ? UINT64_MAX : (uint64_t)(p1 * two64);
	w->thr[1] = p2 >= 1 ? UINT64_MAX : (uint64_t)(p2 * two64);
	w->thr[2] = p3 >= 1 ? UINT64_MAX : (uint64_t)(p3 * two64);
	w->lat[0] = c->ref_l1;
	w->lat[1] = c->ref_l2;
	w->lat[2] = c->ref_l3;
	w->lat[3] = c->ref_dram;
}

/* One reference of the walk to host-physical address pa. */
static inline void mem_ref(struct walk_ctx *w, struct walk_result *r, uint64_t pa)
{
	r->refs++;
	if (w->cache) {
		r->cycles += w->lat[cache_hier_access(w->cache, CACHE_WALK, pa)];
		return;
	}
	uint64_t u = rng_next(w->rng);
	r->cycles += u < w->thr[0] ? w->lat[0] : u < w->thr[1] ? w->lat[1] : u < w->thr[2] ? w->lat[2] : w->lat[3];
}

/* Translate gpa through EPT.  Returns the level of the leaf (1..3), 0 if an spte on the way
 * is not present (EPT violation), -1 for an MMIO spte (EPT misconfig).  *leaf gets the leaf
 * spte when there is one. */
static int ept_walk(struct walk_ctx *w, uint64_t gpa, struct walk_result *r, uint64_t *leaf)
{
	struct kvm_mmu_page *sp = w->root;
	int level = PT64_ROOT_LEVEL;
	uint64_t v;
	int hit = w->epwc ? pwc_lookup(w->epwc, gpa, PT_DIRECTORY_LEVEL, &v) : 0;

	if (hit) {
		sp = mmu_page(w->kvm, (uint32_t)v);
		level = hit - 1;
		/* The flush protocol guarantees a cached table is never freed under us; and every
		 * GPA is below 2^48 (GUEST_GPA_SPACE: config_validate(), kvm_set_memory_region(),
		 * the replay's bounds), so the tag, computed from the whole GPA, matches the
		 * table the 4-level indices reach. */
		assert(sp && (int)sp->role.level == level &&
		       sp->gfn == ((gpa >> (12 + 9 * level)) << (9 * level)));
	}
	for (;;) {
		unsigned idx = spte_index(gpa, level);
		mem_ref(w, r, WALK_SPT_HPA(sp->id) + idx * 8);
		uint64_t spte = sp->spt[idx];
		if (!is_shadow_present_pte(spte))
			return is_mmio_spte(spte) ? -1 : 0;
		if (is_last_spte(spte, level)) {
			*leaf = spte;
			return level;
		}
		if (w->epwc)
			pwc_fill(w->epwc, level, gpa, spte_child_id(spte));
		sp = mmu_page(w->kvm, spte_child_id(spte));
		level--;
	}
}

struct walk_result walk_2d(struct walk_ctx *w, uint64_t gva)
{
	struct walk_result r = { .status = WALK_OK };
	enum page_size gps = PS_1G;
	uint64_t gpa = gva, leaf = 0;

	if (w->groot) {
		const struct gpt_node *n = w->groot;
		int level = GPT_LEVELS;
		uint64_t v;
		int hit = w->gpwc ? pwc_lookup(w->gpwc, gva, 2, &v) : 0;

		if (hit) {
			n = (const struct gpt_node *)(uintptr_t)v;
			level = hit - 1;
		}
		for (;;) {
			unsigned idx = gpt_index(gva, level);
			uint64_t entry_gpa = n->gpa + idx * 8;
			int el = ept_walk(w, entry_gpa, &r, &leaf);
			if (el <= 0) {
				r.status = el ? WALK_EPT_MISCONFIG : WALK_EPT_VIOLATION;
				r.gpa = entry_gpa;
				return r;
			}
			mem_ref(w, &r, entry_gpa);   /* the GPA stands in for the HPA */
			uint64_t e = n->e[idx];
			if (!(e & GPTE_PRESENT)) {
				r.status = WALK_GUEST_FAULT;
				return r;
			}
			if (level == 1 || (e & GPTE_LARGE)) {
				uint64_t mask = (1ULL << (12 + 9 * (level - 1))) - 1;
				gpa = (e & GPTE_ADDR_MASK & ~mask) | (gva & mask);
				gps = (enum page_size)(level - 1);
				break;
			}
			if (w->gpwc)
				pwc_fill(w->gpwc, level, gva, (uint64_t)(uintptr_t)n->child[idx]);
			n = n->child[idx];
			level--;
		}
	}
	int el = ept_walk(w, gpa, &r, &leaf);
	if (el <= 0) {
		r.status = el ? WALK_EPT_MISCONFIG : WALK_EPT_VIOLATION;
		r.gpa = gpa;
		return r;
	}
	r.gpa = gpa;
	r.ps = (enum page_size)(el - 1) < gps ? (enum page_size)(el - 1) : gps;
	r.writable = leaf & SPTE_WRITABLE;
	assert(r.refs <= WALK_MAX_REFS);   /* 4 guest levels x (4 EPT + 1) + the final 4 EPT: 24 */
	return r;
}
