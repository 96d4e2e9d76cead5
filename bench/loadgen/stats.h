/*
 * Description: what loadgen measures and how threads' measurements add up.
 * One struct lg_stats per thread and target, filled by the engine without
 * locks; main.c merges them when the threads have returned. The clock every
 * time stamp is taken with lives here too.
 */
#ifndef BENCH_LOADGEN_STATS_H
#define BENCH_LOADGEN_STATS_H

#include <stdint.h>

#include "bench/loadgen/hist.h"

#define LG_STATUS_MAX 600

enum lg_err {
	LG_ERR_CONNECT,
	LG_ERR_TLS,
	LG_ERR_TIMEOUT,
	LG_ERR_RESET,
	LG_ERR_STATUS,
	LG_ERR_PARSE,
	LG_ERR_UNSOLICITED, /* bytes before the request was sent, or with none outstanding */
	LG_ERR_COUNT,
};

/* What a thread measured of one target; merged by adding. */
struct lg_stats {
	struct hist latency;     /* corrected (from schedule) in open loop */
	struct hist uncorrected; /* from the actual send; open loop only */
	struct hist connect;
	struct hist handshake;
	uint64_t requests;
	uint64_t bytes;
	uint64_t errors[LG_ERR_COUNT];
	uint64_t status[LG_STATUS_MAX];
	uint64_t hs_full, hs_resumed;
	uint64_t conns_opened;
	uint64_t *timeline;      /* timeline_cap entries, owned */
	uint64_t end_ns;         /* when this thread stopped measuring */
	char tls_err[160];       /* first TLS error text */
	char sys_err[160];       /* first socket error text */
};

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t lg_now_ns(void);

/* Allocates and resets a stats block with a timeline of cap seconds. */
int lg_stats_init(struct lg_stats *s, uint32_t cap);
void lg_stats_merge(struct lg_stats *dst, const struct lg_stats *src, uint32_t cap);
void lg_stats_free(struct lg_stats *s);

#endif
