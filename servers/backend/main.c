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
#include "servers/lib/server.h"

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
	struct listen_set ls = { .conn_fd = -1 };
	struct server_opts o;
	int content_fd = -1, r;
	char where[128], status[256];

	log_init(spec.prog);
	r = opts_parse(&spec, argc, argv, &o);
	if (r != 0)
		return r > 0 ? 0 : 2;

	r = listen_acquire(o.listen, &ls);
	if (r < 0)
		goto out;
	r = server_open_content(o.content, &content_fd);
	if (r < 0)
		goto out;

	if (ls.conn_fd >= 0)
		snprintf(where, sizeof(where), "one passed connection (Accept=yes)");
	else
		listen_describe(ls.fds[0], where, sizeof(where));
	snprintf(status, sizeof(status), "serving http on %s (%s), uid %u, %u worker(s)%s", where,
		 !ls.passed ? "own socket" : "socket activation", (unsigned)getuid(),
		 ls.conn_fd >= 0 ? 1 : o.workers, o.seccomp ? ", seccomp" : "");
	if (ls.conn_fd < 0)
		log_msg(__func__, "%s", status);
	cfg.listen = &ls;
	cfg.content_fd = content_fd;
	cfg.status = status;
	server_config_from_opts(&cfg, &o);
	r = server_run(&cfg);
out:
	if (content_fd >= 0)
		close(content_fd);
	listen_close(&ls);
	return r < 0 ? 1 : 0;
}
