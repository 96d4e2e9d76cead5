/* Description: cmocka tests of the open-loop schedule. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "bench/loadgen/sched.h"

static void test_init_rejects(void **state)
{
	struct sched s;

	(void)state;
	assert_int_equal(sched_init(&s, 0, 0, 4), -EINVAL);
	assert_int_equal(sched_init(&s, 0, -1, 4), -EINVAL);
	assert_int_equal(sched_init(&s, 0, 100, 0), -EINVAL);
}

static void test_even_spacing_round_robin(void **state)
{
	struct sched s;
	uint32_t conn;
	uint64_t k, n;

	(void)state;
	assert_int_equal(sched_init(&s, 1000, 1000.0, 4), 0); /* 1 ms apart */
	for (n = 0; n < 100; n++) {
		uint64_t t = sched_next_time(&s);

		assert_int_equal(t, 1000 + n * 1000000);
		assert_int_equal(sched_due(&s, t - 1, &conn, &k), 0);
		assert_int_equal(sched_due(&s, t, &conn, &k), 1);
		assert_int_equal(conn, n % 4);
		assert_int_equal(k, n / 4);
		assert_int_equal(sched_conn_time(&s, conn, k), t);
	}
}

static void test_per_connection_period(void **state)
{
	struct sched s;

	(void)state;
	sched_init(&s, 0, 2000.0, 10); /* each connection every 5 ms */
	assert_int_equal(sched_conn_time(&s, 3, 0), 1500000);
	assert_int_equal(sched_conn_time(&s, 3, 1) - sched_conn_time(&s, 3, 0), 5000000);
}

static void test_catch_up_and_rate(void **state)
{
	struct sched s;
	uint32_t conn;
	uint64_t k, count = 0;

	(void)state;
	sched_init(&s, 0, 12345.0, 7);
	/* a late caller gets every request due so far, none from the future */
	while (sched_due(&s, 1000000000ull, &conn, &k))
		count++;
	/* requests 0..12345 are due at t <= 1 s */
	assert_int_equal(count, 12346);
	assert_true(sched_next_time(&s) > 1000000000ull);
}

static void test_no_drift(void **state)
{
	struct sched s;

	(void)state;
	sched_init(&s, 0, 3.0, 1);
	/* computed, not accumulated: request 3e6 is exactly at 1e6 s */
	assert_int_equal(sched_time(&s, 3000000), 1000000ull * 1000000000ull);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_rejects),
		cmocka_unit_test(test_even_spacing_round_robin),
		cmocka_unit_test(test_per_connection_period),
		cmocka_unit_test(test_catch_up_and_rate),
		cmocka_unit_test(test_no_drift),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
