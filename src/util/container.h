/* Where a process runs, as the kernel tells it: its pid in its own pid namespace
 * (/proc/PID/status NSpid), its cgroup v2 path (/proc/PID/cgroup "0::"), and the
 * container id and Kubernetes pod UID that path names for the cgroup v2 layouts of
 * containerd, CRI-O, Docker and Podman, systemd and cgroupfs drivers:
 *
 *   containerd  .../kubepods-besteffort-pod<UID_>.slice/cri-containerd-<ID>.scope
 *               /kubepods/besteffort/pod<UID>/<ID>                       (cgroupfs)
 *   CRI-O       .../kubepods-pod<UID_>.slice/crio-<ID>.scope
 *   Docker      /system.slice/docker-<ID>.scope, /docker/<ID>            (cgroupfs)
 *   Podman      .../libpod-<ID>.scope
 *
 * <ID> is 64 hex digits; <UID_> is the pod UID with '_' for '-'. docs/containers.md. */
#ifndef CT_UTIL_CONTAINER_H
#define CT_UTIL_CONTAINER_H

#include <stdbool.h>

struct container_info {
	int ns_pid;          /* the pid inside its innermost pid namespace; 0 unknown */
	char cgroup[512];    /* cgroup v2 path, "/" at the root; "" when not known */
	char runtime[16];    /* "containerd", "cri-o", "docker", "podman"; "" unknown */
	char id[65];         /* container id; "" none */
	char pod_uid[37];    /* Kubernetes pod UID; "" none */
};

/* From /proc/PID/cgroup text (one or more lines): cgroup, runtime, id, pod_uid.
 * Leaves ns_pid. */
void container__parse_cgroup(const char *cgroup_text, struct container_info *ci);
/* The same from /proc/PID/cgroup, plus ns_pid from /proc/PID/status. 0 or
 * -errno (-ENOENT: gone). cgroup_text may be NULL (then it is read). */
int container__read(int pid, const char *cgroup_text, struct container_info *ci);
/* Does the container id match sel (the whole id, or a prefix of at least 12
 * digits, as `docker ps` shows)? */
bool container__id_match(const char *id, const char *sel);

#endif
