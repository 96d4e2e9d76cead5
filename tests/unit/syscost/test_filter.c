/*
 * Description: cmocka tests of the filter builders. Every filter is
 * loaded for real, in a forked child, and the child checks that the
 * kernel allows and denies what the builder promises; the positions of a
 * linear filter are checked on its exported BPF.
 */
#include <errno.h>
#include <linux/audit.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "bench/syscost/bpf.h"
#include "bench/syscost/filter.h"
#include "bench/syscost/measure.h"
#include "bench/syscost/op.h"
#include "bench/syscost/plan.h"

/* Expected outcome of one raw syscall: 0 = succeeds, else its errno. */
struct expect {
	long nr;
	long arg0;
	int err;
};

/* The child's verdict travels in its exit status: 0 all as expected,
 * 10 + i for the first wrong check, 1 when loading failed. */
static int run_under(scmp_filter_ctx ctx, const struct expect *e, size_t n)
{
	pid_t pid = fork();
	int ws;

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		if (seccomp_load(ctx) < 0)
			measure_child_exit(1);
		for (size_t i = 0; i < n; i++) {
			long r = syscall(e[i].nr, e[i].arg0, (long)SOCK_DGRAM | SOCK_CLOEXEC, 0L, 0L, 0L, 0L);
			int err = r < 0 ? errno : 0;

			if (r >= 0 && (e[i].nr == SYS_socket))
				close((int)r);
			if (err != e[i].err)
				measure_child_exit(10 + (int)i);
		}
		measure_child_exit(0);
	}
	if (waitpid(pid, &ws, 0) < 0)
		return -errno;
	return WIFEXITED(ws) ? WEXITSTATUS(ws) : 200;
}

static void test_allow_all(void **state)
{
	const struct expect e[] = {{SYS_getppid, 0, 0}, {SYS_getuid, 0, 0}};
	scmp_filter_ctx ctx;

	(void)state;
	assert_int_equal(filter_allow_all(&ctx), 0);
	assert_int_equal(run_under(ctx, e, 2), 0);
	seccomp_release(ctx);
}

static void test_linear_allows_and_denies(void **state)
{
	/* 32 rules: getppid, the required ones and the lowest numbers;
	 * getuid (102) is none of them, so the default EPERM applies. */
	const int t[] = {SYS_getppid};
	const struct expect e[] = {
		{SYS_getppid, 0, 0}, {SYS_getuid, 0, EPERM}, {SYS_read, -1, EBADF},
	};

	(void)state;
	for (int tree = 0; tree <= 1; tree++)
		for (int pos = FILTER_FRONT; pos <= FILTER_END; pos++) {
			struct filter_linear_spec s = {t, 1, 32, pos, tree, false};
			scmp_filter_ctx ctx;

			assert_int_equal(filter_linear(&s, &ctx), 0);
			assert_int_equal(run_under(ctx, e, 3), 0);
			seccomp_release(ctx);
		}
}

static void test_linear_positions(void **state)
{
	const struct op_desc *op = op_get(OP_GETPPID);
	unsigned steps[3];

	(void)state;
	for (int pos = FILTER_FRONT; pos <= FILTER_END; pos++) {
		struct filter_linear_spec s = {op->nr, 1, 306, pos, false, false};
		struct seccomp_data d;
		struct bpf_prog prog;
		scmp_filter_ctx ctx;
		uint32_t action;
		int rank;

		assert_int_equal(filter_linear(&s, &ctx), 0);
		assert_int_equal(bpf_prog_export(ctx, &prog), 0);
		rank = plan_rank(&prog, op);
		/* 305 other rules: 0 before at the front, 152 in the middle, all at the end */
		assert_int_equal(rank, pos == FILTER_FRONT ? 0 : pos == FILTER_MIDDLE ? 152 : 305);
		op_seccomp_data(OP_GETPPID, 0, &d);
		assert_int_equal(bpf_run(prog.insns, prog.len, &d, &action, &steps[pos]), 0);
		assert_int_equal(action, SECCOMP_RET_ALLOW);
		assert_true(bpf_const_allow(prog.insns, prog.len, SYS_getppid, d.arch));
		bpf_prog_free(&prog);
		seccomp_release(ctx);
	}
	/* one compare per rule before it */
	assert_true(steps[FILTER_FRONT] < 10);
	/* with an argument check on the target, its rule is still where asked */
	for (int pos = FILTER_FRONT; pos <= FILTER_END; pos++) {
		struct filter_linear_spec s = {op->nr, 1, 64, pos, false, true};
		struct bpf_prog prog;
		scmp_filter_ctx ctx;

		assert_int_equal(filter_linear(&s, &ctx), 0);
		assert_int_equal(bpf_prog_export(ctx, &prog), 0);
		assert_int_equal(plan_rank(&prog, op),
				 pos == FILTER_FRONT ? 0 : pos == FILTER_MIDDLE ? 31 : 63);
		bpf_prog_free(&prog);
		seccomp_release(ctx);
	}
	assert_true(steps[FILTER_MIDDLE] >= 152 && steps[FILTER_MIDDLE] < 152 + 10);
	assert_true(steps[FILTER_END] >= 305 && steps[FILTER_END] < 305 + 10);
}

static void test_tree_is_logarithmic(void **state)
{
	const struct op_desc *op = op_get(OP_GETPPID);
	int table[1024];
	size_t nt;
	struct filter_linear_spec s = {op->nr, 1, 0, FILTER_END, true, false};
	struct bpf_prog prog;
	scmp_filter_ctx ctx;
	unsigned worst = 0;

	(void)state;
	assert_int_equal(filter_syscall_table(table, 1024, &nt), 0);
	assert_true(nt > 300);
	s.nrules = (unsigned)nt;
	assert_int_equal(filter_linear(&s, &ctx), 0);
	assert_int_equal(bpf_prog_export(ctx, &prog), 0);
	for (size_t i = 0; i < nt; i++) {
		struct seccomp_data d = {.nr = table[i], .arch = op_audit_arch()};
		uint32_t action;
		unsigned steps;

		assert_int_equal(bpf_run(prog.insns, prog.len, &d, &action, &steps), 0);
		assert_int_equal(action, SECCOMP_RET_ALLOW);
		if (steps > worst)
			worst = steps;
	}
	/* every syscall of the full table decided in O(log n), not O(n) */
	assert_true(worst < 40);
	bpf_prog_free(&prog);
	seccomp_release(ctx);
}

static void test_linear_arg_check(void **state)
{
	const int t[] = {SYS_getppid};
	const struct expect e[] = {{SYS_getppid, 0, 0}, {SYS_getppid, FILTER_ARG_MAGIC, EPERM}};
	struct filter_linear_spec s = {t, 1, 64, FILTER_MIDDLE, false, true};
	struct bpf_prog prog;
	scmp_filter_ctx ctx;

	(void)state;
	assert_int_equal(filter_linear(&s, &ctx), 0);
	assert_int_equal(run_under(ctx, e, 2), 0);
	assert_int_equal(bpf_prog_export(ctx, &prog), 0);
	/* the kernel cannot cache a verdict that depends on an argument */
	assert_false(bpf_const_allow(prog.insns, prog.len, SYS_getppid, op_audit_arch()));
	assert_true(bpf_const_allow(prog.insns, prog.len, SYS_read, op_audit_arch()));
	bpf_prog_free(&prog);
	seccomp_release(ctx);
}

static void test_linear_pair_and_errors(void **state)
{
	const int pair[] = {SYS_openat, SYS_close};
	const int dup[] = {SYS_close, SYS_close};
	const int one[] = {SYS_getppid};
	struct filter_linear_spec s = {pair, 2, 40, FILTER_END, false, false};
	scmp_filter_ctx ctx;
	int table[1024];
	size_t nt;

	(void)state;
	assert_int_equal(filter_linear(&s, &ctx), 0);
	seccomp_release(ctx);
	s.targets = dup;
	assert_int_equal(filter_linear(&s, &ctx), -EINVAL);
	s.targets = one;
	s.ntargets = 0;
	assert_int_equal(filter_linear(&s, &ctx), -EINVAL);
	s.ntargets = 1;
	s.nrules = 2; /* fewer than the target plus the required syscalls */
	assert_int_equal(filter_linear(&s, &ctx), -ERANGE);
	assert_int_equal(filter_syscall_table(table, 1024, &nt), 0);
	s.nrules = (unsigned)nt + 1;
	assert_int_equal(filter_linear(&s, &ctx), -ERANGE);
	assert_int_equal(filter_syscall_table(table, 10, &nt), -ENOSPC);
}

static void test_restrict_af(void **state)
{
	const int fam[] = {AF_UNIX, AF_INET, AF_INET6};
	const int badfam[] = {AF_UNIX, AF_UNIX};
	const struct expect e[] = {
		{SYS_socket, AF_UNIX, 0},          {SYS_socket, AF_INET, 0},
		{SYS_socket, AF_INET6, 0},         {SYS_socket, AF_UNSPEC, EAFNOSUPPORT},
		{SYS_socket, AF_APPLETALK, EAFNOSUPPORT}, {SYS_socket, AF_NETLINK, EAFNOSUPPORT},
		{SYS_socket, AF_PACKET, EAFNOSUPPORT},    {SYS_getppid, 0, 0},
	};
	struct bpf_prog prog;
	scmp_filter_ctx ctx;

	(void)state;
	assert_int_equal(filter_restrict_af(fam, 3, &ctx), 0);
	assert_int_equal(run_under(ctx, e, sizeof(e) / sizeof(e[0])), 0);
	assert_int_equal(bpf_prog_export(ctx, &prog), 0);
	assert_false(bpf_const_allow(prog.insns, prog.len, SYS_socket, op_audit_arch()));
	assert_true(bpf_const_allow(prog.insns, prog.len, SYS_getppid, op_audit_arch()));
	bpf_prog_free(&prog);
	seccomp_release(ctx);
	assert_int_equal(filter_restrict_af(badfam, 2, &ctx), -EINVAL);
	assert_int_equal(filter_restrict_af(fam, 0, &ctx), -EINVAL);
}

static void test_arg_guard(void **state)
{
	const int t[] = {SYS_getppid};
	const struct expect e[] = {
		{SYS_getppid, 0, 0}, {SYS_getppid, FILTER_ARG_MAGIC, EPERM}, {SYS_getuid, FILTER_ARG_MAGIC, 0},
	};
	scmp_filter_ctx ctx;

	(void)state;
	assert_int_equal(filter_arg_guard(t, 1, &ctx), 0);
	assert_int_equal(run_under(ctx, e, 3), 0);
	seccomp_release(ctx);
}

static void test_allow_names(void **state)
{
	const char *const names[] = {
		"getppid", "exit_group", "read", "no_such_syscall", "arm_fadvise64_64", "getppid",
	};
	const struct expect e[] = {{SYS_getppid, 0, 0}, {SYS_getuid, 0, EPERM}};

	(void)state;
	for (int tree = 0; tree <= 1; tree++) {
		scmp_filter_ctx ctx;
		size_t rules = 0;

		assert_int_equal(filter_allow_names(names, 6, tree, &ctx, &rules), 0);
		/* unknown and foreign names skipped, the duplicate once */
		assert_int_equal(rules, 3);
		assert_int_equal(run_under(ctx, e, 2), 0);
		seccomp_release(ctx);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allow_all),
		cmocka_unit_test(test_linear_allows_and_denies),
		cmocka_unit_test(test_linear_positions),
		cmocka_unit_test(test_tree_is_logarithmic),
		cmocka_unit_test(test_linear_arg_check),
		cmocka_unit_test(test_linear_pair_and_errors),
		cmocka_unit_test(test_restrict_af),
		cmocka_unit_test(test_arg_guard),
		cmocka_unit_test(test_allow_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
