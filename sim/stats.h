/* sim/stats — the stats registry (README, Design: configs and results).
 *
 * Every module declares its stats in a table of struct stat_def (name, kind, unit, help) and
 * registers it once; the registry hands back dense ids, so updating a stat on a hot path is
 * an array index, never a hash look-up.  Names are dotted ("zap.lock_breaks",
 * "vcpu.3.cycles.guest").  The registry owns the values; stats_to_json() turns them into the
 * "stats" object of stats.json, and stats_write_series() writes every series as a
 * gnuplot-ready .dat file.
 *
 * Kinds:
 *   STAT_COUNTER  a uint64_t sum                       -> JSON integer
 *   STAT_HIST     a histogram of uint64_t samples      -> {"count","sum","min","max","mean",
 *                                                          "p50","p90","p99","p999",
 *                                                          "buckets": [[le, n], ...]}
 *                 (buckets: the non-empty log-linear buckets, ascending; n samples fell in
 *                 the bucket whose largest value is le, the last le clamped to max)
 *   STAT_ARRAY    one int64_t per occurrence (per zap)  -> JSON array of integers
 *   STAT_SERIES   (time, value) points                 -> series/<name>.dat, and in JSON
 *                                                          {"series": "series/<name>.dat",
 *                                                           "points": N}
 * Registration order is output order, so output is deterministic.
 */
#ifndef EPTSIM_SIM_STATS_H
#define EPTSIM_SIM_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

enum stat_kind { STAT_COUNTER, STAT_HIST, STAT_ARRAY, STAT_SERIES };

struct stat_def {
	const char *name;   /* dotted, unique */
	enum stat_kind kind;
	const char *unit;   /* "cycles", "pages", "events", ... */
	const char *help;   /* one line, for docs */
};

typedef uint32_t stat_id;
#define STAT_NONE ((stat_id)UINT32_MAX)

struct stats;

struct stats *stats_new(void);
void stats_free(struct stats *st);

/* Register a table of stats.  Returns 0 or -EEXIST if a name is already registered (the
 * table is then not registered at all).  ids[i] receives the id of defs[i]; ids may be
 * NULL when the caller looks ids up by name later. */
int stats_register(struct stats *st, const struct stat_def *defs, size_t n, stat_id *ids);
/* Register one stat whose name is built at run time (per-vCPU stats).  name is copied.
 * Returns its id, or STAT_NONE if the name exists already. */
stat_id stats_register_one(struct stats *st, const char *name, enum stat_kind kind,
			   const char *unit, const char *help);

/* Register defs[] and store the ids into *ids, a struct made only of stat_id members in
 * the order of defs (so a module names its ids instead of indexing an array). */
#define STATS_REGISTER_STRUCT(st, defs, ids)							\
	stats_register_into((st), (defs), sizeof(defs) / sizeof((defs)[0]), (ids), sizeof(*(ids)))
int stats_register_into(struct stats *st, const struct stat_def *defs, size_t n, void *ids, size_t ids_size);

stat_id stats_lookup(const struct stats *st, const char *name);   /* STAT_NONE if unknown */
size_t stats_count(const struct stats *st);
const struct stat_def *stats_def(const struct stats *st, stat_id id);

/* Updates.  Using an id of the wrong kind is a programming error (assert). */
void stats_add(struct stats *st, stat_id id, uint64_t delta);          /* COUNTER */
void stats_set(struct stats *st, stat_id id, uint64_t value);          /* COUNTER */
void stats_hist_add(struct stats *st, stat_id id, uint64_t sample);    /* HIST */
void stats_hist_add_n(struct stats *st, stat_id id, uint64_t sample, uint64_t n);   /* n samples */
void stats_array_push(struct stats *st, stat_id id, int64_t value);    /* ARRAY */
void stats_series_add(struct stats *st, stat_id id, double t, double v); /* SERIES */

/* Reads (tests, reports). */
uint64_t stats_counter(const struct stats *st, stat_id id);
size_t stats_array_len(const struct stats *st, stat_id id);
int64_t stats_array_at(const struct stats *st, stat_id id, size_t i);
uint64_t stats_hist_count(const struct stats *st, stat_id id);
uint64_t stats_hist_sum(const struct stats *st, stat_id id);
uint64_t stats_hist_max(const struct stats *st, stat_id id);
/* Percentile q in [0,100]: the smallest bucket upper bound with at least q% of samples at or
 * below it, clamped to [min, max]; relative error below 1/16 (log-linear buckets). */
uint64_t stats_hist_percentile(const struct stats *st, stat_id id, double q);
size_t stats_series_len(const struct stats *st, stat_id id);

/* The "stats" object of stats.json: one member per stat, in registration order.  Series are
 * referenced as {"series": "series/<name>.dat", "points": N}.  New reference. */
json_t *stats_to_json(const struct stats *st);
/* A {"name": {"kind":..., "unit":..., "help":...}} object describing every stat. */
json_t *stats_schema_json(const struct stats *st);
/* Write every series with at least one point as DIR/series/<name>.dat ("# t value" header,
 * then one "t v" line a point), each atomically (temp file + rename).  0 or -errno. */
int stats_write_series(const struct stats *st, const char *dir);

/* mkdir -p: create each missing component of path (0 or -errno).  The results writers
 * (sim, sweep, report) use it too. */
int stats_mkdir_p(const char *path);

#endif
