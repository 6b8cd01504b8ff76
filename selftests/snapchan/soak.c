// SPDX-License-Identifier: GPL-2.0
/*
 * soak: snapshots under load, topology churn and kill -9, for a while
 * (DESIGN.md 3.3, 3.4; issue 7: load, snapshots under load, crashes).
 *
 *   soak [-d seconds] [-S snapshots] [-g groups] [-s seed] [-T seconds] [-v]
 *
 *   -d  run at least this long (default 40 s when -S is not given)
 *   -S  and until at least this many snapshots have ended (default 0)
 *   -g  groups alive at once (default 2, 1..8)
 *   -s  seed (default: time and pid); the run is not reproducible call by
 *       call (processes race), but the choices of each group are
 *   -T  give up (not ok) if -d and -S are not both reached after this many
 *       seconds (default: 4 * d + 600)
 *   -v  print every snapshot's outcome
 *
 * The main process keeps -g "group runners" alive; each runs one group for
 * 6..25 s (shorter when the run ends), tears it down and exits, and a new
 * one builds another group: a ring (3..8 nodes) or a mesh (3..5 nodes),
 * channels of random small capacity, so queues are full and empty all the
 * time.  Every node is a process moving money: DATA is a 32-byte payload
 * (magic, sender, receiver, the channel's message counter, amount, check
 * word).  Nodes mostly send without blocking, sometimes block in write or
 * in read for a while (a 30 ms timer interrupts them), answer record
 * requests (node fd EPOLLPRI) and markers (ENOMSG / RECV MARKER) with
 * NODE_RECORD of a state that holds their balance and, for every attached
 * channel, its position: the counter of the next message to send or to
 * receive.  Every receive is checked: the counter is the next one expected
 * on that channel and the sequence number is counter + 1 (nothing lost,
 * duplicated or reordered).
 *
 * A node keeps a journal in shared memory (before-values and the pending
 * send or receive), so that after kill -9 the runner can tell, from the
 * channel's counters (CHAN_INFO next_seq, total_received), whether the
 * interrupted write or read happened, rebuild the node's exact balance and
 * positions, and start a replacement that joins under the same name and
 * re-attaches the same channel ends.  So money is conserved across kills
 * and every channel goes on being used after them.
 *
 * While the money moves, a runner keeps up to max_snapshots snapshots
 * running: begun by SNAP_BEGIN from the runner, by SNAP_BEGIN from an
 * observer process, or by a node (NODE_RECORD id 0 with
 * SNAPCHAN_RECORD_F_SNAPFD); with short deadlines (1..40 ms) or normal
 * ones (or 0: the default_timeout_ms parameter), small budgets (1..100
 * bytes) or large ones, and random explicit aborts (SNAP_ABORT).  It tries
 * to begin one more than max_snapshots now and then (EBUSY).  And, one at
 * a time, with snapshots running (a snapshot is begun just before, if none
 * is), it runs an episode, in a global round-robin:
 *   kill -9 of a node: before it records (it is paused, a snapshot begins,
 *     kill: must abort MEMBER_LEFT); after it recorded (another member is
 *     paused so the snapshot cannot end, the node records, kill, resume:
 *     must COMPLETE); while blocked in write (on a channel whose receiver
 *     is paused, so it is full); while blocked in read (on a channel whose
 *     sender is paused, so it is empty); at a random moment; each time
 *     followed by recovery and a replacement node;
 *   kill -9 of an observer (it began the snapshot and waits for it), of an
 *     observer while it streams the image in small slow reads, of a holder
 *     (SNAP_OPEN of a known snapshot) while it streams;
 *   topology: a new channel between two nodes (create, attach both ends),
 *     a channel removed (sender detaches, the receiver drains it, detaches,
 *     destroy), a channel removed and created again under the same name, a
 *     node that joins with two channels, a node that leaves (its incoming
 *     channels removed, its whole balance sent in one message, its
 *     outgoing channels drained and removed, it closes its node fd), a
 *     channel created and destroyed with no end attached.  Each operation
 *     randomly waits for the running snapshots (the default) or aborts
 *     them (SNAPCHAN_TOPO_F_ABORT); half of them first hold a snapshot
 *     open (another node pauses for 100..500 ms, then resumes by itself),
 *     so that the wait or the abort really happens;
 *   max_snapshots held open (a node paused), then one more: EBUSY.
 * No snapshot is begun while an episode is in progress (the runner does
 * one thing at a time), so the members of every snapshot are known: the
 * live nodes and the channels with both ends attached.
 *
 * Checked for every snapshot:
 *   - it ends, COMPLETE or ABORTED, never later than its deadline + 20 s
 *     (else "stuck", with the debugfs tables printed); ids increase;
 *   - the abort reason agrees with what was done: EXPLICIT only if our
 *     SNAP_ABORT returned 0 (and then it is EXPLICIT, ended inside that
 *     call); DEADLINE only once its deadline passed; BUDGET only with
 *     recorded_bytes over its budget (and COMPLETE never over it);
 *     TOPOLOGY only inside a topology call with SNAPCHAN_TOPO_F_ABORT;
 *     MEMBER_LEFT only inside the kill or exit of a member that had not
 *     recorded it (its journal says so); never NONE, NOMEM or UNLOAD;
 *     the engineered kills end as said above;
 *   - no topology call (waiting or aborting) returns while a snapshot
 *     begun before it is still running; a member that dies leaves a
 *     snapshot running only if it had recorded it; the epoch of a snapshot
 *     is the previous one's when no topology change happened between their
 *     begins and larger when one did;
 *   - a complete image verifies (libsnapchan: CRC32C, structure, sequence
 *     numbers), agrees with SNAP_INFO (counts, bytes, length, epoch), has
 *     exactly the member nodes and channels, with the right ends; for
 *     every channel the records are exactly the messages with counters
 *     from the receiver's recorded position to the sender's (none received
 *     before the receiver recorded, none sent after the sender recorded:
 *     no orphan, none missing), sequence number counter + 1, and
 *     next_seq is the sender's position + 1; balances plus amounts in
 *     flight equal the group's total (conservation);
 *   - an observer that streamed the same image saw the same bytes (CRC).
 * Checked per group at teardown: after the nodes stop and drain, the
 * balances sum to the total, every channel is empty with every message
 * received (positions, CHAN_INFO counters); every process exits cleanly;
 * after the nodes leave and the channels are destroyed, debugfs lists
 * nothing of the group.  At the end: debugfs tables hold only their header
 * lines and /dev/snapchan only control.
 *
 * Output: TAP, 4 test points (groups, target, coverage of every kill point,
 * nothing left behind); figures as "#" lines.  Exit status 0 if all passed,
 * 1 if not, 4 (skip) without the module.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "snap_util.h"

#define KSFT_PASS	0
#define KSFT_FAIL	1
#define KSFT_SKIP	4

#define MAX_NODES	10
#define MAX_SLOTS	24
#define MAX_RUN		64
#define MAX_OBS		12
#define MAX_RUNNERS	8
#define RLOG_MAX	4096
#define START_BALANCE	1000ULL
#define PAY_MAGIC	0x4b414f53U	/* "SOAK" */
#define ST_MAGIC	0x54534b53U
#define NSEC		1000000000ULL
#define MSEC		1000000ULL
#define STUCK_SLACK_NS	(20 * NSEC)
#define DEADLINE_TOL_NS	(25 * MSEC)
#define REPLY_TIMEOUT_MS 90000
#define HB_STALE_NS	(240 * NSEC)

/* ------------------------------------------------------------------------ */
/* Shared figures                                                           */
/* ------------------------------------------------------------------------ */

enum { BY_RUNNER, BY_OBSERVER, BY_NODE, BY_N };
static const char *const by_name[BY_N] = { "SNAP_BEGIN by the runner",
	"SNAP_BEGIN by an observer", "NODE_RECORD id 0 by a node" };

enum { KP_BEFORE_RECORD, KP_AFTER_RECORD, KP_BLOCKED_READ, KP_BLOCKED_WRITE,
	KP_RANDOM, KP_OBS_WAITING, KP_OBS_STREAMING, KP_HOLDER_STREAMING, KP_N };
static const char *const kp_name[KP_N] = {
	"node before record", "node after record", "node blocked in read",
	"node blocked in write", "node at a random point",
	"observer waiting for its snapshot", "observer streaming an image",
	"holder streaming an image" };

enum { TO_CREATE, TO_DESTROY, TO_JOIN, TO_LEAVE, TO_ATTACH, TO_DETACH, TO_N };
static const char *const to_name[TO_N] = { "create", "destroy", "join",
	"leave", "attach", "detach" };

static const char *const reason_name[8] = { "none", "explicit", "deadline",
	"member-left", "budget", "topology", "unload", "nomem" };

enum {
	EP_KILL_BEFORE, EP_KILL_AFTER, EP_KILL_BLKREAD, EP_KILL_BLKWRITE,
	EP_KILL_RANDOM, EP_OBS_WAITING, EP_OBS_STREAM, EP_HOLDER_STREAM,
	EP_ADD_EDGE, EP_REMOVE_EDGE, EP_REATTACH, EP_JOIN, EP_LEAVE, EP_SPARE,
	EP_EBUSY, EP_N
};

struct stats {
	uint64_t begun[BY_N], complete, aborted[8], ended;
	uint64_t ebusy_probes, ebusy_seen;
	uint64_t images, image_bytes, image_records, image_amount;
	uint64_t obs_same_image;
	uint64_t msgs_sent, amount_sent, msgs_recv, blk_w, blk_w_intr, blk_r,
		 blk_r_intr, rec_req, rec_marker, node_begins;
	uint64_t kills[KP_N], kill_attempts, replaced, recovered_pending;
	uint64_t topo[TO_N], topo_abort_flag, topo_waited, topo_aborted;
	uint64_t groups, rings, meshes, nodes_spawned, observers, holders_late;
	uint64_t episodes[EP_N];
	uint64_t max_running;
	uint64_t failures;
	uint64_t episode_seq;
	int stop;
	struct {
		int32_t pid;
		int32_t serial;
		uint64_t hb_ns;
		char group[SNAPCHAN_NAME_LEN];
	} runner[MAX_RUNNERS];
	char fail_msg[600];
	int fail_set;
};

static struct stats *st;

#define ADD(f, v)	__atomic_fetch_add(&st->f, (v), __ATOMIC_RELAXED)
#define INC(f)		ADD(f, 1)

static struct {
	double duration;
	uint64_t snapshots;
	int groups;
	uint64_t seed;
	double cap;
	int verbose;
	int dur_given;
} opt = { .duration = 40, .groups = 2 };

static unsigned long long maxsnap = 4, default_timeout_ms = 30000,
	default_budget_mb = 64;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NSEC + ts.tv_nsec;
}

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint64_t rnd_next(uint64_t *s)
{
	*s += 0x9e3779b97f4a7c15ULL;
	return mix(*s);
}

static uint64_t rnd_below(uint64_t *s, uint64_t n)
{
	return n ? rnd_next(s) % n : 0;
}

#define barrier()	__atomic_signal_fence(__ATOMIC_SEQ_CST)

/* Close every fd from 3 up, except @keep (-1: none). */
static void close_fds_except(int keep)
{
	if (keep < 3) {
		syscall(SYS_close_range, 3U, ~0U, 0U);
		return;
	}
	if (keep > 3)
		syscall(SYS_close_range, 3U, (unsigned int)keep - 1, 0U);
	syscall(SYS_close_range, (unsigned int)keep + 1, ~0U, 0U);
}

/* ------------------------------------------------------------------------ */
/* Messages, node states, journals                                          */
/* ------------------------------------------------------------------------ */

struct payload {
	uint32_t magic;
	uint16_t from, to;
	uint64_t counter;
	uint64_t amount;
	uint64_t check;
};

static uint64_t pay_check(const struct payload *p)
{
	return mix(((uint64_t)p->magic << 32 | (uint64_t)p->from << 16 | p->to) ^
		   mix(p->counter) ^ (p->amount * 0x2545F4914F6CDD1DULL));
}

/* 0 if @p is a well-formed payload. */
static int pay_ok(const struct payload *p)
{
	return p->magic == PAY_MAGIC && p->check == pay_check(p) &&
	       p->from < MAX_NODES && p->to < MAX_NODES ? 0 : -1;
}

struct st_hdr {			/* a node's recorded state */
	uint32_t magic;
	uint32_t idx;
	uint64_t balance;
	uint32_t nslots;
	uint32_t reserved;
};

struct st_slot {
	char name[SNAPCHAN_NAME_LEN];
	uint64_t pos;
	uint32_t out;
	uint32_t reserved;
};

struct slot {
	char name[SNAPCHAN_NAME_LEN];
	uint64_t pos;		/* counter of the next message to send/receive */
	int32_t out;
	int32_t used;
	int32_t peer;
	int32_t reserved;
};

enum { RL_STARTED = 1, RL_DONE, RL_FAILED };

struct rlog_ent {
	uint64_t id;
	int32_t st;
	int32_t ret;
};

enum { PH_LOOP, PH_PAUSED, PH_BLK_READ, PH_BLK_WRITE, PH_RECORD, PH_CMD };
enum { PEND_NONE, PEND_SEND, PEND_RECV };

/* A node's shared memory: read by the runner when the node is quiet or dead. */
struct nshm {
	volatile int32_t phase;
	int32_t idx;
	uint64_t balance;
	struct slot slots[MAX_SLOTS];
	/* journal of the send or receive in progress */
	volatile int32_t pend;
	int32_t pend_slot;
	uint64_t pend_pos0, pend_bal0, pend_amount;
	unsigned char rbuf[64];
	/* records, in order */
	volatile uint32_t rlog_n;
	struct rlog_ent rlog[RLOG_MAX];
	/* figures, over every incarnation */
	uint64_t sent, amount_sent, received, rec_req, rec_marker, blk_w,
		 blk_w_intr, blk_r, blk_r_intr, begins;
};

/* An observer's or holder's shared memory. */
struct oshm {
	volatile int32_t phase;	/* 0 starting, 1 waiting, 2 streaming, 3 done */
	int32_t result;		/* 0 image good, 1 bad, 2 aborted, 3 error */
	volatile uint64_t progress;
	uint64_t len;
	uint32_t crc;
	uint32_t reserved;
	uint64_t id;
	char msg[160];
};

/* ------------------------------------------------------------------------ */
/* Runner <-> node/observer messages (SOCK_SEQPACKET)                       */
/* ------------------------------------------------------------------------ */

enum {
	C_BEGIN = 1, C_PAUSE, C_RESUME, C_RECPAUSE, C_BLOCKW, C_BLOCKR,
	C_ATTACH, C_DETACH, C_SENDING, C_TRANSFER, C_DRAIN, C_STATUS, C_EXIT,
};

struct cmd {
	int32_t op;
	uint32_t flags;
	int32_t slot;
	int32_t out;
	int32_t peer;
	int32_t reserved;
	uint64_t a, b;
	char name[SNAPCHAN_NAME_LEN];
};

struct rep {
	int32_t kind;		/* 'r' ready, 'k' ok, 'E' error */
	int32_t ret;
	uint64_t id;
	uint64_t t0, t1;
	uint64_t v1, v2;
	char msg[200];
};

static int send_msg(int sock, const void *buf, size_t len, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;

	if (fd >= 0) {
		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

/* One message of exactly @len bytes, and an fd if one came; 0 or -errno. */
static int recv_msg(int sock, void *buf, size_t len, int *fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	ssize_t n;

	if (fd)
		*fd = -1;
	do {
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			int got;

			memcpy(&got, CMSG_DATA(cm), sizeof(int));
			if (fd)
				*fd = got;
			else
				close(got);
		}
	}
	if (n == 0)
		return -EPIPE;
	return n == (ssize_t)len ? 0 : -EPROTO;
}

/* ======================================================================== */
/* The node process                                                         */
/* ======================================================================== */

static struct {
	struct nshm *me;
	int idx;
	int nfd, ctl, sock;
	int fds[MAX_SLOTS];
	uint64_t id;
	uint64_t rnd;
	int sending, paused;
	uint64_t pause_until;	/* 0: until C_RESUME */
	char group[SNAPCHAN_NAME_LEN];
} N;

static void alarm_noop(int sig)
{
	(void)sig;
}

/*
 * Interrupt a blocking call after @ms, and every @ms after that: the first
 * signal may come before the call has started (a busy host), the next one
 * then interrupts it.
 */
static void timer_arm(int ms)
{
	struct itimerval it = {
		.it_value = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 },
		.it_interval = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 },
	};

	setitimer(ITIMER_REAL, &it, NULL);
}

static void timer_disarm(void)
{
	struct itimerval it = { 0 };

	setitimer(ITIMER_REAL, &it, NULL);
}

static void node_fail(const char *fmt, ...)
{
	struct rep r;
	va_list ap;
	int n;

	memset(&r, 0, sizeof(r));
	r.kind = 'E';
	n = snprintf(r.msg, sizeof(r.msg), "node n%d (id %" PRIu64 "): ", N.idx, N.id);
	va_start(ap, fmt);
	vsnprintf(r.msg + n, sizeof(r.msg) - n, fmt, ap);
	va_end(ap);
	send_msg(N.sock, &r, sizeof(r), -1);
	_exit(1);
}

static void node_reply(struct rep *r, int fd)
{
	r->kind = 'k';
	if (send_msg(N.sock, r, sizeof(*r), fd))
		_exit(1);
}

static void set_nonblock(int fd, int on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK))
		node_fail("fcntl: %s", strerror(errno));
}

/* The state this node records: balance and every attached position. */
static size_t node_state(unsigned char *buf)
{
	struct st_hdr h = { .magic = ST_MAGIC, .idx = N.idx,
			    .balance = N.me->balance };
	size_t len = sizeof(h);
	int i;

	for (i = 0; i < MAX_SLOTS; i++) {
		struct slot *s = &N.me->slots[i];
		struct st_slot ss;

		if (!s->used)
			continue;
		memset(&ss, 0, sizeof(ss));
		memcpy(ss.name, s->name, SNAPCHAN_NAME_LEN);
		ss.pos = s->pos;
		ss.out = s->out;
		memcpy(buf + len, &ss, sizeof(ss));
		len += sizeof(ss);
		h.nslots++;
	}
	memcpy(buf, &h, sizeof(h));
	return len;
}

static struct rlog_ent *rlog_start(uint64_t id)
{
	struct rlog_ent *e;
	uint32_t n = N.me->rlog_n;

	if (n >= RLOG_MAX)
		return NULL;
	e = &N.me->rlog[n];
	e->id = id;
	e->ret = 0;
	e->st = RL_STARTED;
	barrier();
	N.me->rlog_n = n + 1;
	barrier();
	return e;
}

static void rlog_end(struct rlog_ent *e, uint64_t id, int ret)
{
	if (!e)
		return;
	e->id = id;
	e->ret = ret;
	barrier();
	e->st = ret >= 0 ? RL_DONE : RL_FAILED;
	barrier();
}

/* NODE_RECORD of @id; tolerate the snapshots that ended meanwhile. */
static int node_record(uint64_t id, int from_marker)
{
	unsigned char buf[sizeof(struct st_hdr) + MAX_SLOTS * sizeof(struct st_slot)];
	size_t len = node_state(buf);
	struct rlog_ent *e;
	int ret;

	N.me->phase = PH_RECORD;
	e = rlog_start(id);
	ret = sc_record(N.nfd, id, buf, len);
	rlog_end(e, id, ret);
	N.me->phase = N.paused ? PH_PAUSED : PH_LOOP;
	if (ret == 0) {
		if (from_marker)
			N.me->rec_marker++;
		else
			N.me->rec_req++;
		return 0;
	}
	if (ret == -ECANCELED || ret == -ENOENT)
		return ret;
	if (ret == -EALREADY && !from_marker)
		return ret;
	node_fail("NODE_RECORD %" PRIu64 " (%s): %s", id,
		  from_marker ? "marker at the head" : "record request",
		  strerror(-ret));
	return ret;
}

/* Answer every pending record request. */
static void node_requests(void)
{
	int guard;

	for (guard = 0; guard < 10000; guard++) {
		int64_t id = sc_pending(N.nfd);

		if (id < 0)
			node_fail("NODE_EVENT: %s", strerror((int)-id));
		if (id == 0)
			return;
		node_record(id, 0);
	}
	node_fail("record requests never end");
}

enum { IO_NONBLOCK, IO_TIMED, IO_FOREVER };

/*
 * Send @amount on slot @s; 0, or -EAGAIN (full) / -EINTR (timer).  The
 * journal holds the before-values while the write is in progress.
 */
static int node_send(int s, uint64_t amount, int mode)
{
	struct slot *sl = &N.me->slots[s];
	struct payload p = { .magic = PAY_MAGIC, .from = N.idx, .to = sl->peer,
			     .counter = sl->pos, .amount = amount };
	ssize_t w;
	int err = 0;

	p.check = pay_check(&p);
	N.me->pend_slot = s;
	N.me->pend_pos0 = sl->pos;
	N.me->pend_bal0 = N.me->balance;
	N.me->pend_amount = amount;
	barrier();
	N.me->pend = PEND_SEND;
	barrier();
	if (mode != IO_NONBLOCK) {
		set_nonblock(N.fds[s], 0);
		N.me->phase = PH_BLK_WRITE;
		if (mode == IO_TIMED)
			timer_arm(30);
		N.me->blk_w++;
	}
	w = write(N.fds[s], &p, sizeof(p));
	if (w < 0)
		err = errno;
	if (mode != IO_NONBLOCK) {
		timer_disarm();
		N.me->phase = N.paused ? PH_PAUSED : PH_LOOP;
		set_nonblock(N.fds[s], 1);
	}
	if (w == sizeof(p)) {
		N.me->balance -= amount;
		sl->pos++;
		N.me->sent++;
		N.me->amount_sent += amount;
	}
	barrier();
	N.me->pend = PEND_NONE;
	barrier();
	if (w == sizeof(p))
		return 0;
	if (w >= 0)
		node_fail("write on %s: %zd bytes", sl->name, w);
	if (err == EINTR)
		N.me->blk_w_intr++;
	if (err == EAGAIN || err == EINTR)
		return -err;
	node_fail("write on %s: %s", sl->name, strerror(err));
	return -err;
}

/*
 * Receive one record on slot @s.  Returns 1 for DATA, 0 when nothing came
 * (EAGAIN, EINTR), or, for a marker at the head, records that snapshot and
 * returns 2.
 */
static int node_recv(int s, int mode)
{
	struct slot *sl = &N.me->slots[s];
	struct snapchan_recv r, r2;
	struct payload p;
	int use_read = mode != IO_NONBLOCK && rnd_below(&N.rnd, 2);
	int ret, err = 0;
	ssize_t n = 0;

	memset(&r, 0, sizeof(r));
	r.buf = (uintptr_t)N.me->rbuf;
	r.buf_len = sizeof(N.me->rbuf);
	N.me->pend_slot = s;
	N.me->pend_pos0 = sl->pos;
	N.me->pend_bal0 = N.me->balance;
	N.me->pend_amount = 0;
	barrier();
	N.me->pend = PEND_RECV;
	barrier();
	if (mode != IO_NONBLOCK) {
		set_nonblock(N.fds[s], 0);
		N.me->phase = PH_BLK_READ;
		if (mode == IO_TIMED)
			timer_arm(30);
		N.me->blk_r++;
	}
	if (use_read) {
		n = read(N.fds[s], N.me->rbuf, sizeof(N.me->rbuf));
		ret = n < 0 ? -1 : 0;
	} else {
		ret = ioctl(N.fds[s], SNAPCHAN_IOC_RECV, &r);
	}
	if (ret < 0)
		err = errno;
	if (mode != IO_NONBLOCK) {
		timer_disarm();
		N.me->phase = N.paused ? PH_PAUSED : PH_LOOP;
		set_nonblock(N.fds[s], 1);
	}
	if (ret == 0 && (use_read || r.type == SNAPCHAN_REC_DATA)) {
		size_t len = use_read ? (size_t)n : r.len;

		memcpy(&p, N.me->rbuf, sizeof(p));
		if (len != sizeof(p) || pay_ok(&p))
			node_fail("%s: bad message (%zu bytes)", sl->name, len);
		if (p.from != sl->peer || p.to != N.idx)
			node_fail("%s: message from n%u to n%u", sl->name, p.from, p.to);
		if (p.counter != sl->pos)
			node_fail("%s: message %" PRIu64 " where %" PRIu64
				  " was next (lost, duplicated or reordered)",
				  sl->name, p.counter, sl->pos);
		if (!use_read && r.seq != p.counter + 1)
			node_fail("%s: message %" PRIu64 " has seq %llu, expected %" PRIu64,
				  sl->name, p.counter, (unsigned long long)r.seq,
				  p.counter + 1);
		N.me->balance += p.amount;
		sl->pos++;
		N.me->received++;
		barrier();
		N.me->pend = PEND_NONE;
		barrier();
		return 1;
	}
	barrier();
	N.me->pend = PEND_NONE;
	barrier();
	if (ret == 0 || err == ENOMSG) {
		/* A marker at the head: which snapshot? */
		if (use_read || ret) {
			memset(&r, 0, sizeof(r));
			r.flags = SNAPCHAN_RECV_PEEK;
			if (ioctl(N.fds[s], SNAPCHAN_IOC_RECV, &r)) {
				if (errno == EAGAIN)
					return 0;	/* it went away (abort) */
				node_fail("RECV PEEK on %s: %s", sl->name, strerror(errno));
			}
			if (r.type != SNAPCHAN_REC_MARKER)
				return 0;	/* went away; data now */
		}
		if (!r.snap_id || !r.origin)
			node_fail("%s: marker id %llu origin %llu", sl->name,
				  (unsigned long long)r.snap_id,
				  (unsigned long long)r.origin);
		ret = node_record(r.snap_id, 1);
		/*
		 * Recorded, the marker is consumed; aborted or gone, it was
		 * purged under the same lock: either way it cannot be there.
		 */
		memset(&r2, 0, sizeof(r2));
		r2.flags = SNAPCHAN_RECV_PEEK;
		if (!ioctl(N.fds[s], SNAPCHAN_IOC_RECV, &r2) &&
		    r2.type == SNAPCHAN_REC_MARKER && r2.snap_id == r.snap_id)
			node_fail("%s: the marker of snapshot %llu stays at the head "
				  "after NODE_RECORD returned %s", sl->name,
				  (unsigned long long)r.snap_id,
				  ret ? strerror(-ret) : "0");
		return 2;
	}
	if (err == EINTR)
		N.me->blk_r_intr++;
	if (err == EAGAIN || err == EINTR)
		return 0;
	node_fail("receive on %s: %s", sl->name, strerror(err));
	return 0;
}

static int node_pick(int out)
{
	int cand[MAX_SLOTS], n = 0, i;

	for (i = 0; i < MAX_SLOTS; i++)
		if (N.me->slots[i].used && N.me->slots[i].out == out)
			cand[n++] = i;
	return n ? cand[rnd_below(&N.rnd, n)] : -1;
}

static void node_drain(void)
{
	int i, guard, got;

	node_requests();
	for (i = 0; i < MAX_SLOTS; i++) {
		if (!N.me->slots[i].used || N.me->slots[i].out)
			continue;
		for (guard = 0; guard < 1 << 20; guard++) {
			got = node_recv(i, IO_NONBLOCK);
			if (!got)
				break;
		}
	}
}

static void node_command(void)
{
	struct cmd c;
	struct rep r;
	unsigned char buf[sizeof(struct st_hdr) + MAX_SLOTS * sizeof(struct st_slot)];
	struct snapchan_chan_info ci;
	struct rlog_ent *e;
	uint64_t id = 0;
	int ret, fd;

	ret = recv_msg(N.sock, &c, sizeof(c), NULL);
	if (ret)
		_exit(ret == -EPIPE ? 0 : 1);	/* the runner is gone */
	memset(&r, 0, sizeof(r));
	switch (c.op) {
	case C_BEGIN:
		N.me->phase = PH_RECORD;
		e = rlog_start(0);
		r.t0 = now_ns();
		ret = sc_record_ex(N.nfd, 0, buf, node_state(buf),
				   SNAPCHAN_RECORD_F_SNAPFD, c.a, c.b, &id);
		r.t1 = now_ns();
		rlog_end(e, ret >= 0 ? id : 0, ret);
		N.me->phase = PH_LOOP;
		r.ret = ret;
		r.id = ret >= 0 ? id : 0;
		if (ret >= 0)
			N.me->begins++;
		node_reply(&r, ret >= 0 ? ret : -1);
		if (ret >= 0)
			close(ret);
		return;
	case C_PAUSE:
		N.paused = 1;
		N.pause_until = c.a ? now_ns() + c.a * MSEC : 0;
		N.me->phase = PH_PAUSED;
		break;
	case C_RESUME:
		N.paused = 0;
		N.me->phase = PH_LOOP;
		break;
	case C_RECPAUSE:
		node_requests();
		N.paused = 1;
		N.pause_until = 0;
		N.me->phase = PH_PAUSED;
		r.v1 = N.me->rlog_n;
		break;
	case C_BLOCKW:
		node_reply(&r, -1);
		for (;;) {
			if (node_send(c.slot, N.me->balance ? 1 : 0, IO_FOREVER) == -EAGAIN)
				usleep(1000);
		}
	case C_BLOCKR:
		node_reply(&r, -1);
		for (;;)
			node_recv(c.slot, IO_FOREVER);
	case C_ATTACH:
		fd = sc_open_chan(c.name, (c.out ? O_WRONLY : O_RDONLY) | O_NONBLOCK);
		if (fd < 0)
			node_fail("open %s: %s", c.name, strerror(-fd));
		node_requests();
		r.t0 = now_ns();
		do {
			ret = sc_attach_flags(N.nfd, fd, c.flags);
		} while (ret == -EINTR);
		r.t1 = now_ns();
		r.ret = ret;
		if (ret) {
			close(fd);
			break;
		}
		if (sc_info(N.ctl, c.name, &ci))
			node_fail("CHAN_INFO %s: %s", c.name, strerror(errno));
		r.v1 = c.out ? ci.next_seq - 1 : ci.total_received;
		if (c.a != UINT64_MAX && r.v1 != c.a)
			node_fail("attach %s: the channel's %s is %" PRIu64
				  ", the journal says %" PRIu64, c.name,
				  c.out ? "next_seq - 1" : "total_received", r.v1, c.a);
		if ((c.out ? ci.sender_node : ci.receiver_node) != N.id)
			node_fail("attach %s: CHAN_INFO names node %llu", c.name,
				  (unsigned long long)(c.out ? ci.sender_node :
						       ci.receiver_node));
		N.fds[c.slot] = fd;
		memset(&N.me->slots[c.slot], 0, sizeof(struct slot));
		memcpy(N.me->slots[c.slot].name, c.name, SNAPCHAN_NAME_LEN);
		N.me->slots[c.slot].pos = r.v1;
		N.me->slots[c.slot].out = c.out;
		N.me->slots[c.slot].peer = c.peer;
		barrier();
		N.me->slots[c.slot].used = 1;
		break;
	case C_DETACH:
		node_requests();
		r.t0 = now_ns();
		do {
			ret = sc_detach_flags(N.nfd, N.fds[c.slot], c.flags);
		} while (ret == -EINTR);
		r.t1 = now_ns();
		r.ret = ret;
		r.v1 = N.me->slots[c.slot].pos;
		if (!ret) {
			N.me->slots[c.slot].used = 0;
			barrier();
			close(N.fds[c.slot]);
			N.fds[c.slot] = -1;
		}
		break;
	case C_SENDING:
		N.sending = (int)c.a;
		break;
	case C_TRANSFER: {
		uint64_t amount = N.me->balance, t_end = now_ns() + 30 * NSEC;

		r.v1 = amount;
		for (;;) {
			node_requests();
			ret = node_send(c.slot, amount, IO_NONBLOCK);
			if (!ret)
				break;
			if (now_ns() > t_end) {
				r.ret = -ETIMEDOUT;
				break;
			}
			usleep(2000);
		}
		break;
	}
	case C_DRAIN:
		node_drain();
		break;
	case C_STATUS:
		break;
	case C_EXIT:
		r.t0 = now_ns();
		close(N.nfd);
		r.t1 = now_ns();
		node_reply(&r, -1);
		_exit(0);
	default:
		node_fail("unknown command %d", c.op);
	}
	r.v2 = N.me->balance;
	node_reply(&r, -1);
}

static void node_loop(void)
{
	struct pollfd pfd[2 + MAX_SLOTS];
	int map[2 + MAX_SLOTS];
	int i, n, ret, s;

	for (;;) {
		int busy;

		if (N.paused) {
			struct pollfd p = { .fd = N.sock, .events = POLLIN };
			int wait_ms = -1;

			if (N.pause_until) {
				uint64_t now = now_ns();

				if (now >= N.pause_until) {
					N.paused = 0;
					N.me->phase = PH_LOOP;
					continue;
				}
				wait_ms = (N.pause_until - now) / MSEC + 1;
			}
			if (poll(&p, 1, wait_ms) > 0)
				node_command();
			continue;
		}
		busy = N.sending && N.me->balance;
		pfd[0].fd = N.sock;
		pfd[0].events = POLLIN;
		pfd[1].fd = N.nfd;
		pfd[1].events = POLLPRI;
		n = 2;
		for (i = 0; i < MAX_SLOTS; i++) {
			if (!N.me->slots[i].used || N.me->slots[i].out)
				continue;
			pfd[n].fd = N.fds[i];
			pfd[n].events = POLLIN | POLLPRI;
			map[n++] = i;
		}
		ret = poll(pfd, n, busy ? 1 : 10);
		if (ret < 0 && errno != EINTR)
			node_fail("poll: %s", strerror(errno));
		if (ret > 0) {
			if (pfd[0].revents) {
				node_command();
				continue;	/* the slots may have changed */
			}
			if (pfd[1].revents & POLLPRI)
				node_requests();
			for (i = 2; i < n; i++) {
				int k;

				if (pfd[i].revents & (POLLERR | POLLHUP | POLLNVAL))
					node_fail("%s: poll revents %#x",
						  N.me->slots[map[i]].name, pfd[i].revents);
				if (!(pfd[i].revents & (POLLIN | POLLPRI)))
					continue;
				for (k = 0; k < 8; k++)
					if (!node_recv(map[i], IO_NONBLOCK))
						break;
			}
		}
		if (busy && rnd_below(&N.rnd, 4)) {
			s = node_pick(1);
			if (s >= 0) {
				uint64_t max = N.me->balance < 100 ? N.me->balance : 100;

				node_send(s, 1 + rnd_below(&N.rnd, max),
					  rnd_below(&N.rnd, 32) ? IO_NONBLOCK : IO_TIMED);
			}
		}
		if (!rnd_below(&N.rnd, 48)) {
			s = node_pick(0);
			if (s >= 0)
				node_recv(s, IO_TIMED);
		}
	}
}

static void node_main(int idx, const char *group, unsigned int join_flags,
		      struct nshm *me, int sock, uint64_t seed)
{
	struct sigaction sa;
	struct rep r;
	char name[SNAPCHAN_NAME_LEN];
	int i;

	close_fds_except(sock);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	setpriority(PRIO_PROCESS, 0, 5);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = alarm_noop;	/* no SA_RESTART: interrupt the call */
	sigaction(SIGALRM, &sa, NULL);
	memset(&N, 0, sizeof(N));
	N.me = me;
	N.idx = idx;
	N.sock = sock;
	N.sending = 1;
	N.rnd = seed;
	for (i = 0; i < MAX_SLOTS; i++)
		N.fds[i] = -1;
	snprintf(N.group, sizeof(N.group), "%s", group);
	snprintf(name, sizeof(name), "n%d", idx);
	me->phase = PH_CMD;
	N.ctl = open(SC_CONTROL, O_RDWR | O_CLOEXEC);
	if (N.ctl < 0)
		node_fail("open control: %s", strerror(errno));
	memset(&r, 0, sizeof(r));
	r.kind = 'r';
	r.t0 = now_ns();
	N.nfd = sc_join(N.ctl, group, name, join_flags, &N.id);
	r.t1 = now_ns();
	r.ret = N.nfd < 0 ? N.nfd : 0;
	r.id = N.id;
	if (send_msg(sock, &r, sizeof(r), -1) || N.nfd < 0)
		_exit(1);
	me->phase = PH_LOOP;
	node_loop();
}

/* ======================================================================== */
/* Observers and holders                                                    */
/* ======================================================================== */

static void observer_main(int sock, struct oshm *o, const char *group,
			  uint64_t id, uint64_t timeout, uint64_t budget,
			  size_t chunk, int delay_us)
{
	struct snapchan_snap_info info;
	struct snapchan_image_diag diag;
	struct rep r;
	char *buf = NULL;
	size_t len = 0, room = 0;
	int ctl, fd, fd2 = -1, ret;
	ssize_t n;

	close_fds_except(sock);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	memset(&r, 0, sizeof(r));
	r.kind = 'k';
	ctl = open(SC_CONTROL, O_RDWR | O_CLOEXEC);
	if (ctl < 0) {
		r.ret = -errno;
		send_msg(sock, &r, sizeof(r), -1);
		_exit(1);
	}
	if (!id) {
		/* Begin it, and hand the runner a file of its own. */
		r.t0 = now_ns();
		fd = sc_begin(ctl, group, timeout, budget, &id);
		r.t1 = now_ns();
		r.ret = fd;
		r.id = fd >= 0 ? id : 0;
		if (fd >= 0) {
			fd2 = sc_snap_open(ctl, group, id);
			r.v1 = fd2 < 0 ? (uint64_t)-fd2 : 0;
		}
		if (send_msg(sock, &r, sizeof(r), fd2) || fd < 0 || fd2 < 0)
			_exit(fd < 0 || fd2 < 0 ? 0 : 1);
		close(fd2);
	} else {
		fd = sc_snap_open(ctl, group, id);
		r.ret = fd;
		r.id = id;
		if (send_msg(sock, &r, sizeof(r), -1) || fd < 0)
			_exit(0);
	}
	close(sock);
	o->id = id;
	o->phase = 1;
	ret = sc_poll1(fd, POLLIN, -1);
	if (ret < 0 || sc_snap_info(fd, &info)) {
		snprintf(o->msg, sizeof(o->msg), "poll/SNAP_INFO: %s", strerror(errno));
		o->result = 3;
		_exit(1);
	}
	if (info.state == SNAPCHAN_SNAP_ABORTED) {
		o->result = 2;
		o->phase = 3;
		_exit(0);
	}
	if (info.state != SNAPCHAN_SNAP_COMPLETE) {
		snprintf(o->msg, sizeof(o->msg), "poll said ended, state %u", info.state);
		o->result = 3;
		_exit(1);
	}
	o->len = info.image_len;
	o->phase = 2;
	for (;;) {
		if (room - len < chunk) {
			room = room ? room * 2 : 65536;
			buf = realloc(buf, room);
			if (!buf)
				_exit(1);
		}
		n = read(fd, buf + len, chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(o->msg, sizeof(o->msg), "read image: %s", strerror(errno));
			o->result = 1;
			_exit(1);
		}
		if (n == 0)
			break;
		len += n;
		o->progress = len;
		if (delay_us)
			usleep(delay_us);
	}
	memset(&diag, 0, sizeof(diag));
	ret = snapchan_image_verify_buffer(buf, len, &diag);
	if (ret || len != info.image_len) {
		snprintf(o->msg, sizeof(o->msg), "image %zu bytes (SNAP_INFO %llu): %s at %"
			 PRIu64 ": %.80s", len, (unsigned long long)info.image_len,
			 strerror(-ret), diag.offset, diag.msg);
		o->result = 1;
		_exit(1);
	}
	o->crc = snapchan_crc32c(0, buf, len);
	o->result = 0;
	o->phase = 3;
	_exit(0);
}

/* ======================================================================== */
/* The group runner                                                         */
/* ======================================================================== */

enum { E_NONE, E_LIVE, E_DOWN };
enum { EXP_ANY, EXP_COMPLETE, EXP_MEMBER_LEFT };
enum { EV_TOPO, EV_LEAVE, EV_KILL };

struct rnode {
	int live;
	pid_t pid;
	int sock;
	uint64_t id;
	int paused;
};

struct rsnap {			/* a running snapshot */
	int fd;
	uint64_t id;
	int by;
	int expect;
	uint64_t t_req, t_ret;
	uint64_t timeout, budget;	/* effective */
	uint64_t abort_at;
	int nmem;
	uint64_t mem_id[MAX_NODES];
	uint8_t mem_chan[MAX_NODES][MAX_NODES];
	int obs;			/* observer slot, -1 */
	int aborted_by_us;		/* SNAP_ABORT returned 0 */
	uint64_t ab_t0, ab_t1;
};

struct hist {			/* an ended snapshot */
	uint64_t id, begin_ns, end_ns, epoch, recorded_bytes;
	uint64_t timeout, budget;
	uint32_t state, reason;
	int by;
	int nmem;
	uint64_t mem_id[MAX_NODES];
	uint32_t crc;
	uint64_t len;
	int image_ok;
};

struct event {
	int kind;
	int abort_flag;
	int op;			/* TO_* for EV_TOPO */
	uint64_t t0, t1;
	uint64_t node_id;
	struct rlog_ent *rlog;
	uint32_t nrlog;
	int rlog_over;
};

struct obs {
	int used;
	pid_t pid;
	int holder;
	int killed;
	uint64_t id;
};

struct runner {
	int serial;
	int slot;		/* in st->runner[] */
	uint64_t rnd;
	char group[16];
	int mesh;
	int ctl;
	uint64_t t_end;
	struct rnode nodes[MAX_NODES];
	struct nshm *shm;	/* MAX_NODES of them */
	struct oshm *oshm;	/* MAX_OBS */
	struct obs obs[MAX_OBS];
	int edge[MAX_NODES][MAX_NODES];
	int eslot_out[MAX_NODES][MAX_NODES], eslot_in[MAX_NODES][MAX_NODES];
	uint32_t ecap[MAX_NODES][MAX_NODES];
	uint64_t total;
	struct rsnap run[MAX_RUN];
	int nrun;
	struct hist *hist;
	size_t nhist, hcap;
	struct event *ev;
	size_t nev, evcap;
	uint64_t last_id;
	int failed;
	int nfail_printed;
	/* per-group figures for its summary line */
	int snaps, completes, aborts, kills, topos;
	uint64_t t_start;
};

static struct runner *R;
static int obs_slow;		/* the next observer streams slowly */
static int hold_enabled;	/* topology calls meet a held snapshot */

static void maybe_hold(int executor);

static void hb(void)
{
	__atomic_store_n(&st->runner[R->slot].hb_ns, now_ns(), __ATOMIC_SEQ_CST);
}

static void dump_debugfs(const char *why)
{
	static const char *const tables[] = { "groups", "nodes", "snapshots" };
	char line[1024], path[128];
	int t, n;
	FILE *f;

	printf("# group %s: debugfs (%s):\n", R ? R->group : "-", why);
	for (t = 0; t < 3; t++) {
		snprintf(path, sizeof(path), SC_DEBUGFS_DIR "%s", tables[t]);
		f = fopen(path, "re");
		if (!f)
			continue;
		n = 0;
		while (fgets(line, sizeof(line), f) && n++ < 40)
			printf("#   %s: %s", tables[t], line);
		fclose(f);
	}
	fflush(stdout);
}

static void rfail(const char *fmt, ...)
{
	char msg[480];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	R->failed = 1;
	INC(failures);
	if (!__atomic_exchange_n(&st->fail_set, 1, __ATOMIC_SEQ_CST))
		snprintf(st->fail_msg, sizeof(st->fail_msg), "%s: %s", R->group, msg);
	if (R->nfail_printed++ < 12)
		printf("# group %s: FAIL: %s\n", R->group, msg);
	fflush(stdout);
}

static void chan_name(char *buf, int u, int v)
{
	snprintf(buf, SNAPCHAN_NAME_LEN, "%s-%d-%d", R->group, u % MAX_NODES,
		 v % MAX_NODES);
}

static struct event *ev_add(int kind, int op, int abort_flag, uint64_t t0,
			    uint64_t t1, uint64_t node_id)
{
	struct event *e;

	if (R->nev == R->evcap) {
		R->evcap = R->evcap ? 2 * R->evcap : 256;
		R->ev = realloc(R->ev, R->evcap * sizeof(*R->ev));
		if (!R->ev) {
			perror("realloc");
			_exit(1);
		}
	}
	e = &R->ev[R->nev++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->op = op;
	e->abort_flag = abort_flag;
	e->t0 = t0;
	e->t1 = t1;
	e->node_id = node_id;
	if (kind == EV_TOPO) {
		ADD(topo[op], 1);
		if (abort_flag)
			INC(topo_abort_flag);
		R->topos++;
	}
	return e;
}

static void ev_copy_rlog(struct event *e, const struct nshm *n)
{
	e->nrlog = n->rlog_n;
	if (e->nrlog > RLOG_MAX)
		e->nrlog = RLOG_MAX;
	e->rlog_over = n->rlog_n >= RLOG_MAX;
	e->rlog = malloc(e->nrlog * sizeof(*e->rlog) + 1);
	if (e->rlog)
		memcpy(e->rlog, n->rlog, e->nrlog * sizeof(*e->rlog));
}

static unsigned int topo_flags(void)
{
	return rnd_below(&R->rnd, 2) ? SNAPCHAN_TOPO_F_ABORT : 0;
}

/* --- talking to nodes ----------------------------------------------------- */

/* Wait for a reply on @sock, with heartbeats; 0 or -errno. */
static int wait_reply(int sock, struct rep *r, int *fd, int timeout_ms)
{
	uint64_t end = now_ns() + (uint64_t)timeout_ms * MSEC;
	int ret;

	for (;;) {
		hb();
		ret = sc_poll1(sock, POLLIN, 1000);
		if (ret < 0)
			return ret;
		if (ret)
			break;
		if (now_ns() > end)
			return -ETIMEDOUT;
	}
	return recv_msg(sock, r, sizeof(*r), fd);
}

static int proc_sleeping(pid_t pid);

/* What node @x is doing: its phase and its kernel stack. */
static void dump_node(int x)
{
	char path[64], buf[4096];
	char *line;
	int n;

	printf("# group %s: n%d (pid %d): phase %d, journal %d, %s\n", R->group, x,
	       R->nodes[x].pid, R->shm[x].phase, R->shm[x].pend,
	       proc_sleeping(R->nodes[x].pid) ? "sleeping" : "not sleeping");
	snprintf(path, sizeof(path), "/proc/%d/stack", R->nodes[x].pid);
	n = sc_read_text(path, buf, sizeof(buf));
	for (line = n > 0 ? strtok(buf, "\n") : NULL; line; line = strtok(NULL, "\n"))
		printf("#   %s\n", line);
	fflush(stdout);
}

static int node_cmd(int x, struct cmd *c, struct rep *r, int *fd)
{
	int ret;

	if (!R->nodes[x].live) {
		rfail("command %d to dead node n%d", c->op, x);
		return -ESRCH;
	}
	if (send_msg(R->nodes[x].sock, c, sizeof(*c), -1)) {
		rfail("command %d to n%d: %s", c->op, x, strerror(errno));
		return -EPIPE;
	}
	ret = wait_reply(R->nodes[x].sock, r, fd, REPLY_TIMEOUT_MS);
	if (ret) {
		rfail("n%d did not answer command %d: %s", x, c->op, strerror(-ret));
		dump_node(x);
		dump_debugfs("a node does not answer");
		return ret;
	}
	if (r->kind == 'E') {
		rfail("%s", r->msg);
		return -EPROTO;
	}
	return 0;
}

static int simple_cmd(int x, int op, uint64_t a)
{
	struct cmd c = { .op = op, .a = a };
	struct rep r;

	return node_cmd(x, &c, &r, NULL);
}

static pid_t spawn(int *sockp)
{
	int pair[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair)) {
		rfail("socketpair: %s", strerror(errno));
		return -1;
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		rfail("fork: %s", strerror(errno));
		close(pair[0]);
		close(pair[1]);
		return -1;
	}
	if (pid == 0) {
		close(pair[0]);
		*sockp = pair[1];
		return 0;
	}
	close(pair[1]);
	*sockp = pair[0];
	return pid;
}

/* Fork node @x (its shm prepared) and let it join; 0 or -1. */
static int start_node(int x)
{
	unsigned int flags = topo_flags();
	struct rep r;
	int sock, ret;
	pid_t pid;

	R->shm[x].idx = x;
	R->shm[x].pend = PEND_NONE;
	R->shm[x].rlog_n = 0;
	R->shm[x].phase = PH_CMD;
	pid = spawn(&sock);
	if (pid < 0)
		return -1;
	if (pid == 0)
		node_main(x, R->group, flags, &R->shm[x], sock,
			   rnd_next(&R->rnd) | 1);
	INC(nodes_spawned);
	R->nodes[x].pid = pid;
	R->nodes[x].sock = sock;
	R->nodes[x].paused = 0;
	ret = wait_reply(sock, &r, NULL, REPLY_TIMEOUT_MS);
	if (ret || r.kind != 'r') {
		rfail("n%d did not start: %s", x, ret ? strerror(-ret) : r.msg);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		close(sock);
		return -1;
	}
	ev_add(EV_TOPO, TO_JOIN, !!flags, r.t0, r.t1, 0);
	if (r.ret) {
		rfail("n%d: NODE_JOIN: %s", x, strerror(-r.ret));
		waitpid(pid, NULL, 0);
		close(sock);
		return -1;
	}
	R->nodes[x].id = r.id;
	R->nodes[x].live = 1;
	return 0;
}

static int free_slot(int x)
{
	int i;

	for (i = 0; i < MAX_SLOTS; i++)
		if (!R->shm[x].slots[i].used)
			return i;
	return -1;
}

/* Node @x attaches @name as sender (@out) or receiver; slot chosen here. */
static int do_attach(int x, const char *name, int out, int peer, int slot,
		     uint64_t expect)
{
	struct cmd c = { .op = C_ATTACH, .out = out, .peer = peer, .a = expect };
	struct rep r;
	int ret;

	c.flags = topo_flags();
	maybe_hold(x);
	c.slot = slot >= 0 ? slot : free_slot(x);
	if (c.slot < 0) {
		rfail("n%d: no free slot", x);
		return -ENOSPC;
	}
	snprintf(c.name, sizeof(c.name), "%s", name);
	ret = node_cmd(x, &c, &r, NULL);
	if (ret)
		return ret;
	ev_add(EV_TOPO, TO_ATTACH, !!c.flags, r.t0, r.t1, 0);
	if (r.ret) {
		rfail("n%d: attach %s (%s): %s", x, name, out ? "send" : "receive",
		      strerror(-r.ret));
		return r.ret;
	}
	return c.slot;
}

static int do_detach(int x, int slot)
{
	struct cmd c = { .op = C_DETACH, .slot = slot };
	struct rep r;
	int ret;

	c.flags = topo_flags();
	maybe_hold(x);
	ret = node_cmd(x, &c, &r, NULL);
	if (ret)
		return ret;
	ev_add(EV_TOPO, TO_DETACH, !!c.flags, r.t0, r.t1, 0);
	if (r.ret)
		rfail("n%d: detach %s: %s", x, R->shm[x].slots[slot].name,
		      strerror(-r.ret));
	return r.ret;
}

static int do_create(const char *name, uint32_t cap)
{
	unsigned int flags = topo_flags();
	uint64_t t0, t1;
	int ret;

	maybe_hold(-1);
	t0 = now_ns();
	ret = sc_create_in(R->ctl, name, R->group, cap * sizeof(struct payload),
			   cap, sizeof(struct payload), flags);
	t1 = now_ns();
	if (ret == -EINTR)
		return ret;
	ev_add(EV_TOPO, TO_CREATE, !!flags, t0, t1, 0);
	if (ret)
		rfail("create %s: %s", name, strerror(-ret));
	return ret;
}

static int do_destroy(const char *name)
{
	unsigned int flags = topo_flags();
	uint64_t t0, t1;
	int ret;

	maybe_hold(-1);
	t0 = now_ns();
	ret = sc_destroy_flags(R->ctl, name, flags);
	t1 = now_ns();
	ev_add(EV_TOPO, TO_DESTROY, !!flags, t0, t1, 0);
	if (ret)
		rfail("destroy %s: %s", name, strerror(-ret));
	return ret;
}

/* A new channel u -> v, both ends attached. */
static int add_edge(int u, int v)
{
	char name[SNAPCHAN_NAME_LEN];
	uint32_t cap = 2 + rnd_below(&R->rnd, 31);
	int si, so;

	chan_name(name, u, v);
	if (do_create(name, cap))
		return -1;
	R->ecap[u][v] = cap;
	R->edge[u][v] = E_DOWN;
	si = do_attach(v, name, 0, u, -1, 0);
	if (si < 0)
		return -1;
	R->eslot_in[u][v] = si;
	so = do_attach(u, name, 1, v, -1, 0);
	if (so < 0)
		return -1;
	R->eslot_out[u][v] = so;
	R->edge[u][v] = E_LIVE;
	return 0;
}

/* Wait until channel @name is empty (its receiver drains it). */
static int wait_drained(const char *name)
{
	struct snapchan_chan_info ci;
	uint64_t end = now_ns() + 60 * NSEC;

	for (;;) {
		hb();
		if (sc_info(R->ctl, name, &ci)) {
			rfail("CHAN_INFO %s: %s", name, strerror(errno));
			return -1;
		}
		if (!ci.depth_msgs)
			return 0;
		if (now_ns() > end) {
			rfail("%s: %llu messages never drained", name,
			      (unsigned long long)ci.depth_msgs);
			return -1;
		}
		usleep(5000);
	}
}

/* Remove the channel u -> v: sender detaches, receiver drains, detaches. */
static int remove_edge(int u, int v)
{
	char name[SNAPCHAN_NAME_LEN];
	uint64_t spos, rpos;

	chan_name(name, u, v);
	if (do_detach(u, R->eslot_out[u][v]))
		return -1;
	R->edge[u][v] = E_DOWN;	/* after: a held snapshot has it as a member */
	spos = R->shm[u].slots[R->eslot_out[u][v]].pos;
	if (wait_drained(name))
		return -1;
	if (simple_cmd(v, C_DRAIN, 0))
		return -1;
	if (do_detach(v, R->eslot_in[u][v]))
		return -1;
	rpos = R->shm[v].slots[R->eslot_in[u][v]].pos;
	if (spos != rpos)
		rfail("%s removed: %" PRIu64 " messages sent, %" PRIu64 " received",
		      name, spos, rpos);
	if (do_destroy(name))
		return -1;
	R->edge[u][v] = E_NONE;
	return 0;
}

/* --- snapshots ------------------------------------------------------------- */

static struct hist *hist_add(void)
{
	if (R->nhist == R->hcap) {
		R->hcap = R->hcap ? 2 * R->hcap : 128;
		R->hist = realloc(R->hist, R->hcap * sizeof(*R->hist));
		if (!R->hist) {
			perror("realloc");
			_exit(1);
		}
	}
	memset(&R->hist[R->nhist], 0, sizeof(*R->hist));
	return &R->hist[R->nhist++];
}

static struct hist *hist_find(uint64_t id)
{
	size_t i;

	for (i = 0; i < R->nhist; i++)
		if (R->hist[i].id == id)
			return &R->hist[i];
	return NULL;
}

static int mem_idx(const struct rsnap *s, uint64_t id)
{
	int i;

	for (i = 0; i < MAX_NODES; i++)
		if (s->mem_id[i] && s->mem_id[i] == id)
			return i;
	return -1;
}

/* Check the image of complete snapshot @s. */
static void check_image(struct rsnap *s, const struct snapchan_snap_info *info,
			struct hist *h)
{
	struct snapchan_image_diag diag;
	struct snapchan_image_header_view hv;
	struct snapchan_image *img = NULL;
	const struct st_hdr *sh[MAX_NODES] = { 0 };
	uint64_t balances = 0, amounts = 0, msgs = 0, bytes = 0;
	int seen_chan[MAX_NODES][MAX_NODES];
	size_t i, nn, nc;
	uint64_t j;
	int ret, u, v, nchans = 0;
	const void *data;
	size_t len;

	memset(seen_chan, 0, sizeof(seen_chan));
	memset(&diag, 0, sizeof(diag));
	ret = snapchan_image_open_fd(s->fd, &img, &diag);
	if (ret) {
		rfail("snapshot %" PRIu64 ": image refused: %s at %" PRIu64 ": %s",
		      s->id, strerror(-ret), diag.offset, diag.msg);
		return;
	}
	snapchan_image_header(img, &hv);
	data = snapchan_image_data(img, &len);
	h->crc = snapchan_crc32c(0, data, len);
	h->len = len;
	if (hv.snap_id != s->id || strcmp(hv.group, R->group) ||
	    hv.kind != SNAPCHAN_IMG_KIND_SNAPSHOT || hv.total_len != info->image_len ||
	    hv.epoch != info->epoch || hv.node_count != info->nodes ||
	    hv.chan_count != info->chans || hv.record_count != info->recorded_msgs ||
	    hv.begin_ns != info->begin_ns) {
		rfail("snapshot %" PRIu64 ": header (id %" PRIu64 " group %s kind %u len %"
		      PRIu64 " epoch %" PRIu64 " nodes %u chans %u records %" PRIu64
		      ") disagrees with SNAP_INFO (len %llu epoch %llu nodes %u chans %u msgs %llu)",
		      s->id, hv.snap_id, hv.group, hv.kind, hv.total_len, hv.epoch,
		      hv.node_count, hv.chan_count, hv.record_count,
		      (unsigned long long)info->image_len,
		      (unsigned long long)info->epoch, info->nodes, info->chans,
		      (unsigned long long)info->recorded_msgs);
		goto out;
	}
	for (u = 0; u < MAX_NODES; u++)
		for (v = 0; v < MAX_NODES; v++)
			nchans += s->mem_chan[u][v];
	nn = snapchan_image_node_count(img);
	nc = snapchan_image_chan_count(img);
	if (nn != (size_t)s->nmem || nc != (size_t)nchans) {
		rfail("snapshot %" PRIu64 ": %zu nodes and %zu channels, but %d and %d were members",
		      s->id, nn, nc, s->nmem, nchans);
		goto out;
	}
	for (i = 0; i < nn; i++) {
		struct snapchan_image_node_view nv;
		char want[SNAPCHAN_NAME_LEN];
		const struct st_hdr *hd;
		int x;

		snapchan_image_node(img, i, &nv);
		x = mem_idx(s, nv.id);
		snprintf(want, sizeof(want), "n%d", x);
		if (x < 0 || strcmp(nv.name, want) || sh[x]) {
			rfail("snapshot %" PRIu64 ": node %s id %" PRIu64 " is not a member",
			      s->id, nv.name, nv.id);
			goto out;
		}
		hd = nv.state;
		if (nv.state_len < sizeof(*hd) || hd->magic != ST_MAGIC ||
		    hd->idx != (uint32_t)x || hd->nslots > MAX_SLOTS ||
		    nv.state_len != sizeof(*hd) + hd->nslots * sizeof(struct st_slot)) {
			rfail("snapshot %" PRIu64 ": node %s: bad state (%" PRIu64 " bytes)",
			      s->id, nv.name, nv.state_len);
			goto out;
		}
		sh[x] = hd;
		balances += hd->balance;
	}
	for (i = 0; i < nc; i++) {
		struct snapchan_image_chan_view cv;
		uint64_t spos = UINT64_MAX, rpos = UINT64_MAX;
		const struct st_slot *sl;
		char want[SNAPCHAN_NAME_LEN];
		int k;

		snapchan_image_chan(img, i, &cv);
		if (sscanf(cv.name + strlen(R->group), "-%d-%d", &u, &v) != 2 ||
		    strncmp(cv.name, R->group, strlen(R->group)) || u < 0 || v < 0 ||
		    u >= MAX_NODES || v >= MAX_NODES) {
			rfail("snapshot %" PRIu64 ": channel %s is not ours", s->id, cv.name);
			goto out;
		}
		chan_name(want, u, v);
		if (strcmp(want, cv.name) || !s->mem_chan[u][v] || seen_chan[u][v]++) {
			rfail("snapshot %" PRIu64 ": channel %s was not a member (or twice)",
			      s->id, cv.name);
			goto out;
		}
		if (cv.sender_node != s->mem_id[u] || cv.receiver_node != s->mem_id[v] ||
		    strcmp(cv.group, R->group)) {
			rfail("snapshot %" PRIu64 ": %s: ends %" PRIu64 " -> %" PRIu64
			      ", expected %" PRIu64 " -> %" PRIu64, s->id, cv.name,
			      cv.sender_node, cv.receiver_node, s->mem_id[u], s->mem_id[v]);
			goto out;
		}
		sl = (const void *)(sh[u] + 1);
		for (k = 0; k < (int)sh[u]->nslots; k++)
			if (sl[k].out && !strcmp(sl[k].name, cv.name))
				spos = sl[k].pos;
		sl = (const void *)(sh[v] + 1);
		for (k = 0; k < (int)sh[v]->nslots; k++)
			if (!sl[k].out && !strcmp(sl[k].name, cv.name))
				rpos = sl[k].pos;
		if (spos == UINT64_MAX || rpos == UINT64_MAX) {
			rfail("snapshot %" PRIu64 ": %s: the sender's or the receiver's state "
			      "does not have it", s->id, cv.name);
			goto out;
		}
		/* No orphan: nothing received that was sent after the cut. */
		if (rpos > spos) {
			rfail("snapshot %" PRIu64 ": %s: receiver recorded at message %" PRIu64
			      ", sender at %" PRIu64 " (an orphan: received, never sent)",
			      s->id, cv.name, rpos, spos);
			goto out;
		}
		if (cv.record_count != spos - rpos || cv.next_seq != spos + 1 ||
		    cv.first_seq != rpos + 1) {
			rfail("snapshot %" PRIu64 ": %s: %" PRIu64 " records, seq %" PRIu64
			      "..%" PRIu64 "; the states say messages %" PRIu64 "..%" PRIu64
			      " were in flight", s->id, cv.name, cv.record_count,
			      cv.first_seq, cv.next_seq, rpos, spos);
			goto out;
		}
		for (j = 0; j < cv.record_count; j++) {
			struct snapchan_image_record_view rv;
			struct payload p;

			snapchan_image_record(img, i, j, &rv);
			if (rv.type != SNAPCHAN_REC_DATA || rv.len != sizeof(p)) {
				rfail("snapshot %" PRIu64 ": %s record %" PRIu64 ": type %u len %u",
				      s->id, cv.name, j, rv.type, rv.len);
				goto out;
			}
			memcpy(&p, rv.payload, sizeof(p));
			if (pay_ok(&p) || p.from != u || p.to != v ||
			    p.counter != rpos + j || rv.seq != p.counter + 1) {
				rfail("snapshot %" PRIu64 ": %s record %" PRIu64 ": message %"
				      PRIu64 " (n%u -> n%u) seq %" PRIu64 ", expected message %"
				      PRIu64 " seq %" PRIu64 " (receiver at %" PRIu64
				      ", sender at %" PRIu64 ")", s->id, cv.name, j, p.counter,
				      p.from, p.to, rv.seq, rpos + j, rpos + j + 1, rpos, spos);
				goto out;
			}
			amounts += p.amount;
			msgs++;
			bytes += rv.len;
		}
	}
	if (balances + amounts != R->total) {
		rfail("snapshot %" PRIu64 ": balances %" PRIu64 " + in flight %" PRIu64
		      " (%" PRIu64 " messages) = %" PRIu64 ", the group holds %" PRIu64,
		      s->id, balances, amounts, msgs, balances + amounts, R->total);
		goto out;
	}
	if (msgs != info->recorded_msgs || bytes != info->recorded_bytes) {
		rfail("snapshot %" PRIu64 ": %" PRIu64 " messages, %" PRIu64
		      " bytes in the image; SNAP_INFO says %llu, %llu", s->id, msgs, bytes,
		      (unsigned long long)info->recorded_msgs,
		      (unsigned long long)info->recorded_bytes);
		goto out;
	}
	h->image_ok = 1;
	INC(images);
	ADD(image_bytes, len);
	ADD(image_records, msgs);
	ADD(image_amount, amounts);
out:
	snapchan_image_close(img);
}

static void compare_observer(int k);

static void snapshot_ended(int k)
{
	struct rsnap *s = &R->run[k];
	struct snapchan_snap_info info;
	struct hist *h;
	uint64_t dur;

	if (sc_snap_info(s->fd, &info)) {
		rfail("snapshot %" PRIu64 ": SNAP_INFO: %s", s->id, strerror(errno));
		goto out;
	}
	if (info.snap_id != s->id || strcmp(info.group, R->group)) {
		rfail("snapshot fd of %" PRIu64 " says id %llu group %s", s->id,
		      (unsigned long long)info.snap_id, info.group);
		goto out;
	}
	if (info.state == SNAPCHAN_SNAP_RUNNING)
		return;		/* not yet (a poll race): look again */
	h = hist_add();
	h->id = s->id;
	h->begin_ns = info.begin_ns;
	h->end_ns = info.end_ns;
	h->epoch = info.epoch;
	h->recorded_bytes = info.recorded_bytes;
	h->timeout = s->timeout;
	h->budget = s->budget;
	h->state = info.state;
	h->reason = info.abort_reason;
	h->by = s->by;
	h->nmem = s->nmem;
	memcpy(h->mem_id, s->mem_id, sizeof(h->mem_id));
	INC(ended);
	R->snaps++;
	dur = info.end_ns - info.begin_ns;
	if (info.begin_ns < s->t_req || info.begin_ns > s->t_ret || info.end_ns < info.begin_ns)
		rfail("snapshot %" PRIu64 ": begin %llu end %llu, begun between %" PRIu64
		      " and %" PRIu64, s->id, (unsigned long long)info.begin_ns,
		      (unsigned long long)info.end_ns, s->t_req, s->t_ret);
	if (info.nodes != (uint32_t)s->nmem)
		rfail("snapshot %" PRIu64 ": %u member nodes, %d expected", s->id,
		      info.nodes, s->nmem);
	if (s->aborted_by_us &&
	    (info.state != SNAPCHAN_SNAP_ABORTED || info.abort_reason != SNAPCHAN_ABORT_EXPLICIT ||
	     info.end_ns < s->ab_t0 || info.end_ns > s->ab_t1))
		rfail("snapshot %" PRIu64 ": SNAP_ABORT returned 0, but state %u reason %u, "
		      "ended at %llu (call %" PRIu64 "..%" PRIu64 ")", s->id, info.state,
		      info.abort_reason, (unsigned long long)info.end_ns, s->ab_t0, s->ab_t1);
	if (info.state == SNAPCHAN_SNAP_COMPLETE) {
		INC(complete);
		R->completes++;
		if (info.nodes_recorded != info.nodes || info.chans_closed != info.chans ||
		    info.abort_reason)
			rfail("snapshot %" PRIu64 ": complete with %u/%u nodes, %u/%u channels, reason %u",
			      s->id, info.nodes_recorded, info.nodes, info.chans_closed,
			      info.chans, info.abort_reason);
		if (info.recorded_bytes > s->budget)
			rfail("snapshot %" PRIu64 ": complete with %llu bytes recorded, budget %"
			      PRIu64, s->id, (unsigned long long)info.recorded_bytes, s->budget);
		if (s->expect == EXP_MEMBER_LEFT)
			rfail("snapshot %" PRIu64 ": complete, though a member was killed "
			      "before recording it", s->id);
		if (dur > s->timeout + STUCK_SLACK_NS)
			rfail("snapshot %" PRIu64 ": complete %.1f s after its begin, deadline %.3f s",
			      s->id, dur / 1e9, s->timeout / 1e9);
		check_image(s, &info, h);
	} else if (info.state == SNAPCHAN_SNAP_ABORTED) {
		R->aborts++;
		INC(aborted[info.abort_reason & 7]);
		switch (info.abort_reason) {
		case SNAPCHAN_ABORT_EXPLICIT:
			if (!s->aborted_by_us)
				rfail("snapshot %" PRIu64 ": reason explicit, but nobody aborted it",
				      s->id);
			break;
		case SNAPCHAN_ABORT_DEADLINE:
			if (dur + DEADLINE_TOL_NS < s->timeout)
				rfail("snapshot %" PRIu64 ": reason deadline after %" PRIu64
				      " ns, deadline %" PRIu64 " ns", s->id, dur, s->timeout);
			break;
		case SNAPCHAN_ABORT_BUDGET:
			if (info.recorded_bytes <= s->budget)
				rfail("snapshot %" PRIu64 ": reason budget with %llu bytes recorded, budget %"
				      PRIu64, s->id, (unsigned long long)info.recorded_bytes,
				      s->budget);
			break;
		case SNAPCHAN_ABORT_MEMBER_LEFT:
		case SNAPCHAN_ABORT_TOPOLOGY:
			break;		/* checked against the events at teardown */
		default:
			rfail("snapshot %" PRIu64 ": aborted with reason %u (%s)", s->id,
			      info.abort_reason, reason_name[info.abort_reason & 7]);
		}
		if (s->expect == EXP_COMPLETE)
			rfail("snapshot %" PRIu64 ": aborted (%s), but it should complete: "
			      "the member killed had recorded it", s->id,
			      reason_name[info.abort_reason & 7]);
		if (s->expect == EXP_MEMBER_LEFT &&
		    info.abort_reason != SNAPCHAN_ABORT_MEMBER_LEFT)
			rfail("snapshot %" PRIu64 ": aborted (%s), expected member-left",
			      s->id, reason_name[info.abort_reason & 7]);
	} else {
		rfail("snapshot %" PRIu64 ": poll says ended, state %u", s->id, info.state);
	}
	if (opt.verbose)
		printf("# group %s: snapshot %" PRIu64 " (%s): %s %s, %.1f ms\n",
		       R->group, s->id, by_name[s->by],
		       info.state == SNAPCHAN_SNAP_COMPLETE ? "complete" : "aborted",
		       info.state == SNAPCHAN_SNAP_COMPLETE ? "" :
		       reason_name[info.abort_reason & 7], dur / 1e6);
out:
	close(s->fd);
	if (s->obs >= 0)
		compare_observer(s->obs);
	R->run[k] = R->run[--R->nrun];
}

static void observers_reap(int block);

/* Poll the running snapshots and the node sockets for up to @ms. */
static void service(int ms)
{
	struct pollfd pfd[MAX_RUN + MAX_NODES];
	int map[MAX_RUN + MAX_NODES];
	uint64_t now;
	int i, n = 0, ret;

	hb();
	for (i = 0; i < R->nrun; i++) {
		pfd[n].fd = R->run[i].fd;
		pfd[n].events = POLLIN;
		map[n++] = i;
	}
	for (i = 0; i < MAX_NODES; i++) {
		if (!R->nodes[i].live)
			continue;
		pfd[n].fd = R->nodes[i].sock;
		pfd[n].events = POLLIN;
		map[n++] = -1 - i;
	}
	do {
		ret = poll(pfd, n, ms);
	} while (ret < 0 && errno == EINTR);
	if (ret < 0) {
		rfail("poll: %s", strerror(errno));
		return;
	}
	for (i = n - 1; i >= 0 && ret > 0; i--) {
		if (!pfd[i].revents)
			continue;
		if (map[i] >= 0) {
			snapshot_ended(map[i]);
		} else {
			int x = -1 - map[i];
			struct rep r;

			if (recv_msg(R->nodes[x].sock, &r, sizeof(r), NULL))
				rfail("n%d went away", x);
			else
				rfail("%s", r.kind == 'E' ? r.msg : "unexpected message from a node");
			R->nodes[x].live = 0;	/* do not talk to it again */
			kill(R->nodes[x].pid, SIGKILL);
			waitpid(R->nodes[x].pid, NULL, 0);
			close(R->nodes[x].sock);
		}
	}
	observers_reap(0);
	now = now_ns();
	for (i = 0; i < R->nrun; i++) {
		struct rsnap *s = &R->run[i];

		if (now > s->t_ret + s->timeout + STUCK_SLACK_NS) {
			rfail("snapshot %" PRIu64 " still running %.1f s after its begin, "
			      "deadline %.3f s: stuck", s->id, (now - s->t_ret) / 1e9,
			      s->timeout / 1e9);
			dump_debugfs("stuck snapshot");
			s->timeout = UINT64_MAX / 4;	/* report once */
		}
		if (s->abort_at && now >= s->abort_at) {
			uint32_t reason;
			int st2;

			s->abort_at = 0;
			s->ab_t0 = now_ns();
			ret = sc_snap_abort(s->fd);
			s->ab_t1 = now_ns();
			if (ret == 0) {
				s->aborted_by_us = 1;
			} else if (ret == -EALREADY) {
				st2 = sc_snap_state(s->fd, &reason);
				if (st2 != SNAPCHAN_SNAP_COMPLETE && st2 != SNAPCHAN_SNAP_ABORTED)
					rfail("snapshot %" PRIu64 ": SNAP_ABORT says EALREADY, state %d",
					      s->id, st2);
			} else {
				rfail("snapshot %" PRIu64 ": SNAP_ABORT: %s", s->id, strerror(-ret));
			}
		}
	}
}

/* The effective timeout and budget of a begin with @timeout and @budget. */
static void snap_params(uint64_t *timeout, uint64_t *budget, uint64_t *eff_t,
			uint64_t *eff_b, int scenario)
{
	uint64_t r = rnd_below(&R->rnd, 100);

	if (scenario)
		*timeout = 60 * NSEC;
	else if (r < 22)
		*timeout = (1 + rnd_below(&R->rnd, 40)) * MSEC;
	else if (r < 30)
		*timeout = 0;
	else
		*timeout = (5 + rnd_below(&R->rnd, 15)) * NSEC;
	r = rnd_below(&R->rnd, 100);
	if (scenario)
		*budget = 1 << 20;
	else if (r < 15)
		*budget = 1 + rnd_below(&R->rnd, 100);
	else if (r < 25)
		*budget = 0;
	else
		*budget = 1 << 20;
	*eff_t = *timeout ? *timeout : default_timeout_ms * MSEC;
	if (!*eff_t)
		*eff_t = 3600 * NSEC;	/* no deadline: the stuck check still runs */
	*eff_b = *budget ? *budget : default_budget_mb << 20;
}

static int obs_spawn(int holder, uint64_t id, uint64_t timeout, uint64_t budget,
		     int slow, struct rep *r, int *fd);

/* The members now: live nodes, channels with both ends attached. */
static void members_now(struct rsnap *s)
{
	int u, v;

	s->nmem = 0;
	memset(s->mem_id, 0, sizeof(s->mem_id));
	memset(s->mem_chan, 0, sizeof(s->mem_chan));
	for (u = 0; u < MAX_NODES; u++) {
		if (!R->nodes[u].live)
			continue;
		s->mem_id[u] = R->nodes[u].id;
		s->nmem++;
		for (v = 0; v < MAX_NODES; v++)
			s->mem_chan[u][v] = R->edge[u][v] == E_LIVE;
	}
}

static int pick_node(int unpaused)
{
	int cand[MAX_NODES], n = 0, i;

	for (i = 0; i < MAX_NODES; i++)
		if (R->nodes[i].live && (!unpaused || !R->nodes[i].paused))
			cand[n++] = i;
	return n ? cand[rnd_below(&R->rnd, n)] : -1;
}

/*
 * Begin a snapshot by @by (-1: random).  Returns its index in R->run, -EBUSY,
 * or another -errno.  @scenario: long deadline, big budget, no random abort.
 */
static int begin_snapshot(int by, int scenario, int exclude)
{
	struct rsnap *s;
	uint64_t timeout, budget, id = 0;
	struct rep r;
	int fd = -1, x = -1, o = -1;

	if (R->nrun >= MAX_RUN)
		return -EBUSY;
	if (by < 0)
		by = rnd_below(&R->rnd, BY_N);
	if (by == BY_NODE) {
		x = pick_node(1);
		if (x == exclude)
			x = -1;
		if (x < 0)
			by = BY_RUNNER;
	}
	s = &R->run[R->nrun];
	memset(s, 0, sizeof(*s));
	s->obs = -1;
	snap_params(&timeout, &budget, &s->timeout, &s->budget, scenario);
	members_now(s);
	s->t_req = now_ns();
	switch (by) {
	case BY_RUNNER:
		fd = sc_begin(R->ctl, R->group, timeout, budget, &id);
		break;
	case BY_OBSERVER:
		o = obs_spawn(0, 0, timeout, budget,
			      obs_slow || rnd_below(&R->rnd, 3) == 0, &r, &fd);
		if (o == -ENOMEM)
			return -EAGAIN;	/* no observer slot: not now */
		if (o < 0 && o != -EBUSY)
			return o;
		if (o == -EBUSY) {
			fd = -EBUSY;
			o = -1;
		}
		id = r.id;
		break;
	case BY_NODE: {
		struct cmd c = { .op = C_BEGIN, .a = timeout, .b = budget };

		if (node_cmd(x, &c, &r, &fd))
			return -EPROTO;
		if (r.ret >= 0 && fd < 0) {
			rfail("n%d began snapshot %" PRIu64 " but passed no fd", x, r.id);
			return -EPROTO;
		}
		if (r.ret < 0)
			fd = r.ret;
		id = r.id;
		s->t_req = r.t0;
		s->t_ret = r.t1;
		break;
	}
	}
	if (by != BY_NODE)
		s->t_ret = now_ns();
	if (fd == -EBUSY) {
		if (R->nrun < (int)maxsnap)
			rfail("begin (%s): EBUSY with only %d snapshots running, max_snapshots %llu",
			      by_name[by], R->nrun, maxsnap);
		return -EBUSY;
	}
	if (fd < 0) {
		rfail("begin (%s): %s", by_name[by], strerror(-fd));
		return fd;
	}
	if (id <= R->last_id)
		rfail("snapshot ids do not increase: %" PRIu64 " after %" PRIu64, id,
		      R->last_id);
	R->last_id = id;
	s->fd = fd;
	s->id = id;
	s->by = by;
	s->obs = o;
	if (o >= 0)
		R->obs[o].id = id;
	if (!scenario && rnd_below(&R->rnd, 100) < 15)
		s->abort_at = now_ns() + rnd_below(&R->rnd, 80) * MSEC;
	INC(begun[by]);
	R->nrun++;
	if ((uint64_t)R->nrun > __atomic_load_n(&st->max_running, __ATOMIC_RELAXED))
		__atomic_store_n(&st->max_running, R->nrun, __ATOMIC_RELAXED);
	return R->nrun - 1;
}

static int run_find(uint64_t id)
{
	int i;

	for (i = 0; i < R->nrun; i++)
		if (R->run[i].id == id)
			return i;
	return -1;
}

/* Wait (servicing) until snapshot @id has ended. */
static void wait_snapshot(uint64_t id)
{
	uint64_t end = now_ns() + 90 * NSEC;

	while (run_find(id) >= 0 && !R->failed) {
		service(20);
		if (now_ns() > end) {
			rfail("snapshot %" PRIu64 " did not end within 90 s", id);
			dump_debugfs("snapshot did not end");
			return;
		}
	}
}

/* Wait (servicing) until another snapshot may begin; 0 or -1. */
static int make_room(void)
{
	uint64_t end = now_ns() + 90 * NSEC;

	while (R->nrun >= (int)maxsnap && !R->failed) {
		service(10);
		if (now_ns() > end)
			return -1;
	}
	return R->failed ? -1 : 0;
}

/* Try to begin one more than max_snapshots: EBUSY, unless one has ended. */
static void ebusy_probe(void)
{
	uint64_t id;
	int fd, i, ended = 0;

	uint64_t t_req = now_ns();

	id = 0;
	INC(ebusy_probes);
	fd = sc_begin(R->ctl, R->group, 0, 0, &id);
	if (fd == -EBUSY) {
		INC(ebusy_seen);
		return;
	}
	if (fd < 0) {
		rfail("begin beyond max_snapshots: %s", strerror(-fd));
		return;
	}
	for (i = 0; i < R->nrun; i++)
		if (sc_poll1(R->run[i].fd, POLLIN, 0) > 0)
			ended = 1;
	if (!ended)
		rfail("begin succeeded with %d snapshots running, max_snapshots %llu",
		      R->nrun, maxsnap);
	/* Keep it as an ordinary snapshot. */
	if (R->nrun < MAX_RUN && id > R->last_id) {
		struct rsnap *s = &R->run[R->nrun++];

		memset(s, 0, sizeof(*s));
		s->obs = -1;
		s->fd = fd;
		s->id = id;
		s->by = BY_RUNNER;
		s->t_req = t_req;
		s->t_ret = now_ns();
		s->timeout = default_timeout_ms ? default_timeout_ms * MSEC : 3600 * NSEC;
		s->budget = default_budget_mb << 20;
		members_now(s);
		R->last_id = id;
		INC(begun[BY_RUNNER]);
	} else {
		rfail("begin beyond max_snapshots: id %" PRIu64 " after %" PRIu64, id,
		      R->last_id);
		close(fd);
	}
}

/* --- observers -------------------------------------------------------------- */

static int obs_spawn(int holder, uint64_t id, uint64_t timeout, uint64_t budget,
		     int slow, struct rep *r, int *fd)
{
	size_t chunk = slow ? 8 + rnd_below(&R->rnd, 120) : 4096;
	int delay = slow ? 500 + rnd_below(&R->rnd, 2000) : 0;
	int o, sock, ret;
	pid_t pid;

	for (o = 0; o < MAX_OBS; o++)
		if (!R->obs[o].used)
			break;
	if (o == MAX_OBS)
		return -ENOMEM;
	memset(&R->oshm[o], 0, sizeof(R->oshm[o]));
	pid = spawn(&sock);
	if (pid < 0)
		return -EIO;
	if (pid == 0)
		observer_main(sock, &R->oshm[o], R->group, id, timeout, budget,
			      chunk, delay);
	INC(observers);
	R->obs[o].used = 1;
	R->obs[o].pid = pid;
	R->obs[o].holder = holder;
	R->obs[o].killed = 0;
	R->obs[o].id = id;
	ret = wait_reply(sock, r, fd, REPLY_TIMEOUT_MS);
	close(sock);
	if (ret) {
		rfail("observer did not answer: %s", strerror(-ret));
		return -EIO;
	}
	if (!holder && r->ret >= 0 && r->v1) {
		rfail("observer: SNAP_OPEN of snapshot %" PRIu64 " it just began: %s",
		      r->id, strerror((int)r->v1));
		return -EIO;
	}
	if (r->ret < 0)
		return r->ret;
	return o;
}

/* An observer that streamed an image must have seen the runner's bytes. */
static void compare_observer(int o)
{
	struct hist *h;

	if (!R->obs[o].used || R->obs[o].killed || R->oshm[o].phase != 3 ||
	    R->oshm[o].result != 0)
		return;
	h = hist_find(R->obs[o].id);
	if (!h || !h->image_ok)
		return;
	if (h->crc != R->oshm[o].crc || h->len != R->oshm[o].len)
		rfail("snapshot %" PRIu64 ": an observer read %" PRIu64 " bytes (crc %08x), "
		      "the runner %" PRIu64 " (crc %08x)", h->id, R->oshm[o].len,
		      R->oshm[o].crc, h->len, h->crc);
	else
		INC(obs_same_image);
	R->oshm[o].result = 4;	/* compared */
}

static void observers_reap(int block)
{
	int o, status;
	pid_t ret;

	for (o = 0; o < MAX_OBS; o++) {
		if (!R->obs[o].used)
			continue;
		ret = waitpid(R->obs[o].pid, &status, block ? 0 : WNOHANG);
		if (ret == 0)
			continue;
		if (ret < 0) {
			rfail("waitpid observer: %s", strerror(errno));
			R->obs[o].used = 0;
			continue;
		}
		if (!R->obs[o].killed && (!WIFEXITED(status) || WEXITSTATUS(status)))
			rfail("observer of snapshot %" PRIu64 " exited with %#x: %s",
			      R->obs[o].id, status, R->oshm[o].msg);
		if (!R->obs[o].killed && run_find(R->obs[o].id) < 0)
			compare_observer(o);
		R->obs[o].used = 0;
	}
}

/* --- kills, recovery, replacement ------------------------------------------ */

/* Is process @pid sleeping ('S' in /proc/<pid>/stat)? */
static int proc_sleeping(pid_t pid)
{
	char path[64], buf[512], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (sc_read_text(path, buf, sizeof(buf)) < 0)
		return 0;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] == 'S';
}

/* Wait until node @x sleeps in phase @phase (blocked), up to 10 s. */
static int wait_blocked(int x, int phase)
{
	uint64_t end = now_ns() + 10 * NSEC;
	int ok = 0;

	while (now_ns() < end) {
		hb();
		if (R->shm[x].phase == phase && proc_sleeping(R->nodes[x].pid)) {
			if (++ok >= 3)
				return 1;
		} else {
			ok = 0;
		}
		usleep(20000);
	}
	return 0;
}

/*
 * Rebuild node @x's balance and positions from its journal and the
 * channels' counters.  0, or -1 (failed: counters disagree).
 */
static int reconcile(int x)
{
	struct nshm *n = &R->shm[x];
	struct snapchan_chan_info ci;
	int i;

	if (n->pend != PEND_NONE) {
		struct slot *sl = &n->slots[n->pend_slot];
		uint64_t done;

		if (sc_info(R->ctl, sl->name, &ci)) {
			rfail("reconcile n%d: CHAN_INFO %s: %s", x, sl->name, strerror(errno));
			return -1;
		}
		done = n->pend == PEND_SEND ? ci.next_seq - 1 : ci.total_received;
		sl->pos = n->pend_pos0;
		n->balance = n->pend_bal0;
		if (done == n->pend_pos0 + 1) {
			INC(recovered_pending);
			if (n->pend == PEND_SEND) {
				n->balance -= n->pend_amount;
				n->sent++;
				n->amount_sent += n->pend_amount;
			} else {
				struct payload p;

				memcpy(&p, n->rbuf, sizeof(p));
				if (pay_ok(&p) || p.counter != n->pend_pos0 || p.to != x) {
					rfail("reconcile n%d: %s: the message it was receiving "
					      "(%" PRIu64 ") is not in its buffer", x, sl->name,
					      n->pend_pos0);
					return -1;
				}
				n->balance += p.amount;
				n->received++;
			}
			sl->pos++;
		} else if (done != n->pend_pos0) {
			rfail("reconcile n%d: %s: %s %" PRIu64 ", the journal says %" PRIu64
			      " before its last %s", x, sl->name,
			      n->pend == PEND_SEND ? "sent" : "received", done,
			      n->pend_pos0, n->pend == PEND_SEND ? "write" : "read");
			return -1;
		}
		n->pend = PEND_NONE;
	}
	for (i = 0; i < MAX_SLOTS; i++) {
		struct slot *sl = &n->slots[i];
		uint64_t done;

		if (!sl->used)
			continue;
		if (sc_info(R->ctl, sl->name, &ci)) {
			rfail("reconcile n%d: CHAN_INFO %s: %s", x, sl->name, strerror(errno));
			return -1;
		}
		done = sl->out ? ci.next_seq - 1 : ci.total_received;
		if (done != sl->pos) {
			rfail("reconcile n%d: %s: %s %" PRIu64 " messages, the node counted %"
			      PRIu64, x, sl->name, sl->out ? "sent" : "received", done,
			      sl->pos);
			return -1;
		}
		if ((sl->out ? ci.sender_node : ci.receiver_node) != 0)
			rfail("n%d is dead, but %s still has it attached (node %llu)", x,
			      sl->name, (unsigned long long)(sl->out ? ci.sender_node :
							       ci.receiver_node));
	}
	return 0;
}

/* kill -9 node @x, reap it, log the event. */
static void kill_node(int x, int point)
{
	struct event *e;
	uint64_t t0, t1;
	int status, u;

	t0 = now_ns();
	kill(R->nodes[x].pid, SIGKILL);
	waitpid(R->nodes[x].pid, &status, 0);
	t1 = now_ns();
	e = ev_add(EV_KILL, 0, 0, t0, t1, R->nodes[x].id);
	ev_copy_rlog(e, &R->shm[x]);
	close(R->nodes[x].sock);
	R->nodes[x].live = 0;
	R->nodes[x].paused = 0;
	INC(kills[point]);
	R->kills++;
	for (u = 0; u < MAX_NODES; u++) {
		if (R->edge[x][u] == E_LIVE)
			R->edge[x][u] = E_DOWN;
		if (R->edge[u][x] == E_LIVE)
			R->edge[u][x] = E_DOWN;
	}
}

/* Recover node @x's state and start a replacement with its channel ends. */
static int replace_node(int x)
{
	struct slot saved[MAX_SLOTS];
	int i, u;

	if (reconcile(x))
		return -1;
	memcpy(saved, R->shm[x].slots, sizeof(saved));
	for (i = 0; i < MAX_SLOTS; i++)
		R->shm[x].slots[i].used = 0;
	if (start_node(x))
		return -1;
	INC(replaced);
	/* Incoming ends first, then outgoing, in their old slots. */
	for (u = 0; u < 2; u++) {
		for (i = 0; i < MAX_SLOTS; i++) {
			if (!saved[i].used || saved[i].out != u)
				continue;
			if (do_attach(x, saved[i].name, saved[i].out, saved[i].peer, i,
				      saved[i].pos) < 0)
				return -1;
		}
	}
	for (u = 0; u < MAX_NODES; u++) {
		if (R->edge[x][u] == E_DOWN && R->nodes[u].live)
			R->edge[x][u] = E_LIVE;
		if (R->edge[u][x] == E_DOWN && R->nodes[u].live)
			R->edge[u][x] = E_LIVE;
	}
	return 0;
}

static int out_edge_of(int x, int *v)
{
	int cand[MAX_NODES], n = 0, u;

	for (u = 0; u < MAX_NODES; u++)
		if (R->edge[x][u] == E_LIVE)
			cand[n++] = u;
	if (!n)
		return -1;
	*v = cand[rnd_below(&R->rnd, n)];
	return 0;
}

static int in_edge_of(int x, int *w)
{
	int cand[MAX_NODES], n = 0, u;

	for (u = 0; u < MAX_NODES; u++)
		if (R->edge[u][x] == E_LIVE)
			cand[n++] = u;
	if (!n)
		return -1;
	*w = cand[rnd_below(&R->rnd, n)];
	return 0;
}

static int live_nodes(void)
{
	int i, n = 0;

	for (i = 0; i < MAX_NODES; i++)
		n += R->nodes[i].live;
	return n;
}

/* Make sure a snapshot is running (so that the next change meets one). */
static void ensure_running(void)
{
	if (!R->nrun)
		begin_snapshot(BY_RUNNER, 0, -1);
}

/*
 * Before a topology call by @executor (-1: the runner), sometimes hold a
 * snapshot open: pause another node for 100..500 ms (it resumes by itself)
 * and begin one, so that the call finds it running and waits for it (or
 * aborts it).
 */
static void maybe_hold(int executor)
{
	struct cmd c = { .op = C_PAUSE };
	struct rep r;
	int p = -1, tries;

	if (!hold_enabled || rnd_below(&R->rnd, 2))
		return;
	for (tries = 0; tries < 10; tries++) {
		p = pick_node(1);
		if (p >= 0 && p != executor)
			break;
	}
	if (tries == 10 || make_room()) {
		ensure_running();
		return;
	}
	c.a = 100 + rnd_below(&R->rnd, 400);
	if (node_cmd(p, &c, &r, NULL))
		return;
	begin_snapshot(-1, 1, p);
}

/* Begin snapshots up to max_snapshots, all held open, then one more. */
static int ep_ebusy(void)
{
	struct cmd c = { .op = C_PAUSE, .a = 3000 };
	struct rep r;
	int p = pick_node(1), guard;

	if (p < 0)
		return -1;
	if (node_cmd(p, &c, &r, NULL))
		return 0;
	for (guard = 0; R->nrun < (int)maxsnap && guard < 2 * (int)maxsnap; guard++)
		if (begin_snapshot(rnd_below(&R->rnd, 2) ? BY_RUNNER : BY_NODE, 1, p) < 0)
			break;
	if (R->nrun >= (int)maxsnap)
		ebusy_probe();
	simple_cmd(p, C_RESUME, 0);
	return 0;
}

static int ep_kill(int kind)
{
	int x = pick_node(1), y, k, point = KP_RANDOM;
	uint64_t id = 0;

	if (x < 0 || live_nodes() < 2)
		return -1;
	switch (kind) {
	case EP_KILL_BEFORE:
		/* Paused, it cannot record: its death must abort the snapshot. */
		if (make_room() || simple_cmd(x, C_PAUSE, 0))
			return 0;
		R->nodes[x].paused = 1;
		k = begin_snapshot(rnd_below(&R->rnd, 2) ? BY_RUNNER : BY_NODE, 1, x);
		if (k >= 0) {
			id = R->run[k].id;
			R->run[k].expect = EXP_MEMBER_LEFT;
		}
		kill_node(x, KP_BEFORE_RECORD);
		if (id)
			wait_snapshot(id);
		break;
	case EP_KILL_AFTER:
		/* Another member paused holds the snapshot open; x records, dies. */
		do {
			y = pick_node(1);
		} while (y == x);
		if (make_room() || simple_cmd(y, C_PAUSE, 0))
			return 0;
		R->nodes[y].paused = 1;
		k = begin_snapshot(rnd_below(&R->rnd, 2) ? BY_RUNNER : BY_NODE, 1, y);
		if (k >= 0) {
			id = R->run[k].id;
			R->run[k].expect = EXP_COMPLETE;
		}
		if (simple_cmd(x, C_RECPAUSE, 0))
			return 0;
		kill_node(x, KP_AFTER_RECORD);
		if (simple_cmd(y, C_RESUME, 0))
			return 0;
		R->nodes[y].paused = 0;
		if (id)
			wait_snapshot(id);
		break;
	case EP_KILL_BLKWRITE: {
		struct cmd c = { .op = C_BLOCKW };
		struct rep r;
		int v;

		if (out_edge_of(x, &v))
			return -1;
		ensure_running();
		if (simple_cmd(v, C_PAUSE, 0))
			return 0;
		R->nodes[v].paused = 1;
		c.slot = R->eslot_out[x][v];
		if (node_cmd(x, &c, &r, NULL))
			return 0;
		if (wait_blocked(x, PH_BLK_WRITE))
			point = KP_BLOCKED_WRITE;
		kill_node(x, point);
		if (simple_cmd(v, C_RESUME, 0))
			return 0;
		R->nodes[v].paused = 0;
		break;
	}
	case EP_KILL_BLKREAD: {
		struct cmd c = { .op = C_BLOCKR };
		struct rep r;
		int w;

		if (in_edge_of(x, &w))
			return -1;
		ensure_running();
		if (simple_cmd(w, C_PAUSE, 0))
			return 0;
		R->nodes[w].paused = 1;
		c.slot = R->eslot_in[w][x];
		if (node_cmd(x, &c, &r, NULL))
			return 0;
		if (wait_blocked(x, PH_BLK_READ))
			point = KP_BLOCKED_READ;
		kill_node(x, point);
		if (simple_cmd(w, C_RESUME, 0))
			return 0;
		R->nodes[w].paused = 0;
		break;
	}
	default:
		ensure_running();
		service(rnd_below(&R->rnd, 40));
		kill_node(x, KP_RANDOM);
		break;
	}
	replace_node(x);
	return 0;
}

static int ep_observer(int kind)
{
	struct rep r;
	uint64_t end;
	int o = -1, k;

	if (kind == EP_HOLDER_STREAM) {
		/* A holder opens a snapshot that is complete or soon will be. */
		uint64_t id = 0;
		size_t i;

		for (i = R->nhist; i-- > 0;)
			if (R->hist[i].state == SNAPCHAN_SNAP_COMPLETE) {
				id = R->hist[i].id;
				break;
			}
		if (!id) {
			k = begin_snapshot(BY_RUNNER, 1, -1);
			if (k < 0)
				return -1;
			id = R->run[k].id;
		}
		o = obs_spawn(1, id, 0, 0, 1, &r, NULL);
		if (o == -ENOENT) {
			INC(holders_late);
			return 0;
		}
		if (o < 0)
			return o == -ENOMEM ? -1 : 0;
	} else {
		if (make_room())
			return 0;
		/* begin_snapshot() with an observer: it holds and streams. */
		obs_slow = kind == EP_OBS_STREAM;
		k = begin_snapshot(BY_OBSERVER, 1, -1);
		obs_slow = 0;
		if (k == -EAGAIN)
			return -1;
		if (k < 0)
			return 0;
		o = R->run[k].obs;
		if (o < 0)
			return 0;
	}
	if (kind == EP_OBS_WAITING) {
		service(rnd_below(&R->rnd, 5));
		if (R->oshm[o].phase >= 2)
			return 0;	/* already ended: no kill at this point */
		R->obs[o].killed = 1;
		kill(R->obs[o].pid, SIGKILL);
		INC(kills[KP_OBS_WAITING]);
		R->kills++;
		return 0;
	}
	/* Wait until it streams, then kill it half-way. */
	end = now_ns() + 60 * NSEC;
	while (now_ns() < end && !R->failed) {
		service(2);
		if (R->oshm[o].phase == 2 && R->oshm[o].progress > 0 &&
		    R->oshm[o].progress < R->oshm[o].len) {
			R->obs[o].killed = 1;
			kill(R->obs[o].pid, SIGKILL);
			INC(kills[kind == EP_OBS_STREAM ? KP_OBS_STREAMING :
				  KP_HOLDER_STREAMING]);
			R->kills++;
			return 0;
		}
		if (R->oshm[o].phase == 3 || !R->obs[o].used)
			return 0;	/* aborted, or too quick */
	}
	return 0;
}

static int ep_topology(int kind)
{
	int u, v, tries, w, x, i;

	switch (kind) {
	case EP_ADD_EDGE:
		for (tries = 0; tries < 20; tries++) {
			u = pick_node(0);
			v = pick_node(0);
			if (u != v && R->edge[u][v] == E_NONE && free_slot(u) >= 0 &&
			    free_slot(v) >= 0)
				break;
		}
		if (tries == 20)
			return -1;
		ensure_running();
		add_edge(u, v);
		return 0;
	case EP_REMOVE_EDGE:
	case EP_REATTACH:
		for (tries = 0; tries < 20; tries++) {
			int o, k;

			u = pick_node(0);
			if (u < 0 || out_edge_of(u, &v))
				continue;
			for (o = 0, k = 0; k < MAX_NODES; k++)
				o += R->edge[u][k] == E_LIVE;
			if (o >= 2 || kind == EP_REATTACH)
				break;
		}
		if (tries == 20)
			return -1;
		ensure_running();
		if (remove_edge(u, v))
			return 0;
		if (kind == EP_REATTACH) {
			ensure_running();
			add_edge(u, v);
		}
		return 0;
	case EP_JOIN:
		for (x = 0; x < MAX_NODES; x++)
			if (!R->nodes[x].live)
				break;
		if (x == MAX_NODES)
			return -1;
		memset(&R->shm[x].slots, 0, sizeof(R->shm[x].slots));
		R->shm[x].balance = 0;
		ensure_running();
		if (start_node(x))
			return 0;
		u = pick_node(0);
		if (u == x)
			u = pick_node(0);
		if (u != x && !add_edge(x, u)) {
			v = pick_node(0);
			if (v != x && R->edge[v][x] == E_NONE)
				add_edge(v, x);
		}
		/* A node without an incoming channel never gets money: give one. */
		for (w = 0; w < MAX_NODES; w++)
			if (R->edge[w][x] == E_LIVE)
				break;
		if (w == MAX_NODES) {
			for (v = 0; v < MAX_NODES; v++)
				if (v != x && R->nodes[v].live && R->edge[v][x] == E_NONE)
					break;
			if (v < MAX_NODES)
				add_edge(v, x);
		}
		return 0;
	case EP_LEAVE: {
		struct cmd c = { .op = C_TRANSFER };
		struct rep r;
		struct event *e;
		int status;

		if (live_nodes() <= 2)
			return -1;
		x = pick_node(0);
		if (out_edge_of(x, &v))
			return -1;
		ensure_running();
		for (u = 0; u < MAX_NODES; u++)
			if (R->edge[u][x] == E_LIVE && remove_edge(u, x))
				return 0;
		/* Its whole balance, in one message. */
		c.slot = R->eslot_out[x][v];
		if (node_cmd(x, &c, &r, NULL))
			return 0;
		if (r.ret) {
			rfail("n%d: transfer of %" PRIu64 ": %s", x, r.v1, strerror(-r.ret));
			return 0;
		}
		if (r.v2 != 0)
			rfail("n%d: balance %" PRIu64 " after sending all it had", x, r.v2);
		for (u = 0; u < MAX_NODES; u++)
			if (R->edge[x][u] == E_LIVE && remove_edge(x, u))
				return 0;
		c.op = C_EXIT;
		if (node_cmd(x, &c, &r, NULL))
			return 0;
		e = ev_add(EV_LEAVE, 0, 0, r.t0, r.t1, R->nodes[x].id);
		ev_copy_rlog(e, &R->shm[x]);
		ADD(topo[TO_LEAVE], 1);
		waitpid(R->nodes[x].pid, &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			rfail("n%d left with status %#x", x, status);
		close(R->nodes[x].sock);
		R->nodes[x].live = 0;
		for (i = 0; i < MAX_SLOTS; i++)
			if (R->shm[x].slots[i].used)
				rfail("n%d left with %s still attached", x,
				      R->shm[x].slots[i].name);
		return 0;
	}
	case EP_SPARE: {
		char name[SNAPCHAN_NAME_LEN];

		snprintf(name, sizeof(name), "%s-spare", R->group);
		ensure_running();
		if (do_create(name, 4))
			return 0;
		service(rnd_below(&R->rnd, 50));
		ensure_running();
		do_destroy(name);
		return 0;
	}
	}
	return -1;
}

static void episode(void)
{
	int tries, kind, ret;

	for (tries = 0; tries < EP_N; tries++) {
		kind = __atomic_fetch_add(&st->episode_seq, 1, __ATOMIC_RELAXED) % EP_N;
		if (kind <= EP_KILL_RANDOM)
			ret = ep_kill(kind);
		else if (kind <= EP_HOLDER_STREAM)
			ret = ep_observer(kind);
		else if (kind <= EP_SPARE) {
			hold_enabled = 1;
			ret = ep_topology(kind);
			hold_enabled = 0;
		} else {
			ret = ep_ebusy();
		}
		if (ret == 0) {
			INC(episodes[kind]);
			return;
		}
	}
}

/* --- cross-checks at teardown ------------------------------------------------ */

static int rlog_has(const struct event *e, uint64_t id, int done_only)
{
	uint32_t i;

	for (i = 0; i < e->nrlog && e->rlog; i++)
		if (e->rlog[i].id == id &&
		    (e->rlog[i].st == RL_DONE || (!done_only && e->rlog[i].st == RL_STARTED)))
			return 1;
	return 0;
}

static int hist_member(const struct hist *h, uint64_t node_id)
{
	int i;

	for (i = 0; i < MAX_NODES; i++)
		if (h->mem_id[i] && h->mem_id[i] == node_id)
			return 1;
	return 0;
}

static int cmp_hist(const void *a, const void *b)
{
	const struct hist *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static void cross_check(void)
{
	size_t i, j;

	qsort(R->hist, R->nhist, sizeof(*R->hist), cmp_hist);
	for (j = 0; j < R->nev; j++) {
		struct event *e = &R->ev[j];
		int waited = 0, aborted = 0;

		for (i = 0; i < R->nhist; i++) {
			struct hist *h = &R->hist[i];

			if (e->kind == EV_TOPO) {
				if (h->begin_ns < e->t0 && h->end_ns > e->t1)
					rfail("snapshot %" PRIu64 " (%" PRIu64 "..%" PRIu64
					      ") was still running when a topology %s (%s) "
					      "returned (%" PRIu64 "..%" PRIu64 ")", h->id,
					      h->begin_ns, h->end_ns, to_name[e->op],
					      e->abort_flag ? "abort" : "wait", e->t0, e->t1);
				if (h->begin_ns < e->t0 && h->end_ns >= e->t0) {
					if (h->state == SNAPCHAN_SNAP_ABORTED &&
					    h->reason == SNAPCHAN_ABORT_TOPOLOGY &&
					    h->end_ns <= e->t1)
						aborted = 1;
					else
						waited = 1;
				}
				continue;
			}
			/* A kill or a leave of a member. */
			if (!hist_member(h, e->node_id) || e->rlog_over)
				continue;
			if (h->begin_ns < e->t0 && h->end_ns > e->t1 &&
			    !rlog_has(e, h->id, 0))
				rfail("snapshot %" PRIu64 " went on after member %" PRIu64
				      " %s without recording it", h->id, e->node_id,
				      e->kind == EV_KILL ? "was killed" : "left");
		}
		if (e->kind == EV_TOPO && !e->abort_flag && waited)
			INC(topo_waited);
		if (e->kind == EV_TOPO && e->abort_flag && aborted)
			INC(topo_aborted);
	}
	for (i = 0; i < R->nhist; i++) {
		struct hist *h = &R->hist[i];
		int ok = 0;

		if (h->state == SNAPCHAN_SNAP_ABORTED && h->reason == SNAPCHAN_ABORT_TOPOLOGY) {
			for (j = 0; j < R->nev && !ok; j++)
				ok = R->ev[j].kind == EV_TOPO && R->ev[j].abort_flag &&
				     R->ev[j].t0 <= h->end_ns && h->end_ns <= R->ev[j].t1;
			if (!ok)
				rfail("snapshot %" PRIu64 ": reason topology, ended at %" PRIu64
				      ", in no topology call with SNAPCHAN_TOPO_F_ABORT",
				      h->id, h->end_ns);
		}
		if (h->state == SNAPCHAN_SNAP_ABORTED && h->reason == SNAPCHAN_ABORT_MEMBER_LEFT) {
			for (j = 0; j < R->nev && !ok; j++) {
				struct event *e = &R->ev[j];

				ok = (e->kind == EV_KILL || e->kind == EV_LEAVE) &&
				     hist_member(h, e->node_id) && e->t0 <= h->end_ns &&
				     h->end_ns <= e->t1 && (e->rlog_over || !rlog_has(e, h->id, 1));
			}
			if (!ok)
				rfail("snapshot %" PRIu64 ": reason member-left, ended at %" PRIu64
				      ", but no member that had not recorded it left then",
				      h->id, h->end_ns);
		}
		/* Epochs: equal with no change between begins, larger with one. */
		if (i > 0) {
			struct hist *a = &R->hist[i - 1];
			int between = 0, overlap = 0;

			for (j = 0; j < R->nev; j++) {
				struct event *e = &R->ev[j];

				if (e->t0 > a->begin_ns && e->t1 < h->begin_ns)
					between = 1;
				if (!(e->t1 < a->begin_ns || e->t0 > h->begin_ns))
					overlap = 1;
			}
			if (h->epoch < a->epoch || (between && h->epoch == a->epoch) ||
			    (!overlap && h->epoch != a->epoch))
				rfail("snapshot %" PRIu64 " has epoch %" PRIu64 ", snapshot %" PRIu64
				      " before it %" PRIu64 ", with %s topology change between their begins",
				      h->id, h->epoch, a->id, a->epoch,
				      between ? "a" : overlap ? "perhaps a" : "no");
		}
	}
}

/* --- build, run, tear down ------------------------------------------------- */

static int build_group(void)
{
	int n, u, v;

	R->mesh = rnd_below(&R->rnd, 2);
	n = R->mesh ? 3 + rnd_below(&R->rnd, 3) : 3 + rnd_below(&R->rnd, 6);
	INC(groups);
	if (R->mesh)
		INC(meshes);
	else
		INC(rings);
	printf("# group %s: %s of %d nodes\n", R->group, R->mesh ? "mesh" : "ring", n);
	fflush(stdout);
	for (u = 0; u < n; u++) {
		memset(&R->shm[u].slots, 0, sizeof(R->shm[u].slots));
		R->shm[u].balance = START_BALANCE;
		R->total += START_BALANCE;
	}
	/* The first channel creates the group; the nodes join it. */
	for (u = 0; u < n; u++) {
		for (v = 0; v < n; v++) {
			char name[SNAPCHAN_NAME_LEN];

			if (u == v || (!R->mesh && v != (u + 1) % n && u != (v + 1) % n))
				continue;
			chan_name(name, u, v);
			R->ecap[u][v] = 2 + rnd_below(&R->rnd, 31);
			if (do_create(name, R->ecap[u][v]))
				return -1;
			R->edge[u][v] = E_DOWN;
		}
	}
	for (u = 0; u < n; u++)
		if (start_node(u))
			return -1;
	for (u = 0; u < n; u++) {
		for (v = 0; v < n; v++) {
			char name[SNAPCHAN_NAME_LEN];
			int si, so;

			if (R->edge[u][v] != E_DOWN)
				continue;
			chan_name(name, u, v);
			si = do_attach(v, name, 0, u, -1, 0);
			so = si < 0 ? -1 : do_attach(u, name, 1, v, -1, 0);
			if (so < 0)
				return -1;
			R->eslot_in[u][v] = si;
			R->eslot_out[u][v] = so;
			R->edge[u][v] = E_LIVE;
		}
	}
	return 0;
}

static void count_node_figures(int x)
{
	struct nshm *n = &R->shm[x];

	ADD(msgs_sent, n->sent);
	ADD(amount_sent, n->amount_sent);
	ADD(msgs_recv, n->received);
	ADD(blk_w, n->blk_w);
	ADD(blk_w_intr, n->blk_w_intr);
	ADD(blk_r, n->blk_r);
	ADD(blk_r_intr, n->blk_r_intr);
	ADD(rec_req, n->rec_req);
	ADD(rec_marker, n->rec_marker);
	ADD(node_begins, n->begins);
	n->sent = n->amount_sent = n->received = n->blk_w = n->blk_w_intr = 0;
	n->blk_r = n->blk_r_intr = n->rec_req = n->rec_marker = n->begins = 0;
}

static void teardown(void)
{
	static const char *const tables[] = { "groups", "nodes", "snapshots" };
	struct snapchan_chan_info ci;
	char dump[2048];
	uint64_t end, sum = 0;
	int x, u, v, t, i, status, pass, bad;

	/* Let every snapshot end (those with long deadlines complete). */
	for (x = 0; x < MAX_NODES; x++)
		if (R->nodes[x].live && R->nodes[x].paused &&
		    !simple_cmd(x, C_RESUME, 0))
			R->nodes[x].paused = 0;
	end = now_ns() + 120 * NSEC;
	while (R->nrun && now_ns() < end)
		service(20);
	if (R->nrun) {
		rfail("%d snapshots still running at teardown", R->nrun);
		dump_debugfs("teardown");
		while (R->nrun) {
			close(R->run[R->nrun - 1].fd);
			R->nrun--;
		}
	}
	/* Observers: let the streaming ones finish, then reap them all. */
	end = now_ns() + 60 * NSEC;
	for (;;) {
		int busy = 0;

		observers_reap(0);
		for (i = 0; i < MAX_OBS; i++)
			busy |= R->obs[i].used;
		if (!busy)
			break;
		if (now_ns() > end) {
			for (i = 0; i < MAX_OBS; i++)
				if (R->obs[i].used) {
					rfail("observer of snapshot %" PRIu64 " never finished",
					      R->obs[i].id);
					R->obs[i].killed = 1;
					kill(R->obs[i].pid, SIGKILL);
				}
			observers_reap(1);
			break;
		}
		hb();
		usleep(10000);
	}
	/* Stop the money, drain, count. */
	for (x = 0; x < MAX_NODES; x++)
		if (R->nodes[x].live)
			simple_cmd(x, C_SENDING, 0);
	for (pass = 0; pass < 2; pass++)
		for (x = 0; x < MAX_NODES; x++)
			if (R->nodes[x].live)
				simple_cmd(x, C_DRAIN, 0);
	if (!R->failed) {
		for (x = 0; x < MAX_NODES; x++)
			if (R->nodes[x].live)
				sum += R->shm[x].balance;
		if (sum != R->total)
			rfail("after draining, balances sum to %" PRIu64 ", the group holds %" PRIu64,
			      sum, R->total);
		for (u = 0; u < MAX_NODES; u++) {
			for (v = 0; v < MAX_NODES; v++) {
				char name[SNAPCHAN_NAME_LEN];
				uint64_t sp, rp;

				if (R->edge[u][v] != E_LIVE)
					continue;
				chan_name(name, u, v);
				sp = R->shm[u].slots[R->eslot_out[u][v]].pos;
				rp = R->shm[v].slots[R->eslot_in[u][v]].pos;
				bad = sc_info(R->ctl, name, &ci);
				if (bad || sp != rp || ci.depth_msgs || ci.markers_queued ||
				    ci.next_seq - 1 != sp || ci.total_received != rp ||
				    ci.total_sent != sp)
					rfail("%s after draining: sent %" PRIu64 ", received %" PRIu64
					      "; CHAN_INFO (%s): depth %llu, markers %u, next_seq %llu, "
					      "sent %llu, received %llu", name, sp, rp,
					      bad ? strerror(errno) : "ok",
					      (unsigned long long)ci.depth_msgs, ci.markers_queued,
					      (unsigned long long)ci.next_seq,
					      (unsigned long long)ci.total_sent,
					      (unsigned long long)ci.total_received);
			}
		}
	}
	/* The nodes leave. */
	for (x = 0; x < MAX_NODES; x++) {
		struct cmd c = { .op = C_EXIT };
		struct rep r;
		struct event *e;

		if (!R->nodes[x].live)
			continue;
		if (!node_cmd(x, &c, &r, NULL)) {
			e = ev_add(EV_LEAVE, 0, 0, r.t0, r.t1, R->nodes[x].id);
			ev_copy_rlog(e, &R->shm[x]);
		} else {
			kill(R->nodes[x].pid, SIGKILL);
		}
		waitpid(R->nodes[x].pid, &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			rfail("n%d exited with status %#x", x, status);
		close(R->nodes[x].sock);
		R->nodes[x].live = 0;
	}
	for (x = 0; x < MAX_NODES; x++)
		count_node_figures(x);
	for (u = 0; u < MAX_NODES; u++) {
		for (v = 0; v < MAX_NODES; v++) {
			char name[SNAPCHAN_NAME_LEN];

			if (R->edge[u][v] == E_NONE)
				continue;
			chan_name(name, u, v);
			do_destroy(name);
			R->edge[u][v] = E_NONE;
		}
	}
	cross_check();
	/* Nothing of the group may be left. */
	if (sc_have_debugfs()) {
		for (t = 0; t < 3; t++) {
			int rows = sc_debugfs_rows(tables[t], R->group, dump, sizeof(dump));

			if (rows > 0) {
				usleep(500000);
				rows = sc_debugfs_rows(tables[t], R->group, dump, sizeof(dump));
			}
			if (rows)
				rfail("debugfs %s still lists the group after teardown: %s",
				      tables[t], rows < 0 ? strerror(-rows) : dump);
		}
	}
}

static void runner_main(int serial, int slot, uint64_t seed, double life)
{
	uint64_t next_ep;
	size_t i;

	setpgid(0, 0);
	close_fds_except(-1);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	R = calloc(1, sizeof(*R));
	if (!R)
		_exit(1);
	R->serial = serial;
	R->slot = slot;
	R->rnd = seed;
	R->t_start = now_ns();
	snprintf(R->group, sizeof(R->group), "sk%dg%d", getppid() % 100000,
		 serial % 100000);
	snprintf(st->runner[slot].group, sizeof(st->runner[slot].group), "%s", R->group);
	R->shm = mmap(NULL, MAX_NODES * sizeof(struct nshm), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	R->oshm = mmap(NULL, MAX_OBS * sizeof(struct oshm), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (R->shm == MAP_FAILED || R->oshm == MAP_FAILED) {
		rfail("mmap: %s", strerror(errno));
		_exit(1);
	}
	R->ctl = open(SC_CONTROL, O_RDWR | O_CLOEXEC);
	if (R->ctl < 0) {
		rfail("open control: %s", strerror(errno));
		_exit(1);
	}
	hb();
	R->t_end = now_ns() + (uint64_t)(life * NSEC);
	if (build_group() == 0) {
		next_ep = now_ns() + (200 + rnd_below(&R->rnd, 800)) * MSEC;
		while (!R->failed && now_ns() < R->t_end &&
		       !__atomic_load_n(&st->stop, __ATOMIC_RELAXED)) {
			service(10);
			if (R->nrun < (int)maxsnap && rnd_below(&R->rnd, 2))
				begin_snapshot(-1, 0, -1);
			else if (R->nrun >= (int)maxsnap && !rnd_below(&R->rnd, 16))
				ebusy_probe();
			if (now_ns() >= next_ep) {
				episode();
				next_ep = now_ns() + (200 + rnd_below(&R->rnd, 1000)) * MSEC;
			}
		}
	}
	teardown();
	printf("# group %s: %s, %.1f s: %d snapshots (%d complete, %d aborted), "
	       "%d kills, %d topology calls%s\n", R->group, R->mesh ? "mesh" : "ring",
	       (now_ns() - R->t_start) / 1e9, R->snaps, R->completes, R->aborts,
	       R->kills, R->topos, R->failed ? ", FAILED" : "");
	fflush(stdout);
	for (i = 0; i < R->nev; i++)
		free(R->ev[i].rlog);
	_exit(R->failed ? 1 : 0);
}

/* ======================================================================== */
/* Main                                                                     */
/* ======================================================================== */

static void dump_proc(pid_t pid)
{
	char path[64], buf[4096];
	int n;

	snprintf(path, sizeof(path), "/proc/%d/stack", pid);
	n = sc_read_text(path, buf, sizeof(buf));
	printf("# pid %d stack:\n", pid);
	if (n > 0) {
		char *line = strtok(buf, "\n");

		while (line) {
			printf("#   %s\n", line);
			line = strtok(NULL, "\n");
		}
	}
}

/* Print the kernel stacks of @pgid's processes (a hung runner). */
static void dump_pgrp(pid_t pgid)
{
	DIR *d = opendir("/proc");
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char path[64], buf[512];
		pid_t pid = atoi(de->d_name);
		char *p;
		int f;

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		if (sc_read_text(path, buf, sizeof(buf)) < 0)
			continue;
		p = strrchr(buf, ')');
		/* ") S ppid pgrp" */
		if (!p || sscanf(p + 2, "%*c %*d %d", &f) != 1 || f != pgid)
			continue;
		dump_proc(pid);
	}
	closedir(d);
}

static int count_dev_entries(char *list, size_t len)
{
	DIR *d = opendir(SC_DEV_DIR);
	struct dirent *de;
	size_t used = 0;
	int n = 0;

	list[0] = '\0';
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || !strcmp(de->d_name, "control"))
			continue;
		n++;
		if (used + strlen(de->d_name) + 2 < len)
			used += snprintf(list + used, len - used, "%s ", de->d_name);
	}
	closedir(d);
	return n;
}

static void usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-d seconds] [-S snapshots] [-g groups] [-s seed] "
		"[-T seconds] [-v]\n", prog);
	exit(2);
}

int main(int argc, char **argv)
{
	struct { pid_t pid; int serial; } runners[MAX_RUNNERS];
	uint64_t t0, last_progress, total_snaps, kills = 0, hbt;
	int c, i, serial = 0, nfail_runners = 0, tap = 0, failed = 0, k;
	char dump[2048];

	opt.seed = (uint64_t)time(NULL) * 1000003ULL ^ getpid();
	while ((c = getopt(argc, argv, "d:S:g:s:T:vh")) != -1) {
		switch (c) {
		case 'd': opt.duration = atof(optarg); opt.dur_given = 1; break;
		case 'S': opt.snapshots = strtoull(optarg, NULL, 0); break;
		case 'g': opt.groups = atoi(optarg); break;
		case 's': opt.seed = strtoull(optarg, NULL, 0); break;
		case 'T': opt.cap = atof(optarg); break;
		case 'v': opt.verbose = 1; break;
		default: usage(argv[0]);
		}
	}
	if (optind != argc || opt.groups < 1 || opt.groups > MAX_RUNNERS ||
	    opt.duration < 0)
		usage(argv[0]);
	if (opt.snapshots && !opt.dur_given)
		opt.duration = 0;
	if (!opt.cap)
		opt.cap = 4 * opt.duration + 600;
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	printf("TAP version 13\n");
	if (access(SC_CONTROL, F_OK)) {
		printf("1..0 # SKIP %s missing: is the snapchan module loaded?\n", SC_CONTROL);
		return KSFT_SKIP;
	}
	printf("1..4\n");
	sc_param("max_snapshots", &maxsnap);
	sc_param("default_timeout_ms", &default_timeout_ms);
	sc_param("default_budget_mbytes", &default_budget_mb);
	if (maxsnap > MAX_RUN - 2)
		maxsnap = MAX_RUN - 2;
	printf("# soak: seed %" PRIu64 ", at least %.0f s and %" PRIu64 " snapshots, "
	       "%d groups at once, max_snapshots %llu, give up after %.0f s\n",
	       opt.seed, opt.duration, opt.snapshots, opt.groups, maxsnap, opt.cap);
	printf("# reproduce the choices: soak -s %" PRIu64 " -d %.0f -S %" PRIu64 " -g %d\n",
	       opt.seed, opt.duration, opt.snapshots, opt.groups);
	st = mmap(NULL, sizeof(*st), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		  -1, 0);
	if (st == MAP_FAILED) {
		perror("mmap");
		return KSFT_FAIL;
	}
	memset(runners, 0, sizeof(runners));
	t0 = last_progress = now_ns();
	for (;;) {
		double el = (now_ns() - t0) / 1e9;
		int done = el >= opt.duration &&
			   __atomic_load_n(&st->ended, __ATOMIC_RELAXED) >= opt.snapshots;

		if (done || el > opt.cap)
			break;
		for (i = 0; i < opt.groups && nfail_runners < 5; i++) {
			double left = opt.duration - el, life;
			pid_t pid;

			if (runners[i].pid)
				continue;
			life = 6 + (mix(opt.seed + serial) % 20);
			if (left > 0 && life > left + 2)
				life = left + 2;
			if (life < 4)
				life = 4;
			serial++;
			st->runner[i].hb_ns = now_ns();
			st->runner[i].serial = serial;
			fflush(stdout);
			pid = fork();
			if (pid < 0) {
				perror("fork");
				break;
			}
			if (pid == 0)
				runner_main(serial, i, mix(opt.seed ^ (0xabcdULL * serial)), life);
			setpgid(pid, pid);
			runners[i].pid = pid;
			runners[i].serial = serial;
			st->runner[i].pid = pid;
		}
		usleep(100000);
		for (i = 0; i < opt.groups; i++) {
			int status;

			if (!runners[i].pid)
				continue;
			if (waitpid(runners[i].pid, &status, WNOHANG) == runners[i].pid) {
				if (!WIFEXITED(status) || WEXITSTATUS(status)) {
					nfail_runners++;
					if (!WIFEXITED(status))
						printf("# runner %d (%s) died: status %#x\n",
						       runners[i].serial, st->runner[i].group, status);
				}
				runners[i].pid = 0;
				continue;
			}
			hbt = __atomic_load_n(&st->runner[i].hb_ns, __ATOMIC_SEQ_CST);
			if ((int64_t)(now_ns() - hbt) > (int64_t)HB_STALE_NS) {
				printf("# runner %d (%s): no progress for %.0f s: hung in the kernel?\n",
				       runners[i].serial, st->runner[i].group,
				       (now_ns() - hbt) / 1e9);
				dump_pgrp(runners[i].pid);
				{
					struct runner fake = { 0 };

					snprintf(fake.group, sizeof(fake.group), "%s",
						 st->runner[i].group);
					R = &fake;
					dump_debugfs("hung runner");
					R = NULL;
				}
				kill(-runners[i].pid, SIGKILL);
				waitpid(runners[i].pid, &status, 0);
				INC(failures);
				if (!__atomic_exchange_n(&st->fail_set, 1, __ATOMIC_SEQ_CST))
					snprintf(st->fail_msg, sizeof(st->fail_msg),
						 "runner %d (%s) hung", runners[i].serial,
						 st->runner[i].group);
				nfail_runners++;
				runners[i].pid = 0;
			}
		}
		if (now_ns() - last_progress > 30 * NSEC) {
			last_progress = now_ns();
			printf("# %.0f s: %" PRIu64 " snapshots ended (%" PRIu64 " complete), "
			       "%" PRIu64 " groups, %" PRIu64 " failures\n",
			       (now_ns() - t0) / 1e9, st->ended, st->complete, st->groups,
			       st->failures);
		}
	}
	/* Stop: every runner tears its group down. */
	__atomic_store_n(&st->stop, 1, __ATOMIC_SEQ_CST);
	for (i = 0; i < opt.groups; i++) {
		int status;

		while (runners[i].pid) {
			if (waitpid(runners[i].pid, &status, WNOHANG) == runners[i].pid) {
				if (!WIFEXITED(status) || WEXITSTATUS(status))
					nfail_runners++;
				runners[i].pid = 0;
				break;
			}
			hbt = __atomic_load_n(&st->runner[i].hb_ns, __ATOMIC_SEQ_CST);
			if ((int64_t)(now_ns() - hbt) > (int64_t)HB_STALE_NS) {
				printf("# runner %d (%s): no progress for %.0f s at the end\n",
				       runners[i].serial, st->runner[i].group,
				       (now_ns() - hbt) / 1e9);
				dump_pgrp(runners[i].pid);
				kill(-runners[i].pid, SIGKILL);
				waitpid(runners[i].pid, &status, 0);
				INC(failures);
				nfail_runners++;
				runners[i].pid = 0;
				break;
			}
			usleep(50000);
		}
	}
	{
		double el = (now_ns() - t0) / 1e9;

		total_snaps = st->ended;
		printf("# figures after %.1f s (seed %" PRIu64 "):\n", el, opt.seed);
		printf("#   groups: %" PRIu64 " built and torn down (%" PRIu64 " rings, %" PRIu64
		       " meshes), %" PRIu64 " node processes\n", st->groups, st->rings,
		       st->meshes, st->nodes_spawned);
		printf("#   snapshots begun: %" PRIu64 " (%" PRIu64 " %s, %" PRIu64 " %s, %" PRIu64
		       " %s); at most %" PRIu64 " running in a group\n",
		       st->begun[0] + st->begun[1] + st->begun[2], st->begun[0], by_name[0],
		       st->begun[1], by_name[1], st->begun[2], by_name[2], st->max_running);
		printf("#   snapshots ended: %" PRIu64 ": %" PRIu64 " complete, %" PRIu64 " aborted (",
		       total_snaps, st->complete,
		       st->aborted[1] + st->aborted[2] + st->aborted[3] + st->aborted[4] +
		       st->aborted[5] + st->aborted[6] + st->aborted[7] + st->aborted[0]);
		for (k = 0; k < 8; k++)
			if (st->aborted[k] || (k >= 1 && k <= 5))
				printf("%s%s %" PRIu64, k == 1 ? "" : ", ", reason_name[k],
				       st->aborted[k]);
		printf(")\n");
		printf("#   images verified: %" PRIu64 " (%" PRIu64 " bytes, %" PRIu64
		       " messages in flight, amount %" PRIu64 "); %" PRIu64
		       " also streamed identically by an observer\n",
		       st->images, st->image_bytes, st->image_records, st->image_amount,
		       st->obs_same_image);
		printf("#   EBUSY: %" PRIu64 " of %" PRIu64 " begins beyond max_snapshots\n",
		       st->ebusy_seen, st->ebusy_probes);
		printf("#   messages moved: %" PRIu64 " sent (amount %" PRIu64 "), %" PRIu64
		       " received; blocking writes %" PRIu64 " (%" PRIu64
		       " interrupted by the timer), blocking reads %" PRIu64 " (%" PRIu64 ")\n",
		       st->msgs_sent, st->amount_sent, st->msgs_recv, st->blk_w,
		       st->blk_w_intr, st->blk_r, st->blk_r_intr);
		printf("#   node records: %" PRIu64 " on request, %" PRIu64 " on a marker, %" PRIu64
		       " beginning a snapshot\n", st->rec_req, st->rec_marker, st->node_begins);
		printf("#   kills (kill -9):");
		for (k = 0; k < KP_N; k++) {
			printf("%s %s %" PRIu64, k ? "," : "", kp_name[k], st->kills[k]);
			kills += st->kills[k];
		}
		printf("; %" PRIu64 " in all\n", kills);
		printf("#   recovery: %" PRIu64 " replacement nodes, %" PRIu64
		       " interrupted sends/receives found done by the channel counters\n",
		       st->replaced, st->recovered_pending);
		printf("#   topology calls:");
		for (k = 0; k < TO_N; k++)
			printf("%s %s %" PRIu64, k ? "," : "", to_name[k], st->topo[k]);
		printf("; %" PRIu64 " with SNAPCHAN_TOPO_F_ABORT (%" PRIu64
		       " aborted a snapshot), %" PRIu64 " waited for a running snapshot\n",
		       st->topo_abort_flag, st->topo_aborted, st->topo_waited);
		printf("#   observers/holders: %" PRIu64 " (%" PRIu64 " found their snapshot gone)\n",
		       st->observers, st->holders_late);
		printf("#   elapsed: %.1f s\n", el);

		/* 1: every group consistent. */
		tap++;
		if (st->failures || nfail_runners) {
			printf("not ok %d soak: groups # %" PRIu64 " failures, %d runners failed; first: %s\n",
			       tap, st->failures, nfail_runners, st->fail_msg);
			failed = 1;
		} else {
			printf("ok %d soak: %" PRIu64 " groups, %" PRIu64
			       " snapshots, every check held\n", tap, st->groups, total_snaps);
		}
		/* 2: the target. */
		tap++;
		if (el < opt.duration || total_snaps < opt.snapshots || !total_snaps) {
			printf("not ok %d soak: target # %" PRIu64 " snapshots in %.0f s, wanted %"
			       PRIu64 " in at least %.0f s\n", tap, total_snaps, el,
			       opt.snapshots, opt.duration);
			failed = 1;
		} else {
			printf("ok %d soak: target: %" PRIu64 " snapshots in %.0f s\n", tap,
			       total_snaps, el);
		}
		/* 3: every kill point, once the run is long enough to reach them. */
		tap++;
		for (k = 0; k < KP_N && st->kills[k]; k++)
			;
		if (k == KP_N)
			printf("ok %d soak: every kill point exercised\n", tap);
		else if (st->episode_seq < 3 * EP_N)
			printf("ok %d soak: kill points # SKIP only %" PRIu64 " episodes\n",
			       tap, st->episode_seq);
		else {
			printf("not ok %d soak: kill point '%s' never reached in %" PRIu64
			       " episodes\n", tap, kp_name[k], st->episode_seq);
			failed = 1;
		}
		/* 4: nothing left behind. */
		tap++;
		{
			static const char *const tables[] = { "groups", "nodes", "snapshots" };
			int left = 0, rows;

			if (sc_have_debugfs()) {
				for (k = 0; k < 3; k++) {
					rows = sc_debugfs_rows(tables[k], NULL, dump, sizeof(dump));
					if (rows) {
						printf("# debugfs %s: %s\n", tables[k],
						       rows < 0 ? strerror(-rows) : dump);
						left = 1;
					}
				}
			}
			rows = count_dev_entries(dump, sizeof(dump));
			if (rows) {
				printf("# /dev/snapchan: %s\n", rows < 0 ? strerror(-rows) : dump);
				left = 1;
			}
			if (left) {
				printf("not ok %d soak: left behind\n", tap);
				failed = 1;
			} else {
				printf("ok %d soak: nothing left in debugfs or /dev/snapchan%s\n", tap,
				       sc_have_debugfs() ? "" : " (no debugfs)");
			}
		}
	}
	printf("# %s\n", failed ? "FAIL" : "PASS");
	return failed ? KSFT_FAIL : KSFT_PASS;
}
