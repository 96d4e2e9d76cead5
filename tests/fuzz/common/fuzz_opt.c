/*
 * Description: libFuzzer target for the common option walker and
 * parse_uint. The first byte picks the flags (OPT_*), the second after how
 * many steps a first walk stops; the rest is argv, NUL-separated. The first
 * walk runs on a copy that is freed half way (as loadgen's -h leaves a
 * parse inside "-hc5"); then two walks of a fresh copy must agree step by
 * step: nothing of a walk outlives its struct. Every step is checked: a
 * key from the table, with a value exactly when it takes one, pointing into
 * argv; operands only with OPT_OPERANDS; an error says why and ends the
 * walk; a walk ends within one step per byte. Every argument is also read
 * by parse_uint, checked against a plain digit loop.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/opt.h"
#include "tests/fuzz/argv.h"

#define FUZZ_ARGS 40

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { K_LISTEN = 256, K_CERT, K_JSON, K_NETNS, K_THREAD_PER_TARGET, K_SEED };

/* The three programs' kinds of entry: shorts, aliases, names that begin others. */
static const struct opt table[] = {
	{ "connections", 'c', true },
	{ "threads", 't', true },
	{ "help", 'h', false },
	{ "h", 'h', false },
	{ "listen", K_LISTEN, true },
	{ "cert", K_CERT, true },
	{ "certificate", K_CERT, true },
	{ "json", K_JSON, false },
	{ "netns", K_NETNS, true },
	{ "thread-per-target", K_THREAD_PER_TARGET, false },
	{ "seed", K_SEED, true },
	{ 0 },
};

struct step {
	int key;
	const char *value;
};

static const struct opt *entry(int key)
{
	const struct opt *o;

	for (o = table; o->key; o++)
		if (o->key == key)
			return o;
	return NULL;
}

/* One step of a walk over buf[0..size], checked. */
static struct step step(struct opt_parser *p, const char *buf, size_t size)
{
	struct step s = { .key = opt_next(p) };
	const struct opt *o;

	if (s.key == -EINVAL) {
		if (!p->err[0] || !memchr(p->err, '\0', sizeof(p->err)) || opt_next(p) != OPT_END)
			abort();
		return s;
	}
	if (s.key < 0)
		abort();
	if (p->value) {
		if (p->value < buf || p->value > buf + size)
			abort();
		s.value = p->value;
	}
	if (s.key == OPT_END || s.key == OPT_OPERAND) {
		if ((s.key == OPT_END) != !p->value)
			abort();
		if (s.key == OPT_OPERAND && !(p->flags & OPT_OPERANDS))
			abort();
		return s;
	}
	o = entry(s.key);
	if (!o || o->value != !!p->value)
		abort();
	return s;
}

static void check_uint(const char *s, uint64_t min, uint64_t max)
{
	uint64_t v = 0, want = 0;
	const char *end, *q;
	bool over = false;
	int r;

	for (q = s; *q >= '0' && *q <= '9'; q++) {
		over |= want > (UINT64_MAX - (uint64_t)(*q - '0')) / 10;
		want = want * 10 + (uint64_t)(*q - '0');
	}
	r = parse_uint(s, NULL, min, max, &v);
	if (q == s || *q) {
		if (r != -EINVAL)
			abort();
	} else if (over || want < min || want > max) {
		if (r != -ERANGE)
			abort();
	} else if (r != 0 || v != want) {
		abort();
	}
	/* with end, only the digits count */
	r = parse_uint(s, &end, min, max, &v);
	if (q == s ? r != -EINVAL : end != q)
		abort();
	if (r == 0 && (over || v != want))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[FUZZ_ARGS + 2], *buf;
	struct opt_parser a, b;
	unsigned flags, stop, n;
	int argc;

	if (size < 2)
		return 0;
	flags = data[0] & 0x1f;
	stop = data[1];
	data += 2;
	size -= 2;

	/* a first walk, left half way, its argv freed */
	buf = fuzz_argv(data, size, "fuzz", argv, FUZZ_ARGS, &argc);
	if (!buf)
		return 0;
	opt_init(&a, table, flags, argc, argv);
	for (n = 0; n < stop && step(&a, buf, size).key > 0; n++)
		;
	free(buf);

	/* two walks of one fresh copy agree, and end in time */
	buf = fuzz_argv(data, size, "fuzz", argv, FUZZ_ARGS, &argc);
	if (!buf)
		return 0;
	opt_init(&a, table, flags, argc, argv);
	opt_init(&b, table, flags, argc, argv);
	for (n = 0;; n++) {
		struct step sa = step(&a, buf, size), sb = step(&b, buf, size);

		if (sa.key != sb.key || sa.value != sb.value || n > size + (size_t)argc)
			abort();
		if (sa.key <= 0)
			break;
	}
	if (a.err[0] && strcmp(a.err, b.err) != 0)
		abort();
	for (int i = 1; i < argc; i++) {
		check_uint(argv[i], 0, UINT64_MAX);
		check_uint(argv[i], i, (uint64_t)i * 1000);
	}
	free(buf);
	return 0;
}
