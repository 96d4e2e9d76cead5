/*
 * Description: open-loop schedule arithmetic. Uniform times are computed
 * from the request number each time, never accumulated, so rounding never
 * drifts; Poisson times are sums of gaps, each drawn again from (seed,
 * connection, number) whenever it is needed, so both cursors of a
 * connection see the same times.
 */
#include "bench/loadgen/sched.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

int sched_init(struct sched *s, uint64_t start_ns, double rate, uint32_t conns)
{
	if (!(rate > 0) || conns == 0)
		return -EINVAL;
	s->start_ns = start_ns;
	s->rate = rate;
	s->conns = conns;
	s->next = 0;
	s->arrivals = SCHED_UNIFORM;
	s->seed = 0;
	s->pc = NULL;
	return 0;
}

/* splitmix64's finaliser: a counter-based generator of well-mixed bits */
static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

uint64_t sched_poisson_gap(const struct sched *s, uint32_t c, uint64_t k)
{
	uint64_t x = mix64(s->seed ^ mix64(((uint64_t)c << 40) ^ k));
	/* u in (0, 1]: never log(0) */
	double u = (double)((x >> 11) + 1) * 0x1.0p-53;

	return (uint64_t)(-log(u) * (double)s->conns * 1e9 / s->rate);
}

int sched_init_poisson(struct sched *s, uint64_t start_ns, double rate, uint32_t conns,
		       uint64_t seed)
{
	uint32_t c;
	int r = sched_init(s, start_ns, rate, conns);

	if (r < 0)
		return r;
	s->pc = calloc(conns, sizeof(*s->pc));
	if (!s->pc)
		return -ENOMEM;
	s->arrivals = SCHED_POISSON;
	s->seed = seed;
	for (c = 0; c < conns; c++) {
		s->pc[c].due_ns = start_ns + sched_poisson_gap(s, c, 0);
		s->pc[c].at_ns = s->pc[c].due_ns;
	}
	return 0;
}

void sched_free(struct sched *s)
{
	free(s->pc);
	s->pc = NULL;
}

uint64_t sched_time(const struct sched *s, uint64_t n)
{
	return s->start_ns + (uint64_t)((double)n * 1e9 / s->rate);
}

uint64_t sched_conn_time(struct sched *s, uint32_t c, uint64_t k)
{
	struct sched_conn *p;

	if (s->arrivals == SCHED_UNIFORM)
		return sched_time(s, k * s->conns + c);
	p = &s->pc[c];
	while (p->at_k < k) {
		p->at_k++;
		p->at_ns += sched_poisson_gap(s, c, p->at_k);
	}
	return p->at_ns;
}

/* poisson: the connection whose next arrival comes first */
static uint32_t first_due(const struct sched *s)
{
	uint32_t c, best = 0;

	for (c = 1; c < s->conns; c++)
		if (s->pc[c].due_ns < s->pc[best].due_ns)
			best = c;
	return best;
}

int sched_due(struct sched *s, uint64_t now_ns, uint32_t *ret_conn, uint64_t *ret_k)
{
	if (s->arrivals == SCHED_POISSON) {
		uint32_t c = first_due(s);
		struct sched_conn *p = &s->pc[c];

		if (p->due_ns > now_ns)
			return 0;
		*ret_conn = c;
		*ret_k = p->due_k;
		p->due_k++;
		p->due_ns += sched_poisson_gap(s, c, p->due_k);
		return 1;
	}
	if (sched_time(s, s->next) > now_ns)
		return 0;
	*ret_conn = (uint32_t)(s->next % s->conns);
	*ret_k = s->next / s->conns;
	s->next++;
	return 1;
}

uint64_t sched_next_time(const struct sched *s)
{
	if (s->arrivals == SCHED_POISSON)
		return s->pc[first_due(s)].due_ns;
	return sched_time(s, s->next);
}
