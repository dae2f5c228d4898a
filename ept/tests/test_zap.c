/* Zap-all variants end to end: small guests run the real engine, and the invariants the
 * issue and the seeds state are checked on every zap. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "cpu/vcpu.h"
#include "ept/mmu.h"
#include "ept/zap.h"
#include "sim/config.h"
#include "sim/sim.h"
#include "sim/stats.h"

#include <stdio.h>
#include <string.h>

struct zap_check {
	int zaps;
	int violations;
	char why[256];
};

/* After a zap (lock held): every page still on active_mmu_pages is either of the current
 * generation, or an invalid root some vCPU still holds; no obsolete page is reachable from
 * a vCPU root except that invalid, emptied root itself. */
static void check_after_zap(struct kvm *kvm, void *ctx)
{
	struct zap_check *c = ctx;
	struct kvm_mmu_page *sp;

	c->zaps++;
	list_for_each_entry(sp, &kvm->active_mmu_pages, link) {
		bool stale = kvm->zap_ops->bump_generation ? is_obsolete_sp(kvm, sp) : true;
		if (stale && !(sp->role.invalid && sp->root_count > 0)) {
			snprintf(c->why, sizeof(c->why), "page %u (level %u, gen %lu/%lu, invalid %u, roots %d) survived",
				 sp->id, sp->role.level, sp->mmu_valid_gen, kvm->mmu_valid_gen, sp->role.invalid,
				 sp->root_count);
			c->violations++;
		}
	}
	for (uint32_t i = 0; i < kvm->nr_vcpus; i++) {
		struct kvm_mmu_page *root = kvm->vcpus[i]->root;
		if (root && (is_obsolete_sp(kvm, root) || root->role.invalid) && root->nr_present) {
			snprintf(c->why, sizeof(c->why), "vCPU %u's obsolete root still maps %u entries", i,
				 root->nr_present);
			c->violations++;
		}
	}
}

static void small_scenario(struct scenario *sc, const char *variant, const char *preempt)
{
	struct config_error err;
	char buf[128];

	config_defaults(sc);
	const char *sets[] = { "guest.vcpus=3", "guest.mem=256M", "guest.kernel_mem=64M",
			       "guest.thp_fraction=0", "workload.duration_ms=40", "memslot.rom.base=0xfebc0000",
			       "memslot.rom.size=256K", "memslot.rom.present=false", "events.toggle_slot=rom",
			       "events.toggle_start_ms=8", "events.toggle_period_ms=3", "events.toggle_count=10",
			       "costs.zap_spte=250", "host.bg_wakeup_hz=4000" };
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
		assert_int_equal(config_set(sc, sets[i], &err), 0);
	snprintf(buf, sizeof(buf), "mmu.zap_all=%s", variant);
	assert_int_equal(config_set(sc, buf, &err), 0);
	snprintf(buf, sizeof(buf), "host.preempt=%s", preempt);
	assert_int_equal(config_set(sc, buf, &err), 0);
	assert_int_equal(config_validate(sc, &err), 0);
}

struct outcome {
	size_t zaps;
	int64_t breaks[16], flushes[16], pages[16];
	uint64_t reloads, vcpus, total_breaks;
	struct zap_check chk;
};

static void run_variant(const char *variant, const char *preempt, struct outcome *o)
{
	static struct scenario sc;
	char err[256] = "";

	memset(o, 0, sizeof(*o));
	small_scenario(&sc, variant, preempt);
	struct sim *s = sim_new(&sc, ENGINE_BATCHED, err, sizeof(err));
	assert_non_null(s);
	struct kvm *kvm = sim_kvm(s);
	kvm->zap_done_hook = check_after_zap;
	kvm->zap_done_ctx = &o->chk;
	assert_int_equal(sim_run(s), 0);
	struct stats *st = sim_stats(s);
	stat_id b = stats_lookup(st, "zap.lock_breaks"), f = stats_lookup(st, "zap.flushes"),
		p = stats_lookup(st, "zap.pages");
	o->zaps = stats_array_len(st, b);
	assert_true(o->zaps <= 16);
	for (size_t i = 0; i < o->zaps; i++) {
		o->breaks[i] = stats_array_at(st, b, i);
		o->flushes[i] = stats_array_at(st, f, i);
		o->pages[i] = stats_array_at(st, p, i);
		o->total_breaks += (uint64_t)o->breaks[i];
	}
	o->reloads = stats_counter(st, stats_lookup(st, "vcpu.reloads"));
	o->vcpus = sc.vcpus;
	char why[256];
	int ok = kvm_mmu_check(kvm, why, sizeof(why));
	if (ok)
		fail_msg("MMU invariants broken at the end: %s", why);
	/* every obsolete page is freed once its root_count reaches 0 */
	struct kvm_mmu_page *sp;
	list_for_each_entry(sp, &kvm->active_mmu_pages, link)
		if (kvm->zap_ops->bump_generation && is_obsolete_sp(kvm, sp) && !sp->root_count)
			fail_msg("obsolete page %u with root_count 0 not freed", sp->id);
	if (o->chk.violations)
		fail_msg("%d violations after zaps, e.g. %s", o->chk.violations, o->chk.why);
	assert_int_equal((size_t)o->chk.zaps, o->zaps);
	sim_free(s);
}

static void test_legacy(void **state)
{
	struct outcome o;
	(void)state;
	run_variant("legacy", "full", &o);
	assert_int_equal(o.zaps, 5);
	for (size_t i = 0; i < o.zaps; i++) {
		assert_true(o.pages[i] > 0);
		assert_int_equal(o.breaks[i], 0);     /* no lock-break, even when contended */
		assert_int_equal(o.flushes[i], 1);    /* one commit at the end */
	}
}

static void test_flush_at_break(void **state)
{
	struct outcome o;
	(void)state;
	run_variant("fast-flush-at-break", "full", &o);
	assert_int_equal(o.zaps, 5);
	assert_true(o.total_breaks > 0);   /* contended under CONFIG_PREEMPT: it must break */
	for (size_t i = 0; i < o.zaps; i++)
		if (o.pages[i])
			assert_int_equal(o.flushes[i], o.breaks[i] + 1);
}

static void test_fast_v7(void **state)
{
	struct outcome o;
	(void)state;
	run_variant("fast-v7", "full", &o);
	assert_int_equal(o.zaps, 5);
	assert_true(o.total_breaks > 0);
	for (size_t i = 0; i < o.zaps; i++)
		if (o.pages[i])
			assert_int_equal(o.flushes[i], 1);
	/* kvm_reload_remote_mmus() after every bump: each vCPU reloads once per zap */
	assert_int_equal(o.reloads, o.zaps * o.vcpus);
}

/* Under a voluntary host with no background load, spin_needbreak() is 0 and
 * need_resched() never comes: even a contended fast zap never breaks the lock. */
static void test_voluntary_quiet_host_never_breaks(void **state)
{
	static struct scenario sc;
	struct config_error e;
	char err[256] = "";
	(void)state;

	small_scenario(&sc, "fast-v7", "voluntary");
	assert_int_equal(config_set(&sc, "host.bg_wakeup_hz=0", &e), 0);
	struct sim *s = sim_new(&sc, ENGINE_BATCHED, err, sizeof(err));
	assert_non_null(s);
	sim_run(s);
	struct stats *st = sim_stats(s);
	stat_id b = stats_lookup(st, "zap.lock_breaks");
	assert_true(stats_array_len(st, b) > 0);
	for (size_t i = 0; i < stats_array_len(st, b); i++)
		assert_int_equal(stats_array_at(st, b, i), 0);
	sim_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_legacy),
		cmocka_unit_test(test_flush_at_break),
		cmocka_unit_test(test_fast_v7),
		cmocka_unit_test(test_voluntary_quiet_host_never_breaks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
