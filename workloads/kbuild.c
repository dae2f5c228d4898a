/* workloads/kbuild — a kernel-build-like guest (the v7 09/11 review's scenario): on every vCPU a
 * sequence of short-lived compiler processes.  Each process fetches from program text shared
 * through the page cache, grows its private memory by touching fresh pages, reuses its
 * recent pages more than old ones, and reads headers and writes objects through the kernel's
 * page cache.  When it exits, its memory is unmapped and freed: the next process gets
 * recycled frames and fresh ones, so the guest keeps touching new memory.
 */
#include "workloads/workload.h"

#include "cpu/guest.h"
#include "sim/config.h"
#include "sim/rng.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define WORKLOAD_RNG_STREAM 0x10000ULL
#define PAGE 4096ULL
#define MIN_PROC_PAGES 16
#define WARMUP_PAGES 16       /* a new process touches its first pages right away */
/* Distributions are sampled through 1024-entry quantile tables: a table look-up per draw
 * instead of log() and pow() on the generator's hot path. */
#define QBITS 10
#define QN (1u << QBITS)

struct kbuild {
	const struct scenario *sc;
	const struct guest_layout *l;
	uint32_t vcpu;
	struct rng rng;
	/* the running process */
	uint32_t slot;
	uint64_t pages, touched, life;
	/* page cache: this vCPU's write area and its cursor */
	uint64_t wbase, wpages, wcursor;
	uint64_t text_pages, cache_pages;
	double records_per_ms;
	int pending_unmaps;
	uint32_t q_icount[QN];          /* geometric, mean insns_per_access */
	float q_text[QN], q_cache[QN], q_reuse[QN];   /* u^3, u^4, u^reuse_skew */
};

static void quantiles(struct kbuild *w)
{
	const struct scenario *sc = w->sc;
	double p = 1.0 / sc->insns_per_access;

	for (unsigned i = 0; i < QN; i++) {
		double u = (i + 0.5) / QN;
		w->q_icount[i] = sc->insns_per_access <= 1 ? 1 : 1 + (uint32_t)floor(log1p(-u) / log1p(-p));
		w->q_text[i] = (float)pow(u, 3.0);
		w->q_cache[i] = (float)pow(u, 4.0);
		w->q_reuse[i] = (float)pow(u, sc->reuse_skew);
	}
}

static inline unsigned qidx(struct kbuild *w) { return (unsigned)(rng_next(&w->rng) >> (64 - QBITS)); }

static void new_process(struct kbuild *w)
{
	const struct scenario *sc = w->sc;
	double mean_pages = sc->proc_mem_mb * (1 << 20) / PAGE;
	uint64_t max_pages = GUEST_SLOT_SPAN / PAGE;

	w->slot = w->slot % GUEST_PROC_SLOTS + 1;
	/* make -j's jobs: between compile jobs (cc1) a vCPU runs make, sh and as, small
	 * processes, so the number of compile jobs running, and the memory they hold, varies */
	if (sc->helper_fraction > 0 && rng_double(&w->rng) < sc->helper_fraction)
		mean_pages = sc->helper_mem_mb * (1 << 20) / PAGE;
	w->pages = MIN_PROC_PAGES + (uint64_t)rng_exp(&w->rng, mean_pages);
	if (w->pages > max_pages)
		w->pages = max_pages;
	w->touched = 0;
	w->life = 1 + (uint64_t)rng_exp(&w->rng, sc->proc_life_ms * w->records_per_ms);
}

static void *kbuild_create(const struct scenario *sc, const struct guest_layout *l, uint32_t vcpu,
			   char *err, size_t errlen)
{
	if (sc->paging != GUEST_PAGING_4LEVEL) {
		snprintf(err, errlen, "workload.generator = kbuild needs guest.paging = 4-level");
		return NULL;
	}
	struct kbuild *w = calloc(1, sizeof(*w));
	if (!w) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->sc = sc;
	w->l = l;
	w->vcpu = vcpu;
	rng_seed(&w->rng, sc->seed, WORKLOAD_RNG_STREAM + vcpu);
	w->text_pages = l->text_size / PAGE;
	w->cache_pages = l->cache_size / PAGE;
	w->wpages = w->cache_pages / l->vcpus / 2;
	w->wbase = w->cache_pages / 2 + vcpu * w->wpages;
	/* records per ms of guest time, for lifetimes given in ms */
	w->records_per_ms = sc->freq_mhz * 1000.0 / (sc->insns_per_access * sc->cpi + 1);
	quantiles(w);
	new_process(w);
	return w;
}

/* An index in [0, n) drawn as n * u^skew: small indexes (hot pages) are likely. */
static uint64_t skewed(struct kbuild *w, uint64_t n, const float *q)
{
	uint64_t k = (uint64_t)((double)n * q[qidx(w)]);
	return k < n ? k : n - 1;
}

static int kbuild_emit(struct kbuild *w, struct trace_record *r)
{
	const struct scenario *sc = w->sc;

	r->vcpu = (uint16_t)w->vcpu;
	r->size = 8;
	r->len = 0;
	if (w->pending_unmaps) {
		/* process exit: unmap its data, then its text (munmap at exit_mmap()) */
		r->kind = REC_UNMAP;
		r->icount = 0;
		if (w->pending_unmaps == 2) {
			r->addr = GUEST_DATA_BASE(w->slot);
			r->len = GUEST_SLOT_SPAN;
		} else {
			r->addr = GUEST_TEXT_BASE(w->slot);
			r->len = w->l->text_size;
		}
		if (--w->pending_unmaps == 0)
			new_process(w);
		return 1;
	}
	if (!w->life--) {
		w->pending_unmaps = 2;
		return kbuild_emit(w, r);
	}
	r->icount = w->q_icount[qidx(w)];
	uint64_t off = rng_next(&w->rng) & (PAGE - 8);
	double u = rng_double(&w->rng);
	if (u < sc->fetch_fraction) {
		r->kind = REC_FETCH;
		r->addr = GUEST_TEXT_BASE(w->slot) + skewed(w, w->text_pages, w->q_text) * PAGE + off;
		return 1;
	}
	bool write = rng_double(&w->rng) < sc->write_fraction;
	r->kind = write ? REC_WRITE : REC_READ;
	if (u < sc->fetch_fraction + sc->kernel_fraction) {
		uint64_t page;
		if (write) {
			/* object files and logs: sequential fresh page-cache pages */
			if (rng_double(&w->rng) < sc->cache_new_page_fraction)
				w->wcursor = (w->wcursor + 1) % w->wpages;
			page = w->wbase + w->wcursor;
		} else {
			page = skewed(w, w->cache_pages / 2, w->q_cache);  /* headers: hot set */
		}
		r->addr = GUEST_DIRECTMAP + w->l->cache_gpa + page * PAGE + off;
		return 1;
	}
	uint64_t page;
	if (w->touched < w->pages &&
	    (w->touched < WARMUP_PAGES || rng_double(&w->rng) < sc->new_page_fraction))
		page = w->touched++;
	else if (w->touched)
		page = w->touched - 1 - skewed(w, w->touched, w->q_reuse);
	else
		page = w->touched++;
	r->addr = GUEST_DATA_BASE(w->slot) + page * PAGE + off;
	return 1;
}

static int kbuild_next(void *priv, struct trace_record *r, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	return kbuild_emit(priv, r);
}

static void kbuild_destroy(void *priv) { free(priv); }

const struct workload_ops workload_kbuild = {
	"kbuild", "kernel-build-like: short-lived processes, shared text, page cache, fresh memory",
	kbuild_create, kbuild_next, kbuild_destroy, NULL,
};
