/*
 * Description: loadgen's start-up story. Parse and check the command line,
 * resolve the target once, open the targets' network namespaces (and try
 * each), allocate every thread's engine (all memory the run needs), start
 * the threads with signals blocked, wait for the end of the run or
 * SIGINT/SIGTERM, merge the statistics and print them.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netdb.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench/loadgen/cgcpu.h"
#include "bench/loadgen/engine.h"
#include "bench/loadgen/opts.h"
#include "bench/loadgen/report.h"
#include "common/version.h"

struct worker {
	pthread_t thread;
	struct engine *engine;
	uint64_t start_ns, measure_ns;
	int cpu;                 /* -1: not pinned */
	int result;
	atomic_bool *done;
	atomic_uint *finished;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	if (w->cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(w->cpu, &set);
		(void)pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	}
	w->result = engine_run(w->engine, w->start_ns, w->measure_ns);
	atomic_fetch_add(w->finished, 1);
	return NULL;
}

static int resolve(struct lg_target *tg, char *err, size_t size)
{
	struct addrinfo hints, *res = NULL;
	char port[8];
	int r;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%u", tg->url.port);
	r = getaddrinfo(tg->url.host, port, &hints, &res);
	if (r != 0) {
		snprintf(err, size, "cannot resolve '%s': %s", tg->url.host, gai_strerror(r));
		return -EINVAL;
	}
	memcpy(&tg->addr, res->ai_addr, res->ai_addrlen);
	tg->addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/*
 * Opens every target's --netns file and loadgen's own namespace, and enters
 * each once and comes back, so that a file that is no network namespace, or
 * a missing privilege, stops loadgen before the run rather than failing
 * every connect. Returns 0, or -errno with the reason in err.
 */
static int netns_open(struct lg_config *cfg, char *err, size_t size)
{
	uint32_t t;
	int r;

	for (t = 0; t < cfg->ntargets; t++) {
		struct lg_target *tg = &cfg->target[t];

		if (!tg->netns)
			continue;
		tg->netns_fd = open(tg->netns, O_RDONLY | O_CLOEXEC);
		if (tg->netns_fd < 0) {
			r = -errno;
			snprintf(err, size, "--netns %s: cannot open it: %s", tg->netns,
				 strerror(-r));
			return r;
		}
		if (cfg->home_netns_fd >= 0)
			continue;
		cfg->home_netns_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
		if (cfg->home_netns_fd < 0) {
			r = -errno;
			snprintf(err, size, "--netns: cannot open loadgen's own namespace "
				 "/proc/thread-self/ns/net: %s", strerror(-r));
			return r;
		}
	}
	for (t = 0; t < cfg->ntargets; t++) {
		const struct lg_target *tg = &cfg->target[t];

		if (tg->netns_fd < 0)
			continue;
		if (setns(tg->netns_fd, CLONE_NEWNET) < 0) {
			r = -errno;
			snprintf(err, size, "--netns %s: cannot enter it: %s", tg->netns,
				 r == -EINVAL ? "not a network namespace"
				 : r == -EPERM ? "not permitted (setns needs CAP_SYS_ADMIN)"
				 : strerror(-r));
			return r;
		}
		if (setns(cfg->home_netns_fd, CLONE_NEWNET) < 0) {
			r = -errno;
			snprintf(err, size, "--netns %s: cannot return to loadgen's own "
				 "namespace: %s", tg->netns, strerror(-r));
			return r;
		}
	}
	return 0;
}

static void netns_close(struct lg_config *cfg)
{
	uint32_t t;

	for (t = 0; t < cfg->ntargets; t++) {
		if (cfg->target[t].netns_fd >= 0)
			close(cfg->target[t].netns_fd);
		cfg->target[t].netns_fd = -1;
	}
	if (cfg->home_netns_fd >= 0)
		close(cfg->home_netns_fd);
	cfg->home_netns_fd = -1;
}

static double tv_s(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* Descriptors beside the connections: stdio, rings, cgroup files, libraries. */
#define NOFILE_SPARE 64

/*
 * Raises the open-file limit to what the connections plus NOFILE_SPARE
 * need (up to the hard limit). Returns 0, or -EMFILE with the reason in err
 * when the limit cannot hold them: refused before the run, not thousands of
 * connect errors during it.
 */
static int raise_nofile(const struct lg_config *cfg, char *err, size_t size)
{
	rlim_t need = (rlim_t)cfg->conns + NOFILE_SPARE + 2 * cfg->threads;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	if (rl.rlim_cur >= need)
		return 0;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0 && rl.rlim_max > need) {
		rl.rlim_cur = need; /* a hard limit above the kernel's nr_open */
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= need)
		return 0;
	snprintf(err, size, "-c %u needs %llu open files, the limit is %llu (hard limit %llu; "
		 "raise it with ulimit -n or use fewer connections)", cfg->conns,
		 (unsigned long long)need, (unsigned long long)rl.rlim_cur,
		 (unsigned long long)rl.rlim_max);
	return -EMFILE;
}

/* Sleeps until deadline (0: only a short poll) or a blocked signal arrives. */
static int wait_signal(const sigset_t *set, uint64_t deadline)
{
	struct timespec ts;
	uint64_t now = lg_now_ns(), d = 20000000ull;

	if (deadline && deadline > now && deadline - now < d)
		d = deadline - now;
	ts.tv_sec = (time_t)(d / 1000000000ull);
	ts.tv_nsec = (long)(d % 1000000000ull);
	return sigtimedwait(set, NULL, &ts);
}

int main(int argc, char **argv)
{
	static struct lg_opts o;
	struct lg_config *cfg = &o.cfg;
	struct worker *w = NULL;
	struct lg_stats total, *per = NULL;
	struct lg_report rep;
	struct rusage ru0, ru1;
	struct cgcpu cg;
	uint64_t cg0[CGCPU_MAX], cg1[CGCPU_MAX], end_ns = 0;
	struct cgcpu_wake wk0[CGCPU_MAX], wk1[CGCPU_MAX];
	bool cg_start = false, cg_end = false, wk_start = false, wk_end = false;
	atomic_bool stop = false;
	atomic_uint finished = 0;
	sigset_t sigs;
	char err[512];
	char *reqbuf[LG_TARGETS_MAX] = { NULL };
	uint64_t start_ns, measure_ns;
	uint32_t i, t, started = 0, nper = 0;
	bool interrupted = false, measuring = false;
	int rc = 1, r;

	memset(&total, 0, sizeof(total));
	if (version_requested(argc, argv, "loadgen"))
		return 0;
	if (opts_parse(&o, argc, argv, err, sizeof(err)) < 0) {
		fprintf(stderr, "loadgen: %s\n", err);
		return 2;
	}
	if (o.help) {
		opts_usage(stdout);
		return 0;
	}
	for (t = 0; t < cfg->ntargets; t++) {
		if (resolve(&cfg->target[t], err, sizeof(err)) < 0) {
			fprintf(stderr, "loadgen: %s\n", err);
			return 2;
		}
	}
	cgcpu_init(&cg);
	for (i = 0; i < (uint32_t)o.ncgroups; i++) {
		if (cgcpu_add(&cg, o.cgroups[i], err, sizeof(err)) < 0) {
			fprintf(stderr, "loadgen: %s\n", err);
			cgcpu_close(&cg);
			return 2;
		}
	}
	if (netns_open(cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "loadgen: %s\n", err);
		goto out;
	}
	/* the pipelined batch is the request repeated, sent in one write */
	for (t = 0; t < cfg->ntargets; t++) {
		struct lg_target *tg = &cfg->target[t];

		reqbuf[t] = malloc(tg->request_len * cfg->pipeline);
		if (!reqbuf[t])
			goto oom;
		for (i = 0; i < cfg->pipeline; i++)
			memcpy(reqbuf[t] + i * tg->request_len, o.request[t], tg->request_len);
		tg->request = reqbuf[t];
	}
	if (raise_nofile(cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "loadgen: %s\n", err);
		rc = 2;
		goto out;
	}
	/*
	 * OpenSSL allocates and frees per handshake; glibc would hand freed
	 * memory back with madvise and flush TLBs each time (seen in profiles
	 * of --close). Keep it.
	 */
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
	mallopt(M_MMAP_THRESHOLD, 4 << 20);
	if (o.ncpus) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(o.cpus[0], &set);
		if (sched_setaffinity(0, sizeof(set), &set) < 0) {
			fprintf(stderr, "loadgen: --cpu %d: %s\n", o.cpus[0], strerror(errno));
			rc = 2;
			goto out;
		}
	}

	w = calloc(cfg->threads, sizeof(*w));
	if (!w)
		goto oom;
	for (i = 0; i < cfg->threads; i++) {
		uint32_t conns = lg_thread_conns(cfg, i);
		uint64_t quota = 0;
		double rate = lg_thread_rate(cfg, i);

		if (cfg->requests)
			quota = cfg->requests / cfg->threads + (i < cfg->requests % cfg->threads);
		r = engine_new(&w[i].engine, cfg, i, conns, rate, quota, &stop);
		if (r == -EINVAL) {
			fprintf(stderr, "loadgen: --cacert %s: cannot load it\n", cfg->cafile);
			rc = 2;
			goto out;
		}
		if (r < 0)
			goto oom;
		w[i].cpu = o.ncpus ? o.cpus[i % o.ncpus] : -1;
		w[i].finished = &finished;
	}

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	start_ns = lg_now_ns();
	measure_ns = start_ns + (uint64_t)(cfg->warmup_s * 1e9);
	if (cfg->duration_s > 0)
		end_ns = measure_ns + (uint64_t)(cfg->duration_s * 1e9);
	getrusage(RUSAGE_SELF, &ru0);
	measuring = cfg->warmup_s <= 0;
	if (measuring && cg.n) {
		cg_start = cgcpu_read_each(&cg, cg0) == 0;
		wk_start = cgcpu_wake_each(&cg, wk0) == 0;
	}
	for (i = 0; i < cfg->threads; i++) {
		w[i].start_ns = start_ns;
		w[i].measure_ns = measure_ns;
		r = pthread_create(&w[i].thread, NULL, worker_main, &w[i]);
		if (r != 0) {
			fprintf(stderr, "loadgen: cannot start thread: %s\n", strerror(r));
			atomic_store(&stop, true);
			break;
		}
		started++;
	}
	/*
	 * The server's CPU counters are read on the edges of the measured
	 * window: when counting starts and at its deadline, before the
	 * connections are torn down (-n runs, or threads that ended early: after the join).
	 */
	while (atomic_load(&finished) < started) {
		bool in_window = measuring && cg.n && !cg_end && end_ns;
		int sig = wait_signal(&sigs, !measuring ? measure_ns : in_window ? end_ns : 0);

		if (sig == SIGINT || sig == SIGTERM) {
			interrupted = true;
			atomic_store(&stop, true);
		}
		if (!measuring && lg_now_ns() >= measure_ns) {
			getrusage(RUSAGE_SELF, &ru0);
			measuring = true;
			if (cg.n) {
				cg_start = cgcpu_read_each(&cg, cg0) == 0;
				wk_start = cgcpu_wake_each(&cg, wk0) == 0;
			}
		}
		if (in_window && (interrupted || lg_now_ns() >= end_ns)) {
			cg_end = cgcpu_read_each(&cg, cg1) == 0;
			wk_end = cgcpu_wake_each(&cg, wk1) == 0;
			in_window = false;
		}
	}
	for (i = 0; i < started; i++)
		pthread_join(w[i].thread, NULL);
	getrusage(RUSAGE_SELF, &ru1);
	if (measuring && cg.n && !cg_end) {
		cg_end = cgcpu_read_each(&cg, cg1) == 0;
		wk_end = cgcpu_wake_each(&cg, wk1) == 0;
	}
	if (started < cfg->threads)
		goto out;
	for (i = 0; i < cfg->threads; i++) {
		if (w[i].result < 0) {
			fprintf(stderr, "loadgen: io_uring set-up failed: %s\n", strerror(-w[i].result));
			goto out;
		}
	}

	if (lg_stats_init(&total, cfg->timeline_cap) < 0)
		goto oom;
	per = calloc(cfg->ntargets, sizeof(*per));
	if (!per)
		goto oom;
	for (nper = 0; nper < cfg->ntargets; nper++)
		if (lg_stats_init(&per[nper], cfg->timeline_cap) < 0)
			goto oom;
	memset(&rep, 0, sizeof(rep));
	rep.feat = *engine_features(w[0].engine);
	rep.threads_cpu.valid = measuring;
	for (i = 0; i < cfg->threads; i++) {
		const struct lg_features *f = engine_features(w[i].engine);
		const struct lg_thread_cpu *c = engine_cpu(w[i].engine);

		rep.threads_cpu.valid &= c->valid;
		rep.threads_cpu.ns += c->ns;
		rep.threads_cpu.user_s += c->user_s;
		rep.threads_cpu.sys_s += c->sys_s;
		if (cfg->thread_per_target)
			rep.target_cpu[i] = *c; /* thread i drove target i only */

		for (t = 0; t < cfg->ntargets; t++) {
			lg_stats_merge(&total, engine_stats(w[i].engine, t), cfg->timeline_cap);
			lg_stats_merge(&per[t], engine_stats(w[i].engine, t), cfg->timeline_cap);
		}
		rep.feat.single_issuer &= f->single_issuer;
		rep.feat.coop_taskrun &= f->coop_taskrun;
		rep.feat.ring_fd_registered &= f->ring_fd_registered;
		rep.feat.buf_ring &= f->buf_ring;
		rep.feat.multishot &= f->multishot;
		rep.feat.min_wait &= f->min_wait;
	}
	rep.cfg = cfg;
	rep.st = &total;
	rep.interrupted = interrupted;
	rep.duration_s = total.end_ns > measure_ns ? (double)(total.end_ns - measure_ns) / 1e9 : 0;
	if (measuring) {
		rep.user_s = tv_s(ru1.ru_utime) - tv_s(ru0.ru_utime);
		rep.sys_s = tv_s(ru1.ru_stime) - tv_s(ru0.ru_stime);
	}
	rep.ntargets = cfg->ntargets;
	for (t = 0; t < cfg->ntargets; t++)
		rep.target_st[t] = &per[t];
	rep.server_cpu = cg_start && cg_end;
	for (i = 0; rep.server_cpu && i < (uint32_t)cg.n; i++) {
		if (cg1[i] < cg0[i]) {
			rep.server_cpu = false; /* a counter went back: the cgroup was replaced */
			break;
		}
		rep.cgroup[i].path = o.cgroups[i];
		rep.cgroup[i].target = o.cgroup_target[i];
		rep.cgroup[i].usec = cg1[i] - cg0[i];
		rep.server_cpu_usec += cg1[i] - cg0[i];
		rep.target_cpu_usec[o.cgroup_target[i]] += cg1[i] - cg0[i];
	}
	rep.ncgroups = rep.server_cpu ? cg.n : 0;
	/* the wake-ups only beside a CPU figure, and only if no sum went back */
	rep.wakeups = rep.server_cpu && wk_start && wk_end;
	for (i = 0; rep.wakeups && i < (uint32_t)cg.n; i++)
		if (wk1[i].vol < wk0[i].vol || wk1[i].nonvol < wk0[i].nonvol)
			rep.wakeups = false;
	for (i = 0; rep.wakeups && i < (uint32_t)cg.n; i++) {
		uint32_t tg = o.cgroup_target[i];

		rep.cgroup[i].wake.vol = wk1[i].vol - wk0[i].vol;
		rep.cgroup[i].wake.nonvol = wk1[i].nonvol - wk0[i].nonvol;
		rep.server_wake.vol += rep.cgroup[i].wake.vol;
		rep.server_wake.nonvol += rep.cgroup[i].wake.nonvol;
		rep.target_wake[tg].vol += rep.cgroup[i].wake.vol;
		rep.target_wake[tg].nonvol += rep.cgroup[i].wake.nonvol;
	}
	if (!rep.server_cpu)
		rep.server_cpu_usec = 0;
	rep.timeline_len = (uint32_t)(rep.duration_s + 0.999);
	if (rep.timeline_len > cfg->timeline_cap)
		rep.timeline_len = cfg->timeline_cap;
	if (o.json)
		report_json(stdout, &rep);
	else
		report_text(stdout, &rep);
	fflush(stdout);
	rc = 0;
	goto out;
oom:
	fprintf(stderr, "loadgen: out of memory\n");
	rc = 1;
out:
	lg_stats_free(&total);
	while (nper)
		lg_stats_free(&per[--nper]);
	free(per);
	for (i = 0; w && i < cfg->threads; i++)
		engine_free(w[i].engine);
	free(w);
	for (t = 0; t < cfg->ntargets; t++)
		free(reqbuf[t]);
	cgcpu_close(&cg);
	netns_close(cfg);
	return rc;
}
