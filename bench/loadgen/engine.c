/*
 * Description: the per-thread io_uring engine. Each connection slot walks
 * CLOSED -> CONNECTING -> HANDSHAKE (TLS) -> READY <-> BUSY, and through
 * CLOSING back to CLOSED after an error or, with --close/--resume, after
 * every response. A slot is reused only when none of its operations is in
 * flight, so a completion can never reach the wrong connection.
 *
 * Keep-alive connections keep one multishot recv armed on a provided buffer
 * ring: a request costs one send SQE and one CQE per arriving segment. Churn
 * connections use single-shot recvs into the slot's own buffer, so nothing
 * is left armed when the socket is closed right after the response.
 */
#include "bench/loadgen/engine.h"

#include <errno.h>
#include <liburing.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bench/loadgen/resp.h"
#include "bench/loadgen/sched.h"
#include "bench/loadgen/tlsmem.h"

#define ENGINE_BUF_SIZE 16384
#define ENGINE_TICK_NS 10000000ull  /* timeout scan and stop-flag poll */
#define ENGINE_RETRY_NS 10000000ull /* after a refused connect */
#define ENGINE_BGID 7
#define ENGINE_BATCH_WAIT_NS 1000000ull /* longest sleep for a batch of completions */
#define ENGINE_BATCH_MAX 64
#define ENGINE_BATCH_PROBE 100
#define ENGINE_MIN_WAIT_US 50
#define ENGINE_CONNECT_BATCH 64 /* connects started per loop turn, so the deadline holds */

enum conn_state { CS_CLOSED, CS_CONNECTING, CS_HANDSHAKE, CS_READY, CS_BUSY, CS_CLOSING };
enum op { OP_CONNECT = 1, OP_SEND, OP_RECV, OP_CANCEL };

struct conn {
	uint32_t idx;
	uint32_t target;       /* index into cfg->target and the engine's per-target state */
	int fd;
	enum conn_state state;
	uint8_t inflight;      /* connect/send/recv operations not yet completed */
	bool recv_armed;
	bool send_busy;
	bool counted;          /* the connection's start is inside the measurement */
	bool attempt;          /* keep-alive: connecting or in the handshake, not yet ready */
	bool req_unsent;       /* the current request: no byte of it has left yet */
	bool tx_req;           /* the pending send carries bytes of that request */
	uint32_t outstanding;  /* requests sent, responses not yet complete */
	uint64_t deadline;     /* timeout for the current step; 0 none */
	uint64_t retry_at;     /* CLOSED: do not reconnect before */
	uint64_t t_connect, t_handshake;
	uint64_t sent_at[LG_PIPELINE_MAX];  /* actual send times */
	uint64_t sched_at[LG_PIPELINE_MAX]; /* scheduled times (open loop) */
	uint32_t resp_idx;     /* which of the pipelined requests is being parsed */
	uint64_t k_due, k_sent; /* open loop: requests due / sent on this slot */
	struct resp resp;
	struct tlsmem tls;
	const char *tx;        /* what the pending send transmits */
	uint32_t tx_len, tx_off;
	char *txbuf;           /* TLS ciphertext to send */
	char *rxbuf;           /* single-shot recv target */
};

struct engine {
	const struct lg_config *cfg;
	uint32_t id;
	uint32_t nconns;
	struct conn *conns;
	struct io_uring ring;
	bool ring_ok;
	struct io_uring_buf_ring *br;
	size_t br_size;
	char *bufs;
	uint32_t nbufs;
	bool use_bufring;
	struct tlsmem_ctx tls[LG_TARGETS_MAX]; /* per target: a session ticket is one server's */
	uint32_t ntls;           /* contexts initialised */
	const char *sni[LG_TARGETS_MAX];
	char *ptbuf;           /* TLS plaintext scratch, shared by the thread's connections */
	double rate;
	struct sched sched;
	uint64_t quota, issued; /* -n share; requests issued inside the measurement */
	uint64_t attempts;       /* keep-alive connections with attempt set */
	uint64_t measure_ns, end_ns;
	uint64_t open_outstanding;
	uint32_t batch_target;   /* completions worth sleeping for, adapted */
	uint32_t batch_streak;   /* full batches in a row */
	bool min_wait;           /* the kernel has IORING_FEAT_MIN_TIMEOUT */
	uint64_t stale;          /* requests in flight for more than a tick (at the last scan) */
	atomic_bool *stop;
	struct lg_stats *st;     /* per target */
	struct lg_features feat;
};

/* The statistics, target and TLS context of connection c. */
#define CST(e, c) (&(e)->st[(c)->target])
#define CTG(e, c) (&(e)->cfg->target[(c)->target])
#define CTLS(e, c) (&(e)->tls[(c)->target])

uint64_t lg_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

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
	return cfg->ntargets > 1 ? g % cfg->ntargets : 0;
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

/* --- submission helpers -------------------------------------------------- */

static struct io_uring_sqe *engine_sqe(struct engine *e)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&e->ring);

	if (!sqe) {
		/* SQ full: push what we have, the ring then has room again */
		io_uring_submit(&e->ring);
		sqe = io_uring_get_sqe(&e->ring);
	}
	return sqe; /* cannot be NULL after a submit of a full SQ */
}

static uint64_t engine_ud(const struct conn *c, enum op op)
{
	return (uint64_t)c->idx << 8 | (uint64_t)op;
}

static void conn_arm_recv(struct engine *e, struct conn *c)
{
	struct io_uring_sqe *sqe = engine_sqe(e);

	if (e->use_bufring && e->cfg->mode == LG_KEEPALIVE) {
		io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = ENGINE_BGID;
	} else {
		io_uring_prep_recv(sqe, c->fd, c->rxbuf, ENGINE_BUF_SIZE, 0);
	}
	io_uring_sqe_set_data64(sqe, engine_ud(c, OP_RECV));
	c->recv_armed = true;
	c->inflight++;
}

static void conn_send(struct engine *e, struct conn *c)
{
	struct io_uring_sqe *sqe = engine_sqe(e);

	io_uring_prep_send(sqe, c->fd, c->tx + c->tx_off, c->tx_len - c->tx_off, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, engine_ud(c, OP_SEND));
	c->tx_req = c->req_unsent; /* TLS: the record follows whatever the BIO held before it */
	c->send_busy = true;
	c->inflight++;
}

/* TLS: send whatever ciphertext OpenSSL produced, if no send is in flight. */
static void conn_flush(struct engine *e, struct conn *c)
{
	size_t n;

	if (c->send_busy || c->state == CS_CLOSING)
		return;
	n = tlsmem_take(&c->tls, c->txbuf, ENGINE_BUF_SIZE);
	if (!n)
		return;
	c->tx = c->txbuf;
	c->tx_len = (uint32_t)n;
	c->tx_off = 0;
	conn_send(e, c);
}

/* --- connection life ----------------------------------------------------- */

static bool engine_measuring(const struct engine *e, uint64_t t)
{
	return t >= e->measure_ns && (!e->end_ns || t < e->end_ns);
}

static void engine_note(char *dst, size_t size, const char *what, int err)
{
	if (!dst[0])
		snprintf(dst, size, "%s: %s", what, strerror(err));
}

static void conn_count_error(struct engine *e, struct conn *c, enum lg_err kind, uint64_t now)
{
	if (kind < LG_ERR_COUNT && engine_measuring(e, now))
		CST(e, c)->errors[kind]++;
}

/* Forgets the requests in flight on c (they failed or the run ends). */
static void conn_drop_requests(struct engine *e, struct conn *c)
{
	e->open_outstanding -= c->outstanding;
	c->outstanding = 0;
}

static bool engine_done_issuing(const struct engine *e, uint64_t now);
static bool engine_may_connect(const struct engine *e, uint64_t now);
static void conn_connect(struct engine *e, struct conn *c, uint64_t now);

/*
 * A keep-alive connection attempt ends: the connection is ready, or it
 * failed before it could carry a request. A failed attempt counts toward -n
 * like a failed request, so a run against a server nobody reaches (refused,
 * never accepted, no TLS) still ends.
 */
static void conn_attempt_end(struct engine *e, struct conn *c, bool failed, uint64_t now)
{
	if (!c->attempt)
		return;
	c->attempt = false;
	e->attempts--;
	if (failed && now >= e->measure_ns)
		e->issued++;
}

/* The slot is free again: reconnect at once when there is work for it. */
static void conn_finish_close(struct engine *e, struct conn *c, uint64_t now)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->state = CS_CLOSED;
	c->deadline = 0;
	c->recv_armed = false;
	c->send_busy = false;
	conn_attempt_end(e, c, false, now);
	if (now < c->retry_at || !engine_may_connect(e, now))
		return;
	if (e->cfg->mode == LG_KEEPALIVE || e->rate <= 0 || c->k_sent < c->k_due)
		conn_connect(e, c, now);
}

/*
 * Closes c. With operations in flight they are cancelled first and the slot
 * waits in CLOSING until their completions arrive.
 */
static void conn_close(struct engine *e, struct conn *c, uint64_t now)
{
	conn_drop_requests(e, c);
	if (c->state == CS_CLOSING || c->state == CS_CLOSED)
		return;
	if (c->inflight) {
		struct io_uring_sqe *sqe = engine_sqe(e);

		io_uring_prep_cancel_fd(sqe, c->fd, IORING_ASYNC_CANCEL_ALL);
		io_uring_sqe_set_data64(sqe, engine_ud(c, OP_CANCEL));
		c->state = CS_CLOSING;
		c->deadline = 0;
		return;
	}
	conn_finish_close(e, c, now);
}

static void conn_fail(struct engine *e, struct conn *c, enum lg_err kind, uint64_t now)
{
	conn_count_error(e, c, kind, now);
	conn_attempt_end(e, c, true, now);
	if (kind == LG_ERR_CONNECT)
		c->retry_at = now + ENGINE_RETRY_NS;
	conn_close(e, c, now);
}

static bool engine_done_issuing(const struct engine *e, uint64_t now)
{
	if (e->end_ns && now >= e->end_ns)
		return true;
	return e->quota && now >= e->measure_ns && e->issued >= e->quota;
}

/*
 * May a closed slot connect (again)? Not once issuing is done; with -n
 * and keep-alive, not while the attempts under way could fill the quota
 * themselves (each ends in requests or counts as one failed), so failed
 * attempts end the run after exactly the quota.
 */
static bool engine_may_connect(const struct engine *e, uint64_t now)
{
	if (engine_done_issuing(e, now))
		return false;
	return !(e->quota && e->cfg->mode == LG_KEEPALIVE && now >= e->measure_ns &&
		 e->issued + e->attempts >= e->quota);
}

static void conn_connect(struct engine *e, struct conn *c, uint64_t now)
{
	const struct lg_target *tg = CTG(e, c);
	struct io_uring_sqe *sqe;
	int one = 1;

	c->fd = socket(tg->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
	if (c->fd < 0) {
		engine_note(CST(e, c)->sys_err, sizeof(CST(e, c)->sys_err), "socket", errno);
		conn_count_error(e, c, LG_ERR_CONNECT, now);
		c->retry_at = now + ENGINE_RETRY_NS;
		if (now >= e->measure_ns)
			e->issued++; /* a failed attempt, as below */
		return;
	}
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	sqe = engine_sqe(e);
	io_uring_prep_connect(sqe, c->fd, (const struct sockaddr *)&tg->addr, tg->addrlen);
	io_uring_sqe_set_data64(sqe, engine_ud(c, OP_CONNECT));
	c->inflight++;
	c->state = CS_CONNECTING;
	c->t_connect = now;
	c->counted = engine_measuring(e, now);
	c->deadline = now + (uint64_t)e->cfg->timeout_ms * 1000000ull;
	c->recv_armed = false;
	c->send_busy = false;
	c->req_unsent = false;
	c->outstanding = 0;
	if (e->cfg->mode == LG_KEEPALIVE && !c->attempt) {
		c->attempt = true;
		e->attempts++;
	}
	if (e->cfg->mode != LG_KEEPALIVE) {
		/*
		 * A churn connection exists for one request: count it as issued
		 * now, so that -n N opens exactly N connections and the run does
		 * not end while one is still connecting.
		 */
		if (now >= e->measure_ns)
			e->issued++;
		c->outstanding = 1;
		e->open_outstanding++;
	}
}

/* Sends the next request (or pipelined batch) on a READY connection. */
static void conn_request(struct engine *e, struct conn *c, uint64_t now, uint64_t sched_at)
{
	const struct lg_target *tg = CTG(e, c);
	uint32_t n = e->cfg->pipeline, i;

	if (e->cfg->mode == LG_KEEPALIVE) {
		if (now >= e->measure_ns)
			e->issued += n;
		e->open_outstanding += n;
	}
	for (i = 0; i < n; i++) {
		c->sent_at[i] = now;
		c->sched_at[i] = sched_at ? sched_at : now;
	}
	c->outstanding = n;
	c->resp_idx = 0;
	c->req_unsent = true;
	resp_init(&c->resp, false);
	c->state = CS_BUSY;
	c->deadline = now + (uint64_t)e->cfg->timeout_ms * 1000000ull;
	if (e->cfg->tls) {
		if (tlsmem_write(&c->tls, CTLS(e, c), tg->request, tg->request_len * n) < 0) {
			conn_fail(e, c, LG_ERR_TLS, now);
			return;
		}
		conn_flush(e, c);
	} else {
		c->tx = tg->request;
		c->tx_len = (uint32_t)(tg->request_len * n);
		c->tx_off = 0;
		conn_send(e, c);
	}
}

/* The connection has nothing outstanding: send now, later, or not at all. */
static void conn_ready(struct engine *e, struct conn *c, uint64_t now)
{
	conn_attempt_end(e, c, false, now);
	c->state = CS_READY;
	c->deadline = 0;
	/* a churn connection's request was counted when it connected */
	if (e->cfg->mode == LG_KEEPALIVE && engine_done_issuing(e, now))
		return;
	if (e->rate > 0) {
		if (c->k_sent < c->k_due) {
			uint64_t at = sched_conn_time(&e->sched, c->idx, c->k_sent);

			c->k_sent++;
			conn_request(e, c, now, at);
		}
		return;
	}
	conn_request(e, c, now, 0);
}

static void conn_established(struct engine *e, struct conn *c, uint64_t now)
{
	if (c->counted)
		CST(e, c)->conns_opened++;
	if (e->cfg->tls) {
		int r;

		if (tlsmem_start(&c->tls, CTLS(e, c), e->sni[c->target]) < 0) {
			conn_fail(e, c, LG_ERR_TLS, now);
			return;
		}
		c->state = CS_HANDSHAKE;
		c->t_handshake = now;
		r = tlsmem_handshake(&c->tls, CTLS(e, c));
		if (r < 0) {
			conn_fail(e, c, LG_ERR_TLS, now);
			return;
		}
		conn_arm_recv(e, c);
		conn_flush(e, c);
		return;
	}
	conn_arm_recv(e, c);
	conn_ready(e, c, now);
}

/* A complete response to the request at resp_idx. */
static void conn_response(struct engine *e, struct conn *c, uint64_t now)
{
	struct lg_stats *s = CST(e, c);
	uint32_t i = c->resp_idx;
	int st = c->resp.status;

	if (engine_measuring(e, now) && c->sent_at[i] >= e->measure_ns &&
	    c->sched_at[i] >= e->measure_ns) {
		s->requests++;
		hist_record(&s->latency, now - c->sched_at[i]);
		if (e->rate > 0)
			hist_record(&s->uncorrected, now - c->sent_at[i]);
		if (st >= 0 && st < LG_STATUS_MAX)
			s->status[st]++;
		if (st < 200 || st > 299)
			s->errors[LG_ERR_STATUS]++;
		if (s->timeline) {
			uint64_t sec = (now - e->measure_ns) / 1000000000ull;

			if (sec < e->cfg->timeline_cap)
				s->timeline[sec]++;
		}
	}
	c->outstanding--;
	e->open_outstanding--;
	c->resp_idx++;
	resp_init(&c->resp, false);
}

/* Plaintext bytes of the response stream. Returns 0, or -1 when c was closed. */
static int conn_consume(struct engine *e, struct conn *c, const char *p, size_t len, uint64_t now)
{
	if (engine_measuring(e, now))
		CST(e, c)->bytes += len;
	while (len) {
		ssize_t r;

		if (c->state != CS_BUSY || !c->outstanding || c->req_unsent) {
			/* bytes nobody asked for (yet): never a response */
			conn_fail(e, c, LG_ERR_UNSOLICITED, now);
			return -1;
		}
		r = resp_parse(&c->resp, p, len);
		if (r == RESP_INCOMPLETE)
			return 0;
		if (r < 0) {
			conn_fail(e, c, LG_ERR_PARSE, now);
			return -1;
		}
		{
			bool close_after = c->resp.conn_close || e->cfg->mode != LG_KEEPALIVE;

			conn_response(e, c, now);
			p += r;
			len -= (size_t)r;
			if (close_after) {
				/* anything after a "close" response is ignored */
				conn_close(e, c, now);
				return -1;
			}
		}
		if (!c->outstanding) {
			if (len) {
				conn_fail(e, c, LG_ERR_UNSOLICITED, now);
				return -1;
			}
			conn_ready(e, c, now);
			return 0;
		}
	}
	return 0;
}

/* Ciphertext arrived. Returns 0, or -1 when c was closed. */
static int conn_tls_input(struct engine *e, struct conn *c, const char *p, size_t len, uint64_t now)
{
	if (tlsmem_feed(&c->tls, p, len) < 0) {
		conn_fail(e, c, LG_ERR_TLS, now);
		return -1;
	}
	if (c->state == CS_HANDSHAKE) {
		int r = tlsmem_handshake(&c->tls, CTLS(e, c));

		if (r < 0) {
			conn_flush(e, c); /* the alert, if any */
			conn_fail(e, c, LG_ERR_TLS, now);
			return -1;
		}
		if (r == TLSMEM_RETRY) {
			conn_flush(e, c);
			return 0;
		}
		if (c->counted && engine_measuring(e, now)) {
			hist_record(&CST(e, c)->handshake, now - c->t_handshake);
			if (tlsmem_resumed(&c->tls))
				CST(e, c)->hs_resumed++;
			else
				CST(e, c)->hs_full++;
		}
		/*
		 * The client Finished is still in the BIO: the request joins it
		 * in one send (one packet, one wake-up of the server less).
		 */
		conn_ready(e, c, now);
		if (c->state != CS_BUSY && c->state != CS_READY)
			return -1;
		conn_flush(e, c);
	}
	for (;;) {
		int n = tlsmem_read(&c->tls, CTLS(e, c), e->ptbuf, ENGINE_BUF_SIZE);

		if (n == 0)
			break;
		if (n == -ECONNRESET) {
			/* close_notify: like EOF */
			if (c->outstanding && resp_eof(&c->resp) == 0) {
				conn_response(e, c, now);
				conn_close(e, c, now);
			} else {
				conn_fail(e, c, c->outstanding ? LG_ERR_RESET : LG_ERR_COUNT, now);
			}
			return -1;
		}
		if (n < 0) {
			conn_fail(e, c, LG_ERR_TLS, now);
			return -1;
		}
		if (conn_consume(e, c, e->ptbuf, (size_t)n, now) < 0)
			return -1;
	}
	conn_flush(e, c); /* e.g. a key update reply */
	return 0;
}

/* --- completions --------------------------------------------------------- */

static void engine_give_back(struct engine *e, unsigned bid)
{
	io_uring_buf_ring_add(e->br, e->bufs + (size_t)bid * ENGINE_BUF_SIZE, ENGINE_BUF_SIZE,
			      (unsigned short)bid, io_uring_buf_ring_mask(e->nbufs), 0);
	io_uring_buf_ring_advance(e->br, 1);
}

static void on_connect(struct engine *e, struct conn *c, int res, uint64_t now)
{
	c->inflight--;
	if (c->state == CS_CLOSING) {
		if (!c->inflight)
			conn_finish_close(e, c, now);
		return;
	}
	if (res < 0) {
		engine_note(CST(e, c)->sys_err, sizeof(CST(e, c)->sys_err), "connect", -res);
		conn_fail(e, c, LG_ERR_CONNECT, now);
		return;
	}
	if (c->counted && engine_measuring(e, now))
		hist_record(&CST(e, c)->connect, now - c->t_connect);
	conn_established(e, c, now);
}

static void on_send(struct engine *e, struct conn *c, int res, uint64_t now)
{
	c->inflight--;
	c->send_busy = false;
	if (c->state == CS_CLOSING) {
		if (!c->inflight)
			conn_finish_close(e, c, now);
		return;
	}
	if (res <= 0) {
		if (res == 0)
			res = -ECONNRESET; /* nothing sent: the peer is gone */
		engine_note(CST(e, c)->sys_err, sizeof(CST(e, c)->sys_err), "send", -res);
		conn_fail(e, c, c->state == CS_HANDSHAKE ? LG_ERR_TLS : LG_ERR_RESET, now);
		return;
	}
	if (c->tx_req)
		c->req_unsent = false;
	c->tx_off += (uint32_t)res;
	if (c->tx_off < c->tx_len) {
		conn_send(e, c);
		return;
	}
	if (e->cfg->tls)
		conn_flush(e, c);
}

static void on_recv(struct engine *e, struct conn *c, struct io_uring_cqe *cqe, uint64_t now)
{
	int res = cqe->res;
	bool more = cqe->flags & IORING_CQE_F_MORE;
	const char *data = c->rxbuf;
	int bid = -1;
	int r = 0;

	if (cqe->flags & IORING_CQE_F_BUFFER) {
		bid = (int)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		data = e->bufs + (size_t)bid * ENGINE_BUF_SIZE;
	}
	if (!more) {
		c->inflight--;
		c->recv_armed = false;
	}
	if (c->state == CS_CLOSING) {
		if (bid >= 0)
			engine_give_back(e, (unsigned)bid);
		if (!c->inflight)
			conn_finish_close(e, c, now);
		return;
	}
	if (res == -ENOBUFS) {
		/* the buffer ring ran dry for a moment; arm again */
		if (!c->recv_armed)
			conn_arm_recv(e, c);
		return;
	}
	if (res == -EINVAL && e->use_bufring) {
		/* kernel without multishot recv: single-shot from now on */
		e->use_bufring = false;
		e->feat.multishot = false;
		if (!c->recv_armed)
			conn_arm_recv(e, c);
		return;
	}
	if (res < 0) {
		engine_note(CST(e, c)->sys_err, sizeof(CST(e, c)->sys_err), "recv", -res);
		conn_fail(e, c, c->state == CS_HANDSHAKE ? LG_ERR_TLS : LG_ERR_RESET, now);
		return;
	}
	if (res == 0) {
		/* peer closed */
		if (c->state == CS_HANDSHAKE) {
			conn_fail(e, c, LG_ERR_TLS, now);
		} else if (c->outstanding && resp_eof(&c->resp) == 0) {
			conn_response(e, c, now);
			conn_close(e, c, now);
		} else {
			conn_fail(e, c, c->outstanding ? LG_ERR_RESET : LG_ERR_COUNT, now);
		}
		return;
	}
	if (e->cfg->tls)
		r = conn_tls_input(e, c, data, (size_t)res, now);
	else
		r = conn_consume(e, c, data, (size_t)res, now);
	if (bid >= 0)
		engine_give_back(e, (unsigned)bid);
	if (r == 0 && !c->recv_armed && c->fd >= 0 && c->state != CS_CLOSING &&
	    c->state != CS_CLOSED)
		conn_arm_recv(e, c);
}

static void engine_cqe(struct engine *e, struct io_uring_cqe *cqe, uint64_t now)
{
	uint64_t ud = io_uring_cqe_get_data64(cqe);
	enum op op = (enum op)(ud & 0xff);
	struct conn *c;

	if (op == OP_CANCEL || (ud >> 8) >= e->nconns)
		return;
	c = &e->conns[ud >> 8];
	switch (op) {
	case OP_CONNECT:
		on_connect(e, c, cqe->res, now);
		break;
	case OP_SEND:
		on_send(e, c, cqe->res, now);
		break;
	case OP_RECV:
		on_recv(e, c, cqe, now);
		break;
	default:
		break;
	}
}

/*
 * Every tick: timeouts and reconnects. Starts at most ENGINE_CONNECT_BATCH
 * connects (a connect can cost a millisecond when local ports run short), so
 * opening thousands of connections never holds the loop past the deadline;
 * returns true when slots are left waiting to connect: scan again at once.
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

	if (!e->cfg->batch || !e->feat.single_issuer || e->rate > 0 ||
	    e->cfg->mode != LG_KEEPALIVE)
		return 1;
	if (e->min_wait) {
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

#ifndef IORING_FEAT_MIN_TIMEOUT
#define IORING_FEAT_MIN_TIMEOUT (1U << 15) /* Linux 6.12; newer than liburing 2.3 */
#endif

/*
 * Submits and waits like io_uring_submit_and_wait_timeout, with the kernel's
 * min_wait (Linux 6.12+): sleep for up to wait_nr completions, but once
 * min_wait_us have passed return as soon as there is any. liburing 2.3 does
 * not know the field (it calls it pad), so this enters the ring itself: the
 * SQ tail is published exactly as liburing does it.
 */
static int engine_enter_min_wait(struct engine *e, unsigned wait_nr,
				 struct __kernel_timespec *ts, unsigned min_wait_us)
{
	struct io_uring *ring = &e->ring;
	struct io_uring_getevents_arg arg;
	unsigned tail = ring->sq.sqe_tail, to_submit, flags;
	int fd = ring->ring_fd, r;

	if (ring->sq.sqe_head != tail) {
		ring->sq.sqe_head = tail;
		io_uring_smp_store_release(ring->sq.ktail, tail);
	}
	to_submit = tail - io_uring_smp_load_acquire(ring->sq.khead);
	memset(&arg, 0, sizeof(arg));
	arg.sigmask_sz = _NSIG / 8;
	arg.pad = min_wait_us; /* min_wait_usec since Linux 6.12 */
	arg.ts = (uint64_t)(uintptr_t)ts;
	flags = IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG;
	if (e->feat.ring_fd_registered) {
		flags |= IORING_ENTER_REGISTERED_RING;
		fd = ring->enter_ring_fd;
	}
	r = (int)syscall(__NR_io_uring_enter, fd, to_submit, wait_nr, flags, &arg, sizeof(arg));
	return r < 0 ? -errno : r;
}

/* --- set-up -------------------------------------------------------------- */

static int engine_ring(struct engine *e)
{
	struct io_uring_params p;
	unsigned entries = 256, cq;
	int r;

	while (entries < e->nconns * 2 && entries < 4096)
		entries <<= 1;
	cq = entries * 4;
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL |
		  IORING_SETUP_CQSIZE;
	p.cq_entries = cq;
	r = io_uring_queue_init_params(entries, &e->ring, &p);
	if (r == 0) {
		e->feat.single_issuer = true;
	} else if (r == -EINVAL) {
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE;
		p.cq_entries = cq;
		r = io_uring_queue_init_params(entries, &e->ring, &p);
		if (r == 0) {
			e->feat.coop_taskrun = true;
		} else if (r == -EINVAL) {
			memset(&p, 0, sizeof(p));
			r = io_uring_queue_init_params(entries, &e->ring, &p);
		}
	}
	if (r < 0)
		return r;
	e->ring_ok = true;
	e->feat.ring_fd_registered = io_uring_register_ring_fd(&e->ring) == 1;
	e->min_wait = e->feat.single_issuer && (p.features & IORING_FEAT_MIN_TIMEOUT) &&
		      (p.features & IORING_FEAT_EXT_ARG);
	e->feat.min_wait = e->min_wait;

	if (!e->cfg->multishot || e->cfg->mode != LG_KEEPALIVE)
		return 0;
	/* provided buffer ring: liburing 2.3 has no io_uring_setup_buf_ring */
	e->nbufs = 64;
	while (e->nbufs < e->nconns * 2 && e->nbufs < 4096)
		e->nbufs <<= 1;
	e->br_size = (size_t)e->nbufs * sizeof(struct io_uring_buf);
	e->br = mmap(NULL, e->br_size, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (e->br == MAP_FAILED) {
		e->br = NULL;
		return 0;
	}
	e->bufs = malloc((size_t)e->nbufs * ENGINE_BUF_SIZE);
	if (e->bufs) {
		struct io_uring_buf_reg reg;
		uint32_t i;

		memset(&reg, 0, sizeof(reg));
		reg.ring_addr = (unsigned long)e->br;
		reg.ring_entries = e->nbufs;
		reg.bgid = ENGINE_BGID;
		if (io_uring_register_buf_ring(&e->ring, &reg, 0) == 0) {
			io_uring_buf_ring_init(e->br);
			for (i = 0; i < e->nbufs; i++)
				io_uring_buf_ring_add(e->br, e->bufs + (size_t)i * ENGINE_BUF_SIZE,
						      ENGINE_BUF_SIZE, (unsigned short)i,
						      io_uring_buf_ring_mask(e->nbufs), (int)i);
			io_uring_buf_ring_advance(e->br, (int)e->nbufs);
			e->use_bufring = true;
			e->feat.buf_ring = true;
			e->feat.multishot = true;
			return 0;
		}
	}
	free(e->bufs);
	e->bufs = NULL;
	munmap(e->br, e->br_size);
	e->br = NULL;
	return 0;
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
		c->rxbuf = malloc(ENGINE_BUF_SIZE);
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
		e->ptbuf = malloc(ENGINE_BUF_SIZE);
		if (!e->ptbuf)
			goto err;
		for (i = 0; i < conns; i++) {
			struct conn *c = &e->conns[i];

			c->txbuf = malloc(ENGINE_BUF_SIZE);
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

int engine_run(struct engine *e, uint64_t start_ns, uint64_t measure_ns)
{
	const struct lg_config *cfg = e->cfg;
	uint64_t now, next_scan = 0;
	uint32_t i;
	int r;

	r = engine_ring(e);
	if (r < 0)
		return r;
	e->measure_ns = measure_ns;
	e->end_ns = cfg->duration_s > 0 ? measure_ns + (uint64_t)(cfg->duration_s * 1e9) : 0;
	if (e->rate > 0) {
		/* stagger the threads' schedules by one request interval each */
		double per = 1e9 / (e->rate * cfg->threads);

		sched_init(&e->sched, start_ns + (uint64_t)(per * e->id), e->rate, e->nconns);
	}
	for (;;) {
		struct io_uring_cqe *cqe;
		struct __kernel_timespec ts;
		uint64_t wake;
		unsigned head, seen = 0, wait_nr;

		now = lg_now_ns();
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
		now = lg_now_ns();
		if (wake <= now)
			wake = now + 1000;
		ts.tv_sec = (long long)((wake - now) / 1000000000ull);
		ts.tv_nsec = (long long)((wake - now) % 1000000000ull);
		wait_nr = engine_wait_nr(e);
		if (wait_nr > 1 && !e->min_wait && wake - now > ENGINE_BATCH_WAIT_NS) {
			/* a partial batch must not wait for the next tick */
			ts.tv_sec = 0;
			ts.tv_nsec = ENGINE_BATCH_WAIT_NS;
		}
		if (e->min_wait && wait_nr > 1) {
			r = engine_enter_min_wait(e, wait_nr, &ts, ENGINE_MIN_WAIT_US);
		} else {
			r = io_uring_submit_and_wait_timeout(&e->ring, &cqe, wait_nr, &ts, NULL);
		}
		if (r < 0 && r != -ETIME && r != -EINTR && r != -EBUSY && r != -EAGAIN) {
			engine_note(e->st[0].sys_err, sizeof(e->st[0].sys_err), "io_uring", -r);
			break;
		}
		now = lg_now_ns();
		io_uring_for_each_cqe(&e->ring, head, cqe) {
			engine_cqe(e, cqe, now);
			seen++;
			if ((seen & 31) == 0)
				now = lg_now_ns();
		}
		io_uring_cq_advance(&e->ring, seen);
		/*
		 * A batch that did not fill in time (slow server, stuck
		 * connections) shrinks the next one to what did come, so
		 * connections that answer are never held back for those that do
		 * not; only a long run of full batches grows it again by one, so
		 * probing costs one short wait in ENGINE_BATCH_PROBE iterations.
		 */
		if (e->min_wait) {
			/* the kernel caps each sleep; nothing to adapt */
		} else if (wait_nr > 1 && seen < wait_nr) {
			e->batch_target = seen > 1 ? seen : 1;
			e->batch_streak = 0;
		} else if (e->batch_target < ENGINE_BATCH_MAX &&
			   ++e->batch_streak >= ENGINE_BATCH_PROBE) {
			e->batch_target++;
			e->batch_streak = 0;
		}
	}
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
	return &e->feat;
}

void engine_free(struct engine *e)
{
	uint32_t i;

	if (!e)
		return;
	if (e->ring_ok)
		io_uring_queue_exit(&e->ring); /* cancels whatever is still in flight */
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
	free(e->bufs);
	if (e->br)
		munmap(e->br, e->br_size);
	for (i = 0; i < e->ntls; i++)
		tlsmem_ctx_free(&e->tls[i]);
	for (i = 0; e->st && i < e->cfg->ntargets; i++)
		lg_stats_free(&e->st[i]);
	free(e->st);
	free(e);
}
