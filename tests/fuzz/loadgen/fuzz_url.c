/*
 * Description: libFuzzer target for url_parse and url_host_header: no crash,
 * no over-read, and an accepted URL has sane parts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bench/loadgen/url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	struct url u;
	char hh[URL_HOST_MAX + 16];

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (url_parse(s, &u, NULL) == 0) {
		if (u.port == 0 || u.host[0] == '\0' || u.path[0] != '/')
			abort();
		if (memchr(u.path, ' ', strlen(u.path)))
			abort();
		if (url_host_header(&u, hh, sizeof(hh)) < 0)
			abort();
	}
	free(s);
	return 0;
}
