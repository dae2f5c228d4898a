#include "ept/memslot.h"

#include "cpu/guest.h"
#include "ept/mmu.h"
#include "ept/zap.h"
#include "sim/config.h"

#include "sim/engine.h"

#include <errno.h>
#include <string.h>

struct kvm_memory_slot *kvm_slot_at(struct kvm *kvm, uint64_t gpa)
{
	gfn_t gfn = gpa >> 12;
	for (uint32_t i = 0; i < kvm->nr_slots; i++) {
		struct kvm_memory_slot *s = &kvm->slots[i];
		if (gfn >= s->base_gfn && gfn < s->base_gfn + s->npages)
			return s;
	}
	return NULL;
}

static bool overlaps_other(struct kvm *kvm, const struct kvm_memory_slot *slot, gfn_t base)
{
	for (uint32_t i = 0; i < kvm->nr_slots; i++) {
		const struct kvm_memory_slot *o = &kvm->slots[i];
		if (o != slot && o->present && base < o->base_gfn + o->npages && o->base_gfn < base + slot->npages)
			return true;
	}
	return false;
}

/* mutex_lock(&kvm->slots_lock) of Linux 3.11: kvm_set_memory_region() and
 * kvm_vm_ioctl_get_dirty_log() take it, so a memslot update never runs beside another (the
 * VMM thread's [events] and the vCPU threads' trace records issue them concurrently).  A
 * waiter sleeps (FIFO) until the holder's mutex_unlock() wakes it; no cost is modelled. */
void kvm_slots_lock(struct kvm *kvm)
{
	struct actor *me = kvm_current(kvm);

	if (!kvm->slots_owner) {
		kvm->slots_owner = me;
		return;
	}
	kvm->slots_waiters[kvm->nr_slots_waiters++] = me;   /* one entry per thread at most */
	actor_block(kvm->e, me);   /* woken by kvm_slots_unlock() as the owner */
}

void kvm_slots_unlock(struct kvm *kvm)
{
	struct actor *me = kvm_current(kvm);

	if (!kvm->nr_slots_waiters) {
		kvm->slots_owner = NULL;
		return;
	}
	struct actor *next = kvm->slots_waiters[0];
	memmove(kvm->slots_waiters, kvm->slots_waiters + 1, --kvm->nr_slots_waiters * sizeof(*kvm->slots_waiters));
	kvm->slots_owner = next;
	engine_wake(kvm->e, next, me->clock > next->clock ? me->clock : next->clock);
}

static int __kvm_set_memory_region(struct kvm *kvm, struct kvm_memory_slot *slot, enum kvm_mr_change change,
				   uint64_t new_base);

/* Mirrors kvm_set_memory_region() of Linux 3.11: __kvm_set_memory_region() under slots_lock. */
int kvm_set_memory_region(struct kvm *kvm, struct kvm_memory_slot *slot, enum kvm_mr_change change,
			  uint64_t new_base)
{
	kvm_slots_lock(kvm);
	int r = __kvm_set_memory_region(kvm, slot, change, new_base);
	kvm_slots_unlock(kvm);
	return r;
}

/* Mirrors __kvm_set_memory_region() of Linux 3.11 (virt/kvm/kvm_main.c). */
static int __kvm_set_memory_region(struct kvm *kvm, struct kvm_memory_slot *slot, enum kvm_mr_change change,
				   uint64_t new_base)
{
	switch (change) {
	case KVM_MR_CREATE:
		if (slot->present || overlaps_other(kvm, slot, slot->base_gfn))
			return -EINVAL;
		kvm_spend(kvm, kvm->sc->costs.ioctl_base);
		slot->present = true;
		kvm_install_new_memslots(kvm, KVM_MR_CREATE);
		kvm_mmu_invalidate_mmio_sptes(kvm, KVM_MR_CREATE);   /* kvm_arch_commit_memory_region() */
		return 0;
	case KVM_MR_FLAGS_ONLY:
		if (!slot->present)
			return -EINVAL;
		kvm_spend(kvm, kvm->sc->costs.ioctl_base);
		slot->readonly = !slot->readonly;
		kvm_install_new_memslots(kvm, KVM_MR_FLAGS_ONLY);
		kvm_mmu_invalidate_mmio_sptes(kvm, KVM_MR_FLAGS_ONLY);   /* kvm_arch_commit_memory_region() */
		return 0;
	case KVM_MR_DELETE:
	case KVM_MR_MOVE:
		/* 3.11 refuses a range that wraps (guest_phys_addr + memory_size <
		 * guest_phys_addr); the 4-level EPT translates 48 bits, so a slot must also end
		 * below 2^48 (later kernels check that in x86's kvm_arch_prepare_memory_region():
		 * base_gfn + npages - 1 > kvm_mmu_max_gfn() is -EINVAL).  The replay refuses a trace's
		 * move to a base beyond it; a base below it with a slot too large gets here. */
		if (!slot->present || (new_base & 4095) ||
		    (change == KVM_MR_MOVE && (new_base >= GUEST_GPA_SPACE ||
					       slot->npages > (GUEST_GPA_SPACE - new_base) >> 12 ||
					       overlaps_other(kvm, slot, new_base >> 12))))
			return -EINVAL;
		kvm_spend(kvm, kvm->sc->costs.ioctl_base);
		/* KVM_MEMSLOT_INVALID: "From this point no new shadow pages pointing to a
		 * deleted, or moved, memslot will be created." */
		slot->present = false;
		kvm_install_new_memslots(kvm, KVM_MR_INVALIDATE);
		kvm_arch_flush_shadow_memslot(kvm);
		if (change == KVM_MR_MOVE) {
			slot->base_gfn = new_base >> 12;
			if (kvm_slot_rmaps_realloc(kvm, slot))
				return -ENOMEM;
			slot->present = true;
		}
		kvm_install_new_memslots(kvm, change);
		kvm_mmu_invalidate_mmio_sptes(kvm, change);   /* kvm_arch_commit_memory_region() */
		return 0;
	default:
		return -EINVAL;
	}
}
