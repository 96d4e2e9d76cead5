/*
 * Description: the serving core. Each worker thread owns an epoll instance,
 * a slice of the connection pool and a timeout list; the listening sockets
 * are shared (EPOLLEXCLUSIVE wakes one worker per connection). Connections
 * are registered once, edge-triggered for input and output, so the hot path
 * makes no epoll_ctl calls: on any event a connection runs its state
 * machine (flush output, answer buffered requests, read) until the socket
 * would block, or until its turn's budget is spent (CONN_TURN_REQUESTS
 * answers or CONN_TURN_MS): then it goes to the back of the worker's ready
 * list, served after the next epoll_wait (which does not sleep then), so
 * one connection's pipelined requests cannot starve the others.
 *
 * Nothing is allocated per request: the request and response buffers live
 * in the connection, /bytes/ bodies come from a static pattern, files are
 * read into the response buffer. OpenSSL allocates its SSL object per
 * connection.
 */
#include "servers/lib/server.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <systemd/sd-daemon.h>

#include "servers/lib/http.h"
#include "servers/lib/log.h"
#include "servers/lib/route.h"

#define CONN_WBUF        16384
#define RESPONSE_ROOM    512 /* a head plus the largest inline body */
#define DIRECT_CHUNK     65536
#define EVENTS_PER_WAIT  256
#define ACCEPTS_PER_WAKE 64
/* A connection's turn: at most CONN_TURN_REQUESTS answers, and no new one
 * once the coarse clock has moved on by CONN_TURN_MS since the turn began
 * (it moves in ticks of 1-4 ms, so a turn lasts up to a tick; reading it
 * costs no system call). A request's own cost (/work/) is not cut short. */
#define CONN_TURN_REQUESTS 32
#define CONN_TURN_MS       1

/* epoll tags below TAG_LIMIT are not connection pointers. */
#define TAG_LISTEN0 0
#define TAG_STOP    100
#define TAG_SIGNAL  101
#define TAG_LIMIT   4096

struct conn {
	struct conn *prev, *next;   /* timeout list while open; next links the free list */
	struct conn *rprev, *rnext; /* the worker's ready list: the turn ended with work left */
	uint64_t deadline_ms;
	int fd;
	SSL *ssl;
	bool open;
	bool closing;   /* close once the output is flushed */
	bool linger;    /* input may be left unread: drain it before closing */
	bool lingering; /* answered and shut down for writing; draining input */
	bool tls_dead;  /* a fatal TLS error: no close_notify */
	uint32_t rstart, rlen;
	uint32_t woff, wlen;
	enum route_body body; /* body still to send after wbuf */
	uint64_t body_off, body_left;
	int file_fd;
	char rbuf[HTTP_MAX_HEAD];
	char wbuf[CONN_WBUF];
};

struct server;

struct worker {
	struct server *srv;
	const struct server_config *cfg;
	unsigned id;
	pthread_t thread;
	int epfd;
	struct conn *pool;
	unsigned pool_size;
	struct conn *free_list;
	struct conn timeouts; /* sentinel; oldest deadline first */
	struct conn ready;    /* sentinel; connections to run again, in turn */
	unsigned active;
	uint64_t now_ms;
	int64_t date_sec;
	char date[30];
	uint64_t rng;
	struct route_ctx route;
	bool stop;
	bool single; /* serving one passed connection */
	int result;  /* 0, or -errno: its loop failed (epoll_wait) */
	/* counters, logged at exit */
	uint64_t accepted, refused, requests;
};

struct server {
	const struct server_config *cfg;
	struct worker *workers;
	unsigned nworkers;
	int stop_fd;
	int signal_fd;
	pthread_barrier_t barrier;
	bool abort_start;
};

/* --- time -------------------------------------------------------------- */

static uint64_t coarse_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void worker_clock(struct worker *w)
{
	struct timespec ts;

	w->now_ms = coarse_ms();
	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	if (ts.tv_sec != w->date_sec) {
		w->date_sec = ts.tv_sec;
		http_date(w->date, ts.tv_sec);
	}
}

/* Every deadline is now + the same timeout, so appending keeps the list sorted. */
static void conn_touch(struct worker *w, struct conn *c)
{
	if (c->prev) {
		c->prev->next = c->next;
		c->next->prev = c->prev;
	}
	c->deadline_ms = w->now_ms + w->cfg->timeout_ms;
	c->prev = w->timeouts.prev;
	c->next = &w->timeouts;
	w->timeouts.prev->next = c;
	w->timeouts.prev = c;
}

/* The ready list: a connection whose turn ended with requests left to answer. */
static void conn_unready(struct conn *c)
{
	if (!c->rnext)
		return;
	c->rprev->rnext = c->rnext;
	c->rnext->rprev = c->rprev;
	c->rprev = c->rnext = NULL;
}

static void conn_yield(struct worker *w, struct conn *c)
{
	c->rprev = w->ready.rprev;
	c->rnext = &w->ready;
	w->ready.rprev->rnext = c;
	w->ready.rprev = c;
}

/* --- transport --------------------------------------------------------- */

/* Maps an SSL_* failure to -EAGAIN (retry on the next event), 0 (EOF) or -EIO. */
static ssize_t tls_result(struct conn *c, int ret)
{
	int err = SSL_get_error(c->ssl, ret);

	switch (err) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	default:
		/* Garbage, a reset or a protocol error ends this connection only. */
		c->tls_dead = true;
		ERR_clear_error();
		return -EIO;
	}
}

/* Returns bytes read, 0 at EOF, -EAGAIN, or -errno. */
static ssize_t conn_recv(struct conn *c, void *buf, size_t len)
{
	if (c->ssl) {
		size_t n = 0;
		int ret = SSL_read_ex(c->ssl, buf, len, &n);

		return ret == 1 ? (ssize_t)n : tls_result(c, ret);
	}
	for (;;) {
		ssize_t n = recv(c->fd, buf, len, 0);

		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
}

/* Returns bytes written (> 0), -EAGAIN, or -errno. */
static ssize_t conn_send(struct conn *c, const void *buf, size_t len)
{
	if (c->ssl) {
		size_t n = 0;
		int ret = SSL_write_ex(c->ssl, buf, len, &n);

		if (ret == 1)
			return (ssize_t)n;
		ret = (int)tls_result(c, ret);
		return ret == 0 ? -EPIPE : ret;
	}
	for (;;) {
		ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);

		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
}

/* --- connections ------------------------------------------------------- */

static void conn_close(struct worker *w, struct conn *c)
{
	if (!c->open)
		return;
	if (c->ssl) {
		/* A fatal error forbids SSL_shutdown; otherwise one try at
		 * close_notify, whatever it returns. */
		if (!c->tls_dead && !c->lingering && SSL_is_init_finished(c->ssl))
			if (SSL_shutdown(c->ssl) < 0)
				ERR_clear_error();
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	close(c->fd);
	if (c->file_fd >= 0)
		close(c->file_fd);
	c->file_fd = -1;
	conn_unready(c);
	c->prev->next = c->next;
	c->next->prev = c->prev;
	c->prev = NULL;
	c->open = false;
	c->next = w->free_list;
	w->free_list = c;
	w->active--;
}

static void conn_open(struct worker *w, int fd)
{
	struct epoll_event ev;
	struct conn *c = w->free_list;
	int one = 1;

	if (!c) {
		/* The cap: refuse at once rather than leave it in the backlog. */
		w->refused++;
		close(fd);
		return;
	}
	/* Fails harmlessly on unix sockets. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (w->cfg->ssl_ctx) {
		c->ssl = SSL_new(w->cfg->ssl_ctx);
		if (!c->ssl) {
			log_ssl(__func__, "SSL_new");
			close(fd);
			return;
		}
		if (SSL_set_fd(c->ssl, fd) != 1) {
			log_ssl(__func__, "SSL_set_fd");
			SSL_free(c->ssl);
			c->ssl = NULL;
			close(fd);
			return;
		}
		SSL_set_accept_state(c->ssl);
	}
	w->free_list = c->next;
	c->next = c->prev = NULL;
	c->rnext = c->rprev = NULL;
	c->fd = fd;
	c->open = true;
	c->closing = c->linger = c->lingering = c->tls_dead = false;
	c->rstart = c->rlen = c->woff = c->wlen = 0;
	c->body = ROUTE_BODY_NONE;
	c->body_off = c->body_left = 0;
	c->file_fd = -1;
	w->active++;
	w->accepted++;
	conn_touch(w, c);

	ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
	ev.data.ptr = c;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		log_errno(__func__, errno, "epoll_ctl add");
		conn_close(w, c);
	}
}

/* Appends the response head (and an inline body) for res to wbuf. */
static void conn_queue(struct worker *w, struct conn *c, int minor, struct route_result *res)
{
	struct http_head h = {
		.status = res->status,
		.content_type = res->content_type,
		.content_length = res->length,
		.keep_alive = !res->close,
		.minor = minor,
		.allow = res->allow,
		.date = w->date,
	};
	int n;

	n = http_write_head(c->wbuf + c->wlen, sizeof(c->wbuf) - c->wlen, &h);
	if (n < 0) {
		/* Cannot happen with RESPONSE_ROOM free; fail safe. */
		log_msg(__func__, "response head does not fit");
		c->closing = true;
		if (res->fd >= 0)
			close(res->fd);
		return;
	}
	c->wlen += (uint32_t)n;
	switch (res->body) {
	case ROUTE_BODY_NONE:
		break;
	case ROUTE_BODY_INLINE:
		memcpy(c->wbuf + c->wlen, res->inline_body, res->length);
		c->wlen += (uint32_t)res->length;
		break;
	case ROUTE_BODY_PATTERN:
	case ROUTE_BODY_FILE:
		c->body = res->body;
		c->body_off = 0;
		c->body_left = res->length;
		c->file_fd = res->fd;
		res->fd = -1;
		break;
	}
	if (res->close)
		c->closing = true;
}

/* What one run of a connection may still spend before it yields. */
struct conn_turn {
	uint64_t start_ms;
	unsigned answered;
	bool spent; /* a request is waiting, the budget is gone */
};

static bool turn_spent(struct conn_turn *t)
{
	if (t->answered == 0)
		return false; /* every turn answers one request at least */
	return t->answered >= CONN_TURN_REQUESTS || coarse_ms() - t->start_ms >= CONN_TURN_MS;
}

/*
 * Answers the complete requests in rbuf while the answers fit in wbuf and
 * the turn has budget left (t->spent when it has not). Returns how many
 * were queued.
 */
static int conn_answer(struct worker *w, struct conn *c, struct conn_turn *t)
{
	int queued = 0;

	while (c->rstart < c->rlen && !c->closing && c->body_left == 0 &&
	       sizeof(c->wbuf) - c->wlen >= RESPONSE_ROOM) {
		struct http_request req;
		struct route_result res;
		int n;

		n = http_parse_request(c->rbuf + c->rstart, c->rlen - c->rstart, &req);
		if (n == -2)
			break;
		if (turn_spent(t)) {
			t->spent = true;
			break;
		}
		if (n == -1) {
			route_error(req.status, &res);
			req.minor = 1;
			c->rstart = c->rlen;
			c->linger = true; /* the rest of a bad request may still come */
		} else {
			c->rstart += (uint32_t)n;
			route_handle(&w->route, &req, &w->rng, &res);
			if (req.has_body)
				c->linger = true; /* a body we do not read */
		}
		conn_queue(w, c, req.minor, &res);
		w->requests++;
		t->answered++;
		queued++;
	}
	if (c->closing || c->rstart == c->rlen) {
		if (c->rstart < c->rlen)
			c->linger = true; /* pipelined requests after the last answer */
		c->rstart = c->rlen = 0;
	} else if (c->rstart > 0 && c->body_left == 0 && queued == 0 && !t->spent) {
		/* An incomplete head: move it to the front to make room. */
		memmove(c->rbuf, c->rbuf + c->rstart, c->rlen - c->rstart);
		c->rlen -= c->rstart;
		c->rstart = 0;
	}
	if (queued)
		conn_touch(w, c);
	return queued;
}

/* Moves body bytes into wbuf's free tail (file bodies, and the first slice of a pattern). */
static int conn_fill(struct conn *c)
{
	size_t room = sizeof(c->wbuf) - c->wlen;
	size_t len = c->body_left < room ? (size_t)c->body_left : room;

	if (len == 0)
		return 0;
	if (c->body == ROUTE_BODY_PATTERN) {
		memcpy(c->wbuf + c->wlen, route_pattern() + c->body_off % ROUTE_PATTERN_PERIOD, len);
	} else {
		ssize_t n = pread(c->file_fd, c->wbuf + c->wlen, len, (off_t)c->body_off);

		if (n <= 0) /* the file shrank or failed: the length promised is a lie now */
			return n < 0 ? -errno : -EIO;
		len = (size_t)n;
	}
	c->wlen += (uint32_t)len;
	c->body_off += len;
	c->body_left -= len;
	return 0;
}

/* Sends wbuf and any streaming body. Returns 0 when all is sent, -EAGAIN, or -errno. */
static int conn_flush(struct worker *w, struct conn *c)
{
	for (;;) {
		ssize_t n;

		if (c->woff == c->wlen)
			c->woff = c->wlen = 0;
		if (c->body_left && (c->body == ROUTE_BODY_FILE || c->wlen > 0)) {
			int r = conn_fill(c);

			if (r < 0)
				return r;
		}
		if (c->woff < c->wlen) {
			n = conn_send(c, c->wbuf + c->woff, c->wlen - c->woff);
			if (n < 0)
				return (int)n;
			c->woff += (uint32_t)n;
			conn_touch(w, c);
			continue;
		}
		if (c->body_left == 0)
			break;
		/* A large pattern body goes straight from the static buffer. A
		 * retry after -EAGAIN passes the same pointer and length, as
		 * OpenSSL requires. */
		n = conn_send(c, route_pattern() + c->body_off % ROUTE_PATTERN_PERIOD,
			      c->body_left < DIRECT_CHUNK ? (size_t)c->body_left : DIRECT_CHUNK);
		if (n < 0)
			return (int)n;
		c->body_off += (uint64_t)n;
		c->body_left -= (uint64_t)n;
		conn_touch(w, c);
	}
	if (c->file_fd >= 0) {
		close(c->file_fd);
		c->file_fd = -1;
	}
	c->body = ROUTE_BODY_NONE;
	return 0;
}

/*
 * After a final answer with input possibly unread: send close_notify, shut
 * down our side and drain what the client still sends, so that closing
 * does not reset the connection before the client has read the answer.
 */
static int conn_linger(struct worker *w, struct conn *c)
{
	char sink[4096];

	if (!c->lingering) {
		if (c->ssl && !c->tls_dead && SSL_is_init_finished(c->ssl) &&
		    SSL_shutdown(c->ssl) < 0)
			ERR_clear_error();
		if (shutdown(c->fd, SHUT_WR) < 0)
			return -errno;
		c->lingering = true;
		conn_touch(w, c);
	}
	for (int i = 0; i < 64; i++) {
		ssize_t n = recv(c->fd, sink, sizeof(sink), 0);

		if (n == 0)
			return -EPIPE;
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? -EAGAIN : -errno;
	}
	return -EAGAIN;
}

static void conn_run(struct worker *w, struct conn *c)
{
	struct conn_turn turn = { .start_ms = coarse_ms() };

	conn_unready(c);
	for (;;) {
		ssize_t n;
		int r;

		if (c->lingering) {
			if (conn_linger(w, c) == -EAGAIN)
				return;
			break;
		}
		r = conn_flush(w, c);
		if (r == -EAGAIN)
			return;
		if (r < 0)
			break;
		if (c->closing) {
			/* A clean end (Connection: close, HTTP/1.0) closes at once;
			 * after an error the client may still be sending, and a
			 * close with unread input would reset the connection
			 * before the client has read the answer. */
			if (c->linger && conn_linger(w, c) == -EAGAIN)
				return;
			break;
		}
		if (conn_answer(w, c, &turn) > 0)
			continue;
		if (turn.spent) {
			/* the answers are sent; the rest waits for its next turn */
			conn_yield(w, c);
			return;
		}
		if (c->rlen == sizeof(c->rbuf))
			break; /* cannot happen: a full buffer parses as 414/431 */
		n = conn_recv(c, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen);
		if (n == -EAGAIN)
			return;
		if (n <= 0)
			break;
		c->rlen += (uint32_t)n;
	}
	conn_close(w, c);
}

/* --- the loop ---------------------------------------------------------- */

static void worker_accept(struct worker *w, int lfd)
{
	for (int i = 0; i < ACCEPTS_PER_WAKE; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN)
				log_errno(__func__, errno, "accept4");
			return;
		}
		conn_open(w, fd);
	}
}

static int worker_timeout(struct worker *w)
{
	struct conn *c = w->timeouts.next;

	if (w->ready.rnext != &w->ready)
		return 0; /* connections wait for their next turn */
	if (c == &w->timeouts)
		return -1;
	if (c->deadline_ms <= w->now_ms)
		return 0;
	/* +1: the coarse clock must have passed the deadline when we wake. */
	return (int)(c->deadline_ms - w->now_ms) + 1;
}

/*
 * Gives every connection on the ready list one more turn, in the order they
 * yielded; those that yield again go to the back, for after the next
 * epoll_wait, so that new events get their turn between.
 */
static void worker_run_ready(struct worker *w)
{
	struct conn *last = w->ready.rprev, *c;

	if (last == &w->ready)
		return;
	/* conn_run takes c off the list first; only c's own run can close c */
	do {
		c = w->ready.rnext;
		conn_run(w, c);
	} while (c != last);
}

static void worker_expire(struct worker *w)
{
	while (w->timeouts.next != &w->timeouts && w->timeouts.next->deadline_ms <= w->now_ms)
		conn_close(w, w->timeouts.next);
}

/* Asks every worker to stop (they all watch stop_fd). */
static void server_stop_all(struct server *s)
{
	uint64_t one = 1;

	if (write(s->stop_fd, &one, sizeof(one)) < 0)
		log_errno(__func__, errno, "eventfd write");
}

/*
 * Serves until told to stop. Returns 0, or -errno when epoll_wait failed
 * (EINTR is retried): the other workers are stopped too, and server_run
 * returns the error, so a server that cannot wait for events exits with a
 * failure instead of as if it had been stopped.
 */
static int worker_loop(struct server *s, struct worker *w)
{
	struct epoll_event evs[EVENTS_PER_WAIT];

	while (!w->stop && !(w->single && w->active == 0)) {
		int n = epoll_wait(w->epfd, evs, EVENTS_PER_WAIT, worker_timeout(w));

		if (n < 0) {
			int r = -errno;

			if (r == -EINTR)
				continue;
			log_errno(__func__, r, "epoll_wait");
			server_stop_all(s);
			return r;
		}
		worker_clock(w);
		for (int i = 0; i < n; i++) {
			uint64_t tag = evs[i].data.u64;

			if (tag >= TAG_LIMIT) {
				struct conn *c = evs[i].data.ptr;

				if (c->open)
					conn_run(w, c);
			} else if (tag < TAG_LISTEN0 + LISTEN_MAX_FDS) {
				worker_accept(w, s->cfg->listen->fds[tag - TAG_LISTEN0]);
			} else if (tag == TAG_SIGNAL) {
				struct signalfd_siginfo si;

				if (read(s->signal_fd, &si, sizeof(si)) == sizeof(si))
					log_msg(__func__, "signal %u, stopping", si.ssi_signo);
				server_stop_all(s);
				w->stop = true;
			} else if (tag == TAG_STOP) {
				w->stop = true;
			}
		}
		worker_run_ready(w);
		worker_expire(w);
	}
	return 0;
}

static int worker_init(struct server *s, struct worker *w, unsigned id, unsigned pool_size)
{
	struct epoll_event ev;
	int r;

	w->srv = s;
	w->cfg = s->cfg;
	w->id = id;
	w->timeouts.next = w->timeouts.prev = &w->timeouts;
	w->ready.rnext = w->ready.rprev = &w->ready;
	w->rng = 0x9e3779b97f4a7c15ull ^ ((uint64_t)getpid() << 16) ^ ((uint64_t)time(NULL) << 32) ^
		 (id + 1);
	w->route.content_fd = s->cfg->content_fd;
	route_work_init(&w->route.work, s->cfg->work_us);
	w->pool_size = pool_size;
	w->pool = calloc(pool_size, sizeof(*w->pool));
	if (!w->pool)
		return -ENOMEM;
	for (unsigned i = pool_size; i-- > 0;) {
		w->pool[i].file_fd = -1;
		w->pool[i].fd = -1;
		w->pool[i].next = w->free_list;
		w->free_list = &w->pool[i];
	}
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (w->epfd < 0)
		return -errno;

	for (unsigned i = 0; i < s->cfg->listen->n; i++) {
		ev.events = EPOLLIN | EPOLLEXCLUSIVE;
		ev.data.u64 = TAG_LISTEN0 + i;
		if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, s->cfg->listen->fds[i], &ev) < 0) {
			r = -errno;
			log_errno(__func__, r, "epoll_ctl listen fd");
			return r;
		}
	}
	ev.events = EPOLLIN;
	ev.data.u64 = TAG_STOP;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, s->stop_fd, &ev) < 0)
		return -errno;
	if (id == 0) {
		ev.data.u64 = TAG_SIGNAL;
		if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, s->signal_fd, &ev) < 0)
			return -errno;
	}
	worker_clock(w);
	return 0;
}

static void worker_fini(struct worker *w)
{
	if (w->pool) {
		for (unsigned i = 0; i < w->pool_size; i++)
			if (w->pool[i].open)
				conn_close(w, &w->pool[i]);
		free(w->pool);
		w->pool = NULL;
	}
	if (w->epfd >= 0)
		close(w->epfd);
	w->epfd = -1;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct server *s = w->srv;

	pthread_barrier_wait(&s->barrier);
	if (!s->abort_start)
		w->result = worker_loop(s, w);
	return NULL;
}

/*
 * Every connection may hold a socket and a /file/ fd. Raises the soft fd
 * limit to fit, or returns a lower connection cap that fits, so that
 * accept4 never fails with EMFILE (which would spin the level-triggered
 * listening socket).
 */
static unsigned fit_nofile(unsigned max_conns)
{
	rlim_t want = 2 * (rlim_t)max_conns + 64;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return max_conns;
	if (rl.rlim_cur < want) {
		rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0 && getrlimit(RLIMIT_NOFILE, &rl) < 0)
			return max_conns;
	}
	if (rl.rlim_cur >= want)
		return max_conns;
	max_conns = rl.rlim_cur > 96 ? (unsigned)((rl.rlim_cur - 64) / 2) : 16;
	log_msg(__func__, "RLIMIT_NOFILE %llu: connection cap lowered to %u",
		(unsigned long long)rl.rlim_cur, max_conns);
	return max_conns;
}

int server_run(const struct server_config *cfg)
{
	struct server s = { .cfg = cfg, .stop_fd = -1, .signal_fd = -1 };
	bool barrier = false;
	unsigned started = 0, max_conns;
	sigset_t mask;
	int r;

	route_pattern(); /* fill the static pattern before threads race for it */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	if (pthread_sigmask(SIG_BLOCK, &mask, NULL) != 0)
		return -EINVAL;
	s.signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	s.stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s.signal_fd < 0 || s.stop_fd < 0) {
		r = -errno;
		log_errno(__func__, r, "signalfd/eventfd");
		goto out;
	}
	s.nworkers = cfg->listen->conn_fd >= 0 ? 1 : cfg->workers;
	max_conns = fit_nofile(cfg->max_conns);
	if (max_conns < s.nworkers)
		max_conns = s.nworkers;
	s.workers = calloc(s.nworkers, sizeof(*s.workers));
	if (!s.workers) {
		r = -ENOMEM;
		goto out;
	}
	for (unsigned i = 0; i < s.nworkers; i++)
		s.workers[i].epfd = -1;
	for (unsigned i = 0; i < s.nworkers; i++) {
		unsigned share = max_conns / s.nworkers + (i < max_conns % s.nworkers);

		r = worker_init(&s, &s.workers[i], i, share);
		if (r < 0) {
			log_errno(__func__, r, "worker %u", i);
			goto out;
		}
	}
	if (cfg->listen->conn_fd >= 0) {
		s.workers[0].single = true;
		conn_open(&s.workers[0], cfg->listen->conn_fd);
	}

	r = -pthread_barrier_init(&s.barrier, NULL, s.nworkers);
	if (r < 0) {
		log_errno(__func__, r, "pthread_barrier_init");
		goto out;
	}
	barrier = true;
	for (unsigned i = 1; i < s.nworkers; i++) {
		r = -pthread_create(&s.workers[i].thread, NULL, worker_main, &s.workers[i]);
		if (r < 0) {
			log_errno(__func__, r, "pthread_create");
			/* Started threads wait at the barrier for nworkers parties. */
			s.abort_start = true;
			for (unsigned j = i; j < s.nworkers; j++)
				pthread_barrier_wait(&s.barrier);
			goto join;
		}
		started++;
	}
	r = cfg->before_serve ? cfg->before_serve(cfg->arg) : 0;
	if (r < 0)
		s.abort_start = true;
	pthread_barrier_wait(&s.barrier);
	if (s.abort_start)
		goto join;

	sd_notifyf(0, "READY=1\nSTATUS=%s", cfg->status ? cfg->status : "serving");
	s.workers[0].result = worker_loop(&s, &s.workers[0]);
	sd_notify(0, "STOPPING=1");
	if (!s.workers[0].stop)
		server_stop_all(&s);
join:
	for (unsigned i = 1; i <= started; i++) {
		pthread_join(s.workers[i].thread, NULL);
		if (r == 0 && s.workers[i].result < 0)
			r = s.workers[i].result;
	}
	if (r == 0 && s.workers[0].result < 0)
		r = s.workers[0].result;
	if (!s.abort_start) {
		uint64_t acc = 0, ref = 0, req = 0;

		for (unsigned i = 0; i < s.nworkers; i++) {
			acc += s.workers[i].accepted;
			ref += s.workers[i].refused;
			req += s.workers[i].requests;
		}
		log_msg(__func__, "stopped: %llu connections, %llu refused at the cap, %llu requests",
			(unsigned long long)acc, (unsigned long long)ref, (unsigned long long)req);
	}
out:
	if (barrier)
		pthread_barrier_destroy(&s.barrier);
	if (s.workers) {
		for (unsigned i = 0; i < s.nworkers; i++)
			worker_fini(&s.workers[i]);
		free(s.workers);
	}
	if (s.stop_fd >= 0)
		close(s.stop_fd);
	if (s.signal_fd >= 0)
		close(s.signal_fd);
	return r;
}
