/*
 * Description: lunchd-backend, plain HTTP for running behind nginx, which
 * terminates TLS and keeps upstream connections alive. It listens on
 * 127.0.0.1 or a unix socket (then the unit can even use
 * PrivateNetwork=yes), or uses a socket passed by systemd.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "servers/lib/listen.h"
#include "servers/lib/log.h"
#include "servers/lib/opts.h"
#include "servers/lib/sandbox.h"
#include "servers/lib/server.h"

static int install_seccomp(void *arg)
{
	(void)arg;
	return sandbox_seccomp();
}

int main(int argc, char **argv)
{
	static const struct opts_spec spec = {
		.prog = "lunchd-backend",
		.summary = "Plain HTTP/1.1 server to run behind nginx (servers/proxy/nginx.conf), on\n"
			   "ADDR:PORT, unix:PATH, or a socket passed by systemd.",
		.default_listen = "127.0.0.1:8080",
		.flags = OPTS_SECCOMP,
	};
	struct server_config cfg = { 0 };
	struct listen_set ls;
	struct server_opts o;
	int content_fd = -1, r;
	bool own = false;
	char where[128], status[256];

	log_init(spec.prog);
	r = opts_parse(&spec, argc, argv, &o);
	if (r != 0)
		return r > 0 ? 0 : 2;

	r = listen_from_systemd(&ls);
	if (r < 0)
		goto out;
	if (r == 0) {
		r = listen_open(o.listen, &ls.fds[0]);
		if (r < 0)
			goto out;
		ls.n = 1;
		own = true;
	}
	if (o.content) {
		content_fd = open(o.content, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (content_fd < 0) {
			r = -errno;
			log_errno(__func__, r, "--content %s", o.content);
			goto out;
		}
	}

	if (ls.conn_fd >= 0)
		snprintf(where, sizeof(where), "one passed connection (Accept=yes)");
	else
		listen_describe(ls.fds[0], where, sizeof(where));
	snprintf(status, sizeof(status), "serving http on %s (%s), uid %u, %u worker(s)%s", where,
		 own ? "own socket" : "socket activation", (unsigned)getuid(),
		 ls.conn_fd >= 0 ? 1 : o.workers, o.seccomp ? ", seccomp" : "");
	if (ls.conn_fd < 0)
		log_msg(__func__, "%s", status);
	cfg.listen = &ls;
	cfg.content_fd = content_fd;
	cfg.workers = o.workers;
	cfg.max_conns = o.max_conns;
	cfg.timeout_ms = o.timeout_ms;
	cfg.status = status;
	cfg.before_serve = o.seccomp ? install_seccomp : NULL;
	r = server_run(&cfg);
out:
	if (content_fd >= 0)
		close(content_fd);
	for (unsigned i = 0; i < ls.n; i++)
		close(ls.fds[i]);
	return r < 0 ? 1 : 0;
}
