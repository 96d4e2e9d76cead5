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
	assert_string_equal(o.request, "GET /x?y HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n");
	assert_int_equal(o.cfg.request_len, strlen(o.request));
}

static void test_close_headers(void **state)
{
	(void)state;
	assert_int_equal(PARSE("--close", "-H", "X-A: 1", "https://h/"), 0);
	assert_int_equal(o.cfg.mode, LG_CLOSE);
	assert_string_equal(o.request,
			    "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nConnection: close\r\n\r\n");
	/* Host and Connection given by the user replace ours */
	assert_int_equal(PARSE("--close", "-H", "host: other", "-H", "Connection: keep-alive",
			       "https://h/"),
			 0);
	assert_string_equal(o.request,
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
	assert_int_equal(PARSE("http://h/", "http://i/"), -EINVAL);
	assert_int_equal(PARSE("ftp://h/"), -EINVAL);
	assert_non_null(strstr(err, "bad URL"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_defaults_and_request),
		cmocka_unit_test(test_close_headers),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
