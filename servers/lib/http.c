/*
 * Description: the request-head parser and response-head writer. Strict
 * where leniency hides bugs (bare CR, obsolete line folding, missing Host in
 * HTTP/1.1 are 400), bounded everywhere, and one pass over the bytes.
 */
#include "servers/lib/http.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* RFC 9110 tchar. */
static bool is_tchar(unsigned char c)
{
	static const char extra[] = "!#$%&'*+-.^_`|~";

	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return true;
	return c && strchr(extra, c) != NULL;
}

/* Visible ASCII, the only bytes allowed in a request target. */
static bool is_vchar(unsigned char c)
{
	return c > 0x20 && c < 0x7f;
}

/* Field values: visible ASCII, space, tab and obs-text; no controls. */
static bool is_field_char(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static bool token_eq(const char *p, size_t n, const char *lit)
{
	return strlen(lit) == n && !strncasecmp(p, lit, n);
}

/* Applies a Connection: value (a comma list of tokens) to keep_alive. */
static void parse_connection(const char *v, size_t n, struct http_request *req)
{
	size_t i = 0;

	while (i < n) {
		size_t s, e;

		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < n && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (token_eq(v + s, e - s, "close"))
			req->keep_alive = false;
		else if (token_eq(v + s, e - s, "keep-alive") && req->minor == 0)
			req->keep_alive = true;
	}
}

/* Returns 0 and *ret for a decimal Content-Length, -1 if malformed. */
static int parse_length(const char *v, size_t n, uint64_t *ret)
{
	uint64_t x = 0;

	if (n == 0 || n > 18)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	*ret = x;
	return 0;
}

static int fail(struct http_request *req, int status)
{
	req->status = status;
	return -1;
}

/* Finds the end of the line starting at p: returns the LF or NULL. */
static const char *find_lf(const char *p, const char *end)
{
	return memchr(p, '\n', (size_t)(end - p));
}

int http_parse_request(const char *buf, size_t len, struct http_request *req)
{
	const char *p = buf, *end = buf + len, *lf, *line_end, *sp1, *sp2;
	bool seen_host = false, seen_length = false;
	uint64_t length = 0;
	int nheaders = 0;

	/* RFC 9112 2.2: ignore at least one empty line before a request line. */
	while (p < end && (*p == '\r' || *p == '\n')) {
		if (*p == '\r' && (p + 1 >= end || p[1] != '\n'))
			return p + 1 >= end ? -2 : fail(req, 400);
		p += *p == '\r' ? 2 : 1;
	}

	lf = find_lf(p, end);
	if (!lf)
		return (size_t)(end - p) >= HTTP_MAX_LINE ? fail(req, 414) : -2;
	if (lf - p >= HTTP_MAX_LINE)
		return fail(req, 414);
	line_end = (lf > p && lf[-1] == '\r') ? lf - 1 : lf;

	/* method SP request-target SP HTTP-version */
	sp1 = p;
	while (sp1 < line_end && is_tchar((unsigned char)*sp1))
		sp1++;
	if (sp1 == p || sp1 >= line_end || *sp1 != ' ')
		return fail(req, 400);
	/* Methods are case-sensitive: "get" is some other method. */
	if ((size_t)(sp1 - p) == 3 && !memcmp(p, "GET", 3))
		req->method = HTTP_METHOD_GET;
	else if ((size_t)(sp1 - p) == 4 && !memcmp(p, "HEAD", 4))
		req->method = HTTP_METHOD_HEAD;
	else
		req->method = HTTP_METHOD_OTHER;

	sp2 = sp1 + 1;
	while (sp2 < line_end && is_vchar((unsigned char)*sp2))
		sp2++;
	if (sp2 == sp1 + 1 || sp2 >= line_end || *sp2 != ' ')
		return fail(req, 400);
	req->path = sp1 + 1;
	req->path_len = (size_t)(sp2 - sp1 - 1);
	if (req->path[0] != '/' && !(req->path_len == 1 && req->path[0] == '*'))
		return fail(req, 400);

	if (line_end - (sp2 + 1) != 8 || memcmp(sp2 + 1, "HTTP/", 5) || sp2[7] != '.' ||
	    sp2[6] < '0' || sp2[6] > '9' || sp2[8] < '0' || sp2[8] > '9')
		return fail(req, 400);
	if (sp2[6] != '1')
		return fail(req, 505);
	req->minor = sp2[8] - '0';
	if (req->minor > 1)
		req->minor = 1;
	req->keep_alive = req->minor >= 1;
	req->has_body = false;
	for (const char *q = p; q < line_end; q++)
		if (*q == '\r')
			return fail(req, 400);

	/* header fields until the empty line */
	p = lf + 1;
	for (;;) {
		const char *colon, *v, *ve;

		if (p >= end)
			return (size_t)(end - buf) >= HTTP_MAX_HEAD ? fail(req, 431) : -2;
		lf = find_lf(p, end);
		if (!lf)
			return (size_t)(end - buf) >= HTTP_MAX_HEAD ? fail(req, 431) : -2;
		if (lf + 1 - buf > HTTP_MAX_HEAD)
			return fail(req, 431);
		line_end = (lf > p && lf[-1] == '\r') ? lf - 1 : lf;
		if (line_end == p) {
			p = lf + 1;
			break;
		}
		if (*p == ' ' || *p == '\t') /* obsolete line folding */
			return fail(req, 400);
		if (++nheaders > HTTP_MAX_HEADERS)
			return fail(req, 431);
		colon = p;
		while (colon < line_end && is_tchar((unsigned char)*colon))
			colon++;
		if (colon == p || colon >= line_end || *colon != ':')
			return fail(req, 400);
		v = colon + 1;
		while (v < line_end && (*v == ' ' || *v == '\t'))
			v++;
		ve = line_end;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		for (const char *q = v; q < ve; q++)
			if (!is_field_char((unsigned char)*q))
				return fail(req, 400);

		if (token_eq(p, (size_t)(colon - p), "host")) {
			if (seen_host)
				return fail(req, 400);
			seen_host = true;
		} else if (token_eq(p, (size_t)(colon - p), "connection")) {
			parse_connection(v, (size_t)(ve - v), req);
		} else if (token_eq(p, (size_t)(colon - p), "content-length")) {
			uint64_t l;

			if (parse_length(v, (size_t)(ve - v), &l) < 0 || (seen_length && l != length))
				return fail(req, 400);
			seen_length = true;
			length = l;
		} else if (token_eq(p, (size_t)(colon - p), "transfer-encoding")) {
			req->has_body = true;
		}
		p = lf + 1;
	}

	if (req->minor >= 1 && !seen_host)
		return fail(req, 400);
	if (length > 0)
		req->has_body = true;
	if (req->has_body)
		req->keep_alive = false;
	return (int)(p - buf);
}

const char *http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

int http_write_head(char *buf, size_t size, const struct http_head *h)
{
	int n;

	n = snprintf(buf, size,
		     "HTTP/1.1 %d %s\r\n"
		     "Server: lunchd\r\n"
		     "%s%s%s"
		     "%s%s%s"
		     "%s%s%s"
		     "Content-Length: %llu\r\n"
		     "%s"
		     "\r\n",
		     h->status, http_reason(h->status),
		     h->date ? "Date: " : "", h->date ? h->date : "", h->date ? "\r\n" : "",
		     h->content_type ? "Content-Type: " : "", h->content_type ? h->content_type : "",
		     h->content_type ? "\r\n" : "",
		     h->allow ? "Allow: " : "", h->allow ? h->allow : "", h->allow ? "\r\n" : "",
		     (unsigned long long)h->content_length,
		     !h->keep_alive ? "Connection: close\r\n"
		     : h->minor == 0 ? "Connection: keep-alive\r\n" : "");
	if (n < 0 || (size_t)n >= size)
		return -ENOSPC;
	return n;
}

void http_date(char buf[30], int64_t t)
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm)) {
		snprintf(buf, 30, "Thu, 01 Jan 1970 00:00:00 GMT");
		return;
	}
	snprintf(buf, 30, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday % 7],
		 tm.tm_mday, months[tm.tm_mon % 12], (tm.tm_year + 1900) % 10000, tm.tm_hour,
		 tm.tm_min, tm.tm_sec);
}
