/* sim/sweep — many runs from one file: variants x vCPU counts x guest sizes x host models.
 *
 * A sweep file is INI with one [sweep] section (README, "Sweeps"):
 *
 *   base    = CONFIG                       the scenario every run starts from (a path
 *                                          relative to the sweep file)
 *   set     = section.key=value            a fixed override of every run (repeatable)
 *   vary    = section.key: V, V, A..B +S   an axis (repeatable); items are values or ranges
 *                                          ("" is the empty value)
 *   vary   += V, ...                       more values for the axis just above
 *   only    = key=V|V, key=V               keep only runs matching one such line (repeatable)
 *   exclude = key=V|V, key=V               drop runs matching any such line (repeatable)
 *   seeds   = A..B | S, S, ...             replicates: run every point once per seed (run.seed),
 *                                          an axis named "seed" placed last, whatever the line's place
 *
 * A range is A..B (step +1), A..B +S (add S) or A..B *F (multiply by F > 1): the values from
 * A up to B inclusive; A and B are non-negative decimals that may share one K/M/G/T suffix,
 * which every value keeps (512M..2048M *2 is 512M, 1024M, 2048M).  A range of integers ends at
 * 2^53 at most (above it a double is not exact).
 *
 * The runs are the cross product of the axes (the first axis varies slowest), filtered.
 * Every run's effective config is base + sets + its axis values, in that order, through
 * config_load() / config_set() / config_validate(), and all of them are built and validated
 * by sweep_load() before anything runs.  A run's folder is DIR/runs/NAME, NAME being
 * "name=value,name=value" over the axes (name: the key's last part, or the whole key when two
 * axes share a last part; value characters outside [A-Za-z0-9._+-] become '_').
 *
 * The resume rule (sweep_run_state): a run is done iff DIR/runs/NAME/stats.json parses,
 * says "complete": true and carries the config_hash of the run's effective config
 * (config_hash()).  Every back end skips done runs.
 *
 * Back ends: sweep_run_local() forks and execs `eptsim run` per run, N at a time;
 * sweep_emit_parallel() writes DIR/jobs.txt (one shell command per run, for GNU parallel);
 * sweep_emit_slurm() writes it too, plus DIR/sweep.sbatch (a Slurm array, one task per line,
 * and a dependent collect job).  sweep_collect() builds DIR/summary.csv from the runs that
 * are done, reading DIR/sweep.json (the manifest written by sweep_prepare()).
 *
 * Only main.c prints: progress comes back through a callback, results through structs.
 */
#ifndef EPTSIM_SIM_SWEEP_H
#define EPTSIM_SIM_SWEEP_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/config.h"

#define SWEEP_ERR_MAX 2048
#define SWEEP_MAX_RUNS 100000       /* after filtering */
#define SWEEP_MAX_PRODUCT 1000000   /* the cross product before filtering */
#define SWEEP_MAX_VALUES 10000      /* per axis */
#define SWEEP_SEED_KEY "run.seed"   /* the key a seeds = line varies */

struct sweep_error {
	char msg[SWEEP_ERR_MAX];   /* "file:line: what is wrong" */
};

struct sweep;

/* Parse the sweep file, load its base config, apply the sets, expand the axes and the
 * filters, and build, validate and hash every run's effective config.  0, or -EINVAL /
 * -ENOENT / -E2BIG with err naming the file and line. */
int sweep_load(const char *path, struct sweep **out, struct sweep_error *err);
/* `eptsim run CONFIG --set S... --replicates N`: the one-point sweep over the seeds first,
 * first + 1, ..., first + n - 1 (base CONFIG, the sets, a seeds axis).  sets must not set
 * run.seed.  0 or -EINVAL with err set. */
int sweep_replicates(const char *config, const char *const *sets, size_t nsets, uint64_t first, uint64_t n,
		     struct sweep **out, struct sweep_error *err);
void sweep_free(struct sweep *sw);
/* One CSV field (RFC 4180): quoted when it holds a comma, a quote, a line break or an edge blank. */
void csv_field(FILE *f, const char *s);

const char *sweep_base(const struct sweep *sw);   /* resolved path of base */
size_t sweep_nr_axes(const struct sweep *sw);
/* The axis of a seeds = line (or of sweep_replicates()), or -1. */
int sweep_seed_axis(const struct sweep *sw);
const char *sweep_axis_key(const struct sweep *sw, size_t axis);
size_t sweep_nr_runs(const struct sweep *sw);
const char *sweep_run_name(const struct sweep *sw, size_t run);     /* folder under runs/ */
const char *sweep_run_value(const struct sweep *sw, size_t run, size_t axis);
const char *sweep_run_hash(const struct sweep *sw, size_t run);     /* config_hash() */
/* Build run's effective config again into sc (validated).  0 or -EINVAL with err set. */
int sweep_run_scenario(const struct sweep *sw, size_t run, struct scenario *sc, struct sweep_error *err);

/* The command line of one run: EXE run BASE --set S... --set KEY=V... --out DIR/runs/NAME
 * --quiet [--skip-done].  NULL-terminated; free with sweep_argv_free(). */
char **sweep_run_argv(const struct sweep *sw, size_t run, const char *exe, const char *dir, bool skip_done);
void sweep_argv_free(char **argv);

enum sweep_run_state {
	SWEEP_RUN_DONE,      /* complete stats.json with the expected config_hash */
	SWEEP_RUN_MISSING,   /* no stats.json */
	SWEEP_RUN_PARTIAL,   /* stats.json not complete, or without a hash */
	SWEEP_RUN_STALE,     /* complete, but made from another config */
	SWEEP_RUN_CORRUPT,   /* stats.json is not JSON, or not an object with a "stats" object */
	SWEEP_RUN_UNREADABLE,/* stats.json is not a regular file (a FIFO...), or cannot be read */
};
enum sweep_run_state sweep_run_state(const char *run_dir, const char *hash);
/* sweep_run_state(), and for CORRUPT and UNREADABLE why[n] says why, naming the file
 * ("DIR/stats.json: invalid JSON at line 3: ...", "DIR/stats.json: is a FIFO, not a regular
 * file"); "" otherwise.  stats.json is opened only if it is a regular file (never blocks). */
enum sweep_run_state sweep_run_check(const char *run_dir, const char *hash, char *why, size_t n);
const char *sweep_run_state_name(enum sweep_run_state st);

/* Create DIR/runs/NAME/ for every run and write DIR/sweep.json (axes, runs, their hashes).
 * 0 or -errno with err set. */
int sweep_prepare(const struct sweep *sw, const char *dir, struct sweep_error *err);

/* The emitted scripts refuse (-EINVAL, err naming it) a path or a value with a control
 * character (path_control_char(): a newline would end the line and start a command of its
 * own); every word is quoted for the shell, and sweep.sbatch quotes its #SBATCH --output
 * path for Slurm's own parser with % doubled (Slurm expands %A, %a...).
 * DIR/jobs.txt: line i+1 runs run i (`cd CWD && (EXE run ... --skip-done 2> .../stderr.log;
 * ...)`, the log removed when empty), EXE and CWD absolute so the lines run anywhere the
 * file system is shared.  With force, no --skip-done.  0 or -errno. */
int sweep_emit_jobs(const struct sweep *sw, const char *dir, const char *exe, bool force, struct sweep_error *err);
/* DIR/sweep.sbatch: `sbatch` it for the array alone (--array=0-(N-1), task i runs line i+1
 * of jobs.txt), or `bash` it to submit the array and a collect job that depends on it
 * (--dependency=afterany).  Writes jobs.txt too.  0 or -errno. */
int sweep_emit_slurm(const struct sweep *sw, const char *dir, const char *exe, bool force, struct sweep_error *err);

struct sweep_progress {
	size_t done, total, failed;   /* runs finished (ok or not) / to run / failed so far */
	size_t run;                   /* the run that just finished */
	bool ok;
	int status;                   /* exit status, or -signal */
	double seconds;               /* its wall time */
};
typedef void (*sweep_progress_fn)(void *ctx, const struct sweep_progress *p);

struct sweep_local_result {
	size_t skipped, ran, failed;
	size_t stopped;   /* runs under way when *stop was set: passed the signal, not counted in ran */
};
/* The local back end: sweep_prepare(), then every run that is not done (all of them with
 * force) as its own process (EXE run ..., stdout to /dev/null, stderr to
 * DIR/runs/NAME/stderr.log, removed when the run succeeds and wrote nothing there), at most
 * jobs at a time.  A run fails unless it exits 0 and leaves a done folder.  fn (may be NULL)
 * hears about each finished run.  0 (see res->failed) or -errno with err set.
 * stop (may be NULL) is a signal handler's flag: once it holds a signal number, no run is
 * started, the runs under way get that signal (each writes its partial results and exits)
 * and are waited for, and the call returns -EINTR.  Run again, the sweep resumes. */
int sweep_run_local(const struct sweep *sw, const char *dir, const char *exe, unsigned jobs, bool force,
		    const volatile sig_atomic_t *stop, sweep_progress_fn fn, void *ctx,
		    struct sweep_local_result *res, struct sweep_error *err);

struct sweep_missing {
	char *name;
	enum sweep_run_state state;
	char *why;                       /* CORRUPT, UNREADABLE: the file and what is wrong; else NULL */
};
struct sweep_summary {
	size_t nr_runs, nr_done, nr_columns;
	size_t nr_points;                /* with a seeds axis: the points (runs but the seed) done */
	struct sweep_missing *missing;   /* runs not done, in sweep order */
	size_t nr_missing;
	char **warnings;                 /* "DIR/runs/NAME/stats.json: stat S: ..." */
	size_t nr_warnings;
};
/* Read DIR/sweep.json, then write DIR/summary.csv (atomically): a header, then one row per
 * done run in sweep order: one column per axis (its key), then the run's stats.json
 * stats flattened to scalars (README, "Sweeps"), columns in a stable order (as they first
 * appear in the runs, in sweep order).  A stat of a type no stat has (a string, null, an
 * object that is not a histogram, an array of non-numbers) is a warning naming the run's
 * file and the stat, and its cells stay empty.  0 or -errno with err set. */
int sweep_collect(const char *dir, struct sweep_summary *sum, struct sweep_error *err);
/* With a seeds axis (the manifest's axis with "seeds": true), sweep_collect() also writes,
 * over the done runs grouped into points (every axis but the seed, in sweep order):
 * DIR/summary-replicates.csv: a header, then one row per point and stat column of
 *   summary.csv that has a number at the point: the axis values but the seed's, then
 *   stat, n, mean, sd, ci95 (sim/repstat: sample sd, 95% t interval half-width; sd and ci95
 *   empty when n = 1);
 * DIR/replicates.json: {"eptsim_replicates": 1, "seed_key", "seeds": every seed, "ci",
 *   "points": [{"values": {KEY: V}, "seeds": [done], "stats": {STAT: {n, mean, sd, ci95}}}]}
 *   (sd, ci95 null when n = 1). */
void sweep_summary_free(struct sweep_summary *sum);

#endif
