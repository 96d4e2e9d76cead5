/*
 * Description: HTTP/1.x request-head parser and response-head writer.
 *
 * The parser is picohttpparser-shaped: it borrows the caller's buffer, never
 * allocates, and returns the bytes the request head took (> 0), -1 for a bad
 * request (req->status says which answer: 400, 414, 431, 505), or -2 when the
 * head is not complete yet. Limits: a request line of HTTP_MAX_LINE bytes,
 * a whole head of HTTP_MAX_HEAD bytes, HTTP_MAX_HEADERS header fields.
 * The server only serves GET and HEAD; any other well-formed method parses
 * (HTTP_METHOD_OTHER) so that the router can answer 405.
 */
#ifndef SERVERS_HTTP_H
#define SERVERS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_LINE    8192
#define HTTP_MAX_HEAD    16384
#define HTTP_MAX_HEADERS 64

enum http_method {
	HTTP_METHOD_GET = 1,
	HTTP_METHOD_HEAD,
	HTTP_METHOD_OTHER,
};

struct http_request {
	enum http_method method;
	const char *path;  /* points into the caller's buffer, not NUL-terminated */
	size_t path_len;
	int minor;         /* HTTP/1.minor: 0 or 1 */
	bool keep_alive;   /* per version default and Connection: header */
	bool has_body;     /* Content-Length > 0 or Transfer-Encoding: the
	                    * body is not read, so the connection must close */
	int status;        /* on -1: the status to answer with */
};

/*
 * Parses one request head from buf[0..len). Returns the head's length in
 * bytes (> 0), -1 (bad request, req->status set, other fields undefined), or
 * -2 (incomplete: read more; once len reaches HTTP_MAX_HEAD the head can no
 * longer complete and -1/431 or -1/414 is returned instead).
 */
int http_parse_request(const char *buf, size_t len, struct http_request *req);

/* The reason phrase of status ("OK", "Not Found" ...), "Unknown" otherwise. */
const char *http_reason(int status);

struct http_head {
	int status;
	const char *content_type; /* NULL: no Content-Type line */
	uint64_t content_length;
	bool keep_alive;          /* false: "Connection: close" */
	int minor;                /* the request's minor version (1.0 keep-alive echo) */
	const char *allow;        /* non-NULL: an Allow: line (405) */
	const char *date;         /* an IMF-fixdate (29 chars) or NULL */
};

/*
 * Writes a response head (status line, headers, blank line) into buf.
 * Returns its length, or -ENOSPC if it does not fit in size bytes.
 */
int http_write_head(char *buf, size_t size, const struct http_head *head);

/* Writes the IMF-fixdate of t ("Sun, 06 Nov 1994 08:49:37 GMT") + NUL into buf[30]. */
void http_date(char buf[30], int64_t t);

#endif
