/*
 * Description: cmocka tests of the open-loop schedule, and of the schedule
 * every target gets when several URLs share -R: the same times, shifted.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bench/loadgen/engine.h"
#include "bench/loadgen/sched.h"

#define TS_MAX 4096

/* Each target's intended send times over the first second, as the threads hand them out. */
struct target_times {
	uint64_t t[LG_TARGETS_MAX][TS_MAX];
	uint32_t n[LG_TARGETS_MAX];
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Runs every thread's schedule as engine_run does, each request to its connection's target. */
static void collect(const struct lg_config *cfg, uint64_t until, struct target_times *tt)
{
	uint32_t th, t;

	memset(tt, 0, sizeof(*tt));
	for (th = 0; th < cfg->threads; th++) {
		struct sched s;
		uint32_t conn;
		uint64_t k;

		assert_int_equal(sched_init(&s, lg_thread_sched_start(cfg, th, 1000000000ull),
					    lg_thread_rate(cfg, th), lg_thread_conns(cfg, th)),
				 0);
		while (sched_due(&s, until, &conn, &k)) {
			uint32_t tg = lg_conn_target(cfg, lg_thread_first_conn(cfg, th) + conn);

			assert_true(tt->n[tg] < TS_MAX);
			/* the time the connection's request k is stamped with */
			tt->t[tg][tt->n[tg]++] = sched_conn_time(&s, conn, k);
		}
	}
	for (t = 0; t < cfg->ntargets; t++)
		qsort(tt->t[t], tt->n[t], sizeof(tt->t[t][0]), cmp_u64);
}

/*
 * With -R R and N URLs every target gets R/N requests/s on the same
 * schedule: target t's k-th intended time is target 0's plus a constant
 * shift smaller than one of its periods, N / R.
 */
static void check_same_schedule(uint32_t ntargets, uint32_t threads, uint32_t conns, double rate,
				bool per_target)
{
	static struct target_times tt;
	struct lg_config cfg;
	uint64_t period = (uint64_t)(1e9 * ntargets / rate);
	uint32_t t, k, nmin = UINT32_MAX;

	memset(&cfg, 0, sizeof(cfg));
	cfg.ntargets = ntargets;
	cfg.threads = threads;
	cfg.conns = conns;
	cfg.rate = rate;
	cfg.thread_per_target = per_target;
	collect(&cfg, 2000000000ull, &tt); /* one second of schedule from 1 s */
	for (t = 0; t < ntargets; t++) {
		/* R/N in the second, give or take the one at its edge */
		assert_true(tt.n[t] + 1 >= (uint32_t)(rate / ntargets));
		assert_true(tt.n[t] <= (uint32_t)(rate / ntargets) + 1);
		if (tt.n[t] < nmin)
			nmin = tt.n[t];
	}
	for (t = 1; t < ntargets; t++) {
		int64_t shift = (int64_t)(tt.t[t][0] - tt.t[0][0]);

		/* within a period a thread (-t 1, a thread per target: less than one) */
		if (shift < 0 || (uint64_t)shift >= period * (per_target ? 1 : threads))
			fail_msg("target %u starts %lld ns after target 0, period %llu "
				 "(N %u, -t %u, -c %u, -R %.0f%s)", t, (long long)shift,
				 (unsigned long long)period, ntargets, threads, conns, rate,
				 per_target ? ", thread per target" : "");
		for (k = 0; k < nmin; k++) {
			int64_t d = (int64_t)(tt.t[t][k] - tt.t[0][k]) - shift;

			if (d < -2 || d > 2)
				fail_msg("target %u request %u: %lld ns off target 0's schedule "
					 "(N %u, -t %u, -c %u, -R %.0f%s)", t, k, (long long)d,
					 ntargets, threads, conns, rate,
					 per_target ? ", thread per target" : "");
		}
	}
	/* evenly spaced within a target: one period apart, however many threads */
	for (t = 0; t < ntargets; t++)
		for (k = 1; k < tt.n[t]; k++) {
			uint64_t gap = tt.t[t][k] - tt.t[t][k - 1];

			if (gap + 2 < period || gap > period + 2)
				fail_msg("target %u: requests %u and %u %llu ns apart, want %llu "
					 "(N %u, -t %u, -c %u, -R %.0f%s)", t, k - 1, k,
					 (unsigned long long)gap, (unsigned long long)period,
					 ntargets, threads, conns, rate,
					 per_target ? ", thread per target" : "");
		}
}

static void test_targets_same_schedule(void **state)
{
	(void)state;
	check_same_schedule(2, 1, 2, 2000, false);
	check_same_schedule(2, 1, 8, 1000, false);
	check_same_schedule(3, 1, 9, 3000, false);
	check_same_schedule(2, 2, 8, 2000, false);  /* 4 a thread, 2 to each target */
	check_same_schedule(3, 2, 12, 1500, false);
	check_same_schedule(2, 3, 12, 3000, false);
	check_same_schedule(1, 3, 6, 1000, false);  /* one target: the threads interleave */
	check_same_schedule(2, 2, 4, 2000, true);   /* a thread per target */
	check_same_schedule(4, 4, 8, 4000, true);
	check_same_schedule(3, 3, 9, 999, true);
	check_same_schedule(16, 16, 16, 3200, true);
}

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

/* Poisson: the union of the connections' arrivals over 10 s at 10,000/s. */
static void test_poisson_rate_and_gaps(void **state)
{
	struct sched s;
	uint32_t conn;
	uint64_t k, count = 0, prev = 0, last[8] = { 0 };
	double sum = 0, sum2 = 0;
	uint64_t ngaps = 0;

	(void)state;
	assert_int_equal(sched_init_poisson(&s, 0, 10000.0, 8, 42), 0);
	while (sched_due(&s, 10000000000ull, &conn, &k)) {
		uint64_t t = sched_conn_time(&s, conn, k);

		/* handed out in time order, each connection's requests in turn */
		assert_true(t >= prev);
		assert_true(t <= 10000000000ull);
		prev = t;
		if (k > 0) {
			double g = (double)(t - last[conn]) / 1e6; /* ms */

			sum += g;
			sum2 += g * g;
			ngaps++;
		}
		last[conn] = t;
		count++;
	}
	/* 100,000 expected; a Poisson count's sd is 316 */
	assert_true(count > 98500 && count < 101500);
	/* per connection 1,250/s: mean gap 0.8 ms, and exponential: sd = mean */
	{
		double mean = sum / (double)ngaps, sd = sqrt(sum2 / (double)ngaps - mean * mean);

		assert_true(mean > 0.78 && mean < 0.82);
		assert_true(sd / mean > 0.95 && sd / mean < 1.05);
	}
	assert_true(sched_next_time(&s) > 10000000000ull);
	sched_free(&s);
	sched_free(&s); /* twice is safe */
}

/* The same seed draws the same times; another seed others. */
static void test_poisson_seeded(void **state)
{
	struct sched a, b, c;
	uint32_t ca, cb, cc;
	uint64_t ka, kb, kc, same = 0, n;

	(void)state;
	assert_int_equal(sched_init_poisson(&a, 5, 2000.0, 4, 7), 0);
	assert_int_equal(sched_init_poisson(&b, 5, 2000.0, 4, 7), 0);
	assert_int_equal(sched_init_poisson(&c, 5, 2000.0, 4, 8), 0);
	for (n = 0; n < 1000; n++) {
		uint64_t t = sched_next_time(&a);

		assert_int_equal(sched_due(&a, t, &ca, &ka), 1);
		assert_int_equal(sched_due(&b, t, &cb, &kb), 1);
		assert_int_equal(ca, cb);
		assert_int_equal(ka, kb);
		assert_int_equal(sched_conn_time(&a, ca, ka), sched_conn_time(&b, cb, kb));
		assert_int_equal(sched_due(&c, sched_next_time(&c), &cc, &kc), 1);
		same += sched_conn_time(&c, cc, kc) == sched_conn_time(&a, ca, ka);
	}
	assert_true(same < 10);
	sched_free(&a);
	sched_free(&b);
	sched_free(&c);
}

/* A late connection is stamped with its requests' own times, in order. */
static void test_poisson_late_connection(void **state)
{
	struct sched s;
	uint32_t conn;
	uint64_t k, due[3][64], n[3] = { 0 }, i;

	(void)state;
	assert_int_equal(sched_init_poisson(&s, 0, 3000.0, 3, 1), 0);
	while (sched_due(&s, 20000000ull, &conn, &k)) {
		assert_int_equal(k, n[conn]);
		assert_true(n[conn] < 64);
		/* the time it came due: the due cursor's, before the sent cursor moved */
		due[conn][n[conn]++] = sched_conn_time(&s, conn, k);
	}
	assert_true(n[0] > 5);
	/* asked again in order (a fresh schedule of the same seed), the same times */
	sched_free(&s);
	assert_int_equal(sched_init_poisson(&s, 0, 3000.0, 3, 1), 0);
	for (i = 0; i < n[0]; i++)
		assert_int_equal(sched_conn_time(&s, 0, i), due[0][i]);
	sched_free(&s);
	assert_int_equal(sched_init_poisson(&s, 0, 0.0, 3, 1), -EINVAL);
	assert_int_equal(sched_init_poisson(&s, 0, 10.0, 0, 1), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_rejects),
		cmocka_unit_test(test_even_spacing_round_robin),
		cmocka_unit_test(test_per_connection_period),
		cmocka_unit_test(test_catch_up_and_rate),
		cmocka_unit_test(test_no_drift),
		cmocka_unit_test(test_targets_same_schedule),
		cmocka_unit_test(test_poisson_rate_and_gaps),
		cmocka_unit_test(test_poisson_seeded),
		cmocka_unit_test(test_poisson_late_connection),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
