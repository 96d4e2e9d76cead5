/*
 * Description: libFuzzer target for the servers' flags (the walker itself
 * is common/opt's, fuzzed by tests/fuzz/common/fuzz_opt): the table each
 * program builds from its spec, the values' checks and the rules across
 * flags. The input is split at NUL bytes into an argv. The messages go to
 * a closed stdio stream (sanitizer reports use fd 2 directly and stay
 * visible).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "servers/lib/opts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	stdout = fopen("/dev/null", "w");
	stderr = fopen("/dev/null", "w");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct opts_spec spec = {
		.prog = "fuzz",
		.summary = "fuzz",
		.default_listen = "[::]:443",
		.flags = OPTS_TLS | OPTS_USER | OPTS_SECCOMP,
	};
	char *argv[34], *buf = malloc(size + 1);
	struct server_opts o;
	int argc = 1;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	argv[0] = "fuzz";
	for (size_t i = 0; i <= size && argc < 33;) {
		argv[argc++] = buf + i;
		i += strlen(buf + i) + 1;
	}
	argv[argc] = NULL;
	if (opts_parse(&spec, argc, argv, &o) == 0) {
		if (!o.key || !o.cert || o.workers < 1 || o.workers > OPTS_MAX_WORKERS ||
		    o.max_conns < o.workers)
			abort();
	}
	free(buf);
	return 0;
}
