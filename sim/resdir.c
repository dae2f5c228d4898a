/* Results folders: swapped in whole, one live run at a time (see resdir.h). */
#include "sim/resdir.h"
#include "sim/paths.h"
#include "sim/stats.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* What a run writes into its folder.  Everything else in DIR is the user's (or a sweep's
 * stderr.log) and moves into the new tree. */
static const char *const result_names[] = {
	"stats.json", "config.ini", "config.hash", "timing.json", "series", "partial",
};


/* "NAME.tmp.DIGITS" or "NAME.tmp.DIGITS.old": a temporary of NAME made by process DIGITS. */
static bool is_tmp_of(const char *entry, const char *name)
{
	size_t n = strlen(name);
	const char *p;

	if (strncmp(entry, name, n) || strncmp(entry + n, ".tmp.", 5))
		return false;
	p = entry + n + 5;
	if (*p < '0' || *p > '9')
		return false;
	while (*p >= '0' && *p <= '9')
		p++;
	return !*p || !strcmp(p, ".old");
}

/* A result of a run, or an old writer's temporary of one (stats.json.tmp.PID). */
static bool is_result(const char *entry)
{
	for (size_t i = 0; i < sizeof(result_names) / sizeof(result_names[0]); i++)
		if (!strcmp(entry, result_names[i]) || is_tmp_of(entry, result_names[i]))
			return true;
	return false;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path) && errno != ENOENT ? -errno : 0;
}

int resdir_rmtree(const char *path)
{
	struct stat st;

	if (lstat(path, &st))
		return errno == ENOENT ? 0 : -errno;
	int r = nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return r > 0 ? -EIO : r < 0 ? -errno : r;
}

/* DIR as PARENT and NAME.  A DIR that is a symbolic link, or ends in "." or "..", is
 * resolved first (swapping a link would replace the link, not its folder).  Refused: no
 * name at all ("/", ""), and a DIR that holds the current directory (swapping it would
 * leave the caller in the removed old tree). */
static int split(const char *dir, char *parent, char *name, char *err, size_t errlen)
{
	char path[PATH_MAX], *slash, *last, cwd[PATH_MAX];
	size_t n = strlen(dir);
	struct stat st;

	if (n >= sizeof(path))
		return path_errf(err, errlen, -ENAMETOOLONG, "%s: %s", dir, strerror(ENAMETOOLONG));
	memcpy(path, dir, n + 1);
	while (n > 1 && path[n - 1] == '/')
		path[--n] = '\0';
	last = strrchr(path, '/');
	last = last ? last + 1 : path;
	bool dots = !strcmp(last, ".") || !strcmp(last, "..");
	if ((!lstat(path, &st) && S_ISLNK(st.st_mode)) || dots) {
		char real[PATH_MAX];

		if (!realpath(path, real))
			return path_errf(err, errlen, -errno, "%s: %s", dir, strerror(errno));
		snprintf(path, sizeof(path), "%s", real);
	}
	if (!lstat(path, &st) && S_ISDIR(st.st_mode) && getcwd(cwd, sizeof(cwd))) {
		char real[PATH_MAX];
		size_t rl;

		if (realpath(path, real) && (rl = strlen(real), !strncmp(cwd, real, rl)) &&
		    (cwd[rl] == '\0' || cwd[rl] == '/' || rl == 1))
			return path_errf(err, errlen, -EINVAL,
				    "%s: holds the current directory, and a run replaces its results "
				    "folder as a whole: name a folder below it", dir);
	}
	slash = strrchr(path, '/');
	if (strlen(slash ? slash + 1 : path) > NAME_MAX)
		return path_errf(err, errlen, -ENAMETOOLONG, "%s: %s", dir, strerror(ENAMETOOLONG));
	if (!slash) {
		strcpy(parent, ".");
		strcpy(name, path);
	} else {
		strcpy(name, slash + 1);
		if (slash == path)
			strcpy(parent, "/");
		else
			snprintf(parent, PATH_MAX, "%.*s", (int)(slash - path), path);
	}
	if (!*name)
		return path_errf(err, errlen, -EINVAL, "%s: not a folder a run can write", dir);
	return 0;
}

/* Move every entry of from that is not a result into to (the same file system). */
static int move_kept(const char *from, const char *to, char *err, size_t errlen)
{
	DIR *d = opendir(from);
	struct dirent *de;
	int r = 0;

	if (!d)
		return errno == ENOENT ? 0 : path_errf(err, errlen, -errno, "%s: %s", from, strerror(errno));
	while (!r && (errno = 0, de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || is_result(de->d_name))
			continue;
		char src[PATH_MAX + NAME_MAX + 2], dst[PATH_MAX + NAME_MAX + 2];

		snprintf(src, sizeof(src), "%s/%s", from, de->d_name);
		snprintf(dst, sizeof(dst), "%s/%s", to, de->d_name);
		if (rename(src, dst))
			r = path_errf(err, errlen, -errno, "moving %s to %s: %s", src, dst, strerror(errno));
	}
	if (!r && errno)
		r = path_errf(err, errlen, -errno, "%s: %s", from, strerror(errno));
	closedir(d);
	return r;
}

int resdir_replace(const char *dir, resdir_fill_fn fill, void *ctx, char *err, size_t errlen)
{
	char parent[PATH_MAX], name[NAME_MAX + 1], path[PATH_MAX], tmp[PATH_MAX + 32];
	struct stat st;
	int r;

	if (err && errlen)
		err[0] = '\0';   /* fill may name the file it failed on */
	if ((r = split(dir, parent, name, err, errlen)))
		return r;
	if ((r = stats_mkdir_p(parent)))
		return path_errf(err, errlen, r, "%s: %s", parent, strerror(-r));
	snprintf(path, sizeof(path), "%s%s%s", strcmp(parent, ".") ? parent : "",
		 strcmp(parent, ".") ? "/" : "", name);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	resdir_rmtree(tmp);   /* ours by name: an earlier call of this process that died half-way */
	if (mkdir(tmp, 0777))
		return path_errf(err, errlen, -errno, "%s: %s", tmp, strerror(errno));
	if ((r = fill(tmp, ctx))) {
		if (err && errlen && !err[0])   /* fill names the file it failed on, or we name tmp */
			path_errf(err, errlen, r, "%s: %s", tmp, strerror(-r));
		goto drop;
	}
	if (lstat(path, &st)) {
		if (errno != ENOENT) {
			r = path_errf(err, errlen, -errno, "%s: %s", path, strerror(errno));
			goto drop;
		}
		if (rename(tmp, path)) {   /* no DIR yet: one rename puts the whole run there */
			r = path_errf(err, errlen, -errno, "renaming %s to %s: %s", tmp, path, strerror(errno));
			goto drop;
		}
		return 0;
	}
	if (!S_ISDIR(st.st_mode)) {
		r = path_errf(err, errlen, -ENOTDIR, "%s: %s", path, strerror(ENOTDIR));
		goto drop;
	}
	/* the user's files first, so the swap carries them; undone if anything fails */
	if ((r = move_kept(path, tmp, err, errlen)))
		goto undo;
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_EXCHANGE)) {
		char old[sizeof(tmp) + 4];

		if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP) {
			r = path_errf(err, errlen, -errno, "swapping %s and %s: %s", tmp, path, strerror(errno));
			goto undo;
		}
		/* A file system without RENAME_EXCHANGE (NFS): DIR is missing for a moment (a
		 * reader finds no stats.json: not done), never mixed. */
		snprintf(old, sizeof(old), "%s.old", tmp);
		if (rename(path, old)) {
			r = path_errf(err, errlen, -errno, "renaming %s to %s: %s", path, old, strerror(errno));
			goto undo;
		}
		if (rename(tmp, path)) {
			r = path_errf(err, errlen, -errno, "renaming %s to %s: %s", tmp, path, strerror(errno));
			rename(old, path);
			goto undo;
		}
		resdir_rmtree(old);
		return 0;
	}
	resdir_rmtree(tmp);   /* the old run */
	return 0;
undo:
	move_kept(tmp, path, NULL, 0);
drop:
	resdir_rmtree(tmp);
	return r;
}

/* Remove NAME.tmp.N[.old] entries of folder: what a killed run left. */
static void remove_stale(const char *folder, const char *name)
{
	DIR *d = opendir(folder);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char p[PATH_MAX + NAME_MAX + 2];

		if (!is_tmp_of(de->d_name, name))
			continue;
		snprintf(p, sizeof(p), "%s/%s", folder, de->d_name);
		resdir_rmtree(p);
	}
	closedir(d);
}

/* The topmost folder of path that does not exist ("" if path exists). */
static void topmost_missing(const char *path, char *out, size_t len)
{
	char p[PATH_MAX];
	struct stat st;

	*out = '\0';
	snprintf(p, sizeof(p), "%s", path);
	while (lstat(p, &st) && errno == ENOENT) {
		char *slash;

		snprintf(out, len, "%s", p);
		slash = strrchr(p, '/');
		while (slash && slash > p && slash[1] == '\0') {   /* "a/b/" */
			*slash = '\0';
			slash = strrchr(p, '/');
		}
		if (!slash || slash == p)
			break;
		*slash = '\0';
	}
}

/* The folders made for the lock, if nothing else went there (a run that failed on bad
 * input writes nothing): from the parent up to the topmost one made. */
static void remove_made(struct resdir_lock *lk)
{
	char p[PATH_MAX];
	size_t ml = strlen(lk->made);

	if (!ml)
		return;
	snprintf(p, sizeof(p), "%s", lk->parent);
	while (strlen(p) >= ml && !rmdir(p)) {
		char *slash = strrchr(p, '/');

		if (!slash || strlen(p) == ml)
			break;
		*slash = '\0';
	}
	lk->made[0] = '\0';
}

int resdir_lock(const char *dir, struct resdir_lock *lk, char *err, size_t errlen)
{
	char name[NAME_MAX + 1], sub[PATH_MAX + NAME_MAX + 2];
	struct stat a, b;
	int r, fd;

	lk->fd = -1;
	lk->made[0] = '\0';
	if ((r = split(dir, lk->parent, name, err, errlen)))
		return r;
	topmost_missing(lk->parent, lk->made, sizeof(lk->made));
	if ((r = stats_mkdir_p(lk->parent))) {
		path_errf(err, errlen, r, "%s: %s", lk->parent, strerror(-r));
		goto undo;
	}
	if (snprintf(lk->path, sizeof(lk->path), "%s/.%s.lock", lk->parent, name) >= (int)sizeof(lk->path)) {
		r = path_errf(err, errlen, -ENAMETOOLONG, "%s: %s", dir, strerror(ENAMETOOLONG));
		goto undo;
	}
	for (;;) {
		fd = open(lk->path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
		if (fd < 0) {
			r = path_errf(err, errlen, -errno, "%s: cannot create its lock file %s: %s", dir,
				 lk->path, strerror(errno));
			goto undo;
		}
		if (flock(fd, LOCK_EX | LOCK_NB)) {
			int e = errno;
			char pid[32] = "";

			if (e != EWOULDBLOCK) {
				r = path_errf(err, errlen, -e, "%s: %s", lk->path, strerror(e));
			} else {
				if (pread(fd, pid, sizeof(pid) - 1, 0) < 0)
					pid[0] = '\0';
				pid[strcspn(pid, "\n")] = '\0';
				r = path_errf(err, errlen, -EBUSY,
					 "%s: in use by another eptsim run (PID %s; lock file %s)", dir,
					 *pid ? pid : "unknown", lk->path);
			}
			close(fd);
			goto undo;
		}
		/* the holder before us may have removed the file between our open and flock */
		if (!fstat(fd, &a) && !stat(lk->path, &b) && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
			break;
		close(fd);
	}
	lk->fd = fd;
	if (ftruncate(fd, 0) || dprintf(fd, "%ld\n", (long)getpid()) < 0) {
		r = path_errf(err, errlen, -errno, "%s: %s", lk->path, strerror(errno));
		resdir_unlock(lk);
		return r;
	}
	remove_stale(lk->parent, name);
	snprintf(sub, sizeof(sub), "%s/%s", lk->parent, name);
	remove_stale(sub, "partial");
	return 0;
undo:
	remove_made(lk);
	return r;
}

void resdir_unlock(struct resdir_lock *lk)
{
	if (lk->fd < 0)
		return;
	unlink(lk->path);   /* while we hold it: see resdir_lock() */
	close(lk->fd);
	lk->fd = -1;
	remove_made(lk);
}
