// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The node layer against a stand-in kernel: this program defines ioctl()
 * (NODE_JOIN, NODE_ATTACH/DETACH, NODE_EVENT, NODE_RECORD, RECV), poll()
 * and write() over fake channel queues, whose ends are files in a
 * directory given as SNAPCHAN_DEV_DIR.  Checks that snapchan_node_recv()
 * puts record requests (node fd, then markers) before data, serves the
 * incoming channels in turn, keeps a too-long message queued with
 * -EMSGSIZE, reports a hangup once and stops polling that channel, times
 * out; that snapchan_node_record() consumes the marker; and that
 * snapchan_node_run() records the state the save callback gives, grows
 * its buffer, ticks and stops on a callback's value.
 */
#include "test.h"

#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NQ	4
#define QLEN	16

struct frec {
	uint32_t type;
	uint64_t seq, snap_id;
	uint32_t len;
	char     data[16];
	uint32_t biglen;	/* a long payload of 'z's instead */
};

struct fq {
	char        name[32];
	struct frec rec[QLEN];
	int         head, tail;
	int         dead;
	uint64_t    next_seq;
	int         sent;	/* writes seen (outgoing) */
};

static struct fq q[NQ];
static char devdir[256];
static int node_fd = -1;
static uint64_t pending_event;		/* node fd: a request for this id */
static uint64_t recorded_id;
static char recorded_state[32];
static uint64_t recorded_len;
static int polled_fds;			/* fds in the last poll() */
static int attaches;

static struct fq *q_of_fd(int fd)
{
	char link[64], target[512];
	const char *base;
	ssize_t n;
	int i;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0)
		return NULL;
	target[n] = 0;
	base = strrchr(target, '/');
	if (!base || !strstr(target, "/node-"))
		return NULL;
	for (i = 0; i < NQ; i++)
		if (!strcmp(q[i].name, base + 1))
			return &q[i];
	return NULL;
}

static void push_data(struct fq *f, const char *s)
{
	struct frec *r = &f->rec[f->tail++ % QLEN];

	memset(r, 0, sizeof(*r));
	r->type = SNAPCHAN_REC_DATA;
	r->seq = f->next_seq++;
	r->len = (uint32_t)strlen(s);
	memcpy(r->data, s, r->len);
}

static void push_big(struct fq *f, uint32_t len)
{
	struct frec *r = &f->rec[f->tail++ % QLEN];

	memset(r, 0, sizeof(*r));
	r->type = SNAPCHAN_REC_DATA;
	r->seq = f->next_seq++;
	r->len = len;
	r->biglen = len;
}

static void push_marker(struct fq *f, uint64_t id)
{
	struct frec *r = &f->rec[f->tail++ % QLEN];

	memset(r, 0, sizeof(*r));
	r->type = SNAPCHAN_REC_MARKER;
	r->snap_id = id;
}

static struct frec *head(struct fq *f)
{
	return f->head == f->tail ? NULL : &f->rec[f->head % QLEN];
}

int ioctl(int fd, unsigned long req, ...)
{
	struct fq *f;
	va_list ap;
	void *arg;
	int i;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	switch (req) {
	case SNAPCHAN_IOC_NODE_JOIN: {
		struct snapchan_node_join *nj = arg;

		node_fd = open("/dev/null", O_RDONLY);
		nj->fd = node_fd;
		nj->node_id = 42;
		return node_fd;
	}
	case SNAPCHAN_IOC_NODE_ATTACH:
	case SNAPCHAN_IOC_NODE_DETACH:
		attaches++;
		return q_of_fd(((struct snapchan_node_attach *)arg)->chan_fd) ?
		       0 : (errno = EBADF, -1);
	case SNAPCHAN_IOC_NODE_EVENT: {
		struct snapchan_node_event *ev = arg;

		ev->node_id = 42;
		ev->type = pending_event ? SNAPCHAN_EVENT_RECORD : 0;
		ev->snap_id = pending_event;
		return 0;
	}
	case SNAPCHAN_IOC_NODE_RECORD: {
		struct snapchan_node_record *nr = arg;

		recorded_id = nr->snap_id;
		recorded_len = nr->state_len;
		memset(recorded_state, 0, sizeof(recorded_state));
		memcpy(recorded_state, (void *)(uintptr_t)nr->state,
		       nr->state_len < 31 ? nr->state_len : 31);
		if (pending_event == nr->snap_id)
			pending_event = 0;
		for (i = 0; i < NQ; i++) {
			struct frec *h = head(&q[i]);

			if (h && h->type == SNAPCHAN_REC_MARKER &&
			    h->snap_id == nr->snap_id)
				q[i].head++;
		}
		return 0;
	}
	case SNAPCHAN_IOC_RECV: {
		struct snapchan_recv *r = arg;
		struct frec *h;

		f = q_of_fd(fd);
		REQUIRE(f);
		h = head(f);
		if (!h) {
			errno = f->dead ? ENODEV : EAGAIN;
			return -1;
		}
		r->type = h->type;
		r->len = h->len;
		r->seq = h->seq;
		r->snap_id = h->snap_id;
		r->origin = h->type == SNAPCHAN_REC_MARKER ? 7 : 0;
		if (h->type == SNAPCHAN_REC_MARKER)
			return 0;	/* never consumed by RECV */
		if (h->len > r->buf_len) {
			errno = EMSGSIZE;
			return -1;
		}
		if (h->biglen)
			memset((void *)(uintptr_t)r->buf, 'z', h->biglen);
		else
			memcpy((void *)(uintptr_t)r->buf, h->data, h->len);
		if (!(r->flags & SNAPCHAN_RECV_PEEK))
			f->head++;
		return 0;
	}
	}
	errno = ENOTTY;
	return -1;
}

int poll(struct pollfd *fds, nfds_t n, int timeout)
{
	nfds_t i;
	int ready = 0;

	(void)timeout;
	polled_fds = (int)n;
	for (i = 0; i < n; i++) {
		struct fq *f;
		struct frec *h;

		fds[i].revents = 0;
		if (fds[i].fd == node_fd) {
			if (pending_event)
				fds[i].revents = POLLPRI;
		} else if ((f = q_of_fd(fds[i].fd))) {
			h = head(f);
			if (f->dead && !h)
				fds[i].revents = POLLHUP;
			else if (h && h->type == SNAPCHAN_REC_DATA)
				fds[i].revents = fds[i].events & POLLIN;
			else if (h)
				fds[i].revents = fds[i].events & POLLPRI;
		}
		fds[i].revents &= (short)(fds[i].events | POLLHUP | POLLERR);
		if (fds[i].revents)
			ready++;
	}
	return ready;	/* 0: "the timeout passed" at once */
}

ssize_t write(int fd, const void *buf, size_t len)
{
	struct fq *f = fd > 2 ? q_of_fd(fd) : NULL;

	if (!f)
		return syscall(SYS_write, fd, buf, len);
	f->sent++;
	return (ssize_t)len;
}

/* --- snapchan_node_run() callbacks --- */

struct run {
	int  messages;
	int  saves;
	int  ticks;
	char last[16];
	uint32_t last_len;
	uint64_t last_rec;
	int  rec_result;
};

static int on_message(struct snapchan_node *n, const struct snapchan_node_msg *m,
		      const void *p, void *arg)
{
	struct run *r = arg;

	(void)n;
	r->messages++;
	r->last_len = m->len;
	memset(r->last, 0, sizeof(r->last));
	memcpy(r->last, p, m->len < 15 ? m->len : 15);
	return 0;
}

static int on_save(struct snapchan_node *n, uint64_t id, const void **state,
		   size_t *len, void *arg)
{
	struct run *r = arg;

	(void)n;
	(void)id;
	r->saves++;
	*state = "my-state";
	*len = 8;
	return 0;
}

static int on_recorded(struct snapchan_node *n, uint64_t id, int result,
		       void *arg)
{
	struct run *r = arg;

	(void)n;
	r->last_rec = id;
	r->rec_result = result;
	return 0;
}

static int on_tick(struct snapchan_node *n, void *arg)
{
	struct run *r = arg;

	(void)n;
	return ++r->ticks >= 2 ? 77 : 0;
}

int main(void)
{
	static const struct snapchan_node_ops ops = {
		.message = on_message, .save = on_save,
		.recorded = on_recorded, .tick = on_tick,
	};
	struct snapchan_node_chan_view cv;
	struct snapchan_node_msg m;
	struct snapchan_node *n;
	char path[1024], buf[16];
	int in[3], out, i, fd;
	struct run run;

	mkdir("tests/tmp", 0700);
	snprintf(devdir, sizeof(devdir), "tests/tmp/node-XXXXXX");
	REQUIRE(mkdtemp(devdir));
	setenv("SNAPCHAN_DEV_DIR", devdir, 1);
	for (i = 0; i < NQ; i++) {
		snprintf(q[i].name, sizeof(q[i].name), "q%d", i);
		q[i].next_seq = 1;
		snprintf(path, sizeof(path), "%s/%.31s", devdir, q[i].name);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		REQUIRE(fd >= 0);
		close(fd);
	}

	CHECK_EQ(snapchan_node_join(3, "grp", "bad name", 0, &n), -EINVAL);
	REQUIRE(snapchan_node_join(3, "grp", "me", 0, &n) == 0);
	CHECK_EQ(snapchan_node_id(n), 42);
	CHECK(!strcmp(snapchan_node_name(n), "me"));
	CHECK(!strcmp(snapchan_node_group(n), "grp"));
	CHECK_EQ(snapchan_node_fd(n), node_fd);

	/* Nothing attached, nothing pending: times out. */
	CHECK_EQ(snapchan_node_recv(n, buf, sizeof(buf), &m, 0), -EAGAIN);
	CHECK_EQ(snapchan_node_recv(n, buf, sizeof(buf), &m, 5), -ETIMEDOUT);

	for (i = 0; i < 3; i++) {
		in[i] = snapchan_node_attach(n, q[i].name, O_RDONLY, 0);
		CHECK_EQ(in[i], i);
	}
	out = snapchan_node_attach(n, "q3", O_WRONLY | O_NONBLOCK, 0);
	CHECK_EQ(out, 3);
	CHECK_EQ(snapchan_node_attach(n, "q3", O_WRONLY, 0), -EBUSY);
	CHECK_EQ(snapchan_node_attach(n, "q3", O_RDWR, 0), -EINVAL);
	CHECK_EQ(snapchan_node_chan_find(n, "q1", 0), 1);
	CHECK_EQ(snapchan_node_chan_find(n, "q1", 1), -ENOENT);
	CHECK_EQ(snapchan_node_chan(n, 3, &cv), 0);
	CHECK(cv.outgoing && !strcmp(cv.name, "q3"));
	CHECK_EQ(snapchan_node_chan(n, 0, &cv), 0);
	CHECK((fcntl(cv.fd, F_GETFL) & O_NONBLOCK) != 0);	/* incoming */

	/* Sending: on outgoing ends only. */
	CHECK_EQ(snapchan_node_send(n, out, "x", 1), 1);
	CHECK_EQ(q[3].sent, 1);
	CHECK_EQ(snapchan_node_send(n, in[0], "x", 1), -EINVAL);
	CHECK_EQ(snapchan_node_send(n, 9, "x", 1), -EINVAL);

	/* Round robin over the incoming channels. */
	push_data(&q[0], "a1");
	push_data(&q[0], "a2");
	push_data(&q[0], "a3");
	push_data(&q[1], "b1");
	push_data(&q[2], "c1");
	{
		static const char *want[] = { "a1", "b1", "c1", "a2", "a3" };

		for (i = 0; i < 5; i++) {
			memset(buf, 0, sizeof(buf));
			CHECK_EQ(snapchan_node_recv(n, buf, sizeof(buf), &m, 0), 0);
			CHECK_EQ(m.type, SNAPCHAN_NODE_MSG_DATA);
			CHECK(!strcmp(buf, want[i]));
			CHECK_EQ(m.len, 2);
		}
		CHECK_EQ(m.chan, in[0]);
		CHECK(!strcmp(m.chan_name, "q0"));
		CHECK_EQ(m.seq, 3);
	}
	CHECK_EQ(snapchan_node_recv(n, buf, sizeof(buf), &m, 0), -EAGAIN);

	/* A marker comes before data, and stays until the node records. */
	push_data(&q[0], "a4");
	push_marker(&q[1], 9);
	push_data(&q[1], "b2");
	for (i = 0; i < 2; i++) {
		CHECK_EQ(snapchan_node_recv(n, buf, sizeof(buf), &m, 0), 0);
		CHECK_EQ(m.type, SNAPCHAN_NODE_MSG_RECORD);
		CHECK_EQ(m.snap_id, 9);
		CHECK_EQ(m.chan, in[1]);
	}
	CHECK_EQ(snapchan_node_record(n, 9, "st", 2), 0);
	CHECK_EQ(recorded_id, 9);
	CHECK(recorded_len == 2 && !strcmp(recorded_state, "st"));
	CHECK_EQ(snapchan_node_record(n, 0, "st", 2), -EINVAL);
	CHECK_EQ(snapchan_node_record(n, 9, NULL, 2), -EINVAL);

	/* A request on the node fd comes first of all. */
	pending_event = 11;
	CHECK_EQ(snapchan_node_recv(n, buf, sizeof(buf), &m, 0), 0);
	CHECK_EQ(m.type, SNAPCHAN_NODE_MSG_RECORD);
	CHECK_EQ(m.snap_id, 11);
	CHECK_EQ(m.chan, -1);
	CHECK(m.chan_name == NULL);
	{
		uint64_t id = 0;

		CHECK_EQ(snapchan_node_event(n, &id), 1);
		CHECK_EQ(id, 11);
	}
	CHECK_EQ(snapchan_node_record(n, 11, NULL, 0), 0);
	CHECK_EQ(snapchan_node_event(n, NULL), 0);

	/* Then the data, in turn. */
	CHECK_EQ(snapchan_node_recv(n, buf, sizeof(buf), &m, 0), 0);
	CHECK_EQ(m.type, SNAPCHAN_NODE_MSG_DATA);
	CHECK_EQ(snapchan_node_recv(n, buf, sizeof(buf), &m, 0), 0);
	CHECK_EQ(m.type, SNAPCHAN_NODE_MSG_DATA);
	CHECK_EQ(snapchan_node_recv(n, buf, sizeof(buf), &m, 0), -EAGAIN);

	/* Too long for the buffer: -EMSGSIZE, the size, still queued. */
	push_big(&q[2], 100);
	CHECK_EQ(snapchan_node_recv(n, buf, sizeof(buf), &m, 0), -EMSGSIZE);
	CHECK_EQ(m.len, 100);
	CHECK_EQ(m.chan, in[2]);
	CHECK(head(&q[2]) != NULL);

	/* snapchan_node_run(): grows its buffer, records, ticks, stops. */
	memset(&run, 0, sizeof(run));
	push_marker(&q[0], 12);
	CHECK_EQ(snapchan_node_run(n, &ops, &run, 1), 77);
	CHECK_EQ(run.saves, 1);
	CHECK_EQ(recorded_id, 12);
	CHECK(recorded_len == 8 && !strcmp(recorded_state, "my-state"));
	CHECK_EQ(run.last_rec, 12);
	CHECK_EQ(run.rec_result, 0);
	CHECK_EQ(run.messages, 1);
	CHECK_EQ(run.last_len, 100);
	CHECK(!strcmp(run.last, "zzzzzzzzzzzzzzz"));
	CHECK_EQ(run.ticks, 2);

	/* A destroyed channel: one hangup, then no longer polled. */
	q[2].dead = 1;
	CHECK_EQ(snapchan_node_recv(n, buf, sizeof(buf), &m, 0), 0);
	CHECK_EQ(m.type, SNAPCHAN_NODE_MSG_HANGUP);
	CHECK_EQ(m.chan, in[2]);
	CHECK_EQ(m.error, -ENODEV);
	CHECK_EQ(snapchan_node_recv(n, buf, sizeof(buf), &m, 0), -EAGAIN);
	CHECK_EQ(polled_fds, 3);	/* the node fd, q0, q1 */
	CHECK_EQ(snapchan_node_chan(n, in[2], &cv), 0);
	CHECK(cv.hungup);

	/* Detaching frees the index; attaching again reuses it. */
	CHECK_EQ(snapchan_node_detach(n, in[2], 0), 0);
	CHECK_EQ(snapchan_node_chan(n, in[2], &cv), -ERANGE);
	CHECK_EQ(snapchan_node_detach(n, in[2], 0), -EINVAL);
	q[2].dead = 0;
	CHECK_EQ(snapchan_node_attach(n, "q2", O_RDONLY, 0), in[2]);
	CHECK_EQ(snapchan_node_chan_slots(n), 4);

	snapchan_node_close(n);
	snapchan_node_close(NULL);
	for (i = 0; i < NQ; i++) {
		snprintf(path, sizeof(path), "%s/%.31s", devdir, q[i].name);
		unlink(path);
	}
	rmdir(devdir);
	return test_done("node-mock");
}
