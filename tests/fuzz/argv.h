/*
 * Description: the argv of the command-line fuzz targets: the input split
 * at its NUL bytes.
 */
#ifndef TESTS_FUZZ_ARGV_H
#define TESTS_FUZZ_ARGV_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * Copies data[0..size) into a NUL-terminated buffer and sets argv[0] to
 * prog, argv[1..] to the buffer's strings (max at most) and argv[*argc] to
 * NULL: argv holds max + 2. Returns the buffer, to free, or NULL.
 */
static inline char *fuzz_argv(const uint8_t *data, size_t size, const char *prog, char **argv,
			      int max, int *argc)
{
	char *buf = malloc(size + 1);
	size_t off = 0;

	if (!buf)
		return NULL;
	memcpy(buf, data, size);
	buf[size] = '\0';
	*argc = 0;
	argv[(*argc)++] = (char *)prog;
	while (off < size && *argc <= max) {
		argv[(*argc)++] = buf + off;
		off += strlen(buf + off) + 1;
	}
	argv[*argc] = NULL;
	return buf;
}

#endif
