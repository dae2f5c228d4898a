/* sim/validate — the model against published measurements.  See validate.h. */
#include "sim/validate.h"

#include "sim/numparse.h"
#include "sim/paths.h"
#include "sim/resdir.h"
#include "sim/sweep.h"

#include <argp.h>
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* validate.reduce's name, from the config schema */
static const char *reduce_name(const struct validate_row *r)
{
	return config_enum_name("validate", "reduce", r->v.reduce);
}

#define EXIT_BAD_INPUT 2
#define EXIT_SIGNALLED(sig) (128 + (sig))

static const char *const unit_label[] = { "", "µs", "ms", "%", "x" };
static const char *const unit_ascii[] = { "", "us", "ms", "%", "x" };   /* the plain table: one column per character */
static const char *const unit_key[] = { "count", "us", "ms", "percent", "factor" };   /* validate.unit's names */

static bool unit_is_time(int unit)
{
	return unit == VALIDATE_US || unit == VALIDATE_MS;
}

/* ------------------------------------------------------------------ a row */

static int row_errf(char *err, size_t n, const struct validate_row *r, const char *what)
{
	snprintf(err, n, "%s: validate.%s", r->path, what);
	return -EINVAL;
}

int validate_load_row(const char *path, struct validate_row *r, char *err, size_t errlen)
{
	static struct scenario sc;   /* large; one row is loaded at a time */
	struct config_error cerr;
	char tmp[sizeof(r->path)];

	memset(r, 0, sizeof(*r));
	snprintf(r->path, sizeof(r->path), "%s", path);
	snprintf(tmp, sizeof(tmp), "%s", path);
	char *stem = basename(tmp), *dot = strrchr(stem, '.');
	if (dot && dot != stem)
		*dot = '\0';
	snprintf(r->name, sizeof(r->name), "%s", stem);
	config_defaults(&sc);
	int ret = config_load(&sc, path, &cerr);
	if (!ret)
		ret = config_validate(&sc, &cerr);
	if (ret) {
		snprintf(err, errlen, "%s", cerr.msg);
		return ret;
	}
	r->v = sc.validate;
	r->freq_mhz = sc.freq_mhz;
	config_hash(&sc, r->hash);
	r->seed = sc.seed;
	const struct validate_cfg *v = &r->v;
	if (!v->source[0])
		return row_errf(err, errlen, r, "source: missing (title, author, date of the measurement)");
	if (!v->published[0])
		return row_errf(err, errlen, r, "published: missing (the published figure)");
	if (!v->stat[0] && !v->unreachable[0])
		return row_errf(err, errlen, r, "stat: missing (the stats.json stat compared; or say why the "
				"model cannot reach the measurement in validate.unreachable)");
	if (v->band_lo > v->band_hi)
		return row_errf(err, errlen, r, "band_lo: above band_hi");
	if (unit_is_time(v->unit) && v->stat[0] && !strstr(v->stat, "cycles"))
		return row_errf(err, errlen, r, "unit: a time unit compares a *cycles* stat (converted at "
				"cpu.freq_mhz)");
	/* the published figure: blank-separated numbers */
	char buf[CONFIG_TEXT_MAX];
	snprintf(buf, sizeof(buf), "%s", v->published);
	for (char *save = NULL, *t = strtok_r(buf, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
		if (r->nr_published == VALIDATE_MAX_EVENTS) {
			snprintf(err, errlen, "%s: validate.published: more than %d numbers", path, VALIDATE_MAX_EVENTS);
			return -EINVAL;
		}
		if (parse_real(t, -1e300, 1e300, &r->published[r->nr_published])) {
			snprintf(err, errlen, "%s: validate.published: '%s' is not a number", path, t);
			return -EINVAL;
		}
		r->nr_published++;
	}
	if (r->nr_published > 1 && v->reduce != VALIDATE_PER_EVENT)
		return row_errf(err, errlen, r, "published: several numbers need reduce = per-event");
	return 0;
}

/* The stat named name in stats: the key itself, or member c of the object "a.b" for "a.b.c". */
static json_t *find_stat(json_t *stats, const char *name)
{
	json_t *st = json_object_get(stats, name);
	const char *dot = strrchr(name, '.');

	if (st || !dot)
		return st;
	char *prefix = strndup(name, (size_t)(dot - name));
	if (!prefix)
		abort();
	st = json_object_get(find_stat(stats, prefix), dot + 1);
	free(prefix);
	return st;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int validate_run_values(const struct validate_row *r, json_t *stats, double *out, char *err, size_t errlen)
{
	json_t *st = find_stat(stats, r->v.stat);
	double ev[VALIDATE_MAX_EVENTS], scale = 1;
	size_t n = 0;

	if (unit_is_time(r->v.unit))
		scale = 1 / r->freq_mhz / (r->v.unit == VALIDATE_MS ? 1000 : 1);   /* cycles -> µs -> ms */
	if (json_is_number(st)) {
		ev[n++] = json_number_value(st);
	} else if (json_is_array(st)) {
		size_t i;
		json_t *e;
		json_array_foreach(st, i, e) {
			if (!json_is_number(e)) {
				snprintf(err, errlen, "stat %s: element %zu is not a number", r->v.stat, i);
				return -EINVAL;
			}
			if (n < VALIDATE_MAX_EVENTS)
				ev[n++] = json_number_value(e);
		}
	} else {
		snprintf(err, errlen, "stat %s: %s", r->v.stat, st ? "not a number or an array of numbers" :
			 "no such stat in stats.json");
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++)
		ev[i] *= scale;
	if (r->v.reduce == VALIDATE_PER_EVENT) {
		memcpy(out, ev, n * sizeof(*ev));
		return n ? (int)n : (snprintf(err, errlen, "stat %s: no events in this run", r->v.stat), -EINVAL);
	}
	if (!n) {
		snprintf(err, errlen, "stat %s: no events in this run: no %s", r->v.stat, reduce_name(r));
		return -EINVAL;
	}
	double v = 0;
	switch (r->v.reduce) {
	case VALIDATE_MEAN:
		for (size_t i = 0; i < n; i++)
			v += ev[i];
		v /= (double)n;
		break;
	case VALIDATE_MEDIAN:
		qsort(ev, n, sizeof(*ev), cmp_double);
		v = n % 2 ? ev[n / 2] : (ev[n / 2 - 1] + ev[n / 2]) / 2;
		break;
	case VALIDATE_MAX:
		v = ev[0];
		for (size_t i = 1; i < n; i++)
			v = ev[i] > v ? ev[i] : v;
		break;
	}
	out[0] = v;
	return 1;
}

static bool in_band(const struct validate_row *r, double x)
{
	return x >= r->v.band_lo && x <= r->v.band_hi;
}

void validate_summarize(struct validate_row *r, const double *vals, const size_t *counts, size_t nruns)
{
	double col[nruns ? nruns : 1];
	size_t ne = 0;

	for (size_t i = 0; i < nruns; i++)
		ne = counts[i] > ne ? counts[i] : ne;
	r->nr_events = ne;
	for (size_t e = 0; e < ne; e++) {
		size_t m = 0;
		for (size_t i = 0; i < nruns; i++)
			if (counts[i] > e)
				col[m++] = vals[i * VALIDATE_MAX_EVENTS + e];
		repstat_compute(col, m, &r->sim[e]);
	}
	r->done = true;
	if (r->v.reduce != VALIDATE_PER_EVENT) {
		r->within = ne && in_band(r, r->sim[0].mean);
		r->ratio = ne && r->published[0] ? r->sim[0].mean / r->published[0] : NAN;
		return;
	}
	size_t k = ne < r->nr_published ? ne : r->nr_published, nr = 0;
	double sum = 0;
	r->within = ne >= r->nr_published;
	for (size_t e = 0; e < k; e++) {
		r->within &= in_band(r, r->sim[e].mean);
		if (r->published[e]) {
			sum += r->sim[e].mean / r->published[e];
			nr++;
		}
	}
	r->ratio = nr ? sum / (double)nr : NAN;
}

/* ------------------------------------------------------------------ outputs */

/* %.3g, but whole numbers below 10^6 in full ("46.1", "8", "1.2e+08") */
static void fmt_num(char *out, size_t n, double x)
{
	if (isnan(x))
		snprintf(out, n, "-");
	else if (x == floor(x) && fabs(x) < 1e6)
		snprintf(out, n, "%.0f", x);
	else
		snprintf(out, n, "%.3g", x);
}

/* The published numbers; with unit, its label after them ("50 us", "5%", "3x") */
static void fmt_published(char *out, size_t n, const struct validate_row *r, bool unit, bool ascii)
{
	size_t len = 0;
	out[0] = '\0';
	for (size_t i = 0; i < r->nr_published && len < n; i++) {
		char b[32];
		fmt_num(b, sizeof(b), r->published[i]);
		len += (size_t)snprintf(out + len, n - len, "%s%s", i ? " " : "", b);
	}
	if (unit && r->v.unit && len < n)
		snprintf(out + len, n - len, "%s%s", unit_is_time(r->v.unit) ? " " : "",
			 (ascii ? unit_ascii : unit_label)[r->v.unit]);
}

/* The simulated figure: "7.2 ± 0.4 (n=5)", per-event "7 5 3 (n=5)" (the events' means). */
static void fmt_sim(char *out, size_t n, const struct validate_row *r, bool ascii)
{
	const char *pm = ascii ? "+-" : "±";
	char m[32], c[32];
	size_t len = 0;

	if (!r->done) {
		snprintf(out, n, "not run");
		return;
	}
	if (!r->nr_events) {
		snprintf(out, n, "no events");
		return;
	}
	if (r->v.reduce == VALIDATE_PER_EVENT) {
		out[0] = '\0';
		for (size_t e = 0; e < r->nr_events && len < n; e++) {
			fmt_num(m, sizeof(m), r->sim[e].mean);
			len += (size_t)snprintf(out + len, n - len, "%s%s", e ? " " : "", m);
		}
		if (len < n)
			snprintf(out + len, n - len, " (n=%zu)", r->sim[0].n);
		return;
	}
	fmt_num(m, sizeof(m), r->sim[0].mean);
	if (isnan(r->sim[0].ci95)) {
		snprintf(out, n, "%s (n=%zu)", m, r->sim[0].n);
		return;
	}
	/* identical replicates leave rounding noise (4e-14) in the interval: that is 0 */
	snprintf(c, sizeof(c), "%.2g", r->sim[0].ci95 > 1e-9 * fabs(r->sim[0].mean) ? r->sim[0].ci95 : 0);
	snprintf(out, n, "%s %s %s (n=%zu)", m, pm, c, r->sim[0].n);
}

static const char *verdict(const struct validate_row *r)
{
	if (r->v.unreachable[0])
		return "not modelled";
	if (!r->done)
		return "not run";
	return r->within ? "yes" : "no";
}

static void fmt_band(char *out, size_t n, const struct validate_row *r, bool ascii)
{
	char lo[32], hi[32];
	if (r->v.unreachable[0]) {
		snprintf(out, n, "-");
		return;
	}
	fmt_num(lo, sizeof(lo), r->v.band_lo);
	fmt_num(hi, sizeof(hi), r->v.band_hi);
	snprintf(out, n, ascii ? "%s..%s" : "%s–%s", lo, hi);
}

void validate_print_table(FILE *out, const struct validate_row *rows, size_t n)
{
	fprintf(out, "%-34s %-22s %-30s %-7s %-14s %s\n", "measurement", "published", "eptsim (mean +- ci95)", "ratio",
		"band", "within");
	for (size_t i = 0; i < n; i++) {
		const struct validate_row *r = &rows[i];
		char pub[CONFIG_TEXT_MAX + 16], sim[1024], ratio[32], band[80];
		fmt_published(pub, sizeof(pub), r, true, true);
		fmt_sim(sim, sizeof(sim), r, true);
		snprintf(ratio, sizeof(ratio), "%.3g", r->ratio);
		fmt_band(band, sizeof(band), r, true);
		fprintf(out, "%-34s %-22s %-30s %-7s %-14s %s\n", r->name, pub, r->v.unreachable[0] ? "-" : sim,
			r->done ? ratio : "-", band, verdict(r));
		if (r->v.unreachable[0])
			fprintf(out, "%-34s   not modelled: %s\n", "", r->v.unreachable);
	}
}

/* A Markdown cell: '|' would end it */
static void md_cell(FILE *out, const char *s)
{
	fputs("| ", out);
	for (; *s; s++)
		fputs(*s == '|' ? "\\|" : (char[2]){ *s, 0 }, out);
	fputc(' ', out);
}

void validate_print_markdown(FILE *out, const struct validate_row *rows, size_t n)
{
	fprintf(out, "| measurement | source | published | eptsim stat | eptsim, mean ± 95%% CI | ratio | band | "
		"within |\n|---|---|---|---|---|---|---|---|\n");
	for (size_t i = 0; i < n; i++) {
		const struct validate_row *r = &rows[i];
		char pub[CONFIG_TEXT_MAX + 16], sim[1024], ratio[32], band[80], src[3 * CONFIG_TEXT_MAX + 16], st[300];
		fmt_published(pub, sizeof(pub), r, true, false);
		fmt_sim(sim, sizeof(sim), r, false);
		snprintf(ratio, sizeof(ratio), r->done ? "%.3g" : "-", r->ratio);
		fmt_band(band, sizeof(band), r, false);
		snprintf(src, sizeof(src), "%s%s%s", r->v.source, r->v.commit[0] ? ", " : "", r->v.commit);
		if (r->v.stat[0])
			snprintf(st, sizeof(st), "%s (%s)", r->v.stat, reduce_name(r));
		else
			snprintf(st, sizeof(st), "-");
		md_cell(out, r->name);
		md_cell(out, src);
		md_cell(out, pub);
		md_cell(out, st);
		if (r->v.unreachable[0]) {
			char why[CONFIG_TEXT_MAX + 32];
			snprintf(why, sizeof(why), "not modelled: %s", r->v.unreachable);
			md_cell(out, why);
		} else {
			md_cell(out, sim);
		}
		md_cell(out, ratio);
		md_cell(out, band);
		md_cell(out, verdict(r));
		fputs("|\n", out);
	}
}

/* A CSV field (sweep.c's csv_field()) and its separator */
static void csv_cell(FILE *out, const char *s, bool last)
{
	csv_field(out, s);
	fputc(last ? '\n' : ',', out);
}

/* The events' means or ci95s, blank-separated ("" when not run) */
static void fmt_events(char *out, size_t n, const struct validate_row *r, bool ci)
{
	size_t len = 0;
	out[0] = '\0';
	for (size_t e = 0; r->done && e < r->nr_events && len < n; e++) {
		double x = ci ? r->sim[e].ci95 : r->sim[e].mean;
		len += (size_t)snprintf(out + len, n - len, "%s%.6g", e ? " " : "", x);
	}
}

void validate_write_csv(FILE *out, const struct validate_row *rows, size_t n)
{
	fputs("name,source,commit,quote,stat,reduce,unit,published,sim_mean,sim_ci95,n,ratio,band_lo,band_hi,within,"
	      "unreachable\n", out);
	for (size_t i = 0; i < n; i++) {
		const struct validate_row *r = &rows[i];
		char pub[CONFIG_TEXT_MAX + 16], mean[2048], ci[2048], nn[32], ratio[32], lo[32], hi[32];
		fmt_published(pub, sizeof(pub), r, false, true);
		fmt_events(mean, sizeof(mean), r, false);
		fmt_events(ci, sizeof(ci), r, true);
		snprintf(nn, sizeof(nn), "%zu", r->done && r->nr_events ? r->sim[0].n : 0);
		ratio[0] = 0;
		if (r->done)
			snprintf(ratio, sizeof(ratio), "%.6g", r->ratio);
		snprintf(lo, sizeof(lo), "%.6g", r->v.band_lo);
		snprintf(hi, sizeof(hi), "%.6g", r->v.band_hi);
		csv_cell(out, r->name, false);
		csv_cell(out, r->v.source, false);
		csv_cell(out, r->v.commit, false);
		csv_cell(out, r->v.quote, false);
		csv_cell(out, r->v.stat, false);
		csv_cell(out, reduce_name(r), false);
		csv_cell(out, unit_key[r->v.unit], false);
		csv_cell(out, pub, false);
		csv_cell(out, mean, false);
		csv_cell(out, ci, false);
		csv_cell(out, nn, false);
		csv_cell(out, ratio, false);
		csv_cell(out, lo, false);
		csv_cell(out, hi, false);
		csv_cell(out, r->v.unreachable[0] ? "" : r->done ? (r->within ? "true" : "false") : "", false);
		csv_cell(out, r->v.unreachable, true);
	}
}

static json_t *num_or_null(double x)
{
	return isnan(x) ? json_null() : json_real(x);
}

json_t *validate_to_json(const struct validate_row *rows, size_t n)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		const struct validate_row *r = &rows[i];
		json_t *o = json_object(), *pub = json_array(), *ev = json_array();
		for (size_t k = 0; k < r->nr_published; k++)
			json_array_append_new(pub, json_real(r->published[k]));
		for (size_t e = 0; r->done && e < r->nr_events; e++)
			json_array_append_new(ev, json_pack("{s:I, s:o, s:o, s:o}", "n", (json_int_t)r->sim[e].n, "mean",
							    num_or_null(r->sim[e].mean), "sd", num_or_null(r->sim[e].sd),
							    "ci95", num_or_null(r->sim[e].ci95)));
		json_object_set_new(o, "name", json_string(r->name));
		json_object_set_new(o, "config", json_string(r->path));
		json_object_set_new(o, "source", json_string(r->v.source));
		json_object_set_new(o, "commit", json_string(r->v.commit));
		json_object_set_new(o, "quote", json_string(r->v.quote));
		json_object_set_new(o, "stat", json_string(r->v.stat));
		json_object_set_new(o, "reduce", json_string(reduce_name(r)));
		json_object_set_new(o, "unit", json_string(unit_key[r->v.unit]));
		json_object_set_new(o, "published", pub);
		json_object_set_new(o, "band", json_pack("[f, f]", r->v.band_lo, r->v.band_hi));
		json_object_set_new(o, "simulated", r->done ? ev : (json_decref(ev), json_null()));
		json_object_set_new(o, "ratio", r->done ? num_or_null(r->ratio) : json_null());
		json_object_set_new(o, "within", r->done ? json_boolean(r->within) : json_null());
		json_object_set_new(o, "unreachable", r->v.unreachable[0] ? json_string(r->v.unreachable) : json_null());
		json_array_append_new(arr, o);
	}
	return json_pack("{s:i, s:o}", "eptsim_validate", 1, "rows", arr);
}

/* ------------------------------------------------------------------ the command */

struct validate_args {
	const char *inputs[256];
	size_t ninputs;
	const char *out;
	uint64_t replicates;
	unsigned jobs;
	bool force, markdown, quiet;
};

enum { OPT_FORCE = 0x300, OPT_MARKDOWN };

static struct argp_option validate_options[] = {
	{ "out", 'o', "DIR", 0, "Results folder (default results/validate): DIR/NAME/ per row, DIR/validate.csv, "
	  "DIR/validate.json", 0 },
	{ "replicates", 'n', "N", 0, "Runs per row, seeds run.seed .. run.seed + N - 1 (default 10)", 0 },
	{ "jobs", 'j', "N", 0, "Runs at a time (default: the number of online cores)", 0 },
	{ "force", OPT_FORCE, NULL, 0, "Run every replicate again (default: keep those done with the same config)", 0 },
	{ "markdown", OPT_MARKDOWN, NULL, 0, "Print the table as Markdown (the README's Validation section)", 0 },
	{ "quiet", 'q', NULL, 0, "No progress lines", 0 },
	{ 0 }
};

static error_t validate_parse(int key, char *arg, struct argp_state *state)
{
	struct validate_args *a = state->input;
	uint64_t u;

	switch (key) {
	case 'o': a->out = arg; break;
	case 'n':
		if (parse_u64(arg, 0, 1, SWEEP_MAX_VALUES, &u))
			argp_error(state, "--replicates: '%s' is not an integer in [1, %d]", arg, SWEEP_MAX_VALUES);
		a->replicates = u;
		break;
	case 'j':
		if (parse_u64(arg, 0, 1, 4096, &u))
			argp_error(state, "--jobs: '%s' is not an integer in [1, 4096]", arg);
		a->jobs = (unsigned)u;
		break;
	case OPT_FORCE: a->force = true; break;
	case OPT_MARKDOWN: a->markdown = true; break;
	case 'q': a->quiet = true; break;
	case ARGP_KEY_ARG:
		if (a->ninputs == sizeof(a->inputs) / sizeof(a->inputs[0]))
			argp_error(state, "more than %zu FILE|DIR arguments", a->ninputs);
		a->inputs[a->ninputs++] = arg;
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static struct argp validate_argp = {
	validate_options, validate_parse, "[FILE|DIR]...",
	"Run validation configs (default: configs/validation/*.ini) with replicates and compare each with its "
	"published measurement ([validate] section: README, Validation).\v"
	"Prints per row the published figure, eptsim's mean ± 95% interval over the replicates, their ratio and "
	"whether the mean lies in the row's band.  Exit status: 0 (rows outside their band included), 1 a row "
	"failed to run, 2 bad input.",
	NULL, NULL, NULL
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.ini files of dir, sorted, appended to *files. */
static int list_dir(const char *dir, char ***files, size_t *n, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t first = *n;

	if (!d)
		return path_errf(err, errlen, -errno, "%s", dir);
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (l < 5 || strcmp(de->d_name + l - 4, ".ini") || de->d_name[0] == '.')
			continue;
		*files = realloc(*files, (*n + 1) * sizeof(**files));
		if (!*files || asprintf(&(*files)[*n], "%s/%s", dir, de->d_name) < 0)
			abort();
		(*n)++;
	}
	closedir(d);
	if (*n > first)   /* an empty folder leaves *files NULL: qsort() must not see it */
		qsort(*files + first, *n - first, sizeof(**files), cmp_str);
	return 0;
}

static volatile sig_atomic_t validate_signal;
static void on_stop(int sig) { validate_signal = sig; }

struct row_progress {
	const char *name;
	bool show;
};

static void row_progress(void *ctx, const struct sweep_progress *p)
{
	struct row_progress *rp = ctx;
	if (rp->show || !p->ok)
		fprintf(stderr, "[validate] %s: %zu/%zu %s (%.1f s)\n", rp->name, p->done, p->total,
			p->ok ? "ok" : "FAILED", p->seconds);
}

/* Run row r's replicates under dir and summarize them.  0, 1 (a run failed or its stat is
 * not there: the message printed), or EXIT_SIGNALLED. */
static int run_row(struct validate_row *r, const struct validate_args *a, const char *dir, unsigned jobs,
		   bool shared)
{
	struct sweep *sw;
	struct sweep_error err;
	struct sweep_local_result res;
	int ret = 0;

	if (sweep_replicates(r->path, NULL, 0, r->seed, a->replicates, &sw, &err)) {
		fprintf(stderr, "eptsim validate: %s\n", err.msg);
		return EXIT_BAD_INPUT;
	}
	struct row_progress rp = { r->name, !a->quiet && isatty(STDERR_FILENO) };
	int rr = sweep_run_local(sw, dir, "/proc/self/exe", jobs, a->force && !shared, &validate_signal, row_progress, &rp,
				 &res, &err);
	if (rr == -EINTR) {
		fprintf(stderr, "eptsim validate: %s: %s\n", r->name, err.msg);
		sweep_free(sw);
		return EXIT_SIGNALLED(validate_signal);
	}
	if (rr || res.failed) {
		fprintf(stderr, "eptsim validate: %s: %s\n", r->name,
			rr ? err.msg : "a replicate failed (its log: runs/seed=S/stderr.log)");
		sweep_free(sw);
		return 1;
	}
	size_t nruns = sweep_nr_runs(sw);
	double *vals = calloc(nruns * VALIDATE_MAX_EVENTS, sizeof(*vals));
	size_t *counts = calloc(nruns, sizeof(*counts));
	if (!vals || !counts)
		abort();
	for (size_t i = 0; i < nruns && !ret; i++) {
		char path[PATH_MAX + 64], why[PATH_MAX + 512];
		int lr;
		snprintf(path, sizeof(path), "%s/runs/%s/stats.json", dir, sweep_run_name(sw, i));
		json_t *doc = path_load_json(path, &lr, why, sizeof(why));
		int nv = doc ? validate_run_values(r, json_object_get(doc, "stats"), vals + i * VALIDATE_MAX_EVENTS, why,
						   sizeof(why)) : -EINVAL;
		if (nv < 0) {
			fprintf(stderr, "eptsim validate: %s: %s%s%s\n", r->name, doc ? path : "", doc ? ": " : "", why);
			ret = 1;
		} else {
			counts[i] = (size_t)nv;
		}
		json_decref(doc);
	}
	if (!ret) {
		validate_summarize(r, vals, counts, nruns);
		struct sweep_summary sum;   /* summary.csv and replicates.json beside the runs, as run --replicates */
		if (!sweep_collect(dir, &sum, &err))
			sweep_summary_free(&sum);
	}
	free(vals);
	free(counts);
	sweep_free(sw);
	return ret;
}

static int write_outputs(const char *out, const struct validate_row *rows, size_t n)
{
	char path[PATH_MAX + 32];
	struct wfile w;
	int r;

	snprintf(path, sizeof(path), "%s/validate.csv", out);
	if ((r = wfile_open(&w, path)))
		goto fail;
	validate_write_csv(w.f, rows, n);
	if ((r = wfile_close(&w)))
		goto fail;
	snprintf(path, sizeof(path), "%s/validate.json", out);
	json_t *doc = validate_to_json(rows, n);
	if ((r = wfile_open(&w, path))) {
		json_decref(doc);
		goto fail;
	}
	json_dumpf(doc, w.f, JSON_INDENT(1));
	fputc('\n', w.f);
	json_decref(doc);
	if ((r = wfile_close(&w)))
		goto fail;
	return 0;
fail:
	fprintf(stderr, "eptsim validate: %s: %s\n", path, strerror(-r));
	return 1;
}

int cmd_validate(int argc, char **argv)
{
	struct validate_args a = { .out = "results/validate", .replicates = 10 };
	char err[PATH_MAX + 1024];
	char **files = NULL;
	size_t nfiles = 0;
	struct validate_row *rows = NULL;
	int ret = 0;

	argp_parse(&validate_argp, argc, argv, 0, NULL, &a);
	if (!a.ninputs)
		a.inputs[a.ninputs++] = "configs/validation";
	for (size_t i = 0; i < a.ninputs; i++) {
		struct stat st;
		if (stat(a.inputs[i], &st)) {
			fprintf(stderr, "eptsim validate: %s: %s\n", a.inputs[i], strerror(errno));
			ret = EXIT_BAD_INPUT;
			goto out;
		}
		if (S_ISDIR(st.st_mode)) {
			if (list_dir(a.inputs[i], &files, &nfiles, err, sizeof(err))) {
				fprintf(stderr, "eptsim validate: %s\n", err);
				ret = EXIT_BAD_INPUT;
				goto out;
			}
			continue;
		}
		files = realloc(files, (nfiles + 1) * sizeof(*files));
		if (!files || !(files[nfiles++] = strdup(a.inputs[i])))
			abort();
	}
	if (!nfiles) {
		fprintf(stderr, "eptsim validate: no *.ini in %s\n", a.inputs[0]);
		ret = EXIT_BAD_INPUT;
		goto out;
	}
	/* every row is loaded and checked before anything runs */
	rows = calloc(nfiles, sizeof(*rows));
	if (!rows)
		abort();
	for (size_t i = 0; i < nfiles; i++) {
		if (validate_load_row(files[i], &rows[i], err, sizeof(err))) {
			fprintf(stderr, "eptsim validate: %s\n", err);
			ret = EXIT_BAD_INPUT;
			goto out;
		}
		for (size_t j = 0; j < i; j++) {
			if (!strcmp(rows[i].name, rows[j].name)) {
				fprintf(stderr, "eptsim validate: %s and %s: two rows named %s (one results folder each)\n",
					rows[j].path, rows[i].path, rows[i].name);
				ret = EXIT_BAD_INPUT;
				goto out;
			}
		}
	}
	if (path_check_output(a.out, PATH_DIR, "--out", err, sizeof(err))) {
		fprintf(stderr, "eptsim validate: %s\n", err);
		ret = EXIT_BAD_INPUT;
		goto out;
	}
	struct resdir_lock lock = { .fd = -1 };
	if (resdir_lock(a.out, &lock, err, sizeof(err))) {
		fprintf(stderr, "eptsim validate: %s\n", err);
		ret = EXIT_BAD_INPUT;
		goto out;
	}
	unsigned jobs = a.jobs;
	if (!jobs) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);
		jobs = c > 0 ? (unsigned)c : 1;
	}
	struct sigaction sa = { .sa_handler = on_stop };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	for (size_t i = 0; i < nfiles && ret < EXIT_BAD_INPUT; i++) {
		char dir[PATH_MAX + 300];
		if (rows[i].v.unreachable[0])
			continue;
		/* the same run config as an earlier row: its runs serve this row too */
		size_t j = 0;
		while (j < i && (rows[j].v.unreachable[0] || strcmp(rows[j].hash, rows[i].hash)))
			j++;
		if (!a.quiet)
			fprintf(stderr, "[validate] %s: %llu replicates%s%s\n", rows[i].name,
				(unsigned long long)a.replicates, j < i ? ", the runs of " : "", j < i ? rows[j].name : "");
		snprintf(dir, sizeof(dir), "%s/%s", a.out, rows[j].name);
		int r = run_row(&rows[i], &a, dir, jobs, j < i);
		ret = r > ret ? r : ret;
	}
	if (ret < EXIT_BAD_INPUT) {
		if (write_outputs(a.out, rows, nfiles))
			ret = 1;
		if (a.markdown)
			validate_print_markdown(stdout, rows, nfiles);
		else
			validate_print_table(stdout, rows, nfiles);
		if (!a.quiet)
			printf("results in %s/ (validate.csv, validate.json, NAME/runs/seed=S/)\n", a.out);
	}
	resdir_unlock(&lock);
out:
	for (size_t i = 0; i < nfiles; i++)
		free(files[i]);
	free(files);
	free(rows);
	return ret;
}
