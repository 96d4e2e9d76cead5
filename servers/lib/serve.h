/*
 * Description: the command-line side of serving, shared by the three lunchd
 * programs: struct server_opts in, a running server (server.h) out.
 */
#ifndef SERVERS_SERVE_H
#define SERVERS_SERVE_H

#include <openssl/ssl.h>

#include "servers/lib/listen.h"
#include "servers/lib/opts.h"
#include "servers/lib/server.h"

/*
 * Fills the parts of *cfg that the shared command line decides: workers,
 * connection cap, timeout, and with --seccomp the servers' own filter as
 * before_serve. The caller sets ssl_ctx, listen, content_fd and status.
 */
void server_config_from_opts(struct server_config *cfg, const struct server_opts *o);

/*
 * Opens the --content directory (O_PATH) for /file/ into *ret_fd; a NULL
 * dir gives -1. Returns 0 or -errno after logging why.
 */
int server_open_content(const char *dir, int *ret_fd);

/*
 * The last step of every lunchd main(): says where it serves (the sd_notify
 * STATUS= text, also logged unless it serves one passed connection), fills
 * a server_config from O and what main() acquired (LS; CTX, or NULL for
 * plain HTTP; CONTENT_FD or -1), and runs it. Returns server_run's result.
 */
int server_serve(const struct server_opts *o, const struct listen_set *ls, SSL_CTX *ctx,
		 int content_fd);

/* Releases what main() acquired; each may be unset (NULL, -1, empty set). */
void server_release(struct listen_set *ls, SSL_CTX *ctx, int content_fd);

#endif
