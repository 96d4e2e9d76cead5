/*
 * Description: cmocka tests of the privilege drop. As root, a forked child
 * drops to the user "nobody" (present on every Debian system; the test
 * skips if it is missing) and then checks, from the kernel's point of view:
 * ids, groups, CapEff/CapPrm/CapBnd/CapInh/CapAmb = 0, NoNewPrivs = 1,
 * setuid(0) fails, and a 0600 root file can no longer be opened. Not root:
 * skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "servers/lib/privdrop.h"

static char secret[] = "/tmp/test_privdrop.XXXXXX";
static uid_t nobody_uid;
static gid_t nobody_gid;

static int setup(void **state)
{
	int fd;

	(void)state;
	if (geteuid() != 0 || privdrop_lookup("nobody", &nobody_uid, &nobody_gid) < 0)
		return 0;
	fd = mkstemp(secret);
	if (fd < 0 || fchmod(fd, 0600) < 0 || write(fd, "key\n", 4) != 4)
		return -1;
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (secret[strlen(secret) - 1] != 'X')
		unlink(secret);
	return 0;
}

static void need_root(void)
{
	if (geteuid() != 0) {
		printf("not root: privilege drop tests skipped\n");
		skip();
	}
	if (nobody_uid == 0) {
		printf("no user 'nobody': privilege drop tests skipped\n");
		skip();
	}
}

/* Reads "Field:\tVALUE" of /proc/self/status into buf. */
static int status_field(const char *field, char *buf, size_t size)
{
	char line[256];
	size_t n = strlen(field);
	FILE *f = fopen("/proc/self/status", "r");
	int r = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, field, n) && line[n] == ':') {
			char *v = line + n + 1;

			v += strspn(v, " \t");
			v[strcspn(v, "\n")] = '\0';
			snprintf(buf, size, "%s", v);
			r = 0;
			break;
		}
	}
	fclose(f);
	return r;
}

/* The checks, in the dropped child. Returns 0 or the number of the failed check. */
static int child_after_drop(void)
{
	static const char *const zero_caps[] = { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb" };
	char v[128], want[128];
	uid_t ru, eu, su;
	gid_t rg, eg, sg, groups[8];
	int n;

	if (privdrop_to(nobody_uid, nobody_gid) != 0)
		return 1;
	if (getresuid(&ru, &eu, &su) < 0 || ru != nobody_uid || eu != nobody_uid || su != nobody_uid)
		return 2;
	if (getresgid(&rg, &eg, &sg) < 0 || rg != nobody_gid || eg != nobody_gid || sg != nobody_gid)
		return 3;
	n = getgroups(8, groups);
	if (n != 1 || groups[0] != nobody_gid)
		return 4;
	snprintf(want, sizeof(want), "%u\t%u\t%u\t%u", (unsigned)nobody_uid, (unsigned)nobody_uid,
		 (unsigned)nobody_uid, (unsigned)nobody_uid);
	if (status_field("Uid", v, sizeof(v)) < 0 || strcmp(v, want))
		return 5;
	for (size_t i = 0; i < sizeof(zero_caps) / sizeof(zero_caps[0]); i++)
		if (status_field(zero_caps[i], v, sizeof(v)) < 0 || strcmp(v, "0000000000000000"))
			return 6 + (int)i;
	if (status_field("NoNewPrivs", v, sizeof(v)) < 0 || strcmp(v, "1"))
		return 12;
	if (setuid(0) == 0 || errno != EPERM)
		return 13;
	if (setresuid(0, 0, 0) == 0 || setgid(0) == 0 || setgroups(0, NULL) == 0)
		return 14;
	if (open(secret, O_RDONLY) >= 0 || errno != EACCES)
		return 15;
	if (prctl(PR_CAPBSET_READ, 0 /* CAP_CHOWN */, 0, 0, 0) != 0)
		return 16;
	if (privdrop_verify(nobody_uid, nobody_gid) != 0)
		return 17;
	return 0;
}

static void test_drop_in_child(void **state)
{
	int status;
	pid_t pid;

	(void)state;
	need_root();
	/* the secret is readable before the drop */
	assert_true(access(secret, R_OK) == 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child_after_drop());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) != 0)
		fail_msg("check %d failed after the drop", WEXITSTATUS(status));
}

static void test_refuses_root_and_detects_privilege(void **state)
{
	int status;
	pid_t pid;

	(void)state;
	need_root();
	assert_int_equal(privdrop_to(0, 0), -EINVAL);
	/* root still holds everything: verification must fail */
	assert_int_equal(privdrop_verify(0, 0), -EPERM);
	assert_int_equal(privdrop_verify(nobody_uid, nobody_gid), -EPERM);
	/* a half drop (uid only, capabilities kept) is caught too */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0);
		if (setgroups(1, &nobody_gid) < 0 || setresgid(nobody_gid, nobody_gid, nobody_gid) < 0 ||
		    setresuid(nobody_uid, nobody_uid, nobody_uid) < 0)
			_exit(2);
		_exit(privdrop_verify(nobody_uid, nobody_gid) == -EPERM ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_lookup(void **state)
{
	uid_t u;
	gid_t g;

	(void)state;
	assert_int_equal(privdrop_lookup("root", &u, &g), 0);
	assert_int_equal(u, 0);
	assert_int_equal(privdrop_lookup("no-such-user-sandbench", &u, &g), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_drop_in_child),
		cmocka_unit_test(test_refuses_root_and_detects_privilege),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
