#include "sim/sim.h"

#include "cpu/cache.h"
#include "cpu/gpt.h"
#include "cpu/guest.h"
#include "cpu/tlb.h"
#include "cpu/vcpu.h"
#include "ept/mmu.h"
#include "ept/dirty.h"
#include "ept/memslot.h"
#include "ept/mmio.h"
#include "ept/zap.h"
#include "sim/config.h"
#include "version.h"
#include "sim/engine.h"
#include "sim/fiber.h"
#include "sim/host.h"
#include "sim/paths.h"
#include "sim/resdir.h"
#include "sim/stats.h"
#include "sim/tmpfiles.h"
#include "workloads/elfsym.h"
#include "workloads/workload.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define VMM_FIBER_STACK (256 * 1024)
#define POOL_RNG_STREAM 0x30000ULL

/* The [events] schedule: memslot toggles and dirty logging, in time order. */
enum vmm_action { VMM_TOGGLE, VMM_DIRTY_ENABLE, VMM_DIRTY_GET, VMM_DIRTY_DISABLE };
struct vmm_event { uint64_t t; enum vmm_action what; };

struct sim {
	const struct scenario *sc;
	enum engine_mode mode;
	struct engine *e;
	struct stats *st;
	struct host *host;
	struct kvm *kvm;
	struct guest_layout layout;
	struct gpa_pool *kpool;
	struct gpt *kgpt;
	uint32_t n;
	struct vcpu **vcpus;
	struct gpt **gpts;
	struct gpa_pool **pools;
	struct workload **wls;
	struct cache *llc;               /* walk.refs = cache: the LLC the vCPUs share */
	struct actor vmm;
	bool vmm_done;                   /* the VMM thread's [events] schedule is over */
	struct vmm_event *ev;            /* the VMM thread's schedule (vmm_schedule()) */
	uint32_t nr_ev;
	struct actor sampler;
	uint64_t end, sample_period;
	sim_progress_fn progress;
	void *progress_ctx;
	struct { stat_id pages, records, waiters, toggles, p4k, p2m, p1g, cov, ended_early; } sid;   /* sim_stats_defs[] order */
	uint64_t last_records;
	/* dirty logging phases: before enable, during, after disable (from t_disable) */
	uint64_t t_disable;
	uint64_t snap[2][3];             /* records, tlb misses, walk refs at enable, disable */
	bool enabled, disabled;
	double cov_before;               /* memory mapped large when logging was enabled (4K pages) */
	int64_t t_recovered;             /* first sample after disable with 90% of it back, -1 */
	struct elfsym *syms;
	struct attribution *attr;
	bool finished;
	char error[512];
};

static const struct stat_def sim_stats_defs[] = {
	{ "series.ept.shadow_pages", STAT_SERIES, "pages", "shadow pages in use over time (t in ms)" },
	{ "series.vcpu.records", STAT_SERIES, "records", "records executed by all vCPUs per sample period (t in ms)" },
	{ "series.mmu_lock.waiters", STAT_SERIES, "actors", "actors waiting for mmu_lock at each sample (t in ms)" },
	{ "events.memslot_toggles", STAT_COUNTER, "events", "memslot deletions and re-creations run by the VMM thread" },
	{ "series.ept.pages_4k", STAT_SERIES, "sptes", "4K leaf sptes over time (t in ms)" },
	{ "series.ept.pages_2m", STAT_SERIES, "sptes", "2M leaf sptes over time (t in ms)" },
	{ "series.ept.pages_1g", STAT_SERIES, "sptes", "1G leaf sptes over time (t in ms)" },
	{ "series.ept.large_coverage", STAT_SERIES, "fraction", "share of mapped guest memory mapped by 2M/1G sptes (t in ms)" },
	{ "sim.ended_early", STAT_COUNTER, "events",
	  "1 if the run ended before workload.duration_ms: every vCPU had halted (workload.trace_end = stop) and no [events] were left" },
};

/* The VMM thread: runs the [events] schedule, each event an ioctl competing for mmu_lock. */
static double large_coverage(const struct kvm *kvm)
{
	/* reachable leaves only: a 4K table a large mapping unlinked translates nothing */
	double small = (double)kvm->nr_reach[PT_PAGE_TABLE_LEVEL];
	double large = (double)kvm->nr_reach[PT_DIRECTORY_LEVEL] * 512 + (double)kvm->nr_reach[PT_PDPE_LEVEL] * 262144;
	return small + large > 0 ? large / (small + large) : 0.0;
}

/* 4K pages mapped by reachable 2M/1G sptes */
static double large_pages(const struct kvm *kvm)
{
	return (double)kvm->nr_reach[PT_DIRECTORY_LEVEL] * 512 + (double)kvm->nr_reach[PT_PDPE_LEVEL] * 262144;
}

static uint64_t total_records(const struct sim *s);
static void snapshot(struct sim *s, uint64_t *out);

static int vmm_event_cmp(const void *a, const void *b)
{
	const struct vmm_event *x = a, *y = b;
	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return (int)x->what - (int)y->what;
}

/* The slots events.dirty_slot names, in slot order, in out[] (room for CONFIG_MAX_MEMSLOTS):
 * the one named, or for "all" every present RAM slot, as QEMU's migration logs every RAM
 * region (kvm_set_migration_log() sets KVM_MEM_LOG_DIRTY_PAGES slot by slot, and each sync
 * is a KVM_GET_DIRTY_LOG per slot).  Returns how many: 0, no dirty logging. */
static uint32_t dirty_slots(const struct sim *s, struct kvm_memory_slot **out)
{
	const struct scenario *sc = s->sc;
	uint32_t n = 0;

	if (!strcmp(sc->dirty_slot, CONFIG_DIRTY_ALL)) {
		for (uint32_t i = 0; i < config_nr_ram_slots(sc); i++)
			if (s->kvm->slots[i].present)
				out[n++] = &s->kvm->slots[i];
	} else if (sc->dirty_slot[0]) {
		out[0] = kvm_slot_by_name(s->kvm, sc->dirty_slot);
		n = out[0] != NULL;
	}
	return n;
}

/* The [events] schedule, in time order, in s->ev.  Built before the run, not in the VMM
 * thread's fiber: a run can end while that thread waits, and its fiber is then freed
 * without returning. */
static int vmm_schedule(struct sim *s, struct kvm_memory_slot *slot, bool logged)
{
	const struct scenario *sc = s->sc;
	uint32_t n = (slot ? sc->toggle_count : 0) + (logged ? sc->dirty_rounds + 2 : 0), k = 0;
	struct vmm_event *ev = calloc(n ? n : 1, sizeof(*ev));

	if (!ev)
		return -ENOMEM;
	if (slot && sc->toggle_count) {
		double *ms = calloc(sc->toggle_count, sizeof(*ms));
		if (!ms) {
			free(ev);
			return -ENOMEM;
		}
		config_toggle_times(sc, ms);
		for (uint32_t i = 0; i < sc->toggle_count; i++)
			ev[k++] = (struct vmm_event){ config_ms_to_cycles(sc, ms[i]), VMM_TOGGLE };
		free(ms);
	}
	if (logged) {
		ev[k++] = (struct vmm_event){ config_ms_to_cycles(sc, sc->dirty_start_ms), VMM_DIRTY_ENABLE };
		for (uint32_t i = 1; i <= sc->dirty_rounds; i++)
			ev[k++] = (struct vmm_event){ config_ms_to_cycles(sc, sc->dirty_start_ms + i * sc->dirty_round_ms),
						      VMM_DIRTY_GET };
		ev[k++] = (struct vmm_event){ config_ms_to_cycles(sc, sc->dirty_start_ms + sc->dirty_rounds * sc->dirty_round_ms),
					      VMM_DIRTY_DISABLE };
	}
	qsort(ev, k, sizeof(*ev), vmm_event_cmp);
	s->ev = ev;
	s->nr_ev = k;
	return 0;
}

/* The VMM thread: runs the [events] schedule, each event an ioctl competing for mmu_lock. */
static void vmm_main(void *arg)
{
	struct sim *s = arg;
	const struct scenario *sc = s->sc;
	struct kvm_memory_slot *slot = sc->toggle_slot[0] ? kvm_slot_by_name(s->kvm, sc->toggle_slot) : NULL;
	struct kvm_memory_slot *dslots[CONFIG_MAX_MEMSLOTS];
	uint32_t nd = dirty_slots(s, dslots);
	const struct vmm_event *ev = s->ev;
	uint32_t k = s->nr_ev;

	for (uint32_t i = 0; i < k; i++) {
		if (ev[i].t >= s->end)
			break;
		if (ev[i].t > s->vmm.clock) {
			engine_wake(s->e, &s->vmm, ev[i].t);
			actor_block(s->e, &s->vmm);
		}
		host_thread_begin(s->host, &s->vmm);
		switch (ev[i].what) {
		case VMM_TOGGLE:
			/* A PCI ROM read: the ROM BAR's slot goes away or comes back. */
			kvm_set_memory_region(s->kvm, slot, slot->present ? KVM_MR_DELETE : KVM_MR_CREATE, 0);
			stats_add(s->st, s->sid.toggles, 1);
			break;
		/* the dirty log's ioctls take slots_lock too: KVM_SET_USER_MEMORY_REGION with
		 * KVM_MEM_LOG_DIRTY_PAGES set or cleared, KVM_GET_DIRTY_LOG; one ioctl per
		 * logged slot, in slot order */
		case VMM_DIRTY_ENABLE:
			s->cov_before = large_pages(s->kvm);
			snapshot(s, s->snap[0]);
			s->enabled = true;
			for (uint32_t d = 0; d < nd; d++) {
				kvm_slots_lock(s->kvm);
				kvm_dirty_log_enable(s->kvm, dslots[d]);
				kvm_slots_unlock(s->kvm);
			}
			break;
		case VMM_DIRTY_GET:
			for (uint32_t d = 0; d < nd; d++) {
				kvm_slots_lock(s->kvm);
				kvm_get_dirty_log(s->kvm, dslots[d], NULL);
				kvm_slots_unlock(s->kvm);
			}
			break;
		case VMM_DIRTY_DISABLE:
			/* the "after" phase starts with the first ioctl: the collapses are part of it */
			s->t_disable = s->vmm.clock;
			snapshot(s, s->snap[1]);
			s->disabled = true;
			for (uint32_t d = 0; d < nd; d++) {
				kvm_slots_lock(s->kvm);
				kvm_dirty_log_disable(s->kvm, dslots[d]);
				kvm_slots_unlock(s->kvm);
			}
			break;
		}
		if (sc->stop_after_last && i == k - 1 && s->vmm.clock < s->end) {
			/* nothing the schedule asked for is left: the run ends here */
			s->end = s->vmm.clock;
			engine_end_at(s->e, s->end);
		}
	}
	s->vmm_done = true;
}

static void fiber_actor_run(struct actor *a) { fiber_resume(a->fiber); }

/* records, TLB misses and walk references of all vCPUs so far */
static void snapshot(struct sim *s, uint64_t *out)
{
	out[0] = out[1] = out[2] = 0;
	for (uint32_t i = 0; i < s->n; i++) {
		out[0] += s->vcpus[i]->n.records;
		out[1] += tlb_counters(s->vcpus[i]->tlb)->misses;
		out[2] += s->vcpus[i]->n.walk_refs;
	}
}

static uint64_t total_records(const struct sim *s)
{
	uint64_t n = 0;
	for (uint32_t i = 0; i < s->n; i++)
		n += s->vcpus[i]->n.records;
	return n;
}

/* Every vCPU has halted (workload.trace_end = stop, or its workload failed) and the VMM
 * thread has no [events] left: nothing can happen any more. */
static bool all_stopped(const struct sim *s)
{
	if (!s->vmm_done)
		return false;
	for (uint32_t i = 0; i < s->n; i++)
		if (!s->vcpus[i]->done)
			return false;
	return true;
}

static void sampler_run(struct actor *a)
{
	struct sim *s = a->ctx;
	double t_ms = (double)a->clock / (s->sc->freq_mhz * 1000.0);
	uint64_t rec = total_records(s);

	double cov = large_coverage(s->kvm);
	if (s->disabled && s->t_recovered < 0 && large_pages(s->kvm) >= 0.9 * s->cov_before)
		s->t_recovered = (int64_t)a->clock;
	if (s->sc->series) {
		stats_series_add(s->st, s->sid.p4k, t_ms, (double)s->kvm->nr_leaves[PT_PAGE_TABLE_LEVEL]);
		stats_series_add(s->st, s->sid.p2m, t_ms, (double)s->kvm->nr_leaves[PT_DIRECTORY_LEVEL]);
		stats_series_add(s->st, s->sid.p1g, t_ms, (double)s->kvm->nr_leaves[PT_PDPE_LEVEL]);
		stats_series_add(s->st, s->sid.cov, t_ms, cov);
		stats_series_add(s->st, s->sid.pages, t_ms, s->kvm->n_used_mmu_pages);
		stats_series_add(s->st, s->sid.records, t_ms, (double)(rec - s->last_records));
		stats_series_add(s->st, s->sid.waiters, t_ms, spin_is_contended(s->host) ? 1 : 0);
	}
	s->last_records = rec;
	if (s->progress)
		s->progress(s->progress_ctx, a->clock, s->end);
	if (all_stopped(s) && a->clock < s->end) {
		/* the run ends at this sample, the first after the last vCPU halted and the
		 * VMM thread's schedule ended, not at workload.duration_ms */
		s->end = a->clock;
		engine_end_at(s->e, s->end);
		stats_set(s->st, s->sid.ended_early, 1);
		return;
	}
	if (a->clock + s->sample_period < s->end)
		engine_wake(s->e, a, a->clock + s->sample_period);
}

static int build_vcpus(struct sim *s, char *err, size_t errlen)
{
	const struct scenario *sc = s->sc;

	s->vcpus = calloc(s->n, sizeof(*s->vcpus));
	s->gpts = calloc(s->n, sizeof(*s->gpts));
	s->pools = calloc(s->n, sizeof(*s->pools));
	s->wls = calloc(s->n, sizeof(*s->wls));
	if (!s->vcpus || !s->gpts || !s->pools || !s->wls)
		return -ENOMEM;
	if (sc->walk_refs == WALK_REFS_CACHE) {
		struct cache_geom g = { sc->cache_llc.size, sc->cache_llc.ways, sc->cache_llc_slices };
		s->llc = cache_new(&g, config_cache_line_shift(sc));
		if (!s->llc)
			return -ENOMEM;
	}
	if (sc->paging == GUEST_PAGING_4LEVEL) {
		s->kgpt = guest_kernel_gpt_new(&s->layout, &s->kpool);
		if (!s->kgpt)
			return -ENOMEM;
	}
	for (uint32_t i = 0; i < s->n; i++) {
		s->pools[i] = gpa_pool_new(guest_pool_base(&s->layout, i), s->layout.pool_size);
		if (!s->pools[i])
			return -ENOMEM;
		/* With 2M guest pages the pool is mostly 2M frames: only page tables take 4K.
		 * guest.free_frames = lifo keeps the pool's own order: the last freed frame first
		 * (Linux's per-cpu and buddy free lists take from the head they free to), then
		 * fresh ones in address order. */
		if (sc->page_size == MAP_4K && sc->free_frames == FREE_FRAMES_SCATTER)
			gpa_pool_scatter(s->pools[i], sc->seed, POOL_RNG_STREAM + i);
		else if (sc->page_size == MAP_4K)
			gpa_pool_reclaim(s->pools[i], sc->seed, POOL_RNG_STREAM + i, sc->free_run / 4096,
					 sc->cache_growth_share);
		if (s->kgpt) {
			s->gpts[i] = gpt_new(s->pools[i]);
			if (!s->gpts[i])
				return -ENOMEM;
			gpt_share(s->gpts[i], s->kgpt, GUEST_KERNEL_PML4, 511);
		}
		s->wls[i] = workload_new(sc, &s->layout, i, err, errlen);
		if (!s->wls[i])
			return -EINVAL;
		s->vcpus[i] = vcpu_new(s->kvm, sc, i, s->e, &s->layout, s->gpts[i], s->pools[i], s->wls[i]);
		if (!s->vcpus[i])   /* its TLB geometry was checked by config_validate() */
			return -ENOMEM;
		if (s->llc && vcpu_attach_cache(s->vcpus[i], s->llc))   /* [cache]: config_validate() too */
			return -ENOMEM;
	}
	kvm_attach_vcpus(s->kvm, s->vcpus, s->n);
	return 0;
}

/* Add every item of a workload.elf list (PATH[@BIAS],...) to syms. */
static int add_elf_list(struct elfsym *syms, const char *list, char *err, size_t errlen)
{
	char spec[CONFIG_PATH_MAX];
	const char *p = list;

	while (*p) {
		size_t len = strcspn(p, ",");
		snprintf(spec, sizeof(spec), "%.*s", (int)len, p);
		int r = elfsym_add_spec(syms, spec, err, errlen);
		if (r)
			return r;
		p += len + (p[len] == ',');
	}
	return 0;
}

/* workload.elf: PATH[@BIAS],... */
static int load_elf(struct sim *s, char *err, size_t errlen)
{
	s->syms = elfsym_new();
	if (!s->syms)
		return -ENOMEM;
	int r = add_elf_list(s->syms, s->sc->elf, err, errlen);
	if (r)
		return r;
	s->attr = attribution_new(s->syms);
	if (!s->attr)
		return -ENOMEM;
	for (uint32_t i = 0; i < s->n; i++) {
		s->vcpus[i]->syms = s->syms;
		s->vcpus[i]->attr = s->attr;
	}
	return 0;
}

int sim_check_elf(const char *list, char *err, size_t errlen)
{
	struct elfsym *syms = elfsym_new();
	int r;

	if (!syms) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r = add_elf_list(syms, list, err, errlen);
	elfsym_free(syms);
	return r;
}

int sim_check_workload(const struct scenario *sc, char *err, size_t errlen)
{
	struct guest_layout l;
	/* a trace list names a file per vCPU; a generator makes the same checks for every vCPU */
	uint32_t n = sc->trace[0] ? sc->vcpus : 1;

	guest_layout_init(&l, sc);
	for (uint32_t i = 0; i < n; i++) {
		struct workload *w = workload_new(sc, &l, i, err, errlen);
		if (!w)
			return -EINVAL;
		workload_free(w);
	}
	return 0;
}

int sim_check(const struct scenario *sc, char *err, size_t errlen)
{
	int r = sim_check_workload(sc, err, errlen);
	if (!r && sc->elf[0])
		r = sim_check_elf(sc->elf, err, errlen);
	return r;
}

struct sim *sim_new(const struct scenario *sc, enum engine_mode mode, char *err, size_t errlen)
{
	struct sim *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->sc = sc;
	s->mode = mode;
	s->n = sc->vcpus;
	s->end = config_ms_to_cycles(sc, sc->duration_ms);
	s->sample_period = config_us_to_cycles(sc, sc->sample_us);
	if (!s->sample_period)
		s->sample_period = 1;
	/* Lookahead: a vCPU in guest mode cannot change shared state sooner than a VM exit.
	 * With walk.refs = cache every access changes the shared LLC: guest actors no longer
	 * commute, none runs ahead of another, and the LLC sees the accesses in time order (ties:
	 * the lower vCPU first), in both engine modes. */
	uint64_t lookahead = sc->walk_refs == WALK_REFS_CACHE ? 0 : sc->costs.vmexit ? sc->costs.vmexit : 1;
	s->e = engine_new(mode == ENGINE_PER_ACCESS, lookahead);
	s->st = stats_new();
	if (!s->e || !s->st)
		goto nomem;
	s->host = host_new(sc, s->e, s->st, sc->vcpus + 4);
	if (!s->host)
		goto nomem;
	s->kvm = kvm_new(sc, s->e, s->host, s->st);
	if (!s->kvm || STATS_REGISTER_STRUCT(s->st, sim_stats_defs, &s->sid))
		goto nomem;
	s->t_recovered = -1;
	if (sc->prefault)
		kvm_mmu_prefault(s->kvm);
	guest_layout_init(&s->layout, sc);
	if (build_vcpus(s, err, errlen) || (sc->elf[0] && load_elf(s, err, errlen))) {
		if (!err[0])
			snprintf(err, errlen, "out of memory building the guest");
		sim_free(s);
		return NULL;
	}
	struct kvm_memory_slot *dslots[CONFIG_MAX_MEMSLOTS];
	if (vmm_schedule(s, sc->toggle_slot[0] ? kvm_slot_by_name(s->kvm, sc->toggle_slot) : NULL,
			 dirty_slots(s, dslots) > 0))
		goto nomem;
	s->vmm.name = "vmm";
	s->vmm.host_thread = true;
	s->vmm.fiber = fiber_new(vmm_main, s, VMM_FIBER_STACK);
	s->vmm.run = fiber_actor_run;
	s->sampler.name = "sampler";
	s->sampler.run = sampler_run;
	s->sampler.ctx = s;
	if (!s->vmm.fiber)
		goto nomem;
	engine_add_actor(s->e, &s->vmm);
	engine_add_actor(s->e, &s->sampler);
	return s;
nomem:
	snprintf(err, errlen, "out of memory");
	sim_free(s);
	return NULL;
}

void sim_free(struct sim *s)
{
	if (!s)
		return;
	for (uint32_t i = 0; s->vcpus && i < s->n; i++) {
		vcpu_free(s->vcpus[i]);
		workload_free(s->wls[i]);
		gpt_free(s->gpts[i]);
		gpa_pool_free(s->pools[i]);
	}
	free(s->vcpus);
	free(s->wls);
	free(s->gpts);
	free(s->pools);
	cache_free(s->llc);
	gpt_free(s->kgpt);
	gpa_pool_free(s->kpool);
	attribution_free(s->attr);
	elfsym_free(s->syms);
	kvm_free(s->kvm);
	host_free(s->host);
	fiber_free(s->vmm.fiber);
	free(s->ev);
	stats_free(s->st);
	engine_free(s->e);
	free(s);
}

void sim_set_progress(struct sim *s, sim_progress_fn fn, void *ctx)
{
	s->progress = fn;
	s->progress_ctx = ctx;
}

/* Memory estimate (measured on this repository's runs, README "Speed and scale"): a
 * prefaulted leaf costs ~16.3 bytes of host memory (its spte, its rmap entry, its share
 * of the shadow page holding it), the same whatever its size; a vCPU ~204 KiB (TLBs,
 * caches, fiber stack, stats); a scatter stack (or with guest.free_frames = lifo the page
 * cache's LRU) one 8-byte frame number per 4K frame of the first 3/4 of the vCPU's pool
 * (gpa_pool_scatter(), gpa_pool_reclaim()); with walk.refs = cache, 8 bytes of tag per
 * cache line of every level (cpu/cache.c). */
#define EST_BASE_BYTES (16ULL << 20)
#define EST_PER_VCPU_BYTES (256ULL << 10)
#define EST_LEAF_MILLIBYTES 16300ULL
#define EST_SCATTER_BYTES_PER_FRAME 8ULL

static uint64_t slot_leaves(int backing, double thp_fraction, uint64_t size)
{
	switch (backing) {
	case BACKING_HUGETLB_1G:
		return (size + (1ULL << 30) - 1) >> 30;
	case BACKING_HUGETLB_2M:
		return (size + (2ULL << 20) - 1) >> 21;
	case BACKING_THP: {
		uint64_t n2m = size >> 21, huge = (uint64_t)((double)n2m * thp_fraction);
		return huge + ((size >> 12) - (huge << 9));
	}
	default:
		return size >> 12;
	}
}

uint64_t sim_estimate_bytes(const struct scenario *sc)
{
	struct guest_layout l;
	uint64_t b = EST_BASE_BYTES + (uint64_t)sc->vcpus * EST_PER_VCPU_BYTES;

	guest_layout_init(&l, sc);
	if (sc->walk_refs == WALK_REFS_CACHE) {
		unsigned sh = config_cache_line_shift(sc);
		b += (uint64_t)sc->vcpus * ((sc->cache_l1d.size + sc->cache_l1i.size + sc->cache_l2.size) >> sh) * 8;
		b += (sc->cache_llc.size >> sh) * 8;
	}
	if (sc->page_size == MAP_4K)
		b += (uint64_t)sc->vcpus * (l.pool_size / 4 * 3 >> 12) * EST_SCATTER_BYTES_PER_FRAME;
	if (sc->prefault) {
		uint64_t leaves = 0;
		for (uint32_t i = 0; i < sc->nr_slots; i++)
			if (sc->slots[i].present)
				leaves += slot_leaves(sc->slots[i].backing, sc->slots[i].thp_fraction,
						      sc->slots[i].size);
		b += leaves * EST_LEAF_MILLIBYTES / 1000;
	}
	return b;
}

uint64_t sim_mem_available(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	unsigned long long kib = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %llu kB", &kib) == 1)
			break;
	fclose(f);
	return (uint64_t)kib << 10;
}

struct stats *sim_stats(struct sim *s) { return s->st; }
struct kvm *sim_kvm(struct sim *s) { return s->kvm; }

static void set_counter(struct sim *s, const char *name, const char *unit, const char *help, uint64_t v)
{
	stats_set(s->st, stats_register_one(s->st, name, STAT_COUNTER, unit, help), v);
}

/* KVM's pages_4k / pages_2m / pages_1g at the end; with dirty logging, TLB misses and walk
 * references per 1,000 records in each phase and the time to recover large pages. */
static void publish_leaves_and_phases(struct sim *s)
{
	set_counter(s, "ept.pages_4k", "sptes", "4K leaf sptes at the end", s->kvm->nr_leaves[PT_PAGE_TABLE_LEVEL]);
	set_counter(s, "ept.pages_2m", "sptes", "2M leaf sptes at the end", s->kvm->nr_leaves[PT_DIRECTORY_LEVEL]);
	set_counter(s, "ept.pages_1g", "sptes", "1G leaf sptes at the end", s->kvm->nr_leaves[PT_PDPE_LEVEL]);
	if (!s->enabled)
		return;
	uint64_t end[3], zero[3] = { 0, 0, 0 };
	snapshot(s, end);
	const uint64_t *from[3] = { zero, s->snap[0], s->disabled ? s->snap[1] : end };
	const uint64_t *to[3] = { s->snap[0], s->disabled ? s->snap[1] : end, end };
	const char *phase[3] = { "before", "during", "after" };
	for (int p = 0; p < 3; p++) {
		char name[96];
		uint64_t recs = to[p][0] - from[p][0];
		snprintf(name, sizeof(name), "phase.%s.records", phase[p]);
		set_counter(s, name, "records", "records executed in the phase", recs);
		snprintf(name, sizeof(name), "phase.%s.tlb_misses", phase[p]);
		set_counter(s, name, "events", "TLB misses in the phase (per 1,000 accesses: / records * 1000)",
			    to[p][1] - from[p][1]);
		snprintf(name, sizeof(name), "phase.%s.walk_refs", phase[p]);
		set_counter(s, name, "events", "2D-walk memory references in the phase", to[p][2] - from[p][2]);
	}
	stat_id id = stats_register_one(s->st, "collapse.recover_cycles", STAT_ARRAY, "cycles",
					"from the ioctl that disables dirty logging until 90% of the memory mapped by "
					"2M/1G sptes before logging is mapped large again (sample resolution; empty: never)");
	if (s->disabled && s->t_recovered >= 0)
		stats_array_push(s->st, id, s->t_recovered - (int64_t)s->t_disable);
}

/* walk.refs_per_walk (every run), and with walk.refs = cache where each stream's accesses
 * were served, all vCPUs. */
static void publish_walk_cache(struct sim *s)
{
	static const char *const streams[CACHE_STREAMS] = { "walk", "data", "fetch" };
	static const char *const levels[CACHE_LEVELS] = { "l1", "l2", "llc", "dram" };
	stat_id h = stats_register_one(s->st, "walk.refs_per_walk", STAT_HIST, "refs",
				       "memory references of each 2D walk, all vCPUs (at most 24)");

	for (uint32_t i = 0; i < s->n; i++)
		for (unsigned k = 0; k <= WALK_MAX_REFS; k++)
			stats_hist_add_n(s->st, h, k, s->vcpus[i]->walk_refs_hist[k]);
	if (!s->llc)
		return;
	for (int t = 0; t < CACHE_STREAMS; t++) {
		for (int l = 0; l < CACHE_LEVELS; l++) {
			char name[64];
			uint64_t v = 0;
			for (uint32_t i = 0; i < s->n; i++)
				v += s->vcpus[i]->cache->served[t][l];
			snprintf(name, sizeof(name), "cache.%s.%s", streams[t], levels[l]);
			stats_set(s->st, stats_register_one(s->st, name, STAT_COUNTER, "accesses",
							    "walk.refs = cache: accesses of the stream (walk references, data reads and writes, fetches) served by the level (L1 is L1I for fetches), all vCPUs"),
				  v);
		}
	}
}

static void publish(struct sim *s)
{
	static const struct stat_def end_defs[] = {
		{ "vcpu.reloads", STAT_COUNTER, "events", "MMU_RELOAD requests processed, all vCPUs" },
		{ "tlb_flush.refill_misses", STAT_COUNTER, "events", "TLB misses that only a remote flush caused" },
		{ "tlb_flush.vcpu_stall_cycles", STAT_COUNTER, "cycles",
		  "vCPU cycles lost to remote flushes: IPI exit path and INVEPT, all vCPUs" },
		{ "vcpu.reload_stall_cycles", STAT_COUNTER, "cycles", "vCPU cycles spent unloading and loading roots" },
		{ "tlb.reload_refill_misses", STAT_COUNTER, "events", "TLB misses that only a root reload caused" },
		{ "tlb.misses", STAT_COUNTER, "events", "TLB misses, all vCPUs" },
		{ "tlb.perm_misses", STAT_COUNTER, "events", "writes that found only a read-only TLB entry (dirty logging), all vCPUs" },
		{ "tlb.lookups", STAT_COUNTER, "events", "TLB look-ups, all vCPUs" },
		{ "walk.refs", STAT_COUNTER, "events", "memory references made by 2D walks, all vCPUs" },
		{ "vcpu.records", STAT_COUNTER, "records", "records executed, all vCPUs" },
		{ "guest.page_faults", STAT_COUNTER, "events", "guest page faults (first touch), all vCPUs" },
		{ "ept.shadow_pages_end", STAT_COUNTER, "pages", "shadow pages in use at the end" },
		{ "mmu_lock.acquisitions", STAT_COUNTER, "events", "mmu_lock acquisitions" },
		{ "sim.cycles", STAT_COUNTER, "cycles", "simulated time" },
	};
	stat_id id[sizeof(end_defs) / sizeof(end_defs[0])];
	uint64_t v[sizeof(end_defs) / sizeof(end_defs[0])] = { 0 };

	if (stats_register(s->st, end_defs, sizeof(end_defs) / sizeof(end_defs[0]), id))
		return;
	for (uint32_t i = 0; i < s->n; i++) {
		struct vcpu *c = s->vcpus[i];
		const struct tlb_counters *tc = tlb_counters(c->tlb);
		v[0] += c->n.reloads;
		v[1] += tc->refill_misses[TLB_CAUSE_REMOTE];
		v[2] += c->stall_flush;
		v[3] += c->stall_reload;
		v[4] += tc->refill_misses[TLB_CAUSE_RELOAD];
		v[5] += tc->misses;
		v[6] += tc->perm_misses;
		v[7] += tc->lookups;
		v[8] += c->n.walk_refs;
		v[9] += c->n.records;
		v[10] += c->n.guest_pfs;
	}
	v[11] = s->kvm->n_used_mmu_pages;
	v[12] = host_lock_acquisitions(s->host);
	v[13] = s->end;
	for (size_t i = 0; i < sizeof(id) / sizeof(id[0]); i++)
		stats_set(s->st, id[i], v[i]);
	vcpu_publish_tlb_stats(s->vcpus, s->n, s->st);
	for (uint32_t i = 0; i < s->n; i++)
		vcpu_publish_stats(s->vcpus[i], s->st, s->end);
	publish_walk_cache(s);
	publish_leaves_and_phases(s);
	/* mmu_lock per actor: wait, hold, acquisitions */
	for (uint32_t i = 0; i <= s->n; i++) {
		const struct actor *a = i < s->n ? &s->vcpus[i]->actor : &s->vmm;
		struct { const char *what, *unit; uint64_t v; } per[] = {
			{ "wait_cycles", "cycles", a->lock_wait }, { "hold_cycles", "cycles", a->lock_hold },
			{ "acquisitions", "events", a->lock_acquisitions },
		};
		for (size_t k = 0; k < sizeof(per) / sizeof(per[0]); k++) {
			char name[96];
			snprintf(name, sizeof(name), "mmu_lock.%s.%s", a->name, per[k].what);
			stats_set(s->st, stats_register_one(s->st, name, STAT_COUNTER, per[k].unit,
							    "mmu_lock per actor"), per[k].v);
		}
	}
}

int sim_run(struct sim *s)
{
	for (uint32_t i = 0; i < s->n; i++)
		vcpu_start(s->vcpus[i]);
	engine_wake(s->e, &s->vmm, 0);
	engine_wake(s->e, &s->sampler, 0);
	engine_run(s->e, s->end);
	publish(s);
	if (engine_interrupted(s->e)) {
		snprintf(s->error, sizeof(s->error), "interrupted at %.3f of %.3f ms simulated",
			 (double)engine_now(s->e) / (s->sc->freq_mhz * 1000.0), s->sc->duration_ms);
		s->finished = false;
		return -EINTR;
	}
	s->finished = true;
	for (uint32_t i = 0; i < s->n; i++) {
		if (s->vcpus[i]->wl_failed) {
			/* A bad trace stops its vCPU: the run is not a valid measurement. */
			snprintf(s->error, sizeof(s->error), "%s", s->wls[i]->err);
			s->finished = false;
			return -EINVAL;
		}
	}
	return 0;
}

const char *sim_error(const struct sim *s) { return s->error; }
void sim_set_interrupt(struct sim *s, const volatile sig_atomic_t *flag) { engine_set_interrupt(s->e, flag); }

const struct attribution *sim_attribution(const struct sim *s) { return s->attr; }
bool sim_has_symbols(const struct sim *s) { return s->syms && elfsym_has_symbols(s->syms); }

json_t *sim_results_json(struct sim *s)
{
	json_t *doc = json_object();
	json_object_set_new(doc, "eptsim_version", json_string(EPTSIM_VERSION));
	json_object_set_new(doc, "git", json_string(EPTSIM_GIT_HASH));
	json_object_set_new(doc, "complete", json_boolean(s->finished));
	json_object_set_new(doc, "seed", json_integer((json_int_t)s->sc->seed));
	json_object_set_new(doc, "config_file", json_string(s->sc->source));
	char hash[CONFIG_HASH_LEN + 1];
	config_hash(s->sc, hash);
	json_object_set_new(doc, "config_hash", json_string(hash));
	json_object_set_new(doc, "config", config_to_json(s->sc));
	json_object_set_new(doc, "stats", stats_to_json(s->st));
	json_object_set_new(doc, "stat_info", stats_schema_json(s->st));
	if (s->attr) {
		json_t *at = json_object();
		bool sym = elfsym_has_symbols(s->syms);
		json_object_set_new(at, "elf", json_string(s->sc->elf));
		json_object_set_new(at, "symbols", json_boolean(sym));
		if (!sym)
			json_object_set_new(at, "note", json_string("no symbols: attributed by mapping"));
		json_object_set_new(at, "functions", attribution_json(s->attr, 0));
		json_object_set_new(doc, "attribution", at);
	}
	return doc;
}

static void dump_json(FILE *f, void *doc)
{
	/* a failed write shows in the wfile's errno (write_text_atomic) */
	json_dumpf(doc, f, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
}

int write_json_atomic(json_t *doc, const char *path)
{
	return write_text_atomic(path, dump_json, doc);
}

int write_text_atomic(const char *path, void (*fn)(FILE *f, void *ctx), void *ctx)
{
	char tmp[4300];
	struct wfile w;
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	/* a signal handler that cleans up (sim/tmpfiles.h) removes it while it exists */
	int r = tmpfiles_add(tmp);
	if (r)
		return r;
	if ((r = wfile_open(&w, tmp)))
		goto out;
	fn(w.f, ctx);
	/* the errno of the first failed write (ENOSPC, EFBIG, EIO, EDQUOT), not a guess */
	if ((r = wfile_close(&w)) == 0 && rename(tmp, path))
		r = -errno;
	if (r)
		unlink(tmp);
out:
	tmpfiles_forget(tmp);
	return r;
}

static void dump_config(FILE *f, void *sc) { config_dump(sc, f); }

/* series/lock_timeline.dat (output.lock_timeline): a header of key=value facts, then one
 * mmu_lock hold a line, "start_cycle end_cycle holder_id holder_kind wait_cycles";
 * holder_id is the vCPU number, or the number of vCPUs for the VMM thread (one row each
 * when plotted), holder_kind "vcpu" or "vmm".  Read by plot --kind timeline. */
static void write_lock_timeline(FILE *f, void *ctx)
{
	const struct sim *s = ctx;
	uint64_t dropped, dropped_cycles, kept_cycles = 0;
	size_t n;
	const struct host_hold *tl = host_lock_timeline(s->host, &n, &dropped, &dropped_cycles);
	uint32_t nids = s->vmm.id + 1, *row;
	const char **kind;

	for (uint32_t i = 0; i < s->n; i++)
		if (s->vcpus[i]->actor.id >= nids)
			nids = s->vcpus[i]->actor.id + 1;
	row = calloc(nids, sizeof(*row));
	kind = calloc(nids, sizeof(*kind));
	if (!row || !kind)
		abort();
	for (uint32_t i = 0; i < s->n; i++) {
		row[s->vcpus[i]->actor.id] = i;
		kind[s->vcpus[i]->actor.id] = "vcpu";
	}
	row[s->vmm.id] = s->n;
	kind[s->vmm.id] = "vmm";
	for (size_t i = 0; i < n; i++)
		kept_cycles += tl[i].end - tl[i].start;

	fprintf(f, "# eptsim lock_timeline 1: who held mmu_lock when (holds never overlap)\n");
	fprintf(f, "# freq_mhz=%.17g vcpus=%u vmm_id=%u end_cycle=%llu holds=%zu hold_cycles=%llu "
		   "dropped=%llu dropped_cycles=%llu max=%u\n", s->sc->freq_mhz, s->n, s->n,
		(unsigned long long)s->end, n, (unsigned long long)kept_cycles,
		(unsigned long long)dropped, (unsigned long long)dropped_cycles,
		s->sc->lock_timeline_max);
	if (dropped)
		fprintf(f, "# truncated: only the first %zu holds are listed "
			   "(output.lock_timeline_max); %llu later holds (%llu cycles held) are not\n",
			n, (unsigned long long)dropped, (unsigned long long)dropped_cycles);
	fprintf(f, "# start_cycle end_cycle holder_id holder_kind wait_cycles\n");
	for (size_t i = 0; i < n; i++) {
		uint32_t id = tl[i].actor;

		fprintf(f, "%llu %llu %u %s %llu\n", (unsigned long long)tl[i].start,
			(unsigned long long)tl[i].end, id < nids && kind[id] ? row[id] : id,
			id < nids && kind[id] ? kind[id] : "other", (unsigned long long)tl[i].wait);
	}
	free(row);
	free(kind);
}

static void dump_hash(FILE *f, void *sc)
{
	char hash[CONFIG_HASH_LEN + 1];
	config_hash(sc, hash);
	fprintf(f, "%s\n", hash);
}

struct results_ctx {
	struct sim *s;
	const struct sim_timing *timing;
	const char *dir;          /* the run's folder, as the user named it */
	char *err;                /* where a failure is named (may be NULL) */
	size_t errlen;
};

/* Writing name (a path in the temporary folder tmp) failed: err names the file by where
 * it was going (DIR/stats.json, not DIR.tmp.PID/stats.json) and the errno. */
static int results_fail(const struct results_ctx *c, int r, const char *tmp, const char *name)
{
	const char *rel = name + strlen(tmp);

	if (c->err && c->errlen)
		snprintf(c->err, c->errlen, "%s%s: %s", c->dir, rel, strerror(-r));
	return r;
}

/* timing.json: what the run cost this machine (records per second from vcpu.records). */
static void timing_json(FILE *f, void *ctx)
{
	const struct results_ctx *c = ctx;
	const struct sim_timing *t = c->timing;
	stat_id rid = stats_lookup(c->s->st, "vcpu.records");
	uint64_t records = rid == STAT_NONE ? 0 : stats_counter(c->s->st, rid);

	fprintf(f, "{\n  \"build_s\": %.3f,\n  \"run_s\": %.3f,\n  \"peak_rss_kib\": %ld,\n"
		"  \"records\": %llu,\n  \"records_per_s\": %.0f,\n  \"version\": \"%s\"\n}\n",
		t->build_s, t->run_s, t->peak_rss_kib, (unsigned long long)records,
		t->run_s > 0 ? (double)records / t->run_s : 0.0, EPTSIM_VERSION " " EPTSIM_GIT_HASH);
}

/* Every result file of the run into the fresh folder dir (resdir_replace() swaps it in). */
static int fill_results(const char *dir, void *ctx)
{
	const struct results_ctx *c = ctx;
	struct sim *s = c->s;
	char path[4200];
	int r;

	/* stats.json after the rest: a folder with one is whole (the swap makes that so for
	 * readers; the order keeps it so for the temporary folder too) */
	snprintf(path, sizeof(path), "%s/series", dir);
	if (s->sc->series && (r = stats_write_series(s->st, dir)))
		return results_fail(c, r, dir, path);
	if (s->sc->lock_timeline) {
		if ((r = stats_mkdir_p(path)))
			return results_fail(c, r, dir, path);
		snprintf(path, sizeof(path), "%s/series/lock_timeline.dat", dir);
		if ((r = write_text_atomic(path, write_lock_timeline, s)))
			return results_fail(c, r, dir, path);
	}
	snprintf(path, sizeof(path), "%s/config.ini", dir);
	if ((r = write_text_atomic(path, dump_config, (void *)s->sc)))
		return results_fail(c, r, dir, path);
	snprintf(path, sizeof(path), "%s/config.hash", dir);
	if ((r = write_text_atomic(path, dump_hash, (void *)s->sc)))
		return results_fail(c, r, dir, path);
	json_t *doc = sim_results_json(s);
	snprintf(path, sizeof(path), "%s/stats.json", dir);
	r = write_json_atomic(doc, path);
	json_decref(doc);
	if (!r && c->timing) {
		snprintf(path, sizeof(path), "%s/timing.json", dir);
		r = write_text_atomic(path, timing_json, (void *)c);
	}
	return r ? results_fail(c, r, dir, path) : 0;
}

int sim_write_results(struct sim *s, const char *dir, const struct sim_timing *timing,
		      char *err, size_t errlen)
{
	struct results_ctx c = { s, timing, dir, err, errlen };

	return resdir_replace(dir, fill_results, &c, err, errlen);
}
