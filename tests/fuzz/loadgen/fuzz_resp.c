/*
 * Description: libFuzzer target for the response parser. The input is parsed
 * whole and again split at a point taken from its first byte; both must agree
 * (the parser's answer may not depend on how TCP cut the stream), and no
 * input may crash or read out of bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bench/loadgen/resp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Parses responses back to back; returns a digest of what was seen. */
static uint64_t run(const char *buf, size_t len, size_t cut)
{
	struct resp r;
	uint64_t digest = 0;
	size_t off = 0;
	/* two pieces: [0, cut) and [cut, len) */
	size_t piece_end = cut < len ? cut : len;

	resp_init(&r, false);
	while (off < len) {
		size_t n = piece_end - off;
		ssize_t x;
		char *copy = malloc(n ? n : 1);

		/* a private copy so ASan sees any over-read of the piece */
		memcpy(copy, buf + off, n);
		x = resp_parse(&r, copy, n);
		free(copy);
		if (x == RESP_ERROR)
			return digest * 31 + 7;
		if (x == RESP_INCOMPLETE) {
			off = piece_end;
			piece_end = len;
			continue;
		}
		if ((size_t)x > n)
			abort();
		digest = digest * 31 + (uint64_t)r.status * 1000003u + r.body_bytes;
		off += (size_t)x;
		if (off >= piece_end)
			piece_end = len;
		resp_init(&r, false);
	}
	if (resp_eof(&r) == 0)
		digest = digest * 31 + r.body_bytes + 1;
	return digest;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t cut;

	if (size < 1)
		return 0;
	cut = size > 1 ? data[0] % size : 0;
	if (run((const char *)data + 1, size - 1, size - 1) != run((const char *)data + 1, size - 1, cut))
		abort();
	return 0;
}
