/* util/container.h: the cgroup v2 layouts of containerd, CRI-O, Docker and Podman
 * (systemd and cgroupfs drivers, as their documentation and a node's
 * /proc/PID/cgroup show them), and NSpid against this process's own status. */
#include <stdarg.h>
#include <errno.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "util/container.h"

#define ID "3f4e1b2c5d6a7980a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718"
#define UID "7c1c6a8e-2d7b-4a4e-9b0e-0d6f5c1b2a39"
#define UID_ "7c1c6a8e_2d7b_4a4e_9b0e_0d6f5c1b2a39"

static void expect(const char *text, const char *cgroup, const char *runtime, const char *id, const char *pod)
{
	struct container_info ci;

	memset(&ci, 0x55, sizeof(ci));
	container__parse_cgroup(text, &ci);
	assert_string_equal(ci.cgroup, cgroup);
	assert_string_equal(ci.runtime, runtime);
	assert_string_equal(ci.id, id);
	assert_string_equal(ci.pod_uid, pod);
}

static void test_layouts(void **state)
{
	/* containerd, systemd driver (kubelet --cgroup-driver=systemd) */
	expect("0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
	       ".slice/cri-containerd-" ID ".scope\n",
	       "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_ ".slice/cri-containerd-" ID
	       ".scope",
	       "containerd", ID, UID);
	/* Guaranteed QoS: no QoS slice */
	expect("0::/kubepods.slice/kubepods-pod" UID_ ".slice/cri-containerd-" ID ".scope",
	       "/kubepods.slice/kubepods-pod" UID_ ".slice/cri-containerd-" ID ".scope", "containerd", ID, UID);
	/* containerd or CRI-O, cgroupfs driver */
	expect("0::/kubepods/burstable/pod" UID "/" ID, "/kubepods/burstable/pod" UID "/" ID, "", ID, UID);
	/* CRI-O, systemd driver; conmon's own scope is not the container */
	expect("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice/crio-" ID ".scope",
	       "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice/crio-" ID ".scope",
	       "cri-o", ID, UID);
	expect("0::/kubepods.slice/kubepods-pod" UID_ ".slice/crio-conmon-" ID ".scope",
	       "/kubepods.slice/kubepods-pod" UID_ ".slice/crio-conmon-" ID ".scope", "", "", UID);
	/* Docker, systemd and cgroupfs drivers */
	expect("0::/system.slice/docker-" ID ".scope", "/system.slice/docker-" ID ".scope", "docker", ID, "");
	expect("0::/docker/" ID, "/docker/" ID, "docker", ID, "");
	/* Podman */
	expect("0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID ".scope",
	       "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID ".scope", "podman", ID, "");
	/* hybrid hierarchy: the v1 lines are not the path */
	expect("12:memory:/docker/" ID "\n1:name=systemd:/x\n0::/system.slice/ssh.service\n",
	       "/system.slice/ssh.service", "", "", "");
	/* not a container: a service, the root, no v2 line, near misses */
	expect("0::/system.slice/nginx.service", "/system.slice/nginx.service", "", "", "");
	expect("0::/", "/", "", "", "");
	expect("3:cpu:/foo\n", "", "", "", "");
	expect("0::/docker/" "3F4E1B2C5D6A7980A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718", "/docker/"
	       "3F4E1B2C5D6A7980A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718", "", "", "");
	expect("0::/docker/" ID "0", "/docker/" ID "0", "", "", "");
	expect("0::/kubepods/podnotauid/x", "/kubepods/podnotauid/x", "", "", "");
	expect("", "", "", "", "");
}

static void test_id_match(void **state)
{
	assert_true(container__id_match(ID, ID));
	assert_true(container__id_match(ID, "3f4e1b2c5d6a"));
	assert_false(container__id_match(ID, "3f4e1b2c5d6")); /* under 12 digits */
	assert_false(container__id_match(ID, "3f4e1b2c5d6b"));
	assert_false(container__id_match("", "3f4e1b2c5d6a"));
}

static void test_nspid(void **state)
{
	struct container_info ci;

	/* This process: its own pid namespace's view is NSpid's last field; in the
	 * initial namespace that is its pid. */
	assert_int_equal(container__read(getpid(), NULL, &ci), 0);
	assert_true(ci.ns_pid > 0);
	if (access("/proc/self/ns/pid", F_OK) == 0) {
		char a[64] = "", b[64] = "";
		ssize_t n1 = readlink("/proc/self/ns/pid", a, sizeof(a) - 1), n2 = readlink("/proc/1/ns/pid", b, sizeof(b) - 1);

		if (n1 > 0 && n2 > 0 && !strcmp(a, b))
			assert_int_equal(ci.ns_pid, getpid());
	}
	assert_int_equal(container__read(0x7ffffff0, NULL, &ci), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layouts),
		cmocka_unit_test(test_id_match),
		cmocka_unit_test(test_nspid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
