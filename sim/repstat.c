/* sim/repstat — mean, sd and the 95% interval of replicates.  See repstat.h. */
#include "sim/repstat.h"

#include <math.h>

/* t(0.975, df) for df = 1..30: NIST/SEMATECH e-Handbook of Statistical Methods, section
 * 1.3.6.7.2, "Critical values of the Student's t distribution" (column 0.975), to 4
 * decimals. */
static const double t975[30] = {
	12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
	2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
	2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
};

double repstat_t975(size_t df)
{
	if (df == 0)
		return NAN;
	if (df <= 30)
		return t975[df - 1];
	/* Abramowitz & Stegun 26.7.5: t = z + g1/df + g2/df^2 + ..., z = 1.959964 the normal
	 * quantile; the first two terms are within 1e-4 of the table from df = 30 on. */
	double z = 1.959963985, z3 = z * z * z, z5 = z3 * z * z, d = (double)df;
	return z + (z3 + z) / (4 * d) + (5 * z5 + 16 * z3 + 3 * z) / (96 * d * d);
}

void repstat_compute(const double *v, size_t n, struct repstat *out)
{
	double sum = 0, ss = 0;

	out->n = n;
	out->mean = out->sd = out->ci95 = NAN;
	if (!n)
		return;
	for (size_t i = 0; i < n; i++)
		sum += v[i];
	out->mean = sum / (double)n;
	if (n < 2)
		return;
	for (size_t i = 0; i < n; i++)   /* two passes: no cancellation for large means */
		ss += (v[i] - out->mean) * (v[i] - out->mean);
	out->sd = sqrt(ss / (double)(n - 1));
	out->ci95 = repstat_t975(n - 1) * out->sd / sqrt((double)n);
}
