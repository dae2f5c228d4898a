// SPDX-License-Identifier: GPL-2.0
/* sim/plot — the comparison figure of result folders.  See plot.h for the contract.
 *
 * Every stats.json is read into a struct plot_run (label, the two per-zap arrays and the
 * vCPU cycle split); then two data files and a gnuplot script go into a private temporary
 * directory, gnuplot runs there (posix_spawnp, so a missing gnuplot is a plain ENOENT), and
 * the image it drew is copied to out via a temporary name and rename().  The temporary
 * directory is always removed.
 *
 * Panels 1 and 2 are drawn `with boxes` at computed offsets rather than with gnuplot's
 * clustered histograms, so the x axis stays numeric (zap number) and its tics stay
 * readable however many zap-all calls a run made.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "sim/plot.h"

extern char **environ;

#define PLOT_NCAT	5	/* vCPU time categories, idle excluded */
#define PLOT_NZAP	2	/* per-zap arrays: lock breaks, flushes */

static const char *const plot_cat[PLOT_NCAT] = {
	"guest", "walk", "exit", "lock_wait", "request",
};

/* guest is the bulk of the time: keep it quiet so the overheads stand out. */
static const char *const plot_cat_color[PLOT_NCAT] = {
	"#c8c8c8", "#0072b2", "#009e73", "#d55e00", "#cc79a7",
};

/* Okabe-Ito: tells runs apart for colour-blind readers too. */
static const char *const plot_run_color[] = {
	"#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000",
};
#define PLOT_NCOLOR (sizeof(plot_run_color) / sizeof(plot_run_color[0]))

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

static void plot_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void plot_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	for (char *p = err; *p; p++)	/* one line, whatever the pieces held */
		if (*p == '\n' || *p == '\r')
			*p = ' ';
}

/* Basename of path, trailing slashes ignored ("results/a/" -> "a"). */
static void plot_basename(const char *path, char *buf, size_t len)
{
	size_t end = strlen(path), start;

	while (end > 1 && path[end - 1] == '/')
		end--;
	start = end;
	while (start > 0 && path[start - 1] != '/')
		start--;
	if (start == end && end) {	/* "/" */
		snprintf(buf, len, "/");
		return;
	}
	snprintf(buf, len, "%.*s", (int)(end - start), path + start);
}

/* Labels end up in gnuplot strings and data files: keep them free of quotes, backslashes
 * and control characters. */
static void plot_sanitize(char *s)
{
	for (; *s; s++)
		if (*s == '"' || *s == '\'' || *s == '\\' || (unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '_';
}

static bool plot_has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n > m && !strcasecmp(s + n - m, suffix);
}

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
		plot_err(err, errlen, "%s: \"%s\" is not an array", path, name);
		return -EINVAL;
	}
	if (!json_array_size(a))
		return 0;
	*out = calloc(json_array_size(a), sizeof(**out));
	if (!*out) {
		plot_err(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	json_array_foreach(a, i, v) {
		if (!json_is_number(v)) {
			plot_err(err, errlen, "%s: \"%s\"[%zu] is not a number", path, name, i);
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
	json_error_t je;
	FILE *f;
	int ret;

	*doc = *stats = NULL;
	if (snprintf(path, len, "%s/stats.json", dir) >= (int)len) {
		plot_err(err, errlen, "%s: path too long", dir);
		return -ENAMETOOLONG;
	}
	f = fopen(path, "r");
	if (!f) {
		ret = -errno;
		plot_err(err, errlen, "%s: %s", path, strerror(-ret));
		return ret;
	}
	*doc = json_loadf(f, 0, &je);
	fclose(f);
	if (!*doc) {
		plot_err(err, errlen, "%s: invalid JSON at line %d: %s", path, je.line, je.text);
		return -EINVAL;
	}
	*stats = json_object_get(*doc, "stats");
	if (!json_is_object(*stats)) {
		plot_err(err, errlen, "%s: no \"stats\" object", path);
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

	plot_basename(dir, id->base, sizeof(id->base));
	plot_sanitize(id->base);
	v = json_object_get(json_object_get(json_object_get(doc, "config"), "mmu"), key);
	snprintf(id->label, sizeof(id->label), "%s",
		 json_is_string(v) && *json_string_value(v) ? json_string_value(v) : id->base);
	plot_sanitize(id->label);
	v = json_object_get(doc, "config_file");
	if (json_is_string(v)) {
		plot_basename(json_string_value(v), id->cfg, sizeof(id->cfg));
		plot_sanitize(id->cfg);
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

static FILE *plot_create(const char *tmp, const char *name, char *path, size_t len,
			 char *err, size_t errlen, int *ret)
{
	FILE *f;

	snprintf(path, len, "%s/%s", tmp, name);
	f = fopen(path, "w");
	if (!f) {
		*ret = -errno;
		plot_err(err, errlen, "%s: %s", path, strerror(-*ret));
	}
	return f;
}

static int plot_close(FILE *f, const char *path, char *err, size_t errlen)
{
	int bad = ferror(f);

	if (fclose(f) || bad) {
		plot_err(err, errlen, "%s: write error", path);
		return -EIO;
	}
	return 0;
}

/* zaps.dat: "k  lb_1..lb_n  fl_1..fl_n", NaN where a run made fewer than k zap-all calls
 * (gnuplot skips those points). */
static int plot_write_zaps(const char *tmp, const struct plot_run *runs, int n, size_t maxz,
			   char *err, size_t errlen)
{
	char path[PATH_MAX];
	int ret = 0;
	FILE *f = plot_create(tmp, "zaps.dat", path, sizeof(path), err, errlen, &ret);

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
	return plot_close(f, path, err, errlen);
}

/* vcpu.dat: "label  guest% walk% exit% lock_wait% request%  has_data", one row per run. */
static int plot_write_vcpu(const char *tmp, const struct plot_run *runs, int n,
			   char *err, size_t errlen)
{
	char path[PATH_MAX];
	int ret = 0;
	FILE *f = plot_create(tmp, "vcpu.dat", path, sizeof(path), err, errlen, &ret);

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
	return plot_close(f, path, err, errlen);
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
			plot_run_color[i % PLOT_NCOLOR], runs[i].id.label, i + 1 < n ? ", \\" : "");
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
	FILE *f = plot_create(tmp, "plot.gp", path, sizeof(path), err, errlen, &ret);

	if (!f)
		return ret;
	plot_layout(&l, runs, n);
	plot_config_names(&runs[0].id, sizeof(runs[0]), n, cfg, sizeof(cfg));
	plot_sanitize(cfg);
	fprintf(f, "# eptsim plot — generated, gnuplot 5\n"
		   "set encoding utf8\n");
	if (png)
		fprintf(f, "set terminal pngcairo size %d,%d font 'sans,10' noenhanced\n",
			PLOT_W, PLOT_H);
	else
		fprintf(f, "set terminal svg size %d,%d dynamic font 'sans,10' noenhanced "
			   "background rgb 'white'\n", PLOT_W, PLOT_H);
	fprintf(f, "set output '%s'\n", img);
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
	return plot_close(f, path, err, errlen);
}

/* The last non-empty line gnuplot wrote: its error message. */
static void plot_last_line(const char *log, char *buf, size_t len)
{
	char line[512];
	FILE *f = fopen(log, "r");

	buf[0] = '\0';
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		size_t l = strlen(line);

		while (l && (line[l - 1] == '\n' || line[l - 1] == '\r' || line[l - 1] == ' '))
			line[--l] = '\0';
		if (l)
			snprintf(buf, len, "%s", line);
	}
	fclose(f);
}

static int plot_gnuplot(const char *tmp, char *err, size_t errlen)
{
	char script[PATH_MAX], log[PATH_MAX], last[512];
	char *argv[] = { "gnuplot", "-d", script, NULL };
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int ret, status;

	snprintf(script, sizeof(script), "%s/plot.gp", tmp);
	snprintf(log, sizeof(log), "%s/gnuplot.log", tmp);
	ret = posix_spawn_file_actions_init(&fa);
	if (!ret)
		ret = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (!ret)
		ret = posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC,
						       0600);
	if (!ret)
		ret = posix_spawn_file_actions_adddup2(&fa, 1, 2);
	if (!ret)
		ret = posix_spawnp(&pid, "gnuplot", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (ret == ENOENT) {
		plot_err(err, errlen, "gnuplot not found: install gnuplot-nox (make deps)");
		return -ENOENT;
	}
	if (ret) {
		plot_err(err, errlen, "cannot run gnuplot: %s", strerror(ret));
		return -ret;
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			ret = -errno;
			plot_err(err, errlen, "waiting for gnuplot: %s", strerror(errno));
			return ret;
		}
	}
	if (WIFSIGNALED(status)) {
		plot_err(err, errlen, "gnuplot killed by signal %d", WTERMSIG(status));
		return -EIO;
	}
	if (WEXITSTATUS(status)) {
		plot_last_line(log, last, sizeof(last));
		plot_err(err, errlen, "gnuplot failed (exit %d): %s", WEXITSTATUS(status),
			 last[0] ? last : "no message");
		return -EIO;
	}
	return 0;
}

/* Copy src to dst through "dst.tmp.PID" and rename(), so dst is whole or untouched. */
static int plot_install(const char *src, const char *dst, char *err, size_t errlen)
{
	char tmp[PATH_MAX], buf[65536];
	int in, outfd, ret = 0;
	ssize_t n;
	struct stat st;

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0 || fstat(in, &st) || !st.st_size) {
		if (in >= 0)
			close(in);
		plot_err(err, errlen, "gnuplot wrote no image");
		return -EIO;
	}
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", dst, (int)getpid()) >= (int)sizeof(tmp)) {
		close(in);
		plot_err(err, errlen, "%s: path too long", dst);
		return -ENAMETOOLONG;
	}
	outfd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (outfd < 0) {
		ret = -errno;
		close(in);
		plot_err(err, errlen, "%s: %s", dst, strerror(-ret));
		return ret;
	}
	while ((n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			break;
		}
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(outfd, buf + off, n - off);

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				ret = -errno;
				break;
			}
			off += w;
		}
		if (ret)
			break;
	}
	close(in);
	if (close(outfd) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, dst))
		ret = -errno;
	if (ret) {
		unlink(tmp);
		plot_err(err, errlen, "%s: %s", dst, strerror(-ret));
	}
	return ret;
}

/* Remove the (flat) temporary directory and everything in it. */
static void plot_rmtree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d) {
		while ((de = readdir(d)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
				unlinkat(dirfd(d), de->d_name, 0);
		closedir(d);
	}
	rmdir(dir);
}

/* The checks every plot entry point starts with; *png tells the terminal. */
static int plot_check_args(const char *const *dirs, int ndirs, const char *out, bool *png,
			   char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (!dirs || ndirs < 1) {
		plot_err(err, errlen, "no result folder given");
		return -EINVAL;
	}
	if (!out || !(plot_has_suffix(out, ".png") || plot_has_suffix(out, ".svg"))) {
		plot_err(err, errlen, "output must end in .png or .svg");
		return -EINVAL;
	}
	for (int i = 0; i < ndirs; i++)
		if (!dirs[i]) {
			plot_err(err, errlen, "result folder %d is NULL", i);
			return -EINVAL;
		}
	*png = plot_has_suffix(out, ".png");
	return 0;
}

/* A private directory for data, script and image: $TMPDIR (or /tmp)/eptsim-plot-XXXXXX.
 * img gets the path gnuplot draws to. */
static int plot_mktmp(char *tmp, size_t len, char *img, size_t imglen, bool png,
		      char *err, size_t errlen)
{
	const char *tmpdir = getenv("TMPDIR");
	int ret;

	if (!tmpdir || !*tmpdir)
		tmpdir = "/tmp";
	/* leave room for the file names inside */
	if (snprintf(tmp, len, "%s/eptsim-plot-XXXXXX", tmpdir) >= (int)len - 32) {
		plot_err(err, errlen, "%s: TMPDIR path too long", tmpdir);
		return -ENAMETOOLONG;
	}
	if (!mkdtemp(tmp)) {
		ret = -errno;
		plot_err(err, errlen, "%s: %s", tmp, strerror(-ret));
		return ret;
	}
	snprintf(img, imglen, "%s/plot.%s", tmp, png ? "png" : "svg");
	return 0;
}

/* Run the script tmp/plot.gp and copy the image to out; tmp is removed either way. */
static int plot_finish(const char *tmp, const char *img, const char *out, int ret,
		       char *err, size_t errlen)
{
	if (!ret)
		ret = plot_gnuplot(tmp, err, errlen);
	if (!ret)
		ret = plot_install(img, out, err, errlen);
	plot_rmtree(tmp);
	return ret;
}

int plot_runs(const char *const *dirs, int ndirs, const char *out, char *err, size_t errlen)
{
	struct plot_run *runs;
	char tmp[PATH_MAX], img[PATH_MAX];
	size_t maxz = 0;
	bool png;
	int ret = plot_check_args(dirs, ndirs, out, &png, err, errlen);

	if (ret)
		return ret;
	runs = calloc(ndirs, sizeof(*runs));
	if (!runs) {
		plot_err(err, errlen, "out of memory");
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

	ret = plot_mktmp(tmp, sizeof(tmp), img, sizeof(img), png, err, errlen);
	if (ret)
		goto out_free;
	ret = plot_write_zaps(tmp, runs, ndirs, maxz, err, errlen);
	if (!ret)
		ret = plot_write_vcpu(tmp, runs, ndirs, err, errlen);
	if (!ret)
		ret = plot_write_script(tmp, img, png, runs, ndirs, err, errlen);
	ret = plot_finish(tmp, img, out, ret, err, errlen);
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
			plot_err(err, errlen, "%s: no MMIO stats (run with eptsim >= this version)",
				 dir);
			ret = -EINVAL;
			goto out;
		}
	v = plot_cfg(doc, "mmu", "mmio_invalidate");
	if (!json_is_string(v) || !*json_string_value(v)) {
		plot_err(err, errlen, "%s: no config.mmu.mmio_invalidate", path);
		ret = -EINVAL;
		goto out;
	}
	snprintf(r->variant, sizeof(r->variant), "%s", json_string_value(v));
	plot_sanitize(r->variant);

	v = plot_cfg(doc, "cpu", "freq_mhz");
	mhz = json_is_number(v) ? json_number_value(v) : 0;
	if (!(mhz > 0)) {
		plot_err(err, errlen, "%s: no config.cpu.freq_mhz", path);
		ret = -EINVAL;
		goto out;
	}
	v = plot_cfg(doc, "guest", "mem");
	if (!json_is_number(v) || json_number_value(v) <= 0) {
		plot_err(err, errlen, "%s: no config.guest.mem", path);
		ret = -EINVAL;
		goto out;
	}
	r->mem_gib = json_number_value(v) / (1024.0 * 1024 * 1024);
	v = json_object_get(stats, "ept.shadow_pages_end");
	if (!json_is_number(v)) {
		plot_err(err, errlen, "%s: \"ept.shadow_pages_end\" missing or not a number", path);
		ret = -EINVAL;
		goto out;
	}
	r->pages = json_number_value(v);
	v = json_object_get(stats, "mmio.slow");
	if (!json_is_number(v)) {
		plot_err(err, errlen, "%s: \"mmio.slow\" is not a number", path);
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
		f = plot_create(tmp, name, path, sizeof(path), err, errlen, &ret);
		if (!f)
			return ret;
		fprintf(f, "# shadow_pages mem_GiB hold_us stall_ms slow_refaults\n");
		for (int i = 0; i < n; i++)
			if (runs[i].group == j)
				fprintf(f, "%.15g %.6g %.9g %.9g %.15g\n", runs[i].pages,
					runs[i].mem_gib, runs[i].y[0], runs[i].y[1], runs[i].y[2]);
		ret = plot_close(f, path, err, errlen);
		if (ret)
			return ret;
	}
	return 0;
}

/* A tic step of 1, 2 or 5 times a power of ten giving at most about nticks tics. */
static double plot_nice_step(double range, int nticks)
{
	double raw = range / nticks, mag;

	if (!(raw > 0))
		return 1;
	mag = pow(10, floor(log10(raw)));
	if (raw <= mag * 1.0001)
		return mag;
	if (raw <= 2 * mag)
		return 2 * mag;
	if (raw <= 5 * mag)
		return 5 * mag;
	return 10 * mag;
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
		double step = plot_nice_step(top, 6);

		if (count && step < 1)
			step = 1;
		fprintf(f, "unset logscale y\nset yrange [%.15g:%.15g]\n"
			   "set ytics 0,%.15g nomirror out\nset format y '%%g'\n",
			lo < 0.15 * top ? -0.1 * top : 0, top, step);
	}
	fprintf(f, "plot \\\n");
	for (int j = 0; j < ng; j++) {
		const char *color = plot_run_color[j % PLOT_NCOLOR];
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
	FILE *f = plot_create(tmp, "plot.gp", path, sizeof(path), err, errlen, &ret);

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

	fprintf(f, "# eptsim plot --kind mmio — generated, gnuplot 5\n"
		   "set encoding utf8\n");
	if (png)
		fprintf(f, "set terminal pngcairo size %d,%d font 'sans,10' noenhanced\n",
			PLOT_W, PLOT_H);
	else
		fprintf(f, "set terminal svg size %d,%d dynamic font 'sans,10' noenhanced "
			   "background rgb 'white'\n", PLOT_W, PLOT_H);
	fprintf(f, "set output '%s'\n", img);
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
	return plot_close(f, path, err, errlen);
}

int plot_mmio(const char *const *dirs, int ndirs, const char *out, char *err, size_t errlen)
{
	struct plot_mrun *runs;
	struct plot_mgroup *groups;
	char tmp[PATH_MAX], img[PATH_MAX];
	bool png;
	int ret = plot_check_args(dirs, ndirs, out, &png, err, errlen), ng;

	if (ret)
		return ret;
	runs = calloc(ndirs, sizeof(*runs));
	groups = calloc(ndirs, sizeof(*groups));
	if (!runs || !groups) {
		plot_err(err, errlen, "out of memory");
		ret = -ENOMEM;
		goto out_free;
	}
	for (int i = 0; i < ndirs && !ret; i++)
		ret = plot_mmio_load(&runs[i], dirs[i], err, errlen);
	if (ret)
		goto out_free;
	ng = plot_mmio_group(runs, ndirs, groups);

	ret = plot_mktmp(tmp, sizeof(tmp), img, sizeof(img), png, err, errlen);
	if (ret)
		goto out_free;
	ret = plot_mmio_write_data(tmp, runs, ndirs, ng, err, errlen);
	if (!ret)
		ret = plot_mmio_write_script(tmp, img, png, runs, ndirs, groups, ng, err, errlen);
	ret = plot_finish(tmp, img, out, ret, err, errlen);
out_free:
	free(groups);
	free(runs);
	return ret;
}
