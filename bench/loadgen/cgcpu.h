/*
 * Description: the server's CPU time, read from its cgroups at the edges of
 * the measured window. A CPU-per-request figure is only as good as the match
 * between the window its CPU time covers and the window its requests were
 * counted in; a reader outside loadgen (sleeping until the warm-up ends,
 * waking after the generator exits) is off by its own scheduling delay and
 * the connection teardown. loadgen reads the counters itself, the moment it
 * starts and stops counting.
 */
#ifndef BENCH_LOADGEN_CGCPU_H
#define BENCH_LOADGEN_CGCPU_H

#include <stddef.h>
#include <stdint.h>

#define CGCPU_MAX 32

struct cgcpu {
	int n;
	int fd[CGCPU_MAX];       /* cpu.stat (cgroup v2) or cpuacct.usage (v1) */
	int v1[CGCPU_MAX];       /* 1: fd is cpuacct.usage, in nanoseconds */
};

/*
 * Parses cgroup v2 cpu.stat text ("usage_usec N" among other "key value"
 * lines). Returns 0 and the microseconds, or -EINVAL when there is no valid
 * usage_usec line. buf need not be NUL-terminated.
 */
int cgcpu_parse_stat(const char *buf, size_t len, uint64_t *usec);

/* Parses cgroup v1 cpuacct.usage (one decimal number of ns) into microseconds. */
int cgcpu_parse_usage(const char *buf, size_t len, uint64_t *usec);

/* Empties c; cgcpu_close() on it is then harmless. */
void cgcpu_init(struct cgcpu *c);

/*
 * Adds cgroup directory dir: opens its cpu.stat, or else its cpuacct.usage,
 * and reads it once. 0, or -errno after writing a reason into err.
 */
int cgcpu_add(struct cgcpu *c, const char *dir, char *err, size_t size);

/* Sum of the CPU microseconds of every added cgroup. 0 or -errno. */
int cgcpu_read(const struct cgcpu *c, uint64_t *usec);

/* The CPU microseconds of each added cgroup, in the order added. 0 or -errno. */
int cgcpu_read_each(const struct cgcpu *c, uint64_t usec[CGCPU_MAX]);

void cgcpu_close(struct cgcpu *c);

#endif
