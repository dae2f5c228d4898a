// SPDX-License-Identifier: GPL-2.0
/* sim/stats — the stats registry.  See stats.h for the contract.
 *
 * Stats live in one contiguous array indexed by id, so an update is a bounds assert plus
 * an array index.  A small open-addressing hash of ids serves name look-ups (and the
 * duplicate check at registration, which would otherwise be quadratic once per-vCPU stats
 * multiply).  Pointers returned by stats_def() stay valid only until the next
 * registration, because the array may move when it grows.
 */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim/paths.h"
#include "sim/stats.h"

/* Log-linear histogram: values below 16 each get a bucket; every power of two above that is
 * split into 16 equal sub-buckets, so a bucket's width is at most 1/16 of its lower bound.
 * 16 exact buckets + 60 octaves (2^4 .. 2^63) x 16 = 976 buckets covers all of uint64_t. */
#define HIST_SUB_BITS	4
#define HIST_SUB	(1u << HIST_SUB_BITS)
#define HIST_BUCKETS	(HIST_SUB + (64 - HIST_SUB_BITS) * HIST_SUB)

struct stats_hist {
	uint64_t count, sum, min, max;
	uint64_t bucket[HIST_BUCKETS];
};

struct series_point {
	double t, v;
};

struct stats_entry {
	struct stat_def def;
	char *owned_name;		/* set when the name was copied (stats_register_one) */
	union {
		uint64_t counter;
		struct stats_hist *hist;
		struct {
			int64_t *v;
			size_t n, cap;
		} arr;
		struct {
			struct series_point *p;
			size_t n, cap;
		} ser;
	};
};

struct stats {
	struct stats_entry *e;
	size_t n, cap;
	stat_id *hash;			/* STAT_NONE marks a free slot */
	size_t hash_cap;		/* power of two, kept at most half full */
};

static unsigned int hist_index(uint64_t v)
{
	unsigned int msb, shift;

	if (v < HIST_SUB)
		return (unsigned int)v;
	msb = 63 - (unsigned int)__builtin_clzll(v);
	shift = msb - HIST_SUB_BITS;
	/* (v >> shift) is in [16, 32): its low bits pick the sub-bucket. */
	return HIST_SUB + shift * HIST_SUB + (unsigned int)((v >> shift) - HIST_SUB);
}

/* Largest value that lands in bucket i; written so the top bucket gives UINT64_MAX. */
static uint64_t hist_upper(unsigned int i)
{
	unsigned int shift, sub;

	if (i < HIST_SUB)
		return i;
	shift = (i - HIST_SUB) / HIST_SUB;
	sub = (i - HIST_SUB) % HIST_SUB;
	return ((uint64_t)(HIST_SUB + sub) << shift) + (((uint64_t)1 << shift) - 1);
}

static uint64_t name_hash(const char *s)
{
	uint64_t h = 14695981039346656037ull;	/* FNV-1a */

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

/* The slot holding name, or the free slot where it would go. */
static size_t hash_slot(const struct stats *st, const char *name)
{
	size_t mask = st->hash_cap - 1;
	size_t i = name_hash(name) & mask;

	while (st->hash[i] != STAT_NONE && strcmp(st->e[st->hash[i]].def.name, name))
		i = (i + 1) & mask;
	return i;
}

/* (Re)builds the name index from the entries, at cap slots. */
static int hash_rebuild(struct stats *st, size_t cap)
{
	stat_id *h = malloc(cap * sizeof(*h));
	size_t i;

	if (!h)
		return -ENOMEM;
	memset(h, 0xff, cap * sizeof(*h));	/* all STAT_NONE */
	free(st->hash);
	st->hash = h;
	st->hash_cap = cap;
	for (i = 0; i < st->n; i++)
		st->hash[hash_slot(st, st->e[i].def.name)] = (stat_id)i;
	return 0;
}

/* Room for want entries in both the array and the hash, so the rest of registration
 * cannot fail half-way. */
static int reserve(struct stats *st, size_t want)
{
	if (want >= STAT_NONE)
		return -ENOMEM;
	if (want > st->cap) {
		size_t cap = st->cap ? st->cap : 16;
		struct stats_entry *e;

		while (cap < want)
			cap *= 2;
		e = realloc(st->e, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		st->e = e;
		st->cap = cap;
	}
	if (want * 2 <= st->hash_cap)
		return 0;
	return hash_rebuild(st, st->hash_cap * 2 > want * 2 ? st->hash_cap * 2 : want * 4);
}

struct stats *stats_new(void)
{
	struct stats *st = calloc(1, sizeof(*st));

	if (st && hash_rebuild(st, 64)) {
		free(st);
		return NULL;
	}
	return st;
}

static void entry_release(struct stats_entry *e)
{
	if (e->def.kind == STAT_HIST)
		free(e->hist);
	else if (e->def.kind == STAT_ARRAY)
		free(e->arr.v);
	else if (e->def.kind == STAT_SERIES)
		free(e->ser.p);
	free(e->owned_name);
}

void stats_free(struct stats *st)
{
	size_t i;

	if (!st)
		return;
	for (i = 0; i < st->n; i++)
		entry_release(&st->e[i]);
	free(st->e);
	free(st->hash);
	free(st);
}

static bool name_valid(const char *name)
{
	/* The name becomes a file name under series/, so no empty names and no slashes. */
	return name && *name && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, "..");
}

/* Appends one entry; reserve() must have made room.  Only a histogram allocates.  The
 * caller indexes the name once the whole table is in, so failing leaves the index alone. */
static int add_entry(struct stats *st, const struct stat_def *def, char *owned_name)
{
	struct stats_entry *e = &st->e[st->n];

	assert(def->kind <= STAT_SERIES);   /* stat definitions are the code's, not input */
	memset(e, 0, sizeof(*e));
	e->def = *def;
	e->owned_name = owned_name;
	if (def->kind == STAT_HIST) {
		e->hist = calloc(1, sizeof(*e->hist));
		if (!e->hist)
			return -ENOMEM;
		e->hist->min = UINT64_MAX;
	}
	st->n++;
	return 0;
}

int stats_register(struct stats *st, const struct stat_def *defs, size_t n, stat_id *ids)
{
	size_t base = st->n, i, j;
	int err;

	/* Check everything first so a clash leaves the registry untouched. */
	for (i = 0; i < n; i++) {
		assert(name_valid(defs[i].name));   /* names are the code's (no input reaches them) */
		if (stats_lookup(st, defs[i].name) != STAT_NONE)
			return -EEXIST;
		for (j = 0; j < i; j++)
			if (!strcmp(defs[i].name, defs[j].name))
				return -EEXIST;
	}
	err = reserve(st, base + n);
	if (err)
		return err;
	for (i = 0; i < n; i++) {
		err = add_entry(st, &defs[i], NULL);
		if (err) {
			while (st->n > base)
				entry_release(&st->e[--st->n]);
			return err;
		}
	}
	for (i = 0; i < n; i++) {
		st->hash[hash_slot(st, defs[i].name)] = (stat_id)(base + i);
		if (ids)
			ids[i] = (stat_id)(base + i);
	}
	return 0;
}

stat_id stats_register_one(struct stats *st, const char *name, enum stat_kind kind,
			   const char *unit, const char *help)
{
	struct stat_def def = { .kind = kind, .unit = unit, .help = help };
	char *copy;

	/* names are the code's: vcpu.N.*, mmu_lock.ACTOR.* (no memslot or symbol name) */
	assert(name_valid(name));
	if (stats_lookup(st, name) != STAT_NONE || reserve(st, st->n + 1))
		return STAT_NONE;
	copy = strdup(name);
	if (!copy)
		return STAT_NONE;
	def.name = copy;
	if (add_entry(st, &def, copy)) {
		free(copy);
		return STAT_NONE;
	}
	st->hash[hash_slot(st, copy)] = (stat_id)(st->n - 1);
	return (stat_id)(st->n - 1);
}

stat_id stats_lookup(const struct stats *st, const char *name)
{
	return st->hash[hash_slot(st, name)];
}

size_t stats_count(const struct stats *st)
{
	return st->n;
}

const struct stat_def *stats_def(const struct stats *st, stat_id id)
{
	assert(id < st->n);   /* ids come from registration or lookup of the code's names */
	return &st->e[id].def;
}

static struct stats_entry *entry(const struct stats *st, stat_id id, enum stat_kind kind)
{
	/* ids and kinds are the code's: registered by it, read back by it */
	assert(id < st->n);
	assert(st->e[id].def.kind == kind);
	return &st->e[id];
}

/* Grows a hot-path array.  The update functions return void, and silently dropping a
 * sample would skew results without anyone noticing, so running out of memory aborts. */
static void *grow(void *p, size_t *cap, size_t elem)
{
	size_t ncap = *cap ? *cap * 2 : 16;

	p = realloc(p, ncap * elem);
	if (!p)
		abort();
	*cap = ncap;
	return p;
}

void stats_add(struct stats *st, stat_id id, uint64_t delta)
{
	entry(st, id, STAT_COUNTER)->counter += delta;
}

void stats_set(struct stats *st, stat_id id, uint64_t value)
{
	entry(st, id, STAT_COUNTER)->counter = value;
}

void stats_hist_add(struct stats *st, stat_id id, uint64_t sample)
{
	stats_hist_add_n(st, id, sample, 1);
}

void stats_hist_add_n(struct stats *st, stat_id id, uint64_t sample, uint64_t n)
{
	struct stats_hist *h = entry(st, id, STAT_HIST)->hist;
	uint64_t add;

	if (!n)
		return;
	h->count += n;
	if (__builtin_mul_overflow(sample, n, &add) || __builtin_add_overflow(h->sum, add, &h->sum))
		h->sum = UINT64_MAX;
	if (sample < h->min)
		h->min = sample;
	if (sample > h->max)
		h->max = sample;
	h->bucket[hist_index(sample)] += n;
}

void stats_array_push(struct stats *st, stat_id id, int64_t value)
{
	struct stats_entry *e = entry(st, id, STAT_ARRAY);

	if (e->arr.n == e->arr.cap)
		e->arr.v = grow(e->arr.v, &e->arr.cap, sizeof(*e->arr.v));
	e->arr.v[e->arr.n++] = value;
}

void stats_series_add(struct stats *st, stat_id id, double t, double v)
{
	struct stats_entry *e = entry(st, id, STAT_SERIES);

	if (e->ser.n == e->ser.cap)
		e->ser.p = grow(e->ser.p, &e->ser.cap, sizeof(*e->ser.p));
	e->ser.p[e->ser.n++] = (struct series_point){ t, v };
}

uint64_t stats_counter(const struct stats *st, stat_id id)
{
	return entry(st, id, STAT_COUNTER)->counter;
}

size_t stats_array_len(const struct stats *st, stat_id id)
{
	return entry(st, id, STAT_ARRAY)->arr.n;
}

int64_t stats_array_at(const struct stats *st, stat_id id, size_t i)
{
	struct stats_entry *e = entry(st, id, STAT_ARRAY);

	assert(i < e->arr.n);   /* callers loop below stats_array_len() */
	return e->arr.v[i];
}

uint64_t stats_hist_count(const struct stats *st, stat_id id)
{
	return entry(st, id, STAT_HIST)->hist->count;
}

uint64_t stats_hist_sum(const struct stats *st, stat_id id)
{
	return entry(st, id, STAT_HIST)->hist->sum;
}

uint64_t stats_hist_max(const struct stats *st, stat_id id)
{
	return entry(st, id, STAT_HIST)->hist->max;
}

static uint64_t hist_percentile(const struct stats_hist *h, double q)
{
	uint64_t target, cum = 0;
	double rank;
	unsigned int i;

	if (!h->count)
		return 0;
	if (!(q > 0))			/* also catches NaN */
		return h->min;
	if (q > 100)
		q = 100;
	/* Samples needed at or below the answer.  The slack absorbs rounding in q (99.9 is not
	 * exact in binary) so that e.g. 999 of 1000 samples counts as 99.9%. */
	rank = q / 100.0 * (double)h->count;
	rank -= rank * 1e-12;
	if (rank >= (double)h->count) {
		target = h->count;	/* also keeps the cast below in range */
	} else {
		target = (uint64_t)rank;
		if ((double)target < rank)
			target++;
	}
	if (!target)
		return h->min;
	for (i = 0; i < HIST_BUCKETS; i++) {
		cum += h->bucket[i];
		if (cum >= target)
			break;
	}
	assert(i < HIST_BUCKETS);   /* the buckets add up to count >= target: the loop breaks */
	if (hist_upper(i) < h->min)
		return h->min;
	return hist_upper(i) > h->max ? h->max : hist_upper(i);
}

uint64_t stats_hist_percentile(const struct stats *st, stat_id id, double q)
{
	return hist_percentile(entry(st, id, STAT_HIST)->hist, q);
}

size_t stats_series_len(const struct stats *st, stat_id id)
{
	return entry(st, id, STAT_SERIES)->ser.n;
}

/* JSON integers are signed 64-bit; clamp rather than let a huge counter turn negative. */
static json_int_t u64(uint64_t v)
{
	return v > INT64_MAX ? INT64_MAX : (json_int_t)v;
}

/* The non-empty buckets as [[le, n], ...] in ascending order: n samples fell in the bucket
 * whose largest value is le (the last one's le clamped to max), so a reader can draw the
 * whole distribution (a CDF) within the buckets' 1/16 resolution.  Only non-empty buckets:
 * a few dozen to a few hundred pairs, not 976. */
static json_t *hist_buckets_json(const struct stats_hist *h)
{
	json_t *a = json_array();

	for (unsigned int i = 0; a && i < HIST_BUCKETS; i++) {
		uint64_t le = hist_upper(i);

		if (!h->bucket[i])
			continue;
		if (json_array_append_new(a, json_pack("[I,I]", u64(le > h->max ? h->max : le),
						       u64(h->bucket[i])))) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *hist_json(const struct stats_hist *h)
{
	double mean = h->count ? (double)h->sum / (double)h->count : 0.0;

	return json_pack("{s:I,s:I,s:I,s:I,s:f,s:I,s:I,s:I,s:I,s:o}",
			 "count", u64(h->count), "sum", u64(h->sum),
			 "min", u64(h->count ? h->min : 0), "max", u64(h->max), "mean", mean,
			 "p50", u64(hist_percentile(h, 50)), "p90", u64(hist_percentile(h, 90)),
			 "p99", u64(hist_percentile(h, 99)), "p999", u64(hist_percentile(h, 99.9)),
			 "buckets", hist_buckets_json(h));
}

/* json_object_set_new() takes ownership even on failure, so a NULL value is safe here. */
static int set(json_t *obj, const char *key, json_t *val)
{
	return json_object_set_new(obj, key, val) ? -ENOMEM : 0;
}

static json_t *entry_json(const struct stats_entry *e)
{
	json_t *v;
	size_t i;

	switch (e->def.kind) {
	case STAT_COUNTER:
		return json_integer(u64(e->counter));
	case STAT_HIST:
		return hist_json(e->hist);
	case STAT_ARRAY:
		v = json_array();
		for (i = 0; v && i < e->arr.n; i++) {
			if (json_array_append_new(v, json_integer(e->arr.v[i]))) {
				json_decref(v);
				return NULL;
			}
		}
		return v;
	case STAT_SERIES:
		return json_pack("{s:s++,s:I}", "series", "series/", e->def.name, ".dat",
				 "points", (json_int_t)e->ser.n);
	}
	return NULL;
}

json_t *stats_to_json(const struct stats *st)
{
	json_t *o = json_object();
	size_t i;

	for (i = 0; o && i < st->n; i++) {
		if (set(o, st->e[i].def.name, entry_json(&st->e[i]))) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

static const char *const kind_name[] = {
	[STAT_COUNTER] = "counter",
	[STAT_HIST] = "histogram",
	[STAT_ARRAY] = "array",
	[STAT_SERIES] = "series",
};

json_t *stats_schema_json(const struct stats *st)
{
	json_t *o = json_object();
	size_t i;

	for (i = 0; o && i < st->n; i++) {
		const struct stat_def *d = &st->e[i].def;

		if (set(o, d->name, json_pack("{s:s,s:s,s:s}", "kind", kind_name[d->kind],
					      "unit", d->unit ? d->unit : "",
					      "help", d->help ? d->help : ""))) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

int stats_mkdir_p(const char *path)
{
	char *p = strdup(path), *s;
	int err = 0;

	if (!p)
		return -ENOMEM;
	if (!*p) {	/* no folder to make (the loop below starts past the first byte) */
		free(p);
		return -ENOENT;
	}
	for (s = p + 1; !err; s++) {
		bool end = !*s;

		if (*s != '/' && !end)
			continue;
		*s = '\0';
		if (mkdir(p, 0777) && errno != EEXIST)
			err = -errno;
		if (end)
			break;
		*s = '/';
	}
	free(p);
	return err;
}

static int write_one(const char *dir, const struct stats_entry *e)
{
	char *path = NULL, *tmp = NULL;
	struct wfile w;
	size_t i;
	int err = -ENOMEM;

	if (asprintf(&path, "%s/series/%s.dat", dir, e->def.name) < 0) {
		path = NULL;
		goto out;
	}
	if (asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0) {
		tmp = NULL;
		goto out;
	}
	if ((err = wfile_open(&w, tmp)))
		goto out;
	fputs("# t value\n", w.f);
	for (i = 0; i < e->ser.n; i++)
		fprintf(w.f, "%.17g %.17g\n", e->ser.p[i].t, e->ser.p[i].v);
	/* the errno of the first failed write (ENOSPC on a full disk) */
	err = wfile_close(&w);
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
out:
	free(tmp);
	free(path);
	return err;
}

int stats_write_series(const struct stats *st, const char *dir)
{
	char *sdir;
	size_t i;
	int err;

	if (asprintf(&sdir, "%s/series", dir) < 0)
		return -ENOMEM;
	err = stats_mkdir_p(sdir);
	free(sdir);
	for (i = 0; !err && i < st->n; i++)
		if (st->e[i].def.kind == STAT_SERIES && st->e[i].ser.n)
			err = write_one(dir, &st->e[i]);
	return err;
}

int stats_register_into(struct stats *st, const struct stat_def *defs, size_t n, void *ids, size_t ids_size)
{
	/* the id struct must be exactly one stat_id per definition, in order (a compile-time
	 * pairing of the code's tables) */
	assert(ids_size == n * sizeof(stat_id));
	return stats_register(st, defs, n, (stat_id *)ids);
}
