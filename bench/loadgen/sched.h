/*
 * Description: the open-loop schedule. Two kinds of arrivals:
 *
 * uniform (wrk2's model): a thread sending `rate` requests/s over `conns`
 * connections numbers its requests n = 0, 1, 2, ... and schedules request n
 * at start + n / rate on connection n % conns, so each connection sends
 * every conns / rate seconds and the connections are evenly staggered.
 *
 * poisson: every connection is a Poisson process of its own at rate / conns
 * (exponential gaps drawn from a counter-based generator of the seed, the
 * connection and the request number, so a time can be drawn again exactly),
 * and their union a Poisson process at `rate`. Two uniform schedules of the
 * same rate keep one phase to each other for a whole window, and which
 * server's requests find the CPU busy follows from that phase: per window a
 * bias of several percent on CPU per request that only more windows average
 * out. Independent Poisson arrivals meet at every phase within each window.
 *
 * Latency is measured from these times, which a slow server cannot move
 * (coordinated omission corrected).
 */
#ifndef BENCH_LOADGEN_SCHED_H
#define BENCH_LOADGEN_SCHED_H

#include <stdint.h>

enum sched_arrivals {
	SCHED_UNIFORM = 0,
	SCHED_POISSON,
};

/* poisson: one connection's two cursors over its own arrival times */
struct sched_conn {
	uint64_t due_ns, due_k; /* its next arrival not yet handed out */
	uint64_t at_ns, at_k;   /* the time of its request at_k (sched_conn_time) */
};

struct sched {
	uint64_t start_ns;  /* time of request 0 (uniform), of the processes' start (poisson) */
	double rate;        /* requests per second, > 0 */
	uint32_t conns;     /* > 0 */
	uint64_t next;      /* uniform: next request number to hand out */
	enum sched_arrivals arrivals;
	uint64_t seed;
	struct sched_conn *pc; /* poisson: conns entries; NULL for uniform */
};

/* Sets up a uniform schedule. rate > 0 and conns > 0, else -EINVAL. */
int sched_init(struct sched *s, uint64_t start_ns, double rate, uint32_t conns);

/* Sets up a Poisson schedule of SEED. -EINVAL as sched_init, -ENOMEM. */
int sched_init_poisson(struct sched *s, uint64_t start_ns, double rate, uint32_t conns,
		       uint64_t seed);

/* Frees what sched_init_poisson allocated (safe on either kind, and twice). */
void sched_free(struct sched *s);

/* uniform: scheduled time of request n. */
uint64_t sched_time(const struct sched *s, uint64_t n);

/*
 * Scheduled time of the k-th request of connection c (0-based). poisson: k
 * never goes back from one call to the next for the same connection (the
 * engine asks for each connection's requests in order).
 */
uint64_t sched_conn_time(struct sched *s, uint32_t c, uint64_t k);

/* The k-th gap of connection c of a Poisson schedule, in ns (exposed for tests). */
uint64_t sched_poisson_gap(const struct sched *s, uint32_t c, uint64_t k);

/*
 * Hands out the next request if it is due at now_ns: returns 1 and sets
 * *ret_conn and *ret_k (the connection and that connection's request index),
 * or returns 0 when the next one is still in the future.
 */
int sched_due(struct sched *s, uint64_t now_ns, uint32_t *ret_conn, uint64_t *ret_k);

/* When the next request is due. */
uint64_t sched_next_time(const struct sched *s);

#endif
