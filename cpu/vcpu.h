/* cpu/vcpu — a vCPU: guest execution of trace records through its TLBs and the 2D walk, VM
 * exits, and the kernel side of KVM's vcpu_enter_guest() loop (requests, root reload).
 *
 * The guest side runs in the engine's context in batches (as far as the engine's horizon
 * allows); everything after a VM exit runs in the vCPU's fiber, because it takes mmu_lock
 * and may wait.
 */
#ifndef EPTSIM_CPU_VCPU_H
#define EPTSIM_CPU_VCPU_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/engine.h"
#include "sim/rng.h"
#include "cpu/walk.h"
#include "traces/record.h"

struct kvm;
struct kvm_mmu_page;
struct tlb;
struct pwc;
struct gpt;
struct gpa_pool;
struct workload;
struct guest_layout;
struct fiber;
struct elfsym;
struct attribution;
struct scenario;
struct stats;
struct cache;
struct cache_hier;

/* vcpu->mode, as in include/linux/kvm_host.h */
enum vcpu_mode { OUTSIDE_GUEST_MODE, IN_GUEST_MODE, EXITING_GUEST_MODE };

/* vcpu->requests bits */
#define KVM_REQ_TLB_FLUSH  (1u << 0)
#define KVM_REQ_MMU_RELOAD (1u << 1)

/* Where a vCPU's cycles go (vcpu.N.cycles.*).  They add up to the vCPU's elapsed time. */
enum vcpu_cycles {
	VC_GUEST,      /* guest instructions, TLB hits, guest page faults */
	VC_WALK,       /* 2D page walks after TLB misses */
	VC_EXIT,       /* VM exit/entry and exit handling (EPT violations) outside lock waits */
	VC_LOCK_WAIT,  /* spinning on mmu_lock */
	VC_REQUEST,    /* IPIs and requests: remote flushes, root reloads */
	VC_IDLE,       /* halted (workload over) */
	VC_NR
};

enum exit_reason { EXIT_NONE, EXIT_EPT_VIOLATION, EXIT_EPT_MISCONFIG, EXIT_IPI, EXIT_HALT, EXIT_IOCTL };

/* Instruction counts below this have their cycles precomputed (vcpu->insn_cycles). */
#define VCPU_INSN_CYCLES_TABLE 256

/* One IPI in flight to this vCPU, and whom to acknowledge. */
struct ipi_wait {
	struct actor *waiter;
	uint32_t pending;            /* IPIs not acknowledged yet */
	uint32_t sent;               /* IPIs sent */
	uint64_t last_ack;
	bool blocked;        /* the waiter is blocked: the last ack wakes it */
};

struct vcpu_counters {
	uint64_t records, walks, walk_refs, guest_pfs, ept_violations, exits, ipis;
	uint64_t reloads, flush_requests, bad_addrs, mmio_exits, memslot_ops, bad_memslot_ops;
	uint64_t retry_misses;   /* TLB misses of an access retried after a fault on its page */
};

struct vcpu {
	struct actor actor;
	char name[16];
	struct fiber *fiber;
	struct kvm *kvm;
	const struct scenario *sc;
	uint32_t id;

	enum vcpu_mode mode;
	unsigned int requests;
	struct kvm_mmu_page *root;          /* vcpu->arch.mmu.root_hpa */
	uint64_t mmio_gfn;                  /* vcpu->arch.mmio_gfn: the last MMIO gfn, 0 if none (ept/mmio.c) */

	/* IPIs that reached this vCPU since its last exit.  Only those not acknowledged yet
	 * (their requester waits) are queued, at most one per requester (vcpu_new()); the
	 * others, acknowledged on arrival, leave only the request of the first IPI (the exit
	 * path's stall accounting) and the earliest arrival. */
	struct { struct ipi_wait *w; uint64_t at; } *ipis;
	uint32_t nr_ipis, max_ipis;
	unsigned int ipi_req;               /* request of the first IPI since the last exit, 0 if none */
	uint64_t ipi_at;                    /* earliest pending IPI, UINT64_MAX if none */
	uint64_t ipi_host_ack;              /* last ack of an IPI acknowledged on arrival, 0 if none */

	struct tlb *tlb;
	struct pwc *gpwc, *epwc;
	const struct guest_layout *layout;
	struct gpt *gpt;                    /* this vCPU's address space (NULL: paging none) */
	struct walk_ctx walk;
	struct gpa_pool *pool;              /* this vCPU's guest frame pool */
	struct workload *wl;
	struct rng rng;

	/* the record being executed (kept across an exit: it retries), in the workload's
	 * buffer: valid until the next workload_next_ref() */
	const struct trace_record *rec;
	bool have_rec, rec_insns_done, done;
	bool wl_failed;                     /* the workload returned an error: halted */
	enum exit_reason exit_reason;
	uint64_t exit_gpa;
	bool exit_write;
	uint64_t halted_at;
	uint64_t retry_page;                /* 4K page of the current record's last fault, UINT64_MAX: none */

	/* ELF attribution (workload.elf): the function of the last instruction fetched */
	const struct elfsym *syms;
	struct attribution *attr;
	uint32_t cur_sym;

	/* cycles of icount instructions for the small counts nearly every record has */
	uint64_t insn_cycles[VCPU_INSN_CYCLES_TABLE];

	enum vcpu_cycles cat;               /* category charged by vcpu_spend() */
	uint64_t cycles[VC_NR];
	/* cycles the vCPU lost to remote TLB flushes (IPI exit path, INVEPT) and to reloads */
	uint64_t stall_flush, stall_reload;
	struct vcpu_counters n;
	uint64_t walk_refs_hist[WALK_MAX_REFS + 1];   /* walks by their number of references */
	struct cache_hier *cache;           /* walk.refs = cache: L1D, L1I, L2 and the shared LLC */
	uint64_t data_page[2], data_gpa[2]; /* vcpu_data_ref()'s last GVA page and its GPA page: [fetch] */
};

struct vcpu *vcpu_new(struct kvm *kvm, const struct scenario *sc, uint32_t id, struct engine *e,
		      const struct guest_layout *layout, struct gpt *gpt, struct gpa_pool *pool,
		      struct workload *wl);
void vcpu_free(struct vcpu *v);
/* walk.refs = cache: give the vCPU its private caches in front of the shared llc; its walks
 * and its data accesses go through them.  0 or -ENOMEM. */
int vcpu_attach_cache(struct vcpu *v, struct cache *llc);
/* Make the vCPU runnable at time 0. */
void vcpu_start(struct vcpu *v);

/* kvm_make_request() + kick: set req; if the vCPU is in guest mode, send an IPI that w
 * waits for (w->pending is incremented).  Returns true if an IPI was sent. */
bool vcpu_request_and_kick(struct vcpu *v, unsigned int req, struct ipi_wait *w, uint64_t now);

/* Inside the vCPU's fiber: charge cycles to the current category. */
void vcpu_spend(struct vcpu *v, uint64_t cycles);
/* Charge cycles that passed while the fiber was blocked (not through vcpu_spend). */
void vcpu_account(struct vcpu *v, uint64_t cycles);

/* Register and fill vcpu.N.* (cycle breakdown up to `end`, counters). */
void vcpu_publish_stats(struct vcpu *v, struct stats *st, uint64_t end);
/* Register and fill tlb.l1d.*, tlb.l1i.*, tlb.stlb.{data,insn}.* (hits by page size, misses,
 * walks by page size), tlb.retry_misses and tlb.first_misses: the sums over v[0..n). */
void vcpu_publish_tlb_stats(struct vcpu *const *v, uint32_t n, struct stats *st);

#endif
