/* Results folders (issue 12 items 7 and 9): a run's files go in whole, and one live run
 * at a time writes a folder.
 *
 *   resdir_replace()  writes a run's files into the temporary folder DIR.tmp.PID beside
 *                     DIR (DIR's parent: the same file system), then swaps it in with one
 *                     renameat2(RENAME_EXCHANGE) when DIR exists (a reader sees the old
 *                     run or the new one, never a mix), or one rename() when it does not,
 *                     and removes the old tree.  What in DIR is not a result (a sweep's
 *                     stderr.log, a user's notes) is moved into the new tree first, so it
 *                     stays; the results of the old run (stats.json, config.ini,
 *                     config.hash, timing.json, series/, partial/) go with the old tree.
 *                     Any failure before the swap removes the temporary and leaves DIR as
 *                     it was.
 *   resdir_lock()     takes DIR's lock: flock() on DIR's parent/.NAME.lock, which holds the
 *                     PID of the run that has it.  Beside DIR, not in it, because DIR is
 *                     swapped: a lock file inside would leave with the old tree, and a second
 *                     run would lock another inode.  The holder removes the file when done
 *                     (a taker checks that the file it locked is still the one at the path).
 *                     Held, it removes what a killed run into DIR left (DIR.tmp.N beside DIR,
 *                     partial.tmp.N in it): no live run can own them.
 */
#ifndef EPTSIM_SIM_RESDIR_H
#define EPTSIM_SIM_RESDIR_H

#include <limits.h>
#include <stddef.h>

struct resdir_lock {
	int fd;                 /* -1: not held */
	char path[PATH_MAX];    /* PARENT/.NAME.lock */
	char parent[PATH_MAX];  /* DIR's parent */
	char made[PATH_MAX];    /* the topmost folder made to hold the lock ("" if none): removed
				 * again on unlock if nothing else was written there */
};

/* Fill the temporary folder tmp with a run's files; 0 or -errno.  It may name the file it
 * failed on in resdir_replace()'s err (which it reaches through ctx); if it does not,
 * resdir_replace() names tmp. */
typedef int (*resdir_fill_fn)(const char *tmp, void *ctx);

/* Replace DIR's results by what fill writes (see above).  0 or -errno; err (may be NULL)
 * then says which step failed on which path. */
int resdir_replace(const char *dir, resdir_fill_fn fill, void *ctx, char *err, size_t errlen);

/* Take DIR's lock (creating DIR's parent if needed).  0; -EBUSY when another live process
 * holds it (err names DIR and the holder's PID); another -errno with err set. */
int resdir_lock(const char *dir, struct resdir_lock *lk, char *err, size_t errlen);
/* Give it back: the lock file is removed, and the folders resdir_lock() made if they are
 * still empty.  Does nothing on a lock not held. */
void resdir_unlock(struct resdir_lock *lk);

/* Remove a tree (no symlink followed); 0 or -errno of the first failure. */
int resdir_rmtree(const char *path);

#endif
