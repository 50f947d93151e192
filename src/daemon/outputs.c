#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-journal.h>

#include "daemon/config.h"
#include "daemon/outputs.h"
#include "daemon/server.h"
#include "output/events_out.h"
#include "util/log.h"

#define HISTORY_MAX 128
#define JOURNAL_SOCKET "/run/systemd/journal/socket"

struct jsonl_file {
	char *path;
	int fd;
	uint64_t size, max_size;
	int keep;
	uint64_t rotations;
};

struct history_entry {
	char *json;
	char *text;
};

struct outputs {
	struct server *srv;
	bool journal;
	bool log_events;
	struct jsonl_file *file;
	struct history_entry hist[HISTORY_MAX];
	unsigned int hist_next, hist_n;
	struct outputs_stats st;
};

static const char *const kind_names[OUT_KIND_MAX] = {
	[OUT_ALERT] = "alert",
	[OUT_ATTACH] = "target_attach",
	[OUT_DETACH] = "target_detach",
	[OUT_ATTACH_FAILED] = "target_attach_failed",
	[OUT_DAEMON] = "daemon",
	[OUT_BUDGET] = "target_budget",
};

/* journalctl MESSAGE_ID=... finds every record of one kind. */
static const char *const message_ids[OUT_KIND_MAX] = {
	[OUT_ALERT] = "5e2a4c1b7d9f4e3a8b6c0d1e2f3a4b01",
	[OUT_ATTACH] = "5e2a4c1b7d9f4e3a8b6c0d1e2f3a4b02",
	[OUT_DETACH] = "5e2a4c1b7d9f4e3a8b6c0d1e2f3a4b03",
	[OUT_ATTACH_FAILED] = "5e2a4c1b7d9f4e3a8b6c0d1e2f3a4b04",
	[OUT_DAEMON] = "5e2a4c1b7d9f4e3a8b6c0d1e2f3a4b05",
	[OUT_BUDGET] = "5e2a4c1b7d9f4e3a8b6c0d1e2f3a4b06",
};

void outputs__timestamp(char *buf, size_t size)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	/* The same time format as the event stream (ctxtrace watch --json). */
	ct_format_time((int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec, buf, size);
}

static int file_open(struct jsonl_file *f, bool truncate)
{
	struct stat st;

	f->fd = open(f->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | (truncate ? O_TRUNC : 0), 0640);
	if (f->fd < 0)
		return -errno;
	f->size = fstat(f->fd, &st) ? 0 : (uint64_t)st.st_size;
	return 0;
}

struct jsonl_file *jsonl_file__open(const char *path, uint64_t max_size, int keep)
{
	struct jsonl_file *f = calloc(1, sizeof(*f));
	int err;

	if (!f || !(f->path = strdup(path))) {
		free(f);
		ct_errmsg_set("out of memory");
		errno = ENOMEM;
		return NULL;
	}
	f->max_size = max_size;
	f->keep = keep;
	err = file_open(f, false);
	if (err) {
		ct_errmsg_set("cannot open the JSON file %s: %s", path, strerror(-err));
		free(f->path);
		free(f);
		errno = -err;
		return NULL;
	}
	return f;
}

static int rotate(struct jsonl_file *f)
{
	size_t n = strlen(f->path) + 16;
	char from[n], to[n];

	close(f->fd);
	f->fd = -1;
	if (f->keep > 0) {
		for (int i = f->keep - 1; i >= 1; i--) {
			snprintf(from, n, "%s.%d", f->path, i);
			snprintf(to, n, "%s.%d", f->path, i + 1);
			if (rename(from, to) && errno != ENOENT)
				return -errno;
		}
		snprintf(to, n, "%s.1", f->path);
		if (rename(f->path, to) && errno != ENOENT)
			return -errno;
	}
	f->rotations++;
	return file_open(f, true);
}

int jsonl_file__write(struct jsonl_file *f, const char *line, size_t len)
{
	struct iovec iov[2] = { { (void *)line, len }, { "\n", 1 } };
	size_t want = len + 1, done = 0;
	struct stat st;
	int err;

	/* Someone moved or removed the file (logrotate): start a new one. */
	if (f->fd >= 0 && !fstat(f->fd, &st) && st.st_nlink == 0) {
		close(f->fd);
		f->fd = -1;
	}
	if (f->fd < 0 && (err = file_open(f, false)))
		return err;
	if (f->size > 0 && f->size + want > f->max_size && (err = rotate(f)))
		return err;
	while (done < want) {
		ssize_t n = writev(f->fd, iov, 2);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += (size_t)n;
		f->size += (uint64_t)n;
		/* A short write: advance the iovecs past what went out. */
		for (int i = 0; i < 2 && n > 0; i++) {
			size_t k = (size_t)n < iov[i].iov_len ? (size_t)n : iov[i].iov_len;

			iov[i].iov_base = (char *)iov[i].iov_base + k;
			iov[i].iov_len -= k;
			n -= (ssize_t)k;
		}
	}
	return 0;
}

uint64_t jsonl_file__rotations(const struct jsonl_file *f)
{
	return f->rotations;
}

void jsonl_file__close(struct jsonl_file *f)
{
	if (!f)
		return;
	if (f->fd >= 0)
		close(f->fd);
	free(f->path);
	free(f);
}

static bool journal_available(void)
{
	return access(JOURNAL_SOCKET, W_OK) == 0;
}

int outputs__configure(struct outputs *o, const struct config *c)
{
	const struct output_cfg *oc = &c->output;
	struct jsonl_file *nf = NULL;

	if (oc->json_file && *oc->json_file) {
		if (o->file && !strcmp(o->file->path, oc->json_file)) {
			o->file->max_size = oc->json_file_max_size;
			o->file->keep = (int)oc->json_file_keep;
		} else {
			nf = jsonl_file__open(oc->json_file, oc->json_file_max_size, (int)oc->json_file_keep);
			if (!nf)
				return -errno;
			if (o->file)
				o->st.file_rotations += o->file->rotations;
			jsonl_file__close(o->file);
			o->file = nf;
		}
	} else if (o->file) {
		o->st.file_rotations += o->file->rotations;
		jsonl_file__close(o->file);
		o->file = NULL;
	}
	switch (c->daemon.log) {
	case LOG_JOURNAL:
		o->journal = true;
		break;
	case LOG_STDERR:
		o->journal = false;
		break;
	default:
		o->journal = journal_available();
	}
	o->log_events = c->daemon.log_events;
	return 0;
}

struct outputs *outputs__new(const struct config *c, struct server *srv)
{
	struct outputs *o = calloc(1, sizeof(*o));
	int err;

	if (!o) {
		ct_errmsg_set("out of memory");
		errno = ENOMEM;
		return NULL;
	}
	o->srv = srv;
	err = outputs__configure(o, c);
	if (err) {
		free(o);
		errno = -err;
		return NULL;
	}
	return o;
}

void outputs__set_server(struct outputs *o, struct server *srv)
{
	o->srv = srv;
}

void outputs__free(struct outputs *o)
{
	if (!o)
		return;
	jsonl_file__close(o->file);
	for (unsigned int i = 0; i < HISTORY_MAX; i++) {
		free(o->hist[i].json);
		free(o->hist[i].text);
	}
	free(o);
}

static void log_journal(struct outputs *o, const struct out_event *ev)
{
	struct iovec iov[10];
	char *bufs[10] = { 0 };
	int n = 0, r;

#define FIELD(...)                                                     \
	do {                                                           \
		if (asprintf(&bufs[n], __VA_ARGS__) >= 0) {             \
			iov[n].iov_base = bufs[n];                     \
			iov[n].iov_len = strlen(bufs[n]);              \
			n++;                                           \
		} else {                                               \
			bufs[n] = NULL;                                \
		}                                                      \
	} while (0)

	FIELD("MESSAGE=%s", ev->text);
	FIELD("PRIORITY=%d", ev->priority);
	FIELD("SYSLOG_IDENTIFIER=ctxtraced");
	FIELD("MESSAGE_ID=%s", message_ids[ev->kind]);
	FIELD("CTXTRACE_EVENT=%s", kind_names[ev->kind]);
	FIELD("CTXTRACE_JSON=%s", ev->json);
	if (ev->target)
		FIELD("CTXTRACE_TARGET=%s", ev->target);
	if (ev->pid)
		FIELD("CTXTRACE_PID=%d", ev->pid);
	if (ev->rule)
		FIELD("CTXTRACE_RULE=%s", ev->rule);
#undef FIELD
	r = sd_journal_sendv(iov, n);
	for (int i = 0; i < n; i++)
		free(bufs[i]);
	if (r < 0) {
		/* journald went away: say it once, then use stderr. */
		error("cannot log to journald (%s); logging to stderr", strerror(-r));
		o->journal = false;
		fprintf(stderr, "ctxtraced: %s\n", ev->text);
	}
}

void outputs__emit(struct outputs *o, const struct out_event *ev)
{
	o->st.emitted[ev->kind]++;
	if (ev->kind == OUT_ALERT || ev->kind == OUT_DAEMON || o->log_events) {
		o->st.log_lines++;
		if (o->journal)
			log_journal(o, ev);
		else
			fprintf(stderr, "ctxtraced: %s\n", ev->text);
	}
	if (o->file) {
		if (jsonl_file__write(o->file, ev->json, strlen(ev->json)))
			o->st.file_errors++;
		else
			o->st.file_lines++;
	}
	server__publish(o->srv, ev->json, ev->text, ev->kind == OUT_ALERT);
	if (ev->kind == OUT_ALERT) {
		struct history_entry *h = &o->hist[o->hist_next];

		free(h->json);
		free(h->text);
		h->json = strdup(ev->json);
		h->text = strdup(ev->text);
		o->hist_next = (o->hist_next + 1) % HISTORY_MAX;
		if (o->hist_n < HISTORY_MAX)
			o->hist_n++;
	}
}

void outputs__write_history(struct outputs *o, FILE *f, bool text)
{
	unsigned int start = (o->hist_next + HISTORY_MAX - o->hist_n) % HISTORY_MAX;

	for (unsigned int i = 0; i < o->hist_n; i++) {
		struct history_entry *h = &o->hist[(start + i) % HISTORY_MAX];
		const char *line = text ? h->text : h->json;

		if (line)
			fprintf(f, "%s\n", line);
	}
}

void outputs__stats(const struct outputs *o, struct outputs_stats *st)
{
	*st = o->st;
	if (o->file)
		st->file_rotations += o->file->rotations;
}

const char *outputs__log_name(const struct outputs *o)
{
	return o->journal ? "journal" : "stderr";
}
