// SPDX-License-Identifier: GPL-2.0
/* sim/plot — the comparison figure of result folders.  See plot.h for the contract.
 *
 * Every stats.json is read into a struct plot_run (label, the two per-zap arrays and the
 * vCPU cycle split); then two data files and a gnuplot script go into a private temporary
 * directory, gnuplot runs there, and the image it drew is copied to out (sim/gnuplot: the
 * plumbing every figure shares).
 *
 * Panels 1 and 2 are drawn `with boxes` at computed offsets rather than with gnuplot's
 * clustered histograms, so the x axis stays numeric (zap number) and its tics stay
 * readable however many zap-all calls a run made.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sim/gnuplot.h"
#include "sim/paths.h"
#include "sim/plot.h"

#define PLOT_NCAT	5	/* vCPU time categories, idle excluded */
#define PLOT_NZAP	2	/* per-zap arrays: lock breaks, flushes */

static const char *const plot_cat[PLOT_NCAT] = {
	"guest", "walk", "exit", "lock_wait", "request",
};

/* guest is the bulk of the time: keep it quiet so the overheads stand out. */
static const char *const plot_cat_color[PLOT_NCAT] = {
	"#c8c8c8", "#0072b2", "#009e73", "#d55e00", "#cc79a7",
};

static const struct {
	const char *stat;	/* array in "stats" */
	const char *title;	/* panel title */
	const char *ylabel;
} plot_zap[PLOT_NZAP] = {
	{ "zap.lock_breaks", "Lock-breaks per zap", "mmu_lock breaks (count per zap-all)" },
	{ "zap.flushes", "Remote TLB flushes per zap", "remote TLB flushes (count per zap-all)" },
};

/* Canvas and panel geometry.  Keys sit right above each panel's plot area, under the
 * panel title; the top margin grows with the number of key rows, estimated from the label
 * lengths (about 6.5 px per character of sans 10). */
#define PLOT_W		1600
#define PLOT_H		560
#define PLOT_LEFT	0.05
#define PLOT_RIGHT	0.985
#define PLOT_BOTTOM	0.12
#define PLOT_HSPACE	0.065
#define PLOT_CHAR_PX	6.5

struct plot_layout {
	int run_cols, run_rows;	/* key of panels 1 and 2 */
	int cat_cols, cat_rows;	/* key of panel 3 */
	double top;		/* top of the plot areas, fraction of the canvas */
	double bottom;		/* bottom of the plot areas */
	double title_up;	/* panel titles raised above the keys, in characters */
	bool rotate;		/* panel 3 tic labels too wide for their bars: slant them */
	bool short_pct;		/* bars too narrow for "non-guest\nX%": just "X%" */
};

/* How a run is named in a figure: shared by every kind of plot. */
struct plot_id {
	char label[256];
	char base[128];			/* basename of the result folder */
	char cfg[128];			/* basename of config_file, "" if absent */
};

/* The id of element i of an array of structs (stride bytes apart) holding one each. */
#define PLOT_ID(first, stride, i) \
	((struct plot_id *)((char *)(first) + (size_t)(i) * (stride)))

struct plot_run {
	struct plot_id id;
	double *zap[PLOT_NZAP];
	size_t nzap[PLOT_NZAP];
	double cyc[PLOT_NCAT];		/* summed over every vCPU */
};





static int plot_load_array(json_t *stats, const char *name, double **out, size_t *n,
			   const char *path, char *err, size_t errlen)
{
	json_t *a = json_object_get(stats, name), *v;
	size_t i;

	*out = NULL;
	*n = 0;
	if (!a || json_is_null(a))
		return 0;		/* no zap-all run */
	if (!json_is_array(a)) {
		gp_err(err, errlen, "%s: \"%s\" is not an array", path, name);
		return -EINVAL;
	}
	if (!json_array_size(a))
		return 0;
	*out = calloc(json_array_size(a), sizeof(**out));
	if (!*out) {
		gp_err(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	json_array_foreach(a, i, v) {
		if (!json_is_number(v)) {
			gp_err(err, errlen, "%s: \"%s\"[%zu] is not a number", path, name, i);
			return -EINVAL;	/* the caller frees *out */
		}
		(*out)[i] = json_number_value(v);
	}
	*n = json_array_size(a);
	return 0;
}

/* Sum vcpu.N.cycles.<cat> over every vCPU.  The count comes from config.guest.vcpus; when
 * that is missing, vCPUs are counted until the first one without any cycles stat. */
static void plot_load_cycles(struct plot_run *r, json_t *doc, json_t *stats)
{
	json_t *nv = json_object_get(json_object_get(json_object_get(doc, "config"), "guest"),
				     "vcpus");
	bool known = json_is_integer(nv) && json_integer_value(nv) >= 0;
	long n = known ? (long)json_integer_value(nv) : LONG_MAX;
	char key[96];

	for (long i = 0; i < n; i++) {
		bool found = false;

		for (int c = 0; c < PLOT_NCAT; c++) {
			json_t *v;

			snprintf(key, sizeof(key), "vcpu.%ld.cycles.%s", i, plot_cat[c]);
			v = json_object_get(stats, key);
			if (!json_is_number(v))
				continue;
			found = true;
			if (json_number_value(v) > 0)
				r->cyc[c] += json_number_value(v);
		}
		if (!known && !found)
			break;
	}
}

/* Read dir/stats.json into *doc (the caller json_decref()s it) and point *stats at its
 * "stats" object.  The path goes to path[len] for the caller's own messages. */
static int plot_read_stats(const char *dir, char *path, size_t len, json_t **doc,
			   json_t **stats, char *err, size_t errlen)
{
	int ret;

	*doc = *stats = NULL;
	if (snprintf(path, len, "%s/stats.json", dir) >= (int)len) {
		gp_err(err, errlen, "%s: path too long", dir);
		return -ENAMETOOLONG;
	}
	*doc = path_load_json(path, &ret, err, errlen);   /* a regular file only: a FIFO does not block */
	if (!*doc)
		return ret == -EBADMSG ? -EINVAL : ret;
	*stats = json_object_get(*doc, "stats");
	if (!json_is_object(*stats)) {
		gp_err(err, errlen, "%s: no \"stats\" object", path);
		json_decref(*doc);
		*doc = *stats = NULL;
		return -EINVAL;
	}
	return 0;
}

/* Label from config.mmu.<key> (the folder's basename when absent), folder basename and
 * config file basename, all sanitized. */
static void plot_load_id(struct plot_id *id, const char *dir, json_t *doc, const char *key)
{
	json_t *v;

	gp_basename(dir, id->base, sizeof(id->base));
	gp_sanitize(id->base);
	v = json_object_get(json_object_get(json_object_get(doc, "config"), "mmu"), key);
	snprintf(id->label, sizeof(id->label), "%s",
		 json_is_string(v) && *json_string_value(v) ? json_string_value(v) : id->base);
	gp_sanitize(id->label);
	v = json_object_get(doc, "config_file");
	if (json_is_string(v)) {
		gp_basename(json_string_value(v), id->cfg, sizeof(id->cfg));
		gp_sanitize(id->cfg);
	}
}

static int plot_load(struct plot_run *r, const char *dir, char *err, size_t errlen)
{
	char path[PATH_MAX];
	json_t *doc, *stats;
	int ret;

	ret = plot_read_stats(dir, path, sizeof(path), &doc, &stats, err, errlen);
	if (ret)
		return ret;
	for (int z = 0; z < PLOT_NZAP && !ret; z++)
		ret = plot_load_array(stats, plot_zap[z].stat, &r->zap[z], &r->nzap[z], path,
				      err, errlen);
	if (ret)
		goto out;
	plot_load_cycles(r, doc, stats);

	plot_load_id(&r->id, dir, doc, "zap_all");
out:
	json_decref(doc);
	return ret;
}

/* Runs sharing a label all get " (folder)" appended.  The ids are those of an array of
 * structs, stride bytes apart. */
static void plot_dedup_labels(struct plot_id *first, size_t stride, int n)
{
	bool *dup = calloc(n, sizeof(*dup));

	if (!dup)
		return;		/* cosmetic: keep the plain labels */
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (!strcmp(PLOT_ID(first, stride, i)->label, PLOT_ID(first, stride, j)->label))
				dup[i] = dup[j] = true;
	for (int i = 0; i < n; i++) {
		struct plot_id *id = PLOT_ID(first, stride, i);
		size_t l = strlen(id->label);

		if (dup[i])
			snprintf(id->label + l, sizeof(id->label) - l, " (%s)", id->base);
	}
	free(dup);
}

/* A tic step of 1, 2 or 5 times a power of ten giving about nticks tics over range; never
 * below 1, since everything on these axes is a count. */
static double plot_step(double range, int nticks)
{
	double raw = range / nticks, mag = 1;

	if (raw <= 1)
		return 1;
	while (mag * 10 <= raw)
		mag *= 10;
	if (raw <= mag)
		return mag;
	if (raw <= 2 * mag)
		return 2 * mag;
	if (raw <= 5 * mag)
		return 5 * mag;
	return 10 * mag;
}




/* zaps.dat: "k  lb_1..lb_n  fl_1..fl_n", NaN where a run made fewer than k zap-all calls
 * (gnuplot skips those points). */
static int plot_write_zaps(const char *tmp, const struct plot_run *runs, int n, size_t maxz,
			   char *err, size_t errlen)
{
	char path[PATH_MAX];
	int ret = 0;
	FILE *f = gp_create(tmp, "zaps.dat", path, sizeof(path), err, errlen, &ret);

	if (!f)
		return ret;
	fprintf(f, "# zap");
	for (int z = 0; z < PLOT_NZAP; z++)
		for (int i = 0; i < n; i++)
			fprintf(f, " %s[%d]", plot_zap[z].stat, i);
	fputc('\n', f);
	for (size_t k = 0; k < maxz; k++) {
		fprintf(f, "%zu", k + 1);
		for (int z = 0; z < PLOT_NZAP; z++)
			for (int i = 0; i < n; i++) {
				if (k < runs[i].nzap[z])
					fprintf(f, " %.15g", runs[i].zap[z][k]);
				else
					fprintf(f, " NaN");
			}
		fputc('\n', f);
	}
	return gp_close(f, path, err, errlen);
}

/* vcpu.dat: "label  guest% walk% exit% lock_wait% request%  has_data", one row per run. */
static int plot_write_vcpu(const char *tmp, const struct plot_run *runs, int n,
			   char *err, size_t errlen)
{
	char path[PATH_MAX];
	int ret = 0;
	FILE *f = gp_create(tmp, "vcpu.dat", path, sizeof(path), err, errlen, &ret);

	if (!f)
		return ret;
	fprintf(f, "# label");
	for (int c = 0; c < PLOT_NCAT; c++)
		fprintf(f, " %s%%", plot_cat[c]);
	fprintf(f, " has_data\n");
	for (int i = 0; i < n; i++) {
		double sum = 0;

		for (int c = 0; c < PLOT_NCAT; c++)
			sum += runs[i].cyc[c];
		fprintf(f, "\"%s\"", runs[i].id.label);
		for (int c = 0; c < PLOT_NCAT; c++)
			fprintf(f, " %.6f", sum > 0 ? 100.0 * runs[i].cyc[c] / sum : 0.0);
		fprintf(f, " %d\n", sum > 0);
	}
	return gp_close(f, path, err, errlen);
}

/* "a.ini", or "a.ini, b.ini" when the runs come from different configurations.  The ids
 * are those of an array of structs, stride bytes apart. */
static void plot_config_names(const struct plot_id *first, size_t stride, int n, char *buf,
			      size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; i < n; i++) {
		const char *cfg = PLOT_ID(first, stride, i)->cfg;
		bool seen = false;

		if (!cfg[0])
			continue;
		for (int j = 0; j < i && !seen; j++)
			seen = !strcmp(cfg, PLOT_ID(first, stride, j)->cfg);
		if (seen)
			continue;
		used += snprintf(buf + used, len - used, "%s%s", used ? ", " : "", cfg);
		if (used >= len)
			break;
	}
	if (!buf[0])
		snprintf(buf, len, "unknown configuration");
}

/* Width of one panel's plot area, in pixels. */
static double plot_panel_px(void)
{
	return PLOT_W * (PLOT_RIGHT - PLOT_LEFT - 2 * PLOT_HSPACE) / 3;
}

/* Columns a horizontal key of n entries fits in, the longest being maxlen characters. */
static int plot_key_cols(int n, size_t maxlen)
{
	int cols = (int)(plot_panel_px() / (maxlen * PLOT_CHAR_PX + 45));

	if (cols < 1)
		cols = 1;
	return cols < n ? cols : n;
}

static void plot_layout(struct plot_layout *l, const struct plot_run *runs, int n)
{
	size_t maxlen = 0;
	int rows;

	for (int i = 0; i < n; i++)
		if (strlen(runs[i].id.label) > maxlen)
			maxlen = strlen(runs[i].id.label);
	l->run_cols = plot_key_cols(n, maxlen);
	l->run_rows = (n + l->run_cols - 1) / l->run_cols;
	l->cat_cols = plot_key_cols(PLOT_NCAT, strlen("lock_wait"));
	l->cat_rows = (PLOT_NCAT + l->cat_cols - 1) / l->cat_cols;
	rows = l->run_rows > l->cat_rows ? l->run_rows : l->cat_rows;
	/* figure title, panel title, key rows (about 16 px each), a little air */
	l->top = 1.0 - (84.0 + 16.0 * rows) / PLOT_H;
	if (l->top < 0.45)	/* absurdly many runs: keep a plot area at least */
		l->top = 0.45;
	l->title_up = rows + 0.1;

	/* Panel 3 has one bar per run, 0.6 of its slot wide. */
	l->rotate = maxlen * PLOT_CHAR_PX + 10 > plot_panel_px() / n;
	l->short_pct = 0.6 * plot_panel_px() / n < strlen("non-guest") * PLOT_CHAR_PX + 4;
	l->bottom = PLOT_BOTTOM;
	if (l->rotate) {	/* sin(30 deg) of the longest label, then the x label */
		double px = 0.5 * maxlen * PLOT_CHAR_PX;

		if (px > 0.35 * PLOT_H - 68.0)
			px = 0.35 * PLOT_H - 68.0;
		l->bottom = (px + 68.0) / PLOT_H;
		if (l->bottom < PLOT_BOTTOM)
			l->bottom = PLOT_BOTTOM;
	}
}

/* One per-zap panel: clustered bars at x = k + offset(run). */
static void plot_script_zap(FILE *f, const char *tmp, const struct plot_run *runs, int n,
			    int z, const struct plot_layout *l)
{
	size_t maxz = 0;
	double maxv = 0, w, ystep, xstep;

	for (int i = 0; i < n; i++) {
		if (runs[i].nzap[z] > maxz)
			maxz = runs[i].nzap[z];
		for (size_t k = 0; k < runs[i].nzap[z]; k++)
			if (runs[i].zap[z][k] > maxv)
				maxv = runs[i].zap[z][k];
	}
	fprintf(f, "\n# ---- panel: %s\n", plot_zap[z].title);
	fprintf(f, "set title '%s' font 'sans,12' offset 0,%.2f\n", plot_zap[z].title,
		l->title_up);
	fprintf(f, "set key maxcols %d maxrows %d\n", l->run_cols, l->run_rows);
	fprintf(f, "set xlabel 'zap-all call (#, in run order)'\n");
	fprintf(f, "set ylabel '%s'\n", plot_zap[z].ylabel);
	if (!maxz) {
		fprintf(f, "set xrange [0:1]\nset yrange [0:1]\nunset xtics\nunset ytics\n"
			   "set label 1 'no zap-all runs' at graph 0.5,0.5 center font 'sans,12'\n"
			   "plot 2 notitle\n"
			   "unset label 1\nset xtics nomirror\nset ytics nomirror\n");
		return;
	}
	w = 0.8 / n;
	ystep = plot_step(maxv, 6);
	xstep = plot_step((double)maxz, 16);
	fprintf(f, "set xrange [0.5:%zu.5]\n", maxz);
	fprintf(f, "set yrange [0:%.15g]\n", ystep * ((long long)(maxv / ystep) + 1));
	fprintf(f, "set xtics %.15g\nset ytics %.15g\n", xstep, ystep);
	fprintf(f, "set boxwidth %.6f absolute\n", w);
	/* Borders help when bars are wide, only add noise when they are slivers. */
	if (maxz * n <= 80)
		fprintf(f, "set style fill solid 0.9 border lc rgb '#303030'\n");
	else
		fprintf(f, "set style fill solid 0.9 noborder\n");
	fprintf(f, "plot \\\n");
	for (int i = 0; i < n; i++)
		fprintf(f, "  '%s/zaps.dat' using ($1%+.6f):%d with boxes lc rgb '%s' title '%s'%s\n",
			tmp, (i - (n - 1) / 2.0) * w, 2 + z * n + i,
			gp_color[i % GP_NCOLOR], runs[i].id.label, i + 1 < n ? ", \\" : "");
}

static void plot_script_vcpu(FILE *f, const char *tmp, int n, const struct plot_layout *l)
{
	fprintf(f, "\n# ---- panel: vCPU time breakdown\n");
	fprintf(f, "set title 'vCPU time breakdown' font 'sans,12' offset 0,%.2f\n",
		l->title_up);
	fprintf(f, "set key maxcols %d maxrows %d\n", l->cat_cols, l->cat_rows);
	fprintf(f, "set xlabel 'zap-all variant (all vCPUs summed, idle excluded)'\n"
		   "set ylabel '%% of vCPU time'\n"
		   "set style data histograms\n"
		   "set style histogram rowstacked\n"
		   "set style fill solid 0.9 border lc rgb '#303030'\n"
		   "set boxwidth 0.6 relative\n"
		   "set xrange [-0.6:%d.6]\nset yrange [0:100]\n"
		   "set xtics autofreq nomirror%s\nset ytics 10 nomirror\n",
		   n - 1, l->rotate ? " rotate by 30 right" : "");
	fprintf(f, "plot \\\n");
	for (int c = 0; c < PLOT_NCAT; c++)
		fprintf(f, "  '%s/vcpu.dat' using %d%s lc rgb '%s' title '%s', \\\n", tmp, c + 2,
			c ? "" : ":xtic(1)", plot_cat_color[c], plot_cat[c]);
	/* The non-guest share, written inside the guest part of each bar. */
	fprintf(f, "  '%s/vcpu.dat' using 0:($7 > 0 ? ($2 >= 20 ? $2/2 : 50) : 50):"
		   "($7 > 0 ? sprintf(\"%s%%.1f%%%%\", 100 - $2) : \"%s\") "
		   "with labels center font 'sans,10' notitle\n", tmp,
		   l->short_pct ? "" : "non-guest\\n", l->short_pct ? "n/a" : "no vCPU data");
}

static int plot_write_script(const char *tmp, const char *img, bool png,
			     const struct plot_run *runs, int n, char *err, size_t errlen)
{
	char path[PATH_MAX], cfg[512];
	struct plot_layout l;
	int ret = 0;
	FILE *f = gp_create(tmp, "plot.gp", path, sizeof(path), err, errlen, &ret);

	if (!f)
		return ret;
	plot_layout(&l, runs, n);
	plot_config_names(&runs[0].id, sizeof(runs[0]), n, cfg, sizeof(cfg));
	gp_sanitize(cfg);
	gp_terminal(f, "", png, PLOT_W, PLOT_H, img);
	fprintf(f, "set multiplot layout 1,3 title 'eptsim: zap-all variants — %s' "
		   "font 'sans,14' margins %g,%g,%.4f,%.4f spacing %g,0\n", cfg, PLOT_LEFT,
		PLOT_RIGHT, l.bottom, l.top, PLOT_HSPACE);
	fprintf(f, "set key at graph 0.5,graph 1.02 center bottom horizontal Left reverse "
		   "samplen 1.5 width 1 spacing 1.1\n"
		   "set border 3 lw 1\n"
		   "set grid ytics back lc rgb '#d8d8d8' lw 1 dt 1\n"
		   "set xtics nomirror out\nset ytics nomirror out\n"
		   "set mxtics 1\n");
	for (int z = 0; z < PLOT_NZAP; z++)
		plot_script_zap(f, tmp, runs, n, z, &l);
	plot_script_vcpu(f, tmp, n, &l);
	fprintf(f, "\nunset multiplot\nunset output\n");
	return gp_close(f, path, err, errlen);
}








int plot_runs(const char *const *dirs, int ndirs, const char *out, char *err, size_t errlen)
{
	struct plot_run *runs;
	char tmp[PATH_MAX], img[PATH_MAX];
	size_t maxz = 0;
	bool png;
	int ret = gp_check_args(dirs, ndirs, out, &png, err, errlen);

	if (ret)
		return ret;
	runs = calloc(ndirs, sizeof(*runs));
	if (!runs) {
		gp_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (int i = 0; i < ndirs && !ret; i++)
		ret = plot_load(&runs[i], dirs[i], err, errlen);
	if (ret)
		goto out_free;
	plot_dedup_labels(&runs[0].id, sizeof(runs[0]), ndirs);
	for (int i = 0; i < ndirs; i++)
		for (int z = 0; z < PLOT_NZAP; z++)
			if (runs[i].nzap[z] > maxz)
				maxz = runs[i].nzap[z];

	ret = gp_mktmp(tmp, sizeof(tmp), img, sizeof(img), png, err, errlen);
	if (ret)
		goto out_free;
	ret = plot_write_zaps(tmp, runs, ndirs, maxz, err, errlen);
	if (!ret)
		ret = plot_write_vcpu(tmp, runs, ndirs, err, errlen);
	if (!ret)
		ret = plot_write_script(tmp, img, png, runs, ndirs, err, errlen);
	ret = gp_finish(tmp, img, out, NULL, ret, err, errlen);
out_free:
	for (int i = 0; i < ndirs; i++)
		for (int z = 0; z < PLOT_NZAP; z++)
			free(runs[i].zap[z]);
	free(runs);
	return ret;
}

/* ================================================================ plot_mmio
 *
 * One point per run: x = ept.shadow_pages_end, y = the panel's figure; runs grouped into
 * one line per config.mmu.mmio_invalidate, each group sorted by x and written to its own
 * data file (mmio-G.dat).  Every point is labelled with the guest size in GiB: the labels
 * of the group that is highest in a panel sit above-left of its points, the others'
 * below-right, so two lines over the same guest sizes do not label on top of each other
 * (and a rising line never runs through its own labels).
 */

#define PLOT_MMIO_NPANEL	3

struct plot_mrun {
	char variant[64];	/* config.mmu.mmio_invalidate */
	double pages;		/* ept.shadow_pages_end */
	double mem_gib;		/* config.guest.mem */
	double y[PLOT_MMIO_NPANEL];	/* hold µs, stall ms, slow refaults */
	int group;
};

struct plot_mgroup {
	const char *variant;
	int n;			/* runs in it */
	double ymean[PLOT_MMIO_NPANEL];
	bool above[PLOT_MMIO_NPANEL];	/* its labels go above its points */
	bool zero[PLOT_MMIO_NPANEL];	/* all its values are 0 */
};

static const struct {
	const char *title;
	const char *ylabel;
} plot_mmio_panel[PLOT_MMIO_NPANEL] = {
	{ "mmu_lock hold per invalidation", "mean mmu_lock hold per invalidation (µs)" },
	{ "vCPU stall behind mmu_lock", "mmu_lock wait, all vCPUs summed (ms)" },
	{ "slow-path MMIO refaults", "slow-path MMIO exits (count)" },
};

/* The variants in the order they are drawn; others follow in order of appearance. */
static const char *const plot_mmio_known[] = { "zap-walk", "generation" };

static json_t *plot_cfg(json_t *doc, const char *section, const char *key)
{
	return json_object_get(json_object_get(json_object_get(doc, "config"), section), key);
}

/* Sum of vcpu.N.cycles.<what> over every vCPU (config.guest.vcpus of them, or until the
 * first missing one when the count is not known). */
static double plot_vcpu_sum(json_t *doc, json_t *stats, const char *what)
{
	json_t *nv = plot_cfg(doc, "guest", "vcpus");
	bool known = json_is_integer(nv) && json_integer_value(nv) >= 0;
	long n = known ? (long)json_integer_value(nv) : LONG_MAX;
	double sum = 0;
	char key[96];

	for (long i = 0; i < n; i++) {
		json_t *v;

		snprintf(key, sizeof(key), "vcpu.%ld.cycles.%s", i, what);
		v = json_object_get(stats, key);
		if (!json_is_number(v)) {
			if (!known)
				break;
			continue;
		}
		if (json_number_value(v) > 0)
			sum += json_number_value(v);
	}
	return sum;
}

static int plot_mmio_load(struct plot_mrun *r, const char *dir, char *err, size_t errlen)
{
	static const char *const need[] = {
		"mmio.invalidations", "mmio.invalidate_hold_cycles", "mmio.slow",
	};
	char path[PATH_MAX];
	json_t *doc, *stats, *v;
	double *hold = NULL, mhz, sum = 0;
	size_t nhold = 0;
	int ret;

	ret = plot_read_stats(dir, path, sizeof(path), &doc, &stats, err, errlen);
	if (ret)
		return ret;
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (!json_object_get(stats, need[i])) {
			gp_err(err, errlen, "%s: no MMIO stats (run with eptsim >= this version)",
				 dir);
			ret = -EINVAL;
			goto out;
		}
	v = plot_cfg(doc, "mmu", "mmio_invalidate");
	if (!json_is_string(v) || !*json_string_value(v)) {
		gp_err(err, errlen, "%s: no config.mmu.mmio_invalidate", path);
		ret = -EINVAL;
		goto out;
	}
	snprintf(r->variant, sizeof(r->variant), "%s", json_string_value(v));
	gp_sanitize(r->variant);

	v = plot_cfg(doc, "cpu", "freq_mhz");
	mhz = json_is_number(v) ? json_number_value(v) : 0;
	if (!(mhz > 0)) {
		gp_err(err, errlen, "%s: no config.cpu.freq_mhz", path);
		ret = -EINVAL;
		goto out;
	}
	v = plot_cfg(doc, "guest", "mem");
	if (!json_is_number(v) || json_number_value(v) <= 0) {
		gp_err(err, errlen, "%s: no config.guest.mem", path);
		ret = -EINVAL;
		goto out;
	}
	r->mem_gib = json_number_value(v) / (1024.0 * 1024 * 1024);
	v = json_object_get(stats, "ept.shadow_pages_end");
	if (!json_is_number(v)) {
		gp_err(err, errlen, "%s: \"ept.shadow_pages_end\" missing or not a number", path);
		ret = -EINVAL;
		goto out;
	}
	r->pages = json_number_value(v);
	v = json_object_get(stats, "mmio.slow");
	if (!json_is_number(v)) {
		gp_err(err, errlen, "%s: \"mmio.slow\" is not a number", path);
		ret = -EINVAL;
		goto out;
	}
	r->y[2] = json_number_value(v);

	ret = plot_load_array(stats, "mmio.invalidate_hold_cycles", &hold, &nhold, path,
			      err, errlen);
	if (ret)
		goto out;
	for (size_t i = 0; i < nhold; i++)
		sum += hold[i];
	r->y[0] = nhold ? sum / nhold / mhz : 0;			/* cycles -> µs */
	r->y[1] = plot_vcpu_sum(doc, stats, "lock_wait") / mhz / 1000;	/* cycles -> ms */
out:
	free(hold);
	json_decref(doc);
	return ret;
}

static int plot_mrun_cmp(const void *a, const void *b)
{
	const struct plot_mrun *x = a, *y = b;

	if (x->group != y->group)
		return x->group < y->group ? -1 : 1;
	if (x->pages != y->pages)
		return x->pages < y->pages ? -1 : 1;
	if (x->mem_gib != y->mem_gib)
		return x->mem_gib < y->mem_gib ? -1 : 1;
	return 0;
}

/* Assign each run its group (known variants first, in plot_mmio_known order), sort the
 * runs by group then x, and fill in the groups.  Returns the number of groups. */
static int plot_mmio_group(struct plot_mrun *runs, int n, struct plot_mgroup *g)
{
	int ng = 0;
	size_t nk = sizeof(plot_mmio_known) / sizeof(plot_mmio_known[0]);

	for (size_t k = 0; k < nk; k++)
		for (int i = 0; i < n; i++)
			if (!strcmp(runs[i].variant, plot_mmio_known[k])) {
				g[ng++].variant = plot_mmio_known[k];
				break;
			}
	for (int i = 0; i < n; i++) {
		int j;

		for (j = 0; j < ng && strcmp(g[j].variant, runs[i].variant); j++)
			;
		if (j == ng)
			g[ng++].variant = runs[i].variant;
		runs[i].group = j;
	}
	qsort(runs, n, sizeof(*runs), plot_mrun_cmp);
	/* qsort moved the runs: point the variant names at their new home */
	for (int j = 0; j < ng; j++)
		for (int i = 0; i < n; i++)
			if (runs[i].group == j) {
				g[j].variant = runs[i].variant;
				break;
			}
	for (int j = 0; j < ng; j++)
		for (int p = 0; p < PLOT_MMIO_NPANEL; p++)
			g[j].zero[p] = true;
	for (int i = 0; i < n; i++) {
		struct plot_mgroup *gr = &g[runs[i].group];

		gr->n++;
		for (int p = 0; p < PLOT_MMIO_NPANEL; p++) {
			gr->ymean[p] += runs[i].y[p];
			if (runs[i].y[p] != 0)
				gr->zero[p] = false;
		}
	}
	for (int p = 0; p < PLOT_MMIO_NPANEL; p++) {
		int top = 0;

		for (int j = 0; j < ng; j++) {
			g[j].ymean[p] /= g[j].n;
			if (g[j].ymean[p] > g[top].ymean[p])
				top = j;
		}
		for (int j = 0; j < ng; j++)
			g[j].above[p] = j == top;
	}
	return ng;
}

/* mmio-G.dat: "pages  mem_GiB  hold_us  stall_ms  slow", sorted by pages. */
static int plot_mmio_write_data(const char *tmp, const struct plot_mrun *runs, int n, int ng,
				char *err, size_t errlen)
{
	for (int j = 0; j < ng; j++) {
		char path[PATH_MAX], name[32];
		int ret = 0;
		FILE *f;

		snprintf(name, sizeof(name), "mmio-%d.dat", j);
		f = gp_create(tmp, name, path, sizeof(path), err, errlen, &ret);
		if (!f)
			return ret;
		fprintf(f, "# shadow_pages mem_GiB hold_us stall_ms slow_refaults\n");
		for (int i = 0; i < n; i++)
			if (runs[i].group == j)
				fprintf(f, "%.15g %.6g %.9g %.9g %.15g\n", runs[i].pages,
					runs[i].mem_gib, runs[i].y[0], runs[i].y[1], runs[i].y[2]);
		ret = gp_close(f, path, err, errlen);
		if (ret)
			return ret;
	}
	return 0;
}


static void plot_mmio_range(const struct plot_mrun *runs, int n, int p, double *lo,
			    double *hi)
{
	*lo = HUGE_VAL;
	*hi = 0;
	for (int i = 0; i < n; i++) {
		if (runs[i].y[p] < *lo)
			*lo = runs[i].y[p];
		if (runs[i].y[p] > *hi)
			*hi = runs[i].y[p];
	}
}

/* Log y only where it helps: every value positive and more than a decade apart. */
static bool plot_mmio_logy(const struct plot_mrun *runs, int n, int p)
{
	double lo, hi;

	plot_mmio_range(runs, n, p, &lo, &hi);
	return lo > 0 && hi / lo >= 10;
}

/* In a linear panel 1, a line of zeros lies on the 0 tic: its key entry says so. */
#define PLOT_MMIO_ZERO_NOTE	" (0 µs: no mmu_lock hold)"

static bool plot_mmio_note(const struct plot_mrun *runs, int n, const struct plot_mgroup *g,
			   int p)
{
	return p == 0 && g->zero[p] && !plot_mmio_logy(runs, n, p);
}

static void plot_mmio_script_panel(FILE *f, const char *tmp, const struct plot_mrun *runs,
				   int n, const struct plot_mgroup *g, int ng, int p,
				   double xhi, double title_up, int key_cols)
{
	double lo, hi;
	bool logy = plot_mmio_logy(runs, n, p);

	plot_mmio_range(runs, n, p, &lo, &hi);

	fprintf(f, "\n# ---- panel: %s\n", plot_mmio_panel[p].title);
	fprintf(f, "set title '%s' font 'sans,12' offset 0,%.2f\n", plot_mmio_panel[p].title,
		title_up);
	fprintf(f, "set key maxcols %d maxrows %d\n", key_cols, (ng + key_cols - 1) / key_cols);
	fprintf(f, "set xlabel 'shadow pages (guest size in GiB annotated at each point)'\n");
	fprintf(f, "set ylabel '%s'\n", plot_mmio_panel[p].ylabel);
	fprintf(f, "set xrange [0:%.15g]\nset xtics autofreq nomirror out\n", xhi);
	if (logy) {
		fprintf(f, "set logscale y\nset yrange [%.15g:%.15g]\n"
			   "set ytics autofreq nomirror out\nset format y '%%g'\n", lo / 2, hi * 2);
	} else {
		/* room above the top labels, and below 0 for the labels under a line near 0 */
		bool count = p == 2;	/* whole tics only */
		double top = hi > 0 ? hi * 1.14 : count ? 5 : 1;
		double step = gp_nice_step(top, 6);

		if (count && step < 1)
			step = 1;
		fprintf(f, "unset logscale y\nset yrange [%.15g:%.15g]\n"
			   "set ytics 0,%.15g nomirror out\nset format y '%%g'\n",
			lo < 0.15 * top ? -0.1 * top : 0, top, step);
	}
	fprintf(f, "plot \\\n");
	for (int j = 0; j < ng; j++) {
		const char *color = gp_color[j % GP_NCOLOR];
		fprintf(f, "  '%s/mmio-%d.dat' using 1:%d with linespoints lw 2 pt %d ps 1.3 "
			   "lc rgb '%s' title '%s%s', \\\n", tmp, j, 3 + p, j % 2 ? 5 : 7, color,
			g[j].variant, plot_mmio_note(runs, n, &g[j], p) ? PLOT_MMIO_ZERO_NOTE : "");
		fprintf(f, "  '' using 1:%d:(sprintf('%%g', $2)) with labels %s offset char %s "
			   "font 'sans,8' tc rgb '%s' notitle%s\n", 3 + p,
			g[j].above[p] ? "right" : "left", g[j].above[p] ? "-0.4,0.75" : "0.4,-0.75",
			color, j + 1 < ng ? ", \\" : "");
	}
	fprintf(f, "unset logscale y\n");
}

static int plot_mmio_write_script(const char *tmp, const char *img, bool png,
				  const struct plot_mrun *runs, int n,
				  const struct plot_mgroup *g, int ng, char *err, size_t errlen)
{
	char path[PATH_MAX];
	size_t maxlen = 0;
	double xmax = 0, top;
	int ret = 0, cols, rows;
	FILE *f = gp_create(tmp, "plot.gp", path, sizeof(path), err, errlen, &ret);

	if (!f)
		return ret;
	/* one key layout for every panel, so the plot areas line up */
	for (int j = 0; j < ng; j++) {
		/* the note's µ is two bytes but one character */
		size_t l = strlen(g[j].variant) +
			   (plot_mmio_note(runs, n, &g[j], 0) ? strlen(PLOT_MMIO_ZERO_NOTE) - 1 : 0);

		if (l > maxlen)
			maxlen = l;
	}
	cols = plot_key_cols(ng, maxlen);
	rows = (ng + cols - 1) / cols;
	top = 1.0 - (84.0 + 16.0 * rows) / PLOT_H;
	if (top < 0.45)
		top = 0.45;
	for (int i = 0; i < n; i++)
		if (runs[i].pages > xmax)
			xmax = runs[i].pages;

	gp_terminal(f, " --kind mmio", png, PLOT_W, PLOT_H, img);
	fprintf(f, "set multiplot layout 1,3 title 'eptsim: MMIO spte invalidation — zap-walk vs "
		   "generation' font 'sans,14' margins %g,%g,%.4f,%.4f spacing %g,0\n",
		PLOT_LEFT, PLOT_RIGHT, PLOT_BOTTOM, top, PLOT_HSPACE);
	fprintf(f, "set key at graph 0.5,graph 1.02 center bottom horizontal Left reverse "
		   "samplen 2.5 width 1 spacing 1.1\n"
		   "set border 3 lw 1\n"
		   "set grid xtics ytics back lc rgb '#e4e4e4' lw 1 dt 1\n"
		   "set mxtics 1\nset mytics 1\n"
		   "set style data linespoints\n");
	for (int p = 0; p < PLOT_MMIO_NPANEL; p++)
		plot_mmio_script_panel(f, tmp, runs, n, g, ng, p, xmax > 0 ? xmax * 1.07 : 1,
				       rows + 0.1, cols);
	fprintf(f, "\nunset multiplot\nunset output\n");
	return gp_close(f, path, err, errlen);
}

int plot_mmio(const char *const *dirs, int ndirs, const char *out, char *err, size_t errlen)
{
	struct plot_mrun *runs;
	struct plot_mgroup *groups;
	char tmp[PATH_MAX], img[PATH_MAX];
	bool png;
	int ret = gp_check_args(dirs, ndirs, out, &png, err, errlen), ng;

	if (ret)
		return ret;
	runs = calloc(ndirs, sizeof(*runs));
	groups = calloc(ndirs, sizeof(*groups));
	if (!runs || !groups) {
		gp_err(err, errlen, "out of memory");
		ret = -ENOMEM;
		goto out_free;
	}
	for (int i = 0; i < ndirs && !ret; i++)
		ret = plot_mmio_load(&runs[i], dirs[i], err, errlen);
	if (ret)
		goto out_free;
	ng = plot_mmio_group(runs, ndirs, groups);

	ret = gp_mktmp(tmp, sizeof(tmp), img, sizeof(img), png, err, errlen);
	if (ret)
		goto out_free;
	ret = plot_mmio_write_data(tmp, runs, ndirs, ng, err, errlen);
	if (!ret)
		ret = plot_mmio_write_script(tmp, img, png, runs, ndirs, groups, ng, err, errlen);
	ret = gp_finish(tmp, img, out, NULL, ret, err, errlen);
out_free:
	free(groups);
	free(runs);
	return ret;
}

/* ================================================================ plot_collapse
 *
 * One line per run over time, in two panels stacked on a shared time axis: the large-page
 * coverage (series.ept.large_coverage, in %) and the vCPU throughput (series.vcpu.records
 * over config.output.sample_us: records per µs, that is M records/s).  The throughput of
 * a run with many noisy samples is a centred running mean over PLOT_COLLAPSE_SMOOTH
 * samples, and the axis label says so.  The runs are drawn in the order none, lazy-zap,
 * in-place (others after them, as given), each a thinner line with a longer or shorter dash
 * than the one before: before and during dirty logging the variants behave alike and their
 * lines lie on top of each other, and every one of them must still show.
 *
 * config.events gives the dirty-logging schedule: a grey band over [start, start + rounds *
 * round], a dotted line at each KVM_GET_DIRTY_LOG round, and the phase names at the top of
 * the coverage panel.  Every run must share that schedule, or there is no one band to draw.
 */

#define PLOT_COLLAPSE_W		1600
#define PLOT_COLLAPSE_H		900
#define PLOT_COLLAPSE_LEFT	0.065
#define PLOT_COLLAPSE_RIGHT	0.985
#define PLOT_COLLAPSE_BOTTOM	0.075	/* bottom of the throughput panel */
#define PLOT_COLLAPSE_GAP	0.065	/* between the panels, for the lower panel's title */
#define PLOT_COLLAPSE_SMOOTH	10	/* samples in the throughput's running mean */
#define PLOT_COLLAPSE_NOISE	0.003	/* median step above this share of the top: noisy */
#define PLOT_COLLAPSE_BAND	"#e6e6e6"	/* the dirty-logging band */
#define PLOT_COLLAPSE_ROUND	"#8a8a8a"	/* the round marks */

#define PLOT_COV_SERIES		"series.ept.large_coverage"
#define PLOT_REC_SERIES		"series.vcpu.records"

/* The variants in the order they are drawn; others follow in the order given. */
static const char *const plot_collapse_known[] = { "none", "lazy-zap", "in-place" };

/* Line j: each narrower than the one before, so the lines drawn first still show around
 * the ones drawn over them: a wide solid line, long dashes on it, a thin solid line down the
 * middle; then shorter dashes. */
static const struct {
	double lw;
	const char *dt;
} plot_collapse_style[] = {
	{ 6.0, "1" }, { 3.5, "(12,8)" }, { 1.6, "1" }, { 1.4, "(8,4,2,4)" },
	{ 1.2, "(4,4)" }, { 1.0, "(2,3)" },
};
#define PLOT_COLLAPSE_NSTYLE (sizeof(plot_collapse_style) / sizeof(plot_collapse_style[0]))

struct plot_series {
	double *t, *v;
	size_t n, cap;
};

struct plot_crun {
	struct plot_id id;
	const char *dir;
	int rank;		/* index in plot_collapse_known, or past them */
	int index;		/* in the order given */
	double sample_us;	/* config.output.sample_us */
	bool dirty;		/* config.events schedules dirty logging */
	double start_ms, round_ms;	/* config.events.dirty_start_ms, dirty_round_ms */
	long rounds;		/* config.events.dirty_rounds */
	struct plot_series cov, rec;
};

static void plot_series_free(struct plot_series *s)
{
	free(s->t);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static int plot_series_push(struct plot_series *s, double t, double v)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 256;
		double *nt = realloc(s->t, cap * sizeof(*nt)), *nv;

		if (!nt)
			return -ENOMEM;
		s->t = nt;
		nv = realloc(s->v, cap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		s->v = nv;
		s->cap = cap;
	}
	s->t[s->n] = t;
	s->v[s->n++] = v;
	return 0;
}

/* Read dir/series/<name>.dat ("# t value", then "t v" lines) into *s. */
static int plot_read_series(const char *dir, const char *name, struct plot_series *s,
			    char *err, size_t errlen)
{
	char path[PATH_MAX], *line = NULL;
	size_t cap = 0, lineno = 0;
	int ret = 0;
	FILE *f;

	if (snprintf(path, sizeof(path), "%s/series/%s.dat", dir, name) >= (int)sizeof(path)) {
		gp_err(err, errlen, "%s: path too long", dir);
		return -ENAMETOOLONG;
	}
	f = path_open_regular(path, &ret, err, errlen);
	if (!f) {
		if (ret == -ENOENT) {
			gp_err(err, errlen, "%s: no series/%s.dat (run with output.series = true)",
				 dir, name);
			return -EINVAL;
		}
		return ret;
	}
	while (getline(&line, &cap, f) >= 0) {
		char *p = line, *end;
		double t, v;

		lineno++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '#' || *p == '\n' || *p == '\r' || !*p)
			continue;
		t = strtod(p, &end);
		if (end == p || !isfinite(t))
			goto bad;
		p = end;
		v = strtod(p, &end);
		if (end == p)
			goto bad;
		while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
			end++;
		if (*end)
			goto bad;
		if (plot_series_push(s, t, v)) {
			gp_err(err, errlen, "%s: out of memory", path);
			ret = -ENOMEM;
			goto out;
		}
	}
	if (ferror(f)) {
		gp_err(err, errlen, "%s: read error", path);
		ret = -EIO;
	} else if (!s->n) {
		gp_err(err, errlen, "%s: no samples", path);
		ret = -EINVAL;
	}
	goto out;
bad:
	gp_err(err, errlen, "%s:%zu: not a \"t value\" line", path, lineno);
	ret = -EINVAL;
out:
	free(line);
	fclose(f);
	return ret;
}

static bool plot_json_num(json_t *v, double *out)
{
	if (!json_is_number(v))
		return false;
	*out = json_number_value(v);
	return true;
}

static int plot_collapse_load(struct plot_crun *r, const char *dir, int index, char *err,
			      size_t errlen)
{
	size_t nk = sizeof(plot_collapse_known) / sizeof(plot_collapse_known[0]);
	char path[PATH_MAX];
	json_t *doc, *stats, *slot;
	double rounds = 0;
	int ret;

	ret = plot_read_stats(dir, path, sizeof(path), &doc, &stats, err, errlen);
	if (ret)
		return ret;
	r->dir = dir;
	r->index = index;
	plot_load_id(&r->id, dir, doc, "collapse");
	r->rank = (int)nk;
	for (size_t k = 0; k < nk; k++)
		if (json_is_string(plot_cfg(doc, "mmu", "collapse")) &&
		    !strcmp(json_string_value(plot_cfg(doc, "mmu", "collapse")),
			    plot_collapse_known[k]))
			r->rank = (int)k;

	if (!plot_json_num(plot_cfg(doc, "output", "sample_us"), &r->sample_us) ||
	    !(r->sample_us > 0)) {
		gp_err(err, errlen, "%s: no config.output.sample_us", path);
		ret = -EINVAL;
		goto out;
	}
	/* No dirty_slot (an empty one) or no round: nothing was logged. */
	slot = plot_cfg(doc, "events", "dirty_slot");
	r->dirty = (!slot || (json_is_string(slot) && *json_string_value(slot))) &&
		   plot_json_num(plot_cfg(doc, "events", "dirty_start_ms"), &r->start_ms) &&
		   plot_json_num(plot_cfg(doc, "events", "dirty_round_ms"), &r->round_ms) &&
		   plot_json_num(plot_cfg(doc, "events", "dirty_rounds"), &rounds) &&
		   rounds >= 1 && r->round_ms > 0 && isfinite(r->start_ms) &&
		   isfinite(r->round_ms) && rounds <= 1e9;
	r->rounds = r->dirty ? (long)rounds : 0;

	ret = plot_read_series(dir, PLOT_COV_SERIES, &r->cov, err, errlen);
	if (!ret)
		ret = plot_read_series(dir, PLOT_REC_SERIES, &r->rec, err, errlen);
out:
	json_decref(doc);
	return ret;
}

static int plot_crun_cmp(const void *a, const void *b)
{
	const struct plot_crun *x = a, *y = b;

	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

static int plot_dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* A series jitters visibly when its median step from sample to sample is more than
 * PLOT_COLLAPSE_NOISE of its top (about a pixel in the throughput panel).  Short series
 * are left alone: a running mean would blur what few points there are. */
static bool plot_noisy(const struct plot_series *s)
{
	double *d, top = 0;
	size_t n = 0;
	bool noisy;

	if (s->n < 10 * PLOT_COLLAPSE_SMOOTH)
		return false;
	d = malloc(s->n * sizeof(*d));
	if (!d)
		return false;	/* cosmetic: draw the raw samples */
	for (size_t i = 0; i < s->n; i++) {
		if (isfinite(s->v[i]) && fabs(s->v[i]) > top)
			top = fabs(s->v[i]);
		if (i && isfinite(s->v[i]) && isfinite(s->v[i - 1]))
			d[n++] = fabs(s->v[i] - s->v[i - 1]);
	}
	qsort(d, n, sizeof(*d), plot_dbl_cmp);
	noisy = n && top > 0 && d[n / 2] > PLOT_COLLAPSE_NOISE * top;
	free(d);
	return noisy;
}

/* Mean of the finite values among v[i - w/2 .. i + w - w/2 - 1], clipped to the series. */
static double plot_mean_at(const double *v, size_t n, size_t i, size_t w)
{
	size_t lo = i >= w / 2 ? i - w / 2 : 0, hi = i + (w - w / 2);
	double sum = 0;
	size_t k = 0;

	if (hi > n)
		hi = n;
	for (size_t j = lo; j < hi; j++)
		if (isfinite(v[j])) {
			sum += v[j];
			k++;
		}
	return k ? sum / k : NAN;
}

/* cov-J.dat "t coverage%" and rate-J.dat "t M records/s" for run J; *ymax gets the top
 * throughput drawn. */
static int plot_collapse_write_data(const char *tmp, const struct plot_crun *runs, int n,
				    bool smooth, double *ymax, char *err, size_t errlen)
{
	*ymax = 0;
	for (int j = 0; j < n; j++) {
		const struct plot_crun *r = &runs[j];
		char path[PATH_MAX], name[32];
		int ret = 0;
		FILE *f;

		snprintf(name, sizeof(name), "cov-%d.dat", j);
		f = gp_create(tmp, name, path, sizeof(path), err, errlen, &ret);
		if (!f)
			return ret;
		fprintf(f, "# t_ms large_coverage_pct (%s)\n", r->id.label);
		for (size_t i = 0; i < r->cov.n; i++)
			fprintf(f, "%.9g %.9g\n", r->cov.t[i], 100.0 * r->cov.v[i]);
		ret = gp_close(f, path, err, errlen);
		if (ret)
			return ret;

		snprintf(name, sizeof(name), "rate-%d.dat", j);
		f = gp_create(tmp, name, path, sizeof(path), err, errlen, &ret);
		if (!f)
			return ret;
		fprintf(f, "# t_ms M_records_per_s (%s%s)\n", r->id.label,
			smooth ? ", running mean" : "");
		for (size_t i = 0; i < r->rec.n; i++) {
			double v = smooth ? plot_mean_at(r->rec.v, r->rec.n, i, PLOT_COLLAPSE_SMOOTH)
					  : r->rec.v[i];

			v /= r->sample_us;	/* records per µs = M records per s */
			if (isfinite(v) && v > *ymax)
				*ymax = v;
			fprintf(f, "%.9g %.9g\n", r->rec.t[i], v);
		}
		ret = gp_close(f, path, err, errlen);
		if (ret)
			return ret;
	}
	return 0;
}

struct plot_clayout {
	double xlo, xhi, xstep;		/* time axis, ms */
	double top1, bot1, top2, bot2;	/* plot areas, fraction of the canvas */
	double key_y;			/* top of the key */
	int key_cols, key_rows;
	bool marks;			/* round marks far enough apart to draw */
};

static void plot_collapse_layout(struct plot_clayout *l, const struct plot_crun *runs, int n,
				 const struct plot_crun *sched)
{
	double area_px = PLOT_COLLAPSE_W * (PLOT_COLLAPSE_RIGHT - PLOT_COLLAPSE_LEFT), h;
	size_t maxlen = sched ? strlen("GET_DIRTY_LOG round") : 0;
	int entries = n + (sched ? 2 : 0);

	l->xlo = HUGE_VAL;
	l->xhi = -HUGE_VAL;
	for (int j = 0; j < n; j++) {
		const struct plot_series *s[2] = { &runs[j].cov, &runs[j].rec };

		for (int k = 0; k < 2; k++)
			for (size_t i = 0; i < s[k]->n; i++) {
				if (s[k]->t[i] < l->xlo)
					l->xlo = s[k]->t[i];
				if (s[k]->t[i] > l->xhi)
					l->xhi = s[k]->t[i];
			}
		if (strlen(runs[j].id.label) > maxlen)
			maxlen = strlen(runs[j].id.label);
	}
	if (l->xlo > 0)		/* time starts at 0 */
		l->xlo = 0;
	if (!(l->xhi > l->xlo))
		l->xhi = l->xlo + 1;
	/* the time axis ends on a tic: 399.9 ms of samples is a 400 ms run */
	l->xstep = gp_nice_step(l->xhi - l->xlo, 20);
	l->xhi = l->xstep * ceil(l->xhi / l->xstep - 1e-9);
	l->marks = sched && sched->round_ms / (l->xhi - l->xlo) * area_px >= 4;

	l->key_cols = (int)(area_px / (maxlen * PLOT_CHAR_PX + 75));
	if (l->key_cols < 1)
		l->key_cols = 1;
	if (l->key_cols > entries)
		l->key_cols = entries;
	l->key_rows = (entries + l->key_cols - 1) / l->key_cols;
	/* figure title, key rows (22 px each), the upper panel's title */
	l->key_y = 1.0 - 34.0 / PLOT_COLLAPSE_H;
	l->top1 = 1.0 - (74.0 + 22.0 * l->key_rows) / PLOT_COLLAPSE_H;
	if (l->top1 < 0.6)	/* absurdly many runs: keep the panels */
		l->top1 = 0.6;
	h = (l->top1 - PLOT_COLLAPSE_BOTTOM - PLOT_COLLAPSE_GAP) / 2;
	l->bot1 = l->top1 - h;
	l->top2 = l->bot1 - PLOT_COLLAPSE_GAP;
	l->bot2 = PLOT_COLLAPSE_BOTTOM;
}

/* A phase name centred over [a, b] when there is room for it (or for its short form), on
 * a box of its background (textbox style 1 in the band, 2 outside) hiding the grid lines
 * under it.  The svg terminal draws bold as a bogus font name and every box white: there
 * the names are plain, and the one in the band has no box. */
static void plot_collapse_phase(FILE *f, int tag, double a, double b,
				const struct plot_clayout *l, const char *name,
				const char *shortname, bool band, bool png)
{
	double px = (b - a) / (l->xhi - l->xlo) *
		    PLOT_COLLAPSE_W * (PLOT_COLLAPSE_RIGHT - PLOT_COLLAPSE_LEFT);
	const char *s = px >= strlen(name) * 8.0 + 12 ? name :
			shortname && px >= strlen(shortname) * 8.0 + 12 ? shortname : NULL;

	if (!s)
		return;
	fprintf(f, "set label %d '%s' at first %.9g, graph 0.955 center font '%s' "
		   "tc rgb '#3c3c3c' %s front\n", tag, s, (a + b) / 2,
		png ? "sans:Bold,11" : "sans,11",
		png ? (band ? "boxed bs 1" : "boxed bs 2") : band ? "" : "boxed");
}

/* A dotted line at each KVM_GET_DIRTY_LOG, from the bottom of the panel to top (graph). */
static void plot_collapse_marks(FILE *f, const struct plot_crun *sched,
				const struct plot_clayout *l, double top)
{
	for (long k = 1; l->marks && k <= sched->rounds; k++) {
		double x = sched->start_ms + k * sched->round_ms;

		if (x > l->xhi)
			break;
		fprintf(f, "set arrow %ld from first %.9g, graph 0 to first %.9g, graph %g "
			   "nohead back lc rgb '%s' lw 1 dt (3,3)\n", k, x, x, top,
			PLOT_COLLAPSE_ROUND);
	}
}

/* The plot clauses of the runs' lines; more: a clause follows. */
static void plot_collapse_lines(FILE *f, const char *tmp, const char *file, int n,
				const struct plot_crun *runs, bool titles, bool more)
{
	/* Drawn widest first, so the narrower dashes lie on top. */
	for (int j = 0; j < n; j++) {
		size_t s = (size_t)j < PLOT_COLLAPSE_NSTYLE ? (size_t)j : PLOT_COLLAPSE_NSTYLE - 1;

		fprintf(f, "  '%s/%s-%d.dat' using 1:2 with lines lw %.2f dt %s lc rgb '%s' ",
			tmp, file, j, plot_collapse_style[s].lw, plot_collapse_style[s].dt,
			gp_color[j % GP_NCOLOR]);
		if (titles)
			fprintf(f, "title '%s'", runs[j].id.label);
		else
			fprintf(f, "notitle");
		fprintf(f, "%s\n", j + 1 < n || more ? ", \\" : "");
	}
}

static int plot_collapse_write_script(const char *tmp, const char *img, bool png,
				      const struct plot_crun *runs, int n,
				      const struct plot_crun *sched, bool smooth, double ymax,
				      char *err, size_t errlen)
{
	char path[PATH_MAX], cfg[512];
	struct plot_clayout l;
	double ytop, ystep, end = 0;
	int ret = 0;
	FILE *f = gp_create(tmp, "plot.gp", path, sizeof(path), err, errlen, &ret);

	if (!f)
		return ret;
	plot_collapse_layout(&l, runs, n, sched);
	plot_config_names(&runs[0].id, sizeof(runs[0]), n, cfg, sizeof(cfg));
	gp_sanitize(cfg);

	gp_terminal(f, " --kind collapse", png, PLOT_COLLAPSE_W, PLOT_COLLAPSE_H, img);
	fprintf(f, "set multiplot title 'eptsim: cancelled migration — collapse variants (%s)' "
		   "font 'sans,14'\n", cfg);
	fprintf(f, "set border 3 lw 1\n"
		   "set grid xtics ytics back lc rgb '#d4d4d4' lw 1 dt 1\n"
		   "set xtics nomirror out %.9g\nset ytics nomirror out\n"
		   "set xrange [%.9g:%.9g]\n"
		   "set lmargin at screen %g\nset rmargin at screen %g\n",
		l.xstep, l.xlo, l.xhi, PLOT_COLLAPSE_LEFT,
		PLOT_COLLAPSE_RIGHT);

	/* The dirty-logging band, behind the lines of both panels. */
	if (sched) {
		end = sched->start_ms + sched->rounds * sched->round_ms;
		fprintf(f, "set style textbox 1 opaque fc rgb '%s' noborder margins 4,2\n"
			   "set style textbox 2 opaque fc rgb 'white' noborder margins 4,2\n",
			PLOT_COLLAPSE_BAND);
		fprintf(f, "set object 1 rect from first %.9g, graph 0 to first %.9g, graph 1 "
			   "behind fc rgb '%s' fillstyle solid 1.0 noborder\n",
			sched->start_ms, end, PLOT_COLLAPSE_BAND);
	}

	fprintf(f, "\n# ---- panel: large-page coverage\n");
	fprintf(f, "set tmargin at screen %.4f\nset bmargin at screen %.4f\n", l.top1, l.bot1);
	fprintf(f, "set title 'large-page coverage' font 'sans,12'\n");
	fprintf(f, "set key at screen 0.5, screen %.4f center top horizontal Left reverse "
		   "samplen 6 width 2 spacing 1.3 maxcols %d maxrows %d font 'sans,11'\n",
		l.key_y, l.key_cols, l.key_rows);
	fprintf(f, "set format x ''\nunset xlabel\n"
		   "set ylabel '%% of mapped guest memory in 2M/1G sptes'\n"
		   "set yrange [-4:122]\nset ytics 0,20,100\n");
	if (sched) {
		/* the round marks stop under the phase names */
		plot_collapse_marks(f, sched, &l, 0.91);
		plot_collapse_phase(f, 1, l.xlo, sched->start_ms < l.xhi ? sched->start_ms : l.xhi,
				    &l, "before", NULL, false, png);
		plot_collapse_phase(f, 2, sched->start_ms > l.xlo ? sched->start_ms : l.xlo,
				    end < l.xhi ? end : l.xhi, &l, "during (dirty logging)",
				    "during", true, png);
		plot_collapse_phase(f, 3, end > l.xlo ? end : l.xlo, l.xhi, &l, "after", NULL,
				    false, png);
	}
	fprintf(f, "plot \\\n");
	plot_collapse_lines(f, tmp, "cov", n, runs, true, sched);
	if (sched) {
		fprintf(f, "  keyentry with boxes fillstyle solid 1.0 border lc rgb '#b4b4b4' "
			   "fc rgb '%s' title 'dirty logging'", PLOT_COLLAPSE_BAND);
		if (l.marks)
			fprintf(f, ", \\\n  keyentry with lines lc rgb '%s' lw 1 dt (3,3) "
				   "title 'GET_DIRTY_LOG round'", PLOT_COLLAPSE_ROUND);
		fprintf(f, "\n");
	}

	fprintf(f, "\n# ---- panel: vCPU throughput\n");
	ytop = ymax > 0 ? ymax * 1.08 : 1;
	ystep = gp_nice_step(ytop, 6);
	ytop = ystep * ceil(ytop / ystep);
	fprintf(f, "set tmargin at screen %.4f\nset bmargin at screen %.4f\n", l.top2, l.bot2);
	fprintf(f, "set title 'vCPU throughput' font 'sans,12'\n"
		   "unset key\nunset label 1\nunset label 2\nunset label 3\n"
		   "set format x '%%g'\nset xlabel 'time (ms)'\n");
	if (sched)
		plot_collapse_marks(f, sched, &l, 1);
	if (smooth)
		fprintf(f, "set ylabel 'M records/s (%d-sample mean)'\n", PLOT_COLLAPSE_SMOOTH);
	else
		fprintf(f, "set ylabel 'M records/s'\n");
	/* a little below 0, so a stalled line does not hide in the axis */
	fprintf(f, "set yrange [%.9g:%.9g]\nset ytics 0,%.9g\n", -0.03 * ytop, ytop, ystep);
	fprintf(f, "plot \\\n");
	plot_collapse_lines(f, tmp, "rate", n, runs, false, false);
	fprintf(f, "\nunset multiplot\nunset output\n");
	return gp_close(f, path, err, errlen);
}

int plot_collapse(const char *const *dirs, int ndirs, const char *out, char *err,
		  size_t errlen)
{
	struct plot_crun *runs;
	const struct plot_crun *sched = NULL;
	char tmp[PATH_MAX], img[PATH_MAX];
	bool png, smooth = false;
	double ymax;
	int ret = gp_check_args(dirs, ndirs, out, &png, err, errlen);

	if (ret)
		return ret;
	runs = calloc(ndirs, sizeof(*runs));
	if (!runs) {
		gp_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (int i = 0; i < ndirs && !ret; i++)
		ret = plot_collapse_load(&runs[i], dirs[i], i, err, errlen);
	if (ret)
		goto out_free;
	/* one band for every line: the schedules must agree */
	for (int i = 1; i < ndirs && !ret; i++) {
		const struct plot_crun *a = &runs[0], *b = &runs[i];

		if (a->dirty != b->dirty || (a->dirty && (a->start_ms != b->start_ms ||
		    a->round_ms != b->round_ms || a->rounds != b->rounds))) {
			gp_err(err, errlen, "%s: dirty-logging schedule (config.events) differs "
				 "from %s's", b->dir, a->dir);
			ret = -EINVAL;
		}
	}
	if (ret)
		goto out_free;
	qsort(runs, ndirs, sizeof(*runs), plot_crun_cmp);
	plot_dedup_labels(&runs[0].id, sizeof(runs[0]), ndirs);
	if (runs[0].dirty)
		sched = &runs[0];
	for (int i = 0; i < ndirs && !smooth; i++)
		smooth = plot_noisy(&runs[i].rec);

	ret = gp_mktmp(tmp, sizeof(tmp), img, sizeof(img), png, err, errlen);
	if (ret)
		goto out_free;
	ret = plot_collapse_write_data(tmp, runs, ndirs, smooth, &ymax, err, errlen);
	if (!ret)
		ret = plot_collapse_write_script(tmp, img, png, runs, ndirs, sched, smooth, ymax,
						 err, errlen);
	ret = gp_finish(tmp, img, out, NULL, ret, err, errlen);
out_free:
	for (int i = 0; i < ndirs; i++) {
		plot_series_free(&runs[i].cov);
		plot_series_free(&runs[i].rec);
	}
	free(runs);
	return ret;
}
