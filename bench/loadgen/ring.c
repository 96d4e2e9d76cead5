/*
 * Description: the load thread's io_uring: set-up with fallbacks, the
 * provided buffer ring, submission that never hands out a NULL SQE unsaid,
 * completions handed out in order (some possibly held aside), and the
 * min_wait shim.
 */
#include "bench/loadgen/ring.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define RING_SQE_TRIES 8

#ifndef IORING_FEAT_MIN_TIMEOUT
#define IORING_FEAT_MIN_TIMEOUT (1U << 15) /* Linux 6.12; newer than liburing 2.3 */
#endif

/* liburing 2.3 has no io_uring_setup_buf_ring: map and register it here. */
static void ring_bufring(struct lg_ring *r, uint32_t nconns)
{
	struct io_uring_buf_reg reg;
	uint32_t i;

	r->nbufs = 64;
	while (r->nbufs < nconns * 2 && r->nbufs < 4096)
		r->nbufs <<= 1;
	r->br_size = (size_t)r->nbufs * sizeof(struct io_uring_buf);
	r->br = mmap(NULL, r->br_size, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (r->br == MAP_FAILED) {
		r->br = NULL;
		return;
	}
	r->bufs = malloc((size_t)r->nbufs * RING_BUF_SIZE);
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (unsigned long)r->br;
	reg.ring_entries = r->nbufs;
	reg.bgid = RING_BGID;
	if (r->bufs && io_uring_register_buf_ring(&r->ring, &reg, 0) == 0) {
		io_uring_buf_ring_init(r->br);
		for (i = 0; i < r->nbufs; i++)
			io_uring_buf_ring_add(r->br, r->bufs + (size_t)i * RING_BUF_SIZE, RING_BUF_SIZE,
					      (unsigned short)i, io_uring_buf_ring_mask(r->nbufs), (int)i);
		io_uring_buf_ring_advance(r->br, (int)r->nbufs);
		r->use_bufring = true;
		r->feat.buf_ring = true;
		r->feat.multishot = true;
		return;
	}
	free(r->bufs);
	r->bufs = NULL;
	munmap(r->br, r->br_size);
	r->br = NULL;
}

int ring_setup(struct lg_ring *r, uint32_t nconns, bool bufring)
{
	/* the best first; a kernel that does not know a flag says EINVAL */
	static const unsigned setups[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL |
			IORING_SETUP_CQSIZE,
		IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE,
		0,
	};
	struct io_uring_params p;
	unsigned entries = 256, i;
	int ret = -EINVAL;

	memset(r, 0, sizeof(*r));
	while (entries < nconns * 2 && entries < 4096)
		entries <<= 1;
	for (i = 0; i < sizeof(setups) / sizeof(setups[0]) && ret == -EINVAL; i++) {
		memset(&p, 0, sizeof(p));
		p.flags = setups[i];
		p.cq_entries = entries * 4;
		ret = io_uring_queue_init_params(entries, &r->ring, &p);
	}
	if (ret < 0)
		return ret;
	r->feat.single_issuer = i == 1;
	r->feat.coop_taskrun = i == 2;
	r->ok = true;
	r->held_cap = r->ring.cq.ring_entries;
	r->held = calloc(r->held_cap, sizeof(*r->held));
	if (!r->held)
		return -ENOMEM;
	r->feat.ring_fd_registered = io_uring_register_ring_fd(&r->ring) == 1;
	r->feat.min_wait = r->feat.single_issuer && (p.features & IORING_FEAT_MIN_TIMEOUT) &&
			   (p.features & IORING_FEAT_EXT_ARG);
	if (bufring)
		ring_bufring(r, nconns);
	return 0;
}

void ring_free(struct lg_ring *r)
{
	if (r->ok)
		io_uring_queue_exit(&r->ring); /* cancels whatever is still in flight */
	r->ok = false;
	free(r->held);
	free(r->bufs);
	if (r->br)
		munmap(r->br, r->br_size);
	r->held = NULL;
	r->bufs = NULL;
	r->br = NULL;
}

/* Tells the kernel about the completions handed out so far. */
static void ring_advance(struct lg_ring *r)
{
	if (r->unadvanced)
		io_uring_cq_advance(&r->ring, r->unadvanced);
	r->unadvanced = 0;
}

/* The next completion still in the CQ, copied; its slot is freed later. */
static bool ring_pull(struct lg_ring *r, struct io_uring_cqe *cqe)
{
	unsigned head = *r->ring.cq.khead + r->unadvanced;

	if (head == io_uring_smp_load_acquire(r->ring.cq.ktail))
		return false;
	*cqe = r->ring.cq.cqes[io_uring_cqe_index(&r->ring, head, r->ring.cq.ring_mask)];
	if (++r->unadvanced >= 64)
		ring_advance(r); /* the copy is taken: free the slots for the kernel */
	return true;
}

unsigned ring_make_room(struct lg_ring *r)
{
	unsigned n = 0;

	if (r->held_first) {
		memmove(r->held, r->held + r->held_first, r->nheld * sizeof(*r->held));
		r->held_first = 0;
	}
	while (r->nheld < r->held_cap && ring_pull(r, &r->held[r->nheld])) {
		r->nheld++;
		n++;
	}
	ring_advance(r);
	return n;
}

struct io_uring_sqe *ring_sqe(struct lg_ring *r)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
	int i, n;

	for (i = 0; !sqe && i < RING_SQE_TRIES; i++) {
		ring_advance(r);
		n = io_uring_submit(&r->ring);
		if (n < 0) {
			r->submit_err = n;
			if (n != -EBUSY && n != -EAGAIN)
				return NULL;
			if (!ring_make_room(r) && n == -EBUSY)
				return NULL; /* the CQ is empty, or nothing more can be held */
		}
		sqe = io_uring_get_sqe(&r->ring);
	}
	return sqe;
}

/*
 * Submits and waits like io_uring_submit_and_wait_timeout, with the kernel's
 * min_wait (Linux 6.12+): sleep for up to wait_nr completions, but once
 * min_wait_us have passed return as soon as there is any. liburing 2.3 does
 * not know the field (it calls it pad), so this enters the ring itself: the
 * SQ tail is published exactly as liburing does it.
 */
static int ring_enter_min_wait(struct lg_ring *r, unsigned wait_nr, struct __kernel_timespec *ts,
			       unsigned min_wait_us)
{
	struct io_uring *ring = &r->ring;
	struct io_uring_getevents_arg arg;
	unsigned tail = ring->sq.sqe_tail, to_submit, flags;
	int fd = ring->ring_fd, ret;

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
	if (r->feat.ring_fd_registered) {
		flags |= IORING_ENTER_REGISTERED_RING;
		fd = ring->enter_ring_fd;
	}
	ret = (int)syscall(__NR_io_uring_enter, fd, to_submit, wait_nr, flags, &arg, sizeof(arg));
	return ret < 0 ? -errno : ret;
}

int ring_wait(struct lg_ring *r, unsigned wait_nr, struct __kernel_timespec *ts,
	      unsigned min_wait_us)
{
	struct io_uring_cqe *cqe;

	ring_advance(r);
	if (r->nheld)
		return io_uring_submit(&r->ring); /* completions are waiting already */
	if (r->feat.min_wait && min_wait_us && wait_nr > 1)
		return ring_enter_min_wait(r, wait_nr, ts, min_wait_us);
	return io_uring_submit_and_wait_timeout(&r->ring, &cqe, wait_nr, ts, NULL);
}

bool ring_next(struct lg_ring *r, struct io_uring_cqe *cqe)
{
	if (r->nheld) {
		*cqe = r->held[r->held_first++];
		if (!--r->nheld)
			r->held_first = 0;
		return true;
	}
	return ring_pull(r, cqe);
}

const char *ring_buf(const struct lg_ring *r, unsigned bid)
{
	return r->bufs + (size_t)bid * RING_BUF_SIZE;
}

void ring_give_back(struct lg_ring *r, unsigned bid)
{
	io_uring_buf_ring_add(r->br, r->bufs + (size_t)bid * RING_BUF_SIZE, RING_BUF_SIZE,
			      (unsigned short)bid, io_uring_buf_ring_mask(r->nbufs), 0);
	io_uring_buf_ring_advance(r->br, 1);
}
