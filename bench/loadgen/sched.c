/*
 * Description: open-loop schedule arithmetic. Times are computed from the
 * request number each time, never accumulated, so rounding never drifts.
 */
#include "bench/loadgen/sched.h"

#include <errno.h>

int sched_init(struct sched *s, uint64_t start_ns, double rate, uint32_t conns)
{
	if (!(rate > 0) || conns == 0)
		return -EINVAL;
	s->start_ns = start_ns;
	s->rate = rate;
	s->conns = conns;
	s->next = 0;
	return 0;
}

uint64_t sched_time(const struct sched *s, uint64_t n)
{
	return s->start_ns + (uint64_t)((double)n * 1e9 / s->rate);
}

uint64_t sched_conn_time(const struct sched *s, uint32_t c, uint64_t k)
{
	return sched_time(s, k * s->conns + c);
}

int sched_due(struct sched *s, uint64_t now_ns, uint32_t *ret_conn, uint64_t *ret_k)
{
	if (sched_time(s, s->next) > now_ns)
		return 0;
	*ret_conn = (uint32_t)(s->next % s->conns);
	*ret_k = s->next / s->conns;
	s->next++;
	return 1;
}

uint64_t sched_next_time(const struct sched *s)
{
	return sched_time(s, s->next);
}
