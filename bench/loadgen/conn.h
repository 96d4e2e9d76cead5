/*
 * Description: inside the load engine, shared by its two halves: conn.c
 * (the connection state machine, driven by completions) and engine.c (the
 * thread's loop: set-up, the tick, the open-loop schedule, the wait). Not
 * for main.c, which sees only engine.h.
 *
 * A slot walks CLOSED -> CONNECTING -> HANDSHAKE (TLS) -> READY <-> BUSY,
 * and through CLOSING back to CLOSED after an error or, with --close/--resume,
 * after every response. A slot is reused only when none of its operations is
 * in flight, so a completion can never reach the wrong connection.
 */
#ifndef BENCH_LOADGEN_CONN_H
#define BENCH_LOADGEN_CONN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>

#include "bench/loadgen/config.h"
#include "bench/loadgen/engine.h"
#include "bench/loadgen/resp.h"
#include "bench/loadgen/ring.h"
#include "bench/loadgen/sched.h"
#include "bench/loadgen/stats.h"
#include "bench/loadgen/tlsmem.h"

#define ENGINE_RETRY_NS 10000000ull /* after a refused connect */

enum conn_state { CS_CLOSED, CS_CONNECTING, CS_HANDSHAKE, CS_READY, CS_BUSY, CS_CLOSING };

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
	bool lost;             /* an operation it needed found no SQE: fail it at the tick */
	uint32_t outstanding;  /* requests sent, responses not yet complete */
	uint64_t deadline;     /* timeout for the current step (CLOSING: for the cancel); 0 none */
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
	struct lg_ring ring;
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
	uint64_t stale;          /* requests in flight for more than a tick (at the last scan) */
	atomic_bool *stop;
	struct lg_stats *st;     /* per target */
	int netns_cur;           /* the namespace the thread is in: a target's netns_fd, -1 own */
	bool cpu_started, cpu_ok; /* the CPU clock was read when counting started */
	uint64_t cpu0_ns;
	struct rusage ru0;
	struct lg_thread_cpu cpu;
};

/* The statistics, target and TLS context of connection c. */
#define CST(e, c) (&(e)->st[(c)->target])
#define CTG(e, c) (&(e)->cfg->target[(c)->target])
#define CTLS(e, c) (&(e)->tls[(c)->target])

/* Is t inside the measured window? */
bool engine_measuring(const struct engine *e, uint64_t t);
/* No more requests to issue: the deadline passed or the -n share is issued. */
bool engine_done_issuing(const struct engine *e, uint64_t now);
/* May a closed slot connect (again)? */
bool engine_may_connect(const struct engine *e, uint64_t now);
/* Enters network namespace fd (-1: the thread's own) for a socket(). 0 or -errno. */
int engine_netns(struct engine *e, int fd);

/* Opens slot c (CLOSED). A failure is counted and retried later. */
void conn_connect(struct engine *e, struct conn *c, uint64_t now);
/* c has nothing outstanding: send its next request now, later or never. */
void conn_ready(struct engine *e, struct conn *c, uint64_t now);
/* Counts an error of kind on c and closes it (LG_ERR_COUNT: none). */
void conn_fail(struct engine *e, struct conn *c, enum lg_err kind, uint64_t now);
/* The tick's look at a CLOSING slot whose cancel is overdue: shut it down. */
void conn_closing_overdue(struct engine *e, struct conn *c, uint64_t now);
/* One completion, whoever it is for. */
void conn_completion(struct engine *e, const struct io_uring_cqe *cqe, uint64_t now);

#endif
