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

/* Requests between two timed ones, and timed ones per re-timing. */
#define ROUTE_WORK_EVERY   32u
#define ROUTE_WORK_SAMPLES 9u

/* --work-per-request: blocks of arithmetic spent on every request first. */
struct route_work {
	uint64_t blocks;   /* per request, or 0 for none */
	uint64_t goal_ns;  /* the CPU time they are to cost */
	uint64_t clock_ns; /* a clock read's own cost, taken off each timing */
	unsigned count;    /* requests since the last timed one */
	unsigned samples;  /* timings in sample_ns */
	uint64_t sample_ns[ROUTE_WORK_SAMPLES];
};

struct route_ctx {
	int content_fd;         /* directory for /file/ (O_PATH is enough), or -1 */
	struct route_work work; /* route_work_init(), or all zero: none */
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
 * timed once (about 40 ms). Spending them costs no clock read (but on the
 * few requests route_work_init() re-times them by), so a calibration cost is
 * that many microseconds and not a syscall more.
 */
uint64_t route_work_blocks(unsigned usec);

/*
 * Sets w up to spend usec of CPU time on every request (0: none): blocks
 * timed at start-up, then re-timed while serving. One request in
 * ROUTE_WORK_EVERY is timed (two clock reads); every ROUTE_WORK_SAMPLES
 * timings the block count is set from their median. A start-up timing
 * alone holds for what ran at that moment (a socket-activated server starts
 * under load); re-timed in service, the work costs its thread usec of CPU
 * time, which is what the cgroup counts, whatever the start was like.
 */
void route_work_init(struct route_work *w, unsigned usec);

/*
 * Answers req. rng is the caller's xorshift state (non-zero) for the random
 * lunch. Never fails: errors become 4xx/5xx results. A file result hands an
 * open fd to the caller.
 */
void route_handle(struct route_ctx *ctx, const struct http_request *req, uint64_t *rng,
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
