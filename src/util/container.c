#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/container.h"

static bool hex_run(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return false;
	return true;
}

/* A component naming a container: [prefix-]<64 hex>[.scope]. */
static bool parse_id(const char *comp, size_t len, struct container_info *ci)
{
	static const struct {
		const char *prefix, *runtime;
	} pre[] = { { "cri-containerd-", "containerd" }, { "crio-", "cri-o" }, { "docker-", "docker" },
		    { "libpod-", "podman" }, { "", "" } };

	if (len > 6 && !memcmp(comp + len - 6, ".scope", 6))
		len -= 6;
	for (size_t i = 0; i < sizeof(pre) / sizeof(pre[0]); i++) {
		size_t pl = strlen(pre[i].prefix);

		if (len != pl + 64 || memcmp(comp, pre[i].prefix, pl) || !hex_run(comp + pl, 64))
			continue;
		memcpy(ci->id, comp + pl, 64);
		ci->id[64] = '\0';
		snprintf(ci->runtime, sizeof(ci->runtime), "%s", pre[i].runtime);
		return true;
	}
	return false;
}

/* A component naming a pod: [kubepods-[QOS-]]pod<UID or UID_>[.slice]. */
static bool parse_pod(const char *comp, size_t len, struct container_info *ci)
{
	const char *p = NULL;

	for (size_t i = 0; i + 3 <= len; i++) {
		if (!memcmp(comp + i, "pod", 3) && (i == 0 || comp[i - 1] == '-')) {
			p = comp + i + 3;
			break;
		}
	}
	if (!p)
		return false;
	len -= (size_t)(p - comp);
	if (len > 6 && !memcmp(p + len - 6, ".slice", 6))
		len -= 6;
	if (len != 36)
		return false;
	for (size_t i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? (p[i] != '-' && p[i] != '_') : !isxdigit((unsigned char)p[i]))
			return false;
		ci->pod_uid[i] = dash ? '-' : p[i];
	}
	ci->pod_uid[36] = '\0';
	return true;
}

void container__parse_cgroup(const char *text, struct container_info *ci)
{
	const char *line = text;

	ci->cgroup[0] = ci->runtime[0] = ci->id[0] = ci->pod_uid[0] = '\0';
	/* The unified hierarchy's line: "0::/path". */
	while (line && *line) {
		const char *eol = strchr(line, '\n');
		size_t len = eol ? (size_t)(eol - line) : strlen(line);

		if (len >= 3 && !memcmp(line, "0::", 3)) {
			snprintf(ci->cgroup, sizeof(ci->cgroup), "%.*s", (int)(len - 3), line + 3);
			break;
		}
		line = eol ? eol + 1 : NULL;
	}
	for (const char *c = ci->cgroup; *c;) {
		const char *end;

		while (*c == '/')
			c++;
		end = strchr(c, '/');
		if (!end)
			end = c + strlen(c);
		if (end > c) {
			parse_pod(c, (size_t)(end - c), ci);
			parse_id(c, (size_t)(end - c), ci); /* the innermost one wins */
		}
		c = end;
	}
	/* A bare id under cgroupfs' /docker/ is Docker's. */
	if (ci->id[0] && !ci->runtime[0] && !strncmp(ci->cgroup, "/docker/", 8))
		snprintf(ci->runtime, sizeof(ci->runtime), "docker");
}

static int read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

int container__read(int pid, const char *cgroup_text, struct container_info *ci)
{
	char path[64], buf[4096], *l;
	int err;

	memset(ci, 0, sizeof(*ci));
	if (!cgroup_text) {
		snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
		err = read_file(path, buf, sizeof(buf));
		if (err)
			return err;
		container__parse_cgroup(buf, ci);
	} else {
		container__parse_cgroup(cgroup_text, ci);
	}
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	err = read_file(path, buf, sizeof(buf));
	if (err)
		return err;
	/* "NSpid:\t4242\t7\t1": outermost first, the innermost last. */
	l = strstr(buf, "\nNSpid:");
	if (l) {
		char *eol = strchr(l + 1, '\n'), *last = NULL;

		if (eol)
			*eol = '\0';
		for (char *p = l + 7; *p; p++)
			if (isdigit((unsigned char)*p) && (p[-1] == '\t' || p[-1] == ' ' || p[-1] == ':'))
				last = p;
		if (last)
			sscanf(last, "%d", &ci->ns_pid);
	}
	return 0;
}

bool container__id_match(const char *id, const char *sel)
{
	size_t n = strlen(sel);

	return id[0] && n >= 12 && n <= 64 && !strncmp(id, sel, n);
}
