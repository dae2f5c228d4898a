#include "ept/dirty.h"

#include "ept/mmio.h"
#include "ept/mmu.h"
#include "sim/config.h"
#include "sim/engine.h"
#include "sim/host.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const struct stat_def dirty_stats[] = {
	{ "dirty_log.rounds", STAT_COUNTER, "events", "KVM_GET_DIRTY_LOG rounds" },
	{ "dirty_log.write_faults", STAT_COUNTER, "events", "writes that made a write-protected page writable (dirty)" },
	{ "dirty_log.protect_cycles", STAT_ARRAY, "cycles", "write-protecting: enable, then each round (lock waits included)" },
	{ "dirty_log.dirty_pages", STAT_ARRAY, "pages", "pages found dirty in each round" },
	{ "collapse.scanned", STAT_COUNTER, "rmaps", "4K rmaps (lazy-zap) or 2M regions (in-place) scanned" },
	{ "collapse.dropped", STAT_COUNTER, "sptes", "4K sptes dropped (lazy-zap) or replaced (in-place)" },
	{ "collapse.lock_breaks", STAT_COUNTER, "events", "lock-breaks of the collapse" },
	{ "collapse.flushes", STAT_COUNTER, "events", "remote TLB flushes of the collapse" },
	{ "collapse.duration_cycles", STAT_ARRAY, "cycles", "time of each collapse, lock waits included" },
	{ "collapse.refaults", STAT_COUNTER, "events", "faults in 2M regions lazy-zap emptied (they map 2M again)" },
	{ "collapse.tables_replaced", STAT_COUNTER, "pages", "4K tables replaced by a large spte (in-place)" },
	{ "ept.fast_page_faults", STAT_COUNTER, "events",
	  "writes to a write-protected leaf fixed by fast_page_fault() without mmu_lock, logging on or off" },
};

int dirty_init(struct kvm *kvm)
{
	kvm->collapse_ops = &collapse_variants[kvm->sc->collapse];
	kvm->dirty_sid = calloc(1, sizeof(*kvm->dirty_sid));
	if (!kvm->dirty_sid || STATS_REGISTER_STRUCT(kvm->st, dirty_stats, kvm->dirty_sid))
		return -1;
	return 0;
}

void dirty_free(struct kvm *kvm)
{
	for (uint32_t i = 0; kvm->slots && i < kvm->nr_slots; i++) {
		free(kvm->slots[i].dirty_bitmap);
		free(kvm->slots[i].collapsed);
	}
	free(kvm->dirty_sid);
	kvm->dirty_sid = NULL;
}

void kvm_dirty_write_fault(struct kvm *kvm) { stats_add(kvm->st, kvm->dirty_sid->write_faults, 1); }
void kvm_collapse_refault(struct kvm *kvm) { stats_add(kvm->st, kvm->dirty_sid->refaults, 1); }
void kvm_fast_page_fault_fixed(struct kvm *kvm) { stats_add(kvm->st, kvm->dirty_sid->fast_fixes, 1); }

static uint64_t slot_last_index(const struct kvm_memory_slot *slot, int level)
{
	unsigned s = 9 * (unsigned)(level - 1);
	return ((slot->base_gfn + slot->npages - 1) >> s) - (slot->base_gfn >> s);
}

/* Mirrors kvm_mmu_slot_remove_write_access() of Linux 3.10: every level's rmaps, a
 * lock-break (after a flush) whenever need_resched() or spin_needbreak(), one flush at the
 * end. */
static void kvm_mmu_slot_remove_write_access(struct kvm *kvm, struct kvm_memory_slot *slot)
{
	struct actor *me = kvm_current(kvm);

	spin_lock(kvm->host, me);
	for (int l = PT_PAGE_TABLE_LEVEL; l <= KVM_NR_PAGE_SIZES; l++) {
		uint64_t last = slot_last_index(slot, l);
		unsigned s = 9 * (unsigned)(l - 1);
		for (uint64_t i = 0; i <= last; i++) {
			if (slot->rmap[l - 1][i])
				kvm_rmap_write_protect(kvm, slot, ((slot->base_gfn >> s) + i) << s, l);
			if (need_resched(kvm->host, me) || spin_needbreak(kvm->host)) {
				kvm_flush_remote_tlbs(kvm);
				cond_resched_lock(kvm->host, me);
			}
		}
	}
	kvm_flush_remote_tlbs(kvm);
	spin_unlock(kvm->host, me);
}

int kvm_dirty_log_enable(struct kvm *kvm, struct kvm_memory_slot *slot)
{
	struct actor *me = kvm_current(kvm);
	uint64_t t0 = me->clock;

	if (!slot->present || slot->dirty_logging)
		return -EINVAL;
	slot->dirty_bitmap = calloc((slot->npages + 63) / 64, sizeof(uint64_t));
	if (!slot->dirty_bitmap)
		return -ENOMEM;
	kvm_spend(kvm, kvm->sc->costs.ioctl_base);
	slot->dirty_logging = true;
	kvm_install_new_memslots(kvm, KVM_MR_FLAGS_ONLY);
	/* kvm_arch_commit_memory_region(): "Write protect all pages for dirty logging" */
	kvm_mmu_slot_remove_write_access(kvm, slot);
	/* its last step (3.11): kvm_mmu_invalidate_mmio_sptes() */
	kvm_mmu_invalidate_mmio_sptes(kvm, KVM_MR_FLAGS_ONLY);
	stats_array_push(kvm->st, kvm->dirty_sid->protect_cycles, (int64_t)(me->clock - t0));
	return 0;
}

/* Mirrors kvm_vm_ioctl_get_dirty_log() of Linux 3.10: under mmu_lock, re-protect the pages
 * dirtied since the last round (kvm_mmu_write_protect_pt_masked()), clear the bitmap, and
 * flush if anything was dirty. */
int kvm_get_dirty_log(struct kvm *kvm, struct kvm_memory_slot *slot, uint64_t *dirty)
{
	struct actor *me = kvm_current(kvm);
	uint64_t t0 = me->clock, n = 0;

	if (!slot->dirty_logging)
		return -EINVAL;
	kvm_spend(kvm, kvm->sc->costs.ioctl_base);
	spin_lock(kvm->host, me);
	for (uint64_t w = 0; w < (slot->npages + 63) / 64; w++) {
		uint64_t bits = slot->dirty_bitmap[w];
		slot->dirty_bitmap[w] = 0;
		while (bits) {
			int b = __builtin_ctzll(bits);
			bits &= bits - 1;
			kvm_rmap_write_protect(kvm, slot, slot->base_gfn + w * 64 + (uint64_t)b, PT_PAGE_TABLE_LEVEL);
			n++;
		}
	}
	if (n)
		kvm_flush_remote_tlbs(kvm);   /* 3.10 flushes before dropping mmu_lock */
	spin_unlock(kvm->host, me);
	stats_add(kvm->st, kvm->dirty_sid->rounds, 1);
	stats_array_push(kvm->st, kvm->dirty_sid->dirty_pages, (int64_t)n);
	stats_array_push(kvm->st, kvm->dirty_sid->protect_cycles, (int64_t)(me->clock - t0));
	if (dirty)
		*dirty = n;
	return 0;
}

static void collapse_none(struct kvm *kvm, struct kvm_memory_slot *slot)
{
	(void)kvm;
	(void)slot;
}

/* Mirrors kvm_mmu_zap_collapsible_sptes() of the lazy-collapse patch. */
static void collapse_lazy_zap(struct kvm *kvm, struct kvm_memory_slot *slot)
{
	struct actor *me = kvm_current(kvm);
	const struct dirty_stats_ids *d = kvm->dirty_sid;
	bool flush = false;

	free(slot->collapsed);
	slot->collapsed = calloc(slot_last_index(slot, PT_DIRECTORY_LEVEL) + 1, 1);
	spin_lock(kvm->host, me);
	uint64_t last = slot_last_index(slot, PT_PAGE_TABLE_LEVEL);
	for (uint64_t i = 0; i <= last; i++) {
		gfn_t gfn = slot->base_gfn + i;
		if (slot->rmap[0][i]) {
			unsigned n = kvm_zap_collapsible_spte(kvm, slot, gfn);
			if (n) {
				flush = true;
				stats_add(kvm->st, d->dropped, n);
				if (slot->collapsed)
					slot->collapsed[(gfn >> 9) - (slot->base_gfn >> 9)] = 1;
			}
		}
		stats_add(kvm->st, d->scanned, 1);
		if (need_resched(kvm->host, me) || spin_needbreak(kvm->host)) {
			if (flush) {
				kvm_flush_remote_tlbs(kvm);
				stats_add(kvm->st, d->flushes, 1);
				flush = false;
			}
			if (cond_resched_lock(kvm->host, me))
				stats_add(kvm->st, d->lock_breaks, 1);
		}
	}
	if (flush) {
		kvm_flush_remote_tlbs(kvm);
		stats_add(kvm->st, d->flushes, 1);
	}
	spin_unlock(kvm->host, me);
}

/* Commit what a collapse prepared (the flush, then the tables freed), counted as its flush. */
static void collapse_commit(struct kvm *kvm, struct list_head *invalid_list)
{
	if (list_empty(invalid_list))
		return;
	stats_add(kvm->st, kvm->dirty_sid->flushes, 1);
	kvm_mmu_commit_zap_page(kvm, invalid_list);
}

/* For comparison, the idealised bound of the in-place recovery upstream did later: each
 * collapsible 4K table becomes one large spte under the lock, with no refault.  It yields
 * the lock as lazy-zap does (4.1 slot_handle_level_range(): when need_resched() or
 * spin_needbreak(), flush if a flush is pending, here by committing the tables replaced so
 * far, then cond_resched_lock()), once per 2M region, and commits once at the end. */
static void collapse_in_place(struct kvm *kvm, struct kvm_memory_slot *slot)
{
	struct actor *me = kvm_current(kvm);
	const struct dirty_stats_ids *d = kvm->dirty_sid;
	LIST_HEAD(invalid_list);

	spin_lock(kvm->host, me);
	uint64_t last = slot_last_index(slot, PT_DIRECTORY_LEVEL);
	for (uint64_t r = 0; r <= last; r++) {
		gfn_t base = ((slot->base_gfn >> 9) + r) << 9;
		stats_add(kvm->st, d->scanned, 1);
		/* any mapped 4K page of the region leads to its table */
		for (gfn_t g = base < slot->base_gfn ? slot->base_gfn : base;
		     g < base + 512 && g < slot->base_gfn + slot->npages; g++) {
			if (!slot->rmap[0][g - slot->base_gfn])
				continue;
			unsigned n = kvm_collapse_table_inplace(kvm, slot, g, &invalid_list);
			if (n) {
				stats_add(kvm->st, d->dropped, n);
				stats_add(kvm->st, d->replaced, 1);
			}
			break;
		}
		if (need_resched(kvm->host, me) || spin_needbreak(kvm->host)) {
			collapse_commit(kvm, &invalid_list);
			if (cond_resched_lock(kvm->host, me))
				stats_add(kvm->st, d->lock_breaks, 1);
		}
	}
	collapse_commit(kvm, &invalid_list);
	spin_unlock(kvm->host, me);
}

const struct collapse_ops collapse_variants[] = {
	[COLLAPSE_NONE] = { "none", collapse_none },
	[COLLAPSE_LAZY_ZAP] = { "lazy-zap", collapse_lazy_zap },
	[COLLAPSE_IN_PLACE] = { "in-place", collapse_in_place },
};

int kvm_dirty_log_disable(struct kvm *kvm, struct kvm_memory_slot *slot)
{
	struct actor *me = kvm_current(kvm);

	if (!slot->dirty_logging)
		return -EINVAL;
	kvm_spend(kvm, kvm->sc->costs.ioctl_base);
	slot->dirty_logging = false;
	free(slot->dirty_bitmap);
	slot->dirty_bitmap = NULL;
	kvm_install_new_memslots(kvm, KVM_MR_FLAGS_ONLY);
	uint64_t t0 = me->clock;
	/* kvm_arch_commit_memory_region() (the lazy-collapse patch): logging went off on a slot that stays */
	kvm->collapse_ops->collapse(kvm, slot);
	stats_array_push(kvm->st, kvm->dirty_sid->duration, (int64_t)(me->clock - t0));
	/* its last step (3.11): kvm_mmu_invalidate_mmio_sptes() */
	kvm_mmu_invalidate_mmio_sptes(kvm, KVM_MR_FLAGS_ONLY);
	return 0;
}
