/*
 * Description: route dispatch and the bodies of the lunchd routes.
 */
#include "servers/lib/route.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *const route_lunches[5] = {
	"<h1>Sandwich</h1>", "<h1>Soup</h1>", "<h1>Salad</h1>", "<h1>Burger</h1>", "<h1>Sushi</h1>",
};

static char pattern[ROUTE_PATTERN_SIZE];

static void pattern_fill(void)
{
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = "0123456789abcdef"[i % ROUTE_PATTERN_PERIOD];
}

const char *route_pattern(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, pattern_fill);
	return pattern;
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ull;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

static void set_inline(struct route_result *r, int status, const char *type, const char *body)
{
	r->status = status;
	r->content_type = type;
	r->body = ROUTE_BODY_INLINE;
	r->inline_body = body;
	r->length = strlen(body);
}

void route_error(int status, struct route_result *r)
{
	const char *body;

	memset(r, 0, sizeof(*r));
	r->fd = -1;
	switch (status) {
	case 400: body = "400 Bad Request\n"; break;
	case 403: body = "403 Forbidden\n"; break;
	case 404: body = "404 Not Found\n"; break;
	case 405: body = "405 Method Not Allowed\n"; r->allow = "GET, HEAD"; break;
	case 408: body = "408 Request Timeout\n"; break;
	case 414: body = "414 URI Too Long\n"; break;
	case 431: body = "431 Request Header Fields Too Large\n"; break;
	case 505: body = "505 HTTP Version Not Supported\n"; break;
	default: status = 500; body = "500 Internal Server Error\n"; break;
	}
	set_inline(r, status, "text/plain", body);
	r->close = true;
}

/* Parses a decimal number in s[0..n) no larger than max. */
static int parse_num(const char *s, size_t n, uint64_t max, uint64_t *ret)
{
	uint64_t x = 0;

	if (n == 0 || n > 10)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		x = x * 10 + (uint64_t)(s[i] - '0');
	}
	if (x > max)
		return -ERANGE;
	*ret = x;
	return 0;
}

static bool has_prefix(const char *p, size_t n, const char *lit, size_t *rest)
{
	size_t l = strlen(lit);

	if (n < l || memcmp(p, lit, l))
		return false;
	*rest = l;
	return true;
}

static const char *type_of(const char *name, size_t n)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{ ".html", "text/html" },	  { ".htm", "text/html" },
		{ ".txt", "text/plain" },	  { ".css", "text/css" },
		{ ".js", "text/javascript" },	  { ".json", "application/json" },
		{ ".svg", "image/svg+xml" },	  { ".png", "image/png" },
		{ ".jpg", "image/jpeg" },
	};

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		size_t l = strlen(types[i].ext);

		if (n > l && !memcmp(name + n - l, types[i].ext, l))
			return types[i].type;
	}
	return "application/octet-stream";
}

static void route_file(const struct route_ctx *ctx, const struct http_request *req,
		       const char *name, size_t n, struct route_result *r)
{
	char path[256];
	struct stat st;
	int fd;

	if (ctx->content_fd < 0 || n == 0 || n >= sizeof(path) || name[0] == '.') {
		route_error(404, r);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-')) {
			route_error(404, r);
			return;
		}
	}
	memcpy(path, name, n);
	path[n] = '\0';
	/* O_NONBLOCK: opening a FIFO (or a device) must not wait for a writer;
	 * fstat then refuses anything but a regular file. On a regular file
	 * O_NONBLOCK changes nothing. */
	fd = openat(ctx->content_fd, path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		route_error(errno == EACCES ? 403 : 404, r);
		return;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		route_error(404, r);
		return;
	}
	r->status = 200;
	r->content_type = type_of(name, n);
	r->length = (uint64_t)st.st_size;
	if (req->method == HTTP_METHOD_HEAD || st.st_size == 0) {
		close(fd);
		r->body = ROUTE_BODY_NONE;
		return;
	}
	r->body = ROUTE_BODY_FILE;
	r->fd = fd;
}

static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Spends usec of this thread's CPU time; returns a value so the work is not optimised away. */
static uint64_t spend_cpu(uint64_t usec)
{
	uint64_t start = cpu_ns(), goal = usec * 1000, acc = usec | 1;

	while (cpu_ns() - start < goal) {
		/* About a microsecond of arithmetic between clock reads. */
		for (int i = 0; i < 256; i++)
			acc = acc * 6364136223846793005ull + 1442695040888963407ull;
	}
	return acc;
}

/* One block: a dependent chain of 256 multiply-adds (a fixed number of cycles). */
static uint64_t spend_blocks(uint64_t blocks, uint64_t acc)
{
	while (blocks--)
		for (int i = 0; i < 256; i++)
			acc = acc * 6364136223846793005ull + 1442695040888963407ull;
	return acc;
}

uint64_t route_work_blocks(unsigned usec)
{
	const uint64_t probe = 20000;
	uint64_t best = UINT64_MAX, blocks;
	volatile uint64_t sink;

	if (usec == 0)
		return 0;
	/* the faster of two timings: the one less disturbed by others */
	for (int i = 0; i < 2; i++) {
		uint64_t t0 = cpu_ns(), t;

		sink = spend_blocks(probe, t0 | 1);
		t = cpu_ns() - t0;
		if (t < best)
			best = t;
	}
	(void)sink;
	if (best == 0)
		best = 1;
	blocks = (probe * usec * 1000 + best / 2) / best;
	return blocks ? blocks : 1;
}

void route_work_init(struct route_work *w, unsigned usec)
{
	uint64_t best = UINT64_MAX;

	memset(w, 0, sizeof(*w));
	if (usec == 0)
		return;
	w->blocks = route_work_blocks(usec);
	w->goal_ns = (uint64_t)usec * 1000;
	for (int i = 0; i < 8; i++) {
		uint64_t t = cpu_ns();

		t = cpu_ns() - t;
		if (t < best)
			best = t;
	}
	w->clock_ns = best;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static void work_spend(struct route_work *w, uint64_t seed)
{
	volatile uint64_t sink;
	uint64_t t0, t, med;

	if (++w->count < ROUTE_WORK_EVERY) {
		sink = spend_blocks(w->blocks, seed | 1);
		(void)sink;
		return;
	}
	w->count = 0;
	t0 = cpu_ns();
	sink = spend_blocks(w->blocks, seed | 1);
	t = cpu_ns() - t0;
	(void)sink;
	w->sample_ns[w->samples++] = t > w->clock_ns ? t - w->clock_ns : 1;
	if (w->samples < ROUTE_WORK_SAMPLES)
		return;
	/* the median: a timing an interrupt landed in does not move it */
	qsort(w->sample_ns, ROUTE_WORK_SAMPLES, sizeof(w->sample_ns[0]), cmp_u64);
	med = w->sample_ns[ROUTE_WORK_SAMPLES / 2];
	w->blocks = (w->goal_ns * w->blocks + med / 2) / med;
	if (w->blocks == 0)
		w->blocks = 1;
	w->samples = 0;
}

void route_handle(struct route_ctx *ctx, const struct http_request *req, uint64_t *rng,
		  struct route_result *r)
{
	const char *path = req->path;
	size_t n = req->path_len, rest;
	uint64_t num;
	const char *q;

	if (req->method == HTTP_METHOD_OTHER) {
		route_error(405, r);
		goto out;
	}
	memset(r, 0, sizeof(*r));
	if (ctx->work.blocks)
		work_spend(&ctx->work, (uint64_t)n);
	r->fd = -1;

	q = memchr(path, '?', n);
	if (q)
		n = (size_t)(q - path);

	if (n == 1 && path[0] == '/') {
		set_inline(r, 200, "text/html", route_lunches[xorshift(rng) % 5]);
	} else if (n == 8 && !memcmp(path, "/healthz", 8)) {
		set_inline(r, 200, "text/plain", "ok\n");
	} else if (has_prefix(path, n, "/bytes/", &rest)) {
		if (parse_num(path + rest, n - rest, ROUTE_MAX_BYTES, &num) < 0) {
			route_error(400, r);
			goto out;
		}
		r->status = 200;
		r->content_type = "application/octet-stream";
		r->length = num;
		r->body = num ? ROUTE_BODY_PATTERN : ROUTE_BODY_NONE;
	} else if (has_prefix(path, n, "/work/", &rest)) {
		if (parse_num(path + rest, n - rest, ROUTE_MAX_WORK_US, &num) < 0) {
			route_error(400, r);
			goto out;
		}
		snprintf(r->buf, sizeof(r->buf), "worked %llu us %x\n", (unsigned long long)num,
			 (unsigned)(spend_cpu(num) & 0xf));
		set_inline(r, 200, "text/plain", r->buf);
	} else if (has_prefix(path, n, "/file/", &rest)) {
		route_file(ctx, req, path + rest, n - rest, r);
	} else {
		route_error(404, r);
	}
	if (req->method == HTTP_METHOD_HEAD && r->body != ROUTE_BODY_FILE)
		r->body = ROUTE_BODY_NONE;
out:
	/* The request was read whole (a body forces keep_alive off), so a 404
	 * or 400 for a bad number can keep the connection; a method we do not
	 * serve closes it. */
	r->close = !req->keep_alive || r->status == 405;
}
