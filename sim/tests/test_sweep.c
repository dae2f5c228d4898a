/* Tests for sim/sweep: expansion (cross product, ranges, only/exclude), errors that name
 * file:line, the resume rule, the local back end on a tiny sweep, GNU parallel run for real
 * on the emitted jobs.txt and the Slurm script's tasks run by hand, each giving the same
 * summary.csv as the local back end, and the CLI's exit statuses.  The runs are tiny (64 MiB,
 * 1-2 vCPUs, 2 ms simulated): the whole file takes about a second. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "sim/config.h"
#include "sim/sweep.h"
#include "sim/tests/test_util.h"

struct fx {
	char dir[64];
	char eptsim[PATH_MAX];   /* the eptsim binary of this build (build/eptsim, build-san/eptsim) */
	struct sweep_error err;
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (!f || n <= 0)
		return -1;
	self[n] = '\0';
	/* B/sim/tests/test_sweep -> B/eptsim */
	for (int i = 0; i < 3; i++)
		*strrchr(self, '/') = '\0';
	snprintf(f->eptsim, sizeof(f->eptsim), "%s/eptsim", self);
	if (access(f->eptsim, X_OK))
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/eptsim-test-sweep-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	int r = system(cmd);
	free(f);
	return r;
}

static const char *path_in(struct fx *f, const char *name)
{
	static char buf[4][512];
	static int k;
	char *p = buf[k++ % 4];
	snprintf(p, sizeof(buf[0]), "%s/%s", f->dir, name);
	return p;
}

static const char *write_file(struct fx *f, const char *name, const char *text)
{
	const char *path = path_in(f, name);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	assert_true(fputs(text, fp) >= 0);
	assert_int_equal(fclose(fp), 0);
	return path;
}

static char *read_file(const char *path)
{
	FILE *fp = fopen(path, "r");
	if (!fp)
		fail_msg("%s: %s", path, strerror(errno));
	char *buf = NULL;
	size_t cap = 0, len = 0, n;
	do {
		cap += 65536;
		buf = realloc(buf, cap + 1);
		assert_non_null(buf);
		n = fread(buf + len, 1, cap - len, fp);
		len += n;
	} while (len == cap);
	buf[len] = '\0';
	fclose(fp);
	return buf;
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	int r = system(cmd);
	return WIFEXITED(r) ? WEXITSTATUS(r) : -1;
}

/* A trace in the fixture folder, made by `eptsim trace convert`: a good 1-vCPU one, or (bad)
 * one whose second record names vCPU 3: it opens and passes a sweep's validation, and a run
 * with guest.vcpus = 2 fails when it replays that record.  Returns its path. */
static const char *trace_in(struct fx *f, const char *name, bool bad)
{
	const char *txt = bad ? "# eptsim-trace 1 vcpus=4 addr=gva paging=4-level source=\"t\"\n0 R 0x1000 8 1\n"
				"3 R 0x2000 8 1\n"
			      : "# eptsim-trace 1 vcpus=1 addr=gva paging=4-level source=\"t\"\n0 R 0x1000 8 1\n";
	write_file(f, "trace.txt", txt);
	assert_int_equal(sh("%s trace convert %s/trace.txt '%s/%s'", f->eptsim, f->dir, f->dir, name), 0);
	return path_in(f, name);
}

/* A tiny scenario: a run takes a few tens of milliseconds. */
static const char tiny_base[] =
	"[guest]\nvcpus = 2\nmem = 64M\nkernel_mem = 16M\n"
	"[workload]\nduration_ms = 2\n"
	"[output]\nseries = false\n";

static struct sweep *load_ok(struct fx *f, const char *text)
{
	write_file(f, "base.ini", tiny_base);
	struct sweep *sw = NULL;
	int r = sweep_load(write_file(f, "s.ini", text), &sw, &f->err);
	if (r)
		fail_msg("sweep_load: %d: %s", r, f->err.msg);
	return sw;
}

/* sweep_load must fail with a message that contains want (usually "s.ini:LINE: ..."). */
static void load_bad(struct fx *f, const char *text, const char *want)
{
	write_file(f, "base.ini", tiny_base);
	struct sweep *sw = NULL;
	memset(&f->err, 0, sizeof(f->err));
	int r = sweep_load(write_file(f, "s.ini", text), &sw, &f->err);
	if (!r)
		fail_msg("sweep_load accepted:\n%s", text);
	assert_null(sw);
	tu_assert_contains(f->err.msg, want);
}

/* The values of one axis over all runs, joined with spaces. */
static void axis_values(const struct sweep *sw, size_t axis, char *out, size_t n)
{
	size_t k = 0;
	out[0] = '\0';
	for (size_t r = 0; r < sweep_nr_runs(sw); r++) {
		const char *v = sweep_run_value(sw, r, axis);
		if (r && !strcmp(v, sweep_run_value(sw, r - 1, axis)))
			continue;
		snprintf(out + strlen(out), n - strlen(out), "%s%s", k++ ? " " : "", v);
	}
}

/* ---- expansion ------------------------------------------------------------------------ */

static void test_cross_product(void **state)
{
	struct fx *f = *state;
	struct sweep *sw = load_ok(f,
		"; comment\n[sweep]\nbase = base.ini\nset = workload.duration_ms = 1\n"
		"vary = mmu.zap_all: legacy, fast-flush-at-break, fast-v7\n"
		"vary = guest.vcpus: 1, 2\n");
	assert_int_equal(sweep_nr_axes(sw), 2);
	assert_string_equal(sweep_axis_key(sw, 0), "mmu.zap_all");
	assert_int_equal(sweep_nr_runs(sw), 6);
	/* the first axis varies slowest */
	static const char *const names[] = {
		"zap_all=legacy,vcpus=1", "zap_all=legacy,vcpus=2", "zap_all=fast-flush-at-break,vcpus=1",
		"zap_all=fast-flush-at-break,vcpus=2", "zap_all=fast-v7,vcpus=1", "zap_all=fast-v7,vcpus=2",
	};
	for (size_t i = 0; i < 6; i++)
		assert_string_equal(sweep_run_name(sw, i), names[i]);
	assert_string_equal(sweep_run_value(sw, 3, 0), "fast-flush-at-break");
	assert_string_equal(sweep_run_value(sw, 3, 1), "2");

	/* every run's config is base + set + its values, and its hash is that config's */
	static struct scenario sc;
	assert_int_equal(sweep_run_scenario(sw, 3, &sc, &f->err), 0);
	assert_int_equal(sc.zap_all, ZAP_ALL_FAST_FLUSH_AT_BREAK);
	assert_int_equal(sc.vcpus, 2);
	assert_true(sc.duration_ms == 1);
	assert_int_equal(sc.mem, 64 << 20);
	char h[CONFIG_HASH_LEN + 1];
	config_hash(&sc, h);
	assert_string_equal(sweep_run_hash(sw, 3), h);
	for (size_t i = 0; i < 6; i++)
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(sweep_run_hash(sw, i), sweep_run_hash(sw, j));

	/* the command line of a run carries the same overrides, in the same order */
	char **argv = sweep_run_argv(sw, 3, "EPTSIM", "D", true);
	static const char *const want[] = { "EPTSIM", "run", NULL, "--set", "workload.duration_ms=1", "--set",
					    "mmu.zap_all=fast-flush-at-break", "--set", "guest.vcpus=2", "--out",
					    "D/runs/zap_all=fast-flush-at-break,vcpus=2", "--quiet", "--skip-done" };
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (want[i])
			assert_string_equal(argv[i], want[i]);
	assert_string_equal(argv[2], sweep_base(sw));
	assert_string_equal(argv[2], path_in(f, "base.ini"));   /* relative to the sweep file */
	assert_null(argv[13]);
	sweep_argv_free(argv);
	sweep_free(sw);

	/* no axis: one run */
	sw = load_ok(f, "[sweep]\nbase = base.ini\n");
	assert_int_equal(sweep_nr_runs(sw), 1);
	assert_string_equal(sweep_run_name(sw, 0), "base");
	sweep_free(sw);
}

static void test_ranges(void **state)
{
	struct fx *f = *state;
	char got[512];
	struct {
		const char *vary, *want;
	} cases[] = {
		{ "guest.vcpus: 1..32 *2", "1 2 4 8 16 32" },
		{ "guest.vcpus: 4..16 +4", "4 8 12 16" },
		{ "guest.vcpus: 1..4", "1 2 3 4" },
		{ "guest.vcpus: 3..20 *3", "3 9" },              /* the end is an upper bound */
		{ "guest.vcpus: 1, 3..5, 8", "1 3 4 5 8" },      /* ranges and values mix */
		{ "guest.vcpus: 6..6", "6" },
		{ "guest.thp_fraction: 0.1..0.5 +0.1", "0.1 0.2 0.3 0.4 0.5" },
		{ "guest.thp_fraction: 0.25..1 *2", "0.25 0.5 1" },
		{ "guest.mem: 64M..256M *2", "64M 128M 256M" },
		{ "guest.mem: 64m..192m +64", "64m 128m 192m" },
		{ "workload.trace: \"\", x.trace.gz", " x.trace.gz" },
	};
	/* a trace the runs can open (a sweep checks that they can): relative to the cwd */
	char cwd[PATH_MAX];
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(f->dir), 0);
	trace_in(f, "x.trace.gz", false);
	assert_int_equal(mkdir(path_in(f, "a"), 0700), 0);
	trace_in(f, "a/b c.gz", false);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[256];
		/* 1G: room for 32 vCPUs */
		snprintf(text, sizeof(text), "[sweep]\nbase = base.ini\n%svary = %s\n",
			 strstr(cases[i].vary, "guest.mem") ? "" : "set = guest.mem=1G\n", cases[i].vary);
		struct sweep *sw = load_ok(f, text);
		axis_values(sw, 0, got, sizeof(got));
		if (strcmp(got, cases[i].want))
			fail_msg("%s: got '%s', want '%s'", cases[i].vary, got, cases[i].want);
		sweep_free(sw);
	}
	/* vary += continues the axis above */
	struct sweep *sw = load_ok(f, "[sweep]\nbase = base.ini\nvary = guest.vcpus: 1, 2\nvary += 4..8 +4\n");
	axis_values(sw, 0, got, sizeof(got));
	assert_string_equal(got, "1 2 4 8");
	sweep_free(sw);
	/* folder names keep only safe characters */
	sw = load_ok(f, "[sweep]\nbase = base.ini\nvary = workload.trace: a/b c.gz\n");
	assert_string_equal(sweep_run_name(sw, 0), "trace=a_b_c.gz");
	sweep_free(sw);
	assert_int_equal(chdir(cwd), 0);
	/* two axes with the same last part are named by their whole key */
	sw = load_ok(f, "[sweep]\nbase = base.ini\nvary = guest.thp_fraction: 0.5\n"
		     "vary = memslot.rom.thp_fraction: 1\nset = memslot.rom.size=256K\nset = memslot.rom.base=0xfebc0000\n");
	assert_string_equal(sweep_run_name(sw, 0), "guest.thp_fraction=0.5,memslot.rom.thp_fraction=1");
	sweep_free(sw);
}

static void test_filters(void **state)
{
	struct fx *f = *state;
	const char *head = "[sweep]\nbase = base.ini\nvary = mmu.zap_all: legacy, fast-v7\nvary = guest.vcpus: 1, 2, 4\n";
	char text[512];

	/* exclude: drop runs matching every condition of a line; | lists values */
	snprintf(text, sizeof(text), "%sexclude = zap_all=legacy, vcpus=2|4\nexclude = guest.vcpus=1, mmu.zap_all=fast-v7\n",
		 head);
	struct sweep *sw = load_ok(f, text);
	assert_int_equal(sweep_nr_runs(sw), 3);
	assert_string_equal(sweep_run_name(sw, 0), "zap_all=legacy,vcpus=1");
	assert_string_equal(sweep_run_name(sw, 1), "zap_all=fast-v7,vcpus=2");
	assert_string_equal(sweep_run_name(sw, 2), "zap_all=fast-v7,vcpus=4");
	sweep_free(sw);

	/* only: keep runs matching at least one only line */
	snprintf(text, sizeof(text), "%sonly = vcpus=4\nonly = zap_all=legacy, vcpus=1\n", head);
	sw = load_ok(f, text);
	assert_int_equal(sweep_nr_runs(sw), 3);
	assert_string_equal(sweep_run_name(sw, 0), "zap_all=legacy,vcpus=1");
	assert_string_equal(sweep_run_name(sw, 1), "zap_all=legacy,vcpus=4");
	assert_string_equal(sweep_run_name(sw, 2), "zap_all=fast-v7,vcpus=4");
	sweep_free(sw);

	/* both: only first, then exclude */
	snprintf(text, sizeof(text), "%sonly = vcpus=4\nexclude = zap_all=legacy\n", head);
	sw = load_ok(f, text);
	assert_int_equal(sweep_nr_runs(sw), 1);
	assert_string_equal(sweep_run_name(sw, 0), "zap_all=fast-v7,vcpus=4");
	sweep_free(sw);
}

static void test_errors(void **state)
{
	struct fx *f = *state;
	/* keys of set and vary go through config_set: an unknown key names the line */
	load_bad(f, "[sweep]\nbase = base.ini\nvary = mmu.zap_all: legacy\nvary = guest.vcpu: 1, 2\n",
		 "s.ini:4: vary: guest.vcpu: unknown key");
	load_bad(f, "[sweep]\nbase = base.ini\n\nvary = nosuch.key: 1\n", "s.ini:4: vary: [nosuch]: unknown section");
	load_bad(f, "[sweep]\nbase = base.ini\nvary = mmu.zap_all: legacy, fast-v8\n", "s.ini:3: vary: mmu.zap_all: 'fast-v8' is not one of:");
	load_bad(f, "[sweep]\nbase = base.ini\nvary = guest.vcpus: 1, 2\nvary += 0\n", "s.ini:4: vary: guest.vcpus: 0 is out of range");
	load_bad(f, "[sweep]\nbase = base.ini\nset = guest.nope=1\n", "s.ini:3: set: guest.nope: unknown key");
	load_bad(f, "[sweep]\nbase = base.ini\nset = guest.vcpus\n", "s.ini:3: set: expected section.key=value");
	load_bad(f, "[sweep]\nbase = base.ini\nset = guest.vcpus=2\nset = guest.vcpus=3\n", "s.ini:4: set: guest.vcpus is set twice");
	load_bad(f, "[sweep]\nbase = base.ini\nset = guest.vcpus=2\nvary = guest.vcpus: 1, 2\n",
		 "s.ini:4: vary: guest.vcpus is also fixed by set on line 3");
	load_bad(f, "[sweep]\nbase = base.ini\nvary = guest.vcpus: 1\nvary = guest.vcpus: 2\n", "s.ini:4: vary: guest.vcpus is varied twice");
	load_bad(f, "[sweep]\nbase = base.ini\nvary = guest.vcpus: 1, 2, 1\n", "s.ini:3: vary guest.vcpus: 1 is listed twice");
	load_bad(f, "[sweep]\nbase = base.ini\nvary = guest.vcpus 1, 2\n", "s.ini:3: vary: expected section.key: value");
	load_bad(f, "[sweep]\nbase = base.ini\nvary = guest.vcpus: 1,,2\n", "s.ini:3: vary guest.vcpus: an empty value");
	/* ranges */
	load_bad(f, "[sweep]\nbase = base.ini\nvary = guest.vcpus: 8..2\n", "s.ini:3: vary guest.vcpus: range '8..2': the start is above the end");
	load_bad(f, "[sweep]\nbase = base.ini\nvary = guest.vcpus: 1..8 *1\n", "s.ini:3: vary guest.vcpus: range '1..8 *1': *F needs F > 1");
	load_bad(f, "[sweep]\nbase = base.ini\nvary = guest.vcpus: 1..8 /2\n", "s.ini:3: vary guest.vcpus: range '1..8 /2': expected A..B");
	load_bad(f, "[sweep]\nbase = base.ini\nvary = guest.mem: 64M..1G *2\n", "s.ini:3: vary guest.mem: range '64M..1G *2': both ends need the same unit");
	load_bad(f, "[sweep]\nbase = base.ini\nvary = guest.vcpus: 1..100000\n", "more than 10000 values");
	/* the file */
	load_bad(f, "[sweep]\nvary = guest.vcpus: 1\n", "s.ini: no base = CONFIG in [sweep]");
	load_bad(f, "[sweep]\nbase = base.ini\nbase = base.ini\n", "s.ini:3: base: given twice");
	load_bad(f, "[sweep]\nbase = nosuch.ini\n", "s.ini:2: base: ");
	load_bad(f, "[sweep]\nbase = base.ini\nrepeat = 3\n", "s.ini:3: repeat: unknown key");
	load_bad(f, "[sweep]\nbase = base.ini\n[guest]\nvcpus = 3\n", "s.ini:4: [guest]: a sweep file has one [sweep] section");
	load_bad(f, "base = base.ini\n", "s.ini:1: base: keys belong in a [sweep] section");
	load_bad(f, "[sweep]\nbase = base.ini\nthis is not ini\n", "s.ini:3: syntax error");
	load_bad(f, "[sweep]\nbase = base.ini\nset += guest.vcpus=1\n", "s.ini:3: set +=: only vary takes +=");
	/* filters */
	load_bad(f, "[sweep]\nbase = base.ini\nvary = guest.vcpus: 1, 2\nexclude = zap_all=legacy\n",
		 "s.ini:4: exclude: 'zap_all' is not a vary key of this sweep");
	load_bad(f, "[sweep]\nbase = base.ini\nvary = guest.vcpus: 1, 2\nonly = vcpus=3\n",
		 "s.ini:4: only: guest.vcpus=3: not one of the values of guest.vcpus (line 3)");
	load_bad(f, "[sweep]\nbase = base.ini\nvary = guest.vcpus: 1, 2\nonly = vcpus\n", "s.ini:4: only: 'vcpus': expected key=value");
	load_bad(f, "[sweep]\nbase = base.ini\nvary = guest.vcpus: 1, 2\nexclude = vcpus=1|2\n", "s.ini: the only/exclude lines leave no run");
	/* every run's effective config validates before anything runs: this combination does not */
	load_bad(f, "[sweep]\nbase = base.ini\nvary = guest.vcpus: 1, 16\nvary = guest.mem: 64M, 1G\n",
		 "s.ini: run vcpus=16,mem=64M: ");
	load_bad(f, "[sweep]\nbase = base.ini\nvary = guest.vcpus: 1, 16\nvary = guest.mem: 64M, 1G\n",
		 "leaves under 4 MiB of process memory per vCPU (drop it with an exclude = line)");
	/* ... and excluding it makes the sweep valid */
	struct sweep *sw = load_ok(f, "[sweep]\nbase = base.ini\nvary = guest.vcpus: 1, 16\nvary = guest.mem: 64M, 1G\n"
				   "exclude = vcpus=16, mem=64M\n");
	assert_int_equal(sweep_nr_runs(sw), 3);
	sweep_free(sw);
}

/* ---- resume --------------------------------------------------------------------------- */

static void write_stats(struct fx *f, const char *name, const char *text)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	mkdir(path, 0777);
	snprintf(path, sizeof(path), "%s/stats.json", name);
	write_file(f, path, text);
}

/* path_in(f, "RUN_DIR/FILE") */
static const char *in_run(struct fx *f, const char *rd, const char *file)
{
	char name[600];
	snprintf(name, sizeof(name), "%s/%s", rd, file);
	return path_in(f, name);
}

static void test_run_state(void **state)
{
	struct fx *f = *state;
	const char *h = "0123456789abcdef";
	assert_int_equal(sweep_run_state(path_in(f, "none"), h), SWEEP_RUN_MISSING);
	write_stats(f, "ok", "{\"complete\": true, \"config_hash\": \"0123456789abcdef\", \"stats\": {\"a\": 1}}");
	assert_int_equal(sweep_run_state(path_in(f, "ok"), h), SWEEP_RUN_DONE);
	assert_int_equal(sweep_run_state(path_in(f, "ok"), "0123456789abcdee"), SWEEP_RUN_STALE);
	write_stats(f, "inc", "{\"complete\": false, \"config_hash\": \"0123456789abcdef\", \"stats\": {}}");
	assert_int_equal(sweep_run_state(path_in(f, "inc"), h), SWEEP_RUN_PARTIAL);
	write_stats(f, "old", "{\"complete\": true, \"stats\": {}}");   /* before config_hash existed */
	assert_int_equal(sweep_run_state(path_in(f, "old"), h), SWEEP_RUN_PARTIAL);
	/* corrupt: said so, with the file and the JSON error */
	char why[1024];
	write_stats(f, "cut", "{\"complete\": true, \"config_hash\": \"0123456789abcdef\", \"stats\": {\"a\": ");
	assert_int_equal(sweep_run_check(path_in(f, "cut"), h, why, sizeof(why)), SWEEP_RUN_CORRUPT);
	tu_assert_contains(why, "cut/stats.json: invalid JSON at line 1: ");
	write_stats(f, "empty", "");
	assert_int_equal(sweep_run_check(path_in(f, "empty"), h, why, sizeof(why)), SWEEP_RUN_CORRUPT);
	tu_assert_contains(why, "empty/stats.json: invalid JSON");
	write_stats(f, "arr", "[1, 2]");
	assert_int_equal(sweep_run_check(path_in(f, "arr"), h, why, sizeof(why)), SWEEP_RUN_CORRUPT);
	tu_assert_contains(why, "arr/stats.json: not an object with a \"stats\" object");
	/* a FIFO: unreadable at once (it used to wait for a writer), the file named */
	assert_int_equal(mkdir(path_in(f, "fifo"), 0777), 0);
	assert_int_equal(mkfifo(path_in(f, "fifo/stats.json"), 0666), 0);
	alarm(20);
	assert_int_equal(sweep_run_check(path_in(f, "fifo"), h, why, sizeof(why)), SWEEP_RUN_UNREADABLE);
	alarm(0);
	tu_assert_contains(why, "fifo/stats.json: is a FIFO, not a regular file");
	assert_int_equal(sweep_run_check(path_in(f, "ok"), h, why, sizeof(why)), SWEEP_RUN_DONE);
	assert_string_equal(why, "");
}

static const char sweep_2x2[] =
	"[sweep]\nbase = base.ini\nvary = mmu.zap_all: legacy, fast-v7\nvary = guest.vcpus: 1, 2\n";

struct seen {
	size_t n, failed;
	char names[16][128];
};

static void count_progress(void *ctx, const struct sweep_progress *p)
{
	struct seen *s = ctx;
	assert_true(p->done <= p->total);
	assert_int_equal(p->done, s->n + 1);
	assert_true(s->n < 16);
	snprintf(s->names[s->n++], sizeof(s->names[0]), "%zu", p->run);
	s->failed += !p->ok;
	assert_int_equal(p->failed, s->failed);
}

static void run_local(struct fx *f, struct sweep *sw, const char *dir, bool force, struct sweep_local_result *res,
		      struct seen *seen)
{
	memset(seen, 0, sizeof(*seen));
	int r = sweep_run_local(sw, path_in(f, dir), f->eptsim, 2, force, NULL, count_progress, seen, res, &f->err);
	if (r)
		fail_msg("sweep_run_local: %s", f->err.msg);
	assert_int_equal(seen->n, res->ran);
}

static void test_local_and_resume(void **state)
{
	struct fx *f = *state;
	struct sweep *sw = load_ok(f, sweep_2x2);
	struct sweep_local_result res;
	struct seen seen;
	struct sweep_summary sum;

	/* the local back end runs all four */
	run_local(f, sw, "out", false, &res, &seen);
	assert_int_equal(res.ran, 4);
	assert_int_equal(res.failed, 0);
	assert_int_equal(res.skipped, 0);
	char rd[512];
	for (size_t i = 0; i < 4; i++) {
		snprintf(rd, sizeof(rd), "out/runs/%s", sweep_run_name(sw, i));
		assert_int_equal(sweep_run_state(path_in(f, rd), sweep_run_hash(sw, i)), SWEEP_RUN_DONE);
		char *cfg = read_file(in_run(f, rd, "config.ini"));
		tu_assert_contains(cfg, i < 2 ? "zap_all = legacy\n" : "zap_all = fast-v7\n");
		free(cfg);
		char *hash = read_file(in_run(f, rd, "config.hash"));
		assert_memory_equal(hash, sweep_run_hash(sw, i), CONFIG_HASH_LEN);
		free(hash);
		/* a run that succeeded leaves a stderr.log only if it said something there (the
		 * sanitizer build does: ASan warns about swapcontext) */
		struct stat st;
		if (!stat(in_run(f, rd, "stderr.log"), &st))
			assert_true(st.st_size > 0);
	}
	assert_int_equal(sweep_collect(path_in(f, "out"), &sum, &f->err), 0);
	assert_int_equal(sum.nr_runs, 4);
	assert_int_equal(sum.nr_done, 4);
	assert_int_equal(sum.nr_missing, 0);
	sweep_summary_free(&sum);
	char *first = read_file(path_in(f, "out/summary.csv"));

	/* again: every run is done, nothing runs */
	run_local(f, sw, "out", false, &res, &seen);
	assert_int_equal(res.ran, 0);
	assert_int_equal(res.skipped, 4);

	/* a partial stats.json and a missing one are run again; the others are not */
	write_file(f, "out/runs/zap_all=legacy,vcpus=2/stats.json", "{\"complete\": true, \"config_h");
	snprintf(rd, sizeof(rd), "out/runs/%s/stats.json", sweep_run_name(sw, 3));
	assert_int_equal(unlink(path_in(f, rd)), 0);
	assert_int_equal(sweep_collect(path_in(f, "out"), &sum, &f->err), 0);
	assert_int_equal(sum.nr_done, 2);
	assert_int_equal(sum.nr_missing, 2);
	assert_string_equal(sum.missing[0].name, "zap_all=legacy,vcpus=2");
	assert_int_equal(sum.missing[0].state, SWEEP_RUN_CORRUPT);
	tu_assert_contains(sum.missing[0].why, "zap_all=legacy,vcpus=2/stats.json: invalid JSON at line 1: ");
	assert_null(sum.missing[1].why);
	assert_string_equal(sum.missing[1].name, "zap_all=fast-v7,vcpus=2");
	assert_int_equal(sum.missing[1].state, SWEEP_RUN_MISSING);
	sweep_summary_free(&sum);
	run_local(f, sw, "out", false, &res, &seen);
	assert_int_equal(res.ran, 2);
	assert_int_equal(res.skipped, 2);
	/* runs 1 and 3, finishing in either order */
	assert_true((!strcmp(seen.names[0], "1") && !strcmp(seen.names[1], "3")) ||
		    (!strcmp(seen.names[0], "3") && !strcmp(seen.names[1], "1")));
	assert_int_equal(sweep_collect(path_in(f, "out"), &sum, &f->err), 0);
	sweep_summary_free(&sum);
	char *again = read_file(path_in(f, "out/summary.csv"));
	assert_string_equal(first, again);   /* same config, same seed: the same numbers */
	free(again);
	sweep_free(sw);

	/* a changed config (here: the base) changes every hash: all four run again */
	write_file(f, "base.ini", "[guest]\nvcpus = 2\nmem = 64M\nkernel_mem = 16M\n[workload]\nduration_ms = 3\n"
		   "[output]\nseries = false\n");
	sw = NULL;
	assert_int_equal(sweep_load(path_in(f, "s.ini"), &sw, &f->err), 0);
	snprintf(rd, sizeof(rd), "out/runs/%s", sweep_run_name(sw, 0));
	assert_int_equal(sweep_run_state(path_in(f, rd), sweep_run_hash(sw, 0)), SWEEP_RUN_STALE);
	run_local(f, sw, "out", false, &res, &seen);
	assert_int_equal(res.ran, 4);
	assert_int_equal(res.failed, 0);
	assert_int_equal(sweep_collect(path_in(f, "out"), &sum, &f->err), 0);
	assert_int_equal(sum.nr_done, 4);
	sweep_summary_free(&sum);
	again = read_file(path_in(f, "out/summary.csv"));
	assert_string_not_equal(first, again);   /* 3 ms instead of 2 */
	free(again);
	/* --force runs done ones again */
	run_local(f, sw, "out", true, &res, &seen);
	assert_int_equal(res.ran, 4);
	assert_int_equal(res.skipped, 0);
	sweep_free(sw);
	free(first);
}

/* The summary: one column per axis, then the stats flattened, in a stable order. */
static void test_summary(void **state)
{
	struct fx *f = *state;
	struct sweep *sw = load_ok(f, "[sweep]\nbase = base.ini\nset = events.toggle_slot=rom\n"
				   "set = memslot.rom.base=0xfebc0000\nset = memslot.rom.size=256K\n"
				   "set = events.toggle_start_ms=0.5\nset = events.toggle_period_ms=0.5\nset = events.toggle_count=2\n"
				   "vary = guest.vcpus: 1, 2\n");
	struct sweep_local_result res;
	struct seen seen;
	struct sweep_summary sum;
	run_local(f, sw, "sum", false, &res, &seen);
	assert_int_equal(res.failed, 0);
	assert_int_equal(sweep_collect(path_in(f, "sum"), &sum, &f->err), 0);
	sweep_summary_free(&sum);
	char *csv = read_file(path_in(f, "sum/summary.csv"));
	char *nl = strchr(csv, '\n');
	assert_non_null(nl);
	*nl = '\0';
	/* the axis first; counters as they are; histograms and per-zap arrays summarized */
	assert_int_equal(strncmp(csv, "guest.vcpus,", 12), 0);
	static const char *const cols[] = { ",ept.faults,", ",zap.count,", ",zap.lock_breaks.mean,", ",zap.lock_breaks.max,",
					    ",mmu_lock.wait_cycles.max,", ",mmu_lock.wait_cycles.p99,", ",vcpu.1.records," };
	for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
		tu_assert_contains(csv, cols[i]);
	assert_null(strstr(csv, "series."));   /* series are not scalars */
	/* vcpu.1.* (only in the second run) come right after vcpu.0.*, not at the end */
	char *v0 = strstr(csv, ",vcpu.0.bad_addrs,"), *v1 = strstr(csv, ",vcpu.1.cycles.guest,");
	assert_non_null(v0);
	assert_ptr_equal(v1, v0 + strlen(",vcpu.0.bad_addrs"));
	/* count the header's columns and each row's: they agree; the 1-vCPU row has empty cells */
	size_t ncols = 1;
	for (char *p = csv; *p; p++)
		ncols += *p == ',';
	char *row = nl + 1;
	for (int r = 0; r < 2; r++) {
		char *end = strchr(row, '\n');
		assert_non_null(end);
		*end = '\0';
		size_t n = 1;
		for (char *p = row; *p; p++)
			n += *p == ',';
		assert_int_equal(n, ncols);
		assert_true(row[0] == (r ? '2' : '1'));
		if (!r)
			assert_non_null(strstr(row, ",,"));
		row = end + 1;
	}
	assert_int_equal(*row, '\0');
	free(csv);
	sweep_free(sw);
}

/* A stat of a type no stat has: a warning naming the run's stats.json and the stat, its
 * cells left empty, the rest of the row kept. */
static void test_summary_wrong_types(void **state)
{
	struct fx *f = *state;
	struct sweep *sw = load_ok(f, "[sweep]\nbase = base.ini\nvary = guest.vcpus: 1, 2\n");
	struct sweep_local_result res;
	struct seen seen;
	struct sweep_summary sum;
	run_local(f, sw, "types", false, &res, &seen);
	assert_int_equal(res.failed, 0);
	const char *path = path_in(f, "types/runs/vcpus=2/stats.json");
	json_error_t je;
	json_t *doc = json_load_file(path, JSON_PRESERVE_ORDER, &je);
	assert_non_null(doc);
	json_t *st = json_object_get(doc, "stats");
	assert_non_null(json_object_get(st, "ept.faults"));
	json_object_set_new(st, "ept.faults", json_string("many"));
	json_object_set_new(st, "zap.count", json_null());
	json_object_set_new(st, "zap.pages", json_pack("[i,s]", 1, "x"));
	json_object_set_new(json_object_get(st, "mmu_lock.wait_cycles"), "p99", json_string("high"));
	assert_int_equal(json_dump_file(doc, path, JSON_PRESERVE_ORDER), 0);
	json_decref(doc);
	assert_int_equal(sweep_collect(path_in(f, "types"), &sum, &f->err), 0);
	assert_int_equal(sum.nr_done, 2);
	assert_int_equal(sum.nr_warnings, 4);
	char all[4096] = "";
	for (size_t i = 0; i < sum.nr_warnings; i++)
		snprintf(all + strlen(all), sizeof(all) - strlen(all), "%s\n", sum.warnings[i]);
	tu_assert_contains(all, "types/runs/vcpus=2/stats.json: stat ept.faults: a string, not a number, a histogram, "
			   "an array or a series: its cells are left empty\n");
	tu_assert_contains(all, "types/runs/vcpus=2/stats.json: stat zap.count: null, not a number");
	tu_assert_contains(all, "types/runs/vcpus=2/stats.json: stat zap.pages: an array that holds more than numbers");
	tu_assert_contains(all, "types/runs/vcpus=2/stats.json: stat mmu_lock.wait_cycles: the histogram's p99 is a "
			   "string, not a number");
	sweep_summary_free(&sum);
	/* the columns stay (run 1 has them), run 2's cells are empty */
	char *csv = read_file(path_in(f, "types/summary.csv"));
	char *hdr_end = strchr(csv, '\n'), *row1 = hdr_end + 1, *row2 = strchr(row1, '\n') + 1;
	*hdr_end = '\0';
	size_t col = 0;
	for (char *p = csv; p < strstr(csv, ",ept.faults,"); p++)
		col += *p == ',';
	col++;   /* ept.faults is column col (from 0) */
	char *cell = row2;
	for (size_t c = 0; c < col; c++)
		cell = strchr(cell, ',') + 1;
	assert_true(*cell == ',');   /* empty */
	cell = row1;
	for (size_t c = 0; c < col; c++)
		cell = strchr(cell, ',') + 1;
	assert_true(*cell >= '0' && *cell <= '9');
	free(csv);
	sweep_free(sw);
}

/* ---- failures ------------------------------------------------------------------------- */

static void test_failure_kept(void **state)
{
	struct fx *f = *state;
	/* a trace with a record for a vCPU the guest lacks passes validation (it opens, its
	 * header fits) and fails when the run replays that record */
	char text[512], logp[512];
	snprintf(text, sizeof(text), "[sweep]\nbase = base.ini\nvary = workload.trace: \"\", %s\n",
		 trace_in(f, "bad.gz", true));
	struct sweep *sw = load_ok(f, text);
	struct sweep_local_result res;
	struct seen seen;
	run_local(f, sw, "fail", false, &res, &seen);
	assert_int_equal(res.ran, 2);
	assert_int_equal(res.failed, 1);
	assert_int_equal(seen.failed, 1);
	snprintf(logp, sizeof(logp), "fail/runs/%s/stderr.log", sweep_run_name(sw, 1));
	char *log = read_file(path_in(f, logp));
	tu_assert_contains(log, "bad.gz: record 2: vCPU 3 does not exist");
	free(log);
	struct sweep_summary sum;
	assert_int_equal(sweep_collect(path_in(f, "fail"), &sum, &f->err), 0);
	assert_int_equal(sum.nr_done, 1);
	assert_int_equal(sum.nr_missing, 1);
	assert_string_equal(sum.missing[0].name, sweep_run_name(sw, 1));
	sweep_summary_free(&sum);
	sweep_free(sw);
}

/* ---- emitted back ends ---------------------------------------------------------------- */

/* A stand-in sbatch in DIR/bin: appends its arguments to bin/calls (a line per call) and to
 * bin/args (a line per argument), runs a --wrap command (output in bin/collect.out) and
 * answers job id 4242. */
static void fake_sbatch(struct fx *f)
{
	mkdir(path_in(f, "bin"), 0777);
	write_file(f, "bin/sbatch",
		   "#!/bin/sh\necho \"$@\" >> \"$(dirname \"$0\")/calls\"\n"
		   "printf '%s\\n' \"$@\" >> \"$(dirname \"$0\")/args\"\n"
		   "for a; do case $a in --wrap=*) sh -c \"${a#--wrap=}\" > \"$(dirname \"$0\")/collect.out\" 2>&1;; esac; done\n"
		   "echo 4242\n");
	assert_int_equal(chmod(path_in(f, "bin/sbatch"), 0755), 0);
}

static void test_parallel_and_slurm(void **state)
{
	struct fx *f = *state;
	struct sweep *sw = load_ok(f, sweep_2x2);
	struct sweep_local_result res;
	struct seen seen;
	struct sweep_summary sum;

	run_local(f, sw, "local", false, &res, &seen);
	assert_int_equal(res.failed, 0);
	assert_int_equal(sweep_collect(path_in(f, "local"), &sum, &f->err), 0);
	sweep_summary_free(&sum);
	char *local = read_file(path_in(f, "local/summary.csv"));

	/* GNU parallel, for real, on jobs.txt; a relative DIR works since each line cds first */
	char cwd[PATH_MAX];
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(f->dir), 0);
	int r = sweep_emit_jobs(sw, "par", f->eptsim, false, &f->err);
	assert_int_equal(chdir(cwd), 0);
	if (r)
		fail_msg("sweep_emit_jobs: %s", f->err.msg);
	char *jobs = read_file(path_in(f, "par/jobs.txt"));
	size_t lines = 0;
	for (char *p = jobs; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 4);
	tu_assert_contains(jobs, " --skip-done 2> par/runs/zap_all=legacy,vcpus=1/stderr.log; s=$?; "
			"[ -s par/runs/zap_all=legacy,vcpus=1/stderr.log ] || rm -f par/runs/zap_all=legacy,vcpus=1/stderr.log; "
			"exit $s)\n");
	free(jobs);
	assert_int_equal(sh("parallel --will-cite -j 2 < %s/par/jobs.txt", f->dir), 0);
	assert_int_equal(sweep_collect(path_in(f, "par"), &sum, &f->err), 0);
	assert_int_equal(sum.nr_done, 4);
	sweep_summary_free(&sum);
	char *par = read_file(path_in(f, "par/summary.csv"));
	assert_string_equal(local, par);
	free(par);
	struct stat st;   /* an empty stderr.log is removed, as the local back end does */
	if (!stat(path_in(f, "par/runs/zap_all=legacy,vcpus=1/stderr.log"), &st))
		assert_true(st.st_size > 0);
	/* a failing line keeps its log and fails parallel */
	assert_int_equal(unlink(path_in(f, "par/runs/zap_all=legacy,vcpus=2/stats.json")), 0);
	assert_int_equal(sh("sed -n 2p %s/par/jobs.txt | sed 's|run /|run /nonexistent/|' > %s/bad.txt", f->dir, f->dir), 0);
	assert_int_not_equal(sh("parallel --will-cite < %s/bad.txt", f->dir), 0);
	char *log = read_file(path_in(f, "par/runs/zap_all=legacy,vcpus=2/stderr.log"));
	tu_assert_contains(log, "/nonexistent/");
	free(log);
	assert_int_equal(sh("parallel --will-cite < %s/par/jobs.txt", f->dir), 0);   /* resumes */
	/* the lines resume too: run again, nothing is rewritten */
	struct stat st0, st1;
	assert_int_equal(stat(path_in(f, "par/runs/zap_all=legacy,vcpus=1/stats.json"), &st0), 0);
	assert_int_equal(sh("parallel --will-cite -j 2 < %s/par/jobs.txt", f->dir), 0);
	assert_int_equal(stat(path_in(f, "par/runs/zap_all=legacy,vcpus=1/stats.json"), &st1), 0);
	assert_int_equal(st0.st_ino, st1.st_ino);

	/* Slurm: the script parses, names the array range, and its tasks (run by hand with
	 * SLURM_ARRAY_TASK_ID, as Slurm would) give the same summary */
	assert_int_equal(sweep_emit_slurm(sw, path_in(f, "slurm"), f->eptsim, false, &f->err), 0);
	assert_int_equal(sh("bash -n %s/slurm/sweep.sbatch", f->dir), 0);
	char *sb = read_file(path_in(f, "slurm/sweep.sbatch"));
	tu_assert_contains(sb, "\n#SBATCH --array=0-3\n");
	tu_assert_contains(sb, "--dependency=afterany:");
	free(sb);
	for (int i = 0; i < 4; i++)
		assert_int_equal(sh("cd / && SLURM_ARRAY_TASK_ID=%d bash %s/slurm/sweep.sbatch", i, f->dir), 0);
	assert_int_not_equal(sh("SLURM_ARRAY_TASK_ID=4 bash %s/slurm/sweep.sbatch 2>/dev/null", f->dir), 0);
	assert_int_equal(sweep_collect(path_in(f, "slurm"), &sum, &f->err), 0);
	assert_int_equal(sum.nr_done, 4);
	sweep_summary_free(&sum);
	char *slurm = read_file(path_in(f, "slurm/summary.csv"));
	assert_string_equal(local, slurm);
	free(slurm);
	/* submitting: the array, then a collect job that depends on it (a fake sbatch records
	 * its arguments; the collect job's command is run to check it) */
	fake_sbatch(f);
	assert_int_equal(unlink(path_in(f, "slurm/summary.csv")), 0);
	assert_int_equal(sh("PATH=%s/bin:$PATH bash %s/slurm/sweep.sbatch > /dev/null", f->dir, f->dir), 0);
	char *calls = read_file(path_in(f, "bin/calls"));
	char *second = strchr(calls, '\n');
	assert_non_null(second);
	tu_assert_contains(calls, "--parsable ");
	tu_assert_contains(calls, "slurm/sweep.sbatch\n");
	tu_assert_contains(second, "--dependency=afterany:4242 ");
	tu_assert_contains(second, "sweep --collect ");
	free(calls);
	slurm = read_file(path_in(f, "slurm/summary.csv"));
	assert_string_equal(local, slurm);
	free(slurm);

	free(local);
	sweep_free(sw);
}

/* A --out with a space, %, quotes, $ and command substitutions: jobs.txt runs under GNU
 * parallel, the Slurm script parses, its tasks run, sbatch gets the collect job's --output
 * with % doubled, the #SBATCH --output line is quoted for sbatch's parser; nothing is
 * injected.  A newline is refused before anything is written. */
static void test_emit_hostile_paths(void **state)
{
	struct fx *f = *state;
	struct sweep *sw = load_ok(f, "[sweep]\nbase = base.ini\nvary = guest.vcpus: 1, 2\n");
	char dir[PATH_MAX], cwd[PATH_MAX], path[PATH_MAX + 64];
	snprintf(dir, sizeof(dir), "%s/we ird %%d 'q' $HOME `touch INJ1` $(touch INJ2) #h", f->dir);
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(f->dir), 0);   /* the lines cd here: an injected touch would land here */
	int r = sweep_emit_slurm(sw, dir, f->eptsim, false, &f->err);
	assert_int_equal(chdir(cwd), 0);
	if (r)
		fail_msg("sweep_emit_slurm: %s", f->err.msg);

	/* GNU parallel on jobs.txt (copied to a plain name, for the shell line below) */
	snprintf(path, sizeof(path), "%s/jobs.txt", dir);
	char *jobs = read_file(path);
	write_file(f, "jobs-copy.txt", jobs);
	free(jobs);
	assert_int_equal(sh("parallel --will-cite -j 2 < %s/jobs-copy.txt", f->dir), 0);
	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/runs/%s", dir, sweep_run_name(sw, i));
		assert_int_equal(sweep_run_state(path, sweep_run_hash(sw, i)), SWEEP_RUN_DONE);
	}

	/* the Slurm script: parses; its #SBATCH --output is one quoted word for sbatch, % doubled */
	snprintf(path, sizeof(path), "%s/sweep.sbatch", dir);
	char *sb = read_file(path);
	write_file(f, "sb.sh", sb);
	assert_int_equal(sh("bash -n %s/sb.sh", f->dir), 0);
	char want[PATH_MAX + 128];
	snprintf(want, sizeof(want), "\n#SBATCH --output=\"%s/we ird %%%%d \\'q\\' $HOME `touch INJ1` $(touch INJ2) \\#h"
		 "/slurm/%%A_%%a.out\"\n", f->dir);
	tu_assert_contains(sb, want);
	free(sb);
	/* a task runs its line (run 1 again, its stats.json removed) */
	snprintf(path, sizeof(path), "%s/runs/%s/stats.json", dir, sweep_run_name(sw, 1));
	assert_int_equal(unlink(path), 0);
	assert_int_equal(sh("cd / && SLURM_ARRAY_TASK_ID=1 bash %s/sb.sh", f->dir), 0);
	snprintf(path, sizeof(path), "%s/runs/%s", dir, sweep_run_name(sw, 1));
	assert_int_equal(sweep_run_state(path, sweep_run_hash(sw, 1)), SWEEP_RUN_DONE);
	/* submitting, with the stand-in sbatch */
	fake_sbatch(f);
	assert_int_equal(sh("cd %s && PATH=%s/bin:$PATH bash %s/sb.sh > /dev/null", f->dir, f->dir, f->dir), 0);
	char *calls = read_file(path_in(f, "bin/args"));
	snprintf(want, sizeof(want), "\n--output=%s/we ird %%%%d 'q' $HOME `touch INJ1` $(touch INJ2) #h/slurm/collect.out\n",
		 f->dir);
	tu_assert_contains(calls, want);
	free(calls);
	char *out = read_file(path_in(f, "bin/collect.out"));
	tu_assert_contains(out, "summary.csv: 2 of 2 runs");
	free(out);
	/* nothing ran that the path spelled */
	assert_int_not_equal(access(path_in(f, "INJ1"), F_OK), 0);
	assert_int_not_equal(access(path_in(f, "INJ2"), F_OK), 0);
	assert_int_not_equal(access("/INJ1", F_OK), 0);

	/* a newline: refused, nothing written */
	snprintf(dir, sizeof(dir), "%s/x\ntouch INJECTED #", f->dir);
	assert_int_equal(sweep_emit_jobs(sw, dir, f->eptsim, false, &f->err), -EINVAL);
	tu_assert_contains(f->err.msg, "control character 0x0a");
	assert_int_not_equal(access(dir, F_OK), 0);
	assert_int_equal(sweep_emit_slurm(sw, dir, f->eptsim, false, &f->err), -EINVAL);
	assert_int_not_equal(access(dir, F_OK), 0);
	sweep_free(sw);
}

/* ---- the command line ----------------------------------------------------------------- */


/* ---- replicates -------------------------------------------------------------------------- */

/* A seeds line: the seed an axis named "seed", last whatever the line's place, its values
 * as a vary line's; the errors name the line. */
static void test_seeds(void **state)
{
	struct fx *f = *state;
	struct sweep *sw = load_ok(f, "[sweep]\nbase = base.ini\nseeds = 1..3\nvary = guest.vcpus: 1, 2\n");
	char vals[256];
	assert_int_equal(sweep_nr_axes(sw), 2);
	assert_int_equal(sweep_seed_axis(sw), 1);
	assert_string_equal(sweep_axis_key(sw, 1), "run.seed");
	assert_int_equal(sweep_nr_runs(sw), 6);
	assert_string_equal(sweep_run_name(sw, 0), "vcpus=1,seed=1");
	assert_string_equal(sweep_run_name(sw, 5), "vcpus=2,seed=3");
	axis_values(sw, 1, vals, sizeof(vals));
	assert_string_equal(vals, "1 2 3 1 2 3");
	struct scenario sc;
	assert_int_equal(sweep_run_scenario(sw, 4, &sc, &f->err), 0);
	assert_true(sc.seed == 2 && sc.vcpus == 2);
	/* each seed its own config hash: resume works run by run */
	assert_string_not_equal(sweep_run_hash(sw, 0), sweep_run_hash(sw, 1));
	sweep_free(sw);
	sw = load_ok(f, "[sweep]\nbase = base.ini\nseeds = 1, 2, 7\nexclude = seed=2\n");
	assert_int_equal(sweep_nr_runs(sw), 2);
	assert_string_equal(sweep_run_name(sw, 1), "seed=7");
	assert_int_equal(sweep_seed_axis(sw), 0);
	sweep_free(sw);
	sw = load_ok(f, "[sweep]\nbase = base.ini\nvary = guest.vcpus: 1, 2\n");
	assert_int_equal(sweep_seed_axis(sw), -1);
	sweep_free(sw);
	sw = load_ok(f, "[sweep]\nbase = base.ini\nseeds = 0..0\n");   /* one seed, 0: allowed */
	assert_int_equal(sweep_nr_runs(sw), 1);
	sweep_free(sw);

	load_bad(f, "[sweep]\nbase = base.ini\nseeds =\n", "s.ini:3: seeds: no seed (expected A..B or a list");
	load_bad(f, "[sweep]\nbase = base.ini\nseeds = 1..3\nseeds = 4\n", "s.ini:4: seeds: given twice (first on line 3)");
	load_bad(f, "[sweep]\nbase = base.ini\nvary = run.seed: 1, 2\nseeds = 1..3\n",
		 "s.ini:4: seeds: run.seed is also varied on line 3");
	load_bad(f, "[sweep]\nbase = base.ini\nset = run.seed=4\nseeds = 1..3\n",
		 "s.ini:4: seeds: run.seed is also fixed by set on line 3");
	load_bad(f, "[sweep]\nbase = base.ini\nseeds = 1, x\n", "s.ini:3: seeds: run.seed: ");
	load_bad(f, "[sweep]\nbase = base.ini\nseeds = 1, 2, 1\n", "s.ini:3: seeds: 1 is listed twice");
	load_bad(f, "[sweep]\nbase = base.ini\nseeds = 3..1\n", "s.ini:3: seeds: range '3..1': the start is above the end");
	load_bad(f, "[sweep]\nbase = base.ini\nseeds = 1,,2\n", "s.ini:3: seeds: an empty value");
	load_bad(f, "[sweep]\nbase = base.ini\nvary = guest.vcpus: 1\nseeds = 1, 2\nvary += 2\n",
		 "s.ini:5: vary +=: no vary line above to add to (the line above is seeds)");
}

/* FMT's file as JSON (a failure if it is not). */
static json_t *load_json(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *load_json(const char *fmt, ...)
{
	char path[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	json_error_t je;
	json_t *doc = json_load_file(path, 0, &je);
	if (!doc)
		fail_msg("%s: %s", path, je.text);
	return doc;
}

static double stat_of(struct fx *f, const char *run, const char *stat)
{
	json_t *doc = load_json("%s/rep/runs/%s/stats.json", f->dir, run);
	double v = json_number_value(json_object_get(json_object_get(doc, "stats"), stat));
	json_decref(doc);
	return v;
}

/* 2 points x 2 seeds, end to end: summary.csv a row per run (with the run.seed column),
 * summary-replicates.csv a row per point and stat with n = 2, replicates.json the same
 * numbers, worked out here from the runs' stats.json; --collect rebuilds them, and a run
 * missing gives n = 1 with empty sd and ci95. */
static void test_replicates_end_to_end(void **state)
{
	struct fx *f = *state;
	struct sweep *sw = load_ok(f, "[sweep]\nbase = base.ini\nvary = guest.vcpus: 1, 2\nseeds = 1, 2\n");
	struct sweep_local_result res;
	struct seen seen;
	struct sweep_summary sum;
	run_local(f, sw, "rep", false, &res, &seen);
	assert_int_equal(res.ran, 4);
	assert_int_equal(res.failed, 0);
	assert_int_equal(sweep_collect(path_in(f, "rep"), &sum, &f->err), 0);
	assert_int_equal(sum.nr_done, 4);
	assert_int_equal(sum.nr_points, 2);
	sweep_summary_free(&sum);
	char *csv = read_file(path_in(f, "rep/summary.csv"));
	assert_int_equal(strncmp(csv, "guest.vcpus,run.seed,", 21), 0);
	tu_assert_contains(csv, "\n1,1,");
	tu_assert_contains(csv, "\n1,2,");
	tu_assert_contains(csv, "\n2,2,");
	free(csv);

	char *rep = read_file(path_in(f, "rep/summary-replicates.csv"));
	assert_int_equal(strncmp(rep, "guest.vcpus,stat,n,mean,sd,ci95\n", 32), 0);
	/* every row: a point (1 or 2) and n = 2 */
	size_t rows = 0;
	for (char *line = strchr(rep, '\n') + 1; *line; line = strchr(line, '\n') + 1) {
		char point[8], stat[256];
		unsigned n;
		assert_int_equal(sscanf(line, "%7[^,],%255[^,],%u,", point, stat, &n), 3);
		assert_true(!strcmp(point, "1") || !strcmp(point, "2"));
		assert_int_equal(n, 2);
		rows++;
	}
	assert_true(rows > 100);   /* every stat column, twice */
	/* vcpu.records at vcpus=2 from the two runs, by hand */
	double a = stat_of(f, "vcpus=2,seed=1", "vcpu.records"), b = stat_of(f, "vcpus=2,seed=2", "vcpu.records");
	assert_true(a != b);   /* the seeds do make different runs */
	double mean = (a + b) / 2, sd = fabs(a - b) / sqrt(2), ci = 12.7062 * sd / sqrt(2);
	char want[256];
	snprintf(want, sizeof(want), "\n2,vcpu.records,2,%.10g,%.10g,%.10g\n", mean, sd, ci);
	tu_assert_contains(rep, want);
	free(rep);

	json_t *doc = load_json("%s", path_in(f, "rep/replicates.json"));
	assert_int_equal(json_integer_value(json_object_get(doc, "eptsim_replicates")), 1);
	assert_string_equal(json_string_value(json_object_get(doc, "seed_key")), "run.seed");
	json_t *points = json_object_get(doc, "points");
	assert_int_equal(json_array_size(points), 2);
	json_t *p1 = json_array_get(points, 1);
	assert_string_equal(json_string_value(json_object_get(json_object_get(p1, "values"), "guest.vcpus")), "2");
	assert_int_equal(json_array_size(json_object_get(p1, "seeds")), 2);
	json_t *st = json_object_get(json_object_get(p1, "stats"), "vcpu.records");
	assert_int_equal(json_integer_value(json_object_get(st, "n")), 2);
	assert_float_equal(json_real_value(json_object_get(st, "mean")), mean, 1e-9 * mean);
	assert_float_equal(json_real_value(json_object_get(st, "ci95")), ci, 1e-9 * ci);
	json_decref(doc);

	/* one run gone: --collect rebuilds the files, that point's n is 1, no sd or interval */
	assert_int_equal(unlink(path_in(f, "rep/runs/vcpus=2,seed=2/stats.json")), 0);
	assert_int_equal(sweep_collect(path_in(f, "rep"), &sum, &f->err), 0);
	assert_int_equal(sum.nr_missing, 1);
	sweep_summary_free(&sum);
	rep = read_file(path_in(f, "rep/summary-replicates.csv"));
	snprintf(want, sizeof(want), "\n2,vcpu.records,1,%.10g,,\n", a);
	tu_assert_contains(rep, want);
	tu_assert_contains(rep, "\n1,vcpu.records,2,");
	free(rep);
	sweep_free(sw);
}

/* run --replicates 3: three run folders with the seeds 5, 6, 7 (--seed the first), the
 * aggregate files, the summary on stdout; a --set of run.seed is the first seed as --seed
 * is; sweep_replicates() refuses no seed. */
static void test_run_replicates(void **state)
{
	struct fx *f = *state;
	write_file(f, "base.ini", tiny_base);
	assert_int_equal(sh("%s run %s/base.ini --replicates 3 --seed 5 -j 2 --out %s/r3 > %s/out.txt 2> %s/err.txt",
			    f->eptsim, f->dir, f->dir, f->dir, f->dir), 0);
	char *o = read_file(path_in(f, "out.txt"));
	tu_assert_contains(o, "eptsim run --replicates 3: seeds 5..7");
	tu_assert_contains(o, "vcpu.records");
	tu_assert_contains(o, " ± ");
	tu_assert_contains(o, "(n=3)");
	free(o);
	for (int s = 5; s <= 7; s++) {
		json_t *doc = load_json("%s/r3/runs/seed=%d/stats.json", f->dir, s);
		json_t *seed = json_object_get(json_object_get(json_object_get(doc, "config"), "run"), "seed");
		assert_int_equal(json_integer_value(seed), s);
		json_decref(doc);
	}
	char *rep = read_file(path_in(f, "r3/summary-replicates.csv"));
	assert_int_equal(strncmp(rep, "stat,n,mean,sd,ci95\n", 20), 0);
	tu_assert_contains(rep, "\nvcpu.records,3,");
	free(rep);
	assert_int_equal(access(path_in(f, "r3/replicates.json"), F_OK), 0);
	/* again with --skip-done: nothing runs, the same summary */
	assert_int_equal(sh("%s run %s/base.ini --replicates 3 --set run.seed=5 --skip-done --out %s/r3 -j 2 > /dev/null "
			    "2> %s/err.txt", f->eptsim, f->dir, f->dir, f->dir), 0);
	char *e = read_file(path_in(f, "err.txt"));
	assert_null(strstr(e, " ok "));
	free(e);

	struct sweep *sw = NULL;
	const char *sets[] = { "guest.vcpus=1" };
	assert_int_equal(sweep_replicates(path_in(f, "base.ini"), sets, 1, 9, 2, &sw, &f->err), 0);
	assert_int_equal(sweep_nr_runs(sw), 2);
	assert_string_equal(sweep_run_name(sw, 1), "seed=10");
	sweep_free(sw);
	assert_int_equal(sweep_replicates(path_in(f, "base.ini"), NULL, 0, 1, 0, &sw, &f->err), -EINVAL);
	assert_null(sw);
}

static void test_cli(void **state)
{
	struct fx *f = *state;
	write_file(f, "base.ini", tiny_base);
	write_file(f, "bad.ini", "[sweep]\nbase = base.ini\nvary = guest.vcpus: 1, 2\nvary = mmu.zapall: legacy\n");
	assert_int_equal(sh("%s sweep %s/bad.ini --out %s/cli 2> %s/err.txt", f->eptsim, f->dir, f->dir, f->dir), 2);
	char *e = read_file(path_in(f, "err.txt"));
	tu_assert_contains(e, "bad.ini:4: vary: mmu.zapall: unknown key");
	free(e);
	assert_int_not_equal(access(path_in(f, "cli"), F_OK), 0);   /* nothing was written */

	write_file(f, "s.ini", "[sweep]\nbase = base.ini\nvary = guest.vcpus: 1, 2\n");
	assert_int_equal(sh("%s sweep %s/s.ini --out %s/cli -j 2 > %s/out.txt 2> %s/err.txt", f->eptsim, f->dir, f->dir,
			    f->dir, f->dir), 0);
	e = read_file(path_in(f, "err.txt"));
	tu_assert_contains(e, "[sweep] 2/2 ok ");
	tu_assert_contains(e, "2 ran (0 failed), 0 skipped as done");
	free(e);
	char *o = read_file(path_in(f, "out.txt"));
	tu_assert_contains(o, "summary.csv: 2 of 2 runs");
	free(o);
	/* --collect lists a missing run and exits 1 */
	assert_int_equal(unlink(path_in(f, "cli/runs/vcpus=2/stats.json")), 0);
	assert_int_equal(sh("%s sweep --collect %s/cli > /dev/null 2> %s/err.txt", f->eptsim, f->dir, f->dir), 1);
	e = read_file(path_in(f, "err.txt"));
	tu_assert_contains(e, "missing ");
	tu_assert_contains(e, "cli/runs/vcpus=2 (no stats.json)");
	free(e);
	/* --dry-run writes nothing and tells the states */
	assert_int_equal(sh("%s sweep %s/s.ini --out %s/cli --dry-run > %s/out.txt", f->eptsim, f->dir, f->dir, f->dir), 0);
	o = read_file(path_in(f, "out.txt"));
	tu_assert_contains(o, "2 runs, 1 done");
	free(o);
	/* a failed run: exit status 1 */
	char text[512];
	snprintf(text, sizeof(text), "[sweep]\nbase = base.ini\nset = workload.trace = %s\nvary = guest.vcpus: 2\n",
		 trace_in(f, "bad.gz", true));
	write_file(f, "t.ini", text);
	assert_int_equal(sh("%s sweep %s/t.ini --out %s/cli2 > /dev/null 2> %s/err.txt", f->eptsim, f->dir, f->dir, f->dir), 1);
	e = read_file(path_in(f, "err.txt"));
	tu_assert_contains(e, "FAILED  vcpus=2 (exit status 2");
	tu_assert_contains(e, "cli2/runs/vcpus=2/stderr.log");
	free(e);
	/* a run every task would fail (a file that is not there) fails the sweep before any
	 * run starts, naming the sweep file and the run: exit 2, nothing written */
	write_file(f, "u.ini", "[sweep]\nbase = base.ini\nset = workload.elf = \"\"\nvary = guest.vcpus: 1, 2\n");
	assert_int_equal(sh("%s sweep %s/u.ini --out %s/cli3 > /dev/null 2> %s/err.txt", f->eptsim, f->dir, f->dir, f->dir), 2);
	e = read_file(path_in(f, "err.txt"));
	tu_assert_contains(e, "u.ini: run vcpus=1: \"\": No such file or directory");
	free(e);
	assert_int_not_equal(access(path_in(f, "cli3"), F_OK), 0);
	write_file(f, "u.ini", "[sweep]\nbase = base.ini\nvary = tlb.l1d_4k_ways: 4, 3\n");
	assert_int_equal(sh("%s sweep %s/u.ini --out %s/cli3 > /dev/null 2> %s/err.txt", f->eptsim, f->dir, f->dir, f->dir), 2);
	e = read_file(path_in(f, "err.txt"));
	tu_assert_contains(e, "u.ini: run l1d_4k_ways=3: tlb.l1d_4k_ways: 64 entries in 3 ways");
	free(e);
	assert_int_not_equal(access(path_in(f, "cli3"), F_OK), 0);
	/* run --skip-done */
	assert_int_equal(sh("%s run %s/base.ini --out %s/one --quiet", f->eptsim, f->dir, f->dir), 0);
	assert_int_equal(sh("%s run %s/base.ini --out %s/one --skip-done > %s/out.txt", f->eptsim, f->dir, f->dir, f->dir), 0);
	o = read_file(path_in(f, "out.txt"));
	tu_assert_contains(o, "is up to date");
	free(o);
	assert_int_equal(sh("%s run %s/base.ini --set guest.vcpus=1 --out %s/one --skip-done > %s/out.txt", f->eptsim,
			    f->dir, f->dir, f->dir), 0);
	o = read_file(path_in(f, "out.txt"));
	tu_assert_contains(o, "results in ");
	free(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cross_product, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_ranges, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_filters, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_errors, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_run_state, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_local_and_resume, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_summary, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_summary_wrong_types, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_failure_kept, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_parallel_and_slurm, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_emit_hostile_paths, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_seeds, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_replicates_end_to_end, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_run_replicates, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cli, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
