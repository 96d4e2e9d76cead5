/*
 * Description: cmocka tests of the histogram: percentiles within 0.1%
 * relative of the exact nearest-rank ones on synthetic data, merging, edges.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bench/loadgen/hist.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* nearest-rank percentile of sorted v */
static uint64_t exact(const uint64_t *v, size_t n, double p)
{
	size_t rank = (size_t)ceil(p / 100.0 * (double)n);

	if (rank < 1)
		rank = 1;
	return v[rank - 1];
}

static uint64_t rng_state = 88172645463325252ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void check_against_exact(uint64_t *v, size_t n)
{
	static const double ps[] = { 1, 10, 50, 75, 90, 99, 99.9, 99.99, 100 };
	struct hist *h = malloc(sizeof(*h));
	size_t i;

	assert_non_null(h);
	hist_reset(h);
	for (i = 0; i < n; i++)
		hist_record(h, v[i]);
	qsort(v, n, sizeof(*v), cmp_u64);
	for (i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
		double want = (double)exact(v, n, ps[i]);
		double got = (double)hist_percentile(h, ps[i]);

		if (fabs(got - want) > want * 0.001 + 0.5)
			fail_msg("p%g: got %.0f want %.0f", ps[i], got, want);
	}
	assert_int_equal(h->max, v[n - 1]);
	assert_int_equal(h->min, v[0]);
	free(h);
}

static void test_uniform(void **state)
{
	size_t n = 200000, i;
	uint64_t *v = malloc(n * sizeof(*v));

	(void)state;
	for (i = 0; i < n; i++)
		v[i] = 1000 + rng() % 10000000; /* 1 us .. 10 ms in ns */
	check_against_exact(v, n);
	free(v);
}

static void test_lognormal_tail(void **state)
{
	size_t n = 100000, i;
	uint64_t *v = malloc(n * sizeof(*v));

	(void)state;
	for (i = 0; i < n; i++) {
		/* exponentials across 1 us .. 100 s */
		double u = (double)(rng() % 1000000 + 1) / 1000001.0;

		v[i] = (uint64_t)(1000.0 * pow(1e8, u));
	}
	check_against_exact(v, n);
	free(v);
}

static void test_small_exact(void **state)
{
	struct hist *h = malloc(sizeof(*h));
	uint64_t i;

	(void)state;
	hist_reset(h);
	for (i = 1; i <= 2000; i++)
		hist_record(h, i);
	assert_int_equal(hist_percentile(h, 50), 1000);
	assert_int_equal(hist_percentile(h, 100), 2000);
	assert_int_equal(hist_percentile(h, 0.05), 1);
	assert_true(fabs(hist_mean(h) - 1000.5) < 1e-9);
	assert_true(fabs(hist_stdev(h) - 577.3501) < 0.01);
	free(h);
}

static void test_empty_and_clamp(void **state)
{
	struct hist *h = malloc(sizeof(*h));

	(void)state;
	hist_reset(h);
	assert_int_equal(hist_percentile(h, 99), 0);
	assert_true(hist_mean(h) == 0);
	hist_record(h, 0);
	hist_record(h, 500000000000ull); /* 500 s: above the range */
	assert_int_equal(h->total, 2);
	assert_int_equal(h->max, 500000000000ull);
	assert_int_equal(hist_percentile(h, 100), 500000000000ull);
	assert_true(hist_percentile(h, 99) <= 500000000000ull);
	assert_true(hist_percentile(h, 99) >= HIST_MAX_NS);
	free(h);
}

static void test_merge(void **state)
{
	struct hist *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b)), *all = malloc(sizeof(*all));
	uint64_t i;

	(void)state;
	hist_reset(a);
	hist_reset(b);
	hist_reset(all);
	for (i = 0; i < 100000; i++) {
		uint64_t v = 500 + rng() % 5000000;

		hist_record(i % 3 ? a : b, v);
		hist_record(all, v);
	}
	hist_merge(a, b);
	assert_int_equal(a->total, all->total);
	assert_int_equal(a->min, all->min);
	assert_int_equal(a->max, all->max);
	assert_memory_equal(a->counts, all->counts, sizeof(a->counts));
	assert_int_equal(hist_percentile(a, 99.9), hist_percentile(all, 99.9));
	assert_true(fabs(hist_mean(a) - hist_mean(all)) < 1e-6 * hist_mean(all));
	hist_reset(b);
	hist_merge(a, b); /* merging an empty one changes nothing */
	assert_int_equal(a->total, all->total);
	free(a);
	free(b);
	free(all);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uniform),
		cmocka_unit_test(test_lognormal_tail),
		cmocka_unit_test(test_small_exact),
		cmocka_unit_test(test_empty_and_clamp),
		cmocka_unit_test(test_merge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
