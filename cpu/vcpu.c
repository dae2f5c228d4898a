#include "cpu/vcpu.h"

#include "cpu/cache.h"
#include "cpu/gpt.h"
#include "cpu/guest.h"
#include "cpu/pwc.h"
#include "cpu/tlb.h"
#include "cpu/walk.h"
#include "ept/memslot.h"
#include "ept/mmio.h"
#include "ept/mmu.h"
#include "sim/config.h"
#include "sim/fiber.h"
#include "sim/stats.h"
#include "workloads/elfsym.h"
#include "workloads/workload.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)

#define VCPU_RNG_STREAM 0x20000ULL
#define VCPU_FIBER_STACK (128 * 1024)
#define GUEST_UNMAP_PAGE_CYCLES 40   /* zap_pte_range + free_page per page at process exit */

static struct engine *eng(const struct vcpu *v) { return v->kvm->e; }

void vcpu_spend(struct vcpu *v, uint64_t cycles)
{
	v->cycles[v->cat] += cycles;
	actor_spend(eng(v), &v->actor, cycles);
}

void vcpu_account(struct vcpu *v, uint64_t cycles)
{
	v->cycles[v->cat] += cycles;
}

bool vcpu_request_and_kick(struct vcpu *v, unsigned int req, struct ipi_wait *w, uint64_t now)
{
	v->requests |= req;
	/* make_all_cpus_request() of Linux 3.10 (virt/kvm/kvm_main.c) IPIs every other CPU for
	 * which `kvm_vcpu_exiting_guest_mode(vcpu) != OUTSIDE_GUEST_MODE`: that helper is
	 * cmpxchg(&vcpu->mode, IN_GUEST_MODE, EXITING_GUEST_MODE) and returns the old mode, so
	 * a vCPU already in EXITING_GUEST_MODE gets another IPI too (only kvm_vcpu_kick()
	 * tests `== IN_GUEST_MODE`).  The caller's own vCPU (w NULL here) gets none. */
	if (v->mode == OUTSIDE_GUEST_MODE || !w)
		return false;
	/* IN_GUEST_MODE: this IPI makes the vCPU exit; EXITING_GUEST_MODE: an earlier one did
	 * (the vCPU has not run since) */
	bool first = v->mode == IN_GUEST_MODE;
	v->mode = EXITING_GUEST_MODE;
	const struct costs_cfg *c = &v->sc->costs;
	uint64_t at = now + c->ipi_deliver;
	if (!v->ipi_req)
		v->ipi_req = req;
	if (at < v->ipi_at)
		v->ipi_at = at;
	w->sent++;
	v->n.ipis++;
	/* A vCPU whose clock is past now is inside instructions (its next access waits for an
	 * event at its clock, vcpu_exec()): the IPI interrupts them when it arrives, and the
	 * handler acknowledges it then.  The vCPU does the exit's work when it next runs, which
	 * changes nothing in between: it executes no access before that.  Such an IPI is not
	 * queued: an idle vCPU can take hundreds of them (one per flush of a zap that breaks
	 * its lock often) before it runs again.
	 *
	 * The IPI finds the vCPU in guest mode, so it causes a VM exit, and ack_flush() runs
	 * in the host after it (issue 13 §1.10): the ack comes costs.vmexit + ipi_handler after
	 * the arrival, as for an IPI the vCPU takes after an exit (vcpu_take_ipis(): the exit's
	 * vmexit is spent before the acks).  The vCPU takes one exit for every IPI that reaches
	 * it before it runs again, as for those it queues: after the first, the later ones find
	 * it in the host (handling its requests; a reload waits for mmu_lock there), and are
	 * acknowledged once their handler has run after the previous one's.  The vCPU's own
	 * cost of that exit (exit, handler, entry) is charged when it next runs
	 * (vcpu_take_ipis(), EXIT_IPI).  (Model: a vCPU that would have re-entered the guest
	 * in between and exited again for a later IPI takes one exit here, not two.) */
	if (v->actor.clock > now) {
		uint64_t ack = first ? at + c->vmexit + c->ipi_handler
				     : (at > v->ipi_host_ack ? at : v->ipi_host_ack) + c->ipi_handler;
		v->ipi_host_ack = ack;
		if (ack > w->last_ack)
			w->last_ack = ack;
		return true;
	}
	/* Not acknowledged until this vCPU exits (vcpu_take_ipis()).  smp_call_function_many(...,
	 * wait = 1): its requester blocks in make_all_cpus_request() until every IPI it sent is
	 * acknowledged, and only vcpu_take_ipis() acknowledges one, emptying the queue.  So a
	 * requester has at most one entry here, and the requesters are the actors running
	 * kernel code other than this vCPU (the other vCPU threads and the VMM thread:
	 * max_ipis, vcpu_new()).  No input reaches this assert; a model change that lets a
	 * requester go on before its acks would. */
	assert(v->nr_ipis < v->max_ipis);
	v->ipis[v->nr_ipis].w = w;
	v->ipis[v->nr_ipis].at = at;
	v->nr_ipis++;
	w->pending++;
	return true;
}

/* The host takes the pending IPIs after an exit at the vCPU's clock: each is acknowledged
 * when its handler (ack_flush) has run, which is what the requester waits for. */
static void vcpu_take_ipis(struct vcpu *v)
{
	uint64_t t = v->actor.clock;

	for (uint32_t i = 0; i < v->nr_ipis; i++) {
		struct ipi_wait *w = v->ipis[i].w;
		uint64_t at = v->ipis[i].at > t ? v->ipis[i].at : t;
		uint64_t ack = at + v->sc->costs.ipi_handler;
		if (ack > w->last_ack)
			w->last_ack = ack;
		if (--w->pending == 0 && w->blocked) {
			w->waiter->cls = ACTOR_MUTATOR;
			engine_wake(eng(v), w->waiter, w->last_ack);
		}
	}
	if (v->ipi_req) {
		/* The handlers run on this CPU: the vCPU is stalled meanwhile.  An exit the IPI
		 * caused costs the exit and the entry too. */
		const struct costs_cfg *c = &v->sc->costs;
		uint64_t stall = c->ipi_handler + (v->exit_reason == EXIT_IPI ? c->vmexit + c->vmentry : 0);
		if (v->ipi_req & KVM_REQ_TLB_FLUSH)
			v->stall_flush += stall;
		else
			v->stall_reload += stall;
		vcpu_spend(v, c->ipi_handler);
	}
	v->nr_ipis = 0;
	v->ipi_req = 0;
	v->ipi_at = UINT64_MAX;
	v->ipi_host_ack = 0;
}

static void vcpu_flush_local(struct vcpu *v, enum tlb_flush_cause cause)
{
	vcpu_spend(v, v->sc->costs.tlb_flush_local);
	tlb_flush(v->tlb, cause);
	if (v->gpwc)
		pwc_flush(v->gpwc);
	if (v->epwc)
		pwc_flush(v->epwc);
}

/* The request part of vcpu_enter_guest() (arch/x86/kvm/x86.c, 3.10), and kvm_mmu_reload(). */
static void vcpu_handle_requests(struct vcpu *v)
{
	v->cat = VC_REQUEST;
	while (v->requests || !v->root) {
		if (v->requests & KVM_REQ_MMU_RELOAD) {
			v->requests &= ~KVM_REQ_MMU_RELOAD;
			v->n.reloads++;
			uint64_t t0 = v->actor.clock;
			kvm_mmu_unload(v);
			v->stall_reload += v->actor.clock - t0;
		}
		if (v->requests & KVM_REQ_TLB_FLUSH) {
			v->requests &= ~KVM_REQ_TLB_FLUSH;
			v->n.flush_requests++;
			v->stall_flush += v->sc->costs.tlb_flush_local;
			vcpu_flush_local(v, TLB_CAUSE_REMOTE);
		}
		if (!v->root) {
			uint64_t t0 = v->actor.clock;
			kvm_mmu_load(v);
			v->stall_reload += v->actor.clock - t0 + v->sc->costs.tlb_flush_local;
			/* vmx_set_cr3() flushes the new EPTP's context */
			vcpu_flush_local(v, TLB_CAUSE_RELOAD);
		}
	}
}

/* Cycles of icount instructions of guest work, rounded to the nearest. */
static uint64_t insn_cycles(const struct scenario *sc, uint64_t icount)
{
	return (uint64_t)((double)icount * sc->cpi + 0.5);
}

static inline void guest_charge(struct vcpu *v, enum vcpu_cycles cat, uint64_t c)
{
	v->cycles[cat] += c;
	v->actor.clock += c;
}

/* Guest-side process exit: the guest unmaps the range and flushes its own TLB (a range this
 * large is a full flush in Linux: tlb_single_page_flush_ceiling). */
static void vcpu_guest_unmap(struct vcpu *v, uint64_t gva, uint64_t len)
{
	uint64_t n = gpt_unmap_range(v->gpt, gva, len, v->pool, v->pool);
	v->data_page[0] = v->data_page[1] = UINT64_MAX;
	guest_charge(v, VC_GUEST, n * GUEST_UNMAP_PAGE_CYCLES + v->sc->costs.tlb_flush_local);
	tlb_flush(v->tlb, TLB_CAUSE_OTHER);
	if (v->gpwc)
		pwc_flush(v->gpwc);
}

/* A trace's memslot record: arg is the op, addr a GPA in the slot, len the size (create) or
 * the new base (move).  Records that name no configured slot, or an op that does not apply,
 * are counted and skipped. */
static void vcpu_memslot_op(struct vcpu *v)
{
	static const enum kvm_mr_change change[] = {
		[MEMSLOT_CREATE] = KVM_MR_CREATE, [MEMSLOT_DELETE] = KVM_MR_DELETE,
		[MEMSLOT_MOVE] = KVM_MR_MOVE, [MEMSLOT_FLAGS] = KVM_MR_FLAGS_ONLY,
	};
	const struct trace_record *r = v->rec;
	struct kvm_memory_slot *slot = kvm_slot_at(v->kvm, r->addr);

	v->n.memslot_ops++;
	if (!slot || r->arg > MEMSLOT_FLAGS ||
	    kvm_set_memory_region(v->kvm, slot, change[r->arg], r->arg == MEMSLOT_MOVE ? r->len : 0))
		v->n.bad_memslot_ops++;
}

/* EXEC_DROPPED: the access cannot be translated (a bad trace address, counted in bad_addrs):
 * the record is done without touching the rest of its pages. */
enum exec_result { EXEC_DONE, EXEC_EXIT, EXEC_DEFER, EXEC_DROPPED };

/* A control record in guest mode.  EXEC_EXIT if it needs a VM exit. */
static enum exec_result vcpu_exec_control(struct vcpu *v)
{
	const struct trace_record *r = v->rec;

	if (r->kind == REC_UNMAP) {
		if (v->gpt)
			vcpu_guest_unmap(v, r->addr, r->len);
		return EXEC_DONE;
	}
	if (r->kind == REC_MEMSLOT) {
		/* The device model changes the memslots from this vCPU's thread (QEMU does
		 * that on the vCPU's MMIO exit): exit to the host for the ioctl. */
		v->exit_reason = EXIT_IOCTL;
		return EXEC_EXIT;
	}
	return EXEC_DONE;   /* dirty-log records and markers: nothing for the guest to do */
}

/* The access of v->rec to the page of addr missed the TLB: walk, then fill the TLB, or take
 * the guest's page fault and look up again, or exit.  EXEC_EXIT if it needs a VM exit.
 *
 * A miss of the look-up that retries an access after a fault on its page (the guest's page
 * fault, or an exit: EPT violation or misconfig, the record executing again afterwards) is
 * the same access, not a new miss: counted in retry_misses too (v->retry_page: the page of
 * the current record's last fault). */
static enum exec_result __attribute__((noinline)) vcpu_tlb_miss(struct vcpu *v, struct walk_ctx *w,
								bool fetch, bool write, uint64_t addr)
{
	const struct costs_cfg *c = &v->sc->costs;

	for (;;) {
		if (addr >> 12 == v->retry_page)
			v->n.retry_misses++;
		w->root = v->root;
		struct walk_result wr = walk_2d(w, addr);
		v->n.walks++;
		v->n.walk_refs += wr.refs;
		v->walk_refs_hist[wr.refs]++;
		if (v->attr) {
			attribution_add(v->attr, v->cur_sym, ATTR_TLB_MISSES, 1);
			attribution_add(v->attr, v->cur_sym, ATTR_WALK_REFS, wr.refs);
		}
		guest_charge(v, VC_WALK, c->stlb_hit + wr.cycles);
		switch (wr.status) {
		case WALK_OK:
			tlb_fill(v->tlb, fetch, addr, wr.ps, wr.writable);
			if (write && !wr.writable) {
				v->retry_page = addr >> 12;
				/* a write through a read-only spte (dirty logging): EPT violation */
				v->exit_reason = EXIT_EPT_VIOLATION;
				v->exit_gpa = wr.gpa;
				v->exit_write = true;
				return EXEC_EXIT;
			}
			return EXEC_DONE;
		case WALK_GUEST_FAULT:
			v->n.guest_pfs++;
			guest_charge(v, VC_GUEST, c->guest_pf);
			if (guest_page_fault(v->layout, v->gpt, v->pool, addr)) {
				/* nothing can map it (a bad trace address): drop the record */
				v->n.bad_addrs++;
				return EXEC_DROPPED;
			}
			v->retry_page = addr >> 12;
			break;
		case WALK_EPT_VIOLATION:
		case WALK_EPT_MISCONFIG:
			v->retry_page = addr >> 12;
			v->exit_reason = wr.status == WALK_EPT_VIOLATION ? EXIT_EPT_VIOLATION : EXIT_EPT_MISCONFIG;
			v->exit_gpa = wr.gpa;
			v->exit_write = write;
			return EXEC_EXIT;
		}
		/* the guest mapped the page: the access looks up the TLB again */
		struct tlb_result t = tlb_lookup(v->tlb, fetch, write, addr);
		if (t.level != TLB_MISS) {
			guest_charge(v, VC_GUEST, t.level == TLB_HIT_L1 ? c->l1_tlb_hit : c->stlb_hit);
			return EXEC_DONE;
		}
	}
}

/* Does r's access end in a later 4K page than it starts in? */
static inline bool rec_crosses_page(const struct trace_record *r)
{
	return (r->addr & 4095) + r->size > 4096;
}

/* The pages of v->rec's access after its first (rec_crosses_page()): each 4K page up to its
 * last byte is translated, as the CPU translates both pages of a split access.  An exit on
 * one of them executes the record again from its first page, as the CPU restarts the
 * instruction (the pages translated before hit the TLB then). */
static enum exec_result __attribute__((noinline)) vcpu_access_rest(struct vcpu *v, struct walk_ctx *w,
								   bool fetch, bool write)
{
	const struct trace_record *r = v->rec;
	uint64_t last = r->addr + (r->size - 1);

	if (last < r->addr)
		last = UINT64_MAX;   /* a size past the top of the address space: up to the top */
	for (uint64_t page = (r->addr >> 12) + 1; page <= last >> 12; page++) {
		uint64_t addr = page << 12;
		struct tlb_result t = tlb_lookup(v->tlb, fetch, write, addr);

		if (t.level != TLB_MISS) {
			guest_charge(v, VC_GUEST, t.level == TLB_HIT_L1 ? v->sc->costs.l1_tlb_hit
								: v->sc->costs.stlb_hit);
			continue;
		}
		enum exec_result x = vcpu_tlb_miss(v, w, fetch, write, addr);
		if (x != EXEC_DONE)
			return x;
	}
	return EXEC_DONE;
}

/* walk.refs = cache: the record's access reaches the caches once its translation is in the TLB
 * (MMIO is uncached: not sent).  Its line is that of its GPA, which stands in for the HPA
 * (walk.h); an address the guest has not mapped (a record dropped as bad) touches nothing. */
static void __attribute__((noinline)) vcpu_data_ref(struct vcpu *v)
{
	const struct trace_record *r = v->rec;
	uint64_t gpa = r->addr, page = r->addr & ~4095ULL;
	bool fetch = r->kind == REC_FETCH;

	if (r->kind > REC_FETCH)
		return;
	if (v->gpt) {
		/* the guest page of the last translation for code and for data, as the L1 TLBs
		 * try their last hit (vcpu_guest_unmap() forgets them) */
		if (page == v->data_page[fetch]) {
			gpa = v->data_gpa[fetch] | (r->addr & 4095);
		} else {
			if (gpt_translate(v->gpt, r->addr, &gpa, NULL))
				return;
			v->data_page[fetch] = page;
			v->data_gpa[fetch] = gpa & ~4095ULL;
		}
	}
	cache_hier_access(v->cache, fetch ? CACHE_FETCH : CACHE_DATA, gpa);
}

/* Execute v->rec in guest mode: EXEC_EXIT if it needs a VM exit (EPT violation...),
 * EXEC_DEFER if its instructions run past the horizon or past a pending IPI's arrival: its
 * access then happens in an event of its own at that time, after every other actor's
 * earlier events.  Until then the vCPU only executes instructions, which an IPI interrupts
 * at once (vcpu_request_and_kick()).
 *
 * The common case, a memory access that hits the TLB, charges its instructions and the hit
 * in one step (the vCPU's clock is then one add per record, not two). */
static inline enum exec_result vcpu_exec(struct vcpu *v, struct walk_ctx *w, uint64_t stop)
{
	const struct trace_record *r = v->rec;
	uint64_t insns = 0;   /* cycles of the record's instructions, not charged yet */

	if (!v->rec_insns_done) {
		/* the table holds insn_cycles() of each small count: the same numbers, without
		 * a conversion through double per record */
		insns = r->icount < VCPU_INSN_CYCLES_TABLE ? v->insn_cycles[r->icount]
							   : insn_cycles(v->sc, r->icount);
		v->rec_insns_done = true;
		if (r->icount && v->actor.clock + insns >= stop) {
			guest_charge(v, VC_GUEST, insns);
			return EXEC_DEFER;
		}
	}
	if (unlikely(!rec_is_memory(r->kind))) {
		guest_charge(v, VC_GUEST, insns);
		return vcpu_exec_control(v);
	}
	bool fetch = r->kind == REC_FETCH;
	bool write = r->kind == REC_WRITE || r->kind == REC_MMIO_WRITE;
#ifdef EPTSIM_CHECK_INVARIANTS
	/* A flush IPI that has reached the vCPU is taken before its next access: the TLB is
	 * never used between the IPI's arrival and the flush (what the requester waits for). */
	if ((v->requests & KVM_REQ_TLB_FLUSH) && v->actor.clock >= v->ipi_at) {
		fprintf(stderr, "eptsim: invariant broken: vCPU %u accesses its TLB at cycle %llu, after a "
			"flush IPI arrived at cycle %llu\n", v->id, (unsigned long long)v->actor.clock,
			(unsigned long long)v->ipi_at);
		abort();
	}
#endif
	if (v->attr && fetch)
		v->cur_sym = elfsym_lookup(v->syms, r->addr);
	struct tlb_result t = tlb_lookup(v->tlb, fetch, write, r->addr);
	enum exec_result x = EXEC_DONE;
	if (likely(t.level != TLB_MISS)) {
		guest_charge(v, VC_GUEST, insns + (t.level == TLB_HIT_L1 ? v->sc->costs.l1_tlb_hit
									  : v->sc->costs.stlb_hit));
	} else {
		guest_charge(v, VC_GUEST, insns);
		x = vcpu_tlb_miss(v, w, fetch, write, r->addr);
	}
	if (unlikely(x == EXEC_DONE && rec_crosses_page(r)))
		x = vcpu_access_rest(v, w, fetch, write);
	if (unlikely(v->cache) && x == EXEC_DONE)
		vcpu_data_ref(v);
	return x == EXEC_DROPPED ? EXEC_DONE : x;
}

/* Guest mode: executes records in the engine's context until the horizon, an IPI, an exit
 * or the end of the stream.  Exits continue in the fiber at the same clock. */
static void vcpu_run_guest(struct vcpu *v)
{
	struct actor *a = &v->actor;
	uint64_t horizon = engine_horizon(eng(v), a);
	/* where a record's instructions stop before its access: the horizon or a pending IPI's
	 * arrival (nothing in this batch moves either) */
	uint64_t stop = horizon < v->ipi_at ? horizon : v->ipi_at;
	struct walk_ctx w = v->walk;

	for (;;) {
		if (a->clock >= v->ipi_at) {
			v->exit_reason = EXIT_IPI;
			break;
		}
		if (!v->have_rec) {
			int r = workload_next_ref(v->wl, &v->rec);
			if (r <= 0) {
				v->wl_failed = r < 0;
				v->exit_reason = EXIT_HALT;
				break;
			}
			v->have_rec = true;
			v->rec_insns_done = false;
			v->retry_page = UINT64_MAX;   /* no fault yet (vcpu_tlb_miss()) */
		}
		enum exec_result x = vcpu_exec(v, &w, stop);
		if (x == EXEC_DEFER) {
			engine_wake(eng(v), a, a->clock);
			return;
		}
		if (x == EXEC_EXIT)
			break;
		v->have_rec = false;
		v->n.records++;
		if (v->attr)
			attribution_add(v->attr, v->cur_sym, ATTR_RECORDS, 1);
		if (a->clock >= horizon) {
			engine_wake(eng(v), a, a->clock);
			return;
		}
	}
	/* VM exit */
	v->mode = OUTSIDE_GUEST_MODE;
	a->cls = ACTOR_MUTATOR;
	v->n.exits++;
	fiber_resume(a->fiber);
}

static void vcpu_actor_run(struct actor *a)
{
	struct vcpu *v = a->ctx;

	if (v->mode != OUTSIDE_GUEST_MODE && a->cls == ACTOR_GUEST)
		vcpu_run_guest(v);
	else
		fiber_resume(a->fiber);
}

static void vcpu_main(void *arg)
{
	struct vcpu *v = arg;
	struct actor *a = &v->actor;

	for (;;) {
		vcpu_handle_requests(v);
		/* vcpu_enter_guest(): mode = IN_GUEST_MODE, then a last look at requests */
		v->mode = IN_GUEST_MODE;
		if (v->requests) {
			v->mode = OUTSIDE_GUEST_MODE;
			continue;
		}
		v->cat = VC_EXIT;
		vcpu_spend(v, v->sc->costs.vmentry);
		a->cls = ACTOR_GUEST;
		engine_wake(eng(v), a, a->clock);
		fiber_yield(a->fiber);

		/* back from a VM exit */
		v->cat = v->exit_reason == EXIT_IPI ? VC_REQUEST : VC_EXIT;
		vcpu_spend(v, v->sc->costs.vmexit);
		v->cat = VC_REQUEST;
		vcpu_take_ipis(v);
		v->cat = VC_EXIT;
		if (v->exit_reason == EXIT_EPT_VIOLATION) {
			v->n.ept_violations++;
			uint64_t wait0 = a->lock_wait;
			/* fast_page_fault(): a write-protected 4K page of a dirty-logged slot is
			 * made writable without mmu_lock */
			enum pf_result r = v->exit_write && kvm_fast_page_fault(v, v->exit_gpa) ?
					   PF_FIXED : kvm_tdp_page_fault(v, v->exit_gpa, v->exit_write);
			if (v->attr) {
				attribution_add(v->attr, v->cur_sym, ATTR_EPT_FAULTS, 1);
				attribution_add(v->attr, v->cur_sym, ATTR_LOCK_WAIT_CYCLES, a->lock_wait - wait0);
			}
			if (r == PF_EMULATE) {
				/* emulated access (a write to a read-only slot, or an MMIO spte just
				 * made: mmu_set_spte()'s *emulate of Linux 3.11): the record is done */
				v->have_rec = false;
				v->n.records++;
			}
		} else if (v->exit_reason == EXIT_EPT_MISCONFIG) {
			/* Mirrors handle_ept_misconfig() of Linux 3.11 (vmx.c). */
			v->n.mmio_exits++;
			switch (handle_mmio_page_fault(v, v->exit_gpa)) {
			case RET_MMIO_PF_EMULATE:
				vcpu_spend(v, v->sc->costs.mmio_emulate);
				v->have_rec = false;
				v->n.records++;
				break;
			case RET_MMIO_PF_INVALID:
				/* kvm_mmu_page_fault(): a fresh MMIO spte, and the access emulated
				 * in this exit (PF_EMULATE); if the GPA is memory now, mapped */
				if (kvm_tdp_page_fault(v, v->exit_gpa, v->exit_write) == PF_EMULATE) {
					v->have_rec = false;
					v->n.records++;
				}
				break;
			case RET_MMIO_PF_RETRY:
				break;
			}
		} else if (v->exit_reason == EXIT_IOCTL) {
			vcpu_memslot_op(v);
			v->have_rec = false;
			v->n.records++;
		} else if (v->exit_reason == EXIT_HALT) {
			v->done = true;
			v->halted_at = a->clock;
			return;   /* the fiber ends; the actor is never woken again */
		}
	}
}

struct vcpu *vcpu_new(struct kvm *kvm, const struct scenario *sc, uint32_t id, struct engine *e,
		      const struct guest_layout *layout, struct gpt *gpt, struct gpa_pool *pool,
		      struct workload *wl)
{
	struct vcpu *v = calloc(1, sizeof(*v));
	struct tlb_config tc;
	struct pwc_config gc = { 0 }, ec = { 0 };

	if (!v)
		return NULL;
	v->kvm = kvm;
	v->sc = sc;
	v->id = id;
	v->layout = layout;
	v->gpt = gpt;
	v->pool = pool;
	v->wl = wl;
	v->ipi_at = UINT64_MAX;
	v->retry_page = UINT64_MAX;
	v->cur_sym = ELFSYM_UNKNOWN;
	v->data_page[0] = v->data_page[1] = UINT64_MAX;
	/* at most one IPI not yet acknowledged per requester (vcpu_request_and_kick()): the
	 * sc->vcpus - 1 other vCPU threads and the VMM thread */
	v->max_ipis = sc->vcpus;
	for (uint64_t i = 0; i < VCPU_INSN_CYCLES_TABLE; i++)
		v->insn_cycles[i] = insn_cycles(sc, i);
	v->ipis = calloc(v->max_ipis, sizeof(*v->ipis));
	for (int s = 0; s < 3; s++) {
		tc.l1d[s] = (struct tlb_geom){ sc->l1d_entries[s], sc->l1d_ways[s] };
		tc.l1i[s] = (struct tlb_geom){ sc->l1i_entries[s], sc->l1i_ways[s] };
		tc.stlb[s] = (struct tlb_geom){ sc->stlb_entries[s], sc->stlb_ways[s] };
	}
	for (int t = TLB_L1D; t < TLB_STRUCT_NR; t++)   /* tlb_shared[]: l1d, l1i, stlb */
		tc.shared[t] = (uint8_t)config_tlb_shared_mask(sc->tlb_shared[t]);
	for (int l = 2; l <= 4; l++) {
		gc.entries[l] = sc->gpwc_entries[l];
		gc.ways[l] = sc->gpwc_entries[l] ? sc->gpwc_entries[l] : 1;
		ec.entries[l] = sc->epwc_entries[l];
		ec.ways[l] = sc->epwc_entries[l] ? sc->epwc_entries[l] : 1;
	}
	v->tlb = tlb_new(&tc);
	v->gpwc = gpt ? pwc_new(&gc) : NULL;
	v->epwc = pwc_new(&ec);
	v->fiber = fiber_new(vcpu_main, v, VCPU_FIBER_STACK);
	if (!v->ipis || !v->tlb || (gpt && !v->gpwc) || !v->epwc || !v->fiber) {
		vcpu_free(v);
		return NULL;
	}
	rng_seed(&v->rng, sc->seed, VCPU_RNG_STREAM + id);
	snprintf(v->name, sizeof(v->name), "vcpu%u", id);
	v->actor.name = v->name;
	v->actor.ctx = v;
	v->actor.fiber = v->fiber;
	v->actor.run = vcpu_actor_run;
	v->walk.kvm = kvm;
	v->walk.groot = gpt ? gpt_root(gpt) : NULL;
	v->walk.gpwc = v->gpwc;
	v->walk.epwc = v->epwc;
	v->walk.rng = &v->rng;
	walk_ctx_costs(&v->walk, &sc->costs);
	engine_add_actor(e, &v->actor);
	return v;
}

int vcpu_attach_cache(struct vcpu *v, struct cache *llc)
{
	const struct scenario *sc = v->sc;
	struct cache_hier_config cfg = {
		.l1d = { sc->cache_l1d.size, sc->cache_l1d.ways, 1 },
		.l1i = { sc->cache_l1i.size, sc->cache_l1i.ways, 1 },
		.l2 = { sc->cache_l2.size, sc->cache_l2.ways, 1 },
		.line_shift = config_cache_line_shift(sc),
	};
	struct cache_hier *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	int r = cache_hier_init(h, &cfg, llc);
	if (r) {
		free(h);
		return r;
	}
	v->cache = v->walk.cache = h;
	return 0;
}

void vcpu_free(struct vcpu *v)
{
	if (!v)
		return;
	if (v->cache)
		cache_hier_destroy(v->cache);
	free(v->cache);
	tlb_free(v->tlb);
	pwc_free(v->gpwc);
	pwc_free(v->epwc);
	fiber_free(v->fiber);
	free(v->ipis);
	free(v);
}

void vcpu_start(struct vcpu *v)
{
	v->actor.cls = ACTOR_MUTATOR;
	engine_wake(eng(v), &v->actor, 0);
}

static const char *const cycle_names[VC_NR] = { "guest", "walk", "exit", "lock_wait", "request", "idle" };

void vcpu_publish_stats(struct vcpu *v, struct stats *st, uint64_t end)
{
	char name[96];
	const struct tlb_counters *tc = tlb_counters(v->tlb);

	/* The lock module measured the waits; they were charged to no category yet. */
	v->cycles[VC_LOCK_WAIT] = v->actor.lock_wait;
	if (v->done && end > v->halted_at)
		v->cycles[VC_IDLE] = end - v->halted_at;
	uint64_t total = 0;
	for (int c = 0; c < VC_NR; c++) {
		snprintf(name, sizeof(name), "vcpu.%u.cycles.%s", v->id, cycle_names[c]);
		stats_set(st, stats_register_one(st, name, STAT_COUNTER, "cycles", "per-vCPU cycle breakdown"),
			  v->cycles[c]);
		total += v->cycles[c];
	}
	snprintf(name, sizeof(name), "vcpu.%u.cycles.total", v->id);
	stats_set(st, stats_register_one(st, name, STAT_COUNTER, "cycles", "sum of the breakdown"), total);
	struct { const char *n; uint64_t v; } per[] = {
		{ "records", v->n.records }, { "tlb_misses", tc->misses }, { "walk_refs", v->n.walk_refs },
		{ "exits", v->n.exits }, { "ept_violations", v->n.ept_violations }, { "reloads", v->n.reloads },
		{ "mmio_exits", v->n.mmio_exits }, { "memslot_ops", v->n.memslot_ops },
		{ "bad_memslot_ops", v->n.bad_memslot_ops }, { "bad_addrs", v->n.bad_addrs },
	};
	for (size_t i = 0; i < sizeof(per) / sizeof(per[0]); i++) {
		snprintf(name, sizeof(name), "vcpu.%u.%s", v->id, per[i].n);
		stats_set(st, stats_register_one(st, name, STAT_COUNTER, "events", "per-vCPU count"), per[i].v);
	}
}

/* The TLBs' counters by structure, side and page size, summed over the vCPUs, as perf's
 * dtlb_load_misses.* / itlb_misses.* break them down (README, Stats).  The registry keeps
 * the help pointers: literals only. */
void vcpu_publish_tlb_stats(struct vcpu *const *v, uint32_t n, struct stats *st)
{
	static const char *const l1[TLB_SIDE_NR] = { "l1d", "l1i" };
	static const char *const side[TLB_SIDE_NR] = { "data", "insn" };
	static const char *const size[PS_NR] = { "4k", "2m", "1g" };
	static const char *const help_l1_hits[TLB_SIDE_NR] = {
		"reads and writes that hit the L1 DTLB, by the page size of the entry, all vCPUs",
		"instruction fetches that hit the L1 ITLB, by the page size of the entry, all vCPUs" };
	static const char *const help_l1_misses[TLB_SIDE_NR] = {
		"reads and writes that missed the L1 DTLB (STLB hits + STLB misses), all vCPUs",
		"instruction fetches that missed the L1 ITLB (STLB hits + STLB misses), all vCPUs" };
	static const char *const help_stlb_hits =
		"look-ups that missed the L1 and hit the STLB, by the page size of the entry "
		"(perf: dtlb_load_misses.stlb_hit_4k / _2m), all vCPUs";
	static const char *const help_stlb_misses = "look-ups that missed the L1 and the STLB (a walk follows), all vCPUs";
	static const char *const help_walks =
		"walks after STLB misses that found a translation and filled the TLB, by its page size "
		"(perf's walk_completed_4k / _2m_4m / _1g also counts walks ending in a fault), all vCPUs";
	struct tlb_counters sum = { 0 };
	uint64_t retry = 0;
	char name[64];

	for (uint32_t i = 0; i < n; i++) {
		const struct tlb_counters *c = tlb_counters(v[i]->tlb);

		sum.misses += c->misses;
		for (int d = 0; d < TLB_SIDE_NR; d++) {
			sum.stlb_misses[d] += c->stlb_misses[d];
			for (int ps = 0; ps < PS_NR; ps++) {
				sum.hits[d][0][ps] += c->hits[d][0][ps];
				sum.hits[d][1][ps] += c->hits[d][1][ps];
				sum.fills[d][ps] += c->fills[d][ps];
			}
		}
		retry += v[i]->n.retry_misses;
	}
	for (int d = 0; d < TLB_SIDE_NR; d++) {
		uint64_t stlb_hits = 0;

		for (int ps = 0; ps < PS_NR; ps++) {
			snprintf(name, sizeof(name), "tlb.%s.hits.%s", l1[d], size[ps]);
			stats_set(st, stats_register_one(st, name, STAT_COUNTER, "events", help_l1_hits[d]),
				  sum.hits[d][0][ps]);
			snprintf(name, sizeof(name), "tlb.stlb.%s.hits.%s", side[d], size[ps]);
			stats_set(st, stats_register_one(st, name, STAT_COUNTER, "events", help_stlb_hits),
				  sum.hits[d][1][ps]);
			snprintf(name, sizeof(name), "tlb.stlb.%s.walks.%s", side[d], size[ps]);
			stats_set(st, stats_register_one(st, name, STAT_COUNTER, "events", help_walks),
				  sum.fills[d][ps]);
			stlb_hits += sum.hits[d][1][ps];
		}
		snprintf(name, sizeof(name), "tlb.%s.misses", l1[d]);
		stats_set(st, stats_register_one(st, name, STAT_COUNTER, "events", help_l1_misses[d]),
			  stlb_hits + sum.stlb_misses[d]);
		snprintf(name, sizeof(name), "tlb.stlb.%s.misses", side[d]);
		stats_set(st, stats_register_one(st, name, STAT_COUNTER, "events", help_stlb_misses),
			  sum.stlb_misses[d]);
	}
	stats_set(st, stats_register_one(st, "tlb.retry_misses", STAT_COUNTER, "events",
					 "TLB misses of an access retried after a fault on its page (guest page fault, "
					 "EPT violation or misconfig exit): in tlb.misses, not new misses"), retry);
	stats_set(st, stats_register_one(st, "tlb.first_misses", STAT_COUNTER, "events",
					 "TLB misses that are not retries: tlb.misses - tlb.retry_misses"), sum.misses - retry);
}
