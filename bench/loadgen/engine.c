/*
 * Description: the load engine's thread loop. Each thread owns one engine:
 * its ring (ring.c), its connections (conn.c walks them through their
 * states), its TLS contexts and statistics. The loop: check the end, hand
 * out the open-loop requests that are due, every tick look for timeouts and
 * slots to (re)connect, then submit and sleep for completions and feed them
 * to the connections.
 */
#include "bench/loadgen/engine.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include "bench/loadgen/conn.h"

#define ENGINE_TICK_NS 10000000ull  /* timeout scan and stop-flag poll */
#define ENGINE_BATCH_WAIT_NS 1000000ull /* longest sleep for a batch of completions */
#define ENGINE_BATCH_MAX 64
#define ENGINE_BATCH_PROBE 100
#define ENGINE_MIN_WAIT_US 50
#define ENGINE_CONNECT_BATCH 64 /* connects started per loop turn, so the deadline holds */

uint32_t lg_thread_conns(const struct lg_config *cfg, uint32_t thread)
{
	return cfg->conns / cfg->threads + (thread < cfg->conns % cfg->threads);
}

uint32_t lg_thread_first_conn(const struct lg_config *cfg, uint32_t thread)
{
	uint32_t extra = cfg->conns % cfg->threads;

	return thread * (cfg->conns / cfg->threads) + (thread < extra ? thread : extra);
}

uint32_t lg_conn_target(const struct lg_config *cfg, uint32_t g)
{
	if (cfg->ntargets <= 1)
		return 0;
	if (cfg->thread_per_target)
		return g / (cfg->conns / cfg->ntargets);
	return g % cfg->ntargets;
}

double lg_thread_rate(const struct lg_config *cfg, uint32_t thread)
{
	return cfg->rate * lg_thread_conns(cfg, thread) / cfg->conns;
}

uint64_t lg_thread_sched_start(const struct lg_config *cfg, uint32_t thread, uint64_t start_ns)
{
	uint32_t step = cfg->thread_per_target ? 1 : cfg->ntargets;

	return start_ns + (uint64_t)((double)thread * step * 1e9 / cfg->rate);
}

/*
 * Puts the thread into network namespace fd (-1: loadgen's own) for a
 * socket(). The thread stays there until a socket of another namespace is
 * due (setns costs microseconds: a thread per target enters its target's
 * once) and goes back to its own when it ends. 0 or -errno.
 */
int engine_netns(struct engine *e, int fd)
{
	if (fd == e->netns_cur)
		return 0;
	if (setns(fd >= 0 ? fd : e->cfg->home_netns_fd, CLONE_NEWNET) < 0)
		return -errno;
	e->netns_cur = fd;
	return 0;
}

/* The thread's CPU clock and rusage now. false when either could not be read. */
static bool engine_cpu_now(uint64_t *ns, struct rusage *ru)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0 || getrusage(RUSAGE_THREAD, ru) < 0)
		return false;
	*ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	return true;
}

static double engine_tv_s(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* Counting starts: the CPU time so far is not the measurement's. */
static void engine_cpu_start(struct engine *e)
{
	e->cpu_started = true;
	e->cpu_ok = engine_cpu_now(&e->cpu0_ns, &e->ru0);
}

/* Issuing ended: the CPU time of the measured window. */
static void engine_cpu_stop(struct engine *e)
{
	struct rusage ru1;
	uint64_t ns1;

	if (!e->cpu_started || !e->cpu_ok || !engine_cpu_now(&ns1, &ru1) || ns1 < e->cpu0_ns)
		return;
	e->cpu.ns = ns1 - e->cpu0_ns;
	e->cpu.user_s = engine_tv_s(ru1.ru_utime) - engine_tv_s(e->ru0.ru_utime);
	e->cpu.sys_s = engine_tv_s(ru1.ru_stime) - engine_tv_s(e->ru0.ru_stime);
	e->cpu.valid = true;
}

/*
 * Every tick: timeouts, connections lost for want of an SQE, overdue
 * cancels, reconnects. Starts at most ENGINE_CONNECT_BATCH connects (a
 * connect can cost a millisecond when local ports run short), so opening
 * thousands of connections never holds the loop past the deadline; returns
 * true when slots are left waiting to connect: scan again at once.
 */
static bool engine_scan(struct engine *e, uint64_t now)
{
	uint32_t i, connects = 0;
	bool more = false;

	e->stale = 0;
	for (i = 0; i < e->nconns; i++) {
		struct conn *c = &e->conns[i];

		if (c->state == CS_BUSY && c->outstanding && now - c->sent_at[0] > ENGINE_TICK_NS)
			e->stale += c->outstanding;
		if (c->lost) {
			c->lost = false;
			if (c->state != CS_CLOSING && c->state != CS_CLOSED)
				conn_fail(e, c, LG_ERR_RESET, now);
		}
		if (c->state == CS_CLOSING && c->deadline && now >= c->deadline)
			conn_closing_overdue(e, c, now);
		if (c->deadline && now >= c->deadline &&
		    (c->state == CS_CONNECTING || c->state == CS_HANDSHAKE || c->state == CS_BUSY)) {
			conn_fail(e, c, LG_ERR_TIMEOUT, now);
		}
		if (c->state == CS_CLOSED && now >= c->retry_at && engine_may_connect(e, now)) {
			bool want = e->cfg->mode == LG_KEEPALIVE || e->rate <= 0 ||
				    c->k_sent < c->k_due;

			if (want && connects >= ENGINE_CONNECT_BATCH) {
				more = true;
			} else if (want) {
				conn_connect(e, c, now);
				connects++;
			}
		}
	}
	return more;
}

/*
 * With -d shorter than --timeout no step can time out inside the run: at its
 * end, a connect, handshake or request still waiting after half the measured
 * duration counts as a timeout, so a silent server reads as one.
 */
static void engine_late_timeouts(struct engine *e)
{
	uint64_t timeout_ns = (uint64_t)e->cfg->timeout_ms * 1000000ull;
	uint64_t half = (e->end_ns - e->measure_ns) / 2;
	uint32_t i;

	if (!e->end_ns || timeout_ns <= e->end_ns - e->measure_ns)
		return;
	for (i = 0; i < e->nconns; i++) {
		struct conn *c = &e->conns[i];

		if (c->deadline && c->deadline - timeout_ns + half <= e->end_ns &&
		    (c->state == CS_CONNECTING || c->state == CS_HANDSHAKE || c->state == CS_BUSY))
			CST(e, c)->errors[LG_ERR_TIMEOUT]++;
	}
}

/* Open loop: hand the due requests to their connections. */
static void engine_dispatch(struct engine *e, uint64_t now)
{
	uint32_t ci;
	uint64_t k;

	while (!engine_done_issuing(e, now) && sched_due(&e->sched, now, &ci, &k)) {
		struct conn *c = &e->conns[ci];

		c->k_due = k + 1;
		if (c->state == CS_READY)
			conn_ready(e, c, now);
		else if (c->state == CS_CLOSED && e->cfg->mode != LG_KEEPALIVE && now >= c->retry_at)
			conn_connect(e, c, now);
	}
}

/*
 * How many completions to sleep for (with min_wait the kernel returns
 * anyway once ENGINE_MIN_WAIT_US have passed and any has arrived; without
 * it the sleep is capped at ENGINE_BATCH_WAIT_NS). With DEFER_TASKRUN the
 * kernel does not
 * even wake us before that many have arrived, which saves a wake-up per
 * response for us and an IPI for the server's CPU. Closed keep-alive loop
 * only, and at most half the requests in flight, so the batch always fills
 * from responses already on their way; the open loop and churn wake for every
 * completion (their timing matters more than their CPU).
 */
static unsigned engine_wait_nr(const struct engine *e)
{
	uint64_t n;

	if (!e->cfg->batch || !e->ring.feat.single_issuer || e->rate > 0 ||
	    e->cfg->mode != LG_KEEPALIVE)
		return 1;
	if (e->ring.feat.min_wait) {
		/*
		 * A short batch costs at most ENGINE_MIN_WAIT_US: ask for every
		 * request in flight except those already older than a tick,
		 * which are stuck rather than on their way.
		 */
		n = e->open_outstanding > e->stale ? e->open_outstanding - e->stale : 1;
		return n < 1 ? 1 : n > ENGINE_BATCH_MAX ? ENGINE_BATCH_MAX : (unsigned)n;
	}
	n = e->open_outstanding / 2;
	if (n > e->batch_target)
		n = e->batch_target;
	return n < 1 ? 1 : (unsigned)n;
}

int engine_new(struct engine **ret, const struct lg_config *cfg, uint32_t id, uint32_t conns,
	       double rate, uint64_t quota, atomic_bool *stop)
{
	struct engine *e;
	uint32_t i, t, base;
	int r = -ENOMEM;

	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->cfg = cfg;
	e->id = id;
	e->nconns = conns;
	e->rate = rate;
	e->quota = quota;
	e->stop = stop;
	e->netns_cur = -1;
	e->batch_target = ENGINE_BATCH_MAX;
	e->st = calloc(cfg->ntargets, sizeof(*e->st));
	if (!e->st)
		goto err;
	for (t = 0; t < cfg->ntargets; t++)
		if (lg_stats_init(&e->st[t], cfg->timeline_cap) < 0)
			goto err;
	e->conns = calloc(conns, sizeof(*e->conns));
	if (!e->conns)
		goto err;
	base = lg_thread_first_conn(cfg, id);
	for (i = 0; i < conns; i++) {
		struct conn *c = &e->conns[i];

		c->idx = i;
		c->target = lg_conn_target(cfg, base + i);
		c->fd = -1;
		c->rxbuf = malloc(RING_BUF_SIZE);
		if (!c->rxbuf)
			goto err;
	}
	if (cfg->tls) {
		for (t = 0; t < cfg->ntargets; t++) {
			const struct url *u = &cfg->target[t].url;
			struct in_addr a4;

			r = tlsmem_ctx_init(&e->tls[t], cfg->cafile, cfg->mode == LG_RESUME,
					    cfg->tls_version);
			if (r < 0)
				goto err;
			e->ntls++;
			if (!u->ipv6_literal && inet_pton(AF_INET, u->host, &a4) != 1)
				e->sni[t] = u->host;
		}
		r = -ENOMEM;
		e->ptbuf = malloc(RING_BUF_SIZE);
		if (!e->ptbuf)
			goto err;
		for (i = 0; i < conns; i++) {
			struct conn *c = &e->conns[i];

			c->txbuf = malloc(RING_BUF_SIZE);
			if (!c->txbuf || tlsmem_init(&c->tls, CTLS(e, c)) < 0)
				goto err;
		}
	}
	*ret = e;
	return 0;
err:
	engine_free(e);
	return r;
}

/*
 * Submits, sleeps until wake (or a batch of completions) and hands every
 * completion to its connection. Returns 0, or -errno when the ring failed.
 */
static int engine_reap(struct engine *e, uint64_t wake)
{
	struct io_uring_cqe cqe;
	struct __kernel_timespec ts;
	uint64_t now = lg_now_ns();
	unsigned seen = 0, wait_nr = engine_wait_nr(e);
	int r;

	if (wake <= now)
		wake = now + 1000;
	ts.tv_sec = (long long)((wake - now) / 1000000000ull);
	ts.tv_nsec = (long long)((wake - now) % 1000000000ull);
	if (wait_nr > 1 && !e->ring.feat.min_wait && wake - now > ENGINE_BATCH_WAIT_NS) {
		/* a partial batch must not wait for the next tick */
		ts.tv_sec = 0;
		ts.tv_nsec = ENGINE_BATCH_WAIT_NS;
	}
	r = ring_wait(&e->ring, wait_nr, &ts, ENGINE_MIN_WAIT_US);
	if (r < 0 && r != -ETIME && r != -EINTR && r != -EBUSY && r != -EAGAIN)
		return r;
	now = lg_now_ns();
	while (ring_next(&e->ring, &cqe)) {
		conn_completion(e, &cqe, now);
		if ((++seen & 31) == 0)
			now = lg_now_ns();
	}
	/*
	 * A batch that did not fill in time (slow server, stuck connections)
	 * shrinks the next one to what did come, so connections that answer
	 * are never held back for those that do not; only a long run of full
	 * batches grows it again by one, so probing costs one short wait in
	 * ENGINE_BATCH_PROBE iterations. With min_wait the kernel caps each
	 * sleep: nothing to adapt.
	 */
	if (e->ring.feat.min_wait) {
		return 0;
	} else if (wait_nr > 1 && seen < wait_nr) {
		e->batch_target = seen > 1 ? seen : 1;
		e->batch_streak = 0;
	} else if (e->batch_target < ENGINE_BATCH_MAX && ++e->batch_streak >= ENGINE_BATCH_PROBE) {
		e->batch_target++;
		e->batch_streak = 0;
	}
	return 0;
}

int engine_run(struct engine *e, uint64_t start_ns, uint64_t measure_ns)
{
	const struct lg_config *cfg = e->cfg;
	uint64_t now, wake, next_scan = 0;
	uint32_t i;
	int r;

	r = ring_setup(&e->ring, e->nconns, cfg->multishot && cfg->mode == LG_KEEPALIVE);
	if (r < 0)
		return r;
	e->measure_ns = measure_ns;
	e->end_ns = cfg->duration_s > 0 ? measure_ns + (uint64_t)(cfg->duration_s * 1e9) : 0;
	if (e->rate > 0) {
		if (cfg->arrivals == SCHED_POISSON)
			/* every thread (a target's, with --thread-per-target) a stream of its own */
			r = sched_init_poisson(&e->sched, start_ns, e->rate, e->nconns,
					       cfg->seed * 0x100000001b3ull + e->id);
		else
			r = sched_init(&e->sched, lg_thread_sched_start(cfg, e->id, start_ns),
				       e->rate, e->nconns);
		if (r < 0)
			return r;
	}
	for (;;) {
		now = lg_now_ns();
		if (!e->cpu_started && now >= measure_ns)
			engine_cpu_start(e);
		if (atomic_load_explicit(e->stop, memory_order_relaxed))
			break;
		if (e->end_ns && now >= e->end_ns)
			break;
		if (e->quota && e->issued >= e->quota && !e->open_outstanding && now >= measure_ns)
			break;
		if (e->rate > 0)
			engine_dispatch(e, now);
		if (now >= next_scan)
			next_scan = engine_scan(e, now) ? now : now + ENGINE_TICK_NS;
		wake = next_scan;
		if (e->rate > 0 && sched_next_time(&e->sched) < wake)
			wake = sched_next_time(&e->sched);
		if (e->end_ns && e->end_ns < wake)
			wake = e->end_ns;
		if (!e->cpu_started && measure_ns < wake)
			wake = measure_ns; /* the CPU clock is read when counting starts */
		r = engine_reap(e, wake);
		if (r < 0) {
			snprintf(e->st[0].sys_err, sizeof(e->st[0].sys_err), "io_uring: %s",
				 strerror(-r));
			break;
		}
	}
	engine_cpu_stop(e);
	r = engine_netns(e, -1);
	if (r < 0 && !e->st[0].sys_err[0])
		snprintf(e->st[0].sys_err, sizeof(e->st[0].sys_err),
			 "setns to its own namespace: %s", strerror(-r));
	now = lg_now_ns();
	if (e->end_ns && now >= e->end_ns) {
		now = e->end_ns;
		engine_late_timeouts(e);
	}
	for (i = 0; i < cfg->ntargets; i++) {
		struct lg_stats *s = &e->st[i];

		s->end_ns = now;
		if (!s->tls_err[0] && i < e->ntls && e->tls[i].err[0])
			memcpy(s->tls_err, e->tls[i].err, sizeof(s->tls_err));
	}
	return 0;
}

struct lg_stats *engine_stats(struct engine *e, uint32_t t)
{
	return &e->st[t];
}

const struct lg_features *engine_features(const struct engine *e)
{
	return &e->ring.feat;
}

const struct lg_thread_cpu *engine_cpu(const struct engine *e)
{
	return &e->cpu;
}

void engine_free(struct engine *e)
{
	uint32_t i;

	if (!e)
		return;
	ring_free(&e->ring); /* cancels whatever is still in flight */
	sched_free(&e->sched);
	for (i = 0; e->conns && i < e->nconns; i++) {
		struct conn *c = &e->conns[i];

		if (c->fd >= 0)
			close(c->fd);
		if (c->tls.ssl)
			tlsmem_free(&c->tls);
		free(c->txbuf);
		free(c->rxbuf);
	}
	free(e->conns);
	free(e->ptbuf);
	for (i = 0; i < e->ntls; i++)
		tlsmem_ctx_free(&e->tls[i]);
	for (i = 0; e->st && i < e->cfg->ntargets; i++)
		lg_stats_free(&e->st[i]);
	free(e->st);
	free(e);
}
