/* eptsim — command line (argp).  Subcommands: run, plot, config.  Only this file and the
 * report layer print.  Exit status: 0 success, 1 failure while running, 2 bad input. */
#include "sim/config.h"
#include "version.h"
#include "sim/plot.h"
#include "sim/sim.h"
#include "sim/stats.h"

#include <argp.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* ------------------------------------------------------------------ run */

struct run_args {
	const char *config;
	const char *out;
	const char *sets[MAX_SETS];
	int nsets;
	uint64_t seed;
	bool seed_set, dump, quiet;
	enum engine_mode mode;
};

enum { OPT_ENGINE = 0x100 };

static struct argp_option run_options[] = {
	{ "out", 'o', "DIR", 0, "Results folder (default: results/<config file stem>/)", 0 },
	{ "seed", 's', "N", 0, "Random seed (default 1)", 0 },
	{ "set", 'S', "SECTION.KEY=VALUE", 0, "Override one config key (repeatable)", 0 },
	{ "dump-config", 'd', 0, 0, "Print the effective configuration as INI and exit", 0 },
	{ "quiet", 'q', 0, 0, "No summary on stdout, no progress on stderr", 0 },
	{ "engine", OPT_ENGINE, "MODE", 0,
	  "batched (default) or per-access: one event per record (slow; gives the same results)", 0 },
	{ 0 }
};

static error_t run_parse(int key, char *arg, struct argp_state *state)
{
	struct run_args *a = state->input;
	char *end;

	switch (key) {
	case 'o': a->out = arg; break;
	case 's':
		errno = 0;
		a->seed = strtoull(arg, &end, 0);
		if (errno || *end || !*arg || *arg == '-')
			argp_error(state, "--seed: '%s' is not a non-negative integer", arg);
		a->seed_set = true;
		break;
	case 'S':
		if (a->nsets == MAX_SETS)
			argp_error(state, "more than %d --set options", MAX_SETS);
		a->sets[a->nsets++] = arg;
		break;
	case 'd': a->dump = true; break;
	case 'q': a->quiet = true; break;
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
	"DIR/config.ini and DIR/series/*.dat.  A progress line goes to stderr when it is a "
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
	printf("results in %s/\n", dir);
}

static int cmd_run(int argc, char **argv)
{
	struct run_args a = { .mode = ENGINE_BATCHED };
	static struct scenario sc;
	struct config_error err = { { 0 } };
	char outbuf[4096], errbuf[512] = "";

	argp_parse(&run_argp, argc, argv, 0, NULL, &a);
	config_defaults(&sc);
	if (config_load(&sc, a.config, &err)) {
		fprintf(stderr, "eptsim: %s\n", err.msg);
		return EXIT_BAD_INPUT;
	}
	for (int i = 0; i < a.nsets; i++) {
		if (config_set(&sc, a.sets[i], &err)) {
			fprintf(stderr, "eptsim: %s\n", err.msg);
			return EXIT_BAD_INPUT;
		}
	}
	if (a.seed_set)
		sc.seed = a.seed;
	if (config_validate(&sc, &err)) {
		fprintf(stderr, "eptsim: %s\n", err.msg);
		return EXIT_BAD_INPUT;
	}
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
	struct sim *s = sim_new(&sc, a.mode, errbuf, sizeof(errbuf));
	if (!s) {
		fprintf(stderr, "eptsim: %s: %s\n", a.config, errbuf);
		return EXIT_BAD_INPUT;
	}
	struct progress p = { .freq_mhz = sc.freq_mhz };
	clock_gettime(CLOCK_MONOTONIC, &p.start);
	if (!a.quiet && isatty(STDERR_FILENO))
		sim_set_progress(s, show_progress, &p);
	sim_run(s);
	if (p.shown)
		fprintf(stderr, "\n");
	int r = sim_write_results(s, a.out);
	if (r) {
		fprintf(stderr, "eptsim: writing results to %s: %s\n", a.out, strerror(-r));
		sim_free(s);
		return 1;
	}
	if (!a.quiet) {
		print_summary(s, &sc, a.out);
		printf("wall time %.2f s\n", elapsed_s(&p.start));
	}
	sim_free(s);
	return 0;
}

/* ------------------------------------------------------------------ plot */

struct plot_args { const char *dirs[MAX_DIRS]; int n; const char *out; };

static struct argp_option plot_options[] = {
	{ "out", 'o', "FILE", 0, "Output image, .png or .svg (required)", 0 },
	{ 0 }
};

static error_t plot_parse(int key, char *arg, struct argp_state *state)
{
	struct plot_args *a = state->input;
	switch (key) {
	case 'o': a->out = arg; break;
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
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static struct argp plot_argp = {
	plot_options, plot_parse, "DIR...",
	"Draw lock-breaks per zap, remote flushes per zap and the vCPU time breakdown of one or "
	"more result folders side by side (gnuplot).",
	NULL, NULL, NULL
};

static int cmd_plot(int argc, char **argv)
{
	struct plot_args a = { .n = 0 };
	char err[1024] = "";

	argp_parse(&plot_argp, argc, argv, 0, NULL, &a);
	int r = plot_runs(a.dirs, a.n, a.out, err, sizeof(err));
	if (r) {
		fprintf(stderr, "eptsim plot: %s\n", err);
		return r == -EINVAL || r == -ENOENT ? EXIT_BAD_INPUT : 1;
	}
	printf("wrote %s\n", a.out);
	return 0;
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
	{ "plot", cmd_plot, "plot result folders side by side" },
	{ "config", cmd_config, "print the config schema (defaults, or --markdown)" },
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
	"  plot DIR... --out FILE       plot result folders side by side\n"
	"  config [--markdown]          print the config schema\n"
	"'eptsim COMMAND --help' describes each.  Exit status: 0 ok, 1 failure, 2 bad input.",
	NULL, NULL, NULL
};

int main(int argc, char **argv)
{
	argp_err_exit_status = ARGP_EXIT_STATUS;
	argp_parse(&top_argp, argc, argv, ARGP_IN_ORDER, NULL, NULL);
	return 0;
}
