/*
 * Description: libFuzzer target for the systemd syscall-set parser: any
 * text, expanded as @system-service and as the first set it names.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bench/syscost/sysset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct sysset s;
	char first[64] = "@x";

	if (sysset_parse(text, size, "@system-service", &s) == 0)
		sysset_free(&s);
	/* the first "@name" in the input, if any */
	for (size_t i = 0; i < size; i++)
		if (text[i] == '@') {
			size_t n = 0;

			while (i + n < size && n < sizeof(first) - 1 && text[i + n] != '\n' &&
			       text[i + n] != '\0')
				n++;
			memcpy(first, text + i, n);
			first[n] = '\0';
			break;
		}
	if (sysset_parse(text, size, first, &s) == 0)
		sysset_free(&s);
	return 0;
}
