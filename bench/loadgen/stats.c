/*
 * Description: loadgen's statistics: allocation, merging of the threads'
 * blocks, and the monotonic clock they are stamped with.
 */
#include "bench/loadgen/stats.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t lg_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int lg_stats_init(struct lg_stats *s, uint32_t cap)
{
	memset(s, 0, sizeof(*s));
	hist_reset(&s->latency);
	hist_reset(&s->uncorrected);
	hist_reset(&s->connect);
	hist_reset(&s->handshake);
	s->timeline = calloc(cap ? cap : 1, sizeof(*s->timeline));
	return s->timeline ? 0 : -ENOMEM;
}

void lg_stats_merge(struct lg_stats *dst, const struct lg_stats *src, uint32_t cap)
{
	uint32_t i;

	hist_merge(&dst->latency, &src->latency);
	hist_merge(&dst->uncorrected, &src->uncorrected);
	hist_merge(&dst->connect, &src->connect);
	hist_merge(&dst->handshake, &src->handshake);
	dst->requests += src->requests;
	dst->bytes += src->bytes;
	for (i = 0; i < LG_ERR_COUNT; i++)
		dst->errors[i] += src->errors[i];
	for (i = 0; i < LG_STATUS_MAX; i++)
		dst->status[i] += src->status[i];
	dst->hs_full += src->hs_full;
	dst->hs_resumed += src->hs_resumed;
	dst->conns_opened += src->conns_opened;
	for (i = 0; i < cap; i++)
		dst->timeline[i] += src->timeline[i];
	if (src->end_ns > dst->end_ns)
		dst->end_ns = src->end_ns;
	if (!dst->tls_err[0])
		memcpy(dst->tls_err, src->tls_err, sizeof(dst->tls_err));
	if (!dst->sys_err[0])
		memcpy(dst->sys_err, src->sys_err, sizeof(dst->sys_err));
}

void lg_stats_free(struct lg_stats *s)
{
	free(s->timeline);
	s->timeline = NULL;
}
