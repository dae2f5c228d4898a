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

struct plot_run {
	char label[256];
	char base[128];			/* basename of the result folder */
	char cfg[128];			/* basename of config_file, "" if absent */
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

static int plot_load(struct plot_run *r, const char *dir, char *err, size_t errlen)
{
	char path[PATH_MAX];
	json_error_t je;
	json_t *doc, *stats, *v;
	FILE *f;
	int ret = 0;

	if (snprintf(path, sizeof(path), "%s/stats.json", dir) >= (int)sizeof(path)) {
		plot_err(err, errlen, "%s: path too long", dir);
		return -ENAMETOOLONG;
	}
	f = fopen(path, "r");
	if (!f) {
		ret = -errno;
		plot_err(err, errlen, "%s: %s", path, strerror(-ret));
		return ret;
	}
	doc = json_loadf(f, 0, &je);
	fclose(f);
	if (!doc) {
		plot_err(err, errlen, "%s: invalid JSON at line %d: %s", path, je.line, je.text);
		return -EINVAL;
	}
	stats = json_object_get(doc, "stats");
	if (!json_is_object(stats)) {
		plot_err(err, errlen, "%s: no \"stats\" object", path);
		ret = -EINVAL;
		goto out;
	}
	for (int z = 0; z < PLOT_NZAP && !ret; z++)
		ret = plot_load_array(stats, plot_zap[z].stat, &r->zap[z], &r->nzap[z], path,
				      err, errlen);
	if (ret)
		goto out;
	plot_load_cycles(r, doc, stats);

	plot_basename(dir, r->base, sizeof(r->base));
	plot_sanitize(r->base);
	v = json_object_get(json_object_get(json_object_get(doc, "config"), "mmu"), "zap_all");
	snprintf(r->label, sizeof(r->label), "%s",
		 json_is_string(v) && *json_string_value(v) ? json_string_value(v) : r->base);
	plot_sanitize(r->label);
	v = json_object_get(doc, "config_file");
	if (json_is_string(v)) {
		plot_basename(json_string_value(v), r->cfg, sizeof(r->cfg));
		plot_sanitize(r->cfg);
	}
out:
	json_decref(doc);
	return ret;
}

/* Runs sharing a label all get " (folder)" appended. */
static void plot_dedup_labels(struct plot_run *runs, int n)
{
	bool *dup = calloc(n, sizeof(*dup));

	if (!dup)
		return;		/* cosmetic: keep the plain labels */
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (!strcmp(runs[i].label, runs[j].label))
				dup[i] = dup[j] = true;
	for (int i = 0; i < n; i++) {
		size_t l = strlen(runs[i].label);

		if (dup[i])
			snprintf(runs[i].label + l, sizeof(runs[i].label) - l, " (%s)", runs[i].base);
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
		fprintf(f, "\"%s\"", runs[i].label);
		for (int c = 0; c < PLOT_NCAT; c++)
			fprintf(f, " %.6f", sum > 0 ? 100.0 * runs[i].cyc[c] / sum : 0.0);
		fprintf(f, " %d\n", sum > 0);
	}
	return plot_close(f, path, err, errlen);
}

/* "a.ini", or "a.ini, b.ini" when the runs come from different configurations. */
static void plot_config_names(const struct plot_run *runs, int n, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; i < n; i++) {
		bool seen = false;

		if (!runs[i].cfg[0])
			continue;
		for (int j = 0; j < i && !seen; j++)
			seen = !strcmp(runs[i].cfg, runs[j].cfg);
		if (seen)
			continue;
		used += snprintf(buf + used, len - used, "%s%s", used ? ", " : "", runs[i].cfg);
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
		if (strlen(runs[i].label) > maxlen)
			maxlen = strlen(runs[i].label);
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
			plot_run_color[i % PLOT_NCOLOR], runs[i].label, i + 1 < n ? ", \\" : "");
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
	plot_config_names(runs, n, cfg, sizeof(cfg));
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

int plot_runs(const char *const *dirs, int ndirs, const char *out, char *err, size_t errlen)
{
	struct plot_run *runs;
	char tmp[PATH_MAX], img[PATH_MAX];
	const char *tmpdir = getenv("TMPDIR");
	size_t maxz = 0;
	bool png;
	int ret = 0;

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
	png = plot_has_suffix(out, ".png");

	runs = calloc(ndirs, sizeof(*runs));
	if (!runs) {
		plot_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (int i = 0; i < ndirs && !ret; i++) {
		if (!dirs[i]) {
			plot_err(err, errlen, "result folder %d is NULL", i);
			ret = -EINVAL;
			break;
		}
		ret = plot_load(&runs[i], dirs[i], err, errlen);
	}
	if (ret)
		goto out_free;
	plot_dedup_labels(runs, ndirs);
	for (int i = 0; i < ndirs; i++)
		for (int z = 0; z < PLOT_NZAP; z++)
			if (runs[i].nzap[z] > maxz)
				maxz = runs[i].nzap[z];

	if (!tmpdir || !*tmpdir)
		tmpdir = "/tmp";
	/* leave room for the file names inside */
	if (snprintf(tmp, sizeof(tmp), "%s/eptsim-plot-XXXXXX", tmpdir) >= (int)sizeof(tmp) - 32) {
		plot_err(err, errlen, "%s: TMPDIR path too long", tmpdir);
		ret = -ENAMETOOLONG;
		goto out_free;
	}
	if (!mkdtemp(tmp)) {
		ret = -errno;
		plot_err(err, errlen, "%s: %s", tmp, strerror(-ret));
		goto out_free;
	}
	snprintf(img, sizeof(img), "%s/plot.%s", tmp, png ? "png" : "svg");
	ret = plot_write_zaps(tmp, runs, ndirs, maxz, err, errlen);
	if (!ret)
		ret = plot_write_vcpu(tmp, runs, ndirs, err, errlen);
	if (!ret)
		ret = plot_write_script(tmp, img, png, runs, ndirs, err, errlen);
	if (!ret)
		ret = plot_gnuplot(tmp, err, errlen);
	if (!ret)
		ret = plot_install(img, out, err, errlen);
	plot_rmtree(tmp);
out_free:
	for (int i = 0; i < ndirs; i++)
		for (int z = 0; z < PLOT_NZAP; z++)
			free(runs[i].zap[z]);
	free(runs);
	return ret;
}
