/*
 * Description: libFuzzer target for the --listen address parser.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "servers/lib/listen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	char *s = malloc(size + 1);

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (listen_parse(s, &ss, &len) == 0 && (len == 0 || len > sizeof(ss)))
		abort();
	free(s);
	return 0;
}
