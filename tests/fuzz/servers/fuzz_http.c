/*
 * Description: libFuzzer target for the request parser and the router.
 * The input is copied into an exactly sized heap buffer, so ASan catches a
 * read past its end; a parsed request is routed (no content directory,
 * /work/ skipped to keep runs fast) and its response head written, and the
 * parser's contract is checked: a result is -2, -1 with a 4xx/5xx status, or
 * a length within the input with a path inside it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "servers/lib/http.h"
#include "servers/lib/route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct route_ctx ctx = { .content_fd = -1 };
	struct http_request req;
	struct route_result res;
	uint64_t rng = 1;
	char *buf = malloc(size ? size : 1);
	char head[1024];
	int n;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	n = http_parse_request(buf, size, &req);
	if (n == -1) {
		if (req.status < 400 || req.status > 599)
			abort();
		route_error(req.status, &res);
	} else if (n > 0) {
		if ((size_t)n > size || req.path < buf || req.path + req.path_len > buf + n)
			abort();
		if (req.path_len >= 6 && !memcmp(req.path, "/work/", 6))
			goto out;
		route_handle(&ctx, &req, &rng, &res);
		if (res.fd >= 0)
			close(res.fd);
	} else if (n != -2 || size >= HTTP_MAX_HEAD) {
		abort(); /* -2 is only for heads that can still complete */
	} else {
		goto out;
	}
	{
		struct http_head h = {
			.status = res.status,
			.content_type = res.content_type,
			.content_length = res.length,
			.keep_alive = !res.close,
			.minor = 1,
			.allow = res.allow,
		};
		if (http_write_head(head, sizeof(head), &h) < 0)
			abort();
	}
out:
	free(buf);
	return 0;
}
