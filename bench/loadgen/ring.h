/*
 * Description: a load thread's io_uring, as the engine uses it. Set-up with
 * the best flags the kernel takes (SINGLE_ISSUER + DEFER_TASKRUN, else
 * COOP_TASKRUN, else none), the registered ring fd, a provided buffer ring
 * for multishot recv, and the min_wait wait (Linux 6.12) that liburing 2.3
 * cannot ask for. Completions are handed out one at a time, copied; when the
 * submission queue is full and the kernel will not take it (-EBUSY/-EAGAIN,
 * its completion queue is full), completions are moved aside to make room
 * and handed out before newer ones, so their order is kept.
 */
#ifndef BENCH_LOADGEN_RING_H
#define BENCH_LOADGEN_RING_H

#include <liburing.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RING_BUF_SIZE 16384 /* one provided buffer, and each connection's own */
#define RING_BGID 7         /* the provided buffers' group */

/* io_uring features a thread ended up with, for the report. */
struct lg_features {
	bool single_issuer;      /* SINGLE_ISSUER + DEFER_TASKRUN */
	bool coop_taskrun;
	bool ring_fd_registered;
	bool buf_ring;
	bool multishot;
	bool min_wait;           /* IORING_FEAT_MIN_TIMEOUT: completion coalescing */
};

struct lg_ring {
	struct io_uring ring;
	bool ok;                 /* set up: ring_free has a ring to tear down */
	bool use_bufring;        /* multishot recv into the provided buffers */
	struct io_uring_buf_ring *br;
	size_t br_size;
	char *bufs;
	uint32_t nbufs;
	struct io_uring_cqe *held; /* completions moved aside to make room */
	unsigned held_cap, held_first, nheld;
	unsigned unadvanced;     /* completions handed out, CQ head not yet moved */
	int submit_err;          /* the last refusal of io_uring_submit, -errno */
	struct lg_features feat;
};

/*
 * Sets the ring up for nconns connections, with a provided buffer ring when
 * bufring (multishot keep-alive). Returns 0 or -errno (the ring could not be
 * made at all); a buffer ring that cannot be had is only a missing feature.
 */
int ring_setup(struct lg_ring *r, uint32_t nconns, bool bufring);
void ring_free(struct lg_ring *r);

/*
 * A free SQE. When the SQ is full it is submitted; when the kernel refuses
 * (-EBUSY/-EAGAIN) completions are moved aside and it is tried again.
 * Returns NULL when no room could be made (submit_err says why): the caller
 * must do without the operation.
 */
struct io_uring_sqe *ring_sqe(struct lg_ring *r);

/*
 * Submits and sleeps until wait_nr completions, ts, or a signal. With
 * min_wait_us (kernel with min_wait) the sleep ends as soon as any
 * completion is there once min_wait_us have passed. Returns >= 0, -ETIME,
 * -EINTR, -EBUSY, -EAGAIN (all harmless: the loop goes on) or another -errno.
 */
int ring_wait(struct lg_ring *r, unsigned wait_nr, struct __kernel_timespec *ts,
	      unsigned min_wait_us);

/*
 * Moves the completions in the CQ aside (up to its size in all), so the
 * kernel can post more; ring_next still hands them out first. ring_sqe does
 * it when the kernel refuses a submission. Returns how many were moved.
 */
unsigned ring_make_room(struct lg_ring *r);

/* The next completion into *cqe, oldest first. false: none left. */
bool ring_next(struct lg_ring *r, struct io_uring_cqe *cqe);

/* Provided buffer bid: its data, and handing it back to the kernel. */
const char *ring_buf(const struct lg_ring *r, unsigned bid);
void ring_give_back(struct lg_ring *r, unsigned bid);

#endif
