// SPDX-License-Identifier: GPL-2.0
/* sim/chart — figures of any run or sweep.  See chart.h for the contract.
 *
 * Each figure reads its inputs into plain arrays, writes gnuplot data files named
 * relatively (gnuplot runs in the temporary folder, sim/gnuplot) and one script, plot.gp,
 * whose every choice (ranges, tics, layout) is computed here, so the figure does not
 * depend on gnuplot's autoscaling and a kept script redraws it as it was.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "sim/chart.h"
#include "sim/gnuplot.h"
#include "sim/paths.h"
#include "sim/repstat.h"
#include "sim/summary.h"

#define CHART_DEFAULT_HIST	"mmu_lock.wait_cycles"
#define CHART_LABEL_MAX		256

/* Point types that stay distinct in print: circle, square, triangle, diamond, ... */
static const int chart_pt[] = { 7, 5, 9, 13, 11, 15, 4, 6 };
#define CHART_NPT (sizeof(chart_pt) / sizeof(chart_pt[0]))

void chart_opts_init(struct chart_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->from_ms = NAN;
	o->to_ms = NAN;
}

/* The common head of every figure's script, with the conventions of sim/plot's figures. */
static FILE *chart_script(const char *tmp, const char *kind, bool png, int w, int h,
			  char *path, size_t len, char *err, size_t errlen, int *ret)
{
	FILE *f = gp_create(tmp, "plot.gp", path, len, err, errlen, ret);

	if (!f)
		return NULL;
	gp_terminal(f, kind, png, w, h, png ? "plot.png" : "plot.svg");
	fprintf(f, "set border 3 lw 1\n"
		   "set grid xtics ytics back lc rgb '#e4e4e4' lw 1 dt 1\n"
		   "set xtics nomirror out\nset ytics nomirror out\n");
	return f;
}

/* A title for gnuplot's single quotes: sanitized, at most len bytes. */
static void chart_text(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
	gp_sanitize(dst);
}

/* "1234567" -> "1,234,567" */
static void chart_thousands(char *buf, size_t len, double v)
{
	char raw[64], *p = raw;
	size_t n, lead, o = 0;

	snprintf(raw, sizeof(raw), "%.0f", v);
	if (*p == '-')
		buf[o++] = *p++;
	n = strlen(p);
	lead = n % 3 ? n % 3 : 3;
	for (size_t i = 0; i < n && o + 2 < len; i++) {
		if (i && (i - lead) % 3 == 0 && i >= lead)
			buf[o++] = ',';
		buf[o++] = p[i];
	}
	buf[o] = '\0';
}

/* A time in µs with three significant digits ("0.27 µs", "326 µs", "1.54 ms"). */
static void chart_us(char *buf, size_t len, double us)
{
	if (us >= 1000)
		snprintf(buf, len, "%.3g ms", us / 1000);
	else
		snprintf(buf, len, "%.3g µs", us);
}

/* ================================================================ inputs */

struct chart_run {
	char dir[PATH_MAX];
	char label[CHART_LABEL_MAX];
	json_t *doc;		/* stats.json */
	json_t *stats;		/* its "stats" object */
	double mhz;		/* config.cpu.freq_mhz */
	long vcpus;		/* config.guest.vcpus, -1 when absent */
};

static json_t *chart_cfg(json_t *doc, const char *section, const char *key)
{
	return json_object_get(json_object_get(json_object_get(doc, "config"), section), key);
}

static int chart_run_load(struct chart_run *r, char *err, size_t errlen)
{
	char path[PATH_MAX + 16];
	json_t *v;
	int ret;

	snprintf(path, sizeof(path), "%s/stats.json", r->dir);
	r->doc = path_load_json(path, &ret, err, errlen);   /* a regular file only: a FIFO does not block */
	if (!r->doc)
		return ret == -ENOENT ? -ENOENT : ret == -EIO ? ret : -EINVAL;
	r->stats = json_object_get(r->doc, "stats");
	if (!json_is_object(r->stats)) {
		gp_err(err, errlen, "%s: no \"stats\" object", path);
		return -EINVAL;
	}
	v = chart_cfg(r->doc, "cpu", "freq_mhz");
	r->mhz = json_is_number(v) ? json_number_value(v) : 0;
	if (!(r->mhz > 0)) {
		gp_err(err, errlen, "%s: no config.cpu.freq_mhz", path);
		return -EINVAL;
	}
	v = chart_cfg(r->doc, "guest", "vcpus");
	r->vcpus = json_is_integer(v) ? (long)json_integer_value(v) : -1;
	return 0;
}

/* --where lines against a sweep's rows: keep[row].  A key must name a column; values are
 * compared as text, or as numbers when both parse ("1024M" matches "1G"). */
static int chart_where(const struct summary *s, const struct chart_opts *o, bool *keep,
		       char *err, size_t errlen)
{
	for (size_t r = 0; r < summary_nr_rows(s); r++)
		keep[r] = true;
	for (int w = 0; w < o->nwhere; w++) {
		/* copies of any length: a fixed buffer cut a long value list short */
		char *buf = strdup(o->where[w]), *vals = NULL, *eq, *val, *save = NULL;
		int col;

		if (!buf) {
			gp_err(err, errlen, "out of memory");
			return -ENOMEM;
		}
		eq = strchr(buf, '=');
		if (!eq || eq == buf || !eq[1]) {
			gp_err(err, errlen, "--where %s: not KEY=VALUE[|VALUE...]", o->where[w]);
			free(buf);
			return -EINVAL;
		}
		*eq = '\0';
		col = summary_column(s, buf);
		if (col < 0) {
			gp_err(err, errlen, "--where %s: %s has no column %s", o->where[w],
			       summary_dir(s), buf);
			free(buf);
			return -EINVAL;
		}
		for (size_t r = 0; r < summary_nr_rows(s); r++) {
			bool any = false;

			free(vals);
			if (!(vals = strdup(eq + 1)))
				abort();   /* out of memory */
			for (val = strtok_r(vals, "|", &save); val && !any;
			     val = strtok_r(NULL, "|", &save)) {
				const char *cell = summary_cell(s, r, (size_t)col);
				double a, b;

				any = !strcmp(cell, val) ||
				      (summary_parse(cell, &a) && summary_parse(val, &b) && a == b);
			}
			keep[r] = keep[r] && any;
		}
		free(vals);
		free(buf);
	}
	return 0;
}

/* Label of a sweep's run: "name=value, ..." over the axes that vary among the kept rows
 * (the whole run name when none does). */
static void chart_row_label(const struct summary *s, const bool *keep, size_t row, char *buf,
			    size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t a = 0; a < summary_nr_axes(s); a++) {
		bool varies = false;

		for (size_t r = 0; r < summary_nr_rows(s) && !varies; r++)
			varies = keep[r] && strcmp(summary_row_value(s, r, a),
						   summary_row_value(s, row, a));
		if (!varies)
			continue;
		used += snprintf(buf + used, used < len ? len - used : 0, "%s%s=%s",
				 used ? ", " : "", summary_axis_name(s, a),
				 summary_row_value(s, row, a));
	}
	if (!buf[0])
		snprintf(buf, len, "%s", summary_row_name(s, row));
	gp_sanitize(buf);
}

struct chart_runs {
	struct chart_run *r;
	int n;
};

static void chart_runs_free(struct chart_runs *rs)
{
	for (int i = 0; i < rs->n; i++)
		json_decref(rs->r[i].doc);
	free(rs->r);
	rs->r = NULL;
	rs->n = 0;
}

static int chart_runs_add(struct chart_runs *rs, const char *dir, const char *label,
			  char *err, size_t errlen)
{
	struct chart_run *r;

	if (rs->n == CHART_MAX_RUNS) {
		gp_err(err, errlen, "more than %d runs to draw: narrow them with --where",
		       CHART_MAX_RUNS);
		return -EINVAL;
	}
	r = &rs->r[rs->n];
	memset(r, 0, sizeof(*r));
	if (snprintf(r->dir, sizeof(r->dir), "%s", dir) >= (int)sizeof(r->dir)) {
		gp_err(err, errlen, "%s: path too long", dir);
		return -ENAMETOOLONG;
	}
	snprintf(r->label, sizeof(r->label), "%s", label);
	gp_sanitize(r->label);
	rs->n++;
	return chart_run_load(r, err, errlen);
}

/* Run folders as they are; sweep folders as their runs (filtered by --where). */
static int chart_runs_resolve(const char *const *dirs, int ndirs, const struct chart_opts *o,
			      struct chart_runs *rs, char *err, size_t errlen)
{
	int ret = 0;

	rs->n = 0;
	rs->r = calloc(CHART_MAX_RUNS, sizeof(*rs->r));
	if (!rs->r) {
		gp_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (int i = 0; i < ndirs && !ret; i++) {
		char path[PATH_MAX + 16], label[CHART_LABEL_MAX];
		struct summary *s;
		struct stat st;
		bool *keep;

		snprintf(path, sizeof(path), "%s/stats.json", dirs[i]);
		if (!stat(path, &st)) {
			gp_basename(dirs[i], label, sizeof(label));
			ret = chart_runs_add(rs, dirs[i], label, err, errlen);
			continue;
		}
		snprintf(path, sizeof(path), "%s/sweep.json", dirs[i]);
		if (stat(path, &st)) {
			gp_err(err, errlen, "%s: neither a run folder (stats.json) nor a sweep folder "
			       "(sweep.json)", dirs[i]);
			return -ENOENT;
		}
		ret = summary_load(dirs[i], &s, err, errlen);
		if (ret)
			return ret;
		keep = calloc(summary_nr_rows(s) + 1, sizeof(*keep));
		if (!keep) {
			summary_free(s);
			gp_err(err, errlen, "out of memory");
			return -ENOMEM;
		}
		ret = chart_where(s, o, keep, err, errlen);
		for (size_t r = 0; r < summary_nr_rows(s) && !ret; r++) {
			if (!keep[r])
				continue;
			chart_row_label(s, keep, r, label, sizeof(label));
			snprintf(path, sizeof(path), "%s/runs/%s", dirs[i], summary_row_name(s, r));
			ret = chart_runs_add(rs, path, label, err, errlen);
		}
		free(keep);
		summary_free(s);
	}
	if (!ret && !rs->n) {
		gp_err(err, errlen, "no run to draw (--where kept none)");
		ret = -EINVAL;
	}
	return ret;
}

/* The widest label, in characters (a UTF-8 sequence counts once). */
static size_t chart_text_width(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* ================================================================ --kind sweep */

#define SW_CHAR_PX	6.5	/* sans 10, in a key */
#define CHART_TIC_CHAR_PX 7.5	/* sans 10 in tic labels, with room to spare */

struct sw_group {
	char label[CHART_LABEL_MAX];
};

struct sw_y {
	int col;
	const char *name;
	char unit[32];		/* shown in the label: "µs", "ms", "count", ... */
	double scale;		/* 1, or 1/freq (µs), or 1/(1000 freq) (ms): per row below */
	bool time;		/* cycles -> time */
	bool ms;		/* time in ms rather than µs */
	double lo, hi;		/* over every kept row */
	bool logy;
	bool any;
};

struct sw_ctx {
	struct summary *s;
	bool *keep;
	int xcol, xaxis, bycol, byaxis;
	bool xnum, xlog2;
	double *xv;		/* per row: x (numeric, or category index) */
	int *group;		/* per row: index into groups, -1 when not kept */
	struct sw_group *groups;
	int ngroups;
	/* x categories / tics, in axis order (or first appearance) */
	const char **xcat;
	double *xcatv;
	int nxcat;
	/* facets: the axes that still vary, and each row's facet */
	int fax[16];
	int nfax;
	int *facet;		/* per row */
	int nfacets;
	size_t *facet_row;	/* a representative row of each facet */
	struct sw_y y[CHART_MAX_Y];
	int ny;
	/* replicates (a seeds axis, neither x nor by): a line's rows at one x are one point,
	 * their mean with the 95% interval as an error bar (sim/repstat) */
	int seedaxis;
	bool rep;
};

/* One line's points: x, y (a row's value, or the replicates' mean), the 95% half-width
 * (NAN without replicates or with one), how many runs. */
struct sw_pts {
	size_t *order;
	double *x, *y, *ci, *vals;
	size_t *n;
	size_t npts;
};

static void sw_free(struct sw_ctx *c)
{
	free(c->keep);
	free(c->xv);
	free(c->group);
	free(c->groups);
	free(c->xcat);
	free(c->xcatv);
	free(c->facet);
	free(c->facet_row);
	summary_free(c->s);
}

/* The index of value v among the axis's values, or of its first appearance in the kept
 * rows of a column that is no axis. */
static int sw_axis_index(const struct summary *s, int axis, const char *v)
{
	for (size_t i = 0; axis >= 0 && i < summary_axis_nr_values(s, (size_t)axis); i++)
		if (!strcmp(summary_axis_value(s, (size_t)axis, i), v))
			return (int)i;
	return -1;
}

static bool sw_pow2(double v)
{
	double l;

	if (!(v > 0))
		return false;
	l = log2(v);
	return fabs(l - round(l)) < 1e-9;
}

static int sw_setup_x(struct sw_ctx *c, const char *x, char *err, size_t errlen)
{
	struct summary *s = c->s;
	size_t nr = summary_nr_rows(s);
	int npos = 0;

	c->xcol = summary_column(s, x);
	if (c->xcol < 0) {
		gp_err(err, errlen, "--x %s: %s/summary.csv has no such column", x, summary_dir(s));
		return -EINVAL;
	}
	c->xaxis = summary_axis_find(s, x);
	if (c->xaxis >= 0 && summary_column(s, summary_axis_key(s, (size_t)c->xaxis)) != c->xcol)
		c->xaxis = -1;
	c->xnum = true;
	for (size_t r = 0; r < nr; r++) {
		double v;

		if (!c->keep[r])
			continue;
		if (!summary_number(s, r, (size_t)c->xcol, &v))
			c->xnum = false;
		else
			c->xv[r] = v;
	}
	c->xcat = calloc(nr + 1, sizeof(*c->xcat));
	c->xcatv = calloc(nr + 1, sizeof(*c->xcatv));
	if (!c->xcat || !c->xcatv)
		return -ENOMEM;
	/* the distinct values, in axis order when x is an axis, else as they come */
	if (c->xaxis >= 0) {
		for (size_t i = 0; i < summary_axis_nr_values(s, (size_t)c->xaxis); i++) {
			const char *v = summary_axis_value(s, (size_t)c->xaxis, i);
			bool used = false;

			for (size_t r = 0; r < nr && !used; r++)
				used = c->keep[r] && !strcmp(summary_cell(s, r, (size_t)c->xcol), v);
			if (used)
				c->xcat[c->nxcat++] = v;
		}
	} else {
		for (size_t r = 0; r < nr; r++) {
			const char *v = summary_cell(s, r, (size_t)c->xcol);
			bool seen = !c->keep[r];

			for (int i = 0; i < c->nxcat && !seen; i++)
				seen = !strcmp(c->xcat[i], v);
			if (!seen)
				c->xcat[c->nxcat++] = v;
		}
	}
	for (int i = 0; i < c->nxcat; i++) {
		double v = i;

		if (c->xnum)
			summary_parse(c->xcat[i], &v);
		c->xcatv[i] = v;
		npos += sw_pow2(v);
	}
	for (size_t r = 0; r < nr; r++) {
		if (!c->keep[r] || c->xnum)
			continue;
		for (int i = 0; i < c->nxcat; i++)
			if (!strcmp(c->xcat[i], summary_cell(s, r, (size_t)c->xcol)))
				c->xv[r] = i;
	}
	c->xlog2 = c->xnum && c->nxcat >= 3 && npos == c->nxcat;
	return 0;
}

static int sw_setup_by(struct sw_ctx *c, const char *by, char *err, size_t errlen)
{
	struct summary *s = c->s;
	size_t nr = summary_nr_rows(s);

	c->bycol = -1;
	c->byaxis = -1;
	if (by) {
		c->bycol = summary_column(s, by);
		if (c->bycol < 0) {
			gp_err(err, errlen, "--by %s: %s/summary.csv has no such column", by,
			       summary_dir(s));
			return -EINVAL;
		}
		c->byaxis = summary_axis_find(s, by);
	} else {
		/* the first non-numeric axis other than x with several values among the rows */
		for (size_t a = 0; a < summary_nr_axes(s) && c->bycol < 0; a++) {
			int col = summary_column(s, summary_axis_key(s, a));
			bool several = false;

			if ((int)a == c->xaxis || col == c->xcol || summary_axis_numeric(s, a))
				continue;
			for (size_t r = 1; r < nr && !several; r++)
				for (size_t q = 0; q < r && !several; q++)
					several = c->keep[r] && c->keep[q] &&
						  strcmp(summary_cell(s, r, col), summary_cell(s, q, col));
			if (several) {
				c->bycol = col;
				c->byaxis = (int)a;
			}
		}
	}
	c->groups = calloc(nr + 1, sizeof(*c->groups));
	if (!c->groups)
		return -ENOMEM;
	if (c->bycol < 0) {
		c->ngroups = 1;
		for (size_t r = 0; r < nr; r++)
			c->group[r] = c->keep[r] ? 0 : -1;
		return 0;
	}
	/* groups in axis order, then first appearance */
	for (size_t i = 0; c->byaxis >= 0 && i < summary_axis_nr_values(s, (size_t)c->byaxis); i++) {
		const char *v = summary_axis_value(s, (size_t)c->byaxis, i);
		bool used = false;

		for (size_t r = 0; r < nr && !used; r++)
			used = c->keep[r] && !strcmp(summary_cell(s, r, (size_t)c->bycol), v);
		if (used)
			chart_text(c->groups[c->ngroups++].label, CHART_LABEL_MAX, v);
	}
	for (size_t r = 0; r < nr; r++) {
		char v[CHART_LABEL_MAX];
		int g;

		c->group[r] = -1;
		if (!c->keep[r])
			continue;
		chart_text(v, sizeof(v), summary_cell(s, r, (size_t)c->bycol));
		for (g = 0; g < c->ngroups && strcmp(c->groups[g].label, v); g++)
			;
		if (g == c->ngroups)
			snprintf(c->groups[c->ngroups++].label, CHART_LABEL_MAX, "%s", v);
		c->group[r] = g;
	}
	return 0;
}

static int sw_setup_facets(struct sw_ctx *c, char *err, size_t errlen)
{
	struct summary *s = c->s;
	size_t nr = summary_nr_rows(s);

	for (size_t a = 0; a < summary_nr_axes(s); a++) {
		int col = summary_column(s, summary_axis_key(s, a));
		bool several = false;

		if ((int)a == c->xaxis || col == c->xcol || col == c->bycol || (c->rep && (int)a == c->seedaxis))
			continue;
		for (size_t r = 1; r < nr && !several; r++)
			for (size_t q = 0; q < r && !several; q++)
				several = c->keep[r] && c->keep[q] &&
					  strcmp(summary_row_value(s, r, a), summary_row_value(s, q, a));
		if (several && c->nfax < (int)(sizeof(c->fax) / sizeof(c->fax[0])))
			c->fax[c->nfax++] = (int)a;
	}
	c->facet = calloc(nr + 1, sizeof(*c->facet));
	c->facet_row = calloc(nr + 1, sizeof(*c->facet_row));
	if (!c->facet || !c->facet_row)
		return -ENOMEM;
	/* facets in the order of their axes' values (first facet axis slowest) */
	for (size_t r = 0; r < nr; r++)
		c->facet[r] = -1;
	for (;;) {
		long best = -1;
		size_t bestrow = 0;

		for (size_t r = 0; r < nr; r++) {
			long key = 0;

			if (!c->keep[r] || c->facet[r] >= 0)
				continue;
			for (int k = 0; k < c->nfax; k++)
				key = key * 1000 + sw_axis_index(s, c->fax[k],
								 summary_row_value(s, r, (size_t)c->fax[k]));
			if (best < 0 || key < best) {
				best = key;
				bestrow = r;
			}
		}
		if (best < 0)
			break;
		for (size_t r = 0; r < nr; r++) {
			bool same = c->keep[r] && c->facet[r] < 0;

			for (int k = 0; k < c->nfax && same; k++)
				same = !strcmp(summary_row_value(s, r, (size_t)c->fax[k]),
					       summary_row_value(s, bestrow, (size_t)c->fax[k]));
			if (same)
				c->facet[r] = c->nfacets;
		}
		c->facet_row[c->nfacets++] = bestrow;
	}
	if (c->nfacets > CHART_MAX_PANELS) {
		gp_err(err, errlen, "%d panels (one per value of %s%s): at most %d; fix an axis "
		       "with --where", c->nfacets, summary_axis_key(s, (size_t)c->fax[0]),
		       c->nfax > 1 ? " and more" : "", CHART_MAX_PANELS);
		return -EINVAL;
	}
	return 0;
}

/* The value of y column k in row r, in the unit drawn; false when the cell is empty. */
static bool sw_value(const struct sw_ctx *c, int k, size_t r, double *v)
{
	const struct sw_y *y = &c->y[k];

	if (!summary_number(c->s, r, (size_t)y->col, v))
		return false;
	if (y->time) {
		double mhz = summary_freq_mhz(c->s, r);

		if (!(mhz > 0))
			return false;
		*v /= mhz * (y->ms ? 1000.0 : 1.0);
	}
	return true;
}

static void sw_pts_free(struct sw_pts *p)
{
	free(p->order);
	free(p->x);
	free(p->y);
	free(p->ci);
	free(p->vals);
	free(p->n);
}

static int sw_pts_alloc(struct sw_pts *p, size_t nr)
{
	memset(p, 0, sizeof(*p));
	p->order = malloc((nr + 1) * sizeof(*p->order));
	p->n = malloc((nr + 1) * sizeof(*p->n));
	p->x = malloc((nr + 1) * sizeof(double));
	p->y = malloc((nr + 1) * sizeof(double));
	p->ci = malloc((nr + 1) * sizeof(double));
	p->vals = malloc((nr + 1) * sizeof(double));
	if (p->order && p->n && p->x && p->y && p->ci && p->vals)
		return 0;
	sw_pts_free(p);
	return -ENOMEM;
}

/* The points of facet f, y column k, group g, by ascending x: a row each, or with
 * replicates one per x, the mean of its rows. */
static void sw_points(const struct sw_ctx *c, int f, int k, int g, struct sw_pts *p)
{
	size_t nr = summary_nr_rows(c->s), n = 0;

	for (size_t r = 0; r < nr; r++) {
		double v;

		if (c->keep[r] && c->facet[r] == f && c->group[r] == g && sw_value(c, k, r, &v))
			p->order[n++] = r;
	}
	/* insertion sort by x: a handful of rows */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j && c->xv[p->order[j - 1]] > c->xv[p->order[j]]; j--) {
			size_t t = p->order[j];

			p->order[j] = p->order[j - 1];
			p->order[j - 1] = t;
		}
	p->npts = 0;
	for (size_t i = 0; i < n;) {
		size_t m = 0;
		struct repstat st;

		do
			sw_value(c, k, p->order[i + m], &p->vals[m]);
		while (++m, c->rep && i + m < n && c->xv[p->order[i + m]] == c->xv[p->order[i]]);
		repstat_compute(p->vals, m, &st);
		p->x[p->npts] = c->xv[p->order[i]];
		p->y[p->npts] = st.mean;
		p->ci[p->npts] = st.ci95;
		p->n[p->npts++] = m;
		i += m;
	}
}

static int sw_setup_y(struct sw_ctx *c, const struct chart_opts *o, char *err, size_t errlen)
{
	struct summary *s = c->s;
	size_t nr = summary_nr_rows(s);

	if (o->ny < 1) {
		gp_err(err, errlen, "--y COLUMN is needed (a stat of summary.csv, e.g. "
		       "zap.lock_breaks.mean)");
		return -EINVAL;
	}
	struct sw_pts p;

	if (sw_pts_alloc(&p, nr))
		return -ENOMEM;
	c->ny = o->ny;
	for (int k = 0; k < c->ny; k++) {
		struct sw_y *y = &c->y[k];
		const char *unit;
		double maxv = 0;

		y->name = o->y[k];
		y->col = summary_column(s, o->y[k]);
		if (y->col < 0) {
			gp_err(err, errlen, "--y %s: %s/summary.csv has no such column", o->y[k],
			       summary_dir(s));
			sw_pts_free(&p);
			return -EINVAL;
		}
		unit = summary_column_unit(s, (size_t)y->col);
		y->time = unit && !strcmp(unit, "cycles");
		snprintf(y->unit, sizeof(y->unit), "%s", !unit ? "" : y->time ? "µs" :
			 !strcmp(unit, "events") ? "count" : unit);
		if (y->time) {
			for (size_t r = 0; r < nr; r++) {
				double v;

				if (c->keep[r] && sw_value(c, k, r, &v) && fabs(v) > maxv)
					maxv = fabs(v);
			}
			y->ms = maxv >= 1000;	/* 1.5 ms reads better than 1500 µs */
			if (y->ms)
				snprintf(y->unit, sizeof(y->unit), "ms");
		}
		/* the range of what is drawn: the points, and with replicates their bars (a bar
		 * reaching below 0 does not make a positive stat's axis linear) */
		y->lo = HUGE_VAL;
		y->hi = -HUGE_VAL;
		for (int f = 0; f < c->nfacets; f++)
			for (int g = 0; g < c->ngroups; g++) {
				sw_points(c, f, k, g, &p);
				for (size_t i = 0; i < p.npts; i++) {
					double ci = isfinite(p.ci[i]) ? p.ci[i] : 0;
					double lo = p.y[i] - ci > 0 || p.y[i] <= 0 ? p.y[i] - ci : p.y[i];

					y->any = true;
					if (lo < y->lo)
						y->lo = lo;
					if (p.y[i] + ci > y->hi)
						y->hi = p.y[i] + ci;
				}
			}
		y->logy = y->any && y->lo > 0 && y->hi / y->lo >= 100;
	}
	sw_pts_free(&p);
	return 0;
}

/* d-F-K-G.dat: "x y" of facet F, y column K, group G, ascending x; with replicates
 * "x mean ci95 n" (ci95 0 for a point of one run: no bar). */
static int sw_write_data(const char *tmp, const struct sw_ctx *c, char *err, size_t errlen)
{
	struct sw_pts p;
	int ret = sw_pts_alloc(&p, summary_nr_rows(c->s));

	if (ret)
		return ret;
	for (int f = 0; f < c->nfacets && !ret; f++)
		for (int k = 0; k < c->ny && !ret; k++)
			for (int g = 0; g < c->ngroups && !ret; g++) {
				char name[64], path[PATH_MAX];
				FILE *fp;

				sw_points(c, f, k, g, &p);
				snprintf(name, sizeof(name), "d-%d-%d-%d.dat", f, k, g);
				fp = gp_create(tmp, name, path, sizeof(path), err, errlen, &ret);
				if (!fp)
					break;
				fprintf(fp, "# %s %s (%s)%s [%s]\n", summary_column_name(c->s, (size_t)c->xcol),
					c->y[k].name, c->y[k].unit, c->rep ? " mean, ci95, n" : "",
					c->groups[g].label);
				for (size_t i = 0; i < p.npts; i++) {
					if (c->rep)
						fprintf(fp, "%.10g %.10g %.10g %zu\n", p.x[i], p.y[i],
							isfinite(p.ci[i]) ? p.ci[i] : 0.0, p.n[i]);
					else
						fprintf(fp, "%.10g %.10g\n", p.x[i], p.y[i]);
				}
				ret = gp_close(fp, path, err, errlen);
			}
	sw_pts_free(&p);
	return ret;
}

/* Panel title: the facet's axis values ("guest.mem = 1G, host.preempt = full"). */
static void sw_facet_title(const struct sw_ctx *c, int f, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int k = 0; k < c->nfax; k++)
		used += snprintf(buf + used, used < len ? len - used : 0, "%s%s = %s",
				 used ? ", " : "", summary_axis_key(c->s, (size_t)c->fax[k]),
				 summary_row_value(c->s, c->facet_row[f], (size_t)c->fax[k]));
	gp_sanitize(buf);
}

static void sw_xaxis(FILE *fp, const struct sw_ctx *c)
{
	double lo = HUGE_VAL, hi = -HUGE_VAL;
	char label[CHART_LABEL_MAX];

	for (int i = 0; i < c->nxcat; i++) {
		if (c->xcatv[i] < lo)
			lo = c->xcatv[i];
		if (c->xcatv[i] > hi)
			hi = c->xcatv[i];
	}
	chart_text(label, sizeof(label), summary_column_name(c->s, (size_t)c->xcol));
	if (!c->xnum) {
		fprintf(fp, "unset logscale x\nset xrange [-0.5:%d.5]\n", c->nxcat - 1);
	} else if (c->xlog2) {
		fprintf(fp, "set logscale x 2\nset xrange [%.10g:%.10g]\n", lo / 1.35, hi * 1.35);
		strncat(label, " (log scale)", sizeof(label) - strlen(label) - 1);
	} else {
		double pad = hi > lo ? 0.06 * (hi - lo) : (lo ? 0.1 * fabs(lo) : 1);

		fprintf(fp, "unset logscale x\nset xrange [%.10g:%.10g]\n", lo - pad, hi + pad);
	}
	fprintf(fp, "set xlabel '%s'\n", label);
	if (c->nxcat <= 24 || !c->xnum) {
		fprintf(fp, "set xtics (");
		for (int i = 0; i < c->nxcat; i++) {
			char t[CHART_LABEL_MAX];

			chart_text(t, sizeof(t), c->xcat[i]);
			fprintf(fp, "%s'%s' %.10g", i ? ", " : "", t, c->xcatv[i]);
		}
		fprintf(fp, ")\n");
	} else {
		fprintf(fp, "set xtics autofreq\n");
	}
}

static void sw_yaxis(FILE *fp, const struct sw_y *y)
{
	char name[CHART_LABEL_MAX];

	chart_text(name, sizeof(name), y->name);
	if (y->unit[0])
		fprintf(fp, "set ylabel '%s (%s%s)'\n", name, y->unit, y->logy ? ", log scale" : "");
	else
		fprintf(fp, "set ylabel '%s%s'\n", name, y->logy ? " (log scale)" : "");
	if (!y->any) {
		fprintf(fp, "unset logscale y\nset yrange [0:1]\nset ytics 0,0.2\n");
	} else if (y->logy) {
		fprintf(fp, "set logscale y\nset yrange [%.10g:%.10g]\nset ytics autofreq\n",
			y->lo / 1.6, y->hi * 1.6);
	} else {
		double lo = y->lo < 0 ? y->lo : 0, hi = y->hi > 0 ? y->hi : 0, step;

		if (hi - lo <= 0)
			hi = lo + 1;
		step = gp_nice_step((hi - lo) * 1.1, 6);
		hi = step * ceil(hi * 1.1 / step - 1e-9);
		lo = lo < 0 ? step * floor(lo * 1.1 / step) : 0;
		/* a line of zeros a little above the x axis, not hidden in it */
		fprintf(fp, "unset logscale y\nset yrange [%.10g:%.10g]\nset ytics %.10g,%.10g\n",
			lo < 0 ? lo : -0.04 * hi, hi, lo, step);
	}
}

static int sw_write_script(const char *tmp, bool png, const struct sw_ctx *c,
			   const struct chart_opts *o, char *err, size_t errlen)
{
	int nf = c->nfacets, ny = c->ny, ret = 0, key_cols, key_rows;
	int w = nf >= 3 ? 1600 : nf == 2 ? 1300 : 1000;
	int h = 120 + 400 * ny;
	double title_px = 40, key_px, top, bottom, left = 90.0 / w, right = 0.98;
	size_t maxlab = 0;
	char path[PATH_MAX], title[512], ylist[300];
	FILE *fp;

	for (int g = 0; g < c->ngroups; g++)
		if (chart_text_width(c->groups[g].label) > maxlab)
			maxlab = chart_text_width(c->groups[g].label);
	/* the key belongs to the first panel: gnuplot wraps it to that panel's width */
	key_cols = (int)((w * (right - left) - (nf - 1) * 75.0) / nf / (maxlab * SW_CHAR_PX + 60));
	if (key_cols < 1)
		key_cols = 1;
	if (key_cols > c->ngroups)
		key_cols = c->ngroups;
	key_rows = c->bycol >= 0 ? (c->ngroups + key_cols - 1) / key_cols : 0;
	key_px = key_rows ? 10 + 20.0 * (key_rows + 1) : 0;	/* a row for the key's title */
	/* panel titles name the facets: without facets there are none to leave room for */
	top = 1.0 - (title_px + key_px + (c->nfax ? 34 : 12)) / h;
	bottom = 62.0 / h;

	fp = chart_script(tmp, " --kind sweep", png, w, h, path, sizeof(path), err, errlen, &ret);
	if (!fp)
		return ret;
	if (o->title) {
		chart_text(title, sizeof(title), o->title);
	} else {
		size_t used = 0;

		ylist[0] = '\0';
		for (int k = 0; k < ny; k++)
			used += snprintf(ylist + used, used < sizeof(ylist) ? sizeof(ylist) - used : 0,
					 "%s%s", k ? ", " : "", c->y[k].name);
		snprintf(title, sizeof(title), "eptsim sweep %s: %s against %s%s", summary_name(c->s),
			 ylist, summary_column_name(c->s, (size_t)c->xcol),
			 c->rep ? " (mean ± 95% CI)" : "");
		gp_sanitize(title);
	}
	fprintf(fp, "set multiplot layout %d,%d title '%s' font 'sans,14' "
		    "margins %.4f,%.4f,%.4f,%.4f spacing %.4f,%.4f\n", ny, nf, title, left, right,
		bottom, top, nf > 1 ? 75.0 / w : 0.0, ny > 1 ? 110.0 / h : 0.0);
	fprintf(fp, "set mxtics 1\nset mytics 1\n");
	if (key_rows) {
		char byname[CHART_LABEL_MAX];

		chart_text(byname, sizeof(byname), summary_column_name(c->s, (size_t)c->bycol));
		fprintf(fp, "set key at screen 0.5, screen %.4f center top horizontal Left reverse "
			    "samplen 3 width 2 spacing 1.2 maxcols %d maxrows %d title '%s' "
			    "font 'sans,11'\n", 1.0 - title_px / h, key_cols, key_rows, byname);
	} else {
		fprintf(fp, "unset key\n");
	}
	for (int k = 0; k < ny; k++)
		for (int f = 0; f < nf; f++) {
			char ftitle[512];
			bool any = false;

			for (size_t r = 0; r < summary_nr_rows(c->s) && !any; r++) {
				double v;

				any = c->keep[r] && c->facet[r] == f && sw_value(c, k, r, &v);
			}
			fprintf(fp, "\n# ---- panel: %s, facet %d\n", c->y[k].name, f);
			sw_facet_title(c, f, ftitle, sizeof(ftitle));
			fprintf(fp, "set title '%s' font 'sans,12'\n", ftitle);
			sw_xaxis(fp, c);
			sw_yaxis(fp, &c->y[k]);
			if (!any) {
				fprintf(fp, "set label 1 'no data: the runs have no %s' at graph 0.5,0.5 "
					    "center font 'sans,11'\nplot NaN notitle\nunset label 1\n",
					c->y[k].name);
				continue;
			}
			fprintf(fp, "plot \\\n");
			for (int g = 0; g < c->ngroups; g++) {
				/* the key is the first panel's */
				bool titled = !k && !f && key_rows;

				/* earlier lines wider, so a line drawn over one still shows it */
				double wide = c->ngroups > 1 ? (double)(c->ngroups - 1 - g) /
					      (c->ngroups - 1) : 0;

				fprintf(fp, "  'd-%d-%d-%d.dat' using %s lw %.2f pt %d "
					    "ps %.2f lc rgb '%s' ", f, k, g,
					c->rep ? "1:2:3 with yerrorlines" : "1:2 with linespoints", 1.6 + 1.1 * wide,
					chart_pt[g % CHART_NPT], 1.1 + 0.5 * wide, gp_color[g % GP_NCOLOR]);
				if (titled)
					fprintf(fp, "title '%s'", c->groups[g].label);
				else
					fprintf(fp, "notitle");
				fprintf(fp, "%s\n", g + 1 < c->ngroups ? ", \\" : "");
			}
		}
	fprintf(fp, "\nunset multiplot\nunset output\n");
	return gp_close(fp, path, err, errlen);
}

int chart_sweep(const char *dir, const struct chart_opts *o, const char *out, char *err,
		size_t errlen)
{
	struct sw_ctx c = { 0 };
	char tmp[PATH_MAX], img[PATH_MAX];
	bool png, any = false;
	int ret = gp_check_args(&dir, 1, out, &png, err, errlen);
	size_t nr;

	if (ret)
		return ret;
	ret = summary_load(dir, &c.s, err, errlen);
	if (ret)
		return ret;
	nr = summary_nr_rows(c.s);
	c.keep = calloc(nr + 1, sizeof(*c.keep));
	c.xv = calloc(nr + 1, sizeof(*c.xv));
	c.group = calloc(nr + 1, sizeof(*c.group));
	if (!c.keep || !c.xv || !c.group) {
		ret = -ENOMEM;
		goto out;
	}
	if (!o->x) {
		gp_err(err, errlen, "--x COLUMN is needed (an axis of the sweep, e.g. guest.vcpus)");
		ret = -EINVAL;
		goto out;
	}
	ret = chart_where(c.s, o, c.keep, err, errlen);
	for (size_t r = 0; r < nr; r++)
		any = any || c.keep[r];
	if (!ret && !any) {
		gp_err(err, errlen, "%s: no run to draw (%s)", dir,
		       nr ? "--where kept none" : "summary.csv has no row");
		ret = -EINVAL;
	}
	if (!ret)
		ret = sw_setup_x(&c, o->x, err, errlen);
	if (!ret)
		ret = sw_setup_by(&c, o->by, err, errlen);
	if (!ret) {
		/* replicates, unless the seed is what is drawn against or what the lines are */
		int sc;

		c.seedaxis = summary_seed_axis(c.s);
		sc = c.seedaxis < 0 ? -1 : summary_column(c.s, summary_axis_key(c.s, (size_t)c.seedaxis));
		c.rep = sc >= 0 && c.seedaxis != c.xaxis && sc != c.xcol && sc != c.bycol;
		ret = sw_setup_facets(&c, err, errlen);
	}
	if (!ret)
		ret = sw_setup_y(&c, o, err, errlen);
	if (ret)
		goto out;
	ret = gp_mktmp(tmp, sizeof(tmp), img, sizeof(img), png, err, errlen);
	if (ret)
		goto out;
	ret = sw_write_data(tmp, &c, err, errlen);
	if (!ret)
		ret = sw_write_script(tmp, png, &c, o, err, errlen);
	ret = gp_finish(tmp, img, out, o->keep, ret, err, errlen);
out:
	if (ret == -ENOMEM)
		gp_err(err, errlen, "out of memory");
	sw_free(&c);
	return ret;
}

/* ================================================================ --kind cdf */

#define CDF_W		1600
#define CDF_H		640

struct cdf_line {
	double *x, *f;		/* µs, cumulative share at x (bucket upper bounds) */
	size_t n;
	double count, max_us, p99_us;
};

/* The buckets of stat in run r as CDF points.  x in µs; a 0-cycle bucket stays 0 and is
 * drawn at the axis' left end. */
static int cdf_load(const struct chart_run *r, const char *stat, struct cdf_line *l,
		    char *err, size_t errlen)
{
	json_t *h = json_object_get(r->stats, stat), *b, *e;
	double cum = 0;
	size_t i;

	if (!h) {
		gp_err(err, errlen, "%s: no stat %s", r->dir, stat);
		return -EINVAL;
	}
	b = json_object_get(h, "buckets");
	if (!json_is_object(h) || !json_is_number(json_object_get(h, "count"))) {
		gp_err(err, errlen, "%s: %s is not a histogram", r->dir, stat);
		return -EINVAL;
	}
	if (!json_is_array(b)) {
		gp_err(err, errlen, "%s: %s has no buckets (a stats.json of an older eptsim: run it "
		       "again)", r->dir, stat);
		return -EINVAL;
	}
	l->count = json_number_value(json_object_get(h, "count"));
	l->max_us = json_number_value(json_object_get(h, "max")) / r->mhz;
	l->p99_us = json_number_value(json_object_get(h, "p99")) / r->mhz;
	l->x = calloc(json_array_size(b) + 1, sizeof(*l->x));
	l->f = calloc(json_array_size(b) + 1, sizeof(*l->f));
	if (!l->x || !l->f) {
		gp_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	json_array_foreach(b, i, e) {
		json_t *le = json_array_get(e, 0), *n = json_array_get(e, 1);

		if (!json_is_number(le) || !json_is_number(n) ||
		    (l->n && json_number_value(le) / r->mhz < l->x[l->n - 1])) {
			gp_err(err, errlen, "%s: %s.buckets[%zu] is not an ascending [le, n] pair",
			       r->dir, stat, i);
			return -EINVAL;
		}
		cum += json_number_value(n);
		l->x[l->n] = json_number_value(le) / r->mhz;
		l->f[l->n++] = l->count > 0 ? cum / l->count : 0;
	}
	if (l->count > 0 && fabs(cum - l->count) > 0.5) {
		gp_err(err, errlen, "%s: %s: the buckets hold %.0f samples, count says %.0f", r->dir,
		       stat, cum, l->count);
		return -EINVAL;
	}
	return 0;
}

/* cdf-J.dat "x_us F" and tail-J.dat "x_us 1-F" (the last bucket, where 1-F is 0, becomes
 * the share of one sample at the max: where the tail ends). */
static int cdf_write_data(const char *tmp, const struct cdf_line *lines, int n, double xmin,
			  char *err, size_t errlen)
{
	for (int j = 0; j < n; j++) {
		const struct cdf_line *l = &lines[j];
		char name[32], path[PATH_MAX];
		int ret = 0;
		FILE *f;

		snprintf(name, sizeof(name), "cdf-%d.dat", j);
		f = gp_create(tmp, name, path, sizeof(path), err, errlen, &ret);
		if (!f)
			return ret;
		fprintf(f, "# x_us cumulative_share (steps: the share of samples <= x)\n");
		if (l->n)
			fprintf(f, "%.10g 0\n", xmin);
		for (size_t i = 0; i < l->n; i++)
			fprintf(f, "%.10g %.10g\n", l->x[i] > xmin ? l->x[i] : xmin, l->f[i]);
		ret = gp_close(f, path, err, errlen);
		if (ret)
			return ret;

		snprintf(name, sizeof(name), "tail-%d.dat", j);
		f = gp_create(tmp, name, path, sizeof(path), err, errlen, &ret);
		if (!f)
			return ret;
		fprintf(f, "# x_us share_above_x\n");
		if (l->n && l->count > 0)
			fprintf(f, "%.10g 1\n", xmin);
		for (size_t i = 0; i + 1 < l->n; i++)
			fprintf(f, "%.10g %.10g\n", l->x[i] > xmin ? l->x[i] : xmin, 1 - l->f[i]);
		if (l->n && l->count > 0)
			fprintf(f, "%.10g %.10g\n", l->max_us > xmin ? l->max_us : xmin, 1 / l->count);
		ret = gp_close(f, path, err, errlen);
		if (ret)
			return ret;
	}
	return 0;
}

/* A power of ten at or below v, and at or above. */
static double chart_decade_below(double v) { return pow(10, floor(log10(v) + 1e-9)); }
static double chart_decade_above(double v) { return pow(10, ceil(log10(v) - 1e-9)); }

int chart_cdf(const char *const *dirs, int ndirs, const struct chart_opts *o, const char *out,
	      char *err, size_t errlen)
{
	const char *stat = o->ny > 0 ? o->y[0] : CHART_DEFAULT_HIST;
	struct chart_runs rs = { 0 };
	struct cdf_line *lines = NULL;
	char tmp[PATH_MAX], img[PATH_MAX], path[PATH_MAX], title[512], sname[128];
	double xmin = HUGE_VAL, xmax = 0, tmin = 1;
	size_t maxlab = 0;
	int ret, key_cols, key_rows;
	double top;
	bool png;
	FILE *f;

	ret = gp_check_args(dirs, ndirs, out, &png, err, errlen);
	if (!ret)
		ret = chart_runs_resolve(dirs, ndirs, o, &rs, err, errlen);
	if (ret)
		goto out;
	lines = calloc(rs.n, sizeof(*lines));
	if (!lines) {
		gp_err(err, errlen, "out of memory");
		ret = -ENOMEM;
		goto out;
	}
	for (int j = 0; j < rs.n && !ret; j++)
		ret = cdf_load(&rs.r[j], stat, &lines[j], err, errlen);
	if (ret)
		goto out;
	for (int j = 0; j < rs.n; j++) {
		for (size_t i = 0; i < lines[j].n; i++)
			if (lines[j].x[i] > 0 && lines[j].x[i] < xmin)
				xmin = lines[j].x[i];
		if (lines[j].max_us > xmax)
			xmax = lines[j].max_us;
		if (lines[j].count > 0 && 1 / lines[j].count < tmin)
			tmin = 1 / lines[j].count;
	}
	if (xmin == HUGE_VAL) {		/* nothing but 0-cycle samples, or no sample */
		xmin = 0.001;
		xmax = 1;
	}
	/* whole decades, with the 0-cycle samples on the left edge */
	xmin = chart_decade_below(xmin / 1.5);
	xmax = chart_decade_above(xmax > xmin ? xmax * 1.2 : xmin * 10);
	tmin = chart_decade_below(tmin);

	ret = gp_mktmp(tmp, sizeof(tmp), img, sizeof(img), png, err, errlen);
	if (ret)
		goto out;
	ret = cdf_write_data(tmp, lines, rs.n, xmin, err, errlen);
	if (ret)
		goto finish;

	for (int j = 0; j < rs.n; j++) {
		char c[32], p99[32], mx[32];
		size_t l;

		chart_thousands(c, sizeof(c), lines[j].count);
		chart_us(p99, sizeof(p99), lines[j].p99_us);
		chart_us(mx, sizeof(mx), lines[j].max_us);
		l = chart_text_width(rs.r[j].label) + strlen(c) + strlen(p99) + strlen(mx) + 22;
		if (l > maxlab)
			maxlab = l;
	}
	/* the key belongs to the left panel: gnuplot wraps it to that panel's width */
	key_cols = (int)(CDF_W * 0.42 / (maxlab * SW_CHAR_PX + 50));
	if (key_cols < 1)
		key_cols = 1;
	if (key_cols > rs.n)
		key_cols = rs.n;
	key_rows = (rs.n + key_cols - 1) / key_cols;
	top = 1.0 - (62.0 + 22.0 * key_rows + 48) / (CDF_H + 20 * key_rows);

	f = chart_script(tmp, " --kind cdf", png, CDF_W, CDF_H + 20 * key_rows, path, sizeof(path),
			 err, errlen, &ret);
	if (!f)
		goto finish;
	/* "mmu_lock.wait_cycles" is drawn in µs: call it "mmu_lock.wait" */
	chart_text(sname, sizeof(sname), stat);
	if (gp_has_suffix(sname, "_cycles"))
		sname[strlen(sname) - strlen("_cycles")] = '\0';
	if (o->title) {
		chart_text(title, sizeof(title), o->title);
	} else {
		json_t *help = json_object_get(json_object_get(json_object_get(rs.r[0].doc,
								"stat_info"), stat), "help");

		snprintf(title, sizeof(title), "eptsim: distribution of %s%s%s", sname,
			 json_is_string(help) ? " — " : "",
			 json_is_string(help) ? json_string_value(help) : "");
		gp_sanitize(title);
	}
	fprintf(f, "set multiplot layout 1,2 title '%s' font 'sans,14' margins 0.06,0.98,%.4f,%.4f "
		   "spacing 0.07,0\n", title, 70.0 / (CDF_H + 20 * key_rows), top);
	fprintf(f, "set key at screen 0.5, screen %.4f center top horizontal Left reverse samplen 3 "
		   "width 1 spacing 1.2 maxcols %d maxrows %d font 'sans,10'\n",
		1.0 - 44.0 / (CDF_H + 20 * key_rows), key_cols, key_rows);
	fprintf(f, "set logscale x 10\nset xrange [%.10g:%.10g]\nset format x '%%g'\n"
		   "set mxtics 10\nset xlabel '%s (µs, log scale; 0 at the left edge)'\n",
		xmin, xmax, sname);

	fprintf(f, "\n# ---- panel: CDF\n");
	fprintf(f, "set title 'CDF: share of samples ≤ x' font 'sans,12'\n"
		   "set ylabel 'share of samples (%%)'\nset yrange [0:100]\nset ytics 0,10,100\n"
		   "plot \\\n");
	for (int j = 0; j < rs.n; j++) {
		char c[32], p99[32], mx[32];

		chart_thousands(c, sizeof(c), lines[j].count);
		chart_us(p99, sizeof(p99), lines[j].p99_us);
		chart_us(mx, sizeof(mx), lines[j].max_us);
		fprintf(f, "  'cdf-%d.dat' using 1:($2*100) with steps lw 2 dt %d lc rgb '%s' "
			   "title '%s (%s samples, p99 %s, max %s)'%s\n", j, 1 + j / GP_NCOLOR % 4,
			gp_color[j % GP_NCOLOR], rs.r[j].label, c, p99, mx, j + 1 < rs.n ? ", \\" : "");
	}

	fprintf(f, "\n# ---- panel: tail\n");
	fprintf(f, "set title 'tail: share of samples > x (the line ends at the max)' "
		   "font 'sans,12'\nunset key\n"
		   "set ylabel 'share of samples above x (log scale)'\nset logscale y 10\n"
		   "set yrange [%.10g:1.5]\nset format y '%%g'\nset ytics autofreq\n", tmin / 2);
	fprintf(f, "plot \\\n");
	for (int j = 0; j < rs.n; j++)
		fprintf(f, "  'tail-%d.dat' using 1:2 with steps lw 2 dt %d lc rgb '%s' notitle, \\\n"
			   "  'tail-%d.dat' every ::%zu using 1:2 with points pt 7 ps 0.9 lc rgb '%s' "
			   "notitle%s\n", j, 1 + j / GP_NCOLOR % 4, gp_color[j % GP_NCOLOR], j,
			lines[j].n ? lines[j].n : 0, gp_color[j % GP_NCOLOR], j + 1 < rs.n ? ", \\" : "");
	fprintf(f, "\nunset multiplot\nunset output\n");
	ret = gp_close(f, path, err, errlen);
finish:
	ret = gp_finish(tmp, img, out, o->keep, ret, err, errlen);
out:
	for (int j = 0; lines && j < rs.n; j++) {
		free(lines[j].x);
		free(lines[j].f);
	}
	free(lines);
	chart_runs_free(&rs);
	return ret;
}

/* ================================================================ --kind stalls */

#define ST_W		1400
#define ST_NCAT		5	/* the categories besides guest */
#define ST_BAR_PX	30	/* vertical room of one run */

static const struct {
	const char *name;	/* vcpu.N.cycles.<name> */
	const char *key;	/* key entry */
	const char *color;
} st_cat[ST_NCAT] = {
	{ "walk", "walk: 2D page walks after TLB misses", "#0072b2" },
	{ "exit", "exit: VM exits and EPT-violation handling", "#009e73" },
	{ "lock_wait", "lock_wait: spinning on mmu_lock", "#d55e00" },
	{ "request", "request: IPIs and requests (remote flushes, root reloads)", "#cc79a7" },
	{ "idle", "idle: halted (its workload over)", "#9a9a9a" },
};

struct st_run {
	double cyc[ST_NCAT];	/* summed over the vCPUs */
	double total;		/* every category, guest included */
};

static int st_load(const struct chart_run *r, struct st_run *s, char *err, size_t errlen)
{
	long n = r->vcpus >= 0 ? r->vcpus : LONG_MAX;
	bool any = false;

	memset(s, 0, sizeof(*s));
	for (long i = 0; i < n; i++) {
		char key[96];
		bool found = false;

		for (int c = -1; c < ST_NCAT; c++) {
			json_t *v;

			snprintf(key, sizeof(key), "vcpu.%ld.cycles.%s", i, c < 0 ? "guest" : st_cat[c].name);
			v = json_object_get(r->stats, key);
			if (!json_is_number(v))
				continue;
			found = true;
			if (c >= 0)
				s->cyc[c] += json_number_value(v);
			s->total += json_number_value(v);
		}
		if (!found && r->vcpus < 0)
			break;
		any = any || found;
	}
	if (!any || !(s->total > 0)) {
		gp_err(err, errlen, "%s: no vCPU cycle breakdown (vcpu.N.cycles.*)", r->dir);
		return -EINVAL;
	}
	return 0;
}

int chart_stalls(const char *const *dirs, int ndirs, const struct chart_opts *o,
		 const char *out, char *err, size_t errlen)
{
	struct chart_runs rs = { 0 };
	struct st_run *st = NULL;
	char tmp[PATH_MAX], img[PATH_MAX], path[PATH_MAX], title[512];
	double xmax = 0, step, left;
	size_t maxlab = 0;
	bool png, idle = false;
	int ret, h, ncat, key_rows;
	FILE *f;

	ret = gp_check_args(dirs, ndirs, out, &png, err, errlen);
	if (!ret)
		ret = chart_runs_resolve(dirs, ndirs, o, &rs, err, errlen);
	if (ret)
		goto out;
	st = calloc(rs.n, sizeof(*st));
	if (!st) {
		gp_err(err, errlen, "out of memory");
		ret = -ENOMEM;
		goto out;
	}
	for (int j = 0; j < rs.n && !ret; j++)
		ret = st_load(&rs.r[j], &st[j], err, errlen);
	if (ret)
		goto out;
	for (int j = 0; j < rs.n; j++) {
		double sum = 0;

		for (int c = 0; c < ST_NCAT; c++)
			sum += st[j].cyc[c];
		if (100 * sum / st[j].total > xmax)
			xmax = 100 * sum / st[j].total;
		idle = idle || st[j].cyc[ST_NCAT - 1] > 0;
		if (chart_text_width(rs.r[j].label) > maxlab)
			maxlab = chart_text_width(rs.r[j].label);
	}
	ncat = idle ? ST_NCAT : ST_NCAT - 1;
	/* room after the longest bar for its total */
	step = gp_nice_step(xmax > 0 ? xmax * 1.15 : 1, 8);
	xmax = step * ceil((xmax > 0 ? xmax * 1.15 : 1) / step - 1e-9);
	key_rows = (ncat + 1) / 2;
	h = 150 + 20 * key_rows + ST_BAR_PX * rs.n;
	left = (maxlab * CHART_TIC_CHAR_PX + 30) / ST_W;
	if (left < 0.08)
		left = 0.08;
	if (left > 0.5)
		left = 0.5;

	ret = gp_mktmp(tmp, sizeof(tmp), img, sizeof(img), png, err, errlen);
	if (ret)
		goto out;
	/* stalls.dat: "row  end_1 .. end_5  total" in % of all vCPU cycles, ends cumulative */
	f = gp_create(tmp, "stalls.dat", path, sizeof(path), err, errlen, &ret);
	if (!f)
		goto finish;
	fprintf(f, "# row");
	for (int c = 0; c < ST_NCAT; c++)
		fprintf(f, " %s_end", st_cat[c].name);
	fprintf(f, " non_guest_pct  (%% of all vCPU cycles, cumulative; row 0 at the bottom)\n");
	for (int j = 0; j < rs.n; j++) {
		double cum = 0;

		fprintf(f, "%d", rs.n - 1 - j);
		for (int c = 0; c < ST_NCAT; c++) {
			cum += 100 * st[j].cyc[c] / st[j].total;
			fprintf(f, " %.10g", cum);
		}
		fprintf(f, " %.10g  # %s\n", cum, rs.r[j].label);
	}
	ret = gp_close(f, path, err, errlen);
	if (ret)
		goto finish;

	f = chart_script(tmp, " --kind stalls", png, ST_W, h, path, sizeof(path), err, errlen, &ret);
	if (!f)
		goto finish;
	if (o->title)
		chart_text(title, sizeof(title), o->title);
	else
		snprintf(title, sizeof(title), "eptsim: vCPU time besides guest execution, all vCPUs "
			 "summed");
	fprintf(f, "set multiplot title '%s' font 'sans,14'\n", title);
	fprintf(f, "set lmargin at screen %.4f\nset rmargin at screen 0.97\n"
		   "set tmargin at screen %.4f\nset bmargin at screen %.4f\n", left,
		1.0 - (62.0 + 20 * key_rows) / h, 64.0 / h);
	fprintf(f, "set key at screen 0.5, screen %.4f center top horizontal Left reverse samplen 2 "
		   "width 2 spacing 1.2 maxcols 2 maxrows %d font 'sans,10'\n", 1.0 - 36.0 / h,
		key_rows);
	fprintf(f, "set grid noytics\nset xrange [0:%.10g]\nset xtics 0,%.10g\nset mxtics 1\n"
		   "set xlabel '%% of all vCPU cycles (the rest, up to 100%%, is guest execution)'\n"
		   "set yrange [-0.6:%d.6]\nset ytics scale 0 (", xmax, step, rs.n - 1);
	for (int j = 0; j < rs.n; j++)
		fprintf(f, "%s'%s' %d", j ? ", " : "", rs.r[j].label, rs.n - 1 - j);
	fprintf(f, ")\nset style fill solid 0.9 border lc rgb '#404040'\nplot \\\n");
	for (int c = 0; c < ncat; c++) {
		char prev[16];	/* where the category's box starts: the previous one's end */

		if (c)
			snprintf(prev, sizeof(prev), "$%d", c + 1);
		else
			snprintf(prev, sizeof(prev), "0");
		fprintf(f, "  'stalls.dat' using ((%s + $%d) / 2):1:(%s):%d:($1 - 0.32):($1 + 0.32) "
			   "with boxxyerror lc rgb '%s' title '%s', \\\n",
			prev, c + 2, prev, c + 2, st_cat[c].color, st_cat[c].key);
	}
	fprintf(f, "  'stalls.dat' using ($%d + %.10g):1:(sprintf('%%.1f%%%%', $%d)) with labels "
		   "left font 'sans,10' notitle\n", ST_NCAT + 2, xmax / 150, ST_NCAT + 2);
	fprintf(f, "unset multiplot\nunset output\n");
	ret = gp_close(f, path, err, errlen);
finish:
	ret = gp_finish(tmp, img, out, o->keep, ret, err, errlen);
out:
	free(st);
	chart_runs_free(&rs);
	return ret;
}

/* ================================================================ --kind timeline */

#define TL_W		1600
#define TL_ROW_PX	26	/* vertical room of one holder in the zoom */
#define TL_TOP_PX	112.0	/* figure title, key, first panel title */
#define TL_GAP_PX	105.0	/* overview's axis label, zoom's title */
#define TL_VMM_COLOR	"#d55e00"
#define TL_VCPU_COLOR	"#0072b2"
#define TL_VCPU_FAINT	"#900072b2"	/* ARGB: the same blue, mostly transparent */
#define TL_WAIT_COLOR	"#c4c4c4"
#define TL_FILE		"series/lock_timeline.dat"

struct tl_hold {
	uint64_t start, end, wait;
	unsigned id;
};

struct tl_data {
	double mhz;
	unsigned vcpus, vmm_id;
	uint64_t end_cycle, dropped, dropped_cycles, max;
	struct tl_hold *h;
	size_t n, cap;
};

static int tl_read(const char *dir, struct tl_data *t, char *err, size_t errlen)
{
	char path[PATH_MAX + 32], *line = NULL;
	size_t cap = 0, lineno = 0;
	bool facts = false;
	int ret = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/" TL_FILE, dir);
	f = path_open_regular(path, &ret, err, errlen);
	if (!f) {
		if (ret == -ENOENT)
			gp_err(err, errlen, "%s: %s (run with output.lock_timeline = true)", path, strerror(-ret));
		return ret;
	}
	while (getline(&line, &cap, f) >= 0) {
		unsigned long long a, b, w;
		unsigned id;
		char kind[16];

		lineno++;
		if (line[0] == '#') {
			unsigned long long e, d, dc, mx;
			size_t holds;

			if (sscanf(line, "# freq_mhz=%lf vcpus=%u vmm_id=%u end_cycle=%llu holds=%zu "
					 "hold_cycles=%*u dropped=%llu dropped_cycles=%llu max=%llu",
				   &t->mhz, &t->vcpus, &t->vmm_id, &e, &holds, &d, &dc, &mx) == 8) {
				facts = true;
				t->end_cycle = e;
				t->dropped = d;
				t->dropped_cycles = dc;
				t->max = mx;
			}
			continue;
		}
		if (sscanf(line, "%llu %llu %u %15s %llu", &a, &b, &id, kind, &w) != 5 || b < a ||
		    (t->n && a < t->h[t->n - 1].end) || !facts || id > t->vmm_id) {
			gp_err(err, errlen, "%s:%zu: %s", path, lineno,
			       !facts ? "no header line with freq_mhz=, vcpus=, ..." :
			       "not a hold \"start end holder kind wait\" after the previous one");
			ret = -EINVAL;
			break;
		}
		if (t->n == t->cap) {
			size_t nc = t->cap ? 2 * t->cap : 4096;
			struct tl_hold *nh = realloc(t->h, nc * sizeof(*nh));

			if (!nh) {
				gp_err(err, errlen, "out of memory");
				ret = -ENOMEM;
				break;
			}
			t->h = nh;
			t->cap = nc;
		}
		t->h[t->n++] = (struct tl_hold){ a, b, w, id };
	}
	free(line);
	fclose(f);
	if (!ret && (!facts || !(t->mhz > 0))) {
		gp_err(err, errlen, "%s: no header line with freq_mhz=, vcpus=, ...", path);
		ret = -EINVAL;
	}
	if (!ret && !t->n) {
		gp_err(err, errlen, "%s: no mmu_lock hold recorded", path);
		ret = -EINVAL;
	}
	return ret;
}

/* The zoom: the VMM thread's longest hold, grown by the VMM holds that follow or precede
 * it closer than the span so far (or 20 µs): a zap-all and its lock-breaks.  Without a VMM
 * hold, the longest hold of all.  Padded by 12% each side. */
static void tl_auto_window(const struct tl_data *t, uint64_t *lo, uint64_t *hi)
{
	size_t best = SIZE_MAX;
	uint64_t a, b, near = (uint64_t)(20 * t->mhz), pad;
	bool vmm = false;

	for (size_t i = 0; i < t->n; i++)
		if (t->h[i].id == t->vmm_id && (best == SIZE_MAX ||
		    t->h[i].end - t->h[i].start > t->h[best].end - t->h[best].start))
			best = i;
	vmm = best != SIZE_MAX;
	for (size_t i = 0; !vmm && i < t->n; i++)
		if (best == SIZE_MAX || t->h[i].end - t->h[i].start > t->h[best].end - t->h[best].start)
			best = i;
	a = t->h[best].start;
	b = t->h[best].end;
	for (bool grew = true; grew && vmm;) {
		grew = false;
		for (size_t i = 0; i < t->n; i++) {
			uint64_t gap = b - a > near ? b - a : near;

			if (t->h[i].id != t->vmm_id)
				continue;
			if (t->h[i].start >= b && t->h[i].start - b <= gap && t->h[i].end > b) {
				b = t->h[i].end;
				grew = true;
			} else if (t->h[i].end <= a && a - t->h[i].end <= gap && t->h[i].start < a) {
				a = t->h[i].start;
				grew = true;
			}
		}
	}
	pad = (b - a) / 8 + (uint64_t)(2 * t->mhz);
	*lo = a > pad ? a - pad : 0;
	*hi = b + pad;
}

/* A bar being grown: holds (or waits) of one row less than a pixel apart become one. */
struct tl_box {
	double xs, xe;
	bool open;
};

static void tl_box_flush(FILE *f, struct tl_box *b, double y, double half)
{
	if (b->open)
		fprintf(f, "%.10g %g %.10g %.10g %g %g\n", b->xs, y, b->xs, b->xe, y - half, y + half);
	b->open = false;
}

/* Add [xs, xe) to row y's bar b: boxes narrower than min_w are drawn min_w wide; with
 * merge, a box that starts less than min_w after the bar's end extends it. */
static void tl_box_add(FILE *f, struct tl_box *b, double xs, double xe, double y, double half,
		       double min_w, bool merge)
{
	if (xe - xs < min_w)
		xe = xs + min_w;
	if (merge && b->open && xs - b->xe < min_w) {
		if (xe > b->xe)
			b->xe = xe;
		return;
	}
	tl_box_flush(f, b, y, half);
	*b = (struct tl_box){ xs, xe, true };
	if (!merge)
		tl_box_flush(f, b, y, half);
}

/* Holds and waits overlapping [lo, hi) into NAME-vmm.dat, NAME-vcpu.dat (x = ms or µs
 * since the start, "xs y xs xe yl yh") and NAME-wait.dat; boxes narrower than min_w (x
 * units, a pixel) are drawn min_w wide (waits that short are left out), and with merge (the
 * overview) a row's boxes less than min_w apart are drawn as one, so a figure of 100,000
 * holds stays small.  *nheld and
 * *nvmm count the holds in the window, all and the VMM thread's. */
static int tl_write(const char *tmp, const char *name, const struct tl_data *t, uint64_t lo,
		    uint64_t hi, double div, double min_w, bool merge, size_t *nheld,
		    size_t *nvmm, char *err, size_t errlen)
{
	static const char *const part[3] = { "vmm", "vcpu", "wait" };
	char fname[64], path[PATH_MAX];
	struct tl_box *hold = calloc(t->vmm_id + 1, sizeof(*hold));
	struct tl_box *wait = calloc(t->vmm_id + 1, sizeof(*wait));
	FILE *f[3] = { NULL };
	int ret = 0;

	*nheld = *nvmm = 0;
	if (!hold || !wait) {
		gp_err(err, errlen, "out of memory");
		ret = -ENOMEM;
	}
	for (int p = 0; p < 3 && !ret; p++) {
		snprintf(fname, sizeof(fname), "%s-%s.dat", name, part[p]);
		f[p] = gp_create(tmp, fname, path, sizeof(path), err, errlen, &ret);
		if (f[p])
			fprintf(f[p], "# x_start row x_start x_end row_low row_high (%s)\n", part[p]);
	}
	for (size_t i = 0; i < t->n && !ret; i++) {
		const struct tl_hold *h = &t->h[i];
		uint64_t ws = h->start >= h->wait ? h->start - h->wait : 0;
		FILE *hf = f[h->id == t->vmm_id ? 0 : 1];

		if (h->end >= lo && h->start < hi) {
			tl_box_add(hf, &hold[h->id], h->start / div, h->end / div, h->id, 0.36, min_w,
				   merge);
			(*nheld)++;
			*nvmm += h->id == t->vmm_id;
		}
		/* a wait shorter than a pixel (an uncontended acquisition's lock_acquire) is
		 * invisible at that scale: left out rather than widened */
		if (h->wait && h->start >= lo && ws < hi && h->wait / div >= min_w)
			tl_box_add(f[2], &wait[h->id], ws / div, h->start / div, h->id, 0.13, min_w,
				   merge);
	}
	for (unsigned r = 0; !ret && r <= t->vmm_id; r++) {
		tl_box_flush(f[r == t->vmm_id ? 0 : 1], &hold[r], r, 0.36);
		tl_box_flush(f[2], &wait[r], r, 0.13);
	}
	for (int p = 0; p < 3; p++)
		if (f[p]) {
			int rc = gp_close(f[p], path, err, errlen);

			if (!ret)
				ret = rc;
		}
	free(hold);
	free(wait);
	return ret;
}

static void tl_rows(FILE *f, const struct tl_data *t)
{
	unsigned every = t->vcpus > 32 ? (t->vcpus + 31) / 32 : 1;

	fprintf(f, "set yrange [-0.7:%u.7]\nset ytics scale 0 (", t->vmm_id);
	for (unsigned v = 0; v < t->vcpus; v += every)
		fprintf(f, "'vCPU %u' %u, ", v, v);
	fprintf(f, "'VMM thread' %u)\nset grid noytics xtics\n", t->vmm_id);
}

/* Holds and waits of one panel; in the overview (faint) the vCPUs' are translucent, so
 * the pixel-wide holds of a busy stretch add up to a shade rather than a solid bar. */
static void tl_plot(FILE *f, const char *name, bool titles, bool faint)
{
	fprintf(f, "plot '%s-wait.dat' using 1:2:3:4:5:6 with boxxyerror fs solid 1.0 noborder "
		   "lc rgb '%s' %s, \\\n"
		   "  '%s-vcpu.dat' using 1:2:3:4:5:6 with boxxyerror fs solid 1.0 noborder "
		   "lc rgb '%s' %s, \\\n"
		   "  '%s-vmm.dat' using 1:2:3:4:5:6 with boxxyerror fs solid 1.0 noborder "
		   "lc rgb '%s' %s\n", name, TL_WAIT_COLOR,
		titles ? "title 'waiting for mmu_lock'" : "notitle", name,
		faint ? TL_VCPU_FAINT : TL_VCPU_COLOR,
		titles ? "title 'a vCPU holds mmu_lock (fault, root load, ...)'" : "notitle", name,
		TL_VMM_COLOR,
		titles ? "title 'the VMM thread holds mmu_lock (an ioctl: zap-all, dirty log, ...)'" :
			 "notitle");
}

int chart_timeline(const char *dir, const struct chart_opts *o, const char *out, char *err,
		   size_t errlen)
{
	struct tl_data t = { 0 };
	struct chart_run run = { 0 };
	char tmp[PATH_MAX], img[PATH_MAX], path[PATH_MAX], title[512], label[CHART_LABEL_MAX];
	uint64_t lo, hi, all_hi;
	double zdiv, odiv, zoom_px, ov_px, rows_px, h;
	size_t nz, no, nz_vmm, no_vmm;
	bool png, two, zoom_us, auto_win = isnan(o->from_ms) && isnan(o->to_ms);
	int ret = gp_check_args(&dir, 1, out, &png, err, errlen);
	FILE *f;

	if (ret)
		return ret;
	ret = tl_read(dir, &t, err, errlen);
	if (ret)
		goto out;
	snprintf(run.dir, sizeof(run.dir), "%s", dir);
	if (chart_run_load(&run, err, errlen) == 0 && json_is_string(json_object_get(run.doc,
								       "config_file")))
		gp_basename(json_string_value(json_object_get(run.doc, "config_file")), label,
			    sizeof(label));
	else
		gp_basename(dir, label, sizeof(label));
	gp_sanitize(label);
	if (err && errlen)	/* stats.json is optional here: only the label comes from it */
		err[0] = '\0';

	all_hi = t.end_cycle > t.h[t.n - 1].end ? t.end_cycle : t.h[t.n - 1].end;
	if (!auto_win) {
		double a = isnan(o->from_ms) ? 0 : o->from_ms, b = isnan(o->to_ms) ?
			   all_hi / t.mhz / 1000 : o->to_ms;

		if (!(b > a) || a < 0) {
			gp_err(err, errlen, "--from/--to: an empty window [%g, %g] ms", a, b);
			ret = -EINVAL;
			goto out;
		}
		lo = (uint64_t)(a * t.mhz * 1000);
		hi = (uint64_t)(b * t.mhz * 1000);
	} else {
		tl_auto_window(&t, &lo, &hi);
	}
	two = (double)(hi - lo) < 0.9 * (double)all_hi;
	zoom_us = (hi - lo) / t.mhz < 2000;
	zdiv = zoom_us ? t.mhz : t.mhz * 1000;
	odiv = t.mhz * 1000;
	rows_px = TL_ROW_PX * (t.vmm_id + 1.0);
	if (rows_px > 700)
		rows_px = 700;
	zoom_px = rows_px < 160 ? 160 : rows_px;
	ov_px = zoom_px * 0.5 < 100 ? 100 : zoom_px * 0.5;
	/* title and key, [overview, its axis label and the zoom's title], zoom, axis label */
	h = TL_TOP_PX + (two ? ov_px + TL_GAP_PX : 0) + zoom_px + 60;

	ret = gp_mktmp(tmp, sizeof(tmp), img, sizeof(img), png, err, errlen);
	if (ret)
		goto out;
	/* a pixel of the plot area, in the zoom's and the overview's units */
	ret = tl_write(tmp, "zoom", &t, lo, hi, zdiv, (hi - lo) / zdiv / (TL_W * 0.86), false,
		       &nz, &nz_vmm, err, errlen);
	if (!ret && two)
		ret = tl_write(tmp, "all", &t, 0, all_hi + 1, odiv, all_hi / odiv / (TL_W * 0.86),
			       true, &no, &no_vmm, err, errlen);
	if (ret)
		goto finish;

	f = chart_script(tmp, " --kind timeline", png, TL_W, (int)h, path, sizeof(path), err,
			 errlen, &ret);
	if (!f)
		goto finish;
	if (o->title)
		chart_text(title, sizeof(title), o->title);
	else
		snprintf(title, sizeof(title), "eptsim: who held mmu_lock when — %s", label);
	fprintf(f, "set multiplot title '%s' font 'sans,14'\n", title);
	fprintf(f, "set lmargin at screen 0.09\nset rmargin at screen 0.98\n");
	fprintf(f, "set key at screen 0.5, screen %.4f center top horizontal Left reverse "
		   "samplen 2 width 2 font 'sans,10'\n", 1 - 40 / h);
	tl_rows(f, &t);
	if (two) {
		double top = 1 - TL_TOP_PX / h, bot = top - ov_px / h;

		fprintf(f, "\n# ---- panel: the whole run\n");
		fprintf(f, "set tmargin at screen %.4f\nset bmargin at screen %.4f\n", top, bot);
		fprintf(f, "set title 'the whole run (%zu holds%s; at least a pixel wide, those less "
			   "than a pixel apart drawn as one; shaded: the zoom below)' font 'sans,11'\n",
			t.n, t.dropped ? ", then the rest not recorded" : "");
		fprintf(f, "set xrange [0:%.10g]\nset xtics autofreq\nset xlabel 'time (ms)'\n",
			all_hi / odiv);
		fprintf(f, "set object 1 rect from %.10g, graph 0 to %.10g, graph 1 behind "
			   "fc rgb '#fff3c4' fs solid 1.0 noborder\n", lo / odiv,
			(hi / odiv - lo / odiv) < all_hi / odiv / 300 ? lo / odiv + all_hi / odiv / 300 :
			hi / odiv);
		if (t.dropped)
			fprintf(f, "set object 2 rect from %.10g, graph 0 to graph 1, graph 1 behind "
				   "fc rgb '#eeeeee' fs solid 1.0 noborder\n"
				   "set label 2 'not recorded: %llu more holds (output.lock_timeline_max = "
				   "%llu)' at graph 0.99, graph 0.5 right front font 'sans,10'\n",
				t.h[t.n - 1].end / odiv, (unsigned long long)t.dropped,
				(unsigned long long)t.max);
		tl_plot(f, "all", true, true);
		fprintf(f, "unset object 1\nunset object 2\nunset label 2\nunset key\n");
		fprintf(f, "set tmargin at screen %.4f\nset bmargin at screen %.4f\n",
			bot - TL_GAP_PX / h, 60 / h);
	} else {
		fprintf(f, "set tmargin at screen %.4f\nset bmargin at screen %.4f\n",
			1 - TL_TOP_PX / h, 60 / h);
	}
	fprintf(f, "\n# ---- panel: the zoom\n");
	fprintf(f, "set title '%s%.6g to %.6g %s: %zu holds, %zu of them the VMM thread''s' "
		   "font 'sans,11'\n", two ? (auto_win ? "zoom on the VMM thread''s longest hold and "
		   "its VMM neighbours, " : "zoom, ") : "", lo / zdiv, hi / zdiv,
		zoom_us ? "µs" : "ms", nz, nz_vmm);
	fprintf(f, "set xrange [%.10g:%.10g]\nset xtics autofreq\nset xlabel 'time since the start "
		   "(%s)'\n", lo / zdiv, hi / zdiv, zoom_us ? "µs" : "ms");
	tl_plot(f, "zoom", !two, false);
	fprintf(f, "\nunset multiplot\nunset output\n");
	ret = gp_close(f, path, err, errlen);
finish:
	ret = gp_finish(tmp, img, out, o->keep, ret, err, errlen);
out:
	json_decref(run.doc);
	free(t.h);
	return ret;
}
