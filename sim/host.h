/* sim/host — the host kernel around KVM: mmu_lock, the host scheduler's need_resched(), and
 * cond_resched_lock() exactly as Linux 3.10 has it (README, Design: the MMU model and mmu_lock).
 *
 * mmu_lock is a FIFO ticket spinlock: a waiter spins (it is not in guest mode and gets no
 * IPI) until the holder's unlock hands the ticket over, `costs.lock_handover` later.  Every
 * acquisition records wait and hold cycles, per actor and in the histograms
 * mmu_lock.wait_cycles / mmu_lock.hold_cycles.
 *
 * Scheduler model: vCPU threads have CPUs of their own; the VMM thread (memslot ioctls: the
 * zapper) shares its CPU with background tasks: `host.bg_wakeup_hz` short wake-ups (Poisson,
 * each sets need_resched: CFS wake-up preemption) and `host.bg_hogs` always-runnable tasks
 * (the tick sets need_resched once the VMM thread has run `host.sched_slice_us`).
 */
#ifndef EPTSIM_SIM_HOST_H
#define EPTSIM_SIM_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct actor;
struct engine;
struct scenario;
struct stats;
struct host;

struct host *host_new(const struct scenario *sc, struct engine *e, struct stats *st,
		      uint32_t max_actors);
void host_free(struct host *h);

/* mmu_lock.  Must be called from an actor's fiber (they may block). */
void spin_lock(struct host *h, struct actor *a);
void spin_unlock(struct host *h, struct actor *a);
/* Call fn(ctx, releasing actor) whenever mmu_lock is about to be released (spin_unlock(),
 * cond_resched_lock()): every step of a kernel algorithm ends there, which is where the
 * invariant checks of `make check-invariants` run. */
void host_set_release_hook(struct host *h, void (*fn)(void *ctx, struct actor *a), void *ctx);
bool spin_is_contended(const struct host *h);
bool spin_is_locked_by(const struct host *h, const struct actor *a);
/* Linux 3.10 spin_needbreak(): spin_is_contended() under CONFIG_PREEMPT, else 0. */
bool spin_needbreak(const struct host *h);

/* need_resched() for the thread of actor a (false for vCPU threads: own CPUs). */
bool need_resched(struct host *h, const struct actor *a);
/* The VMM thread starts a new piece of work (an ioctl) at its clock: it has the CPU. */
void host_thread_begin(struct host *h, struct actor *a);
/* __cond_resched(): a is descheduled while background tasks run, then resumes. */
void host_schedule(struct host *h, struct actor *a);
/* Linux 3.10 __cond_resched_lock(): if spin_needbreak() || need_resched(): unlock,
 * reschedule or cpu_relax(), lock again, return true. */
bool cond_resched_lock(struct host *h, struct actor *a);

uint64_t host_lock_acquisitions(const struct host *h);

/* One mmu_lock hold, kept when output.lock_timeline is set.  Holds never overlap (the lock
 * is exclusive) and are kept in the order they end, which is also the order they start. */
struct host_hold {
	uint64_t start, end;    /* cycles: acquired (its wait over), released */
	uint64_t wait;          /* cycles the holder waited before start */
	uint32_t actor;         /* struct actor id of the holder */
};
/* The holds kept so far (NULL and 0 without output.lock_timeline).  The first
 * output.lock_timeline_max holds are kept; *dropped and *dropped_cycles count those after
 * them and the cycles they held.  A hold still open when the run ends is in neither (nor in
 * mmu_lock.hold_cycles: both record at spin_unlock). */
const struct host_hold *host_lock_timeline(const struct host *h, size_t *n, uint64_t *dropped,
					   uint64_t *dropped_cycles);

#endif
