/*
 * Description: libFuzzer target for the cgroup CPU parsers: no crash, no
 * read past the given length, an accepted cpu.stat really has a
 * usage_usec line carrying the value returned, and an accepted
 * /proc/TID/status has each context-switch line exactly once.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bench/loadgen/cgcpu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Does some line of s (size bytes) read "usage_usec " and then exactly v? */
static int has_line(const char *s, size_t size, uint64_t v)
{
	const char *p = s, *end = s + size;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *eol = nl ? nl : end;
		char num[32];
		size_t n = (size_t)(eol - p);

		if (n > 11 && memcmp(p, "usage_usec ", 11) == 0) {
			const char *d = p + 11;

			while (d + 1 < eol && *d == '0')
				d++; /* leading zeros: the value fits the buffer without them */
			n = (size_t)(eol - d);
			if (n < sizeof(num)) {
				memcpy(num, d, n);
				num[n] = '\0';
				if (num[0] >= '0' && num[0] <= '9' && strtoull(num, NULL, 10) == v)
					return 1;
			}
		}
		p = eol + 1;
	}
	return 0;
}

/* How many lines of s (size bytes) start with key? */
static int count_lines(const char *s, size_t size, const char *key)
{
	const char *p = s, *end = s + size;
	size_t k = strlen(key);
	int n = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *eol = nl ? nl : end;

		n += (size_t)(eol - p) > k && memcmp(p, key, k) == 0;
		p = eol + 1;
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cgcpu_wake w = { 7, 7 };
	char *s = malloc(size ? size : 1);
	uint64_t v;

	if (!s)
		return 0;
	memcpy(s, data, size);
	if (cgcpu_parse_stat(s, size, &v) == 0 && !has_line(s, size, v))
		abort();
	if (cgcpu_parse_usage(s, size, &v) == 0 && (size == 0 || s[0] < '0' || s[0] > '9'))
		abort();
	if (cgcpu_parse_ctxt(s, size, &w) == 0) {
		if (count_lines(s, size, "voluntary_ctxt_switches:") != 1 ||
		    count_lines(s, size, "nonvoluntary_ctxt_switches:") != 1)
			abort();
	} else if (w.vol != 7 || w.nonvol != 7) {
		abort(); /* a refusal leaves the output alone */
	}
	free(s);
	return 0;
}
