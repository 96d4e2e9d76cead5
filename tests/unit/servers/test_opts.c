/*
 * Description: cmocka tests of the shared flag parser: every spelling of
 * every flag, defaults, per-program flag sets, and clear failures.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "servers/lib/opts.h"

static const struct opts_spec tls_spec = {
	.prog = "t-tls",
	.summary = "test",
	.default_listen = "[::]:443",
	.flags = OPTS_TLS | OPTS_USER | OPTS_SECCOMP,
};
static const struct opts_spec plain_spec = {
	.prog = "t-plain",
	.summary = "test",
	.default_listen = "127.0.0.1:8080",
	.flags = OPTS_SECCOMP,
};

#define PARSE(spec, o, ...)                                                                   \
	({                                                                                    \
		char *argv_[] = { "prog", __VA_ARGS__, NULL };                                \
		opts_parse(spec, (int)(sizeof(argv_) / sizeof(argv_[0])) - 1, argv_, o);      \
	})

static void test_defaults(void **state)
{
	struct server_opts o;
	char *argv[] = { "prog", NULL };

	(void)state;
	assert_int_equal(opts_parse(&plain_spec, 1, argv, &o), 0);
	assert_string_equal(o.listen, "127.0.0.1:8080");
	assert_int_equal(o.workers, 1);
	assert_int_equal(o.max_conns, OPTS_DEFAULT_CONNS);
	assert_int_equal(o.timeout_ms, OPTS_DEFAULT_TIMEOUT_MS);
	assert_false(o.seccomp);
	assert_int_equal(o.work_us, 0);
	assert_null(o.key);
	assert_null(o.content);
}

static void test_spellings(void **state)
{
	struct server_opts o;

	(void)state;
	assert_int_equal(PARSE(&tls_spec, &o, "-key=/c/key.pem", "-certificate=/c/chain.pem"), 0);
	assert_string_equal(o.key, "/c/key.pem");
	assert_string_equal(o.cert, "/c/chain.pem");
	assert_string_equal(o.listen, "[::]:443");
	assert_int_equal(PARSE(&tls_spec, &o, "-key", "k", "-certificate", "c"), 0);
	assert_string_equal(o.key, "k");
	assert_string_equal(o.cert, "c");
	assert_int_equal(PARSE(&tls_spec, &o, "--key", "k", "--cert=c", "--listen", "unix:/x",
			       "--user", "nobody", "--workers=4", "--content", "/srv",
			       "--seccomp", "--max-conns", "10", "--timeout-ms", "250"),
			 0);
	assert_string_equal(o.cert, "c");
	assert_string_equal(o.listen, "unix:/x");
	assert_string_equal(o.user, "nobody");
	assert_int_equal(o.workers, 4);
	assert_string_equal(o.content, "/srv");
	assert_true(o.seccomp);
	assert_int_equal(o.max_conns, 10);
	assert_int_equal(o.timeout_ms, 250);
	assert_int_equal(PARSE(&plain_spec, &o, "--work-per-request=2"), 0);
	assert_int_equal(o.work_us, 2);
	assert_int_equal(PARSE(&tls_spec, &o, "--certificate", "c", "-key", "k"), 0);
}

static void test_errors(void **state)
{
	struct server_opts o;

	(void)state;
	assert_int_equal(PARSE(&tls_spec, &o, "--key", "k"), -EINVAL);        /* no cert */
	assert_int_equal(PARSE(&tls_spec, &o, "--key"), -EINVAL);             /* no value */
	assert_int_equal(PARSE(&tls_spec, &o, "--key="), -EINVAL);            /* empty value */
	assert_int_equal(PARSE(&plain_spec, &o, "--key", "k"), -EINVAL);      /* not this program's */
	assert_int_equal(PARSE(&plain_spec, &o, "--user", "x"), -EINVAL);
	assert_int_equal(PARSE(&plain_spec, &o, "--bogus"), -EINVAL);
	assert_int_equal(PARSE(&plain_spec, &o, "stray"), -EINVAL);
	assert_int_equal(PARSE(&plain_spec, &o, "-"), -EINVAL);
	assert_int_equal(PARSE(&plain_spec, &o, "--workers", "0"), -EINVAL);
	assert_int_equal(PARSE(&plain_spec, &o, "--workers", "65"), -EINVAL);
	assert_int_equal(PARSE(&plain_spec, &o, "--workers", "2x"), -EINVAL);
	assert_int_equal(PARSE(&plain_spec, &o, "--workers", "-1"), -EINVAL);
	assert_int_equal(PARSE(&plain_spec, &o, "--workers", " 5"), -EINVAL); /* digits only */
	assert_int_equal(PARSE(&plain_spec, &o, "--workers", "+5"), -EINVAL);
	assert_int_equal(PARSE(&plain_spec, &o, "--work"), -EINVAL);         /* no prefixes */
	assert_int_equal(PARSE(&plain_spec, &o, "--max-conns", "99999999999"), -EINVAL);
	assert_int_equal(PARSE(&plain_spec, &o, "--timeout-ms", "5"), -EINVAL);
	assert_int_equal(PARSE(&plain_spec, &o, "--seccomp=1"), -EINVAL);
	assert_int_equal(PARSE(&plain_spec, &o, "--work-per-request", "1000001"), -EINVAL);
	assert_int_equal(PARSE(&plain_spec, &o, "--work-per-request", "-2"), -EINVAL);
	assert_int_equal(PARSE(&plain_spec, &o, "--workers", "4", "--max-conns", "2"), -EINVAL);
}

static void test_help(void **state)
{
	struct server_opts o;

	(void)state;
	assert_int_equal(PARSE(&plain_spec, &o, "--help"), 1);
	assert_int_equal(PARSE(&plain_spec, &o, "-h"), 1);
	assert_int_equal(PARSE(&tls_spec, &o, "-help"), 1);
	assert_int_equal(PARSE(&tls_spec, &o, "--h"), 1);
	assert_int_equal(PARSE(&tls_spec, &o, "-h=1"), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_spellings),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_help),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
