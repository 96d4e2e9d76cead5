/*
 * Description: libFuzzer target for loadgen's command line (opts_parse, with
 * the --netns and --cgroup lists): the input is argv, NUL-separated. No
 * crash, no over-read; a refusal says why; an accepted command line is
 * consistent: every target has as many connections, one namespace entry
 * (none, or a non-empty path without a comma), a complete request, and with
 * -R every thread's connections are spread evenly over the targets.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bench/loadgen/opts.h"
#include "tests/fuzz/argv.h"

#define FUZZ_ARGS 40

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct lg_opts o;

static void check_ok(void)
{
	const struct lg_config *cfg = &o.cfg;
	uint32_t per_target[LG_TARGETS_MAX] = { 0 };
	uint32_t t, th, i, g = 0;

	if (cfg->ntargets < 1 || cfg->ntargets > LG_TARGETS_MAX || cfg->conns % cfg->ntargets ||
	    cfg->threads < 1 || cfg->threads > cfg->conns)
		abort();
	if (cfg->thread_per_target && cfg->threads != cfg->ntargets)
		abort();
	if (cfg->home_netns_fd != -1)
		abort();
	for (t = 0; t < LG_TARGETS_MAX; t++) {
		const char *ns = cfg->target[t].netns;

		if (cfg->target[t].netns_fd != -1)
			abort();
		if (!ns)
			continue;
		if (t >= cfg->ntargets || !*ns || strchr(ns, ',') || ns < o.netns_text ||
		    ns + strlen(ns) >= o.netns_text + sizeof(o.netns_text))
			abort();
	}
	for (t = 0; t < cfg->ntargets; t++) {
		const struct lg_target *tg = &cfg->target[t];

		if (!tg->request || tg->request_len < 4 || strlen(tg->request) != tg->request_len ||
		    memcmp(tg->request, "GET /", 5) != 0 ||
		    memcmp(tg->request + tg->request_len - 4, "\r\n\r\n", 4) != 0)
			abort();
	}
	for (th = 0; th < cfg->threads; th++) {
		uint32_t mine[LG_TARGETS_MAX] = { 0 };

		if (lg_thread_first_conn(cfg, th) != g || !lg_thread_conns(cfg, th))
			abort();
		for (i = 0; i < lg_thread_conns(cfg, th); i++, g++) {
			t = lg_conn_target(cfg, g);
			if (t >= cfg->ntargets)
				abort();
			per_target[t]++;
			mine[t]++;
		}
		/* a thread per target drives its own; with -R each thread all alike */
		for (t = 0; t < cfg->ntargets; t++) {
			uint32_t own = t == th ? cfg->conns / cfg->ntargets : 0;

			if (cfg->thread_per_target && mine[t] != own)
				abort();
			if (cfg->rate > 0 && !cfg->thread_per_target && mine[t] != mine[0])
				abort();
		}
	}
	if (g != cfg->conns)
		abort();
	for (t = 0; t < cfg->ntargets; t++)
		if (per_target[t] != cfg->conns / cfg->ntargets)
			abort();
	for (i = 0; i < (uint32_t)o.ncgroups; i++)
		if (!o.cgroups[i][0] || strchr(o.cgroups[i], ',') ||
		    o.cgroup_target[i] >= cfg->ntargets)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf, *argv[FUZZ_ARGS + 2], err[512];
	int argc, r;

	buf = fuzz_argv(data, size, "loadgen", argv, FUZZ_ARGS, &argc);
	if (!buf)
		return 0;
	err[0] = '\0';
	r = opts_parse(&o, argc, argv, err, sizeof(err));
	if (r < 0 && (!err[0] || !memchr(err, '\0', sizeof(err))))
		abort();
	if (r == 0 && !o.help)
		check_ok();
	free(buf);
	return 0;
}
