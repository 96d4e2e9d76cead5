/*
 * Description: log-linear histogram after HdrHistogram's layout. Bucket 0
 * holds values 0..2047 exactly; bucket b >= 1 holds [1024 << b, 2048 << b)
 * in 1024 sub-buckets of width 1 << b, so the relative width never exceeds
 * 1/1024 (< 0.1%).
 */
#include "bench/loadgen/hist.h"

#include <math.h>
#include <string.h>

static unsigned hist_index(uint64_t v)
{
	unsigned b, sub;

	if (v > HIST_MAX_NS)
		v = HIST_MAX_NS;
	/* 64 - clz(v | mask) is the bit length; bucket 0 covers 11 bits. */
	b = 64u - (unsigned)__builtin_clzll(v | ((1u << HIST_SUB_BITS) - 1)) - HIST_SUB_BITS;
	sub = (unsigned)(v >> b);
	return ((b + 1) << (HIST_SUB_BITS - 1)) + (sub - HIST_SUB_HALF);
}

/* The highest value that lands in counts[i]. */
static uint64_t hist_index_high(unsigned i)
{
	unsigned b = i >> (HIST_SUB_BITS - 1);
	unsigned sub = i & (HIST_SUB_HALF - 1);

	if (b == 0)
		return sub; /* bucket 0 first half: exact */
	b -= 1;
	return ((uint64_t)(sub + HIST_SUB_HALF) << b) + ((1ull << b) - 1);
}

void hist_reset(struct hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

void hist_record(struct hist *h, uint64_t ns)
{
	double d = (double)ns;

	h->counts[hist_index(ns)]++;
	h->total++;
	if (ns < h->min)
		h->min = ns;
	if (ns > h->max)
		h->max = ns;
	h->sum += d;
	h->sumsq += d * d;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
	unsigned i;

	if (!src->total)
		return;
	for (i = 0; i < HIST_COUNTS; i++)
		dst->counts[i] += src->counts[i];
	dst->total += src->total;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	dst->sum += src->sum;
	dst->sumsq += src->sumsq;
}

uint64_t hist_percentile(const struct hist *h, double p)
{
	uint64_t want, seen = 0, v;
	unsigned i;

	if (!h->total)
		return 0;
	if (p >= 100.0)
		return h->max;
	want = (uint64_t)ceil(p / 100.0 * (double)h->total);
	if (want < 1)
		want = 1;
	for (i = 0; i < HIST_COUNTS; i++) {
		seen += h->counts[i];
		if (seen >= want) {
			v = hist_index_high(i);
			if (v > h->max)
				v = h->max;
			if (v < h->min)
				v = h->min;
			return v;
		}
	}
	return h->max;
}

double hist_mean(const struct hist *h)
{
	return h->total ? h->sum / (double)h->total : 0.0;
}

double hist_stdev(const struct hist *h)
{
	double m, var;

	if (h->total < 2)
		return 0.0;
	m = hist_mean(h);
	var = h->sumsq / (double)h->total - m * m;
	return var > 0 ? sqrt(var) : 0.0;
}

void hist_summarize(const struct hist *h, struct hist_summary *ret)
{
	ret->count = h->total;
	ret->p50 = (double)hist_percentile(h, 50.0);
	ret->p90 = (double)hist_percentile(h, 90.0);
	ret->p99 = (double)hist_percentile(h, 99.0);
	ret->p999 = (double)hist_percentile(h, 99.9);
	ret->p9999 = (double)hist_percentile(h, 99.99);
	ret->max = (double)h->max;
	ret->mean = hist_mean(h);
	ret->stdev = hist_stdev(h);
}
