/* eptsim — command line (argp).  Subcommands: run, sweep, plot, report, config, trace, workload.  Only this file and the
 * report layer print.  Exit status: 0 success, 1 failure while running, 2 bad input. */
#include "sim/chart.h"
#include "sim/config.h"
#include "sim/numparse.h"
#include "version.h"
#include "sim/paths.h"
#include "sim/plot.h"
#include "sim/report.h"
#include "sim/resdir.h"
#include "sim/sim.h"
#include "sim/stats.h"
#include "sim/sweep.h"
#include "sim/tmpfiles.h"
#include "sim/validate.h"
#include "cpu/guest.h"
#include "traces/lackey.h"
#include "traces/tools.h"
#include "traces/trace.h"
#include "workloads/elfsym.h"
#include "workloads/workload.h"

#include <argp.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EXIT_BAD_INPUT 2
#define MAX_SETS 256
#define MAX_DIRS 64
#define PROGRESS_AFTER_S 1.0

const char *argp_program_version = "eptsim " EPTSIM_VERSION " (git " EPTSIM_GIT_HASH ")";
const char *argp_program_bug_address = "the eptsim issue tracker";
/* argp_error() and bad options are bad input, like a bad config: exit status 2. */
#define ARGP_EXIT_STATUS EXIT_BAD_INPUT

/* ------------------------------------------------------------------ numeric options */

/* Every numeric option goes through sim/numparse's checked parsers: the whole argument is the
 * number (no blanks, signs or trailing junk), within [min, max]; anything else is a usage
 * error naming the option (exit 2).  why, if not NULL, says where the bounds come from. */
static uint64_t opt_u64(struct argp_state *state, const char *opt, const char *arg, uint64_t min, uint64_t max,
			const char *why)
{
	uint64_t v = 0;
	int r = parse_u64(arg, 0, min, max, &v);

	if (r == -EINVAL)
		argp_error(state, "%s: '%s' is not a non-negative integer", opt, arg);
	else if (r)
		argp_error(state, "%s: %s is out of range [%llu, %llu]%s%s", opt, arg, (unsigned long long)min,
			   (unsigned long long)max, why ? ": " : "", why ? why : "");
	return v;
}

#define SEED_WHY "stats.json holds the seed as a signed 64-bit JSON integer"

static double opt_real(struct argp_state *state, const char *opt, const char *arg, double min, double max,
		       const char *what)
{
	double v = 0;
	int r = parse_real(arg, min, max, &v);

	if (r == -EINVAL)
		argp_error(state, "%s: '%s' is not %s", opt, arg, what);
	else if (r)
		argp_error(state, "%s: %s is out of range [%g, %g]", opt, arg, min, max);
	return v;
}

/* ------------------------------------------------------------------ run */

/* Defaults, then CONFIG (if any), the --set assignments, the seed, and for `workload` the
 * generator (no trace); validated.  0, or prints the error and returns EXIT_BAD_INPUT. */
static int load_scenario(struct scenario *sc, const char *who, const char *config, const char *const *sets,
			 int nsets, bool seed_set, uint64_t seed, const char *generator)
{
	struct config_error err;

	config_defaults(sc);
	if (config && config_load(sc, config, &err))
		goto bad;
	for (int i = 0; i < nsets; i++)
		if (config_set(sc, sets[i], &err))
			goto bad;
	if (seed_set)
		sc->seed = seed;
	if (generator) {
		snprintf(sc->generator, sizeof(sc->generator), "%s", generator);
		sc->trace[0] = '\0';
	}
	if (config_validate(sc, &err))
		goto bad;
	return 0;
bad:
	fprintf(stderr, "%s: %s\n", who, err.msg);
	return EXIT_BAD_INPUT;
}

/* An output path, checked before any work (sim/paths.h: not empty, no control character,
 * writable now).  0, or prints "WHO: OPT PATH: why" and returns EXIT_BAD_INPUT. */
static int check_out(const char *who, const char *opt, const char *path, enum path_kind kind)
{
	char err[PATH_MAX + 512];

	if (!path_check_output(path, kind, opt, err, sizeof(err)))
		return 0;
	fprintf(stderr, "%s: %s\n", who, err);
	return EXIT_BAD_INPUT;
}

struct run_args {
	const char *config;
	const char *out;
	const char *sets[MAX_SETS];
	int nsets;
	uint64_t seed, replicates;
	unsigned jobs;
	bool seed_set, dump, quiet, skip_done;
	enum engine_mode mode;
};

enum { OPT_ENGINE = 0x100, OPT_SKIP_DONE, OPT_REPLICATES };

static struct argp_option run_options[] = {
	{ "out", 'o', "DIR", 0, "Results folder (default: results/<config file stem>/)", 0 },
	{ "seed", 's', "N", 0, "Random seed (default 1)", 0 },
	{ "set", 'S', "SECTION.KEY=VALUE", 0, "Override one config key (repeatable)", 0 },
	{ "dump-config", 'd', 0, 0, "Print the effective configuration as INI and exit", 0 },
	{ "quiet", 'q', 0, 0, "No summary on stdout, no progress on stderr", 0 },
	{ "engine", OPT_ENGINE, "MODE", 0,
	  "batched (default) or per-access: one event per record (slow; gives the same results)", 0 },
	{ "skip-done", OPT_SKIP_DONE, 0, 0,
	  "Do nothing if DIR/stats.json is complete and was made from this same effective config "
	  "(its config_hash): the sweep resume rule (with --replicates: run only the seeds not done)", 0 },
	{ "replicates", OPT_REPLICATES, "N", 0,
	  "Run it N times, with the seeds SEED..SEED+N-1 (SEED: --seed or run.seed), into "
	  "DIR/runs/seed=S/, and write DIR/summary.csv, DIR/summary-replicates.csv and "
	  "DIR/replicates.json (n, mean, sd, 95% interval of every stat): a one-point sweep over "
	  "the seeds (README, Sweeps)", 0 },
	{ "jobs", 'j', "N", 0, "With --replicates: runs at a time (default: the number of online cores)", 0 },
	{ 0 }
};

static error_t run_parse(int key, char *arg, struct argp_state *state)
{
	struct run_args *a = state->input;

	switch (key) {
	case 'o': a->out = arg; break;
	case 's':
		a->seed = opt_u64(state, "--seed", arg, 0, CONFIG_SEED_MAX, SEED_WHY);
		a->seed_set = true;
		break;
	case 'S':
		if (a->nsets == MAX_SETS)
			argp_error(state, "more than %d --set options", MAX_SETS);
		a->sets[a->nsets++] = arg;
		break;
	case 'd': a->dump = true; break;
	case 'q': a->quiet = true; break;
	case OPT_SKIP_DONE: a->skip_done = true; break;
	case OPT_REPLICATES:
		a->replicates = opt_u64(state, "--replicates", arg, 1, SWEEP_MAX_VALUES, NULL);
		break;
	case 'j':
		a->jobs = (unsigned)opt_u64(state, "--jobs", arg, 1, 4096, NULL);
		break;
	case OPT_ENGINE:
		if (!strcmp(arg, "batched"))
			a->mode = ENGINE_BATCHED;
		else if (!strcmp(arg, "per-access"))
			a->mode = ENGINE_PER_ACCESS;
		else
			argp_error(state, "--engine: '%s' is not batched or per-access", arg);
		break;
	case ARGP_KEY_ARG:
		if (a->config)
			argp_error(state, "one CONFIG file only ('%s' is extra)", arg);
		a->config = arg;
		break;
	case ARGP_KEY_END:
		if (!a->config)
			argp_error(state, "CONFIG file missing");
		if (a->replicates && a->mode != ENGINE_BATCHED)
			argp_error(state, "--engine per-access: not with --replicates (its runs use the batched engine)");
		if (a->jobs && !a->replicates)
			argp_error(state, "--jobs: only with --replicates");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static struct argp run_argp = {
	run_options, run_parse, "CONFIG",
	"Run one simulation.\v"
	"Writes DIR/stats.json (all stats, the seed, the version, the effective config), "
	"DIR/config.ini, DIR/series/*.dat and DIR/timing.json (wall seconds to build the guest "
	"and to run, peak RSS, records per second).  A progress line goes to stderr when it is a "
	"terminal and the run takes longer than a second.",
	NULL, NULL, NULL
};

struct progress { struct timespec start; bool shown; double freq_mhz, last; };

#define PROGRESS_EVERY_S 0.25

static double elapsed_s(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) * 1e-9;
}

static void show_progress(void *ctx, uint64_t now, uint64_t end)
{
	struct progress *p = ctx;
	double s = elapsed_s(&p->start);
	if (s < PROGRESS_AFTER_S || (p->shown && s - p->last < PROGRESS_EVERY_S))
		return;
	p->shown = true;
	p->last = s;
	double f = end ? (double)now / (double)end : 1.0;
	fprintf(stderr, "\r[eptsim] %.1f / %.1f ms simulated (%3.0f%%), %.1f s elapsed, ~%.0f s left ",
		(double)now / (p->freq_mhz * 1000.0), (double)end / (p->freq_mhz * 1000.0), 100 * f, s,
		f > 0 ? s / f - s : 0.0);
}

static void print_array(FILE *f, const struct stats *st, const char *name)
{
	stat_id id = stats_lookup(st, name);
	size_t n = id == STAT_NONE ? 0 : stats_array_len(st, id);
	fprintf(f, "%-22s", name);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%lld", i ? " " : " ", (long long)stats_array_at(st, id, i));
	fprintf(f, "%s\n", n ? "" : " (none)");
}

static void print_summary(struct sim *s, const struct scenario *sc, const char *dir)
{
	struct stats *st = sim_stats(s);
	printf("eptsim run: %s, zap_all=%s, preempt=%s, %u vCPUs, %.0f ms\n", sc->source[0] ? sc->source : "(defaults)",
	       config_enum_name("mmu", "zap_all", sc->zap_all), config_enum_name("host", "preempt", sc->preempt),
	       sc->vcpus, sc->duration_ms);
	print_array(stdout, st, "zap.lock_breaks");
	print_array(stdout, st, "zap.flushes");
	print_array(stdout, st, "zap.pages");
	const char *counters[] = { "zap.count", "tlb_flush.count", "tlb_flush.refill_misses", "vcpu.reloads",
				   "ept.faults", "vcpu.records" };
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
		stat_id id = stats_lookup(st, counters[i]);
		if (id != STAT_NONE)
			printf("%-22s %llu\n", counters[i], (unsigned long long)stats_counter(st, id));
	}
	stat_id w = stats_lookup(st, "mmu_lock.wait_cycles");
	if (w != STAT_NONE)
		printf("%-22s p50 %llu, p99 %llu, max %llu cycles\n", "mmu_lock.wait", (unsigned long long)stats_hist_percentile(st, w, 50),
		       (unsigned long long)stats_hist_percentile(st, w, 99), (unsigned long long)stats_hist_max(st, w));
	const struct attribution *at = sim_attribution(s);
	if (at) {
		printf("\nTop functions by walk references%s:\n\n",
		       sim_has_symbols(s) ? "" : " (no symbols: attributed by mapping)");
		attribution_markdown(at, 10, stdout);
		printf("\n");
	}
	printf("results in %s/\n", dir);
}

/* Peak resident set of this process (getrusage: KiB on Linux). */
static long peak_rss_kib(void)
{
	struct rusage ru;
	return getrusage(RUSAGE_SELF, &ru) ? -1 : ru.ru_maxrss;
}

/* The one mutable global: a signal handler can only reach static storage, and may only set
 * a volatile sig_atomic_t (async-signal-safe).  The engine reads it before every event. */
static volatile sig_atomic_t run_signal;

static void on_stop_signal(int sig) { run_signal = sig; }

static void catch_stop_signals(void)
{
	struct sigaction sa = { .sa_handler = on_stop_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* Exit status of a run stopped by a signal: 128 + the signal, as a shell reports it. */
#define EXIT_SIGNALLED(sig) (128 + (sig))
#define PARTIAL_SUBDIR "partial"

static int run_replicates(const struct run_args *a, const struct scenario *sc);

static int cmd_run(int argc, char **argv)
{
	struct run_args a = { .mode = ENGINE_BATCHED };
	static struct scenario sc;
	char outbuf[4096], errbuf[512] = "";
	struct resdir_lock lock = { .fd = -1 };
	struct sim *s = NULL;
	int ret = 0;

	argp_parse(&run_argp, argc, argv, 0, NULL, &a);
	if (load_scenario(&sc, "eptsim", a.config, a.sets, a.nsets, a.seed_set, a.seed, NULL))
		return EXIT_BAD_INPUT;
	if (a.dump) {
		config_dump(&sc, stdout);
		return 0;
	}
	if (!a.out) {
		char tmp[4096];
		snprintf(tmp, sizeof(tmp), "%s", a.config);
		char *stem = basename(tmp);
		char *dot = strrchr(stem, '.');
		if (dot && dot != stem)
			*dot = '\0';
		snprintf(outbuf, sizeof(outbuf), "results/%s", stem);
		a.out = outbuf;
	}
	if (check_out("eptsim", "--out", a.out, PATH_DIR))
		return EXIT_BAD_INPUT;
	if (a.replicates)
		return run_replicates(&a, &sc);
	/* One live run per folder (a restarted sweep must not race a run still going there):
	 * held until we return, and by the kernel no longer once we are killed.  Failing to
	 * take it (held, or an --out that cannot hold results) is bad input: nothing ran. */
	if (resdir_lock(a.out, &lock, errbuf, sizeof(errbuf))) {
		fprintf(stderr, "eptsim: %s\n", errbuf);
		return EXIT_BAD_INPUT;
	}
	if (a.skip_done) {
		char hash[CONFIG_HASH_LEN + 1], why[PATH_MAX + 512];
		config_hash(&sc, hash);
		enum sweep_run_state st = sweep_run_check(a.out, hash, why, sizeof(why));
		if (st == SWEEP_RUN_DONE) {
			if (!a.quiet)
				printf("%s is up to date (config hash %s): not run again\n", a.out, hash);
			goto out;
		}
		/* a FIFO or a device where stats.json belongs: not ours to replace */
		if (st == SWEEP_RUN_UNREADABLE) {
			fprintf(stderr, "eptsim: --skip-done: %s\n", why);
			return EXIT_BAD_INPUT;
		}
		if (st == SWEEP_RUN_CORRUPT)
			fprintf(stderr, "eptsim: --skip-done: %s: not done, running it again\n", why);
	}
	/* Refuse up front a run this machine cannot hold, rather than be killed by the OOM
	 * killer half-way through building the guest. */
	uint64_t need = sim_estimate_bytes(&sc), avail = sim_mem_available();
	if (avail && need > avail) {
		fprintf(stderr, "eptsim: %s: this run needs about %.1f GiB, this machine has %.1f GiB available "
			"(MemAvailable); make guest.mem smaller, or use guest.prefault = false or large pages\n",
			a.config ? a.config : "(defaults)", (double)need / (1ULL << 30), (double)avail / (1ULL << 30));
		ret = EXIT_BAD_INPUT;
		goto out;
	}
	struct timespec t_build;
	clock_gettime(CLOCK_MONOTONIC, &t_build);
	catch_stop_signals();
	s = sim_new(&sc, a.mode, errbuf, sizeof(errbuf));
	if (!s) {
		fprintf(stderr, "eptsim: %s: %s\n", a.config, errbuf);
		ret = EXIT_BAD_INPUT;
		goto out;
	}
	struct sim_timing timing = { .build_s = elapsed_s(&t_build) };
	struct progress p = { .freq_mhz = sc.freq_mhz };
	clock_gettime(CLOCK_MONOTONIC, &p.start);
	if (!a.quiet && isatty(STDERR_FILENO))
		sim_set_progress(s, show_progress, &p);
	sim_set_interrupt(s, &run_signal);
	int rr = sim_run(s);
	timing.run_s = elapsed_s(&p.start);
	timing.peak_rss_kib = peak_rss_kib();
	if (p.shown)
		fprintf(stderr, "\n");
	if (rr == -EINTR) {
		/* Stopped by SIGINT/SIGTERM: DIR's previous complete results stay as they were;
		 * what was measured goes beside them, to DIR/partial/, marked "complete": false. */
		int sig = run_signal;
		char pdir[4200];
		snprintf(pdir, sizeof(pdir), "%s/" PARTIAL_SUBDIR, a.out);
		int r = sim_write_results(s, pdir, &timing, errbuf, sizeof(errbuf));
		fprintf(stderr, "eptsim: %s (%s): ", sim_error(s), strsignal(sig));
		if (r)
			fprintf(stderr, "writing partial results to %s: %s\n", pdir, errbuf);
		else
			fprintf(stderr, "partial results in %s/\n", pdir);
		ret = EXIT_SIGNALLED(sig);
		goto out;
	}
	if (rr) {
		fprintf(stderr, "eptsim: %s\n", sim_error(s));
		ret = EXIT_BAD_INPUT;
		goto out;
	}
	/* the whole run replaces DIR's results at once; an earlier interrupted run's
	 * DIR/partial goes with them */
	if (sim_write_results(s, a.out, &timing, errbuf, sizeof(errbuf))) {
		fprintf(stderr, "eptsim: writing results to %s: %s\n", a.out, errbuf);
		ret = 1;
		goto out;
	}
	if (!a.quiet) {
		print_summary(s, &sc, a.out);
		printf("wall time %.2f s to build the guest, %.2f s to run; peak RSS %.0f MiB\n", timing.build_s,
		       timing.run_s, (double)timing.peak_rss_kib / 1024);
	}
out:
	if (s)
		sim_free(s);
	resdir_unlock(&lock);
	return ret;
}

/* ------------------------------------------------------------------ sweep */

enum sweep_emit { EMIT_LOCAL, EMIT_PARALLEL, EMIT_SLURM };

struct sweep_args {
	const char *file, *out, *collect;
	unsigned jobs;
	enum sweep_emit emit;
	bool force, dry_run;
};

enum { OPT_EMIT = 0x200, OPT_FORCE, OPT_DRY_RUN, OPT_COLLECT };

static struct argp_option sweep_options[] = {
	{ "out", 'o', "DIR", 0, "Sweep folder (default: results/<sweep file stem>/)", 0 },
	{ "jobs", 'j', "N", 0, "Local back end: runs at a time (default: the number of online cores)", 0 },
	{ "emit", OPT_EMIT, "HOW", 0,
	  "local (default): run here, N processes at a time; parallel: write DIR/jobs.txt for GNU "
	  "parallel; slurm: write DIR/jobs.txt and DIR/sweep.sbatch (a job array)", 0 },
	{ "force", OPT_FORCE, 0, 0, "Run every run again, even those already done", 0 },
	{ "dry-run", OPT_DRY_RUN, 0, 0, "List the runs and whether each is done; write nothing", 0 },
	{ "collect", OPT_COLLECT, "DIR", 0,
	  "Rebuild DIR/summary.csv from the runs that are done and list the others", 0 },
	{ 0 }
};

static error_t sweep_parse(int key, char *arg, struct argp_state *state)
{
	struct sweep_args *a = state->input;
	switch (key) {
	case 'o': a->out = arg; break;
	case 'j':
		a->jobs = (unsigned)opt_u64(state, "--jobs", arg, 1, 4096, NULL);
		break;
	case OPT_EMIT:
		if (!strcmp(arg, "local"))
			a->emit = EMIT_LOCAL;
		else if (!strcmp(arg, "parallel"))
			a->emit = EMIT_PARALLEL;
		else if (!strcmp(arg, "slurm"))
			a->emit = EMIT_SLURM;
		else
			argp_error(state, "--emit: '%s' is not local, parallel or slurm", arg);
		break;
	case OPT_FORCE: a->force = true; break;
	case OPT_DRY_RUN: a->dry_run = true; break;
	case OPT_COLLECT: a->collect = arg; break;
	case ARGP_KEY_ARG:
		if (a->file)
			argp_error(state, "one SWEEP file only ('%s' is extra)", arg);
		a->file = arg;
		break;
	case ARGP_KEY_END:
		if (a->collect && a->file)
			argp_error(state, "--collect DIR takes no SWEEP file");
		if (!a->collect && !a->file)
			argp_error(state, "SWEEP file missing");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static struct argp sweep_argp = {
	sweep_options, sweep_parse, "SWEEP.ini\n--collect DIR",
	"Run many simulations from one sweep file: a base config, fixed overrides and axes whose "
	"cross product (or a filtered part of it) are the runs (README, Sweeps).\v"
	"Every run's config is built and validated first.  Run NAME goes to DIR/runs/NAME/ "
	"(NAME: name=value,... over the axes); DIR/summary.csv gets one row per finished run: "
	"the axis values, then its stats.json's stats as scalars (histograms and per-zap arrays "
	"summarized).  A seeds = 1..N line runs every point once per seed (the seed an axis) and "
	"adds DIR/summary-replicates.csv and DIR/replicates.json: per point and stat, n, mean, "
	"sd and the 95% interval's half-width.  A run whose stats.json is "
	"complete and carries the run's config hash is done, and no back end runs it again.  "
	"The local back end reports each run on stderr, keeps DIR/runs/NAME/stderr.log of "
	"failed runs and exits with 1 if any failed.  --collect exits with 1 if runs are missing.",
	NULL, NULL, NULL
};

struct sweep_show { const struct sweep *sw; const char *dir; double start; };

/* The last non-empty line of a failed run's stderr.log, to show with the failure. */
static void last_line(const char *path, char *out, size_t n)
{
	FILE *f = fopen(path, "r");
	char line[512];
	out[0] = '\0';
	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0])
			snprintf(out, n, "%s", line);
	}
	if (f)
		fclose(f);
}

static void sweep_show_progress(void *ctx, const struct sweep_progress *p)
{
	struct sweep_show *sh = ctx;
	const char *name = sweep_run_name(sh->sw, p->run);
	int w = snprintf(NULL, 0, "%zu", p->total);
	if (p->ok) {
		fprintf(stderr, "[sweep] %*zu/%zu ok      %s (%.1f s)\n", w, p->done, p->total, name, p->seconds);
		return;
	}
	char log[4200], msg[512], why[64];
	snprintf(log, sizeof(log), "%s/runs/%s/stderr.log", sh->dir, name);
	last_line(log, msg, sizeof(msg));
	if (p->status < 0)
		snprintf(why, sizeof(why), "killed by signal %d", -p->status);
	else if (p->status)
		snprintf(why, sizeof(why), "exit status %d", p->status);
	else
		snprintf(why, sizeof(why), "exit status 0 but no current stats.json");
	fprintf(stderr, "[sweep] %*zu/%zu FAILED  %s (%s, %zu failed so far); log: %s\n", w, p->done, p->total, name,
		why, p->failed, log);
	if (msg[0])
		fprintf(stderr, "[sweep]     %s\n", msg);
}

static int sweep_report_collect(const char *dir)
{
	struct sweep_summary sum;
	struct sweep_error err;
	int r = sweep_collect(dir, &sum, &err);
	if (r) {
		fprintf(stderr, "eptsim sweep: %s\n", err.msg);
		return r == -ENOENT || r == -EINVAL ? EXIT_BAD_INPUT : 1;
	}
	printf("wrote %s/summary.csv: %zu of %zu runs, %zu stat columns\n", dir, sum.nr_done, sum.nr_runs,
	       sum.nr_columns);
	if (sum.nr_points)
		printf("wrote %s/summary-replicates.csv and replicates.json: %zu points, n, mean, sd and ci95 "
		       "of every stat over the seeds\n", dir, sum.nr_points);
	for (size_t i = 0; i < sum.nr_warnings; i++)
		fprintf(stderr, "eptsim sweep: warning: %s\n", sum.warnings[i]);
	for (size_t i = 0; i < sum.nr_missing; i++)
		fprintf(stderr, "eptsim sweep: missing %s/runs/%s (%s%s%s)\n", dir, sum.missing[i].name,
			sweep_run_state_name(sum.missing[i].state), sum.missing[i].why ? ": " : "",
			sum.missing[i].why ? sum.missing[i].why : "");
	if (sum.nr_missing)
		fprintf(stderr, "eptsim sweep: %zu of %zu runs missing from the summary\n", sum.nr_missing, sum.nr_runs);
	r = sum.nr_missing ? 1 : 0;
	sweep_summary_free(&sum);
	return r;
}

static int cmd_sweep(int argc, char **argv)
{
	struct sweep_args a = { .emit = EMIT_LOCAL };
	struct sweep_error err;
	struct sweep *sw;
	char outbuf[4096];
	int r;

	argp_parse(&sweep_argp, argc, argv, 0, NULL, &a);
	if (a.collect)
		return check_out("eptsim sweep", "--collect", a.collect, PATH_DIR) ?: sweep_report_collect(a.collect);
	if (sweep_load(a.file, &sw, &err)) {
		fprintf(stderr, "eptsim sweep: %s\n", err.msg);
		return EXIT_BAD_INPUT;
	}
	if (!a.out) {
		char tmp[4096];
		snprintf(tmp, sizeof(tmp), "%s", a.file);
		char *stem = basename(tmp);
		char *dot = strrchr(stem, '.');
		if (dot && dot != stem)
			*dot = '\0';
		snprintf(outbuf, sizeof(outbuf), "results/%s", stem);
		a.out = outbuf;
	}
	char why[PATH_MAX + 512];
	bool bad_out;
	if (a.dry_run) {   /* writes nothing: only the path's text is checked */
		bad_out = path_check_name(a.out, "--out", why, sizeof(why));
		if (bad_out)
			fprintf(stderr, "eptsim sweep: %s\n", why);
	} else {
		bad_out = check_out("eptsim sweep", "--out", a.out, PATH_DIR);
	}
	if (bad_out) {
		sweep_free(sw);
		return EXIT_BAD_INPUT;
	}
	size_t n = sweep_nr_runs(sw), done = 0;
	for (size_t i = 0; i < n; i++) {
		char rd[4200];
		snprintf(rd, sizeof(rd), "%s/runs/%s", a.out, sweep_run_name(sw, i));
		enum sweep_run_state st = sweep_run_check(rd, sweep_run_hash(sw, i), why, sizeof(why));
		done += st == SWEEP_RUN_DONE;
		if (a.dry_run)
			printf("%-24s %s%s%s\n", sweep_run_state_name(st), rd, why[0] ? ": " : "", why);
	}
	if (a.dry_run) {
		printf("%zu runs, %zu done\n", n, done);
		sweep_free(sw);
		return 0;
	}
	if (a.emit != EMIT_LOCAL) {
		r = a.emit == EMIT_SLURM ? sweep_emit_slurm(sw, a.out, "/proc/self/exe", a.force, &err)
					 : sweep_emit_jobs(sw, a.out, "/proc/self/exe", a.force, &err);
		if (r) {
			fprintf(stderr, "eptsim sweep: %s\n", err.msg);
			sweep_free(sw);
			return r == -EINVAL ? EXIT_BAD_INPUT : 1;
		}
		printf("wrote %s/jobs.txt: %zu runs (%zu done already%s)\n", a.out, n, done,
		       a.force ? ", run again" : ", skipped by their lines");
		if (a.emit == EMIT_SLURM)
			printf("wrote %s/sweep.sbatch: an array of %zu tasks\n"
			       "submit the array and a collect job after it:  bash %s/sweep.sbatch\n"
			       "or the array alone:  sbatch %s/sweep.sbatch;  then: eptsim sweep --collect %s\n",
			       a.out, n, a.out, a.out, a.out);
		else
			printf("run them:  parallel < %s/jobs.txt   (other machines sharing this file system: "
			       "parallel --sshloginfile FILE < %s/jobs.txt)\nthen:  eptsim sweep --collect %s\n",
			       a.out, a.out, a.out);
		sweep_free(sw);
		return 0;
	}
	if (!a.jobs) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);
		a.jobs = c > 0 ? (unsigned)c : 1;
	}
	struct sweep_show sh = { sw, a.out, 0 };
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fprintf(stderr, "[sweep] %zu runs, %zu done already%s; running %zu, %u at a time\n", n, done,
		a.force ? " (run again: --force)" : "", a.force ? n : n - done, a.jobs);
	struct sweep_local_result res;
	catch_stop_signals();
	r = sweep_run_local(sw, a.out, "/proc/self/exe", a.jobs, a.force, &run_signal, sweep_show_progress, &sh,
			    &res, &err);
	sweep_free(sw);
	if (r == -EINTR) {
		fprintf(stderr, "eptsim sweep: %s; %zu ran, %zu skipped as done; the same command resumes it\n",
			err.msg, res.ran, res.skipped);
		return EXIT_SIGNALLED(run_signal);
	}
	if (r) {
		fprintf(stderr, "eptsim sweep: %s\n", err.msg);
		return 1;
	}
	fprintf(stderr, "[sweep] %zu ran (%zu failed), %zu skipped as done, %.1f s\n", res.ran, res.failed,
		res.skipped, elapsed_s(&t0));
	int rc = sweep_report_collect(a.out);
	return res.failed ? 1 : rc;
}

/* ------------------------------------------------------------------ run --replicates */

/* The stats print_summary() shows, as summary.csv columns. */
static const char *const replicate_stats[] = {
	"zap.lock_breaks.sum", "zap.flushes.sum", "zap.pages.sum", "zap.count", "tlb_flush.count",
	"tlb_flush.refill_misses", "vcpu.reloads", "ept.faults", "vcpu.records", "mmu_lock.wait_cycles.p50",
	"mmu_lock.wait_cycles.p99", "mmu_lock.wait_cycles.max",
};

static void print_replicates(const char *dir, uint64_t first, uint64_t n)
{
	char path[PATH_MAX + 32], err[PATH_MAX + 512];
	int r;
	snprintf(path, sizeof(path), "%s/replicates.json", dir);
	json_t *doc = path_load_json(path, &r, err, sizeof(err));
	json_t *stats = json_object_get(json_array_get(json_object_get(doc, "points"), 0), "stats");
	printf("eptsim run --replicates %llu: seeds %llu..%llu; mean ± 95%% interval (n runs)\n",
	       (unsigned long long)n, (unsigned long long)first, (unsigned long long)(first + n - 1));
	for (size_t i = 0; i < sizeof(replicate_stats) / sizeof(replicate_stats[0]); i++) {
		json_t *st = json_object_get(stats, replicate_stats[i]);
		json_t *ci = json_object_get(st, "ci95");
		if (!st)
			continue;
		printf("%-26s %.6g", replicate_stats[i], json_number_value(json_object_get(st, "mean")));
		if (json_is_number(ci))
			printf(" ± %.3g", json_number_value(ci));
		printf(" (n=%lld)\n", (long long)json_integer_value(json_object_get(st, "n")));
	}
	printf("results in %s/ (runs/seed=S/, summary-replicates.csv, replicates.json)\n", dir);
	json_decref(doc);
}

/* `run --replicates N`: the one-point sweep over the seeds (sweep_replicates()), run by the
 * sweep's local back end and collected as a sweep is. */
static int run_replicates(const struct run_args *a, const struct scenario *sc)
{
	const char *sets[MAX_SETS];
	size_t nsets = 0;
	struct sweep_error err;
	struct sweep *sw;
	struct resdir_lock lock = { .fd = -1 };
	char errbuf[PATH_MAX + 512];

	/* run.seed is the axis: a --set of it gave the first seed (in sc), as --seed does */
	for (int i = 0; i < a->nsets; i++) {
		size_t kl = strcspn(a->sets[i], "=");
		while (kl && (a->sets[i][kl - 1] == ' ' || a->sets[i][kl - 1] == '\t'))
			kl--;
		if (kl != strlen(SWEEP_SEED_KEY) || strncmp(a->sets[i], SWEEP_SEED_KEY, kl))
			sets[nsets++] = a->sets[i];
	}
	if (sweep_replicates(a->config, sets, nsets, sc->seed, a->replicates, &sw, &err)) {
		fprintf(stderr, "eptsim: %s\n", err.msg);
		return EXIT_BAD_INPUT;
	}
	if (resdir_lock(a->out, &lock, errbuf, sizeof(errbuf))) {
		fprintf(stderr, "eptsim: %s\n", errbuf);
		sweep_free(sw);
		return EXIT_BAD_INPUT;
	}
	unsigned jobs = a->jobs;
	if (!jobs) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);
		jobs = c > 0 ? (unsigned)c : 1;
	}
	struct sweep_show sh = { sw, a->out, 0 };
	struct sweep_local_result res;
	catch_stop_signals();
	int r = sweep_run_local(sw, a->out, "/proc/self/exe", jobs, !a->skip_done, &run_signal,
				a->quiet ? NULL : sweep_show_progress, &sh, &res, &err);
	sweep_free(sw);
	int ret = 0;
	if (r == -EINTR) {
		fprintf(stderr, "eptsim: %s; %zu ran; run again with --skip-done to resume\n", err.msg, res.ran);
		ret = EXIT_SIGNALLED(run_signal);
	} else if (r) {
		fprintf(stderr, "eptsim: %s\n", err.msg);
		ret = 1;
	} else {
		struct sweep_summary sum;
		if (sweep_collect(a->out, &sum, &err)) {
			fprintf(stderr, "eptsim: %s\n", err.msg);
			ret = 1;
		} else {
			for (size_t i = 0; i < sum.nr_warnings; i++)
				fprintf(stderr, "eptsim: warning: %s\n", sum.warnings[i]);
			if (sum.nr_missing)
				fprintf(stderr, "eptsim: %zu of %zu replicates failed (logs: %s/runs/seed=S/stderr.log)\n",
					sum.nr_missing, sum.nr_runs, a->out);
			if (!a->quiet && sum.nr_done)
				print_replicates(a->out, sc->seed, a->replicates);
			ret = res.failed || sum.nr_missing ? 1 : 0;
			sweep_summary_free(&sum);
		}
	}
	resdir_unlock(&lock);
	return ret;
}

/* ------------------------------------------------------------------ plot */

enum plot_kind {
	PLOT_KIND_ZAP, PLOT_KIND_MMIO, PLOT_KIND_COLLAPSE,
	PLOT_KIND_SWEEP, PLOT_KIND_CDF, PLOT_KIND_STALLS, PLOT_KIND_TIMELINE,
};

static const char *const plot_kind_names[] = {
	"zap", "mmio", "collapse", "sweep", "cdf", "stalls", "timeline",
};
#define NR_PLOT_KINDS (sizeof(plot_kind_names) / sizeof(plot_kind_names[0]))

struct plot_args {
	const char *dirs[MAX_DIRS];
	int n;
	const char *out;
	enum plot_kind kind;
	struct chart_opts o;
	bool chart_only;   /* an option only the chart kinds take was given */
};

enum { OPT_X = 0x300, OPT_Y, OPT_BY, OPT_WHERE, OPT_FROM, OPT_TO, OPT_TITLE, OPT_SCRIPT_DIR };

static struct argp_option plot_options[] = {
	{ "out", 'o', "FILE", 0, "Output image, .png or .svg (required)", 0 },
	{ "kind", 'k', "KIND", 0,
	  "zap (default): the zap-all comparison; mmio: the MMIO-spte invalidation variants "
	  "over guest size; collapse: large-page coverage and vCPU throughput over time of a "
	  "cancelled migration, one line per mmu.collapse variant; sweep: a stat against a swept "
	  "parameter (one sweep folder); cdf: the distribution of mmu_lock waits (or --y HIST), one "
	  "line per run; stalls: vCPU time besides guest execution, one bar per run; timeline: who "
	  "held mmu_lock when in one run (output.lock_timeline = true)", 0 },
	{ 0, 0, 0, 0, "--kind sweep, cdf, stalls, timeline:", 1 },
	{ "x", OPT_X, "COLUMN", 0, "sweep: the x axis, a column of summary.csv (an axis: its key or "
	  "short name)", 1 },
	{ "y", OPT_Y, "COLUMN", 0, "sweep: a stat column to draw (repeatable: one row of panels "
	  "each); cdf: the histogram (default mmu_lock.wait_cycles)", 1 },
	{ "by", OPT_BY, "COLUMN", 0, "sweep: one line per value of this column (default: the first "
	  "non-numeric axis with several values)", 1 },
	{ "where", OPT_WHERE, "KEY=V[|V...]", 0, "keep only a sweep's runs whose KEY is one of "
	  "the values (repeatable; sweep, and sweep folders given to cdf and stalls)", 1 },
	{ "from", OPT_FROM, "MS", 0, "timeline: start of the zoom (default: around the VMM "
	  "thread's longest hold)", 1 },
	{ "to", OPT_TO, "MS", 0, "timeline: end of the zoom", 1 },
	{ "title", OPT_TITLE, "TEXT", 0, "the figure's title instead of its own", 1 },
	{ "script-dir", OPT_SCRIPT_DIR, "DIR", 0, "also write the gnuplot script and its data "
	  "files into DIR (`gnuplot plot.gp` there draws the figure again)", 1 },
	{ 0 }
};

/* A time in ms of a run: 0 to workload.duration_ms's largest value. */
#define PLOT_MS_MAX 1e9

static double plot_ms_arg(struct argp_state *state, const char *opt, const char *arg)
{
	return opt_real(state, opt, arg, 0, PLOT_MS_MAX, "a time in ms");
}

static error_t plot_parse(int key, char *arg, struct argp_state *state)
{
	struct plot_args *a = state->input;
	size_t k;

	switch (key) {
	case 'o': a->out = arg; break;
	case 'k':
		for (k = 0; k < NR_PLOT_KINDS && strcmp(arg, plot_kind_names[k]); k++)
			;
		if (k == NR_PLOT_KINDS)
			argp_error(state, "unknown --kind '%s' (zap, mmio, collapse, sweep, cdf, stalls "
				   "or timeline)", arg);
		a->kind = (enum plot_kind)k;
		break;
	case OPT_X: a->o.x = arg; a->chart_only = true; break;
	case OPT_BY: a->o.by = arg; a->chart_only = true; break;
	case OPT_Y:
		if (a->o.ny == CHART_MAX_Y)
			argp_error(state, "more than %d --y", CHART_MAX_Y);
		a->o.y[a->o.ny++] = arg;
		a->chart_only = true;
		break;
	case OPT_WHERE:
		if (a->o.nwhere == CHART_MAX_WHERE)
			argp_error(state, "more than %d --where", CHART_MAX_WHERE);
		a->o.where[a->o.nwhere++] = arg;
		a->chart_only = true;
		break;
	case OPT_FROM: a->o.from_ms = plot_ms_arg(state, "--from", arg); a->chart_only = true; break;
	case OPT_TO: a->o.to_ms = plot_ms_arg(state, "--to", arg); a->chart_only = true; break;
	case OPT_TITLE: a->o.title = arg; a->chart_only = true; break;
	case OPT_SCRIPT_DIR: a->o.keep = arg; a->chart_only = true; break;
	case ARGP_KEY_ARG:
		if (a->n == MAX_DIRS)
			argp_error(state, "more than %d result folders", MAX_DIRS);
		a->dirs[a->n++] = arg;
		break;
	case ARGP_KEY_END:
		if (!a->n)
			argp_error(state, "no result folder given");
		if (!a->out)
			argp_error(state, "--out FILE is required");
		if (a->chart_only && a->kind <= PLOT_KIND_COLLAPSE)
			argp_error(state, "--kind %s takes none of --x, --y, --by, --where, --from, --to, "
				   "--title, --script-dir", plot_kind_names[a->kind]);
		if ((a->kind == PLOT_KIND_SWEEP || a->kind == PLOT_KIND_TIMELINE) && a->n != 1)
			argp_error(state, "--kind %s takes one folder", plot_kind_names[a->kind]);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static struct argp plot_argp = {
	plot_options, plot_parse, "DIR...",
	"Draw lock-breaks per zap, remote flushes per zap and the vCPU time breakdown of one or "
	"more result folders side by side (gnuplot).  With --kind mmio: the mmu_lock hold per "
	"MMIO invalidation, the vCPU stall behind mmu_lock and the slow-path MMIO refaults "
	"against shadow pages, one line per mmu.mmio_invalidate variant.  With --kind collapse: "
	"the large-page coverage and vCPU throughput over time (series/, output.series = true) "
	"before, during and after dirty logging, one line per mmu.collapse variant.  With --kind "
	"sweep (a sweep folder): --y against --x, one line per --by value, one panel per value of "
	"any other axis that varies.  With --kind cdf or stalls: run folders and sweep folders (all "
	"their runs, or those --where keeps).  With --kind timeline (a run folder): the mmu_lock "
	"holds of every vCPU and of the VMM thread over time, the whole run and a zoom.",
	NULL, NULL, NULL
};

static int cmd_plot(int argc, char **argv)
{
	struct plot_args a = { .n = 0, .kind = PLOT_KIND_ZAP };
	char err[1024] = "";
	int r;

	chart_opts_init(&a.o);
	argp_parse(&plot_argp, argc, argv, 0, NULL, &a);
	if (check_out("eptsim plot", "--out", a.out, PATH_FILE) ||
	    (a.o.keep && check_out("eptsim plot", "--script-dir", a.o.keep, PATH_DIR)))
		return EXIT_BAD_INPUT;
	switch (a.kind) {
	case PLOT_KIND_MMIO:
		r = plot_mmio(a.dirs, a.n, a.out, err, sizeof(err));
		break;
	case PLOT_KIND_COLLAPSE:
		r = plot_collapse(a.dirs, a.n, a.out, err, sizeof(err));
		break;
	case PLOT_KIND_SWEEP:
		r = chart_sweep(a.dirs[0], &a.o, a.out, err, sizeof(err));
		break;
	case PLOT_KIND_CDF:
		r = chart_cdf(a.dirs, a.n, &a.o, a.out, err, sizeof(err));
		break;
	case PLOT_KIND_STALLS:
		r = chart_stalls(a.dirs, a.n, &a.o, a.out, err, sizeof(err));
		break;
	case PLOT_KIND_TIMELINE:
		r = chart_timeline(a.dirs[0], &a.o, a.out, err, sizeof(err));
		break;
	default:
		r = plot_runs(a.dirs, a.n, a.out, err, sizeof(err));
		break;
	}
	if (r) {
		fprintf(stderr, "eptsim plot: %s\n", err);
		return r == -EINVAL || r == -ENOENT ? EXIT_BAD_INPUT : 1;
	}
	printf("wrote %s\n", a.out);
	return 0;
}

/* ------------------------------------------------------------------ report */

struct report_args { const char *dir; struct report_opts o; };

static struct argp_option report_options[] = {
	{ "stats", 's', "COLUMN,...", 0,
	  "The table's stat columns (summary.csv names) instead of the default list; a stat in "
	  "cycles is shown in µs", 0 },
	{ 0 }
};

static error_t report_parse(int key, char *arg, struct argp_state *state)
{
	struct report_args *a = state->input;
	char *save = NULL, *tok;

	switch (key) {
	case 's':
		for (tok = strtok_r(arg, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			if (a->o.nstats == REPORT_MAX_STATS)
				argp_error(state, "more than %d --stats columns", REPORT_MAX_STATS);
			a->o.stats[a->o.nstats++] = tok;
		}
		break;
	case ARGP_KEY_ARG:
		if (a->dir)
			argp_error(state, "one sweep folder only");
		a->dir = arg;
		break;
	case ARGP_KEY_END:
		if (!a->dir)
			argp_error(state, "a sweep folder is needed");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static struct argp report_argp = {
	report_options, report_parse, "DIR",
	"Write DIR/report.md for a sweep folder: a table of key stats per run (lock-breaks and "
	"remote flushes per zap, max and p99 mmu_lock wait, EPT faults, refaults, and the MMIO or "
	"collapse stats when the sweep varies those algorithms) from DIR/summary.csv, and figures "
	"in DIR/plots/ linked from it: each key stat against each numeric axis, the vCPU stall "
	"breakdown, the CDF of mmu_lock waits, and the mmu_lock timeline when runs wrote one.",
	NULL, NULL, NULL
};

static int cmd_report(int argc, char **argv)
{
	struct report_args a = { 0 };
	struct report_result res;
	char err[1024] = "";
	int r;

	argp_parse(&report_argp, argc, argv, 0, NULL, &a);
	if (check_out("eptsim report", "DIR", a.dir, PATH_DIR))   /* DIR/report.md, DIR/plots/ */
		return EXIT_BAD_INPUT;
	r = report_write(a.dir, &a.o, &res, err, sizeof(err));
	if (r) {
		fprintf(stderr, "eptsim report: %s\n", err);
		return r == -EINVAL || r == -ENOENT ? EXIT_BAD_INPUT : 1;
	}
	printf("wrote %s: %zu of %zu runs, %d figures in %s/plots/", res.path, res.rows, res.runs,
	       res.plots, a.dir);
	if (res.skipped)
		printf(" (%d left out: see the page)", res.skipped);
	printf("\n");
	return 0;
}

/* ------------------------------------------------------------------ trace */

static int trace_fail(const char *verb, int r, const struct trace_error *err)
{
	fprintf(stderr, "eptsim trace %s: %s\n", verb, err->msg[0] ? err->msg : strerror(-r));
	return r == -EINVAL || r == -ENOENT || r == -EISDIR || r == -EACCES || r == -ENOTDIR ? EXIT_BAD_INPUT : 1;
}

struct trace_args {
	const char *verb;
	const char *files[MAX_DIRS];
	int n;
	const char *format, *source;
	unsigned vcpu;
};

static struct argp_option trace_options[] = {
	{ "format", 'f', "FORMAT", 0, "import: the foreign format (lackey)", 0 },
	{ "vcpu", 'c', "N", 0, "import: the vCPU the records belong to (default 0)", 0 },
	{ "source", 'S', "TEXT", 0, "import: the header's source description", 0 },
	{ 0 }
};

static error_t trace_parse(int key, char *arg, struct argp_state *state)
{
	struct trace_args *a = state->input;
	switch (key) {
	case 'f': a->format = arg; break;
	case 'S':
		if (strlen(arg) > TRACE_SOURCE_MAX)
			argp_error(state, "--source: %zu characters, longer than the %u a trace header holds",
				   strlen(arg), TRACE_SOURCE_MAX);
		a->source = arg;
		break;
	case 'c':
		a->vcpu = (unsigned)opt_u64(state, "--vcpu", arg, 0, TRACE_MAX_VCPUS - 1, NULL);
		break;
	case ARGP_KEY_ARG:
		if (!a->verb)
			a->verb = arg;
		else if (a->n == MAX_DIRS)
			argp_error(state, "too many files");
		else
			a->files[a->n++] = arg;
		break;
	case ARGP_KEY_END:
		if (!a->verb)
			argp_error(state, "which: info, cat, convert, import or merge?");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static struct argp trace_argp = {
	trace_options, trace_parse, "info TRACE\ncat TRACE\nconvert IN.txt OUT\nimport --format lackey IN|- OUT\nmerge IN... OUT",
	"Inspect, convert and import traces (eptsim's format: README, Traces).\v"
	"info: header, records by kind and vCPU, address range, distinct 4K/2M pages, bytes per record.\n"
	"cat: one record a line (text form).  convert: the text form back to a trace (cat | convert round-trips).\n"
	"import: Valgrind lackey --trace-mem=yes output ('-' reads standard input).\n"
	"merge: single-vCPU traces -> one multi-vCPU trace (input i is vCPU i), interleaved by instruction count.",
	NULL, NULL, NULL
};

static int cmd_trace(int argc, char **argv)
{
	struct trace_args a = { .vcpu = 0 };
	struct trace_error err = { "" };
	int r;

	argp_parse(&trace_argp, argc, argv, 0, NULL, &a);
	/* the verbs that write: their last file is OUT ("-": standard output) */
	bool writes = (!strcmp(a.verb, "convert") && a.n == 2) || (!strcmp(a.verb, "import") && a.n == 2) ||
		      (!strcmp(a.verb, "merge") && a.n >= 3);
	char who[64];
	snprintf(who, sizeof(who), "eptsim trace %s", a.verb);
	if (writes && strcmp(a.files[a.n - 1], "-") && check_out(who, "OUT", a.files[a.n - 1], PATH_FILE))
		return EXIT_BAD_INPUT;
	tmpfiles_catch_signals();   /* SIGINT/SIGTERM remove OUT.tmp.PID, then kill us */
	if (!strcmp(a.verb, "info") && a.n == 1) {
		struct trace_info info;
		if ((r = trace_info_read(a.files[0], &info, &err)))
			return trace_fail(a.verb, r, &err);
		trace_info_print(&info, stdout);
		trace_info_free(&info);
		return 0;
	}
	if (!strcmp(a.verb, "cat") && a.n == 1) {
		if ((r = trace_cat(a.files[0], stdout, &err)))
			return trace_fail(a.verb, r, &err);
		return 0;
	}
	if (!strcmp(a.verb, "convert") && a.n == 2) {
		if ((r = trace_convert(a.files[0], a.files[1], &err)))
			return trace_fail(a.verb, r, &err);
		return 0;
	}
	if (!strcmp(a.verb, "merge") && a.n >= 3) {
		if ((r = trace_merge(a.files, a.n - 1, a.files[a.n - 1], &err)))
			return trace_fail(a.verb, r, &err);
		return 0;
	}
	if (!strcmp(a.verb, "import") && a.n == 2) {
		if (!a.format || strcmp(a.format, "lackey")) {
			fprintf(stderr, "eptsim trace import: --format lackey is required (the only importer so far)\n");
			return EXIT_BAD_INPUT;
		}
		FILE *in = strcmp(a.files[0], "-") ? fopen(a.files[0], "r") : stdin;
		if (!in) {
			fprintf(stderr, "eptsim trace import: %s: %s\n", a.files[0], strerror(errno));
			return EXIT_BAD_INPUT;
		}
		struct trace_header h = { .version = TRACE_VERSION, .nr_vcpus = a.vcpu + 1,
					  .addr_kind = TRACE_ADDR_GVA, .paging = TRACE_PAGING_4LEVEL };
		snprintf(h.source, sizeof(h.source), "%s", a.source ? a.source : "valgrind lackey");
		struct trace_writer *w;
		struct lackey_stats st;
		struct timespec t0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if ((r = trace_create(a.files[1], &h, &w, &err))) {
			if (in != stdin)
				fclose(in);
			return trace_fail(a.verb, r, &err);
		}
		r = lackey_import(in, a.files[0], w, (uint16_t)a.vcpu, &st, &err);
		if (in != stdin)
			fclose(in);
		if (r) {
			trace_abort(w);
			return trace_fail(a.verb, r, &err);
		}
		if ((r = trace_finish(w, &err)))
			return trace_fail(a.verb, r, &err);
		double s = elapsed_s(&t0);
		fprintf(stderr, "imported %llu lines (%llu ignored) into %llu records in %.2f s (%.1f M lines/s)\n",
			(unsigned long long)st.lines, (unsigned long long)st.ignored, (unsigned long long)st.records, s,
			s > 0 ? (double)st.lines / s / 1e6 : 0.0);
		return 0;
	}
	fprintf(stderr, "eptsim trace: wrong arguments for '%s' (try eptsim trace --help)\n", a.verb);
	return EXIT_BAD_INPUT;
}

/* ------------------------------------------------------------------ workload */

struct workload_args {
	const char *name, *out, *config;
	const char *sets[MAX_SETS];
	int nsets;
	uint64_t records, seed;
	bool seed_set;
};

static struct argp_option workload_options[] = {
	{ "out", 'o', "FILE", 0, "The trace to write (required)", 0 },
	{ "records", 'n', "N", 0, "Records to write, all vCPUs together (default 1000000)", 0 },
	{ "config", 'C', "CONFIG", 0, "Take guest and workload keys from this config (else the defaults)", 0 },
	{ "set", 'S', "SECTION.KEY=VALUE", 0, "Override one config key (repeatable)", 0 },
	{ "seed", 's', "N", 0, "Random seed (default 1)", 0 },
	{ 0 }
};

static error_t workload_parse(int key, char *arg, struct argp_state *state)
{
	struct workload_args *a = state->input;
	switch (key) {
	case 'o': a->out = arg; break;
	case 'C': a->config = arg; break;
	case 'S':
		if (a->nsets == MAX_SETS)
			argp_error(state, "more than %d --set options", MAX_SETS);
		a->sets[a->nsets++] = arg;
		break;
	case 'n':
		a->records = opt_u64(state, "--records", arg, 0, UINT64_MAX, NULL);
		break;
	case 's':
		a->seed = opt_u64(state, "--seed", arg, 0, CONFIG_SEED_MAX, SEED_WHY);
		a->seed_set = true;
		break;
	case ARGP_KEY_ARG:
		if (a->name)
			argp_error(state, "one generator NAME only");
		a->name = arg;
		break;
	case ARGP_KEY_END:
		if (!a->name)
			argp_error(state, "generator NAME missing (kbuild, random, stream, zipf-kv, touch-all)");
		if (!a->out)
			argp_error(state, "--out FILE is required");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static struct argp workload_argp = {
	workload_options, workload_parse, "NAME",
	"Write a synthetic generator's records as a trace file (NAME: kbuild, random, stream, zipf-kv, touch-all).\v"
	"The vCPUs' streams are interleaved by instruction count; the guest layout (guest.*) and the "
	"workload.* keys shape the addresses, exactly as in a run.",
	NULL, NULL, NULL
};

static int cmd_workload(int argc, char **argv)
{
	struct workload_args a = { .records = 1000000 };
	static struct scenario sc;
	struct trace_error terr = { "" };
	char err[512] = "";
	int r = 0;

	argp_parse(&workload_argp, argc, argv, 0, NULL, &a);
	if (strcmp(a.out, "-") && check_out("eptsim workload", "--out", a.out, PATH_FILE))
		return EXIT_BAD_INPUT;
	tmpfiles_catch_signals();   /* SIGINT/SIGTERM remove FILE.tmp.PID, then kill us */
	if (!workload_find(a.name) || !strcmp(a.name, "trace")) {
		fprintf(stderr, "eptsim workload: no generator named '%s'\n", a.name);
		return EXIT_BAD_INPUT;
	}
	if (load_scenario(&sc, "eptsim workload", a.config, a.sets, a.nsets, a.seed_set, a.seed, a.name))
		return EXIT_BAD_INPUT;
	struct guest_layout layout;
	guest_layout_init(&layout, &sc);
	struct workload **w = calloc(sc.vcpus, sizeof(*w));
	struct trace_record *next = calloc(sc.vcpus, sizeof(*next));
	uint64_t *clock = calloc(sc.vcpus, sizeof(*clock));
	struct trace_writer *tw = NULL;
	struct trace_header h = { .version = TRACE_VERSION, .nr_vcpus = sc.vcpus,
				  .addr_kind = sc.paging == GUEST_PAGING_NONE ? TRACE_ADDR_GPA : TRACE_ADDR_GVA,
				  .paging = sc.paging == GUEST_PAGING_NONE ? TRACE_PAGING_NONE : TRACE_PAGING_4LEVEL };
	snprintf(h.source, sizeof(h.source), "eptsim workload %s, seed %llu, %u vCPUs", a.name,
		 (unsigned long long)sc.seed, sc.vcpus);
	if (!w || !next || !clock) {
		fprintf(stderr, "eptsim workload: out of memory\n");
		r = 1;
		goto out;
	}
	for (uint32_t i = 0; i < sc.vcpus; i++) {
		if (!(w[i] = workload_new(&sc, &layout, i, err, sizeof(err)))) {
			fprintf(stderr, "eptsim workload: %s\n", err);
			r = EXIT_BAD_INPUT;
			goto out;
		}
		if (workload_next(w[i], &next[i]) <= 0) {
			fprintf(stderr, "eptsim workload: %s: %s\n", a.name, w[i]->err);
			r = 1;
			goto out;
		}
	}
	if (trace_create(a.out, &h, &tw, &terr)) {
		r = trace_fail("write", -EIO, &terr);
		goto out;
	}
	for (uint64_t k = 0; k < a.records; k++) {
		uint32_t best = 0;   /* the vCPU that has executed the fewest instructions */
		for (uint32_t i = 1; i < sc.vcpus; i++)
			if (clock[i] + next[i].icount < clock[best] + next[best].icount)
				best = i;
		clock[best] += next[best].icount;
		next[best].vcpu = (uint16_t)best;
		if (trace_write(tw, &next[best], &terr) || workload_next(w[best], &next[best]) <= 0) {
			fprintf(stderr, "eptsim workload: %s\n", terr.msg[0] ? terr.msg : w[best]->err);
			trace_abort(tw);
			tw = NULL;
			r = 1;
			goto out;
		}
	}
	if (trace_finish(tw, &terr)) {
		tw = NULL;
		r = trace_fail("write", -EIO, &terr);
		goto out;
	}
	tw = NULL;
	printf("wrote %llu records of %s to %s\n", (unsigned long long)a.records, a.name, a.out);
out:
	if (tw)
		trace_abort(tw);
	for (uint32_t i = 0; w && i < sc.vcpus; i++)
		workload_free(w[i]);
	free(w);
	free(next);
	free(clock);
	return r;
}

/* ------------------------------------------------------------------ config */

struct config_args { bool markdown, defaults; };

static struct argp_option config_options[] = {
	{ "markdown", 'm', 0, 0, "Print the key reference as a Markdown table (README)", 0 },
	{ "defaults", 'D', 0, 0, "Print every key with its default value as INI", 0 },
	{ 0 }
};

static error_t config_parse(int key, char *arg, struct argp_state *state)
{
	struct config_args *a = state->input;
	switch (key) {
	case 'm': a->markdown = true; break;
	case 'D': a->defaults = true; break;
	case ARGP_KEY_ARG: argp_error(state, "unexpected argument '%s'", arg); break;
	default: return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static struct argp config_argp = {
	config_options, config_parse, NULL, "Describe the configuration schema.", NULL, NULL, NULL
};

static int cmd_config(int argc, char **argv)
{
	struct config_args a = { false, false };
	static struct scenario sc;

	argp_parse(&config_argp, argc, argv, 0, NULL, &a);
	if (a.markdown) {
		config_markdown(stdout);
	} else {
		config_defaults(&sc);
		config_dump(&sc, stdout);
	}
	return 0;
}

/* ------------------------------------------------------------------ top level */

static const struct { const char *name; int (*fn)(int, char **); const char *help; } commands[] = {
	{ "run", cmd_run, "run one simulation from an INI config" },
	{ "sweep", cmd_sweep, "run many simulations from a sweep file" },
	{ "plot", cmd_plot, "plot result folders side by side" },
	{ "report", cmd_report, "write a sweep folder's report.md and its figures" },
	{ "config", cmd_config, "print the config schema (defaults, or --markdown)" },
	{ "trace", cmd_trace, "inspect, convert, import and merge traces" },
	{ "workload", cmd_workload, "write a synthetic workload as a trace" },
	{ "validate", cmd_validate, "run the validation configs against their published measurements" },
};
#define NR_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static error_t top_parse(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case ARGP_KEY_ARG:
		for (size_t i = 0; i < NR_COMMANDS; i++) {
			if (strcmp(arg, commands[i].name))
				continue;
			/* hand the rest of the command line to the subcommand's own parser */
			int sub_argc = state->argc - state->next + 1;
			char **sub_argv = &state->argv[state->next - 1];
			char name[64];
			snprintf(name, sizeof(name), "%s %s", state->name, arg);
			sub_argv[0] = name;
			exit(commands[i].fn(sub_argc, sub_argv));
		}
		argp_error(state, "unknown command '%s' (try --help)", arg);
		break;
	case ARGP_KEY_END:
		argp_error(state, "a COMMAND is needed (try --help)");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static struct argp top_argp = {
	NULL, top_parse, "COMMAND [ARGS...]",
	"eptsim: a cycle-approximate simulator of x86 EPT virtualization and KVM's MMU.\v"
	"Commands:\n"
	"  run CONFIG [OPTION...]       run one simulation\n"
	"  sweep SWEEP.ini [--out DIR] [-j N] [--emit local|parallel|slurm]   many runs\n"
	"  sweep --collect DIR          rebuild a sweep's summary.csv\n"
	"  plot DIR... --out FILE [--kind zap|mmio|collapse|sweep|cdf|stalls|timeline]\n"
	"                               plot result folders\n"
	"  report DIR [--stats COL,...]  a sweep folder's report.md and figures\n"
	"  config [--markdown]          print the config schema\n"
	"  trace info|cat|convert|import|merge ...   work with trace files\n"
	"  workload NAME --out FILE     write a generator's records as a trace\n"
	"  validate [FILE|DIR]... [--markdown]   the model against published measurements\n"
	"'eptsim COMMAND --help' describes each.  Exit status: 0 ok, 1 failure, 2 bad input.",
	NULL, NULL, NULL
};

int main(int argc, char **argv)
{
	argp_err_exit_status = ARGP_EXIT_STATUS;
	argp_parse(&top_argp, argc, argv, ARGP_IN_ORDER, NULL, NULL);
	return 0;
}
