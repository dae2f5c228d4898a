/* sim/report — `eptsim report DIR`: a sweep folder's results as one Markdown page,
 * DIR/report.md, with its figures in DIR/plots/.
 *
 * The page has a table of key stats, one row per finished run (summary.csv's rows, in sweep
 * order): the axis values, then
 *
 *   lock-breaks per zap (zap.lock_breaks.mean), remote flushes per zap (zap.flushes.mean),
 *   max and p99 mmu_lock wait in µs (mmu_lock.wait_cycles.max, .p99), EPT faults
 *   (ept.faults), and when present and not all zero: slow-path MMIO refaults (mmio.slow) and
 *   collapse refaults (collapse.refaults);
 *   a sweep that varies mmu.mmio_invalidate adds the mmu_lock hold per MMIO invalidation
 *   (mmio.invalidate_hold_cycles.mean, µs); one that varies mmu.collapse adds the collapse
 *   duration and the recovery time (collapse.duration_cycles.mean, collapse.recover_cycles.mean,
 *   ms) and the collapse's lock-breaks (collapse.lock_breaks);
 *
 * or the columns opts.stats names (a stat in cycles shown in µs).  Whole counts are copied
 * from summary.csv as they are, fractional ones (means) get three significant digits
 * ("%.3g"); times are the cycles over the run's cpu.freq_mhz, with one
 * decimal from 10 on and three significant digits below ("%.1f" / "%.3g"); an empty cell (a
 * run without that stat, e.g. no zap) is "–".
 *
 * Then the figures (PNG, sim/chart), each linked from the page:
 *
 *   - for each numeric axis with several values (or, when there is none, the first axis with
 *     several values): every key stat that has data against it, one line per value of the
 *     first non-numeric axis, a panel per value of the others (plots/STAT-vs-AXIS.png; a
 *     figure that would need more than CHART_MAX_PANELS panels is left out, and the page
 *     says so);
 *   - the vCPU stall breakdown of every run (plots/stalls.png);
 *   - the CDF of mmu_lock waits, one line per value of that first non-numeric axis (or of
 *     the first axis with several values), the other axes at their last value
 *     (plots/cdf-mmu_lock-wait.png);
 *   - when runs wrote series/lock_timeline.dat (output.lock_timeline = true), the mmu_lock
 *     timeline of the one among them with the longest mmu_lock wait (plots/timeline.png).
 *
 * report.md is written atomically, last.  Runs of the sweep not in summary.csv are listed.
 */
#ifndef EPTSIM_SIM_REPORT_H
#define EPTSIM_SIM_REPORT_H

#include <stddef.h>

#define REPORT_MAX_STATS 32

struct report_opts {
	const char *stats[REPORT_MAX_STATS];	/* columns instead of the default list */
	int nstats;
};

struct report_result {
	char path[4200];	/* DIR/report.md */
	size_t rows, runs;	/* finished runs in the table, runs in the sweep */
	int plots;		/* figures written */
	int skipped;		/* figures left out (too many panels) */
};

/* 0, or a negative errno with a one-line message in err (-ENOENT: no sweep.json or
 * summary.csv; -EINVAL: an unknown column in opts; gnuplot's errors as sim/chart's). */
int report_write(const char *dir, const struct report_opts *o, struct report_result *res,
		 char *err, size_t errlen);

#endif /* EPTSIM_SIM_REPORT_H */
