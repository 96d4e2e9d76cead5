/* Description: cmocka tests of url_parse and url_host_header. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "bench/loadgen/url.h"

static void test_http_defaults(void **state)
{
	struct url u;

	(void)state;
	assert_int_equal(url_parse("http://example.com", &u, NULL), 0);
	assert_false(u.tls);
	assert_int_equal(u.port, 80);
	assert_false(u.port_explicit);
	assert_string_equal(u.host, "example.com");
	assert_string_equal(u.path, "/");
}

static void test_https_port_path_query(void **state)
{
	struct url u;

	(void)state;
	assert_int_equal(url_parse("HTTPS://127.0.0.1:8443/bytes/100?x=1#frag", &u, NULL), 0);
	assert_true(u.tls);
	assert_int_equal(u.port, 8443);
	assert_string_equal(u.host, "127.0.0.1");
	assert_string_equal(u.path, "/bytes/100?x=1");
	assert_int_equal(url_parse("https://h?q", &u, NULL), 0);
	assert_string_equal(u.path, "/?q");
}

static void test_ipv6(void **state)
{
	struct url u;
	char hh[300];

	(void)state;
	assert_int_equal(url_parse("https://[::1]:19443/x", &u, NULL), 0);
	assert_true(u.ipv6_literal);
	assert_string_equal(u.host, "::1");
	assert_int_equal(u.port, 19443);
	assert_int_equal(url_host_header(&u, hh, sizeof(hh)), (int)strlen("[::1]:19443"));
	assert_string_equal(hh, "[::1]:19443");
	assert_int_equal(url_parse("http://[::1]", &u, NULL), 0);
	assert_int_equal(url_host_header(&u, hh, sizeof(hh)), 5);
	assert_string_equal(hh, "[::1]");
}

static void test_host_header_default_port(void **state)
{
	struct url u;
	char hh[300];

	(void)state;
	assert_int_equal(url_parse("https://localhost:443/", &u, NULL), 0);
	url_host_header(&u, hh, sizeof(hh));
	assert_string_equal(hh, "localhost");
	assert_int_equal(url_parse("http://localhost:8080/", &u, NULL), 0);
	url_host_header(&u, hh, sizeof(hh));
	assert_string_equal(hh, "localhost:8080");
	assert_int_equal(url_host_header(&u, hh, 5), -ENOSPC);
}

static void test_bad(void **state)
{
	static const char *const bad[] = {
		"", "ftp://x/", "http://", "http:///path", "http://h:0/", "http://h:65536/",
		"http://h:/", "http://h:12a/", "http://[::1/", "http://[zz]/", "http://u@h/",
		"http://h/a b", "http://h/\x01", "http://h!x/", "example.com", "http//h/",
	};
	struct url u;
	const char *why;
	size_t i;

	(void)state;
	memset(&u, 0x5a, sizeof(u));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		assert_int_equal(url_parse(bad[i], &u, &why), -EINVAL);
		assert_non_null(why);
	}
	assert_int_equal(url_parse(NULL, &u, NULL), -EINVAL);
	/* untouched on failure */
	assert_int_equal(((unsigned char *)&u)[0], 0x5a);
}

static void test_long(void **state)
{
	char s[6000];
	struct url u;

	(void)state;
	strcpy(s, "http://");
	memset(s + 7, 'a', 300);
	s[307] = 0;
	assert_int_equal(url_parse(s, &u, NULL), -EINVAL);
	strcpy(s, "http://h/");
	memset(s + 9, 'p', 5000);
	s[5009] = 0;
	assert_int_equal(url_parse(s, &u, NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_defaults),
		cmocka_unit_test(test_https_port_path_query),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_host_header_default_port),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
