/*
 * Description: probing the machine and this process for the record.
 */
#include "bench/syscost/env.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/syscost/bpf.h"
#include "bench/syscost/filter.h"
#include "bench/syscost/measure.h"

static int read_int(const char *path)
{
	FILE *f = fopen(path, "re");
	int v = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%d", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

double env_loadavg(void)
{
	FILE *f = fopen("/proc/loadavg", "re");
	double v = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%lf", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/* "Key:\tvalue" of /proc/self/status, or -1. */
static int status_field(const char *key)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	size_t kl = strlen(key);
	int v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
			if (sscanf(line + kl + 1, "%d", &v) != 1)
				v = -1;
			break;
		}
	fclose(f);
	return v;
}

static void cpu_model(char *buf, size_t size)
{
	FILE *f = fopen("/proc/cpuinfo", "re");
	char line[512];

	snprintf(buf, size, "unknown");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "model name", 10) == 0) {
			char *v = strchr(line, ':');

			if (v) {
				v += 1 + strspn(v + 1, " \t");
				v[strcspn(v, "\n")] = '\0';
				snprintf(buf, size, "%s", v);
			}
			break;
		}
	fclose(f);
}

/*
 * Does clock_gettime work without the syscall? A child denies the syscall
 * with a filter and calls it: success means the vDSO answered.
 */
static int probe_vdso(void)
{
	struct sock_filter insns[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clock_gettime, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct bpf_prog prog = {insns, sizeof(insns) / sizeof(insns[0])};
	pid_t pid = fork();
	int ws;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		struct timespec ts;

		if (measure_install(&prog) < 0)
			measure_child_exit(2);
		measure_child_exit(clock_gettime(CLOCK_MONOTONIC, &ts) == 0 ? 0 : 1);
	}
	while (waitpid(pid, &ws, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (!WIFEXITED(ws) || WEXITSTATUS(ws) > 1)
		return -1;
	return WEXITSTATUS(ws) == 0;
}

int env_probe(int cpu, unsigned calib_ms, struct env *ret)
{
	const struct scmp_version *v = seccomp_version();
	int table[1024];
	struct utsname u;
	size_t nt = 0;
	int r;

	memset(ret, 0, sizeof(*ret));
	if (uname(&u) == 0) {
		snprintf(ret->kernel, sizeof(ret->kernel), "%s", u.release);
		snprintf(ret->machine, sizeof(ret->machine), "%s", u.machine);
	}
	cpu_model(ret->cpu_model, sizeof(ret->cpu_model));
	ret->cpus_online = (int)sysconf(_SC_NPROCESSORS_ONLN);
	ret->cpu = cpu;
	r = tsc_probe(NULL, calib_ms, &ret->tsc);
	if (r < 0)
		return r;
	if (v)
		snprintf(ret->libseccomp, sizeof(ret->libseccomp), "%u.%u.%u", v->major, v->minor,
			 v->micro);
	ret->syscall_table = filter_syscall_table(table, 1024, &nt) == 0 ? (int)nt : -1;
	ret->bpf_jit = read_int("/proc/sys/net/core/bpf_jit_enable");
	ret->seccomp_mode = status_field("Seccomp");
	ret->seccomp_filters = status_field("Seccomp_filters");
	ret->no_new_privs = status_field("NoNewPrivs");
	ret->vdso_clock_gettime = probe_vdso();
	ret->loadavg_start = env_loadavg();
	return 0;
}
