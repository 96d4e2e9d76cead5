/*
 * Description: cgroup CPU counters for loadgen --cgroup: parse cpu.stat and
 * cpuacct.usage, keep the files open and re-read them with pread at offset
 * 0 (kernfs regenerates the text on every read from the start); and the
 * context switches of the cgroups' threads from /proc/TID/status.
 */
#include "bench/loadgen/cgcpu.h"

#include <dirent.h>
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

/* The number after "key:" and blanks, to the end of the line [p, eol). */
static int ctxt_value(const char *p, const char *eol, const char *key, size_t klen,
		      uint64_t *ret)
{
	const char *after;

	if ((size_t)(eol - p) <= klen || memcmp(p, key, klen) != 0)
		return -ENOENT;
	p += klen;
	while (p < eol && (*p == ' ' || *p == '\t'))
		p++;
	if (parse_u64(p, eol, &after, ret) < 0 || after != eol)
		return -EINVAL;
	return 0;
}

int cgcpu_parse_ctxt(const char *buf, size_t len, struct cgcpu_wake *ret)
{
	static const char vkey[] = "voluntary_ctxt_switches:";
	static const char nkey[] = "nonvoluntary_ctxt_switches:";
	const char *p = buf, *end = buf + len;
	uint64_t vol = 0, nonvol = 0;
	int seen_v = 0, seen_n = 0, r;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;

		r = ctxt_value(p, eol, vkey, sizeof(vkey) - 1, &vol);
		if (r == 0 && seen_v++)
			return -EINVAL;
		if (r == -ENOENT) {
			r = ctxt_value(p, eol, nkey, sizeof(nkey) - 1, &nonvol);
			if (r == 0 && seen_n++)
				return -EINVAL;
		}
		if (r == -EINVAL)
			return -EINVAL;
		p = eol + 1;
	}
	if (seen_v != 1 || seen_n != 1)
		return -EINVAL;
	ret->vol = vol;
	ret->nonvol = nonvol;
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
	/* without its directory the CPU figure stands and the wake-ups are absent */
	c->dir[c->n] = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
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

/* Adds TID's context switches to *w; a thread already gone adds nothing. */
static int wake_tid(uint64_t tid, struct cgcpu_wake *w)
{
	char path[64], buf[8192];
	struct cgcpu_wake one;
	ssize_t r;
	int fd, e;

	snprintf(path, sizeof(path), "/proc/%llu/status", (unsigned long long)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ESRCH ? 0 : -errno;
	r = read(fd, buf, sizeof(buf));
	e = errno;
	close(fd);
	if (r < 0)
		return e == ESRCH ? 0 : -e;
	if (r == 0)
		return 0; /* it ended between the open and the read */
	if ((size_t)r == sizeof(buf))
		return -EOVERFLOW;
	if (cgcpu_parse_ctxt(buf, (size_t)r, &one) < 0)
		return -EINVAL;
	w->vol += one.vol;
	w->nonvol += one.nonvol;
	return 0;
}

/*
 * Adds the threads of the cgroup at dirfd, then of its descendants (depth
 * bounded), to *w. buf (size bytes) holds one thread list at a time.
 */
static int wake_dir(int dirfd, int depth, char *buf, size_t size, struct cgcpu_wake *w)
{
	const char *p, *end, *after;
	struct dirent *de;
	size_t len = 0;
	DIR *d;
	ssize_t r = 0;
	int fd, sub, e = 0;

	fd = openat(dirfd, "cgroup.threads", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fd = openat(dirfd, "tasks", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (len < size && (r = read(fd, buf + len, size - len)) > 0)
		len += (size_t)r;
	if (len < size && r < 0)
		e = -errno;
	close(fd);
	if (e < 0)
		return e;
	if (len == size)
		return -EOVERFLOW;
	for (p = buf, end = buf + len; p < end; p = after + 1) {
		uint64_t tid;

		if (parse_u64(p, end, &after, &tid) < 0 || after == end || *after != '\n')
			return -EINVAL;
		e = wake_tid(tid, w);
		if (e < 0)
			return e;
	}
	if (depth == 0)
		return 0;
	fd = dup(dirfd);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		e = -errno;
		close(fd);
		return e;
	}
	rewinddir(d);
	while (e == 0 && (errno = 0, de = readdir(d)) != NULL) {
		if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sub < 0) {
			if (errno != ENOENT) /* a child cgroup removed meanwhile */
				e = -errno;
			continue;
		}
		e = wake_dir(sub, depth - 1, buf, size, w);
		close(sub);
	}
	if (e == 0 && errno != 0)
		e = -errno;
	closedir(d);
	return e;
}

int cgcpu_wake_each(const struct cgcpu *c, struct cgcpu_wake w[CGCPU_MAX])
{
	static char buf[1 << 16]; /* the main thread's alone: not on its stack */
	int i, r;

	for (i = 0; i < c->n; i++) {
		if (c->dir[i] < 0)
			return -EBADF;
		w[i].vol = w[i].nonvol = 0;
		r = wake_dir(c->dir[i], 8, buf, sizeof(buf), &w[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

void cgcpu_close(struct cgcpu *c)
{
	while (c->n > 0) {
		c->n--;
		close(c->fd[c->n]);
		if (c->dir[c->n] >= 0)
			close(c->dir[c->n]);
	}
}
