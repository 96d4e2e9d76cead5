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

#include "common/version.h"
#include "servers/lib/listen.h"
#include "servers/lib/log.h"
#include "servers/lib/opts.h"
#include "servers/lib/serve.h"
#include "servers/lib/tls.h"

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
	struct listen_set ls = { .conn_fd = -1 };
	struct server_opts o;
	SSL_CTX *ctx = NULL;
	int content_fd = -1, r;

	if (version_requested(argc, argv, spec.prog))
		return 0;
	log_init(spec.prog);
	r = opts_parse(&spec, argc, argv, &o);
	if (r != 0)
		return r > 0 ? 0 : 2;

	/* 1. The socket: systemd's, or our own. */
	r = listen_acquire(o.listen, &ls);
	if (r < 0)
		goto out;

	/* 2. Key and chain, readable by us thanks to LoadCredential=. */
	r = tls_ctx_new(o.key, o.cert, &ctx);
	if (r < 0)
		goto out;
	r = server_open_content(o.content, &content_fd);
	if (r < 0)
		goto out;

	/* 3. Serve. */
	r = server_serve(&o, &ls, ctx, content_fd);
out:
	server_release(&ls, ctx, content_fd);
	return r < 0 ? 1 : 0;
}
