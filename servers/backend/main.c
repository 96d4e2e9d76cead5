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

#include "common/version.h"
#include "servers/lib/listen.h"
#include "servers/lib/log.h"
#include "servers/lib/opts.h"
#include "servers/lib/serve.h"

int main(int argc, char **argv)
{
	static const struct opts_spec spec = {
		.prog = "lunchd-backend",
		.summary = "Plain HTTP/1.1 server to run behind nginx (servers/proxy/nginx.conf), on\n"
			   "ADDR:PORT, unix:PATH, or a socket passed by systemd.",
		.default_listen = "127.0.0.1:8080",
		.flags = OPTS_SECCOMP,
	};
	struct listen_set ls = { .conn_fd = -1 };
	struct server_opts o;
	int content_fd = -1, r;

	if (version_requested(argc, argv, spec.prog))
		return 0;
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

	r = server_serve(&o, &ls, NULL, content_fd);
out:
	server_release(&ls, NULL, content_fd);
	return r < 0 ? 1 : 0;
}
