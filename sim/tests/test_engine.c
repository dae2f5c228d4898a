/* Tests for sim/engine and sim/fiber: event order, lazy deletion, engine_run's end, the
 * horizon of each actor class, fiber actors in batched and per-access mode, blocking and
 * waking, and batched = per-access on a small multi-actor scenario. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "sim/engine.h"
#include "sim/fiber.h"

/* ---- an event log --------------------------------------------------------------------- */

struct ev {
	uint32_t id;
	uint64_t t;
	uint64_t v;        /* what the actor saw (shared value, another actor's clock, ...) */
	uint64_t o;        /* another actor's clock, where it matters */
	bool od;           /* that actor was done */
};

#define LOG_MAX 8192
struct evlog {
	struct ev ev[LOG_MAX];
	size_t n;
	bool overflow;
};

static void log_ev(struct evlog *l, uint32_t id, uint64_t t, uint64_t v)
{
	if (l->n == LOG_MAX) {
		l->overflow = true;
		return;
	}
	l->ev[l->n++] = (struct ev){ .id = id, .t = t, .v = v };
}

static void assert_log_equal(const struct evlog *a, const struct evlog *b)
{
	assert_false(a->overflow);
	assert_false(b->overflow);
	assert_int_equal(a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		if (a->ev[i].id != b->ev[i].id || a->ev[i].t != b->ev[i].t || a->ev[i].v != b->ev[i].v)
			fail_msg("entry %zu: (%u, %llu, %llu) vs (%u, %llu, %llu)", i, a->ev[i].id,
				 (unsigned long long)a->ev[i].t, (unsigned long long)a->ev[i].v, b->ev[i].id,
				 (unsigned long long)b->ev[i].t, (unsigned long long)b->ev[i].v);
	}
}

static uint64_t xorshift64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* ---- plain (callback) actors ---------------------------------------------------------- */

struct plain {
	struct actor a;
	struct engine *e;
	struct evlog *log;
	uint64_t period, stop;          /* re-wake at clock + period while that is <= stop */
	unsigned runs, bad;
	void (*hook)(struct plain *p);  /* runs after logging */
	void *arg;
};

static void plain_run(struct actor *a)
{
	struct plain *p = a->ctx;

	p->runs++;
	if (engine_current(p->e) != a || engine_now(p->e) != a->clock || a->pending)
		p->bad++;
	if (p->log)
		log_ev(p->log, a->id, a->clock, 0);
	if (p->hook)
		p->hook(p);
	if (p->period && a->clock + p->period <= p->stop)
		engine_wake(p->e, a, a->clock + p->period);
}

static void plain_init(struct plain *p, struct engine *e, struct evlog *log, enum actor_class cls)
{
	memset(p, 0, sizeof(*p));
	p->a.name = "plain";
	p->a.cls = cls;
	p->a.run = plain_run;
	p->a.ctx = p;
	p->e = e;
	p->log = log;
	assert_int_equal(engine_add_actor(e, &p->a), 0);
}

static struct evlog la, lb, lc, ld;

static void reset_logs(void)
{
	memset(&la, 0, sizeof(la));
	memset(&lb, 0, sizeof(lb));
	memset(&lc, 0, sizeof(lc));
	memset(&ld, 0, sizeof(ld));
}

static void assert_log_entry(const struct evlog *l, size_t i, uint32_t id, uint64_t t)
{
	assert_true(i < l->n);
	assert_int_equal(l->ev[i].id, id);
	assert_int_equal(l->ev[i].t, t);
}

/* ---- order ---------------------------------------------------------------------------- */

static void test_order_time_then_id(void **state)
{
	(void)state;
	reset_logs();
	struct engine *e = engine_new(false, 0);
	struct plain p[4];
	assert_non_null(e);
	for (int i = 0; i < 4; i++)
		plain_init(&p[i], e, &la, ACTOR_MUTATOR);
	for (uint32_t i = 0; i < 4; i++)
		assert_int_equal(p[i].a.id, i);

	/* scheduled in an order unrelated to (time, id) */
	engine_wake(e, &p[3].a, 10);
	engine_wake(e, &p[1].a, 5);
	engine_wake(e, &p[2].a, 10);
	engine_wake(e, &p[0].a, 10);
	assert_true(p[3].a.pending);
	assert_int_equal(p[3].a.pending_at, 10);
	assert_int_equal(engine_run(e, UINT64_MAX), 4);
	assert_int_equal(la.n, 4);
	assert_log_entry(&la, 0, 1, 5);
	assert_log_entry(&la, 1, 0, 10);
	assert_log_entry(&la, 2, 2, 10);
	assert_log_entry(&la, 3, 3, 10);
	assert_int_equal(engine_events(e), 4);
	assert_int_equal(engine_now(e), 10);
	assert_null(engine_current(e));
	for (int i = 0; i < 4; i++) {
		assert_int_equal(p[i].runs, 1);
		assert_int_equal(p[i].bad, 0);
		assert_false(p[i].a.pending);
	}
	engine_free(e);

	/* ties across the two classes also go by id */
	reset_logs();
	e = engine_new(false, 1000);
	plain_init(&p[0], e, &la, ACTOR_GUEST);
	plain_init(&p[1], e, &la, ACTOR_MUTATOR);
	plain_init(&p[2], e, &la, ACTOR_GUEST);
	plain_init(&p[3], e, &la, ACTOR_MUTATOR);
	engine_wake(e, &p[3].a, 7);
	engine_wake(e, &p[2].a, 7);
	engine_wake(e, &p[1].a, 7);
	engine_wake(e, &p[0].a, 8);
	assert_int_equal(engine_run(e, UINT64_MAX), 4);
	assert_log_entry(&la, 0, 1, 7);
	assert_log_entry(&la, 1, 2, 7);
	assert_log_entry(&la, 2, 3, 7);
	assert_log_entry(&la, 3, 0, 8);
	engine_free(e);
}

/* Many actors, both classes, random times with many ties: the run order is the (time, id)
 * sort, in both modes. */
static void test_order_many(void **state)
{
	enum { N = 300 };
	static struct plain p[N];
	uint64_t t[N];
	uint32_t perm[N];
	(void)state;

	for (int mode = 0; mode < 2; mode++) {
		uint64_t seed = 0x9e3779b97f4a7c15ULL;
		reset_logs();
		struct engine *e = engine_new(mode, 50);
		for (uint32_t i = 0; i < N; i++) {
			plain_init(&p[i], e, &la, xorshift64(&seed) & 1 ? ACTOR_GUEST : ACTOR_MUTATOR);
			t[i] = xorshift64(&seed) % 40;
			perm[i] = i;
		}
		for (uint32_t i = N - 1; i > 0; i--) {
			uint32_t j = (uint32_t)(xorshift64(&seed) % (i + 1)), x = perm[i];
			perm[i] = perm[j];
			perm[j] = x;
		}
		for (uint32_t i = 0; i < N; i++)
			engine_wake(e, &p[perm[i]].a, t[perm[i]]);
		assert_int_equal(engine_run(e, UINT64_MAX), N);
		assert_int_equal(la.n, N);
		/* expected: counting sort by time, ids ascending within a time */
		size_t k = 0;
		for (uint64_t tt = 0; tt < 40; tt++)
			for (uint32_t i = 0; i < N; i++)
				if (t[i] == tt) {
					assert_log_entry(&la, k, i, tt);
					k++;
				}
		assert_int_equal(k, N);
		for (uint32_t i = 0; i < N; i++)
			assert_int_equal(p[i].bad, 0);
		engine_free(e);
	}
}

/* ---- wake replaces, cancel drops ------------------------------------------------------ */

static void hook_cancel_other(struct plain *p) { engine_cancel(p->e, p->arg); }
static void hook_wake_other(struct plain *p) { engine_wake(p->e, p->arg, p->a.clock + 5); }

static void test_wake_replaces_cancel_drops(void **state)
{
	(void)state;
	reset_logs();
	struct engine *e = engine_new(false, 0);
	struct plain a, b;
	plain_init(&a, e, &la, ACTOR_MUTATOR);
	plain_init(&b, e, &la, ACTOR_MUTATOR);

	/* later */
	engine_wake(e, &a.a, 10);
	engine_wake(e, &b.a, 20);
	engine_wake(e, &a.a, 30);
	assert_int_equal(a.a.pending_at, 30);
	assert_int_equal(engine_run(e, UINT64_MAX), 2);
	assert_int_equal(la.n, 2);
	assert_log_entry(&la, 0, 1, 20);
	assert_log_entry(&la, 1, 0, 30);

	/* earlier */
	engine_wake(e, &a.a, 50);
	engine_wake(e, &b.a, 40);
	engine_wake(e, &a.a, 35);
	assert_int_equal(engine_run(e, UINT64_MAX), 2);
	assert_log_entry(&la, 2, 0, 35);
	assert_log_entry(&la, 3, 1, 40);

	/* many replacements leave one event */
	for (uint64_t i = 0; i < 1000; i++)
		engine_wake(e, &a.a, 100 + (i * 7919) % 1000);
	engine_wake(e, &a.a, 1234);
	assert_int_equal(engine_run(e, UINT64_MAX), 1);
	assert_log_entry(&la, 4, 0, 1234);
	assert_int_equal(a.runs, 3);

	/* a class change between wakes: the stale entry sits in the other heap */
	a.a.cls = ACTOR_GUEST;
	engine_wake(e, &a.a, 1300);
	a.a.cls = ACTOR_MUTATOR;
	engine_wake(e, &a.a, 1400);
	assert_int_equal(engine_run(e, UINT64_MAX), 1);
	assert_log_entry(&la, 5, 0, 1400);

	/* cancel */
	engine_wake(e, &a.a, 2000);
	engine_wake(e, &b.a, 2100);
	engine_cancel(e, &a.a);
	assert_false(a.a.pending);
	assert_true(b.a.pending);
	assert_int_equal(engine_run(e, UINT64_MAX), 1);
	assert_log_entry(&la, 6, 1, 2100);
	engine_cancel(e, &a.a);   /* nothing pending: harmless */
	assert_int_equal(engine_run(e, UINT64_MAX), 0);
	engine_wake(e, &a.a, 2200);   /* wakeable again */
	assert_int_equal(engine_run(e, UINT64_MAX), 1);
	assert_log_entry(&la, 7, 0, 2200);

	/* cancel and wake from inside a running actor */
	a.hook = hook_cancel_other;
	a.arg = &b.a;
	engine_wake(e, &a.a, 3000);
	engine_wake(e, &b.a, 3010);
	assert_int_equal(engine_run(e, UINT64_MAX), 1);
	assert_log_entry(&la, 8, 0, 3000);
	a.hook = hook_wake_other;
	engine_wake(e, &a.a, 3100);
	assert_int_equal(engine_run(e, UINT64_MAX), 2);
	assert_log_entry(&la, 9, 0, 3100);
	assert_log_entry(&la, 10, 1, 3105);
	assert_int_equal(la.n, 11);
	assert_int_equal(a.bad + b.bad, 0);
	engine_free(e);
}

/* ---- engine_run's end ----------------------------------------------------------------- */

static void hook_stop_at_70(struct plain *p)
{
	if (p->a.clock == 70)
		engine_stop(p->e);
}

static void test_run_until(void **state)
{
	(void)state;
	reset_logs();
	struct engine *e = engine_new(false, 0);
	struct plain t;
	plain_init(&t, e, &la, ACTOR_MUTATOR);
	t.period = 10;
	t.stop = 1000;

	assert_int_equal(engine_run(e, 100), 0);   /* nothing pending */
	engine_wake(e, &t.a, 0);
	assert_int_equal(engine_run(e, 35), 4);
	assert_int_equal(la.n, 4);
	assert_log_entry(&la, 3, 0, 30);
	assert_int_equal(engine_now(e), 30);
	assert_true(t.a.pending);
	assert_int_equal(t.a.pending_at, 40);
	assert_int_equal(engine_run(e, 40), 0);    /* an entry at until is not run */
	assert_int_equal(engine_run(e, 41), 1);
	assert_log_entry(&la, 4, 0, 40);

	t.hook = hook_stop_at_70;
	assert_int_equal(engine_run(e, 1000), 3);  /* 50 60 70, stopped */
	assert_int_equal(engine_now(e), 70);
	assert_true(t.a.pending);
	assert_int_equal(engine_run(e, UINT64_MAX), 93);   /* 80 .. 1000 */
	assert_int_equal(engine_now(e), 1000);
	assert_int_equal(engine_events(e), 101);
	assert_int_equal(la.n, 101);
	for (size_t i = 0; i < la.n; i++)
		assert_int_equal(la.ev[i].t, 10 * i);
	assert_false(t.a.pending);
	engine_free(e);
}

/* ---- the horizon ---------------------------------------------------------------------- */

static uint64_t horizon_as(struct engine *e, struct actor *r, enum actor_class cls)
{
	enum actor_class old = r->cls;
	r->cls = cls;
	uint64_t h = engine_horizon(e, r);
	r->cls = old;
	return h;
}

static void test_horizon_per_access(void **state)
{
	(void)state;
	struct engine *e = engine_new(true, 100);
	struct plain r, m, g;
	plain_init(&r, e, NULL, ACTOR_MUTATOR);
	plain_init(&m, e, NULL, ACTOR_MUTATOR);
	plain_init(&g, e, NULL, ACTOR_GUEST);
	assert_true(engine_per_access(e));
	assert_int_equal(horizon_as(e, &r.a, ACTOR_MUTATOR), 0);
	assert_int_equal(horizon_as(e, &r.a, ACTOR_GUEST), 0);
	engine_wake(e, &m.a, 500);
	engine_wake(e, &g.a, 300);
	assert_int_equal(horizon_as(e, &r.a, ACTOR_MUTATOR), 0);
	assert_int_equal(horizon_as(e, &r.a, ACTOR_GUEST), 0);
	engine_free(e);
}

static void test_horizon_batched(void **state)
{
	(void)state;
	struct engine *e = engine_new(false, 100);
	struct plain r, m, g, g2;
	plain_init(&r, e, NULL, ACTOR_MUTATOR);   /* "running": has no entry */
	plain_init(&m, e, NULL, ACTOR_MUTATOR);
	plain_init(&g, e, NULL, ACTOR_GUEST);
	plain_init(&g2, e, NULL, ACTOR_GUEST);
	assert_false(engine_per_access(e));

	assert_int_equal(horizon_as(e, &r.a, ACTOR_MUTATOR), UINT64_MAX);
	assert_int_equal(horizon_as(e, &r.a, ACTOR_GUEST), UINT64_MAX);

	engine_wake(e, &m.a, 500);
	engine_wake(e, &g.a, 300);
	engine_wake(e, &g2.a, 1000);
	/* mutator: min of everything else; guest: min(mutators, guests + lookahead) */
	assert_int_equal(horizon_as(e, &r.a, ACTOR_MUTATOR), 300);
	assert_int_equal(horizon_as(e, &r.a, ACTOR_GUEST), 400);

	engine_wake(e, &g.a, 700);   /* the entry at 300 is stale now */
	assert_int_equal(horizon_as(e, &r.a, ACTOR_MUTATOR), 500);
	assert_int_equal(horizon_as(e, &r.a, ACTOR_GUEST), 500);

	engine_cancel(e, &m.a);
	assert_int_equal(horizon_as(e, &r.a, ACTOR_MUTATOR), 700);
	assert_int_equal(horizon_as(e, &r.a, ACTOR_GUEST), 800);

	engine_wake(e, &m.a, 750);
	assert_int_equal(horizon_as(e, &r.a, ACTOR_MUTATOR), 700);
	assert_int_equal(horizon_as(e, &r.a, ACTOR_GUEST), 750);

	engine_cancel(e, &g.a);
	assert_int_equal(horizon_as(e, &r.a, ACTOR_MUTATOR), 750);
	assert_int_equal(horizon_as(e, &r.a, ACTOR_GUEST), 750);
	engine_cancel(e, &m.a);
	assert_int_equal(horizon_as(e, &r.a, ACTOR_MUTATOR), 1000);
	assert_int_equal(horizon_as(e, &r.a, ACTOR_GUEST), 1100);

	/* the lookahead saturates instead of wrapping */
	engine_wake(e, &g.a, UINT64_MAX - 10);
	engine_cancel(e, &g2.a);
	assert_int_equal(horizon_as(e, &r.a, ACTOR_MUTATOR), UINT64_MAX - 10);
	assert_int_equal(horizon_as(e, &r.a, ACTOR_GUEST), UINT64_MAX);
	engine_free(e);

	/* lookahead 0: a guest is bound by the other guests like a mutator */
	e = engine_new(false, 0);
	plain_init(&r, e, NULL, ACTOR_GUEST);
	plain_init(&g, e, NULL, ACTOR_GUEST);
	engine_wake(e, &g.a, 300);
	assert_int_equal(horizon_as(e, &r.a, ACTOR_GUEST), 300);
	engine_free(e);
}

struct probe_ctx {
	uint64_t h_mut, h_guest;
};

static void hook_probe(struct plain *p)
{
	struct probe_ctx *c = p->arg;
	c->h_mut = horizon_as(p->e, &p->a, ACTOR_MUTATOR);
	c->h_guest = horizon_as(p->e, &p->a, ACTOR_GUEST);
}

/* From inside engine_run: the running actor's own (popped) entry does not count, and nothing
 * may go at or past until. */
static void test_horizon_in_run(void **state)
{
	(void)state;
	struct engine *e = engine_new(false, 100);
	struct plain p, m, g;
	struct probe_ctx c = { 0, 0 };
	plain_init(&p, e, NULL, ACTOR_MUTATOR);
	plain_init(&m, e, NULL, ACTOR_MUTATOR);
	plain_init(&g, e, NULL, ACTOR_GUEST);
	p.hook = hook_probe;
	p.arg = &c;

	engine_wake(e, &p.a, 0);
	engine_wake(e, &m.a, 500);
	engine_wake(e, &g.a, 300);
	assert_int_equal(engine_run(e, 200), 1);
	assert_int_equal(c.h_mut, 200);
	assert_int_equal(c.h_guest, 200);

	engine_wake(e, &p.a, 250);
	assert_int_equal(engine_run(e, 10000), 3);
	assert_int_equal(c.h_mut, 300);
	assert_int_equal(c.h_guest, 400);
	assert_int_equal(p.runs + m.runs + g.runs, 4);
	engine_free(e);
}

/* ---- fiber actors --------------------------------------------------------------------- */

struct fact {
	struct actor a;
	struct engine *e;
	uint32_t steps;
	uint64_t cost;
	uint32_t resumes;
	uint32_t done_steps;
	/* logging and shared state */
	struct evlog *log;
	uint32_t every;                 /* act every this many steps */
	int kind;                       /* 0: read *x; 1: *x += 1; 2: *x += 1000 */
	uint64_t *x;
	struct fact *peer;              /* recorded in each entry (o, od) */
	struct fact *wake_target;       /* woken at clock + 5 after step wake_step */
	uint32_t wake_step;
	bool block_first;               /* block before the first step; log + *x += 100 when woken */
	/* actor_block checks */
	uint64_t t_before, t_after, now_after;
};

static void fact_run(struct actor *a)
{
	struct fact *f = a->ctx;
	f->resumes++;
	fiber_resume(a->fiber);
}

static void fact_act(struct fact *f)
{
	uint64_t v = 0;

	if (f->kind == 0)
		v = *f->x;
	else if (f->kind == 1)
		v = ++*f->x;
	else if (f->kind == 2)
		v = *f->x += 1000;
	log_ev(f->log, f->a.id, f->a.clock, v);
	if (f->peer && f->log->n) {
		f->log->ev[f->log->n - 1].o = f->peer->a.clock;
		f->log->ev[f->log->n - 1].od = f->peer->a.fiber && fiber_done(f->peer->a.fiber);
	}
}

static void fact_main(void *arg)
{
	struct fact *f = arg;

	if (f->block_first) {
		actor_block(f->e, &f->a);
		*f->x += 100;
		log_ev(f->log, f->a.id, f->a.clock, *f->x);
	}
	for (uint32_t i = 1; i <= f->steps; i++) {
		actor_spend(f->e, &f->a, f->cost);
		f->done_steps = i;
		if (f->log && f->every && i % f->every == 0)
			fact_act(f);
		if (f->wake_target && i == f->wake_step)
			engine_wake(f->e, &f->wake_target->a, f->a.clock + 5);
	}
}

static void fact_init(struct fact *f, struct engine *e, enum actor_class cls, uint32_t steps, uint64_t cost)
{
	memset(f, 0, sizeof(*f));
	f->a.name = "fiber";
	f->a.cls = cls;
	f->a.run = fact_run;
	f->a.ctx = f;
	f->e = e;
	f->steps = steps;
	f->cost = cost;
	f->a.fiber = fiber_new(fact_main, f, 0);
	assert_non_null(f->a.fiber);
	assert_int_equal(engine_add_actor(e, &f->a), 0);
}

static void fact_free(struct fact *f)
{
	fiber_free(f->a.fiber);
	f->a.fiber = NULL;
}

static void hook_watch(struct plain *p)
{
	struct fact *f = p->arg;
	p->log->ev[p->log->n - 1].v = f->a.clock;
}

/* A mutator fiber spending 100 x 10 cycles next to a callback actor at 250, 500, 750, 1000:
 * batched, it yields only at those times; per access, at every spend.  The watcher sees the
 * fiber exactly at its own time in both modes. */
static void test_fiber_spend_mutator(void **state)
{
	(void)state;
	for (int mode = 0; mode < 2; mode++) {
		reset_logs();
		struct engine *e = engine_new(mode, 0);
		struct plain w;
		struct fact f;
		plain_init(&w, e, &la, ACTOR_MUTATOR);      /* id 0 */
		fact_init(&f, e, ACTOR_MUTATOR, 100, 10);     /* id 1 */
		w.period = 250;
		w.stop = 1000;
		w.hook = hook_watch;
		w.arg = &f;
		engine_wake(e, &w.a, 250);
		engine_wake(e, &f.a, 0);
		uint64_t n = engine_run(e, UINT64_MAX);

		assert_true(fiber_done(f.a.fiber));
		assert_int_equal(f.done_steps, 100);
		assert_int_equal(f.a.clock, 1000);
		assert_int_equal(f.resumes, mode ? 101 : 5);
		assert_int_equal(n, (mode ? 101 : 5) + 4);
		assert_int_equal(la.n, 4);
		for (size_t i = 0; i < 4; i++) {
			assert_log_entry(&la, i, 0, 250 * (i + 1));
			assert_int_equal(la.ev[i].v, 250 * (i + 1));
		}
		fact_free(&f);
		engine_free(e);
	}
}

/* A guest fiber next to a guest callback actor ticking every 200: with lookahead 50 it runs
 * up to 50 cycles past the other guest, so it yields at 250, 450, 650, 850 and finishes at
 * 1000 without yielding; as a mutator (or with lookahead 0) it yields at every tick. */
static void test_fiber_spend_guest_lookahead(void **state)
{
	static const struct {
		bool per_access;
		uint64_t lookahead;
		enum actor_class cls;
		uint32_t resumes;
		uint64_t seen[6];
	} cases[] = {
		{ false, 50, ACTOR_GUEST, 5, { 0, 250, 450, 650, 850, 1000 } },
		{ false, 0, ACTOR_GUEST, 6, { 0, 200, 400, 600, 800, 1000 } },
		{ false, 50, ACTOR_MUTATOR, 6, { 0, 200, 400, 600, 800, 1000 } },
		{ true, 50, ACTOR_GUEST, 101, { 0, 200, 400, 600, 800, 1000 } },
	};
	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		reset_logs();
		struct engine *e = engine_new(cases[c].per_access, cases[c].lookahead);
		struct plain w;
		struct fact f;
		plain_init(&w, e, &la, ACTOR_GUEST);        /* id 0 */
		fact_init(&f, e, cases[c].cls, 100, 10);      /* id 1 */
		w.period = 200;
		w.stop = 1000;
		w.hook = hook_watch;
		w.arg = &f;
		engine_wake(e, &w.a, 0);
		engine_wake(e, &f.a, 0);
		engine_run(e, UINT64_MAX);
		assert_true(fiber_done(f.a.fiber));
		assert_int_equal(f.a.clock, 1000);
		assert_int_equal(f.resumes, cases[c].resumes);
		assert_int_equal(la.n, 6);
		for (size_t i = 0; i < 6; i++) {
			assert_log_entry(&la, i, 0, 200 * i);
			assert_int_equal(la.ev[i].v, cases[c].seen[i]);
		}
		fact_free(&f);
		engine_free(e);
	}
}

/* Alone, a batched fiber still stops at engine_run's end (the horizon is capped by it) and
 * continues from there on the next run. */
static void test_fiber_spend_until(void **state)
{
	(void)state;
	for (int mode = 0; mode < 2; mode++) {
		struct engine *e = engine_new(mode, 0);
		struct fact f;
		fact_init(&f, e, ACTOR_MUTATOR, 100, 10);
		engine_wake(e, &f.a, 0);
		engine_run(e, 255);
		assert_false(fiber_done(f.a.fiber));
		assert_int_equal(f.done_steps, 25);   /* work starting at 0 .. 250 */
		assert_int_equal(f.a.clock, 260);
		assert_true(f.a.pending);
		assert_int_equal(f.a.pending_at, 260);
		assert_int_equal(f.resumes, mode ? 26 : 1);
		engine_run(e, UINT64_MAX);
		assert_true(fiber_done(f.a.fiber));
		assert_int_equal(f.a.clock, 1000);
		fact_free(&f);
		engine_free(e);
	}
}

/* ---- block and wake ------------------------------------------------------------------- */

static void block_main(void *arg)
{
	struct fact *f = arg;

	actor_spend(f->e, &f->a, 100);
	f->t_before = f->a.clock;
	actor_block(f->e, &f->a);
	f->t_after = f->a.clock;
	f->now_after = engine_now(f->e);
	actor_spend(f->e, &f->a, 10);
	f->done_steps = 1;
}

struct waker_ctx {
	struct fact *target;
	bool target_pending;
};

static void hook_waker(struct plain *p)
{
	struct waker_ctx *c = p->arg;
	c->target_pending = c->target->a.pending;
	engine_wake(p->e, &c->target->a, 900);
	engine_wake(p->e, &c->target->a, 450);   /* replaces the wake at 900 */
}

/* Self-wake then block, the sleep pattern of the host model. */
static void sleep_main(void *arg)
{
	struct fact *f = arg;

	f->t_before = f->a.clock;
	engine_wake(f->e, &f->a, f->a.clock + 1000);
	actor_block(f->e, &f->a);
	f->t_after = f->a.clock;
	f->now_after = engine_now(f->e);
}

static void test_block_and_wake(void **state)
{
	(void)state;
	for (int mode = 0; mode < 2; mode++) {
		reset_logs();
		struct engine *e = engine_new(mode, 0);
		struct fact b, s, d;
		struct plain w;
		struct waker_ctx wc;

		fact_init(&b, e, ACTOR_MUTATOR, 0, 0);        /* id 0 */
		fiber_free(b.a.fiber);
		b.a.fiber = fiber_new(block_main, &b, 0);
		plain_init(&w, e, &la, ACTOR_MUTATOR);      /* id 1 */
		fact_init(&s, e, ACTOR_MUTATOR, 0, 0);        /* id 2 */
		fiber_free(s.a.fiber);
		s.a.fiber = fiber_new(sleep_main, &s, 0);
		fact_init(&d, e, ACTOR_MUTATOR, 0, 0);        /* id 3: blocks for good */
		d.block_first = true;
		d.steps = 1;
		d.x = &d.t_before;
		d.log = &lb;
		wc.target = &b;
		wc.target_pending = true;
		w.hook = hook_waker;
		w.arg = &wc;

		engine_wake(e, &b.a, 0);
		engine_wake(e, &w.a, 300);
		engine_wake(e, &s.a, 150);
		engine_wake(e, &d.a, 200);
		uint64_t n = engine_run(e, UINT64_MAX);

		assert_false(wc.target_pending);   /* blocked: no entry */
		assert_int_equal(b.t_before, 100);
		assert_int_equal(b.t_after, 450);
		assert_int_equal(b.now_after, 450);
		assert_int_equal(b.a.clock, 460);
		assert_int_equal(b.done_steps, 1);
		assert_true(fiber_done(b.a.fiber));
		/* batched: 0, 450; per access also the spends at 100 and 460 */
		assert_int_equal(b.resumes, mode ? 4 : 2);

		assert_int_equal(s.t_before, 150);
		assert_int_equal(s.t_after, 1150);
		assert_int_equal(s.now_after, 1150);
		assert_true(fiber_done(s.a.fiber));
		assert_int_equal(s.resumes, 2);

		assert_int_equal(d.resumes, 1);
		assert_false(fiber_done(d.a.fiber));
		assert_false(d.a.pending);
		assert_int_equal(lb.n, 0);

		assert_int_equal(w.runs, 1);
		assert_int_equal(n, b.resumes + s.resumes + d.resumes + w.runs);
		assert_int_equal(engine_now(e), 1150);
		fact_free(&b);
		fact_free(&s);
		fact_free(&d);   /* never finished */
		engine_free(e);
	}
}

/* ---- batched = per access ------------------------------------------------------------- */

struct sampler_ctx {
	uint64_t *x;
};

static void hook_sample(struct plain *p)
{
	struct sampler_ctx *c = p->arg;
	p->log->ev[p->log->n - 1].v = *c->x;
}

/* Mutators that write a shared value, a reader mutator, a guest reader, a blocked actor
 * woken by one of them, a sampler; costs chosen so that some actions tie. */
static uint64_t run_scenario(bool per_access, struct evlog *log, uint64_t *x, bool *all_done)
{
	struct engine *e = engine_new(per_access, 64);
	struct plain s;
	struct fact w, r, g, k, w2;
	struct sampler_ctx sc = { x };

	*x = 0;
	plain_init(&s, e, log, ACTOR_MUTATOR);        /* id 0: samples x every 300 */
	s.period = 300;
	s.stop = 3000;
	s.hook = hook_sample;
	s.arg = &sc;
	fact_init(&w, e, ACTOR_MUTATOR, 60, 37);      /* id 1: x += 1 every 4th step */
	w.every = 4;
	w.kind = 1;
	fact_init(&r, e, ACTOR_MUTATOR, 80, 23);      /* id 2: reads x every 3rd step */
	r.every = 3;
	fact_init(&g, e, ACTOR_GUEST, 900, 2);        /* id 3: a guest, reads x every 45th step */
	g.every = 45;
	fact_init(&k, e, ACTOR_MUTATOR, 20, 31);      /* id 4: blocked until w's 30th step */
	k.every = 2;
	k.block_first = true;
	fact_init(&w2, e, ACTOR_MUTATOR, 100, 25);    /* id 5: x += 1000 every 3rd step (300, 600 .. tie s) */
	w2.every = 3;
	w2.kind = 2;
	struct fact *fs[] = { &w, &r, &g, &k, &w2 };
	for (size_t i = 0; i < 5; i++) {
		fs[i]->log = log;
		fs[i]->x = x;
	}
	w.wake_target = &k;
	w.wake_step = 30;

	engine_wake(e, &s.a, 0);
	for (size_t i = 0; i < 5; i++)
		engine_wake(e, &fs[i]->a, 0);
	engine_run(e, 2000);
	uint64_t events = engine_events(e);
	*all_done = true;
	for (size_t i = 0; i < 5; i++) {
		*all_done &= fiber_done(fs[i]->a.fiber);
		fact_free(fs[i]);
	}
	engine_free(e);
	return events;
}

static void test_batched_equals_per_access(void **state)
{
	uint64_t xa, xb;
	bool da, db;
	(void)state;

	reset_logs();
	uint64_t ea = run_scenario(false, &la, &xa, &da);
	uint64_t eb = run_scenario(true, &lb, &xb, &db);
	assert_log_equal(&la, &lb);
	assert_int_equal(xa, xb);
	assert_int_equal(da, db);
	assert_false(da);   /* until cut w and w2 short */

	/* the scenario is not vacuous */
	assert_true(la.n > 100);
	size_t per_id[6] = { 0 };
	for (size_t i = 0; i < la.n; i++) {
		assert_true(la.ev[i].id < 6);
		per_id[la.ev[i].id]++;
		assert_true(la.ev[i].t < 2000);
		if (i)
			assert_true(la.ev[i].t >= la.ev[i - 1].t);
	}
	assert_int_equal(per_id[0], 7);        /* 0, 300, .. 1800 */
	assert_int_equal(per_id[1], 13);       /* 37 * 4k < 2000 */
	assert_int_equal(per_id[2], 26);       /* 23 * 3k <= 1840 */
	assert_int_equal(per_id[3], 20);       /* 90k <= 1800 */
	assert_int_equal(per_id[4], 1 + 10);   /* woken at 1115, then 20 steps of 31 */
	assert_int_equal(per_id[5], 26);       /* 75k < 2000 */
	/* k woke at w's 30th step + 5 */
	bool found = false;
	for (size_t i = 0; i < la.n; i++)
		if (la.ev[i].id == 4) {
			assert_int_equal(la.ev[i].t, 30 * 37 + 5);
			found = true;
			break;
		}
	assert_true(found);
	/* the tie at 300: the sampler (id 0) reads x before w2 (id 5) adds 1000 */
	for (size_t i = 0; i + 1 < la.n; i++)
		if (la.ev[i].t == 300 && la.ev[i].id == 0) {
			assert_int_equal(la.ev[i + 1].id, 5);
			assert_int_equal(la.ev[i + 1].t, 300);
			assert_int_equal(la.ev[i + 1].v, la.ev[i].v + 1000);
		}
	/* a guest tie: at 450 the guest (id 3) reads x before w2 (id 5) adds 1000 */
	found = false;
	for (size_t i = 0; i + 1 < la.n; i++)
		if (la.ev[i].t == 450 && la.ev[i].id == 3) {
			assert_int_equal(la.ev[i + 1].id, 5);
			assert_int_equal(la.ev[i + 1].t, 450);
			assert_int_equal(la.ev[i + 1].v, la.ev[i].v + 1000);
			found = true;
		}
	assert_true(found);
	assert_true(ea * 2 < eb);   /* batched, the guest runs many steps per event */
}

/* Two guests with lookahead and a mutator: each actor's observations are the same in both
 * modes; batched, a guest runs ahead of the other guest, but by less than the lookahead. */
static void run_guests(bool per_access, struct evlog *lm, struct evlog *lg1, struct evlog *lg2, uint64_t *x)
{
	enum { L = 100 };
	struct engine *e = engine_new(per_access, L);
	struct fact m, g1, g2;

	*x = 0;
	fact_init(&m, e, ACTOR_MUTATOR, 40, 41);
	m.every = 7;
	m.kind = 1;
	m.log = lm;
	m.x = x;
	fact_init(&g1, e, ACTOR_GUEST, 100, 19);
	g1.every = 1;
	g1.log = lg1;
	g1.x = x;
	g1.peer = &g2;
	fact_init(&g2, e, ACTOR_GUEST, 70, 29);
	g2.every = 1;
	g2.log = lg2;
	g2.x = x;
	g2.peer = &g1;
	engine_wake(e, &m.a, 0);
	engine_wake(e, &g1.a, 0);
	engine_wake(e, &g2.a, 0);
	engine_run(e, UINT64_MAX);
	assert_true(fiber_done(m.a.fiber) && fiber_done(g1.a.fiber) && fiber_done(g2.a.fiber));
	fact_free(&m);
	fact_free(&g1);
	fact_free(&g2);
	engine_free(e);
}

static void test_guests_lookahead(void **state)
{
	static struct evlog m_b, m_p;
	uint64_t xb, xp;
	(void)state;

	reset_logs();
	memset(&m_b, 0, sizeof(m_b));
	memset(&m_p, 0, sizeof(m_p));
	run_guests(false, &m_b, &la, &lb, &xb);
	run_guests(true, &m_p, &lc, &ld, &xp);
	assert_log_equal(&m_b, &m_p);
	assert_log_equal(&la, &lc);
	assert_log_equal(&lb, &ld);
	assert_int_equal(xb, 5);
	assert_int_equal(xp, 5);
	assert_int_equal(la.n, 100);
	assert_int_equal(lb.n, 70);

	const struct evlog *batched[] = { &la, &lb }, *per_access[] = { &lc, &ld };
	size_t ahead = 0;
	for (int i = 0; i < 2; i++) {
		for (size_t j = 0; j < batched[i]->n; j++) {
			const struct ev *v = &batched[i]->ev[j];
			if (v->od)
				continue;
			assert_true(v->t < v->o + 100);
			ahead += v->t > v->o;
		}
		for (size_t j = 0; j < per_access[i]->n; j++) {
			const struct ev *v = &per_access[i]->ev[j];
			if (!v->od)
				assert_true(v->t <= v->o);
		}
	}
	assert_true(ahead > 10);
}

/* ---- fibers --------------------------------------------------------------------------- */

struct pingpong {
	struct fiber *f;
	int step;
	int replies[8];
	int nreplies;
	int reply;
};

static void pingpong_main(void *arg)
{
	struct pingpong *p = arg;
	for (int i = 0; i < 5; i++) {
		p->step = i;
		fiber_yield(p->f);
		p->replies[p->nreplies++] = p->reply;
	}
	p->step = 100;
}

static void test_fiber_pingpong(void **state)
{
	struct pingpong p = { 0 };
	(void)state;

	p.step = -1;
	p.f = fiber_new(pingpong_main, &p, 64 * 1024);
	assert_non_null(p.f);
	assert_false(fiber_done(p.f));
	assert_int_equal(p.step, -1);   /* nothing runs before the first resume */
	for (int i = 0; i < 5; i++) {
		fiber_resume(p.f);
		assert_int_equal(p.step, i);
		assert_false(fiber_done(p.f));
		assert_int_equal(p.nreplies, i);
		p.reply = 10 * i + 7;
	}
	fiber_resume(p.f);
	assert_true(fiber_done(p.f));
	assert_int_equal(p.step, 100);
	assert_int_equal(p.nreplies, 5);
	for (int i = 0; i < 5; i++)
		assert_int_equal(p.replies[i], 10 * i + 7);
	fiber_free(p.f);
}

struct summer {
	struct fiber *f;
	uint64_t n, out;
	int yields;
};

/* Locals live on the fiber's own stack across yields. */
static void summer_main(void *arg)
{
	struct summer *s = arg;
	uint64_t sum = 0;
	volatile uint64_t pad[64];
	for (uint64_t i = 1; i <= s->n; i++) {
		pad[i % 64] = i;
		sum += pad[i % 64];
		s->yields++;
		fiber_yield(s->f);
	}
	s->out = sum;
}

static void test_fibers_interleaved(void **state)
{
	struct summer a = { .n = 50 }, b = { .n = 80 };
	(void)state;

	a.f = fiber_new(summer_main, &a, 0);
	b.f = fiber_new(summer_main, &b, 32 * 1024);
	assert_non_null(a.f);
	assert_non_null(b.f);
	int resumes = 0;
	while (!fiber_done(a.f) || !fiber_done(b.f)) {
		if (!fiber_done(a.f))
			fiber_resume(a.f);
		if (!fiber_done(b.f))
			fiber_resume(b.f);
		resumes++;
	}
	assert_int_equal(a.out, 50 * 51 / 2);
	assert_int_equal(b.out, 80 * 81 / 2);
	assert_int_equal(a.yields, 50);
	assert_int_equal(b.yields, 80);
	assert_int_equal(resumes, 81);
	fiber_free(a.f);
	fiber_free(b.f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_time_then_id),
		cmocka_unit_test(test_order_many),
		cmocka_unit_test(test_wake_replaces_cancel_drops),
		cmocka_unit_test(test_run_until),
		cmocka_unit_test(test_horizon_per_access),
		cmocka_unit_test(test_horizon_batched),
		cmocka_unit_test(test_horizon_in_run),
		cmocka_unit_test(test_fiber_spend_mutator),
		cmocka_unit_test(test_fiber_spend_guest_lookahead),
		cmocka_unit_test(test_fiber_spend_until),
		cmocka_unit_test(test_block_and_wake),
		cmocka_unit_test(test_batched_equals_per_access),
		cmocka_unit_test(test_guests_lookahead),
		cmocka_unit_test(test_fiber_pingpong),
		cmocka_unit_test(test_fibers_interleaved),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
