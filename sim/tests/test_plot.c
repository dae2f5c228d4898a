// SPDX-License-Identifier: GPL-2.0
/* Tests for sim/plot: a real gnuplot run over hand-written result folders (PNG and SVG),
 * what ends up in the figure (labels, percentages, the empty-panel note), and the error
 * paths (missing folder, bad JSON, bad extension, no gnuplot); then the same for
 * plot_mmio() (2 variants x 3 guest sizes; linear and log hold axes; no MMIO stats) and
 * plot_collapse() (3 collapse variants over a 60 ms cancelled migration; the running mean
 * of a noisy throughput; missing series; no dirty logging at all). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim/plot.h"
#include "sim/tests/test_util.h"

#define NVCPU 4

enum { C_GUEST, C_WALK, C_EXIT, C_LOCK, C_REQ, C_IDLE, NCYC };
static const char *const cyc_name[NCYC] = {
	"guest", "walk", "exit", "lock_wait", "request", "idle",
};

struct run_def {
	const char *name;	/* folder */
	const char *zap_all;
	int nzap;		/* -1: no zap arrays at all */
	long lb[8], fl[8];
	long cyc[NVCPU][NCYC];
};

/* Three runs shaped like the default scenario: legacy breaks the lock most and flushes at
 * every break, fast-flush-at-break flushes at every break, fast-v7 flushes once. */
static const struct run_def runs3[] = {
	{ "legacy", "legacy", 6, { 14, 11, 9, 12, 10, 13 }, { 15, 12, 10, 13, 11, 14 },
	  { { 700000, 40000, 30000, 180000, 50000, 900000 },
	    { 720000, 42000, 28000, 160000, 50000, 10 },
	    { 690000, 45000, 35000, 190000, 40000, 0 },
	    { 710000, 41000, 29000, 170000, 50000, 5 } } },
	{ "ffab", "fast-flush-at-break", 6, { 8, 5, 3, 3, 3, 4 }, { 9, 6, 4, 4, 4, 5 },
	  { { 800000, 40000, 30000, 90000, 40000, 1000 },
	    { 810000, 42000, 28000, 80000, 40000, 0 },
	    { 790000, 45000, 35000, 95000, 35000, 0 },
	    { 805000, 41000, 29000, 85000, 40000, 0 } } },
	{ "v7", "fast-v7", 5, { 8, 5, 3, 3, 4 }, { 1, 1, 1, 1, 1 },
	  { { 880000, 40000, 30000, 20000, 30000, 0 },
	    { 885000, 42000, 28000, 15000, 30000, 0 },
	    { 870000, 45000, 35000, 25000, 25000, 0 },
	    { 882000, 41000, 29000, 18000, 30000, 0 } } },
};
#define NRUNS3 ((int)(sizeof(runs3) / sizeof(runs3[0])))

struct fixture {
	char root[64];		/* mkdtemp */
	char tmp[128];		/* TMPDIR for plot_runs, must be empty afterwards */
	char dir[NRUNS3][128];
	const char *dirs[NRUNS3];
	char *old_tmpdir;
};

static void write_run(const char *dir, const struct run_def *r)
{
	char path[256];
	FILE *f;

	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/stats.json", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "{\n \"eptsim_version\": \"0.1.0\",\n \"complete\": true,\n \"seed\": 1,\n"
		   " \"config_file\": \"configs/pci-rom-kbuild.ini\",\n"
		   " \"config\": {\"guest\": {\"vcpus\": %d, \"mem\": 1073741824},"
		   " \"mmu\": {\"zap_all\": \"%s\"}, \"host\": {\"preempt\": \"voluntary\"}},\n"
		   " \"stats\": {\n", NVCPU, r->zap_all);
	if (r->nzap >= 0) {
		fprintf(f, "  \"zap.count\": %d,\n", r->nzap);
		for (int a = 0; a < 2; a++) {
			const long *v = a ? r->fl : r->lb;

			fprintf(f, "  \"%s\": [", a ? "zap.flushes" : "zap.lock_breaks");
			for (int i = 0; i < r->nzap; i++)
				fprintf(f, "%s%ld", i ? ", " : "", v[i]);
			fprintf(f, "],\n");
		}
		fprintf(f, "  \"zap.pages\": [120, 80],\n");
	}
	for (int v = 0; v < NVCPU; v++) {
		long total = 0;

		for (int c = 0; c < NCYC; c++) {
			fprintf(f, "  \"vcpu.%d.cycles.%s\": %ld,\n", v, cyc_name[c], r->cyc[v][c]);
			total += r->cyc[v][c];
		}
		fprintf(f, "  \"vcpu.%d.cycles.total\": %ld,\n", v, total);
	}
	fprintf(f, "  \"mmu_lock.wait_cycles\": {\"count\": 10, \"sum\": 100, \"min\": 1,"
		   " \"max\": 30, \"mean\": 10.0, \"p50\": 8, \"p90\": 20, \"p99\": 30,"
		   " \"p999\": 30}\n }\n}\n");
	assert_int_equal(fclose(f), 0);
}

/* Non-guest share of a run, idle excluded, as the figure prints it. */
static void nonguest_pct(const struct run_def *r, char *buf, size_t len)
{
	double sum = 0, guest = 0;

	for (int v = 0; v < NVCPU; v++) {
		for (int c = C_GUEST; c <= C_REQ; c++)
			sum += r->cyc[v][c];
		guest += r->cyc[v][C_GUEST];
	}
	snprintf(buf, len, "%.1f%%", 100.0 * (sum - guest) / sum);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	const char *t = getenv("TMPDIR");
	char root[sizeof(fx->root)] = "/tmp/test_plot-XXXXXX";

	if (!fx)
		return -1;
	if (!mkdtemp(root)) {
		free(fx);
		return -1;
	}
	memcpy(fx->root, root, sizeof(root));
	snprintf(fx->tmp, sizeof(fx->tmp), "%s/tmp", root);
	if (mkdir(fx->tmp, 0700)) {
		rmdir(root);
		free(fx);
		return -1;
	}
	for (int i = 0; i < NRUNS3; i++) {
		snprintf(fx->dir[i], sizeof(fx->dir[i]), "%s/%s", root, runs3[i].name);
		write_run(fx->dir[i], &runs3[i]);
		fx->dirs[i] = fx->dir[i];
	}
	fx->old_tmpdir = t ? strdup(t) : NULL;
	setenv("TMPDIR", fx->tmp, 1);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	if (fx->old_tmpdir)
		setenv("TMPDIR", fx->old_tmpdir, 1);
	else
		unsetenv("TMPDIR");
	free(fx->old_tmpdir);
	nftw(fx->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

/* plot_runs() must clean up its own temporary directory, and write nothing next to out
 * but out itself. */
static void assert_clean(const struct fixture *fx, int outputs)
{
	assert_int_equal(count_entries(fx->tmp), 0);
	/* root holds the run folders, tmp/, and the outputs */
	assert_int_equal(count_entries(fx->root), NRUNS3 + 1 + outputs);
}

static void test_png(void **state)
{
	struct fixture *fx = *state;
	static const unsigned char sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
	char out[192], err[512] = "x";
	size_t len = 0;
	char *img;

	snprintf(out, sizeof(out), "%s/cmp.png", fx->root);
	assert_int_equal(plot_runs(fx->dirs, NRUNS3, out, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	img = tu_slurp(out, &len);
	assert_non_null(img);
	assert_true(len > 10 * 1024);
	assert_memory_equal(img, sig, sizeof(sig));
	/* IHDR: 1600 x 560 */
	assert_int_equal(((unsigned char)img[16] << 24 | (unsigned char)img[17] << 16 |
			  (unsigned char)img[18] << 8 | (unsigned char)img[19]), 1600);
	assert_int_equal(((unsigned char)img[20] << 24 | (unsigned char)img[21] << 16 |
			  (unsigned char)img[22] << 8 | (unsigned char)img[23]), 560);
	free(img);
	assert_clean(fx, 1);
	unlink(out);
}

static void test_svg(void **state)
{
	struct fixture *fx = *state;
	char out[192], err[512], pct[32];
	size_t len = 0;
	char *svg;

	snprintf(out, sizeof(out), "%s/cmp.svg", fx->root);
	assert_int_equal(plot_runs(fx->dirs, NRUNS3, out, err, sizeof(err)), 0);
	svg = tu_slurp(out, &len);
	assert_non_null(svg);
	assert_non_null(strstr(svg, "<svg"));
	assert_non_null(strstr(svg, "eptsim: zap-all variants — pci-rom-kbuild.ini"));
	assert_non_null(strstr(svg, "Lock-breaks per zap"));
	assert_non_null(strstr(svg, "Remote TLB flushes per zap"));
	assert_non_null(strstr(svg, "vCPU time breakdown"));
	assert_non_null(strstr(svg, "% of vCPU time"));
	assert_non_null(strstr(svg, "lock_wait"));
	for (int i = 0; i < NRUNS3; i++) {
		char needle[64];

		/* a run label is a key entry (twice) and an x tic label; never " (folder)" */
		snprintf(needle, sizeof(needle), ">%s<", runs3[i].zap_all);
		assert_non_null(strstr(svg, needle));
		snprintf(needle, sizeof(needle), "(%s)", runs3[i].name);
		assert_null(strstr(svg, needle));
		/* the non-guest share: summed over the vCPUs, idle excluded */
		nonguest_pct(&runs3[i], pct, sizeof(pct));
		assert_non_null(strstr(svg, pct));
	}
	assert_null(strstr(svg, "no zap-all runs"));
	free(svg);
	assert_clean(fx, 1);
	unlink(out);
}

/* Two runs with the same label and no zap arrays at all: labels get the folder name,
 * both per-zap panels say so instead of failing. */
static void test_dup_labels_no_zaps(void **state)
{
	struct fixture *fx = *state;
	struct run_def r = runs3[2];
	char a[192], b[192], out[192], err[512];
	const char *dirs[2] = { a, b };
	size_t len = 0;
	char *svg, *p;
	int n = 0;

	r.nzap = -1;
	snprintf(a, sizeof(a), "%s/runA/", fx->root);	/* trailing slash on purpose */
	snprintf(b, sizeof(b), "%s/runB", fx->root);
	write_run(a, &r);
	write_run(b, &r);
	snprintf(out, sizeof(out), "%s/dup.svg", fx->root);
	assert_int_equal(plot_runs(dirs, 2, out, err, sizeof(err)), 0);
	svg = tu_slurp(out, &len);
	assert_non_null(svg);
	assert_non_null(strstr(svg, "fast-v7 (runA)"));
	assert_non_null(strstr(svg, "fast-v7 (runB)"));
	for (p = svg; (p = strstr(p, "no zap-all runs")); p++)
		n++;
	assert_int_equal(n, 2);
	free(svg);
	assert_int_equal(count_entries(fx->tmp), 0);
	unlink(out);
	nftw(a, rm_one, 4, FTW_DEPTH | FTW_PHYS);
	nftw(b, rm_one, 4, FTW_DEPTH | FTW_PHYS);
}

static void test_missing_dir(void **state)
{
	struct fixture *fx = *state;
	char nope[192], path[256], out[192], err[512] = "";
	const char *dirs[2] = { fx->dir[0], nope };

	snprintf(nope, sizeof(nope), "%s/nope", fx->root);
	snprintf(path, sizeof(path), "%s/stats.json", nope);
	snprintf(out, sizeof(out), "%s/x.png", fx->root);
	assert_int_equal(plot_runs(dirs, 2, out, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, path));
	assert_null(strchr(err, '\n'));
	assert_int_equal(access(out, F_OK), -1);
	assert_clean(fx, 0);
}

static void test_bad_json(void **state)
{
	struct fixture *fx = *state;
	char bad[192], path[256], out[192], err[512] = "";
	const char *dirs[2] = { bad, fx->dir[1] };

	snprintf(bad, sizeof(bad), "%s/bad", fx->root);
	snprintf(path, sizeof(path), "%s/stats.json", bad);
	assert_int_equal(mkdir(bad, 0755), 0);
	tu_write_text(path, "{\n \"stats\": {\n  \"zap.count\": 3,,\n }\n}\n");
	snprintf(out, sizeof(out), "%s/x.png", fx->root);
	assert_int_equal(plot_runs(dirs, 2, out, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "line 3"));
	assert_null(strchr(err, '\n'));
	assert_int_equal(access(out, F_OK), -1);

	/* valid JSON, but no "stats" object */
	tu_write_text(path, "{\"config\": {}}\n");
	assert_int_equal(plot_runs(dirs, 2, out, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "stats"));

	/* a zap array that is not an array */
	tu_write_text(path, "{\"stats\": {\"zap.lock_breaks\": 3}}\n");
	assert_int_equal(plot_runs(dirs, 2, out, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "zap.lock_breaks"));

	nftw(bad, rm_one, 4, FTW_DEPTH | FTW_PHYS);
	assert_clean(fx, 0);
}

static void test_bad_extension(void **state)
{
	struct fixture *fx = *state;
	static const char *const outs[] = { "x.pdf", "png", "x.png.txt", ".png", "" };
	char out[192], err[512];

	for (size_t i = 0; i < sizeof(outs) / sizeof(outs[0]); i++) {
		snprintf(out, sizeof(out), "%s/%s", fx->root, outs[i]);
		if (!outs[i][0] || outs[i][0] == '.')
			snprintf(out, sizeof(out), "%s", outs[i]);
		err[0] = '\0';
		assert_int_equal(plot_runs(fx->dirs, NRUNS3, out, err, sizeof(err)), -EINVAL);
		assert_string_equal(err, "output must end in .png or .svg");
	}
	assert_int_equal(plot_runs(fx->dirs, NRUNS3, NULL, err, sizeof(err)), -EINVAL);
	assert_int_equal(plot_runs(fx->dirs, 0, "x.png", err, sizeof(err)), -EINVAL);
	/* a tiny err buffer is truncated, not overrun (ASan watches) */
	assert_int_equal(plot_runs(fx->dirs, NRUNS3, "x.pdf", err, 4), -EINVAL);
	assert_string_equal(err, "out");
	assert_clean(fx, 0);
}

static void test_no_gnuplot(void **state)
{
	struct fixture *fx = *state;
	char *path = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
	char out[192], err[512] = "";
	int ret;

	snprintf(out, sizeof(out), "%s/x.png", fx->root);
	setenv("PATH", fx->tmp, 1);	/* an empty directory */
	ret = plot_runs(fx->dirs, NRUNS3, out, err, sizeof(err));
	if (path)
		setenv("PATH", path, 1);
	else
		unsetenv("PATH");
	free(path);
	assert_int_equal(ret, -ENOENT);
	assert_string_equal(err, "gnuplot not found: install gnuplot-nox (make deps)");
	assert_int_equal(access(out, F_OK), -1);
	assert_clean(fx, 0);
}

/* An unwritable destination is reported with its path, and gnuplot's work is thrown
 * away. */
static void test_bad_destination(void **state)
{
	struct fixture *fx = *state;
	char out[192], err[512] = "";

	snprintf(out, sizeof(out), "%s/no/such/dir/x.svg", fx->root);
	assert_int_equal(plot_runs(fx->dirs, NRUNS3, out, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, out));
	assert_clean(fx, 0);
}

/* ---------------------------------------------------------------- plot_mmio */

#define MHZ 2600.0
#define NMMIO 6

struct mmio_def {
	const char *name;	/* folder under root/mmio */
	const char *variant;	/* config.mmu.mmio_invalidate */
	const char *mem;	/* config.guest.mem, bytes */
	long pages;		/* ept.shadow_pages_end */
	int nhold;
	long hold[4];		/* mmio.invalidate_hold_cycles */
	long slow;
	long lock_wait;		/* vcpu.N.cycles.lock_wait, each vCPU */
};

/* 2 variants x 3 guest sizes, listed out of order on purpose: zap-walk holds mmu_lock for a
 * walk of every shadow page, generation never takes it (one run with no invalidation at
 * all: an empty array) but pays slow-path refaults. */
static const struct mmio_def mmio6[NMMIO] = {
	{ "gen-3", "generation", "3221225472", 1598, 3, { 0, 0, 0 }, 5900, 31000000 },
	{ "zw-0.75", "zap-walk", "805306368", 400, 3, { 400000, 390000, 410000 }, 0, 26000000 },
	{ "gen-0.75", "generation", "805306368", 401, 0, { 0 }, 6000, 25000000 },
	{ "zw-3", "zap-walk", "3221225472", 1600, 2, { 1600000, 1610000 }, 0, 38000000 },
	{ "gen-1.5", "generation", "1610612736", 803, 2, { 0, 0 }, 6100, 27000000 },
	{ "zw-1.5", "zap-walk", "1610612736", 800, 4, { 800000, 800000, 790000, 810000 }, 0,
	  30000000 },
};

static void write_mmio_run(const char *dir, const struct mmio_def *r)
{
	char path[256];
	FILE *f;

	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/stats.json", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "{\n \"eptsim_version\": \"0.1.0\",\n \"complete\": true,\n"
		   " \"config_file\": \"configs/mmio-churn.ini\",\n"
		   " \"config\": {\"guest\": {\"vcpus\": %d, \"mem\": %s},"
		   " \"cpu\": {\"freq_mhz\": %.1f, \"cpi\": 0.8},"
		   " \"mmu\": {\"zap_all\": \"fast-v7\", \"mmio_invalidate\": \"%s\"}},\n"
		   " \"stats\": {\n  \"ept.shadow_pages_end\": %ld,\n", NVCPU, r->mem, MHZ,
		r->variant, r->pages);
	fprintf(f, "  \"mmio.exits\": 20000,\n  \"mmio.fast\": %ld,\n  \"mmio.slow\": %ld,\n"
		   "  \"mmio.invalidations\": %d,\n  \"mmio.pages_zapped\": %ld,\n",
		20000 - r->slow, r->slow, r->nhold, r->slow ? 0 : r->pages * r->nhold);
	for (int a = 0; a < 2; a++) {
		fprintf(f, "  \"%s\": [", a ? "mmio.invalidate_hold_cycles" : "mmio.invalidate_cycles");
		for (int i = 0; i < r->nhold; i++)
			fprintf(f, "%s%ld", i ? ", " : "", r->hold[i] + (a ? 0 : 100));
		fprintf(f, "],\n");
	}
	for (int v = 0; v < NVCPU; v++)
		fprintf(f, "  \"vcpu.%d.cycles.lock_wait\": %ld,\n"
			   "  \"vcpu.%d.cycles.request\": 5000,\n", v, r->lock_wait + v * 1000, v);
	fprintf(f, "  \"zap.count\": 0\n }\n}\n");
	assert_int_equal(fclose(f), 0);
}

struct mmio_fixture {
	char dir[NMMIO][192];
	const char *dirs[NMMIO];
	char sub[160];		/* root/mmio */
};

static void mmio_setup(const struct fixture *fx, struct mmio_fixture *m,
		       const struct mmio_def *defs)
{
	snprintf(m->sub, sizeof(m->sub), "%s/mmio", fx->root);
	assert_int_equal(mkdir(m->sub, 0755), 0);
	for (int i = 0; i < NMMIO; i++) {
		snprintf(m->dir[i], sizeof(m->dir[i]), "%s/%s", m->sub, defs[i].name);
		write_mmio_run(m->dir[i], &defs[i]);
		m->dirs[i] = m->dir[i];
	}
}

/* plot_mmio() leaves nothing behind in TMPDIR, and only out next to out. */
static void mmio_assert_clean(const struct fixture *fx, const struct mmio_fixture *m,
			      int outputs)
{
	assert_int_equal(count_entries(fx->tmp), 0);
	assert_int_equal(count_entries(m->sub), NMMIO + outputs);
	assert_int_equal(count_entries(fx->root), NRUNS3 + 1 + 1);
}

static int count_str(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void test_mmio_png(void **state)
{
	struct fixture *fx = *state;
	static const unsigned char sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
	struct mmio_fixture m;
	char out[224], err[512] = "x";
	const char *keep = getenv("PLOT_MMIO_KEEP");	/* copy the image there, to look at */
	size_t len = 0;
	char *img;

	mmio_setup(fx, &m, mmio6);
	snprintf(out, sizeof(out), "%s/mmio.png", m.sub);
	assert_int_equal(plot_mmio(m.dirs, NMMIO, out, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	img = tu_slurp(out, &len);
	assert_non_null(img);
	assert_true(len > 10 * 1024);
	assert_memory_equal(img, sig, sizeof(sig));
	assert_int_equal(((unsigned char)img[16] << 24 | (unsigned char)img[17] << 16 |
			  (unsigned char)img[18] << 8 | (unsigned char)img[19]), 1600);
	assert_int_equal(((unsigned char)img[20] << 24 | (unsigned char)img[21] << 16 |
			  (unsigned char)img[22] << 8 | (unsigned char)img[23]), 560);
	if (keep) {
		FILE *f = fopen(keep, "wb");

		if (f) {
			fwrite(img, 1, len, f);
			fclose(f);
		}
	}
	free(img);
	mmio_assert_clean(fx, &m, 1);
}

static void test_mmio_svg(void **state)
{
	struct fixture *fx = *state;
	struct mmio_fixture m;
	char out[224], err[512];
	size_t len = 0;
	char *svg;

	mmio_setup(fx, &m, mmio6);
	snprintf(out, sizeof(out), "%s/mmio.svg", m.sub);
	assert_int_equal(plot_mmio(m.dirs, NMMIO, out, err, sizeof(err)), 0);
	svg = tu_slurp(out, &len);
	assert_non_null(svg);
	assert_non_null(strstr(svg, "<svg"));
	assert_non_null(strstr(svg, "eptsim: MMIO spte invalidation — zap-walk vs generation"));
	assert_non_null(strstr(svg, ">mmu_lock hold per invalidation<"));
	assert_non_null(strstr(svg, ">vCPU stall behind mmu_lock<"));
	assert_non_null(strstr(svg, ">slow-path MMIO refaults<"));
	assert_non_null(strstr(svg, "shadow pages (guest size in GiB annotated at each point)"));
	assert_non_null(strstr(svg, "(µs)"));
	assert_non_null(strstr(svg, "(ms)"));
	/* a key entry per variant and panel; generation's zero hold is explained in panel 1 */
	assert_int_equal(count_str(svg, ">zap-walk<"), 3);
	assert_int_equal(count_str(svg, ">generation<"), 2);
	assert_int_equal(count_str(svg, ">generation (0 µs: no mmu_lock hold)<"), 1);
	/* every point carries its guest size: 2 variants x 3 panels */
	assert_int_equal(count_str(svg, ">0.75<"), 6);
	assert_int_equal(count_str(svg, ">1.5<"), 6);
	assert_int_equal(count_str(svg, ">3<"), 6);
	/* y axes, in their units: hold up to 1605000 cycles = 617 µs (tics by 200), stall up
	 * to 4 x 38e6 cycles = 58 ms (tics by 20), slow refaults up to 6100 (tics by 2000) */
	assert_non_null(strstr(svg, ">600<"));
	assert_non_null(strstr(svg, ">60<"));
	assert_non_null(strstr(svg, ">6000<"));
	free(svg);
	mmio_assert_clean(fx, &m, 1);
}

/* The order of the folders does not matter: runs are grouped and sorted. */
static void test_mmio_order(void **state)
{
	struct fixture *fx = *state;
	struct mmio_fixture m;
	const char *rev[NMMIO];
	char a[224], b[224], err[512];
	size_t la = 0, lb = 0;
	char *sa, *sb;

	mmio_setup(fx, &m, mmio6);
	for (int i = 0; i < NMMIO; i++)
		rev[i] = m.dirs[NMMIO - 1 - i];
	snprintf(a, sizeof(a), "%s/a.svg", m.sub);
	snprintf(b, sizeof(b), "%s/b.svg", m.sub);
	assert_int_equal(plot_mmio(m.dirs, NMMIO, a, err, sizeof(err)), 0);
	assert_int_equal(plot_mmio(rev, NMMIO, b, err, sizeof(err)), 0);
	sa = tu_slurp(a, &la);
	sb = tu_slurp(b, &lb);
	assert_non_null(sa);
	assert_non_null(sb);
	assert_int_equal(la, lb);
	assert_memory_equal(sa, sb, la);
	free(sa);
	free(sb);
	mmio_assert_clean(fx, &m, 2);
}

/* generation holding mmu_lock a little (zap-all at generation wraps): values over four
 * decades, all positive, go on a log axis, and no zero note. */
static void test_mmio_log(void **state)
{
	struct fixture *fx = *state;
	struct mmio_def defs[NMMIO];
	struct mmio_fixture m;
	char out[224], err[512];
	size_t len = 0;
	char *svg;

	memcpy(defs, mmio6, sizeof(defs));
	for (int i = 0; i < NMMIO; i++)
		if (!strcmp(defs[i].variant, "generation")) {
			defs[i].nhold = 2;
			defs[i].hold[0] = 100;
			defs[i].hold[1] = 300;
		}
	mmio_setup(fx, &m, defs);
	snprintf(out, sizeof(out), "%s/log.svg", m.sub);
	assert_int_equal(plot_mmio(m.dirs, NMMIO, out, err, sizeof(err)), 0);
	svg = tu_slurp(out, &len);
	assert_non_null(svg);
	assert_int_equal(count_str(svg, ">generation<"), 3);
	assert_null(strstr(svg, "no mmu_lock hold"));
	/* decade tics from 0.1 us to 1000 us */
	assert_non_null(strstr(svg, ">0.1<"));
	assert_non_null(strstr(svg, ">1000<"));
	free(svg);
	mmio_assert_clean(fx, &m, 1);
}

static void test_mmio_errors(void **state)
{
	struct fixture *fx = *state;
	struct mmio_fixture m;
	char out[224], err[512], expect[512], path[256], nope[224];
	const char *dirs[NMMIO + 1];
	int ret;

	mmio_setup(fx, &m, mmio6);
	snprintf(out, sizeof(out), "%s/x.png", m.sub);
	memcpy(dirs, m.dirs, sizeof(m.dirs));

	/* a zap-all run folder of an older eptsim: no MMIO stats */
	dirs[NMMIO] = fx->dir[1];
	ret = plot_mmio(dirs, NMMIO + 1, out, err, sizeof(err));
	assert_int_equal(ret, -EINVAL);
	snprintf(expect, sizeof(expect), "%s: no MMIO stats (run with eptsim >= this version)",
		 fx->dir[1]);
	assert_string_equal(err, expect);

	/* missing folder, as plot_runs */
	snprintf(nope, sizeof(nope), "%s/nope", m.sub);
	dirs[NMMIO] = nope;
	assert_int_equal(plot_mmio(dirs, NMMIO + 1, out, err, sizeof(err)), -ENOENT);
	snprintf(path, sizeof(path), "%s/stats.json", nope);
	assert_non_null(strstr(err, path));

	/* bad JSON */
	snprintf(path, sizeof(path), "%s/stats.json", m.dir[2]);
	tu_write_text(path, "{\n \"stats\": {\n  \"mmio.slow\": 3,,\n }\n}\n");
	assert_int_equal(plot_mmio(m.dirs, NMMIO, out, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "line 3"));
	assert_null(strchr(err, '\n'));

	/* MMIO stats but no variant in the config */
	tu_write_text(path, "{\"config\": {\"cpu\": {\"freq_mhz\": 2600}, \"guest\": {\"mem\": 1}},"
		   " \"stats\": {\"mmio.invalidations\": 0, \"mmio.slow\": 0,"
		   " \"mmio.invalidate_hold_cycles\": [], \"ept.shadow_pages_end\": 3}}\n");
	assert_int_equal(plot_mmio(m.dirs, NMMIO, out, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "mmio_invalidate"));

	/* a hold array that is not one */
	tu_write_text(path, "{\"config\": {\"cpu\": {\"freq_mhz\": 2600}, \"guest\": {\"mem\": 1},"
		   " \"mmu\": {\"mmio_invalidate\": \"generation\"}},"
		   " \"stats\": {\"mmio.invalidations\": 0, \"mmio.slow\": 0,"
		   " \"mmio.invalidate_hold_cycles\": 7, \"ept.shadow_pages_end\": 3}}\n");
	assert_int_equal(plot_mmio(m.dirs, NMMIO, out, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "mmio.invalidate_hold_cycles"));

	/* arguments, as plot_runs */
	assert_int_equal(plot_mmio(m.dirs, NMMIO, "x.pdf", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "output must end in .png or .svg");
	assert_int_equal(plot_mmio(m.dirs, 0, out, err, sizeof(err)), -EINVAL);
	assert_int_equal(plot_mmio(NULL, 1, out, err, sizeof(err)), -EINVAL);

	assert_int_equal(access(out, F_OK), -1);
	mmio_assert_clean(fx, &m, 0);
}

/* ---------------------------------------------------------------- plot_collapse */

#define NCOLL 3
#define COLL_SAMPLE_US 500.0	/* one sample every 0.5 ms */
#define COLL_END_MS 60.0

/* A cancelled migration in 60 ms: dirty logging from 20 ms, four rounds 5 ms apart, so
 * before [0, 20], during [20, 40], after [40, 60]. */
struct coll_def {
	const char *name;	/* folder under root/collapse */
	const char *variant;	/* config.mmu.collapse */
};

static const struct coll_def coll3[NCOLL] = {
	{ "c-none", "none" }, { "c-lazy", "lazy-zap" }, { "c-inplace", "in-place" },
};

/* Large-page coverage at t: all large before, none during; after, none keeps 45%, in-place
 * rebuilds in 6 ms, lazy-zap waits 3 ms for refaults and then takes 5. */
static double coll_cov(const char *variant, double t)
{
	if (t < 20)
		return 1;
	if (t < 40)
		return 0;
	if (!strcmp(variant, "none"))
		return 0.45;
	if (!strcmp(variant, "in-place"))
		return t >= 46 ? 1 : (t - 40) / 6;
	return t < 43 ? 0 : t >= 48 ? 1 : (t - 43) / 5;
}

/* Records per 0.5 ms sample: 55000 (110 M/s) on large pages, a saw-tooth while logging,
 * 36000 on 4K pages, nothing while the collapse holds the vCPUs, then 60000 (120 M/s);
 * noise: +-3% jitter. */
static double coll_rec(const char *variant, double t, bool noise, long i)
{
	double v;

	if (t < 20)
		v = 55000;
	else if (t < 40)
		v = 10000 + 4000 * fmod(t - 20, 5);
	else if (!strcmp(variant, "none"))
		v = 36000;
	else
		v = coll_cov(variant, t) >= 1 ? 60000 : 0;
	return noise && v ? v * (i % 2 ? 1.03 : 0.97) : v;
}

static void write_coll_series(const char *dir, const char *name, const char *variant,
			      bool rec, bool noise, double step)
{
	char path[256];
	FILE *f;
	long i = 0;

	snprintf(path, sizeof(path), "%s/series/%s.dat", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "# t value\n");	/* as stats_write_series() writes it */
	for (double t = 0; t <= COLL_END_MS + 1e-9; t += step, i++)
		fprintf(f, "%.17g %.17g\n", t,
			rec ? coll_rec(variant, t, noise, i) : coll_cov(variant, t));
	assert_int_equal(fclose(f), 0);
}

/* A run folder: stats.json with the config plot_collapse() reads, and both series.  step:
 * sample period in ms (and config.output.sample_us to match). */
static void write_coll_run(const char *dir, const struct coll_def *r, bool noise, double step)
{
	char path[256];
	FILE *f;

	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/series", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/stats.json", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "{\n \"eptsim_version\": \"0.1.0\",\n \"complete\": true,\n"
		   " \"config_file\": \"configs/migration-cancel.ini\",\n"
		   " \"config\": {\"guest\": {\"vcpus\": %d, \"mem\": 1073741824},"
		   " \"mmu\": {\"zap_all\": \"fast-v7\", \"collapse\": \"%s\"},"
		   " \"output\": {\"series\": true, \"sample_us\": %.1f},"
		   " \"events\": {\"toggle_slot\": \"\", \"dirty_slot\": \"ram\","
		   " \"dirty_start_ms\": 20.0, \"dirty_round_ms\": 5.0, \"dirty_rounds\": 4}},\n"
		   " \"stats\": {\n  \"collapse.dropped\": 1000,\n  \"dirty_log.rounds\": 4\n }\n}\n",
		NVCPU, r->variant, step * 1000);
	assert_int_equal(fclose(f), 0);
	write_coll_series(dir, "series.ept.large_coverage", r->variant, false, noise, step);
	write_coll_series(dir, "series.vcpu.records", r->variant, true, noise, step);
	/* the other series of a real run, which the plot leaves alone */
	write_coll_series(dir, "series.ept.pages_4k", r->variant, true, false, step);
}

struct coll_fixture {
	char dir[NCOLL][192];
	const char *dirs[NCOLL];
	char sub[160];		/* root/collapse */
};

static void coll_setup(const struct fixture *fx, struct coll_fixture *c, bool noise,
		       double step)
{
	snprintf(c->sub, sizeof(c->sub), "%s/collapse", fx->root);
	assert_int_equal(mkdir(c->sub, 0755), 0);
	for (int i = 0; i < NCOLL; i++) {
		snprintf(c->dir[i], sizeof(c->dir[i]), "%s/%s", c->sub, coll3[i].name);
		write_coll_run(c->dir[i], &coll3[i], noise, step);
		c->dirs[i] = c->dir[i];
	}
}

/* plot_collapse() leaves nothing behind in TMPDIR, and only out next to out. */
static void coll_assert_clean(const struct fixture *fx, const struct coll_fixture *c,
			      int extra)
{
	assert_int_equal(count_entries(fx->tmp), 0);
	assert_int_equal(count_entries(c->sub), NCOLL + extra);
	assert_int_equal(count_entries(fx->root), NRUNS3 + 1 + 1);
}

static void test_collapse_png(void **state)
{
	struct fixture *fx = *state;
	static const unsigned char sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
	struct coll_fixture c;
	char out[224], err[512] = "x";
	const char *keep = getenv("PLOT_COLLAPSE_KEEP");	/* copy the image there */
	size_t len = 0;
	char *img;

	coll_setup(fx, &c, false, 0.5);
	snprintf(out, sizeof(out), "%s/collapse.png", c.sub);
	assert_int_equal(plot_collapse(c.dirs, NCOLL, out, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	img = tu_slurp(out, &len);
	assert_non_null(img);
	assert_true(len > 10 * 1024);
	assert_memory_equal(img, sig, sizeof(sig));
	/* IHDR: 1600 x 900 */
	assert_int_equal(((unsigned char)img[16] << 24 | (unsigned char)img[17] << 16 |
			  (unsigned char)img[18] << 8 | (unsigned char)img[19]), 1600);
	assert_int_equal(((unsigned char)img[20] << 24 | (unsigned char)img[21] << 16 |
			  (unsigned char)img[22] << 8 | (unsigned char)img[23]), 900);
	if (keep) {
		FILE *f = fopen(keep, "wb");

		if (f) {
			fwrite(img, 1, len, f);
			fclose(f);
		}
	}
	free(img);
	coll_assert_clean(fx, &c, 1);
}

static void test_collapse_svg(void **state)
{
	struct fixture *fx = *state;
	struct coll_fixture c;
	char out[224], err[512];
	size_t len = 0;
	char *svg;

	coll_setup(fx, &c, false, 0.5);
	snprintf(out, sizeof(out), "%s/collapse.svg", c.sub);
	assert_int_equal(plot_collapse(c.dirs, NCOLL, out, err, sizeof(err)), 0);
	svg = tu_slurp(out, &len);
	assert_non_null(svg);
	assert_non_null(strstr(svg, "<svg"));
	assert_non_null(strstr(svg, "eptsim: cancelled migration — collapse variants "
				    "(migration-cancel.ini)"));
	assert_non_null(strstr(svg, ">large-page coverage<"));
	assert_non_null(strstr(svg, ">vCPU throughput<"));
	assert_non_null(strstr(svg, ">time (ms)<"));
	assert_non_null(strstr(svg, "% of mapped guest memory"));
	/* 121 clean samples: drawn as they are, and the axis says nothing of a mean */
	assert_non_null(strstr(svg, ">M records/s<"));
	assert_null(strstr(svg, "sample mean"));
	/* one key entry per variant, no folder names */
	for (int i = 0; i < NCOLL; i++) {
		char needle[64];

		snprintf(needle, sizeof(needle), ">%s<", coll3[i].variant);
		assert_int_equal(count_str(svg, needle), 1);
		snprintf(needle, sizeof(needle), "(%s)", coll3[i].name);
		assert_null(strstr(svg, needle));
	}
	/* the band, its rounds and the three phases */
	assert_non_null(strstr(svg, ">dirty logging<"));
	assert_non_null(strstr(svg, ">GET_DIRTY_LOG round<"));
	assert_non_null(strstr(svg, ">before<"));
	assert_non_null(strstr(svg, ">during (dirty logging)<"));
	assert_non_null(strstr(svg, ">after<"));
	/* coverage in %: tics up to 100; throughput in M records/s: 60000 records per 500 us
	 * is 120, so tics by 50 up to 150 (the time axis stops at 60) */
	assert_non_null(strstr(svg, "> 100<"));
	assert_null(strstr(svg, "> 120<"));
	assert_non_null(strstr(svg, "> 150<"));
	assert_null(strstr(svg, "60000<"));
	free(svg);
	coll_assert_clean(fx, &c, 1);
}

/* The order of the folders does not matter: none, lazy-zap, in-place always. */
static void test_collapse_order(void **state)
{
	struct fixture *fx = *state;
	struct coll_fixture c;
	const char *rev[NCOLL];
	char a[224], b[224], err[512];
	size_t la = 0, lb = 0;
	char *sa, *sb;

	coll_setup(fx, &c, false, 0.5);
	for (int i = 0; i < NCOLL; i++)
		rev[i] = c.dirs[NCOLL - 1 - i];
	snprintf(a, sizeof(a), "%s/a.svg", c.sub);
	snprintf(b, sizeof(b), "%s/b.svg", c.sub);
	assert_int_equal(plot_collapse(c.dirs, NCOLL, a, err, sizeof(err)), 0);
	assert_int_equal(plot_collapse(rev, NCOLL, b, err, sizeof(err)), 0);
	sa = tu_slurp(a, &la);
	sb = tu_slurp(b, &lb);
	assert_non_null(sa);
	assert_non_null(sb);
	assert_int_equal(la, lb);
	assert_memory_equal(sa, sb, la);
	/* key order: none, lazy-zap, in-place */
	assert_true(strstr(sa, ">none<") < strstr(sa, ">lazy-zap<"));
	assert_true(strstr(sa, ">lazy-zap<") < strstr(sa, ">in-place<"));
	free(sa);
	free(sb);
	coll_assert_clean(fx, &c, 2);
}

/* 1201 samples jittering by 3%: the throughput is a running mean, and says so; two runs of
 * the same variant get their folder names. */
static void test_collapse_smooth_dup(void **state)
{
	struct fixture *fx = *state;
	struct coll_fixture c;
	char out[224], err[512], extra[224];
	const char *dirs[NCOLL + 1];
	size_t len = 0;
	char *svg;

	coll_setup(fx, &c, true, 0.05);
	snprintf(extra, sizeof(extra), "%s/c-inplace-2", c.sub);
	write_coll_run(extra, &coll3[2], true, 0.05);
	memcpy(dirs, c.dirs, sizeof(c.dirs));
	dirs[NCOLL] = extra;
	snprintf(out, sizeof(out), "%s/smooth.svg", c.sub);
	assert_int_equal(plot_collapse(dirs, NCOLL + 1, out, err, sizeof(err)), 0);
	svg = tu_slurp(out, &len);
	assert_non_null(svg);
	assert_non_null(strstr(svg, ">M records/s (10-sample mean)<"));
	assert_non_null(strstr(svg, ">none<"));
	assert_non_null(strstr(svg, ">in-place (c-inplace)<"));
	assert_non_null(strstr(svg, ">in-place (c-inplace-2)<"));
	assert_null(strstr(svg, ">in-place<"));
	free(svg);
	nftw(extra, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	coll_assert_clean(fx, &c, 1);
}

static void test_collapse_errors(void **state)
{
	struct fixture *fx = *state;
	struct coll_fixture c;
	char out[224], err[512], expect[512], path[256], saved[256], nope[224];
	const char *dirs[NCOLL + 1];

	coll_setup(fx, &c, false, 0.5);
	snprintf(out, sizeof(out), "%s/x.png", c.sub);
	memcpy(dirs, c.dirs, sizeof(c.dirs));

	/* no coverage series: a run without output.series */
	snprintf(path, sizeof(path), "%s/series/series.ept.large_coverage.dat", c.dir[1]);
	snprintf(saved, sizeof(saved), "%s/cov.saved", c.dir[1]);
	assert_int_equal(rename(path, saved), 0);
	assert_int_equal(plot_collapse(c.dirs, NCOLL, out, err, sizeof(err)), -EINVAL);
	snprintf(expect, sizeof(expect), "%s: no series/series.ept.large_coverage.dat "
		 "(run with output.series = true)", c.dir[1]);
	assert_string_equal(err, expect);
	assert_int_equal(rename(saved, path), 0);

	/* no throughput series */
	snprintf(path, sizeof(path), "%s/series/series.vcpu.records.dat", c.dir[2]);
	snprintf(saved, sizeof(saved), "%s/rec.saved", c.dir[2]);
	assert_int_equal(rename(path, saved), 0);
	assert_int_equal(plot_collapse(c.dirs, NCOLL, out, err, sizeof(err)), -EINVAL);
	snprintf(expect, sizeof(expect), "%s: no series/series.vcpu.records.dat "
		 "(run with output.series = true)", c.dir[2]);
	assert_string_equal(err, expect);
	assert_int_equal(rename(saved, path), 0);

	/* a series line that is not "t value" */
	snprintf(path, sizeof(path), "%s/series/series.vcpu.records.dat", c.dir[0]);
	tu_write_text(path, "# t value\n0 1\n0.5 x\n");
	assert_int_equal(plot_collapse(c.dirs, NCOLL, out, err, sizeof(err)), -EINVAL);
	snprintf(expect, sizeof(expect), "%s:3", path);
	assert_non_null(strstr(err, expect));
	/* only the header: no samples */
	tu_write_text(path, "# t value\n");
	assert_int_equal(plot_collapse(c.dirs, NCOLL, out, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "no samples"));
	write_coll_series(c.dir[0], "series.vcpu.records", "none", true, false, 0.5);

	/* missing folder, as plot_runs */
	snprintf(nope, sizeof(nope), "%s/nope", c.sub);
	dirs[NCOLL] = nope;
	assert_int_equal(plot_collapse(dirs, NCOLL + 1, out, err, sizeof(err)), -ENOENT);
	snprintf(path, sizeof(path), "%s/stats.json", nope);
	assert_non_null(strstr(err, path));

	/* bad JSON */
	snprintf(path, sizeof(path), "%s/stats.json", c.dir[2]);
	tu_write_text(path, "{\n \"stats\": {\n  \"collapse.dropped\": 3,,\n }\n}\n");
	assert_int_equal(plot_collapse(c.dirs, NCOLL, out, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "line 3"));
	assert_null(strchr(err, '\n'));

	/* no sample period: no throughput */
	tu_write_text(path, "{\"config\": {\"mmu\": {\"collapse\": \"in-place\"},"
		   " \"events\": {\"dirty_slot\": \"ram\", \"dirty_start_ms\": 20,"
		   " \"dirty_round_ms\": 5, \"dirty_rounds\": 4}}, \"stats\": {}}\n");
	assert_int_equal(plot_collapse(c.dirs, NCOLL, out, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "sample_us"));

	/* another schedule: no one band fits both */
	tu_write_text(path, "{\"config\": {\"mmu\": {\"collapse\": \"in-place\"},"
		   " \"output\": {\"sample_us\": 500},"
		   " \"events\": {\"dirty_slot\": \"ram\", \"dirty_start_ms\": 20,"
		   " \"dirty_round_ms\": 5, \"dirty_rounds\": 3}}, \"stats\": {}}\n");
	assert_int_equal(plot_collapse(c.dirs, NCOLL, out, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, c.dir[2]));
	assert_non_null(strstr(err, "schedule"));

	/* arguments, as plot_runs */
	assert_int_equal(plot_collapse(c.dirs, NCOLL, "x.pdf", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "output must end in .png or .svg");
	assert_int_equal(plot_collapse(c.dirs, 0, out, err, sizeof(err)), -EINVAL);
	assert_int_equal(plot_collapse(NULL, 1, out, err, sizeof(err)), -EINVAL);

	assert_int_equal(access(out, F_OK), -1);
	coll_assert_clean(fx, &c, 0);
}

/* A run without dirty logging (dirty_slot empty) plots too: no band, no phases. */
static void test_collapse_no_logging(void **state)
{
	struct fixture *fx = *state;
	struct coll_fixture c;
	char out[224], err[512], path[256];
	size_t len = 0;
	char *svg;

	coll_setup(fx, &c, false, 0.5);
	for (int i = 0; i < NCOLL; i++) {
		snprintf(path, sizeof(path), "%s/stats.json", c.dir[i]);
		tu_write_text(path, i ? "{\"config\": {\"mmu\": {\"collapse\": \"in-place\"},"
				     " \"output\": {\"sample_us\": 500},"
				     " \"events\": {\"dirty_slot\": \"\", \"dirty_start_ms\": 20,"
				     " \"dirty_round_ms\": 5, \"dirty_rounds\": 4}}, \"stats\": {}}\n"
				   : "{\"config\": {\"output\": {\"sample_us\": 500}},"
				     " \"stats\": {}}\n");
	}
	snprintf(out, sizeof(out), "%s/plain.svg", c.sub);
	assert_int_equal(plot_collapse(c.dirs, NCOLL, out, err, sizeof(err)), 0);
	svg = tu_slurp(out, &len);
	assert_non_null(svg);
	/* no collapse variant: the folder name; no config file: said so */
	assert_non_null(strstr(svg, ">c-none<"));
	assert_non_null(strstr(svg, "(unknown configuration)"));
	assert_null(strstr(svg, "dirty logging"));
	assert_null(strstr(svg, ">before<"));
	free(svg);
	coll_assert_clean(fx, &c, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_png, setup, teardown),
		cmocka_unit_test_setup_teardown(test_svg, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dup_labels_no_zaps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_extension, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_gnuplot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_destination, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mmio_png, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mmio_svg, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mmio_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mmio_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mmio_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_collapse_png, setup, teardown),
		cmocka_unit_test_setup_teardown(test_collapse_svg, setup, teardown),
		cmocka_unit_test_setup_teardown(test_collapse_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_collapse_smooth_dup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_collapse_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_collapse_no_logging, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
