/* sim/summary — a sweep folder read back for figures and reports: its axes and runs
 * (DIR/sweep.json, the manifest `eptsim sweep` writes) and its table (DIR/summary.csv, one
 * row per finished run: the axis columns, then every scalar stat; README, "Sweeps").
 *
 * Rows are in summary.csv's order (sweep order); each row is matched to its run in the
 * manifest by its axis values, which gives its folder, DIR/runs/NAME.  Cells are text as
 * summary.csv has them ("" for a stat the run lacks); summary_number() reads one as a
 * number.  Axis values may carry a K/M/G/T size suffix ("512M", "2G"): summary_parse() reads
 * those as bytes, so an axis such as guest.mem is numeric.
 *
 * The first row's stats.json gives what summary.csv does not hold: every stat's unit
 * (stat_info) and the core clock (config.cpu.freq_mhz, unless cpu.freq_mhz is an axis, in
 * which case each row has its own).
 */
#ifndef EPTSIM_SIM_SUMMARY_H
#define EPTSIM_SIM_SUMMARY_H

#include <stdbool.h>
#include <stddef.h>

struct summary;

/* Read DIR/sweep.json and DIR/summary.csv.  0, or -ENOENT / -EINVAL with a one-line
 * message naming the file (and line) in err. */
int summary_load(const char *dir, struct summary **out, char *err, size_t errlen);
void summary_free(struct summary *s);

const char *summary_dir(const struct summary *s);
/* The sweep file's stem ("zap-scaling" for configs/sweeps/zap-scaling.ini), or the folder's
 * basename when the manifest does not name it. */
const char *summary_name(const struct summary *s);

/* From the manifest: the sweep file and base config (NULL when absent), and how many runs
 * the sweep has (summary.csv holds the finished ones). */
const char *summary_sweep_file(const struct summary *s);
const char *summary_base(const struct summary *s);
size_t summary_nr_runs(const struct summary *s);

size_t summary_nr_axes(const struct summary *s);
const char *summary_axis_key(const struct summary *s, size_t axis);    /* "guest.vcpus" */
const char *summary_axis_name(const struct summary *s, size_t axis);   /* "vcpus" */
size_t summary_axis_nr_values(const struct summary *s, size_t axis);
const char *summary_axis_value(const struct summary *s, size_t axis, size_t i);
/* Every value of the axis is a number (summary_parse). */
bool summary_axis_numeric(const struct summary *s, size_t axis);
/* The axis of the sweep's seeds = line (replicates: "seeds": true in the manifest), or -1. */
int summary_seed_axis(const struct summary *s);
/* The axis whose key or name is name, or -1. */
int summary_axis_find(const struct summary *s, const char *name);

size_t summary_nr_rows(const struct summary *s);
size_t summary_nr_columns(const struct summary *s);
const char *summary_column_name(const struct summary *s, size_t col);
/* The column named name (an axis may also be named by its short name), or -1. */
int summary_column(const struct summary *s, const char *name);
const char *summary_cell(const struct summary *s, size_t row, size_t col);
/* The cell as a number; false when it is empty or not a number. */
bool summary_number(const struct summary *s, size_t row, size_t col, double *v);
/* The row's run name (its folder under DIR/runs/) and the value of axis in it. */
const char *summary_row_name(const struct summary *s, size_t row);
const char *summary_row_value(const struct summary *s, size_t row, size_t axis);

/* The stat a column comes from ("zap.lock_breaks" for zap.lock_breaks.mean), its unit from
 * stat_info ("cycles", "events", ...; "samples" for a histogram's .count, "occurrences" for
 * an array's .n; NULL when unknown, e.g. an axis column). */
const char *summary_column_unit(const struct summary *s, size_t col);
/* cpu.freq_mhz of the row's run. */
double summary_freq_mhz(const struct summary *s, size_t row);

/* A number with an optional K/M/G/T suffix (binary: 1K = 1024).  false if text is not one. */
bool summary_parse(const char *text, double *v);

#endif /* EPTSIM_SIM_SUMMARY_H */
