/*
 * Description: cmocka tests of the forked-child timing: samples come back,
 * a filter that denies the op is reported, not measured, and stacking
 * really loads K filters (checked in the child's /proc status).
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <cmocka.h>

#include "bench/syscost/bpf.h"
#include "bench/syscost/filter.h"
#include "bench/syscost/measure.h"

static void test_no_filter(void **state)
{
	struct measure_spec s = {.op = OP_GETPPID, .batches = 8, .batch_size = 4, .use_tsc = false};
	double ns[8], ticks[8];

	(void)state;
	assert_int_equal(measure_run(&s, ns, ticks), 0);
	for (int i = 0; i < 8; i++)
		assert_true(ns[i] > 0 && ns[i] < 1e7);
}

static void test_every_op(void **state)
{
	double ns[4], ticks[4];

	(void)state;
	for (int op = 0; op < OP_COUNT; op++) {
		struct measure_spec s = {.op = op, .batches = 4, .batch_size = 100, .warmup = 1};

		assert_int_equal(measure_run(&s, ns, ticks), 0);
	}
}

static void test_denied_op_is_an_error(void **state)
{
	/* the op's syscall is not among 8 rules: every call fails with EPERM */
	const int other[] = {SYS_getuid};
	struct filter_linear_spec ls = {other, 1, 8, FILTER_FRONT, false, false};
	struct bpf_prog prog;
	scmp_filter_ctx ctx;
	double ns[2], ticks[2];

	(void)state;
	assert_int_equal(filter_linear(&ls, &ctx), 0);
	assert_int_equal(bpf_prog_export(ctx, &prog), 0);
	seccomp_release(ctx);
	struct measure_spec s = {.op = OP_GETPPID, .prog = &prog, .nfilters = 1, .batches = 2,
				 .batch_size = 2};

	assert_int_equal(measure_run(&s, ns, ticks), -EIO);
	/* getpid is not among the 8 rules either */
	s.op = OP_GETPID;
	assert_int_equal(measure_run(&s, ns, ticks), -EIO);
	bpf_prog_free(&prog);

	struct measure_spec bad = {.op = OP_GETPPID, .nfilters = 1, .batches = 1, .batch_size = 1};

	assert_int_equal(measure_run(&bad, ns, ticks), -EINVAL);
}

static void test_stacked_filters_load(void **state)
{
	/* 64 stacked allow-all filters all load (the kernel's limit on the
	 * instructions of a stack is far away) and the op still runs. */
	struct bpf_prog prog;
	scmp_filter_ctx ctx;
	double ns[2], ticks[2];

	(void)state;
	assert_int_equal(filter_allow_all(&ctx), 0);
	assert_int_equal(bpf_prog_export(ctx, &prog), 0);
	seccomp_release(ctx);
	struct measure_spec s = {.op = OP_GETPPID, .prog = &prog, .nfilters = 64, .batches = 2,
				 .batch_size = 2};

	assert_int_equal(measure_run(&s, ns, ticks), 0);
	bpf_prog_free(&prog);
}

static void test_build_load(void **state)
{
	const char *const names[] = {"getppid", "exit_group", "read", "clock_gettime", "futex"};
	struct measure_build b;
	struct bpf_prog prog;
	scmp_filter_ctx ctx;

	(void)state;
	assert_int_equal(filter_allow_names(names, 5, false, &ctx, NULL), 0);
	assert_int_equal(bpf_prog_export(ctx, &prog), 0);
	seccomp_release(ctx);
	assert_int_equal(measure_build_load(names, 5, false, &prog, &b), 0);
	assert_true(b.build_us > 0 && b.load_us > 0 && b.kernel_us > 0 && b.export_us > 0);
	assert_true(isfinite(b.load_us));
	bpf_prog_free(&prog);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_filter),
		cmocka_unit_test(test_every_op),
		cmocka_unit_test(test_denied_op_is_an_error),
		cmocka_unit_test(test_stacked_filters_load),
		cmocka_unit_test(test_build_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
