/*
 * Description: cmocka tests of the cgroup CPU counters: the cpu.stat and
 * cpuacct.usage parsers on real and broken text, and cgcpu_add/read on a
 * directory of files that change between reads (pread at 0 must see the
 * new text); the /proc/TID/status context-switch parser against a guard
 * page, and the wake-up sum over a cgroup tree's thread lists.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

/* text copied to end right before a PROT_NONE page: an over-read faults */
static int parse_guarded(const char *text, struct cgcpu_wake *w)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t len = strlen(text);
	char *m = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	int r;

	assert_true(m != MAP_FAILED);
	assert_true(len <= (size_t)pg);
	assert_int_equal(mprotect(m + pg, (size_t)pg, PROT_NONE), 0);
	memcpy(m + pg - len, text, len);
	r = cgcpu_parse_ctxt(m + pg - len, len, w);
	munmap(m, (size_t)pg * 2);
	return r;
}

static void test_ctxt(void **state)
{
	static const char status[] = "Name:\tlunchd-drop\nState:\tS (sleeping)\nTgid:\t812\n"
				     "Cpus_allowed_list:\t1\nMems_allowed_list:\t0\n"
				     "voluntary_ctxt_switches:\t123456\n"
				     "nonvoluntary_ctxt_switches:\t789\n";
	struct cgcpu_wake w = { 0, 0 };
	size_t i;

	(void)state;
	assert_int_equal(parse_guarded(status, &w), 0);
	assert_int_equal(w.vol, 123456);
	assert_int_equal(w.nonvol, 789);
	/* order, blanks and the last line's missing newline do not matter */
	assert_int_equal(parse_guarded("nonvoluntary_ctxt_switches: 5\n"
				       "voluntary_ctxt_switches:7", &w), 0);
	assert_int_equal(w.vol, 7);
	assert_int_equal(w.nonvol, 5);
	/* every prefix that cuts a line short is refused or reads the cut number */
	for (i = 0; i < sizeof(status) - 1; i++) {
		struct cgcpu_wake c = { 1, 1 };
		char cut[sizeof(status)];
		int r;

		memcpy(cut, status, i);
		cut[i] = '\0';
		r = parse_guarded(cut, &c);
		if (r == 0)
			assert_true(c.vol == 123456 && c.nonvol <= 789);
		else
			assert_true(r == -EINVAL && c.vol == 1 && c.nonvol == 1);
	}
}

static void test_ctxt_bad(void **state)
{
	static const char *bad[] = {
		"",
		"voluntary_ctxt_switches:\t1\n",
		"nonvoluntary_ctxt_switches:\t1\n",
		"voluntary_ctxt_switches:\t\nnonvoluntary_ctxt_switches:\t1\n",
		"voluntary_ctxt_switches:\t1x\nnonvoluntary_ctxt_switches:\t1\n",
		"voluntary_ctxt_switches:\t-1\nnonvoluntary_ctxt_switches:\t1\n",
		"voluntary_ctxt_switches:\t99999999999999999999\nnonvoluntary_ctxt_switches:\t1\n",
		"voluntary_ctxt_switches:\t1\nvoluntary_ctxt_switches:\t2\n"
		"nonvoluntary_ctxt_switches:\t1\n",
		"voluntary_ctxt_switches:\t1\nnonvoluntary_ctxt_switches:\t1\n"
		"nonvoluntary_ctxt_switches:\t1\n",
	};
	struct cgcpu_wake w = { 3, 4 };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse_guarded(bad[i], &w), -EINVAL);
	assert_int_equal(w.vol, 3);
	assert_int_equal(w.nonvol, 4);
	/* a similar key is another line, not this one */
	assert_int_equal(parse_guarded("xvoluntary_ctxt_switches:\t9\n"
				       "voluntary_ctxt_switches:\t1\n"
				       "nonvoluntary_ctxt_switches:\t2\n", &w), 0);
	assert_int_equal(w.vol, 1);
}

static void test_ctxt_self(void **state)
{
	char buf[8192];
	struct cgcpu_wake w;
	FILE *f = fopen("/proc/self/status", "r");
	size_t n;

	(void)state;
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	assert_true(n > 0 && n < sizeof(buf));
	assert_int_equal(cgcpu_parse_ctxt(buf, n, &w), 0);
}

/*
 * A cgroup tree of plain files: a/cgroup.threads and a/child/cgroup.threads
 * both list this thread, so the sum counts it twice; a thread that is gone
 * is skipped; sleeping adds voluntary switches; garbage is refused.
 */
static void test_wake(void **state)
{
	char a[] = "/tmp/cgcpu-w-XXXXXX", path[96], sub[80], err[256], line[64];
	struct cgcpu_wake w0[CGCPU_MAX], w1[CGCPU_MAX];
	struct cgcpu c;
	long tid = syscall(SYS_gettid);

	(void)state;
	assert_non_null(mkdtemp(a));
	snprintf(path, sizeof(path), "%s/cpu.stat", a);
	put(path, "usage_usec 1\n");
	/* 4194305: above any pid_max, a thread that never is */
	snprintf(line, sizeof(line), "%ld\n4194305\n", tid);
	snprintf(path, sizeof(path), "%s/cgroup.threads", a);
	put(path, line);
	snprintf(sub, sizeof(sub), "%s/child", a);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(path, sizeof(path), "%s/cgroup.threads", sub);
	snprintf(line, sizeof(line), "%ld\n", tid);
	put(path, line);
	cgcpu_init(&c);
	assert_int_equal(cgcpu_add(&c, a, err, sizeof(err)), 0);
	assert_int_equal(cgcpu_wake_each(&c, w0), 0);
	assert_true(w0[0].vol >= 2 && w0[0].vol % 2 == 0);
	usleep(2000);
	assert_int_equal(cgcpu_wake_each(&c, w1), 0);
	assert_true(w1[0].vol >= w0[0].vol + 2);
	/* garbage in a thread list: no figure */
	put(path, "12x\n");
	assert_int_equal(cgcpu_wake_each(&c, w1), -EINVAL);
	put(path, "");
	assert_int_equal(cgcpu_wake_each(&c, w1), 0);
	assert_true(w1[0].vol >= 1);
	/* a cgroup without a thread list: no figure, and the CPU still reads */
	unlink(path);
	assert_int_equal(cgcpu_wake_each(&c, w1), -ENOENT);
	assert_int_equal(cgcpu_read_each(&c, (uint64_t[CGCPU_MAX]){ 0 }), 0);
	cgcpu_close(&c);
	rmdir(sub);
	snprintf(path, sizeof(path), "%s/cgroup.threads", a);
	unlink(path);
	snprintf(path, sizeof(path), "%s/cpu.stat", a);
	unlink(path);
	rmdir(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stat),
		cmocka_unit_test(test_stat_bad),
		cmocka_unit_test(test_usage),
		cmocka_unit_test(test_add_read),
		cmocka_unit_test(test_ctxt),
		cmocka_unit_test(test_ctxt_bad),
		cmocka_unit_test(test_ctxt_self),
		cmocka_unit_test(test_wake),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
