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
#include "tests/fuzz/argv.h"

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
	char *argv[34], *buf;
	struct server_opts o;
	int argc;

	buf = fuzz_argv(data, size, "fuzz", argv, 32, &argc);
	if (!buf)
		return 0;
	if (opts_parse(&spec, argc, argv, &o) == 0) {
		if (!o.key || !o.cert || o.workers < 1 || o.workers > OPTS_MAX_WORKERS ||
		    o.max_conns < o.workers)
			abort();
	}
	free(buf);
	return 0;
}
