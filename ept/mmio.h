/* ept/mmio — MMIO sptes and their invalidation when the memslots change (the fast MMIO invalidation series).
 *
 * A guest access to a GPA in no memslot faults once under mmu_lock and installs an MMIO
 * spte carrying the low mmu.mmio_gen_bits bits of the memslots generation
 * (mark_mmio_spte()).  Later accesses take an EPT misconfig exit and the lockless
 * handle_mmio_page_fault(): if the spte's generation is current the access is emulated
 * with no lock (fast path); if it is stale, the exit goes back to the fault handler under
 * mmu_lock, which installs a fresh MMIO spte (slow path).
 *
 * When the memslots change, MMIO sptes must go (the GPA may now be memory).  Two variants,
 * a row each of mmio_invalidate_variants[] (mmu.mmio_invalidate):
 *   zap-walk    Linux 3.10: on a memslot create or move, take mmu_lock, walk active_mmu_pages
 *               and zap whole every page that ever held an MMIO spte (mmio_cached), RAM
 *               sptes included, restarting after each zap; one commit (one flush), no
 *               lock-break; then kvm_reload_remote_mmus().
 *   generation  Linux 3.11: every install of new memslots bumps the generation, which makes
 *               every MMIO spte stale at once; once per ioctl, in kvm_arch_commit_memory_region(),
 *               if the MMIO generation is >= MMIO_MAX_GEN - 1, zap all (mmu.zap_all) so an
 *               ancient spte cannot match again.
 * The memslots generation starts at mmu.mmio_gen_start (3.11: MMIO_MAX_GEN - 150).
 *
 * Both variants keep each vCPU's last MMIO gfn (vcpu->arch.mmio_gfn, set by
 * vcpu_cache_mmio_info()); an MMIO exit on it is emulated with no walk and no generation
 * check (quickly_check_mmio_pf()).
 */
#ifndef EPTSIM_EPT_MMIO_H
#define EPTSIM_EPT_MMIO_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/stats.h"

struct kvm;
struct kvm_mmu_page;
struct vcpu;

/* What kind of memslot change an install of new memslots completes (enum kvm_mr_change). */
enum kvm_mr_change { KVM_MR_CREATE, KVM_MR_DELETE, KVM_MR_MOVE, KVM_MR_FLAGS_ONLY, KVM_MR_INVALIDATE };

struct mmio_invalidate_ops {
	const char *name;
	/* after every install of new memslots (install_new_memslots()) */
	void (*memslots_updated)(struct kvm *kvm, enum kvm_mr_change change);
	/* once per ioctl, after its last install: kvm_arch_commit_memory_region()'s MMIO part */
	void (*commit)(struct kvm *kvm, enum kvm_mr_change change);
};

extern const struct mmio_invalidate_ops mmio_invalidate_variants[];   /* enum mmio_invalidate */

struct mmio_stats_ids {   /* in mmio_stats[] order (mmio.c) */
	stat_id exits, fast, cached, slow, retry, sptes_created, gen_bumps, gen_wraps, invalidations,
		invalidate_cycles, invalidate_hold, dropped, zapped, visited;
};

int mmio_init(struct kvm *kvm);
void mmio_free(struct kvm *kvm);

/* kvm_current_mmio_generation(): the low mmu.mmio_gen_bits bits of the generation. */
unsigned kvm_current_mmio_generation(const struct kvm *kvm);
/* mark_mmio_spte(): under mmu_lock; slots_gen is the memslots generation the fault found
 * no slot in. */
void mark_mmio_spte(struct kvm *kvm, struct kvm_mmu_page *sp, unsigned idx, uint64_t slots_gen);

enum mmio_pf { RET_MMIO_PF_EMULATE, RET_MMIO_PF_INVALID, RET_MMIO_PF_RETRY };
/* handle_ept_misconfig() -> handle_mmio_page_fault_common(): the lockless walk from the
 * vCPU's root to gpa's spte and the generation check.  Charges the vCPU. */
enum mmio_pf handle_mmio_page_fault(struct vcpu *v, uint64_t gpa);

/* Install new memslots: generation++ and the variant's per-install part. */
void kvm_install_new_memslots(struct kvm *kvm, enum kvm_mr_change change);
/* kvm_arch_commit_memory_region()'s MMIO part, once per ioctl after its last install
 * (change: the ioctl's change, never KVM_MR_INVALIDATE). */
void kvm_mmu_invalidate_mmio_sptes(struct kvm *kvm, enum kvm_mr_change change);

/* vcpu_cache_mmio_info() / vcpu_match_mmio_gpa() of Linux 3.11 (x86.h), for EPT (direct):
 * the vCPU's last MMIO gfn; gfn 0 never matches. */
void vcpu_cache_mmio_info(struct vcpu *v, uint64_t gfn);
bool vcpu_match_mmio_gpa(const struct vcpu *v, uint64_t gpa);

#endif
