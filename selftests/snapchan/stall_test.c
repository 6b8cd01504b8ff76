// SPDX-License-Identifier: GPL-2.0
/*
 * snapchan stalled-copy selftests (issue 12, defect 3; DESIGN.md 3.2,
 * "Waiting"): a task stalled in a user copy may delay calls on the same
 * channel end, never anything else (the registry, CHAN_INFO and CHAN_LIST,
 * poll, other channels, the group's snapshot operations), whatever still
 * waits on it waits killably, it dies at once on SIGKILL, and the message
 * it was copying is not lost.
 *
 * How a copy is stalled.  A forked child maps two anonymous pages and
 * makes the second a userfaultfd range that nobody resolves: MISSING (never
 * populated; a read or a write of it faults) or, for the variants whose
 * name ends in _wp, WP (populated, write-protected: reads go through, a
 * write faults).  It hands the userfaultfd to the test (SCM_RIGHTS) and
 * points one call at that page: read(), readv() (the copy crosses into
 * it), RECV (payload, or the argument itself), RECV_BATCH (payload, entry
 * array), write(), SEND_BATCH.  The test waits until the fault arrives on
 * the userfaultfd at that page: from then on the child sits in the
 * kernel's user copy until it is killed.
 *
 * Every check ("probe") runs in a forked child, most as uid and gid 65534
 * (the channels are mode 0666; the group tests stay root, as only the
 * group's owner may use a group), and must return within PROBE_MS.  One
 * that does not is reported with its state and kernel stack, then killed;
 * one that cannot even be killed (D state) is left and reaped after the
 * stalled task has died.  A hang is a failed check, never a hung program.
 * Each check prints "check <name>: ok (N ms)" or fails with its reason.
 *
 * Every test then SIGKILLs the stalled task, which must die within
 * KILL_MS, and reads the channel back: the messages queued before (less
 * any a probe received, plus any it sent) must all be there, in order,
 * byte for byte, and the channel must still carry a new message.  A probe
 * killed in its call may or may not have done it; that is allowed for.
 *
 * resolve_after_others is the one test that lets the copy go through:
 * while it stalls, another end takes the head (or sends); then the fault
 * is resolved (UFFDIO_COPY, or WP cleared) and the stalled call must
 * return at once, every message delivered exactly once (the failure mode
 * of copying outside the lock: a message returned twice, or skipped).
 *
 * The gstall fixture does the same inside a group: node R's receive
 * stalls; NODE_RECORD of the other nodes (S, whose outgoing channel is the
 * stalled one, and T), SNAP_BEGIN, poll and NODE_EVENT of node fds and
 * the close of node T must not wait for it, and NODE_RECORD of R itself
 * may wait (for that end) but killably, and without holding the group up.
 *
 * Needs root (CAP_SYS_PTRACE for a userfaultfd that sees kernel faults,
 * setresuid) and CONFIG_USERFAULTFD: it exits with KSFT_SKIP without them
 * (the tinyconfig-based debug kernel has none), and skips the _wp
 * variants without write-protect mode.  Channel names are
 * "stl<pid>-<tag>"; the teardown destroys them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/userfaultfd.h>

#include "snapchan_test.h"
#include "kselftest_harness.h"

#define NOBODY		65534
#define PROBE_MS	1000	/* every probe answers within this */
#define KILL_MS		1000	/* a killed task is gone within this */
#define NOTE_MS		300	/* how long a hung probe gets to die, for the log */
#define READY_MS	5000	/* a probe child gets ready within this */
#define STALL_MS	10000	/* the stalled call reaches its fault within */
#define REAP_MS		5000	/* leftovers finish once the stall is gone */
#define MSG_LEN		64
#define MAX_TAGS	16
#define NSLOTS		32
#define MAX_LEFT	32
#define TEST_SECS	120
#define NL		SNAPCHAN_NAME_LEN
#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif
#ifndef __noreturn
#define __noreturn	__attribute__((noreturn))
#endif

/* Tags of the messages: queued before the stall, sent by probes, after. */
#define TAG_M0		0
#define TAG_M1		1
#define TAG_PROBE	2
#define TAG_SAME_END	3
#define TAG_STALLED	4	/* what a stalled writer sends once resolved */
#define TAG_AFTER	7

/* ------------------------------------------------------------------------ */
/* Messages                                                                 */
/* ------------------------------------------------------------------------ */

static void payload(unsigned char *buf, int tag)
{
	int i;

	for (i = 0; i < MSG_LEN; i++)
		buf[i] = (unsigned char)(tag * 73 + i * 11 + 5);
}

/* The tag of a message, or -1 if it is none of ours (or was damaged). */
static int tag_of(const void *buf, ssize_t len)
{
	unsigned char want[MSG_LEN];
	int tag;

	if (len != MSG_LEN)
		return -1;
	for (tag = 0; tag < MAX_TAGS; tag++) {
		payload(want, tag);
		if (!memcmp(buf, want, MSG_LEN))
			return tag;
	}
	return -1;
}

static int send_tag(int fd, int tag)
{
	unsigned char buf[MSG_LEN];
	ssize_t n;

	payload(buf, tag);
	n = write(fd, buf, MSG_LEN);
	if (n < 0)
		return -errno;
	return n == MSG_LEN ? 0 : -EIO;
}

/* ------------------------------------------------------------------------ */
/* What a stalled call is                                                   */
/* ------------------------------------------------------------------------ */

enum stall_kind {
	ST_READ,		/* read(), buffer in the page */
	ST_READV,		/* readv(), 16 bytes before it, the rest in it */
	ST_RECV,		/* RECV, payload buffer in the page */
	ST_RECV_ARG_WP,		/* RECV, struct snapchan_recv in the WP page */
	ST_RECV_BATCH_BUF,	/* RECV_BATCH, entry 0's buffer in the page */
	ST_RECV_BATCH_ENTRIES,	/* RECV_BATCH, entry 0 before it, 1..3 in it */
	ST_RECV_BATCH_ENTRIES_WP, /* RECV_BATCH, entries in the WP page */
	ST_WRITE,		/* write(), source in the page */
	ST_SEND_BATCH,		/* SEND_BATCH, message 0's payload in the page */
};

struct stall_op {
	enum stall_kind kind;
	bool wp;		/* write-protect the page instead of MISSING */
	bool writer;		/* the stalled end is a sending end */
	int nmsgs;		/* messages queued before the stall */
	bool head_optional;	/* the batch may consume M0 before it stalls */
	const char *what;
};

static const struct stall_op op_read = {
	ST_READ, false, false, 1, false, "read() to the page" };
static const struct stall_op op_readv = {
	ST_READV, false, false, 1, false, "readv() whose 2nd iovec is the page" };
static const struct stall_op op_recv = {
	ST_RECV, false, false, 1, false, "RECV, buf in the page" };
static const struct stall_op op_recv_arg_wp = {
	ST_RECV_ARG_WP, true, false, 1, false,
	"RECV, its argument in a write-protected page" };
static const struct stall_op op_recv_batch_buf = {
	ST_RECV_BATCH_BUF, false, false, 1, false,
	"RECV_BATCH, entry 0's buf in the page" };
static const struct stall_op op_recv_batch_entries = {
	ST_RECV_BATCH_ENTRIES, false, false, 2, true,
	"RECV_BATCH, entries 1..3 in the page" };
static const struct stall_op op_recv_batch_entries_wp = {
	ST_RECV_BATCH_ENTRIES_WP, true, false, 1, false,
	"RECV_BATCH, entry array in a write-protected page" };
static const struct stall_op op_write = {
	ST_WRITE, false, true, 1, false, "write() from the page" };
static const struct stall_op op_send_batch = {
	ST_SEND_BATCH, false, true, 1, false,
	"SEND_BATCH, message 0's payload in the page" };

/* ------------------------------------------------------------------------ */
/* The environment of a test                                                */
/* ------------------------------------------------------------------------ */

/* A probe's results, in memory shared with the test. */
struct slot {
	int done;		/* its call returned */
	int ret;		/* 0 (as expected), -errno, or another code */
	int consumed;		/* tag it took from the stalled channel, or -1 */
	int appended;		/* tag it added to the stalled channel, or -1 */
	/*
	 * What it was about to do, set before the call: a probe killed in
	 * (or just after) its call may or may not have done it.
	 */
	int may_consume;
	int may_append;		/* a tag, or -1 */
	long long val;		/* a value for the log (snapshot id, ...) */
	char why[64];		/* what went wrong */
};

struct shared {
	struct slot slot[NSLOTS];
	int stall_done;		/* the stalled call returned ... */
	long long stall_ret;	/* ... this (-errno) */
	int stall_step;		/* or its setup failed at this step */
	int stall_tags[8];	/* what it received, once it returned */
	int nstall_tags;
};

struct env {
	const struct stall_op *op;
	bool group;
	int ctl;
	long pg;
	char s[NL], o[NL], v[NL], n[NL], g[NL], c2[NL];
	/* stall fixture: ends of the stalled channel S and the other one O */
	int s_own, s_rd, s_wr, o_rd, o_wr;
	/* group fixture: nodes R (stalled receiver of S), S (its sender), T */
	int node_r, node_s, node_t, c1_wr, c2_rd, c2_wr;
	int check_fd, send_fd;	/* where S is read and written afterwards */
	int uffd;
	uintptr_t fault_page;	/* the stalled page, in the stalled task */
	pid_t stalled;
	bool stalled_gone, s_destroyed, cleaned, queue_checked;
	bool t_held;		/* a stuck probe still holds node T's fd */
	int base[MAX_TAGS], nbase;
	struct shared *sh;
	int nslot;
	pid_t left[MAX_LEFT];
	int nleft;
};

static void env_init(struct env *e, const struct stall_op *op, bool group)
{
	int *fds[] = {
		&e->ctl, &e->s_own, &e->s_rd, &e->s_wr, &e->o_rd, &e->o_wr,
		&e->node_r, &e->node_s, &e->node_t, &e->c1_wr, &e->c2_rd,
		&e->c2_wr, &e->check_fd, &e->send_fd, &e->uffd,
	};
	unsigned int i;

	memset(e, 0, sizeof(*e));
	e->op = op;
	e->group = group;
	for (i = 0; i < ARRAY_SIZE(fds); i++)
		*fds[i] = -1;
	e->pg = sysconf(_SC_PAGESIZE);
}

static void xclose(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static int drop_to(uid_t id)
{
	if (setgroups(0, NULL) || setresgid(id, id, id) ||
	    setresuid(id, id, id))
		return -errno;
	return 0;
}

static long long ms_since(double t0)
{
	return (long long)((sc_now() - t0) * 1000);
}

/* Reap @pid if it has exited within @ms; 1 if it did, 0 if not. */
static int wait_gone(pid_t pid, int ms, int *status)
{
	double t0 = sc_now();
	int st = 0;

	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid || (r < 0 && errno == ECHILD)) {
			if (status)
				*status = st;
			return 1;
		}
		if (ms_since(t0) >= ms)
			return 0;
		usleep(2000);
	}
}

/* State letter, wait channel and kernel stack of a task, for the log. */
static void describe(struct __test_metadata *_metadata, const char *who,
		     pid_t pid)
{
	char path[64], buf[2048], wchan[64], *p, state = '?';

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (sc_read_text(path, buf, sizeof(buf)) > 0) {
		p = strrchr(buf, ')');
		if (p && p[1])
			state = p[2];
	}
	snprintf(path, sizeof(path), "/proc/%d/wchan", pid);
	if (sc_read_text(path, wchan, sizeof(wchan)) < 0)
		strcpy(wchan, "?");
	TH_LOG("  %s (pid %d): state %c, wchan %s", who, pid, state, wchan);
	snprintf(path, sizeof(path), "/proc/%d/stack", pid);
	if (sc_read_text(path, buf, sizeof(buf)) > 0) {
		char *line, *save = NULL;
		int n = 0;

		for (line = strtok_r(buf, "\n", &save); line && n < 12;
		     line = strtok_r(NULL, "\n", &save), n++)
			TH_LOG("    %s", line);
	}
}

/* Close, in a child, the descriptors it must not hold. */
static void child_close(struct env *e, bool keep_t)
{
	close(e->uffd);
	if (!keep_t && e->node_t >= 0)
		close(e->node_t);
}

/* ------------------------------------------------------------------------ */
/* Probes                                                                   */
/* ------------------------------------------------------------------------ */

typedef int (*probe_fn)(struct env *e, struct slot *s, long long arg);

struct probe_opts {
	bool as_root;		/* stay root (default: uid/gid 65534) */
	bool keep_t;		/* keep node T's fd (others close it) */
	bool close_t;		/* the test closes its copy: the probe's is last */
	bool leave;		/* on timeout, leave it to the caller */
};

static const struct probe_opts as_nobody = { 0 };
static const struct probe_opts as_root = { .as_root = true };
static const struct probe_opts with_t = { .as_root = true, .keep_t = true };
static const struct probe_opts closing_t = {
	.as_root = true, .keep_t = true, .close_t = true };

/*
 * Run @fn in a child and give it PROBE_MS to return; report the check as
 * @name.  The child gets ready (drops to uid 65534 unless opts->as_root),
 * says so, and waits for the go: the clock starts there.  Only probes
 * with opts->keep_t hold node T's fd; with opts->close_t the test closes
 * its own copy in between, so that the probe's close() is the last one.  Returns the slot; with
 * opts->leave and a timeout, *@leftp is the still running child (else 0)
 * and the wait is not counted as a failure: the caller decides.
 */
static struct slot *probe(struct __test_metadata *_metadata, struct env *e,
			  const char *name, probe_fn fn, long long arg,
			  const struct probe_opts *o, pid_t *leftp)
{
	struct slot *s;
	struct pollfd pfd;
	int sv[2], status = 0, idx;
	double t0;
	pid_t pid;
	char c;

	if (leftp)
		*leftp = 0;
	idx = e->nslot < NSLOTS ? e->nslot++ : NSLOTS - 1;
	s = &e->sh->slot[idx];
	memset(s, 0, sizeof(*s));
	s->consumed = -1;
	s->appended = -1;
	s->may_append = -1;
	s->ret = -EINPROGRESS;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		EXPECT_EQ(0, errno) TH_LOG("%s: socketpair: %s", name,
					   strerror(errno));
		return s;
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		EXPECT_LE(0, pid) TH_LOG("%s: fork: %s", name, strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return s;
	}
	if (pid == 0) {
		close(sv[0]);
		child_close(e, o->keep_t);
		if (!o->as_root && drop_to(NOBODY)) {
			s->ret = -errno;
			snprintf(s->why, sizeof(s->why), "setresuid");
			_exit(1);
		}
		if (write(sv[1], "r", 1) != 1 || read(sv[1], &c, 1) != 1)
			_exit(1);
		s->ret = fn(e, s, arg);
		s->done = 1;
		_exit(s->ret ? 1 : 0);
	}
	close(sv[1]);
	pfd.fd = sv[0];
	pfd.events = POLLIN;
	if (poll(&pfd, 1, READY_MS) != 1 || read(sv[0], &c, 1) != 1) {
		close(sv[0]);
		if (wait_gone(pid, KILL_MS, &status)) {
			EXPECT_EQ(0, s->ret)
				TH_LOG("check %s: probe setup failed: %s: %s",
				       name, s->why, strerror(-s->ret));
			return s;
		}
		EXPECT_TRUE(false) TH_LOG("check %s: probe did not start", name);
		kill(pid, SIGKILL);
		if (!wait_gone(pid, KILL_MS, NULL) && e->nleft < MAX_LEFT)
			e->left[e->nleft++] = pid;
		return s;
	}
	if (o->close_t)
		xclose(&e->node_t);
	t0 = sc_now();
	if (write(sv[0], "g", 1) != 1)
		TH_LOG("check %s: could not start the probe", name);
	close(sv[0]);
	if (wait_gone(pid, PROBE_MS, &status)) {
		long long ms = ms_since(t0);

		if (!s->done) {
			EXPECT_TRUE(s->done)
				TH_LOG("check %s: probe died (status 0x%x)",
				       name, status);
		} else {
			EXPECT_EQ(0, s->ret)
				TH_LOG("check %s: failed after %lld ms: %s%s%s (%d)",
				       name, ms, s->why, s->why[0] ? ": " : "",
				       s->ret < 0 ? strerror(-s->ret) : "unexpected",
				       s->ret);
		}
		if (s->done && !s->ret)
			ksft_print_msg("check %s: ok (%lld ms)\n", name, ms);
		return s;
	}
	if (o->leave && leftp) {
		ksft_print_msg("%s: still waiting after %d ms\n", name, PROBE_MS);
		describe(_metadata, name, pid);
		*leftp = pid;
		return s;
	}
	EXPECT_TRUE(false)
		TH_LOG("check %s: no answer within %d ms (kernel bug: blocked behind the stalled copy)",
		       name, PROBE_MS);
	describe(_metadata, name, pid);
	kill(pid, SIGKILL);
	if (wait_gone(pid, NOTE_MS, NULL)) {
		TH_LOG("  %s: died on SIGKILL", name);
	} else {
		TH_LOG("  %s: still there %d ms after SIGKILL (uninterruptible)",
		       name, NOTE_MS);
		if (e->nleft < MAX_LEFT)
			e->left[e->nleft++] = pid;
		if (o->keep_t)
			e->t_held = true;
	}
	return s;
}

#define PROBE_FAIL(s, err, ...) ({ \
	snprintf((s)->why, sizeof((s)->why), __VA_ARGS__); (err); })

/* open() of @arg's device node, both ends, and close. */
static int p_open(struct env *e, struct slot *s, long long arg)
{
	const char *name = arg ? e->o : e->s;
	int fd;

	fd = sc_open_chan(name, O_RDONLY | O_NONBLOCK);
	if (fd < 0)
		return PROBE_FAIL(s, fd, "open O_RDONLY");
	close(fd);
	fd = sc_open_chan(name, O_WRONLY | O_NONBLOCK);
	if (fd < 0)
		return PROBE_FAIL(s, fd, "open O_WRONLY");
	close(fd);
	return 0;
}

/* open() of one end of the stalled channel (arg: O_RDONLY or O_WRONLY). */
static int p_open_same(struct env *e, struct slot *s, long long arg)
{
	int fd = sc_open_chan(e->s, (int)arg | O_NONBLOCK);

	if (fd < 0)
		return PROBE_FAIL(s, fd, "open");
	close(fd);
	return 0;
}

static int ctl_open(void)
{
	int fd = open(SC_CONTROL, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

/* Open the control device anew and ask VERSION. */
static int p_control(struct env *e, struct slot *s, long long arg)
{
	struct snapchan_version v;
	int ctl = ctl_open();

	(void)e;
	(void)arg;
	if (ctl < 0)
		return PROBE_FAIL(s, ctl, "open control");
	memset(&v, 0, sizeof(v));
	if (ioctl(ctl, SNAPCHAN_IOC_VERSION, &v))
		return PROBE_FAIL(s, -errno, "VERSION");
	close(ctl);
	return v.abi_version == SNAPCHAN_ABI_VERSION ? 0 :
		PROBE_FAIL(s, -EPROTO, "abi %u", v.abi_version);
}

static int p_create(struct env *e, struct slot *s, long long arg)
{
	struct snapchan_chan_create c;

	(void)arg;
	memset(&c, 0, sizeof(c));
	sc_name(c.name, e->n);
	c.mode = 0666;
	if (ioctl(e->ctl, SNAPCHAN_IOC_CHAN_CREATE, &c))
		return PROBE_FAIL(s, -errno, "CHAN_CREATE");
	return 0;
}

/* CHAN_DESTROY of @arg: 0 the other user's own channel V, 1 S. */
static int p_destroy(struct env *e, struct slot *s, long long arg)
{
	int ret = sc_destroy(e->ctl, arg ? e->s : e->v);

	return ret ? PROBE_FAIL(s, ret, "CHAN_DESTROY") : 0;
}

/* CHAN_INFO of @arg: 0 S, 1 O. */
static int p_info(struct env *e, struct slot *s, long long arg)
{
	struct snapchan_chan_info info;
	int ret = sc_info(e->ctl, arg ? e->o : e->s, &info);

	if (ret)
		return PROBE_FAIL(s, ret, "CHAN_INFO");
	s->val = info.depth_msgs;
	return 0;
}

static int p_list(struct env *e, struct slot *s, long long arg)
{
	static char names[256][NL];
	struct snapchan_chan_list l;

	(void)arg;
	memset(&l, 0, sizeof(l));
	l.names = (uintptr_t)names;
	l.max_entries = 256;
	if (ioctl(e->ctl, SNAPCHAN_IOC_CHAN_LIST, &l))
		return PROBE_FAIL(s, -errno, "CHAN_LIST");
	s->val = l.count;
	return l.count >= 2 ? 0 : PROBE_FAIL(s, -EPROTO, "count %u", l.count);
}

/* poll() of the fd @arg, without waiting. */
static int p_poll(struct env *e, struct slot *s, long long arg)
{
	struct pollfd p = { .fd = (int)arg, .events = POLLIN | POLLOUT | POLLPRI };

	(void)e;
	if (poll(&p, 1, 0) < 0)
		return PROBE_FAIL(s, -errno, "poll");
	s->val = p.revents;
	return p.revents & POLLNVAL ? PROBE_FAIL(s, -EBADF, "POLLNVAL") : 0;
}

/* A new message on the stalled channel, through another sending end. */
static int p_send_s(struct env *e, struct slot *s, long long arg)
{
	int ret;

	s->may_append = (int)arg;
	ret = send_tag(e->s_wr, (int)arg);

	if (ret)
		return PROBE_FAIL(s, ret, "write");
	s->appended = (int)arg;
	return 0;
}

/* Receive from the stalled channel through another receiving end. */
static int p_recv_s(struct env *e, struct slot *s, long long arg)
{
	unsigned char buf[4096];
	ssize_t n;

	s->may_consume = 1;
	n = read(e->s_rd, buf, sizeof(buf));
	if (n < 0)
		return PROBE_FAIL(s, -errno, "read");
	s->consumed = tag_of(buf, n);
	if (s->consumed != arg)
		return PROBE_FAIL(s, -EPROTO, "got message %d, not %lld",
				  s->consumed, arg);
	return 0;
}

/* Take the head, if any, through another receiving end. */
static int p_recv_any(struct env *e, struct slot *s, long long arg)
{
	unsigned char buf[4096];
	ssize_t n;

	(void)arg;
	s->may_consume = 1;
	n = read(e->s_rd, buf, sizeof(buf));
	s->val = n < 0 ? -errno : n;
	if (n < 0 && errno != EAGAIN)
		return PROBE_FAIL(s, -errno, "read");
	if (n >= 0)
		s->consumed = tag_of(buf, n);
	return 0;
}

/* A message through the other channel, there and back. */
static int p_io_other(struct env *e, struct slot *s, long long arg)
{
	unsigned char buf[4096];
	ssize_t n;
	int ret;

	(void)arg;
	ret = send_tag(e->o_wr, TAG_PROBE);
	if (ret)
		return PROBE_FAIL(s, ret, "write");
	n = read(e->o_rd, buf, sizeof(buf));
	if (n < 0)
		return PROBE_FAIL(s, -errno, "read");
	if (tag_of(buf, n) != TAG_PROBE)
		return PROBE_FAIL(s, -EPROTO, "read back something else");
	return 0;
}

/*
 * The stalled task's own end: read (or write) through the very file it is
 * stalled in.  This one may wait, but must stay killable; whatever it
 * gets is checked against the queue afterwards (no message twice).
 */
static int p_same_end(struct env *e, struct slot *s, long long arg)
{
	unsigned char buf[4096];
	ssize_t n;

	(void)arg;
	if (e->op->writer) {
		s->may_append = TAG_SAME_END;
		payload(buf, TAG_SAME_END);
		n = write(e->s_own, buf, MSG_LEN);
		s->val = n < 0 ? -errno : n;
		if (n == MSG_LEN)
			s->appended = TAG_SAME_END;
		return 0;
	}
	s->may_consume = 1;
	n = read(e->s_own, buf, sizeof(buf));
	s->val = n < 0 ? -errno : n;
	if (n > 0)
		s->consumed = tag_of(buf, n);
	return 0;
}

/* Group probes: node fds by number (0 R, 1 S, 2 T). */
static int node_fd(struct env *e, long long which)
{
	return which == 0 ? e->node_r : which == 1 ? e->node_s : e->node_t;
}

static int p_node_poll(struct env *e, struct slot *s, long long arg)
{
	struct pollfd p = { .fd = node_fd(e, arg), .events = POLLIN | POLLPRI };

	if (poll(&p, 1, 0) < 0)
		return PROBE_FAIL(s, -errno, "poll");
	s->val = p.revents;
	return p.revents & POLLNVAL ? PROBE_FAIL(s, -EBADF, "POLLNVAL") : 0;
}

static int p_node_event(struct env *e, struct slot *s, long long arg)
{
	struct snapchan_node_event ev;

	memset(&ev, 0, sizeof(ev));
	if (ioctl(node_fd(e, arg), SNAPCHAN_IOC_NODE_EVENT, &ev))
		return PROBE_FAIL(s, -errno, "NODE_EVENT");
	s->val = ev.snap_id;
	return 0;
}

/* NODE_RECORD of node @arg, beginning a new snapshot (id 0). */
static int p_record(struct env *e, struct slot *s, long long arg)
{
	struct snapchan_node_record r;
	static const char state[] = "state";

	memset(&r, 0, sizeof(r));
	r.state = (uintptr_t)state;
	r.state_len = sizeof(state);
	if (ioctl(node_fd(e, arg), SNAPCHAN_IOC_NODE_RECORD, &r))
		return PROBE_FAIL(s, -errno, "NODE_RECORD");
	s->val = r.snap_id;
	return 0;
}

static int p_snap_begin(struct env *e, struct slot *s, long long arg)
{
	struct snapchan_snap_begin b;
	int fd;

	(void)arg;
	memset(&b, 0, sizeof(b));
	sc_name(b.group, e->g);
	fd = ioctl(e->ctl, SNAPCHAN_IOC_SNAP_BEGIN, &b);
	if (fd < 0)
		return PROBE_FAIL(s, -errno, "SNAP_BEGIN");
	s->val = b.snap_id;
	close(fd);
	return 0;
}

/* close() of node T's last descriptor (the node leaves the group). */
static int p_close_t(struct env *e, struct slot *s, long long arg)
{
	(void)arg;
	if (close(e->node_t))
		return PROBE_FAIL(s, -errno, "close");
	return 0;
}

/* ------------------------------------------------------------------------ */
/* The stalled task                                                         */
/* ------------------------------------------------------------------------ */

static int uffd_open(bool wp)
{
	struct uffdio_api api = { .api = UFFD_API };
	int fd;

	if (wp)
		api.features = UFFD_FEATURE_PAGEFAULT_FLAG_WP;
	fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, UFFDIO_API, &api)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* Is userfaultfd (for kernel-mode faults) usable here?  0 or -errno. */
static int uffd_available(bool wp)
{
	int fd = uffd_open(wp);

	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

static int send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = "u", .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;

	memset(cbuf, 0, sizeof(cbuf));
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))], c;
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;
	int fd = -1;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT) != 1)
		return -1;
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
			memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

#define STALL_STEP(cond, step) do { \
		if (!(cond)) { \
			e->sh->stall_ret = -errno; \
			e->sh->stall_step = (step); \
			_exit(1); \
		} \
	} while (0)

/*
 * The stalled task: set up the page, hand the userfaultfd over and make
 * the call.  It only returns if the call does not stall.
 */
static void __noreturn stall_child(struct env *e, int sock)
{
	const struct stall_op *op = e->op;
	struct snapchan_recv *ent = NULL, arg_stack;
	struct snapchan_send_msg msg;
	struct snapchan_batch b;
	struct uffdio_register reg;
	struct uffdio_writeprotect wp;
	struct iovec iov[2];
	char *p0, *p1;
	long long ret;
	int uffd, i;

	/* Keep only what the call needs: the stalled end. */
	xclose(&e->s_rd);
	xclose(&e->s_wr);
	xclose(&e->o_rd);
	xclose(&e->o_wr);
	xclose(&e->node_r);
	xclose(&e->node_s);
	xclose(&e->node_t);
	xclose(&e->c1_wr);
	xclose(&e->c2_rd);
	xclose(&e->c2_wr);

	p0 = mmap(NULL, 2 * e->pg, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	STALL_STEP(p0 != MAP_FAILED, 1);
	p1 = p0 + e->pg;
	memset(p0, 0, e->pg);
	if (op->wp)
		memset(p1, 0, e->pg);	/* WP protects present pages */

	uffd = uffd_open(op->wp);
	errno = -uffd;
	STALL_STEP(uffd >= 0, 2);
	memset(&reg, 0, sizeof(reg));
	reg.range.start = (uintptr_t)p1;
	reg.range.len = e->pg;
	reg.mode = op->wp ? UFFDIO_REGISTER_MODE_WP : UFFDIO_REGISTER_MODE_MISSING;
	STALL_STEP(!ioctl(uffd, UFFDIO_REGISTER, &reg), 3);

	/* What must be in the page before it is write-protected. */
	if (op->kind == ST_RECV_ARG_WP) {
		ent = (struct snapchan_recv *)p1;
		ent->buf = (uintptr_t)p0;
		ent->buf_len = 1024;
	} else if (op->kind == ST_RECV_BATCH_ENTRIES_WP) {
		ent = (struct snapchan_recv *)p1;
		for (i = 0; i < 4; i++) {
			ent[i].buf = (uintptr_t)(p0 + i * 1024);
			ent[i].buf_len = 1024;
		}
	}
	if (op->wp) {
		memset(&wp, 0, sizeof(wp));
		wp.range.start = (uintptr_t)p1;
		wp.range.len = e->pg;
		wp.mode = UFFDIO_WRITEPROTECT_MODE_WP;
		STALL_STEP(!ioctl(uffd, UFFDIO_WRITEPROTECT, &wp), 4);
	}
	STALL_STEP(!send_fd(sock, uffd), 5);

	memset(&b, 0, sizeof(b));
	memset(&arg_stack, 0, sizeof(arg_stack));
	switch (op->kind) {
	case ST_READ:
		ret = read(e->s_own, p1, e->pg);
		break;
	case ST_READV:
		iov[0].iov_base = p1 - 16;
		iov[0].iov_len = 16;
		iov[1].iov_base = p1;
		iov[1].iov_len = e->pg;
		ret = readv(e->s_own, iov, 2);
		break;
	case ST_RECV:
		arg_stack.buf = (uintptr_t)p1;
		arg_stack.buf_len = e->pg;
		ret = ioctl(e->s_own, SNAPCHAN_IOC_RECV, &arg_stack);
		break;
	case ST_RECV_ARG_WP:
		ret = ioctl(e->s_own, SNAPCHAN_IOC_RECV, p1);
		break;
	case ST_RECV_BATCH_BUF:
		ent = (struct snapchan_recv *)p0;
		memset(ent, 0, 4 * sizeof(*ent));
		ent[0].buf = (uintptr_t)p1;
		ent[0].buf_len = e->pg;
		for (i = 1; i < 4; i++) {
			ent[i].buf = (uintptr_t)(p0 + i * 1024);
			ent[i].buf_len = 512;
		}
		b.msgs = (uintptr_t)ent;
		b.nr = 4;
		ret = ioctl(e->s_own, SNAPCHAN_IOC_RECV_BATCH, &b);
		break;
	case ST_RECV_BATCH_ENTRIES:
		/* Entry 0 ends page 0; entries 1..3 lie in the stalled page. */
		ent = (struct snapchan_recv *)p1 - 1;
		memset(ent, 0, sizeof(*ent));
		ent->buf = (uintptr_t)p0;
		ent->buf_len = 1024;
		b.msgs = (uintptr_t)ent;
		b.nr = 4;
		ret = ioctl(e->s_own, SNAPCHAN_IOC_RECV_BATCH, &b);
		break;
	case ST_RECV_BATCH_ENTRIES_WP:
		b.msgs = (uintptr_t)p1;
		b.nr = 4;
		ret = ioctl(e->s_own, SNAPCHAN_IOC_RECV_BATCH, &b);
		break;
	case ST_WRITE:
		ret = write(e->s_own, p1, MSG_LEN);
		break;
	case ST_SEND_BATCH:
		memset(&msg, 0, sizeof(msg));
		msg.buf = (uintptr_t)p1;
		msg.len = MSG_LEN;
		b.msgs = (uintptr_t)&msg;
		b.nr = 1;
		ret = ioctl(e->s_own, SNAPCHAN_IOC_SEND_BATCH, &b);
		break;
	default:
		ret = -1;
		errno = EINVAL;
	}
	e->sh->stall_ret = ret < 0 ? -errno : ret;
	/* Once resolved, what did it receive? */
	if (ret >= 0 && !op->writer) {
		int *t = e->sh->stall_tags;

		switch (op->kind) {
		case ST_READ:
			t[0] = tag_of(p1, ret);
			e->sh->nstall_tags = 1;
			break;
		case ST_READV:
			t[0] = tag_of(p1 - 16, ret);	/* contiguous */
			e->sh->nstall_tags = 1;
			break;
		case ST_RECV:
			t[0] = tag_of(p1, arg_stack.len);
			e->sh->nstall_tags = arg_stack.type == SNAPCHAN_REC_DATA;
			break;
		case ST_RECV_ARG_WP:
			ent = (struct snapchan_recv *)p1;
			t[0] = tag_of(p0, ent->len);
			e->sh->nstall_tags = ent->type == SNAPCHAN_REC_DATA;
			break;
		default:	/* the batches: ent is the entry array */
			if (op->kind == ST_RECV_BATCH_ENTRIES_WP)
				ent = (struct snapchan_recv *)p1;
			for (i = 0; ent && i < ret && i < 8; i++)
				if (ent[i].type == SNAPCHAN_REC_DATA &&
				    ent[i].len <= ent[i].buf_len)
					t[e->sh->nstall_tags++] =
						tag_of((void *)(uintptr_t)ent[i].buf,
						       ent[i].len);
		}
	}
	e->sh->stall_done = 1;
	_exit(0);
}

/*
 * Start the stalled task and wait for its fault to reach the userfaultfd.
 * 0, or -1 with the reason logged.
 */
static int start_stall(struct __test_metadata *_metadata, struct env *e)
{
	struct uffd_msg msg;
	struct pollfd pfd;
	int sv[2], status;
	uintptr_t addr;
	double t0;
	ssize_t n;

	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv)) {
		TH_LOG("socketpair: %s", strerror(errno));
		return -1;
	}
	fflush(stdout);
	fflush(stderr);
	e->stalled = fork();
	if (e->stalled < 0) {
		TH_LOG("fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (e->stalled == 0) {
		close(sv[0]);
		stall_child(e, sv[1]);
	}
	close(sv[1]);
	t0 = sc_now();
	while (e->uffd < 0) {
		pfd.fd = sv[0];
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 20) == 1)
			e->uffd = recv_fd(sv[0]);
		if (e->uffd < 0 && (wait_gone(e->stalled, 0, &status) ||
				    ms_since(t0) > STALL_MS))
			break;
	}
	close(sv[0]);
	if (e->uffd < 0)
		goto not_stalled;
	for (;;) {
		pfd.fd = e->uffd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 20) == 1)
			break;
		if (wait_gone(e->stalled, 0, &status) || ms_since(t0) > STALL_MS)
			goto not_stalled;
	}
	/* The fault is at the page, from the kernel's copy. */
	n = read(e->uffd, &msg, sizeof(msg));
	if (n != sizeof(msg) || msg.event != UFFD_EVENT_PAGEFAULT) {
		TH_LOG("userfaultfd: read %zd, event %u", n,
		       n > 0 ? msg.event : 0);
		return -1;
	}
	addr = msg.arg.pagefault.address;
	e->fault_page = addr & ~(uintptr_t)(e->pg - 1);
	ksft_print_msg("%s: stalled (fault at page offset %lu, %s) after %lld ms\n",
		       e->op->what, (unsigned long)(addr % e->pg),
		       msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP ? "wp" :
		       msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE ?
		       "write" : "read", ms_since(t0));
	return 0;

not_stalled:
	if (!wait_gone(e->stalled, KILL_MS, &status)) {
		TH_LOG("%s: no fault within %d ms", e->op->what, STALL_MS);
		describe(_metadata, "would-be stalled task", e->stalled);
		kill(e->stalled, SIGKILL);
		wait_gone(e->stalled, REAP_MS, NULL);
	} else if (e->sh->stall_done) {
		long long r = e->sh->stall_ret;

		TH_LOG("%s: returned %lld (%s) instead of stalling in the copy",
		       e->op->what, r, r < 0 ? strerror((int)-r) : "no fault");
	} else {
		TH_LOG("%s: setup failed at step %d: %s", e->op->what,
		       e->sh->stall_step, strerror((int)-e->sh->stall_ret));
	}
	e->stalled_gone = true;
	return -1;
}

/* ------------------------------------------------------------------------ */
/* The end of every test: kill, reap, read back                             */
/* ------------------------------------------------------------------------ */

static void kill_stalled(struct __test_metadata *_metadata, struct env *e,
			 const char *check)
{
	double t0;

	if (e->stalled <= 0 || e->stalled_gone)
		return;
	t0 = sc_now();
	kill(e->stalled, SIGKILL);
	if (wait_gone(e->stalled, KILL_MS, NULL)) {
		e->stalled_gone = true;
		if (check)
			ksft_print_msg("check %s: ok (%lld ms)\n", check,
				       ms_since(t0));
		return;
	}
	EXPECT_TRUE(false)
		TH_LOG("check %s: the stalled task is still there %d ms after SIGKILL (kernel bug)",
		       check ? check : "sigkill", KILL_MS);
	describe(_metadata, "stalled task", e->stalled);
	/* Resolve the fault the hard way: the copy then goes through. */
	xclose(&e->uffd);
	if (!wait_gone(e->stalled, REAP_MS, NULL))
		TH_LOG("stalled task %d still there after its userfaultfd closed",
		       e->stalled);
	e->stalled_gone = true;
}

static void reap_left(struct __test_metadata *_metadata, struct env *e)
{
	int i;

	for (i = 0; i < e->nleft; i++) {
		if (wait_gone(e->left[i], REAP_MS, NULL))
			continue;
		EXPECT_TRUE(false)
			TH_LOG("probe %d still blocked %d ms after the stalled task died (kernel bug: deadlock?)",
			       e->left[i], REAP_MS);
		describe(_metadata, "leftover probe", e->left[i]);
	}
	e->nleft = 0;
}

/*
 * Receive everything that is queued on S, without waiting: the tags of
 * the DATA records in order; a snapshot's marker at the head is recorded
 * through node R (the protocol) and the drain goes on.  Count, or -errno.
 */
static int drain(struct __test_metadata *_metadata, struct env *e, int *tags,
		 int max)
{
	unsigned char buf[4096];
	struct snapchan_recv r;
	int n = 0, markers = 0;

	while (n < max) {
		memset(&r, 0, sizeof(r));
		r.buf = (uintptr_t)buf;
		r.buf_len = sizeof(buf);
		if (ioctl(e->check_fd, SNAPCHAN_IOC_RECV, &r)) {
			if (errno == EAGAIN)
				break;
			TH_LOG("RECV on the stalled channel: %s", strerror(errno));
			return -errno;
		}
		if (r.type == SNAPCHAN_REC_MARKER) {
			struct snapchan_node_record rec;

			if (!r.origin)
				continue;	/* a user marker: consumed */
			if (!e->group || ++markers > 8) {
				TH_LOG("unexpected marker %llu at the head",
				       (unsigned long long)r.snap_id);
				return -EPROTO;
			}
			memset(&rec, 0, sizeof(rec));
			rec.snap_id = r.snap_id;
			if (ioctl(e->node_r, SNAPCHAN_IOC_NODE_RECORD, &rec) &&
			    errno != ECANCELED && errno != ENOENT &&
			    errno != EALREADY) {
				TH_LOG("NODE_RECORD %llu of R: %s",
				       (unsigned long long)r.snap_id,
				       strerror(errno));
				return -errno;
			}
			continue;
		}
		tags[n++] = tag_of(buf, r.len);
	}
	return n;
}

static void tags_str(char *out, size_t size, const int *tags, int n)
{
	size_t used = 0;
	int i;

	out[0] = '\0';
	for (i = 0; i < n && used + 8 < size; i++)
		used += snprintf(out + used, size - used, "%s%s%d",
				 i ? "," : "", tags[i] < 0 ? "bad:" : "",
				 tags[i]);
	if (!n)
		snprintf(out, size, "(none)");
}

/* Does got[0..ngot) equal want[k..nwant)? */
static bool tail_is(const int *got, int ngot, const int *want, int nwant,
		    int k)
{
	int i;

	if (ngot != nwant - k)
		return false;
	for (i = 0; i < ngot; i++)
		if (got[i] != want[k + i])
			return false;
	return true;
}

/*
 * What must be queued on S now: the messages queued before the stall,
 * less what probes received, plus what they sent, in order, each once.
 * A probe killed in its call may or may not have done what it was about
 * to: its message may be missing or there (once), the head may be gone.
 * Then the channel must carry one more.
 */
static void check_queue(struct __test_metadata *_metadata, struct env *e,
			const char *check)
{
	int want[MAX_TAGS + NSLOTS], got[MAX_TAGS + NSLOTS];
	int opt[NSLOTS], nopt = 0, nwant = 0, ngot, i, j, k, skip_max = 0;
	char ws[128], gs[128];
	bool ok = false;

	if (e->s_destroyed || e->queue_checked || e->check_fd < 0)
		return;
	for (i = 0; i < e->nbase; i++)
		want[nwant++] = e->base[i];
	/* A batch may have consumed M0, written in full, before it stalled. */
	if (e->op->head_optional)
		skip_max++;
	for (i = 0; i < e->nslot; i++) {
		struct slot *s = &e->sh->slot[i];

		if (!s->done) {
			skip_max += s->may_consume;
			if (s->may_append >= 0)
				opt[nopt++] = s->may_append;
			continue;
		}
		if (s->consumed >= 0) {
			/* It took the head, or what was left after others. */
			for (j = 0; j < nwant && want[j] != s->consumed; j++)
				;
			EXPECT_TRUE(j < nwant && j <= skip_max)
				TH_LOG("check %s: a probe received message %d, which was not at the head (kernel bug: order)",
				       check, s->consumed);
			if (j < nwant) {
				memmove(want, want + j + 1,
					(nwant - j - 1) * sizeof(int));
				nwant -= j + 1;
				skip_max -= j < skip_max ? j : skip_max;
			}
		}
		if (s->appended >= 0)
			want[nwant++] = s->appended;
	}
	if (fcntl(e->check_fd, F_SETFL,
		  fcntl(e->check_fd, F_GETFL) | O_NONBLOCK)) {
		EXPECT_EQ(0, errno);
		return;
	}
	ngot = drain(_metadata, e, got, MAX_TAGS + NSLOTS);
	EXPECT_LE(0, ngot);
	if (ngot < 0)
		return;
	tags_str(gs, sizeof(gs), got, ngot);
	/* Messages that killed probes may have sent: once at most. */
	for (i = 0; i < nopt; i++) {
		for (j = ngot - 1; j >= 0 && got[j] != opt[i]; j--)
			;
		if (j >= 0) {
			memmove(got + j, got + j + 1, (ngot - j - 1) * sizeof(int));
			ngot--;
		}
	}
	for (k = 0; k <= skip_max && k <= nwant && !ok; k++)
		ok = tail_is(got, ngot, want, nwant, k);
	tags_str(ws, sizeof(ws), want, nwant);
	EXPECT_TRUE(ok)
		TH_LOG("check %s: queue after the kill holds %s, expected %s%s (kernel bug: lost, damaged or doubled messages)",
		       check, gs, skip_max ? "a suffix of " : "", ws);
	if (ok)
		ksft_print_msg("check %s: queue intact (%s)\n", check, gs);

	/* And it still carries messages. */
	EXPECT_EQ(0, send_tag(e->send_fd, TAG_AFTER));
	ngot = drain(_metadata, e, got, 4);
	EXPECT_EQ(1, ngot);
	if (ngot == 1)
		EXPECT_EQ(TAG_AFTER, got[0]);
}

/* Kill the stalled task, reap the leftovers, check the queue. */
static void finish(struct __test_metadata *_metadata, struct env *e,
		   const char *check)
{
	char name[64];

	snprintf(name, sizeof(name), "%s_dies", check);
	kill_stalled(_metadata, e, name);
	reap_left(_metadata, e);
	snprintf(name, sizeof(name), "%s_nothing_lost", check);
	check_queue(_metadata, e, name);
}

/* Destroy everything; idempotent, also for a setup that failed. */
static void env_cleanup(struct __test_metadata *_metadata, struct env *e)
{
	if (e->cleaned)
		return;
	e->cleaned = true;
	if (e->stalled > 0 && !e->stalled_gone) {
		kill(e->stalled, SIGKILL);
		if (!wait_gone(e->stalled, KILL_MS, NULL)) {
			xclose(&e->uffd);
			wait_gone(e->stalled, REAP_MS, NULL);
		}
		e->stalled_gone = true;
	}
	reap_left(_metadata, e);
	xclose(&e->uffd);
	xclose(&e->node_r);
	xclose(&e->node_s);
	xclose(&e->node_t);
	xclose(&e->s_own);
	xclose(&e->s_rd);
	xclose(&e->s_wr);
	xclose(&e->o_rd);
	xclose(&e->o_wr);
	xclose(&e->c1_wr);
	xclose(&e->c2_rd);
	xclose(&e->c2_wr);
	if (e->ctl >= 0) {
		struct snapchan_chan_destroy d;
		const char *const names[] = { e->s, e->o, e->v, e->n, e->c2 };
		unsigned int i;

		for (i = 0; i < ARRAY_SIZE(names); i++) {
			if (!names[i][0])
				continue;
			memset(&d, 0, sizeof(d));
			sc_name(d.name, names[i]);
			d.flags = SNAPCHAN_TOPO_F_ABORT;
			if (ioctl(e->ctl, SNAPCHAN_IOC_CHAN_DESTROY, &d) &&
			    errno != ENOENT)
				TH_LOG("destroy %s: %s", names[i], strerror(errno));
		}
	}
	xclose(&e->ctl);
	if (e->sh)
		munmap(e->sh, sizeof(*e->sh));
	e->sh = NULL;
}

/* ------------------------------------------------------------------------ */
/* Setup                                                                    */
/* ------------------------------------------------------------------------ */

static int make_chan(int ctl, const char *name, const char *group)
{
	struct snapchan_chan_create c;

	memset(&c, 0, sizeof(c));
	sc_name(c.name, name);
	if (group)
		sc_name(c.group, group);
	c.capacity_bytes = 8192;
	c.capacity_msgs = 32;
	c.max_msg = 1024;
	c.mode = 0666;
	return ioctl(ctl, SNAPCHAN_IOC_CHAN_CREATE, &c) ? -errno : 0;
}

/* Create @name as uid/gid 65534 (a channel another user owns). */
static int make_chan_as_nobody(const char *name)
{
	int status;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int ctl;

		if (drop_to(NOBODY))
			_exit(1);
		ctl = ctl_open();
		if (ctl < 0)
			_exit(2);
		_exit(make_chan(ctl, name, NULL) ? 3 : 0);
	}
	if (waitpid(pid, &status, 0) != pid)
		return -errno;
	return WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : -EPERM;
}

static int join(int ctl, const char *group, const char *name)
{
	struct snapchan_node_join j;
	int fd;

	memset(&j, 0, sizeof(j));
	sc_name(j.group, group);
	sc_name(j.name, name);
	fd = ioctl(ctl, SNAPCHAN_IOC_NODE_JOIN, &j);
	return fd < 0 ? -errno : fd;
}

static int attach(int node, int chan_fd)
{
	struct snapchan_node_attach a;

	memset(&a, 0, sizeof(a));
	a.chan_fd = chan_fd;
	return ioctl(node, SNAPCHAN_IOC_NODE_ATTACH, &a) ? -errno : 0;
}

#define SETUP_CHECK(e, cond, ...) do { \
		if (!(cond)) { \
			TH_LOG(__VA_ARGS__); \
			env_cleanup(_metadata, (e)); \
			_metadata->passed = 0; \
			return; \
		} \
	} while (0)

/* What both fixtures share: root, the module, userfaultfd, the names. */
static int env_begin(struct __test_metadata *_metadata, struct env *e)
{
	int ret;

	if (geteuid() != 0)
		SKIP(return 1, "needs root (userfaultfd for kernel faults, setresuid)");
	ret = uffd_available(e->op->wp);
	if (ret)
		SKIP(return 1, "userfaultfd%s unavailable: %s",
		     e->op->wp ? " write-protect mode" : "", strerror(-ret));
	e->sh = mmap(NULL, sizeof(*e->sh), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (e->sh == MAP_FAILED) {
		e->sh = NULL;
		TH_LOG("mmap: %s", strerror(errno));
		_metadata->passed = 0;
		return 1;
	}
	e->ctl = ctl_open();
	if (e->ctl < 0) {
		TH_LOG("open %s: %s", SC_CONTROL, strerror(-e->ctl));
		_metadata->passed = 0;
		return 1;
	}
	snprintf(e->s, NL, "stl%d-s", getpid());
	return 0;
}

/* ======================================================================== */
/* A stalled reader or writer, and everything around it                     */
/* ======================================================================== */

FIXTURE(stall) {
	struct env e;
};

FIXTURE_VARIANT(stall) {
	const struct stall_op *op;
};

FIXTURE_VARIANT_ADD(stall, read) { .op = &op_read };
FIXTURE_VARIANT_ADD(stall, readv) { .op = &op_readv };
FIXTURE_VARIANT_ADD(stall, recv) { .op = &op_recv };
FIXTURE_VARIANT_ADD(stall, recv_arg_wp) { .op = &op_recv_arg_wp };
FIXTURE_VARIANT_ADD(stall, recv_batch_buf) { .op = &op_recv_batch_buf };
FIXTURE_VARIANT_ADD(stall, recv_batch_entries) { .op = &op_recv_batch_entries };
FIXTURE_VARIANT_ADD(stall, recv_batch_entries_wp) {
	.op = &op_recv_batch_entries_wp };
FIXTURE_VARIANT_ADD(stall, write) { .op = &op_write };
FIXTURE_VARIANT_ADD(stall, send_batch) { .op = &op_send_batch };

FIXTURE_SETUP(stall)
{
	struct env *e = &self->e;
	int i, rd = O_RDONLY | O_CLOEXEC, wr = O_WRONLY | O_CLOEXEC;

	env_init(e, variant->op, false);
	if (env_begin(_metadata, e))
		return;
	snprintf(e->o, NL, "stl%d-o", getpid());
	snprintf(e->v, NL, "stl%d-v", getpid());
	snprintf(e->n, NL, "stl%d-n", getpid());

	SETUP_CHECK(e, !make_chan(e->ctl, e->s, NULL), "create S: %s", strerror(errno));
	SETUP_CHECK(e, !make_chan(e->ctl, e->o, NULL), "create O: %s", strerror(errno));
	SETUP_CHECK(e, !make_chan_as_nobody(e->v), "create V as uid %d", NOBODY);

	e->s_own = sc_open_chan(e->s, e->op->writer ? O_WRONLY : O_RDONLY);
	e->s_rd = sc_open_chan(e->s, rd | O_NONBLOCK);
	e->s_wr = sc_open_chan(e->s, wr | O_NONBLOCK);
	e->o_rd = sc_open_chan(e->o, rd | O_NONBLOCK);
	e->o_wr = sc_open_chan(e->o, wr | O_NONBLOCK);
	SETUP_CHECK(e, e->s_own >= 0 && e->s_rd >= 0 && e->s_wr >= 0 &&
		    e->o_rd >= 0 && e->o_wr >= 0, "open the channel ends");
	e->check_fd = e->s_rd;
	e->send_fd = e->s_wr;

	for (i = 0; i < e->op->nmsgs; i++) {
		SETUP_CHECK(e, !send_tag(e->s_wr, TAG_M0 + i), "queue M%d", i);
		e->base[e->nbase++] = TAG_M0 + i;
	}
	SETUP_CHECK(e, !start_stall(_metadata, e), "the call did not stall");
}

FIXTURE_TEARDOWN(stall)
{
	struct env *e = &self->e;

	if (!e->stalled_gone)
		finish(_metadata, e, "teardown");
	env_cleanup(_metadata, e);
}

/* The registry, from another user: none of it may wait for the copy. */
TEST_F_TIMEOUT(stall, registry, TEST_SECS)
{
	struct env *e = &self->e;

	probe(_metadata, e, "open_other_chan", p_open, 1, &as_nobody, NULL);
	probe(_metadata, e, "open_control_version", p_control, 0, &as_nobody, NULL);
	probe(_metadata, e, "chan_create", p_create, 0, &as_nobody, NULL);
	probe(_metadata, e, "chan_destroy_other", p_destroy, 0, &as_nobody, NULL);
	probe(_metadata, e, "chan_list", p_list, 0, &as_nobody, NULL);
	probe(_metadata, e, "chan_info_other", p_info, 1, &as_nobody, NULL);
	finish(_metadata, e, "registry");
}

/*
 * The stalled channel itself, through other ends: opening it, polling
 * every end (the stalled task's own one too), the other direction's I/O,
 * and last CHAN_INFO of it (which on the old module also takes the
 * registry down, see info_then_registry).
 */
TEST_F_TIMEOUT(stall, same_channel, TEST_SECS)
{
	struct env *e = &self->e;

	probe(_metadata, e, "open_stalled_chan_rd", p_open_same, O_RDONLY,
	      &as_nobody, NULL);
	probe(_metadata, e, "open_stalled_chan_wr", p_open_same, O_WRONLY,
	      &as_nobody, NULL);
	probe(_metadata, e, "poll_stalled_chan_rd_end", p_poll, e->s_rd,
	      &as_nobody, NULL);
	probe(_metadata, e, "poll_stalled_chan_wr_end", p_poll, e->s_wr,
	      &as_nobody, NULL);
	probe(_metadata, e, "poll_stalled_task_end", p_poll, e->s_own,
	      &as_nobody, NULL);
	if (e->op->writer) {
		probe(_metadata, e, "read_stalled_chan", p_recv_s, TAG_M0,
		      &as_nobody, NULL);
		probe(_metadata, e, "write_stalled_chan_other_end", p_send_s,
		      TAG_PROBE, &as_nobody, NULL);
	} else {
		probe(_metadata, e, "write_stalled_chan", p_send_s, TAG_PROBE,
		      &as_nobody, NULL);
	}
	probe(_metadata, e, "chan_info_stalled", p_info, 0, &as_nobody, NULL);
	finish(_metadata, e, "same_channel");
}

/* Another channel: its ends, its I/O, its poll. */
TEST_F_TIMEOUT(stall, other_channel, TEST_SECS)
{
	struct env *e = &self->e;

	probe(_metadata, e, "io_other_chan", p_io_other, 0, &as_nobody, NULL);
	probe(_metadata, e, "poll_other_chan_rd_end", p_poll, e->o_rd,
	      &as_nobody, NULL);
	probe(_metadata, e, "poll_other_chan_wr_end", p_poll, e->o_wr,
	      &as_nobody, NULL);
	probe(_metadata, e, "open_other_chan", p_open, 1, &as_nobody, NULL);
	finish(_metadata, e, "other_channel");
}

/*
 * Issue 12's reproducer: one CHAN_INFO of the stalled channel, then every
 * user's registry calls.  On the old module CHAN_INFO sleeps on chan->lock
 * holding the registry mutex and all of these hang in D state.
 */
TEST_F_TIMEOUT(stall, info_then_registry, TEST_SECS)
{
	struct env *e = &self->e;

	probe(_metadata, e, "chan_info_stalled", p_info, 0, &as_nobody, NULL);
	probe(_metadata, e, "then_open_other_chan", p_open, 1, &as_nobody, NULL);
	probe(_metadata, e, "then_chan_create", p_create, 0, &as_nobody, NULL);
	probe(_metadata, e, "then_chan_destroy_other", p_destroy, 0,
	      &as_nobody, NULL);
	probe(_metadata, e, "then_chan_list", p_list, 0, &as_nobody, NULL);
	probe(_metadata, e, "then_chan_info_other", p_info, 1, &as_nobody, NULL);
	probe(_metadata, e, "then_chan_info_stalled", p_info, 0, &as_nobody, NULL);
	finish(_metadata, e, "info_then_registry");
}

/*
 * A second call on the very end that is stalled may wait for it, but
 * killably; and if it returns a message, that message is not also left
 * queued (no message delivered twice).
 */
TEST_F_TIMEOUT(stall, same_end_killable, TEST_SECS)
{
	struct env *e = &self->e;
	static const struct probe_opts leave = { .leave = true };
	struct slot *s;
	double t0;
	pid_t pid;

	s = probe(_metadata, e, "same_end_call", p_same_end, 0, &leave, &pid);
	if (pid > 0) {
		/* Waiting is allowed here; being unkillable is not. */
		t0 = sc_now();
		kill(pid, SIGKILL);
		if (wait_gone(pid, KILL_MS, NULL)) {
			ksft_print_msg("check same_end_killable: ok (%lld ms)\n",
				       ms_since(t0));
		} else {
			EXPECT_TRUE(false)
				TH_LOG("check same_end_killable: a call waiting on the stalled end is not killable (kernel bug)");
			describe(_metadata, "same-end caller", pid);
			if (e->nleft < MAX_LEFT)
				e->left[e->nleft++] = pid;
		}
	} else if (s->done) {
		ksft_print_msg("same_end_call returned %lld\n", s->val);
	}
	finish(_metadata, e, "same_end");
}

/*
 * CHAN_DESTROY of the stalled channel itself is a registry call: it may
 * not wait for the copy either.  The stalled task still dies at once.
 */
TEST_F_TIMEOUT(stall, destroy_stalled, TEST_SECS)
{
	struct env *e = &self->e;
	struct slot *s;
	int fd;

	s = probe(_metadata, e, "chan_destroy_stalled", p_destroy, 1, &as_root,
		  NULL);
	kill_stalled(_metadata, e, "destroyed_stalled_dies");
	reap_left(_metadata, e);
	if (s->done && !s->ret) {
		e->s_destroyed = true;
		fd = sc_open_chan(e->s, O_RDONLY | O_NONBLOCK);
		EXPECT_EQ(-ENOENT, fd);
		if (fd >= 0)
			close(fd);
	}
}

/* Let the stalled copy go through: fill the page, or unprotect it. */
static int resolve(struct env *e)
{
	struct uffdio_writeprotect wp;
	struct uffdio_copy c;
	unsigned char *src;
	int ret = 0;

	if (e->op->wp) {
		memset(&wp, 0, sizeof(wp));
		wp.range.start = e->fault_page;
		wp.range.len = e->pg;
		wp.mode = 0;	/* clear WP and wake */
		return ioctl(e->uffd, UFFDIO_WRITEPROTECT, &wp) ? -errno : 0;
	}
	src = aligned_alloc(e->pg, e->pg);
	if (!src)
		return -ENOMEM;
	memset(src, 0, e->pg);
	if (e->op->writer)
		payload(src, TAG_STALLED);
	memset(&c, 0, sizeof(c));
	c.dst = e->fault_page;
	c.src = (uintptr_t)src;
	c.len = e->pg;
	if (ioctl(e->uffd, UFFDIO_COPY, &c))
		ret = -errno;
	free(src);
	return ret;
}

/*
 * While the copy is stalled, another end takes the head (or sends); then
 * the stall is resolved and the stalled call completes.  Every message
 * is delivered exactly once: the one that the other end took is not also
 * returned by the stalled call, and none is lost.  This is what copying
 * outside the lock must not break.
 */
TEST_F_TIMEOUT(stall, resolve_after_others, TEST_SECS)
{
	struct env *e = &self->e;
	int want[MAX_TAGS], nwant = 0, seen[MAX_TAGS + 16], nseen = 0;
	int got[MAX_TAGS + 16], ngot, i, j, uncertain = 0, optional = -1, ret;
	char ws[128], ss[128];
	struct slot *s;
	double t0;
	bool ok;

	/*
	 * One more message behind the stalled one (through a probe: the
	 * test itself must not touch the channel while the copy stalls).
	 */
	for (i = 0; i < e->nbase; i++)
		want[nwant++] = e->base[i];
	s = probe(_metadata, e, e->op->writer ? "other_writer_during_stall" :
		  "queue_one_more", p_send_s, TAG_PROBE, &as_nobody, NULL);
	if (s->done)
		want[nwant++] = TAG_PROBE;
	else
		optional = TAG_PROBE;	/* killed: it may have gone in */
	if (e->op->writer) {
		want[nwant++] = TAG_STALLED;
	} else {
		s = probe(_metadata, e, "other_reader_during_stall", p_recv_any,
			  0, &as_nobody, NULL);
		if (s->done && s->consumed >= 0)
			seen[nseen++] = s->consumed;
		if (!s->done)
			uncertain = s->may_consume;
	}

	t0 = sc_now();
	ret = resolve(e);
	ASSERT_EQ(0, ret) TH_LOG("resolving the fault: %s", strerror(-ret));
	ok = wait_gone(e->stalled, PROBE_MS, NULL);
	EXPECT_TRUE(ok)
		TH_LOG("check stalled_call_completes: the stalled call has not returned %d ms after its fault was resolved (kernel bug)",
		       PROBE_MS);
	if (!ok) {
		describe(_metadata, "stalled task", e->stalled);
		return;		/* the teardown kills it */
	}
	e->stalled_gone = true;
	reap_left(_metadata, e);
	EXPECT_TRUE(e->sh->stall_done && e->sh->stall_ret >= 0)
		TH_LOG("check stalled_call_completes: returned %lld (%s) with messages queued",
		       e->sh->stall_ret, e->sh->stall_ret < 0 ?
		       strerror((int)-e->sh->stall_ret) : "?");
	if (e->sh->stall_done && e->sh->stall_ret >= 0)
		ksft_print_msg("check stalled_call_completes: ok (%lld ms), returned %lld\n",
			       ms_since(t0), e->sh->stall_ret);
	for (i = 0; i < e->sh->nstall_tags; i++)
		seen[nseen++] = e->sh->stall_tags[i];

	/* What is still queued. */
	ASSERT_EQ(0, fcntl(e->check_fd, F_SETFL,
			   fcntl(e->check_fd, F_GETFL) | O_NONBLOCK));
	ngot = drain(_metadata, e, got, MAX_TAGS + 16 - nseen);
	ASSERT_LE(0, ngot);
	for (i = 0; i < ngot; i++)
		seen[nseen++] = got[i];
	e->queue_checked = true;

	/* Each wanted message seen exactly once, nothing else. */
	if (optional >= 0) {
		for (j = 0; j < nseen && seen[j] != optional; j++)
			;
		if (j < nseen)
			want[nwant++] = optional;
	}
	tags_str(ws, sizeof(ws), want, nwant);
	tags_str(ss, sizeof(ss), seen, nseen);
	ok = true;
	for (i = 0; i < nwant; i++) {
		int n = 0;

		for (j = 0; j < nseen; j++)
			n += seen[j] == want[i];
		if (n == 0 && uncertain) {
			uncertain--;	/* a killed probe may have it */
			continue;
		}
		if (n != 1) {
			ok = false;
			TH_LOG("check exactly_once: message %d delivered %d times (kernel bug: %s)",
			       want[i], n, n ? "delivered twice" : "lost");
		}
	}
	for (j = 0; j < nseen; j++) {
		for (i = 0; i < nwant && want[i] != seen[j]; i++)
			;
		if (i == nwant) {
			ok = false;
			TH_LOG("check exactly_once: unexpected message %d", seen[j]);
		}
	}
	EXPECT_TRUE(ok) TH_LOG("check exactly_once: sent %s, received %s (other end, stalled call, queue)",
			       ws, ss);
	if (ok)
		ksft_print_msg("check exactly_once: sent %s, received %s\n", ws, ss);
}

/* SIGKILL: the stalled task dies within KILL_MS and nothing is lost. */
TEST_F_TIMEOUT(stall, sigkill, TEST_SECS)
{
	struct env *e = &self->e;

	finish(_metadata, e, "sigkill");
}

/* ======================================================================== */
/* A group: node R, the receiver of S, stalled in a copy                    */
/* ======================================================================== */

/*
 * Nodes R, S and T of group G: S sends to R on channel S (the stalled
 * one), T sends to S on channel c2.  R's receive stalls; NODE_RECORD of
 * the others, SNAP_BEGIN, poll and NODE_EVENT of node fds and a node's
 * close must not wait for it.
 */
FIXTURE(gstall) {
	struct env e;
};

FIXTURE_VARIANT(gstall) {
	const struct stall_op *op;
};

FIXTURE_VARIANT_ADD(gstall, read) { .op = &op_read };
FIXTURE_VARIANT_ADD(gstall, recv) { .op = &op_recv };
FIXTURE_VARIANT_ADD(gstall, recv_batch_buf) { .op = &op_recv_batch_buf };

FIXTURE_SETUP(gstall)
{
	struct env *e = &self->e;
	int i;

	env_init(e, variant->op, true);
	if (env_begin(_metadata, e))
		return;
	snprintf(e->c2, NL, "stl%d-c2", getpid());
	snprintf(e->g, NL, "stl%d-g", getpid());

	SETUP_CHECK(e, !make_chan(e->ctl, e->s, e->g), "create S: %s", strerror(errno));
	SETUP_CHECK(e, !make_chan(e->ctl, e->c2, e->g), "create c2: %s", strerror(errno));
	e->node_r = join(e->ctl, e->g, "R");
	e->node_s = join(e->ctl, e->g, "S");
	e->node_t = join(e->ctl, e->g, "T");
	SETUP_CHECK(e, e->node_r >= 0 && e->node_s >= 0 && e->node_t >= 0,
		    "join R, S, T");
	e->s_own = sc_open_chan(e->s, O_RDONLY);
	e->c1_wr = sc_open_chan(e->s, O_WRONLY | O_NONBLOCK);
	e->c2_rd = sc_open_chan(e->c2, O_RDONLY | O_NONBLOCK);
	e->c2_wr = sc_open_chan(e->c2, O_WRONLY | O_NONBLOCK);
	SETUP_CHECK(e, e->s_own >= 0 && e->c1_wr >= 0 && e->c2_rd >= 0 &&
		    e->c2_wr >= 0, "open the channel ends");
	SETUP_CHECK(e, !attach(e->node_r, e->s_own), "attach R: %s", strerror(errno));
	SETUP_CHECK(e, !attach(e->node_s, e->c1_wr), "attach S: %s", strerror(errno));
	SETUP_CHECK(e, !attach(e->node_s, e->c2_rd), "attach S: %s", strerror(errno));
	SETUP_CHECK(e, !attach(e->node_t, e->c2_wr), "attach T: %s", strerror(errno));
	e->check_fd = e->s_own;
	e->send_fd = e->c1_wr;
	for (i = 0; i < e->op->nmsgs; i++) {
		SETUP_CHECK(e, !send_tag(e->c1_wr, TAG_M0 + i), "queue M%d", i);
		e->base[e->nbase++] = TAG_M0 + i;
	}
	SETUP_CHECK(e, !start_stall(_metadata, e), "the call did not stall");
}

FIXTURE_TEARDOWN(gstall)
{
	struct env *e = &self->e;

	if (!e->stalled_gone)
		finish(_metadata, e, "teardown");
	env_cleanup(_metadata, e);
}

/* Close node T: the probe's close() of its fd is the last one. */
static void probe_close_t(struct __test_metadata *_metadata, struct env *e,
			  const char *name)
{
	if (e->t_held)
		ksft_print_msg("%s: a stuck probe still holds node T: this close is not the last\n",
			       name);
	if (e->node_t >= 0)
		probe(_metadata, e, name, p_close_t, 0, &closing_t, NULL);
}

TEST_F_TIMEOUT(gstall, group_ops, TEST_SECS)
{
	struct env *e = &self->e;

	probe(_metadata, e, "node_poll_stalled_R", p_node_poll, 0, &as_root, NULL);
	probe(_metadata, e, "node_poll_S", p_node_poll, 1, &as_root, NULL);
	probe(_metadata, e, "snap_begin", p_snap_begin, 0, &as_root, NULL);
	probe(_metadata, e, "node_event_S", p_node_event, 1, &as_root, NULL);
	probe(_metadata, e, "node_record_T", p_record, 2, &with_t, NULL);
	probe(_metadata, e, "chan_info_stalled", p_info, 0, &as_root, NULL);
	probe_close_t(_metadata, e, "node_close_T");
	probe(_metadata, e, "node_poll_S_after", p_node_poll, 1, &as_root, NULL);
	finish(_metadata, e, "group_ops");
}

/*
 * NODE_RECORD of S, whose outgoing channel is the stalled one: its marker
 * goes behind the message being copied.  On the old module the record
 * sleeps on that channel's lock holding the group lock, and every group
 * call after it hangs.
 */
TEST_F_TIMEOUT(gstall, record_sender, TEST_SECS)
{
	struct env *e = &self->e;

	probe(_metadata, e, "node_record_S", p_record, 1, &as_root, NULL);
	probe(_metadata, e, "then_node_poll_S", p_node_poll, 1, &as_root, NULL);
	probe(_metadata, e, "then_node_poll_T", p_node_poll, 2, &with_t, NULL);
	probe(_metadata, e, "then_node_event_T", p_node_event, 2, &with_t, NULL);
	probe(_metadata, e, "then_snap_begin", p_snap_begin, 0, &as_root, NULL);
	probe(_metadata, e, "then_node_record_T", p_record, 2, &with_t, NULL);
	probe_close_t(_metadata, e, "then_node_close_T");
	finish(_metadata, e, "record_sender");
}

/*
 * NODE_RECORD of R itself waits for R's stalled receive at most (that is
 * "waiting for that end"), killably, and without holding up the group.
 */
TEST_F_TIMEOUT(gstall, record_stalled_node, TEST_SECS)
{
	static const struct probe_opts leave = { .as_root = true, .leave = true };
	struct env *e = &self->e;
	double t0;
	pid_t pid;

	probe(_metadata, e, "node_record_R", p_record, 0, &leave, &pid);
	if (pid > 0)
		ksft_print_msg("node_record_R waits for R's stalled receive (allowed); the group must not\n");
	probe(_metadata, e, "meanwhile_node_poll_S", p_node_poll, 1, &as_root, NULL);
	probe(_metadata, e, "meanwhile_node_event_T", p_node_event, 2, &with_t,
	      NULL);
	probe(_metadata, e, "meanwhile_snap_begin", p_snap_begin, 0, &as_root, NULL);
	probe(_metadata, e, "meanwhile_node_record_T", p_record, 2, &with_t, NULL);
	probe_close_t(_metadata, e, "meanwhile_node_close_T");
	if (pid > 0) {
		t0 = sc_now();
		kill(pid, SIGKILL);
		if (wait_gone(pid, KILL_MS, NULL)) {
			ksft_print_msg("check node_record_R_killable: ok (%lld ms)\n",
				       ms_since(t0));
		} else {
			EXPECT_TRUE(false)
				TH_LOG("check node_record_R_killable: NODE_RECORD waiting for the stalled node is not killable (kernel bug)");
			describe(_metadata, "node_record_R", pid);
			if (e->nleft < MAX_LEFT)
				e->left[e->nleft++] = pid;
		}
	}
	finish(_metadata, e, "record_stalled_node");
}

TEST_F_TIMEOUT(gstall, sigkill, TEST_SECS)
{
	struct env *e = &self->e;

	finish(_metadata, e, "sigkill");
}

int main(int argc, char **argv)
{
	int ret;

	if (access(SC_CONTROL, F_OK)) {
		ksft_print_header();
		ksft_exit_skip("%s missing: is the snapchan module loaded?\n",
			       SC_CONTROL);
	}
	if (geteuid() != 0) {
		ksft_print_header();
		ksft_exit_skip("needs root (userfaultfd for kernel faults, setresuid)\n");
	}
	ret = uffd_available(false);
	if (ret) {
		ksft_print_header();
		ksft_exit_skip("userfaultfd unavailable: %s\n", strerror(-ret));
	}
	return test_harness_run(argc, argv);
}
