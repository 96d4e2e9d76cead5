/*
 * Description: cmocka tests of the cgroup CPU counters: the cpu.stat and
 * cpuacct.usage parsers on real and broken text, and cgcpu_add/read on a
 * directory of files that change between reads (pread at 0 must see the
 * new text).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "bench/loadgen/cgcpu.h"

static void test_stat(void **state)
{
	static const char v2[] = "usage_usec 123456789\nuser_usec 100\nsystem_usec 23\n"
				 "nr_periods 0\n";
	static const char later[] = "nr_periods 0\nuser_usec 100\nusage_usec 42";
	uint64_t v = 0;

	(void)state;
	assert_int_equal(cgcpu_parse_stat(v2, strlen(v2), &v), 0);
	assert_int_equal(v, 123456789);
	assert_int_equal(cgcpu_parse_stat(later, strlen(later), &v), 0);
	assert_int_equal(v, 42);
}

static void test_stat_bad(void **state)
{
	static const char *bad[] = {
		"", "\n", "user_usec 5\n", "usage_usec\n", "usage_usec \n", "usage_usec 12x\n",
		"usage_usec -1\n", "xusage_usec 5\n", "usage_usec 99999999999999999999\n",
		"usage_usec  5\n",
	};
	uint64_t v = 7;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cgcpu_parse_stat(bad[i], strlen(bad[i]), &v), -EINVAL);
	assert_int_equal(v, 7);
	/* the length bounds the parse: the digits past it are not read */
	assert_int_equal(cgcpu_parse_stat("usage_usec 12345", 13, &v), 0);
	assert_int_equal(v, 12);
}

static void test_usage(void **state)
{
	uint64_t v = 0;

	(void)state;
	assert_int_equal(cgcpu_parse_usage("1234567\n", 8, &v), 0);
	assert_int_equal(v, 1234);
	assert_int_equal(cgcpu_parse_usage("999", 3, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(cgcpu_parse_usage("", 0, &v), -EINVAL);
	assert_int_equal(cgcpu_parse_usage("12 34\n", 6, &v), -EINVAL);
	assert_int_equal(cgcpu_parse_usage("12\n\n", 4, &v), -EINVAL);
}

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_add_read(void **state)
{
	char a[] = "/tmp/cgcpu-a-XXXXXX", b[] = "/tmp/cgcpu-b-XXXXXX", path[64], err[256];
	struct cgcpu c;
	uint64_t v = 0;

	(void)state;
	assert_non_null(mkdtemp(a));
	assert_non_null(mkdtemp(b));
	snprintf(path, sizeof(path), "%s/cpu.stat", a);
	put(path, "usage_usec 1000\nuser_usec 1\n");
	snprintf(path, sizeof(path), "%s/cpuacct.usage", b);
	put(path, "5000000\n");
	cgcpu_init(&c);
	assert_int_equal(cgcpu_add(&c, a, err, sizeof(err)), 0);
	assert_int_equal(cgcpu_add(&c, b, err, sizeof(err)), 0);
	assert_int_equal(cgcpu_read(&c, &v), 0);
	assert_int_equal(v, 1000 + 5000);
	/* rewritten in place (same inode, as the kernel's files): re-read sees it */
	snprintf(path, sizeof(path), "%s/cpu.stat", a);
	put(path, "usage_usec 2500\nuser_usec 1\n");
	assert_int_equal(cgcpu_read(&c, &v), 0);
	assert_int_equal(v, 2500 + 5000);
	cgcpu_close(&c);
	assert_int_equal(c.n, 0);

	/* a directory without either file, and one with garbage, are refused */
	cgcpu_init(&c);
	assert_int_equal(cgcpu_add(&c, "/nonexistent-cgroup", err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent-cgroup"));
	put(path, "nr_periods 0\n");
	assert_int_equal(cgcpu_add(&c, a, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "unexpected format"));
	assert_int_equal(c.n, 0);
	unlink(path);
	snprintf(path, sizeof(path), "%s/cpuacct.usage", b);
	unlink(path);
	rmdir(a);
	rmdir(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stat),
		cmocka_unit_test(test_stat_bad),
		cmocka_unit_test(test_usage),
		cmocka_unit_test(test_add_read),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
