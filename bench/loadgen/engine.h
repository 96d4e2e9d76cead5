/*
 * Description: the load engine. One struct engine per thread: its own
 * io_uring, its own connections with all buffers allocated up front, its own
 * TLS context and its own statistics, so threads share nothing but the
 * read-only configuration and the stop flag. main.c starts one thread per
 * engine and merges their statistics when they return.
 */
#ifndef BENCH_LOADGEN_ENGINE_H
#define BENCH_LOADGEN_ENGINE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "bench/loadgen/config.h"
#include "bench/loadgen/ring.h"
#include "bench/loadgen/stats.h"

struct engine;

/*
 * Allocates a thread's engine: conns connections (>= 1) of the config, the
 * schedule share rate (0 closed loop) and request quota (0 none). Nothing
 * touches the network yet. Returns 0 or -ENOMEM / -errno.
 */
int engine_new(struct engine **ret, const struct lg_config *cfg, uint32_t id, uint32_t conns,
	       double rate, uint64_t quota, atomic_bool *stop);

/*
 * Runs the thread's load from start_ns (connections open, warm-up) until
 * measure_ns + duration, the quota, or *stop. Creates the ring in the calling
 * thread (SINGLE_ISSUER wants that). Returns 0 or -errno when the engine could
 * not run at all (ring setup failed).
 */
int engine_run(struct engine *e, uint64_t start_ns, uint64_t measure_ns);

/*
 * A load thread's own CPU time over the measured window (the warm-up and the
 * ring's set-up excluded): read when the thread starts counting and when it
 * stops issuing, with CLOCK_THREAD_CPUTIME_ID (ns) and the user/system split
 * of getrusage(RUSAGE_THREAD). Includes the kernel work done in the thread's
 * context: on loopback that is the receiving side's softirq too.
 */
struct lg_thread_cpu {
	bool valid;              /* read at both edges */
	uint64_t ns;
	double user_s, sys_s;
};

/* The thread's statistics of target t, features and CPU, valid after engine_run. */
struct lg_stats *engine_stats(struct engine *e, uint32_t t);
const struct lg_features *engine_features(const struct engine *e);
const struct lg_thread_cpu *engine_cpu(const struct engine *e);

void engine_free(struct engine *e);

/*
 * How the -c connections are dealt out: thread i gets conns / threads, the
 * first conns % threads one more; connection g (numbered across threads)
 * goes to target g % ntargets, or with thread_per_target to the target of
 * its thread (threads == ntargets: conns / ntargets each).
 */
uint32_t lg_thread_conns(const struct lg_config *cfg, uint32_t thread);
uint32_t lg_thread_first_conn(const struct lg_config *cfg, uint32_t thread);
uint32_t lg_conn_target(const struct lg_config *cfg, uint32_t g);

/*
 * Open loop: thread i's share of the rate (as its share of the
 * connections) and the time of its request 0. The threads' schedules are
 * staggered so that every target's requests stay evenly spaced: by
 * 1 / rate with one target or a thread per target (target i's schedule is
 * then target 0's shifted by i / rate), by ntargets / rate when each thread
 * drives every target.
 */
double lg_thread_rate(const struct lg_config *cfg, uint32_t thread);
uint64_t lg_thread_sched_start(const struct lg_config *cfg, uint32_t thread, uint64_t start_ns);

#endif
