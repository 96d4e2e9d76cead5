/*
 * Description: parses the one URL loadgen is pointed at:
 * http[s]://HOST[:PORT][/PATH[?QUERY]], HOST a name, an IPv4 address or a
 * bracketed IPv6 address. No user info, no fragments (they never reach a
 * server). Borrows nothing: the parts are copied into fixed fields.
 */
#ifndef BENCH_LOADGEN_URL_H
#define BENCH_LOADGEN_URL_H

#include <stdbool.h>
#include <stdint.h>

#define URL_HOST_MAX 255
#define URL_PATH_MAX 4095

struct url {
	bool tls;                      /* https */
	uint16_t port;                 /* explicit or 80 / 443 */
	bool port_explicit;
	bool ipv6_literal;             /* host was [..] */
	char host[URL_HOST_MAX + 1];   /* without brackets */
	char path[URL_PATH_MAX + 1];   /* "/" when absent; query kept */
};

/*
 * Parses s into *ret. Returns 0, or -EINVAL with a static reason in
 * *ret_why (may be NULL); *ret is untouched on failure.
 */
int url_parse(const char *s, struct url *ret, const char **ret_why);

/*
 * Writes the Host header value (host, brackets for IPv6, ":port" when not
 * the scheme's default) into buf. Returns its length, or -ENOSPC.
 */
int url_host_header(const struct url *u, char *buf, int size);

#endif
