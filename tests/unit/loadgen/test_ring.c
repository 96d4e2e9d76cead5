/*
 * Description: cmocka tests of loadgen's ring on a real io_uring: SQEs keep
 * coming when the submission queue fills and the completion queue overflows
 * (no NULL SQE), and completions come out exactly once each, in order, also
 * those moved aside to make room.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "bench/loadgen/ring.h"

/* Far more than the SQ (256) and the CQ (1024) hold together. */
#define NOPS 20000

/*
 * All completions until n have come (or patience waits of 100 ms found
 * none), oldest first; their user data in seq.
 */
static unsigned drain(struct lg_ring *r, uint64_t *seq, unsigned n, unsigned patience)
{
	struct io_uring_cqe cqe;
	unsigned got = 0, idle = 0;

	while (got < n && idle < patience) {
		struct __kernel_timespec ts = { .tv_sec = 0, .tv_nsec = 100000000 };

		if (ring_next(r, &cqe)) {
			assert_int_equal(cqe.res, 0);
			seq[got++] = io_uring_cqe_get_data64(&cqe);
			idle = 0;
			continue;
		}
		idle++;
		(void)ring_wait(r, 1, &ts, 0);
	}
	return got;
}

static void test_sqe_never_null_completions_in_order(void **state)
{
	static uint64_t seq[NOPS];
	struct lg_ring r;
	unsigned i, got;

	(void)state;
	if (ring_setup(&r, 1, false) < 0) {
		ring_free(&r);
		skip(); /* no io_uring here (seccomp, sysctl) */
	}
	for (i = 0; i < NOPS; i++) {
		struct io_uring_sqe *sqe = ring_sqe(&r);

		assert_non_null(sqe);
		io_uring_prep_nop(sqe);
		io_uring_sqe_set_data64(sqe, i);
	}
	print_message("  submit refusals seen: %s, completions held aside: %u\n",
		      r.submit_err ? strerror(-r.submit_err) : "none", r.nheld);
	got = drain(&r, seq, NOPS, 50);
	assert_int_equal(got, NOPS);
	for (i = 0; i < NOPS; i++)
		assert_int_equal(seq[i], i);
	/* and nothing more */
	got = drain(&r, seq, 1, 2);
	assert_int_equal(got, 0);
	ring_free(&r);
}

/*
 * What ring_sqe does when the kernel refuses a submission (-EBUSY, older
 * kernels with a full CQ), done at points of the test's choosing: the
 * completions moved aside come out before newer ones, each once.
 */
static void test_room_made_keeps_order(void **state)
{
	static uint64_t seq[NOPS];
	struct io_uring_cqe cqe;
	struct lg_ring r;
	unsigned i, got = 0, moved = 0;

	(void)state;
	if (ring_setup(&r, 1, false) < 0) {
		ring_free(&r);
		skip();
	}
	for (i = 0; i < NOPS; i++) {
		struct io_uring_sqe *sqe = ring_sqe(&r);

		assert_non_null(sqe);
		io_uring_prep_nop(sqe);
		io_uring_sqe_set_data64(sqe, i);
		if (i % 700 == 699) {
			struct __kernel_timespec ts = { .tv_sec = 0, .tv_nsec = 0 };

			(void)ring_wait(&r, 0, &ts, 0); /* submit: completions arrive */
			moved += ring_make_room(&r);
		}
		if (i % 1500 == 1499) {
			/* hand some out from the middle, as the engine's loop does */
			while (got < i / 2 && ring_next(&r, &cqe))
				seq[got++] = io_uring_cqe_get_data64(&cqe);
		}
	}
	assert_true(moved > 0);
	got += drain(&r, seq + got, NOPS - got, 50);
	assert_int_equal(got, NOPS);
	for (i = 0; i < NOPS; i++)
		assert_int_equal(seq[i], i);
	assert_int_equal(drain(&r, seq, 1, 2), 0);
	ring_free(&r);
}

static void test_free_twice_and_unset(void **state)
{
	struct lg_ring r;

	(void)state;
	memset(&r, 0, sizeof(r));
	ring_free(&r); /* never set up: nothing to do */
	if (ring_setup(&r, 8, true) == 0)
		assert_true(r.held_cap >= 256);
	ring_free(&r);
	ring_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sqe_never_null_completions_in_order),
		cmocka_unit_test(test_room_made_keeps_order),
		cmocka_unit_test(test_free_twice_and_unset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
