/*
 * Description: the routes every lunchd server answers, as a pure function of
 * a parsed request (no sockets, testable alone):
 *
 *   GET /            the seed's random lunch, "<h1>Soup</h1>"
 *   GET /bytes/N     N bytes (0..ROUTE_MAX_BYTES) of a repeating pattern
 *   GET /file/NAME   a regular file from the content directory; NAME is one
 *                    path component of [A-Za-z0-9._-] not starting with '.',
 *                    opened with O_NOFOLLOW below the directory, so no path
 *                    can escape it
 *   GET /work/N      N microseconds (0..ROUTE_MAX_WORK_US) of CPU time spent
 *   GET /healthz     "ok"
 *
 * HEAD answers the same heads without a body. Other methods get 405.
 */
#ifndef SERVERS_ROUTE_H
#define SERVERS_ROUTE_H

#include <stdbool.h>
#include <stdint.h>

#include "servers/lib/http.h"

#define ROUTE_MAX_BYTES   (16u << 20)
#define ROUTE_MAX_WORK_US 1000000u
/* /bytes/ bodies repeat this many bytes: "0123456789abcdef". */
#define ROUTE_PATTERN_PERIOD 16

enum route_body {
	ROUTE_BODY_NONE,    /* nothing to send (HEAD, or an empty body) */
	ROUTE_BODY_INLINE,  /* inline_body[0..length) */
	ROUTE_BODY_PATTERN, /* length bytes of route_pattern() from offset 0 */
	ROUTE_BODY_FILE,    /* length bytes read from fd */
};

struct route_ctx {
	int content_fd; /* directory for /file/ (O_PATH is enough), or -1 */
	uint64_t work_blocks; /* blocks of arithmetic spent on every request first, or 0:
	                       * route_work_blocks(--work-per-request) */
};

struct route_result {
	int status;
	const char *content_type; /* static string */
	const char *allow;        /* static string for 405, else NULL */
	enum route_body body;
	const char *inline_body;  /* ROUTE_BODY_INLINE: static or points at buf */
	uint64_t length;          /* Content-Length (HEAD: what GET would send) */
	int fd;                   /* ROUTE_BODY_FILE: open file, the caller closes it; else -1 */
	bool close;               /* the connection closes after this response */
	char buf[64];             /* room for generated inline bodies */
};

/*
 * How many blocks of fixed arithmetic take usec of CPU time on this machine,
 * timed once (about 40 ms). Spending them costs no clock read per request,
 * so a calibration cost is that many microseconds and not a syscall more.
 */
uint64_t route_work_blocks(unsigned usec);

/*
 * Answers req. rng is the caller's xorshift state (non-zero) for the random
 * lunch. Never fails: errors become 4xx/5xx results. A file result hands an
 * open fd to the caller.
 */
void route_handle(const struct route_ctx *ctx, const struct http_request *req, uint64_t *rng,
		  struct route_result *ret);

/* Fills ret with the error answer for status (400, 405, 414, 431 ...), close set. */
void route_error(int status, struct route_result *ret);

/*
 * The /bytes/ pattern: a static buffer of ROUTE_PATTERN_SIZE bytes whose byte
 * i is "0123456789abcdef"[i % 16]. Body byte k equals pattern[k % 16], so a
 * body can be sent as slices starting at pattern + (k % 16).
 */
#define ROUTE_PATTERN_SIZE (64 * 1024 + ROUTE_PATTERN_PERIOD)
const char *route_pattern(void);

/* The lunch choices, for tests. */
extern const char *const route_lunches[5];

#endif
