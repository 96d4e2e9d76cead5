/*
 * Description: cmocka tests of the response parser. Every input is also fed
 * split at every byte boundary, and placed against a PROT_NONE guard page so
 * that reading one byte too far crashes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "bench/loadgen/resp.h"

static char *guard_base;
static size_t guard_page;

static int setup(void **state)
{
	(void)state;
	guard_page = (size_t)sysconf(_SC_PAGESIZE);
	guard_base = mmap(NULL, guard_page * 18, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);
	if (guard_base == MAP_FAILED)
		return -1;
	return mprotect(guard_base + guard_page * 17, guard_page, PROT_NONE);
}

static int teardown(void **state)
{
	(void)state;
	munmap(guard_base, guard_page * 18);
	return 0;
}

/* copies s so that its last byte is right before the guard page */
static const char *guarded(const char *s, size_t n)
{
	char *p = guard_base + guard_page * 17 - n;

	assert_true(n <= guard_page * 17);
	memcpy(p, s, n);
	return p;
}

/* parses s in one piece; returns the result */
static ssize_t parse_whole(struct resp *r, const char *s, size_t n)
{
	resp_init(r, false);
	return resp_parse(r, guarded(s, n), n);
}

/*
 * Feeds s split at cut (both parts guarded); returns the total consumed when
 * complete, or the error / RESP_INCOMPLETE.
 */
static ssize_t parse_split(struct resp *r, const char *s, size_t n, size_t cut)
{
	ssize_t a, b;

	resp_init(r, false);
	a = resp_parse(r, guarded(s, cut), cut);
	if (a >= 0 || a == RESP_ERROR)
		return a;
	b = resp_parse(r, guarded(s + cut, n - cut), n - cut);
	if (b >= 0)
		return (ssize_t)cut + b;
	return b;
}

/* parses byte by byte */
static ssize_t parse_bytes(struct resp *r, const char *s, size_t n)
{
	size_t i;

	resp_init(r, false);
	for (i = 0; i < n; i++) {
		ssize_t x = resp_parse(r, guarded(s + i, 1), 1);

		if (x == RESP_ERROR)
			return x;
		if (x >= 0)
			return (ssize_t)i + x;
	}
	return RESP_INCOMPLETE;
}

/* A complete response: every split gives the same answer. */
static void expect_complete(const char *s, size_t len, int status, uint64_t body)
{
	struct resp r;
	size_t cut;

	assert_int_equal(parse_whole(&r, s, len), (ssize_t)len);
	assert_int_equal(r.status, status);
	assert_int_equal(r.body_bytes, body);
	for (cut = 0; cut <= len; cut++) {
		assert_int_equal(parse_split(&r, s, len, cut), (ssize_t)len);
		assert_int_equal(r.status, status);
		assert_int_equal(r.body_bytes, body);
	}
	assert_int_equal(parse_bytes(&r, s, len), (ssize_t)len);
	/* every proper prefix is incomplete */
	for (cut = 0; cut < len; cut++)
		assert_int_equal(parse_whole(&r, s, cut), RESP_INCOMPLETE);
}

static void expect_error(const char *s)
{
	size_t len = strlen(s), cut;
	struct resp r;

	assert_int_equal(parse_whole(&r, s, len), RESP_ERROR);
	for (cut = 0; cut <= len; cut++)
		assert_int_equal(parse_split(&r, s, len, cut), RESP_ERROR);
}

static void test_content_length(void **state)
{
	static const char s[] = "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 14\r\n"
				"Connection: keep-alive\r\n\r\n<h1>Soup</h1>\n";
	struct resp r;

	(void)state;
	expect_complete(s, sizeof(s) - 1, 200, 14);
	parse_whole(&r, s, sizeof(s) - 1);
	assert_false(r.conn_close);
}

static void test_chunked(void **state)
{
	static const char s[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
				"5\r\nhello\r\n1a;ext=1\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n"
				"Trailer: x\r\n\r\n";

	(void)state;
	expect_complete(s, sizeof(s) - 1, 200, 31);
}

static void test_no_body_statuses(void **state)
{
	static const char s204[] = "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n";
	static const char s304[] = "HTTP/1.1 304 Not Modified\r\n\r\n";
	static const char s404[] = "HTTP/1.1 404 Not Found\r\ncontent-length:0\r\n\r\n";
	static const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n";
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n"
				   "Content-Length: 2\r\n\r\nok";
	struct resp r;

	(void)state;
	expect_complete(s204, sizeof(s204) - 1, 204, 0);
	expect_complete(s304, sizeof(s304) - 1, 304, 0);
	expect_complete(s404, sizeof(s404) - 1, 404, 0);
	expect_complete(cont, sizeof(cont) - 1, 201, 2);
	/* HEAD: headers only, whatever Content-Length says */
	resp_init(&r, true);
	assert_int_equal(resp_parse(&r, head, strlen(head)), (ssize_t)strlen(head));
}

static void test_pipelined(void **state)
{
	static const char s[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
				"HTTP/1.1 503 Busy\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx";
	size_t first = strlen("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc");
	struct resp r;
	ssize_t n;

	(void)state;
	resp_init(&r, false);
	n = resp_parse(&r, s, sizeof(s) - 1);
	assert_int_equal(n, (ssize_t)first);
	assert_int_equal(r.status, 200);
	resp_init(&r, false);
	n = resp_parse(&r, s + first, sizeof(s) - 1 - first);
	assert_int_equal(n, (ssize_t)(sizeof(s) - 1 - first));
	assert_int_equal(r.status, 503);
	assert_true(r.conn_close);
}

static void test_until_close(void **state)
{
	static const char s[] = "HTTP/1.0 200 OK\r\n\r\nbody bytes";
	static const char partial[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab";
	struct resp r;

	(void)state;
	resp_init(&r, false);
	assert_int_equal(resp_parse(&r, s, sizeof(s) - 1), RESP_INCOMPLETE);
	assert_int_equal(resp_eof(&r), 0);
	assert_int_equal(r.body_bytes, 10);
	assert_true(r.conn_close);
	/* EOF in the middle of a Content-Length body is an error */
	resp_init(&r, false);
	assert_int_equal(resp_parse(&r, partial, strlen(partial)), RESP_INCOMPLETE);
	assert_int_equal(resp_eof(&r), RESP_ERROR);
	assert_true(resp_started(&r));
	resp_init(&r, false);
	assert_false(resp_started(&r));
}

static void test_large_body_and_long_header(void **state)
{
	static const char huge[] = "HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n";
	static char s[20000];
	struct resp r;
	int n;

	(void)state;
	n = snprintf(s, sizeof(s), "HTTP/1.1 200 OK\r\nX-Long: ");
	memset(s + n, 'v', 1000);
	n += 1000;
	n += snprintf(s + n, sizeof(s) - (size_t)n, "\r\nContent-Length: 10000\r\n\r\n");
	memset(s + n, 'b', 10000);
	n += 10000;
	expect_complete(s, (size_t)n, 200, 10000);
	/* a huge Content-Length is fine: it is only counted */
	resp_init(&r, false);
	assert_int_equal(resp_parse(&r, huge, strlen(huge)), RESP_INCOMPLETE);
}

static void test_bad(void **state)
{
	(void)state;
	expect_error("HTTP/2 200 OK\r\n\r\n");
	expect_error("HTTP/1.1 20 OK\r\n\r\n");
	expect_error("HTTP/1.1 600 Nope\r\n\r\n");
	expect_error("HTTP/1.1 200OK\r\n\r\n");
	expect_error("SSH-2.0-OpenSSH\r\n");
	expect_error("HTTP/1.1 200 OK\n\n");
	expect_error("HTTP/1.1 200 OK\r\nNoColon\r\n\r\n");
	expect_error("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n");
	expect_error("HTTP/1.1 200 OK\r\nContent-Length: 12x\r\n\r\n");
	expect_error("HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n");
	expect_error("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n");
	expect_error("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n");
	expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n");
	expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
	expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n");
	expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		     "fffffffffffffffff\r\n");
}

static void test_header_too_big(void **state)
{
	static char s[RESP_HEAD_MAX + 100];
	struct resp r;
	size_t n;

	(void)state;
	n = (size_t)snprintf(s, sizeof(s), "HTTP/1.1 200 OK\r\nX: ");
	memset(s + n, 'a', sizeof(s) - n);
	resp_init(&r, false);
	assert_int_equal(resp_parse(&r, s, sizeof(s)), RESP_ERROR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_content_length),
		cmocka_unit_test(test_chunked),
		cmocka_unit_test(test_no_body_statuses),
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_until_close),
		cmocka_unit_test(test_large_body_and_long_header),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_header_too_big),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
