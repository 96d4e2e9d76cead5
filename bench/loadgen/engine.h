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
#include <sys/socket.h>

#include "bench/loadgen/ring.h"
#include "bench/loadgen/stats.h"
#include "bench/loadgen/url.h"

#define LG_PIPELINE_MAX 64
#define LG_TARGETS_MAX 16

enum lg_mode {
	LG_KEEPALIVE, /* closed or open loop over long-lived connections */
	LG_CLOSE,     /* a new connection per request, full handshake */
	LG_RESUME,    /* a new connection per request, TLS session resumed */
};

/*
 * One server the load goes to. With several targets (duet measurement) the
 * connections are dealt out round robin, connection g to target
 * g % ntargets, so every target gets as many and all are measured over the
 * same window.
 */
struct lg_target {
	const char *url_text;    /* as given on the command line */
	struct url url;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	const char *request;     /* pipeline copies of the request, back to back */
	size_t request_len;      /* length of ONE copy */
};

/* What every thread reads; set up by main.c, never written after start. */
struct lg_config {
	struct lg_target target[LG_TARGETS_MAX];
	uint32_t ntargets;       /* >= 1 */
	bool tls;                /* https (every target has the same scheme) */
	enum lg_mode mode;
	uint32_t conns;          /* total, spread over the threads */
	uint32_t threads;
	double rate;             /* total requests/s; 0: closed loop */
	double duration_s;       /* measured seconds; 0: until -n is reached */
	uint64_t requests;       /* -n; 0: until the duration ends */
	double warmup_s;
	uint32_t timeout_ms;
	uint32_t pipeline;       /* >= 1 */
	bool multishot;          /* try multishot recv + buffer ring (keep-alive) */
	bool batch;              /* closed keep-alive: sleep for several completions */
	const char *cafile;
	int tls_version;         /* 0 any (1.2 or 1.3), else TLS1_2_VERSION / TLS1_3_VERSION */
	uint32_t timeline_cap;   /* seconds of per-second counts kept */
};

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

/* The thread's statistics of target t, and its features, valid after engine_run. */
struct lg_stats *engine_stats(struct engine *e, uint32_t t);
const struct lg_features *engine_features(const struct engine *e);

void engine_free(struct engine *e);

/*
 * How the -c connections are dealt out: thread i gets conns / threads, the
 * first conns % threads one more; connection g (numbered across threads)
 * goes to target g % ntargets.
 */
uint32_t lg_thread_conns(const struct lg_config *cfg, uint32_t thread);
uint32_t lg_thread_first_conn(const struct lg_config *cfg, uint32_t thread);
uint32_t lg_conn_target(const struct lg_config *cfg, uint32_t g);

#endif
