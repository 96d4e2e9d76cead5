/*
 * Description: --listen parsing, our own listening sockets, and sockets
 * passed by systemd's socket activation.
 */
#include "servers/lib/listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "servers/lib/log.h"

static int parse_port(const char *s, in_port_t *ret)
{
	char *end;
	long v;

	if (!s[0] || s[0] < '0' || s[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 0 || v > 65535)
		return -EINVAL;
	*ret = htons((in_port_t)v);
	return 0;
}

int listen_parse(const char *spec, struct sockaddr_storage *ret, socklen_t *ret_len)
{
	struct sockaddr_storage ss;
	char host[64];
	const char *port;
	in_port_t p;

	memset(&ss, 0, sizeof(ss));
	if (!strncmp(spec, "unix:", 5)) {
		struct sockaddr_un *un = (struct sockaddr_un *)&ss;
		size_t n = strlen(spec + 5);

		if (n == 0 || n >= sizeof(un->sun_path) || spec[5] != '/')
			return -EINVAL;
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, spec + 5, n + 1);
		*ret = ss;
		*ret_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
		return 0;
	}

	if (spec[0] == '[') {
		const char *close = strchr(spec, ']');

		if (!close || close == spec + 1 || close[1] != ':' ||
		    (size_t)(close - spec - 1) >= sizeof(host))
			return -EINVAL;
		memcpy(host, spec + 1, (size_t)(close - spec - 1));
		host[close - spec - 1] = '\0';
		port = close + 2;
	} else {
		const char *colon = strrchr(spec, ':');

		if (!colon) {
			snprintf(host, sizeof(host), "::");
			port = spec;
		} else {
			if ((size_t)(colon - spec) >= sizeof(host) || strchr(spec, ':') != colon)
				return -EINVAL;
			memcpy(host, spec, (size_t)(colon - spec));
			host[colon - spec] = '\0';
			port = colon + 1;
		}
	}
	if (parse_port(port, &p) < 0)
		return -EINVAL;
	if (!strcmp(host, "*") || !strcmp(host, ""))
		snprintf(host, sizeof(host), "::");
	if (!strcmp(host, "localhost"))
		snprintf(host, sizeof(host), "127.0.0.1");

	if (strchr(host, ':')) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			return -EINVAL;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = p;
		*ret_len = sizeof(*in6);
	} else {
		struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;

		if (inet_pton(AF_INET, host, &in4->sin_addr) != 1)
			return -EINVAL;
		in4->sin_family = AF_INET;
		in4->sin_port = p;
		*ret_len = sizeof(*in4);
	}
	*ret = ss;
	return 0;
}

int listen_open(const char *spec, int *ret_fd)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd = -1, one = 1, zero = 0, r;

	r = listen_parse(spec, &ss, &len);
	if (r < 0) {
		log_msg(__func__, "bad listen address '%s' (want ADDR:PORT, [V6]:PORT or unix:PATH)",
			spec);
		return r;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		log_errno(__func__, r, "socket");
		goto err;
	}
	if (ss.ss_family == AF_UNIX) {
		const char *path = ((struct sockaddr_un *)&ss)->sun_path;
		struct stat st;

		if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
			unlink(path);
	} else if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) {
		r = -errno;
		log_errno(__func__, r, "SO_REUSEADDR");
		goto err;
	}
	if (ss.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0) {
		r = -errno;
		log_errno(__func__, r, "IPV6_V6ONLY");
		goto err;
	}
	if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
		r = -errno;
		log_errno(__func__, r, "bind %s", spec);
		goto err;
	}
	if (ss.ss_family == AF_UNIX && chmod(((struct sockaddr_un *)&ss)->sun_path, 0666) < 0) {
		r = -errno;
		log_errno(__func__, r, "chmod %s", spec);
		goto err;
	}
	if (listen(fd, LISTEN_BACKLOG) < 0) {
		r = -errno;
		log_errno(__func__, r, "listen %s", spec);
		goto err;
	}
	*ret_fd = fd;
	return 0;
err:
	if (fd >= 0)
		close(fd);
	return r;
}

static int set_nonblock_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	fl = fcntl(fd, F_GETFD);
	if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0)
		return -errno;
	return 0;
}

int listen_from_systemd(struct listen_set *set)
{
	char **names = NULL;
	int n, r;

	memset(set, 0, sizeof(*set));
	set->conn_fd = -1;
	n = sd_listen_fds_with_names(1, &names);
	if (n < 0) {
		log_errno(__func__, n, "sd_listen_fds_with_names");
		return n;
	}
	if (n == 0) {
		r = 0;
		goto out;
	}
	if (n > LISTEN_MAX_FDS) {
		log_msg(__func__, "%d sockets passed, at most %d supported", n, LISTEN_MAX_FDS);
		r = -E2BIG;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		const char *name = names && names[i] ? names[i] : "?";

		if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) > 0) {
			set->fds[set->n++] = fd;
		} else if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 0) > 0) {
			if (set->conn_fd >= 0) {
				log_msg(__func__, "more than one connection passed (fd %d '%s')", fd,
					name);
				r = -EINVAL;
				goto out;
			}
			set->conn_fd = fd;
		} else {
			log_msg(__func__, "passed fd %d '%s' is not a stream socket", fd, name);
			r = -ENOTSOCK;
			goto out;
		}
		r = set_nonblock_cloexec(fd);
		if (r < 0) {
			log_errno(__func__, r, "fd %d", fd);
			goto out;
		}
	}
	if (set->conn_fd >= 0 && set->n > 0) {
		log_msg(__func__, "both listening and connected sockets passed");
		r = -EINVAL;
		goto out;
	}
	set->passed = true;
	r = n;
out:
	if (names) {
		for (int i = 0; names[i]; i++)
			free(names[i]);
		free(names);
	}
	return r;
}

void listen_describe(int fd, char *buf, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN];

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		snprintf(buf, size, "fd %d", fd);
		return;
	}
	if (ss.ss_family == AF_UNIX) {
		snprintf(buf, size, "unix:%s", ((struct sockaddr_un *)&ss)->sun_path);
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(buf, size, "[%s]:%u", host, ntohs(in6->sin6_port));
	} else if (ss.ss_family == AF_INET) {
		struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &in4->sin_addr, host, sizeof(host));
		snprintf(buf, size, "%s:%u", host, ntohs(in4->sin_port));
	} else {
		snprintf(buf, size, "fd %d (family %d)", fd, ss.ss_family);
	}
}

int listen_acquire(const char *spec, struct listen_set *set)
{
	int r;

	r = listen_from_systemd(set);
	if (r != 0)
		return r < 0 ? r : 0;
	r = listen_open(spec, &set->fds[0]);
	if (r < 0)
		return r;
	set->n = 1;
	return 0;
}

void listen_close(struct listen_set *set)
{
	for (unsigned i = 0; i < set->n; i++)
		close(set->fds[i]);
	set->n = 0;
}
