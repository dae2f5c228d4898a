// SPDX-License-Identifier: GPL-2.0
/* sim/report — a sweep folder as one Markdown page.  See report.h for the contract.
 *
 * The table comes straight from summary.csv (sim/summary), the figures from sim/chart,
 * drawn into DIR/plots/ first; report.md is written last (temp file + rename), so a page
 * never links a figure that failed.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sim/chart.h"
#include "sim/gnuplot.h"
#include "sim/report.h"
#include "sim/sim.h"
#include "sim/stats.h"
#include "sim/summary.h"
#include "version.h"

#define REPORT_FILE	"report.md"
#define REPORT_PLOTS	"plots"
#define REPORT_MAX_FIGS	128
#define REPORT_CDF_STAT	"mmu_lock.wait_cycles"

enum report_unit { REPORT_AS_IS, REPORT_US, REPORT_MS };

struct report_stat {
	const char *col;
	const char *header;
	enum report_unit unit;
	bool optional;		/* only when some run has a nonzero value */
	const char *axis;	/* only when the sweep varies this key (NULL: always) */
};

/* The default table (report.h). */
static const struct report_stat report_defaults[] = {
	{ "zap.lock_breaks.mean", "lock-breaks per zap", REPORT_AS_IS, false, NULL },
	{ "zap.flushes.mean", "remote flushes per zap", REPORT_AS_IS, false, NULL },
	{ "mmu_lock.wait_cycles.max", "max mmu_lock wait (µs)", REPORT_US, false, NULL },
	{ "mmu_lock.wait_cycles.p99", "p99 mmu_lock wait (µs)", REPORT_US, false, NULL },
	{ "ept.faults", "EPT faults", REPORT_AS_IS, false, NULL },
	{ "mmio.invalidate_hold_cycles.mean", "mmu_lock hold per MMIO invalidation (µs)",
	  REPORT_US, false, "mmu.mmio_invalidate" },
	{ "mmio.slow", "slow-path MMIO refaults", REPORT_AS_IS, true, NULL },
	{ "collapse.duration_cycles.mean", "collapse (ms)", REPORT_MS, false, "mmu.collapse" },
	{ "collapse.lock_breaks", "collapse lock-breaks", REPORT_AS_IS, false, "mmu.collapse" },
	{ "collapse.recover_cycles.mean", "recovery (ms)", REPORT_MS, false, "mmu.collapse" },
	{ "collapse.refaults", "collapse refaults", REPORT_AS_IS, true, NULL },
};
#define REPORT_NDEFAULTS (sizeof(report_defaults) / sizeof(report_defaults[0]))

struct report_col {
	int col;
	char header[128];
	enum report_unit unit;
	bool any;		/* some run has a value */
};

struct report_fig {
	char file[256];		/* under plots/ */
	char alt[256];
	int section;		/* index into the sections below */
};

struct report_ctx {
	struct summary *s;
	struct report_col cols[REPORT_MAX_STATS];
	int ncols;
	struct report_fig figs[REPORT_MAX_FIGS];
	int nfigs;
	char notes[REPORT_MAX_FIGS][256];	/* figures left out, and why */
	int nnotes;
	char sections[8][256];
	int nsections;
	char cdf_note[512];
	int xaxis[16];			/* axes plotted against */
	int nxaxes;
	int by;				/* the line axis of the CDF, -1 */
};

static bool report_varies(const struct summary *s, const char *key)
{
	int a = summary_axis_find(s, key);

	return a >= 0 && summary_axis_nr_values(s, (size_t)a) > 1;
}

/* A cell as the table shows it. */
static void report_cell(const struct report_ctx *c, const struct report_col *rc, size_t row,
			char *buf, size_t len)
{
	const char *cell = summary_cell(c->s, row, (size_t)rc->col);
	double v, mhz = summary_freq_mhz(c->s, row);

	if (!*cell) {
		snprintf(buf, len, "–");
		return;
	}
	if (!summary_parse(cell, &v)) {
		snprintf(buf, len, "%s", cell);
		return;
	}
	if (rc->unit == REPORT_AS_IS || !(mhz > 0)) {
		/* a count as summary.csv has it; a mean of counts to three digits */
		if (v == floor(v))
			snprintf(buf, len, "%s", cell);
		else
			snprintf(buf, len, "%.3g", v);
		return;
	}
	v /= mhz * (rc->unit == REPORT_MS ? 1000.0 : 1.0);
	/* one decimal from 10 on, three significant digits below (a 25-cycle wait is 0.00962) */
	snprintf(buf, len, fabs(v) >= 10 ? "%.1f" : "%.3g", v);
}

static int report_columns(struct report_ctx *c, const struct report_opts *o, char *err,
			  size_t errlen)
{
	size_t nr = summary_nr_rows(c->s);

	if (o && o->nstats) {
		for (int i = 0; i < o->nstats; i++) {
			struct report_col *rc = &c->cols[c->ncols];
			const char *unit;

			rc->col = summary_column(c->s, o->stats[i]);
			if (rc->col < 0) {
				gp_err(err, errlen, "--stats %s: %s/summary.csv has no such column",
					   o->stats[i], summary_dir(c->s));
				return -EINVAL;
			}
			unit = summary_column_unit(c->s, (size_t)rc->col);
			rc->unit = unit && !strcmp(unit, "cycles") ? REPORT_US : REPORT_AS_IS;
			snprintf(rc->header, sizeof(rc->header), "%s%s", o->stats[i],
				 rc->unit == REPORT_US ? " (µs)" : "");
			c->ncols++;
		}
	} else {
		for (size_t i = 0; i < REPORT_NDEFAULTS; i++) {
			const struct report_stat *d = &report_defaults[i];
			struct report_col *rc = &c->cols[c->ncols];
			bool nonzero = false;

			rc->col = summary_column(c->s, d->col);
			if (rc->col < 0 || (d->axis && !report_varies(c->s, d->axis)))
				continue;
			for (size_t r = 0; r < nr && !nonzero; r++) {
				double v;

				nonzero = summary_number(c->s, r, (size_t)rc->col, &v) && v != 0;
			}
			if (d->optional && !nonzero)
				continue;
			rc->unit = d->unit;
			snprintf(rc->header, sizeof(rc->header), "%s", d->header);
			c->ncols++;
		}
	}
	for (int i = 0; i < c->ncols; i++)
		for (size_t r = 0; r < nr && !c->cols[i].any; r++)
			c->cols[i].any = *summary_cell(c->s, r, (size_t)c->cols[i].col) != '\0';
	return 0;
}

/* A file name from a column name: dots kept, anything else odd becomes '-'. */
static void report_slug(const char *in, char *out, size_t len)
{
	size_t i;

	for (i = 0; in[i] && i + 1 < len; i++)
		out[i] = (in[i] >= 'a' && in[i] <= 'z') || (in[i] >= 'A' && in[i] <= 'Z') ||
			 (in[i] >= '0' && in[i] <= '9') || in[i] == '.' || in[i] == '_' ? in[i] : '-';
	out[i] = '\0';
}

static int report_section(struct report_ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int report_section(struct report_ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->sections[c->nsections], sizeof(c->sections[0]), fmt, ap);
	va_end(ap);
	return c->nsections++;
}

/* Draw one figure; a figure sim/chart refuses as bad input (too many panels) becomes a
 * note, anything else is an error. */
static int report_fig(struct report_ctx *c, int section, const char *file, const char *alt,
		      int ret, const char *why, struct report_result *res, char *err,
		      size_t errlen)
{
	if (!ret) {
		struct report_fig *f = &c->figs[c->nfigs++];

		snprintf(f->file, sizeof(f->file), "%s", file);
		snprintf(f->alt, sizeof(f->alt), "%s", alt);
		f->section = section;
		res->plots++;
		return 0;
	}
	if (ret == -EINVAL) {
		snprintf(c->notes[c->nnotes++], sizeof(c->notes[0]), "%s: not drawn (%s)", alt, why);
		res->skipped++;
		return 0;
	}
	return ret;
}

static int report_plots(struct report_ctx *c, struct report_result *res, char *err,
			size_t errlen)
{
	const char *dir = summary_dir(c->s);
	char plots[PATH_MAX], out[PATH_MAX + 300], cerr[1024], file[256], slug[200];
	size_t na = summary_nr_axes(c->s);
	struct chart_opts o;
	int ret, sec;

	snprintf(plots, sizeof(plots), "%s/" REPORT_PLOTS, dir);
	ret = stats_mkdir_p(plots);
	if (ret) {
		gp_err(err, errlen, "%s: %s", plots, strerror(-ret));
		return ret;
	}
	/* the x axes: the numeric ones with several values, else the first with several; never
	 * the seeds axis (its replicates are each figure's error bars) */
	int seed = summary_seed_axis(c->s);
	for (size_t a = 0; a < na; a++)
		if (summary_axis_numeric(c->s, a) && summary_axis_nr_values(c->s, a) > 1 &&
		    (int)a != seed && c->nxaxes < 16)
			c->xaxis[c->nxaxes++] = (int)a;
	for (size_t a = 0; a < na && !c->nxaxes; a++)
		if (summary_axis_nr_values(c->s, a) > 1 && (int)a != seed)
			c->xaxis[c->nxaxes++] = (int)a;
	/* the line axis: the first non-numeric axis with several values, else the first */
	c->by = -1;
	for (size_t a = 0; a < na && c->by < 0; a++)
		if (!summary_axis_numeric(c->s, a) && summary_axis_nr_values(c->s, a) > 1)
			c->by = (int)a;
	for (size_t a = 0; a < na && c->by < 0; a++)
		if (summary_axis_nr_values(c->s, a) > 1 && (int)a != seed)
			c->by = (int)a;

	for (int i = 0; i < c->nxaxes; i++) {
		const char *xkey = summary_axis_key(c->s, (size_t)c->xaxis[i]);

		sec = report_section(c, "Against %s", xkey);
		for (int k = 0; k < c->ncols; k++) {
			const char *col = summary_column_name(c->s, (size_t)c->cols[k].col);
			char alt[256];

			if (!c->cols[k].any || c->cols[k].col == summary_column(c->s, xkey))
				continue;
			chart_opts_init(&o);
			o.x = xkey;
			o.y[o.ny++] = col;
			report_slug(col, slug, sizeof(slug));
			snprintf(file, sizeof(file), "%s-vs-%s.png", slug,
				 summary_axis_name(c->s, (size_t)c->xaxis[i]));
			snprintf(out, sizeof(out), "%s/%s", plots, file);
			snprintf(alt, sizeof(alt), "%s against %s", col, xkey);
			ret = chart_sweep(dir, &o, out, cerr, sizeof(cerr));
			ret = report_fig(c, sec, file, alt, ret, cerr, res, err, errlen);
			if (ret) {
				gp_err(err, errlen, "%s: %s", out, cerr);
				return ret;
			}
		}
	}

	sec = report_section(c, "Where the vCPUs' time went");
	chart_opts_init(&o);
	snprintf(out, sizeof(out), "%s/stalls.png", plots);
	ret = chart_stalls(&dir, 1, &o, out, cerr, sizeof(cerr));
	ret = report_fig(c, sec, "stalls.png", "vCPU time besides guest execution, per run", ret,
			 cerr, res, err, errlen);
	if (ret) {
		gp_err(err, errlen, "%s: %s", out, cerr);
		return ret;
	}

	/* the CDF: the line axis free, the others at their last value */
	sec = report_section(c, "mmu_lock wait distribution");
	chart_opts_init(&o);
	o.y[o.ny++] = REPORT_CDF_STAT;
	{
		char where[16][256];
		size_t used = 0;

		c->cdf_note[0] = '\0';
		for (size_t a = 0; a < na && o.nwhere < 16; a++) {
			const char *last;

			if ((int)a == c->by || summary_axis_nr_values(c->s, a) < 2)
				continue;
			last = summary_axis_value(c->s, a, summary_axis_nr_values(c->s, a) - 1);
			snprintf(where[o.nwhere], sizeof(where[0]), "%s=%s", summary_axis_key(c->s, a),
				 last);
			o.where[o.nwhere] = where[o.nwhere];
			o.nwhere++;
			used += snprintf(c->cdf_note + used, used < sizeof(c->cdf_note) ?
					 sizeof(c->cdf_note) - used : 0, "%s%s = %s", used ? ", " : "",
					 summary_axis_key(c->s, a), last);
		}
		snprintf(out, sizeof(out), "%s/cdf-mmu_lock-wait.png", plots);
		ret = chart_cdf(&dir, 1, &o, out, cerr, sizeof(cerr));
		ret = report_fig(c, sec, "cdf-mmu_lock-wait.png", "CDF of mmu_lock waits", ret, cerr,
				 res, err, errlen);
		if (ret) {
			gp_err(err, errlen, "%s: %s", out, cerr);
			return ret;
		}
	}

	/* the timeline of the run with the longest wait, among those that wrote one */
	{
		int wcol = summary_column(c->s, "mmu_lock.wait_cycles.max");
		double best = -1;
		long pick = -1;

		for (size_t r = 0; r < summary_nr_rows(c->s); r++) {
			char path[PATH_MAX + 300];
			struct stat st;
			double v = 0;

			snprintf(path, sizeof(path), "%s/runs/%s/series/lock_timeline.dat", dir,
				 summary_row_name(c->s, r));
			if (stat(path, &st))
				continue;
			if (wcol >= 0)
				summary_number(c->s, r, (size_t)wcol, &v);
			if (v > best) {
				best = v;
				pick = (long)r;
			}
		}
		if (pick >= 0) {
			char run[PATH_MAX + 300], alt[300];

			sec = report_section(c, "Who held mmu_lock when: %s", summary_row_name(c->s,
										(size_t)pick));
			snprintf(run, sizeof(run), "%s/runs/%s", dir, summary_row_name(c->s, (size_t)pick));
			snprintf(out, sizeof(out), "%s/timeline.png", plots);
			snprintf(alt, sizeof(alt), "mmu_lock timeline of %s",
				 summary_row_name(c->s, (size_t)pick));
			chart_opts_init(&o);
			ret = chart_timeline(run, &o, out, cerr, sizeof(cerr));
			ret = report_fig(c, sec, "timeline.png", alt, ret, cerr, res, err, errlen);
			if (ret) {
				gp_err(err, errlen, "%s: %s", out, cerr);
				return ret;
			}
		}
	}
	return 0;
}

/* Markdown table cells must not hold '|' or line breaks. */
static void report_md(FILE *f, const char *s)
{
	for (; *s; s++)
		fputc(*s == '|' ? '/' : *s == '\n' ? ' ' : *s, f);
}

static void report_page(FILE *f, void *ctx)
{
	const struct report_ctx *c = ctx;
	const struct summary *s = c->s;
	size_t na = summary_nr_axes(s), nr = summary_nr_rows(s);
	char buf[128];

	fprintf(f, "# eptsim sweep report: %s\n\n", summary_name(s));
	fprintf(f, "%zu of %zu runs finished", nr, summary_nr_runs(s));
	if (summary_sweep_file(s))
		fprintf(f, " (sweep file `%s`", summary_sweep_file(s));
	if (summary_base(s))
		fprintf(f, "%sbase config `%s`", summary_sweep_file(s) ? ", " : " (", summary_base(s));
	fprintf(f, "%s.  Axes:", summary_sweep_file(s) || summary_base(s) ? ")" : "");
	for (size_t a = 0; a < na; a++) {
		fprintf(f, "%s `%s` (", a ? ";" : "", summary_axis_key(s, a));
		for (size_t i = 0; i < summary_axis_nr_values(s, a); i++)
			fprintf(f, "%s%s", i ? ", " : "", summary_axis_value(s, a, i));
		fprintf(f, ")");
	}
	fprintf(f, ".  Written by `eptsim report` (eptsim %s, git %s) from summary.csv; times are "
		   "cycles over each run's cpu.freq_mhz", EPTSIM_VERSION, EPTSIM_GIT_HASH);
	if (nr)
		fprintf(f, " (%g MHz)", summary_freq_mhz(s, 0));
	fprintf(f, ".\n\n## Key stats\n\n|");
	for (size_t a = 0; a < na; a++) {
		fputc(' ', f);
		report_md(f, summary_axis_key(s, a));
		fputs(" |", f);
	}
	for (int k = 0; k < c->ncols; k++) {
		fputc(' ', f);
		report_md(f, c->cols[k].header);
		fputs(" |", f);
	}
	fputs("\n|", f);
	for (size_t a = 0; a < na + (size_t)c->ncols; a++)
		fputs(a < na ? "---|" : "---:|", f);
	fputc('\n', f);
	for (size_t r = 0; r < nr; r++) {
		fputc('|', f);
		for (size_t a = 0; a < na; a++) {
			fputc(' ', f);
			report_md(f, summary_row_value(s, r, a));
			fputs(" |", f);
		}
		for (int k = 0; k < c->ncols; k++) {
			report_cell(c, &c->cols[k], r, buf, sizeof(buf));
			fputc(' ', f);
			report_md(f, buf);
			fputs(" |", f);
		}
		fputc('\n', f);
	}
	fprintf(f, "\nColumns from summary.csv:");
	for (int k = 0; k < c->ncols; k++)
		fprintf(f, "%s `%s`", k ? "," : "", summary_column_name(s, (size_t)c->cols[k].col));
	fprintf(f, ".  \"–\": the run has no such stat (e.g. no zap-all happened).\n\n");

	for (int sec = 0; sec < c->nsections; sec++) {
		bool any = false;

		for (int i = 0; i < c->nfigs; i++)
			any = any || c->figs[i].section == sec;
		if (!any)
			continue;
		fprintf(f, "## %s\n\n", c->sections[sec]);
		if (!strcmp(c->sections[sec], "mmu_lock wait distribution") && c->cdf_note[0])
			fprintf(f, "At %s.\n\n", c->cdf_note);
		for (int i = 0; i < c->nfigs; i++)
			if (c->figs[i].section == sec)
				fprintf(f, "![%s](" REPORT_PLOTS "/%s)\n\n", c->figs[i].alt, c->figs[i].file);
	}
	if (c->nnotes) {
		fprintf(f, "## Figures left out\n\n");
		for (int i = 0; i < c->nnotes; i++)
			fprintf(f, "- %s\n", c->notes[i]);
	}
	if (nr < summary_nr_runs(s))
		fprintf(f, "%s%zu run%s not finished (no complete stats.json of its config): "
			   "`eptsim sweep --collect %s` lists the missing runs.\n", c->nnotes ? "\n" : "",
			summary_nr_runs(s) - nr, summary_nr_runs(s) - nr > 1 ? "s are" : " is",
			summary_dir(s));
}

int report_write(const char *dir, const struct report_opts *o, struct report_result *res,
		 char *err, size_t errlen)
{
	struct report_ctx *c = calloc(1, sizeof(*c));
	int ret;

	memset(res, 0, sizeof(*res));
	if (err && errlen)
		err[0] = '\0';
	if (!c) {
		gp_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ret = summary_load(dir, &c->s, err, errlen);
	if (ret)
		goto out;
	res->rows = summary_nr_rows(c->s);
	res->runs = summary_nr_runs(c->s);
	if (o && o->nstats > REPORT_MAX_STATS) {
		gp_err(err, errlen, "more than %d stats", REPORT_MAX_STATS);
		ret = -EINVAL;
		goto out;
	}
	ret = report_columns(c, o, err, errlen);
	if (!ret && res->rows)
		ret = report_plots(c, res, err, errlen);
	if (ret)
		goto out;
	snprintf(res->path, sizeof(res->path), "%s/" REPORT_FILE, dir);
	ret = write_text_atomic(res->path, report_page, c);
	if (ret)
		gp_err(err, errlen, "%s: %s", res->path, strerror(-ret));
out:
	summary_free(c->s);
	free(c);
	return ret;
}
