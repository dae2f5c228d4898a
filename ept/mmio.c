#include "ept/mmio.h"

#include "cpu/vcpu.h"
#include "ept/mmu.h"
#include "ept/zap.h"
#include "sim/config.h"
#include "sim/engine.h"
#include "sim/host.h"

#include <assert.h>
#include <stdlib.h>

static const struct stat_def mmio_stats[] = {
	{ "mmio.exits", STAT_COUNTER, "events", "EPT misconfig exits on MMIO sptes" },
	{ "mmio.fast", STAT_COUNTER, "events", "MMIO exits emulated on the lockless fast path" },
	{ "mmio.cached", STAT_COUNTER, "events", "of mmio.fast: the vCPU's cached MMIO gfn matched (quickly_check_mmio_pf()), no walk, no generation check" },
	{ "mmio.slow", STAT_COUNTER, "events", "MMIO exits with a stale generation: back to the fault handler, under mmu_lock" },
	{ "mmio.retry", STAT_COUNTER, "events", "MMIO exits that found no MMIO spte any more (zapped meanwhile): re-entered" },
	{ "mmio.sptes_created", STAT_COUNTER, "sptes", "MMIO sptes installed (mark_mmio_spte)" },
	{ "mmio.gen_bumps", STAT_COUNTER, "events", "memslots generation increments (installs of new memslots)" },
	{ "mmio.gen_wraps", STAT_COUNTER, "events", "zap-alls for the MMIO generation wrap: an ioctl committed at MMIO generation >= 2^mmio_gen_bits - 2" },
	{ "mmio.invalidations", STAT_COUNTER, "events", "MMIO invalidations: zap-walks (zap-walk), generation bumps and wrap zap-alls (generation)" },
	{ "mmio.invalidate_cycles", STAT_ARRAY, "cycles", "time of each MMIO invalidation (bump, walk or wrap), lock waits included" },
	{ "mmio.invalidate_hold_cycles", STAT_ARRAY, "cycles", "mmu_lock hold time of each MMIO invalidation" },
	{ "mmio.sptes_dropped", STAT_COUNTER, "sptes", "MMIO sptes on the pages zap-walks zapped" },
	{ "mmio.pages_zapped", STAT_COUNTER, "pages", "shadow pages zap-walks zapped whole (mmio_cached set), with their RAM sptes" },
	{ "mmio.pages_visited", STAT_COUNTER, "pages", "active_mmu_pages entries zap-walks read (restarts included), costs.sp_list_entry each" },
};

int mmio_init(struct kvm *kvm)
{
	kvm->mmio_ops = &mmio_invalidate_variants[kvm->sc->mmio_invalidate];
	kvm->mmio_gen_mask = kvm->sc->mmio_gen_bits >= 32 ? 0xffffffffu : (1u << kvm->sc->mmio_gen_bits) - 1;
	kvm->memslots_generation = kvm->sc->mmio_gen_start;
	kvm->mmio_sid = calloc(1, sizeof(*kvm->mmio_sid));
	if (!kvm->mmio_sid || STATS_REGISTER_STRUCT(kvm->st, mmio_stats, kvm->mmio_sid))
		return -1;
	return 0;
}

void mmio_free(struct kvm *kvm)
{
	free(kvm->mmio_sid);
	kvm->mmio_sid = NULL;
}

unsigned kvm_current_mmio_generation(const struct kvm *kvm)
{
	return (unsigned)(kvm->memslots_generation & kvm->mmio_gen_mask);
}

/* Mirrors mark_mmio_spte() of Linux 3.11: the generation goes into the spte.  Not the
 * current one, as 3.11 reads it under mmu_lock, but the one of the memslots the fault found
 * no slot in: a create can install new memslots (without mmu_lock) while the fault holds
 * the lock, and 3.11's spte then carried the new generation over the new slot, valid for
 * good (the race 3.17 closed: "kvm: fix potentially corrupt mmio cache", ee3d1570b585,
 * bumps the generation again after synchronize_srcu() and does not store its low bit, so
 * such a spte misses at once).  Here it misses at once too: its first access takes the
 * slow path and faults the slot in.  A deviation from 3.11 (README, MMIO sptes). */
void mark_mmio_spte(struct kvm *kvm, struct kvm_mmu_page *sp, unsigned idx, uint64_t slots_gen)
{
	/* its one caller, __direct_map(), maps a GPA in no slot at PT_PAGE_TABLE_LEVEL and has
	 * just found the spte not present */
	assert(sp->role.level == PT_PAGE_TABLE_LEVEL && !is_shadow_present_pte(sp->spt[idx]));
	if (!is_mmio_spte(sp->spt[idx]))
		sp->nr_mmio++;
	sp->mmio_cached = true;   /* 3.10: set here, never cleared (the page is freed zeroed) */
	sp->spt[idx] = SPTE_MMIO | ((uint64_t)(slots_gen & kvm->mmio_gen_mask) << SPTE_MMIO_GEN_SHIFT);
	stats_add(kvm->st, kvm->mmio_sid->sptes_created, 1);
	kvm_spend(kvm, kvm->sc->costs.spte_set);
}

/* Linux 3.11 arch/x86/kvm/x86.h: vcpu_cache_mmio_info() sets vcpu->arch.mmio_gfn, from
 * handle_abnormal_pfn() (a noslot fault) and handle_mmio_page_fault_common() (a walk that
 * found a current MMIO spte).  Nothing clears it: vcpu_clear_mmio_info() (invlpg,
 * mmu_sync_roots()) clears mmio_gva only, and mmu_sync_roots() returns at once on a direct
 * (EPT) MMU.  Later kernels check the generation too (3.17, 56f17dd3fbc4); 3.11 does not. */
void vcpu_cache_mmio_info(struct vcpu *v, uint64_t gfn)
{
	v->mmio_gfn = gfn;
}

/* Linux 3.11 vcpu_match_mmio_gpa(): "vcpu->arch.mmio_gfn && vcpu->arch.mmio_gfn == gpa >>
 * PAGE_SHIFT". */
bool vcpu_match_mmio_gpa(const struct vcpu *v, uint64_t gpa)
{
	return v->mmio_gfn && v->mmio_gfn == gpa >> 12;
}

/* Mirrors handle_mmio_page_fault_common() of Linux 3.11 with
 * walk_shadow_page_get_mmio_spte(): no mmu_lock (the walk runs with interrupts off, which
 * is what the remote flush before freeing pages waits for).  First quickly_check_mmio_pf():
 * the vCPU's last MMIO gfn is emulated with no walk and no generation check, even when its
 * spte has gone stale (3.11; zap-walk uses it too, as 3.10 had it: not read in a 3.10 tree). */
enum mmio_pf handle_mmio_page_fault(struct vcpu *v, uint64_t gpa)
{
	struct kvm *kvm = v->kvm;
	struct kvm_mmu_page *sp = v->root;
	uint64_t spte = 0;

	stats_add(kvm->st, kvm->mmio_sid->exits, 1);
	if (vcpu_match_mmio_gpa(v, gpa)) {
		stats_add(kvm->st, kvm->mmio_sid->cached, 1);
		stats_add(kvm->st, kvm->mmio_sid->fast, 1);
		return RET_MMIO_PF_EMULATE;
	}
	/* one instant, cost charged after: no pause holding page pointers */
	int levels = 0;
	for (int l = PT64_ROOT_LEVEL; sp; l--) {
		levels++;
		spte = sp->spt[spte_index(gpa, l)];
		if (!is_shadow_present_pte(spte) || is_last_spte(spte, l))
			break;
		sp = mmu_page(kvm, spte_child_id(spte));
	}
	vcpu_spend(v, (uint64_t)levels * kvm->sc->costs.mmio_walk_level);
	if (!is_mmio_spte(spte)) {
		/* zapped by another CPU meanwhile: let the access fault again */
		stats_add(kvm->st, kvm->mmio_sid->retry, 1);
		return RET_MMIO_PF_RETRY;
	}
	if (kvm->mmio_ops == &mmio_invalidate_variants[MMIO_INVALIDATE_GENERATION] &&
	    get_mmio_spte_generation(spte) != kvm_current_mmio_generation(kvm)) {
		stats_add(kvm->st, kvm->mmio_sid->slow, 1);
		return RET_MMIO_PF_INVALID;
	}
	/* a direct MMU caches the gfn (addr = 0: no gva) */
	vcpu_cache_mmio_info(v, gpa >> 12);
	stats_add(kvm->st, kvm->mmio_sid->fast, 1);
	return RET_MMIO_PF_EMULATE;
}

static void record_invalidation(struct kvm *kvm, uint64_t t0, uint64_t hold0)
{
	struct actor *me = kvm_current(kvm);
	stats_add(kvm->st, kvm->mmio_sid->invalidations, 1);
	stats_array_push(kvm->st, kvm->mmio_sid->invalidate_cycles, (int64_t)(me->clock - t0));
	stats_array_push(kvm->st, kvm->mmio_sid->invalidate_hold, (int64_t)(me->lock_hold - hold0));
}

/* Linux 3.11 install_new_memslots(): the bump alone invalidates every MMIO spte; every
 * bump is an invalidation (its cost, gen_bump). */
static void mmio_generation_updated(struct kvm *kvm, enum kvm_mr_change change)
{
	struct actor *me = kvm_current(kvm);

	(void)change;
	record_invalidation(kvm, me->clock - kvm->sc->costs.gen_bump, me->lock_hold);
}

/* Mirrors kvm_mmu_invalidate_mmio_sptes() of Linux 3.11 (arch/x86/kvm/mmu.c), called once
 * per ioctl at the end of kvm_arch_commit_memory_region(), for every kind of change:
 * "if (unlikely(kvm_current_mmio_generation(kvm) >= (MMIO_MAX_GEN - 1)))" zap all shadow
 * pages ("The max value is MMIO_MAX_GEN - 1 since it is not called when mark memslot
 * invalid"), MMIO_MAX_GEN being the mask of the spte's generation bits.  Not at each
 * install, and not only at 0: a delete's invalidating install is never checked, and every
 * ioctl that ends at MMIO_MAX_GEN - 1 or MMIO_MAX_GEN zaps.  The zap-all is an invalidation
 * of its own. */
static void mmio_generation_commit(struct kvm *kvm, enum kvm_mr_change change)
{
	struct actor *me = kvm_current(kvm);
	uint64_t t0 = me->clock, hold0 = me->lock_hold;

	(void)change;
	if (kvm_current_mmio_generation(kvm) >= kvm->mmio_gen_mask - 1) {
		stats_add(kvm->st, kvm->mmio_sid->gen_wraps, 1);
		kvm_mmu_zap_all(kvm, NULL);   /* kvm_mmu_invalidate_zap_all_pages() */
		record_invalidation(kvm, t0, hold0);
	}
}

/* Mirrors kvm_mmu_zap_mmio_sptes() of Linux 3.10 (arch/x86/kvm/mmu.c): under mmu_lock,
 * walk active_mmu_pages from the head, skip every page whose mmio_cached flag is clear
 * (set by mark_mmio_spte(), never cleared), kvm_mmu_prepare_zap_page() the others whole,
 * RAM sptes and all (their gfns refault), and restart from the head whenever it returns
 * non-zero (a page went to invalid_list: the list changed).  No cond_resched_lock(): the
 * lock is held for the whole walk, and one kvm_mmu_commit_zap_page() at the end flushes
 * once and frees the pages.  Every page the walk reads costs costs.sp_list_entry (its list
 * pointer and its flag: a dependent load), the pages a restart reads again included. */
static void kvm_mmu_zap_mmio_sptes(struct kvm *kvm)
{
	struct actor *me = kvm_current(kvm);
	struct kvm_mmu_page *sp, *node;
	LIST_HEAD(invalid_list);
	uint64_t t0 = me->clock, hold0;

	spin_lock(kvm->host, me);
	hold0 = me->lock_hold;
restart:
	list_for_each_entry_safe(sp, node, &kvm->active_mmu_pages, link) {
		stats_add(kvm->st, kvm->mmio_sid->visited, 1);
		kvm_spend(kvm, kvm->sc->costs.sp_list_entry);
		if (!sp->mmio_cached)
			continue;
		stats_add(kvm->st, kvm->mmio_sid->zapped, 1);
		stats_add(kvm->st, kvm->mmio_sid->dropped, sp->nr_mmio);
		if (kvm_mmu_prepare_zap_page(kvm, sp, &invalid_list))
			goto restart;
	}
	kvm_mmu_commit_zap_page(kvm, &invalid_list);
	spin_unlock(kvm->host, me);
	record_invalidation(kvm, t0, hold0);
}

static void mmio_zap_walk_updated(struct kvm *kvm, enum kvm_mr_change change)
{
	(void)kvm;
	(void)change;
}

static void mmio_zap_walk_commit(struct kvm *kvm, enum kvm_mr_change change)
{
	/* 3.10 kvm_arch_commit_memory_region(): "If memory slot is created, or moved, we need
	 * to clear all mmio sptes.", then every vCPU reloads its MMU (kvm_reload_remote_mmus()),
	 * after mmu_lock is dropped. */
	if (change == KVM_MR_CREATE || change == KVM_MR_MOVE) {
		kvm_mmu_zap_mmio_sptes(kvm);
		kvm_reload_remote_mmus(kvm);
	}
}

const struct mmio_invalidate_ops mmio_invalidate_variants[] = {
	[MMIO_INVALIDATE_ZAP_WALK] = { "zap-walk", mmio_zap_walk_updated, mmio_zap_walk_commit },
	[MMIO_INVALIDATE_GENERATION] = { "generation", mmio_generation_updated, mmio_generation_commit },
};

void kvm_install_new_memslots(struct kvm *kvm, enum kvm_mr_change change)
{
	/* install_new_memslots(): slots->generation++, then kvm_arch_memslots_updated() */
	kvm->memslots_generation++;
	stats_add(kvm->st, kvm->mmio_sid->gen_bumps, 1);
	kvm_spend(kvm, kvm->sc->costs.gen_bump);
	kvm->mmio_ops->memslots_updated(kvm, change);
}

void kvm_mmu_invalidate_mmio_sptes(struct kvm *kvm, enum kvm_mr_change change)
{
	assert(change != KVM_MR_INVALIDATE);
	kvm->mmio_ops->commit(kvm, change);
}
