/*
 * Description: listening sockets: parsing --listen, binding our own, and
 * taking the ones systemd passes (LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES), which
 * are either listening sockets (Accept=no) or one connected socket
 * (Accept=yes, inetd style).
 */
#ifndef SERVERS_LISTEN_H
#define SERVERS_LISTEN_H

#include <stdbool.h>
#include <sys/socket.h>

#define LISTEN_MAX_FDS 8
#define LISTEN_BACKLOG 4096

struct listen_set {
	int fds[LISTEN_MAX_FDS]; /* listening sockets, non-blocking */
	unsigned n;
	int conn_fd;             /* Accept=yes: the one passed connection, else -1 */
	bool passed;             /* the sockets came from systemd */
};

/*
 * Parses "ADDR:PORT", "[V6ADDR]:PORT", "*:PORT", "PORT" (= [::]:PORT, dual
 * stack) or "unix:PATH" into *ret and *ret_len. Numeric addresses only, plus
 * "localhost". Returns 0 or -EINVAL.
 */
int listen_parse(const char *spec, struct sockaddr_storage *ret, socklen_t *ret_len);

/*
 * Binds and listens on spec (non-blocking, close-on-exec, SO_REUSEADDR, dual
 * stack for [::]); a unix socket's stale file is replaced and made 0666.
 * Returns 0 and *ret_fd, or -errno after logging why.
 */
int listen_open(const char *spec, int *ret_fd);

/*
 * Takes the sockets passed by systemd into *set (and unsets LISTEN_* in the
 * environment). Returns the number of sockets taken: 0 when none were passed
 * (set->n == 0, set->conn_fd == -1), or -errno after logging why (a passed fd
 * that is not a stream socket, several connections, a mix).
 */
int listen_from_systemd(struct listen_set *set);

/*
 * The socket-activated start-up: takes systemd's sockets into *set or, when
 * none were passed (started by hand), opens spec itself as set->fds[0]
 * (set->passed tells which). Returns 0 or -errno after logging why.
 */
int listen_acquire(const char *spec, struct listen_set *set);

/* Closes every listening socket of *set (not a passed connection). */
void listen_close(struct listen_set *set);

/* Returns "ADDR:PORT" or "unix:PATH" of a bound socket into buf. */
void listen_describe(int fd, char *buf, size_t size);

#endif
