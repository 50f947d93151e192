/* daemon/client.c against a fake daemon on a unix socket: error replies are read
 * with the JSON reader (escapes, member order, strings that only look like an
 * error), text-mode errors, and a normal reply copied through. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon/client.h"
#include "util/log.h"

static char dir[64], path[96];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/ct-client-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/d.sock", dir);
	return 0;
}

static int teardown(void **state)
{
	unlink(path);
	rmdir(dir);
	return 0;
}

/* Serves one connection: reads the request line, answers reply, closes. */
static pid_t fake_daemon(const char *reply)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int ls = socket(AF_UNIX, SOCK_STREAM, 0);
	pid_t pid;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(ls, 1), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int c = accept(ls, NULL, NULL);
		char ch;

		while (read(c, &ch, 1) == 1 && ch != '\n')
			;
		if (write(c, reply, strlen(reply)) < 0)
			_exit(1);
		close(c);
		_exit(0);
	}
	close(ls);
	return pid;
}

static int request(const char *reply, char *out, size_t size)
{
	pid_t pid = fake_daemon(reply);
	FILE *f = fmemopen(out, size, "w");
	int err, st;

	memset(out, 0, size);
	err = daemon_client__request(path, "status", f);
	fclose(f);
	waitpid(pid, &st, 0);
	return err;
}

static void test_json_error(void **state)
{
	char out[256];

	assert_int_equal(request("{\"type\":\"error\",\"message\":\"pid 7: \\\"x\\\"\\nnext \\u00e9\"}\n", out,
				 sizeof(out)), -EPROTO);
	assert_string_equal(ct_errmsg(), "ctxtraced: pid 7: \"x\" next \xc3\xa9");
	assert_string_equal(out, "");
	/* Members in another order are still an error reply. */
	assert_int_equal(request("{\"message\":\"busy\",\"type\":\"error\"}\n", out, sizeof(out)), -EPROTO);
	assert_string_equal(ct_errmsg(), "ctxtraced: busy");
}

static void test_text_error(void **state)
{
	char out[256];

	assert_int_equal(request("error: unknown request 'nope'\n", out, sizeof(out)), -EPROTO);
	assert_string_equal(ct_errmsg(), "ctxtraced: unknown request 'nope'");
}

static void test_reply_copied(void **state)
{
	static const char reply[] = "{\"type\":\"status\",\"note\":\"{\\\"type\\\":\\\"error\\\"}\"}\nsecond line\n";
	char out[256];

	assert_int_equal(request(reply, out, sizeof(out)), 0);
	assert_string_equal(out, reply);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_error),
		cmocka_unit_test(test_text_error),
		cmocka_unit_test(test_reply_copied),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
