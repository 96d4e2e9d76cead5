/*
 * Description: order statistics of timed batches. A busy, shared machine
 * only ever adds time to a batch, so the minimum is the best estimate of
 * the undisturbed cost and the median says how typical it is.
 */
#ifndef SYSCOST_STATS_H
#define SYSCOST_STATS_H

#include <stddef.h>

struct stats_summary {
	size_t n;
	double min, median, max;
	double p10, p90;
};

/* Smallest of n values; NaN when n == 0. Does not modify v. */
double stats_min(const double *v, size_t n);

/*
 * Median of n values (the mean of the two middle ones when n is even);
 * NaN when n == 0. Sorts v in place.
 */
double stats_median(double *v, size_t n);

/*
 * Quantile q in [0, 1] of n values already sorted ascending, by linear
 * interpolation between closest ranks; NaN when n == 0 or q is outside
 * [0, 1].
 */
double stats_quantile_sorted(const double *v, size_t n, double q);

/* Sorts v in place and fills *ret. Returns 0, or -EINVAL when n == 0. */
int stats_summarize(double *v, size_t n, struct stats_summary *ret);

#endif
