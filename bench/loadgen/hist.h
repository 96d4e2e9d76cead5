/*
 * Description: an HDR-style log-linear latency histogram. Fixed memory,
 * 3 significant digits (every bucket is at most 1/1024 of its value wide),
 * values in nanoseconds from 1 ns to HIST_MAX_NS (100 s); larger values are
 * counted in the top bucket, and the exact maximum is kept aside. Histograms
 * of the same kind merge by adding counts, so each thread records into its
 * own and the main thread merges them at the end.
 */
#ifndef BENCH_LOADGEN_HIST_H
#define BENCH_LOADGEN_HIST_H

#include <stdint.h>

#define HIST_MAX_NS 100000000000ULL /* 100 s */
#define HIST_SUB_BITS 11            /* 2048 sub-buckets: 3 significant digits */
#define HIST_SUB_HALF (1u << (HIST_SUB_BITS - 1))
#define HIST_BUCKETS 27             /* 2048 << 26 > 100 s in ns */
#define HIST_COUNTS ((HIST_BUCKETS + 1) * HIST_SUB_HALF)

struct hist {
	uint64_t total;
	uint64_t min, max; /* exact; min is UINT64_MAX while empty */
	double sum, sumsq; /* for mean and stdev, exact up to rounding */
	uint64_t counts[HIST_COUNTS];
};

/* Summary of a histogram, all in nanoseconds. */
struct hist_summary {
	uint64_t count;
	double p50, p90, p99, p999, p9999, max, mean, stdev;
};

/* Empties h. A struct hist needs no other initialisation or release. */
void hist_reset(struct hist *h);

/* Counts one value of ns nanoseconds. Never allocates, never fails. */
void hist_record(struct hist *h, uint64_t ns);

/* Adds every count of src to dst. */
void hist_merge(struct hist *dst, const struct hist *src);

/*
 * The value at percentile p (0 < p <= 100): the highest value equivalent to
 * the bucket holding the ceil(p/100 * total)-th smallest recorded value,
 * capped at the exact maximum. 0 for an empty histogram.
 */
uint64_t hist_percentile(const struct hist *h, double p);

double hist_mean(const struct hist *h);
double hist_stdev(const struct hist *h);

/* Fills *ret with the percentiles the reports use. */
void hist_summarize(const struct hist *h, struct hist_summary *ret);

#endif
