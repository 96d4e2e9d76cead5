/* Description: cmocka tests of loadgen's command line and request building. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "bench/loadgen/opts.h"

static struct lg_opts o;
static char err[256];

/* opts_parse on "loadgen" and the NULL-terminated arguments */
static int parse(const char *first, ...)
{
	char *argv[32];
	const char *a;
	va_list ap;
	int argc = 0;

	argv[argc++] = (char *)"loadgen";
	va_start(ap, first);
	for (a = first; a && argc < 31; a = va_arg(ap, const char *))
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	return opts_parse(&o, argc, argv, err, sizeof(err));
}

#define PARSE(...) parse(__VA_ARGS__, (const char *)NULL)

static void test_duration(void **state)
{
	double d;

	(void)state;
	assert_int_equal(opts_duration("10", &d), 0);
	assert_true(d == 10);
	assert_int_equal(opts_duration("2.5s", &d), 0);
	assert_true(d == 2.5);
	assert_int_equal(opts_duration("500ms", &d), 0);
	assert_true(d == 0.5);
	assert_int_equal(opts_duration("2m", &d), 0);
	assert_true(d == 120);
	assert_int_equal(opts_duration("1h", &d), 0);
	assert_true(d == 3600);
	assert_int_equal(opts_duration("abc", &d), -EINVAL);
	assert_int_equal(opts_duration("10x", &d), -EINVAL);
	assert_int_equal(opts_duration("-1", &d), -EINVAL);
	assert_int_equal(opts_duration("", &d), -EINVAL);
	assert_int_equal(opts_duration("nan", &d), -EINVAL);
}

static void test_defaults_and_request(void **state)
{
	(void)state;
	assert_int_equal(PARSE("http://127.0.0.1:8080/x?y"), 0);
	assert_int_equal(o.cfg.conns, 10);
	assert_int_equal(o.cfg.threads, 1);
	assert_true(o.cfg.duration_s == 10);
	assert_int_equal(o.cfg.timeout_ms, 2000);
	assert_int_equal(o.cfg.mode, LG_KEEPALIVE);
	assert_true(o.cfg.batch && o.cfg.multishot);
	assert_string_equal(o.request[0], "GET /x?y HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n");
	assert_int_equal(o.cfg.ntargets, 1);
	assert_int_equal(o.cfg.target[0].request_len, strlen(o.request[0]));
}

static void test_close_headers(void **state)
{
	(void)state;
	assert_int_equal(PARSE("--close", "-H", "X-A: 1", "https://h/"), 0);
	assert_int_equal(o.cfg.mode, LG_CLOSE);
	assert_string_equal(o.request[0],
			    "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nConnection: close\r\n\r\n");
	/* Host and Connection given by the user replace ours */
	assert_int_equal(PARSE("--close", "-H", "host: other", "-H", "Connection: keep-alive",
			       "https://h/"),
			 0);
	assert_string_equal(o.request[0],
			    "GET / HTTP/1.1\r\nhost: other\r\nConnection: keep-alive\r\n\r\n");
}

static void test_values(void **state)
{
	(void)state;
	assert_int_equal(PARSE("-c", "100", "-t", "2", "-d", "500ms", "-R", "1e3", "--timeout",
			       "250", "--warmup", "1s", "--cpu", "0,2-3", "--json", "http://h/"),
			 0);
	assert_int_equal(o.cfg.conns, 100);
	assert_int_equal(o.cfg.threads, 2);
	assert_true(o.cfg.duration_s == 0.5);
	assert_true(o.cfg.rate == 1000);
	assert_int_equal(o.cfg.timeout_ms, 250);
	assert_true(o.cfg.warmup_s == 1);
	assert_int_equal(o.ncpus, 3);
	assert_int_equal(o.cpus[0], 0);
	assert_int_equal(o.cpus[1], 2);
	assert_int_equal(o.cpus[2], 3);
	assert_true(o.json);
	assert_int_equal(PARSE("--timeout", "3s", "http://h/"), 0);
	assert_int_equal(o.cfg.timeout_ms, 3000);
	/* -n alone: no time limit */
	assert_int_equal(PARSE("-n", "5", "http://h/"), 0);
	assert_true(o.cfg.duration_s == 0);
	assert_int_equal(o.cfg.requests, 5);
	assert_int_equal(PARSE("-n", "5", "-d", "1", "http://h/"), 0);
	assert_true(o.cfg.duration_s == 1);
	assert_int_equal(PARSE("--help"), 0);
	assert_true(o.help);
}

static void test_bad(void **state)
{
	(void)state;
	assert_int_equal(PARSE("-c", "0", "http://h/"), -EINVAL);
	assert_non_null(strstr(err, "-c"));
	assert_int_equal(PARSE("-c", "x", "http://h/"), -EINVAL);
	assert_int_equal(PARSE("-t", "3", "-c", "2", "http://h/"), -EINVAL);
	assert_int_equal(PARSE("-d", "0", "http://h/"), -EINVAL);
	assert_int_equal(PARSE("-R", "-5", "http://h/"), -EINVAL);
	assert_int_equal(PARSE("--pipeline", "65", "http://h/"), -EINVAL);
	assert_int_equal(PARSE("--pipeline", "2", "-R", "10", "http://h/"), -EINVAL);
	assert_int_equal(PARSE("--resume", "http://h/"), -EINVAL);
	assert_int_equal(PARSE("--close", "--resume", "https://h/"), -EINVAL);
	assert_int_equal(PARSE("--cacert", "x", "http://h/"), -EINVAL);
	assert_int_equal(PARSE("--tls-version", "1.1", "https://h/"), -EINVAL);
	assert_int_equal(PARSE("--cpu", "1-", "http://h/"), -EINVAL);
	assert_int_equal(PARSE("--cpu", "3-1", "http://h/"), -EINVAL);
	assert_int_equal(PARSE("-H", "Bad Name: x", "http://h/"), -EINVAL);
	assert_int_equal(PARSE("-H", "X: a\r\nInjected: 1", "http://h/"), -EINVAL);
	assert_int_equal(PARSE("--bogus", "http://h/"), -EINVAL);
	assert_non_null(strstr(err, "--bogus"));
	assert_int_equal(PARSE("-c"), -EINVAL);
	assert_non_null(strstr(err, "needs a value"));
	/* two URLs and 10 connections: fine; 3 URLs and 10 are not an even split */
	assert_int_equal(PARSE("http://h/", "http://i/", "http://j/"), -EINVAL);
	assert_non_null(strstr(err, "multiple"));
	assert_int_equal(PARSE("http://h/", "https://i/"), -EINVAL);
	assert_non_null(strstr(err, "every URL"));
	assert_int_equal(PARSE("--cgroup", "/a", "-c", "2", "http://h/", "http://i/"), -EINVAL);
	assert_non_null(strstr(err, "one per URL"));
	assert_int_equal(PARSE("--cgroup", "/a,", "http://h/"), -EINVAL);
	assert_int_equal(PARSE("--cgroup", ",/a", "http://h/"), -EINVAL);
	assert_int_equal(PARSE("ftp://h/"), -EINVAL);
	assert_non_null(strstr(err, "bad URL"));
}

/* Several URLs: one target each, its own request, its own cgroups. */
static void test_targets(void **state)
{
	(void)state;
	assert_int_equal(PARSE("-c", "4", "--cgroup", "/cg/a", "--cgroup", "/cg/b1,/cg/b2",
			       "http://127.0.0.1:81/x", "http://127.0.0.1:82/y"),
			 0);
	assert_int_equal(o.cfg.ntargets, 2);
	assert_false(o.cfg.tls);
	assert_string_equal(o.cfg.target[0].url_text, "http://127.0.0.1:81/x");
	assert_int_equal(o.cfg.target[1].url.port, 82);
	assert_string_equal(o.request[0], "GET /x HTTP/1.1\r\nHost: 127.0.0.1:81\r\n\r\n");
	assert_string_equal(o.request[1], "GET /y HTTP/1.1\r\nHost: 127.0.0.1:82\r\n\r\n");
	assert_int_equal(o.cfg.target[1].request_len, strlen(o.request[1]));
	assert_int_equal(o.ncgroups, 3);
	assert_string_equal(o.cgroups[0], "/cg/a");
	assert_string_equal(o.cgroups[1], "/cg/b1");
	assert_string_equal(o.cgroups[2], "/cg/b2");
	assert_int_equal(o.cgroup_target[0], 0);
	assert_int_equal(o.cgroup_target[1], 1);
	assert_int_equal(o.cgroup_target[2], 1);
	/* one URL: every --cgroup is its own, as before */
	assert_int_equal(PARSE("--cgroup", "/a", "--cgroup", "/b", "https://h/"), 0);
	assert_true(o.cfg.tls);
	assert_int_equal(o.ncgroups, 2);
	assert_int_equal(o.cgroup_target[1], 0);
	/* no cgroups at all is fine with several URLs */
	assert_int_equal(PARSE("-c", "2", "https://h/", "https://i/"), 0);
	assert_int_equal(o.ncgroups, 0);
}

/* Connections are dealt out evenly over threads and round robin over targets. */
static void test_split(void **state)
{
	uint32_t per_target[LG_TARGETS_MAX] = { 0 }, per_thread[8] = { 0 };
	uint32_t th, i, g = 0;

	(void)state;
	assert_int_equal(PARSE("-c", "12", "-t", "5", "http://a/", "http://b/", "http://c/"), 0);
	for (th = 0; th < o.cfg.threads; th++) {
		assert_int_equal(lg_thread_first_conn(&o.cfg, th), g);
		for (i = 0; i < lg_thread_conns(&o.cfg, th); i++, g++) {
			per_target[lg_conn_target(&o.cfg, g)]++;
			per_thread[th]++;
		}
	}
	assert_int_equal(g, 12);
	assert_int_equal(per_target[0], 4);
	assert_int_equal(per_target[1], 4);
	assert_int_equal(per_target[2], 4);
	/* 12 over 5 threads: 3, 3, 2, 2, 2 */
	assert_int_equal(per_thread[0], 3);
	assert_int_equal(per_thread[1], 3);
	assert_int_equal(per_thread[4], 2);
	/* one target takes every connection */
	assert_int_equal(PARSE("-c", "7", "http://a/"), 0);
	for (g = 0; g < 7; g++)
		assert_int_equal(lg_conn_target(&o.cfg, g), 0);
}

/* --netns: one entry per URL, in order, in one option or spread over several. */
static void test_netns(void **state)
{
	uint32_t i;

	(void)state;
	/* none: every target in loadgen's own namespace, no descriptor yet */
	assert_int_equal(PARSE("-c", "2", "http://h/", "http://i/"), 0);
	for (i = 0; i < LG_TARGETS_MAX; i++) {
		assert_null(o.cfg.target[i].netns);
		assert_int_equal(o.cfg.target[i].netns_fd, -1);
	}
	assert_int_equal(o.cfg.home_netns_fd, -1);
	/* once per URL */
	assert_int_equal(PARSE("-c", "2", "--netns", "/run/netns/a", "--netns", "/proc/1/ns/net",
			       "http://127.0.0.1:8443/", "http://127.0.0.1:8443/"),
			 0);
	assert_string_equal(o.cfg.target[0].netns, "/run/netns/a");
	assert_string_equal(o.cfg.target[1].netns, "/proc/1/ns/net");
	assert_int_equal(o.cfg.target[0].netns_fd, -1); /* opened by main, not here */
	/* as one list: the same */
	assert_int_equal(PARSE("-c", "3", "--netns", "/n/a,/n/b,/n/c", "http://h/", "http://i/",
			       "http://j/"),
			 0);
	assert_string_equal(o.cfg.target[0].netns, "/n/a");
	assert_string_equal(o.cfg.target[1].netns, "/n/b");
	assert_string_equal(o.cfg.target[2].netns, "/n/c");
	/* mixed: a list and a single one, in order */
	assert_int_equal(PARSE("-c", "3", "--netns", "/n/a,/n/b", "--netns", "/n/c", "http://h/",
			       "http://i/", "http://j/"),
			 0);
	assert_string_equal(o.cfg.target[1].netns, "/n/b");
	assert_string_equal(o.cfg.target[2].netns, "/n/c");
	/* empty entries are loadgen's own namespace */
	assert_int_equal(PARSE("-c", "3", "--netns", ",/n/b,", "http://h/", "http://i/",
			       "http://j/"),
			 0);
	assert_null(o.cfg.target[0].netns);
	assert_string_equal(o.cfg.target[1].netns, "/n/b");
	assert_null(o.cfg.target[2].netns);
	assert_int_equal(PARSE("-c", "2", "--netns", "", "--netns", "/n/b", "http://h/",
			       "http://i/"),
			 0);
	assert_null(o.cfg.target[0].netns);
	assert_string_equal(o.cfg.target[1].netns, "/n/b");
	/* one URL */
	assert_int_equal(PARSE("--netns", "/run/netns/x", "http://h/"), 0);
	assert_string_equal(o.cfg.target[0].netns, "/run/netns/x");
	assert_int_equal(PARSE("--netns", "", "http://h/"), 0);
	assert_null(o.cfg.target[0].netns);
	/* a new parse forgets the last one's */
	assert_int_equal(PARSE("http://h/"), 0);
	assert_null(o.cfg.target[0].netns);
}

static void test_netns_bad(void **state)
{
	static char big[OPTS_NETNS_TEXT + 2];

	(void)state;
	/* too few, too many, for one URL and for several */
	assert_int_equal(PARSE("-c", "2", "--netns", "/n/a", "http://h/", "http://i/"), -EINVAL);
	assert_non_null(strstr(err, "1 namespaces for 2 URLs"));
	assert_int_equal(PARSE("-c", "2", "--netns", "/n/a,/n/b,/n/c", "http://h/", "http://i/"),
			 -EINVAL);
	assert_non_null(strstr(err, "more namespaces than URLs (2)"));
	assert_int_equal(PARSE("-c", "2", "--netns", "/n/a", "--netns", "/n/b", "--netns", "/n/c",
			       "http://h/", "http://i/"),
			 -EINVAL);
	assert_non_null(strstr(err, "more namespaces"));
	assert_int_equal(PARSE("--netns", "/n/a,/n/b", "http://h/"), -EINVAL);
	assert_int_equal(PARSE("--netns", "/n/a,", "http://h/"), -EINVAL);
	assert_int_equal(PARSE("-c", "3", "--netns", ",", "http://h/", "http://i/", "http://j/"),
			 -EINVAL);
	assert_non_null(strstr(err, "2 namespaces for 3 URLs"));
	assert_int_equal(PARSE("--netns"), -EINVAL);
	assert_non_null(strstr(err, "needs a value"));
	/* more text than the buffer holds */
	memset(big, 'x', sizeof(big) - 1);
	big[0] = '/';
	assert_int_equal(PARSE("--netns", big, "http://h/"), -EINVAL);
	assert_non_null(strstr(err, "too long"));
	/* exactly what fits */
	big[OPTS_NETNS_TEXT - 1] = '\0';
	assert_int_equal(PARSE("--netns", big, "http://h/"), 0);
	assert_int_equal(strlen(o.cfg.target[0].netns), OPTS_NETNS_TEXT - 1);
}

/* --thread-per-target: a thread per URL, thread i's connections all to target i. */
static void test_thread_per_target(void **state)
{
	uint32_t th, i;

	(void)state;
	assert_int_equal(PARSE("-c", "6", "--thread-per-target", "http://a/", "http://b/",
			       "http://c/"),
			 0);
	assert_true(o.cfg.thread_per_target);
	assert_int_equal(o.cfg.threads, 3);
	for (th = 0; th < 3; th++) {
		assert_int_equal(lg_thread_conns(&o.cfg, th), 2);
		assert_int_equal(lg_thread_first_conn(&o.cfg, th), th * 2);
		for (i = 0; i < 2; i++)
			assert_int_equal(lg_conn_target(&o.cfg, th * 2 + i), th);
	}
	/* -t agreeing with it is fine, disagreeing is refused */
	assert_int_equal(PARSE("-t", "2", "-c", "4", "--thread-per-target", "http://a/",
			       "http://b/"),
			 0);
	assert_int_equal(PARSE("-t", "1", "-c", "4", "--thread-per-target", "http://a/",
			       "http://b/"),
			 -EINVAL);
	assert_non_null(strstr(err, "--thread-per-target"));
	/* too few connections for the URLs: said so, not as a -t problem */
	assert_int_equal(PARSE("-c", "1", "--thread-per-target", "http://a/", "http://b/"), -EINVAL);
	assert_non_null(strstr(err, "not a multiple"));
	/* one URL: one thread */
	assert_int_equal(PARSE("-c", "4", "--thread-per-target", "http://a/"), 0);
	assert_int_equal(o.cfg.threads, 1);
	assert_int_equal(lg_conn_target(&o.cfg, 3), 0);
	/* without it, round robin as before */
	assert_int_equal(PARSE("-c", "4", "-t", "2", "http://a/", "http://b/"), 0);
	assert_false(o.cfg.thread_per_target);
	assert_int_equal(lg_conn_target(&o.cfg, 1), 1);
	assert_int_equal(lg_conn_target(&o.cfg, 2), 0);
}

/* -R is the total; --rate-per-target the rate of each URL. */
static void test_rates(void **state)
{
	(void)state;
	assert_int_equal(PARSE("-c", "2", "-R", "1000", "http://a/", "http://b/"), 0);
	assert_true(o.cfg.rate == 1000);
	assert_int_equal(PARSE("-c", "2", "--rate-per-target", "1000", "http://a/", "http://b/"), 0);
	assert_true(o.cfg.rate == 2000);
	assert_int_equal(PARSE("--rate-per-target", "250", "http://a/"), 0);
	assert_true(o.cfg.rate == 250);
	assert_int_equal(o.cfg.arrivals, SCHED_UNIFORM);
	assert_int_equal(o.cfg.seed, 1);
	assert_int_equal(PARSE("-R", "250", "--arrivals", "poisson", "--seed", "9", "http://a/"), 0);
	assert_int_equal(o.cfg.arrivals, SCHED_POISSON);
	assert_int_equal(o.cfg.seed, 9);
	assert_int_equal(PARSE("-R", "250", "--arrivals", "uniform", "http://a/"), 0);
	assert_int_equal(o.cfg.arrivals, SCHED_UNIFORM);
	assert_int_equal(PARSE("-R", "250", "--arrivals", "bursty", "http://a/"), -EINVAL);
	assert_non_null(strstr(err, "uniform or poisson"));
	assert_int_equal(PARSE("--arrivals", "poisson", "http://a/"), -EINVAL);
	assert_non_null(strstr(err, "open loop"));
	assert_int_equal(PARSE("-R", "250", "--seed", "-1", "http://a/"), -EINVAL);
	assert_int_equal(PARSE("-R", "10", "--rate-per-target", "10", "http://a/"), -EINVAL);
	assert_non_null(strstr(err, "exclude"));
	assert_int_equal(PARSE("--rate-per-target", "0", "http://a/"), -EINVAL);
	assert_int_equal(PARSE("--rate-per-target", "x", "http://a/"), -EINVAL);
	/* open loop, several URLs: every thread needs as many connections to each */
	assert_int_equal(PARSE("-c", "10", "-t", "2", "-R", "100", "http://a/", "http://b/"),
			 -EINVAL);
	assert_non_null(strstr(err, "same schedule"));
	assert_int_equal(PARSE("-c", "8", "-t", "2", "-R", "100", "http://a/", "http://b/"), 0);
	assert_int_equal(PARSE("-c", "10", "-t", "2", "--thread-per-target", "-R", "100",
			       "http://a/", "http://b/"),
			 0);
	/* closed loop does not care */
	assert_int_equal(PARSE("-c", "10", "-t", "2", "http://a/", "http://b/"), 0);
}

/* A parse stopped inside an option cluster must not leak into the next (fuzz_opts found it). */
static void test_reparse(void **state)
{
	(void)state;
	assert_int_equal(PARSE("-g-croup", "http://a/"), -EINVAL);
	assert_int_equal(PARSE("-c", "4", "http://a/"), 0);
	assert_int_equal(o.cfg.conns, 4);
	assert_int_equal(PARSE("-hc", "http://a/"), 0);
	assert_true(o.help);
	assert_int_equal(PARSE("-c", "5", "http://a/"), 0);
	assert_false(o.help);
	assert_int_equal(o.cfg.conns, 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_defaults_and_request),
		cmocka_unit_test(test_close_headers),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_targets),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_netns),
		cmocka_unit_test(test_netns_bad),
		cmocka_unit_test(test_thread_per_target),
		cmocka_unit_test(test_rates),
		cmocka_unit_test(test_reparse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
