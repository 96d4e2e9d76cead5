/*
 * Description: lunchd-drop, the classic daemon start-up. It starts as root,
 * binds its port (443 by default), reads the root-only TLS key into the
 * SSL_CTX and wipes it, opens the content directory, and only then drops to
 * --user for good (groups, gid, uid verified, all capabilities and the
 * bounding set cleared, NO_NEW_PRIVS). With --seccomp it then confines
 * itself to an allow-list of syscalls before serving the first request.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "common/version.h"
#include "servers/lib/listen.h"
#include "servers/lib/log.h"
#include "servers/lib/opts.h"
#include "servers/lib/privdrop.h"
#include "servers/lib/serve.h"
#include "servers/lib/tls.h"

int main(int argc, char **argv)
{
	static const struct opts_spec spec = {
		.prog = "lunchd-drop",
		.summary = "HTTPS server that starts as root, binds, loads its key, then drops to\n"
			   "--user and clears every capability (optionally also a seccomp allow-list).",
		.default_listen = "[::]:443",
		.flags = OPTS_TLS | OPTS_USER | OPTS_SECCOMP,
	};
	struct listen_set ls = { .conn_fd = -1 };
	struct server_opts o;
	SSL_CTX *ctx = NULL;
	int content_fd = -1, r;
	uid_t uid = 0;
	gid_t gid = 0;

	if (version_requested(argc, argv, spec.prog))
		return 0;
	log_init(spec.prog);
	r = opts_parse(&spec, argc, argv, &o);
	if (r != 0)
		return r > 0 ? 0 : 2;
	if (geteuid() == 0 && !o.user) {
		fprintf(stderr, "%s: running as root: --user NAME is required (the user to drop to)\n",
			spec.prog);
		return 2;
	}
	if (o.user && geteuid() != 0) {
		fprintf(stderr, "%s: --user needs to start as root (running as uid %u)\n", spec.prog,
			(unsigned)geteuid());
		return 2;
	}
	if (o.user) {
		r = privdrop_lookup(o.user, &uid, &gid);
		if (r < 0 || uid == 0) {
			fprintf(stderr, "%s: --user %s: %s\n", spec.prog, o.user,
				r < 0 ? "no such user" : "is root; pick an unprivileged user");
			return 2;
		}
	}

	/* 1. Privileged port, as root. */
	r = listen_open(o.listen, &ls.fds[0]);
	if (r < 0)
		goto out;
	ls.n = 1;

	/* 2. The root-only key goes into the SSL_CTX; tls_ctx_new wipes the bytes. */
	r = tls_ctx_new(o.key, o.cert, &ctx);
	if (r < 0)
		goto out;

	/* 3. Anything else that needs root: the content directory. */
	r = server_open_content(o.content, &content_fd);
	if (r < 0)
		goto out;

	/* 4. Drop, before any thread exists and before parsing any request. */
	if (o.user) {
		r = privdrop_to(uid, gid);
		if (r < 0)
			goto out;
	}

	/* 5. Serve; the seccomp filter goes on once the worker threads exist. */
	r = server_serve(&o, &ls, ctx, content_fd);
out:
	server_release(&ls, ctx, content_fd);
	return r < 0 ? 1 : 0;
}
