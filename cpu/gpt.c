#include "cpu/gpt.h"

#include "sim/rng.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SZ_4K (1ULL << 12)
#define SZ_2M (1ULL << 21)

struct frame_stack { uint64_t *v; size_t n, cap; };

struct gpa_pool {
	uint64_t base, end;
	uint64_t next4k;          /* fresh 4K frames grow up from base */
	uint64_t next2m;          /* fresh 2M frames grow down from end */
	struct frame_stack free4k, free2m;
	bool scatter;
	/* gpa_pool_reclaim(): frames held by the page cache, a FIFO (oldest at lru_head) */
	struct frame_stack lru;
	size_t lru_head;
	double cache_share;
	struct rng rng;
};

static void push(struct frame_stack *s, uint64_t v)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 256;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		if (!s->v)
			abort();
	}
	s->v[s->n++] = v;
}

struct gpa_pool *gpa_pool_new(uint64_t base, uint64_t size)
{
	struct gpa_pool *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->base = base;
	p->end = base + size;
	p->next4k = base;
	p->next2m = p->end & ~(SZ_2M - 1);
	return p;
}

void gpa_pool_free(struct gpa_pool *p)
{
	if (!p)
		return;
	free(p->free4k.v);
	free(p->free2m.v);
	free(p->lru.v);
	free(p);
}

void gpa_pool_scatter(struct gpa_pool *p, uint64_t seed, uint64_t stream)
{
	p->scatter = true;
	rng_seed(&p->rng, seed, stream);
	/* Every never-used 4K frame below the 2M reserve joins the free set: picks land anywhere
	 * in the pool, as they do in a guest whose page cache filled its memory. */
	uint64_t top = p->base + (p->end - p->base) / 4 * 3;
	top &= ~(SZ_2M - 1);
	if (top < p->next4k)
		return;
	for (uint64_t gpa = top; gpa > p->next4k; gpa -= SZ_4K)
		push(&p->free4k, gpa - SZ_4K);
	p->next4k = top;
}

void gpa_pool_reclaim(struct gpa_pool *p, uint64_t seed, uint64_t stream, uint64_t run_frames,
		      double cache_share)
{
	uint64_t top = (p->base + (p->end - p->base) / 4 * 3) & ~(SZ_2M - 1);

	rng_seed(&p->rng, seed, stream);
	p->cache_share = cache_share;
	if (!run_frames || top <= p->next4k)
		return;
	uint64_t n = (top - p->next4k) / SZ_4K, nruns = (n + run_frames - 1) / run_frames;
	uint64_t *order = malloc(nruns * sizeof(*order));
	if (!order)
		abort();
	for (uint64_t i = 0; i < nruns; i++)
		order[i] = i;
	for (uint64_t i = nruns; i > 1; i--) {   /* Fisher-Yates */
		uint64_t j = rng_below(&p->rng, i), t = order[i - 1];
		order[i - 1] = order[j];
		order[j] = t;
	}
	/* the page cache's LRU, oldest first: run order[0] first, each run in address order */
	for (uint64_t i = 0; i < nruns; i++) {
		uint64_t lo = p->next4k + order[i] * run_frames * SZ_4K, hi = lo + run_frames * SZ_4K;
		for (uint64_t gpa = lo; gpa < hi && gpa < top; gpa += SZ_4K)
			push(&p->lru, gpa);
	}
	free(order);
	p->next4k = top;
}

/* Take a free frame: the most recently freed one, or with scatter any one at random. */
static uint64_t take(struct gpa_pool *p, struct frame_stack *s)
{
	if (p->scatter && s->n > 1) {
		size_t i = (size_t)rng_below(&p->rng, s->n);
		uint64_t v = s->v[i];
		s->v[i] = s->v[s->n - 1];
		s->n--;
		return v;
	}
	return s->v[--s->n];
}

int gpa_pool_alloc(struct gpa_pool *p, bool large, uint64_t *gpa)
{
	if (large) {
		if (p->free2m.n) {
			*gpa = take(p, &p->free2m);
			return 0;
		}
		if (p->next2m >= SZ_2M && p->next2m - SZ_2M >= p->next4k) {
			p->next2m -= SZ_2M;
			*gpa = p->next2m;
			return 0;
		}
		return -ENOMEM;
	}
	if (p->free4k.n) {
		*gpa = take(p, &p->free4k);
		return 0;
	}
	if (p->lru_head < p->lru.n) {
		/* nothing free: reclaim the page cache's oldest frame */
		*gpa = p->lru.v[p->lru_head++];
		if (p->lru_head > 4096 && 2 * p->lru_head > p->lru.n) {
			memmove(p->lru.v, p->lru.v + p->lru_head, (p->lru.n - p->lru_head) * sizeof(*p->lru.v));
			p->lru.n -= p->lru_head;
			p->lru_head = 0;
		}
		return 0;
	}
	if (p->next4k + SZ_4K <= p->next2m) {
		*gpa = p->next4k;
		p->next4k += SZ_4K;
		return 0;
	}
	return -ENOMEM;
}

void gpa_pool_put(struct gpa_pool *p, uint64_t gpa, bool large)
{
	/* Only the pool's own frames come back: a process exit unmaps its text too, whose
	 * frames are the page cache's (shared), not free process memory. */
	if (gpa < p->base || gpa + (large ? SZ_2M : SZ_4K) > p->end)
		return;
	if (!large && p->cache_share > 0 && rng_double(&p->rng) < p->cache_share)
		push(&p->lru, gpa);   /* the growing page cache takes it: the LRU's newest */
	else
		push(large ? &p->free2m : &p->free4k, gpa);
}

uint64_t gpa_pool_fresh_left(const struct gpa_pool *p) { return p->next2m - p->next4k; }

struct gpt {
	struct gpt_node *root;
	struct gpa_pool *root_pool;
	bool shared[512];          /* root entries linked from another gpt: not ours to free */
};

static struct gpt_node *node_new(struct gpa_pool *pool)
{
	uint64_t gpa;
	if (gpa_pool_alloc(pool, false, &gpa))
		return NULL;
	struct gpt_node *n = calloc(1, sizeof(*n));
	if (!n)
		abort();
	n->gpa = gpa;
	return n;
}

struct gpt *gpt_new(struct gpa_pool *pool)
{
	struct gpt *g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->root = node_new(pool);
	g->root_pool = pool;
	if (!g->root) {
		free(g);
		return NULL;
	}
	return g;
}

static void node_free_rec(struct gpt_node *n, int level)
{
	if (level > 1)
		for (int i = 0; i < 512; i++)
			if (n->child[i])
				node_free_rec(n->child[i], level - 1);
	free(n);
}

void gpt_free(struct gpt *g)
{
	if (!g)
		return;
	for (int i = 0; i < 512; i++)
		if (g->root->child[i] && !g->shared[i])
			node_free_rec(g->root->child[i], GPT_LEVELS - 1);
	free(g->root);
	free(g);
}

void gpt_share(struct gpt *g, const struct gpt *src, unsigned first, unsigned last)
{
	for (unsigned i = first; i <= last && i < 512; i++) {
		if (!src->root->child[i])
			continue;
		g->root->e[i] = src->root->e[i];
		g->root->child[i] = src->root->child[i];
		g->shared[i] = true;
	}
}

struct gpt_node *gpt_root(const struct gpt *g) { return g->root; }

int gpt_map(struct gpt *g, uint64_t gva, uint64_t gpa, bool large, struct gpa_pool *pool)
{
	int leaf = large ? 2 : 1;
	struct gpt_node *n = g->root;

	for (int l = GPT_LEVELS; l > leaf; l--) {
		unsigned i = gpt_index(gva, l);
		if (n->e[i] & GPTE_LARGE)
			return -EEXIST;
		if (!n->child[i]) {
			struct gpt_node *c = node_new(pool);
			if (!c)
				return -ENOMEM;
			n->child[i] = c;
			n->e[i] = c->gpa | GPTE_PRESENT;
		}
		n = n->child[i];
	}
	unsigned i = gpt_index(gva, leaf);
	if (n->e[i] & GPTE_PRESENT)
		return -EEXIST;
	n->e[i] = (gpa & GPTE_ADDR_MASK) | GPTE_PRESENT | (large ? GPTE_LARGE : 0);
	return 0;
}

int gpt_translate(const struct gpt *g, uint64_t gva, uint64_t *gpa, bool *large)
{
	const struct gpt_node *n = g->root;

	for (int l = GPT_LEVELS; l >= 1; l--) {
		uint64_t e = n->e[gpt_index(gva, l)];
		if (!(e & GPTE_PRESENT))
			return -ENOENT;
		if (l == 1 || (e & GPTE_LARGE)) {
			uint64_t mask = (1ULL << (12 + 9 * (l - 1))) - 1;
			*gpa = (e & GPTE_ADDR_MASK & ~mask) | (gva & mask);
			if (large)
				*large = l > 1;
			return 0;
		}
		n = n->child[gpt_index(gva, l)];
	}
	return -ENOENT;
}

static bool node_empty(const struct gpt_node *n)
{
	for (int i = 0; i < 512; i++)
		if (n->e[i])
			return false;
	return true;
}

/* Unmap within one table covering [base, base + span); returns leaves removed. */
static uint64_t unmap_rec(struct gpt_node *n, int level, uint64_t base, uint64_t lo, uint64_t hi,
			  struct gpa_pool *data_pool, struct gpa_pool *table_pool, const bool *g_shared)
{
	uint64_t span = 1ULL << (12 + 9 * (level - 1));
	uint64_t removed = 0;

	for (unsigned i = 0; i < 512; i++) {
		uint64_t s = base + i * span, e = s + span;
		if (e <= lo || s >= hi || !(n->e[i] & GPTE_PRESENT))
			continue;
		if (level == GPT_LEVELS && g_shared && g_shared[i])
			continue;   /* the kernel's half is not the process's to unmap */
		if (level == 1 || (n->e[i] & GPTE_LARGE)) {
			if (s < lo || e > hi)
				continue;   /* a large page only partly in range stays */
			if (data_pool)
				gpa_pool_put(data_pool, n->e[i] & GPTE_ADDR_MASK, level > 1);
			n->e[i] = 0;
			removed++;
			continue;
		}
		struct gpt_node *c = n->child[i];
		removed += unmap_rec(c, level - 1, s, lo, hi, data_pool, table_pool, NULL);
		if (node_empty(c)) {
			gpa_pool_put(table_pool, c->gpa, false);
			free(c);
			n->child[i] = NULL;
			n->e[i] = 0;
		}
	}
	return removed;
}

uint64_t gpt_unmap_range(struct gpt *g, uint64_t gva, uint64_t len, struct gpa_pool *data_pool,
			 struct gpa_pool *table_pool)
{
	/* canonical addresses: work on the low 48 bits */
	uint64_t lo = gva & ((1ULL << 48) - 1);
	return unmap_rec(g->root, GPT_LEVELS, 0, lo, lo + len, data_pool, table_pool, g->shared);
}
