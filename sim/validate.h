/* sim/validate — `eptsim validate`: the model against published measurements.
 *
 * A validation config (configs/validation/NAME.ini) is an ordinary run config plus a
 * [validate] section (config.h: struct validate_cfg) naming the source of one published
 * measurement (title, author, date, commit id, its own words), the figure (validate.published,
 * in validate.unit), the stats.json stat it is compared with (validate.stat), how a run's
 * value is made from that stat (validate.reduce: mean, median or max over the stat's events,
 * or per-event, event i against published number i) and the band counted as agreement
 * ([validate.band_lo, validate.band_hi], in the unit).  A measurement the model cannot reach
 * says why in validate.unreachable: its row is listed, marked, and not run.
 *
 * `eptsim validate [FILE|DIR]...` runs every row with replicates (the `run --replicates`
 * machinery: sweep_replicates(), sweep_run_local(), under OUT/NAME/; rows whose run configs
 * are the same, [validate] aside, share the first one's runs), reduces each replicate's
 * stat to its value, and gives per row the published figure, the simulated mean ± the 95%
 * interval over the replicates (sim/repstat), their ratio and whether the mean lies in the
 * band (per-event: every event's mean); it writes OUT/validate.csv and OUT/validate.json.
 *
 * The library part (loading a row, reducing a run's stats, the summary, the three outputs)
 * is here so that sim/tests/test_validate.c checks it on synthetic rows; cmd_validate() is
 * the command.
 */
#ifndef EPTSIM_SIM_VALIDATE_H
#define EPTSIM_SIM_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>

#include "sim/config.h"
#include "sim/repstat.h"

#define VALIDATE_MAX_EVENTS 64
#define VALIDATE_ERR_MAX 1024

struct validate_row {
	char name[256];                          /* the file's stem */
	char path[4096];
	struct validate_cfg v;
	double freq_mhz;                         /* cpu.freq_mhz: cycles to µs */
	char hash[CONFIG_HASH_LEN + 1];          /* config_hash() of its run config ([validate] is not in it) */
	uint64_t seed;                           /* run.seed: the first replicate's */
	double published[VALIDATE_MAX_EVENTS];
	size_t nr_published;                     /* 1 unless reduce = per-event */
	/* filled by validate_summarize() */
	bool done;                               /* ran (not unreachable) and summarized */
	size_t nr_events;                        /* per-event: events seen; else 1 */
	struct repstat sim[VALIDATE_MAX_EVENTS]; /* per event (per-event), else [0] */
	double ratio;                            /* simulated mean / published (per-event: mean of the ratios) */
	bool within;
};

/* Load path as a row: the config (config_load + config_validate) and its [validate] section,
 * checked: a stat (unless unreachable), a published figure that parses (one number; one per
 * event with per-event, at most VALIDATE_MAX_EVENTS), band_lo <= band_hi, a *cycles* stat for
 * a time unit.  0, or -errno with err "PATH: what is wrong" (config errors keep file:line). */
int validate_load_row(const char *path, struct validate_row *r, char *err, size_t errlen);

/* One run's value(s) of the row's stat from a stats.json "stats" object: the stat (a number:
 * one event, or an array of numbers: one per event; "a.b.c" also finds member c of object
 * "a.b"), converted to the row's unit, then reduced (mean, median, max: one value; per-event:
 * the events, at most VALIDATE_MAX_EVENTS).  Returns how many values went to out (>= 1), or
 * -EINVAL with err saying what is missing or wrong (an empty array for mean, median or max
 * too). */
int validate_run_values(const struct validate_row *r, json_t *stats, double *out, char *err, size_t errlen);

/* Summarize nruns runs: vals[i * VALIDATE_MAX_EVENTS + e] is value e of run i, counts[i] how
 * many it has.  Fills r->sim (event e over the runs that have it), r->nr_events, r->ratio and
 * r->within (per-event: within iff the runs saw at least the published number of events and
 * each of those events' mean lies in the band). */
void validate_summarize(struct validate_row *r, const double *vals, const size_t *counts, size_t nruns);

/* The outputs, rows in order: a plain table (stdout), a Markdown table (the README's
 * "Validation" section), CSV and JSON. */
void validate_print_table(FILE *out, const struct validate_row *rows, size_t n);
void validate_print_markdown(FILE *out, const struct validate_row *rows, size_t n);
void validate_write_csv(FILE *out, const struct validate_row *rows, size_t n);
json_t *validate_to_json(const struct validate_row *rows, size_t n);

/* `eptsim validate`: argv as the subcommand's parser gets it.  Exit status 0 (rows out of
 * the band included), 1 a row failed to run, 2 bad input. */
int cmd_validate(int argc, char **argv);

#endif /* EPTSIM_SIM_VALIDATE_H */
