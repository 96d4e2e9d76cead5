/*
 * Description: cmocka tests of json_string: what must be escaped is, what
 * must not be is left alone, and every output parses back to its input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/json.h"

/* json_string(s) into buf, NUL-terminated. */
static void render(const char *s, char *buf, size_t len)
{
	FILE *f = fmemopen(buf, len, "w");

	assert_non_null(f);
	json_string(f, s);
	assert_int_equal(fclose(f), 0);
}

static void test_escapes(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"", "\"\""},
		{"plain text", "\"plain text\""},
		{"a\"b", "\"a\\\"b\""},
		{"back\\slash", "\"back\\\\slash\""},
		{"tab\tnl\ncr\r", "\"tab\\u0009nl\\u000acr\\u000d\""},
		{"\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\""},
		{" ~", "\" ~\""},
		{"caf\xc3\xa9", "\"caf\xc3\xa9\""}, /* UTF-8 passes through */
	};
	char buf[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		render(cases[i].in, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].out);
	}
}

/* A JSON string decoder for what json_string writes: \" \\ \u00XX. */
static int unquote(const char *q, char *out, size_t len)
{
	size_t n = 0;

	if (*q++ != '"')
		return -1;
	while (*q && *q != '"') {
		unsigned v;
		char c = *q++;

		if ((unsigned char)c < 0x20 || c == 0x7f)
			return -1; /* a raw control character is invalid JSON */
		if (c == '\\') {
			if (*q == '"' || *q == '\\') {
				c = *q++;
			} else if (sscanf(q, "u%4x", &v) == 1 && v < 0x80 && strlen(q) >= 5) {
				c = (char)v;
				q += 5;
			} else {
				return -1;
			}
		}
		if (n + 1 >= len)
			return -1;
		out[n++] = c;
	}
	if (*q != '"' || q[1] != '\0')
		return -1;
	out[n] = '\0';
	return 0;
}

static void test_round_trip_every_byte(void **state)
{
	char in[256], buf[256 * 6 + 3], back[256];
	int b;

	(void)state;
	for (b = 1; b < 256; b++)
		in[b - 1] = (char)b;
	in[255] = '\0';
	render(in, buf, sizeof(buf));
	assert_int_equal(unquote(buf, back, sizeof(back)), 0);
	assert_memory_equal(back, in, 256);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_round_trip_every_byte),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
