/*
 * Description: the open-loop schedule (wrk2's model). A thread sending
 * `rate` requests/s over `conns` connections numbers its requests n = 0, 1,
 * 2, ... and schedules request n at start + n / rate on connection
 * n % conns, so each connection sends every conns / rate seconds and the
 * connections are evenly staggered. Latency is measured from these times,
 * which a slow server cannot move (coordinated omission corrected).
 */
#ifndef BENCH_LOADGEN_SCHED_H
#define BENCH_LOADGEN_SCHED_H

#include <stdint.h>

struct sched {
	uint64_t start_ns;  /* time of request 0 */
	double rate;        /* requests per second, > 0 */
	uint32_t conns;     /* > 0 */
	uint64_t next;      /* next request number to hand out */
};

/* Sets up a schedule. rate > 0 and conns > 0, else -EINVAL. */
int sched_init(struct sched *s, uint64_t start_ns, double rate, uint32_t conns);

/* Scheduled time of request n. */
uint64_t sched_time(const struct sched *s, uint64_t n);

/* Scheduled time of the k-th request of connection c (0-based). */
uint64_t sched_conn_time(const struct sched *s, uint32_t c, uint64_t k);

/*
 * Hands out the next request if it is due at now_ns: returns 1 and sets
 * *ret_conn and *ret_k (the connection and that connection's request index),
 * or returns 0 when the next one is still in the future.
 */
int sched_due(struct sched *s, uint64_t now_ns, uint32_t *ret_conn, uint64_t *ret_k);

/* When the next request is due. */
uint64_t sched_next_time(const struct sched *s);

#endif
