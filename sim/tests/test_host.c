/* Tests for sim/host: mmu_lock's FIFO grants and their timing, wait/hold accounting (per
 * actor and in the histograms), spin_is_contended / spin_needbreak per preemption model,
 * need_resched() of the VMM thread (background wake-ups, hogs at a tick boundary), and
 * cond_resched_lock() (no break, a break under contention, a reschedule).
 *
 * Actors run as fibers; what they see is recorded and checked after engine_run, so a
 * failing check never longjmps out of a fiber. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "sim/config.h"
#include "sim/engine.h"
#include "sim/fiber.h"
#include "sim/host.h"
#include "sim/stats.h"

#define NACT 4
#define LOG_MAX 32

struct env;

struct tact {
	struct actor a;
	struct env *env;
	void (*body)(struct tact *t);
	uint64_t hold;            /* default body: cycles held */
	uint64_t req_at, got_at;  /* clock at spin_lock call / return */
	/* probes written by bodies */
	bool contended_at_lock, contended_at_unlock;
	bool needbreak[3];        /* indexed by enum preempt_model, sampled while contended */
	bool needbreak_idle[3];   /* sampled while uncontended */
	bool ret[4];
	uint64_t t[4];
};

struct env {
	struct scenario sc;
	struct engine *e;
	struct stats *st;
	struct host *h;
	struct tact act[NACT];
	uint32_t nact;
	uint32_t owners[LOG_MAX];  /* lock owner sequence (actor ids) */
	uint32_t nowners;
};

static void env_init(struct env *v, const char *const *sets, size_t nsets)
{
	struct config_error err;

	memset(v, 0, sizeof(*v));
	config_defaults(&v->sc);
	/* odd costs, so that each shows in the timings */
	const char *base[] = { "guest.mem=64M", "guest.kernel_mem=16M", "guest.vcpus=2",
			       "costs.lock_acquire=37", "costs.lock_handover=211", "costs.cpu_relax=43" };
	for (size_t i = 0; i < 6 + nsets; i++)
		assert_int_equal(config_set(&v->sc, i < 6 ? base[i] : sets[i - 6], &err), 0);
	assert_int_equal(config_validate(&v->sc, &err), 0);
	v->e = engine_new(false, 1);
	v->st = stats_new();
	assert_true(v->e && v->st);
	v->h = host_new(&v->sc, v->e, v->st, 8);
	assert_non_null(v->h);
}

static void tact_main(void *arg) { ((struct tact *)arg)->body(arg); }
static void tact_run(struct actor *a) { fiber_resume(a->fiber); }

static struct tact *add_actor(struct env *v, void (*body)(struct tact *), uint64_t start, uint64_t hold)
{
	assert_true(v->nact < NACT);
	struct tact *t = &v->act[v->nact++];
	t->env = v;
	t->body = body;
	t->hold = hold;
	t->a.name = "t";
	t->a.run = tact_run;
	t->a.fiber = fiber_new(tact_main, t, 0);
	assert_non_null(t->a.fiber);
	assert_int_equal(engine_add_actor(v->e, &t->a), 0);
	engine_wake(v->e, &t->a, start);
	return t;
}

static void env_run(struct env *v)
{
	engine_run(v->e, UINT64_MAX);
	for (uint32_t i = 0; i < v->nact; i++)
		assert_true(fiber_done(v->act[i].a.fiber));
}

static void env_free(struct env *v)
{
	for (uint32_t i = 0; i < v->nact; i++)
		fiber_free(v->act[i].a.fiber);
	host_free(v->h);
	stats_free(v->st);
	engine_free(v->e);
}

/* the lock owner sequence: v->owners[] must be ids[0..n) */
static void assert_owners(const struct env *v, const uint32_t *ids, uint32_t n)
{
	assert_int_equal(v->nowners, n);
	for (uint32_t i = 0; i < n; i++)
		assert_int_equal(v->owners[i], ids[i]);
}

static uint64_t counter(const struct env *v, const char *name)
{
	stat_id id = stats_lookup(v->st, name);
	assert_int_not_equal(id, STAT_NONE);
	return stats_counter(v->st, id);
}

static void log_owner(struct tact *t)
{
	struct env *v = t->env;
	if (spin_is_locked_by(v->h, &t->a) && v->nowners < LOG_MAX)
		v->owners[v->nowners++] = t->a.id;
}

static void lock(struct tact *t)
{
	t->req_at = t->a.clock;
	spin_lock(t->env->h, &t->a);
	t->got_at = t->a.clock;
	log_owner(t);
}

/* cond_resched_lock(), logging the owner again when it re-took the lock */
static bool cond_resched_logged(struct tact *t)
{
	bool r = cond_resched_lock(t->env->h, &t->a);
	if (r)
		log_owner(t);
	return r;
}

/* Sample spin_needbreak() under every preemption model (the host reads sc live). */
static void sample_needbreak(struct tact *t, bool *out)
{
	struct scenario *sc = &t->env->sc;
	int saved = sc->preempt;
	for (int p = PREEMPT_NONE; p <= PREEMPT_FULL; p++) {
		sc->preempt = p;
		out[p] = spin_needbreak(t->env->h);
	}
	sc->preempt = saved;
}

/* lock, hold, unlock */
static void body_hold(struct tact *t)
{
	lock(t);
	t->contended_at_lock = spin_is_contended(t->env->h);
	sample_needbreak(t, t->needbreak_idle);
	actor_spend(t->env->e, &t->a, t->hold);
	t->contended_at_unlock = spin_is_contended(t->env->h);
	sample_needbreak(t, t->needbreak);
	spin_unlock(t->env->h, &t->a);
}

static void test_fifo_order_and_accounting(void **state)
{
	static struct env v;
	(void)state;

	env_init(&v, NULL, 0);
	uint64_t acq = v.sc.costs.lock_acquire, ho = v.sc.costs.lock_handover;
	/* requests: id0 at 0 (holds 1000), then id3, id1, id2: grants follow requests, not ids */
	struct tact *a0 = add_actor(&v, body_hold, 0, 1000);
	struct tact *a1 = add_actor(&v, body_hold, 200, 500);
	struct tact *a2 = add_actor(&v, body_hold, 300, 300);
	struct tact *a3 = add_actor(&v, body_hold, 100, 700);
	env_run(&v);

	assert_owners(&v, (uint32_t[]){ a0->a.id, a3->a.id, a1->a.id, a2->a.id }, 4);

	/* uncontended: the acquire cost; contended: the previous release + handover */
	struct tact *all[4] = { a0, a3, a1, a2 };
	uint64_t req[4] = { 0, 100, 200, 300 }, holds[4] = { 1000, 700, 500, 300 }, waits[4];
	uint64_t wsum = 0, hsum = 0, release = 0;
	for (int i = 0; i < 4; i++) {
		uint64_t grant = i ? release + ho : acq;
		waits[i] = grant - req[i];
		release = grant + holds[i];
		assert_int_equal(all[i]->req_at, req[i]);
		assert_int_equal(all[i]->got_at, grant);
		assert_int_equal(all[i]->a.clock, release);
		assert_int_equal(all[i]->a.lock_wait, waits[i]);
		assert_int_equal(all[i]->a.lock_hold, holds[i]);
		assert_int_equal(all[i]->a.lock_acquisitions, 1);
		assert_int_equal(all[i]->a.offcpu, 0);
		wsum += waits[i];
		hsum += holds[i];
	}
	assert_int_equal(host_lock_acquisitions(v.h), 4);

	/* histograms */
	stat_id w = stats_lookup(v.st, "mmu_lock.wait_cycles"), h = stats_lookup(v.st, "mmu_lock.hold_cycles");
	assert_true(w != STAT_NONE && h != STAT_NONE);
	assert_int_equal(stats_hist_count(v.st, w), 4);
	assert_int_equal(stats_hist_sum(v.st, w), wsum);
	assert_int_equal(stats_hist_max(v.st, w), waits[3]);
	assert_int_equal(stats_hist_count(v.st, h), 4);
	assert_int_equal(stats_hist_sum(v.st, h), hsum);
	assert_int_equal(stats_hist_max(v.st, h), 1000);

	/* contention as the holders saw it */
	assert_false(a0->contended_at_lock);     /* nobody had asked yet at clock acq */
	for (int i = 0; i < 4; i++)
		assert_int_equal(all[i]->contended_at_unlock, i < 3);   /* a2 is the last one */
	assert_false(spin_is_contended(v.h));
	env_free(&v);
}

/* spin_needbreak(): contended AND CONFIG_PREEMPT only. */
static void test_spin_needbreak(void **state)
{
	static struct env v;
	(void)state;

	env_init(&v, (const char *[]){ "host.preempt=full" }, 1);
	struct tact *a0 = add_actor(&v, body_hold, 0, 1000);
	struct tact *a1 = add_actor(&v, body_hold, 100, 10);
	env_run(&v);
	/* a0 sampled uncontended at acquisition, contended before releasing */
	for (int p = PREEMPT_NONE; p <= PREEMPT_FULL; p++) {
		assert_false(a0->needbreak_idle[p]);
		assert_int_equal(a0->needbreak[p], p == PREEMPT_FULL);
		assert_false(a1->needbreak[p]);   /* alone at the end */
	}
	assert_true(a0->contended_at_unlock);
	env_free(&v);
}

static void test_need_resched(void **state)
{
	static struct env v;
	struct actor vcpu = { .name = "vcpu" }, vmm = { .name = "vmm", .host_thread = true };
	(void)state;

	/* quiet host: never */
	env_init(&v, NULL, 0);
	host_thread_begin(v.h, &vmm);
	vmm.clock = vcpu.clock = 1ULL << 50;
	assert_false(need_resched(v.h, &vmm));
	assert_false(need_resched(v.h, &vcpu));
	env_free(&v);

	/* background wake-ups: true at some point for the VMM thread, never for a vCPU */
	env_init(&v, (const char *[]){ "host.bg_wakeup_hz=10000" }, 1);
	vmm.clock = vcpu.clock = 5000;
	host_thread_begin(v.h, &vmm);
	assert_false(need_resched(v.h, &vmm));
	uint64_t mean = (uint64_t)(v.sc.freq_mhz * 1e6 / 10000);
	while (!need_resched(v.h, &vmm) && vmm.clock < 5000 + 100 * mean) {
		assert_false(need_resched(v.h, &vcpu));
		vmm.clock += 997;
		vcpu.clock = vmm.clock;
	}
	assert_true(need_resched(v.h, &vmm));
	assert_true(vmm.clock > 5000);
	assert_false(need_resched(v.h, &vcpu));
	/* a new piece of work gets the CPU afresh */
	host_thread_begin(v.h, &vmm);
	assert_false(need_resched(v.h, &vmm));
	env_free(&v);

	/* hogs: from the first tick at or after the slice has run out */
	env_init(&v, (const char *[]){ "host.bg_hogs=2", "host.hz=250", "host.sched_slice_us=3000" }, 3);
	uint64_t tick = (uint64_t)(v.sc.freq_mhz * 1e6 / 250 + 0.5);
	uint64_t slice = config_us_to_cycles(&v.sc, 3000);
	uint64_t begin = 1000;
	uint64_t expiry = (begin + slice + tick - 1) / tick * tick;
	assert_true(expiry > begin + slice);   /* the tick is what matters here */
	vmm.clock = begin;
	host_thread_begin(v.h, &vmm);
	for (uint64_t t = begin + slice; t < expiry; t += (expiry - begin - slice) / 4 + 1)
		assert_false(need_resched(v.h, &(struct actor){ .clock = t, .host_thread = true }));
	vmm.clock = expiry - 1;
	assert_false(need_resched(v.h, &vmm));
	vmm.clock = expiry;
	assert_true(need_resched(v.h, &vmm));
	vcpu.clock = expiry + tick;
	assert_false(need_resched(v.h, &vcpu));
	env_free(&v);
}

/* nothing asks for a break: returns false, the lock stays held, no time passes */
static void body_no_break(struct tact *t)
{
	struct env *v = t->env;
	lock(t);
	actor_spend(v->e, &t->a, 100);
	t->t[0] = t->a.clock;
	t->ret[0] = cond_resched_lock(v->h, &t->a);
	t->ret[1] = spin_is_locked_by(v->h, &t->a);
	t->t[1] = t->a.clock;
	spin_unlock(v->h, &t->a);
}

static void test_cond_resched_lock_no_break(void **state)
{
	static struct env v;
	(void)state;

	/* CONFIG_PREEMPT, background load, but uncontended and not the VMM thread */
	env_init(&v, (const char *[]){ "host.preempt=full", "host.bg_hogs=1", "host.bg_wakeup_hz=100000" }, 3);
	struct tact *a = add_actor(&v, body_no_break, 0, 0);
	env_run(&v);
	assert_false(a->ret[0]);
	assert_true(a->ret[1]);
	assert_int_equal(a->t[1], a->t[0]);
	assert_int_equal(a->a.lock_acquisitions, 1);
	assert_int_equal(counter(&v, "host.reschedules"), 0);
	env_free(&v);

	/* contended, but a voluntary host: spin_needbreak() is 0 */
	env_init(&v, (const char *[]){ "host.preempt=voluntary" }, 1);
	a = add_actor(&v, body_no_break, 0, 0);
	struct tact *w = add_actor(&v, body_hold, 50, 10);
	env_run(&v);
	assert_false(a->ret[0]);
	assert_int_equal(a->t[1], a->t[0]);
	assert_owners(&v, (uint32_t[]){ a->a.id, w->a.id }, 2);
	assert_int_equal(w->got_at, a->t[1] + v.sc.costs.lock_handover);
	env_free(&v);
}

/* holds 500, then cond_resched_lock under contention */
static void body_break(struct tact *t)
{
	struct env *v = t->env;
	lock(t);
	actor_spend(v->e, &t->a, 500);
	t->t[0] = t->a.clock;
	t->ret[0] = cond_resched_logged(t);
	t->t[1] = t->a.clock;
	t->ret[1] = spin_is_locked_by(v->h, &t->a);
	spin_unlock(v->h, &t->a);
}

static void test_cond_resched_lock_contended(void **state)
{
	static struct env v;
	(void)state;

	env_init(&v, (const char *[]){ "host.preempt=full" }, 1);
	uint64_t acq = v.sc.costs.lock_acquire, ho = v.sc.costs.lock_handover;
	struct tact *z = add_actor(&v, body_break, 0, 0);
	struct tact *w = add_actor(&v, body_hold, 100, 200);
	env_run(&v);

	assert_true(z->ret[0] && z->ret[1]);
	assert_int_equal(z->t[0], acq + 500);
	/* the waiter got the lock in between */
	assert_owners(&v, (uint32_t[]){ z->a.id, w->a.id, z->a.id }, 3);
	assert_int_equal(w->got_at, z->t[0] + ho);
	assert_int_equal(z->t[1], w->got_at + 200 + ho);   /* cpu_relax, queued behind w */
	assert_int_equal(z->a.lock_acquisitions, 2);
	assert_int_equal(z->a.lock_wait, acq + (z->t[1] - z->t[0] - v.sc.costs.cpu_relax));
	assert_int_equal(z->a.offcpu, 0);
	assert_int_equal(counter(&v, "host.reschedules"), 0);
	assert_int_equal(host_lock_acquisitions(v.h), 3);
	env_free(&v);
}

/* The VMM thread with hogs on its CPU: runs past its slice holding the lock. */
static void body_resched(struct tact *t)
{
	struct env *v = t->env;
	host_thread_begin(v->h, &t->a);
	t->t[3] = t->a.clock;
	lock(t);
	uint64_t tick = (uint64_t)(v->sc.freq_mhz * 1e6 / v->sc.hz + 0.5);
	uint64_t slice = config_us_to_cycles(&v->sc, v->sc.sched_slice_us);
	uint64_t expiry = (t->t[3] + slice + tick - 1) / tick * tick;
	actor_spend(v->e, &t->a, expiry - 1 - t->a.clock);
	t->ret[0] = cond_resched_logged(t);   /* contended, voluntary, not expired */
	actor_spend(v->e, &t->a, 1);
	t->t[0] = t->a.clock;
	t->ret[1] = cond_resched_logged(t);
	t->t[1] = t->a.clock;
	t->ret[2] = need_resched(v->h, &t->a);
	t->ret[3] = spin_is_locked_by(v->h, &t->a);
	spin_unlock(v->h, &t->a);
}

static void test_cond_resched_lock_need_resched(void **state)
{
	static struct env v;
	(void)state;

	env_init(&v, (const char *[]){ "host.preempt=voluntary", "host.bg_hogs=1", "host.hz=250",
				       "host.sched_slice_us=3000" }, 4);
	uint64_t acq = v.sc.costs.lock_acquire, ho = v.sc.costs.lock_handover;
	uint64_t slice = config_us_to_cycles(&v.sc, 3000);
	struct tact *z = add_actor(&v, body_resched, 0, 0);
	z->a.host_thread = true;
	struct tact *w = add_actor(&v, body_hold, 1000, 200);
	env_run(&v);

	assert_false(z->ret[0]);
	assert_true(z->ret[1] && z->ret[3]);
	assert_false(z->ret[2]);   /* a fresh slice after the reschedule */
	/* descheduled for the hog's slice; the waiter ran in between */
	assert_int_equal(z->a.offcpu, slice);
	assert_int_equal(z->t[1], z->t[0] + slice + acq);
	assert_owners(&v, (uint32_t[]){ z->a.id, w->a.id, z->a.id }, 3);
	assert_int_equal(w->got_at, z->t[0] + ho);
	assert_int_equal(counter(&v, "host.reschedules"), 1);
	stat_id off = stats_lookup(v.st, "host.offcpu_cycles");
	assert_int_equal(stats_hist_count(v.st, off), 1);
	assert_int_equal(stats_hist_sum(v.st, off), slice);
	assert_int_equal(z->a.lock_hold, z->t[0] - acq);   /* then released at once */
	assert_int_equal(z->a.lock_wait, 2 * acq);
	env_free(&v);
}

/* background wake-up: the VMM thread spends until need_resched, then breaks */
static void body_wakeup(struct tact *t)
{
	struct env *v = t->env;
	host_thread_begin(v->h, &t->a);
	lock(t);
	while (!need_resched(v->h, &t->a) && t->a.clock < (1ULL << 40))
		actor_spend(v->e, &t->a, 1000);
	t->t[0] = t->a.clock;
	t->ret[0] = cond_resched_lock(v->h, &t->a);
	t->t[1] = t->a.clock;
	spin_unlock(v->h, &t->a);
}

static void test_cond_resched_lock_wakeup(void **state)
{
	static struct env v;
	(void)state;

	env_init(&v, (const char *[]){ "host.bg_wakeup_hz=20000", "host.bg_run_us=50" }, 2);
	struct tact *z = add_actor(&v, body_wakeup, 0, 0);
	z->a.host_thread = true;
	env_run(&v);
	assert_true(z->t[0] < (1ULL << 40));
	assert_true(z->ret[0]);
	assert_true(z->a.offcpu > 0);
	assert_int_equal(z->t[1], z->t[0] + z->a.offcpu + v.sc.costs.lock_acquire);
	assert_int_equal(counter(&v, "host.reschedules"), 1);
	assert_int_equal(stats_hist_sum(v.st, stats_lookup(v.st, "host.offcpu_cycles")), z->a.offcpu);
	assert_int_equal(z->a.lock_acquisitions, 2);
	env_free(&v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fifo_order_and_accounting),
		cmocka_unit_test(test_spin_needbreak),
		cmocka_unit_test(test_need_resched),
		cmocka_unit_test(test_cond_resched_lock_no_break),
		cmocka_unit_test(test_cond_resched_lock_contended),
		cmocka_unit_test(test_cond_resched_lock_need_resched),
		cmocka_unit_test(test_cond_resched_lock_wakeup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
