/*
 * Description: cmocka tests of the HTTP request parser and response-head
 * writer. Every input is placed right before a PROT_NONE guard page, so a
 * read past the end of the input crashes the test instead of passing.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "servers/lib/http.h"

static char *region;
static size_t region_size;

static int setup(void **state)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	(void)state;
	/* room for the largest test input, then one guard page */
	region_size = ((3 * HTTP_MAX_HEAD) / page + 1) * page;
	region = mmap(NULL, region_size + page, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (region == MAP_FAILED)
		return -1;
	return mprotect(region + region_size, page, PROT_NONE);
}

static int teardown(void **state)
{
	(void)state;
	munmap(region, region_size + (size_t)sysconf(_SC_PAGESIZE));
	return 0;
}

/* Copies s[0..len) so that it ends at the guard page; returns the copy. */
static const char *guard(const char *s, size_t len)
{
	assert_true(len <= region_size);
	memcpy(region + region_size - len, s, len);
	return region + region_size - len;
}

static int parse(const char *s, struct http_request *req)
{
	size_t len = strlen(s);

	memset(req, 0xa5, sizeof(*req));
	return http_parse_request(guard(s, len), len, req);
}

static void test_simple_get(void **state)
{
	const char *s = "GET /bytes/10?x=1 HTTP/1.1\r\nHost: a\r\nUser-Agent: t\r\n\r\n";
	struct http_request req;

	(void)state;
	assert_int_equal(parse(s, &req), (int)strlen(s));
	assert_int_equal(req.method, HTTP_METHOD_GET);
	assert_int_equal(req.path_len, strlen("/bytes/10?x=1"));
	assert_memory_equal(req.path, "/bytes/10?x=1", req.path_len);
	assert_int_equal(req.minor, 1);
	assert_true(req.keep_alive);
	assert_false(req.has_body);
}

static void test_versions_and_connection(void **state)
{
	struct http_request req;

	(void)state;
	assert_true(parse("HEAD / HTTP/1.0\r\n\r\n", &req) > 0);
	assert_int_equal(req.method, HTTP_METHOD_HEAD);
	assert_int_equal(req.minor, 0);
	assert_false(req.keep_alive);

	assert_true(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &req) > 0);
	assert_true(req.keep_alive);

	assert_true(parse("GET / HTTP/1.1\r\nHost: x\r\nConnection: foo, close\r\n\r\n", &req) > 0);
	assert_false(req.keep_alive);

	/* bare LF line ends are accepted */
	assert_true(parse("GET / HTTP/1.1\nHost: x\n\n", &req) > 0);
	assert_true(req.keep_alive);

	/* one leading empty line is ignored */
	assert_int_equal(parse("\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", &req), 29);
}

static void test_every_prefix_incomplete(void **state)
{
	const char *s = "GET /file/a.txt HTTP/1.1\r\nHost: example\r\nAccept: */*\r\n\r\n";
	struct http_request req;

	(void)state;
	for (size_t n = 0; n < strlen(s); n++)
		assert_int_equal(http_parse_request(guard(s, n), n, &req), -2);
	assert_int_equal(http_parse_request(guard(s, strlen(s)), strlen(s), &req), (int)strlen(s));
}

static void test_pipelined(void **state)
{
	const char *s = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n";
	struct http_request req;
	int n;

	(void)state;
	n = parse(s, &req);
	assert_int_equal(n, (int)strlen(s) / 2);
	assert_memory_equal(req.path, "/a", 2);
	n = http_parse_request(guard(s + n, strlen(s) - (size_t)n), strlen(s) - (size_t)n, &req);
	assert_int_equal(n, (int)strlen(s) / 2);
	assert_memory_equal(req.path, "/b", 2);
}

static void expect_status(const char *s, int status)
{
	struct http_request req;

	assert_int_equal(parse(s, &req), -1);
	assert_int_equal(req.status, status);
}

static void test_bad_requests(void **state)
{
	(void)state;
	expect_status("GET / HTTP/1.1\r\n\r\n", 400);                 /* no Host */
	expect_status("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
	expect_status("G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400);
	expect_status("GET foo HTTP/1.1\r\nHost: x\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1 \r\nHost: x\r\n\r\n", 400);
	expect_status("GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400);
	expect_status("GET / HTTX/1.1\r\nHost: x\r\n\r\n", 400);
	expect_status("GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost x\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost: x\x01y\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		      400);
	expect_status("GET / HTTP/1.1\rHost: x\r\n\r\n", 400);
	expect_status("\rGET / HTTP/1.1\r\n\r\n", 400);
	expect_status("GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505);
	expect_status("GET / HTTP/0.9\r\n\r\n", 505);
}

static void test_other_method_and_body(void **state)
{
	struct http_request req;

	(void)state;
	assert_true(parse("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n", &req) > 0);
	assert_int_equal(req.method, HTTP_METHOD_OTHER);
	assert_true(req.has_body);
	assert_false(req.keep_alive);
	assert_true(parse("get / HTTP/1.1\r\nHost: x\r\n\r\n", &req) > 0);
	assert_int_equal(req.method, HTTP_METHOD_OTHER);
	assert_true(parse("GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", &req) >
		    0);
	assert_true(req.has_body);
	assert_true(parse("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", &req) > 0);
	assert_false(req.has_body);
	assert_true(req.keep_alive);
}

static void test_limits(void **state)
{
	char *big = malloc(3 * HTTP_MAX_HEAD);
	struct http_request req;
	size_t n;

	(void)state;
	assert_non_null(big);
	/* a request line of HTTP_MAX_LINE bytes without its end yet: 414 */
	memset(big, 'a', HTTP_MAX_LINE + 10);
	memcpy(big, "GET /", 5);
	assert_int_equal(http_parse_request(guard(big, HTTP_MAX_LINE - 1), HTTP_MAX_LINE - 1, &req),
			 -2);
	assert_int_equal(http_parse_request(guard(big, HTTP_MAX_LINE), HTTP_MAX_LINE, &req), -1);
	assert_int_equal(req.status, 414);
	/* a complete but too long line: 414 */
	n = (size_t)snprintf(big, 3 * HTTP_MAX_HEAD, "GET /%0*d HTTP/1.1\r\nHost: x\r\n\r\n",
			     HTTP_MAX_LINE, 0);
	assert_int_equal(http_parse_request(guard(big, n), n, &req), -1);
	assert_int_equal(req.status, 414);

	/* too many header fields: 431 */
	n = (size_t)sprintf(big, "GET / HTTP/1.1\r\nHost: x\r\n");
	for (int i = 0; i < HTTP_MAX_HEADERS; i++)
		n += (size_t)sprintf(big + n, "X-%d: y\r\n", i);
	n += (size_t)sprintf(big + n, "\r\n");
	assert_int_equal(http_parse_request(guard(big, n), n, &req), -1);
	assert_int_equal(req.status, 431);

	/* a head larger than HTTP_MAX_HEAD: 431, complete or not */
	n = (size_t)sprintf(big, "GET / HTTP/1.1\r\nHost: x\r\n");
	for (int i = 0; i < 4; i++) {
		n += (size_t)sprintf(big + n, "X-%d: ", i);
		memset(big + n, 'v', 5000);
		n += 5000;
		n += (size_t)sprintf(big + n, "\r\n");
	}
	assert_int_equal(http_parse_request(guard(big, HTTP_MAX_HEAD), HTTP_MAX_HEAD, &req), -1);
	assert_int_equal(req.status, 431);
	n += (size_t)sprintf(big + n, "\r\n");
	assert_int_equal(http_parse_request(guard(big, n), n, &req), -1);
	assert_int_equal(req.status, 431);
	assert_int_equal(http_parse_request(guard(big, HTTP_MAX_HEAD - 1), HTTP_MAX_HEAD - 1, &req),
			 -2);
	/* a buffer full of empty lines can never become a request */
	memset(big, '\n', HTTP_MAX_HEAD);
	assert_int_equal(http_parse_request(guard(big, HTTP_MAX_HEAD), HTTP_MAX_HEAD, &req), -1);
	assert_int_equal(req.status, 431);
	for (size_t i = 0; i < HTTP_MAX_HEAD; i += 2)
		memcpy(big + i, "\r\n", 2);
	assert_int_equal(http_parse_request(guard(big, HTTP_MAX_HEAD), HTTP_MAX_HEAD, &req), -1);
	free(big);
}

static void test_write_head(void **state)
{
	struct http_head h = {
		.status = 200,
		.content_type = "text/html",
		.content_length = 13,
		.keep_alive = true,
		.minor = 1,
		.date = "Sun, 06 Nov 1994 08:49:37 GMT",
	};
	char buf[512], small[40];
	int n;

	(void)state;
	n = http_write_head(buf, sizeof(buf), &h);
	assert_true(n > 0);
	assert_string_equal(buf, "HTTP/1.1 200 OK\r\nServer: lunchd\r\n"
				 "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
				 "Content-Type: text/html\r\nContent-Length: 13\r\n\r\n");
	assert_int_equal(n, (int)strlen(buf));

	h.status = 405;
	h.allow = "GET, HEAD";
	h.keep_alive = false;
	h.date = NULL;
	n = http_write_head(buf, sizeof(buf), &h);
	assert_true(n > 0);
	assert_non_null(strstr(buf, "HTTP/1.1 405 Method Not Allowed\r\n"));
	assert_non_null(strstr(buf, "Allow: GET, HEAD\r\n"));
	assert_non_null(strstr(buf, "Connection: close\r\n\r\n"));

	h.keep_alive = true;
	h.minor = 0;
	assert_true(http_write_head(buf, sizeof(buf), &h) > 0);
	assert_non_null(strstr(buf, "Connection: keep-alive\r\n"));

	assert_int_equal(http_write_head(small, sizeof(small), &h), -ENOSPC);
}

static void test_date(void **state)
{
	char d[30];

	(void)state;
	http_date(d, 784111777);
	assert_string_equal(d, "Sun, 06 Nov 1994 08:49:37 GMT");
	assert_string_equal(http_reason(431), "Request Header Fields Too Large");
	assert_string_equal(http_reason(999), "Unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple_get),
		cmocka_unit_test(test_versions_and_connection),
		cmocka_unit_test(test_every_prefix_incomplete),
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_other_method_and_body),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_write_head),
		cmocka_unit_test(test_date),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
