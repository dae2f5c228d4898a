/* Temporary files that a SIGINT or SIGTERM must not leave behind (issue 12 item 8).
 *
 * Writers that create "OUT.tmp.PID" and rename it to OUT (trace_create()/trace_finish(),
 * write_text_atomic(), write_json_atomic()) register the temporary here while it exists.
 * A command that may be stopped by a signal in the middle of such a write (trace import,
 * merge, convert, workload) calls tmpfiles_catch_signals(): its handler unlinks every
 * registered temporary (unlink() is async-signal-safe; the table is static and a slot is
 * published by one sig_atomic_t store), then dies of the signal, so the shell sees
 * 128 + the signal.  `run` and `sweep` keep their own flag handler (README, Interrupted
 * runs): they stop between two events and clean up on the normal path. */
#ifndef EPTSIM_SIM_TMPFILES_H
#define EPTSIM_SIM_TMPFILES_H

/* Most temporaries one process has at once (a command writes one output at a time). */
#define TMPFILES_MAX 16

/* Register path (copied).  0, -ENAMETOOLONG (longer than PATH_MAX - 1) or -EMFILE (table full). */
int tmpfiles_add(const char *path);
/* Forget path (after it was renamed or unlinked); a path not registered is ignored. */
void tmpfiles_forget(const char *path);
/* SIGINT and SIGTERM: unlink every registered temporary, then die of the signal. */
void tmpfiles_catch_signals(void);

#endif
