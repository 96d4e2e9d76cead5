/*
 * Description: cgroup CPU counters for loadgen --cgroup: parse cpu.stat and
 * cpuacct.usage, keep the files open and re-read them with pread at offset
 * 0 (kernfs regenerates the text on every read from the start).
 */
#include "bench/loadgen/cgcpu.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int parse_u64(const char *p, const char *end, const char **after, uint64_t *ret)
{
	uint64_t v = 0;
	const char *s = p;

	while (p < end && *p >= '0' && *p <= '9') {
		unsigned d = (unsigned)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
		p++;
	}
	if (p == s)
		return -EINVAL;
	*after = p;
	*ret = v;
	return 0;
}

int cgcpu_parse_stat(const char *buf, size_t len, uint64_t *usec)
{
	static const char key[] = "usage_usec ";
	const char *p = buf, *end = buf + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end, *after;
		uint64_t v;

		if ((size_t)(eol - p) > sizeof(key) - 1 && memcmp(p, key, sizeof(key) - 1) == 0 &&
		    parse_u64(p + sizeof(key) - 1, eol, &after, &v) == 0 && after == eol) {
			*usec = v;
			return 0;
		}
		p = eol + 1;
	}
	return -EINVAL;
}

int cgcpu_parse_usage(const char *buf, size_t len, uint64_t *usec)
{
	const char *end = buf + len, *after;
	uint64_t ns;

	if (parse_u64(buf, end, &after, &ns) < 0)
		return -EINVAL;
	if (after < end && *after == '\n')
		after++;
	if (after != end)
		return -EINVAL;
	*usec = ns / 1000;
	return 0;
}

void cgcpu_init(struct cgcpu *c)
{
	c->n = 0;
}

static int read_one(int fd, int v1, uint64_t *usec)
{
	char buf[1024];
	ssize_t r = pread(fd, buf, sizeof(buf), 0);

	if (r < 0)
		return -errno;
	if ((size_t)r == sizeof(buf))
		return -EOVERFLOW;
	return v1 ? cgcpu_parse_usage(buf, (size_t)r, usec) : cgcpu_parse_stat(buf, (size_t)r, usec);
}

int cgcpu_add(struct cgcpu *c, const char *dir, char *err, size_t size)
{
	char path[4096];
	uint64_t v;
	int fd, v1 = 0, r;

	if (c->n == CGCPU_MAX) {
		snprintf(err, size, "--cgroup: at most %d cgroups", CGCPU_MAX);
		return -E2BIG;
	}
	snprintf(path, sizeof(path), "%s/cpu.stat", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(path, sizeof(path), "%s/cpuacct.usage", dir);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		v1 = 1;
	}
	if (fd < 0) {
		r = -errno;
		snprintf(err, size, "--cgroup %s: neither cpu.stat nor cpuacct.usage: %s", dir,
			 strerror(-r));
		return r;
	}
	r = read_one(fd, v1, &v);
	if (r < 0) {
		snprintf(err, size, "--cgroup %s: %s has no CPU usage: %s", dir, path,
			 r == -EINVAL ? "unexpected format" : strerror(-r));
		close(fd);
		return r;
	}
	c->fd[c->n] = fd;
	c->v1[c->n] = v1;
	c->n++;
	return 0;
}

int cgcpu_read_each(const struct cgcpu *c, uint64_t usec[CGCPU_MAX])
{
	int i, r;

	for (i = 0; i < c->n; i++) {
		r = read_one(c->fd[i], c->v1[i], &usec[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

int cgcpu_read(const struct cgcpu *c, uint64_t *usec)
{
	uint64_t v[CGCPU_MAX], sum = 0;
	int i, r = cgcpu_read_each(c, v);

	if (r < 0)
		return r;
	for (i = 0; i < c->n; i++)
		sum += v[i];
	*usec = sum;
	return 0;
}

void cgcpu_close(struct cgcpu *c)
{
	while (c->n > 0)
		close(c->fd[--c->n]);
}
