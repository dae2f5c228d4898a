/* ept/memslot — memslot updates as __kvm_set_memory_region() of Linux 3.10/3.11 runs them.
 *
 *   delete, move:  mark the slot invalid (no fault maps it from now on), install
 *                  (generation++), zap all shadow pages with mmu.zap_all
 *                  (kvm_arch_flush_shadow_memslot()), then install the final memslots
 *                  (generation++)
 *   create, flags: install (generation++)
 * Every install ends in kvm_install_new_memslots(), where mmu.mmio_invalidate acts.
 * Runs on the actor that issued the ioctl (the VMM thread for [events], the vCPU thread for
 * a trace's memslot record, as QEMU does from a vCPU's MMIO exit).
 */
#ifndef EPTSIM_EPT_MEMSLOT_H
#define EPTSIM_EPT_MEMSLOT_H

#include <stdint.h>

#include "ept/mmio.h"

struct kvm;
struct kvm_memory_slot;

/* kvm->slots_lock, a mutex: memslot ioctls (kvm_set_memory_region(), the dirty log's) run
 * one at a time, whichever thread issues them.  kvm_slots_lock() sleeps while another actor
 * holds it; kvm_slots_unlock() hands it to the next waiter. */
void kvm_slots_lock(struct kvm *kvm);
void kvm_slots_unlock(struct kvm *kvm);
/* change: KVM_MR_CREATE (slot must be absent), KVM_MR_DELETE (present), KVM_MR_MOVE
 * (present; new_base in bytes, 4K aligned), KVM_MR_FLAGS_ONLY (present: toggles read-only).
 * 0, or -EINVAL for an update that does not apply (then nothing changed).  Takes slots_lock. */
int kvm_set_memory_region(struct kvm *kvm, struct kvm_memory_slot *slot, enum kvm_mr_change change,
			  uint64_t new_base);
/* The slot whose range contains gpa, present or not (NULL if none). */
struct kvm_memory_slot *kvm_slot_at(struct kvm *kvm, uint64_t gpa);

#endif
