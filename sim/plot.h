/* sim/plot — the comparison figure of one or more result folders (`eptsim plot`).
 *
 * Each folder holds the stats.json of one run.  Runs are labelled by config.mmu.zap_all;
 * when two runs share a label, each of them gets the folder's basename appended in
 * parentheses.  The figure has three panels side by side:
 *
 *   1. lock-breaks per zap-all call (zap.lock_breaks), clustered bars, one colour per run;
 *   2. remote TLB flushes per zap-all call (zap.flushes), same layout;
 *   3. vCPU time breakdown: one 100% stacked bar per run of the cycles summed over every
 *      vCPU, split into guest, walk, exit, lock_wait and request (idle left out).
 *
 * A run without zap arrays counts as zero zap-all calls; a panel with no zap at all says
 * "no zap-all runs" instead of failing.  The figure is drawn by gnuplot (data and script go
 * to a private mkdtemp() directory under $TMPDIR or /tmp, removed afterwards) and then
 * copied to out, so a failed plot never leaves a half-written image behind.
 */
#ifndef EPTSIM_SIM_PLOT_H
#define EPTSIM_SIM_PLOT_H

#include <stddef.h>

/* Draw the comparison plot of one or more result folders (each holds a stats.json).  out
 * ends in .png (pngcairo) or .svg (svg terminal).  Returns 0, or -errno / -EINVAL with a
 * one-line message in err. */
int plot_runs(const char *const *dirs, int ndirs, const char *out, char *err, size_t errlen);

#endif /* EPTSIM_SIM_PLOT_H */
