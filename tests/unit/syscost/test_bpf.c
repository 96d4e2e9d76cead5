/*
 * Description: cmocka tests of the seccomp BPF interpreter and of the
 * action-cache emulation, on hand-written programs and on libseccomp's.
 */
#include <errno.h>
#include <linux/audit.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <cmocka.h>

#include "bench/syscost/bpf.h"
#include "bench/syscost/filter.h"
#include "bench/syscost/op.h"

#define LD_NR BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))
#define LD_ARG0 BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0]))
#define RET(v) BPF_STMT(BPF_RET | BPF_K, (v))

static void test_run_counts_steps(void **state)
{
	/* nr == 39 -> ALLOW after 3 steps; else ERRNO after 3 steps */
	const struct sock_filter p[] = {
		LD_NR,
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 39, 0, 1),
		RET(SECCOMP_RET_ALLOW),
		RET(SECCOMP_RET_ERRNO | 1),
	};
	struct seccomp_data d = {.nr = 39};
	uint32_t action;
	unsigned steps;

	(void)state;
	assert_int_equal(bpf_run(p, 4, &d, &action, &steps), 0);
	assert_int_equal(action, SECCOMP_RET_ALLOW);
	assert_int_equal(steps, 3);
	d.nr = 40;
	assert_int_equal(bpf_run(p, 4, &d, &action, &steps), 0);
	assert_int_equal(action, SECCOMP_RET_ERRNO | 1);
	assert_int_equal(steps, 3);
}

static void test_run_alu_mem_and_jumps(void **state)
{
	/* A = arg0 & 0xff; mem[1] = A; X = 7; A = mem[1]; A > X ? ALLOW : KILL */
	const struct sock_filter p[] = {
		LD_ARG0,
		BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xff),
		BPF_STMT(BPF_ST, 1),
		BPF_STMT(BPF_LDX | BPF_IMM, 7),
		BPF_STMT(BPF_LD | BPF_MEM, 1),
		BPF_JUMP(BPF_JMP | BPF_JGT | BPF_X, 0, 0, 1),
		BPF_STMT(BPF_JMP | BPF_JA, 1),
		RET(SECCOMP_RET_KILL_PROCESS),
		RET(SECCOMP_RET_ALLOW),
	};
	struct seccomp_data d = {.args = {0x1108}};
	uint32_t action;

	(void)state;
	assert_int_equal(bpf_run(p, 9, &d, &action, NULL), 0);
	assert_int_equal(action, SECCOMP_RET_ALLOW);
	d.args[0] = 0x1107;
	assert_int_equal(bpf_run(p, 9, &d, &action, NULL), 0);
	assert_int_equal(action, SECCOMP_RET_KILL_PROCESS);
}

static void test_run_rejects_bad_programs(void **state)
{
	const struct sock_filter fall_off[] = {LD_NR};
	const struct sock_filter far_jump[] = {BPF_STMT(BPF_JMP | BPF_JA, 5), RET(0)};
	const struct sock_filter bad_load[] = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 64), RET(0)};
	const struct sock_filter odd_load[] = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 2), RET(0)};
	const struct sock_filter bad_mem[] = {BPF_STMT(BPF_ST, BPF_MEMWORDS), RET(0)};
	const struct sock_filter div0[] = {BPF_STMT(BPF_ALU | BPF_DIV | BPF_K, 0), RET(0)};
	struct seccomp_data d = {0};

	(void)state;
	assert_int_equal(bpf_run(fall_off, 1, &d, NULL, NULL), -EINVAL);
	assert_int_equal(bpf_run(far_jump, 2, &d, NULL, NULL), -EINVAL);
	assert_int_equal(bpf_run(bad_load, 2, &d, NULL, NULL), -EINVAL);
	assert_int_equal(bpf_run(odd_load, 2, &d, NULL, NULL), -EINVAL);
	assert_int_equal(bpf_run(bad_mem, 2, &d, NULL, NULL), -EINVAL);
	assert_int_equal(bpf_run(div0, 2, &d, NULL, NULL), -EINVAL);
	assert_int_equal(bpf_run(fall_off, 0, &d, NULL, NULL), -EINVAL);
}

static void test_match_step(void **state)
{
	/* rules for 10, 20, 30 in that order; 30's compare is step 4 */
	const struct sock_filter p[] = {
		LD_NR,
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 10, 3, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 20, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 30, 1, 0),
		RET(SECCOMP_RET_ERRNO | 1),
		RET(SECCOMP_RET_ALLOW),
	};
	/* a compare of an argument with the same value is not the rule */
	const struct sock_filter q[] = {
		LD_ARG0,
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 30, 0, 0),
		LD_NR,
		BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xff),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 30, 0, 0),
		RET(SECCOMP_RET_ALLOW),
	};
	struct seccomp_data d = {.nr = 30, .args = {30}};
	unsigned step;

	(void)state;
	assert_int_equal(bpf_match_step(p, 6, &d, &step), 0);
	assert_int_equal(step, 4);
	d.nr = 10;
	assert_int_equal(bpf_match_step(p, 6, &d, &step), 0);
	assert_int_equal(step, 2);
	d.nr = 11;
	assert_int_equal(bpf_match_step(p, 6, &d, &step), 0);
	assert_int_equal(step, 0);
	d.nr = 30;
	assert_int_equal(bpf_match_step(q, 6, &d, &step), 0);
	assert_int_equal(step, 0);
}

static void test_const_allow(void **state)
{
	const struct sock_filter by_nr[] = {
		LD_NR,
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 39, 0, 1),
		RET(SECCOMP_RET_ALLOW),
		RET(SECCOMP_RET_ERRNO | 1),
	};
	const struct sock_filter by_arg[] = {
		LD_NR,
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 39, 0, 3),
		LD_ARG0,
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 5, 1, 0),
		RET(SECCOMP_RET_ALLOW),
		RET(SECCOMP_RET_ERRNO | 1),
	};

	(void)state;
	assert_true(bpf_const_allow(by_nr, 4, 39, AUDIT_ARCH_X86_64));
	assert_false(bpf_const_allow(by_nr, 4, 40, AUDIT_ARCH_X86_64)); /* constant, but not ALLOW */
	assert_false(bpf_const_allow(by_arg, 6, 39, AUDIT_ARCH_X86_64)); /* depends on arg 0 */
	assert_false(bpf_const_allow(by_arg, 6, 40, AUDIT_ARCH_X86_64));
}

static void test_export_matches_interpreter(void **state)
{
	/* libseccomp's allow-all filter checks the architecture first: a
	 * foreign arch is killed, the native one allowed. */
	struct seccomp_data d;
	struct bpf_prog prog;
	scmp_filter_ctx ctx;
	uint32_t action;

	(void)state;
	assert_int_equal(filter_allow_all(&ctx), 0);
	assert_int_equal(bpf_prog_export(ctx, &prog), 0);
	assert_true(prog.len > 1 && prog.len < 16);
	op_seccomp_data(OP_GETPPID, 0, &d);
	assert_int_equal(bpf_run(prog.insns, prog.len, &d, &action, NULL), 0);
	assert_int_equal(action, SECCOMP_RET_ALLOW);
	assert_true(bpf_const_allow(prog.insns, prog.len, SYS_getppid, d.arch));
	d.arch = AUDIT_ARCH_AARCH64 == d.arch ? AUDIT_ARCH_X86_64 : AUDIT_ARCH_AARCH64;
	assert_int_equal(bpf_run(prog.insns, prog.len, &d, &action, NULL), 0);
	assert_int_not_equal(action, SECCOMP_RET_ALLOW);
	bpf_prog_free(&prog);
	seccomp_release(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_run_counts_steps),
		cmocka_unit_test(test_run_alu_mem_and_jumps),
		cmocka_unit_test(test_run_rejects_bad_programs),
		cmocka_unit_test(test_match_step),
		cmocka_unit_test(test_const_allow),
		cmocka_unit_test(test_export_matches_interpreter),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
