/* ept/zap — zap all shadow pages (kvm_mmu_invalidate_zap_all_pages) with the variants the
 * 2013 "fast invalidate all pages" series went through (v7 10/11, mmu.txt and the v7 09/11 review).
 *
 * One walker over active_mmu_pages serves every variant; what differs is a row of
 * zap_all_variants[] (zap.c): whether the generation is bumped, whether the vCPUs are told
 * to reload their roots up front, which end the walk starts from and when it stops, and what
 * a lock-break does (never, commit + flush first, or just break).
 *
 * Every run pushes one entry to zap.lock_breaks, zap.flushes, zap.pages and
 * zap.duration_cycles: per-zap figures, like the v7 09/11 review's printk("lock-break: %d").
 */
#ifndef EPTSIM_EPT_ZAP_H
#define EPTSIM_EPT_ZAP_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/list.h"

struct kvm;

struct zap_run {
	uint32_t lock_breaks;   /* cond_resched_lock() returned true */
	uint32_t flushes;       /* remote TLB flushes issued by this zap */
	uint32_t pages;         /* pages put on an invalid list */
};

struct zap_all_ops {
	const char *name;
	bool bump_generation;             /* kvm->arch.mmu_valid_gen++ */
	bool reload_upfront;              /* kvm_reload_remote_mmus() right after the bump */
	/* kvm_mmu_prepare_zap_page() of a root in use calls kvm_reload_remote_mmus() every
	 * time (3.9, 3.10), even for a root it made invalid before; false: only for a root
	 * neither invalid nor obsolete (3.11, v7 10/11) */
	bool root_zap_reload_always;
	bool reload_after;                /* kvm_arch_flush_shadow_all(): zap, then kvm_reload_remote_mmus() */
	bool obsolete_from_tail;          /* walk from the tail, stop at the first valid page */
	bool skip_invalid;                /* `if (sp->role.invalid) continue;` */
	/* Called when batch >= BATCH_ZAP_PAGES; true: the walk restarts.  NULL: never breaks. */
	bool (*lock_break)(struct kvm *kvm, struct list_head *invalid_list, struct zap_run *run);
};

extern const struct zap_all_ops zap_all_variants[];   /* indexed by enum zap_all_variant */

/* Register zap.* stats and select the variant from the scenario. */
int zap_init(struct kvm *kvm);
/* kvm_mmu_invalidate_zap_all_pages(): takes mmu_lock itself; run from an actor's fiber. */
void kvm_mmu_zap_all(struct kvm *kvm, struct zap_run *out);
/* kvm_arch_flush_shadow_memslot(): the zap-all above, then the variant's reload_after. */
void kvm_arch_flush_shadow_memslot(struct kvm *kvm);

#endif
