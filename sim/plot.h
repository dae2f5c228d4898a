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
 *
 * plot_mmio() (`eptsim plot --kind mmio`) compares the two MMIO-spte invalidation variants
 * (config.mmu.mmio_invalidate: zap-walk, generation) as the guest grows: one line per
 * variant over x = ept.shadow_pages_end, each point labelled with config.guest.mem in GiB,
 * in three panels side by side:
 *
 *   1. mean mmu_lock hold per invalidation (mmio.invalidate_hold_cycles, µs; 0 for a run
 *      without invalidations).  Log y only when every value is positive and they span more
 *      than a decade; otherwise linear, and a variant that is 0 throughout says so in the key;
 *   2. vCPU stall behind mmu_lock: vcpu.N.cycles.lock_wait summed over every vCPU, ms;
 *   3. slow-path MMIO refaults (mmio.slow).
 *
 * Cycles become time with config.cpu.freq_mhz.  A run without the MMIO stats (an older
 * eptsim) is -EINVAL "DIR: no MMIO stats (...)".  Temporary files and output as above.
 *
 * plot_collapse() (`eptsim plot --kind collapse`) is the timeline of a cancelled migration:
 * one line per run, labelled by config.mmu.collapse (none, lazy-zap, in-place; duplicates
 * get the folder name as above) and drawn in that order, in two panels stacked on a shared
 * time axis (ms), 1600x900:
 *
 *   1. large-page coverage: series/series.ept.large_coverage.dat, in % (0-100);
 *   2. vCPU throughput: series/series.vcpu.records.dat over config.output.sample_us, in
 *      M records/s; a noisy series (many samples, median step above 0.3% of its top) is
 *      drawn as a 10-sample running mean, and the axis label says so.
 *
 * config.events (dirty_slot, dirty_start_ms, dirty_round_ms, dirty_rounds) gives the
 * dirty-logging band [start, start + rounds * round] (light grey, "dirty logging" in the
 * key), a dotted line per KVM_GET_DIRTY_LOG round and the phase names "before", "during
 * (dirty logging)" and "after" at the top of panel 1; every run must share the schedule.
 * Missing series are -EINVAL "DIR: no series/<name>.dat (run with output.series = true)";
 * a missing stats.json, bad JSON and the output as above.
 */
#ifndef EPTSIM_SIM_PLOT_H
#define EPTSIM_SIM_PLOT_H

#include <stddef.h>

/* Draw the comparison plot of one or more result folders (each holds a stats.json).  out
 * ends in .png (pngcairo) or .svg (svg terminal).  Returns 0, or -errno / -EINVAL with a
 * one-line message in err. */
int plot_runs(const char *const *dirs, int ndirs, const char *out, char *err, size_t errlen);

/* Draw the MMIO-invalidation comparison of result folders (see above); same conventions
 * as plot_runs(). */
int plot_mmio(const char *const *dirs, int ndirs, const char *out, char *err, size_t errlen);

/* Draw the cancelled-migration timeline of result folders (see above); same conventions
 * as plot_runs(). */
int plot_collapse(const char *const *dirs, int ndirs, const char *out, char *err,
		  size_t errlen);

#endif /* EPTSIM_SIM_PLOT_H */
