/* The harness the MMU unit tests share (test_mmu.c, test_mmio.c, test_dirty.c).
 *
 * The MMU runs in the fiber of a test actor: the `actor` of a zeroed struct vcpu (vc[0])
 * with ctx NULL, so kvm_spend() charges it through actor_spend(); mmu_lock is asserted as in
 * the kernel.  Both vCPUs stay OUTSIDE_GUEST_MODE unless a test says otherwise: requests
 * set bits, no IPI.  A test may add a second actor running its own fiber function.  Checks
 * in a fiber record the first failure and return; the test fails after engine_run (no
 * longjmp out of a fiber).
 *
 * A test defines MENV_EXTRA (more fields of struct menv) before including this header. */
#ifndef EPTSIM_EPT_TESTS_MMU_HARNESS_H
#define EPTSIM_EPT_TESTS_MMU_HARNESS_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cpu/vcpu.h"
#include "ept/mmu.h"
#include "sim/config.h"
#include "sim/engine.h"
#include "sim/fiber.h"
#include "sim/host.h"
#include "sim/stats.h"

#ifndef MENV_EXTRA
#define MENV_EXTRA
#endif

struct menv {
	struct scenario sc;
	struct engine *e;
	struct stats *st;
	struct host *h;
	struct kvm *kvm;
	struct vcpu vc[2], *vp[2];
	struct actor *second;          /* the test's second actor, if any */
	void (*body)(struct menv *m);
	bool failed, done;
	char why[384];
	MENV_EXTRA
};

/* Record a failure; the first one is what the test reports. */
static inline void menv_fail(struct menv *m, int line, const char *what, const char *detail)
{
	if (!m->failed)
		snprintf(m->why, sizeof(m->why), "line %d: %s %s", line, what, detail);
	m->failed = true;
}

/* Check ok (what NULL: run kvm_mmu_check); returns ok. */
static inline bool note(struct menv *m, bool ok, int line, const char *what)
{
	char buf[256] = "";
	if (!what) {
		ok = !kvm_mmu_check(m->kvm, buf, sizeof(buf));
		what = "kvm_mmu_check:";
	}
	if (!ok)
		menv_fail(m, line, what, buf);
	return ok;
}
#define CHECK(m, c) do { if (!note(m, (c), __LINE__, #c)) return; } while (0)
#define CHECK_MMU(m) do { if (!note(m, true, __LINE__, NULL)) return; } while (0)

static inline void menv_fiber_main(void *arg)
{
	((struct menv *)arg)->body(arg);
	((struct menv *)arg)->done = true;
}
static inline void actor_run_fiber(struct actor *a) { fiber_resume(a->fiber); }

/* A counter by name (UINT64_MAX if unknown: fails any comparison). */
static inline uint64_t ctr(struct menv *m, const char *name)
{
	stat_id id = stats_lookup(m->st, name);
	return id == STAT_NONE ? UINT64_MAX : stats_counter(m->st, id);
}

/* A 64M guest with 4K backing, 2 vCPUs, plus sets[0..n); the objects, the two zeroed vCPUs
 * and the test actor running body.  second (with fn) is a second fiber actor, or NULL. */
static inline void menv_build(struct menv *m, void (*body)(struct menv *), const char *const *sets, size_t n,
			      struct actor *second, const char *second_name, fiber_fn fn)
{
	struct config_error err;
	const char *base[] = { "guest.mem=64M", "guest.kernel_mem=16M", "guest.vcpus=2", "guest.backing=4k" };

	memset(m, 0, sizeof(*m));
	config_defaults(&m->sc);
	for (size_t i = 0; i < 4 + n; i++)
		assert_int_equal(config_set(&m->sc, i < 4 ? base[i] : sets[i - 4], &err), 0);
	assert_int_equal(config_validate(&m->sc, &err), 0);
	m->e = engine_new(false, 1);
	m->st = stats_new();
	m->h = m->e && m->st ? host_new(&m->sc, m->e, m->st, 8) : NULL;
	m->kvm = m->h ? kvm_new(&m->sc, m->e, m->h, m->st) : NULL;
	assert_non_null(m->kvm);
	for (int i = 0; i < 2; i++) {
		m->vc[i] = (struct vcpu){ .kvm = m->kvm, .sc = &m->sc, .id = (uint32_t)i };   /* OUTSIDE_GUEST */
		m->vp[i] = &m->vc[i];
	}
	kvm_attach_vcpus(m->kvm, m->vp, 2);
	m->vc[0].actor = (struct actor){ .name = "t", .run = actor_run_fiber, .fiber = fiber_new(menv_fiber_main, m, 0) };
	assert_non_null(m->vc[0].actor.fiber);
	assert_int_equal(engine_add_actor(m->e, &m->vc[0].actor), 0);
	if (second) {
		*second = (struct actor){ .name = second_name, .run = actor_run_fiber, .fiber = fiber_new(fn, m, 0) };
		assert_non_null(second->fiber);
		assert_int_equal(engine_add_actor(m->e, second), 0);
		m->second = second;
	}
	m->body = body;
	engine_wake(m->e, &m->vc[0].actor, 0);
}

/* Run to the end, free everything, then fail with the body's first failure; the body must
 * have finished and no actor may still hold mmu_lock. */
static inline void menv_run_and_free(struct menv *m)
{
	engine_run(m->e, UINT64_MAX);
	bool locked = spin_is_locked_by(m->h, &m->vc[0].actor) || (m->second && spin_is_locked_by(m->h, m->second));
	kvm_free(m->kvm);
	fiber_free(m->vc[0].actor.fiber);
	if (m->second)
		fiber_free(m->second->fiber);
	host_free(m->h);
	stats_free(m->st);
	engine_free(m->e);
	if (m->failed)
		fail_msg("%s", m->why);
	assert_true(m->done);
	assert_false(locked);
}

#endif
