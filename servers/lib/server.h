/*
 * Description: the serving core shared by the three lunchd programs: worker
 * threads with one epoll loop each, connections from a preallocated pool,
 * non-blocking TLS (or plain HTTP) with the buffers in the connection,
 * keep-alive, pipelining, timeouts, a connection cap, readiness and stop.
 */
#ifndef SERVERS_SERVER_H
#define SERVERS_SERVER_H

#include <stdbool.h>

#include <openssl/ssl.h>

#include "servers/lib/listen.h"

struct server_config {
	SSL_CTX *ssl_ctx;         /* borrowed; NULL serves plain HTTP */
	const struct listen_set *listen; /* listening sockets, or one connection
	                          * (conn_fd >= 0: serve it, then return) */
	int content_fd;           /* directory for /file/, or -1; borrowed */
	unsigned workers;         /* >= 1; forced to 1 for a single connection */
	unsigned max_conns;       /* pool size over all workers */
	unsigned timeout_ms;      /* handshake + request head, and keep-alive idle time */
	unsigned work_us;         /* CPU time added to every request (--work-per-request) */
	const char *status;       /* text for sd_notify STATUS= */
	/*
	 * Called once after every worker thread exists and before any serves
	 * (e.g. to install a seccomp filter that must cover all threads).
	 * Returns 0 or -errno (then server_run stops and returns it). May be NULL.
	 */
	int (*before_serve)(void *arg);
	void *arg;
};

/*
 * Serves until SIGTERM or SIGINT (or, for a single passed connection, until
 * it closes), then closes every connection and returns 0; -errno if it could
 * not start. Sends READY=1 with sd_notify once serving, STOPPING=1 at the end.
 * Blocks SIGTERM/SIGINT and ignores SIGPIPE in the calling process. Does not
 * close the listening sockets or free the SSL_CTX (the caller owns them).
 */
int server_run(const struct server_config *cfg);

#endif
