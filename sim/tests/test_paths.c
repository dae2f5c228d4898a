/* Tests for sim/paths: the output path check (empty, control characters, a file where a
 * folder goes, a folder where a file goes, a path through a file, a missing parent; nothing
 * created), the writers' errno (a write to /dev/full is ENOSPC, not EIO, through
 * write_text_atomic(), write_json_atomic() and the series writer), and reads that open only
 * regular files (a FIFO is an error at once, not a read that waits for a writer). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim/paths.h"
#include "sim/sim.h"
#include "sim/stats.h"
#include "sim/tests/test_util.h"

struct fx {
	char dir[64];
	char err[PATH_MAX + 512];
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/eptsim-test-paths-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	*state = f;
	/* a read that blocks (the bug: a FIFO opened for reading waits for a writer) fails
	 * the test instead of hanging it */
	alarm(20);
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	alarm(0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	int r = system(cmd);
	free(f);
	return r;
}

static const char *in(struct fx *f, const char *name)
{
	static char buf[4][PATH_MAX];
	static int k;
	char *p = buf[k++ % 4];

	snprintf(p, PATH_MAX, "%s/%s", f->dir, name);
	return p;
}

/* path_check_output() refuses with r and a message containing want. */
static void check_bad(struct fx *f, const char *path, enum path_kind kind, int r, const char *want)
{
	f->err[0] = '\0';
	assert_int_equal(path_check_output(path, kind, "--out", f->err, sizeof(f->err)), r);
	tu_assert_contains(f->err, want);
}

static void test_check_name(void **state)
{
	struct fx *f = *state;

	check_bad(f, "", PATH_DIR, -EINVAL, "--out: empty path");
	check_bad(f, "", PATH_FILE, -EINVAL, "--out: empty path");
	check_bad(f, "x\ntouch INJECTED #", PATH_DIR, -EINVAL, "--out 'x\\x0atouch INJECTED #': control character 0x0a");
	check_bad(f, "a\rb", PATH_FILE, -EINVAL, "control character 0x0d");
	check_bad(f, "a\tb", PATH_DIR, -EINVAL, "control character 0x09");
	check_bad(f, "a\x7f", PATH_DIR, -EINVAL, "control character 0x7f");
	assert_int_equal(path_check_name("we ird %d 'q' $HOME `x` #h", "--out", f->err, sizeof(f->err)), 0);
	assert_null(path_control_char("é and spaces"));
	assert_non_null(path_control_char("a\x1b[31m"));
}

static void test_check_output(void **state)
{
	struct fx *f = *state;
	struct stat st;

	tu_write_text(in(f, "afile"), "x");
	assert_int_equal(mkdir(in(f, "adir"), 0777), 0);
	assert_int_equal(mkfifo(in(f, "fifo"), 0666), 0);
	/* a folder output: a file there, or a path through a file */
	check_bad(f, in(f, "afile"), PATH_DIR, -ENOTDIR, "afile: exists and is a regular file, not a folder");
	check_bad(f, in(f, "afile/sub/deeper"), PATH_DIR, -ENOTDIR, "Not a directory");
	check_bad(f, in(f, "fifo"), PATH_DIR, -ENOTDIR, "exists and is a FIFO, not a folder");
	/* a file output: a folder or a FIFO there, a missing or non-folder parent */
	check_bad(f, in(f, "adir"), PATH_FILE, -EISDIR, "adir: exists and is a folder, not a regular file");
	check_bad(f, in(f, "fifo"), PATH_FILE, -EINVAL, "fifo: exists and is a FIFO, not a regular file");
	check_bad(f, in(f, "nodir/x.gz"), PATH_FILE, -ENOENT, "nodir: No such file or directory");
	check_bad(f, in(f, "afile/x.gz"), PATH_FILE, -ENOTDIR, "Not a directory");
	/* good ones; the check creates nothing */
	assert_int_equal(path_check_output(in(f, "adir"), PATH_DIR, "--out", f->err, sizeof(f->err)), 0);
	assert_int_equal(path_check_output(in(f, "new/a/b"), PATH_DIR, "--out", f->err, sizeof(f->err)), 0);
	assert_int_not_equal(stat(in(f, "new"), &st), 0);
	assert_int_equal(path_check_output(in(f, "afile"), PATH_FILE, "--out", f->err, sizeof(f->err)), 0);
	assert_int_equal(path_check_output(in(f, "adir/t.gz"), PATH_FILE, "--out", f->err, sizeof(f->err)), 0);
	assert_int_not_equal(stat(in(f, "adir/t.gz"), &st), 0);
	/* a read-only file system: /proc/sys is mounted read-only in containers, else EACCES
	 * for non-root; either way not writable, unless this process may write there */
	if (access("/proc/sys", W_OK))
		assert_int_not_equal(path_check_output("/proc/sys/eptsim-x", PATH_DIR, "--out", f->err,
						       sizeof(f->err)), 0);
}

/* path.tmp.PID (the writers' temporary name) made a symlink to /dev/full: every write
 * fails with ENOSPC, as on a full disk. */
static void full_tmp(const char *path)
{
	char tmp[PATH_MAX + 32];

	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	assert_int_equal(symlink("/dev/full", tmp), 0);
}

static void lots_of_text(FILE *f, void *ctx)
{
	for (int i = 0; i < 100000; i++)
		fprintf(f, "line %d of a file that does not fit on a full disk\n", i);
}

static void test_write_errno(void **state)
{
	struct fx *f = *state;
	struct wfile w;
	struct stat st;

	/* the errno of the failed write, not a guess */
	assert_int_equal(wfile_open(&w, "/dev/full"), 0);
	fputs("x", w.f);
	assert_int_equal(wfile_close(&w), -ENOSPC);
	assert_int_equal(wfile_open(&w, in(f, "nodir/x")), -ENOENT);

	full_tmp(in(f, "a.txt"));
	assert_int_equal(write_text_atomic(in(f, "a.txt"), lots_of_text, NULL), -ENOSPC);
	assert_int_not_equal(lstat(in(f, "a.txt"), &st), 0);   /* nothing installed, no temporary left */

	json_t *doc = json_pack("{s:s}", "k", "v");
	full_tmp(in(f, "stats.json"));
	assert_int_equal(write_json_atomic(doc, in(f, "stats.json")), -ENOSPC);   /* was -EIO */
	json_decref(doc);
	assert_int_not_equal(lstat(in(f, "stats.json"), &st), 0);

	/* a series (sim/stats' own writer) */
	struct stats *s = stats_new();
	stat_id id;
	struct stat_def def = { .name = "s1", .kind = STAT_SERIES };
	assert_int_equal(stats_register(s, &def, 1, &id), 0);
	stats_series_add(s, id, 1.0, 2.0);
	assert_int_equal(mkdir(in(f, "series"), 0777), 0);
	full_tmp(in(f, "series/s1.dat"));
	assert_int_equal(stats_write_series(s, f->dir), -ENOSPC);
	stats_free(s);
	/* a good write still works */
	assert_int_equal(write_text_atomic(in(f, "b.txt"), lots_of_text, NULL), 0);
	assert_int_equal(stat(in(f, "b.txt"), &st), 0);
	assert_true(st.st_size > 1000000);
}

static void test_read_regular(void **state)
{
	struct fx *f = *state;
	int r = 0;

	assert_int_equal(mkfifo(in(f, "stats.json"), 0666), 0);
	assert_null(path_load_json(in(f, "stats.json"), &r, f->err, sizeof(f->err)));   /* at once */
	assert_int_equal(r, -EINVAL);
	tu_assert_contains(f->err, "stats.json: is a FIFO, not a regular file");
	assert_null(path_open_regular(f->dir, &r, f->err, sizeof(f->err)));
	assert_int_equal(r, -EISDIR);
	assert_null(path_open_regular(in(f, "none"), &r, f->err, sizeof(f->err)));
	assert_int_equal(r, -ENOENT);
	tu_write_text(in(f, "bad.json"), "{\"a\": 1,\n\"b\": }");
	assert_null(path_load_json(in(f, "bad.json"), &r, f->err, sizeof(f->err)));
	assert_int_equal(r, -EBADMSG);
	tu_assert_contains(f->err, "bad.json: invalid JSON at line 2: ");
	tu_write_text(in(f, "good.json"), "{\"a\": 1}");
	json_t *d = path_load_json(in(f, "good.json"), &r, f->err, sizeof(f->err));
	assert_non_null(d);
	assert_int_equal(json_integer_value(json_object_get(d, "a")), 1);
	json_decref(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_check_name, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_check_output, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_write_errno, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_read_regular, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
