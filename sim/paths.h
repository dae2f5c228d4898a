/* sim/paths — the one mechanism for the paths eptsim writes to and the results files it
 * reads back.
 *
 * Writing: every command that writes (run --out, sweep --out and --collect, plot --out and
 * --script-dir, report DIR, trace convert/import/merge OUT, workload --out) checks its output
 * path with path_check_output() before any work: not empty, no control character (the path
 * goes into jobs.txt, sweep.sbatch, gnuplot scripts and logs, which are line-based: a newline
 * would start a command of its own), and writable now (its nearest existing folder is a
 * folder this process may write to, on a file system that is not read-only or full).  A disk
 * that fills during the run is reported by the writers through struct wfile, which keeps the
 * errno of the first failed write (ENOSPC, EIO, EDQUOT) instead of stdio's sticky error flag.
 *
 * Reading: a results file (stats.json, sweep.json, summary.csv, series) is opened only when
 * it is a regular file (O_NONBLOCK, then fstat), so a FIFO or a device in a results folder
 * is an error naming it, never a read that waits forever.
 */
#ifndef EPTSIM_SIM_PATHS_H
#define EPTSIM_SIM_PATHS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <jansson.h>

/* The first control character of s (C0 or DEL), or NULL. */
/* Write "fmt..." into err (when err is not NULL) and return r: the error helper of the
 * path checks and of sim/resdir.c. */
int path_errf(char *err, size_t errlen, int r, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
const char *path_control_char(const char *s);

/* The path's text alone: not empty, no control character.  0, or -EINVAL with err =
 * "OPT: empty path" / "OPT 'x\ny': control character 0x0a in the path ...". */
int path_check_name(const char *path, const char *opt, char *err, size_t errlen);

enum path_kind {
	PATH_DIR,	/* a folder, created (mkdir -p) when missing */
	PATH_FILE,	/* a file written to a temporary name and renamed; its folder must exist */
};
/* path_check_name(), then: an existing path is a folder (PATH_DIR) or a regular file
 * (PATH_FILE); the folder that will hold it (the path itself, or its nearest existing
 * ancestor for a PATH_DIR to be created, its parent for a PATH_FILE) is a folder this
 * process can write to (access(W_OK|X_OK): EACCES, EROFS) with free blocks and inodes
 * (statvfs: ENOSPC).  Creates nothing.  0, or -errno with err naming OPT and the path. */
int path_check_output(const char *path, enum path_kind kind, const char *opt, char *err, size_t errlen);

/* A file being written, reporting the errno of the first failed write(2). */
struct wfile {
	FILE *f;	/* write through this */
	int fd;
	int err;	/* first write error (positive errno), 0 while all went well */
};
/* Create (truncate) path for writing.  0 or -errno. */
int wfile_open(struct wfile *w, const char *path);
/* Flush and close.  0, or -errno of the first failed write, flush or close. */
int wfile_close(struct wfile *w);

/* Open path for reading only if it is a regular file.  NULL with *ret = -errno (-ENOENT,
 * -EACCES...; -EISDIR for a folder, -EINVAL for a FIFO, device or socket) and err =
 * "PATH: why". */
FILE *path_open_regular(const char *path, int *ret, char *err, size_t errlen);
/* path_open_regular() + json_loadf().  NULL with *ret as above, or -EBADMSG and err =
 * "PATH: invalid JSON at line N: what" for a file that does not parse. */
json_t *path_load_json(const char *path, int *ret, char *err, size_t errlen);

#endif
