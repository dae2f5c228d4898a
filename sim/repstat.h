/* sim/repstat — summary statistics of replicates: the same point run with different seeds.
 *
 * repstat_compute(): n, the mean, the sample standard deviation (n - 1 in the denominator)
 * and the half-width of the 95% confidence interval of the mean, t(0.975, n - 1) * sd /
 * sqrt(n), Student's t with n - 1 degrees of freedom (repstat_t975()).  With n < 2, sd and
 * ci95 are NAN (one value has no spread); with n = 0 the mean is NAN too.
 *
 * Used by `eptsim sweep` (DIR/summary-replicates.csv, DIR/replicates.json), `eptsim run
 * --replicates` (the same files) and `eptsim plot --kind sweep` (the error bars): one
 * definition of the interval everywhere.
 */
#ifndef EPTSIM_SIM_REPSTAT_H
#define EPTSIM_SIM_REPSTAT_H

#include <stddef.h>

struct repstat {
	size_t n;
	double mean, sd, ci95;
};

/* The 0.975 quantile of Student's t with df degrees of freedom (df >= 1): a table for df
 * 1..30, beyond it the Cornish-Fisher expansion around 1.959964 (error below 1e-4). */
double repstat_t975(size_t df);
void repstat_compute(const double *v, size_t n, struct repstat *out);

#endif /* EPTSIM_SIM_REPSTAT_H */
