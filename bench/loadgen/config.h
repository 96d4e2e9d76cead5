/*
 * Description: the load's configuration, as every load thread reads it: the
 * targets, the mode, the counts and limits. Filled by opts.c and main.c
 * before the threads start, never written after.
 */
#ifndef BENCH_LOADGEN_CONFIG_H
#define BENCH_LOADGEN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "bench/loadgen/sched.h"
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
 * g % ntargets (with thread_per_target: thread i's connections to target i),
 * so every target gets as many and all are measured over the same window.
 * A target's sockets are created in its network namespace (--netns): a
 * socket keeps the namespace it was made in, so two targets may have the
 * same address in two namespaces.
 */
struct lg_target {
	const char *url_text;    /* as given on the command line */
	struct url url;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	const char *request;     /* pipeline copies of the request, back to back */
	size_t request_len;      /* length of ONE copy */
	const char *netns;       /* --netns file, or NULL: loadgen's own network namespace */
	int netns_fd;            /* that file, opened by main.c; -1: own namespace */
};

/* What every thread reads; set up by main.c, never written after start. */
struct lg_config {
	struct lg_target target[LG_TARGETS_MAX];
	uint32_t ntargets;       /* >= 1 */
	bool tls;                /* https (every target has the same scheme) */
	enum lg_mode mode;
	uint32_t conns;          /* total, spread over the threads */
	uint32_t threads;
	bool thread_per_target;  /* threads == ntargets, thread i drives target i only */
	double rate;             /* requests/s in all (each target rate / ntargets); 0: closed */
	enum sched_arrivals arrivals; /* open loop: the fixed schedule or Poisson */
	uint64_t seed;           /* poisson: the gaps' seed (each thread its own stream) */
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
	int home_netns_fd;       /* loadgen's own network namespace when a target has
				    another (main.c opens it), else -1 */
};

#endif
