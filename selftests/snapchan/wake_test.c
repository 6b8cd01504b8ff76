// SPDX-License-Identifier: GPL-2.0
/*
 * snapchan wake matrix (issue 12, DESIGN.md 3.2 "Waiting"): every caller
 * blocked on a channel wakes when its own condition holds, whatever other
 * callers are blocked beside it.
 *
 * For every ordered pair of blocking callers (first, second) on one
 * channel and every event that can satisfy the second, both block, the
 * event happens, and the second must return what the contract says within
 * WAKE_BOUND seconds, while the first either returns its own result too,
 * or legitimately keeps sleeping (a writer whose message still does not
 * fit; a reader whose record the second took).  Pairs where the event
 * cannot satisfy the second (the first consumes the only record, the
 * second's message does not fit after the first's) are skipped, and a
 * reader and a writer can never both block on one channel.
 *
 * Callers: read() with 2 and 256 bytes, readv() of two segments, read()
 * and RECV into an inaccessible buffer (the EFAULT exits), RECV,
 * RECV+PEEK, poll(POLLIN|POLLPRI), edge-triggered epoll_wait, RECV_BATCH,
 * writers of 10 and 500 bytes and SEND_BATCH of two 5-byte messages.
 * Events: a 10-byte write, a 500-byte write, a user MARK, a read() or a
 * RECV of the head message (room for writers), and channel destruction
 * (everyone wakes with ENODEV or EPOLLHUP).
 *
 * One test per event (a fixture variant); inside it the pairs run in
 * rounds of up to ROUND_SIZE channels at once, so that a round of pairs
 * that never wake costs one WAKE_BOUND, not one each.  Every failing pair
 * is reported by name:
 *	FAIL <first> + <second> on <event>: ...
 * The batch ioctls are part of the matrix; on a module without them those
 * pairs fail (ENOTTY before the event).  WAKE_NO_BATCH=1 in the
 * environment leaves them out, to show the wake defects of older modules.
 *
 * Channels are named "kwk<pid>-<n>"; each round destroys its channels
 * (which also wakes anything still blocked), the fixture teardown
 * destroys whatever an aborted round left.  Needs the module loaded.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "snapchan_test.h"
#include "kselftest_harness.h"

/* Seconds within which a satisfied caller must have returned (QEMU TCG). */
#define WAKE_BOUND	2.0
/* Seconds allowed for a caller to reach its sleep, for a round. */
#define BLOCK_TIMEOUT	10.0
/* Channels (pairs) that run at once. */
#define ROUND_SIZE	24

/* Every channel: 2000 payload bytes, messages up to 1000 (issue 12). */
#define CAP_BYTES	2000
#define CAP_MSGS	64
#define MAX_MSG		1000
#define SMALL		10
#define LARGE		500
#define BUF_LEN		1024

enum kind {
	K_READ_SMALL,	/* read(), 2-byte buffer */
	K_READ,		/* read(), 256 bytes */
	K_READV,	/* readv(), 4 + 1020 bytes */
	K_READ_FAULT,	/* read() into an inaccessible buffer */
	K_RECV,		/* SNAPCHAN_IOC_RECV, 1024 bytes */
	K_RECV_FAULT,	/* SNAPCHAN_IOC_RECV into an inaccessible buffer */
	K_PEEK,		/* SNAPCHAN_IOC_RECV with SNAPCHAN_RECV_PEEK */
	K_POLL,		/* poll(POLLIN | POLLPRI) */
	K_EPOLL,	/* epoll_wait(), EPOLLIN | EPOLLPRI | EPOLLET */
	K_RECV_BATCH,	/* SNAPCHAN_IOC_RECV_BATCH, 2 x 1024 bytes */
	K_WRITE_SMALL,	/* write() of 10 bytes */
	K_WRITE_LARGE,	/* write() of 500 bytes */
	K_SEND_BATCH,	/* SNAPCHAN_IOC_SEND_BATCH, 2 x 5 bytes */
	NR_KINDS
};

static const struct {
	const char *name;
	bool writer;
	bool batch;
	unsigned int need;	/* writers: payload bytes sent */
} kinds[NR_KINDS] = {
	[K_READ_SMALL]	= { "read_small" },
	[K_READ]	= { "read" },
	[K_READV]	= { "readv" },
	[K_READ_FAULT]	= { "read_efault" },
	[K_RECV]	= { "recv" },
	[K_RECV_FAULT]	= { "recv_efault" },
	[K_PEEK]	= { "recv_peek" },
	[K_POLL]	= { "poll" },
	[K_EPOLL]	= { "epoll_et" },
	[K_RECV_BATCH]	= { "recv_batch", false, true },
	[K_WRITE_SMALL]	= { "write_small", true, false, SMALL },
	[K_WRITE_LARGE]	= { "write_large", true, false, LARGE },
	[K_SEND_BATCH]	= { "send_batch", true, true, SMALL },
};

enum event {
	EV_WRITE_SMALL,	/* write() of SMALL bytes */
	EV_WRITE_LARGE,	/* write() of LARGE bytes */
	EV_MARK,	/* SNAPCHAN_IOC_MARK */
	EV_READ,	/* read() of the head message */
	EV_RECV,	/* SNAPCHAN_IOC_RECV of the head message */
	EV_DESTROY,	/* SNAPCHAN_IOC_CHAN_DESTROY */
};

static const char *const event_names[] = {
	[EV_WRITE_SMALL]	= "write_small",
	[EV_WRITE_LARGE]	= "write_large",
	[EV_MARK]		= "mark",
	[EV_READ]		= "read",
	[EV_RECV]		= "recv",
	[EV_DESTROY]		= "destroy",
};

/* What a caller should do after the event. */
enum fate {
	F_SKIP,		/* not defined here: the pair is left out */
	F_RETURN,	/* must return, within WAKE_BOUND */
	F_MAY_SLEEP,	/* may return, or sleep on (its record was taken) */
	F_SLEEP,	/* must keep sleeping (its message does not fit) */
};

struct expect {
	enum fate fate;
	int err;		/* errno, or 0 for success */
	long ret;		/* return value on success */
	unsigned int len;	/* payload delivered, readers */
	unsigned int type;	/* SNAPCHAN_REC_* for the framed receives */
	short events;		/* poll, epoll: the bit that must be set */
	bool consumes;		/* takes the record (readers) */
};

struct caller {
	enum kind kind;
	int fd;
	int epfd;
	pthread_t thread;
	bool running;		/* created and not joined */
	atomic_int tid;
	atomic_int started;
	atomic_int done;
	bool sleeping;		/* seen in state 'S' before the event */
	bool asleep;		/* still blocked when the round ended */
	long ret;
	int err;
	unsigned int revents;
	double t_done;
	struct expect exp;
	struct iovec iov[2];
	struct snapchan_recv r[2];
	struct snapchan_send_msg sm[2];
	struct snapchan_batch batch;
	unsigned char buf[2 * BUF_LEN];
};

struct wcase {
	enum kind first, second;
	char name[SNAPCHAN_NAME_LEN];
	bool created, destroyed;
	int evfd;		/* the other end, for the event */
	unsigned int head;	/* writers: bytes the event frees */
	unsigned int tag;	/* payload pattern and marker id */
	double t_ev;
	bool failed;
	bool first_slept;	/* allowed: the second took its record */
	struct caller c[2];
};

static void *bad_buf;		/* PROT_NONE: every copy to it faults */
static atomic_int chan_seq;

static void fill(void *buf, size_t len, unsigned int tag)
{
	unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (unsigned char)(tag * 131 + i * 7 + 1);
}

static bool filled(const void *buf, size_t len, unsigned int tag)
{
	const unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != (unsigned char)(tag * 131 + i * 7 + 1))
			return false;
	return true;
}

static void on_signal(int sig)
{
	(void)sig;
}

/* --- the model ------------------------------------------------------------ */

/* What reader @k does when the event @ev puts a record at the head. */
static struct expect reader_expect(enum kind k, enum event ev)
{
	struct expect e = { .fate = F_RETURN };
	bool mark = ev == EV_MARK;
	unsigned int len = ev == EV_WRITE_LARGE ? LARGE : SMALL;

	if (ev == EV_DESTROY) {
		if (k == K_POLL || k == K_EPOLL) {
			e.ret = 1;
			e.events = POLLHUP;
		} else {
			e.err = ENODEV;
		}
		return e;
	}
	switch (k) {
	case K_READ_SMALL:
	case K_READ:
	case K_READV:
	case K_READ_FAULT:
		if (mark)
			e.err = ENOMSG;
		else if (k == K_READ_FAULT)
			e.err = EFAULT;
		else if (len > (k == K_READ_SMALL ? 2U : k == K_READ ? 256U : BUF_LEN))
			e.err = EMSGSIZE;
		else
			e.ret = len;
		break;
	case K_RECV_FAULT:
		/* A marker has no payload to copy: not modelled. */
		if (mark)
			e.fate = F_SKIP;
		e.err = EFAULT;
		break;
	case K_RECV:
	case K_PEEK:
	case K_RECV_BATCH:
		e.ret = k == K_RECV_BATCH ? 1 : 0;
		e.type = mark ? SNAPCHAN_REC_MARKER : SNAPCHAN_REC_DATA;
		break;
	case K_POLL:
	case K_EPOLL:
		e.ret = 1;
		e.events = mark ? POLLPRI : POLLIN;
		break;
	default:
		e.fate = F_SKIP;
		break;
	}
	if (!e.err && !mark && k != K_POLL && k != K_EPOLL)
		e.len = len;
	/* User markers are consumed by the framed receives, not by PEEK. */
	e.consumes = !e.err && k != K_PEEK && k != K_POLL && k != K_EPOLL;
	return e;
}

static struct expect writer_expect(enum kind k, enum event ev, bool fits)
{
	struct expect e = { .fate = fits ? F_RETURN : F_SLEEP };

	if (ev == EV_DESTROY) {
		e.fate = F_RETURN;
		e.err = ENODEV;
	} else {
		e.ret = k == K_SEND_BATCH ? 2 : kinds[k].need;
	}
	return e;
}

/*
 * Fill in what both callers of @wc should do on @ev; false if the pair is
 * left out (impossible, or the event cannot satisfy the second).
 */
static bool plan(struct wcase *wc, enum event ev)
{
	enum kind a = wc->first, b = wc->second;
	bool reader_ev = ev == EV_WRITE_SMALL || ev == EV_WRITE_LARGE ||
			 ev == EV_MARK;
	bool writer_ev = ev == EV_READ || ev == EV_RECV;
	unsigned int room;
	bool a_fits;

	/* Readers block on an empty queue, writers on a full one. */
	if (kinds[a].writer != kinds[b].writer)
		return false;
	if (!kinds[a].writer) {
		if (writer_ev)
			return false;
		wc->c[0].exp = reader_expect(a, ev);
		wc->c[1].exp = reader_expect(b, ev);
		if (wc->c[0].exp.fate == F_SKIP || wc->c[1].exp.fate == F_SKIP)
			return false;
		/* The first took the only record: nothing left for the second. */
		if (wc->c[0].exp.consumes)
			return false;
		/*
		 * The second takes it.  Which reader runs first is not
		 * specified: the first may find the queue already empty.
		 */
		if (wc->c[1].exp.consumes)
			wc->c[0].exp.fate = F_MAY_SLEEP;
		return true;
	}
	if (reader_ev)
		return false;
	/*
	 * The queue is full; the event frees @head bytes.  100 when the
	 * second's message fits in it (then a large first does not fit:
	 * issue 12, defect 1), else 1000, room for both.
	 */
	wc->head = kinds[b].need <= 100 ? 100 : 1000;
	room = wc->head;
	a_fits = kinds[a].need <= room;
	if (a_fits)
		room -= kinds[a].need;
	if (ev != EV_DESTROY && kinds[b].need > room)
		return false;
	wc->c[0].exp = writer_expect(a, ev, a_fits);
	wc->c[1].exp = writer_expect(b, ev, true);
	return true;
}

/* --- callers -------------------------------------------------------------- */

static void *caller_main(void *arg)
{
	struct caller *c = arg;
	struct epoll_event ev = { 0 };
	struct pollfd p;
	long ret = -1;

	atomic_store(&c->tid, gettid());
	atomic_store(&c->started, 1);
	switch (c->kind) {
	case K_READ_SMALL:
		ret = read(c->fd, c->buf, 2);
		break;
	case K_READ:
		ret = read(c->fd, c->buf, 256);
		break;
	case K_READ_FAULT:
		ret = read(c->fd, bad_buf, BUF_LEN);
		break;
	case K_READV:
		ret = readv(c->fd, c->iov, 2);
		break;
	case K_RECV:
	case K_RECV_FAULT:
	case K_PEEK:
		ret = ioctl(c->fd, SNAPCHAN_IOC_RECV, &c->r[0]);
		break;
	case K_POLL:
		p.fd = c->fd;
		p.events = POLLIN | POLLPRI;
		p.revents = 0;
		ret = poll(&p, 1, -1);
		c->revents = p.revents;
		break;
	case K_EPOLL:
		ret = epoll_wait(c->epfd, &ev, 1, -1);
		c->revents = ev.events;
		break;
	case K_RECV_BATCH:
		ret = ioctl(c->fd, SNAPCHAN_IOC_RECV_BATCH, &c->batch);
		break;
	case K_WRITE_SMALL:
		ret = write(c->fd, c->buf, SMALL);
		break;
	case K_WRITE_LARGE:
		ret = write(c->fd, c->buf, LARGE);
		break;
	case K_SEND_BATCH:
		ret = ioctl(c->fd, SNAPCHAN_IOC_SEND_BATCH, &c->batch);
		break;
	default:
		break;
	}
	c->err = ret < 0 ? errno : 0;
	c->ret = ret;
	c->t_done = sc_now();
	atomic_store(&c->done, 1);
	return NULL;
}

/* Open @c's end of channel @name and prepare its arguments. */
static int caller_init(struct caller *c, const char *name, unsigned int tag)
{
	struct epoll_event ev = {
		.events = EPOLLIN | EPOLLPRI | EPOLLET,
	};
	int i;

	c->epfd = -1;
	c->fd = sc_open_chan(name, kinds[c->kind].writer ? O_WRONLY : O_RDONLY);
	if (c->fd < 0)
		return c->fd;
	memset(c->buf, 0, sizeof(c->buf));
	c->iov[0].iov_base = c->buf;
	c->iov[0].iov_len = 4;
	c->iov[1].iov_base = c->buf + 4;
	c->iov[1].iov_len = BUF_LEN - 4;
	memset(c->r, 0, sizeof(c->r));
	for (i = 0; i < 2; i++) {
		c->r[i].buf = (uintptr_t)(c->buf + i * BUF_LEN);
		c->r[i].buf_len = BUF_LEN;
	}
	memset(&c->batch, 0, sizeof(c->batch));
	c->batch.nr = 2;
	switch (c->kind) {
	case K_RECV_FAULT:
		c->r[0].buf = (uintptr_t)bad_buf;
		break;
	case K_PEEK:
		c->r[0].flags = SNAPCHAN_RECV_PEEK;
		break;
	case K_EPOLL:
		c->epfd = epoll_create1(EPOLL_CLOEXEC);
		if (c->epfd < 0)
			return -errno;
		ev.data.fd = c->fd;
		if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->fd, &ev))
			return -errno;
		break;
	case K_RECV_BATCH:
		c->batch.msgs = (uintptr_t)c->r;
		break;
	case K_WRITE_SMALL:
	case K_WRITE_LARGE:
		fill(c->buf, LARGE, tag);
		break;
	case K_SEND_BATCH:
		fill(c->buf, SMALL, tag);
		memset(c->sm, 0, sizeof(c->sm));
		for (i = 0; i < 2; i++) {
			c->sm[i].buf = (uintptr_t)(c->buf + i * (SMALL / 2));
			c->sm[i].len = SMALL / 2;
		}
		c->batch.msgs = (uintptr_t)c->sm;
		break;
	default:
		break;
	}
	return 0;
}

static int caller_start(struct caller *c)
{
	atomic_store(&c->started, 0);
	atomic_store(&c->done, 0);
	c->sleeping = false;
	if (pthread_create(&c->thread, NULL, caller_main, c))
		return -1;
	c->running = true;
	return 0;
}

/* Is @c's thread asleep ('S' in /proc/self/task/<tid>/stat)? */
static bool caller_asleep(struct caller *c)
{
	char path[64], buf[512], *p;

	if (!atomic_load(&c->started))
		return false;
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat",
		 atomic_load(&c->tid));
	if (sc_read_text(path, buf, sizeof(buf)) < 0)
		return false;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] == 'S';
}

/* Wait until every caller in @v has gone to sleep or returned. */
static void wait_asleep(struct caller **v, int n)
{
	double end = sc_now() + BLOCK_TIMEOUT;
	int i, left;

	do {
		left = 0;
		for (i = 0; i < n; i++) {
			if (v[i]->sleeping || atomic_load(&v[i]->done))
				continue;
			if (caller_asleep(v[i]))
				v[i]->sleeping = true;
			else
				left++;
		}
		if (left)
			usleep(2000);
	} while (left && sc_now() < end);
}

static const char *errname(int err)
{
	const char *s = strerrorname_np(err);

	return s ? s : "?";
}

/* What @c did, for a report. */
static void describe(const struct caller *c, char *out, size_t size)
{
	if (!atomic_load(&c->done))
		snprintf(out, size, "still blocked");
	else if (c->ret < 0)
		snprintf(out, size, "returned %s", errname(c->err));
	else if (c->kind == K_POLL || c->kind == K_EPOLL)
		snprintf(out, size, "returned %ld, events 0x%x", c->ret,
			 c->revents);
	else
		snprintf(out, size, "returned %ld", c->ret);
}

static void describe_exp(const struct expect *e, char *out, size_t size)
{
	if (e->fate == F_SLEEP)
		snprintf(out, size, "to keep sleeping");
	else if (e->err)
		snprintf(out, size, "%s", errname(e->err));
	else if (e->events)
		snprintf(out, size, "events 0x%x", e->events);
	else if (e->type == SNAPCHAN_REC_MARKER)
		snprintf(out, size, "%ld, the marker", e->ret);
	else if (e->type)
		snprintf(out, size, "%ld, a %u-byte record", e->ret, e->len);
	else
		snprintf(out, size, "%ld", e->ret);
}

/*
 * Did @c return what @e says (data checked against @tag)?  NULL if so,
 * else what is wrong.
 */
static const char *check_result(const struct caller *c, const struct expect *e,
				unsigned int tag)
{
	const struct snapchan_recv *r = &c->r[0];

	if (e->err)
		return c->ret == -1 && c->err == e->err ? NULL : "wrong result";
	if (c->ret != e->ret)
		return "wrong result";
	switch (c->kind) {
	case K_POLL:
	case K_EPOLL:
		return c->revents & e->events ? NULL : "wrong events";
	case K_RECV:
	case K_PEEK:
	case K_RECV_BATCH:
		if (r->type != e->type || r->len != e->len)
			return "wrong record type or length";
		if (e->type == SNAPCHAN_REC_MARKER)
			return r->snap_id == tag ? NULL : "wrong marker id";
		if (r->seq == 0)
			return "no sequence number";
		break;
	default:
		break;
	}
	if (e->len && !kinds[c->kind].writer && !filled(c->buf, e->len, tag))
		return "payload corrupted";
	return NULL;
}

/* --- the fixture ----------------------------------------------------------- */

FIXTURE(wake) {
	int ctl;
	bool no_batch;
	int ncases;
	struct wcase *cases;
};

FIXTURE_VARIANT(wake) {
	enum event event;
};

FIXTURE_VARIANT_ADD(wake, write_small) { .event = EV_WRITE_SMALL };
FIXTURE_VARIANT_ADD(wake, write_large) { .event = EV_WRITE_LARGE };
FIXTURE_VARIANT_ADD(wake, mark) { .event = EV_MARK };
FIXTURE_VARIANT_ADD(wake, read) { .event = EV_READ };
FIXTURE_VARIANT_ADD(wake, recv) { .event = EV_RECV };
FIXTURE_VARIANT_ADD(wake, destroy) { .event = EV_DESTROY };

FIXTURE_SETUP(wake)
{
	struct snapchan_version v = { 0 };
	const char *nb = getenv("WAKE_NO_BATCH");
	struct sigaction sa;

	self->cases = NULL;
	self->ncases = 0;
	self->ctl = open(SC_CONTROL, O_RDWR | O_CLOEXEC);
	if (self->ctl < 0 && errno == ENOENT)
		SKIP(return, "%s missing: snapchan not loaded", SC_CONTROL);
	ASSERT_LE(0, self->ctl) TH_LOG("open %s: %s", SC_CONTROL, strerror(errno));
	self->no_batch = nb && *nb && strcmp(nb, "0");
	ASSERT_EQ(0, ioctl(self->ctl, SNAPCHAN_IOC_VERSION, &v));
	if (!self->no_batch && !(v.features & SNAPCHAN_FEAT_BATCH))
		TH_LOG("module lacks SNAPCHAN_FEAT_BATCH: %s",
		       "the batch pairs fail (WAKE_NO_BATCH=1 leaves them out)");

	bad_buf = mmap(NULL, 2 * BUF_LEN, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, bad_buf);

	/* SIGUSR1 interrupts a caller that nothing else wakes. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
}

/* Interrupt and join every caller of @wc still running; false if stuck. */
static bool reap(struct wcase *wc)
{
	struct timespec ts;
	bool ok = true;
	int i, tries;

	for (i = 0; i < 2; i++) {
		struct caller *c = &wc->c[i];

		if (!c->running)
			continue;
		for (tries = 0; tries < 20 && !atomic_load(&c->done); tries++) {
			pthread_kill(c->thread, SIGUSR1);
			usleep(100000);
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 2;
		if (pthread_timedjoin_np(c->thread, NULL, &ts)) {
			ok = false;	/* left behind: never free it */
			continue;
		}
		c->running = false;
	}
	return ok;
}

static void close_case(struct wcase *wc)
{
	int i;

	for (i = 0; i < 2; i++) {
		if (wc->c[i].epfd >= 0)
			close(wc->c[i].epfd);
		if (wc->c[i].fd >= 0)
			close(wc->c[i].fd);
		wc->c[i].epfd = -1;
		wc->c[i].fd = -1;
	}
	if (wc->evfd >= 0)
		close(wc->evfd);
	wc->evfd = -1;
}

FIXTURE_TEARDOWN(wake)
{
	bool stuck = false;
	int i;

	for (i = 0; i < self->ncases; i++) {
		struct wcase *wc = &self->cases[i];

		if (wc->created && !wc->destroyed)
			sc_destroy(self->ctl, wc->name);
		wc->destroyed = true;
		if (!reap(wc))
			stuck = true;
		close_case(wc);
	}
	if (!stuck) {
		free(self->cases);
		if (bad_buf && bad_buf != MAP_FAILED)
			munmap(bad_buf, 2 * BUF_LEN);
	}
	if (self->ctl >= 0)
		close(self->ctl);
}

/* Create @wc's channel, open its ends and, for writers, fill the queue. */
static void setup_case(struct __test_metadata *_metadata,
		       FIXTURE_DATA(wake) *self, struct wcase *wc)
{
	bool writers = kinds[wc->first].writer;
	struct snapchan_chan_create cr;
	unsigned char msg[MAX_MSG];
	unsigned int left, len;
	int i;

	wc->evfd = -1;
	for (i = 0; i < 2; i++) {
		wc->c[i].fd = -1;
		wc->c[i].epfd = -1;
		wc->c[i].kind = i ? wc->second : wc->first;
	}
	snprintf(wc->name, sizeof(wc->name), "kwk%d-%d", getpid(),
		 atomic_fetch_add(&chan_seq, 1));
	memset(&cr, 0, sizeof(cr));
	sc_name(cr.name, wc->name);
	cr.capacity_bytes = CAP_BYTES;
	cr.capacity_msgs = CAP_MSGS;
	cr.max_msg = MAX_MSG;
	ASSERT_EQ(0, sc_create(self->ctl, &cr))
		TH_LOG("create %s: %s", wc->name, strerror(errno));
	wc->created = true;
	wc->evfd = sc_open_chan(wc->name, writers ? O_RDONLY : O_WRONLY);
	ASSERT_LE(0, wc->evfd) TH_LOG("open %s: %s", wc->name, strerror(-wc->evfd));
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, caller_init(&wc->c[i], wc->name, wc->tag))
			TH_LOG("caller setup on %s failed", wc->name);
	if (!writers)
		return;

	/* Full, the head message wc->head bytes: 100 + 900 + 1000, 1000 + 1000. */
	memset(msg, 0x5a, sizeof(msg));
	for (left = CAP_BYTES; left; left -= len) {
		len = left == CAP_BYTES ? wc->head :
		      left > MAX_MSG ? left - MAX_MSG : left;
		ASSERT_EQ((ssize_t)len, write(wc->c[0].fd, msg, len))
			TH_LOG("prefill %s: %s", wc->name, strerror(errno));
	}
}

/* Make @wc's event happen; 0 or -errno. */
static int fire(FIXTURE_DATA(wake) *self, struct wcase *wc, enum event ev)
{
	unsigned char msg[BUF_LEN];
	struct snapchan_mark m = { .snap_id = wc->tag };
	struct snapchan_recv r;
	ssize_t n = 0, want = 0;

	wc->t_ev = sc_now();
	switch (ev) {
	case EV_WRITE_SMALL:
	case EV_WRITE_LARGE:
		want = ev == EV_WRITE_SMALL ? SMALL : LARGE;
		fill(msg, want, wc->tag);
		n = write(wc->evfd, msg, want);
		break;
	case EV_MARK:
		n = ioctl(wc->evfd, SNAPCHAN_IOC_MARK, &m);
		break;
	case EV_READ:
		want = wc->head;
		n = read(wc->evfd, msg, sizeof(msg));
		break;
	case EV_RECV:
		memset(&r, 0, sizeof(r));
		r.buf = (uintptr_t)msg;
		r.buf_len = sizeof(msg);
		n = ioctl(wc->evfd, SNAPCHAN_IOC_RECV, &r);
		if (!n && r.len != wc->head)
			return -EIO;
		break;
	case EV_DESTROY:
		n = sc_destroy(self->ctl, wc->name);
		wc->destroyed = true;
		if (n < 0)
			return n;
		break;
	}
	if (n < 0)
		return -errno;
	return n == want ? 0 : -EIO;
}

/* Report @wc as failing, once per caller problem. */
static void fail(struct __test_metadata *_metadata, struct wcase *wc,
		 enum event ev, const char *what)
{
	char d0[64], d1[64];

	describe(&wc->c[0], d0, sizeof(d0));
	describe(&wc->c[1], d1, sizeof(d1));
	TH_LOG("FAIL %s + %s on %s: %s (first %s, second %s)",
	       kinds[wc->first].name, kinds[wc->second].name, event_names[ev],
	       what, d0, d1);
	wc->failed = true;
}

/* Judge caller @i of @wc after the event. */
static void judge(struct __test_metadata *_metadata, struct wcase *wc,
		  enum event ev, int i)
{
	struct caller *c = &wc->c[i];
	const char *who = i ? "second" : "first";
	char msg[160], exp[48];
	const char *bad;
	bool done = atomic_load(&c->done);

	describe_exp(&c->exp, exp, sizeof(exp));
	switch (c->exp.fate) {
	case F_SLEEP:
		if (done) {
			snprintf(msg, sizeof(msg), "%s returned although its message does not fit",
				 who);
			fail(_metadata, wc, ev, msg);
		}
		return;
	case F_MAY_SLEEP:
		if (!done) {
			TH_LOG("note %s + %s on %s: %s slept on, %s (allowed)",
			       kinds[wc->first].name, kinds[wc->second].name,
			       event_names[ev], who, "the record was taken");
			wc->first_slept = true;
			return;
		}
		break;
	case F_RETURN:
		if (!done) {
			snprintf(msg, sizeof(msg), "%s did not wake within %.1f s, expected %s",
				 who, WAKE_BOUND, exp);
			fail(_metadata, wc, ev, msg);
			return;
		}
		if (c->t_done - wc->t_ev > WAKE_BOUND) {
			snprintf(msg, sizeof(msg), "%s woke only after %.2f s", who,
				 c->t_done - wc->t_ev);
			fail(_metadata, wc, ev, msg);
			return;
		}
		break;
	default:
		return;
	}
	bad = check_result(c, &c->exp, wc->tag);
	if (bad) {
		snprintf(msg, sizeof(msg), "%s: %s, expected %s", who, bad, exp);
		fail(_metadata, wc, ev, msg);
	}
}

/* Bytes queued now, or -1. */
static long long depth_bytes(FIXTURE_DATA(wake) *self, const char *name)
{
	struct snapchan_chan_info info;

	return sc_info(self->ctl, name, &info) ? -1 : (long long)info.depth_bytes;
}

/* Run the pairs @wcs[0..n) at once, each on its own channel. */
static void run_round(struct __test_metadata *_metadata,
		      FIXTURE_DATA(wake) *self, struct wcase *wcs, int n,
		      enum event ev)
{
	struct caller *v[ROUND_SIZE];
	double end, last_ev = 0;
	bool settle = false, pending;
	char msg[96];
	int i, j, err;

	for (i = 0; i < n; i++)
		setup_case(_metadata, self, &wcs[i]);

	/* The first callers block, then the second ones, in that order. */
	for (j = 0; j < 2; j++) {
		for (i = 0; i < n; i++) {
			ASSERT_EQ(0, caller_start(&wcs[i].c[j]));
			v[i] = &wcs[i].c[j];
		}
		wait_asleep(v, n);
	}
	for (i = 0; i < n; i++) {
		for (j = 0; j < 2; j++) {
			struct caller *c = &wcs[i].c[j];

			if (atomic_load(&c->done)) {
				snprintf(msg, sizeof(msg), "%s returned before the event",
					 j ? "second" : "first");
				fail(_metadata, &wcs[i], ev, msg);
			} else if (!c->sleeping) {
				snprintf(msg, sizeof(msg), "%s never went to sleep",
					 j ? "second" : "first");
				fail(_metadata, &wcs[i], ev, msg);
			}
		}
	}

	for (i = 0; i < n; i++) {
		if (wcs[i].failed)
			continue;
		err = fire(self, &wcs[i], ev);
		last_ev = wcs[i].t_ev;
		if (err) {
			snprintf(msg, sizeof(msg), "the event failed: %s",
				 errname(-err));
			fail(_metadata, &wcs[i], ev, msg);
		}
	}

	/* Until every caller that must return has, or the bound is over. */
	end = last_ev + WAKE_BOUND + 0.1;
	do {
		pending = false;
		for (i = 0; i < n && !pending; i++)
			for (j = 0; j < 2; j++)
				if (!wcs[i].failed &&
				    wcs[i].c[j].exp.fate == F_RETURN &&
				    !atomic_load(&wcs[i].c[j].done))
					pending = true;
		if (pending)
			usleep(2000);
	} while (pending && sc_now() < end);
	/* A writer that must not fit gets a moment to misbehave. */
	for (i = 0; i < n; i++)
		if (!wcs[i].failed && wcs[i].c[0].exp.fate == F_SLEEP)
			settle = true;
	if (settle)
		usleep(100000);

	for (i = 0; i < n; i++) {
		struct wcase *wc = &wcs[i];
		long long want = CAP_BYTES - wc->head, got;

		if (wc->failed)
			continue;
		judge(_metadata, wc, ev, 0);
		judge(_metadata, wc, ev, 1);
		if (wc->failed || !kinds[wc->first].writer || ev == EV_DESTROY)
			continue;
		/* Writers: exactly what returned went in. */
		for (j = 0; j < 2; j++)
			if (atomic_load(&wc->c[j].done) && wc->c[j].ret > 0)
				want += kinds[wc->c[j].kind].need;
		got = depth_bytes(self, wc->name);
		if (got != want) {
			snprintf(msg, sizeof(msg), "%lld bytes queued, expected %lld",
				 got, want);
			fail(_metadata, wc, ev, msg);
		}
	}

	/* Destroy what is left: whoever still sleeps must wake with ENODEV. */
	for (i = 0; i < n; i++) {
		for (j = 0; j < 2; j++)
			wcs[i].c[j].asleep = !atomic_load(&wcs[i].c[j].done);
		if (!wcs[i].destroyed) {
			sc_destroy(self->ctl, wcs[i].name);
			wcs[i].destroyed = true;
		}
		wcs[i].t_ev = sc_now();
	}
	end = sc_now() + WAKE_BOUND;
	do {
		pending = false;
		for (i = 0; i < n && !pending; i++)
			for (j = 0; j < 2; j++)
				if (!atomic_load(&wcs[i].c[j].done))
					pending = true;
		if (pending)
			usleep(2000);
	} while (pending && sc_now() < end);
	for (i = 0; i < n; i++) {
		for (j = 0; j < 2; j++) {
			struct caller *c = &wcs[i].c[j];

			if (!atomic_load(&c->done)) {
				snprintf(msg, sizeof(msg), "%s did not wake on %s",
					 j ? "second" : "first", "the final destroy");
				fail(_metadata, &wcs[i], ev, msg);
			} else if (c->asleep && c->exp.fate == F_SLEEP &&
				   (c->ret != -1 || c->err != ENODEV)) {
				snprintf(msg, sizeof(msg), "%s: destroyed channel, expected ENODEV",
					 j ? "second" : "first");
				fail(_metadata, &wcs[i], ev, msg);
			}
		}
		if (!reap(&wcs[i]))
			TH_LOG("%s: a caller cannot be interrupted", wcs[i].name);
		close_case(&wcs[i]);
	}
}

TEST_F_TIMEOUT(wake, matrix, 240)
{
	enum event ev = variant->event;
	int a, b, i, n = 0, impossible = 0, left_out = 0, failed = 0, slept = 0;
	double t0 = sc_now();

	if (self->ctl < 0)
		return;		/* skipped in the setup */
	self->cases = calloc(NR_KINDS * NR_KINDS, sizeof(*self->cases));
	ASSERT_NE(NULL, self->cases);
	for (a = 0; a < NR_KINDS; a++) {
		for (b = 0; b < NR_KINDS; b++) {
			struct wcase *wc = &self->cases[n];

			memset(wc, 0, sizeof(*wc));
			wc->first = a;
			wc->second = b;
			if (!plan(wc, ev)) {
				impossible++;
				continue;
			}
			if (self->no_batch && (kinds[a].batch || kinds[b].batch)) {
				left_out++;
				continue;
			}
			wc->tag = 1000 + n;
			for (i = 0; i < 2; i++) {
				wc->c[i].fd = -1;
				wc->c[i].epfd = -1;
			}
			wc->evfd = -1;
			n++;
		}
	}

	for (i = 0; i < n; i += ROUND_SIZE) {
		self->ncases = i + (n - i < ROUND_SIZE ? n - i : ROUND_SIZE);
		run_round(_metadata, self, &self->cases[i], self->ncases - i, ev);
	}
	for (i = 0; i < n; i++) {
		failed += self->cases[i].failed;
		slept += self->cases[i].first_slept;
	}
	if (slept)
		TH_LOG("event %s: in %d pairs the first slept on (allowed), %s",
		       event_names[ev], slept, "the second took its record");
	TH_LOG("event %s: %d pairs, %d failed, %d passed; %s %d, %s %d; %.1f s",
	       event_names[ev], n, failed, n - failed,
	       "pairs the event cannot satisfy", impossible,
	       "batch pairs left out", left_out, sc_now() - t0);
	EXPECT_EQ(0, failed);
}

TEST_HARNESS_MAIN
