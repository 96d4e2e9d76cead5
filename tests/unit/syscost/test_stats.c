/*
 * Description: cmocka tests of the batch statistics.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "bench/syscost/stats.h"

static void test_min(void **state)
{
	const double v[] = {5, 3, 9, 3.5};

	(void)state;
	assert_true(stats_min(v, 4) == 3);
	assert_true(stats_min(v, 1) == 5);
	assert_true(isnan(stats_min(v, 0)));
}

static void test_median_odd_even(void **state)
{
	double odd[] = {9, 1, 5, 3, 7};
	double even[] = {4, 1, 3, 2};
	double one[] = {42};

	(void)state;
	assert_true(stats_median(odd, 5) == 5);
	/* sorted in place */
	assert_true(odd[0] == 1 && odd[4] == 9);
	assert_true(stats_median(even, 4) == 2.5);
	assert_true(stats_median(one, 1) == 42);
	assert_true(isnan(stats_median(one, 0)));
}

static void test_median_duplicates(void **state)
{
	double v[] = {2, 2, 2, 1, 100, 2};

	(void)state;
	assert_true(stats_median(v, 6) == 2);
}

static void test_quantiles(void **state)
{
	double v[101];

	(void)state;
	for (int i = 0; i <= 100; i++)
		v[i] = 100 - i; /* descending: summarize must sort */
	struct stats_summary s;

	assert_int_equal(stats_summarize(v, 101, &s), 0);
	assert_int_equal(s.n, 101);
	assert_true(s.min == 0 && s.max == 100);
	assert_true(s.median == 50);
	assert_true(fabs(s.p10 - 10) < 1e-9);
	assert_true(fabs(s.p90 - 90) < 1e-9);
	/* interpolation between ranks */
	const double two[] = {10, 20};

	assert_true(fabs(stats_quantile_sorted(two, 2, 0.25) - 12.5) < 1e-9);
	assert_true(stats_quantile_sorted(two, 2, 1.0) == 20);
	assert_true(isnan(stats_quantile_sorted(two, 2, 1.5)));
	assert_true(isnan(stats_quantile_sorted(two, 2, -0.1)));
	assert_int_equal(stats_summarize(v, 0, &s), -EINVAL);
}

static void test_min_ignores_order(void **state)
{
	/* A busy machine only adds time: the min of the batches is the
	 * undisturbed cost even when most batches were slowed down. */
	double v[1000];

	(void)state;
	for (int i = 0; i < 1000; i++)
		v[i] = 1000 + (i * 7919 % 500);
	v[617] = 900;
	assert_true(stats_min(v, 1000) == 900);
	assert_true(stats_median(v, 1000) >= 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_min),
		cmocka_unit_test(test_median_odd_even),
		cmocka_unit_test(test_median_duplicates),
		cmocka_unit_test(test_quantiles),
		cmocka_unit_test(test_min_ignores_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
