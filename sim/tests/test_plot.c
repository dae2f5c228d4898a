// SPDX-License-Identifier: GPL-2.0
/* Tests for sim/plot: a real gnuplot run over hand-written result folders (PNG and SVG),
 * what ends up in the figure (labels, percentages, the empty-panel note), and the error
 * paths (missing folder, bad JSON, bad extension, no gnuplot). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim/plot.h"

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

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

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

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc(n + 1);
	if (buf && fread(buf, 1, n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (buf) {
		buf[n] = '\0';
		*len = n;
	}
	return buf;
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
	img = read_all(out, &len);
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
	svg = read_all(out, &len);
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
	svg = read_all(out, &len);
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
	write_file(path, "{\n \"stats\": {\n  \"zap.count\": 3,,\n }\n}\n");
	snprintf(out, sizeof(out), "%s/x.png", fx->root);
	assert_int_equal(plot_runs(dirs, 2, out, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "line 3"));
	assert_null(strchr(err, '\n'));
	assert_int_equal(access(out, F_OK), -1);

	/* valid JSON, but no "stats" object */
	write_file(path, "{\"config\": {}}\n");
	assert_int_equal(plot_runs(dirs, 2, out, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "stats"));

	/* a zap array that is not an array */
	write_file(path, "{\"stats\": {\"zap.lock_breaks\": 3}}\n");
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
