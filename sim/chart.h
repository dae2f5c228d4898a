/* sim/chart — the figures that read any run or sweep (`eptsim plot --kind
 * sweep|cdf|stalls|timeline`), beside sim/plot's figures of one scenario each.
 *
 * chart_sweep(): a stat against a swept parameter, from a sweep folder's summary.csv
 * (sim/summary).  x, y and by are column names (an axis may be named by its key or its
 * short name).  One line per value of `by` (default: the first non-numeric axis other than
 * x that has several values; none: one line); `where` lines ("key=V|V", as sweep filters)
 * keep only matching runs; every other axis that still has several values makes panels,
 * one per combination (at most CHART_MAX_PANELS), side by side; each y is a row of panels
 * sharing its y range.  x is numeric when every value is (K/M/G/T sizes included; tics
 * show the values as written), drawn on a log2 axis when the values are three or more
 * powers of two, else linear (numeric) or categorical in axis order.  A stat in cycles is
 * drawn in µs, or in ms when its largest value reaches 1000 µs (config.cpu.freq_mhz of each
 * run), other units as stat_info names them ("events" shown as "count"); y is logarithmic
 * when every value is positive and they span two decades.  Empty cells are left out; a
 * panel without a point says so.
 *
 * chart_cdf(): the distribution of a histogram stat (default mmu_lock.wait_cycles), one
 * line per run, from stats.json's buckets: the CDF (left) and its tail, the share of
 * samples above x on a log axis (right), x in µs on a log axis.  The key gives each run's
 * sample count, p99 and max.
 *
 * chart_stalls(): where the vCPUs' time went, one horizontal bar per run: the cycles of
 * every vCPU summed (vcpu.N.cycles.*) and split into walk, exit, lock_wait, request and idle
 * as shares of all vCPU cycles, stacked, with the total non-guest share at the end of each
 * bar (guest time is the rest).
 *
 * chart_timeline(): who held mmu_lock when, in one run (series/lock_timeline.dat, written
 * with output.lock_timeline = true): one row per vCPU and one for the VMM thread, a bar per
 * hold (the VMM thread's in vermillion, the vCPUs' in blue) and a thin grey bar for the wait
 * before it (waits shorter than a pixel left out).  Two panels: the whole run at pixel
 * resolution (holds at least a pixel wide, a row's holds less than a pixel apart drawn as
 * one bar) and a zoom, by default on the VMM thread's longest hold and the VMM holds close
 * to it (a zap-all and its lock-breaks), or on [from_ms, to_ms].
 *
 * cdf and stalls take run folders (holding stats.json) and sweep folders (holding
 * sweep.json: every run of summary.csv, filtered by `where`); a sweep's runs are labelled by
 * the axes that vary among those drawn ("zap_all=fast-v7, vcpus=4").
 *
 * Every figure: PNG or SVG by out's extension, a title (opts.title replaces it), axis
 * labels with units, a key; drawn by gnuplot through sim/gnuplot (out whole or untouched;
 * opts.keep: the script and its data files are also copied there, and `gnuplot plot.gp`
 * in that folder draws the figure again).  Returns 0, or a negative errno with a one-line
 * message in err: -EINVAL for bad input (unknown column, no such stat, nothing to draw),
 * -ENOENT for a missing folder or file.
 */
#ifndef EPTSIM_SIM_CHART_H
#define EPTSIM_SIM_CHART_H

#include <stddef.h>

#define CHART_MAX_Y	  8
#define CHART_MAX_WHERE	  16
#define CHART_MAX_PANELS  12	/* panels per row of a sweep figure */
#define CHART_MAX_RUNS	  200	/* runs in a cdf or stalls figure */

struct chart_opts {
	const char *x, *by;			/* sweep */
	const char *y[CHART_MAX_Y];		/* sweep: columns; cdf: y[0] the histogram */
	int ny;
	const char *where[CHART_MAX_WHERE];	/* "key=V|V": sweep, and sweep folders */
	int nwhere;
	double from_ms, to_ms;			/* timeline zoom; NAN: automatic */
	const char *title;			/* NULL: the figure's own */
	const char *keep;			/* NULL, or a folder for the script and data */
};

void chart_opts_init(struct chart_opts *o);

int chart_sweep(const char *dir, const struct chart_opts *o, const char *out, char *err,
		size_t errlen);
int chart_cdf(const char *const *dirs, int ndirs, const struct chart_opts *o, const char *out,
	      char *err, size_t errlen);
int chart_stalls(const char *const *dirs, int ndirs, const struct chart_opts *o,
		 const char *out, char *err, size_t errlen);
int chart_timeline(const char *dir, const struct chart_opts *o, const char *out, char *err,
		   size_t errlen);

#endif /* EPTSIM_SIM_CHART_H */
