/* ept/dirty — dirty logging on a memslot and the collapse of its small sptes when logging
 * stops (the lazy-collapse patch).
 *
 * Enabling logging write-protects the slot (kvm_mmu_slot_remove_write_access(): an rmap walk
 * under mmu_lock, large sptes dropped, 4K ones made read-only but left mmu-writable, then a
 * remote flush) and forbids large mappings; a fault that maps a page maps it writable and
 * marks it dirty (3.10 maps TDP sptes with ACC_ALL, reads too); a write to a write-protected
 * 4K page is fixed without the lock (fast_page_fault(), keyed on SPTE_MMU_WRITEABLE) and
 * marks it dirty; a round of KVM_GET_DIRTY_LOG re-protects the pages dirtied since the last
 * round and flushes.  Disabling it (a cancelled migration, the end of a dirty-rate probe)
 * leaves the slot mapped with 4K sptes; mmu.collapse chooses what happens then, a row of
 * collapse_variants[]:
 *   none      the sptes stay 4K: under THP the fast path goes on fixing writes to
 *             write-protected ones (Linux 3.10 fast_page_fault(): its level is 4K, THP being
 *             raised to 2M only on the slow path); only a fault on a page not mapped maps 2M
 *             over a table; under hugetlbfs a write to a write-protected one takes the slow
 *             path, which maps 2M over its table
 *   lazy-zap  kvm_mmu_zap_collapsible_sptes() (the lazy-collapse patch, Linux 4.1): walk the slot's 4K
 *             rmaps, drop the direct sptes the host backs with a huge page, flush before a
 *             lock-break if a flush is pending and once at the end; later faults map 2M
 *   in-place  replace each collapsible 4K table by one large spte under the lock, with no
 *             refault; yield the lock as lazy-zap does (committing the tables replaced so
 *             far first) and flush once at the end: the idealised bound of the in-place
 *             recovery upstream did later, for comparison
 */
#ifndef EPTSIM_EPT_DIRTY_H
#define EPTSIM_EPT_DIRTY_H

#include <stdint.h>

#include "sim/stats.h"

struct kvm;
struct kvm_memory_slot;

struct collapse_ops {
	const char *name;
	void (*collapse)(struct kvm *kvm, struct kvm_memory_slot *slot);
};

extern const struct collapse_ops collapse_variants[];   /* enum collapse_variant */

struct dirty_stats_ids {   /* in dirty_stats[] order (dirty.c) */
	stat_id rounds, write_faults, protect_cycles, dirty_pages, scanned, dropped, lock_breaks, flushes,
		duration, refaults, replaced, fast_fixes;
};

int dirty_init(struct kvm *kvm);
void dirty_free(struct kvm *kvm);

/* KVM_SET_USER_MEMORY_REGION with KVM_MEM_LOG_DIRTY_PAGES set / cleared, and
 * KVM_GET_DIRTY_LOG.  From an actor's fiber.  0 or -EINVAL if it does not apply. */
int kvm_dirty_log_enable(struct kvm *kvm, struct kvm_memory_slot *slot);
int kvm_get_dirty_log(struct kvm *kvm, struct kvm_memory_slot *slot, uint64_t *dirty);
int kvm_dirty_log_disable(struct kvm *kvm, struct kvm_memory_slot *slot);

/* Hooks of the fault path. */
void kvm_dirty_write_fault(struct kvm *kvm);
void kvm_collapse_refault(struct kvm *kvm);
void kvm_fast_page_fault_fixed(struct kvm *kvm);

#endif
