// SPDX-License-Identifier: GPL-2.0
/* sim/gnuplot — what every figure of `eptsim plot` and `eptsim report` shares.  See
 * gnuplot.h for the contract.
 *
 * gnuplot runs in the private temporary directory (posix_spawnp with a chdir, so a missing
 * gnuplot is a plain ENOENT and scripts may name their data files relatively), its output
 * goes to gnuplot.log there, and the image it drew is copied to the destination via a
 * temporary name and rename().  The temporary directory is always removed.
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

#include "sim/gnuplot.h"
#include "sim/stats.h"

extern char **environ;

/* Okabe-Ito: tells runs apart for colour-blind readers too. */
const char *const gp_color[GP_NCOLOR] = {
	"#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000",
};

void gp_err(char *err, size_t errlen, const char *fmt, ...)
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
void gp_basename(const char *path, char *buf, size_t len)
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
void gp_sanitize(char *s)
{
	for (; *s; s++)
		if (*s == '"' || *s == '\'' || *s == '\\' || (unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '_';
}

bool gp_has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n > m && !strcasecmp(s + n - m, suffix);
}

/* A tic step of 1, 2 or 5 times a power of ten giving at most about nticks tics. */
double gp_nice_step(double range, int nticks)
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

/* The script's head: encoding, a PNG (pngcairo) or SVG terminal of w x h, the output. */
void gp_terminal(FILE *f, const char *kind, bool png, int w, int h, const char *img)
{
	fprintf(f, "# eptsim plot%s — generated, gnuplot 5\n"
		   "set encoding utf8\n", kind);
	if (png)
		fprintf(f, "set terminal pngcairo size %d,%d font 'sans,10' noenhanced\n", w, h);
	else
		fprintf(f, "set terminal svg size %d,%d dynamic font 'sans,10' noenhanced "
			   "background rgb 'white'\n", w, h);
	fprintf(f, "set output '%s'\n", img);
}

FILE *gp_create(const char *tmp, const char *name, char *path, size_t len,
		char *err, size_t errlen, int *ret)
{
	FILE *f;

	snprintf(path, len, "%s/%s", tmp, name);
	f = fopen(path, "w");
	if (!f) {
		*ret = -errno;
		gp_err(err, errlen, "%s: %s", path, strerror(-*ret));
	}
	return f;
}

int gp_close(FILE *f, const char *path, char *err, size_t errlen)
{
	int bad = ferror(f);

	if (fclose(f) || bad) {
		gp_err(err, errlen, "%s: write error", path);
		return -EIO;
	}
	return 0;
}

/* The last non-empty line gnuplot wrote: its error message. */
static void gp_last_line(const char *log, char *buf, size_t len)
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

static int gp_gnuplot(const char *tmp, char *err, size_t errlen)
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
	if (!ret)	/* scripts may name their data files relatively */
		ret = posix_spawn_file_actions_addchdir_np(&fa, tmp);
	if (!ret)
		ret = posix_spawnp(&pid, "gnuplot", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (ret == ENOENT) {
		gp_err(err, errlen, "gnuplot not found: install gnuplot-nox (make deps)");
		return -ENOENT;
	}
	if (ret) {
		gp_err(err, errlen, "cannot run gnuplot: %s", strerror(ret));
		return -ret;
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			ret = -errno;
			gp_err(err, errlen, "waiting for gnuplot: %s", strerror(errno));
			return ret;
		}
	}
	if (WIFSIGNALED(status)) {
		gp_err(err, errlen, "gnuplot killed by signal %d", WTERMSIG(status));
		return -EIO;
	}
	if (WEXITSTATUS(status)) {
		gp_last_line(log, last, sizeof(last));
		gp_err(err, errlen, "gnuplot failed (exit %d): %s", WEXITSTATUS(status),
			 last[0] ? last : "no message");
		return -EIO;
	}
	return 0;
}

/* Copy src to dst through "dst.tmp.PID" and rename(), so dst is whole or untouched. */
int gp_install(const char *src, const char *dst, char *err, size_t errlen)
{
	char tmp[PATH_MAX], buf[65536];
	int in, outfd, ret = 0;
	ssize_t n;
	struct stat st;

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0 || fstat(in, &st) || !st.st_size) {
		if (in >= 0)
			close(in);
		gp_err(err, errlen, "gnuplot wrote no image");
		return -EIO;
	}
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", dst, (int)getpid()) >= (int)sizeof(tmp)) {
		close(in);
		gp_err(err, errlen, "%s: path too long", dst);
		return -ENAMETOOLONG;
	}
	outfd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (outfd < 0) {
		ret = -errno;
		close(in);
		gp_err(err, errlen, "%s: %s", dst, strerror(-ret));
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
		gp_err(err, errlen, "%s: %s", dst, strerror(-ret));
	}
	return ret;
}

/* Remove the (flat) temporary directory and everything in it. */
static void gp_rmtree(const char *dir)
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
int gp_check_args(const char *const *dirs, int ndirs, const char *out, bool *png,
		  char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (!dirs || ndirs < 1) {
		gp_err(err, errlen, "no result folder given");
		return -EINVAL;
	}
	if (!out || !(gp_has_suffix(out, ".png") || gp_has_suffix(out, ".svg"))) {
		gp_err(err, errlen, "output must end in .png or .svg");
		return -EINVAL;
	}
	for (int i = 0; i < ndirs; i++)
		if (!dirs[i]) {
			gp_err(err, errlen, "result folder %d is NULL", i);
			return -EINVAL;
		}
	*png = gp_has_suffix(out, ".png");
	return 0;
}

/* A private directory for data, script and image: $TMPDIR (or /tmp)/eptsim-plot-XXXXXX.
 * img gets the path gnuplot draws to. */
int gp_mktmp(char *tmp, size_t len, char *img, size_t imglen, bool png,
	     char *err, size_t errlen)
{
	const char *tmpdir = getenv("TMPDIR");
	int ret;

	if (!tmpdir || !*tmpdir)
		tmpdir = "/tmp";
	/* leave room for the file names inside */
	if (snprintf(tmp, len, "%s/eptsim-plot-XXXXXX", tmpdir) >= (int)len - 32) {
		gp_err(err, errlen, "%s: TMPDIR path too long", tmpdir);
		return -ENAMETOOLONG;
	}
	if (!mkdtemp(tmp)) {
		ret = -errno;
		gp_err(err, errlen, "%s: %s", tmp, strerror(-ret));
		return ret;
	}
	snprintf(img, imglen, "%s/plot.%s", tmp, png ? "png" : "svg");
	return 0;
}

/* Copy every file gnuplot read (the script and its data, not the image or the log) into
 * keep, created if need be. */
static int gp_keep(const char *tmp, const char *keep, char *err, size_t errlen)
{
	char src[PATH_MAX], dst[PATH_MAX];
	struct dirent *de;
	int ret = 0;
	DIR *d;

	if ((ret = stats_mkdir_p(keep))) {	/* mkdir -p, as the --script-dir check assumes */
		gp_err(err, errlen, "%s: %s", keep, strerror(-ret));
		return ret;
	}
	d = opendir(tmp);
	if (!d) {
		ret = -errno;
		gp_err(err, errlen, "%s: %s", tmp, strerror(-ret));
		return ret;
	}
	while (!ret && (de = readdir(d))) {
		if (!gp_has_suffix(de->d_name, ".gp") && !gp_has_suffix(de->d_name, ".dat"))
			continue;
		snprintf(src, sizeof(src), "%s/%s", tmp, de->d_name);
		if (snprintf(dst, sizeof(dst), "%s/%s", keep, de->d_name) >= (int)sizeof(dst)) {
			gp_err(err, errlen, "%s: path too long", keep);
			ret = -ENAMETOOLONG;
			break;
		}
		ret = gp_install(src, dst, err, errlen);
	}
	closedir(d);
	return ret;
}

/* Run the script tmp/plot.gp and copy the image to out (and, with keep, the script and its
 * data files into keep); tmp is removed either way. */
int gp_finish(const char *tmp, const char *img, const char *out, const char *keep, int ret,
	      char *err, size_t errlen)
{
	if (!ret && keep)
		ret = gp_keep(tmp, keep, err, errlen);
	if (!ret)
		ret = gp_gnuplot(tmp, err, errlen);
	if (!ret)
		ret = gp_install(img, out, err, errlen);
	gp_rmtree(tmp);
	return ret;
}
