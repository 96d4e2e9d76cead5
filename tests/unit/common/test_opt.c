/*
 * Description: cmocka tests of the common option walker (every spelling each
 * flag allows, and refuses without it; clusters, prefixes, operands, "--";
 * a walk keeps no state between parses) and of parse_uint (empty, sign,
 * space, trailing garbage, the range, overflow, end pointers).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/opt.h"

enum { K_JSON = 256, K_NETNS, K_CERT, K_THREAD_PER_TARGET };

static const struct opt table[] = {
	{ "connections", 'c', true },
	{ "threads", 't', true },
	{ "help", 'h', false },
	{ "json", K_JSON, false },
	{ "netns", K_NETNS, true },
	{ "cert", K_CERT, true },
	{ "certificate", K_CERT, true },
	{ "thread-per-target", K_THREAD_PER_TARGET, false },
	{ 0 },
};

static char out[1024];

static void add(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void add(const char *fmt, ...)
{
	size_t used = strlen(out);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out + used, sizeof(out) - used, fmt, ap);
	va_end(ap);
}

/*
 * Walks "prog" and the NULL-terminated arguments with flags and writes what
 * opt_next returned into out, space-separated: "c=5" for -c 5, "h" for -h,
 * "K0" for the key 256 (K1 257 ...), "@arg" an operand, "!" and the message
 * an error.
 */
static const char *walk(unsigned flags, ...)
{
	char *argv[32];
	struct opt_parser p;
	va_list ap;
	int argc = 0, k;

	argv[argc++] = "prog";
	va_start(ap, flags);
	while (argc < 31 && (argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	out[0] = '\0';
	opt_init(&p, table, flags, argc, argv);
	while ((k = opt_next(&p)) != OPT_END) {
		if (out[0])
			add(" ");
		if (k < 0) {
			assert_int_equal(k, -EINVAL);
			add("!%s", p.err);
			break;
		}
		if (k == OPT_OPERAND)
			add("@%s", p.value);
		else if (k < 256)
			add("%c", k);
		else
			add("K%d", k - 256);
		if (p.value && k != OPT_OPERAND)
			add("=%s", p.value);
	}
	return out;
}

#define WALK(flags, ...) walk(flags, __VA_ARGS__, (char *)NULL)

static void test_plain(void **state)
{
	(void)state;
	/* flags 0: --name, --name VALUE and -c VALUE only */
	assert_string_equal(WALK(0, "--json", "--netns", "/n", "-c", "5", "-h"),
			    "K0 K1=/n c=5 h");
	assert_string_equal(WALK(0, "--netns", "--json"), "K1=--json"); /* a value is a value */
	assert_string_equal(WALK(0, "--netns", ""), "K1=");
	assert_string_equal(WALK(0, "--netns"), "!option '--netns' needs a value");
	assert_string_equal(WALK(0, "-c"), "!option '-c' needs a value");
	assert_string_equal(WALK(0, "--netns=/n"), "!unknown option '--netns=/n'");
	assert_string_equal(WALK(0, "-c5"), "!unknown option '-c5'");
	assert_string_equal(WALK(0, "-hc"), "!unknown option '-hc'");
	assert_string_equal(WALK(0, "-json"), "!unknown option '-json'");
	assert_string_equal(WALK(0, "--js"), "!unknown option '--js'");
	assert_string_equal(WALK(0, "--json", "x"), "K0 !unexpected argument 'x'");
	assert_string_equal(WALK(0, "-"), "!unexpected argument '-'");
	assert_string_equal(WALK(0, "--"), "!unknown option '--'");
	assert_string_equal(WALK(0, "--bogus", "--json"), "!unknown option '--bogus'");
	assert_string_equal(WALK(0, "-x"), "!unknown option '-x'");
	assert_string_equal(WALK(0, "-\xc3\xa9"), "!unknown option '-\xc3\xa9'");
	assert_string_equal(WALK(0, "---json"), "!unknown option '---json'");
	assert_string_equal(WALK(0, "--cert", "a", "--certificate", "b"), "K2=a K2=b");
}

static void test_equals(void **state)
{
	(void)state;
	assert_string_equal(WALK(OPT_EQUALS, "--netns=/n", "--netns=", "--netns=a=b"),
			    "K1=/n K1= K1=a=b");
	assert_string_equal(WALK(OPT_EQUALS, "--json=1"), "!option '--json' takes no value");
	assert_string_equal(WALK(OPT_EQUALS, "--json="), "!option '--json' takes no value");
	assert_string_equal(WALK(OPT_EQUALS, "--=x"), "!unknown option '--'");
	assert_string_equal(WALK(OPT_EQUALS, "--bogus=1"), "!unknown option '--bogus'");
	assert_string_equal(WALK(OPT_EQUALS, "-c=5"), "!unknown option '-c=5'");
}

static void test_one_dash(void **state)
{
	unsigned f = OPT_EQUALS | OPT_ONE_DASH;

	(void)state;
	assert_string_equal(WALK(f, "-cert=/k", "-certificate", "/c", "--json", "-json"),
			    "K2=/k K2=/c K0 K0");
	/* no short options: -h and -c are names, and these are none */
	assert_string_equal(WALK(f, "-h"), "!unknown option '-h'");
	assert_string_equal(WALK(f, "-c", "5"), "!unknown option '-c'");
	assert_string_equal(WALK(f, "-", "x"), "!unexpected argument '-'");
	assert_string_equal(WALK(f, "-=x"), "!unknown option '-'");
	assert_string_equal(WALK(f, "-connections=3"), "c=3");
}

static void test_cluster(void **state)
{
	(void)state;
	assert_string_equal(WALK(OPT_CLUSTER, "-c5", "-hc", "6", "-hhc7", "-t-c"),
			    "c=5 h c=6 h h c=7 t=-c");
	assert_string_equal(WALK(OPT_CLUSTER, "-hx"), "h !unknown option '-x'");
	assert_string_equal(WALK(OPT_CLUSTER, "-hc"), "h !option '-c' needs a value");
	assert_string_equal(WALK(OPT_CLUSTER, "-c", ""), "c=");
}

static void test_prefix(void **state)
{
	(void)state;
	assert_string_equal(WALK(OPT_PREFIX, "--conn", "1", "--j", "--threads", "2"),
			    "c=1 K0 t=2");
	/* an exact name wins over the longer ones it begins */
	assert_string_equal(WALK(OPT_PREFIX, "--cert", "x"), "K2=x");
	/* two names, one key: not ambiguous */
	assert_string_equal(WALK(OPT_PREFIX, "--certi", "x"), "K2=x");
	assert_string_equal(WALK(OPT_PREFIX, "--c", "x"), "!option '--c' is ambiguous");
	assert_string_equal(WALK(OPT_PREFIX, "--thread", "x"), "!option '--thread' is ambiguous");
	assert_string_equal(WALK(OPT_PREFIX | OPT_EQUALS, "--thread-p=1"),
			    "!option '--thread-p' takes no value");
	assert_string_equal(WALK(OPT_PREFIX, "--jsonx"), "!unknown option '--jsonx'");
}

static void test_operands(void **state)
{
	(void)state;
	assert_string_equal(WALK(OPT_GETOPT, "a", "-c", "2", "b", "-", "--json", "--", "-h", "--",
				 "c"),
			    "@a c=2 @b @- K0 @-h @-- @c");
	assert_string_equal(WALK(OPT_GETOPT, "--"), "");
	assert_string_equal(WALK(OPT_GETOPT, "-c", "--"), "c=--");
	assert_string_equal(WALK(OPT_GETOPT, "--netns=", "x"), "K1= @x");
}

/* The walk's state is the caller's: a walk stopped in a cluster or at an error leaves none. */
static void test_reparse(void **state)
{
	struct opt_parser p;
	char a0[] = "prog", a1[] = "-hc5", a2[] = "-c3";
	char *argv1[] = { a0, a1, NULL }, *argv2[] = { a0, a2, NULL };

	(void)state;
	opt_init(&p, table, OPT_GETOPT, 2, argv1);
	assert_int_equal(opt_next(&p), 'h'); /* stopped here, in "-hc5" */
	opt_init(&p, table, OPT_GETOPT, 2, argv2);
	assert_int_equal(opt_next(&p), 'c');
	assert_string_equal(p.value, "3");
	assert_int_equal(opt_next(&p), OPT_END);
	assert_int_equal(opt_next(&p), OPT_END);
	/* after an error, it ends */
	opt_init(&p, table, 0, 2, argv1);
	assert_int_equal(opt_next(&p), -EINVAL);
	assert_int_equal(opt_next(&p), OPT_END);
	/* no arguments */
	opt_init(&p, table, OPT_GETOPT, 1, argv1);
	assert_int_equal(opt_next(&p), OPT_END);
}

static void test_parse_uint(void **state)
{
	const char *end;
	uint64_t v;

	(void)state;
	assert_int_equal(parse_uint("0", NULL, 0, 10, &v), 0);
	assert_true(v == 0);
	assert_int_equal(parse_uint("007", NULL, 0, 10, &v), 0);
	assert_true(v == 7);
	assert_int_equal(parse_uint("10", NULL, 0, 10, &v), 0);
	assert_int_equal(parse_uint("11", NULL, 0, 10, &v), -ERANGE);
	assert_int_equal(parse_uint("4", NULL, 5, 10, &v), -ERANGE);
	assert_int_equal(parse_uint("18446744073709551615", NULL, 0, UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(parse_uint("18446744073709551616", NULL, 0, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(parse_uint("99999999999999999999999", NULL, 0, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(parse_uint("4294967296", NULL, 0, UINT32_MAX, &v), -ERANGE);
	v = 42;
	assert_int_equal(parse_uint("", NULL, 0, 10, &v), -EINVAL);
	assert_int_equal(parse_uint("-1", NULL, 0, 10, &v), -EINVAL);
	assert_int_equal(parse_uint("-0", NULL, 0, 10, &v), -EINVAL);
	assert_int_equal(parse_uint("+1", NULL, 0, 10, &v), -EINVAL);
	assert_int_equal(parse_uint(" 1", NULL, 0, 10, &v), -EINVAL);
	assert_int_equal(parse_uint("1 ", NULL, 0, 10, &v), -EINVAL);
	assert_int_equal(parse_uint("1x", NULL, 0, 10, &v), -EINVAL);
	assert_int_equal(parse_uint("0x1", NULL, 0, 10, &v), -EINVAL);
	assert_int_equal(parse_uint("1.5", NULL, 0, 10, &v), -EINVAL);
	assert_int_equal(parse_uint("1e3", NULL, 0, 10000, &v), -EINVAL);
	assert_int_equal(parse_uint("99999999999999999999999x", NULL, 0, 10, &v), -EINVAL);
	assert_true(v == 42); /* untouched on failure */
	/* with end: the digits, and where they stop */
	assert_int_equal(parse_uint("12-34", &end, 0, 100, &v), 0);
	assert_true(v == 12);
	assert_string_equal(end, "-34");
	assert_int_equal(parse_uint(end + 1, &end, 12, 100, &v), 0);
	assert_true(v == 34 && *end == '\0');
	assert_int_equal(parse_uint("200,1", &end, 0, 100, &v), -ERANGE);
	assert_string_equal(end, ",1");
	assert_int_equal(parse_uint(",1", &end, 0, 100, &v), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),    cmocka_unit_test(test_equals),
		cmocka_unit_test(test_one_dash), cmocka_unit_test(test_cluster),
		cmocka_unit_test(test_prefix),   cmocka_unit_test(test_operands),
		cmocka_unit_test(test_reparse),  cmocka_unit_test(test_parse_uint),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
