/*
 * Description: lunchd-activated, the seed's socket-activated server. It never
 * runs as root and holds no privilege: systemd binds the port and passes the
 * socket, and LoadCredential= hands over the key. Three start-ups:
 *   - a listening socket passed (Accept=no): one long-lived server;
 *   - a connected socket passed (Accept=yes, inetd style): serve that one
 *     connection and exit;
 *   - nothing passed (started by hand): listen on --listen itself.
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
#include "servers/lib/tls.h"

static int install_seccomp(void *arg)
{
	(void)arg;
	return sandbox_seccomp();
}

int main(int argc, char **argv)
{
	static const struct opts_spec spec = {
		.prog = "lunchd-activated",
		.summary = "HTTPS server for systemd socket activation (Accept=no: a passed listening\n"
			   "socket; Accept=yes: one passed connection), listening itself when started\n"
			   "by hand. Key and chain typically from ${CREDENTIALS_DIRECTORY}.",
		.default_listen = "[::]:8443",
		.flags = OPTS_TLS | OPTS_SECCOMP,
	};
	struct server_config cfg = { 0 };
	struct listen_set ls;
	struct server_opts o;
	SSL_CTX *ctx = NULL;
	int content_fd = -1, r;
	bool own = false;
	char where[128], status[256];

	log_init(spec.prog);
	r = opts_parse(&spec, argc, argv, &o);
	if (r != 0)
		return r > 0 ? 0 : 2;

	/* 1. The socket: systemd's, or our own. */
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

	/* 2. Key and chain, readable by us thanks to LoadCredential=. */
	r = tls_ctx_new(o.key, o.cert, &ctx);
	if (r < 0)
		goto out;
	if (o.content) {
		content_fd = open(o.content, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (content_fd < 0) {
			r = -errno;
			log_errno(__func__, r, "--content %s", o.content);
			goto out;
		}
	}

	/* 3. Serve. */
	if (ls.conn_fd >= 0)
		snprintf(where, sizeof(where), "one passed connection (Accept=yes)");
	else
		listen_describe(ls.fds[0], where, sizeof(where));
	snprintf(status, sizeof(status), "serving https on %s (%s%s), uid %u, %u worker(s)%s", where,
		 own ? "own socket" : "socket activation", ls.n > 1 ? ", several sockets" : "",
		 (unsigned)getuid(), ls.conn_fd >= 0 ? 1 : o.workers, o.seccomp ? ", seccomp" : "");
	if (ls.conn_fd < 0)
		log_msg(__func__, "%s", status);
	cfg.ssl_ctx = ctx;
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
	SSL_CTX_free(ctx);
	for (unsigned i = 0; i < ls.n; i++)
		close(ls.fds[i]);
	return r < 0 ? 1 : 0;
}
