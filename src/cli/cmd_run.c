/* ctxtrace run [--fail-on SEVERITY] -- CMD ARGS...: starts CMD with the probes in
 * place before its first instruction, follows it to its exit, and judges what is
 * still stuck when it exits (a leak check for test binaries and CI jobs).
 *
 * The child is traced (PTRACE_TRACEME) only to hold it twice: stopped after its
 * exec, before the Go runtime's first instruction, while the uprobes attach; and
 * stopped at its exit (PTRACE_EVENT_EXIT, before the kernel releases its memory),
 * while its goroutines are read for the last judgement. Only the main thread is
 * traced (no PTRACE_O_TRACECLONE): signals to the other threads are not stopped.
 * Nothing is written to the child, no register changed; every signal it gets is
 * passed on. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/auxv.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/commands.h"
#include "output/alert_out.h"
#include "output/pprof_out.h"
#include "rules/memjudge.h"
#include "rules/rules.h"
#include "session/session.h"
#include "util/log.h"
#include "util/options.h"
#include "util/settings.h"

/* Findings at or above --fail-on, and the program itself exited 0. */
#define EXIT_FINDINGS 3
#define WAIT_MS 50

struct run_opts {
	int fail_on;        /* enum alert_severity; SEV_MAX: never fail for findings */
	bool json;
	const char *profile;
	struct rule_cfg rules;
	char **argv;        /* the program and its arguments */
	struct cli_opts cli; /* what the flags were parsed into (profile points into it) */
};

_Static_assert(SEV_INFO == 0 && SEV_WARNING == 1 && SEV_ERROR == 2 && SEV_MAX == 3,
	       "--fail-on's choices (util/options.c) are enum alert_severity's order, then never");

struct run_state {
	const struct run_opts *o;
	uint32_t during;    /* alerts while it ran */
	uint32_t final[SEV_MAX]; /* findings at exit, by severity */
	struct pprof_out *prof;
	bool prof_failed;
	int pid;
	bool judged;
};

static volatile sig_atomic_t child_changed;

static const char usage[] =
	"usage: ctxtrace run [--fail-on SEVERITY] [--json] [--profile FILE] [--grace DUR] [--min-count N] [--] CMD [ARGS...]\n"
	"Runs CMD (a Go program, e.g. a `go test -c` binary) with the probes attached before\n"
	"its first instruction, prints leak alerts while it runs and the findings still\n"
	"true when it exits, on stderr. Exit status: CMD's own (128+N when killed by\n"
	"signal N); 3 when CMD exited 0 but a finding at exit is at or above --fail-on;\n"
	"1 when CMD cannot be started or traced; 2 usage error. The rule settings apply\n"
	"while CMD runs; at its exit every goroutine still blocked counts, one finding is\n"
	"enough.\n";

/* 0, 1 for --help, -EINVAL for a usage error (reported). The flags end at the
 * program (or --). */
static int parse_args(int argc, char **argv, struct run_opts *o)
{
	bool budget = options__flag_given(argc, argv, "--max-overhead");
	int npos, r = options__parse_cmd(OPT_RUN, argc, argv, &o->cli, &o->rules, &npos, usage);

	if (r)
		return r;
	if (!budget)
		o->rules.max_overhead = 0; /* the table's default is the daemon's */
	if (!npos) {
		error("missing the program to run: ctxtrace run [OPTIONS] -- CMD [ARGS...]");
		return -EINVAL;
	}
	o->fail_on = o->cli.fail_on;
	o->json = o->cli.json;
	if (o->json)
		ct_log_json = true;
	o->profile = o->cli.profile;
	argv[npos + 1] = NULL; /* execvp's end; argv[argc] was NULL before */
	o->argv = argv + 1;
	return 0;
}

static void print_alert(const struct run_opts *o, const struct alert *a)
{
	if (o->json)
		alert_out__json(stderr, a, false);
	else
		alert_out__text(stderr, a);
	fputc('\n', stderr);
	fflush(stderr);
}

static void on_alert(void *cookie, const struct alert *a)
{
	struct run_state *st = cookie;

	st->during++;
	print_alert(st->o, a);
}

static void on_final(void *cookie, const struct alert *a)
{
	struct run_state *st = cookie;

	if (a->severity < SEV_MAX)
		st->final[a->severity]++;
	print_alert(st->o, a);
}

static void on_goroutine(void *cookie, const struct memjudge_go *g)
{
	struct run_state *st = cookie;

	if (st->prof && pprof_out__add(st->prof, g) < 0)
		st->prof_failed = true;
	debug("at exit: goroutine %llu (from %llu) %s%s, %u contexts held, %u channels%s, start %s",
	      (unsigned long long)g->goid, (unsigned long long)g->parent_goid, g->wait ? g->wait : "?",
	      g->system ? " (runtime)" : g->judged ? "" : " (not judged)", g->contexts_held, g->chans,
	      g->waits_on_done ? " (a Done)" : "", g->start_func ? g->start_func : "?");
}

static void on_sigchld(int sig)
{
	(void)sig;
	child_changed = 1;
}

/* A program with an interpreter (PIE, dynamically linked) is stopped after its
 * exec before ld.so has relocated it: the Go data the session reads at open
 * (moduledata, type and itab pointers) is not yet what the program will use. It
 * is run to its entry point, the first instruction of the program itself, with
 * an execution breakpoint in a debug register (DR0/DR7 through PTRACE_POKEUSER:
 * no byte of its memory is written), then stopped there. 0 or -errno. */
static int run_to_entry(pid_t pid)
{
	unsigned long av[2], entry = 0, base = 0, rip;
	struct user_regs_struct regs;
	char path[64];
	int fd, status;

	snprintf(path, sizeof(path), "/proc/%d/auxv", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (read(fd, av, sizeof(av)) == (ssize_t)sizeof(av) && av[0] != AT_NULL) {
		if (av[0] == AT_ENTRY)
			entry = av[1];
		else if (av[0] == AT_BASE)
			base = av[1];
	}
	close(fd);
	if (!base || !entry)
		return 0; /* no interpreter: the next instruction is the program's own */
	if (ptrace(PTRACE_POKEUSER, pid, (void *)offsetof(struct user, u_debugreg[0]), (void *)entry) ||
	    ptrace(PTRACE_POKEUSER, pid, (void *)offsetof(struct user, u_debugreg[7]), (void *)1UL))
		return -errno;
	for (int sig = 0;;) {
		if (ptrace(PTRACE_CONT, pid, NULL, (void *)(long)sig) || waitpid(pid, &status, __WALL) != pid)
			return -errno;
		sig = 0;
		if (!WIFSTOPPED(status))
			return -ESRCH;
		if (WSTOPSIG(status) != SIGTRAP) {
			sig = WSTOPSIG(status); /* passed on */
			continue;
		}
		if (ptrace(PTRACE_GETREGS, pid, NULL, &regs))
			return -errno;
		rip = regs.rip;
		if (rip == entry)
			break;
	}
	ptrace(PTRACE_POKEUSER, pid, (void *)offsetof(struct user, u_debugreg[7]), (void *)0UL);
	ptrace(PTRACE_POKEUSER, pid, (void *)offsetof(struct user, u_debugreg[6]), (void *)0UL);
	return 0;
}

/* Forks the traced child; it stops after its exec (and, with an interpreter, at
 * its entry point). The pid, or -errno with the reason reported. */
static int start_child(char **argv)
{
	int pfd[2], status, e = 0;
	pid_t pid;
	ssize_t n;

	if (pipe2(pfd, O_CLOEXEC)) {
		error("cannot run '%s': %s", argv[0], strerror(errno));
		return -errno;
	}
	pid = fork();
	if (pid < 0) {
		e = errno;
		error("cannot run '%s': fork: %s", argv[0], strerror(e));
		close(pfd[0]);
		close(pfd[1]);
		return -e;
	}
	if (pid == 0) {
		close(pfd[0]);
		/* Ignored signals stay ignored across exec: give the program the defaults. */
		signal(SIGPIPE, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) == 0)
			execvp(argv[0], argv);
		e = errno;
		(void)!write(pfd[1], &e, sizeof(e));
		_exit(127);
	}
	close(pfd[1]);
	n = read(pfd[0], &e, sizeof(e));
	close(pfd[0]);
	if (n == (ssize_t)sizeof(e)) {
		waitpid(pid, &status, 0);
		error("cannot run '%s': %s", argv[0], strerror(e));
		return -e;
	}
	/* The stop after a successful exec (SIGTRAP: no options are set yet). */
	if (waitpid(pid, &status, 0) != pid || !WIFSTOPPED(status)) {
		error("cannot run '%s': it did not stop after its exec", argv[0]);
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		return -ECHILD;
	}
	if (ptrace(PTRACE_SETOPTIONS, pid, NULL,
		   (void *)(long)(PTRACE_O_TRACEEXIT | PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL))) {
		e = errno;
		error("cannot run '%s': ptrace: %s", argv[0], strerror(e));
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		return -e;
	}
	e = -run_to_entry(pid);
	if (e) {
		error("cannot run '%s': cannot stop it at its entry point: %s", argv[0], strerror(e));
		kill(pid, SIGKILL);
		waitpid(pid, &status, __WALL);
		return -e;
	}
	return pid;
}

/* The verdict, from memory, while the kernel holds the process at its exit: a
 * memory-only session of its own, opened now, reads memory as it is at the end
 * (the tracing session keeps what it read at the start, and judges from memory
 * only the goroutines that existed then). The tracing session's queued records
 * go first. */
static void judge_at_exit(struct session *s, struct run_state *st, bool traced)
{
	struct memjudge_limits lim = { .grace_ns = 0, .min_count = 1, .stuck_min = 1 };
	struct session_opts mo = { .pid = st->pid, .memory_only = true, .cookie = st };
	struct memjudge_stats ms;
	struct session *m;
	int n;

	st->judged = true;
	if (traced)
		session__finish(s);
	if (st->o->profile || ct_verbosity >= CT_LOG_DEBUG)
		mo.on_goroutine = on_goroutine;
	m = session__open(&mo);
	if (!m) {
		error("%s: no findings at exit", ct_errmsg());
		return;
	}
	n = session__judge_final(m, &lim, on_final, st);
	if (n < 0)
		error("%s: no findings at exit", ct_errmsg());
	else if (!session__memory_stats(m, &ms))
		verbose("at exit: %u goroutines (%u of the runtime), %u judged, %u running, %u left out "
			"(changed while read or unreadable), %u contexts read",
			ms.goroutines, ms.system, ms.user, ms.running, ms.left_out, ms.contexts);
	session__free(m);
}

/* Follows the child to its end; its wait status, or -errno. */
static int follow(pid_t pid, struct session *s, struct run_state *st)
{
	bool gone = false;
	int status = 0;

	for (;;) {
		pid_t w;

		child_changed = 0;
		w = waitpid(pid, &status, WNOHANG | __WALL);
		if (w < 0)
			return -errno;
		if (w == pid && (WIFEXITED(status) || WIFSIGNALED(status)))
			break;
		if (w == pid && WIFSTOPPED(status)) {
			int sig = WSTOPSIG(status), ev = status >> 16;

			if (ev == PTRACE_EVENT_EXIT) {
				judge_at_exit(s, st, !gone);
				sig = 0;
			} else if (ev == PTRACE_EVENT_EXEC) {
				/* Another program now: the probes were for the old image. */
				if (!gone)
					info("pid %d executed another program: not traced any more", pid);
				gone = true;
				sig = 0;
			} /* any other stop is a signal for it (the events are the only traps) */
			ptrace(PTRACE_CONT, pid, NULL, (void *)(long)sig);
			continue;
		}
		if (!gone) {
			int err = session__poll(s, child_changed ? 0 : WAIT_MS);

			if (err == -ESRCH)
				gone = true;
			else if (err && err != -EINTR)
				error("%s", ct_errmsg());
		} else {
			usleep(WAIT_MS * 1000);
		}
	}
	if (!gone)
		session__finish(s);
	return status;
}

int cmd_run(int argc, char **argv)
{
	struct run_opts o = { 0 };
	struct run_state st = { .o = &o };
	struct session_opts so = { 0 };
	struct sigaction sa = { .sa_handler = on_sigchld, };
	struct session *s = NULL;
	int err, status, worst = -1;
	pid_t pid;

	err = parse_args(argc, argv, &o);
	if (err)
		return err > 0 ? 0 : EXIT_USAGE;
	/* SIGCHLD wakes the poll (no SA_RESTART), so a stopped child waits little. */
	sigaction(SIGCHLD, &sa, NULL);
	/* Ctrl-C goes to the whole foreground group, the child included: its exit
	 * (and judgement) follows. */
	signal(SIGINT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	pid = start_child(o.argv);
	if (pid < 0)
		return EXIT_CANNOT;
	so.pid = pid;
	st.pid = pid;
	so.rules = true;
	so.grace_ns = o.rules.grace;
	so.min_count = (uint32_t)o.rules.min_count;
	so.retention_ns = o.rules.retention;
	so.max_nodes = (uint32_t)o.rules.max_nodes;
	so.stuck_min = (uint32_t)o.rules.stuck_min;
	so.probes = o.rules.probes;
	so.max_overhead = (uint32_t)o.rules.max_overhead;
	so.on_alert = on_alert;
	so.cookie = &st;
	s = session__open(&so);
	if (!s) {
		error("%s", ct_errmsg());
		kill(pid, SIGKILL);
		waitpid(pid, &status, __WALL);
		return EXIT_CANNOT;
	}
	if (ptrace(PTRACE_CONT, pid, NULL, NULL)) {
		error("cannot resume pid %d: %s", pid, strerror(errno));
		session__free(s);
		kill(pid, SIGKILL);
		waitpid(pid, &status, __WALL);
		return EXIT_CANNOT;
	}
	if (o.profile) {
		st.prof = pprof_out__new(pid, o.argv[0]);
		if (!st.prof)
			st.prof_failed = true;
	}
	status = follow(pid, s, &st);
	if (st.prof && st.judged && !st.prof_failed) {
		if (pprof_out__write(st.prof, o.profile))
			error("%s", ct_errmsg());
		else
			info("%u stuck goroutines written to %s", pprof_out__samples(st.prof), o.profile);
	} else if (o.profile) {
		error("no profile written to %s: %s", o.profile,
		      st.prof_failed ? "out of memory" : "the program was not judged at its exit");
	}
	pprof_out__free(st.prof);
	session__free(s);
	if (status < 0) {
		error("lost pid %d: %s", pid, strerror(-status));
		return EXIT_CANNOT;
	}
	for (int i = 0; i < SEV_MAX; i++)
		if (st.final[i])
			worst = i;
	if (!st.judged)
		info("pid %d was not judged at its exit", pid);
	else
		info("%s: findings at exit: %u (%u error, %u warning, %u info); alerts while it ran: %u",
		     o.argv[0], st.final[SEV_ERROR] + st.final[SEV_WARNING] + st.final[SEV_INFO],
		     st.final[SEV_ERROR], st.final[SEV_WARNING], st.final[SEV_INFO], st.during);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	if (WEXITSTATUS(status))
		return WEXITSTATUS(status);
	if (o.fail_on < SEV_MAX && worst >= o.fail_on) {
		error("%s: findings at or above %s at exit: failing", o.argv[0],
		      severity_name((enum alert_severity)o.fail_on));
		return EXIT_FINDINGS;
	}
	return 0;
}
