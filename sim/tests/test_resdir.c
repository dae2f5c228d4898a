/* sim/resdir: a results folder swapped in whole, and its lock (issue 12 items 7 and 9). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "sim/resdir.h"
#include "sim/tests/test_util.h"

#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fx {
	char top[PATH_MAX];
	char dir[PATH_MAX + 8];
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	snprintf(f->top, sizeof(f->top), "/tmp/eptsim-resdir.XXXXXX");
	if (!mkdtemp(f->top))
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/D", f->top);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	resdir_rmtree(f->top);
	free(f);
	return 0;
}

static void put(const char *dir, const char *name, const char *text)
{
	char p[PATH_MAX * 2];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	tu_write_text(p, text);
}

static char *get(const char *dir, const char *name)
{
	char p[PATH_MAX * 2];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return tu_slurp(p, NULL);
}

static bool exists(const char *dir, const char *name)
{
	char p[PATH_MAX * 2];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return !lstat(p, &st);
}

/* The entries of dir, sorted, space-separated (static buffer). */
static const char *listing(const char *dir)
{
	static char out[4096];
	struct dirent **v;
	int n = scandir(dir, &v, NULL, alphasort);
	size_t len = 0;

	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		if (strcmp(v[i]->d_name, ".") && strcmp(v[i]->d_name, ".."))
			len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%s", len ? " " : "",
						v[i]->d_name);
		free(v[i]);
	}
	if (n >= 0)
		free(v);
	return out;
}

/* A run's files; with fail_after, an error after that many files (the disk filled up). */
struct run { const char *tag; int fail_after; };

static int fill(const char *tmp, void *ctx)
{
	const struct run *r = ctx;
	static const char *const names[] = { "config.ini", "config.hash", "stats.json" };
	char series[PATH_MAX];

	snprintf(series, sizeof(series), "%s/series", tmp);
	if (mkdir(series, 0777))
		return -errno;
	put(series, "a.dat", r->tag);
	for (int i = 0; i < 3; i++) {
		if (r->fail_after == i + 1)
			return -ENOSPC;
		put(tmp, names[i], r->tag);
	}
	return 0;
}

static void test_replace(void **state)
{
	struct fx *f = *state;
	struct run one = { "one", 0 }, two = { "two", 0 }, bad = { "bad", 2 };
	char err[512] = "", *t;

	/* no DIR yet: one rename */
	assert_int_equal(resdir_replace(f->dir, fill, &one, err, sizeof(err)), 0);
	assert_string_equal(listing(f->dir), "config.hash config.ini series stats.json");
	assert_string_equal(listing(f->top), "D");
	/* the user's files stay; the old results go, an old writer's temporary and partial/ too */
	put(f->dir, "notes.txt", "mine");
	put(f->dir, "stats.json.tmp.123", "old temporary");
	put(f->dir, "timing.json", "old timing");
	char p[PATH_MAX * 2];
	snprintf(p, sizeof(p), "%s/partial", f->dir);
	assert_int_equal(mkdir(p, 0777), 0);
	put(p, "stats.json", "interrupted");
	snprintf(p, sizeof(p), "%s/series/b.dat", f->dir);
	tu_write_text(p, "a series the new run does not write");
	assert_int_equal(resdir_replace(f->dir, fill, &two, err, sizeof(err)), 0);
	assert_string_equal(listing(f->dir), "config.hash config.ini notes.txt series stats.json");
	snprintf(p, sizeof(p), "%s/series", f->dir);
	assert_string_equal(listing(p), "a.dat");
	assert_string_equal(t = get(f->dir, "stats.json"), "two");
	free(t);
	assert_string_equal(t = get(f->dir, "notes.txt"), "mine");
	free(t);
	assert_string_equal(listing(f->top), "D");

	/* a failure half-way: DIR as it was, the user's file there, no temporary */
	err[0] = '\0';
	assert_int_equal(resdir_replace(f->dir, fill, &bad, err, sizeof(err)), -ENOSPC);
	tu_assert_contains(err, "No space left on device");
	assert_string_equal(listing(f->dir), "config.hash config.ini notes.txt series stats.json");
	assert_string_equal(t = get(f->dir, "config.hash"), "two");
	free(t);
	assert_string_equal(t = get(f->dir, "config.ini"), "two");
	free(t);
	snprintf(p, sizeof(p), "%s/series", f->dir);
	assert_string_equal(t = get(p, "a.dat"), "two");
	free(t);
	assert_string_equal(listing(f->top), "D");

	/* a file where DIR should be: an error, nothing left */
	char file[PATH_MAX + 8];
	snprintf(file, sizeof(file), "%s/F", f->top);
	tu_write_text(file, "x");
	assert_int_equal(resdir_replace(file, fill, &one, err, sizeof(err)), -ENOTDIR);
	assert_string_equal(listing(f->top), "D F");
}

static void test_lock(void **state)
{
	struct fx *f = *state;
	struct resdir_lock a, b;
	char err[512] = "", want[128], deep[PATH_MAX + 16], *t;

	/* what a killed run left: removed by the next one that holds the lock */
	assert_int_equal(mkdir(f->dir, 0777), 0);
	put(f->top, "D.tmp.99999", "stale");
	put(f->dir, "partial.tmp.99998", "stale");
	put(f->top, "D.tmp.notes", "not a temporary");
	assert_int_equal(resdir_lock(f->dir, &a, err, sizeof(err)), 0);
	assert_false(exists(f->top, "D.tmp.99999"));
	assert_false(exists(f->dir, "partial.tmp.99998"));
	assert_true(exists(f->top, "D.tmp.notes"));
	snprintf(want, sizeof(want), "%ld\n", (long)getpid());
	assert_string_equal(t = get(f->top, ".D.lock"), want);
	free(t);

	/* a second taker (another open file description: flock() conflicts) is refused */
	assert_int_equal(resdir_lock(f->dir, &b, err, sizeof(err)), -EBUSY);
	snprintf(want, sizeof(want), "D: in use by another eptsim run (PID %ld; lock file ", (long)getpid());
	tu_assert_contains(err, want);
	assert_true(b.fd < 0);
	resdir_unlock(&a);
	assert_false(exists(f->top, ".D.lock"));
	assert_int_equal(resdir_lock(f->dir, &b, err, sizeof(err)), 0);
	resdir_unlock(&b);

	/* folders made for the lock go again when nothing was written */
	snprintf(deep, sizeof(deep), "%s/x/y/z", f->top);
	assert_int_equal(resdir_lock(deep, &a, err, sizeof(err)), 0);
	assert_true(exists(f->top, "x/y/.z.lock"));
	resdir_unlock(&a);
	assert_false(exists(f->top, "x"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_replace, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_lock, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
