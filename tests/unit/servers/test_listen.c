/*
 * Description: cmocka tests of --listen parsing, our own listening sockets,
 * and the handling of sockets passed by systemd (LISTEN_FDS, LISTEN_PID,
 * LISTEN_FDNAMES), each in a forked child so that fd 3 and the environment
 * can be set up as systemd would.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "servers/lib/listen.h"

static void test_parse_good(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;

	(void)state;
	assert_int_equal(listen_parse("127.0.0.1:8443", &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(ntohs(in4->sin_port), 8443);
	assert_int_equal(ntohl(in4->sin_addr.s_addr), 0x7f000001);
	assert_int_equal(listen_parse("localhost:1", &ss, &len), 0);
	assert_int_equal(ntohl(in4->sin_addr.s_addr), 0x7f000001);

	assert_int_equal(listen_parse("[::1]:443", &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(ntohs(in6->sin6_port), 443);
	assert_true(IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr));
	assert_int_equal(len, sizeof(*in6));

	assert_int_equal(listen_parse("[::]:0", &ss, &len), 0);
	assert_true(IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr));
	assert_int_equal(listen_parse("*:80", &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(listen_parse("8080", &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(ntohs(in6->sin6_port), 8080);

	assert_int_equal(listen_parse("unix:/run/x.sock", &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_UNIX);
	assert_string_equal(((struct sockaddr_un *)&ss)->sun_path, "/run/x.sock");
}

static void test_parse_bad(void **state)
{
	static const char *const bad[] = {
		"", "1.2.3.4", "1.2.3.4:", "1.2.3.4:65536", "1.2.3.4:-1", "1.2.3.4:8x", "::1:80",
		"[::1]80", "[::1", "[zz]:1", "host.example:80", "unix:", "unix:relative",
		"300.1.1.1:80", ":", "[]:80",
	};
	struct sockaddr_storage ss;
	socklen_t len;
	char longpath[200];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (listen_parse(bad[i], &ss, &len) != -EINVAL)
			fail_msg("'%s' parsed", bad[i]);
	}
	memset(longpath, 'a', sizeof(longpath));
	memcpy(longpath, "unix:/", 6);
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(listen_parse(longpath, &ss, &len), -EINVAL);
}

static void test_open_tcp_and_unix(void **state)
{
	char desc[128], dir[] = "/tmp/test_listen.XXXXXX", spec[128], path[96];
	struct stat st;
	int fd, fd2, fl;

	(void)state;
	assert_int_equal(listen_open("127.0.0.1:0", &fd), 0);
	fl = fcntl(fd, F_GETFL);
	assert_true(fl & O_NONBLOCK);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	listen_describe(fd, desc, sizeof(desc));
	assert_true(!strncmp(desc, "127.0.0.1:", 10));
	assert_true(atoi(desc + 10) > 0);
	close(fd);

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s.sock", dir);
	snprintf(spec, sizeof(spec), "unix:%s", path);
	assert_int_equal(listen_open(spec, &fd), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0666);
	listen_describe(fd, desc, sizeof(desc));
	assert_string_equal(desc, spec);
	/* a stale socket file is replaced */
	assert_int_equal(listen_open(spec, &fd2), 0);
	close(fd2);
	close(fd);
	unlink(path);
	/* but a regular file is not */
	close(open(path, O_CREAT | O_WRONLY, 0600));
	assert_true(listen_open(spec, &fd) < 0);
	unlink(path);
	rmdir(dir);

	assert_int_equal(listen_open("nonsense", &fd), -EINVAL);
}

enum passed { PASS_LISTEN, PASS_CONN, PASS_NONE, PASS_OTHER_PID, PASS_PIPE, PASS_MIX };

/* In a child: sets up fds from 3 and the LISTEN_* environment, then checks listen_from_systemd. */
static int child_check(enum passed what)
{
	struct listen_set set;
	char pid[32];
	int lfd, sv[2], p[2], r;

	if (listen_open("127.0.0.1:0", &lfd) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 ||
	    pipe(p) < 0)
		return 10;
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDS", "1", 1);
	setenv("LISTEN_FDNAMES", "web", 1);
	switch (what) {
	case PASS_LISTEN: dup2(lfd, 3); break;
	case PASS_CONN: dup2(sv[0], 3); break;
	case PASS_NONE: unsetenv("LISTEN_PID"); unsetenv("LISTEN_FDS"); break;
	case PASS_OTHER_PID: setenv("LISTEN_PID", "1", 1); dup2(lfd, 3); break;
	case PASS_PIPE: dup2(p[0], 3); break;
	case PASS_MIX:
		dup2(lfd, 3);
		dup2(sv[0], 4);
		setenv("LISTEN_FDS", "2", 1);
		setenv("LISTEN_FDNAMES", "web:conn", 1);
		break;
	}
	r = listen_from_systemd(&set);
	if (getenv("LISTEN_FDS") || getenv("LISTEN_PID"))
		return 11; /* the environment must be unset for children */
	switch (what) {
	case PASS_LISTEN:
		return r == 1 && set.n == 1 && set.fds[0] == 3 && set.conn_fd == -1 && set.passed &&
				       (fcntl(3, F_GETFL) & O_NONBLOCK) ? 0 : 1;
	case PASS_CONN:
		return r == 1 && set.n == 0 && set.conn_fd == 3 ? 0 : 2;
	case PASS_NONE:
	case PASS_OTHER_PID:
		return r == 0 && set.n == 0 && set.conn_fd == -1 && !set.passed ? 0 : 3;
	case PASS_PIPE:
		return r == -ENOTSOCK ? 0 : 4;
	case PASS_MIX:
		return r == -EINVAL ? 0 : 5;
	}
	return 12;
}

static void run_child(enum passed what)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child_check(what));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) != 0)
		fail_msg("case %d: child check failed with %d", (int)what, WEXITSTATUS(status));
}

static void test_systemd_listening(void **state)
{
	(void)state;
	run_child(PASS_LISTEN);
}

static void test_systemd_connection(void **state)
{
	(void)state;
	run_child(PASS_CONN);
}

static void test_systemd_none(void **state)
{
	(void)state;
	run_child(PASS_NONE);
	run_child(PASS_OTHER_PID);
}

static void test_systemd_bad(void **state)
{
	(void)state;
	run_child(PASS_PIPE);
	run_child(PASS_MIX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),	  cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_open_tcp_and_unix), cmocka_unit_test(test_systemd_listening),
		cmocka_unit_test(test_systemd_connection), cmocka_unit_test(test_systemd_none),
		cmocka_unit_test(test_systemd_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
