#include "sim/host.h"

#include "sim/config.h"
#include "sim/engine.h"
#include "sim/rng.h"
#include "sim/stats.h"

#include <assert.h>
#include <stdlib.h>

/* Host scheduler random stream, distinct from every vCPU's. */
#define HOST_RNG_STREAM 0x4057ULL

struct host {
	const struct scenario *sc;
	struct engine *e;
	struct stats *st;

	/* mmu_lock: owner, FIFO of waiters (a ring) */
	struct actor *owner;
	uint64_t owner_since;
	struct actor **q;
	uint32_t qcap, qhead, qlen;
	uint64_t acquisitions;
	uint64_t owner_wait;     /* how long the owner waited for it */

	/* output.lock_timeline: the first tl_max holds; 0 when off */
	struct host_hold *tl;
	size_t tl_n, tl_cap, tl_max;
	uint64_t tl_dropped, tl_dropped_cycles;

	/* VMM thread's CPU */
	struct rng rng;
	uint64_t oncpu_since;
	uint64_t next_wakeup;    /* UINT64_MAX: none */
	uint64_t tick, slice;

	struct { stat_id wait, hold, resched, offcpu; } sid;   /* in host_stats[] order */

	void (*release_hook)(void *ctx, struct actor *a);   /* before every release of mmu_lock */
	void *release_ctx;
};

static const struct stat_def host_stats[] = {
	{ "mmu_lock.wait_cycles", STAT_HIST, "cycles", "wait for mmu_lock, per acquisition (all actors)" },
	{ "mmu_lock.hold_cycles", STAT_HIST, "cycles", "mmu_lock hold time, per acquisition (all actors)" },
	{ "host.reschedules", STAT_COUNTER, "events", "times the VMM thread gave its CPU to a background task" },
	{ "host.offcpu_cycles", STAT_HIST, "cycles", "time the VMM thread spent descheduled, per reschedule" },
};

struct host *host_new(const struct scenario *sc, struct engine *e, struct stats *st,
		      uint32_t max_actors)
{
	struct host *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->sc = sc;
	h->e = e;
	h->st = st;
	h->qcap = max_actors;
	h->q = calloc(max_actors, sizeof(*h->q));
	if (!h->q || STATS_REGISTER_STRUCT(st, host_stats, &h->sid)) {
		host_free(h);
		return NULL;
	}
	rng_seed(&h->rng, sc->seed, HOST_RNG_STREAM);
	h->tick = (uint64_t)(sc->freq_mhz * 1e6 / sc->hz + 0.5);
	h->slice = config_us_to_cycles(sc, sc->sched_slice_us);
	h->next_wakeup = UINT64_MAX;
	h->tl_max = sc->lock_timeline ? sc->lock_timeline_max : 0;
	return h;
}

void host_free(struct host *h)
{
	if (!h)
		return;
	free(h->q);
	free(h->tl);
	free(h);
}

/* Keep one hold for the timeline, or count it once tl_max are kept.  Like a stats array,
 * running out of memory aborts: a silently shorter timeline would mislead. */
static void host_keep_hold(struct host *h, const struct actor *a, uint64_t hold)
{
	if (h->tl_n == h->tl_max) {
		h->tl_dropped++;
		h->tl_dropped_cycles += hold;
		return;
	}
	if (h->tl_n == h->tl_cap) {
		size_t cap = h->tl_cap ? 2 * h->tl_cap : 4096;

		if (cap > h->tl_max)
			cap = h->tl_max;
		h->tl = realloc(h->tl, cap * sizeof(*h->tl));
		if (!h->tl)
			abort();
		h->tl_cap = cap;
	}
	h->tl[h->tl_n++] = (struct host_hold){
		.start = h->owner_since, .end = a->clock, .wait = h->owner_wait, .actor = a->id,
	};
}

void spin_lock(struct host *h, struct actor *a)
{
	uint64_t t0 = a->clock;

	/* Model invariants: the kernel code never takes mmu_lock twice; an actor waits in at
	 * most one queue slot, and qcap (host_new(): vcpus + 4) exceeds the actors that lock
	 * (the vCPUs and the VMM thread); the grant makes the waiter the owner. */
	assert(h->owner != a);
	if (!h->owner && !h->qlen) {
		h->owner = a;
		actor_spend(h->e, a, h->sc->costs.lock_acquire);
	} else {
		assert(h->qlen < h->qcap);
		h->q[(h->qhead + h->qlen++) % h->qcap] = a;
		actor_block(h->e, a);          /* woken by spin_unlock at the grant time */
		assert(h->owner == a);
	}
	uint64_t wait = a->clock - t0;
	a->lock_wait += wait;
	a->lock_acquisitions++;
	h->acquisitions++;
	h->owner_since = a->clock;
	h->owner_wait = wait;
	stats_hist_add(h->st, h->sid.wait, wait);
}

void host_set_release_hook(struct host *h, void (*fn)(void *ctx, struct actor *a), void *ctx)
{
	h->release_hook = fn;
	h->release_ctx = ctx;
}

void spin_unlock(struct host *h, struct actor *a)
{
	assert(h->owner == a);   /* model invariant: only the holder unlocks */
	if (h->release_hook)
		h->release_hook(h->release_ctx, a);
	uint64_t hold = a->clock - h->owner_since;
	a->lock_hold += hold;
	stats_hist_add(h->st, h->sid.hold, hold);
	if (h->tl_max)
		host_keep_hold(h, a, hold);
	if (h->qlen) {
		struct actor *next = h->q[h->qhead];
		h->qhead = (h->qhead + 1) % h->qcap;
		h->qlen--;
		h->owner = next;
		next->cls = ACTOR_MUTATOR;
		engine_wake(h->e, next, a->clock + h->sc->costs.lock_handover);
	} else {
		h->owner = NULL;
	}
}

bool spin_is_contended(const struct host *h) { return h->qlen > 0; }
bool spin_is_locked_by(const struct host *h, const struct actor *a) { return h->owner == a; }

bool spin_needbreak(const struct host *h)
{
	/* Linux 3.10 include/linux/sched.h: spin_is_contended() only #ifdef CONFIG_PREEMPT. */
	return h->sc->preempt == PREEMPT_FULL && spin_is_contended(h);
}

static uint64_t draw_wakeup(struct host *h, uint64_t from)
{
	if (h->sc->bg_wakeup_hz <= 0)
		return UINT64_MAX;
	double mean = h->sc->freq_mhz * 1e6 / h->sc->bg_wakeup_hz;
	return from + (uint64_t)rng_exp(&h->rng, mean);
}

void host_thread_begin(struct host *h, struct actor *a)
{
	h->oncpu_since = a->clock;
	/* Poisson wake-ups are memoryless: drawing afresh when the thread gets the CPU is exact. */
	h->next_wakeup = draw_wakeup(h, a->clock);
}

/* First tick at or after the VMM thread has used its slice, when a hog wants the CPU. */
static uint64_t slice_expiry(const struct host *h)
{
	if (!h->sc->bg_hogs)
		return UINT64_MAX;
	uint64_t t = h->oncpu_since + h->slice;
	return (t + h->tick - 1) / h->tick * h->tick;
}

bool need_resched(struct host *h, const struct actor *a)
{
	if (!a->host_thread)
		return false;
	return a->clock >= h->next_wakeup || a->clock >= slice_expiry(h);
}

void host_schedule(struct host *h, struct actor *a)
{
	uint64_t off = 0;

	if (a->clock >= h->next_wakeup)
		off += (uint64_t)rng_exp(&h->rng, config_us_to_cycles(h->sc, h->sc->bg_run_us));
	if (a->clock >= slice_expiry(h))
		off += h->slice * h->sc->bg_hogs;   /* each hog runs a slice before us again */
	stats_add(h->st, h->sid.resched, 1);
	stats_hist_add(h->st, h->sid.offcpu, off);
	a->offcpu += off;
	if (off) {
		engine_wake(h->e, a, a->clock + off);
		actor_block(h->e, a);
	}
	h->oncpu_since = a->clock;
	h->next_wakeup = draw_wakeup(h, a->clock);
}

bool cond_resched_lock(struct host *h, struct actor *a)
{
	/* Mirrors __cond_resched_lock() of Linux 3.10 kernel/sched/core.c. */
	bool resched = need_resched(h, a);

	if (!(spin_needbreak(h) || resched))
		return false;
	spin_unlock(h, a);
	if (resched)
		host_schedule(h, a);
	else
		actor_spend(h->e, a, h->sc->costs.cpu_relax);
	spin_lock(h, a);
	return true;
}

uint64_t host_lock_acquisitions(const struct host *h) { return h->acquisitions; }

const struct host_hold *host_lock_timeline(const struct host *h, size_t *n, uint64_t *dropped,
					   uint64_t *dropped_cycles)
{
	*n = h->tl_n;
	*dropped = h->tl_dropped;
	*dropped_cycles = h->tl_dropped_cycles;
	return h->tl;
}
