/* sim/paths — output path checks, writes that keep their errno, regular-file reads.  See
 * paths.h for the contract. */
#include "sim/paths.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

int path_errf(char *err, size_t errlen, int r, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return r;
}

const char *path_control_char(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return s;
	return NULL;
}

/* A path as it can be shown on one line: control characters as \xNN. */
static void show_path(const char *path, char *out, size_t n)
{
	size_t k = 0;

	for (; *path && k + 5 < n; path++) {
		unsigned char c = (unsigned char)*path;

		if (c < 0x20 || c == 0x7f)
			k += (size_t)snprintf(out + k, n - k, "\\x%02x", c);
		else
			out[k++] = (char)c;
	}
	out[k] = '\0';
}

int path_check_name(const char *path, const char *opt, char *err, size_t errlen)
{
	const char *c;
	char shown[512];

	if (!*path)
		return path_errf(err, errlen, -EINVAL, "%s: empty path", opt);
	if ((c = path_control_char(path))) {
		show_path(path, shown, sizeof(shown));
		return path_errf(err, errlen, -EINVAL, "%s '%s': control character 0x%02x in the path (refused: the "
			    "path goes into line-based scripts and logs)", opt, shown, (unsigned char)*c);
	}
	return 0;
}

static const char *file_type(mode_t m)
{
	return S_ISDIR(m) ? "a folder" : S_ISREG(m) ? "a regular file" : S_ISFIFO(m) ? "a FIFO" :
	       S_ISCHR(m) ? "a character device" : S_ISBLK(m) ? "a block device" :
	       S_ISSOCK(m) ? "a socket" : "not a regular file";
}

/* The folder that will hold path's files: writable, not read-only, not full. */
static int check_folder(const char *dir, const char *path, const char *opt, char *err, size_t errlen)
{
	struct statvfs vfs;

	if (access(dir, W_OK | X_OK))
		return path_errf(err, errlen, -errno, "%s %s: cannot write in %s: %s", opt, path, dir, strerror(errno));
	if (!statvfs(dir, &vfs)) {
		/* root may use the blocks reserved for it */
		bool no_blocks = vfs.f_blocks && (geteuid() ? vfs.f_bavail : vfs.f_bfree) == 0;
		bool no_inodes = vfs.f_files && (geteuid() ? vfs.f_favail : vfs.f_ffree) == 0;

		if (no_blocks || no_inodes)
			return path_errf(err, errlen, -ENOSPC, "%s %s: cannot write in %s: %s", opt, path, dir,
				    strerror(ENOSPC));
	}
	return 0;
}

int path_check_output(const char *path, enum path_kind kind, const char *opt, char *err, size_t errlen)
{
	struct stat st;
	char *copy, *dir;
	int r;

	if ((r = path_check_name(path, opt, err, errlen)))
		return r;
	if (!stat(path, &st)) {
		if (kind == PATH_DIR && !S_ISDIR(st.st_mode))
			return path_errf(err, errlen, -ENOTDIR, "%s %s: exists and is %s, not a folder", opt, path,
				    file_type(st.st_mode));
		if (kind == PATH_FILE && !S_ISREG(st.st_mode))
			return path_errf(err, errlen, S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL,
				    "%s %s: exists and is %s, not a regular file", opt, path, file_type(st.st_mode));
		if (kind == PATH_DIR)
			return check_folder(path, path, opt, err, errlen);
	} else if (errno != ENOENT) {
		return path_errf(err, errlen, -errno, "%s %s: %s", opt, path, strerror(errno));
	}
	/* the parent (PATH_FILE), or the nearest ancestor that exists (PATH_DIR, made with mkdir -p) */
	copy = strdup(path);
	if (!copy)
		return path_errf(err, errlen, -ENOMEM, "%s: out of memory", opt);
	dir = dirname(copy);
	while (kind == PATH_DIR && stat(dir, &st) && errno == ENOENT && strcmp(dir, ".") && strcmp(dir, "/"))
		dir = dirname(dir);
	if (stat(dir, &st))
		r = path_errf(err, errlen, -errno, "%s %s: %s: %s", opt, path, dir, strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		r = path_errf(err, errlen, -ENOTDIR, "%s %s: %s is %s, not a folder", opt, path, dir, file_type(st.st_mode));
	else
		r = check_folder(dir, path, opt, err, errlen);
	free(copy);
	return r;
}

/* ------------------------------------------------------------------ writing */

/* fopencookie's write: all of buf, or -1 with the first errno kept in the wfile. */
static ssize_t wfile_write(void *cookie, const char *buf, size_t n)
{
	struct wfile *w = cookie;
	size_t done = 0;

	if (w->err) {
		errno = w->err;
		return -1;
	}
	while (done < n) {
		ssize_t k = write(w->fd, buf + done, n - done);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			w->err = k < 0 ? errno : EIO;
			errno = w->err;
			return done ? (ssize_t)done : -1;
		}
		done += (size_t)k;
	}
	return (ssize_t)n;
}

static int wfile_cookie_close(void *cookie)
{
	struct wfile *w = cookie;

	if (close(w->fd) && !w->err)
		w->err = errno;
	w->fd = -1;
	return w->err ? -1 : 0;
}

int wfile_open(struct wfile *w, const char *path)
{
	cookie_io_functions_t io = { .write = wfile_write, .close = wfile_cookie_close };

	w->err = 0;
	w->f = NULL;
	w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (w->fd < 0)
		return -errno;
	w->f = fopencookie(w, "w", io);
	if (!w->f) {
		int e = errno;

		close(w->fd);
		return -e;
	}
	return 0;
}

int wfile_close(struct wfile *w)
{
	bool bad = ferror(w->f);

	if (fclose(w->f) && !w->err)
		w->err = errno ? errno : EIO;
	if (bad && !w->err)
		w->err = EIO;	/* an error stdio saw that no write(2) reported */
	w->f = NULL;
	return -w->err;
}

/* ------------------------------------------------------------------ reading */

FILE *path_open_regular(const char *path, int *ret, char *err, size_t errlen)
{
	struct stat st;
	FILE *f;
	int fd;

	/* O_NONBLOCK: opening a FIFO for reading would wait for a writer */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		*ret = path_errf(err, errlen, -errno, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st)) {
		*ret = path_errf(err, errlen, -errno, "%s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		*ret = path_errf(err, errlen, S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL, "%s: is %s, not a regular file",
			    path, file_type(st.st_mode));
		close(fd);
		return NULL;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) || !(f = fdopen(fd, "r"))) {
		*ret = path_errf(err, errlen, -errno, "%s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	return f;
}

json_t *path_load_json(const char *path, int *ret, char *err, size_t errlen)
{
	json_error_t je;
	json_t *doc;
	FILE *f = path_open_regular(path, ret, err, errlen);

	if (!f)
		return NULL;
	doc = json_loadf(f, 0, &je);
	if (!doc) {
		if (ferror(f))
			*ret = path_errf(err, errlen, -EIO, "%s: read error", path);
		else
			*ret = path_errf(err, errlen, -EBADMSG, "%s: invalid JSON at line %d: %s", path, je.line, je.text);
	}
	fclose(f);
	return doc;
}
