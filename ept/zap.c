#include "ept/zap.h"

#include "ept/mmu.h"
#include "sim/config.h"
#include "sim/engine.h"
#include "sim/host.h"
#include "sim/stats.h"

#include <assert.h>

enum zap_step { ZAP_NEXT, ZAP_RESTART, ZAP_STOP };

static void zap_commit(struct kvm *kvm, struct list_head *invalid_list, struct zap_run *run)
{
	if (!list_empty(invalid_list))
		run->flushes++;
	kvm_mmu_commit_zap_page(kvm, invalid_list);
}

/* The lock-break of kvm_zap_obsolete_pages() before v7 10/11 (v7 10/11, its removed lines):
 *	if (batch >= BATCH_ZAP_PAGES &&
 *	    (need_resched() || spin_needbreak(&kvm->mmu_lock))) {
 *		batch = 0;
 *		kvm_mmu_commit_zap_page(kvm, &invalid_list);
 *		cond_resched_lock(&kvm->mmu_lock);
 *		goto restart;
 *	}
 */
static bool lock_break_flush(struct kvm *kvm, struct list_head *invalid_list, struct zap_run *run)
{
	struct actor *me = kvm_current(kvm);

	if (!(need_resched(kvm->host, me) || spin_needbreak(kvm->host)))
		return false;
	zap_commit(kvm, invalid_list, run);
	if (cond_resched_lock(kvm->host, me))
		run->lock_breaks++;
	return true;
}

/* After v7 10/11 (v7 10/11): the vCPUs reloaded when the generation was bumped, so the
 * obsolete pages can be zapped without a flush at the break:
 *	if (batch >= BATCH_ZAP_PAGES && cond_resched_lock(&kvm->mmu_lock)) {
 *		batch = 0;
 *		goto restart;
 *	}
 */
static bool lock_break_noflush(struct kvm *kvm, struct list_head *invalid_list, struct zap_run *run)
{
	(void)invalid_list;
	if (!cond_resched_lock(kvm->host, kvm_current(kvm)))
		return false;
	run->lock_breaks++;
	return true;
}

const struct zap_all_ops zap_all_variants[] = {
	[ZAP_ALL_LEGACY] = {
		/* kvm_mmu_zap_all() of Linux 3.9 (the same in 3.10.99): every page, from the
		 * head, under the lock, restarting after each page that went to invalid_list.
		 * kvm_mmu_prepare_zap_page() of both has, for a root in use,
		 *	list_move(&sp->link, &kvm->arch.active_mmu_pages);
		 *	kvm_reload_remote_mmus(kvm);
		 * with no test of role.invalid: a root still in use is moved to the head and
		 * zapped again, with another reload, at every restart of the walk.  And
		 * kvm_arch_flush_shadow_memslot() is kvm_arch_flush_shadow_all():
		 *	kvm_mmu_zap_all(kvm);
		 *	kvm_reload_remote_mmus(kvm);
		 * (arch/x86/kvm/x86.c of 3.9.6 and 3.10.99). */
		.name = "legacy",
		.root_zap_reload_always = true,
		.reload_after = true,
	},
	[ZAP_ALL_FAST_FLUSH_AT_BREAK] = {
		/* v7 09/11 state: generation + lock-break, commit before every break.  The
		 * prepare-zap reload is 3.10's unconditional one (3.11 has the test; which patch
		 * of the series added it is not checked here): the walk skips invalid pages and
		 * no root holds an MMIO spte, so it reloads once per root, obsolete or not. */
		.name = "fast-flush-at-break",
		.bump_generation = true,
		.root_zap_reload_always = true,
		.obsolete_from_tail = true,
		.skip_invalid = true,
		.lock_break = lock_break_flush,
	},
	[ZAP_ALL_FAST_V7] = {
		/* Linux 3.11 kvm_mmu_invalidate_zap_all_pages() / kvm_zap_obsolete_pages(). */
		.name = "fast-v7",
		.bump_generation = true,
		.reload_upfront = true,
		.obsolete_from_tail = true,
		.skip_invalid = true,
		.lock_break = lock_break_noflush,
	},
};

struct zap_ids { stat_id count, pages_total, lock_breaks, flushes, pages, duration, hold; };

static const struct stat_def zap_stats[] = {
	{ "zap.count", STAT_COUNTER, "events", "zap-all runs" },
	{ "zap.pages_zapped", STAT_COUNTER, "pages", "shadow pages zapped by all zap-all runs" },
	{ "zap.lock_breaks", STAT_ARRAY, "events", "lock-breaks of each zap-all run (the v7 09/11 review's printk)" },
	{ "zap.flushes", STAT_ARRAY, "events", "remote TLB flushes issued by each zap-all run" },
	{ "zap.pages", STAT_ARRAY, "pages", "pages zapped by each zap-all run" },
	{ "zap.duration_cycles", STAT_ARRAY, "cycles", "wall time of each zap-all run, lock to unlock" },
	{ "zap.hold_cycles", STAT_ARRAY, "cycles", "mmu_lock hold time of each zap-all run" },
};

static struct zap_ids zid_of(struct kvm *kvm)
{
	return (struct zap_ids){
		stats_lookup(kvm->st, "zap.count"), stats_lookup(kvm->st, "zap.pages_zapped"),
		stats_lookup(kvm->st, "zap.lock_breaks"), stats_lookup(kvm->st, "zap.flushes"),
		stats_lookup(kvm->st, "zap.pages"), stats_lookup(kvm->st, "zap.duration_cycles"),
		stats_lookup(kvm->st, "zap.hold_cycles"),
	};
}

int zap_init(struct kvm *kvm)
{
	kvm->zap_ops = &zap_all_variants[kvm->sc->zap_all];
	kvm->root_zap_reload_always = kvm->zap_ops->root_zap_reload_always;
	return stats_register(kvm->st, zap_stats, sizeof(zap_stats) / sizeof(zap_stats[0]), NULL);
}

/* One step of the walk, shared by every variant: the body of the loops of
 * kvm_zap_obsolete_pages() (3.11) and kvm_mmu_zap_all() (3.9). */
static enum zap_step zap_one(struct kvm *kvm, struct kvm_mmu_page *sp, struct list_head *invalid_list,
			     int *batch, struct zap_run *run)
{
	const struct zap_all_ops *ops = kvm->zap_ops;

	/* No obsolete page exists before a newly created one: active_mmu_pages is FIFO. */
	if (ops->obsolete_from_tail && !is_obsolete_sp(kvm, sp))
		return ZAP_STOP;
	/* Invalid pages were moved to the head: skipping them avoids walking forever. */
	if (ops->skip_invalid && sp->role.invalid)
		return ZAP_NEXT;
	if (ops->lock_break && *batch >= (int)kvm->sc->batch_zap_pages &&
	    ops->lock_break(kvm, invalid_list, run)) {
		*batch = 0;
		return ZAP_RESTART;
	}
	int ret = kvm_mmu_prepare_zap_page(kvm, sp, invalid_list);
	*batch += ret;
	run->pages += (uint32_t)ret;
	return ret ? ZAP_RESTART : ZAP_NEXT;
}

static void zap_walk(struct kvm *kvm, struct zap_run *run)
{
	struct kvm_mmu_page *sp, *node;
	LIST_HEAD(invalid_list);
	enum zap_step s = ZAP_NEXT;
	int batch = 0;

restart:
	if (kvm->zap_ops->obsolete_from_tail) {
		list_for_each_entry_safe_reverse(sp, node, &kvm->active_mmu_pages, link)
			if ((s = zap_one(kvm, sp, &invalid_list, &batch, run)) != ZAP_NEXT)
				break;
	} else {
		list_for_each_entry_safe(sp, node, &kvm->active_mmu_pages, link)
			if ((s = zap_one(kvm, sp, &invalid_list, &batch, run)) != ZAP_NEXT)
				break;
	}
	if (s == ZAP_RESTART) {
		s = ZAP_NEXT;
		goto restart;
	}
	/* Flush before freeing: lockless walkers may still use the pages. */
	zap_commit(kvm, &invalid_list, run);
}

void kvm_mmu_zap_all(struct kvm *kvm, struct zap_run *out)
{
	struct actor *me = kvm_current(kvm);
	struct zap_ids z = zid_of(kvm);
	struct zap_run run = { 0 };
	uint64_t t0 = me->clock, hold0;

	spin_lock(kvm->host, me);
	hold0 = me->lock_hold;
	if (kvm->zap_ops->bump_generation) {
		kvm->mmu_valid_gen++;
		kvm_spend(kvm, kvm->sc->costs.gen_bump);
	}
	/* Under mmu_lock, or a vCPU could purge a shadow page but miss the flush (v7 10/11). */
	if (kvm->zap_ops->reload_upfront)
		kvm_reload_remote_mmus(kvm);
	zap_walk(kvm, &run);
	if (kvm->zap_done_hook)
		kvm->zap_done_hook(kvm, kvm->zap_done_ctx);
	spin_unlock(kvm->host, me);
	/* every hold of this run, including those between lock-breaks */
	uint64_t hold = me->lock_hold - hold0;

	stats_add(kvm->st, z.count, 1);
	stats_add(kvm->st, z.pages_total, run.pages);
	stats_array_push(kvm->st, z.lock_breaks, run.lock_breaks);
	stats_array_push(kvm->st, z.flushes, run.flushes);
	stats_array_push(kvm->st, z.pages, run.pages);
	stats_array_push(kvm->st, z.duration, (int64_t)(me->clock - t0));
	stats_array_push(kvm->st, z.hold, (int64_t)hold);
	if (out)
		*out = run;
}

void kvm_arch_flush_shadow_memslot(struct kvm *kvm)
{
	kvm_mmu_zap_all(kvm, NULL);
	/* after mmu_lock is dropped, as kvm_arch_flush_shadow_all() of 3.9/3.10 does */
	if (kvm->zap_ops->reload_after)
		kvm_reload_remote_mmus(kvm);
}
