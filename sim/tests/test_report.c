// SPDX-License-Identifier: GPL-2.0
/* Tests for sim/report (`eptsim report`): a real 2 x 2 sweep of tiny runs (64 MiB, 1-2
 * vCPUs, 3 ms, a ROM slot toggled four times: two zap-alls; output.lock_timeline on) run by
 * the eptsim binary of this build, then its report.md checked against its summary.csv: every
 * run's row with the right numbers (counts as summary.csv has them, cycles in µs at the
 * run's clock), links to figures that exist and are PNGs, the timeline of the run with the
 * longest wait; --stats; a sweep with a missing run; the errors.  About two seconds. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sim/report.h"
#include "sim/tests/test_util.h"

#define MHZ 2600.0	/* the default cpu.freq_mhz */

struct fx {
	char dir[64];
	char eptsim[PATH_MAX];
	char out[128];		/* the sweep folder */
};

static const char base_ini[] =
	"[guest]\nvcpus = 2\nmem = 64M\nkernel_mem = 16M\nbacking = 4k\n"
	"[host]\npreempt = full\n[mmu]\nbatch_zap_pages = 2\n"
	"[workload]\nduration_ms = 3\n"
	"[memslot.rom]\nbase = 0xfebc0000\nsize = 256K\nreadonly = true\npresent = false\n"
	"[events]\ntoggle_slot = rom\ntoggle_start_ms = 0.5\ntoggle_period_ms = 0.5\n"
	"toggle_count = 4\n"
	"[output]\nseries = false\n";

static const char sweep_ini[] =
	"[sweep]\nbase = base.ini\nset = output.lock_timeline = true\n"
	"vary = mmu.zap_all: legacy, fast-v7\nvary = guest.vcpus: 1, 2\n";

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char self[PATH_MAX], path[256];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (!f || n <= 0)
		return -1;
	self[n] = '\0';
	for (int i = 0; i < 3; i++)	/* B/sim/tests/test_report -> B/eptsim */
		*strrchr(self, '/') = '\0';
	snprintf(f->eptsim, sizeof(f->eptsim), "%s/eptsim", self);
	snprintf(f->dir, sizeof(f->dir), "/tmp/eptsim-test-report-XXXXXX");
	if (access(f->eptsim, X_OK) || !mkdtemp(f->dir))
		return -1;
	snprintf(path, sizeof(path), "%s/base.ini", f->dir);
	tu_write_text(path, base_ini);
	snprintf(path, sizeof(path), "%s/s.ini", f->dir);
	tu_write_text(path, sweep_ini);
	snprintf(f->out, sizeof(f->out), "%s/sw", f->dir);
	if (sh("%s sweep %s/s.ini --out %s -j 1 > /dev/null 2> %s/sweep.err", f->eptsim, f->dir,
	       f->out, f->dir))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	int r = sh("rm -rf %s", f->dir);

	free(f);
	return r;
}

/* summary.csv as cells: no cell of it needs quoting. */
struct csv {
	char *text;
	char *cell[16][256];
	int ncols, nrows;	/* rows after the header */
};

static void csv_read(const char *path, struct csv *c)
{
	char *line, *save = NULL;
	int r = 0;

	memset(c, 0, sizeof(*c));
	c->text = tu_read_file(path);
	for (line = strtok_r(c->text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *p = line;
		int k = 0;

		assert_true(r < 16);
		assert_null(strchr(line, '"'));
		for (;;) {
			char *comma = strchr(p, ',');

			assert_true(k < 256);
			c->cell[r][k++] = p;
			if (!comma)
				break;
			*comma = '\0';
			p = comma + 1;
		}
		if (!r)
			c->ncols = k;
		assert_int_equal(k, c->ncols);
		r++;
	}
	c->nrows = r - 1;
}

static const char *csv_get(const struct csv *c, int row, const char *col)
{
	for (int k = 0; k < c->ncols; k++)
		if (!strcmp(c->cell[0][k], col))
			return c->cell[row + 1][k];
	fail_msg("summary.csv has no column %s", col);
	return NULL;
}

/* A count cell as the report writes it: whole numbers as summary.csv has them, others to
 * three significant digits. */
static const char *count_cell(const char *text, char *buf, size_t len)
{
	double v = strtod(text, NULL);

	if (v == floor(v))
		return text;
	snprintf(buf, len, "%.3g", v);
	return buf;
}

/* A time cell as the report writes it: cycles at MHZ in µs (ms), "%.1f" from 10 on. */
static void time_cell(const char *cycles, double div, char *buf, size_t len)
{
	double v = strtod(cycles, NULL) / MHZ / div;

	snprintf(buf, len, fabs(v) >= 10 ? "%.1f" : "%.3g", v);
}

static void test_report_table_and_figures(void **state)
{
	struct fx *f = *state;
	char path[512], row[512], a[64], b[64], lb[64], fl[64];
	struct csv c;
	char *md, *out, *p;
	int links = 0;
	double best = -1;
	int best_row = -1;

	assert_int_equal(sh("%s report %s > %s/out.txt", f->eptsim, f->out, f->dir), 0);
	snprintf(path, sizeof(path), "%s/out.txt", f->dir);
	out = tu_read_file(path);
	tu_assert_contains(out, "report.md: 4 of 4 runs, 8 figures in ");
	free(out);

	snprintf(path, sizeof(path), "%s/summary.csv", f->out);
	csv_read(path, &c);
	assert_int_equal(c.nrows, 4);
	snprintf(path, sizeof(path), "%s/report.md", f->out);
	md = tu_read_file(path);
	tu_assert_contains(md, "# eptsim sweep report: s\n");
	tu_assert_contains(md, "4 of 4 runs finished");
	tu_assert_contains(md, "| mmu.zap_all | guest.vcpus | lock-breaks per zap | remote flushes "
			    "per zap | max mmu_lock wait (µs) | p99 mmu_lock wait (µs) | EPT faults |\n"
			    "|---|---|---:|---:|---:|---:|---:|\n");
	/* no MMIO or collapse refaults in these runs: no such columns */
	assert_null(strstr(md, "refaults"));
	for (int r = 0; r < c.nrows; r++) {
		double w = strtod(csv_get(&c, r, "mmu_lock.wait_cycles.max"), NULL);

		time_cell(csv_get(&c, r, "mmu_lock.wait_cycles.max"), 1, a, sizeof(a));
		time_cell(csv_get(&c, r, "mmu_lock.wait_cycles.p99"), 1, b, sizeof(b));
		snprintf(row, sizeof(row), "\n| %s | %s | %s | %s | %s | %s | %s |\n",
			 csv_get(&c, r, "mmu.zap_all"), csv_get(&c, r, "guest.vcpus"),
			 count_cell(csv_get(&c, r, "zap.lock_breaks.mean"), lb, sizeof(lb)),
			 count_cell(csv_get(&c, r, "zap.flushes.mean"), fl, sizeof(fl)), a, b,
			 csv_get(&c, r, "ept.faults"));
		tu_assert_contains(md, row);
		if (w > best) {
			best = w;
			best_row = r;
		}
	}
	/* the numbers are not all alike: legacy never breaks the lock, fast-v7 does */
	assert_string_equal(csv_get(&c, 0, "zap.lock_breaks.mean"), "0");
	assert_true(strtod(csv_get(&c, 3, "zap.lock_breaks.mean"), NULL) > 0);
	assert_string_equal(csv_get(&c, 0, "zap.count"), "2");

	/* every figure linked exists and is a PNG; the expected ones are there */
	for (p = md; (p = strstr(p, "](plots/")); p++) {
		static const unsigned char sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
		char name[256], *img;
		struct stat st;
		size_t n = strcspn(p + 2, ")");

		snprintf(name, sizeof(name), "%.*s", (int)n, p + 2);
		snprintf(path, sizeof(path), "%s/%s", f->out, name);
		if (stat(path, &st) || st.st_size < 5000)
			fail_msg("%s: missing or tiny", path);
		img = tu_read_file(path);
		assert_memory_equal(img, sig, sizeof(sig));
		free(img);
		links++;
	}
	assert_int_equal(links, 8);
	tu_assert_contains(md, "](plots/zap.lock_breaks.mean-vs-vcpus.png)");
	tu_assert_contains(md, "](plots/mmu_lock.wait_cycles.max-vs-vcpus.png)");
	tu_assert_contains(md, "](plots/ept.faults-vs-vcpus.png)");
	tu_assert_contains(md, "](plots/stalls.png)");
	tu_assert_contains(md, "](plots/cdf-mmu_lock-wait.png)");
	tu_assert_contains(md, "](plots/timeline.png)");
	/* the CDF compares the variants at the last vCPU count; the timeline is the longest
	 * wait's run */
	tu_assert_contains(md, "At guest.vcpus = 2.");
	snprintf(row, sizeof(row), "## Who held mmu_lock when: zap_all=%s,vcpus=%s\n",
		 csv_get(&c, best_row, "mmu.zap_all"), csv_get(&c, best_row, "guest.vcpus"));
	tu_assert_contains(md, row);
	free(md);
	free(c.text);
}

static void test_report_stats_option(void **state)
{
	struct fx *f = *state;
	char path[512], row[256], a[64];
	struct csv c;
	char *md;

	assert_int_equal(sh("%s report %s --stats ept.faults,mmu_lock.hold_cycles.sum > /dev/null",
			    f->eptsim, f->out), 0);
	snprintf(path, sizeof(path), "%s/summary.csv", f->out);
	csv_read(path, &c);
	snprintf(path, sizeof(path), "%s/report.md", f->out);
	md = tu_read_file(path);
	tu_assert_contains(md, "| mmu.zap_all | guest.vcpus | ept.faults | mmu_lock.hold_cycles.sum (µs) |\n");
	for (int r = 0; r < c.nrows; r++) {
		time_cell(csv_get(&c, r, "mmu_lock.hold_cycles.sum"), 1, a, sizeof(a));
		snprintf(row, sizeof(row), "\n| %s | %s | %s | %s |\n", csv_get(&c, r, "mmu.zap_all"),
			 csv_get(&c, r, "guest.vcpus"), csv_get(&c, r, "ept.faults"), a);
		tu_assert_contains(md, row);
	}
	tu_assert_contains(md, "](plots/mmu_lock.hold_cycles.sum-vs-vcpus.png)");
	free(md);
	free(c.text);

	/* an unknown column is bad input, and names itself */
	assert_int_equal(sh("%s report %s --stats ept.nope 2> %s/err.txt", f->eptsim, f->out,
			    f->dir), 2);
	snprintf(path, sizeof(path), "%s/err.txt", f->dir);
	md = tu_read_file(path);
	tu_assert_contains(md, "--stats ept.nope");
	free(md);
}

/* The library call, then a sweep with a run missing: the page says so; a folder that is no
 * sweep is an error. */
static void test_report_missing_run(void **state)
{
	struct fx *f = *state;
	struct report_result res;
	char path[512], err[512];
	char *md;

	snprintf(path, sizeof(path), "%s/runs/zap_all=legacy,vcpus=2/stats.json", f->out);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(sh("%s sweep --collect %s > /dev/null 2>&1", f->eptsim, f->out), 1);
	assert_int_equal(report_write(f->out, NULL, &res, err, sizeof(err)), 0);
	assert_int_equal(res.rows, 3);
	assert_int_equal(res.runs, 4);
	assert_true(res.plots >= 7);
	md = tu_read_file(res.path);
	tu_assert_contains(md, "3 of 4 runs finished");
	tu_assert_contains(md, "1 run is not finished");
	assert_null(strstr(md, "| legacy | 2 |"));
	free(md);

	assert_int_equal(report_write(f->dir, NULL, &res, err, sizeof(err)), -ENOENT);
	tu_assert_contains(err, "sweep.json");
	assert_int_equal(sh("%s report %s/runs 2> /dev/null", f->eptsim, f->out), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_report_table_and_figures),
		cmocka_unit_test(test_report_stats_option),
		cmocka_unit_test(test_report_missing_run),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
