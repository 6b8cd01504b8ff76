// SPDX-License-Identifier: GPL-2.0
/*
 * snapchan fuzz: a seeded random sequence of every snapchan call, with
 * valid and invalid arguments, in several processes at once.
 *
 *   fuzz [-s seed] [-n calls] [-p processes] [-v]
 *
 * -n is the total number of calls of the worker processes (default
 * 100000), split among -p workers (default 2).  -v lists every call's
 * count, even those never made.  Each worker keeps a small
 * pool of live fds (control, channel ends, nodes, snapshots, captures,
 * pipes) and picks, at random, one of: the control ioctls (VERSION,
 * CHAN_CREATE/DESTROY/INFO/LIST, NODE_JOIN, SNAP_BEGIN/OPEN), channel
 * read/readv/write/writev/poll/RECV/MARK/CAPTURE/SEND_BATCH/RECV_BATCH,
 * node ATTACH/DETACH/
 * RECORD/EVENT/poll, snapshot read/poll/SNAP_INFO/SNAP_ABORT, capture
 * read/lseek, pread, mmap, epoll, ioctl numbers of other types, open,
 * close, dup and fork (a child that inherits the pool, makes calls and
 * exits, or is killed with SIGKILL at a random moment).
 *
 * Arguments are wrong on purpose a good part of the time: wild pointers
 * (NULL, 1, kernel and non-canonical addresses, an unmapped page, a
 * structure running into a PROT_NONE page, a read-only page for an ioctl
 * that writes its argument), huge lengths, reserved fields and unknown
 * flag bits set, invalid names, fds of the wrong kind (a pipe, a capture,
 * a node where a channel is expected), closed fd numbers.  The batch
 * calls get every count (0, 1, a few, SNAPCHAN_BATCH_MAX, MAX + 1, huge)
 * and entry arrays that are whole, run into a PROT_NONE page after k
 * entries, run into a read-only page after k entries (readable, not
 * writable) or are wild; entries are valid, too long, reserved-dirty,
 * with unreadable or unwritable payload buffers, or zero-length with a
 * wild buffer (valid).
 *
 * The model channel: each worker also owns a private standalone channel
 * (fzmodel-w<N>, 16 messages, 3000 bytes, max_msg 512) whose whole
 * content it models: every record with its sequence number, length and
 * payload pattern, and the user markers.  A good share of the batch calls
 * (and a few MARKs and CAPTUREs) go there, with the same bad entries and
 * placements, blocking or not, and each one's result is predicted
 * exactly: the count (a batch that meets a bad entry, a full queue, an
 * empty one, a marker or a record too long for its entry stops there and
 * returns what it moved) or, when nothing moved, the one errno the first
 * entry earns.  After each call the entries written must be exactly the
 * records taken (sequence numbers, lengths, payload bytes, nothing past
 * len, no entry past the count touched) and CHAN_INFO's counters must
 * agree with the model: no message is lost or duplicated by a batch that
 * faults part-way.  After the first disagreement a worker's model is
 * switched off (what the channel holds is unknown from then on); the
 * disagreement fails the run.
 *
 * Everything is bounded: every fd that can be read is O_NONBLOCK, polls
 * have a zero timeout, snapshot deadlines are short (default_timeout_ms
 * is lowered to 50 while the fuzz runs, then restored), and a per-process
 * alarm() watchdog turns a call that never returns into a failure.
 *
 * What fails the test (the kernel misbehaving where user space can see
 * it): an errno outside the set the call may return (a table per call and
 * fd kind, from the uapi header and the kernel-doc of the handlers); a
 * call that succeeds with an invalid argument; an output that breaks an
 * invariant (VERSION, CHAN_INFO counters, SNAP_INFO states, NODE_EVENT,
 * the returned fd numbers, images whose length, magic or CRC32C is
 * wrong); poll bits a file cannot report; a worker that crashes or hangs;
 * and, after everything is destroyed and closed, a channel left in
 * /dev/snapchan or a row left in /sys/kernel/debug/snapchan/{groups,
 * nodes,snapshots}.  The real check is the kernel's: the VM runner fails
 * on any WARNING, KASAN, UBSAN, lockdep or kmemleak report.
 *
 * Output: TAP, one test point; comments give the per-call counts and the
 * errno histogram.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "snapchan_test.h"
#include "kselftest.h"

#ifndef SNAPCHAN_SEQ_MAX
#define SNAPCHAN_SEQ_MAX	(1ULL << 62)
#endif

#define DEBUGFS_DIR	"/sys/kernel/debug/snapchan/"
#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif
#define POOL_MAX	20
#define MAX_KIDS	2
#define NR_CHANS	12	/* pool channel names fz0..fz11 */
#define NR_GROUPS	3	/* fzg0..fzg2; fz0..fz8 are grouped */
#define NR_NODES	6	/* node names n0..n5 */
#define MAX_ERRNO	160
#define MAX_BAD		32
#define WATCHDOG_S	60
#define FUZZ_TIMEOUT_MS	50	/* default_timeout_ms while fuzzing */

/* --- random numbers ------------------------------------------------------- */

static uint64_t rng;

static uint64_t rnd(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint32_t rn(uint32_t n)
{
	return n ? (uint32_t)(rnd() % n) : 0;
}

static bool pct(unsigned int p)
{
	return rn(100) < p;
}

/* --- operations ------------------------------------------------------------ */

enum op {
	OP_VERSION, OP_CREATE, OP_DESTROY, OP_INFO, OP_LIST, OP_JOIN,
	OP_BEGIN, OP_OPEN,
	OP_READ, OP_READV, OP_WRITE, OP_WRITEV, OP_POLL, OP_RECV, OP_MARK,
	OP_CAPTURE, OP_SEND_BATCH, OP_RECV_BATCH,
	OP_ATTACH, OP_DETACH, OP_RECORD, OP_EVENT,
	OP_SNAP_INFO, OP_SNAP_ABORT, OP_SNAP_IMAGE, OP_CAP_IMAGE,
	OP_LSEEK, OP_PREAD, OP_MMAP, OP_FOREIGN, OP_EPOLL,
	OP_OPEN_CTL, OP_OPEN_CHAN, OP_PIPE, OP_CLOSE, OP_DUP, OP_FORK,
	OP_BURST, NR_OPS
};

static const char *const op_names[NR_OPS] = {
	"VERSION", "CHAN_CREATE", "CHAN_DESTROY", "CHAN_INFO", "CHAN_LIST",
	"NODE_JOIN", "SNAP_BEGIN", "SNAP_OPEN",
	"read", "readv", "write", "writev", "poll", "RECV", "MARK", "CAPTURE",
	"SEND_BATCH", "RECV_BATCH", "NODE_ATTACH", "NODE_DETACH", "NODE_RECORD", "NODE_EVENT",
	"SNAP_INFO", "SNAP_ABORT", "snapshot-image", "capture-image",
	"lseek", "pread", "mmap", "foreign-ioctl", "epoll",
	"open-control", "open-channel", "pipe", "close", "dup", "fork",
	"burst",
};

/* Relative weights, in tenths. */
static const unsigned int op_weight[NR_OPS] = {
	[OP_VERSION] = 10, [OP_CREATE] = 60, [OP_DESTROY] = 25, [OP_INFO] = 30,
	[OP_LIST] = 15, [OP_JOIN] = 45, [OP_BEGIN] = 25, [OP_OPEN] = 20,
	[OP_READ] = 60, [OP_READV] = 20, [OP_WRITE] = 90, [OP_WRITEV] = 30,
	[OP_POLL] = 40, [OP_RECV] = 70, [OP_MARK] = 25, [OP_CAPTURE] = 25,
	[OP_SEND_BATCH] = 50, [OP_RECV_BATCH] = 50,
	[OP_ATTACH] = 60, [OP_DETACH] = 20, [OP_RECORD] = 55, [OP_EVENT] = 25,
	[OP_SNAP_INFO] = 30, [OP_SNAP_ABORT] = 10, [OP_SNAP_IMAGE] = 15,
	[OP_CAP_IMAGE] = 15, [OP_LSEEK] = 10, [OP_PREAD] = 10, [OP_MMAP] = 10,
	[OP_FOREIGN] = 30, [OP_EPOLL] = 20, [OP_OPEN_CTL] = 8,
	[OP_OPEN_CHAN] = 60, [OP_PIPE] = 5, [OP_CLOSE] = 75, [OP_DUP] = 8,
	[OP_FORK] = 2, [OP_BURST] = 4,
};

/* --- shared statistics -------------------------------------------------------- */

struct shared {
	atomic_ulong calls;		/* every call, children included */
	atomic_ulong worker_calls;
	atomic_ulong forks, kills;
	atomic_ulong hist[MAX_ERRNO + 1];	/* [0]: success */
	atomic_ulong op_calls[NR_OPS];
	atomic_ulong op_ok[NR_OPS];
	atomic_ulong recent[NR_GROUPS][8];	/* snapshot ids seen */
	/* the model channels: calls, messages moved, stopped part-way */
	atomic_ulong m_send, m_sent, m_send_part, m_recv, m_recvd, m_recv_part;
	atomic_ulong m_marks, m_captures, m_blocking;
	atomic_uint nbad;
	char bad[MAX_BAD][240];
};

static struct shared *sh;

/* --- the per-process state ------------------------------------------------------- */

enum kind {
	K_CTL, K_CHAN_R, K_CHAN_W, K_NODE, K_SNAP, K_CAP, K_PIPE_R, K_PIPE_W,
	K_BAD, NR_KINDS
};

static const char *const kind_names[NR_KINDS] = {
	"control", "chan-rd", "chan-wr", "node", "snapshot", "capture",
	"pipe-rd", "pipe-wr", "bad-fd",
};

struct pfd {
	int fd;
	enum kind kind;
	int chan;		/* channel name index, -1 if random/none */
	int group;		/* node: group index, -1 if not a pool group */
	bool shared;		/* the open file is shared with another process */
	bool started;		/* read from: an image is no longer whole */
	uint64_t stream_len;	/* capture: image length */
};

static struct pfd pool[POOL_MAX];
static int npool;
static int ctl0 = -1;		/* a control fd that is never closed */
static int epfd = -1;
static bool is_child;
static int worker;
static const char *cur_op = "start";
static unsigned long my_calls;

struct kid {
	pid_t pid;
	long kill_at;		/* my_calls at which to SIGKILL it, or -1 */
};
static struct kid kids[MAX_KIDS];
static int nkids;

/* Module parameters, read at start, for exact validity checks. */
static struct {
	bool known;
	unsigned long long max_msg_size, default_max_msg;
	unsigned long long max_capacity_msgs, default_capacity_msgs;
	unsigned long long max_capacity_bytes, default_capacity_bytes;
	unsigned long long max_state_bytes;
	unsigned long long max_markers;	/* 0: unknown */
	bool short_timeout;	/* default_timeout_ms lowered by us */
} P;

/*
 * Memory: [data: DATA_PAGES][guard][ro_arg][ro_buf][hole: 2 unmapped][arg]
 * [guard2].  Kernel copies run from the data area into a PROT_NONE page,
 * never into other memory of ours.
 */
#define PG		4096UL
#define DATA_PAGES	32
static char *data, *guard, *ro_arg, *ro_buf, *hole, *argbuf, *guard2;
#define DATA_LEN	(DATA_PAGES * PG)

/*
 * Batch entry arrays, in a mapping of their own:
 * [barr: BARR_PAGES][bnone][bpre][bro: read-only][bnone2].  An array runs
 * into bnone after k entries (unreadable from there), or from bpre into
 * bro (readable, not writable), or lies in barr whole.
 */
#define BARR_PAGES	18
#define BARR_LEN	(BARR_PAGES * PG)
static char *barr, *bnone, *bpre, *bro, *bnone2;

/* --- reporting ------------------------------------------------------------------ */

static void bad(const char *fmt, ...)
{
	unsigned int i = atomic_fetch_add(&sh->nbad, 1);
	va_list ap;
	int n;

	if (i >= MAX_BAD)
		return;
	n = snprintf(sh->bad[i], sizeof(sh->bad[i]), "[w%d%s] ", worker,
		     is_child ? " child" : "");
	va_start(ap, fmt);
	vsnprintf(sh->bad[i] + n, sizeof(sh->bad[i]) - n, fmt, ap);
	va_end(ap);
}

static void on_alarm(int sig)
{
	char msg[160];
	int n;

	(void)sig;
	n = snprintf(msg, sizeof(msg),
		     "# fuzz: watchdog: worker %d%s stuck %ds in %s\n", worker,
		     is_child ? " (child)" : "", WATCHDOG_S, cur_op);
	if (write(2, msg, n) < 0)
		_exit(3);
	_exit(3);
}

/* --- errno sets -------------------------------------------------------------------- */

struct eset {
	uint64_t w[(MAX_ERRNO + 64) / 64];
};

static void es_add(struct eset *s, int e)
{
	if (e > 0 && e <= MAX_ERRNO)
		s->w[e / 64] |= 1ULL << (e % 64);
}

static void es_del(struct eset *s, int e)
{
	if (e > 0 && e <= MAX_ERRNO)
		s->w[e / 64] &= ~(1ULL << (e % 64));
}

static bool es_has(const struct eset *s, int e)
{
	return e > 0 && e <= MAX_ERRNO && (s->w[e / 64] >> (e % 64)) & 1;
}

static struct eset es_of(const int *list)
{
	struct eset s;

	memset(&s, 0, sizeof(s));
	for (; *list; list++)
		es_add(&s, *list);
	return s;
}

static struct eset es1(int e)
{
	struct eset s;

	memset(&s, 0, sizeof(s));
	es_add(&s, e);
	return s;
}

/* What each ioctl may fail with, on the right kind of fd. */
static const int E_VERSION[] = { EFAULT, 0 };
static const int E_CREATE[] = { EFAULT, EINVAL, EEXIST, ENOSPC, EPERM, ENOMEM, 0 };
static const int E_DESTROY[] = { EFAULT, EINVAL, ENOENT, EPERM, 0 };
static const int E_INFO[] = { EFAULT, EINVAL, ENOENT, 0 };
static const int E_LIST[] = { EFAULT, EINVAL, ENOMEM, 0 };
static const int E_JOIN[] = { EFAULT, EINVAL, ENOENT, EPERM, EEXIST, ENOSPC,
			      ENOMEM, EMFILE, ENFILE, 0 };
static const int E_BEGIN[] = { EFAULT, EINVAL, ENOENT, EPERM, EBUSY, ENOMEM,
			       EMFILE, ENFILE, 0 };
static const int E_OPEN[] = { EFAULT, EINVAL, ENOENT, EPERM, ENOMEM, EMFILE,
			      ENFILE, 0 };
static const int E_RECV[] = { EBADF, EFAULT, EINVAL, EAGAIN, ENODATA, ENODEV,
			      EPERM, EMSGSIZE, 0 };
static const int E_SEND_BATCH[] = { EBADF, EFAULT, EINVAL, EMSGSIZE, EAGAIN,
				    EPERM, ENODEV, ENOMEM, 0 };
static const int E_RECV_BATCH[] = { EBADF, EFAULT, EINVAL, EMSGSIZE, EAGAIN,
				    ENODATA, ENODEV, EPERM, 0 };
static const int E_MARK[] = { EBADF, EFAULT, EINVAL, EPERM, ENOMEM, ENODEV,
			      ENOBUFS, 0 };
static const int E_CAPTURE[] = { EFAULT, EINVAL, ENODEV, ENOBUFS, ENOMEM,
				 EMFILE, ENFILE, 0 };
static const int E_ATTACH[] = { EFAULT, EINVAL, EBADF, EXDEV, ENODEV, EBUSY, 0 };
static const int E_DETACH[] = { EFAULT, EINVAL, EBADF, EXDEV, ENODEV, ENOENT, 0 };
static const int E_RECORD[] = { EFAULT, EINVAL, EFBIG, ENOENT, EALREADY,
				ECANCELED, EBUSY, ENOMEM, EMFILE, ENFILE, 0 };
static const int E_EVENT[] = { EFAULT, EINVAL, 0 };
static const int E_SNAP_INFO[] = { EFAULT, 0 };
static const int E_SNAP_ABORT[] = { EALREADY, 0 };

/* File operations, by fd kind. */
static const int E_CHAN_READ[] = { EAGAIN, ENODEV, EPERM, ENOMSG, EMSGSIZE,
				   EFAULT, 0 };
static const int E_CHAN_WRITE[] = { EAGAIN, ENODEV, EPERM, EMSGSIZE, EFAULT,
				    ENOMEM, 0 };
static const int E_SNAP_READ[] = { EAGAIN, ECANCELED, EFAULT, 0 };
static const int E_PIPE_READ[] = { EAGAIN, EFAULT, 0 };
static const int E_PIPE_WRITE[] = { EAGAIN, EFAULT, EPIPE, 0 };
static const int E_NOT_READABLE[] = { EINVAL, EBADF, 0 };

enum family { F_CTL, F_CHAN, F_NODE, F_SNAP };

static bool kind_in_family(enum kind k, enum family f)
{
	switch (f) {
	case F_CTL:
		return k == K_CTL;
	case F_CHAN:
		return k == K_CHAN_R || k == K_CHAN_W;
	case F_NODE:
		return k == K_NODE;
	case F_SNAP:
		return k == K_SNAP;
	}
	return false;
}

/* --- the result of a call ----------------------------------------------------------------- */

static void count(int op, long ret, int err)
{
	atomic_fetch_add(&sh->calls, 1);
	if (!is_child)
		atomic_fetch_add(&sh->worker_calls, 1);
	my_calls++;
	atomic_fetch_add(&sh->op_calls[op], 1);
	if (ret >= 0) {
		atomic_fetch_add(&sh->hist[0], 1);
		atomic_fetch_add(&sh->op_ok[op], 1);
	} else {
		atomic_fetch_add(&sh->hist[err > 0 && err <= MAX_ERRNO ? err : 0], 1);
	}
}

static const char *ename(int e)
{
	const char *s = strerrorname_np(e);

	return s ? s : "?";
}

/* Check a call's result against the set it may return. */
static void judge(int op, enum kind k, long ret, int err,
		  const struct eset *allowed, bool must_fail, const char *why)
{
	count(op, ret, err);
	if (ret < 0 && !es_has(allowed, err))
		bad("%s on %s: unexpected errno %d %s%s%s", op_names[op],
		    kind_names[k], err, ename(err), why ? " with " : "",
		    why ? why : "");
	else if (ret >= 0 && must_fail)
		bad("%s on %s: returned %ld, expected an error (%s)",
		    op_names[op], kind_names[k], ret, why ? why : "invalid");
}

/* --- fds ------------------------------------------------------------------------------------ */

static void pool_del(int i)
{
	close(pool[i].fd);
	pool[i] = pool[--npool];
}

static struct pfd *pool_add(int fd, enum kind k)
{
	struct pfd *p;

	if (npool == POOL_MAX)
		pool_del(rn(npool));
	p = &pool[npool++];
	memset(p, 0, sizeof(*p));
	p->fd = fd;
	p->kind = k;
	p->chan = -1;
	p->group = -1;
	return p;
}

static int kinds_count(unsigned int mask)
{
	int i, n = 0;

	for (i = 0; i < npool; i++)
		if (mask & (1U << pool[i].kind))
			n++;
	return n;
}

static struct pfd *pool_pick(unsigned int mask)
{
	int i, n = kinds_count(mask), k;

	if (!n)
		return NULL;
	k = rn(n);
	for (i = 0; i < npool; i++)
		if ((mask & (1U << pool[i].kind)) && !k--)
			return &pool[i];
	return NULL;
}

/* A target fd: mostly one of the kinds in @mask, else anything. */
struct target {
	int fd;
	enum kind kind;
	struct pfd *p;
};

static void open_chan(int want_group);
static void op_join(void);

static struct target pick(unsigned int mask)
{
	static const int bad_fds[] = { -1, 999, 1023, INT_MAX, -100 };
	struct target t = { .fd = -1, .kind = K_BAD, .p = NULL };
	unsigned int r = rn(100);
	struct pfd *p = NULL;

	if (r < 86) {
		p = pool_pick(mask);
		if (!p && !is_child && (mask & (1U << K_CTL)) == 0) {
			/* Make one: a channel end or a node. */
			if (mask & ((1U << K_CHAN_R) | (1U << K_CHAN_W)))
				open_chan(-2);
			else if (mask & (1U << K_NODE))
				op_join();
			p = pool_pick(mask);
		}
		if (!p && (mask & (1U << K_CTL))) {
			t.fd = ctl0;
			t.kind = K_CTL;
			return t;
		}
	}
	if (!p && r < 96)
		p = pool_pick(~0U);
	if (p) {
		t.fd = p->fd;
		t.kind = p->kind;
		t.p = p;
		return t;
	}
	t.fd = bad_fds[rn(5)];
	return t;
}

/* --- argument memory ----------------------------------------------------------------------- */

enum amode {
	A_OK, A_RO, A_NULL, A_ONE, A_KERNEL, A_NONCANON, A_UNMAPPED, A_STRADDLE,
	A_MINUS1, NR_AMODES
};

static const char *const amode_names[NR_AMODES] = {
	"ok", "read-only", "NULL", "1", "kernel-address", "non-canonical",
	"unmapped", "straddling-guard", "-1",
};

static void *wild_ptr(int m)
{
	switch (m) {
	case A_NULL:
		return NULL;
	case A_ONE:
		return (void *)1;
	case A_KERNEL:
		return (void *)(pct(50) ? 0xffff888000000000ULL : 0xffffffff81000000ULL);
	case A_NONCANON:
		return (void *)0x8000000000000000ULL;
	case A_UNMAPPED:
		return hole + rn(2 * PG);
	case A_MINUS1:
		return (void *)~0UL;
	default:
		return guard;
	}
}

/* Place an ioctl argument; *@mode says how. */
static void *place(const void *src, size_t len, enum amode *mode)
{
	enum amode m = pct(90) ? A_OK : (enum amode)(1 + rn(NR_AMODES - 1));
	size_t k;
	char *p;

	*mode = m;
	switch (m) {
	case A_OK:
		/* At the end of the page, right before a PROT_NONE page. */
		p = argbuf + PG - ((len + 7) & ~7UL);
		memcpy(p, src, len);
		return p;
	case A_RO:
		mprotect(ro_arg, PG, PROT_READ | PROT_WRITE);
		memcpy(ro_arg, src, len);
		mprotect(ro_arg, PG, PROT_READ);
		return ro_arg;
	case A_STRADDLE:
		k = 1 + rn(len - 1);	/* bytes before the guard page */
		p = guard - k;
		memcpy(p, src, k);
		return p;
	default:
		return wild_ptr(m);
	}
}

static bool readable(enum amode m)
{
	return m == A_OK || m == A_RO;
}

/* A user buffer of @len bytes: in the data area, read-only, or wild. */
static uint64_t buf_ptr(size_t len, bool *ok)
{
	unsigned int r = rn(100);

	*ok = true;
	if (r < 85)
		return (uint64_t)(uintptr_t)(data + (len < DATA_LEN ? rn(DATA_LEN - len + 1) & ~7U : 0));
	if (r < 90)
		return (uint64_t)(uintptr_t)ro_buf;
	*ok = false;
	return (uint64_t)(uintptr_t)wild_ptr(2 + rn(NR_AMODES - 2));
}

static uint64_t pick_len(uint64_t max_ok)
{
	unsigned int r = rn(100);

	if (r < 10)
		return 0;
	if (r < 60)
		return 1 + rn(64);
	if (r < 80)
		return 65 + rn(4032);
	if (r < 90)
		return rn(max_ok + 1);
	switch (rn(5)) {
	case 0:
		return (1 << 20) + 1;
	case 1:
		return 1ULL << 31;
	case 2:
		return 1ULL << 40;
	case 3:
		return SIZE_MAX;
	default:
		return (16 << 20) + 1;
	}
}

/* --- names ------------------------------------------------------------------------------------- */

static const char name_chars[] =
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";

static bool name_ok(const char n[SNAPCHAN_NAME_LEN], bool allow_empty)
{
	size_t len = strnlen(n, SNAPCHAN_NAME_LEN), i;

	if (len == SNAPCHAN_NAME_LEN)
		return false;
	if (!len)
		return allow_empty;
	if (!strcmp(n, ".") || !strcmp(n, ".."))
		return false;
	for (i = 0; i < len; i++)
		if (!strchr(name_chars, n[i]) || !n[i])
			return false;
	return true;
}

enum nkind { N_CHAN, N_GROUP, N_NODE };

/*
 * Fill a name field: mostly a pool name, sometimes a random valid one
 * (channels: always "fz..." so that cleanup finds them), sometimes an
 * invalid one.  Bytes after the terminator are sometimes garbage (the
 * kernel must ignore them).  Returns the pool index or -1.
 */
static int gen_name(char n[SNAPCHAN_NAME_LEN], enum nkind nk)
{
	static const char *const invalid[] = {
		"", ".", "..", "fz/x", "fz x", "fz\xe9", "fz\n", "fz*", "fz:1",
		"../fz0", "fz\x7f", "control",
	};
	unsigned int r = rn(100), len, i;
	int idx = -1;

	memset(n, 0, SNAPCHAN_NAME_LEN);
	if (r < 80) {
		switch (nk) {
		case N_CHAN:
			idx = rn(NR_CHANS);
			snprintf(n, SNAPCHAN_NAME_LEN, "fz%d", idx);
			break;
		case N_GROUP:
			idx = rn(NR_GROUPS);
			snprintf(n, SNAPCHAN_NAME_LEN, "fzg%d", idx);
			break;
		case N_NODE:
			idx = rn(NR_NODES);
			snprintf(n, SNAPCHAN_NAME_LEN, "n%d", idx);
			break;
		}
	} else if (r < 88) {
		len = 1 + rn(29);
		n[0] = 'f';
		n[1] = 'z';
		for (i = 2; i < len + 2 && i < SNAPCHAN_NAME_LEN - 1; i++)
			n[i] = name_chars[rn(sizeof(name_chars) - 1)];
	} else if (r < 96) {
		strcpy(n, invalid[rn(ARRAY_SIZE(invalid))]);
	} else {
		/* No terminator. */
		for (i = 0; i < SNAPCHAN_NAME_LEN; i++)
			n[i] = name_chars[rn(sizeof(name_chars) - 1)];
		n[0] = 'f';
		n[1] = 'z';
		return -1;
	}
	if (pct(10)) {
		len = strlen(n);
		for (i = len + 1; i < SNAPCHAN_NAME_LEN; i++)
			n[i] = (char)rnd();
	}
	return idx;
}

/* Channel fz<k>'s group: fz0..fz8 in fzg<k % 3>, the rest standalone. */
static int chan_group(int k)
{
	return k >= 0 && k < 9 ? k % NR_GROUPS : -1;
}

/* --- flags and reserved fields ---------------------------------------------------------------- */

static uint32_t gen_flags32(uint32_t valid)
{
	unsigned int r = rn(100);

	if (r < 75)
		return (uint32_t)rnd() & valid;
	if (r < 90)
		return 1U << rn(32);
	return (uint32_t)rnd();
}

static uint64_t gen_reserved(void)
{
	return pct(94) ? 0 : (pct(50) ? 1ULL << rn(64) : rnd());
}

static void gen_reserved_arr(__u64 *r, int n)
{
	int i;

	for (i = 0; i < n; i++)
		r[i] = pct(97) ? 0 : 1ULL << rn(64);
}

static bool all_zero(const __u64 *r, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (r[i])
			return false;
	return true;
}

/*
 * A call's expectation: the base set for the op; with an invalid argument
 * (@invalid 1; 0: valid; -1: cannot tell) that the kernel can read, exactly EINVAL; with one it cannot read,
 * EFAULT; on the wrong kind of fd, ENOTTY; on a bad fd number, EBADF.
 */
static void judge_ioctl(int op, enum family fam, struct target *t, long ret,
			int err, const int *base, int invalid, enum amode am,
			bool writes_arg)
{
	struct eset s;
	bool must_fail = false;
	char why[96];

	why[0] = '\0';
	if (t->kind == K_BAD) {
		s = es1(EBADF);
		must_fail = true;
	} else if (!kind_in_family(t->kind, fam)) {
		s = es1(ENOTTY);
		must_fail = true;
	} else if ((op == OP_RECV && t->kind == K_CHAN_W) ||
		   (op == OP_MARK && t->kind == K_CHAN_R) ||
		   (op == OP_SEND_BATCH && t->kind == K_CHAN_R) ||
		   (op == OP_RECV_BATCH && t->kind == K_CHAN_W)) {
		s = es1(EBADF);
		must_fail = true;
	} else if (!readable(am)) {
		s = es1(EFAULT);
		must_fail = true;
		snprintf(why, sizeof(why), "argument %s", amode_names[am]);
	} else if (invalid > 0) {
		s = es1(EINVAL);
		must_fail = true;
		snprintf(why, sizeof(why), "an invalid argument%s",
			 am == A_RO ? " (read-only)" : "");
	} else {
		s = es_of(base);
		/* Valid, as far as we know (-1: we cannot tell): no EINVAL. */
		if (!invalid)
			es_del(&s, EINVAL);
		if (am == A_RO && writes_arg) {
			must_fail = true;
			snprintf(why, sizeof(why), "a read-only argument");
		}
	}
	judge(op, t->kind, ret, err, &s, must_fail, why[0] ? why : NULL);
}

/* Run an ioctl with @st placed by place(); copies the result back if OK. */
static long run_ioctl(int fd, unsigned long cmd, void *st, size_t len,
		      enum amode *am, int *err)
{
	void *p = place(st, len, am);
	long ret;

	errno = 0;
	ret = ioctl(fd, cmd, p);
	*err = errno;
	if (*am == A_OK)
		memcpy(st, p, len);
	return ret;
}

/* A successful fd-returning call: the fd joins the pool. */
static struct pfd *got_fd(long ret, enum kind k)
{
	struct pfd *p;

	if (ret < 0)
		return NULL;
	p = pool_add((int)ret, k);
	if (k == K_SNAP) {
		/* Reads of a running snapshot must never block. */
		int fl = fcntl((int)ret, F_GETFL);

		if (fl < 0 || fcntl((int)ret, F_SETFL, fl | O_NONBLOCK))
			bad("fcntl O_NONBLOCK on a snapshot fd: %s", strerror(errno));
	}
	return p;
}

/* --- control ioctls ---------------------------------------------------------------------------- */

static void op_version(void)
{
	struct target t = pick(1U << K_CTL);
	struct snapchan_version v;
	enum amode am;
	long ret;
	int err;

	memset(&v, 0x5a, sizeof(v));
	ret = run_ioctl(t.fd, SNAPCHAN_IOC_VERSION, &v, sizeof(v), &am, &err);
	judge_ioctl(OP_VERSION, F_CTL, &t, ret, err, E_VERSION, false, am, true);
	if (!ret && am == A_OK && t.kind == K_CTL &&
	    (v.abi_version != SNAPCHAN_ABI_VERSION || v.reserved ||
	     v.features != (SNAPCHAN_FEAT_CHANNELS | SNAPCHAN_FEAT_MARKERS |
			    SNAPCHAN_FEAT_CAPTURE | SNAPCHAN_FEAT_SNAPSHOTS |
			    SNAPCHAN_FEAT_BATCH)))
		bad("VERSION: abi %u reserved %u features %#llx", v.abi_version,
		    v.reserved, (unsigned long long)v.features);
}

static bool create_cfg_valid(const struct snapchan_chan_create *c)
{
	unsigned long long mm, cm, cb;

	if (c->mode & ~0666U || c->first_seq > SNAPCHAN_SEQ_MAX)
		return false;
	if (!P.known)
		return true;
	mm = c->max_msg ? c->max_msg :
		(P.default_max_msg < P.max_msg_size ? P.default_max_msg : P.max_msg_size);
	/* A defaulted max_msg is clamped to the capacity (doc/decisions.md). */
	if (!c->max_msg) {
		cb = c->capacity_bytes ? c->capacity_bytes : P.max_capacity_bytes;
		if (mm > cb)
			mm = cb;
	}
	if (mm > P.max_msg_size)
		return false;
	cm = c->capacity_msgs ? c->capacity_msgs :
		(P.default_capacity_msgs < P.max_capacity_msgs ?
		 P.default_capacity_msgs : P.max_capacity_msgs);
	if (cm > P.max_capacity_msgs)
		return false;
	if (c->capacity_bytes) {
		cb = c->capacity_bytes;
	} else {
		cb = P.default_capacity_bytes < P.max_capacity_bytes ?
		     P.default_capacity_bytes : P.max_capacity_bytes;
		if (cb < mm)
			cb = mm;
	}
	return cb <= P.max_capacity_bytes && cb >= mm;
}

static void op_create(void)
{
	static const uint64_t caps[] = { 0, 0, 0, 64, 512, 4096, 65536, 1 << 20,
					 (64 << 20) + 1, 1ULL << 40, 1 };
	static const uint32_t msgs[] = { 0, 0, 0, 1, 2, 4, 16, 64, 1 << 20,
					 (1 << 20) + 1, UINT32_MAX };
	static const uint32_t maxm[] = { 0, 0, 0, 1, 16, 256, 4096, 65536,
					 1 << 20, (1 << 20) + 1, UINT32_MAX };
	static const uint64_t seqs[] = { 0, 0, 1, 1000, SNAPCHAN_SEQ_MAX - 2,
					 SNAPCHAN_SEQ_MAX, SNAPCHAN_SEQ_MAX + 1,
					 UINT64_MAX, 1ULL << 63 };
	static const uint32_t modes[] = { 0, 0, 0600, 0666, 0640, 0400, 0777,
					  04600, 01000, 0200 };
	struct target t = pick(1U << K_CTL);
	struct snapchan_chan_create c;
	int invalid;
	enum amode am;
	int idx, g, err;
	long ret;

	memset(&c, 0, sizeof(c));
	idx = gen_name(c.name, N_CHAN);
	g = chan_group(idx);
	if (g >= 0 && pct(85))
		snprintf(c.group, SNAPCHAN_NAME_LEN, "fzg%d", g);
	else if (idx >= 0 && g < 0 && pct(85))
		;	/* standalone */
	else if (pct(50))
		gen_name(c.group, N_GROUP);
	c.capacity_bytes = caps[rn(ARRAY_SIZE(caps))];
	c.capacity_msgs = msgs[rn(ARRAY_SIZE(msgs))];
	c.max_msg = maxm[rn(ARRAY_SIZE(maxm))];
	c.first_seq = seqs[rn(ARRAY_SIZE(seqs))];
	c.mode = modes[rn(ARRAY_SIZE(modes))];
	c.flags = gen_flags32(SNAPCHAN_CHAN_F_ALL | SNAPCHAN_TOPO_F_ABORT);
	c.chan_id = rnd();		/* out field: ignored on input */
	gen_reserved_arr(c.reserved, 4);

	invalid = !name_ok(c.name, false) || !strcmp(c.name, "control") ||
		  !name_ok(c.group, true) ||
		  (c.flags & ~(SNAPCHAN_CHAN_F_ALL | SNAPCHAN_TOPO_F_ABORT)) ||
		  !all_zero(c.reserved, 4) || !create_cfg_valid(&c);
	if (!invalid && !P.known)
		invalid = -1;
	ret = run_ioctl(t.fd, SNAPCHAN_IOC_CHAN_CREATE, &c, sizeof(c), &am, &err);
	judge_ioctl(OP_CREATE, F_CTL, &t, ret, err, E_CREATE, invalid, am, true);
	if (ret && err == EINVAL && !invalid && readable(am) && t.kind == K_CTL)
		bad("  (it was: %.32s group %.32s cap %llu/%u max_msg %u mode %#o flags %#x first_seq %llu)",
		    c.name, c.group, (unsigned long long)c.capacity_bytes,
		    c.capacity_msgs, c.max_msg, c.mode, c.flags,
		    (unsigned long long)c.first_seq);
	if (!ret && am == A_OK && t.kind == K_CTL && !c.chan_id)
		bad("CHAN_CREATE: chan_id 0");
}

static void op_destroy(void)
{
	struct target t = pick(1U << K_CTL);
	struct snapchan_chan_destroy d;
	bool invalid;
	enum amode am;
	long ret;
	int err;

	memset(&d, 0, sizeof(d));
	gen_name(d.name, N_CHAN);
	d.flags = gen_flags32(SNAPCHAN_TOPO_F_ABORT);
	/* Mostly abort: waiting for snapshots makes the run slow. */
	if (pct(60))
		d.flags |= SNAPCHAN_TOPO_F_ABORT;
	d.reserved = (uint32_t)gen_reserved();
	invalid = !name_ok(d.name, false) || d.reserved ||
		  (d.flags & ~SNAPCHAN_TOPO_F_ABORT);
	ret = run_ioctl(t.fd, SNAPCHAN_IOC_CHAN_DESTROY, &d, sizeof(d), &am, &err);
	judge_ioctl(OP_DESTROY, F_CTL, &t, ret, err, E_DESTROY, invalid, am, false);
}

static void op_info(void)
{
	struct target t = pick(1U << K_CTL);
	struct snapchan_chan_info in;
	char name[SNAPCHAN_NAME_LEN];
	bool invalid;
	enum amode am;
	long ret;
	int err;

	memset(&in, 0, sizeof(in));
	gen_name(in.name, N_CHAN);
	memcpy(name, in.name, sizeof(name));
	/* Out fields are ignored on input; reserved ones must be zero. */
	in.chan_id = rnd();
	in.depth_msgs = rnd();
	gen_reserved_arr(in.reserved, 4);
	in.reserved0 = pct(97) ? 0 : 1U << rn(32);
	invalid = !name_ok(in.name, false) || !all_zero(in.reserved, 4) ||
		  in.reserved0;
	ret = run_ioctl(t.fd, SNAPCHAN_IOC_CHAN_INFO, &in, sizeof(in), &am, &err);
	judge_ioctl(OP_INFO, F_CTL, &t, ret, err, E_INFO, invalid, am, true);
	if (ret || am != A_OK || t.kind != K_CTL)
		return;
	if (strncmp(in.name, name, SNAPCHAN_NAME_LEN) || !in.chan_id ||
	    in.reserved0 || !all_zero(in.reserved, 4) ||
	    !name_ok(in.group, true))
		bad("CHAN_INFO %.32s: name/group/id/reserved wrong", name);
	if (in.next_seq - in.first_seq != in.total_sent ||
	    in.total_sent - in.total_received != in.depth_msgs ||
	    in.depth_msgs > in.capacity_msgs ||
	    in.depth_bytes > in.capacity_bytes ||
	    in.max_msg > in.capacity_bytes || (in.mode & ~0666U) ||
	    (in.flags & ~SNAPCHAN_CHAN_F_ALL))
		bad("CHAN_INFO %.32s: counters inconsistent: first %llu next %llu sent %llu recv %llu depth %llu/%u bytes %llu/%llu",
		    name, (unsigned long long)in.first_seq,
		    (unsigned long long)in.next_seq,
		    (unsigned long long)in.total_sent,
		    (unsigned long long)in.total_received,
		    (unsigned long long)in.depth_msgs, in.capacity_msgs,
		    (unsigned long long)in.depth_bytes,
		    (unsigned long long)in.capacity_bytes);
}

static void op_list(void)
{
	struct target t = pick(1U << K_CTL);
	struct snapchan_chan_list l;
	static const uint32_t maxes[] = { 0, 1, 4, 16, 64, 4096, UINT32_MAX };
	uint32_t i, n;
	bool invalid, names_ok;
	enum amode am;
	long ret;
	int err;

	memset(&l, 0, sizeof(l));
	l.max_entries = maxes[rn(ARRAY_SIZE(maxes))];
	/* The names array: room for min(max, 64) names in the data area. */
	l.names = buf_ptr(64 * SNAPCHAN_NAME_LEN, &names_ok);
	if (pct(3))
		l.names = 0;
	l.flags = pct(96) ? 0 : 1U << rn(32);
	l.reserved = (uint32_t)gen_reserved();
	l.count = (uint32_t)rnd();
	invalid = l.flags || l.reserved;
	memset(data, 0xee, 64 * SNAPCHAN_NAME_LEN);
	ret = run_ioctl(t.fd, SNAPCHAN_IOC_CHAN_LIST, &l, sizeof(l), &am, &err);
	/*
	 * Names go to a bad buffer (or past 64 entries, into the guard page)
	 * only when the kernel has names to write: EFAULT is then allowed.
	 */
	judge_ioctl(OP_LIST, F_CTL, &t, ret, err, E_LIST, invalid, am, true);
	if (ret || am != A_OK || t.kind != K_CTL)
		return;
	if (l.count > 4096)
		bad("CHAN_LIST: count %u", l.count);
	n = l.count < l.max_entries ? l.count : l.max_entries;
	if (names_ok && l.names >= (uintptr_t)data &&
	    l.names < (uintptr_t)data + DATA_LEN && n <= 64)
		for (i = 0; i < n; i++)
			if (!name_ok((char *)(uintptr_t)l.names + i * SNAPCHAN_NAME_LEN,
				     false))
				bad("CHAN_LIST: name %u invalid", i);
}

static void op_join(void)
{
	struct target t = pick(1U << K_CTL);
	struct snapchan_node_join j;
	struct pfd *p;
	bool invalid;
	enum amode am;
	int g, err;
	long ret;

	memset(&j, 0, sizeof(j));
	g = gen_name(j.group, N_GROUP);
	gen_name(j.name, N_NODE);
	j.flags = gen_flags32(SNAPCHAN_TOPO_F_ABORT);
	if (pct(60))
		j.flags |= SNAPCHAN_TOPO_F_ABORT;
	j.fd = (int)rnd();
	j.node_id = rnd();
	gen_reserved_arr(j.reserved, 2);
	invalid = !name_ok(j.group, false) || !name_ok(j.name, false) ||
		  (j.flags & ~SNAPCHAN_TOPO_F_ABORT) || !all_zero(j.reserved, 2);
	ret = run_ioctl(t.fd, SNAPCHAN_IOC_NODE_JOIN, &j, sizeof(j), &am, &err);
	judge_ioctl(OP_JOIN, F_CTL, &t, ret, err, E_JOIN, invalid, am, true);
	p = got_fd(ret, K_NODE);
	if (!p)
		return;
	p->group = g;
	if (am == A_OK && (j.fd != ret || !j.node_id))
		bad("NODE_JOIN: returned %ld, fd field %d, node_id %llu", ret,
		    j.fd, (unsigned long long)j.node_id);
}

static uint64_t gen_timeout(bool *huge)
{
	unsigned int r = rn(100);

	*huge = false;
	if (r < 55)
		return P.short_timeout ? 0 : FUZZ_TIMEOUT_MS * 1000000ULL;
	if (r < 93)
		return 1 + rn(FUZZ_TIMEOUT_MS * 1000000U);
	if (r < 99 || is_child)
		return 1;
	*huge = true;
	return pct(50) ? UINT64_MAX : 1ULL << (40 + rn(24));
}

static uint64_t gen_budget(void)
{
	unsigned int r = rn(100);

	if (r < 70)
		return 0;
	if (r < 90)
		return 1 + rn(4096);
	return pct(50) ? UINT64_MAX : 1ULL << rn(64);
}

static void remember_snap(int g, uint64_t id)
{
	if (g >= 0 && g < NR_GROUPS && id)
		atomic_store(&sh->recent[g][rn(8)], id);
}

static uint64_t gen_snap_id(int g)
{
	unsigned int r = rn(100);

	if (r < 60 && g >= 0 && g < NR_GROUPS)
		return atomic_load(&sh->recent[g][rn(8)]);
	if (r < 90)
		return 1 + rn(200);
	return pct(50) ? rnd() : 0;
}

static void snap_abort_now(int fd)
{
	/* A huge deadline: abort at once, so nothing waits on it. */
	if (ioctl(fd, SNAPCHAN_IOC_SNAP_ABORT, 0) && errno != EALREADY)
		bad("SNAP_ABORT after a huge deadline: %s", strerror(errno));
	count(OP_SNAP_ABORT, 0, 0);
}

static void op_begin(void)
{
	struct target t = pick(1U << K_CTL);
	struct snapchan_snap_begin b;
	struct pfd *p;
	bool invalid, huge;
	enum amode am;
	int g, err;
	long ret;

	memset(&b, 0, sizeof(b));
	g = gen_name(b.group, N_GROUP);
	b.timeout_ns = gen_timeout(&huge);
	b.budget_bytes = gen_budget();
	b.flags = pct(95) ? 0 : 1U << rn(32);
	b.fd = (int)rnd();
	b.snap_id = rnd();
	gen_reserved_arr(b.reserved, 2);
	invalid = !name_ok(b.group, false) || b.flags || !all_zero(b.reserved, 2);
	ret = run_ioctl(t.fd, SNAPCHAN_IOC_SNAP_BEGIN, &b, sizeof(b), &am, &err);
	judge_ioctl(OP_BEGIN, F_CTL, &t, ret, err, E_BEGIN, invalid, am, true);
	p = got_fd(ret, K_SNAP);
	if (!p)
		return;
	if (am == A_OK) {
		if (b.fd != ret || !b.snap_id)
			bad("SNAP_BEGIN: returned %ld, fd field %d, id %llu",
			    ret, b.fd, (unsigned long long)b.snap_id);
		remember_snap(g, b.snap_id);
	}
	if (huge)
		snap_abort_now(p->fd);
}

static void op_snap_open(void)
{
	struct target t = pick(1U << K_CTL);
	struct snapchan_snap_open o;
	bool invalid;
	enum amode am;
	int g, err;
	long ret;

	memset(&o, 0, sizeof(o));
	g = gen_name(o.group, N_GROUP);
	o.snap_id = gen_snap_id(g);
	o.flags = pct(95) ? 0 : 1U << rn(32);
	o.fd = (int)rnd();
	gen_reserved_arr(o.reserved, 2);
	invalid = !name_ok(o.group, false) || o.flags || !o.snap_id ||
		  !all_zero(o.reserved, 2);
	ret = run_ioctl(t.fd, SNAPCHAN_IOC_SNAP_OPEN, &o, sizeof(o), &am, &err);
	judge_ioctl(OP_OPEN, F_CTL, &t, ret, err, E_OPEN, invalid, am, true);
	if (got_fd(ret, K_SNAP) && am == A_OK && o.fd != ret)
		bad("SNAP_OPEN: returned %ld, fd field %d", ret, o.fd);
}

/* --- file operations ----------------------------------------------------------------------------- */

static void allowed_read(enum kind k, struct eset *s)
{
	switch (k) {
	case K_CHAN_R:
		*s = es_of(E_CHAN_READ);
		break;
	case K_SNAP:
		*s = es_of(E_SNAP_READ);
		break;
	case K_CAP:
		*s = es1(EFAULT);
		break;
	case K_PIPE_R:
		*s = es_of(E_PIPE_READ);
		break;
	case K_BAD:
		*s = es1(EBADF);
		break;
	default:
		*s = es_of(E_NOT_READABLE);
		break;
	}
}

static void allowed_write(enum kind k, struct eset *s)
{
	switch (k) {
	case K_CHAN_W:
		*s = es_of(E_CHAN_WRITE);
		break;
	case K_PIPE_W:
		*s = es_of(E_PIPE_WRITE);
		break;
	case K_BAD:
		*s = es1(EBADF);
		break;
	default:
		*s = es_of(E_NOT_READABLE);
		break;
	}
}

static unsigned int read_mask(void)
{
	unsigned int r = rn(100);

	if (r < 65)
		return 1U << K_CHAN_R;
	if (r < 78)
		return 1U << K_SNAP;
	if (r < 90)
		return 1U << K_CAP;
	return ~0U;
}

static void op_read(void)
{
	struct target t = pick(read_mask());
	uint64_t len = pick_len(DATA_LEN);
	struct eset s;
	bool ok;
	uint64_t buf = buf_ptr(len, &ok);
	long ret;
	int err;

	if (buf == (uintptr_t)ro_buf)
		ok = false;	/* nothing may be written there */
	if (t.p)
		t.p->started = true;
	errno = 0;
	ret = read(t.fd, (void *)(uintptr_t)buf, len);
	err = errno;
	allowed_read(t.kind, &s);
	/*
	 * A bad buffer fails unless nothing is to be copied (a zero-length
	 * record, the end of an image, a FIFO's end of file): 0 is fine.
	 */
	judge(OP_READ, t.kind, ret, err, &s, false, NULL);
	if (ret > 0 && (uint64_t)ret > len)
		bad("read on %s: returned %ld for %llu bytes", kind_names[t.kind],
		    ret, (unsigned long long)len);
	if (ret > 0 && !ok && t.kind != K_PIPE_R)
		bad("read on %s into a bad buffer returned %ld",
		    kind_names[t.kind], ret);
}

static void gen_iov(struct iovec *iov, int n, bool for_read)
{
	int i;

	for (i = 0; i < n; i++) {
		uint64_t len = pct(80) ? rn(512) : pick_len(DATA_LEN);
		bool ok;
		uint64_t p = buf_ptr(len, &ok);

		if (for_read && p == (uintptr_t)ro_buf)
			p = (uintptr_t)data;
		iov[i].iov_base = (void *)(uintptr_t)p;
		iov[i].iov_len = len;
	}
}

static void op_readv(void)
{
	struct target t = pick(read_mask());
	struct iovec iov[8];
	int n = rn(9), cnt = n;
	struct eset s;
	long ret;
	int err;

	gen_iov(iov, n, true);
	if (pct(3))
		cnt = pct(50) ? -1 : 1025;	/* EINVAL */
	if (t.p)
		t.p->started = true;
	errno = 0;
	ret = readv(t.fd, iov, cnt);
	err = errno;
	allowed_read(t.kind, &s);
	es_add(&s, EINVAL);
	es_add(&s, EFAULT);	/* the iovecs are checked before the fd mode */
	judge(OP_READV, t.kind, ret, err, &s, cnt < 0 || cnt > 1024, NULL);
}

/* Fill the data area's head with a message that says who wrote it. */
static void op_write(void)
{
	unsigned int r = rn(100);
	struct target t = pick(r < 92 ? 1U << K_CHAN_W : r < 96 ? 1U << K_PIPE_W : ~0U);
	uint64_t len = pick_len(4096);
	struct eset s;
	bool ok;
	uint64_t buf = buf_ptr(len, &ok);
	long ret;
	int err;

	errno = 0;
	ret = write(t.fd, (void *)(uintptr_t)buf, len);
	err = errno;
	allowed_write(t.kind, &s);
	judge(OP_WRITE, t.kind, ret, err, &s, false, NULL);
	if (ret >= 0 && t.kind == K_CHAN_W && (uint64_t)ret != len)
		bad("write on a channel: %ld of %llu bytes", ret,
		    (unsigned long long)len);
	if (ret > 0 && t.kind == K_CHAN_W && !ok)
		bad("write on a channel from a bad pointer %#llx returned %ld",
		    (unsigned long long)buf, ret);
}

static void op_writev(void)
{
	struct target t = pick(pct(92) ? 1U << K_CHAN_W : ~0U);
	struct iovec iov[8];
	int n = rn(9), cnt = n;
	uint64_t total = 0;
	struct eset s;
	long ret;
	int i, err;

	gen_iov(iov, n, false);
	for (i = 0; i < n; i++)
		total += iov[i].iov_len;
	if (pct(3))
		cnt = pct(50) ? -1 : 1025;
	errno = 0;
	ret = writev(t.fd, iov, cnt);
	err = errno;
	allowed_write(t.kind, &s);
	es_add(&s, EINVAL);
	es_add(&s, EFAULT);	/* the iovecs are checked before the fd mode */
	judge(OP_WRITEV, t.kind, ret, err, &s, cnt < 0 || cnt > 1024, NULL);
	if (ret >= 0 && t.kind == K_CHAN_W && cnt == n && (uint64_t)ret != total)
		bad("writev on a channel: %ld of %llu bytes", ret,
		    (unsigned long long)total);
}

static short poll_allowed(enum kind k)
{
	switch (k) {
	case K_CTL:
	case K_CAP:
		return POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM;
	case K_CHAN_R:
		return POLLIN | POLLRDNORM | POLLPRI | POLLHUP;
	case K_CHAN_W:
		return POLLOUT | POLLWRNORM | POLLHUP;
	case K_NODE:
		return POLLPRI;
	case K_SNAP:
		return POLLIN | POLLRDNORM | POLLERR;
	case K_BAD:
		return POLLNVAL;
	default:
		return ~0;
	}
}

static void op_poll(void)
{
	static const short evs[] = { POLLIN, POLLOUT, POLLPRI, POLLIN | POLLPRI,
				     POLLIN | POLLOUT | POLLPRI | POLLRDNORM | POLLWRNORM,
				     0, (short)0xffff };
	struct pollfd pfd[5];
	enum kind kinds[5];
	int n = 1 + rn(5), i, ret, err;
	struct eset s;

	for (i = 0; i < n; i++) {
		struct target t = pick(pct(50) ? (1U << K_CHAN_R) | (1U << K_CHAN_W) :
				       pct(50) ? (1U << K_NODE) | (1U << K_SNAP) : ~0U);

		pfd[i].fd = t.fd;
		pfd[i].events = evs[rn(ARRAY_SIZE(evs))];
		pfd[i].revents = 0;
		kinds[i] = t.kind;
		if (t.fd < 0)
			kinds[i] = NR_KINDS;	/* ignored by poll */
	}
	errno = 0;
	ret = poll(pfd, n, 0);
	err = errno;
	memset(&s, 0, sizeof(s));	/* no error expected */
	judge(OP_POLL, kinds[0] < NR_KINDS ? kinds[0] : K_BAD, ret, err, &s,
	      false, NULL);
	if (ret < 0)
		return;
	for (i = 0; i < n; i++) {
		if (kinds[i] == NR_KINDS) {
			if (pfd[i].revents)
				bad("poll: negative fd got revents %#x",
				    pfd[i].revents);
			continue;
		}
		if (pfd[i].revents & ~poll_allowed(kinds[i]))
			bad("poll on %s: revents %#x (events %#x)",
			    kind_names[kinds[i]], (unsigned short)pfd[i].revents,
			    (unsigned short)pfd[i].events);
	}
}

static void op_recv(void)
{
	struct target t = pick(pct(92) ? 1U << K_CHAN_R : ~0U);
	struct snapchan_recv r;
	bool invalid, buf_ok;
	enum amode am;
	long ret;
	int err;

	memset(&r, 0, sizeof(r));
	r.buf_len = (uint32_t)pick_len(DATA_LEN);
	if (pct(3))
		r.buf_len = UINT32_MAX;
	r.buf = buf_ptr(r.buf_len, &buf_ok);
	if (pct(5))
		r.buf = 0;
	r.flags = gen_flags32(SNAPCHAN_RECV_F_ALL);
	r.type = (uint32_t)rnd();
	r.seq = rnd();
	r.reserved[0] = gen_reserved();
	r.reserved[1] = pct(98) ? 0 : 1;
	invalid = (r.flags & ~SNAPCHAN_RECV_F_ALL) || r.reserved[0] ||
		  r.reserved[1];
	ret = run_ioctl(t.fd, SNAPCHAN_IOC_RECV, &r, sizeof(r), &am, &err);
	judge_ioctl(OP_RECV, F_CHAN, &t, ret, err, E_RECV, invalid, am, true);
	if (am != A_OK || t.kind != K_CHAN_R)
		return;
	if (!ret || (ret < 0 && err == EMSGSIZE)) {
		if (ret && r.len <= r.buf_len)
			bad("RECV: EMSGSIZE with len %u <= buf_len %u", r.len,
			    r.buf_len);
		if (r.type == SNAPCHAN_REC_DATA ?
		    (r.snap_id || r.origin) :
		    r.type == SNAPCHAN_REC_MARKER ?
		    (r.len || r.seq || !r.snap_id) : true)
			bad("RECV: type %u len %u seq %llu snap_id %llu origin %llu",
			    r.type, r.len, (unsigned long long)r.seq,
			    (unsigned long long)r.snap_id,
			    (unsigned long long)r.origin);
	}
}

static void op_mark(void)
{
	struct target t = pick(pct(92) ? 1U << K_CHAN_W : ~0U);
	struct snapchan_mark m;
	enum amode am;
	long ret;
	int err;

	m.snap_id = pct(95) ? 1 + rn(1000) : (pct(50) ? 0 : rnd());
	m.reserved = gen_reserved();
	ret = run_ioctl(t.fd, SNAPCHAN_IOC_MARK, &m, sizeof(m), &am, &err);
	judge_ioctl(OP_MARK, F_CHAN, &t, ret, err, E_MARK,
		    !m.snap_id || m.reserved, am, false);
}

static void op_capture(void)
{
	struct target t = pick(pct(92) ? (1U << K_CHAN_R) | (1U << K_CHAN_W) : ~0U);
	struct snapchan_capture c;
	uint64_t base, ndata;
	struct pfd *p;
	enum amode am;
	long ret;
	int err;

	memset(&c, 0, sizeof(c));
	c.flags = pct(95) ? 0 : 1U << rn(32);
	c.fd = (int)rnd();
	c.count = rnd();
	gen_reserved_arr(c.reserved, 2);
	ret = run_ioctl(t.fd, SNAPCHAN_IOC_CAPTURE, &c, sizeof(c), &am, &err);
	judge_ioctl(OP_CAPTURE, F_CHAN, &t, ret, err, E_CAPTURE,
		    c.flags || !all_zero(c.reserved, 2), am, true);
	p = got_fd(ret, K_CAP);
	if (!p)
		return;
	if (am != A_OK) {
		p->started = true;	/* length unknown */
		return;
	}
	p->stream_len = c.stream_len;
	base = sizeof(struct snapchan_img_header) +
	       sizeof(struct snapchan_img_chan) +
	       sizeof(struct snapchan_img_trailer) +
	       c.count * sizeof(struct snapchan_img_record) + c.bytes;
	ndata = c.count - c.markers;
	if (c.fd != ret || c.markers > c.count || c.stream_len < base ||
	    c.stream_len > base + 7 * c.count ||
	    (!ndata && (c.first_seq || c.last_seq || c.bytes)) ||
	    (ndata && c.first_seq && c.first_seq <= c.last_seq &&
	     c.last_seq - c.first_seq + 1 != ndata) ||
	    c.reserved[0] || c.reserved[1])
		bad("CAPTURE: fd %d/%ld count %llu markers %llu seq %llu..%llu len %llu",
		    c.fd, ret, (unsigned long long)c.count,
		    (unsigned long long)c.markers,
		    (unsigned long long)c.first_seq,
		    (unsigned long long)c.last_seq,
		    (unsigned long long)c.stream_len);
}

/* --- batch calls ------------------------------------------------------------------------------------ */

static size_t pad8(uint64_t len);
static void check_image(const char *what, const char *buf, size_t len,
			unsigned int kind);
static long read_all(int fd, size_t want);

/*
 * Can the kernel read (@write: write) every byte of [@p, @p + @len)?  The
 * memory of ours that is mapped, and how; zero bytes are always fine (a
 * copy of nothing succeeds, whatever the pointer).
 */
static bool mem_ok(uint64_t p, uint64_t len, bool write)
{
	const struct {
		const char *start;
		size_t len;
		bool w;
	} reg[] = {
		{ data, DATA_LEN, true }, { ro_arg, 2 * PG, false },
		{ argbuf, PG, true }, { barr, BARR_LEN, true },
		{ bpre, PG, true }, { bro, PG, false },
	};
	uint64_t end = p + len;
	unsigned int i;

	if (!len)
		return true;
	if (end < p)
		return false;
	while (p < end) {
		for (i = 0; i < ARRAY_SIZE(reg); i++) {
			uint64_t s = (uintptr_t)reg[i].start;

			if (p >= s && p < s + reg[i].len)
				break;
		}
		if (i == ARRAY_SIZE(reg) || (write && !reg[i].w))
			return false;
		p = (uintptr_t)reg[i].start + reg[i].len;
	}
	return true;
}

/* A batch count: 0, 1, a few, more, SNAPCHAN_BATCH_MAX, MAX + 1, huge. */
static uint32_t gen_nr(void)
{
	unsigned int r = rn(100);

	if (r < 4)
		return 0;
	if (r < 24)
		return 1;
	if (r < 78)
		return 2 + rn(7);
	if (r < 90)
		return 9 + rn(56);
	if (r < 95)
		return SNAPCHAN_BATCH_MAX;
	if (r < 98)
		return SNAPCHAN_BATCH_MAX + 1;
	return pct(50) ? UINT32_MAX : 1U << (11 + rn(21));
}

static bool batch_invalid(const struct snapchan_batch *b)
{
	return (b->flags & ~SNAPCHAN_BATCH_F_ALL) || b->reserved || !b->nr ||
	       b->nr > SNAPCHAN_BATCH_MAX;
}

/* Where an entry array went. */
struct bplace {
	char *at;		/* NULL: a wild pointer */
	uint32_t rd, wr;	/* entries [0, rd) readable, [0, wr) writable */
	const char *how;
};

/* Write into the read-only page @page. */
static void copy_ro(char *page, char *dst, const void *src, size_t len)
{
	mprotect(page, PG, PROT_READ | PROT_WRITE);
	memcpy(dst, src, len);
	mprotect(page, PG, PROT_READ);
}

/*
 * Place @n entries of @esz bytes from @src: whole (in barr), running into
 * a PROT_NONE page after k entries (entry k cut anywhere), running from a
 * writable page into a read-only one after k entries, in the read-only
 * page, or wild.  Returns the pointer for the call.
 */
static uint64_t place_entries(const void *src, size_t esz, uint32_t n,
			      struct bplace *bp)
{
	static const int wild[] = { A_NULL, A_ONE, A_KERNEL, A_NONCANON,
				    A_UNMAPPED, A_MINUS1 };
	size_t len = esz * n, per = PG / esz, k, m, part;
	unsigned int r = rn(100);
	const char *s = src;

	memset(bp, 0, sizeof(*bp));
	if (r < 72 && len <= BARR_LEN) {
		bp->at = barr + (pct(50) ? BARR_LEN - len :
				 (rn(BARR_LEN - len + 1) & ~7UL));
		memcpy(bp->at, src, len);
		bp->rd = bp->wr = n;
		bp->how = "whole";
	} else if (r < 84 && n && len <= BARR_LEN) {
		k = rn(n);
		part = rn(esz);
		bp->at = bnone - k * esz - part;
		memcpy(bp->at, src, k * esz + part);
		bp->rd = bp->wr = k;
		bp->how = "into PROT_NONE";
	} else if (r < 90 && n) {
		k = rn((n < per ? n : per) + 1);
		m = n - k < per ? n - k : per;
		bp->at = bro - k * esz;
		memcpy(bp->at, src, k * esz);
		copy_ro(bro, bro, s + k * esz, m * esz);
		bp->rd = k + m;
		bp->wr = k;
		bp->how = "into read-only";
	} else if (r < 95) {
		m = n < per ? n : per;
		copy_ro(bro, bro, src, m * esz);
		bp->at = bro;
		bp->rd = m;
		bp->how = "read-only";
	} else {
		bp->how = "wild";
		return (uintptr_t)wild_ptr(wild[rn(ARRAY_SIZE(wild))]);
	}
	return (uintptr_t)bp->at;
}

static struct snapchan_send_msg smsg[SNAPCHAN_BATCH_MAX];
static struct snapchan_recv rent[SNAPCHAN_BATCH_MAX];
static struct snapchan_recv rgot[SNAPCHAN_BATCH_MAX];

/*
 * What SEND_BATCH says when it reaches entry @m: 0 (it may go in), or
 * EINVAL, EMSGSIZE, EFAULT, in the kernel's order.  @max_msg: the
 * channel's, or 0 when unknown (then only lengths above max_msg_size are
 * surely too long).
 */
static int send_entry_err(const struct snapchan_send_msg *m, uint32_t max_msg)
{
	if (m->reserved)
		return EINVAL;
	if (max_msg ? m->len > max_msg : P.known && m->len > P.max_msg_size)
		return EMSGSIZE;
	if (!mem_ok(m->buf, m->len, false))
		return EFAULT;
	return 0;
}

/* The first of @n entries (@rd readable) that cannot go in; *@err: why. */
static uint32_t send_first_bad(const struct snapchan_send_msg *m, uint32_t n,
			       uint32_t rd, uint32_t max_msg, int *err)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		*err = i < rd ? send_entry_err(&m[i], max_msg) : EFAULT;
		if (*err)
			return i;
	}
	*err = 0;
	return n;
}

static void gen_send_msg(struct snapchan_send_msg *m)
{
	unsigned int r = rn(100);
	bool ok;

	memset(m, 0, sizeof(*m));
	if (r < 60)
		m->len = rn(65);
	else if (r < 85)
		m->len = 65 + rn(4032);
	else if (r < 93)
		m->len = (uint32_t)pick_len(1 << 16);
	else
		m->len = P.known ? (uint32_t)P.max_msg_size + 1 + rn(64) :
				   UINT32_MAX;
	m->buf = buf_ptr(m->len, &ok);
	if (pct(3))
		m->buf = 0;
	m->reserved = pct(97) ? 0 : 1U << rn(32);
}

static bool recv_entry_invalid(const struct snapchan_recv *e)
{
	return e->flags || e->reserved[0] || e->reserved[1];
}

static void gen_recv_entry(struct snapchan_recv *e)
{
	unsigned int r = rn(100);
	bool ok;

	memset(e, 0, sizeof(*e));
	e->buf_len = r < 60 ? 4096 + rn(4097) : r < 80 ? rn(65) :
		     r < 95 ? (uint32_t)pick_len(DATA_LEN) : UINT32_MAX;
	e->buf = buf_ptr(e->buf_len, &ok);
	if (pct(4))
		e->buf = 0;
	e->flags = pct(96) ? 0 : pct(50) ? SNAPCHAN_RECV_PEEK : 1U << rn(32);
	e->reserved[0] = pct(98) ? 0 : 1ULL << rn(64);
	e->reserved[1] = pct(99) ? 0 : 1;
	/* Output fields: whatever was there, the kernel overwrites them. */
	e->type = (uint32_t)rnd();
	e->len = (uint32_t)rnd();
	e->seq = rnd();
	e->snap_id = rnd();
	e->origin = rnd();
}

static bool recv_inputs_same(const struct snapchan_recv *a,
			     const struct snapchan_recv *b)
{
	return a->buf == b->buf && a->buf_len == b->buf_len &&
	       a->flags == b->flags && a->reserved[0] == b->reserved[0] &&
	       a->reserved[1] == b->reserved[1];
}

/*
 * The @k entries a RECV_BATCH filled on a channel others may share:
 * inputs unchanged, outputs well-formed, DATA in rising sequence order,
 * a marker only last.
 */
static void check_filled(const struct snapchan_recv *got,
			 const struct snapchan_recv *in, uint32_t k,
			 const char *how)
{
	uint64_t prev = 0;
	uint32_t j;

	for (j = 0; j < k; j++) {
		const struct snapchan_recv *e = &got[j];
		bool ok;

		if (e->type == SNAPCHAN_REC_DATA)
			ok = e->len <= e->buf_len && !e->snap_id && !e->origin &&
			     e->seq && e->seq > prev;
		else
			ok = e->type == SNAPCHAN_REC_MARKER && !e->len &&
			     !e->seq && e->snap_id && j == k - 1;
		if (!ok || !recv_inputs_same(e, &in[j])) {
			bad("RECV_BATCH: entry %u of %u (%s)%s: type %u len %u/%u seq %llu (after %llu) snap %llu origin %llu flags %#x",
			    j, k, how, recv_inputs_same(e, &in[j]) ? "" :
			    e->buf != in[j].buf ? " buf CHANGED" : " inputs CHANGED",
			    e->type, e->len, e->buf_len,
			    (unsigned long long)e->seq,
			    (unsigned long long)prev,
			    (unsigned long long)e->snap_id,
			    (unsigned long long)e->origin, e->flags);
			return;
		}
		if (e->type == SNAPCHAN_REC_DATA)
			prev = e->seq;
	}
}

static void model_send_batch(void);
static void model_recv_batch(void);
static bool model_on(void);

static void op_send_batch(void)
{
	struct snapchan_batch b;
	struct target t;
	struct bplace bp;
	uint32_t nr, n, i, fb;
	bool must_fail;
	struct eset s;
	enum amode am;
	int err, fe;
	long ret;

	if (model_on() && pct(35)) {
		model_send_batch();
		return;
	}
	t = pick(pct(88) ? 1U << K_CHAN_W : ~0U);
	nr = gen_nr();
	n = nr < SNAPCHAN_BATCH_MAX ? nr : SNAPCHAN_BATCH_MAX;
	for (i = 0; i < n; i++)
		gen_send_msg(&smsg[i]);
	memset(&b, 0, sizeof(b));
	b.msgs = place_entries(smsg, sizeof(smsg[0]), n, &bp);
	b.nr = nr;
	b.flags = gen_flags32(SNAPCHAN_BATCH_F_ALL);
	b.reserved = gen_reserved();
	ret = run_ioctl(t.fd, SNAPCHAN_IOC_SEND_BATCH, &b, sizeof(b), &am, &err);
	if (t.kind != K_CHAN_W || !readable(am) || batch_invalid(&b)) {
		judge_ioctl(OP_SEND_BATCH, F_CHAN, &t, ret, err, E_SEND_BATCH,
			    batch_invalid(&b), am, false);
		return;
	}
	/*
	 * Exact for the first entry: if it cannot go in, nothing does, and
	 * the errno is the one it earns (a payload fault may be beaten by
	 * the channel's own max_msg or the allocation).  Otherwise at least
	 * one message or an errno of the channel's state.
	 */
	fb = send_first_bad(smsg, n, bp.rd, 0, &fe);
	if (!fb) {
		s = es1(fe);
		if (fe == EFAULT && bp.rd) {
			es_add(&s, EMSGSIZE);
			es_add(&s, ENOMEM);
		}
		must_fail = true;
	} else {
		s = es_of(E_SEND_BATCH);
		es_del(&s, EBADF);
		es_del(&s, EFAULT);
		es_del(&s, EINVAL);
		must_fail = false;
	}
	judge(OP_SEND_BATCH, t.kind, ret, err, &s, must_fail,
	      must_fail ? "its first entry bad" : NULL);
	if (ret >= 0 && fb && (ret == 0 || ret > (long)fb))
		bad("SEND_BATCH: returned %ld for %u entries (%s), entry %u cannot go in (%s)",
		    ret, nr, bp.how, fb, fb < n ? ename(fe) : "-");
}

static void op_recv_batch(void)
{
	struct snapchan_batch b;
	struct target t;
	struct bplace bp;
	uint32_t nr, n, i, fb;
	bool must_fail;
	struct eset s;
	enum amode am;
	long ret;
	int err;

	if (model_on() && pct(35)) {
		model_recv_batch();
		return;
	}
	t = pick(pct(88) ? 1U << K_CHAN_R : ~0U);
	nr = gen_nr();
	n = nr < SNAPCHAN_BATCH_MAX ? nr : SNAPCHAN_BATCH_MAX;
	for (i = 0; i < n; i++)
		gen_recv_entry(&rent[i]);
	memset(&b, 0, sizeof(b));
	b.msgs = place_entries(rent, sizeof(rent[0]), n, &bp);
	b.nr = nr;
	b.flags = gen_flags32(SNAPCHAN_BATCH_F_ALL);
	b.reserved = gen_reserved();
	ret = run_ioctl(t.fd, SNAPCHAN_IOC_RECV_BATCH, &b, sizeof(b), &am, &err);
	if (t.kind != K_CHAN_R || !readable(am) || batch_invalid(&b)) {
		judge_ioctl(OP_RECV_BATCH, F_CHAN, &t, ret, err, E_RECV_BATCH,
			    batch_invalid(&b), am, false);
		return;
	}
	/* Entries are read and checked before anything else. */
	for (fb = 0; fb < n; fb++)
		if (fb >= bp.rd || recv_entry_invalid(&rent[fb]))
			break;
	if (!fb) {
		s = es1(bp.rd ? EINVAL : EFAULT);
		must_fail = true;
	} else {
		s = es_of(E_RECV_BATCH);
		es_del(&s, EBADF);
		es_del(&s, EINVAL);
		/* A record either fits a writable buffer or is EMSGSIZE. */
		if (bp.wr && mem_ok(rent[0].buf, rent[0].buf_len, true))
			es_del(&s, EFAULT);
		must_fail = false;
	}
	judge(OP_RECV_BATCH, t.kind, ret, err, &s, must_fail,
	      must_fail ? "its first entry bad" : NULL);
	if (ret < 0 || !fb)
		return;
	if (ret == 0 || ret > (long)fb || ret > (long)bp.wr) {
		bad("RECV_BATCH: returned %ld for %u entries (%s, %u writable), entry %u bad",
		    ret, nr, bp.how, bp.wr, fb);
		return;
	}
	/* The filled entries, and nothing written past the next one. */
	memcpy(rgot, bp.at, bp.wr * sizeof(rgot[0]));
	check_filled(rgot, rent, ret, bp.how);
	for (i = ret + 1; i < bp.wr; i++)
		if (memcmp(&rgot[i], &rent[i], sizeof(rgot[i]))) {
			bad("RECV_BATCH: returned %ld, but entry %u (%s) was written",
			    ret, i, bp.how);
			break;
		}
}

/* --- the model channel ------------------------------------------------------------------------------- */

#define M_CAP_MSGS	16
#define M_CAP_BYTES	3000
#define M_MAX_MSG	512
#define M_MAX_MARKS	6
#define M_SLOT		520	/* a payload slot in the data area, per entry */
#define M_SLOTS		64
#define M_POISON	0xa5
#define M_QMAX		(M_CAP_MSGS + M_MAX_MARKS)

struct mrec {
	uint32_t type, len;
	uint64_t seq, snap_id;
};

/* This worker's model channel: what the kernel must hold, in order. */
static struct {
	bool ok;
	char name[SNAPCHAN_NAME_LEN];
	int w, r;
	bool w_nb, r_nb;		/* O_NONBLOCK on the file now */
	struct mrec q[M_QMAX];
	uint32_t n, ndata, nmarks, bytes, max_marks;
	uint64_t next_seq, sent, received;
	unsigned int salt;
} M = { .w = -1, .r = -1 };

static bool model_on(void)
{
	return M.ok && !is_child;
}

static uint8_t mpat(uint64_t seq, uint32_t i)
{
	return (uint8_t)(seq * 131 + i * 7 + (i >> 8) + M.salt);
}

static void model_setup(int w)
{
	struct snapchan_chan_create c;
	struct snapchan_chan_info in;
	int ret;

	snprintf(M.name, sizeof(M.name), "fzmodel-w%d", w);
	memset(&c, 0, sizeof(c));
	memcpy(c.name, M.name, sizeof(c.name));
	c.capacity_msgs = M_CAP_MSGS;
	c.capacity_bytes = M_CAP_BYTES;
	c.max_msg = M_MAX_MSG;
	c.first_seq = pct(20) ? SNAPCHAN_SEQ_MAX : 1 + rn(1 << 30);
	c.mode = 0600;
	ret = sc_create(ctl0, &c);
	if (ret == -EEXIST && !sc_destroy(ctl0, M.name))
		ret = sc_create(ctl0, &c);
	if (ret) {
		bad("model channel %s: CHAN_CREATE: %s", M.name, ename(-ret));
		return;
	}
	M.w = sc_open_chan(M.name, O_WRONLY);
	M.r = sc_open_chan(M.name, O_RDONLY);
	if (M.w < 0 || M.r < 0 || sc_info(ctl0, M.name, &in)) {
		bad("model channel %s: open/CHAN_INFO failed", M.name);
		return;
	}
	M.next_seq = in.next_seq;
	M.salt = (unsigned int)rnd();
	M.max_marks = P.max_markers && P.max_markers < M_MAX_MARKS ?
		      P.max_markers : M_MAX_MARKS;
	M.ok = true;
}

static void model_teardown(void)
{
	if (M.w >= 0)
		close(M.w);
	if (M.r >= 0)
		close(M.r);
	M.w = M.r = -1;
	if (M.name[0])
		sc_destroy(ctl0, M.name);
	M.ok = false;
}

/* CHAN_INFO's counters must be the model's. */
static void model_check_info(const char *after)
{
	struct snapchan_chan_info in;
	int ret = sc_info(ctl0, M.name, &in);

	if (ret) {
		bad("model %s: CHAN_INFO after %s: %s", M.name, after,
		    ename(-ret));
		M.ok = false;
		return;
	}
	if (in.depth_msgs != M.ndata || in.depth_bytes != M.bytes ||
	    in.total_sent != M.sent || in.total_received != M.received ||
	    in.next_seq != M.next_seq || in.markers_queued != M.nmarks) {
		bad("model after %s: kernel/model depth %llu/%u bytes %llu/%u sent %llu/%llu recvd %llu/%llu next %llu/%llu marks %u/%u",
		    after, (unsigned long long)in.depth_msgs, M.ndata,
		    (unsigned long long)in.depth_bytes, M.bytes,
		    (unsigned long long)in.total_sent,
		    (unsigned long long)M.sent,
		    (unsigned long long)in.total_received,
		    (unsigned long long)M.received,
		    (unsigned long long)in.next_seq,
		    (unsigned long long)M.next_seq, in.markers_queued,
		    M.nmarks);
		M.ok = false;
	}
}

static void model_nonblock(int fd, bool *cur, bool want)
{
	int fl;

	if (*cur == want)
		return;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, want ? fl | O_NONBLOCK :
						fl & ~O_NONBLOCK)) {
		bad("model: fcntl O_NONBLOCK: %s", strerror(errno));
		return;
	}
	*cur = want;
}

static void model_mark(void)
{
	struct snapchan_mark m;
	struct mrec *q;
	long ret;
	int err;

	memset(&m, 0, sizeof(m));
	m.snap_id = 1 + rn(100000);
	errno = 0;
	ret = ioctl(M.w, SNAPCHAN_IOC_MARK, &m);
	err = errno;
	count(OP_MARK, ret, err);
	if (ret) {
		bad("model MARK (%u markers queued): %s", M.nmarks, ename(err));
		M.ok = false;
		return;
	}
	q = &M.q[M.n++];
	q->type = SNAPCHAN_REC_MARKER;
	q->len = 0;
	q->seq = 0;
	q->snap_id = m.snap_id;
	M.nmarks++;
	atomic_fetch_add(&sh->m_marks, 1);
	model_check_info("MARK");
}

/* The queue through CAPTURE: every record, its number and its bytes. */
static void model_capture(void)
{
	const struct snapchan_img_header *h = (const void *)data;
	const struct snapchan_img_chan *ch;
	struct snapchan_capture c;
	unsigned int nbad = atomic_load(&sh->nbad);
	size_t off;
	uint32_t i, j;
	long fd, n;

	memset(&c, 0, sizeof(c));
	errno = 0;
	fd = ioctl(M.r, SNAPCHAN_IOC_CAPTURE, &c);
	count(OP_CAPTURE, fd, errno);
	if (fd < 0) {
		/* The global capture limits are shared with the pool's. */
		if (errno != ENOBUFS && errno != EMFILE)
			bad("model CAPTURE: %s", ename(errno));
		return;
	}
	n = read_all(fd, c.stream_len);
	close(fd);
	if (n < 0 || (uint64_t)n != c.stream_len) {
		bad("model capture: read %ld of %llu bytes", n,
		    (unsigned long long)c.stream_len);
		return;
	}
	check_image("model capture", data, n, SNAPCHAN_IMG_KIND_CAPTURE);
	if (atomic_load(&sh->nbad) != nbad)
		return;
	off = sizeof(*h);
	ch = (const void *)(data + off);
	off += sizeof(*ch);
	if (c.count != M.n || c.markers != M.nmarks ||
	    ch->record_count != M.n) {
		bad("model capture: %llu records (%llu markers), the model has %u (%u)",
		    (unsigned long long)c.count,
		    (unsigned long long)c.markers, M.n, M.nmarks);
		M.ok = false;
		return;
	}
	for (i = 0; i < M.n; i++) {
		const struct snapchan_img_record *r = (const void *)(data + off);
		const struct mrec *q = &M.q[i];

		off += sizeof(*r);
		for (j = 0; j < r->len && j < q->len; j++)
			if ((uint8_t)data[off + j] != mpat(q->seq, j))
				break;
		if (r->type != q->type || r->len != q->len || r->seq != q->seq ||
		    r->snap_id != q->snap_id || r->origin || j < q->len) {
			bad("model capture: record %u: type %u seq %llu len %u snap %llu (byte %u), the model has type %u seq %llu len %u snap %llu",
			    i, r->type, (unsigned long long)r->seq, r->len,
			    (unsigned long long)r->snap_id, j, q->type,
			    (unsigned long long)q->seq, q->len,
			    (unsigned long long)q->snap_id);
			M.ok = false;
			return;
		}
		off += r->len + pad8(r->len);
	}
	atomic_fetch_add(&sh->m_captures, 1);
}

/*
 * SEND_BATCH on the model channel: entries mostly valid, some too long,
 * reserved-dirty or with an unreadable payload, in any placement; the
 * count is exactly how many valid entries fit before the first bad one,
 * and those are the messages that must now be queued.
 */
static void model_send_batch(void)
{
	static const int wild[] = { A_NULL, A_ONE, A_KERNEL, A_NONCANON,
				    A_UNMAPPED, A_MINUS1 };
	struct snapchan_batch b;
	struct bplace bp;
	uint32_t nr, n, i, j, fb, fit, depth, bytes;
	bool nb, blocking, ro_used = false;
	long ret, want, got;
	enum amode am;
	int fe, err;

	if (pct(8) && M.nmarks < M.max_marks) {
		model_mark();
		return;
	}
	if (pct(5)) {
		model_capture();
		return;
	}
	nr = pct(70) ? 1 + rn(20) : gen_nr();
	n = nr < SNAPCHAN_BATCH_MAX ? nr : SNAPCHAN_BATCH_MAX;
	for (i = 0; i < n; i++) {
		struct snapchan_send_msg *m = &smsg[i];
		char *slot = data + (i % M_SLOTS) * M_SLOT;
		unsigned int r = rn(100);

		memset(m, 0, sizeof(*m));
		m->len = r < 55 ? rn(33) : r < 85 ? rn(M_MAX_MSG + 1) : M_MAX_MSG;
		m->buf = (uintptr_t)slot;
		/* Entry i's message, if it goes in, gets next_seq + i. */
		if (i < M_SLOTS)
			for (j = 0; j < m->len; j++)
				slot[j] = mpat(M.next_seq + i, j);
		r = rn(100);
		if (r < 4) {
			m->len = pct(80) ? M_MAX_MSG + 1 + rn(64) : UINT32_MAX;
		} else if (r < 7) {
			m->reserved = 1U << rn(32);
		} else if (r < 11) {
			/* Unreadable payload: cut by the guard page, or wild. */
			if (!m->len)
				m->len = 1 + rn(M_MAX_MSG);
			m->buf = pct(50) ? (uintptr_t)(guard - rn(m->len)) :
				 (uintptr_t)wild_ptr(wild[rn(ARRAY_SIZE(wild))]);
		} else if (r < 14) {
			/* Nothing to read: any pointer will do. */
			m->len = 0;
			m->buf = (uintptr_t)wild_ptr(wild[rn(ARRAY_SIZE(wild))]);
		} else if (r < 16 && !ro_used && i < M_SLOTS) {
			/* A read-only payload is fine. */
			copy_ro(ro_buf, ro_buf, slot, m->len);
			ro_used = true;
			m->buf = (uintptr_t)ro_buf;
		}
	}
	memset(&b, 0, sizeof(b));
	b.msgs = place_entries(smsg, sizeof(smsg[0]), n, &bp);
	b.nr = nr;

	fb = send_first_bad(smsg, n, bp.rd, M_MAX_MSG, &fe);
	depth = M.ndata;
	bytes = M.bytes;
	for (fit = 0; fit < fb; fit++) {
		if (depth + 1 > M_CAP_MSGS || bytes + smsg[fit].len > M_CAP_BYTES)
			break;
		depth++;
		bytes += smsg[fit].len;
	}
	/* It may block only where it would not have to wait. */
	model_nonblock(M.w, &M.w_nb, pct(30));
	nb = pct(70);
	if (!M.w_nb && !nb && fit < fb)
		nb = true;
	blocking = !M.w_nb && !nb;
	b.flags = nb ? SNAPCHAN_BATCH_NONBLOCK : 0;
	if (pct(3))
		b.flags |= 1U << (1 + rn(31));
	b.reserved = pct(97) ? 0 : 1ULL << rn(64);

	ret = run_ioctl(M.w, SNAPCHAN_IOC_SEND_BATCH, &b, sizeof(b), &am, &err);
	count(OP_SEND_BATCH, ret, err);
	atomic_fetch_add(&sh->m_send, 1);
	if (blocking)
		atomic_fetch_add(&sh->m_blocking, 1);
	if (!readable(am))
		want = -EFAULT;
	else if (batch_invalid(&b))
		want = -EINVAL;
	else if (fit)
		want = fit;
	else
		want = fb ? -EAGAIN : -fe;
	got = ret < 0 ? -err : ret;
	if (got != want) {
		bad("model SEND_BATCH nr %u (entries %s, arg %s, %s): got %ld %s, expected %ld %s (entry %u bad, %u fit, depth %u)",
		    nr, bp.how, amode_names[am],
		    blocking ? "blocking" : "nonblocking", got,
		    got < 0 ? ename(-got) : "", want,
		    want < 0 ? ename(-want) : "", fb, fit, M.ndata);
		M.ok = false;
		return;
	}
	for (i = 0; i < (uint32_t)(want > 0 ? want : 0); i++) {
		struct mrec *q = &M.q[M.n++];

		q->type = SNAPCHAN_REC_DATA;
		q->len = smsg[i].len;
		q->seq = M.next_seq++;
		q->snap_id = 0;
		M.ndata++;
		M.bytes += q->len;
		M.sent++;
	}
	if (want > 0) {
		atomic_fetch_add(&sh->m_sent, want);
		if ((uint32_t)want < nr)
			atomic_fetch_add(&sh->m_send_part, 1);
	}
	model_check_info("SEND_BATCH");
}

/*
 * RECV_BATCH on the model channel: the entries must be filled from the
 * head exactly until the first thing that stops the batch (a bad or
 * unreadable entry, one whose buffer is too short or unwritable, an entry
 * the kernel cannot write back, a marker, the end of the queue), with
 * nothing written in the entries and buffers after it, and exactly those
 * records gone.
 */
static void model_recv_batch(void)
{
	static const int wild[] = { A_NULL, A_ONE, A_KERNEL, A_NONCANON,
				    A_UNMAPPED, A_MINUS1 };
	uint32_t nr, n, i, j, k = 0, dirty = UINT32_MAX, dirty_len = 0;
	bool nb, blocking, emsg0 = false;
	struct snapchan_batch b;
	long ret, want, got;
	struct bplace bp;
	enum amode am;
	int err, why = 0;

	nr = pct(75) ? 1 + rn(24) : gen_nr();
	n = nr < SNAPCHAN_BATCH_MAX ? nr : SNAPCHAN_BATCH_MAX;
	memset(data, M_POISON, M_SLOTS * M_SLOT);
	for (i = 0; i < n; i++) {
		struct snapchan_recv *e = &rent[i];
		unsigned int r = rn(100);

		memset(e, 0, sizeof(*e));
		e->buf = (uintptr_t)(data + (i % M_SLOTS) * M_SLOT);
		e->buf_len = M_MAX_MSG + rn(8);
		e->type = (uint32_t)rnd();
		e->len = (uint32_t)rnd();
		e->seq = rnd();
		e->snap_id = rnd();
		e->origin = rnd();
		if (r < 6) {
			e->buf_len = rn(M_MAX_MSG);
		} else if (r < 9) {
			e->buf = 0;
			e->buf_len = 0;
		} else if (r < 13) {
			switch (rn(3)) {
			case 0:
				e->buf = (uintptr_t)ro_buf;
				break;
			case 1:	/* the first bytes writable */
				e->buf = (uintptr_t)(guard - rn(M_MAX_MSG));
				break;
			default:
				e->buf = (uintptr_t)wild_ptr(wild[rn(ARRAY_SIZE(wild))]);
				break;
			}
		} else if (r < 16) {
			e->flags = pct(50) ? SNAPCHAN_RECV_PEEK : 1U << rn(32);
		} else if (r < 18) {
			e->reserved[rn(2)] = 1ULL << rn(64);
		}
	}
	memset(&b, 0, sizeof(b));
	b.msgs = place_entries(rent, sizeof(rent[0]), n, &bp);
	b.nr = nr;
	model_nonblock(M.r, &M.r_nb, pct(30));
	nb = pct(70);
	if (!M.r_nb && !nb && !M.n)
		nb = true;
	blocking = !M.r_nb && !nb;
	b.flags = nb ? SNAPCHAN_BATCH_NONBLOCK : 0;
	if (pct(3))
		b.flags |= 1U << (1 + rn(31));
	b.reserved = pct(97) ? 0 : 1ULL << rn(64);

	ret = run_ioctl(M.r, SNAPCHAN_IOC_RECV_BATCH, &b, sizeof(b), &am, &err);
	count(OP_RECV_BATCH, ret, err);
	atomic_fetch_add(&sh->m_recv, 1);
	if (blocking)
		atomic_fetch_add(&sh->m_blocking, 1);

	/* What it must have done. */
	if (!readable(am)) {
		why = EFAULT;
	} else if (batch_invalid(&b)) {
		why = EINVAL;
	} else {
		for (k = 0; k < n; k++) {
			const struct snapchan_recv *e = &rent[k];
			const struct mrec *q;

			if (k && k == M.n)
				break;		/* the queue is empty now */
			if (k >= bp.rd) {
				why = EFAULT;
				break;
			}
			if (recv_entry_invalid(e)) {
				why = EINVAL;
				break;
			}
			if (k == M.n) {
				why = EAGAIN;
				break;
			}
			q = &M.q[k];
			if (q->type == SNAPCHAN_REC_DATA && q->len > e->buf_len) {
				/* The first entry tells the size, if it can. */
				why = EMSGSIZE;
				if (!k && !bp.wr)
					why = EFAULT;
				else if (!k)
					emsg0 = true;
				break;
			}
			if (!mem_ok(e->buf, q->len, true)) {
				why = EFAULT;
				break;
			}
			if (k >= bp.wr) {
				/* The payload went out, the entry could not. */
				why = EFAULT;
				if (k < M_SLOTS &&
				    e->buf == (uintptr_t)(data + k * M_SLOT)) {
					dirty = k;
					dirty_len = q->len;
				}
				break;
			}
			if (q->type == SNAPCHAN_REC_MARKER) {
				k++;
				break;
			}
		}
	}
	want = k ? (long)k : -why;
	got = ret < 0 ? -err : ret;
	if (got != want) {
		bad("model RECV_BATCH nr %u (entries %s, arg %s, %s): got %ld %s, expected %ld %s (%u queued)",
		    nr, bp.how, amode_names[am],
		    blocking ? "blocking" : "nonblocking", got,
		    got < 0 ? ename(-got) : "", want,
		    want < 0 ? ename(-want) : "", M.n);
		M.ok = false;
		return;
	}
	/* The entries: the k filled ones exactly, the others untouched. */
	memcpy(rgot, bp.at, bp.wr * sizeof(rgot[0]));
	for (i = 0; i < bp.wr; i++) {
		struct snapchan_recv w = rent[i];

		if (i < k || (!i && emsg0)) {
			const struct mrec *q = &M.q[i];
			bool data_rec = q->type == SNAPCHAN_REC_DATA;

			w.type = q->type;
			w.len = q->len;
			w.seq = data_rec ? q->seq : 0;
			w.snap_id = data_rec ? 0 : q->snap_id;
			w.origin = 0;
		}
		if (memcmp(&rgot[i], &w, sizeof(w))) {
			bad("model RECV_BATCH: returned %ld; entry %u (%s): type %u len %u seq %llu snap %llu origin %llu buf_len %u, expected type %u len %u seq %llu snap %llu",
			    got, i, bp.how, rgot[i].type, rgot[i].len,
			    (unsigned long long)rgot[i].seq,
			    (unsigned long long)rgot[i].snap_id,
			    (unsigned long long)rgot[i].origin,
			    rgot[i].buf_len, w.type, w.len,
			    (unsigned long long)w.seq,
			    (unsigned long long)w.snap_id);
			M.ok = false;
			return;
		}
	}
	/* The payload slots: the records' bytes, not one byte more. */
	for (i = 0; i < n && i < M_SLOTS; i++) {
		const char *slot = data + i * M_SLOT;
		uint32_t len = 0;
		uint64_t seq = 0;

		if ((i < k && rent[i].buf == (uintptr_t)slot) || i == dirty) {
			len = i == dirty ? dirty_len : M.q[i].len;
			seq = M.q[i].seq;
		}
		for (j = 0; j < M_SLOT; j++)
			if ((uint8_t)slot[j] != (j < len ? mpat(seq, j) : M_POISON))
				break;
		if (j < M_SLOT) {
			bad("model RECV_BATCH: returned %ld; buffer of entry %u (%s), byte %u of %u: %#x",
			    got, i, bp.how, j, len, (uint8_t)slot[j]);
			M.ok = false;
			return;
		}
	}
	/* Exactly those records are gone. */
	for (i = 0; i < k; i++) {
		if (M.q[i].type == SNAPCHAN_REC_DATA) {
			M.ndata--;
			M.bytes -= M.q[i].len;
			M.received++;
		} else {
			M.nmarks--;
		}
	}
	memmove(M.q, M.q + k, (M.n - k) * sizeof(M.q[0]));
	M.n -= k;
	if (k) {
		atomic_fetch_add(&sh->m_recvd, k);
		if (k < nr)
			atomic_fetch_add(&sh->m_recv_part, 1);
	}
	model_check_info("RECV_BATCH");
}

/* --- nodes --------------------------------------------------------------------------------------------- */

static void op_attach(bool attach)
{
	int op = attach ? OP_ATTACH : OP_DETACH;
	struct target t = pick(pct(95) ? 1U << K_NODE : ~0U);
	struct snapchan_node_attach a;
	struct pfd *c = NULL;
	enum kind ck = K_BAD;
	struct eset s;
	bool invalid;
	enum amode am;
	long ret;
	int i, err;

	memset(&a, 0, sizeof(a));
	/* Prefer an end of a channel of the node's group. */
	if (t.p && t.p->group >= 0 && t.p->group < NR_GROUPS && pct(85)) {
		int n = 0, k;

		/* Not when full: an eviction could close the node's fd. */
		if (pct(30) && !is_child && npool < POOL_MAX)
			open_chan(t.p->group);

		for (i = 0; i < npool; i++)
			if ((pool[i].kind == K_CHAN_R || pool[i].kind == K_CHAN_W) &&
			    chan_group(pool[i].chan) == t.p->group)
				n++;
		k = n ? (int)rn(n) : -1;
		for (i = 0; i < npool && k >= 0; i++)
			if ((pool[i].kind == K_CHAN_R || pool[i].kind == K_CHAN_W) &&
			    chan_group(pool[i].chan) == t.p->group && !k--)
				c = &pool[i];
	}
	if (!c && pct(90))
		c = pool_pick((1U << K_CHAN_R) | (1U << K_CHAN_W));
	if (!c && pct(80))
		c = pool_pick(~0U);
	if (c) {
		a.chan_fd = c->fd;
		ck = c->kind;
	} else {
		a.chan_fd = pct(50) ? -1 : 1000 + (int)rn(20);
	}
	a.flags = gen_flags32(SNAPCHAN_TOPO_F_ABORT);
	if (pct(60))
		a.flags |= SNAPCHAN_TOPO_F_ABORT;
	a.reserved = gen_reserved();
	invalid = (a.flags & ~SNAPCHAN_TOPO_F_ABORT) || a.reserved;
	ret = run_ioctl(t.fd, attach ? SNAPCHAN_IOC_NODE_ATTACH :
			SNAPCHAN_IOC_NODE_DETACH, &a, sizeof(a), &am, &err);
	if (t.kind == K_NODE && readable(am) && !invalid) {
		/* Exact: what the channel fd is decides part of the answer. */
		if (ck == K_BAD)
			s = es1(EBADF);
		else if (ck != K_CHAN_R && ck != K_CHAN_W)
			s = es1(EINVAL);
		else
			s = es_of(attach ? E_ATTACH : E_DETACH);
		if (ck == K_CHAN_R || ck == K_CHAN_W) {
			es_del(&s, EINVAL);
			es_del(&s, EBADF);
		}
		judge(op, t.kind, ret, err, &s, ck != K_CHAN_R && ck != K_CHAN_W,
		      NULL);
		return;
	}
	judge_ioctl(op, F_NODE, &t, ret, err, attach ? E_ATTACH : E_DETACH,
		    invalid, am, false);
}

static void op_event(void)
{
	struct target t = pick(pct(95) ? 1U << K_NODE : ~0U);
	struct snapchan_node_event ev;
	enum amode am;
	long ret;
	int err;

	memset(&ev, 0, sizeof(ev));
	ev.type = (uint32_t)rnd();
	ev.snap_id = rnd();
	ev.reserved0 = pct(97) ? 0 : 1U << rn(32);
	gen_reserved_arr(ev.reserved, 2);
	ret = run_ioctl(t.fd, SNAPCHAN_IOC_NODE_EVENT, &ev, sizeof(ev), &am, &err);
	judge_ioctl(OP_EVENT, F_NODE, &t, ret, err, E_EVENT,
		    ev.reserved0 || !all_zero(ev.reserved, 2), am, true);
	if (ret || am != A_OK || t.kind != K_NODE)
		return;
	if (!ev.node_id || ev.reserved0 || !all_zero(ev.reserved, 2) ||
	    (ev.type == SNAPCHAN_EVENT_NONE && ev.snap_id) ||
	    (ev.type == SNAPCHAN_EVENT_RECORD && !ev.snap_id) ||
	    ev.type > SNAPCHAN_EVENT_RECORD)
		bad("NODE_EVENT: type %u snap_id %llu node_id %llu", ev.type,
		    (unsigned long long)ev.snap_id,
		    (unsigned long long)ev.node_id);
	if (ev.type == SNAPCHAN_EVENT_RECORD)
		remember_snap(t.p ? t.p->group : -1, ev.snap_id);
}

/* The pending snapshot id of node @fd, or 0 (the call counts as EVENT). */
static uint64_t pending_id(int fd)
{
	struct snapchan_node_event ev;
	long ret;

	memset(&ev, 0, sizeof(ev));
	ret = ioctl(fd, SNAPCHAN_IOC_NODE_EVENT, &ev);
	count(OP_EVENT, ret, errno);
	return ret ? 0 : ev.snap_id;
}

static void op_record(void)
{
	struct target t = pick(pct(95) ? 1U << K_NODE : ~0U);
	struct snapchan_node_record r;
	unsigned int x = rn(100);
	bool invalid, huge = false, state_ok;
	struct pfd *p;
	enum amode am;
	long ret;
	int err;
	int g = t.p ? t.p->group : -1;

	memset(&r, 0, sizeof(r));
	if (x < 35)
		r.snap_id = 0;
	else if (x < 75 && t.kind == K_NODE)
		r.snap_id = pending_id(t.fd);
	else
		r.snap_id = gen_snap_id(g);
	if (!r.snap_id || pct(3)) {
		r.timeout_ns = gen_timeout(&huge);
		r.budget_bytes = gen_budget();
	}
	x = rn(100);
	if (x < 40)
		r.state_len = 0;
	else if (x < 80)
		r.state_len = 1 + rn(256);
	else if (x < 92)
		r.state_len = 1 + rn(DATA_LEN);
	else if (x < 96 && P.known)
		r.state_len = P.max_state_bytes + 1 + rn(100);
	else
		r.state_len = pct(50) ? P.max_state_bytes : 1ULL << (20 + rn(44));
	r.state = buf_ptr(r.state_len, &state_ok);
	r.flags = gen_flags32(SNAPCHAN_RECORD_F_SNAPFD);
	if (huge)
		r.flags = SNAPCHAN_RECORD_F_SNAPFD;
	r.snap_fd = (int)rnd();
	gen_reserved_arr(r.reserved, 2);
	invalid = (r.flags & ~SNAPCHAN_RECORD_F_SNAPFD) ||
		  !all_zero(r.reserved, 2) ||
		  (r.snap_id && (r.timeout_ns || r.budget_bytes));
	ret = run_ioctl(t.fd, SNAPCHAN_IOC_NODE_RECORD, &r, sizeof(r), &am, &err);
	judge_ioctl(OP_RECORD, F_NODE, &t, ret, err, E_RECORD, invalid, am, true);
	if (ret >= 0 && am == A_OK && t.kind == K_NODE) {
		if (!r.snap_id ||
		    ((r.flags & SNAPCHAN_RECORD_F_SNAPFD) ?
		     r.snap_fd != ret : (ret != 0 || r.snap_fd != -1)))
			bad("NODE_RECORD: returned %ld, snap_fd %d, id %llu, flags %#x",
			    ret, r.snap_fd, (unsigned long long)r.snap_id,
			    r.flags);
		remember_snap(g, r.snap_id);
	}
	if (ret > 0 && (r.flags & SNAPCHAN_RECORD_F_SNAPFD)) {
		p = got_fd(ret, K_SNAP);
		if (huge)
			snap_abort_now(p->fd);
	} else if (ret > 0) {
		got_fd(ret, K_SNAP);	/* unexpected, reported above */
	}
	if (ret >= 0 && !state_ok && r.state_len)
		bad("NODE_RECORD succeeded with state at a bad pointer");
}

/* --- snapshot and capture fds ------------------------------------------------------------------------- */

static void op_snap_info(void)
{
	struct target t = pick(pct(95) ? 1U << K_SNAP : ~0U);
	struct snapchan_snap_info in;
	enum amode am;
	long ret;
	int err;

	memset(&in, 0x77, sizeof(in));
	ret = run_ioctl(t.fd, SNAPCHAN_IOC_SNAP_INFO, &in, sizeof(in), &am, &err);
	judge_ioctl(OP_SNAP_INFO, F_SNAP, &t, ret, err, E_SNAP_INFO, false, am, true);
	if (ret || am != A_OK || t.kind != K_SNAP)
		return;
	if (!in.snap_id || !name_ok(in.group, false) || !all_zero(in.reserved, 4) ||
	    in.nodes_recorded > in.nodes || in.chans_closed > in.chans ||
	    (in.state == SNAPCHAN_SNAP_RUNNING &&
	     (in.abort_reason || in.end_ns || in.image_len)) ||
	    (in.state == SNAPCHAN_SNAP_COMPLETE &&
	     (in.abort_reason || in.nodes_recorded != in.nodes ||
	      in.chans_closed != in.chans || in.image_len < 120 ||
	      in.end_ns < in.begin_ns)) ||
	    (in.state == SNAPCHAN_SNAP_ABORTED &&
	     (!in.abort_reason || in.abort_reason > SNAPCHAN_ABORT_NOMEM ||
	      in.image_len || in.end_ns < in.begin_ns)) ||
	    in.state < SNAPCHAN_SNAP_RUNNING || in.state > SNAPCHAN_SNAP_ABORTED)
		bad("SNAP_INFO: id %llu state %u reason %u nodes %u/%u chans %u/%u image %llu begin %llu end %llu",
		    (unsigned long long)in.snap_id, in.state, in.abort_reason,
		    in.nodes_recorded, in.nodes, in.chans_closed, in.chans,
		    (unsigned long long)in.image_len,
		    (unsigned long long)in.begin_ns,
		    (unsigned long long)in.end_ns);
}

static void op_snap_abort(void)
{
	struct target t = pick(pct(95) ? 1U << K_SNAP : ~0U);
	long ret;
	int err;

	errno = 0;
	ret = ioctl(t.fd, SNAPCHAN_IOC_SNAP_ABORT, (unsigned long)rnd());
	err = errno;
	judge_ioctl(OP_SNAP_ABORT, F_SNAP, &t, ret, err, E_SNAP_ABORT, false,
		    A_OK, false);
}

/* CRC32C (Castagnoli), reflected, seed ~0, final xor ~0. */
static uint32_t crc32c(const void *buf, size_t len)
{
	static uint32_t table[256];
	const uint8_t *p = buf;
	uint32_t crc = ~0U;
	size_t i;
	int k;

	if (!table[1])
		for (i = 0; i < 256; i++) {
			uint32_t c = i;

			for (k = 0; k < 8; k++)
				c = c & 1 ? (c >> 1) ^ 0x82f63b78U : c >> 1;
			table[i] = c;
		}
	for (i = 0; i < len; i++)
		crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static uint64_t le64(const void *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static uint32_t le32(const void *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static size_t pad8(uint64_t len)
{
	return (8 - (len & 7)) & 7;
}

/*
 * Check a whole image in @buf of @len bytes: header, trailer and CRC, the
 * sections adding up, and in each channel section the DATA records
 * numbered consecutively from first_seq up to next_seq (doc/image-format.md).
 */
static void check_image(const char *what, const char *buf, size_t len,
			unsigned int kind)
{
	const struct snapchan_img_header *h = (const void *)buf;
	const struct snapchan_img_trailer *tr;
	uint64_t off, recs = 0, i, j;

	if (len < sizeof(*h) + sizeof(*tr)) {
		bad("%s: image of %zu bytes", what, len);
		return;
	}
	tr = (const void *)(buf + len - sizeof(*tr));
	if (le32(&h->magic) != SNAPCHAN_IMG_MAGIC ||
	    h->version != SNAPCHAN_IMG_VERSION || h->kind != kind ||
	    le32(&h->header_len) != sizeof(*h) || le64(&h->total_len) != len ||
	    le32(&tr->magic) != SNAPCHAN_IMG_END_MAGIC ||
	    le64(&tr->total_len) != len ||
	    le32(&tr->crc32c) != crc32c(buf, len - sizeof(*tr))) {
		bad("%s: bad image (len %zu, total %llu, crc %#x vs %#x)", what,
		    len, (unsigned long long)le64(&h->total_len),
		    le32(&tr->crc32c), crc32c(buf, len - sizeof(*tr)));
		return;
	}
	if (kind == SNAPCHAN_IMG_KIND_CAPTURE &&
	    (h->node_count || h->chan_count != 1 || h->snap_id)) {
		bad("%s: capture with %u nodes, %u channels, id %llu", what,
		    h->node_count, h->chan_count, (unsigned long long)h->snap_id);
		return;
	}
	off = sizeof(*h);
	for (i = 0; i < h->node_count; i++) {
		const struct snapchan_img_node *n = (const void *)(buf + off);

		if (off + sizeof(*n) > len - sizeof(*tr) ||
		    n->state_len > len ||
		    off + sizeof(*n) + n->state_len + pad8(n->state_len) >
		    len - sizeof(*tr) || !name_ok(n->name, false) || !n->node_id) {
			bad("%s: node section %llu is bad", what,
			    (unsigned long long)i);
			return;
		}
		off += sizeof(*n) + n->state_len + pad8(n->state_len);
	}
	for (i = 0; i < h->chan_count; i++) {
		const struct snapchan_img_chan *c = (const void *)(buf + off);
		uint64_t ndata = 0, bytes = 0, first = 0, prev = 0;

		if (off + sizeof(*c) > len - sizeof(*tr) ||
		    !name_ok(c->name, false)) {
			bad("%s: channel section %llu is bad", what,
			    (unsigned long long)i);
			return;
		}
		off += sizeof(*c);
		for (j = 0; j < c->record_count; j++) {
			const struct snapchan_img_record *r = (const void *)(buf + off);

			if (off + sizeof(*r) > len - sizeof(*tr) || r->len > len ||
			    off + sizeof(*r) + r->len + pad8(r->len) >
			    len - sizeof(*tr)) {
				bad("%s: %.32s: record %llu runs past the end",
				    what, c->name, (unsigned long long)j);
				return;
			}
			off += sizeof(*r) + r->len + pad8(r->len);
			if (r->type == SNAPCHAN_REC_MARKER &&
			    kind == SNAPCHAN_IMG_KIND_CAPTURE && !r->len &&
			    !r->seq && r->snap_id)
				continue;
			if (r->type != SNAPCHAN_REC_DATA || r->snap_id ||
			    r->origin) {
				bad("%s: %.32s: record %llu: type %u seq %llu len %u snap_id %llu",
				    what, c->name, (unsigned long long)j, r->type,
				    (unsigned long long)r->seq, r->len,
				    (unsigned long long)r->snap_id);
				return;
			}
			/* After 2^64 - 1 comes 0, or 1 if 0 is never used. */
			if (ndata && r->seq != prev + 1 &&
			    !(prev == UINT64_MAX && r->seq == 1)) {
				bad("%s: %.32s: DATA seq %llu after %llu", what,
				    c->name, (unsigned long long)r->seq,
				    (unsigned long long)prev);
				return;
			}
			if (!ndata)
				first = r->seq;
			prev = r->seq;
			ndata++;
			bytes += r->len;
		}
		recs += c->record_count;
		if (bytes != c->record_bytes ||
		    (ndata && (c->first_seq != first ||
			       (c->next_seq != prev + 1 &&
				!(prev == UINT64_MAX && c->next_seq == 1)))) ||
		    (!ndata && c->first_seq != c->next_seq))
			bad("%s: %.32s: %llu DATA records, seq %llu..%llu, %llu bytes; section says first_seq %llu next_seq %llu record_bytes %llu",
			    what, c->name, (unsigned long long)ndata,
			    (unsigned long long)first, (unsigned long long)prev,
			    (unsigned long long)bytes,
			    (unsigned long long)c->first_seq,
			    (unsigned long long)c->next_seq,
			    (unsigned long long)c->record_bytes);
	}
	if (off != len - sizeof(*tr) || recs != h->record_count)
		bad("%s: sections end at %llu of %zu, %llu records of %llu", what,
		    (unsigned long long)off, len, (unsigned long long)recs,
		    (unsigned long long)h->record_count);
}

/* Read a whole image in chunks of random size; its length or -errno. */
static long read_all(int fd, size_t want)
{
	size_t done = 0;
	ssize_t n;

	while (done <= want && done < DATA_LEN) {
		size_t chunk = pct(50) ? DATA_LEN - done : 1 + rn(4096);

		if (chunk > DATA_LEN - done)
			chunk = DATA_LEN - done;
		n = read(fd, data + done, chunk);
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += n;
	}
	return done;
}

static void op_snap_image(void)
{
	struct pfd *p = pool_pick(1U << K_SNAP);
	struct snapchan_snap_info in;
	long n;

	if (!p) {
		op_begin();
		return;
	}
	memset(&in, 0, sizeof(in));
	n = ioctl(p->fd, SNAPCHAN_IOC_SNAP_INFO, &in) ? -errno : 0;
	count(OP_SNAP_INFO, n, -n);
	if (n) {
		bad("SNAP_INFO on a snapshot fd: %s", ename(-n));
		return;
	}
	if (p->shared || p->started || in.image_len > DATA_LEN ||
	    in.state != SNAPCHAN_SNAP_COMPLETE) {
		/* Just a read, of what is left, or EAGAIN/ECANCELED. */
		op_read();
		return;
	}
	p->started = true;
	n = read_all(p->fd, in.image_len);
	count(OP_SNAP_IMAGE, n, -n);
	if (n < 0)
		bad("reading a complete snapshot: %s", ename(-n));
	else if ((uint64_t)n != in.image_len)
		bad("snapshot image: read %ld bytes, SNAP_INFO says %llu", n,
		    (unsigned long long)in.image_len);
	else
		check_image("snapshot", data, n, SNAPCHAN_IMG_KIND_SNAPSHOT);
}

static void op_cap_image(void)
{
	struct pfd *p = pool_pick(1U << K_CAP);
	long n;

	if (!p) {
		op_capture();
		return;
	}
	if (p->shared || p->started || p->stream_len > DATA_LEN) {
		op_read();
		return;
	}
	p->started = true;
	n = read_all(p->fd, p->stream_len);
	count(OP_CAP_IMAGE, n, -n);
	if (n < 0)
		bad("reading a capture: %s", ename(-n));
	else if ((uint64_t)n != p->stream_len)
		bad("capture image: read %ld bytes, stream_len %llu", n,
		    (unsigned long long)p->stream_len);
	else
		check_image("capture", data, n, SNAPCHAN_IMG_KIND_CAPTURE);
}

static void op_lseek(void)
{
	struct target t = pick(pct(70) ? 1U << K_CAP : ~0U);
	int whence = pct(90) ? (int)rn(5) : (int)rn(100);
	off_t off = pct(50) ? 0 : (off_t)rnd();
	struct eset s;
	long ret;
	int err;

	errno = 0;
	ret = lseek(t.fd, off, whence);
	err = errno;
	if (t.kind == K_BAD)
		s = es1(EBADF);
	else if (whence > SEEK_HOLE || whence < 0)
		s = es1(EINVAL);
	else
		s = es1(ESPIPE);
	judge(OP_LSEEK, t.kind, ret, err, &s, true, "a seek on a stream");
}

static void op_pread(void)
{
	struct target t = pick(~0U);
	uint64_t len = pick_len(DATA_LEN);
	off_t off = pct(50) ? 0 : (off_t)rn(1 << 20);
	struct eset s;
	bool ok;
	uint64_t buf = buf_ptr(len, &ok);
	long ret;
	int err;

	if (buf == (uintptr_t)ro_buf)
		buf = (uintptr_t)data;
	if (t.p)
		t.p->started = true;
	errno = 0;
	if (pct(50))
		ret = pread(t.fd, (void *)(uintptr_t)buf, len, off);
	else
		ret = pwrite(t.fd, (void *)(uintptr_t)buf, len, off);
	err = errno;
	/* Channels and the control device are streams: ESPIPE.  Others vary. */
	allowed_read(t.kind, &s);
	es_add(&s, ESPIPE);
	es_add(&s, EBADF);
	es_add(&s, EINVAL);
	judge(OP_PREAD, t.kind, ret, err, &s,
	      t.kind == K_CTL || t.kind == K_CHAN_R || t.kind == K_CHAN_W ||
	      t.kind == K_PIPE_R || t.kind == K_PIPE_W, "a stream");
}

static void op_mmap(void)
{
	struct target t = pick(~0U);
	int prot = pct(50) ? PROT_READ : PROT_READ | PROT_WRITE;
	struct eset s;
	void *m;
	int err;

	errno = 0;
	m = mmap(NULL, PG, prot, pct(50) ? MAP_SHARED : MAP_PRIVATE, t.fd, 0);
	err = errno;
	s = es1(ENODEV);
	es_add(&s, EACCES);
	es_add(&s, EBADF);
	judge(OP_MMAP, t.kind, m == MAP_FAILED ? -1 : 0, err, &s, true,
	      "no mmap");
	if (m != MAP_FAILED)
		munmap(m, PG);
}

/* ioctl numbers the module does not have, and ours on other sizes. */
static void op_foreign(void)
{
	static const unsigned int known[] = {
		SNAPCHAN_IOC_VERSION, SNAPCHAN_IOC_CHAN_CREATE,
		SNAPCHAN_IOC_CHAN_DESTROY, SNAPCHAN_IOC_CHAN_INFO,
		SNAPCHAN_IOC_CHAN_LIST, SNAPCHAN_IOC_NODE_JOIN,
		SNAPCHAN_IOC_SNAP_BEGIN, SNAPCHAN_IOC_SNAP_OPEN,
		SNAPCHAN_IOC_RECV, SNAPCHAN_IOC_MARK, SNAPCHAN_IOC_CAPTURE,
		SNAPCHAN_IOC_SEND_BATCH, SNAPCHAN_IOC_RECV_BATCH,
		SNAPCHAN_IOC_NODE_ATTACH, SNAPCHAN_IOC_NODE_DETACH,
		SNAPCHAN_IOC_NODE_RECORD, SNAPCHAN_IOC_NODE_EVENT,
		SNAPCHAN_IOC_SNAP_INFO, SNAPCHAN_IOC_SNAP_ABORT,
	};
	/* Types the VFS or pipes handle themselves are left out. */
	static const unsigned char types[] = { 0xC5, 0xC5, 0xC5, 0xC4, 0xC6,
					       'V', 0xAE, 'k', 'U', 0x12, 'p' };
	struct target t = pick(~0U);
	unsigned int cmd, i, r = rn(100);
	struct eset s;
	enum amode am;
	char arg[256];
	long ret;
	int err;

	if (r < 40) {
		/* One of ours with another size or direction. */
		cmd = known[rn(ARRAY_SIZE(known))];
		do {
			cmd = _IOC(rn(4), _IOC_TYPE(cmd), _IOC_NR(cmd), rn(256));
			for (i = 0; i < ARRAY_SIZE(known); i++)
				if (cmd == known[i])
					break;
		} while (i < ARRAY_SIZE(known));
	} else if (r < 70) {
		/* Our type, a number we do not have. */
		unsigned int nr;

		do
			nr = rn(256);
		while (nr <= 0x07 || (nr >= 0x10 && nr <= 0x14) ||
		       (nr >= 0x20 && nr <= 0x23) || nr == 0x30 || nr == 0x31);
		cmd = _IOC(rn(4), SNAPCHAN_IOC_MAGIC, nr, rn(256));
	} else if (r < 75) {
		cmd = TCGETS;
	} else {
		cmd = _IOC(rn(4), types[rn(sizeof(types))], rn(256), rn(256));
	}
	memset(arg, 0, sizeof(arg));
	errno = 0;
	ret = ioctl(t.fd, cmd, place(arg, sizeof(arg), &am));
	err = errno;
	s = es1(t.kind == K_BAD ? EBADF : ENOTTY);
	if (t.kind == K_PIPE_R || t.kind == K_PIPE_W) {
		/* Not ours: whatever pipes say, without a check. */
		count(OP_FOREIGN, ret, err);
		return;
	}
	judge(OP_FOREIGN, t.kind, ret, err, &s, true, "an unknown ioctl");
	if (ret < 0 && err != (t.kind == K_BAD ? EBADF : ENOTTY))
		bad("  (the ioctl was %#x)", cmd);
}

static void op_epoll(void)
{
	struct epoll_event ev, evs[8];
	struct target t;
	long ret;
	int r = rn(100), err;

	if (r < 40) {
		t = pick(~0U);
		ev.events = (uint32_t)rnd() & (EPOLLIN | EPOLLOUT | EPOLLPRI |
					       EPOLLET | EPOLLERR | EPOLLHUP);
		ev.data.u64 = t.fd;
		ret = epoll_ctl(epfd, pct(80) ? EPOLL_CTL_ADD : EPOLL_CTL_MOD,
				t.fd, &ev);
	} else if (r < 55) {
		t = pick(~0U);
		ret = epoll_ctl(epfd, EPOLL_CTL_DEL, t.fd, NULL);
	} else {
		ret = epoll_wait(epfd, evs, 8, 0);
	}
	err = errno;
	count(OP_EPOLL, ret, err);	/* not our API: counted, not judged */
}

/*
 * A burst: one topology call repeated back to back on two names, so that
 * the workers' calls overlap in time on the same channel, group or node
 * (create against destroy, join against close, attach against detach).
 */
static void op_burst(void)
{
	static const int E_BURST_CREATE[] = { EEXIST, ENOSPC, ENOMEM, EPERM, 0 };
	static const int E_BURST_DESTROY[] = { ENOENT, EPERM, 0 };
	static const int E_BURST_JOIN[] = { EEXIST, ENOENT, ENOSPC, ENOMEM,
					    EMFILE, EPERM, 0 };
	unsigned int what = rn(3), i, n = 8 + rn(24);
	int k = rn(2), fd;
	struct eset s;
	long ret;

	for (i = 0; i < n; i++) {
		cur_op = "burst";
		if (what == 0 || (what == 1 && i % 4 == 0)) {
			struct snapchan_chan_create c;

			memset(&c, 0, sizeof(c));
			snprintf(c.name, sizeof(c.name), "fz%d", k * NR_GROUPS);
			snprintf(c.group, sizeof(c.group), "fzg0");
			c.flags = SNAPCHAN_TOPO_F_ABORT;
			ret = ioctl(ctl0, SNAPCHAN_IOC_CHAN_CREATE, &c);
			s = es_of(E_BURST_CREATE);
			judge(OP_CREATE, K_CTL, ret, errno, &s, false, NULL);
		} else if (what == 1) {
			struct snapchan_chan_destroy d;

			memset(&d, 0, sizeof(d));
			snprintf(d.name, sizeof(d.name), "fz%d", k * NR_GROUPS);
			d.flags = SNAPCHAN_TOPO_F_ABORT;
			ret = ioctl(ctl0, SNAPCHAN_IOC_CHAN_DESTROY, &d);
			s = es_of(E_BURST_DESTROY);
			judge(OP_DESTROY, K_CTL, ret, errno, &s, false, NULL);
		} else {
			struct snapchan_node_join j;

			memset(&j, 0, sizeof(j));
			snprintf(j.group, sizeof(j.group), "fzg0");
			snprintf(j.name, sizeof(j.name), "n%d", k);
			j.flags = SNAPCHAN_TOPO_F_ABORT;
			fd = ioctl(ctl0, SNAPCHAN_IOC_NODE_JOIN, &j);
			s = es_of(E_BURST_JOIN);
			judge(OP_JOIN, K_CTL, fd, errno, &s, false, NULL);
			if (fd >= 0)
				close(fd);
		}
	}
	count(OP_BURST, 0, 0);
}

/* --- opening, closing, forking ------------------------------------------------------------------------- */

static void op_open_ctl(void)
{
	int fd = open(SC_CONTROL, (pct(80) ? O_RDWR : O_RDONLY) | O_NONBLOCK |
		      O_CLOEXEC);
	struct eset s = es1(EMFILE);

	judge(OP_OPEN_CTL, K_CTL, fd, errno, &s, false, NULL);
	if (fd >= 0)
		pool_add(fd, K_CTL);
}

/* Open an end of a pool channel (of group @want_group if >= 0) or another. */
static void open_chan(int want_group)
{
	char name[SNAPCHAN_NAME_LEN + 1], path[64];
	unsigned int r = rn(100);
	int idx, fd, acc, err;
	struct eset s;
	struct pfd *p;

	idx = pct(90) ? (int)rn(NR_CHANS) : -1;
	if (want_group >= 0)
		idx = want_group + NR_GROUPS * (int)rn(3);
	if (idx >= 0) {
		snprintf(name, sizeof(name), "fz%d", idx);
	} else {
		gen_name(name, N_CHAN);
		name[SNAPCHAN_NAME_LEN] = '\0';
		if (!name_ok(name, false) || !strcmp(name, "control"))
			snprintf(name, sizeof(name), "fz%d", (int)rn(NR_CHANS));
	}
	acc = r < 48 ? O_RDONLY : r < 96 ? O_WRONLY : O_RDWR;
	snprintf(path, sizeof(path), SC_DEV_DIR "%s", name);
	fd = open(path, acc | O_NONBLOCK | O_CLOEXEC);
	err = errno;
	s = es1(ENOENT);
	es_add(&s, ENODEV);
	es_add(&s, ENXIO);
	es_add(&s, EMFILE);
	es_add(&s, ENOMEM);
	if (acc == O_RDWR)
		es_add(&s, EINVAL);
	judge(OP_OPEN_CHAN, acc == O_WRONLY ? K_CHAN_W : K_CHAN_R, fd, err, &s,
	      acc == O_RDWR, "O_RDWR");
	if (fd < 0)
		return;
	p = pool_add(fd, acc == O_WRONLY ? K_CHAN_W : K_CHAN_R);
	p->chan = idx;
}

static void op_open_chan(void)
{
	open_chan(-2);
}

static void op_pipe(void)
{
	int fds[2];
	struct eset s = es1(EMFILE);
	long ret = pipe2(fds, O_NONBLOCK | O_CLOEXEC);

	judge(OP_PIPE, K_PIPE_R, ret, errno, &s, false, NULL);
	if (ret)
		return;
	pool_add(fds[0], K_PIPE_R);
	pool_add(fds[1], K_PIPE_W);
}

static void op_close(void)
{
	int i;

	if (!npool)
		return;
	i = rn(npool);
	errno = 0;
	count(OP_CLOSE, close(pool[i].fd), errno);
	pool[i] = pool[--npool];
}

static void op_dup(void)
{
	struct pfd *p = pool_pick(~0U), *q;
	struct pfd copy;
	int fd;

	if (!p)
		return;
	copy = *p;
	fd = fcntl(p->fd, F_DUPFD_CLOEXEC, 3);
	count(OP_DUP, fd, errno);
	if (fd < 0)
		return;
	p->shared = true;
	q = pool_add(fd, copy.kind);
	*q = copy;
	q->fd = fd;
	q->shared = true;
}

static void reap_kids(bool all);
static void one_op(void);

static void op_fork(void)
{
	uint64_t seed = rnd();
	pid_t pid;
	int i, n;

	if (is_child || nkids >= MAX_KIDS) {
		op_close();
		return;
	}
	fflush(NULL);
	pid = fork();
	count(OP_FORK, pid, errno);
	if (pid < 0)
		return;
	for (i = 0; i < npool; i++)
		pool[i].shared = true;
	if (!pid) {
		is_child = true;
		nkids = 0;
		rng = seed;
		alarm(WATCHDOG_S);
		n = 1 + rn(300);
		for (i = 0; i < n; i++)
			one_op();
		_exit(0);
	}
	atomic_fetch_add(&sh->forks, 1);
	kids[nkids].pid = pid;
	kids[nkids].kill_at = pct(50) ? (long)(my_calls + rn(60)) : -1;
	nkids++;
}

static void reap_kids(bool all)
{
	int i, st;
	pid_t r;

	for (i = 0; i < nkids; i++) {
		if (all || (kids[i].kill_at >= 0 &&
			    (long)my_calls >= kids[i].kill_at)) {
			if (kill(kids[i].pid, SIGKILL) == 0)
				atomic_fetch_add(&sh->kills, 1);
			r = waitpid(kids[i].pid, &st, 0);
		} else {
			r = waitpid(kids[i].pid, &st, WNOHANG);
		}
		if (r == 0)
			continue;
		if (r < 0)
			bad("waitpid: %s", strerror(errno));
		else if (!(WIFEXITED(st) && !WEXITSTATUS(st)) &&
			 !(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL))
			bad("child %d: %s %d", kids[i].pid,
			    WIFEXITED(st) ? "exit" : "signal",
			    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		kids[i] = kids[--nkids];
		i--;
	}
}

/* --- the loop ----------------------------------------------------------------------------------------------- */

static unsigned int weight_total;

static void op_node_attach(void)
{
	op_attach(true);
}

static void op_node_detach(void)
{
	op_attach(false);
}

static void (*const op_fn[NR_OPS])(void) = {
	[OP_VERSION] = op_version, [OP_CREATE] = op_create,
	[OP_DESTROY] = op_destroy, [OP_INFO] = op_info, [OP_LIST] = op_list,
	[OP_JOIN] = op_join, [OP_BEGIN] = op_begin, [OP_OPEN] = op_snap_open,
	[OP_READ] = op_read, [OP_READV] = op_readv, [OP_WRITE] = op_write,
	[OP_WRITEV] = op_writev, [OP_POLL] = op_poll, [OP_RECV] = op_recv,
	[OP_MARK] = op_mark, [OP_CAPTURE] = op_capture,
	[OP_SEND_BATCH] = op_send_batch, [OP_RECV_BATCH] = op_recv_batch,
	[OP_ATTACH] = op_node_attach, [OP_DETACH] = op_node_detach,
	[OP_RECORD] = op_record, [OP_EVENT] = op_event,
	[OP_SNAP_INFO] = op_snap_info, [OP_SNAP_ABORT] = op_snap_abort,
	[OP_SNAP_IMAGE] = op_snap_image, [OP_CAP_IMAGE] = op_cap_image,
	[OP_LSEEK] = op_lseek, [OP_PREAD] = op_pread, [OP_MMAP] = op_mmap,
	[OP_FOREIGN] = op_foreign, [OP_EPOLL] = op_epoll,
	[OP_OPEN_CTL] = op_open_ctl, [OP_OPEN_CHAN] = op_open_chan,
	[OP_PIPE] = op_pipe, [OP_CLOSE] = op_close, [OP_DUP] = op_dup,
	[OP_FORK] = op_fork, [OP_BURST] = op_burst,
};

static void one_op(void)
{
	unsigned int w = rn(weight_total);
	int op;

	for (op = 0; op < NR_OPS - 1; op++) {
		if (w < op_weight[op])
			break;
		w -= op_weight[op];
	}
	cur_op = op_names[op];
	op_fn[op]();
}

static void setup_memory(void)
{
	char *base = mmap(NULL, (DATA_PAGES + 8) * PG, PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t i;

	if (base == MAP_FAILED) {
		perror("mmap");
		exit(KSFT_FAIL);
	}
	data = base;
	guard = data + DATA_LEN;
	ro_arg = guard + PG;
	ro_buf = ro_arg + PG;
	hole = ro_buf + PG;
	argbuf = hole + 2 * PG;
	guard2 = argbuf + PG;
	mprotect(data, DATA_LEN, PROT_READ | PROT_WRITE);
	mprotect(ro_arg, 2 * PG, PROT_READ | PROT_WRITE);
	mprotect(argbuf, PG, PROT_READ | PROT_WRITE);
	munmap(hole, 2 * PG);
	for (i = 0; i < DATA_LEN; i++)
		data[i] = (char)i;
	for (i = 0; i < PG; i++)
		ro_buf[i] = (char)(i * 7);
	mprotect(ro_arg, 2 * PG, PROT_READ);
	(void)guard2;

	base = mmap(NULL, (BARR_PAGES + 4) * PG, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED) {
		perror("mmap");
		exit(KSFT_FAIL);
	}
	barr = base;
	bnone = barr + BARR_LEN;
	bpre = bnone + PG;
	bro = bpre + PG;
	bnone2 = bro + PG;
	mprotect(barr, BARR_LEN, PROT_READ | PROT_WRITE);
	mprotect(bpre, PG, PROT_READ | PROT_WRITE);
	mprotect(bro, PG, PROT_READ);
	(void)bnone2;
}

static void run_worker(int w, uint64_t seed, unsigned long n)
{
	unsigned long i;

	worker = w;
	rng = seed ^ (0x1000193ULL * (w + 1));
	rnd();
	epfd = epoll_create1(EPOLL_CLOEXEC);
	ctl0 = open(SC_CONTROL, O_RDWR | O_CLOEXEC);
	if (ctl0 < 0 || epfd < 0) {
		bad("open control / epoll: %s", strerror(errno));
		_exit(1);
	}
	alarm(WATCHDOG_S);
	model_setup(w);
	for (i = 0; i < n; i++) {
		if (!(i & 31))
			alarm(WATCHDOG_S);
		one_op();
		if (nkids)
			reap_kids(false);
	}
	cur_op = "the end";
	reap_kids(true);
	if (M.ok)
		model_capture();
	model_teardown();
	while (npool)
		pool_del(npool - 1);
	close(epfd);
	close(ctl0);
	alarm(0);
	_exit(0);
}

/* --- setup and the final checks -------------------------------------------------------------------------------- */

static void read_params(void)
{
	P.known = !sc_param("max_msg_size", &P.max_msg_size) &&
		  !sc_param("default_max_msg", &P.default_max_msg) &&
		  !sc_param("max_capacity_msgs", &P.max_capacity_msgs) &&
		  !sc_param("default_capacity_msgs", &P.default_capacity_msgs) &&
		  !sc_param("max_capacity_bytes", &P.max_capacity_bytes) &&
		  !sc_param("default_capacity_bytes", &P.default_capacity_bytes) &&
		  !sc_param("max_state_bytes", &P.max_state_bytes);
	if (!P.known)
		P.max_state_bytes = 1 << 20;
	if (sc_param("max_markers", &P.max_markers))
		P.max_markers = 0;
}

static int list_channels(int ctl, char (*names)[SNAPCHAN_NAME_LEN], uint32_t max)
{
	struct snapchan_chan_list l;

	memset(&l, 0, sizeof(l));
	l.names = (uintptr_t)names;
	l.max_entries = max;
	if (ioctl(ctl, SNAPCHAN_IOC_CHAN_LIST, &l))
		return -errno;
	return l.count;
}

/* Rows below the header of a debugfs table, or -1 if unreadable. */
static int debugfs_rows(const char *table, char *first, size_t size)
{
	char path[128], line[512];
	int rows = -1;
	FILE *f;

	snprintf(path, sizeof(path), DEBUGFS_DIR "%s", table);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (rows == 1 && first)
			snprintf(first, size, "%s", line);
		rows++;
	}
	fclose(f);
	return rows < 0 ? 0 : rows;
}

static int cleanup_and_check(int baseline_chans)
{
	static char names[4096][SNAPCHAN_NAME_LEN];
	static const char *const tables[] = { "groups", "nodes", "snapshots" };
	int ctl, n, i, problems = 0, try, rows;
	char first[512];
	struct dirent *de;
	DIR *d;

	ctl = open(SC_CONTROL, O_RDWR | O_CLOEXEC);
	if (ctl < 0) {
		printf("# cleanup: open control: %s\n", strerror(errno));
		return 1;
	}
	n = list_channels(ctl, names, 4096);
	for (i = 0; i < n && i < 4096; i++) {
		struct snapchan_chan_destroy dd;

		if (strncmp(names[i], "fz", 2))
			continue;
		memset(&dd, 0, sizeof(dd));
		memcpy(dd.name, names[i], SNAPCHAN_NAME_LEN);
		dd.flags = SNAPCHAN_TOPO_F_ABORT;
		if (ioctl(ctl, SNAPCHAN_IOC_CHAN_DESTROY, &dd) && errno != ENOENT) {
			printf("# cleanup: destroy %.32s: %s\n", names[i],
			       strerror(errno));
			problems++;
		}
	}
	n = list_channels(ctl, names, 4096);
	close(ctl);
	if (n != baseline_chans) {
		printf("# leak: %d channels after cleanup, %d before the run\n",
		       n, baseline_chans);
		problems++;
	}
	d = opendir(SC_DEV_DIR);
	if (d) {
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.' || !strcmp(de->d_name, "control"))
				continue;
			if (!strncmp(de->d_name, "fz", 2)) {
				printf("# leak: /dev/snapchan/%s still exists\n",
				       de->d_name);
				problems++;
			}
		}
		closedir(d);
	}
	/* Work items may still hold the last references for a moment. */
	for (i = 0; i < 3; i++) {
		for (try = 0; try < 30; try++) {
			rows = debugfs_rows(tables[i], first, sizeof(first));
			if (rows <= 0)
				break;
			usleep(100000);
		}
		if (rows < 0) {
			printf("# no debugfs table %s: not checked\n", tables[i]);
		} else if (rows > 0) {
			printf("# leak: debugfs %s has %d rows, first: %s", tables[i],
			       rows, first);
			problems++;
		}
	}
	return problems;
}

static void usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-s seed] [-n calls] [-p processes] [-v]\n",
		prog);
	exit(2);
}

int main(int argc, char **argv)
{
	uint64_t seed = 0;
	unsigned long n = 100000, per;
	unsigned long long saved_timeout = 0;
	bool have_seed = false, verbose = false, timeout_saved = false;
	int procs = 2, c, i, st, failed = 0, baseline, ctl;
	pid_t pids[64];
	double t0, t1;
	struct timespec ts;
	char hist[4096];
	size_t hl = 0;

	while ((c = getopt(argc, argv, "s:n:p:vh")) != -1) {
		switch (c) {
		case 's':
			seed = strtoull(optarg, NULL, 0);
			have_seed = true;
			break;
		case 'n':
			n = strtoul(optarg, NULL, 0);
			break;
		case 'p':
			procs = atoi(optarg);
			break;
		case 'v':
			verbose = true;
			break;
		default:
			usage(argv[0]);
		}
	}
	if (procs < 1 || procs > 64 || !n)
		usage(argv[0]);
	if (!have_seed) {
		clock_gettime(CLOCK_REALTIME, &ts);
		seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ getpid();
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("TAP version 13\n1..1\n");
	if (access(SC_CONTROL, F_OK)) {
		printf("ok 1 fuzz # SKIP %s missing (module not loaded)\n",
		       SC_CONTROL);
		return KSFT_SKIP;
	}
	ctl = open(SC_CONTROL, O_RDWR | O_CLOEXEC);
	if (ctl < 0) {
		printf("ok 1 fuzz # SKIP open %s: %s\n", SC_CONTROL,
		       strerror(errno));
		return KSFT_SKIP;
	}
	baseline = list_channels(ctl, NULL, 0);
	close(ctl);
	printf("# fuzz: seed %llu, %lu calls, %d processes (reproduce: fuzz -s %llu -n %lu -p %d)\n",
	       (unsigned long long)seed, n, procs, (unsigned long long)seed, n,
	       procs);

	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		printf("not ok 1 fuzz # mmap: %s\n", strerror(errno));
		return KSFT_FAIL;
	}
	memset(sh, 0, sizeof(*sh));
	setup_memory();
	for (i = 0; i < NR_OPS; i++)
		weight_total += op_weight[i];
	read_params();
	/* Short default deadlines: topology changes wait for snapshots. */
	if (!sc_param("default_timeout_ms", &saved_timeout)) {
		timeout_saved = true;
		P.short_timeout = !sc_param_set("default_timeout_ms",
						FUZZ_TIMEOUT_MS);
	}

	t0 = sc_now();
	per = (n + procs - 1) / procs;
	for (i = 0; i < procs; i++) {
		unsigned long mine = per;

		if ((unsigned long)i * per + mine > n)
			mine = n > (unsigned long)i * per ? n - i * per : 0;
		pids[i] = fork();
		if (pids[i] < 0) {
			printf("# fork: %s\n", strerror(errno));
			failed = 1;
			procs = i;
			break;
		}
		if (!pids[i])
			run_worker(i, seed, mine);
	}
	for (i = 0; i < procs; i++) {
		if (waitpid(pids[i], &st, 0) < 0) {
			printf("# waitpid: %s\n", strerror(errno));
			failed = 1;
		} else if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			printf("# worker %d: %s %d\n", i,
			       WIFEXITED(st) ? "exit status" : "killed by signal",
			       WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
			failed = 1;
		}
	}
	t1 = sc_now();

	if (cleanup_and_check(baseline))
		failed = 1;
	if (timeout_saved && P.short_timeout &&
	    sc_param_set("default_timeout_ms", saved_timeout)) {
		printf("# could not restore default_timeout_ms=%llu\n",
		       saved_timeout);
		failed = 1;
	}

	printf("# %lu calls (%lu by workers, the rest by %lu forked children, %lu of them SIGKILLed) in %.1f s: %.0f calls/s\n",
	       atomic_load(&sh->calls), atomic_load(&sh->worker_calls),
	       atomic_load(&sh->forks), atomic_load(&sh->kills), t1 - t0,
	       atomic_load(&sh->calls) / (t1 - t0 > 0 ? t1 - t0 : 1));
	printf("# model channels: %lu SEND_BATCH (%lu messages in, %lu stopped part-way), %lu RECV_BATCH (%lu records out, %lu part-way), %lu of them blocking; %lu MARK, %lu captures compared\n",
	       atomic_load(&sh->m_send), atomic_load(&sh->m_sent),
	       atomic_load(&sh->m_send_part), atomic_load(&sh->m_recv),
	       atomic_load(&sh->m_recvd), atomic_load(&sh->m_recv_part),
	       atomic_load(&sh->m_blocking), atomic_load(&sh->m_marks),
	       atomic_load(&sh->m_captures));
	for (i = 0; i < NR_OPS; i++)
		if (verbose || atomic_load(&sh->op_calls[i]))
			printf("#   %-16s %8lu calls, %8lu succeeded\n", op_names[i],
			       atomic_load(&sh->op_calls[i]),
			       atomic_load(&sh->op_ok[i]));
	hl += snprintf(hist + hl, sizeof(hist) - hl, "ok=%lu",
		       atomic_load(&sh->hist[0]));
	for (i = 1; i <= MAX_ERRNO; i++)
		if (atomic_load(&sh->hist[i]) && hl < sizeof(hist) - 64)
			hl += snprintf(hist + hl, sizeof(hist) - hl, " %s=%lu",
				       ename(i), atomic_load(&sh->hist[i]));
	for (i = 0; i < (int)atomic_load(&sh->nbad) && i < MAX_BAD; i++)
		printf("# BAD: %s\n", sh->bad[i]);
	if (atomic_load(&sh->nbad) > MAX_BAD)
		printf("# ... and %u more\n", atomic_load(&sh->nbad) - MAX_BAD);
	if (atomic_load(&sh->nbad))
		failed = 1;
	if (atomic_load(&sh->worker_calls) < n) {
		printf("# only %lu of %lu worker calls were made\n",
		       atomic_load(&sh->worker_calls), n);
		failed = 1;
	}
	printf("%s 1 fuzz # %lu calls, seed %llu, errno histogram: %s\n",
	       failed ? "not ok" : "ok", atomic_load(&sh->calls),
	       (unsigned long long)seed, hist);
	return failed ? KSFT_FAIL : KSFT_PASS;
}
