#include "sim/engine.h"
#include "sim/fiber.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>

struct heap_entry {
	uint64_t time;
	uint64_t seq;
	uint64_t gen;
	struct actor *a;
};

struct heap {
	struct heap_entry *v;
	size_t n, cap;
};

struct engine {
	struct engine_hot hot;     /* first: engine.h's inline paths read it */
	struct heap heap[2];       /* indexed by enum actor_class */
	uint64_t seq;
	uint64_t now;
	uint64_t lookahead;
	uint64_t until;            /* engine_run's end: nothing starts at or after it */
	uint64_t events;
	bool per_access;
	bool stopped;
	bool interrupted;          /* engine_run stopped because *intr was set */
	const volatile sig_atomic_t *intr;   /* set by a signal handler (SIGINT/SIGTERM); may be NULL */
	uint32_t nr_actors;
};

/* Ties at the same cycle go to the lower actor id.  Each actor has at most one live entry, so
 * (time, actor id) is a total order on live entries that does not depend on the order in
 * which events were scheduled, which differs between batched and per-access execution.
 * seq only orders an actor's stale entries after its live one. */
static bool entry_before(const struct heap_entry *x, const struct heap_entry *y)
{
	if (x->time != y->time)
		return x->time < y->time;
	if (x->a->id != y->a->id)
		return x->a->id < y->a->id;
	return x->seq < y->seq;
}

static void heap_push(struct heap *h, struct heap_entry en)
{
	if (h->n == h->cap) {
		h->cap = h->cap ? 2 * h->cap : 64;
		h->v = realloc(h->v, h->cap * sizeof(*h->v));
		if (!h->v)
			abort();
	}
	size_t i = h->n++;
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!entry_before(&en, &h->v[p]))
			break;
		h->v[i] = h->v[p];
		i = p;
	}
	h->v[i] = en;
}

static void heap_pop(struct heap *h)
{
	struct heap_entry last = h->v[--h->n];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= h->n)
			break;
		if (c + 1 < h->n && entry_before(&h->v[c + 1], &h->v[c]))
			c++;
		if (!entry_before(&h->v[c], &last))
			break;
		h->v[i] = h->v[c];
		i = c;
	}
	if (h->n)
		h->v[i] = last;
}

static bool entry_live(const struct heap_entry *en)
{
	return en->a->pending && en->a->gen == en->gen;
}

/* Top live entry of one heap, discarding stale ones. */
static struct heap_entry *heap_top(struct heap *h)
{
	while (h->n && !entry_live(&h->v[0]))
		heap_pop(h);
	return h->n ? &h->v[0] : NULL;
}

struct engine *engine_new(bool per_access, uint64_t lookahead)
{
	struct engine *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->per_access = per_access;
	e->lookahead = lookahead;
	e->until = UINT64_MAX;
	return e;
}

void engine_free(struct engine *e)
{
	if (!e)
		return;
	free(e->heap[0].v);
	free(e->heap[1].v);
	free(e);
}

int engine_add_actor(struct engine *e, struct actor *a)
{
	a->id = e->nr_actors++;
	a->gen = 0;
	a->pending = false;
	return 0;
}

void engine_wake(struct engine *e, struct actor *a, uint64_t t)
{
	/* Model invariant: every wake-up time is an actor's clock (>= now while it runs) or
	 * later (an [events] time past the VMM's clock, an ack or a lock grant computed from
	 * the clocks).  Input times are converted saturating (config_ms_to_cycles()), so a
	 * far-future event is never wrapped into the past. */
	assert(t >= e->now);
	e->hot.hz_for = NULL;
	a->gen++;
	a->pending = true;
	a->pending_at = t;
	heap_push(&e->heap[a->cls], (struct heap_entry){ t, e->seq++, a->gen, a });
}

void engine_cancel(struct engine *e, struct actor *a)
{
	e->hot.hz_for = NULL;
	a->gen++;
	a->pending = false;
}

uint64_t engine_horizon(struct engine *e, const struct actor *running)
{
	if (e->per_access)
		return 0;
	if (e->hot.hz_for == running && e->hot.hz_cls == (int)running->cls)
		return e->hot.hz;
	struct heap_entry *m = heap_top(&e->heap[ACTOR_MUTATOR]);
	struct heap_entry *g = heap_top(&e->heap[ACTOR_GUEST]);
	uint64_t h = m && m->time < e->until ? m->time : e->until;

	if (g) {
		uint64_t gt = g->time;
		if (running->cls == ACTOR_GUEST)
			gt = gt > UINT64_MAX - e->lookahead ? UINT64_MAX : gt + e->lookahead;
		if (gt < h)
			h = gt;
	}
	e->hot.hz = h;
	e->hot.hz_for = running;
	e->hot.hz_cls = (int)running->cls;
	return h;
}

bool engine_per_access(const struct engine *e) { return e->per_access; }
uint64_t engine_now(const struct engine *e) { return e->now; }
uint64_t engine_events(const struct engine *e) { return e->events; }
void engine_stop(struct engine *e) { e->stopped = true; }
void engine_set_interrupt(struct engine *e, const volatile sig_atomic_t *flag) { e->intr = flag; }
bool engine_interrupted(const struct engine *e) { return e->interrupted; }
void engine_end_at(struct engine *e, uint64_t t)
{
	/* called with the VMM's clock, which is >= now while it runs (stop_after_last) */
	assert(t >= e->now);
	if (t < e->until)
		e->until = t;
	e->hot.hz_for = NULL;
}

uint64_t engine_run(struct engine *e, uint64_t until)
{
	uint64_t n = 0;

	e->stopped = false;
	e->interrupted = false;
	e->until = until;
	e->hot.hz_for = NULL;
	while (!e->stopped) {
		struct heap_entry *m = heap_top(&e->heap[ACTOR_MUTATOR]);
		struct heap_entry *g = heap_top(&e->heap[ACTOR_GUEST]);
		struct heap *h;

		if (!m && !g)
			break;
		if (m && (!g || entry_before(m, g)))
			h = &e->heap[ACTOR_MUTATOR];
		else
			h = &e->heap[ACTOR_GUEST];
		struct heap_entry en = h->v[0];
		if (en.time >= e->until)
			break;
		/* One load per event: a signal handler only sets the flag (async-signal-safe);
		 * the run stops between two events, so the model is consistent when it does. */
		if (e->intr && *e->intr) {
			e->interrupted = true;
			break;
		}
		heap_pop(h);
		e->hot.hz_for = NULL;
		struct actor *a = en.a;
		a->pending = false;
		e->now = en.time;
		a->clock = en.time;
		e->hot.current = a;
		e->events++;
		n++;
		a->run(a);
		e->hot.current = NULL;
	}
	return n;
}

void actor_spend_slow(struct engine *e, struct actor *a)
{
	if (a->clock < engine_horizon(e, a))
		return;
	engine_wake(e, a, a->clock);
	fiber_yield(a->fiber);
}

void actor_block(struct engine *e, struct actor *a)
{
	(void)e;
	fiber_yield(a->fiber);
}
