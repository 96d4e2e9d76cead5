/*
 * Description: URL parsing for loadgen. Strict on purpose: a typo in a
 * benchmark URL must fail loudly rather than measure something else.
 */
#include "bench/loadgen/url.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int url_fail(const char **ret_why, const char *why)
{
	if (ret_why)
		*ret_why = why;
	return -EINVAL;
}

static bool url_host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_';
}

int url_parse(const char *s, struct url *ret, const char **ret_why)
{
	struct url u;
	const char *p, *host, *host_end, *q;
	size_t n;

	memset(&u, 0, sizeof(u));
	if (!s)
		return url_fail(ret_why, "no URL");
	if (strncasecmp(s, "http://", 7) == 0) {
		p = s + 7;
		u.port = 80;
	} else if (strncasecmp(s, "https://", 8) == 0) {
		p = s + 8;
		u.tls = true;
		u.port = 443;
	} else {
		return url_fail(ret_why, "scheme must be http:// or https://");
	}

	if (*p == '[') {
		host = p + 1;
		host_end = strchr(host, ']');
		if (!host_end)
			return url_fail(ret_why, "unterminated [IPv6] host");
		for (q = host; q < host_end; q++)
			if (!((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'f') ||
			      (*q >= 'A' && *q <= 'F') || *q == ':' || *q == '.'))
				return url_fail(ret_why, "bad character in [IPv6] host");
		u.ipv6_literal = true;
		p = host_end + 1;
	} else {
		host = p;
		while (url_host_char(*p))
			p++;
		host_end = p;
	}
	n = (size_t)(host_end - host);
	if (n == 0)
		return url_fail(ret_why, "empty host");
	if (n > URL_HOST_MAX)
		return url_fail(ret_why, "host too long");
	memcpy(u.host, host, n);

	if (*p == ':') {
		unsigned long port = 0;

		p++;
		if (*p < '0' || *p > '9')
			return url_fail(ret_why, "port must be a number");
		while (*p >= '0' && *p <= '9') {
			port = port * 10 + (unsigned long)(*p - '0');
			if (port > 65535)
				return url_fail(ret_why, "port out of range");
			p++;
		}
		if (port == 0)
			return url_fail(ret_why, "port out of range");
		u.port = (uint16_t)port;
		u.port_explicit = true;
	}

	if (*p == '\0') {
		strcpy(u.path, "/");
	} else if (*p == '/' || *p == '?') {
		size_t i = 0;

		if (*p == '?')
			u.path[i++] = '/';
		for (; *p && *p != '#'; p++) {
			if ((unsigned char)*p <= ' ' || (unsigned char)*p == 0x7f)
				return url_fail(ret_why, "space or control character in path");
			if (i >= URL_PATH_MAX)
				return url_fail(ret_why, "path too long");
			u.path[i++] = *p;
		}
	} else if (*p == '@') {
		return url_fail(ret_why, "user info is not supported");
	} else {
		return url_fail(ret_why, "bad character after host");
	}

	*ret = u;
	return 0;
}

int url_host_header(const struct url *u, char *buf, int size)
{
	bool dflt = u->port == (u->tls ? 443 : 80);
	int n;

	if (u->ipv6_literal)
		n = dflt ? snprintf(buf, (size_t)size, "[%s]", u->host)
			 : snprintf(buf, (size_t)size, "[%s]:%u", u->host, u->port);
	else
		n = dflt ? snprintf(buf, (size_t)size, "%s", u->host)
			 : snprintf(buf, (size_t)size, "%s:%u", u->host, u->port);
	if (n < 0 || n >= size)
		return -ENOSPC;
	return n;
}
