/*
 * Description: from a lunchd command line to a running server: the glue the
 * three programs share. Turns struct server_opts into a struct
 * server_config, opens --content, says where it serves, runs the core
 * (server.c, which knows nothing of the command line) and releases what
 * main() acquired.
 */
#include "servers/lib/serve.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "servers/lib/log.h"
#include "servers/lib/sandbox.h"

static int server_seccomp_hook(void *arg)
{
	(void)arg;
	return sandbox_seccomp();
}

void server_config_from_opts(struct server_config *cfg, const struct server_opts *o)
{
	cfg->workers = o->workers;
	cfg->max_conns = o->max_conns;
	cfg->timeout_ms = o->timeout_ms;
	cfg->work_us = o->work_us;
	cfg->before_serve = o->seccomp ? server_seccomp_hook : NULL;
}

int server_open_content(const char *dir, int *ret_fd)
{
	int fd, r;

	if (!dir) {
		*ret_fd = -1;
		return 0;
	}
	fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		log_errno(__func__, r, "--content %s", dir);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

int server_serve(const struct server_opts *o, const struct listen_set *ls, SSL_CTX *ctx,
		 int content_fd)
{
	struct server_config cfg = { 0 };
	char where[128], status[256];
	bool one = ls->conn_fd >= 0;

	if (one)
		snprintf(where, sizeof(where), "one passed connection (Accept=yes)");
	else
		listen_describe(ls->fds[0], where, sizeof(where));
	snprintf(status, sizeof(status), "serving %s on %s (%s%s), uid %u, %u worker(s)%s",
		 ctx ? "https" : "http", where, ls->passed ? "socket activation" : "own socket",
		 ls->n > 1 ? ", several sockets" : "", (unsigned)getuid(), one ? 1 : o->workers,
		 o->seccomp ? ", seccomp" : "");
	if (!one)
		log_msg(__func__, "%s", status);
	cfg.ssl_ctx = ctx;
	cfg.listen = ls;
	cfg.content_fd = content_fd;
	cfg.status = status;
	server_config_from_opts(&cfg, o);
	return server_run(&cfg);
}

void server_release(struct listen_set *ls, SSL_CTX *ctx, int content_fd)
{
	if (content_fd >= 0)
		close(content_fd);
	SSL_CTX_free(ctx);
	listen_close(ls);
}
