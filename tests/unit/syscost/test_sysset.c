/*
 * Description: cmocka tests of the systemd syscall-set parser.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "bench/syscost/sysset.h"

static const char sample[] =
	"@default\n"
	"    # System calls that are always permitted\n"
	"    brk\n"
	"    getppid\n"
	"\n"
	"@basic-io\n"
	"    # Basic IO\n"
	"    read\n"
	"    write\n"
	"\n"
	"@service\n"
	"    # A set including others\n"
	"    @default\n"
	"    @basic-io\n"
	"    read\n"
	"    socket\n"
	"\n"
	"# Not showing unlisted system calls\n"
	"@loop-a\n"
	"    @loop-b\n"
	"\n"
	"@loop-b\n"
	"    @loop-a\n";

static bool has(const struct sysset *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->names[i], name) == 0)
			return true;
	return false;
}

static void test_expand_nested(void **state)
{
	struct sysset s;

	(void)state;
	assert_int_equal(sysset_parse(sample, sizeof(sample) - 1, "@service", &s), 0);
	assert_int_equal(s.n, 5); /* brk getppid read write socket, read once */
	assert_string_equal(s.names[0], "brk");
	assert_true(has(&s, "getppid") && has(&s, "write") && has(&s, "socket"));
	assert_false(has(&s, "@default"));
	sysset_free(&s);
	assert_int_equal(sysset_parse(sample, sizeof(sample) - 1, "@basic-io", &s), 0);
	assert_int_equal(s.n, 2);
	sysset_free(&s);
}

static void test_errors(void **state)
{
	struct sysset s = {0};

	(void)state;
	assert_int_equal(sysset_parse(sample, sizeof(sample) - 1, "@nope", &s), -ENOENT);
	assert_int_equal(sysset_parse(sample, sizeof(sample) - 1, "@loop-a", &s), -ELOOP);
	assert_int_equal(sysset_parse(sample, sizeof(sample) - 1, "service", &s), -EINVAL);
	/* a prefix of a set name is not the set */
	assert_int_equal(sysset_parse(sample, sizeof(sample) - 1, "@basic", &s), -ENOENT);
	/* truncated input: the set header only */
	assert_int_equal(sysset_parse("@x", 2, "@x", &s), 0);
	assert_int_equal(s.n, 0);
	sysset_free(&s);
	assert_null(s.names);
}

static void test_builtin(void **state)
{
	struct sysset s;

	(void)state;
	assert_int_equal(sysset_builtin_system_service(&s), 0);
	assert_true(s.n > 300);
	assert_true(has(&s, "getppid") && has(&s, "openat") && has(&s, "socket") &&
		    has(&s, "sendto") && has(&s, "exit_group"));
	assert_false(has(&s, "reboot") || has(&s, "kexec_load") || has(&s, "init_module"));
	sysset_free(&s);
}

static void test_from_systemd(void **state)
{
	struct sysset s, b;
	int r;

	(void)state;
	r = sysset_from_systemd("@system-service", &s);
	if (r == -ENOENT)
		skip(); /* no systemd-analyze here */
	assert_int_equal(r, 0);
	assert_int_equal(sysset_builtin_system_service(&b), 0);
	/* the built-in copy is of systemd 252; other versions differ a little */
	assert_true(s.n > 250);
	assert_true(has(&s, "getppid") && !has(&s, "reboot"));
	sysset_free(&b);
	sysset_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expand_nested),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_builtin),
		cmocka_unit_test(test_from_systemd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
