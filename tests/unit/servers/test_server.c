/*
 * Description: cmocka tests of the serving core's failures on a real
 * kernel: when epoll_wait fails (made to fail with EIO by a seccomp filter
 * installed once every worker exists), server_run returns that error instead
 * of 0, and every worker stops. Each case runs in a forked child, since a
 * seccomp filter stays with the process.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <seccomp.h>

#include "servers/lib/server.h"

/* before_serve: from now on every epoll wait of every thread fails with EIO. */
static int break_epoll(void *arg)
{
	static const char *const waits[] = { "epoll_wait", "epoll_pwait", "epoll_pwait2" };
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int r = 0;

	(void)arg;
	if (!ctx)
		return -ENOMEM;
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	for (unsigned i = 0; r == 0 && i < sizeof(waits) / sizeof(waits[0]); i++) {
		int nr = seccomp_syscall_resolve_name(waits[i]);

		if (nr != __NR_SCMP_ERROR)
			r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EIO), nr, 0);
	}
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	return r;
}

/* Runs a server of nworkers on 127.0.0.1:0 in a child; its result (-errno) or 100+. */
static int serve_in_child(unsigned nworkers)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		struct listen_set ls = { .n = 1, .conn_fd = -1 };
		struct server_config cfg = {
			.listen = &ls, .content_fd = -1, .workers = nworkers, .max_conns = 64,
			.timeout_ms = 1000, .before_serve = break_epoll,
		};
		int r;

		alarm(20); /* a loop that ignores the failure ends here, as a failure */
		if (listen_open("127.0.0.1:0", &ls.fds[0]) < 0)
			_exit(101);
		r = server_run(&cfg);
		_exit(r < 0 ? -r : 0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		return 100 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

static void test_epoll_failure_is_returned(void **state)
{
	(void)state;
	assert_int_equal(serve_in_child(1), EIO);
}

static void test_epoll_failure_stops_every_worker(void **state)
{
	(void)state;
	assert_int_equal(serve_in_child(3), EIO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_epoll_failure_is_returned),
		cmocka_unit_test(test_epoll_failure_stops_every_worker),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
