/*
 * Description: cmocka tests of the TSC flag parser and calibration.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "bench/syscost/tsc.h"

static void test_flags(void **state)
{
	struct tsc_info i;

	(void)state;
	tsc_parse_flags("processor\t: 0\nflags\t\t: fpu tsc msr constant_tsc nonstop_tsc rep_good\n", &i);
	assert_true(i.present && i.constant && i.nonstop && i.invariant);
	tsc_parse_flags("flags\t\t: fpu tsc msr constant_tsc\n", &i);
	assert_true(i.present && i.constant && !i.nonstop && !i.invariant);
	/* words, not substrings: rdtscp and tsc_known_freq are not tsc */
	tsc_parse_flags("flags\t: rdtscp tsc_known_freq nonstop_tsc_x\n", &i);
	assert_false(i.present || i.nonstop);
	/* only the first flags line counts; vmx flags lines do not */
	tsc_parse_flags("vmx flags\t: tsc_offset\nflags\t: tsc\n", &i);
	assert_true(i.present);
	tsc_parse_flags("", &i);
	assert_false(i.present);
}

static void test_calibration(void **state)
{
	struct tsc_info i;

	(void)state;
	assert_int_equal(tsc_probe(NULL, 20, &i), 0);
	if (!i.present)
		skip();
	/* any real TSC runs between 100 MHz and 10 GHz */
	assert_true(i.ticks_per_ns > 0.1 && i.ticks_per_ns < 10.0);
	uint64_t a = tsc_read(), b = tsc_read();

	assert_true(b > a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_calibration),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
