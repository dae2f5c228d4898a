/* sim/engine — the discrete-event engine (README, Design: the engine).
 *
 * Time is in cycles.  Each actor (a vCPU, the host VMM thread, ...) has at most one pending
 * entry in the event heap, ordered by (time, actor id): ties are broken the same way every
 * run and in both execution modes.  (A global scheduling counter would not do: the order in
 * which events get scheduled differs between batched and per-access execution.)
 * Re-scheduling an actor replaces its pending entry (lazy deletion by generation).
 *
 * Actors come in two classes.  A "mutator" may change shared state (sptes, mmu_lock, request
 * bits); a "guest" actor is a vCPU executing guest code, which only reads shared state.  Two
 * guest actors commute, and a guest actor cannot change shared state sooner than `lookahead`
 * cycles after its clock (a VM exit must happen first), so a guest actor may run ahead of
 * the other guest actors by up to `lookahead`, and never past the next mutator event.  A
 * mutator never runs past anyone.  In per-access mode the horizon is 0: every step is its
 * own event.  Both modes give the same results (tested).
 */
#ifndef EPTSIM_SIM_ENGINE_H
#define EPTSIM_SIM_ENGINE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

struct engine;
struct fiber;

enum actor_class { ACTOR_MUTATOR = 0, ACTOR_GUEST = 1 };

struct actor {
	const char *name;
	uint32_t id;            /* dense, assigned by engine_add_actor */
	enum actor_class cls;   /* class of the next wake; set before engine_wake */
	uint64_t clock;         /* local time, cycles */
	uint64_t gen;           /* heap-entry generation (lazy deletion) */
	bool pending;           /* has a live heap entry */
	uint64_t pending_at;     /* time of the live entry (inspection, tests) */
	struct fiber *fiber;    /* when the actor's code runs as a fiber */
	/* Per-actor accounting kept by the host model (README, Design: the MMU model and mmu_lock: wait and hold per actor). */
	uint64_t lock_wait;     /* cycles spent waiting for mmu_lock */
	uint64_t lock_hold;     /* cycles holding it */
	uint64_t lock_acquisitions;
	uint64_t offcpu;        /* cycles descheduled by the host scheduler */
	bool host_thread;       /* the VMM thread: shares its CPU with background tasks */
	/* Called when the actor's entry is popped; clock == the entry's time. */
	void (*run)(struct actor *a);
	void *ctx;
};

/* The part of the engine the inline fast paths below read; the first member of struct
 * engine (engine.c). */
struct engine_hot {
	struct actor *current;
	uint64_t hz;                 /* engine_horizon() of hz_for (in class hz_cls) */
	const struct actor *hz_for;  /* NULL: not cached (the heaps or `until` changed) */
	int hz_cls;
};

struct engine *engine_new(bool per_access, uint64_t lookahead);
void engine_free(struct engine *e);
int engine_add_actor(struct engine *e, struct actor *a);

/* (Re)schedule a at time t (>= the engine's now); replaces a pending entry. */
void engine_wake(struct engine *e, struct actor *a, uint64_t t);
/* Drop a's pending entry, if any. */
void engine_cancel(struct engine *e, struct actor *a);

/* How far the running actor may advance its clock before it must yield: it may do work that
 * starts at clock c only while c < horizon.  0 in per-access mode (one step per event). */
uint64_t engine_horizon(struct engine *e, const struct actor *running);
bool engine_per_access(const struct engine *e);
uint64_t engine_now(const struct engine *e);
static inline struct actor *engine_current(const struct engine *e)
{
	return ((const struct engine_hot *)(const void *)e)->current;
}
uint64_t engine_events(const struct engine *e);

/* Pop and run events until no entry is left at a time < until.  Returns the number of
 * events run. */
uint64_t engine_run(struct engine *e, uint64_t until);
void engine_stop(struct engine *e);
/* engine_run checks *flag before every event and returns early when it is non-zero
 * (engine_interrupted() then says so).  For SIGINT/SIGTERM: the handler sets the flag. */
void engine_set_interrupt(struct engine *e, const volatile sig_atomic_t *flag);
bool engine_interrupted(const struct engine *e);
/* Bring engine_run's end forward to t (>= now): nothing starts at or after it. */
void engine_end_at(struct engine *e, uint64_t t);

/* For code running inside an actor's fiber: advance the actor's clock by cycles, yielding to
 * the engine when the new clock is not below the horizon. */
void actor_spend_slow(struct engine *e, struct actor *a);
static inline void actor_spend(struct engine *e, struct actor *a, uint64_t cycles)
{
	const struct engine_hot *h = (const struct engine_hot *)(const void *)e;

	a->clock += cycles;
	if (h->hz_for == a && h->hz_cls == (int)a->cls && a->clock < h->hz)
		return;   /* below the cached horizon */
	actor_spend_slow(e, a);
}
/* Inside a fiber: block until someone calls engine_wake on a. */
void actor_block(struct engine *e, struct actor *a);

#endif
