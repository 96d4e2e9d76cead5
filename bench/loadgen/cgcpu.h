/*
 * Description: the server's CPU time, read from its cgroups at the edges of
 * the measured window. A CPU-per-request figure is only as good as the match
 * between the window its CPU time covers and the window its requests were
 * counted in; a reader outside loadgen (sleeping until the warm-up ends,
 * waking after the generator exits) is off by its own scheduling delay and
 * the connection teardown. loadgen reads the counters itself, the moment it
 * starts and stops counting.
 *
 * Beside the CPU time, the server's wake-ups: at the same edges, the sum over
 * the threads of each cgroup and of its descendants (cgroup v2
 * cgroup.threads, v1 tasks) of voluntary_ctxt_switches (a thread going to
 * sleep: one per wake-up) and nonvoluntary_ctxt_switches (preempted) from
 * /proc/TID/status. Known inexactness: a thread that ends inside the window
 * takes its switches with it (the sum is low by its count at the start, and
 * the figure is dropped if the sum goes back), one that starts inside it
 * brings every switch it made, and one that leaves or enters the cgroups
 * likewise; a thread gone between the listing and the read of its status is
 * skipped. Listing and reading take a few microseconds per thread after the
 * CPU counter is read.
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
	int dir[CGCPU_MAX];      /* the cgroup directory, or -1: no wake-ups */
};

/* Context switches summed over a cgroup's threads. */
struct cgcpu_wake {
	uint64_t vol;            /* voluntary_ctxt_switches: went to sleep */
	uint64_t nonvol;         /* nonvoluntary_ctxt_switches: preempted */
};

/*
 * Parses cgroup v2 cpu.stat text ("usage_usec N" among other "key value"
 * lines). Returns 0 and the microseconds, or -EINVAL when there is no valid
 * usage_usec line. buf need not be NUL-terminated.
 */
int cgcpu_parse_stat(const char *buf, size_t len, uint64_t *usec);

/* Parses cgroup v1 cpuacct.usage (one decimal number of ns) into microseconds. */
int cgcpu_parse_usage(const char *buf, size_t len, uint64_t *usec);

/*
 * Parses /proc/TID/status text: the "voluntary_ctxt_switches:" and
 * "nonvoluntary_ctxt_switches:" lines (a colon, blanks, a decimal number).
 * Returns 0 and both numbers in *ret, or -EINVAL (ret untouched) unless each
 * line is there once and valid. buf need not be NUL-terminated.
 */
int cgcpu_parse_ctxt(const char *buf, size_t len, struct cgcpu_wake *ret);

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

/*
 * The context switches of each added cgroup's threads (its descendants'
 * included), in the order added. 0, or -errno when a cgroup could not be
 * listed or a status read failed (other than the thread having gone); the
 * CPU counters do not depend on it.
 */
int cgcpu_wake_each(const struct cgcpu *c, struct cgcpu_wake w[CGCPU_MAX]);

void cgcpu_close(struct cgcpu *c);

#endif
