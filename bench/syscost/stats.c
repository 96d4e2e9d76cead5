/*
 * Description: min, median and quantiles of batch timings.
 */
#include "bench/syscost/stats.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double stats_min(const double *v, size_t n)
{
	double m;

	if (n == 0)
		return NAN;
	m = v[0];
	for (size_t i = 1; i < n; i++)
		if (v[i] < m)
			m = v[i];
	return m;
}

double stats_quantile_sorted(const double *v, size_t n, double q)
{
	double pos, frac;
	size_t lo;

	if (n == 0 || !(q >= 0.0 && q <= 1.0))
		return NAN;
	pos = q * (double)(n - 1);
	lo = (size_t)pos;
	if (lo >= n - 1)
		return v[n - 1];
	frac = pos - (double)lo;
	return v[lo] + (v[lo + 1] - v[lo]) * frac;
}

double stats_median(double *v, size_t n)
{
	if (n == 0)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_double);
	return stats_quantile_sorted(v, n, 0.5);
}

int stats_summarize(double *v, size_t n, struct stats_summary *ret)
{
	if (n == 0)
		return -EINVAL;
	qsort(v, n, sizeof(*v), cmp_double);
	ret->n = n;
	ret->min = v[0];
	ret->max = v[n - 1];
	ret->median = stats_quantile_sorted(v, n, 0.5);
	ret->p10 = stats_quantile_sorted(v, n, 0.1);
	ret->p90 = stats_quantile_sorted(v, n, 0.9);
	return 0;
}
