// SPDX-License-Identifier: GPL-2.0
/* Tests for sim/chart (plot --kind sweep, cdf, stalls, timeline) and sim/summary, on
 * hand-written sweep and run folders whose numbers are known: every figure is drawn for
 * real by gnuplot as PNG and SVG, and the script and data files it drew from (kept with
 * opts.keep) are checked line by line: titles, series, axis choices (log2 x for powers of
 * two, categorical x, µs for cycles), the values of each line, the filters, the CDF steps,
 * the stall shares, the timeline's zoom window; then the errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim/chart.h"
#include "sim/summary.h"
#include "sim/tests/test_util.h"

#define MHZ 2600.0

struct fx {
	char root[64];
	char sweep[128];	/* root/sw: a 2 x 3 x 2 sweep folder */
	char tmp[128];		/* TMPDIR for the charts: empty afterwards */
	char keep[128];		/* opts.keep: the script and data files */
	char *old_tmpdir;
};

static const char *const variants[2] = { "legacy", "fast-v7" };
static const int vcpus[3] = { 1, 2, 4 };
static const char *const mems[2] = { "512M", "1G" };
static const double mem_gib[2] = { 0.5, 1 };

/* The known stats of run (v, c, m). */
static double lock_breaks(int v, int c, int m) { return v ? vcpus[c] * mem_gib[m] * 2 + 0.5 : 0; }
static double wait_max_cycles(int v, int c, int m) { return MHZ * (100.0 * vcpus[c] + (v ? 0 : 1000) + m); }
static long faults(int v, int c, int m) { return 1000L * vcpus[c] + 10 * m + v; }

static int count_str(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* A run's stats.json: units, the clock, a wait histogram with buckets, the vCPU cycles. */
static void write_run(const char *dir, int nvcpu, const long cyc[][6], const char *hist)
{
	static const char *const cat[6] = { "guest", "walk", "exit", "lock_wait", "request", "idle" };
	char path[512];
	FILE *f;

	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/stats.json", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "{\"complete\": true, \"config_file\": \"configs/x.ini\",\n"
		   " \"config\": {\"cpu\": {\"freq_mhz\": %g}, \"guest\": {\"vcpus\": %d}},\n"
		   " \"stats\": {\n", MHZ, nvcpu);
	for (int v = 0; v < nvcpu; v++)
		for (int c = 0; c < 6; c++)
			fprintf(f, "  \"vcpu.%d.cycles.%s\": %ld,\n", v, cat[c], cyc[v][c]);
	fprintf(f, "  \"mmu_lock.wait_cycles\": %s\n },\n", hist);
	fprintf(f, " \"stat_info\": {\n"
		   "  \"zap.lock_breaks\": {\"kind\": \"array\", \"unit\": \"events\", \"help\": \"x\"},\n"
		   "  \"mmu_lock.wait_cycles\": {\"kind\": \"histogram\", \"unit\": \"cycles\","
		   " \"help\": \"wait for mmu_lock, per acquisition\"},\n"
		   "  \"ept.faults\": {\"kind\": \"counter\", \"unit\": \"events\", \"help\": \"x\"}\n"
		   " }\n}\n");
	assert_int_equal(fclose(f), 0);
}

static const char hist10[] =
	"{\"count\": 10, \"sum\": 3000, \"min\": 25, \"max\": 2600, \"mean\": 300.0, \"p50\": 25,"
	" \"p90\": 100, \"p99\": 2600, \"p999\": 2600, \"buckets\": [[25, 6], [100, 3], [2600, 1]]}";

/* A sweep folder: DIR and DIR/runs made, DIR/sweep.json and DIR/summary.csv open. */
static void sweep_files(const char *dir, FILE **man, FILE **csv)
{
	char path[512];

	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/runs", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/sweep.json", dir);
	*man = fopen(path, "w");
	snprintf(path, sizeof(path), "%s/summary.csv", dir);
	*csv = fopen(path, "w");
	assert_non_null(*man);
	assert_non_null(*csv);
}

/* The sweep folder: 2 variants x 3 vCPU counts x 2 sizes, a summary.csv of known values
 * (the rows in sweep order; collapse.refaults empty throughout), every run's stats.json. */
static void write_sweep(const char *dir)
{
	char path[512], name[128];
	FILE *man, *csv;

	sweep_files(dir, &man, &csv);
	fprintf(man, "{\"eptsim_sweep\": 1, \"sweep_file\": \"/x/tiny-sweep.ini\", \"base\": \"/x/b.ini\","
		     " \"set\": [], \"axes\": [\n"
		     " {\"key\": \"mmu.zap_all\", \"name\": \"zap_all\", \"values\": [\"legacy\", \"fast-v7\"]},\n"
		     " {\"key\": \"guest.vcpus\", \"name\": \"vcpus\", \"values\": [\"1\", \"2\", \"4\"]},\n"
		     " {\"key\": \"guest.mem\", \"name\": \"mem\", \"values\": [\"512M\", \"1G\"]}],\n"
		     " \"runs\": [\n");
	fprintf(csv, "mmu.zap_all,guest.vcpus,guest.mem,zap.lock_breaks.mean,mmu_lock.wait_cycles.max,"
		     "ept.faults,collapse.refaults\n");
	for (int v = 0; v < 2; v++)
		for (int c = 0; c < 3; c++)
			for (int m = 0; m < 2; m++) {
				long cyc[4][6];

				snprintf(name, sizeof(name), "zap_all=%s,vcpus=%d,mem=%s", variants[v],
					 vcpus[c], mems[m]);
				fprintf(man, "  {\"name\": \"%s\", \"config_hash\": \"0\", \"values\": "
					     "[\"%s\", \"%d\", \"%s\"]}%s\n", name, variants[v], vcpus[c],
					mems[m], v == 1 && c == 2 && m == 1 ? "" : ",");
				fprintf(csv, "%s,%d,%s,%.10g,%.10g,%ld,\n", variants[v], vcpus[c], mems[m],
					lock_breaks(v, c, m), wait_max_cycles(v, c, m), faults(v, c, m));
				for (int i = 0; i < vcpus[c]; i++) {
					long row[6] = { 800000, 100000, 50000, 20000 * (2 - v), 1000, 0 };

					memcpy(cyc[i], row, sizeof(row));
				}
				snprintf(path, sizeof(path), "%s/runs/%s", dir, name);
				write_run(path, vcpus[c], cyc, hist10);
			}
	fprintf(man, " ]}\n");
	assert_int_equal(fclose(man), 0);
	assert_int_equal(fclose(csv), 0);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char root[] = "/tmp/test_chart-XXXXXX";
	const char *t = getenv("TMPDIR");

	if (!f || !mkdtemp(root))
		return -1;
	snprintf(f->root, sizeof(f->root), "%s", root);
	snprintf(f->tmp, sizeof(f->tmp), "%s/tmp", root);
	snprintf(f->sweep, sizeof(f->sweep), "%s/sw", root);
	snprintf(f->keep, sizeof(f->keep), "%s/kept", root);
	if (mkdir(f->tmp, 0700))
		return -1;
	write_sweep(f->sweep);
	f->old_tmpdir = t ? strdup(t) : NULL;
	setenv("TMPDIR", f->tmp, 1);
	*state = f;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (f->old_tmpdir)
		setenv("TMPDIR", f->old_tmpdir, 1);
	else
		unsetenv("TMPDIR");
	free(f->old_tmpdir);
	nftw(f->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static const char *in(const struct fx *f, const char *name)
{
	static char buf[4][512];
	static int k;
	char *p = buf[k++ % 4];

	snprintf(p, sizeof(buf[0]), "%s/%s", f->root, name);
	return p;
}

/* out is a whole PNG (signature, a real image) or SVG (with the title), and the charts left
 * nothing in TMPDIR. */
static void assert_image(const struct fx *f, const char *out, const char *title)
{
	static const unsigned char sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
	struct stat st;
	char *img;

	assert_int_equal(stat(out, &st), 0);
	assert_true(st.st_size > 5000);
	img = tu_read_file(out);
	if (strstr(out, ".png"))
		assert_memory_equal(img, sig, sizeof(sig));
	else
		tu_assert_contains(img, title);
	free(img);
	assert_int_equal(rmdir(f->tmp), 0);	/* empty */
	assert_int_equal(mkdir(f->tmp, 0700), 0);
}

/* kept/<file> of the last chart drawn with keep = f->keep */
static char *kept(const struct fx *f, const char *file)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/kept/%s", f->root, file);
	return tu_read_file(path);
}

static void clear_kept(const struct fx *f)
{
	nftw(f->keep, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* ---------------------------------------------------------------- summary */

static void test_summary(void **state)
{
	struct fx *f = *state;
	struct summary *s;
	char err[512];
	double v;

	assert_int_equal(summary_load(f->sweep, &s, err, sizeof(err)), 0);
	assert_string_equal(summary_name(s), "tiny-sweep");
	assert_int_equal(summary_nr_axes(s), 3);
	assert_int_equal(summary_nr_rows(s), 12);
	assert_int_equal(summary_nr_runs(s), 12);
	assert_false(summary_axis_numeric(s, 0));
	assert_true(summary_axis_numeric(s, 1));
	assert_true(summary_axis_numeric(s, 2));	/* 512M, 1G */
	assert_int_equal(summary_axis_find(s, "vcpus"), 1);
	assert_int_equal(summary_axis_find(s, "guest.mem"), 2);
	assert_int_equal(summary_column(s, "mem"), 2);
	assert_int_equal(summary_column(s, "ept.faults"), 5);
	assert_int_equal(summary_column(s, "nope"), -1);
	assert_string_equal(summary_row_name(s, 7), "zap_all=fast-v7,vcpus=1,mem=1G");
	assert_string_equal(summary_row_value(s, 7, 2), "1G");
	assert_true(summary_number(s, 7, 3, &v));
	assert_float_equal(v, lock_breaks(1, 0, 1), 1e-12);
	assert_false(summary_number(s, 7, 6, &v));	/* empty cell */
	assert_string_equal(summary_column_unit(s, 3), "events");	/* array's .mean */
	assert_string_equal(summary_column_unit(s, 4), "cycles");	/* histogram's .max */
	assert_null(summary_column_unit(s, 0));
	assert_float_equal(summary_freq_mhz(s, 3), MHZ, 0);
	assert_true(summary_parse("1G", &v) && v == 1073741824.0);
	assert_true(summary_parse("0.5k", &v) && v == 512);
	assert_false(summary_parse("1Gi", &v));
	assert_false(summary_parse("", &v));
	summary_free(s);

	/* not a sweep folder; no summary.csv */
	assert_int_equal(summary_load(f->root, &s, err, sizeof(err)), -ENOENT);
	tu_assert_contains(err, "sweep.json");
	assert_int_equal(mkdir(in(f, "half"), 0755), 0);
	tu_write_text(in(f, "half/sweep.json"), "{\"axes\": [], \"runs\": []}");
	assert_int_equal(summary_load(in(f, "half"), &s, err, sizeof(err)), -ENOENT);
	tu_assert_contains(err, "sweep --collect");
	/* a row that no run of the manifest has */
	tu_write_text(in(f, "half/summary.csv"), "a\n1\n");
	assert_int_equal(summary_load(in(f, "half"), &s, err, sizeof(err)), -EINVAL);
	tu_assert_contains(err, "summary.csv:2");
}

/* ---------------------------------------------------------------- sweep */

static void test_sweep_png_svg(void **state)
{
	struct fx *f = *state;
	struct chart_opts o;
	char err[512] = "x";

	chart_opts_init(&o);
	o.x = "guest.vcpus";
	o.y[o.ny++] = "zap.lock_breaks.mean";
	o.by = "mmu.zap_all";
	assert_int_equal(chart_sweep(f->sweep, &o, in(f, "s.png"), err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_image(f, in(f, "s.png"), NULL);
	assert_int_equal(chart_sweep(f->sweep, &o, in(f, "s.svg"), err, sizeof(err)), 0);
	assert_image(f, in(f, "s.svg"),
		     "eptsim sweep tiny-sweep: zap.lock_breaks.mean against guest.vcpus");
	{
		char *svg = tu_read_file(in(f, "s.svg"));

		tu_assert_contains(svg, "guest.mem = 512M");
		tu_assert_contains(svg, "guest.mem = 1G");
		tu_assert_contains(svg, ">legacy<");
		tu_assert_contains(svg, ">fast-v7<");
		tu_assert_contains(svg, "guest.vcpus (log scale)");
		free(svg);
	}
}

/* The script and the data behind the figure: one line per variant, one panel per size, the
 * values of summary.csv sorted by x, on a log2 axis with the values as tics. */
static void test_sweep_data(void **state)
{
	struct fx *f = *state;
	struct chart_opts o;
	char err[512], name[64], want[128];
	char *gp, *d;

	chart_opts_init(&o);
	o.x = "vcpus";				/* the short name works too */
	o.y[o.ny++] = "zap.lock_breaks.mean";
	o.y[o.ny++] = "mmu_lock.wait_cycles.max";
	o.keep = f->keep;
	assert_int_equal(chart_sweep(f->sweep, &o, in(f, "d.png"), err, sizeof(err)), 0);
	gp = kept(f, "plot.gp");
	tu_assert_contains(gp, "set terminal pngcairo");
	tu_assert_contains(gp, "set output 'plot.png'");
	tu_assert_contains(gp, "title 'eptsim sweep tiny-sweep: zap.lock_breaks.mean, "
			    "mmu_lock.wait_cycles.max against guest.vcpus'");
	tu_assert_contains(gp, "set multiplot layout 2,2 ");
	tu_assert_contains(gp, "set logscale x 2\n");
	tu_assert_contains(gp, "set xtics ('1' 1, '2' 2, '4' 4)\n");
	/* by defaults to the non-numeric axis: the key is its values, once */
	tu_assert_contains(gp, "title 'mmu.zap_all'");
	assert_int_equal(count_str(gp, "title 'legacy'"), 1);
	assert_int_equal(count_str(gp, "title 'fast-v7'"), 1);
	assert_int_equal(count_str(gp, "set title 'guest.mem = 512M'"), 2);
	assert_int_equal(count_str(gp, "set title 'guest.mem = 1G'"), 2);
	tu_assert_contains(gp, "set ylabel 'zap.lock_breaks.mean (count)'");
	/* up to 1401 µs: in ms from 1000 µs on */
	tu_assert_contains(gp, "set ylabel 'mmu_lock.wait_cycles.max (ms)'");
	assert_int_equal(count_str(gp, "'d-"), 8);
	free(gp);
	/* d-F-K-G.dat: facet (mem), y, group (variant); x ascending */
	for (int m = 0; m < 2; m++)
		for (int v = 0; v < 2; v++) {
			snprintf(name, sizeof(name), "d-%d-0-%d.dat", m, v);
			d = kept(f, name);
			for (int c = 0; c < 3; c++) {
				snprintf(want, sizeof(want), "\n%d %.10g\n", vcpus[c], lock_breaks(v, c, m));
				tu_assert_contains(d, want);
			}
			assert_true(strstr(d, "\n1 ") < strstr(d, "\n2 "));
			assert_true(strstr(d, "\n2 ") < strstr(d, "\n4 "));
			free(d);
			snprintf(name, sizeof(name), "d-%d-1-%d.dat", m, v);
			d = kept(f, name);
			for (int c = 0; c < 3; c++) {	/* cycles at 2600 MHz, in ms */
				snprintf(want, sizeof(want), "\n%d %.10g\n", vcpus[c],
					 wait_max_cycles(v, c, m) / MHZ / 1000);
				tu_assert_contains(d, want);
			}
			free(d);
		}
	clear_kept(f);
	/* fast-v7 alone waits at most 401 µs: in µs */
	o.where[o.nwhere++] = "zap_all=fast-v7";
	o.ny = 1;
	o.y[0] = "mmu_lock.wait_cycles.max";
	assert_int_equal(chart_sweep(f->sweep, &o, in(f, "d.png"), err, sizeof(err)), 0);
	gp = kept(f, "plot.gp");
	tu_assert_contains(gp, "set ylabel 'mmu_lock.wait_cycles.max (µs)'");
	free(gp);
	d = kept(f, "d-1-0-0.dat");	/* 1G, the only group left */
	snprintf(want, sizeof(want), "\n4 %.10g\n", wait_max_cycles(1, 2, 1) / MHZ);
	tu_assert_contains(d, want);
	free(d);
	clear_kept(f);
	unlink(in(f, "d.png"));
	assert_int_equal(rmdir(f->tmp), 0);
	assert_int_equal(mkdir(f->tmp, 0700), 0);
}

/* A replicated sweep (README, Sweeps: seeds): 2 variants x 2 vCPU counts x seeds 1..4,
 * ept.faults = 100 * vcpus + 10 * variant + seed, so each point's four values are 1, 2, 3,
 * 4 above a base: mean base + 2.5, sd 1.2910, ci95 3.1824 * 1.2910 / 2 = 2.0543. */
static void write_replicated(const char *dir)
{
	char path[512], name[128];
	FILE *man, *csv;
	long cyc[2][6] = { { 800000, 100000, 50000, 20000, 1000, 0 }, { 800000, 100000, 50000, 20000, 1000, 0 } };

	sweep_files(dir, &man, &csv);
	fprintf(man, "{\"eptsim_sweep\": 1, \"sweep_file\": \"/x/reps.ini\", \"base\": \"/x/b.ini\","
		     " \"set\": [], \"axes\": [\n"
		     " {\"key\": \"mmu.zap_all\", \"name\": \"zap_all\", \"values\": [\"legacy\", \"fast-v7\"]},\n"
		     " {\"key\": \"guest.vcpus\", \"name\": \"vcpus\", \"values\": [\"1\", \"2\"]},\n"
		     " {\"key\": \"run.seed\", \"name\": \"seed\", \"values\": [\"1\", \"2\", \"3\", \"4\"],"
		     " \"seeds\": true}],\n \"runs\": [\n");
	fprintf(csv, "mmu.zap_all,guest.vcpus,run.seed,ept.faults\n");
	for (int v = 0; v < 2; v++)
		for (int c = 0; c < 2; c++)
			for (int seed = 1; seed <= 4; seed++) {
				snprintf(name, sizeof(name), "zap_all=%s,vcpus=%d,seed=%d", variants[v], c + 1, seed);
				fprintf(man, "  {\"name\": \"%s\", \"config_hash\": \"0\", \"values\": "
					     "[\"%s\", \"%d\", \"%d\"]}%s\n", name, variants[v], c + 1, seed,
					v == 1 && c == 1 && seed == 4 ? "" : ",");
				fprintf(csv, "%s,%d,%d,%d\n", variants[v], c + 1, seed, 100 * (c + 1) + 10 * v + seed);
				snprintf(path, sizeof(path), "%s/runs/%s", dir, name);
				write_run(path, c + 1, cyc, hist10);
			}
	fprintf(man, " ]}\n");
	assert_int_equal(fclose(man), 0);
	assert_int_equal(fclose(csv), 0);
}

/* With replicates: one point per x, the mean, with the 95% interval as an error bar
 * (yerrorlines, "x mean ci95 n"); the seed makes no panels.  Drawn against the seed
 * itself, the runs are points again. */
static void test_sweep_replicates(void **state)
{
	struct fx *f = *state;
	struct chart_opts o;
	struct summary *s;
	char err[512], want[128];
	char *gp, *d;

	write_replicated(in(f, "reps"));
	assert_int_equal(summary_load(in(f, "reps"), &s, err, sizeof(err)), 0);
	assert_int_equal(summary_seed_axis(s), 2);
	summary_free(s);
	chart_opts_init(&o);
	o.x = "vcpus";
	o.y[o.ny++] = "ept.faults";
	o.keep = f->keep;
	assert_int_equal(chart_sweep(in(f, "reps"), &o, in(f, "reps.png"), err, sizeof(err)), 0);
	assert_image(f, in(f, "reps.png"), NULL);
	gp = kept(f, "plot.gp");
	tu_assert_contains(gp, "against guest.vcpus (mean ± 95% CI)'");
	tu_assert_contains(gp, "set multiplot layout 1,1 ");	/* no panel per seed */
	assert_int_equal(count_str(gp, "using 1:2:3 with yerrorlines"), 2);
	assert_null(strstr(gp, "seed ="));
	free(gp);
	for (int v = 0; v < 2; v++) {
		char name[64];

		snprintf(name, sizeof(name), "d-0-0-%d.dat", v);
		d = kept(f, name);
		tu_assert_contains(d, "mean, ci95, n");
		for (int c = 0; c < 2; c++) {
			snprintf(want, sizeof(want), "\n%d %.10g %.10g 4\n", c + 1, 100.0 * (c + 1) + 10 * v + 2.5,
				 3.1824 * sqrt(5.0 / 3) / 2);
			tu_assert_contains(d, want);
		}
		free(d);
	}
	clear_kept(f);
	/* against the seed: every run a point, no bars */
	o.x = "seed";
	o.where[o.nwhere++] = "vcpus=1";
	assert_int_equal(chart_sweep(in(f, "reps"), &o, in(f, "reps.png"), err, sizeof(err)), 0);
	gp = kept(f, "plot.gp");
	assert_null(strstr(gp, "yerrorlines"));
	assert_null(strstr(gp, "95% CI"));
	free(gp);
	d = kept(f, "d-0-0-0.dat");
	tu_assert_contains(d, "\n3 103\n");
	free(d);
	clear_kept(f);
	unlink(in(f, "reps.png"));
	assert_int_equal(rmdir(f->tmp), 0);
	assert_int_equal(mkdir(f->tmp, 0700), 0);
}

/* --where keeps one size: one panel; a categorical x (the variants) with lines per vCPU
 * count; an empty column says "no data". */
static void test_sweep_where_categorical(void **state)
{
	struct fx *f = *state;
	struct chart_opts o;
	char err[512], want[64];
	char *gp, *d;

	chart_opts_init(&o);
	o.x = "mmu.zap_all";
	o.by = "guest.vcpus";
	o.y[o.ny++] = "ept.faults";
	o.y[o.ny++] = "collapse.refaults";
	o.where[o.nwhere++] = "mem=1024M";	/* numeric match: 1G */
	o.keep = f->keep;
	assert_int_equal(chart_sweep(f->sweep, &o, in(f, "w.svg"), err, sizeof(err)), 0);
	gp = kept(f, "plot.gp");
	tu_assert_contains(gp, "set terminal svg");
	tu_assert_contains(gp, "set multiplot layout 2,1 ");
	tu_assert_contains(gp, "unset logscale x\nset xrange [-0.5:1.5]\n");
	tu_assert_contains(gp, "set xtics ('legacy' 0, 'fast-v7' 1)\n");
	tu_assert_contains(gp, "title 'guest.vcpus'");
	tu_assert_contains(gp, "title '1'");
	tu_assert_contains(gp, "title '4'");
	assert_null(strstr(gp, "guest.mem ="));		/* one size left: no panels by size */
	tu_assert_contains(gp, "'no data: the runs have no collapse.refaults'");
	free(gp);
	/* group 2 = 4 vCPUs: x 0 and 1 (legacy, fast-v7) at 1G */
	d = kept(f, "d-0-0-2.dat");
	snprintf(want, sizeof(want), "\n0 %ld\n1 %ld\n", faults(0, 2, 1), faults(1, 2, 1));
	tu_assert_contains(d, want);
	free(d);
	clear_kept(f);
	assert_int_equal(access(in(f, "kept"), F_OK), -1);
	assert_image(f, in(f, "w.svg"), "ept.faults");
}

static void test_sweep_errors(void **state)
{
	struct fx *f = *state;
	struct chart_opts o;
	char err[512];

	chart_opts_init(&o);
	o.x = "guest.vcpus";
	assert_int_equal(chart_sweep(f->sweep, &o, in(f, "e.png"), err, sizeof(err)), -EINVAL);
	tu_assert_contains(err, "--y COLUMN is needed");
	o.y[o.ny++] = "nope.mean";
	assert_int_equal(chart_sweep(f->sweep, &o, in(f, "e.png"), err, sizeof(err)), -EINVAL);
	tu_assert_contains(err, "--y nope.mean");
	o.y[0] = "ept.faults";
	o.x = "guest.nope";
	assert_int_equal(chart_sweep(f->sweep, &o, in(f, "e.png"), err, sizeof(err)), -EINVAL);
	tu_assert_contains(err, "--x guest.nope");
	o.x = "guest.vcpus";
	o.where[o.nwhere++] = "mem=3G";
	assert_int_equal(chart_sweep(f->sweep, &o, in(f, "e.png"), err, sizeof(err)), -EINVAL);
	tu_assert_contains(err, "--where kept none");
	o.where[0] = "memory=1G";
	assert_int_equal(chart_sweep(f->sweep, &o, in(f, "e.png"), err, sizeof(err)), -EINVAL);
	tu_assert_contains(err, "no column memory");
	/* a long value list is read whole (a 512-byte copy once dropped its end: "1G" here) */
	{
		char *w = malloc(2048);
		int n = snprintf(w, 2048, "mem=");

		assert_non_null(w);
		for (int i = 0; i < 200; i++)   /* 1,000 characters of values that match nothing */
			n += snprintf(w + n, 2048 - (size_t)n, "%dT|", 100 + i);
		snprintf(w + n, 2048 - (size_t)n, "1G");
		o.where[0] = w;
		assert_int_equal(chart_sweep(f->sweep, &o, in(f, "long-where.png"), err, sizeof(err)), 0);
		o.where[0] = "memory=1G";
		free(w);
	}
	o.nwhere = 0;
	assert_int_equal(chart_sweep(f->root, &o, in(f, "e.png"), err, sizeof(err)), -ENOENT);
	assert_int_equal(chart_sweep(f->sweep, &o, in(f, "e.pdf"), err, sizeof(err)), -EINVAL);
	assert_int_equal(access(in(f, "e.png"), F_OK), -1);
	assert_int_equal(rmdir(f->tmp), 0);
	assert_int_equal(mkdir(f->tmp, 0700), 0);
}

/* ---------------------------------------------------------------- cdf */

static void test_cdf(void **state)
{
	struct fx *f = *state;
	static const long cyc[1][6] = { { 1000, 0, 0, 0, 0, 0 } };
	char da[256], db[256];
	const char *dirs[2] = { da, db };
	struct chart_opts o;
	char err[512], want[128];
	char *gp, *d;

	snprintf(da, sizeof(da), "%s", in(f, "ra"));	/* in() reuses its buffers */
	snprintf(db, sizeof(db), "%s", in(f, "rb"));
	write_run(dirs[0], 1, cyc, hist10);
	/* a 0-cycle bucket (drawn at the left edge) and a long tail */
	write_run(dirs[1], 1, cyc, "{\"count\": 4, \"sum\": 1, \"min\": 0, \"max\": 260000,"
		  " \"mean\": 1.0, \"p50\": 0, \"p90\": 260000, \"p99\": 260000, \"p999\": 260000,"
		  " \"buckets\": [[0, 2], [26, 1], [260000, 1]]}");
	chart_opts_init(&o);
	o.keep = f->keep;
	assert_int_equal(chart_cdf(dirs, 2, &o, in(f, "c.png"), err, sizeof(err)), 0);
	gp = kept(f, "plot.gp");
	tu_assert_contains(gp, "'eptsim: distribution of mmu_lock.wait — wait for mmu_lock, per "
			    "acquisition'");
	tu_assert_contains(gp, "title 'ra (10 samples, p99 1 µs, max 1 µs)'");
	tu_assert_contains(gp, "title 'rb (4 samples, p99 100 µs, max 100 µs)'");
	tu_assert_contains(gp, "set logscale x 10\n");
	/* x from the decade below the smallest positive bucket (0.01 µs / 1.5) to above 100 */
	tu_assert_contains(gp, "set xrange [0.001:1000]\n");
	tu_assert_contains(gp, "with steps");
	free(gp);
	d = kept(f, "cdf-0.dat");
	snprintf(want, sizeof(want), "\n0.001 0\n%.10g 0.6\n%.10g 0.9\n1 1\n", 25 / MHZ, 100 / MHZ);
	tu_assert_contains(d, want);
	free(d);
	d = kept(f, "cdf-1.dat");
	tu_assert_contains(d, "\n0.001 0\n0.001 0.5\n0.01 0.75\n100 1\n");
	free(d);
	d = kept(f, "tail-0.dat");	/* 1 - F, then one sample's share at the max */
	snprintf(want, sizeof(want), "\n0.001 1\n%.10g 0.4\n%.10g 0.1\n1 0.1\n", 25 / MHZ,
		 100 / MHZ);
	tu_assert_contains(d, want);
	free(d);
	clear_kept(f);
	assert_image(f, in(f, "c.png"), NULL);
	assert_int_equal(chart_cdf(dirs, 2, &o, in(f, "c.svg"), err, sizeof(err)), 0);
	clear_kept(f);
	assert_image(f, in(f, "c.svg"), "ra (10 samples, p99 1 µs, max 1 µs)");

	/* a sweep folder, filtered: its runs labelled by what varies among them */
	{
		const char *sw = f->sweep;

		chart_opts_init(&o);
		o.where[o.nwhere++] = "vcpus=2";
		o.where[o.nwhere++] = "mem=1G";
		o.keep = f->keep;
		assert_int_equal(chart_cdf(&sw, 1, &o, in(f, "c2.png"), err, sizeof(err)), 0);
		gp = kept(f, "plot.gp");
		tu_assert_contains(gp, "title 'zap_all=legacy (10 samples");
		tu_assert_contains(gp, "title 'zap_all=fast-v7 (10 samples");
		assert_int_equal(count_str(gp, "'cdf-"), 2);
		free(gp);
		clear_kept(f);
		assert_image(f, in(f, "c2.png"), NULL);
	}

	/* errors: no buckets (an older stats.json), no such stat, not a histogram */
	write_run(in(f, "rc"), 1, cyc, "{\"count\": 1, \"sum\": 1, \"min\": 1, \"max\": 1}");
	snprintf(db, sizeof(db), "%s", in(f, "rc"));
	chart_opts_init(&o);
	assert_int_equal(chart_cdf(dirs, 2, &o, in(f, "e.png"), err, sizeof(err)), -EINVAL);
	tu_assert_contains(err, "has no buckets");
	o.y[o.ny++] = "mmu_lock.hold_cycles";
	assert_int_equal(chart_cdf(dirs, 1, &o, in(f, "e.png"), err, sizeof(err)), -EINVAL);
	tu_assert_contains(err, "no stat mmu_lock.hold_cycles");
	o.y[0] = "vcpu.0.cycles.guest";
	assert_int_equal(chart_cdf(dirs, 1, &o, in(f, "e.png"), err, sizeof(err)), -EINVAL);
	tu_assert_contains(err, "is not a histogram");
	snprintf(db, sizeof(db), "%s", in(f, "nope"));
	chart_opts_init(&o);
	assert_int_equal(chart_cdf(dirs, 2, &o, in(f, "e.png"), err, sizeof(err)), -ENOENT);
	tu_assert_contains(err, "neither a run folder");
	assert_int_equal(access(in(f, "e.png"), F_OK), -1);
}

/* ---------------------------------------------------------------- stalls */

static void test_stalls(void **state)
{
	struct fx *f = *state;
	/* 2 vCPUs: guest 1000+600, walk 100+100, exit 50+50, lock_wait 30+10, request 20+40 */
	static const long c2[2][6] = { { 1000, 100, 50, 30, 20, 0 }, { 600, 100, 50, 10, 40, 0 } };
	static const long c1[1][6] = { { 500, 100, 0, 0, 0, 400 } };	/* half idle */
	char da[256], db[256];
	const char *dirs[2] = { da, db };
	struct chart_opts o;
	char err[512];
	char *gp, *d;

	snprintf(da, sizeof(da), "%s", in(f, "s-two"));
	snprintf(db, sizeof(db), "%s", in(f, "s-idle"));
	write_run(dirs[0], 2, c2, hist10);
	write_run(dirs[1], 1, c1, hist10);
	chart_opts_init(&o);
	o.keep = f->keep;
	o.title = "my stalls";
	assert_int_equal(chart_stalls(dirs, 2, &o, in(f, "st.png"), err, sizeof(err)), 0);
	d = kept(f, "stalls.dat");
	/* cumulative % of 2000 cycles: walk 10, +exit 5, +lock 2, +request 3; idle 0 */
	tu_assert_contains(d, "\n1 10 15 17 20 20 20  # s-two\n");
	/* of 1000: walk 10, idle 40 */
	tu_assert_contains(d, "\n0 10 10 10 10 50 50  # s-idle\n");
	free(d);
	gp = kept(f, "plot.gp");
	tu_assert_contains(gp, "set multiplot title 'my stalls'");
	tu_assert_contains(gp, "set ytics scale 0 ('s-two' 1, 's-idle' 0)");
	tu_assert_contains(gp, "title 'lock_wait: spinning on mmu_lock'");
	tu_assert_contains(gp, "title 'idle: halted (its workload over)'");
	tu_assert_contains(gp, "set xrange [0:60]");	/* 50% and room for its label */
	free(gp);
	clear_kept(f);
	assert_image(f, in(f, "st.png"), NULL);

	/* without idle time anywhere, no idle entry */
	assert_int_equal(chart_stalls(dirs, 1, &o, in(f, "st.svg"), err, sizeof(err)), 0);
	gp = kept(f, "plot.gp");
	assert_null(strstr(gp, "idle:"));
	free(gp);
	clear_kept(f);
	assert_image(f, in(f, "st.svg"), "my stalls");

	/* the sweep folder: a bar per run */
	{
		const char *sw = f->sweep;

		chart_opts_init(&o);
		o.keep = f->keep;
		assert_int_equal(chart_stalls(&sw, 1, &o, in(f, "st2.png"), err, sizeof(err)), 0);
		gp = kept(f, "plot.gp");
		tu_assert_contains(gp, "'zap_all=legacy, vcpus=1, mem=512M' 11");
		tu_assert_contains(gp, "'zap_all=fast-v7, vcpus=4, mem=1G' 0)");
		free(gp);
		clear_kept(f);
		assert_image(f, in(f, "st2.png"), NULL);
	}
	/* a run without a breakdown */
	assert_int_equal(mkdir(in(f, "s-none"), 0755), 0);
	tu_write_text(in(f, "s-none/stats.json"), "{\"config\": {\"cpu\": {\"freq_mhz\": 1000}},"
		   " \"stats\": {\"ept.faults\": 3}}");
	snprintf(db, sizeof(db), "%s", in(f, "s-none"));
	assert_int_equal(chart_stalls(dirs, 2, &o, in(f, "e.png"), err, sizeof(err)), -EINVAL);
	tu_assert_contains(err, "no vCPU cycle breakdown");
}

/* ---------------------------------------------------------------- timeline */

/* 1000 MHz: a cycle is a ns.  2 vCPUs, the VMM thread is row 2.  A short VMM hold at 1 ms;
 * a zap-all from 5 ms, broken twice, the vCPUs holding in the breaks. */
static const char timeline[] =
	"# eptsim lock_timeline 1: who held mmu_lock when (holds never overlap)\n"
	"# freq_mhz=1000 vcpus=2 vmm_id=2 end_cycle=10000000 holds=9 hold_cycles=0 dropped=%d "
	"dropped_cycles=%d max=100\n"
	"# start_cycle end_cycle holder_id holder_kind wait_cycles\n"
	"100000 100500 0 vcpu 0\n"
	"1000000 1010000 2 vmm 0\n"
	"3000000 3000400 1 vcpu 25\n"
	"5000000 5200000 2 vmm 25\n"
	"5200150 5200600 0 vcpu 199000\n"
	"5201000 5400000 2 vmm 850\n"
	"5400150 5400500 1 vcpu 399000\n"
	"5401000 5600000 2 vmm 850\n"
	"7000000 7000300 0 vcpu 0\n";

static void write_timeline(const char *dir, int dropped)
{
	static const long cyc[2][6] = { { 1, 0, 0, 0, 0, 0 }, { 1, 0, 0, 0, 0, 0 } };
	char path[512], text[2048];

	write_run(dir, 2, cyc, hist10);
	snprintf(path, sizeof(path), "%s/series", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/series/lock_timeline.dat", dir);
	snprintf(text, sizeof(text), timeline, dropped, dropped * 1000);
	tu_write_text(path, text);
}

static void test_timeline(void **state)
{
	static const long cyc0[2][6] = { { 1, 0, 0, 0, 0, 0 }, { 1, 0, 0, 0, 0, 0 } };
	struct fx *f = *state;
	struct chart_opts o;
	char err[512];
	char *gp, *d;

	write_timeline(in(f, "tl"), 0);
	chart_opts_init(&o);
	o.keep = f->keep;
	assert_int_equal(chart_timeline(in(f, "tl"), &o, in(f, "t.png"), err, sizeof(err)), 0);
	gp = kept(f, "plot.gp");
	tu_assert_contains(gp, "'eptsim: who held mmu_lock when — x.ini'");
	tu_assert_contains(gp, "set ytics scale 0 ('vCPU 0' 0, 'vCPU 1' 1, 'VMM thread' 2)");
	/* the zoom: the zap-all's three holds (5.0-5.6 ms) padded by 600/8 + 2 µs each side */
	tu_assert_contains(gp, "set xrange [4923:5677]\n");
	tu_assert_contains(gp, "zoom on the VMM thread''s longest hold and its VMM neighbours, 4923 to "
			    "5677 µs: 5 holds, 3 of them the VMM thread''s");
	tu_assert_contains(gp, "the whole run (9 holds;");
	tu_assert_contains(gp, "set xrange [0:10]\n");	/* the overview, in ms */
	tu_assert_contains(gp, "title 'the VMM thread holds mmu_lock");
	free(gp);
	d = kept(f, "zoom-vmm.dat");
	assert_int_equal(count_str(d, "\n"), 4);	/* a header and the three holds */
	tu_assert_contains(d, "\n5000 2 5000 5200 1.64 2.36\n5201 2 5201 5400 1.64 2.36\n");
	free(d);
	d = kept(f, "zoom-wait.dat");	/* the vCPUs waited through the zap's batches */
	tu_assert_contains(d, "\n5001.15 0 5001.15 5200.15 -0.13 0.13\n");
	free(d);
	/* the overview: a pixel is 10 ms / (1600 * 0.86) = 7.27 µs, so the zap's holds, 1 µs
	 * apart, are one bar from 5 to 5.6 ms; the short hold at 1 ms is widened to a pixel; the
	 * 25-cycle waits (0.025 µs, less than a pixel) are left out, the long ones kept */
	d = kept(f, "all-vmm.dat");
	assert_int_equal(count_str(d, "\n"), 3);
	tu_assert_contains(d, "\n1 2 1 1.01 1.64 2.36\n5 2 5 5.6 1.64 2.36\n");
	free(d);
	d = kept(f, "all-wait.dat");
	assert_int_equal(count_str(d, "\n"), 3);
	tu_assert_contains(d, "\n5.00115 0 5.00115 5.20015 -0.13 0.13\n"
			   "5.00115 1 5.00115 5.40015 0.87 1.13\n");
	free(d);
	d = kept(f, "all-vcpu.dat");
	tu_assert_contains(d, "\n3 1 3 3.007267442 0.64 1.36\n");	/* a pixel wide */
	free(d);
	clear_kept(f);
	assert_image(f, in(f, "t.png"), NULL);

	/* an explicit window: from 0.9 ms to 1.1 ms */
	o.from_ms = 0.9;
	o.to_ms = 1.1;
	assert_int_equal(chart_timeline(in(f, "tl"), &o, in(f, "t.svg"), err, sizeof(err)), 0);
	gp = kept(f, "plot.gp");
	tu_assert_contains(gp, "zoom, 900 to 1100 µs: 1 holds, 1 of them the VMM thread''s");
	free(gp);
	clear_kept(f);
	assert_image(f, in(f, "t.svg"), "who held mmu_lock when");

	/* truncated: the overview says what is missing */
	write_timeline(in(f, "tl2"), 5);
	chart_opts_init(&o);
	o.keep = f->keep;
	assert_int_equal(chart_timeline(in(f, "tl2"), &o, in(f, "t2.png"), err, sizeof(err)), 0);
	gp = kept(f, "plot.gp");
	tu_assert_contains(gp, "not recorded: 5 more holds (output.lock_timeline_max = 100)");
	free(gp);
	clear_kept(f);
	assert_image(f, in(f, "t2.png"), NULL);

	/* errors: no timeline; overlapping holds; an empty window */
	chart_opts_init(&o);
	write_run(in(f, "tl-none"), 2, cyc0, hist10);
	assert_int_equal(chart_timeline(in(f, "tl-none"), &o, in(f, "e.png"), err, sizeof(err)),
			 -ENOENT);
	tu_assert_contains(err, "output.lock_timeline = true");
	tu_write_text(in(f, "tl2/series/lock_timeline.dat"),
		   "# freq_mhz=1000 vcpus=2 vmm_id=2 end_cycle=100 holds=2 hold_cycles=0 dropped=0 "
		   "dropped_cycles=0 max=9\n10 20 0 vcpu 0\n15 30 1 vcpu 0\n");
	assert_int_equal(chart_timeline(in(f, "tl2"), &o, in(f, "e.png"), err, sizeof(err)),
			 -EINVAL);
	tu_assert_contains(err, "lock_timeline.dat:3:");
	o.from_ms = 3;
	o.to_ms = 2;
	assert_int_equal(chart_timeline(in(f, "tl"), &o, in(f, "e.png"), err, sizeof(err)), -EINVAL);
	tu_assert_contains(err, "empty window");
	assert_int_equal(access(in(f, "e.png"), F_OK), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_summary),
		cmocka_unit_test(test_sweep_png_svg),
		cmocka_unit_test(test_sweep_data),
		cmocka_unit_test(test_sweep_replicates),
		cmocka_unit_test(test_sweep_where_categorical),
		cmocka_unit_test(test_sweep_errors),
		cmocka_unit_test(test_cdf),
		cmocka_unit_test(test_stalls),
		cmocka_unit_test(test_timeline),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
