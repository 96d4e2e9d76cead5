/*
 * Description: the connection state machine of the load engine (conn.h has
 * the states). Every function here runs on one completion or one tick:
 * submit what the connection needs next, count what it measured, close it
 * on an error. An operation that finds no SQE is never submitted half-way:
 * a connect is counted as failed and retried, anything else marks the
 * connection lost and the next tick fails it; a cancel that fails or finds
 * no SQE shuts the socket down, so what was in flight completes and the slot
 * leaves CLOSING.
 *
 * Keep-alive connections keep one multishot recv armed on a provided buffer
 * ring: a request costs one send SQE and one CQE per arriving segment. Churn
 * connections use single-shot recvs into the slot's own buffer, so nothing
 * is left armed when the socket is closed right after the response.
 */
#include "bench/loadgen/conn.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum op { OP_CONNECT = 1, OP_SEND, OP_RECV, OP_CANCEL };

/* --- submission ---------------------------------------------------------- */

static void engine_note(char *dst, size_t size, const char *what, int err)
{
	if (!dst[0])
		snprintf(dst, size, "%s: %s", what, strerror(err));
}

static uint64_t conn_ud(const struct conn *c, enum op op)
{
	return (uint64_t)c->idx << 8 | (uint64_t)op;
}

/*
 * An SQE for an operation of c, or NULL: the ring had no room and could
 * make none. The connection cannot go on then; it is failed at the next tick
 * rather than here, so no caller finds it closed under its feet.
 */
static struct io_uring_sqe *conn_sqe(struct engine *e, struct conn *c)
{
	struct io_uring_sqe *sqe = ring_sqe(&e->ring);
	int err = e->ring.submit_err ? -e->ring.submit_err : EBUSY;

	if (!sqe) {
		engine_note(CST(e, c)->sys_err, sizeof(CST(e, c)->sys_err), "io_uring_submit", err);
		c->lost = true;
	}
	return sqe;
}

static void conn_arm_recv(struct engine *e, struct conn *c)
{
	struct io_uring_sqe *sqe = conn_sqe(e, c);

	if (!sqe)
		return;
	if (e->ring.use_bufring && e->cfg->mode == LG_KEEPALIVE) {
		io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = RING_BGID;
	} else {
		io_uring_prep_recv(sqe, c->fd, c->rxbuf, RING_BUF_SIZE, 0);
	}
	io_uring_sqe_set_data64(sqe, conn_ud(c, OP_RECV));
	c->recv_armed = true;
	c->inflight++;
}

static void conn_send(struct engine *e, struct conn *c)
{
	struct io_uring_sqe *sqe = conn_sqe(e, c);

	if (!sqe)
		return;
	io_uring_prep_send(sqe, c->fd, c->tx + c->tx_off, c->tx_len - c->tx_off, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, conn_ud(c, OP_SEND));
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
	n = tlsmem_take(&c->tls, c->txbuf, RING_BUF_SIZE);
	if (!n)
		return;
	c->tx = c->txbuf;
	c->tx_len = (uint32_t)n;
	c->tx_off = 0;
	conn_send(e, c);
}

/* --- connection life ----------------------------------------------------- */

bool engine_measuring(const struct engine *e, uint64_t t)
{
	return t >= e->measure_ns && (!e->end_ns || t < e->end_ns);
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
	c->lost = false;
	conn_attempt_end(e, c, false, now);
	if (now < c->retry_at || !engine_may_connect(e, now))
		return;
	if (e->cfg->mode == LG_KEEPALIVE || e->rate <= 0 || c->k_sent < c->k_due)
		conn_connect(e, c, now);
}

/*
 * What a cancel could not do: shut the socket down, so that the operations
 * still in flight on it complete (with EOF or an error) and the slot leaves
 * CLOSING. Tried again each --timeout while the slot waits.
 */
static void conn_shut(struct engine *e, struct conn *c, uint64_t now)
{
	(void)shutdown(c->fd, SHUT_RDWR);
	c->deadline = now + (uint64_t)e->cfg->timeout_ms * 1000000ull;
}

/*
 * Closes c. With operations in flight they are cancelled first and the slot
 * waits in CLOSING until their completions arrive.
 */
static void conn_close(struct engine *e, struct conn *c, uint64_t now)
{
	struct io_uring_sqe *sqe;

	conn_drop_requests(e, c);
	if (c->state == CS_CLOSING || c->state == CS_CLOSED)
		return;
	if (!c->inflight) {
		conn_finish_close(e, c, now);
		return;
	}
	c->state = CS_CLOSING;
	c->deadline = now + (uint64_t)e->cfg->timeout_ms * 1000000ull;
	sqe = ring_sqe(&e->ring);
	if (!sqe) {
		conn_shut(e, c, now);
		return;
	}
	io_uring_prep_cancel_fd(sqe, c->fd, IORING_ASYNC_CANCEL_ALL);
	io_uring_sqe_set_data64(sqe, conn_ud(c, OP_CANCEL));
}

void conn_closing_overdue(struct engine *e, struct conn *c, uint64_t now)
{
	engine_note(CST(e, c)->sys_err, sizeof(CST(e, c)->sys_err), "cancel", ETIMEDOUT);
	conn_shut(e, c, now);
}

void conn_fail(struct engine *e, struct conn *c, enum lg_err kind, uint64_t now)
{
	conn_count_error(e, c, kind, now);
	conn_attempt_end(e, c, true, now);
	if (kind == LG_ERR_CONNECT)
		c->retry_at = now + ENGINE_RETRY_NS;
	conn_close(e, c, now);
}

bool engine_done_issuing(const struct engine *e, uint64_t now)
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
bool engine_may_connect(const struct engine *e, uint64_t now)
{
	if (engine_done_issuing(e, now))
		return false;
	return !(e->quota && e->cfg->mode == LG_KEEPALIVE && now >= e->measure_ns &&
		 e->issued + e->attempts >= e->quota);
}

/* A connect that could not even be started: counted, tried again later. */
static void conn_not_started(struct engine *e, struct conn *c, const char *what, int err,
			     uint64_t now)
{
	engine_note(CST(e, c)->sys_err, sizeof(CST(e, c)->sys_err), what, err);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	conn_count_error(e, c, LG_ERR_CONNECT, now);
	c->retry_at = now + ENGINE_RETRY_NS;
	if (now >= e->measure_ns)
		e->issued++; /* a failed attempt, as below */
}

void conn_connect(struct engine *e, struct conn *c, uint64_t now)
{
	const struct lg_target *tg = CTG(e, c);
	struct io_uring_sqe *sqe;
	int one = 1, r;

	/*
	 * socket(2) here, on the thread, not IORING_OP_SOCKET: the socket is
	 * made in the namespace the thread is in, and keeps it.
	 */
	r = engine_netns(e, tg->netns_fd);
	if (r < 0) {
		conn_not_started(e, c, "setns", -r, now);
		return;
	}
	c->fd = socket(tg->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
	if (c->fd < 0) {
		conn_not_started(e, c, "socket", errno, now);
		return;
	}
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	sqe = ring_sqe(&e->ring);
	if (!sqe) {
		conn_not_started(e, c, "io_uring_submit",
				 e->ring.submit_err ? -e->ring.submit_err : EBUSY, now);
		return;
	}
	io_uring_prep_connect(sqe, c->fd, (const struct sockaddr *)&tg->addr, tg->addrlen);
	io_uring_sqe_set_data64(sqe, conn_ud(c, OP_CONNECT));
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
void conn_ready(struct engine *e, struct conn *c, uint64_t now)
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
		int n = tlsmem_read(&c->tls, CTLS(e, c), e->ptbuf, RING_BUF_SIZE);

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

static void on_recv(struct engine *e, struct conn *c, const struct io_uring_cqe *cqe, uint64_t now)
{
	int res = cqe->res;
	bool more = cqe->flags & IORING_CQE_F_MORE;
	const char *data = c->rxbuf;
	int bid = -1;
	int r = 0;

	if (cqe->flags & IORING_CQE_F_BUFFER) {
		bid = (int)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		data = ring_buf(&e->ring, (unsigned)bid);
	}
	if (!more) {
		c->inflight--;
		c->recv_armed = false;
	}
	if (c->state == CS_CLOSING) {
		if (bid >= 0)
			ring_give_back(&e->ring, (unsigned)bid);
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
	if (res == -EINVAL && e->ring.use_bufring) {
		/* kernel without multishot recv: single-shot from now on */
		e->ring.use_bufring = false;
		e->ring.feat.multishot = false;
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
		ring_give_back(&e->ring, (unsigned)bid);
	if (r == 0 && !c->recv_armed && c->fd >= 0 && c->state != CS_CLOSING &&
	    c->state != CS_CLOSED)
		conn_arm_recv(e, c);
}

/*
 * The answer to a cancel. A cancel that failed (nothing found: the
 * operations are completing anyway; or one the kernel cannot do) must not
 * leave the slot in CLOSING for good: the socket is shut down, which ends
 * whatever is still in flight on it.
 */
static void on_cancel(struct engine *e, struct conn *c, int res, uint64_t now)
{
	if (res >= 0 || c->state != CS_CLOSING || !c->inflight || c->fd < 0)
		return;
	if (res != -ENOENT && res != -EALREADY)
		engine_note(CST(e, c)->sys_err, sizeof(CST(e, c)->sys_err), "cancel", -res);
	conn_shut(e, c, now);
}

void conn_completion(struct engine *e, const struct io_uring_cqe *cqe, uint64_t now)
{
	uint64_t ud = io_uring_cqe_get_data64(cqe);
	enum op op = (enum op)(ud & 0xff);
	struct conn *c;

	if ((ud >> 8) >= e->nconns)
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
	case OP_CANCEL:
		on_cancel(e, c, cqe->res, now);
		break;
	default:
		break;
	}
}
