/* Tests of ept/mmio and ept/memslot: MMIO sptes, their invalidation by the zap-walk (3.10)
 * and generation (3.11) variants, generation wraps, memslot delete / create / move, and
 * whole simulations with memslot churn.
 *
 * As in test_mmu.c, the MMU runs in the fiber of a test actor (the `actor` of a zeroed
 * struct vcpu, ctx NULL); both vCPUs stay OUTSIDE_GUEST_MODE, so requests only set bits and
 * reload() plays vcpu_handle_requests().  A second actor (vmm_main) updates memslots while
 * a fault is in flight.  Checks in a fiber record the first failure and return. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpu/vcpu.h"
#include "ept/memslot.h"
#include "ept/mmio.h"
#include "ept/mmu.h"
#include "sim/config.h"
#include "sim/engine.h"
#include "sim/fiber.h"
#include "sim/host.h"
#include "sim/sim.h"
#include "sim/stats.h"
#include "traces/trace.h"

#define MENV_EXTRA struct actor vmm;
#include "ept/tests/mmu_harness.h"

static void vmm_main(void *arg);

/* A 64M guest (4K backing) plus the given keys; body runs in the test actor's fiber, and
 * vmm_main in a second actor. */
static void run(void (*body)(struct menv *), const char *const *sets, size_t n)
{
	static struct menv mm;

	menv_build(&mm, body, sets, n, &mm.vmm, "vmm", vmm_main);
	menv_run_and_free(&mm);
}
#define RUN(body, ...) \
	run(body, (const char *const[]){ __VA_ARGS__ }, sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(char *))


/* vcpu_handle_requests() for the test vCPU: drop an invalid root, load a current one. */
static void reload(struct menv *m)
{
	if (m->vc[0].requests & KVM_REQ_MMU_RELOAD)
		kvm_mmu_unload(&m->vc[0]);
	m->vc[0].requests = m->vc[1].requests = 0;
	if (!m->vc[0].root)
		kvm_mmu_load(&m->vc[0]);
}

/* The last install of an ioctl and kvm_arch_commit_memory_region()'s MMIO part, as
 * __kvm_set_memory_region() ends every change. */
static void install_commit(struct kvm *kvm, enum kvm_mr_change change)
{
	kvm_install_new_memslots(kvm, change);
	kvm_mmu_invalidate_mmio_sptes(kvm, change);
}

/* The last spte on gpa's path from the vCPU's root (a leaf or an MMIO spte), 0 if none. */
static uint64_t spte_of(struct menv *m, uint64_t gpa)
{
	struct kvm_mmu_page *sp = m->vc[0].root;
	for (int l = PT64_ROOT_LEVEL; sp; l--) {
		uint64_t spte = sp->spt[spte_index(gpa, l)];
		if (!is_shadow_present_pte(spte) || is_last_spte(spte, l))
			return spte;
		sp = mmu_page(m->kvm, spte_child_id(spte));
	}
	return 0;
}

/* Every spte of every shadow page, reachable or not: MMIO sptes and present leaves, all and
 * those overlapping the gfns [lo, hi). */
struct scan { unsigned mmio, mmio_in, leaves, leaves_in; };
static struct scan scan_pages(struct kvm *kvm, gfn_t lo, gfn_t hi)
{
	struct scan s = { 0, 0, 0, 0 };
	struct kvm_mmu_page *sp;
	list_for_each_entry(sp, &kvm->active_mmu_pages, link) {
		for (unsigned i = 0; i < PT64_ENT_PER_PAGE; i++) {
			uint64_t spte = sp->spt[i], n = kvm_pages_per_hpage((int)sp->role.level);
			bool in = sp->gfn + i * n < hi && lo < sp->gfn + (i + 1) * n;
			if (is_mmio_spte(spte))
				s.mmio++, s.mmio_in += in;
			else if (is_shadow_present_pte(spte) && is_last_spte(spte, (int)sp->role.level))
				s.leaves++, s.leaves_in += in;
		}
	}
	return s;
}

/* Leaves reachable from every root (kvm_mmu_for_each_leaf): how many, how many overlap
 * [lo, hi), and a checksum of which they are. */
struct leaves { unsigned n, in; uint64_t sum; gfn_t lo, hi; };
static void visit_leaf(void *ctx, struct kvm_mmu_page *sp, unsigned idx, gfn_t gfn, int level)
{
	struct leaves *l = ctx;
	l->n++;
	l->in += gfn < l->hi && l->lo < gfn + kvm_pages_per_hpage(level);
	l->sum += (gfn * 31 + (uint64_t)level) * 2654435761u + sp->id * 7919u + idx;
}
static struct leaves leaves_from_roots(struct kvm *kvm, gfn_t lo, gfn_t hi)
{
	struct leaves l = { 0, 0, 0, lo, hi };
	struct kvm_mmu_page *sp;
	list_for_each_entry(sp, &kvm->active_mmu_pages, link)
		if (sp->role.level == PT64_ROOT_LEVEL)
			kvm_mmu_for_each_leaf(kvm, sp, visit_leaf, &l);
	return l;
}

/* kvm_rmap_count() sees present slots only: read the arrays of a deleted one directly. */
static bool rmaps_empty(const struct kvm_memory_slot *s)
{
	for (unsigned l = 1; l <= KVM_NR_PAGE_SIZES; l++) {
		unsigned sh = 9 * (l - 1);
		for (uint64_t k = 0; k <= ((s->base_gfn + s->npages - 1) >> sh) - (s->base_gfn >> sh); k++)
			if (s->rmap[l - 1][k])
				return false;
	}
	return true;
}

/* ---------------------------------------------------------------- 1: slow path once */

#define NMMIO 8
static uint64_t mmio_gpa(int i) { return 0xfe000000ULL + (uint64_t)i * 0x81000; }   /* 3 tables */

static void body_slow_once(struct menv *m)
{
	struct kvm *kvm = m->kvm;
	struct vcpu *v = &m->vc[0];
	const bool gen = kvm->sc->mmio_invalidate == MMIO_INVALIDATE_GENERATION;

	reload(m);
	for (int i = 0; i < NMMIO; i++) {
		CHECK(m, kvm_tdp_page_fault(v, mmio_gpa(i), false) == PF_EMULATE);
		uint64_t s = spte_of(m, mmio_gpa(i));
		CHECK(m, is_mmio_spte(s) && get_mmio_spte_generation(s) == kvm_current_mmio_generation(kvm));
		CHECK(m, handle_mmio_page_fault(v, mmio_gpa(i)) == RET_MMIO_PF_EMULATE);
	}
	CHECK(m, ctr(m, "mmio.fast") == NMMIO && ctr(m, "mmio.slow") == 0 && ctr(m, "ept.noslot_faults") == NMMIO);
	CHECK(m, scan_pages(kvm, 0, 0).mmio == NMMIO && ctr(m, "mmio.sptes_created") == NMMIO);
	CHECK_MMU(m);

	for (uint64_t round = 0; round < 2; round++) {
		uint64_t fast = ctr(m, "mmio.fast"), slow = ctr(m, "mmio.slow"), retry = ctr(m, "mmio.retry");
		uint64_t flushes = ctr(m, "tlb_flush.count"), created = ctr(m, "mmio.sptes_created");
		unsigned g0 = kvm_current_mmio_generation(kvm), touched = 0;
		install_commit(kvm, KVM_MR_CREATE);
		CHECK(m, kvm_current_mmio_generation(kvm) == g0 + 1 && ctr(m, "mmio.gen_bumps") == round + 1);
		/* generation: nothing dropped, no flush; zap-walk: every MMIO spte, one flush */
		CHECK(m, scan_pages(kvm, 0, 0).mmio == (gen ? NMMIO : 0));
		CHECK(m, ctr(m, "mmio.sptes_dropped") == (gen ? 0 : NMMIO * (round + 1)));
		CHECK(m, ctr(m, "tlb_flush.count") == flushes + !gen);
		CHECK_MMU(m);
		/* round 0 touches every page again, round 1 only the even ones */
		for (int i = 0; i < NMMIO; i += 1 + (int)round, touched++) {
			CHECK(m, handle_mmio_page_fault(v, mmio_gpa(i)) == (gen ? RET_MMIO_PF_INVALID : RET_MMIO_PF_RETRY));
			CHECK(m, kvm_tdp_page_fault(v, mmio_gpa(i), false) == PF_EMULATE);
			CHECK(m, get_mmio_spte_generation(spte_of(m, mmio_gpa(i))) == g0 + 1);
			for (int k = 0; k < 3; k++)
				CHECK(m, handle_mmio_page_fault(v, mmio_gpa(i)) == RET_MMIO_PF_EMULATE);
		}
		CHECK(m, ctr(m, "mmio.slow") == slow + (gen ? touched : 0));
		CHECK(m, ctr(m, "mmio.retry") == retry + (gen ? 0 : touched));
		CHECK(m, ctr(m, "mmio.fast") == fast + 3 * touched && ctr(m, "mmio.sptes_created") == created + touched);
		CHECK(m, ctr(m, "mmio.exits") == ctr(m, "mmio.fast") + ctr(m, "mmio.slow") + ctr(m, "mmio.retry"));
		CHECK(m, scan_pages(kvm, 0, 0).mmio == (gen ? NMMIO : touched));
		CHECK_MMU(m);
	}
	CHECK(m, ctr(m, "mmio.invalidations") == 2 && ctr(m, "mmio.gen_wraps") == 0);
}

static void test_slow_once_generation(void **state) { RUN(body_slow_once, "mmu.mmio_invalidate=generation"); }
static void test_slow_once_zap_walk(void **state) { RUN(body_slow_once, "mmu.mmio_invalidate=zap-walk"); }

/* A whole simulation with the given keys, run to its end, its MMU checked. */
static struct sim *whole_sim(const char *const *sets, size_t n, const char *variant, const char *trace)
{
	static struct scenario sc;
	struct config_error e;
	char err[512] = "", buf[700];

	config_defaults(&sc);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(config_set(&sc, sets[i], &e), 0);
	snprintf(buf, sizeof(buf), "mmu.mmio_invalidate=%s", variant);
	assert_int_equal(config_set(&sc, buf, &e), 0);
	snprintf(buf, sizeof(buf), "workload.trace=%s", trace);
	assert_int_equal(config_set(&sc, buf, &e), 0);
	assert_int_equal(config_validate(&sc, &e), 0);
	struct sim *s = sim_new(&sc, ENGINE_BATCHED, err, sizeof(err));
	if (!s)
		fail_msg("sim_new: %s", err);
	assert_int_equal(sim_run(s), 0);
	if (kvm_mmu_check(sim_kvm(s), err, sizeof(err)))
		fail_msg("%s: kvm_mmu_check at the end: %s", variant, err);
	return s;
}

static uint64_t sstat(struct sim *s, const char *name)
{
	stat_id id = stats_lookup(sim_stats(s), name);
	if (id == STAT_NONE)
		fail_msg("no stat %s", name);
	return stats_counter(sim_stats(s), id);
}

/* The same through vcpu.c: a GPA trace reads N MMIO pages twice each, creates the rom slot
 * (a REC_MEMSLOT record), reads the last page, then the N pages twice each again.  The first
 * touch of a page is one exit (an EPT violation whose fault emulates the access: 3.11
 * mmu_set_spte()'s *emulate), and a slow path is one exit too; a read of the vCPU's last
 * MMIO gfn is emulated at once, even over a stale spte (3.11 quickly_check_mmio_pf()). */
static void test_slow_once_trace(void **state)
{
	static const char *const sets[] = { "guest.vcpus=1", "guest.mem=256M", "guest.kernel_mem=64M",
					    "guest.paging=none", "workload.trace_end=stop", "workload.duration_ms=5",
					    "memslot.rom.base=0xfebc0000", "memslot.rom.size=256K",
					    "memslot.rom.readonly=true", "memslot.rom.present=false" };
	static const char *const names[9] = { "mmio.slow", "mmio.fast", "mmio.exits", "mmio.gen_bumps",
					      "mmio.sptes_dropped", "vcpu.records", "mmio.cached",
					      "vcpu.0.ept_violations", "vcpu.0.mmio_exits" };
	char dir[] = "/tmp/eptsim-mmio-XXXXXX", path[600];
	const uint64_t n = 6;
	struct trace_header h = { .version = TRACE_VERSION, .nr_vcpus = 1, .addr_kind = TRACE_ADDR_GPA,
				  .paging = TRACE_PAGING_NONE };
	struct trace_record c = { .kind = REC_MEMSLOT, .arg = MEMSLOT_CREATE, .addr = 0xfebc0000, .len = 256 << 10 };
	struct trace_writer *w;
	struct trace_error te;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/mmio.trace.gz", dir);
	assert_int_equal(trace_create(path, &h, &w, &te), 0);
	for (int pass = 0; pass < 2; pass++) {
		struct trace_record r = { .kind = REC_MMIO_READ, .size = 4, .icount = 20 };
		for (uint64_t i = 0; i < n; i++) {
			r.addr = 0xfe000000 + 0x3000 * i;
			assert_int_equal(trace_write(w, &r, &te), 0);
			assert_int_equal(trace_write(w, &r, &te), 0);
		}
		if (pass)
			break;
		assert_int_equal(trace_write(w, &c, &te), 0);
		assert_int_equal(trace_write(w, &r, &te), 0);   /* the last page once */
	}
	assert_int_equal(trace_finish(w, &te), 0);
	/* Pass 1: each page a noslot fault that emulates (one exit), then a cached fast exit.
	 * The last page after the create: cached, fast over its stale spte (generation) or a
	 * noslot fault (zap-walk dropped them all).  Pass 2, generation: each page a slow exit
	 * that emulates, then cached; zap-walk: a noslot fault, then cached, but the last page
	 * (its spte made at the start of the pass, the cache on the page before): walked, fast. */
	const uint64_t want[2][9] = { { n, 2 * n + 1, 3 * n + 1, 1, 0, 4 * n + 2, 2 * n + 1, n, 3 * n + 1 },
				      { 0, 2 * n + 1, 2 * n + 1, 1, n, 4 * n + 2, 2 * n, 2 * n, 2 * n + 1 } };
	for (int k = 0; k < 2; k++) {
		struct sim *s = whole_sim(sets, sizeof(sets) / sizeof(sets[0]), k ? "zap-walk" : "generation", path);
		for (int i = 0; i < 9; i++)
			if (sstat(s, names[i]) != want[k][i])
				fail_msg("%s %s: expected %llu, got %llu", k ? "zap-walk" : "generation", names[i],
					 (unsigned long long)want[k][i], (unsigned long long)sstat(s, names[i]));
		sim_free(s);
	}
	unlink(path);
	assert_int_equal(rmdir(dir), 0);
}

/* ---------------------------------------------------------------- 2: wraps */

/* 3.11 kvm_mmu_invalidate_mmio_sptes() at each ioctl's commit: zap all when the MMIO
 * generation is >= MMIO_MAX_GEN - 1 (14 and 15 with 4 bits), not when it comes back to 0. */
static void body_wrap_4_bits(struct menv *m)
{
	struct kvm *kvm = m->kvm;
	struct vcpu *v = &m->vc[0];
	const uint64_t A = 0x345000, X = 0xfe000000, Y = 0xfe001000;

	reload(m);
	CHECK(m, kvm_current_mmio_generation(kvm) == 11);
	CHECK(m, kvm_tdp_page_fault(v, A, true) == PF_FIXED && kvm_tdp_page_fault(v, X, false) == PF_EMULATE);
	CHECK(m, get_mmio_spte_generation(spte_of(m, X)) == 11);
	for (unsigned bump = 1; bump <= 21; bump++) {
		install_commit(kvm, KVM_MR_CREATE);
		reload(m);
		/* committed at 14 (bumps 3, 19) and at 15 (bumps 4, 20) */
		unsigned wraps = (bump >= 3) + (bump >= 4) + (bump >= 19) + (bump >= 20);
		CHECK(m, kvm_current_mmio_generation(kvm) == ((11 + bump) & 15));
		CHECK(m, ctr(m, "mmio.gen_wraps") == wraps && ctr(m, "zap.count") == wraps);
		CHECK(m, ctr(m, "mmio.gen_bumps") == bump && ctr(m, "mmio.invalidations") == bump + wraps);
		/* A and X (made at 11) live until the first zap, Y (made at 0) until the third */
		CHECK(m, is_shadow_present_pte(spte_of(m, A)) == (bump < 3) && is_mmio_spte(spte_of(m, X)) == (bump < 3));
		CHECK(m, is_mmio_spte(spte_of(m, Y)) == (bump > 5 && bump < 19));
		CHECK_MMU(m);
		if (bump == 5) {
			CHECK(m, kvm_tdp_page_fault(v, Y, false) == PF_EMULATE && get_mmio_spte_generation(spte_of(m, Y)) == 0);
			CHECK(m, handle_mmio_page_fault(v, Y) == RET_MMIO_PF_EMULATE);
		}
		if (bump == 16)   /* generation 11 again: X's ancient spte must not match */
			CHECK(m, handle_mmio_page_fault(v, X) == RET_MMIO_PF_RETRY);
	}
	/* generation 0 again: Y's spte of generation 0 went with the zap at 14 */
	CHECK(m, kvm_current_mmio_generation(kvm) == 0 && spte_of(m, Y) == 0);
	CHECK(m, ctr(m, "mmio.fast") == 1 && ctr(m, "mmio.slow") == 0);
}

/* The default start is 3.11's: kvm_current_mmio_generation() of a new VM (generation 0) is
 * MMIO_MAX_GEN - 150 = 2^19 - 151; the ioctls committed at 2^19 - 2 and 2^19 - 1 zap. */
static void body_wrap_19_bits(struct menv *m)
{
	struct kvm *kvm = m->kvm;
	reload(m);
	for (unsigned bump = 0; bump <= 151; bump++) {
		if (bump)
			install_commit(kvm, KVM_MR_FLAGS_ONLY);
		CHECK(m, kvm_current_mmio_generation(kvm) == (((1u << 19) - 151 + bump) & ((1u << 19) - 1)));
		unsigned wraps = (bump >= 149) + (bump >= 150);
		CHECK(m, ctr(m, "mmio.gen_wraps") == wraps && ctr(m, "zap.count") == wraps);
	}
	CHECK(m, kvm->memslots_generation == (1u << 19) && ctr(m, "mmio.gen_bumps") == 151);
}

/* A delete installs twice (the invalid slot, then the new memslots) in one ioctl: from 13,
 * through 14 to 15.  3.11 checks once, at the commit (15): one zap for the wrap, besides the
 * delete's own zap-all; the invalidating install is not checked.  The create after it
 * commits at 0: no zap. */
static void body_wrap_commit(struct menv *m)
{
	struct kvm *kvm = m->kvm;
	struct vcpu *v = &m->vc[0];
	struct kvm_memory_slot *dev = kvm_slot_by_name(kvm, "dev");
	const uint64_t X = 0xfe000000;

	reload(m);
	CHECK(m, kvm_tdp_page_fault(v, X, false) == PF_EMULATE && get_mmio_spte_generation(spte_of(m, X)) == 13);
	CHECK(m, kvm_set_memory_region(kvm, dev, KVM_MR_DELETE, 0) == 0);
	CHECK(m, kvm_current_mmio_generation(kvm) == 15 && ctr(m, "mmio.gen_bumps") == 2);
	CHECK(m, ctr(m, "mmio.gen_wraps") == 1 && ctr(m, "zap.count") == 2);
	CHECK(m, ctr(m, "mmio.invalidations") == 3);   /* two bumps, one wrap */
	reload(m);
	CHECK(m, kvm_set_memory_region(kvm, dev, KVM_MR_CREATE, 0) == 0);
	CHECK(m, kvm_current_mmio_generation(kvm) == 0 && ctr(m, "mmio.gen_wraps") == 1 && ctr(m, "zap.count") == 2);
	CHECK(m, spte_of(m, X) == 0 && kvm_tdp_page_fault(v, X, false) == PF_EMULATE);
	/* 13 flags changes: 1 ... 13, no zap; the 14th commits at 14 */
	for (int k = 1; k <= 14; k++) {
		CHECK(m, kvm_set_memory_region(kvm, dev, KVM_MR_FLAGS_ONLY, 0) == 0);
		CHECK(m, ctr(m, "mmio.gen_wraps") == 1u + (k == 14) && is_mmio_spte(spte_of(m, X)) == (k < 14));
	}
	CHECK_MMU(m);
}

static void test_wrap_4_bits(void **state) { RUN(body_wrap_4_bits, "mmu.mmio_gen_bits=4", "mmu.mmio_gen_start=11"); }
static void test_wrap_19_bits(void **state) { RUN(body_wrap_19_bits, "mmu.mmio_gen_bits=19"); }
static void test_wrap_commit(void **state)
{ RUN(body_wrap_commit, "mmu.mmio_gen_bits=4", "mmu.mmio_gen_start=13", "memslot.dev.base=0x10000000", "memslot.dev.size=4M"); }

/* ---------------------------------------------------------------- 2b: the per-vCPU MMIO cache */

/* 3.11 vcpu->arch.mmio_gfn: set by a noslot fault (handle_abnormal_pfn()) and by a walk that
 * finds a current MMIO spte; handle_mmio_page_fault_common() emulates an exit on it before
 * walking, with no generation check, and nothing clears it (a root reload neither).  After a
 * bump, the vCPU that cached X takes the fast path on X's stale spte; the other one takes
 * the slow path.  vCPU 1 has no fiber here: its cache is set directly (as its last MMIO
 * exit on X would), and it takes only the cached path, which walks nothing. */
static void body_mmio_cache(struct menv *m)
{
	struct kvm *kvm = m->kvm;
	struct vcpu *v = &m->vc[0], *w = &m->vc[1];
	const uint64_t X = 0xfe000000, Y = 0xfe003000;

	reload(m);
	CHECK(m, v->mmio_gfn == 0 && w->mmio_gfn == 0);
	CHECK(m, kvm_tdp_page_fault(v, X, false) == PF_EMULATE && v->mmio_gfn == X >> 12);   /* the fault caches */
	CHECK(m, kvm_tdp_page_fault(v, Y, false) == PF_EMULATE && v->mmio_gfn == Y >> 12);
	CHECK(m, handle_mmio_page_fault(v, X) == RET_MMIO_PF_EMULATE && v->mmio_gfn == X >> 12);   /* so does a walk */
	CHECK(m, ctr(m, "mmio.cached") == 0);
	CHECK(m, handle_mmio_page_fault(v, Y) == RET_MMIO_PF_EMULATE && v->mmio_gfn == Y >> 12);
	vcpu_cache_mmio_info(w, X >> 12);

	install_commit(kvm, KVM_MR_CREATE);
	uint64_t stale = spte_of(m, X);
	CHECK(m, get_mmio_spte_generation(stale) != kvm_current_mmio_generation(kvm));
	/* vCPU 1: X cached, emulated with no walk over the stale spte, which stays stale */
	CHECK(m, handle_mmio_page_fault(w, X) == RET_MMIO_PF_EMULATE && ctr(m, "mmio.cached") == 1);
	CHECK(m, ctr(m, "mmio.slow") == 0 && spte_of(m, X) == stale);
	/* vCPU 0: Y cached, X not: the slow path, a fresh spte, emulated, and now X cached */
	CHECK(m, handle_mmio_page_fault(v, X) == RET_MMIO_PF_INVALID && ctr(m, "mmio.slow") == 1);
	CHECK(m, kvm_tdp_page_fault(v, X, false) == PF_EMULATE && v->mmio_gfn == X >> 12);
	CHECK(m, get_mmio_spte_generation(spte_of(m, X)) == kvm_current_mmio_generation(kvm));
	/* Y is stale for vCPU 0 too now that X replaced it in the cache */
	CHECK(m, handle_mmio_page_fault(v, Y) == RET_MMIO_PF_INVALID && ctr(m, "mmio.slow") == 2);
	/* a root reload keeps the cache (vcpu_clear_mmio_info() clears mmio_gva only) */
	v->requests |= KVM_REQ_MMU_RELOAD;
	reload(m);
	CHECK(m, v->mmio_gfn == X >> 12 && w->mmio_gfn == X >> 12);
	CHECK(m, handle_mmio_page_fault(v, X) == RET_MMIO_PF_EMULATE && ctr(m, "mmio.cached") == 2);
	CHECK(m, ctr(m, "mmio.exits") == ctr(m, "mmio.fast") + ctr(m, "mmio.slow") + ctr(m, "mmio.retry"));
	CHECK_MMU(m);
}

static void test_mmio_cache(void **state) { RUN(body_mmio_cache, "mmu.mmio_invalidate=generation"); }

/* ---------------------------------------------------------------- 3: the zap-walk */

/* The ids of the pages on active_mmu_pages: how many, with mmio_cached set, and a checksum
 * of those without. */
struct pages { unsigned n, cached; uint64_t sum_clear; };
static struct pages list_pages(struct kvm *kvm)
{
	struct pages p = { 0, 0, 0 };
	struct kvm_mmu_page *sp;
	list_for_each_entry(sp, &kvm->active_mmu_pages, link) {
		p.n++;
		if (sp->mmio_cached)
			p.cached++;
		else
			p.sum_clear += (uint64_t)sp->id * 2654435761u + 1;
	}
	return p;
}

/* 3.10's kvm_mmu_zap_mmio_sptes(): every page with an MMIO spte is zapped whole, its RAM
 * sptes with it (they refault), every other page is left alone; mmu_lock is held for the
 * whole walk however many pages it zaps and however much the VMM thread is asked to
 * reschedule, and the walk ends in one commit (one flush), then kvm_reload_remote_mmus(). */
/* The pages kvm_mmu_zap_mmio_sptes() reads, by a naive model of its walk over the list as
 * it is now: each mmio_cached page is reached after reading every page before it (the pages
 * it zapped earlier gone), then the walk restarts; a last pass reads every page left. */
static uint64_t zap_walk_visits(struct kvm *kvm)
{
	bool cached[4096];
	unsigned n = 0;
	struct kvm_mmu_page *sp;
	list_for_each_entry(sp, &kvm->active_mmu_pages, link) {
		assert_true(n < 4096);
		cached[n++] = sp->mmio_cached;
	}
	uint64_t visits = 0;
	unsigned left = 0;   /* pages before the current one that stay */
	for (unsigned i = 0; i < n; i++) {
		if (cached[i])
			visits += left + 1;   /* read up to it, zap it, restart */
		else
			left++;
	}
	return visits + left;
}

static void body_zap_walk(struct menv *m)
{
	struct kvm *kvm = m->kvm;
	struct vcpu *v = &m->vc[0];
	uint64_t ram[48], mmio[56];
	unsigned nram = 0, nmmio = 0;
	const gfn_t half_lo = 0x5000000 >> 12, half_hi = 0x5200000 >> 12;

	reload(m);
	/* RAM over the guest (tables of their own); in the half slot, RAM and MMIO share one
	 * level-1 table; MMIO far away, one table each (more than mmu.batch_zap_pages) */
	for (uint64_t i = 0; i < 32; i++)
		ram[nram++] = i * 0x1f3000;
	for (uint64_t i = 0; i < 16; i++) {
		ram[nram++] = 0x5000000 + i * 0x11000;
		mmio[nmmio++] = 0x5100000 + i * 0x9000;
	}
	for (uint64_t i = 0; i < 40; i++)
		mmio[nmmio++] = 0xc0000000 + i * 0x200000 + (i & 7) * 0x1000;
	for (unsigned i = 0; i < nram; i++)
		CHECK(m, kvm_tdp_page_fault(v, ram[i], i & 1) == PF_FIXED);
	for (unsigned i = 0; i < nmmio; i++)
		CHECK(m, kvm_tdp_page_fault(v, mmio[i], false) == PF_EMULATE && is_mmio_spte(spte_of(m, mmio[i])));
	struct pages before = list_pages(kvm);
	CHECK(m, before.cached == 41 && before.n == kvm->n_used_mmu_pages);
	CHECK(m, leaves_from_roots(kvm, 0, 0).n == nram && scan_pages(kvm, 0, 0).mmio == nmmio);
	CHECK(m, leaves_from_roots(kvm, half_lo, half_hi).in == 16);
	CHECK_MMU(m);

	/* the VMM thread is asked to reschedule all along: the old walk broke the lock */
	v->actor.host_thread = true;
	host_thread_begin(kvm->host, &v->actor);
	uint64_t flushes = ctr(m, "tlb_flush.count"), reloads = ctr(m, "vcpu.reload_requests");
	uint64_t locks = host_lock_acquisitions(kvm->host);
	uint64_t visits = zap_walk_visits(kvm);
	CHECK(m, visits > before.n && ctr(m, "mmio.pages_visited") == 0);
	install_commit(kvm, KVM_MR_CREATE);
	CHECK(m, ctr(m, "mmio.pages_visited") == visits);
	v->actor.host_thread = false;
	CHECK(m, host_lock_acquisitions(kvm->host) == locks + 1);   /* no lock-break */
	CHECK(m, ctr(m, "tlb_flush.count") == flushes + 1);         /* one commit */
	CHECK(m, ctr(m, "vcpu.reload_requests") == reloads + 1);
	CHECK(m, ctr(m, "mmio.pages_zapped") == 41 && ctr(m, "mmio.sptes_dropped") == nmmio);
	struct pages after = list_pages(kvm);
	CHECK(m, after.cached == 0 && after.n == before.n - 41 && after.sum_clear == before.sum_clear);
	CHECK(m, kvm->n_used_mmu_pages == before.n - 41);
	/* the half slot's RAM sptes went with their page, the others stayed */
	CHECK(m, scan_pages(kvm, 0, 0).mmio == 0 && scan_pages(kvm, 0, 0).leaves == nram - 16);
	CHECK(m, leaves_from_roots(kvm, half_lo, half_hi).in == 0 && leaves_from_roots(kvm, 0, 0).n == nram - 16);
	for (unsigned i = 0; i < nram; i++)
		CHECK(m, is_shadow_present_pte(spte_of(m, ram[i])) == (i < 32));
	for (unsigned i = 0; i < nmmio; i++)
		CHECK(m, spte_of(m, mmio[i]) == 0);
	CHECK(m, ctr(m, "mmio.invalidations") == 1 && ctr(m, "zap.count") == 0);
	CHECK_MMU(m);

	/* the vCPU reloads its (still valid) root; the zapped RAM refaults */
	reload(m);
	uint64_t faults = ctr(m, "ept.faults");
	for (unsigned i = 32; i < nram; i++) {
		CHECK(m, kvm_tdp_page_fault(v, ram[i], false) == PF_FIXED);
		CHECK(m, kvm_rmap_count(kvm, ram[i] >> 12, 1) == 1 && is_shadow_present_pte(spte_of(m, ram[i])));
	}
	CHECK(m, ctr(m, "ept.faults") == faults + 16 && leaves_from_roots(kvm, 0, 0).n == nram);
	CHECK(m, list_pages(kvm).cached == 0);   /* a RAM fault does not set mmio_cached */
	CHECK_MMU(m);

	/* no page has an MMIO spte: a walk that zaps nothing and does not flush, but reads every
	 * page once, costs.sp_list_entry (1,000 here) each, all of it under mmu_lock */
	unsigned listed = list_pages(kvm).n;
	stat_id hold = stats_lookup(m->st, "mmio.invalidate_hold_cycles");
	install_commit(kvm, KVM_MR_MOVE);
	CHECK(m, ctr(m, "mmio.pages_visited") == visits + listed);
	CHECK(m, stats_array_len(m->st, hold) == 2 && stats_array_at(m->st, hold, 1) == (int64_t)listed * 1000);
	CHECK(m, ctr(m, "mmio.pages_zapped") == 41 && ctr(m, "tlb_flush.count") == flushes + 1);
	CHECK(m, ctr(m, "mmio.invalidations") == 2 && leaves_from_roots(kvm, 0, 0).n == nram);
	reload(m);
	/* a delete or a flags change walks nothing: the MMIO spte stays, still fast */
	CHECK(m, kvm_tdp_page_fault(v, mmio[0], false) == PF_EMULATE && list_pages(kvm).cached == 1);
	install_commit(kvm, KVM_MR_FLAGS_ONLY);
	install_commit(kvm, KVM_MR_DELETE);
	CHECK(m, ctr(m, "mmio.invalidations") == 2 && scan_pages(kvm, 0, 0).mmio == 1);
	CHECK(m, handle_mmio_page_fault(v, mmio[0]) == RET_MMIO_PF_EMULATE && ctr(m, "mmio.slow") == 0);
	/* the next create zaps the page again, its RAM sptes with it */
	install_commit(kvm, KVM_MR_CREATE);
	CHECK(m, ctr(m, "mmio.pages_zapped") == 42 && ctr(m, "tlb_flush.count") == flushes + 2);
	CHECK(m, leaves_from_roots(kvm, half_lo, half_hi).in == 0 && list_pages(kvm).cached == 0);
	CHECK_MMU(m);
}

static void test_zap_walk(void **state)
{
	RUN(body_zap_walk, "mmu.mmio_invalidate=zap-walk", "memslot.half.base=0x5000000", "memslot.half.size=1M",
	    "host.bg_wakeup_hz=10000000", "costs.sp_list_entry=1000");
}

/* ---------------------------------------------------------------- 4: memslot updates */

#define D 0x10000000ULL        /* the dev slot, 4M */
#define NEW 0x30000000ULL      /* where it moves */
#define DEV_LO (D >> 12)
#define DEV_HI ((D + (4 << 20)) >> 12)

static void body_memslots(struct menv *m)
{
	struct kvm *kvm = m->kvm;
	struct vcpu *v = &m->vc[0];
	struct kvm_memory_slot *dev = kvm_slot_by_name(kvm, "dev"), *rom = kvm_slot_by_name(kvm, "rom");

	CHECK(m, dev && rom && dev->present && !rom->present);
	reload(m);
	for (uint64_t i = 0; i < 24; i++)
		CHECK(m, kvm_tdp_page_fault(v, D + i * 0x2b000, true) == PF_FIXED);
	CHECK(m, kvm_tdp_page_fault(v, 0x123000, true) == PF_FIXED);
	CHECK(m, leaves_from_roots(kvm, DEV_LO, DEV_HI).in == 24 && !rmaps_empty(dev));

	/* bad updates change nothing */
	struct leaves l0 = leaves_from_roots(kvm, 0, 0);
	uint64_t gen0 = kvm->memslots_generation;
	CHECK(m, kvm_set_memory_region(kvm, dev, KVM_MR_CREATE, 0) == -EINVAL);
	CHECK(m, kvm_set_memory_region(kvm, rom, KVM_MR_DELETE, 0) == -EINVAL);
	CHECK(m, kvm_set_memory_region(kvm, rom, KVM_MR_MOVE, NEW) == -EINVAL);
	CHECK(m, kvm_set_memory_region(kvm, rom, KVM_MR_FLAGS_ONLY, 0) == -EINVAL);
	CHECK(m, kvm_set_memory_region(kvm, dev, KVM_MR_MOVE, 0x20100000) == -EINVAL);   /* onto other */
	CHECK(m, kvm_set_memory_region(kvm, dev, KVM_MR_MOVE, 0x1ff00000) == -EINVAL);   /* over its start */
	CHECK(m, kvm_set_memory_region(kvm, dev, KVM_MR_MOVE, NEW + 0x800) == -EINVAL);  /* unaligned */
	/* beyond the 48-bit guest-physical space: the base, the end, and a base + size that
	 * wraps (issue 12) */
	CHECK(m, kvm_set_memory_region(kvm, dev, KVM_MR_MOVE, 1ULL << 48) == -EINVAL);
	CHECK(m, kvm_set_memory_region(kvm, dev, KVM_MR_MOVE, (1ULL << 48) - (2 << 20)) == -EINVAL);
	CHECK(m, kvm_set_memory_region(kvm, dev, KVM_MR_MOVE, 0xffffffffffe00000ULL) == -EINVAL);
	CHECK(m, kvm->memslots_generation == gen0 && ctr(m, "zap.count") == 0 && ctr(m, "mmio.gen_bumps") == 0);
	CHECK(m, dev->present && dev->base_gfn == DEV_LO && !rom->present && v->requests == 0);
	CHECK(m, leaves_from_roots(kvm, 0, 0).n == l0.n && leaves_from_roots(kvm, 0, 0).sum == l0.sum);
	CHECK_MMU(m);

	/* delete: two installs and a zap-all; nothing maps into the range, the rmaps are empty */
	CHECK(m, kvm_set_memory_region(kvm, dev, KVM_MR_DELETE, 0) == 0);
	CHECK(m, !dev->present && kvm->memslots_generation == gen0 + 2 && ctr(m, "zap.count") == 1);
	for (int k = 0; k < 2; k++, reload(m)) {   /* the invalid root still held, then a new one */
		CHECK(m, leaves_from_roots(kvm, DEV_LO, DEV_HI).in == 0 && scan_pages(kvm, DEV_LO, DEV_HI).leaves_in == 0);
		CHECK(m, rmaps_empty(dev));
		CHECK_MMU(m);
	}
	uint64_t faults = ctr(m, "ept.faults");
	CHECK(m, kvm_tdp_page_fault(v, D + 0x2b000, true) == PF_EMULATE && is_mmio_spte(spte_of(m, D + 0x2b000)));
	CHECK(m, ctr(m, "ept.faults") == faults && ctr(m, "ept.noslot_faults") == 1);
	CHECK(m, rmaps_empty(dev) && leaves_from_roots(kvm, DEV_LO, DEV_HI).in == 0);

	/* create again: the fault maps memory over the MMIO spte */
	CHECK(m, kvm_set_memory_region(kvm, dev, KVM_MR_CREATE, 0) == 0);
	CHECK(m, dev->present && kvm->memslots_generation == gen0 + 3 && ctr(m, "zap.count") == 1);
	CHECK_MMU(m);
	CHECK(m, kvm_tdp_page_fault(v, D + 0x2b000, true) == PF_FIXED);
	uint64_t s = spte_of(m, D + 0x2b000);
	CHECK(m, is_shadow_present_pte(s) && !is_mmio_spte(s) && kvm_rmap_count(kvm, DEV_LO + 0x2b, 1) == 1);
	CHECK(m, scan_pages(kvm, DEV_LO, DEV_HI).mmio_in == 0 && leaves_from_roots(kvm, DEV_LO, DEV_HI).in == 1);
	CHECK_MMU(m);

	/* move: the old range is no slot (MMIO), the new one maps */
	CHECK(m, kvm_set_memory_region(kvm, dev, KVM_MR_MOVE, NEW) == 0);
	CHECK(m, dev->present && dev->base_gfn == NEW >> 12 && ctr(m, "zap.count") == 2);
	CHECK(m, kvm->memslots_generation == gen0 + 5 && rmaps_empty(dev));
	reload(m);
	CHECK(m, kvm_tdp_page_fault(v, D + 0x5000, true) == PF_EMULATE && is_mmio_spte(spte_of(m, D + 0x5000)));
	CHECK(m, kvm_tdp_page_fault(v, NEW + 0x5000, true) == PF_FIXED);
	CHECK(m, is_shadow_present_pte(spte_of(m, NEW + 0x5000)) && kvm_rmap_count(kvm, (NEW >> 12) + 5, 1) == 1);
	CHECK(m, leaves_from_roots(kvm, DEV_LO, DEV_HI).in == 0 && scan_pages(kvm, DEV_LO, DEV_HI).leaves_in == 0);
	CHECK(m, leaves_from_roots(kvm, NEW >> 12, (NEW >> 12) + 1024).in == 1);
	CHECK(m, kvm_slot_at(kvm, D) == NULL && kvm_slot_at(kvm, NEW + (4 << 20) - 1) == dev);
	CHECK_MMU(m);
}

#define DEV_SLOT "memslot.dev.base=0x10000000", "memslot.dev.size=4M"
#define SLOTS DEV_SLOT, "memslot.other.base=0x20000000", "memslot.other.size=2M", "memslot.rom.base=0xfebc0000", \
	"memslot.rom.size=256K", "memslot.rom.present=false", "memslot.rom.readonly=true"
static void test_memslots_generation(void **state) { RUN(body_memslots, SLOTS, "mmu.mmio_invalidate=generation"); }
static void test_memslots_zap_walk(void **state) { RUN(body_memslots, SLOTS, "mmu.mmio_invalidate=zap-walk"); }

/* A fault that found the slot before a delete or a move must not map it afterwards (KVM's
 * synchronize_srcu() waits for such faults before the zap).  With a long ept_fault_base the
 * VMM actor, woken 1000 cycles into the fault, runs the whole update meanwhile. */
static void vmm_main(void *arg)
{
	static const enum kvm_mr_change ops[] = { KVM_MR_DELETE, KVM_MR_CREATE, KVM_MR_MOVE };
	struct menv *m = arg;
	for (int k = 0; k < 3; k++) {
		note(m, !kvm_set_memory_region(m->kvm, kvm_slot_by_name(m->kvm, "dev"), ops[k], NEW), __LINE__, "vmm op");
		actor_block(m->e, &m->vmm);
	}
}

static void body_fault_races_update(struct menv *m)
{
	struct kvm *kvm = m->kvm;
	struct vcpu *v = &m->vc[0];
	struct kvm_memory_slot *dev = kvm_slot_by_name(kvm, "dev");

	reload(m);
	engine_wake(m->e, &m->vmm, v->actor.clock + 1000);
	CHECK(m, kvm_tdp_page_fault(v, D, true) == PF_RETRY);
	CHECK(m, !dev->present && ctr(m, "zap.count") == 1 && ctr(m, "ept.faults") == 0);
	CHECK(m, scan_pages(kvm, DEV_LO, DEV_HI).leaves_in == 0 && rmaps_empty(dev));
	CHECK_MMU(m);
	reload(m);
	CHECK(m, kvm_tdp_page_fault(v, D, true) == PF_EMULATE && is_mmio_spte(spte_of(m, D)));

	engine_wake(m->e, &m->vmm, v->actor.clock + 1000);
	kvm_spend(kvm, 5000);   /* the create runs */
	CHECK(m, dev->present && kvm_tdp_page_fault(v, D, true) == PF_FIXED);
	CHECK(m, is_shadow_present_pte(spte_of(m, D)) && kvm_rmap_count(kvm, DEV_LO, 1) == 1);

	engine_wake(m->e, &m->vmm, v->actor.clock + 1000);
	CHECK(m, kvm_tdp_page_fault(v, D + 0x1000, true) == PF_RETRY);
	CHECK(m, dev->base_gfn == NEW >> 12 && scan_pages(kvm, DEV_LO, DEV_HI).leaves_in == 0 && rmaps_empty(dev));
	CHECK_MMU(m);
	reload(m);
	CHECK(m, kvm_tdp_page_fault(v, NEW + 0x1000, true) == PF_FIXED && kvm_rmap_count(kvm, (NEW >> 12) + 1, 1) == 1);
	CHECK_MMU(m);
}

static void test_fault_races_update(void **state)
{ RUN(body_fault_races_update, DEV_SLOT, "costs.ept_fault_base=1000000", "costs.ioctl_base=0"); }

/* ---------------------------------------------------------------- 5: whole-sim smoke */

static void smoke(const char *variant)
{
	static const char *const sets[] = {
		"guest.vcpus=2", "guest.mem=256M", "guest.kernel_mem=64M", "guest.backing=4k", "mmu.zap_all=fast-v7",
		"host.preempt=voluntary", "host.bg_wakeup_hz=1000", "workload.generator=kbuild",
		"workload.duration_ms=20", "workload.mmio_devices=2", "workload.mmio_rate=0.001",
		"workload.slot_access_rate=0.0005", "memslot.rom.base=0xfebc0000", "memslot.rom.size=256K",
		"memslot.rom.readonly=true", "memslot.rom.present=false", "events.toggle_slot=rom",
		"events.toggle_start_ms=2", "events.toggle_period_ms=2", "events.toggle_count=1000" };
	struct sim *s = whole_sim(sets, sizeof(sets) / sizeof(sets[0]), variant, "");
	uint64_t exits = sstat(s, "mmio.exits"), fast = sstat(s, "mmio.fast"), slow = sstat(s, "mmio.slow");
	uint64_t toggles = sstat(s, "events.memslot_toggles"), creates = (toggles + 1) / 2, deletes = toggles / 2;

	assert_int_equal(toggles, 9);   /* at 2, 4, ..., 18 ms; the rom starts absent */
	assert_int_equal(exits, fast + slow + sstat(s, "mmio.retry"));
	assert_true(exits > 0 && fast > 0);
	assert_int_equal(sstat(s, "mmio.gen_bumps"), creates + 2 * deletes);   /* a delete installs twice */
	assert_int_equal(sstat(s, "mmio.gen_wraps"), 0);
	if (!strcmp(variant, "zap-walk")) {
		assert_int_equal(slow, 0);
		assert_int_equal(sstat(s, "mmio.invalidations"), creates);
		assert_true(sstat(s, "mmio.sptes_dropped") > 0);
	} else {
		assert_int_equal(sstat(s, "mmio.invalidations"), sstat(s, "mmio.gen_bumps"));
		assert_true(slow > 0);
		assert_int_equal(sstat(s, "mmio.sptes_dropped"), 0);
	}
	sim_free(s);
}

static void test_smoke_zap_walk(void **state) { smoke("zap-walk"); }
static void test_smoke_generation(void **state) { smoke("generation"); }

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slow_once_generation), cmocka_unit_test(test_slow_once_zap_walk),
		cmocka_unit_test(test_slow_once_trace),      cmocka_unit_test(test_wrap_4_bits),
		cmocka_unit_test(test_wrap_19_bits),         cmocka_unit_test(test_wrap_commit),
		cmocka_unit_test(test_mmio_cache),
		cmocka_unit_test(test_zap_walk),
		cmocka_unit_test(test_memslots_generation),  cmocka_unit_test(test_memslots_zap_walk),
		cmocka_unit_test(test_fault_races_update),   cmocka_unit_test(test_smoke_zap_walk),
		cmocka_unit_test(test_smoke_generation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
