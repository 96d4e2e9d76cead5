/*
 * Description: systemd's syscall sets (SystemCallFilter=@name), expanded
 * to syscall names: parsed from `systemd-analyze syscall-filter` when
 * systemd is installed, else a built-in copy of @system-service.
 */
#ifndef SYSCOST_SYSSET_H
#define SYSCOST_SYSSET_H

#include <stddef.h>

struct sysset {
	char **names; /* owned, unique, in first-seen order */
	size_t n;
};

/*
 * Expands set (e.g. "@system-service") from text, the output of
 * `systemd-analyze syscall-filter` without arguments: a set starts with a
 * line "@name" in column 0, its members follow indented (syscall names or
 * "@other" sets, expanded recursively), "#" lines are comments, and a line
 * not indented ends the set. Returns 0, -ENOENT when set (or a set it
 * includes) is not in text, -ELOOP for nesting deeper than 16, -ENOMEM.
 * *ret is untouched on failure; release it with sysset_free.
 */
int sysset_parse(const char *text, size_t len, const char *set, struct sysset *ret);

/* Runs `systemd-analyze syscall-filter` and expands set. Returns 0 or
 * -errno (-ENOENT also when systemd-analyze is missing or fails). */
int sysset_from_systemd(const char *set, struct sysset *ret);

/* A copy of the built-in @system-service list. Returns 0 or -ENOMEM. */
int sysset_builtin_system_service(struct sysset *ret);

void sysset_free(struct sysset *s);

#endif
