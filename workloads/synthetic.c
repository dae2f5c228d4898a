/* workloads/synthetic — simple generators over one working set per vCPU, for studying the
 * MMU in isolation (the kernel-build-like one is kbuild.c):
 *   random     uniformly random pages of the working set
 *   stream     the working set page after page, over and over
 *   zipf-kv    a key-value store: a hash-bucket read, then a read or write of the value;
 *              key popularity is zipf(workload.zipf_s), hot keys scattered over the set
 *   touch-all  every page of the vCPU's whole memory pool once per pass (like a memset)
 * Records are page-granular accesses: the accesses in between are folded into icount
 * (geometric, mean workload.insns_per_access).
 */
#include "workloads/workload.h"

#include "cpu/guest.h"
#include "sim/config.h"
#include "sim/rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SYNTH_RNG_STREAM 0x50000ULL
#define PAGE 4096ULL
#define QBITS 10
#define QN (1u << QBITS)
#define ZIPF_KEYS_MAX (1u << 22)   /* CDF table: 32 MiB at most */

enum synth_kind { SYN_RANDOM, SYN_STREAM, SYN_ZIPF, SYN_TOUCH };

struct synth {
	enum synth_kind kind;
	const struct scenario *sc;
	struct rng rng;
	uint64_t base, pages, cursor;
	uint32_t q_icount[QN];
	double *zipf_cdf;          /* zipf-kv: cumulative popularity of key rank 0..keys-1 */
	uint64_t keys;
	bool value_next;           /* zipf-kv: the bucket was read, the value comes next */
	uint64_t value_page;
};

static uint64_t pick_icount(struct synth *s)
{
	return s->q_icount[rng_next(&s->rng) >> (64 - QBITS)];
}

static void *synth_create(enum synth_kind kind, const struct scenario *sc, const struct guest_layout *l,
			  uint32_t vcpu, char *err, size_t errlen)
{
	struct synth *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->kind = kind;
	s->sc = sc;
	rng_seed(&s->rng, sc->seed, SYNTH_RNG_STREAM + vcpu);
	s->base = workload_data_base(sc, l, vcpu);
	uint64_t pool_pages = l->pool_size / PAGE;
	s->pages = kind == SYN_TOUCH ? pool_pages : (uint64_t)(sc->wss_mb * (1 << 20)) / PAGE;
	if (s->pages > pool_pages * 3 / 4)
		s->pages = pool_pages * 3 / 4;   /* the pool's 4K frames (gpt.h) */
	if (s->pages < 1)
		s->pages = 1;
	double p = 1.0 / sc->insns_per_access;
	for (unsigned i = 0; i < QN; i++) {
		double u = (i + 0.5) / QN;
		s->q_icount[i] = sc->insns_per_access <= 1 ? 1 : 1 + (uint32_t)floor(log1p(-u) / log1p(-p));
	}
	if (kind == SYN_ZIPF) {
		s->keys = s->pages / 2 < ZIPF_KEYS_MAX ? s->pages / 2 : ZIPF_KEYS_MAX;
		if (!s->keys)
			s->keys = 1;
		s->zipf_cdf = malloc(s->keys * sizeof(double));
		if (!s->zipf_cdf) {
			snprintf(err, errlen, "out of memory for %llu zipf keys", (unsigned long long)s->keys);
			free(s);
			return NULL;
		}
		double sum = 0;
		for (uint64_t k = 0; k < s->keys; k++)
			s->zipf_cdf[k] = sum += 1.0 / pow((double)(k + 1), sc->zipf_s);
		for (uint64_t k = 0; k < s->keys; k++)
			s->zipf_cdf[k] /= sum;
	}
	return s;
}

/* Key rank with zipf popularity: binary search of the CDF. */
static uint64_t zipf_rank(struct synth *s)
{
	double u = rng_double(&s->rng);
	uint64_t lo = 0, hi = s->keys - 1;
	while (lo < hi) {
		uint64_t mid = (lo + hi) / 2;
		if (s->zipf_cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Scatter rank r over the value half of the set (a fixed permutation: multiply by an odd
 * constant modulo a power of two is a bijection; fold into range). */
static uint64_t scatter(uint64_t r, uint64_t n)
{
	return (r * 0x9e3779b97f4a7c15ULL >> 7) % n;
}

static int synth_next(void *priv, struct trace_record *r, char *err, size_t errlen)
{
	struct synth *s = priv;
	uint64_t page;

	(void)err;
	(void)errlen;
	memset(r, 0, sizeof(*r));
	r->size = 8;
	r->icount = pick_icount(s);
	r->kind = rng_double(&s->rng) < s->sc->write_fraction ? REC_WRITE : REC_READ;
	switch (s->kind) {
	case SYN_RANDOM:
		page = rng_below(&s->rng, s->pages);
		break;
	case SYN_STREAM:
		page = s->cursor;
		s->cursor = (s->cursor + 1) % s->pages;
		break;
	case SYN_TOUCH:
		page = s->cursor;
		s->cursor = (s->cursor + 1) % s->pages;
		r->kind = REC_WRITE;
		break;
	case SYN_ZIPF:
	default:
		if (!s->value_next) {
			/* the hash bucket: the first half of the set, uniformly */
			uint64_t rank = zipf_rank(s);
			page = rng_below(&s->rng, s->pages / 2 ? s->pages / 2 : 1);
			s->value_page = (s->pages / 2) + scatter(rank, s->pages - s->pages / 2);
			s->value_next = true;
			r->kind = REC_READ;
		} else {
			page = s->value_page;
			s->value_next = false;
		}
		break;
	}
	r->addr = s->base + page * PAGE + (rng_next(&s->rng) & (PAGE - 8));
	return 1;
}

static void synth_destroy(void *priv)
{
	struct synth *s = priv;
	free(s->zipf_cdf);
	free(s);
}

#define SYNTH_OPS(sym, name, kind, help)								\
	static void *sym##_create(const struct scenario *sc, const struct guest_layout *l, uint32_t vcpu, \
				  char *err, size_t errlen)						\
	{												\
		return synth_create(kind, sc, l, vcpu, err, errlen);				\
	}												\
	const struct workload_ops workload_##sym = { name, help, sym##_create, synth_next, synth_destroy, NULL }

SYNTH_OPS(random, "random", SYN_RANDOM, "uniformly random pages of workload.wss_mb");
SYNTH_OPS(stream, "stream", SYN_STREAM, "workload.wss_mb page after page, looping");
SYNTH_OPS(zipf_kv, "zipf-kv", SYN_ZIPF, "key-value store: bucket read, then the value; zipf key popularity");
SYNTH_OPS(touch_all, "touch-all", SYN_TOUCH, "writes every page of the vCPU's memory pool, looping");
