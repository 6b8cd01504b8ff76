// SPDX-License-Identifier: GPL-2.0
/*
 * snapbench: snapchan beside pipes, AF_UNIX SOCK_SEQPACKET, POSIX message
 * queues and eventfd, in one boot, one binary, interleaved rounds.
 *
 * Every workload x mechanism runs once per round, mechanisms in an order
 * rotated by the round number; a round is repeated -r times (default 11).
 * Results are medians over the rounds, with min and max; ratios are taken
 * per round (same round, so same machine state) and then summarised the
 * same way.  Absolute times in a TCG guest mean little; ratios in one run
 * do.  Each round starts with a calibration (null syscall, memcpy 64 B,
 * 4 KiB, 64 KiB) that is printed, so drift between rounds shows.  Counts
 * are chosen by a pilot run so that the slowest method of each cell takes
 * about -T ms; after each round a cell's count is scaled (by 1/4 to 4)
 * towards -T again, so that a loaded host stretches the run less.
 *
 * Scheduling, to measure the mechanisms rather than the emulator:
 *  - "same" CPU streaming (and markers) runs writer and reader under
 *    SCHED_BATCH (-B 0: SCHED_OTHER).  Under SCHED_OTHER the reader's
 *    wakeup preemption makes the run flip between one context switch per
 *    message and whole-queue batches, a factor of 3 to 5 from one round to
 *    the next; SCHED_BATCH has no wakeup preemption, so the queue fills
 *    and drains in batches every time.
 *  - "cross" CPU runs keep both vCPUs busy with a SCHED_IDLE spinner each
 *    (-S 0: none), as idle=poll would: a halted TCG vCPU is a sleeping host
 *    thread, and waking it through a busy host costs milliseconds.
 *
 * Queue capacity is equal across mechanisms: for a message size S and a
 * capacity of C bytes (-C, default 64 KiB, at least 4 messages), every
 * queue holds M = C / S messages: snapchan capacity_msgs = M and
 * capacity_bytes = M * S; a plain pipe F_SETPIPE_SZ(M * S); a packet-mode
 * pipe (O_DIRECT, one slot per packet) F_SETPIPE_SZ(M * slots per
 * message * 4096); a seqpacket socket SO_SNDBUF(FORCE) sized from the
 * measured truesize (SIOCOUTQ) so that exactly M messages fit; a POSIX
 * queue mq_maxmsg = M, mq_msgsize = S.
 *
 * Output (stdout): calibration, progress, the table, the targets, then the
 * raw numbers between "--- CSV BEGIN ---" / "--- CSV END ---", the medians
 * between "--- SUMMARY BEGIN ---" / "--- SUMMARY END ---" and the targets
 * between "--- TARGETS BEGIN ---" / "--- TARGETS END ---".
 *
 * Build: gcc -static -O2 -pthread -I uapi bench/snapbench.c -lrt
 * Run as root in the guest (it raises limits: max_markers, mqueue and pipe
 * sizes).  Without /dev/snapchan/control it runs the other mechanisms only.
 *
 *   snapbench [-r rounds (11)] [-T ms per measurement (120)] [-R ring s (0.8)]
 *             [-C capacity bytes] [-w workloads] [-m mechanisms]
 *             [-N messages for the memory test] [-t tokens in the ring]
 *
 * Workloads (-w, comma separated): calib onetask halves pingpong stream
 * batch multi capture markers ring memory.
 *
 * "batch" streams 64 B messages with the batch calls (SNAPCHAN_IOC_SEND_BATCH
 * and SNAPCHAN_IOC_RECV_BATCH, -b per call, default 64) beside POSIX mq
 * (which has no batch call: one message per call) and a plain byte pipe
 * that moves the same bytes in writes and reads of -b x 64 B (4 KiB).  On
 * a module without SNAPCHAN_FEAT_BATCH the snapchan-batch method is
 * skipped, and says so.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mqueue.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <linux/sockios.h>
#include <time.h>
#include <unistd.h>

#include <linux/snapchan.h>

#ifndef F_SETPIPE_SZ
#define F_SETPIPE_SZ	1031
#endif
#ifndef SO_PEEK_OFF
#define SO_PEEK_OFF	42
#endif

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define MAXP		16		/* processes in one measurement */
#define RING_NODES	8
#define PAGE		4096

/* --- options ---------------------------------------------------------- */

static struct {
	int rounds;
	double target_ms;
	double ring_s;
	unsigned long cap_bytes;
	unsigned int mem_msgs;
	unsigned int ring_tokens;
	unsigned int batch_n;	/* messages per batch call / pipe write */
	int spin;		/* SCHED_IDLE spinners on idle CPUs (cross) */
	int batch;		/* same-CPU streaming under SCHED_BATCH */
	char workloads[256];
	char mechs[256];
} opt = {
	.rounds = 11,
	.target_ms = 120,
	.ring_s = 0.8,
	.cap_bytes = 64 << 10,
	.mem_msgs = 16384,
	.ring_tokens = 8,
	.batch_n = 64,
	.spin = 1,
	.batch = 1,
	.workloads = "all",
	.mechs = "all",
};

/* --- mechanisms ----------------------------------------------------------- */

enum mech { M_SNAP, M_PIPE, M_PKT, M_SEQ, M_MQ, M_EFD, NMECH };
static const char *const mech_name[NMECH] = {
	"snapchan", "pipe", "pipe-pkt", "seqpacket", "mq", "eventfd",
};
static unsigned int mech_on;		/* bit per enum mech */

static int ctl = -1;			/* /dev/snapchan/control */
static uint64_t sc_features;		/* SNAPCHAN_FEAT_* of the module */

/* snapchan is measured but its module has no batch calls. */
static int batch_skipped(void)
{
	return ctl >= 0 && !(sc_features & SNAPCHAN_FEAT_BATCH);
}
static int ncpu;
static int cpu_a, cpu_b;		/* the two CPUs used; equal if one */
static int errors;			/* measurements that failed */

/* --- shared memory between the parent and its children --------------------- */

struct shm {
	uint64_t t0[MAXP];
	uint64_t t1[MAXP];
	volatile uint64_t count[MAXP];
	uint64_t rec_ns[MAXP], rec_n[MAXP];	/* ring: NODE_RECORD time, calls */
	uint64_t ev_ns[MAXP], ev_n[MAXP];	/* ring: NODE_EVENT time, calls */
	volatile int stop;
	char errmsg[512];
};
static struct shm *S;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = { .tv_sec = t / 1000000000ull,
			       .tv_nsec = t % 1000000000ull };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* Record a child's failure for the parent to print; returns -1. */
static int cfail(const char *fmt, ...)
{
	char buf[sizeof(S->errmsg) - 64];
	va_list ap;
	int e = errno;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (!S->errmsg[0])
		snprintf(S->errmsg, sizeof(S->errmsg), "%s (errno %d %s)", buf,
			 e, strerror(e));
	return -1;
}

static double median_of(double *v, int n);
static void keep_lat(const char *place, int hz, double *lat, double *klat,
		     int n);
static void keep_cost(const char *place, int hz, uint64_t snaps,
		      uint64_t begin_ns, uint64_t rec_n, uint64_t rec_ns,
		      uint64_t ev_n, uint64_t ev_ns);

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stdout, "snapbench: fatal: ");
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fprintf(stdout, " (errno %d %s)\n", errno, strerror(errno));
	exit(1);
}

static void pin(int cpu)
{
	cpu_set_t set;
	int i;

	CPU_ZERO(&set);
	if (cpu < 0) {
		for (i = 0; i < ncpu; i++)
			CPU_SET(i, &set);
	} else {
		CPU_SET(cpu, &set);
	}
	sched_setaffinity(0, sizeof(set), &set);
}

static void write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);

	if (fd < 0)
		return;
	if (write(fd, val, strlen(val)) < 0)
		printf("note: could not write %s to %s: %s\n", val, path,
		       strerror(errno));
	close(fd);
}

static long read_long_file(const char *path)
{
	char buf[64] = "";
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return strtol(buf, NULL, 0);
}

/* --- snapchan helpers -------------------------------------------------------- */

static void sc_name(char *dst, const char *src)
{
	memset(dst, 0, SNAPCHAN_NAME_LEN);
	memcpy(dst, src, strnlen(src, SNAPCHAN_NAME_LEN - 1));
}

static int sc_create(const char *name, const char *group, uint64_t capb,
		     uint32_t capm, uint32_t max_msg)
{
	struct snapchan_chan_create c;

	memset(&c, 0, sizeof(c));
	sc_name(c.name, name);
	if (group)
		sc_name(c.group, group);
	c.capacity_bytes = capb;
	c.capacity_msgs = capm;
	c.max_msg = max_msg;
	c.mode = 0600;
	return ioctl(ctl, SNAPCHAN_IOC_CHAN_CREATE, &c) ? -errno : 0;
}

static void sc_destroy(const char *name)
{
	struct snapchan_chan_destroy d;

	memset(&d, 0, sizeof(d));
	sc_name(d.name, name);
	if (ioctl(ctl, SNAPCHAN_IOC_CHAN_DESTROY, &d)) {
		printf("note: destroy %s: %s\n", name, strerror(errno));
		errors++;
	}
}

static int sc_open(const char *name, int flags)
{
	char path[64];

	snprintf(path, sizeof(path), "/dev/snapchan/%s", name);
	return open(path, flags);
}

static unsigned int name_seq;

/* --- endpoints: one unidirectional queue of any mechanism ------------------ */

struct ep {
	int mech;
	int wfd, rfd;
	size_t size;		/* message size */
	unsigned int cap;	/* capacity in messages */
	char name[SNAPCHAN_NAME_LEN];
};

/* Bytes a seqpacket message of @size charges to the sender (truesize). */
static long seq_truesize(size_t size)
{
	static struct { size_t size; long ts; } cache[32];
	static int ncache;
	int sv[2], big = 16 << 20, i, outq = -1;
	char *buf;

	for (i = 0; i < ncache; i++)
		if (cache[i].size == size)
			return cache[i].ts;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv))
		return -1;
	if (setsockopt(sv[0], SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big)))
		setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	buf = calloc(1, size);
	if (send(sv[0], buf, size, 0) == (ssize_t)size)
		ioctl(sv[0], SIOCOUTQ, &outq);
	free(buf);
	close(sv[0]);
	close(sv[1]);
	if (outq > 0 && ncache < (int)ARRAY_SIZE(cache)) {
		cache[ncache].size = size;
		cache[ncache++].ts = outq;
	}
	return outq;
}

/* Make exactly @msgs messages of @size fit in seqpacket socket @fd. */
static int seq_set_capacity(int fd, size_t size, unsigned int msgs)
{
	long ts = seq_truesize(size);
	long eff, val;
	int v;

	if (ts <= 0)
		return -1;
	/* A send waits while wmem_alloc >= sndbuf: k fit iff (k-1)*ts < sndbuf. */
	eff = (long)(msgs - 1) * ts + 1;
	if (eff < (long)size + 64)	/* unix_dgram: len <= sndbuf - 32 */
		eff = size + 64;
	val = (eff + 1) / 2;		/* the kernel doubles it */
	if (val > INT_MAX / 2)
		return -1;
	v = (int)val;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)) &&
	    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v)))
		return -1;
	return 0;
}

static unsigned long roundup_pow2(unsigned long v)
{
	unsigned long p = PAGE;

	while (p < v)
		p <<= 1;
	return p;
}

static int ep_open(struct ep *e, int mech, size_t size, unsigned int cap)
{
	int p[2];
	unsigned long sz;

	memset(e, 0, sizeof(*e));
	e->mech = mech;
	e->size = size;
	e->cap = cap;
	e->wfd = e->rfd = -1;
	switch (mech) {
	case M_SNAP:
		snprintf(e->name, sizeof(e->name), "sb%u", ++name_seq);
		errno = -sc_create(e->name, NULL, (uint64_t)cap * size, cap, size);
		if (errno)
			return -1;
		e->wfd = sc_open(e->name, O_WRONLY);
		e->rfd = sc_open(e->name, O_RDONLY);
		if (e->wfd < 0 || e->rfd < 0)
			return -1;
		return 0;
	case M_PIPE:
	case M_PKT:
		if (pipe2(p, mech == M_PKT ? O_DIRECT : 0))
			return -1;
		e->rfd = p[0];
		e->wfd = p[1];
		if (mech == M_PIPE)
			sz = roundup_pow2((unsigned long)cap * size);
		else
			sz = roundup_pow2((unsigned long)cap *
					  ((size + PAGE - 1) / PAGE) * PAGE);
		if (fcntl(e->wfd, F_SETPIPE_SZ, sz) < 0)
			return -1;
		return 0;
	case M_SEQ:
		if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, p))
			return -1;
		e->wfd = p[0];
		e->rfd = p[1];
		return seq_set_capacity(e->wfd, size, cap);
	case M_MQ: {
		struct mq_attr a = { .mq_maxmsg = cap, .mq_msgsize = size };
		char n[40];
		mqd_t q;

		snprintf(n, sizeof(n), "/sb%u_%d", ++name_seq, (int)getpid());
		q = mq_open(n, O_RDWR | O_CREAT | O_EXCL, 0600, &a);
		if (q == (mqd_t)-1)
			return -1;
		mq_unlink(n);
		e->wfd = e->rfd = (int)q;
		return 0;
	}
	case M_EFD:
		e->wfd = e->rfd = eventfd(0, 0);
		return e->wfd < 0 ? -1 : 0;
	}
	errno = EINVAL;
	return -1;
}

static void ep_close(struct ep *e)
{
	if (e->wfd >= 0)
		close(e->wfd);
	if (e->rfd >= 0 && e->rfd != e->wfd)
		close(e->rfd);
	e->wfd = e->rfd = -1;
	if (e->mech == M_SNAP && e->name[0])
		sc_destroy(e->name);
	e->name[0] = 0;
}

static void set_nonblock(int fd, int on)
{
	int fl = fcntl(fd, F_GETFL);

	fcntl(fd, F_SETFL, on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK));
}

/* One message out: 0 or -errno. */
static int ep_send(const struct ep *e, const void *buf)
{
	ssize_t r;

	switch (e->mech) {
	case M_SEQ:
		r = send(e->wfd, buf, e->size, 0);
		break;
	case M_MQ:
		return mq_send(e->wfd, buf, e->size, 0) ? -errno : 0;
	case M_EFD: {
		uint64_t one = 1;

		return write(e->wfd, &one, 8) == 8 ? 0 : -errno;
	}
	default:
		r = write(e->wfd, buf, e->size);
	}
	if (r == (ssize_t)e->size)
		return 0;
	return r < 0 ? -errno : -EIO;
}

/* One message in: 0 or -errno. */
static int ep_recv(const struct ep *e, void *buf)
{
	size_t got = 0;
	ssize_t r;

	switch (e->mech) {
	case M_SEQ:
		r = recv(e->rfd, buf, e->size, 0);
		break;
	case M_MQ:
		r = mq_receive(e->rfd, buf, e->size, NULL);
		break;
	case M_EFD: {
		uint64_t v;

		return read(e->rfd, &v, 8) == 8 ? 0 : -errno;
	}
	case M_PIPE:
	case M_PKT:
		/* A byte stream (or 4 KiB packets): a message is S bytes. */
		while (got < e->size) {
			r = read(e->rfd, (char *)buf + got, e->size - got);
			if (r > 0) {
				got += r;
				continue;
			}
			if (r < 0 && errno == EAGAIN && got)
				continue;
			return r < 0 ? -errno : -EIO;
		}
		return 0;
	default:
		r = read(e->rfd, buf, e->size);
	}
	if (r == (ssize_t)e->size)
		return 0;
	return r < 0 ? -errno : -EIO;
}

/* Capacity in messages for message size @size. */
static unsigned int cap_msgs(size_t size)
{
	unsigned long m = opt.cap_bytes / size;

	return m < 4 ? 4 : (unsigned int)m;
}

/* --- running a group of processes --------------------------------------------- */

struct proc {
	int cpu;
	int policy;		/* SCHED_OTHER (0) or SCHED_BATCH */
	int (*setup)(int idx, void *arg);
	int (*run)(int idx, void *arg);
	void *arg;
};

/*
 * Fork one child per @p, pinned; each runs setup, says it is ready, waits
 * for the start signal, runs.  @during (may be NULL) runs in the parent
 * after the start.  Returns 0 when every child exited 0.
 */
static int run_procs(struct proc *p, int n, void (*during)(void *), void *darg)
{
	pid_t pids[MAXP];
	int gp[2], rp[2], i, ready = 0, ret = 0, st;
	char c;

	memset(S, 0, sizeof(*S));
	if (pipe(gp) || pipe(rp))
		die("pipe");
	fflush(stdout);
	for (i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			die("fork");
		if (pids[i] == 0) {
			close(gp[1]);
			close(rp[0]);
			pin(p[i].cpu);
			if (p[i].policy) {
				struct sched_param sp = { 0 };

				if (sched_setscheduler(0, p[i].policy, &sp))
					_exit(4);
			}
			if (p[i].setup && p[i].setup(i, p[i].arg))
				_exit(2);
			if (write(rp[1], "r", 1) != 1)
				_exit(3);
			close(rp[1]);
			while (read(gp[0], &c, 1) < 0 && errno == EINTR)
				;
			_exit(p[i].run(i, p[i].arg) ? 1 : 0);
		}
	}
	close(rp[1]);
	close(gp[0]);
	while (ready < n) {
		ssize_t r = read(rp[0], &c, 1);

		if (r == 1)
			ready++;
		else if (r == 0 || errno != EINTR)
			break;
	}
	close(rp[0]);
	if (ready < n) {
		for (i = 0; i < n; i++)
			kill(pids[i], SIGKILL);
		ret = -1;
	}
	close(gp[1]);		/* go */
	if (!ret && during)
		during(darg);
	for (i = 0; i < n; i++) {
		while (waitpid(pids[i], &st, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			ret = -1;
	}
	if (ret) {
		printf("note: measurement failed: %s\n",
		       S->errmsg[0] ? S->errmsg : "a child failed");
		errors++;
	}
	return ret;
}

/*
 * Spinners: one SCHED_IDLE busy loop per CPU while a cross-CPU measurement
 * runs, so that no vCPU halts (as idle=poll does).  A halted TCG vCPU is a
 * host thread asleep, and waking it through the loaded host costs
 * milliseconds, which would swamp what is measured.  SCHED_IDLE tasks give
 * way at once to anything else.
 */
static volatile int *spin_stop;
static pid_t spinners[2];

static void spin_start(void)
{
	int i, cpus[2] = { cpu_a, cpu_b };

	if (!opt.spin || cpu_a == cpu_b)
		return;
	*spin_stop = 0;
	for (i = 0; i < 2; i++) {
		spinners[i] = fork();
		if (spinners[i] == 0) {
			struct sched_param sp = { 0 };

			pin(cpus[i]);
			sched_setscheduler(0, SCHED_IDLE, &sp);
			while (!*spin_stop)
				__asm__ __volatile__("pause");
			_exit(0);
		}
	}
}

static void spin_stop_all(void)
{
	int i, st;

	if (!opt.spin || cpu_a == cpu_b)
		return;
	*spin_stop = 1;
	for (i = 0; i < 2; i++)
		if (spinners[i] > 0)
			while (waitpid(spinners[i], &st, 0) < 0 && errno == EINTR)
				;
}

/* Wall time from the first start to the last end among @n children. */
static double span_ns(int n)
{
	uint64_t a = UINT64_MAX, b = 0;
	int i;

	for (i = 0; i < n; i++) {
		if (S->t0[i] && S->t0[i] < a)
			a = S->t0[i];
		if (S->t1[i] > b)
			b = S->t1[i];
	}
	return b > a ? (double)(b - a) : 0;
}

/* --- results ---------------------------------------------------------------- */

struct res {
	int round;
	const char *wl;
	char mech[16];
	int size;
	int param;
	const char *place;
	uint64_t n;
	double ns;
	double value;
	const char *unit;
};
static struct res *res;
static int nres, capres;

static void add_res(int round, const char *wl, const char *mech, int size,
		    int param, const char *place, uint64_t n, double ns,
		    double value, const char *unit)
{
	struct res *r;

	if (nres == capres) {
		capres = capres ? 2 * capres : 1024;
		res = realloc(res, capres * sizeof(*res));
		if (!res)
			die("realloc");
	}
	r = &res[nres++];
	r->round = round;
	r->wl = wl;
	snprintf(r->mech, sizeof(r->mech), "%s", mech);
	r->size = size;
	r->param = param;
	r->place = place;
	r->n = n;
	r->ns = ns;
	r->value = value;
	r->unit = unit;
}

/* --- workload cells ---------------------------------------------------------------- */

enum wl {
	W_ONETASK, W_HALVES, W_PINGPONG, W_STREAM, W_BATCH, W_MULTI, W_CAPTURE,
	W_MARKERS, W_RING, W_MEMORY,
};

/* Methods of the batch workload. */
enum { B_SNAP, B_MQ, B_PIPE, NBATCH };
static const char *const batch_name[NBATCH] = {
	"snapchan-batch", "mq", "pipe-4k",
};
static const int batch_mech[NBATCH] = { M_SNAP, M_MQ, M_PIPE };

enum { CAP_TAKE, CAP_READ, CAP_DRAIN, CAP_TEE, CAP_PKTTEE, CAP_PEEK, NCAP };
static const char *const cap_name[NCAP] = {
	"capture", "capture+read", "drain", "pipe-tee", "pkt-tee", "seq-peek",
};

#define MAXM 8
struct cell {
	enum wl wl;
	const char *wname;	/* CSV workload name */
	int size;
	int param;		/* writers, depth, epoll, ... */
	const char *place;	/* "same", "cross", "cpu0" */
	int nm;
	int m[MAXM];		/* method codes */
	uint64_t n;		/* count per measurement (after the pilot) */
	double worst_ns;	/* slowest method this round */
	uint64_t nmin, nmax;
};

static struct cell cells[256];
static int ncells;

static const char *method_name(const struct cell *c, int m)
{
	static char buf[MAXM][16];
	static int k;

	switch (c->wl) {
	case W_CAPTURE:
		return cap_name[m];
	case W_BATCH:
		return batch_name[m];
	case W_MARKERS:
		if (!m)
			return "none";
		k = (k + 1) % MAXM;
		snprintf(buf[k], sizeof(buf[k]), "every-%d", m);
		return buf[k];
	case W_RING:
		k = (k + 1) % MAXM;
		snprintf(buf[k], sizeof(buf[k]), "%dHz", m);
		return buf[k];
	default:
		return mech_name[m];
	}
}

/* --- workload: one task, write then read ------------------------------------- */

struct loop_arg {
	struct ep *a, *b;	/* a: the (first) queue, b: the way back */
	uint64_t n;
	int writers;
	int epoll;
	int every;		/* markers: one per @every messages */
};

static int onetask_run(int idx, void *arg)
{
	struct loop_arg *la = arg;
	char *buf = calloc(1, la->a->size + 8);
	uint64_t i;
	int r;

	S->t0[idx] = now_ns();
	for (i = 0; i < la->n; i++) {
		r = ep_send(la->a, buf);
		if (!r)
			r = ep_recv(la->a, buf);
		if (r) {
			errno = -r;
			return cfail("onetask %s", mech_name[la->a->mech]);
		}
	}
	S->t1[idx] = now_ns();
	return 0;
}

/* halves: time filling the queue with n messages, then draining them. */
static int halves_run_timed(int idx, void *arg)
{
	struct loop_arg *la = arg;
	char *buf = calloc(1, la->a->size + 8);
	uint64_t i, t0, t1, t2;
	int r;

	t0 = now_ns();
	for (i = 0; i < la->n; i++) {
		r = ep_send(la->a, buf);
		if (r) {
			errno = -r;
			return cfail("fill %s", mech_name[la->a->mech]);
		}
	}
	t1 = now_ns();
	for (i = 0; i < la->n; i++) {
		r = ep_recv(la->a, buf);
		if (r) {
			errno = -r;
			return cfail("drain %s", mech_name[la->a->mech]);
		}
	}
	t2 = now_ns();
	S->count[0] = t1 - t0;
	S->count[1] = t2 - t1;
	S->t0[idx] = t0;
	S->t1[idx] = t2;
	return 0;
}

/* --- workload: ping-pong ---------------------------------------------------------- */

static int epoll_for(int fd)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int ep = epoll_create1(0);

	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
		return -1;
	set_nonblock(fd, 1);
	return ep;
}

static int recv_wait(const struct ep *e, int epfd, void *buf)
{
	struct epoll_event ev;
	int r;

	if (epfd < 0)
		return ep_recv(e, buf);
	for (;;) {
		if (epoll_wait(epfd, &ev, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		r = ep_recv(e, buf);
		if (r != -EAGAIN)
			return r;
	}
}

static int ping_run(int idx, void *arg)
{
	struct loop_arg *la = arg;
	char *buf = calloc(1, la->a->size + 8);
	int epfd = la->epoll ? epoll_for(la->b->rfd) : -1;
	uint64_t i;
	int r;

	if (la->epoll && epfd < 0)
		return cfail("epoll");
	S->t0[idx] = now_ns();
	for (i = 0; i < la->n; i++) {
		r = ep_send(la->a, buf);
		if (!r)
			r = recv_wait(la->b, epfd, buf);
		if (r) {
			errno = -r;
			return cfail("ping %s", mech_name[la->a->mech]);
		}
	}
	S->t1[idx] = now_ns();
	return 0;
}

static int pong_run(int idx, void *arg)
{
	struct loop_arg *la = arg;
	char *buf = calloc(1, la->a->size + 8);
	int epfd = la->epoll ? epoll_for(la->a->rfd) : -1;
	uint64_t i;
	int r;

	if (la->epoll && epfd < 0)
		return cfail("epoll");
	for (i = 0; i < la->n; i++) {
		r = recv_wait(la->a, epfd, buf);
		if (!r)
			r = ep_send(la->b, buf);
		if (r) {
			errno = -r;
			return cfail("pong %s", mech_name[la->a->mech]);
		}
	}
	return 0;
}

/* --- workload: streaming, 1..4 writers, and markers ------------------------------ */

static int mark(int fd, uint64_t id)
{
	struct snapchan_mark m = { .snap_id = id };

	for (;;) {
		if (!ioctl(fd, SNAPCHAN_IOC_MARK, &m))
			return 0;
		if (errno != ENOBUFS)
			return -1;
		sched_yield();		/* max_markers queued: let the reader run */
	}
}

static int writer_run(int idx, void *arg)
{
	struct loop_arg *la = arg;
	char *buf = calloc(1, la->a->size + 8);
	uint64_t i, n = la->n / la->writers;
	uint32_t stamp;
	uint64_t marks = 0;
	unsigned int countdown = la->every;	/* no division per message */
	int r;

	if (idx == 1)
		n += la->n % la->writers;
	S->t0[idx] = now_ns();
	for (i = 0; i < n; i++) {
		stamp = (uint32_t)idx << 24 | (uint32_t)(i & 0xffffff);
		memcpy(buf, &stamp, 4);
		r = ep_send(la->a, buf);
		if (r) {
			errno = -r;
			return cfail("write %s", mech_name[la->a->mech]);
		}
		if (countdown && !--countdown) {
			countdown = la->every;
			if (i + 1 < n && mark(la->a->wfd, ++marks))
				return cfail("SNAPCHAN_IOC_MARK");
		}
	}
	S->t1[idx] = now_ns();
	S->count[idx] = marks;
	return 0;
}

static int reader_run(int idx, void *arg)
{
	struct loop_arg *la = arg;
	char *buf = calloc(1, la->a->size + 8);
	uint32_t next[MAXP] = { 0 }, stamp, w;
	uint64_t i = 0, markers = 0;
	int r;

	S->t0[idx] = now_ns();
	while (i < la->n) {
		r = ep_recv(la->a, buf);
		if (r == -ENOMSG && la->a->mech == M_SNAP) {
			/* A user marker at the head: take it with RECV. */
			struct snapchan_recv rv;

			memset(&rv, 0, sizeof(rv));
			if (ioctl(la->a->rfd, SNAPCHAN_IOC_RECV, &rv) ||
			    rv.type != SNAPCHAN_REC_MARKER)
				return cfail("RECV marker");
			markers++;
			continue;
		}
		if (r) {
			errno = -r;
			return cfail("read %s", mech_name[la->a->mech]);
		}
		memcpy(&stamp, buf, 4);
		w = stamp >> 24;
		if (w >= MAXP || (stamp & 0xffffff) != (next[w] & 0xffffff)) {
			errno = EPROTO;
			return cfail("%s: writer %u message %u, expected %u",
				     mech_name[la->a->mech], w, stamp & 0xffffff,
				     next[w] & 0xffffff);
		}
		next[w]++;
		i++;
	}
	S->t1[idx] = now_ns();
	S->count[idx] = markers;
	return 0;
}

/* --- workload: batch calls, 64 B, beside mq and a byte pipe ------------------ */

/*
 * Check message @i of writer 1 at @p: its stamp.  0, or -1 with the
 * failure recorded.
 */
static int stamp_check(const void *p, uint32_t want, const char *what)
{
	uint32_t stamp;

	memcpy(&stamp, p, 4);
	if (stamp == (1u << 24 | (want & 0xffffff)))
		return 0;
	errno = EPROTO;
	return cfail("%s: message %#x, expected %#x", what, stamp,
		     1u << 24 | (want & 0xffffff));
}

/* Writer: SEND_BATCH of up to -b messages, or -b messages per pipe write. */
static int batch_writer_run(int idx, void *arg)
{
	struct loop_arg *la = arg;
	const struct ep *e = la->a;
	unsigned int B = opt.batch_n, k, off;
	struct snapchan_send_msg *m = calloc(B, sizeof(*m));
	char *buf = calloc(B, e->size);
	uint64_t i = 0, calls = 0;
	ssize_t r;

	if (!m || !buf)
		return cfail("calloc");
	for (k = 0; k < B; k++) {
		m[k].buf = (uintptr_t)(buf + (size_t)k * e->size);
		m[k].len = e->size;
	}
	S->t0[idx] = now_ns();
	while (i < la->n) {
		unsigned int nr = la->n - i < B ? (unsigned int)(la->n - i) : B;

		for (k = 0; k < nr; k++) {
			uint32_t stamp = 1u << 24 | (uint32_t)((i + k) & 0xffffff);

			memcpy(buf + (size_t)k * e->size, &stamp, 4);
		}
		if (e->mech == M_SNAP) {
			for (off = 0; off < nr; ) {
				struct snapchan_batch b = {
					.msgs = (uintptr_t)(m + off), .nr = nr - off,
				};
				int got = ioctl(e->wfd, SNAPCHAN_IOC_SEND_BATCH, &b);

				calls++;
				if (got <= 0) {
					if (got < 0 && errno == EINTR)
						continue;
					return cfail("SEND_BATCH");
				}
				off += got;
			}
		} else {	/* a byte pipe: the same bytes in one write */
			size_t want = (size_t)nr * e->size, done = 0;

			while (done < want) {
				r = write(e->wfd, buf + done, want - done);
				calls++;
				if (r <= 0) {
					if (r < 0 && errno == EINTR)
						continue;
					return cfail("write pipe");
				}
				done += r;
			}
		}
		i += nr;
	}
	S->t1[idx] = now_ns();
	S->count[idx] = calls;
	free(m);
	free(buf);
	return 0;
}

/* Reader: RECV_BATCH of up to -b records, or pipe reads of -b x 64 B. */
static int batch_reader_run(int idx, void *arg)
{
	struct loop_arg *la = arg;
	const struct ep *e = la->a;
	unsigned int B = opt.batch_n, k;
	size_t chunk = (size_t)B * e->size, have = 0;
	struct snapchan_recv *rv = calloc(B, sizeof(*rv));
	char *buf = calloc(B + 1, e->size);
	uint64_t i = 0, calls = 0;
	ssize_t r;

	if (!rv || !buf)
		return cfail("calloc");
	for (k = 0; k < B; k++) {
		rv[k].buf = (uintptr_t)(buf + (size_t)k * e->size);
		rv[k].buf_len = e->size;
	}
	S->t0[idx] = now_ns();
	while (i < la->n) {
		if (e->mech == M_SNAP) {
			unsigned int nr = la->n - i < B ? (unsigned int)(la->n - i) : B;
			struct snapchan_batch b = { .msgs = (uintptr_t)rv, .nr = nr };
			int got = ioctl(e->rfd, SNAPCHAN_IOC_RECV_BATCH, &b);

			calls++;
			if (got <= 0) {
				if (got < 0 && errno == EINTR)
					continue;
				return cfail("RECV_BATCH");
			}
			for (k = 0; k < (unsigned int)got; k++, i++) {
				if (rv[k].type != SNAPCHAN_REC_DATA ||
				    rv[k].len != e->size) {
					errno = EPROTO;
					return cfail("RECV_BATCH entry %u: type %u len %u",
						     k, rv[k].type, rv[k].len);
				}
				if (stamp_check((char *)(uintptr_t)rv[k].buf,
						(uint32_t)i, "snapchan-batch"))
					return -1;
			}
			continue;
		}
		/* The pipe: reads of up to -b x 64 B; a message may straddle two. */
		r = read(e->rfd, buf + have, chunk - have);
		calls++;
		if (r <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			return cfail("read pipe");
		}
		have += r;
		for (k = 0; (k + 1) * e->size <= have; k++, i++)
			if (stamp_check(buf + (size_t)k * e->size, (uint32_t)i,
					"pipe-4k"))
				return -1;
		have -= (size_t)k * e->size;
		memmove(buf, buf + (size_t)k * e->size, have);
	}
	S->t1[idx] = now_ns();
	S->count[idx] = calls;
	free(rv);
	free(buf);
	return 0;
}

/* --- workload: capture and its alternatives ------------------------------------ */

struct cap_arg {
	int method;
	unsigned int depth;
	unsigned int capm;	/* channel capacity in messages */
	uint64_t reps;
	struct ep q;		/* the queue holding @depth messages */
	struct ep q2;		/* tee destination */
};

static int fill(struct ep *e, unsigned int n)
{
	char buf[64] = { 0 };
	unsigned int i;
	int r;

	for (i = 0; i < n; i++) {
		r = ep_send(e, buf);
		if (r) {
			errno = -r;
			return -1;
		}
	}
	return 0;
}

static int cap_run(int idx, void *arg)
{
	struct cap_arg *ca = arg;
	static char big[1 << 16];
	char buf[64];
	uint64_t rep, total = 0, t;
	unsigned int i;
	int zero = 0;

	for (rep = 0; rep < ca->reps; rep++) {
		switch (ca->method) {
		case CAP_TAKE:
		case CAP_READ: {
			struct snapchan_capture c;
			ssize_t r;
			int fd;

			memset(&c, 0, sizeof(c));
			t = now_ns();
			fd = ioctl(ca->q.rfd, SNAPCHAN_IOC_CAPTURE, &c);
			if (fd < 0)
				return cfail("CAPTURE");
			if (ca->method == CAP_READ) {
				uint64_t got = 0;

				while ((r = read(fd, big, sizeof(big))) > 0)
					got += r;
				if (r < 0 || got != c.stream_len)
					return cfail("capture read %llu of %llu",
						     (unsigned long long)got,
						     (unsigned long long)c.stream_len);
			}
			close(fd);
			total += now_ns() - t;
			if (c.count != ca->depth) {
				errno = EPROTO;
				return cfail("capture count %llu, expected %u",
					     (unsigned long long)c.count, ca->depth);
			}
			break;
		}
		case CAP_DRAIN:
			t = now_ns();
			for (i = 0; i < ca->depth; i++)
				if (ep_recv(&ca->q, buf))
					return cfail("drain");
			total += now_ns() - t;
			if (fill(&ca->q, ca->depth))
				return cfail("refill");
			break;
		case CAP_TEE:
		case CAP_PKTTEE: {
			size_t want = (size_t)ca->depth * 64, got = 0;
			ssize_t r;

			t = now_ns();
			r = tee(ca->q.rfd, ca->q2.wfd, want, SPLICE_F_NONBLOCK);
			if (r != (ssize_t)want)
				return cfail("tee %zd of %zu", r, want);
			if (ca->method == CAP_TEE) {
				while (got < want) {
					r = read(ca->q2.rfd, big, sizeof(big));
					if (r <= 0)
						return cfail("read tee");
					got += r;
				}
			} else {
				for (i = 0; i < ca->depth; i++)
					if (read(ca->q2.rfd, buf, 64) != 64)
						return cfail("read pkt tee");
			}
			total += now_ns() - t;
			break;
		}
		case CAP_PEEK:
			t = now_ns();
			if (setsockopt(ca->q.rfd, SOL_SOCKET, SO_PEEK_OFF, &zero,
				       sizeof(zero)))
				return cfail("SO_PEEK_OFF");
			for (i = 0; i < ca->depth; i++)
				if (recv(ca->q.rfd, buf, 64, MSG_PEEK) != 64)
					return cfail("peek");
			total += now_ns() - t;
			break;
		}
	}
	S->t0[idx] = 1;
	S->t1[idx] = 1 + total;
	return 0;
}

static int cap_prepare(struct cap_arg *ca)
{
	int mech;

	switch (ca->method) {
	case CAP_TAKE:
	case CAP_READ:
	case CAP_DRAIN:
		mech = M_SNAP;
		break;
	case CAP_TEE:
		mech = M_PIPE;
		break;
	case CAP_PKTTEE:
		mech = M_PKT;
		break;
	default:
		mech = M_SEQ;
	}
	if (ep_open(&ca->q, mech, 64, ca->capm))
		return -1;
	ca->q2.wfd = ca->q2.rfd = -1;
	if ((mech == M_PIPE || mech == M_PKT) &&
	    ep_open(&ca->q2, mech, 64, ca->capm))
		return -1;
	return fill(&ca->q, ca->depth);
}

/* --- workload: ring of 8 nodes with snapshots ----------------------------------- */

struct ring_arg {
	char group[SNAPCHAN_NAME_LEN];
	char chan[RING_NODES][SNAPCHAN_NAME_LEN];	/* chan[i]: node i -> i+1 */
	int hz;
	unsigned int tokens;
	/* node side */
	int idx, in, out, node;
	uint64_t begin_ns;	/* time inside SNAP_BEGIN, summed */
	/* results */
	uint64_t fwd;
	double secs;
	unsigned int snaps, aborted;
	double *lat, *klat;	/* user and kernel latencies, ns */
	unsigned int nlat, maxlat;
};

static int ring_setup(int idx, void *arg)
{
	struct ring_arg *ra = arg;
	struct snapchan_node_join j;
	struct snapchan_node_attach a;
	int prev = (idx + RING_NODES - 1) % RING_NODES;

	ra->idx = idx;

	ra->in = sc_open(ra->chan[prev], O_RDONLY | O_NONBLOCK);
	ra->out = sc_open(ra->chan[idx], O_WRONLY);
	if (ra->in < 0 || ra->out < 0)
		return cfail("ring open");
	memset(&j, 0, sizeof(j));
	sc_name(j.group, ra->group);
	snprintf(j.name, sizeof(j.name), "n%d", idx);
	ra->node = ioctl(ctl, SNAPCHAN_IOC_NODE_JOIN, &j);
	if (ra->node < 0)
		return cfail("NODE_JOIN");
	memset(&a, 0, sizeof(a));
	a.chan_fd = ra->in;
	if (ioctl(ra->node, SNAPCHAN_IOC_NODE_ATTACH, &a))
		return cfail("NODE_ATTACH in");
	a.chan_fd = ra->out;
	if (ioctl(ra->node, SNAPCHAN_IOC_NODE_ATTACH, &a))
		return cfail("NODE_ATTACH out");
	return 0;
}

static int ring_record(struct ring_arg *ra, uint64_t id, uint64_t state)
{
	struct snapchan_node_record r;
	uint64_t t;
	int ret;

	memset(&r, 0, sizeof(r));
	r.snap_id = id;
	r.state = (uintptr_t)&state;
	r.state_len = sizeof(state);
	t = now_ns();
	ret = ioctl(ra->node, SNAPCHAN_IOC_NODE_RECORD, &r);
	S->rec_ns[ra->idx] += now_ns() - t;
	S->rec_n[ra->idx]++;
	if (!ret)
		return 0;
	if (errno == EALREADY || errno == ECANCELED || errno == ENOENT)
		return 0;
	return cfail("NODE_RECORD %llu", (unsigned long long)id);
}

static int ring_run(int idx, void *arg)
{
	struct ring_arg *ra = arg;
	struct pollfd pfd[2];
	char buf[64] = { 0 };
	uint64_t fwd = 0;
	unsigned int t;
	ssize_t r;

	/* Node i injects its share of the tokens. */
	for (t = idx; t < ra->tokens; t += RING_NODES)
		if (write(ra->out, buf, sizeof(buf)) != sizeof(buf))
			return cfail("ring inject");
	pfd[0].fd = ra->in;
	pfd[0].events = POLLIN | POLLPRI;
	pfd[1].fd = ra->node;
	pfd[1].events = POLLPRI;
	while (!S->stop) {
		if (poll(pfd, 2, 50) < 0) {
			if (errno == EINTR)
				continue;
			return cfail("ring poll");
		}
		if (pfd[1].revents & POLLPRI) {
			struct snapchan_node_event ev;

			for (;;) {
				uint64_t t = now_ns();
				int e;

				memset(&ev, 0, sizeof(ev));
				e = ioctl(ra->node, SNAPCHAN_IOC_NODE_EVENT, &ev);
				S->ev_ns[idx] += now_ns() - t;
				S->ev_n[idx]++;
				if (e)
					return cfail("NODE_EVENT");
				if (ev.type != SNAPCHAN_EVENT_RECORD)
					break;
				if (ring_record(ra, ev.snap_id, fwd))
					return -1;
			}
		}
		if (!(pfd[0].revents & (POLLIN | POLLPRI)))
			continue;
		for (;;) {
			r = read(ra->in, buf, sizeof(buf));
			if (r >= 0) {
				if (write(ra->out, buf, r) != r)
					return cfail("ring forward");
				S->count[idx] = ++fwd;
				continue;
			}
			if (errno == EAGAIN)
				break;
			if (errno == ENOMSG) {
				struct snapchan_recv rv;

				memset(&rv, 0, sizeof(rv));
				rv.flags = SNAPCHAN_RECV_PEEK;
				if (ioctl(ra->in, SNAPCHAN_IOC_RECV, &rv))
					return cfail("RECV peek");
				if (rv.type == SNAPCHAN_REC_MARKER &&
				    ring_record(ra, rv.snap_id, fwd))
					return -1;
				continue;
			}
			return cfail("ring read");
		}
	}
	return 0;
}

static uint64_t ring_count(void)
{
	uint64_t s = 0;
	int i;

	for (i = 0; i < RING_NODES; i++)
		s += S->count[i];
	return s;
}

static void ring_control(void *arg)
{
	struct ring_arg *ra = arg;
	uint64_t t0, t1, c0, c1, end, next, period, b, e;
	struct snapchan_snap_begin sb;
	struct snapchan_snap_info si;
	struct pollfd pfd;
	int fd;

	sleep_until(now_ns() + 100000000ull);	/* warm up */
	c0 = ring_count();
	t0 = now_ns();
	end = t0 + (uint64_t)(opt.ring_s * 1e9);
	if (ra->hz) {
		period = 1000000000ull / ra->hz;
		for (next = t0; next < end; ) {
			sleep_until(next);
			memset(&sb, 0, sizeof(sb));
			sc_name(sb.group, ra->group);
			b = now_ns();
			fd = ioctl(ctl, SNAPCHAN_IOC_SNAP_BEGIN, &sb);
			ra->begin_ns += now_ns() - b;
			if (fd < 0) {
				printf("note: SNAP_BEGIN: %s\n", strerror(errno));
				errors++;
				break;
			}
			pfd.fd = fd;
			pfd.events = POLLIN;
			while (poll(&pfd, 1, 30000) < 0 && errno == EINTR)
				;
			e = now_ns();
			ra->snaps++;
			if (!(pfd.revents & POLLIN)) {
				ra->aborted++;
			} else if (ra->nlat < ra->maxlat) {
				memset(&si, 0, sizeof(si));
				ra->lat[ra->nlat] = (double)(e - b);
				ra->klat[ra->nlat] = 0;
				if (!ioctl(fd, SNAPCHAN_IOC_SNAP_INFO, &si) &&
				    si.end_ns > si.begin_ns)
					ra->klat[ra->nlat] =
						(double)(si.end_ns - si.begin_ns);
				ra->nlat++;
			}
			close(fd);
			next += period;
			if (next < now_ns())	/* overran: next tick from now */
				next = now_ns();
		}
	} else {
		sleep_until(end);
	}
	t1 = now_ns();
	c1 = ring_count();
	ra->fwd = c1 - c0;
	ra->secs = (t1 - t0) / 1e9;
	S->stop = 1;
}

/* --- memory ------------------------------------------------------------------ */

struct meminfo {
	long slab_kb, free_kb;
	long pcp_pages;		/* pages on per-CPU free lists (zoneinfo) */
};

static long read_pcp_pages(void)
{
	char line[256];
	FILE *f = fopen("/proc/zoneinfo", "r");
	long n = 0, v;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, " count: %ld", &v) == 1)
			n += v;
	fclose(f);
	return n;
}

static void read_meminfo(struct meminfo *m)
{
	char line[256];
	FILE *f = fopen("/proc/meminfo", "r");

	m->slab_kb = m->free_kb = -1;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "Slab: %ld", &m->slab_kb);
		sscanf(line, "MemFree: %ld", &m->free_kb);
	}
	fclose(f);
	m->pcp_pages = read_pcp_pages();
}

struct slabent {
	char name[40];
	long long bytes;	/* active_objs * objsize */
};

static int read_slabinfo(struct slabent *s, int max)
{
	char line[512];
	FILE *f = fopen("/proc/slabinfo", "r");
	int n = 0;
	long act, num, osz;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f) && n < max) {
		if (sscanf(line, "%39s %ld %ld %ld", s[n].name, &act, &num,
			   &osz) != 4)
			continue;
		s[n].bytes = (long long)act * osz;
		n++;
	}
	fclose(f);
	return n;
}

static char slab_notes[1024];

/* Note the caches that grew most between two slabinfo snapshots. */
static void slab_diff(struct slabent *a, int na, struct slabent *b, int nb,
		      unsigned int msgs, const char *what)
{
	struct { const char *name; long long d; } top[5] = { { 0 } };
	int i, j, k;
	size_t n;

	for (i = 0; i < nb; i++) {
		long long d = b[i].bytes;

		for (j = 0; j < na; j++)
			if (!strcmp(a[j].name, b[i].name)) {
				d -= a[j].bytes;
				break;
			}
		for (k = 0; k < 4; k++)
			if (d > top[k].d) {
				memmove(&top[k + 1], &top[k],
					(3 - k) * sizeof(top[0]));
				top[k].name = b[i].name;
				top[k].d = d;
				break;
			}
	}
	n = strlen(slab_notes);
	n += snprintf(slab_notes + n, sizeof(slab_notes) - n,
		      "  slabinfo growth for %u queued %s:", msgs, what);
	for (k = 0; k < 4 && top[k].name && n < sizeof(slab_notes); k++)
		n += snprintf(slab_notes + n, sizeof(slab_notes) - n,
			      " %s +%.1f B/msg", top[k].name,
			      (double)top[k].d / msgs);
	if (n < sizeof(slab_notes))
		snprintf(slab_notes + n, sizeof(slab_notes) - n, "\n");
}

static struct slabent slab_a[512], slab_b[512];

/* Kernel bytes per queued message: slab and MemFree deltas. */
static int mem_measure(int mech, size_t size, unsigned int n, int show,
		       double *slab, double *total)
{
	struct meminfo a, b;
	struct ep e;
	char *buf = calloc(1, size);
	int na = 0, nb, r = 0;
	unsigned int i;

	pin(cpu_a);
	if (ep_open(&e, mech, size, n)) {
		printf("note: memory %s %zu x %u: setup: %s\n", mech_name[mech],
		       size, n, strerror(errno));
		ep_close(&e);
		free(buf);
		pin(-1);
		errors++;
		return -1;
	}
	set_nonblock(e.wfd, 1);
	if (show)
		na = read_slabinfo(slab_a, ARRAY_SIZE(slab_a));
	read_meminfo(&a);
	for (i = 0; i < n; i++) {
		r = ep_send(&e, buf);
		if (r)
			break;
	}
	read_meminfo(&b);
	if (show) {
		nb = read_slabinfo(slab_b, ARRAY_SIZE(slab_b));
		if (!r)
			slab_diff(slab_a, na, slab_b, nb, n, mech_name[mech]);
	}
	ep_close(&e);
	free(buf);
	pin(-1);
	if (r) {
		printf("note: memory %s: queue full after %u of %u: %s\n",
		       mech_name[mech], i, n, strerror(-r));
		errors++;
		return -1;
	}
	*slab = (b.slab_kb - a.slab_kb) * 1024.0 / n;
	/* Free pages include those on the per-CPU lists, not in MemFree. */
	*total = ((a.free_kb - b.free_kb) * 1024.0 +
		  (double)(a.pcp_pages - b.pcp_pages) * PAGE) / n;
	return 0;
}

/* --- measuring one cell x method ------------------------------------------- */

static const char *place_cpu_name(int cross)
{
	return cross ? "cross" : "same";
}

/*
 * Run method @m of cell @c with count @n; on success store the value
 * (in the cell's unit) and return 0.  @round < 0: pilot, nothing recorded.
 */
static int measure1(struct cell *c, int m, uint64_t n, int round, double *out);

static int measure(struct cell *c, int m, uint64_t n, int round, double *out)
{
	int cross = !strcmp(c->place, "cross"), ret;

	if (cross)
		spin_start();
	ret = measure1(c, m, n, round, out);
	if (cross)
		spin_stop_all();
	return ret;
}

static int measure1(struct cell *c, int m, uint64_t n, int round, double *out)
{
	struct proc p[MAXP];
	struct loop_arg la = { .n = n };
	struct ep a, b;
	double ns = 0, v = 0;
	int cross = !strcmp(c->place, "cross");
	int i, ret = -1, np, pol;
	const char *unit = "";
	char mname[16];

	snprintf(mname, sizeof(mname), "%s", method_name(c, m));
	memset(p, 0, sizeof(p));
	a.wfd = a.rfd = b.wfd = b.rfd = -1;
	a.mech = b.mech = -1;
	a.name[0] = b.name[0] = 0;

	switch (c->wl) {
	case W_ONETASK:
		if (ep_open(&a, m, c->size, cap_msgs(c->size)))
			goto setup_fail;
		la.a = &a;
		p[0] = (struct proc){ cpu_a, 0, NULL, onetask_run, &la };
		if (run_procs(p, 1, NULL, NULL))
			break;
		ns = span_ns(1);
		v = ns / n;
		unit = "ns/op";
		ret = 0;
		break;
	case W_HALVES:
		if (ep_open(&a, m, c->size, n))
			goto setup_fail;
		la.a = &a;
		p[0] = (struct proc){ cpu_a, 0, NULL, halves_run_timed, &la };
		if (run_procs(p, 1, NULL, NULL))
			break;
		ns = span_ns(1);
		v = (double)S->count[c->param] / n;
		unit = "ns/msg";
		ret = 0;
		break;
	case W_PINGPONG:
		if (ep_open(&a, m, c->size, cap_msgs(c->size)) ||
		    ep_open(&b, m, c->size, cap_msgs(c->size)))
			goto setup_fail;
		la.a = &a;
		la.b = &b;
		la.epoll = c->param;
		p[0] = (struct proc){ cpu_a, 0, NULL, ping_run, &la };
		p[1] = (struct proc){ cross ? cpu_b : cpu_a, 0, NULL, pong_run, &la };
		if (run_procs(p, 2, NULL, NULL))
			break;
		ns = (double)(S->t1[0] - S->t0[0]);
		v = ns / n;
		unit = "ns/rt";
		ret = 0;
		break;
	case W_STREAM:
	case W_MULTI:
	case W_MARKERS:
		if (ep_open(&a, c->wl == W_MARKERS ? M_SNAP : m, c->size,
			    c->wl == W_MARKERS ? 1000 : cap_msgs(c->size)))
			goto setup_fail;
		la.a = &a;
		la.writers = c->wl == W_MULTI ? c->param : 1;
		la.every = c->wl == W_MARKERS ? m : 0;
		pol = !cross && opt.batch && c->wl != W_MULTI ? SCHED_BATCH : 0;
		p[0] = (struct proc){ cross ? cpu_b : cpu_a, pol, NULL, reader_run, &la };
		for (i = 1; i <= la.writers; i++)
			p[i] = (struct proc){ cpu_a, pol, NULL, writer_run, &la };
		np = la.writers + 1;
		if (run_procs(p, np, NULL, NULL))
			break;
		if (la.every && S->count[0] != S->count[1]) {
			printf("note: markers sent %llu, received %llu\n",
			       (unsigned long long)S->count[1],
			       (unsigned long long)S->count[0]);
			errors++;
			break;
		}
		ns = span_ns(np);
		v = n / (ns / 1e9);
		unit = "msgs/s";
		ret = 0;
		break;
	case W_BATCH: {
		int (*wr)(int, void *) = m == B_MQ ? writer_run : batch_writer_run;
		int (*rd)(int, void *) = m == B_MQ ? reader_run : batch_reader_run;

		if (ep_open(&a, batch_mech[m], c->size, cap_msgs(c->size)))
			goto setup_fail;
		la.a = &a;
		la.writers = 1;
		pol = !cross && opt.batch ? SCHED_BATCH : 0;
		p[0] = (struct proc){ cross ? cpu_b : cpu_a, pol, NULL, rd, &la };
		p[1] = (struct proc){ cpu_a, pol, NULL, wr, &la };
		if (run_procs(p, 2, NULL, NULL))
			break;
		ns = span_ns(2);
		v = n / (ns / 1e9);
		unit = "msgs/s";
		ret = 0;
		/* Messages per receiving and per sending call (batching). */
		if (round >= 0 && m != B_MQ && S->count[0] && S->count[1]) {
			add_res(round, "batch-recv-fill", mname, c->size, c->param,
				c->place, S->count[0], 0, (double)n / S->count[0],
				"msgs/call");
			add_res(round, "batch-send-fill", mname, c->size, c->param,
				c->place, S->count[1], 0, (double)n / S->count[1],
				"msgs/call");
		}
		break;
	}
	case W_CAPTURE: {
		struct cap_arg ca = { .method = m, .depth = c->param,
				      .capm = c->size, .reps = n };

		ca.q.wfd = ca.q.rfd = ca.q2.wfd = ca.q2.rfd = -1;
		if (cap_prepare(&ca)) {
			printf("note: capture %s depth %u setup: %s\n",
			       cap_name[m], ca.depth, strerror(errno));
			errors++;
			ep_close(&ca.q);
			ep_close(&ca.q2);
			return -1;
		}
		p[0] = (struct proc){ cpu_a, 0, NULL, cap_run, &ca };
		if (!run_procs(p, 1, NULL, NULL)) {
			ns = span_ns(1);
			v = ns / n / 1000.0;
			unit = "us/op";
			ret = 0;
		}
		ep_close(&ca.q);
		ep_close(&ca.q2);
		break;
	}
	case W_RING: {
		static unsigned int ring_seq;
		struct ring_arg ra;
		int k;

		memset(&ra, 0, sizeof(ra));
		snprintf(ra.group, sizeof(ra.group), "rg%u", ++ring_seq);
		ra.hz = m;
		ra.tokens = opt.ring_tokens;
		ra.maxlat = (unsigned int)(opt.ring_s * m) + 16;
		ra.lat = calloc(ra.maxlat, sizeof(double));
		ra.klat = calloc(ra.maxlat, sizeof(double));
		for (k = 0; k < RING_NODES; k++) {
			snprintf(ra.chan[k], sizeof(ra.chan[k]), "rg%uc%d",
				 ring_seq, k);
			errno = -sc_create(ra.chan[k], ra.group, 64 * 64, 64, 64);
			if (errno) {
				printf("note: ring create: %s\n", strerror(errno));
				errors++;
				while (k-- > 0)
					sc_destroy(ra.chan[k]);
				return -1;
			}
		}
		for (k = 0; k < RING_NODES; k++)
			p[k] = (struct proc){ cross ? (k % 2 ? cpu_b : cpu_a) : cpu_a, 0,
					      ring_setup, ring_run, &ra };
		if (!run_procs(p, RING_NODES, ring_control, &ra) && ra.secs > 0) {
			v = ra.fwd / ra.secs;
			ns = ra.secs * 1e9;
			unit = "msgs/s";
			ret = 0;
			if (ra.aborted) {
				printf("note: ring %dHz: %u of %u snapshots aborted\n",
				       m, ra.aborted, ra.snaps);
				errors++;
			}
		}
		for (k = 0; k < RING_NODES; k++)
			sc_destroy(ra.chan[k]);
		if (!ret && round >= 0 && m) {
			double med, kmed, mx = 0;
			int q;

			/* per-round latency summary rows */
			for (q = 0; q < (int)ra.nlat; q++)
				if (ra.lat[q] > mx)
					mx = ra.lat[q];
			med = median_of(ra.lat, ra.nlat);
			kmed = median_of(ra.klat, ra.nlat);
			add_res(round, "snaplat", mname, 64, m, c->place,
				ra.nlat, 0, med / 1e6, "ms");
			add_res(round, "snaplat-kernel", mname, 64, m, c->place,
				ra.nlat, 0, kmed / 1e6, "ms");
			add_res(round, "snaplat-max", mname, 64, m, c->place,
				ra.nlat, 0, mx / 1e6, "ms");
			add_res(round, "snaprate", mname, 64, m, c->place,
				ra.snaps, 0, ra.snaps / ra.secs, "Hz");
			keep_lat(c->place, m, ra.lat, ra.klat, ra.nlat);
			{
				uint64_t rn = 0, rns = 0, en = 0, ens = 0;

				for (q = 0; q < RING_NODES; q++) {
					rn += S->rec_n[q];
					rns += S->rec_ns[q];
					en += S->ev_n[q];
					ens += S->ev_ns[q];
				}
				keep_cost(c->place, m, ra.snaps, ra.begin_ns, rn, rns,
					  en, ens);
				if (rn)
					add_res(round, "ring-record", mname, 64, m,
						c->place, rn, rns, rns / 1e3 / rn, "us/call");
				if (en)
					add_res(round, "ring-event", mname, 64, m,
						c->place, en, ens, ens / 1e3 / en, "us/call");
				if (ra.snaps)
					add_res(round, "ring-begin", mname, 64, m,
						c->place, ra.snaps, ra.begin_ns,
						ra.begin_ns / 1e3 / ra.snaps, "us/call");
			}
		}
		free(ra.lat);
		free(ra.klat);
		break;
	}
	case W_MEMORY: {
		double slab, total;

		if (mem_measure(m, c->size, (unsigned int)n, round == 0 && m == M_SNAP,
				&slab, &total))
			return -1;
		if (round >= 0) {
			add_res(round, "mem-slab", mname, c->size, 0, c->place, n,
				0, slab, "B/msg");
			add_res(round, "mem-total", mname, c->size, 0, c->place, n,
				0, total, "B/msg");
		}
		*out = slab;
		return 0;
	}
	}
	ep_close(&a);
	ep_close(&b);
	if (ret)
		return -1;
	if (round >= 0)
		add_res(round, c->wname, mname, c->size, c->param, c->place, n, ns,
			v, unit);
	*out = ns;
	return 0;

setup_fail:
	printf("note: %s %s size %d: setup: %s\n", c->wname, mname, c->size,
	       strerror(errno));
	errors++;
	ep_close(&a);
	ep_close(&b);
	return -1;
}

/* --- statistics --------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median_of(double *v, int n)
{
	double *t;
	double m;

	if (n <= 0)
		return 0;
	t = malloc(n * sizeof(*t));
	memcpy(t, v, n * sizeof(*t));
	qsort(t, n, sizeof(*t), cmp_double);
	m = n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
	free(t);
	return m;
}

static double pct_of(double *v, int n, double p)
{
	double *t, m;
	int k;

	if (n <= 0)
		return 0;
	t = malloc(n * sizeof(*t));
	memcpy(t, v, n * sizeof(*t));
	qsort(t, n, sizeof(*t), cmp_double);
	k = (int)(p * (n - 1) + 0.5);
	m = t[k];
	free(t);
	return m;
}

/* All snapshot latencies, per placement and rate. */
static struct latset {
	char place[8];
	int hz;
	double *lat, *klat;
	int n, cap;
	uint64_t snaps, begin_ns, rec_n, rec_ns, ev_n, ev_ns;
} latsets[8];
static int nlatsets;

static struct latset *latset_of(const char *place, int hz)
{
	struct latset *s;
	int i;

	for (i = 0; i < nlatsets; i++)
		if (latsets[i].hz == hz && !strcmp(latsets[i].place, place))
			return &latsets[i];
	if (nlatsets == (int)ARRAY_SIZE(latsets))
		return NULL;
	s = &latsets[nlatsets++];
	snprintf(s->place, sizeof(s->place), "%s", place);
	s->hz = hz;
	return s;
}

static void keep_cost(const char *place, int hz, uint64_t snaps,
		      uint64_t begin_ns, uint64_t rec_n, uint64_t rec_ns,
		      uint64_t ev_n, uint64_t ev_ns)
{
	struct latset *s = latset_of(place, hz);

	if (!s)
		return;
	s->snaps += snaps;
	s->begin_ns += begin_ns;
	s->rec_n += rec_n;
	s->rec_ns += rec_ns;
	s->ev_n += ev_n;
	s->ev_ns += ev_ns;
}

static void keep_lat(const char *place, int hz, double *lat, double *klat,
		     int n)
{
	struct latset *s = latset_of(place, hz);

	if (!s)
		return;
	if (s->n + n > s->cap) {
		s->cap = (s->n + n) * 2;
		s->lat = realloc(s->lat, s->cap * sizeof(double));
		s->klat = realloc(s->klat, s->cap * sizeof(double));
	}
	memcpy(s->lat + s->n, lat, n * sizeof(double));
	memcpy(s->klat + s->n, klat, n * sizeof(double));
	s->n += n;
}

struct stat3 {
	double med, min, max;
	int n;
};

static struct stat3 stat_of(double *v, int n)
{
	struct stat3 s = { 0, 0, 0, n };
	int i;

	if (!n)
		return s;
	s.med = median_of(v, n);
	s.min = s.max = v[0];
	for (i = 1; i < n; i++) {
		if (v[i] < s.min)
			s.min = v[i];
		if (v[i] > s.max)
			s.max = v[i];
	}
	return s;
}

static const struct res *find_res(int round, const char *wl, const char *mech,
				  int size, int param, const char *place)
{
	int i;

	for (i = 0; i < nres; i++)
		if (res[i].round == round && !strcmp(res[i].wl, wl) &&
		    !strcmp(res[i].mech, mech) && res[i].size == size &&
		    res[i].param == param && !strcmp(res[i].place, place))
			return &res[i];
	return NULL;
}

/* Values of one (wl, mech, size, param, place) over the rounds. */
static struct stat3 stat_cell(const char *wl, const char *mech, int size,
			      int param, const char *place)
{
	double v[64];
	int r, n = 0;
	const struct res *x;

	for (r = 0; r < opt.rounds && n < 64; r++) {
		x = find_res(r, wl, mech, size, param, place);
		if (x)
			v[n++] = x->value;
	}
	return stat_of(v, n);
}

/* Per-round ratio value(wl1, num) / value(wl2, den), summarised. */
static struct stat3 stat_ratio2(const char *wl1, const char *num, int size1,
				int param1, const char *wl2, const char *den,
				int size2, int param2, const char *place)
{
	double v[64];
	int r, n = 0;
	const struct res *a, *b;

	for (r = 0; r < opt.rounds && n < 64; r++) {
		a = find_res(r, wl1, num, size1, param1, place);
		b = find_res(r, wl2, den, size2, param2, place);
		/* A peer with (almost) no slab: no meaningful ratio. */
		if (a && b && b->value > (strcmp(b->unit, "B/msg") ? 0 : 1))
			v[n++] = a->value / b->value;
	}
	return stat_of(v, n);
}

/* --- formatting ----------------------------------------------------------------- */

static const char *fmt_num(double v, char *buf, size_t len)
{
	const char *suf = "";
	double a = v < 0 ? -v : v;

	if (a >= 1e9) {
		v /= 1e9;
		suf = "G";
	} else if (a >= 1e6) {
		v /= 1e6;
		suf = "M";
	} else if (a >= 1e4) {
		v /= 1e3;
		suf = "k";
	}
	a = v < 0 ? -v : v;
	if (a >= 100)
		snprintf(buf, len, "%.0f%s", v, suf);
	else if (a >= 10)
		snprintf(buf, len, "%.1f%s", v, suf);
	else
		snprintf(buf, len, "%.2f%s", v, suf);
	return buf;
}

static const char *fmt_stat(struct stat3 s, char *buf, size_t len)
{
	char a[16], b[16], c[16];

	if (!s.n) {
		snprintf(buf, len, "-");
		return buf;
	}
	snprintf(buf, len, "%s [%s..%s]", fmt_num(s.med, a, sizeof(a)),
		 fmt_num(s.min, b, sizeof(b)), fmt_num(s.max, c, sizeof(c)));
	return buf;
}

static const char *fmt_ratio(struct stat3 s, char *buf, size_t len)
{
	if (!s.n)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.3fx [%.3f..%.3f]", s.med, s.min, s.max);
	return buf;
}

/* --- the table ------------------------------------------------------------------------ */

/* Which method a cell's rows are compared with, and how. */
static void cell_ref(const struct cell *c, const char **subject,
		     int *row_over_base)
{
	*row_over_base = 0;
	switch (c->wl) {
	case W_CAPTURE:
		*subject = "capture";
		break;
	case W_MARKERS:
		*subject = "none";
		*row_over_base = 1;
		break;
	case W_RING:
		*subject = "0Hz";
		*row_over_base = 1;
		break;
	case W_BATCH:
		*subject = "snapchan-batch";
		break;
	default:
		*subject = "snapchan";
	}
}

static FILE *summary;		/* summary CSV lines, printed at the end */

static void print_cell(const struct cell *c, const char *wname, const char *title)
{
	const char *subject;
	int rob, k;
	char b1[64], b2[64];

	cell_ref(c, &subject, &rob);
	printf("\n%s\n", title);
	printf("  %-14s %-30s %s\n", "method", "median [min..max]",
	       rob ? "ratio row/" : "ratio ");
	for (k = 0; k < c->nm; k++) {
		char m[16];
		struct stat3 s, r;
		const struct res *x = NULL;
		int rr;

		snprintf(m, sizeof(m), "%s", method_name(c, c->m[k]));
		s = stat_cell(wname, m, c->size, c->param, c->place);
		if (rob)
			r = stat_ratio2(wname, m, c->size, c->param, wname,
					subject, c->size, c->param, c->place);
		else
			r = stat_ratio2(wname, subject, c->size, c->param, wname,
					m, c->size, c->param, c->place);
		for (rr = 0; rr < opt.rounds && !x; rr++)
			x = find_res(rr, wname, m, c->size, c->param, c->place);
		printf("  %-14s %-30s %s%s\n", m, fmt_stat(s, b1, sizeof(b1)),
		       fmt_ratio(r, b2, sizeof(b2)),
		       strcmp(m, subject) ? "" : "  (reference)");
		if (s.n)
			fprintf(summary, "%s,%s,%d,%d,%s,%.6g,%.6g,%.6g,%s,%.6g,%.6g,%.6g\n",
				wname, m, c->size, c->param, c->place, s.med, s.min,
				s.max, x ? x->unit : "", r.med, r.min, r.max);
	}
}

static const char *size_str(int size, char *buf, size_t len)
{
	if (size >= 1024 && size % 1024 == 0)
		snprintf(buf, len, "%d KiB", size / 1024);
	else
		snprintf(buf, len, "%d B", size);
	return buf;
}

static void print_table(void)
{
	char title[256], sz[16];
	int i;

	printf("\n==================== RESULTS: median [min..max] over %d rounds ====================\n",
	       opt.rounds);
	printf("Ratios are taken per round, then summarised: for snapchan rows vs a peer\n"
	       "the ratio is snapchan/peer (rates: >1 is faster; times: <1 is faster).\n");
	for (i = 0; i < ncells; i++) {
		struct cell *c = &cells[i];

		size_str(c->size, sz, sizeof(sz));
		switch (c->wl) {
		case W_ONETASK:
			snprintf(title, sizeof(title),
				 "one task write+read, %s, cpu0 (ns per write+read; ratio = snapchan time / peer time)%s",
				 sz, " [eventfd: 8 B counter]");
			break;
		case W_HALVES:
			snprintf(title, sizeof(title),
				 "one task, %s only: %s, %llu queued (ns per message; ratio = snapchan/peer time)",
				 c->param ? "read" : "write", sz,
				 (unsigned long long)c->n);
			break;
		case W_PINGPONG:
			snprintf(title, sizeof(title),
				 "ping-pong %s, %s CPU, %s (ns per round trip; ratio = snapchan/peer time)",
				 c->param ? "epoll_wait" : "blocking",
				 c->place, sz);
			break;
		case W_STREAM:
			snprintf(title, sizeof(title),
				 "streaming 1 writer -> 1 reader, %s, %s CPU%s (msgs/s; ratio = snapchan/peer rate)",
				 sz, c->place, strcmp(c->place, "same") ? "" :
				 opt.batch ? ", SCHED_BATCH" : ", SCHED_OTHER");
			break;
		case W_BATCH:
			snprintf(title, sizeof(title),
				 "batch calls, %s, %d per call: SEND_BATCH/RECV_BATCH vs mq (1 per call) vs pipe (%d B writes+reads), %s CPU%s (msgs/s; ratio = snapchan-batch/peer rate)",
				 sz, c->param, c->param * c->size, c->place,
				 strcmp(c->place, "same") ? "" :
				 opt.batch ? ", SCHED_BATCH" : ", SCHED_OTHER");
			break;
		case W_MULTI:
			snprintf(title, sizeof(title),
				 "streaming %d writers (cpu%d) -> 1 reader (cpu%d), %s (msgs/s; ratio = snapchan/peer rate)",
				 c->param, cpu_a, cpu_b, sz);
			break;
		case W_CAPTURE:
			snprintf(title, sizeof(title),
				 "dump a queue of %d x 64 B without consuming it (drain consumes), capacity %d, cpu0 (us per op; ratio = capture/row time)",
				 c->param, c->size);
			break;
		case W_MARKERS:
			snprintf(title, sizeof(title),
				 "markers (SNAPCHAN_IOC_MARK every k msgs), 64 B stream, capacity 1000, %s CPU%s (msgs/s; ratio = row/none)",
				 c->place, strcmp(c->place, "same") ? "" :
				 opt.batch ? ", SCHED_BATCH" : ", SCHED_OTHER");
			break;
		case W_RING:
			snprintf(title, sizeof(title),
				 "ring of 8 nodes, %u tokens of 64 B, snapshots at 0/10/100 Hz, %s (forwards/s; ratio = row/0Hz)",
				 opt.ring_tokens,
				 strcmp(c->place, "cross") ? "all on cpu0" :
				 "nodes alternate cpu0/cpu1");
			break;
		case W_MEMORY:
			break;
		}
		if (c->wl == W_MEMORY) {
			snprintf(title, sizeof(title),
				 "kernel memory per queued %s message, %llu queued: /proc/meminfo Slab delta (B/msg; ratio = snapchan/peer)",
				 sz, (unsigned long long)c->n);
			print_cell(c, "mem-slab", title);
			if (c->size == 64 && slab_notes[0])
				printf("%s", slab_notes);
			snprintf(title, sizeof(title),
				 "kernel memory per queued %s message, %llu queued: free pages delta (MemFree + per-CPU lists), pages included (B/msg)",
				 sz, (unsigned long long)c->n);
			print_cell(c, "mem-total", title);
			continue;
		}
		print_cell(c, c->wname, title);
		if (c->wl == W_BATCH && batch_skipped())
			printf("  %-14s skipped: the module lacks SNAPCHAN_FEAT_BATCH (no SEND_BATCH/RECV_BATCH)\n",
			       "snapchan-batch");
		if (c->wl == W_BATCH) {
			char b[64];
			struct stat3 r = stat_ratio2("batch", "snapchan-batch", c->size,
						     c->param, "stream", "snapchan",
						     c->size, 0, c->place);
			int k;

			if (r.n)
				printf("  snapchan-batch / snapchan one message per call (stream, same round): %s\n",
				       fmt_ratio(r, b, sizeof(b)));
			for (k = 0; k < c->nm; k++) {
				const char *mn = method_name(c, c->m[k]);
				struct stat3 rf = stat_cell("batch-recv-fill", mn, c->size,
							    c->param, c->place);
				struct stat3 sf = stat_cell("batch-send-fill", mn, c->size,
							    c->param, c->place);
				char b2[64];

				if (!rf.n)
					continue;
				printf("  %-14s messages per call: receive %s, send %s (of %d)\n",
				       mn, fmt_stat(rf, b, sizeof(b)),
				       fmt_stat(sf, b2, sizeof(b2)), c->param);
				fprintf(summary, "batch-recv-fill,%s,%d,%d,%s,%.6g,%.6g,%.6g,msgs/call,0,0,0\n",
					mn, c->size, c->param, c->place, rf.med, rf.min, rf.max);
				fprintf(summary, "batch-send-fill,%s,%d,%d,%s,%.6g,%.6g,%.6g,msgs/call,0,0,0\n",
					mn, c->size, c->param, c->place, sf.med, sf.min, sf.max);
			}
		}
		if (c->wl == W_RING && (i + 1 == ncells || cells[i + 1].wl != W_RING ||
					strcmp(cells[i + 1].place, c->place))) {
			int k;

			printf("  snapshot latency, SNAP_BEGIN to snapshot fd EPOLLIN (all rounds):\n");
			for (k = 0; k < nlatsets; k++) {
				struct latset *s = &latsets[k];
				struct stat3 rate = stat_cell("snaprate",
					method_name(c, s->hz), 64, s->hz, s->place);

				if (strcmp(s->place, c->place))
					continue;
				printf("    %3dHz: %d snapshots, achieved %.1f Hz; user: median %.3f ms, p90 %.3f, max %.3f; kernel (SNAP_INFO end-begin): median %.3f ms, p90 %.3f\n",
				       s->hz, s->n, rate.med,
				       median_of(s->lat, s->n) / 1e6,
				       pct_of(s->lat, s->n, 0.9) / 1e6,
				       pct_of(s->lat, s->n, 1.0) / 1e6,
				       median_of(s->klat, s->n) / 1e6,
				       pct_of(s->klat, s->n, 0.9) / 1e6);
				if (s->snaps)
					printf("           per snapshot: SNAP_BEGIN %.0f us; %.2f NODE_RECORD calls of %.0f us each; %.2f NODE_EVENT calls of %.0f us each (ioctl time seen by the caller)\n",
					       s->begin_ns / 1e3 / s->snaps,
					       (double)s->rec_n / s->snaps,
					       s->rec_n ? s->rec_ns / 1e3 / s->rec_n : 0,
					       (double)s->ev_n / s->snaps,
					       s->ev_n ? s->ev_ns / 1e3 / s->ev_n : 0);
				/* ratio columns: user p90, kernel median, count */
				fprintf(summary, "snaplat-all,%dHz,64,%d,%s,%.6g,%.6g,%.6g,ms,%.6g,%.6g,%d\n",
					s->hz, s->hz, s->place,
					median_of(s->lat, s->n) / 1e6,
					pct_of(s->lat, s->n, 0.0) / 1e6,
					pct_of(s->lat, s->n, 1.0) / 1e6,
					pct_of(s->lat, s->n, 0.9) / 1e6,
					median_of(s->klat, s->n) / 1e6, s->n);
			}
		}
	}
}

/* --- targets ------------------------------------------------------------------------- */

static FILE *targets;
static int t_met, t_missed, t_na;

static void target(const char *what, struct stat3 r, int at_least, double bound,
		   const char *how)
{
	const char *verdict;
	char b[64];

	if (!r.n) {
		verdict = "N/A";
		t_na++;
	} else if (at_least ? r.med >= bound : r.med <= bound) {
		verdict = "MET";
		t_met++;
	} else {
		verdict = "MISSED";
		t_missed++;
	}
	printf("  %-6s %-58s %s %-5g median %s%s\n", verdict, what,
	       at_least ? ">=" : "<=", bound, fmt_ratio(r, b, sizeof(b)),
	       how ? how : "");
	fprintf(targets, "%s,\"%s\",%s,%g,%.6g,%.6g,%.6g\n", verdict, what,
		at_least ? ">=" : "<=", bound, r.med, r.min, r.max);
}

static void print_targets(void)
{
	static const char *const places[] = { "same", "cross" };
	static const int big[] = { 4096, 16384, 65536 };
	static const int depths[] = { 16, 256, 1000 };
	char what[128];
	unsigned int i, k;
	int capm = 4096;

	printf("\n==================== TARGETS (median of per-round ratios, same run) ====================\n");
	/*
	 * Issue 12's bounds: single messages of 64 B against the packet-mode
	 * pipe (same message semantics), mq and seqpacket; the plain byte
	 * pipe of issue 8 is kept beside them.
	 */
	for (i = 0; i < 2; i++) {
		snprintf(what, sizeof(what), "stream 64 B %s: snapchan/pipe-pkt msgs/s", places[i]);
		target(what, stat_ratio2("stream", "snapchan", 64, 0, "stream", "pipe-pkt", 64, 0, places[i]), 1, 1.0, NULL);
		snprintf(what, sizeof(what), "stream 64 B %s: snapchan/pipe msgs/s", places[i]);
		target(what, stat_ratio2("stream", "snapchan", 64, 0, "stream", "pipe", 64, 0, places[i]), 1, 1.0, NULL);
		snprintf(what, sizeof(what), "stream 64 B %s: snapchan/seqpacket msgs/s", places[i]);
		target(what, stat_ratio2("stream", "snapchan", 64, 0, "stream", "seqpacket", 64, 0, places[i]), 1, 2.0, NULL);
		snprintf(what, sizeof(what), "stream 64 B %s: snapchan/mq msgs/s", places[i]);
		target(what, stat_ratio2("stream", "snapchan", 64, 0, "stream", "mq", 64, 0, places[i]), 1, 1.4, NULL);
	}
	/* Batch calls: >= 3x mq, within 2x of a pipe moving the same bytes. */
	for (i = 0; i < 2; i++) {
		const char *skip = batch_skipped() ? " (skipped: no SNAPCHAN_FEAT_BATCH)" : NULL;

		snprintf(what, sizeof(what), "batch 64 B x%u %s: snapchan-batch/mq msgs/s",
			 opt.batch_n, places[i]);
		target(what, stat_ratio2("batch", "snapchan-batch", 64, (int)opt.batch_n, "batch",
					 "mq", 64, (int)opt.batch_n, places[i]), 1, 3.0, skip);
		snprintf(what, sizeof(what), "batch 64 B x%u %s: snapchan-batch/pipe-4k msgs/s",
			 opt.batch_n, places[i]);
		target(what, stat_ratio2("batch", "snapchan-batch", 64, (int)opt.batch_n, "batch",
					 "pipe-4k", 64, (int)opt.batch_n, places[i]), 1, 0.5,
		       skip ? skip : " (within 2x)");
	}
	for (i = 0; i < 2; i++)
		for (k = 0; k < ARRAY_SIZE(big); k++) {
			snprintf(what, sizeof(what), "stream %d KiB %s: snapchan/pipe msgs/s",
				 big[k] / 1024, places[i]);
			target(what, stat_ratio2("stream", "snapchan", big[k], 0, "stream",
						 "pipe", big[k], 0, places[i]), 1, 1.0, NULL);
		}
	target("one task write+read 64 B: snapchan/pipe time",
	       stat_ratio2("onetask", "snapchan", 64, 0, "onetask", "pipe", 64, 0, "cpu0"),
	       0, 1.0, NULL);
	target("ping-pong same CPU blocking: snapchan/pipe time",
	       stat_ratio2("pingpong", "snapchan", 64, 0, "pingpong", "pipe", 64, 0, "same"),
	       0, 1.05, NULL);
	target("ping-pong same CPU epoll: snapchan/pipe time",
	       stat_ratio2("pingpong", "snapchan", 64, 1, "pingpong", "pipe", 64, 1, "same"),
	       0, 1.05, NULL);

	/* capture */
	for (i = 0; i < (unsigned int)ncells; i++)
		if (cells[i].wl == W_CAPTURE)
			capm = cells[i].size;
	target("CAPTURE at 1000: capture/seq-peek time (10x faster)",
	       stat_ratio2("capture", "capture", capm, 1000, "capture", "seq-peek", capm, 1000, "cpu0"),
	       0, 0.1, NULL);
	target("CAPTURE+read at 1000: capture+read/seq-peek time",
	       stat_ratio2("capture", "capture+read", capm, 1000, "capture", "seq-peek", capm, 1000, "cpu0"),
	       0, 0.1, NULL);
	for (k = 0; k < ARRAY_SIZE(depths) + 1; k++) {
		int d = k < ARRAY_SIZE(depths) ? depths[k] : capm;

		snprintf(what, sizeof(what), "CAPTURE at %d: capture/drain time", d);
		target(what, stat_ratio2("capture", "capture", capm, d, "capture", "drain", capm, d, "cpu0"),
		       0, 0.5, NULL);
		snprintf(what, sizeof(what), "CAPTURE+read at %d: capture+read/drain time", d);
		target(what, stat_ratio2("capture", "capture+read", capm, d, "capture", "drain", capm, d, "cpu0"),
		       0, 0.5, NULL);
	}
	/*
	 * Linearity: the marginal cost per queued message from 1000 to the
	 * capacity over that from 256 to 1000, per round (1 when linear, > 1
	 * when it grows faster than linearly; 16 is left out, the fixed cost
	 * dominates there).
	 */
	{
		static const char *const m2[] = { "capture", "capture+read" };

		for (k = 0; k < 2; k++) {
			double v[64], sl1[64], sl2[64];
			int n = 0, rr;

			for (rr = 0; rr < opt.rounds; rr++) {
				const struct res *a = find_res(rr, "capture", m2[k], capm, 256, "cpu0");
				const struct res *b = find_res(rr, "capture", m2[k], capm, 1000, "cpu0");
				const struct res *c = find_res(rr, "capture", m2[k], capm, capm, "cpu0");
				double s1, s2;

				if (!a || !b || !c)
					continue;
				s1 = (b->value - a->value) * 1000.0 / (1000 - 256);
				s2 = (c->value - b->value) * 1000.0 / (capm - 1000);
				sl1[n] = s1;
				sl2[n] = s2;
				v[n++] = s1 > 0 ? s2 / s1 : 1e9;
			}
			if (n)
				printf("  note   %s marginal ns per queued message: 256->1000 %.0f, 1000->%d %.0f (medians over rounds)\n",
				       m2[k], median_of(sl1, n), capm, median_of(sl2, n));
			snprintf(what, sizeof(what), "%s linear: marginal cost 1000..%d / 256..1000", m2[k], capm);
			target(what, stat_of(v, n), 0, 1.5, " (1 = linear)");
		}
	}
	for (i = 0; i < 2; i++) {
		snprintf(what, sizeof(what), "markers every 1000, %s: rate / no markers", places[i]);
		target(what, stat_ratio2("markers", "every-1000", 64, 0, "markers", "none", 64, 0, places[i]),
		       1, 0.99, NULL);
	}
	for (i = 0; i < 2; i++) {
		snprintf(what, sizeof(what), "ring 100 Hz snapshots, %s: throughput / 0 Hz", places[i]);
		target(what, stat_ratio2("ring", "100Hz", 64, 0, "ring", "0Hz", 64, 0, places[i]),
		       1, 0.95, NULL);
	}
	{
		struct stat3 s = stat_cell("mem-slab", "snapchan", 64, 0, "cpu0");

		s.med -= 64;
		s.min -= 64;
		s.max -= 64;
		target("kernel bytes per queued 64 B message beyond payload (slab)", s, 0, 32,
		       " (bytes, not a ratio)");
	}
	printf("  %d met, %d missed, %d not measured\n", t_met, t_missed, t_na);
}

/* --- calibration ---------------------------------------------------------------- */

static void *(*volatile memcpy_p)(void *, const void *, size_t) = memcpy;

static double calib_one(int what, size_t size)
{
	static char *src, *dst;
	uint64_t n = 64, i, t0, t;

	if (!src) {
		src = calloc(1, 1 << 17);
		dst = calloc(1, 1 << 17);
	}
	for (;;) {
		t0 = now_ns();
		for (i = 0; i < n; i++) {
			if (what == 0)
				syscall(SYS_getppid);
			else
				memcpy_p(dst, src, size);
		}
		t = now_ns() - t0;
		if (t >= 20000000ull || n >= (1ull << 30))
			return (double)t / n;
		n *= 2;
	}
}

static void calibrate(int round)
{
	static const size_t sz[] = { 64, 4096, 65536 };
	double v;
	unsigned int i;

	pin(cpu_a);
	v = calib_one(0, 0);
	printf("calibration round %d: null syscall %.0f ns", round, v);
	if (round >= 0)
		add_res(round, "calib", "getppid", 0, 0, "cpu0", 0, 0, v, "ns");
	for (i = 0; i < ARRAY_SIZE(sz); i++) {
		v = calib_one(1, sz[i]);
		printf(", memcpy %zu B %.0f ns (%.2f GB/s)", sz[i], v, sz[i] / v);
		if (round >= 0)
			add_res(round, "calib", "memcpy", sz[i], 0, "cpu0", 0, 0, v, "ns");
	}
	printf("\n");
	pin(-1);
}

/* --- cells --------------------------------------------------------------------------- */

static int wl_on(const char *w)
{
	char buf[sizeof(opt.workloads) + 2], pat[40];

	if (!strcmp(opt.workloads, "all"))
		return 1;
	snprintf(buf, sizeof(buf), ",%s,", opt.workloads);
	snprintf(pat, sizeof(pat), ",%s,", w);
	return strstr(buf, pat) != NULL;
}

static struct cell *add_cell(enum wl wl, const char *wname, int size, int param,
			     const char *place, uint64_t nmin, uint64_t nmax)
{
	struct cell *c = &cells[ncells++];

	memset(c, 0, sizeof(*c));
	c->wl = wl;
	c->wname = wname;
	c->size = size;
	c->param = param;
	c->place = place;
	c->nmin = nmin;
	c->nmax = nmax;
	return c;
}

static void add_mechs(struct cell *c, int with_efd)
{
	int m;

	for (m = 0; m < NMECH; m++) {
		if (!(mech_on & (1u << m)))
			continue;
		if (m == M_EFD && !with_efd)
			continue;
		c->m[c->nm++] = m;
	}
}

static void build_cells(void)
{
	static const int sizes[] = { 64, 512, 4096, 16384, 65536 };
	static const int depths[] = { 16, 256, 1000, 4096 };
	static const int every[] = { 0, 1, 10, 100, 1000 };
	static const int hz[] = { 0, 10, 100 };
	unsigned int i, k;
	struct cell *c;
	int cross, ep, w;

	if (wl_on("onetask"))
		for (i = 0; i < ARRAY_SIZE(sizes); i++) {
			c = add_cell(W_ONETASK, "onetask", sizes[i], 0, "cpu0", 100, 1 << 22);
			add_mechs(c, sizes[i] == 64);
		}
	if (wl_on("halves"))
		for (i = 0; i < 2; i++)
			for (k = 0; k < 2; k++) {
				c = add_cell(W_HALVES, k ? "read-only" : "write-only",
					     i ? 4096 : 64, k, "cpu0", 256, 256);
				c->n = 256;
				add_mechs(c, 0);
			}
	if (wl_on("pingpong"))
		for (cross = 0; cross < 2; cross++)
			for (ep = 0; ep < 2; ep++) {
				c = add_cell(W_PINGPONG, "pingpong", 64, ep,
					     place_cpu_name(cross), 50, 1 << 20);
				add_mechs(c, 1);
			}
	if (wl_on("stream"))
		for (cross = 0; cross < 2; cross++)
			for (i = 0; i < ARRAY_SIZE(sizes); i++) {
				c = add_cell(W_STREAM, "stream", sizes[i], 0,
					     place_cpu_name(cross),
					     2 * cap_msgs(sizes[i]), 1 << 22);
				add_mechs(c, 0);
			}
	/*
	 * At least 32 queue fills: the count follows the slowest method (mq),
	 * and the byte pipe is some ten times faster; fewer messages would
	 * time it over about one scheduler tick.
	 */
	if (wl_on("batch"))
		for (cross = 0; cross < 2; cross++) {
			c = add_cell(W_BATCH, "batch", 64, (int)opt.batch_n,
				     place_cpu_name(cross), 32 * cap_msgs(64), 1 << 24);
			for (k = 0; k < NBATCH; k++) {
				if (!(mech_on & (1u << batch_mech[k])))
					continue;
				if (k == B_SNAP && batch_skipped())
					continue;
				c->m[c->nm++] = k;
			}
		}
	if (wl_on("multi"))
		for (w = 2; w <= 4; w += 2)
			for (i = 0; i < 2; i++) {
				c = add_cell(W_MULTI, "multi", i ? 4096 : 64, w,
					     "cross", 2 * cap_msgs(i ? 4096 : 64), 1 << 22);
				add_mechs(c, 0);
			}
	if (wl_on("capture"))
		for (i = 0; i < ARRAY_SIZE(depths); i++) {
			c = add_cell(W_CAPTURE, "capture", 4096, depths[i], "cpu0", 1, 100000);
			for (k = 0; k < NCAP; k++) {
				int need = k <= CAP_DRAIN ? M_SNAP :
					   k == CAP_TEE ? M_PIPE :
					   k == CAP_PKTTEE ? M_PKT : M_SEQ;

				if (mech_on & (1u << need))
					c->m[c->nm++] = k;
			}
		}
	if (wl_on("markers") && (mech_on & (1u << M_SNAP)))
		for (cross = 0; cross < 2; cross++) {
			c = add_cell(W_MARKERS, "markers", 64, 0, place_cpu_name(cross),
				     4000, 1 << 22);
			for (i = 0; i < ARRAY_SIZE(every); i++)
				c->m[c->nm++] = every[i];
		}
	if (wl_on("ring") && (mech_on & (1u << M_SNAP)))
		for (cross = 0; cross < 2; cross++) {
			c = add_cell(W_RING, "ring", 64, 0, place_cpu_name(cross), 1, 1);
			c->n = 1;
			for (i = 0; i < ARRAY_SIZE(hz); i++)
				c->m[c->nm++] = hz[i];
		}
	if (wl_on("memory")) {
		static const struct { int size; unsigned int div; } ms[] = {
			{ 64, 1 }, { 4096, 8 }, { 65536, 128 },
		};

		for (i = 0; i < ARRAY_SIZE(ms); i++) {
			c = add_cell(W_MEMORY, "memory", ms[i].size, 0, "cpu0", 1, 1);
			c->n = opt.mem_msgs / ms[i].div;
			if (c->n < 16)
				c->n = 16;
			for (k = 0; k < NMECH; k++)
				if (k != M_EFD && (mech_on & (1u << k)))
					c->m[c->nm++] = k;
		}
	}
}

/* After a round: scale a cell's count towards -T ms for its slowest method. */
static void rescale(struct cell *c)
{
	double f;
	uint64_t n;

	if (c->wl == W_RING || c->wl == W_MEMORY || c->wl == W_HALVES ||
	    c->worst_ns <= 0)
		return;
	f = opt.target_ms * 1e6 / c->worst_ns;
	if (f < 0.25)
		f = 0.25;
	if (f > 4)
		f = 4;
	n = (uint64_t)(c->n * f);
	if (n < c->nmin)
		n = c->nmin;
	if (n > c->nmax)
		n = c->nmax;
	c->n = n;
}

/* Pilot: pick each cell's count so that its slowest method takes -T ms. */
static void pilot(void)
{
	int i, k;
	uint64_t t0 = now_ns();

	printf("pilot: choosing counts for %.0f ms per measurement\n", opt.target_ms);
	for (i = 0; i < ncells; i++) {
		struct cell *c = &cells[i];
		uint64_t n0 = c->nmin < 64 ? 64 : c->nmin;
		double worst = 0, ns;

		if (c->wl == W_RING || c->wl == W_MEMORY || c->wl == W_HALVES)
			continue;
		if (c->wl == W_CAPTURE)
			n0 = 1;
		if (c->wl == W_STREAM || c->wl == W_BATCH || c->wl == W_MULTI ||
		    c->wl == W_MARKERS)
			n0 = c->nmin;
		for (k = 0; k < c->nm; k++)
			if (!measure(c, c->m[k], n0, -1, &ns) && ns > worst)
				worst = ns;
		if (worst <= 0)
			worst = 1e6;
		c->n = (uint64_t)(n0 * (opt.target_ms * 1e6) / worst);
		if (c->n < c->nmin)
			c->n = c->nmin;
		if (c->n > c->nmax)
			c->n = c->nmax;
	}
	printf("pilot: done in %.1f s\n", (now_ns() - t0) / 1e9);
}

/* --- main ---------------------------------------------------------------------------- */

static void setup_limits(void)
{
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };

	if (setrlimit(RLIMIT_MSGQUEUE, &rl))
		printf("note: RLIMIT_MSGQUEUE: %s\n", strerror(errno));
	write_file("/proc/sys/fs/mqueue/msg_max", "65536");
	write_file("/proc/sys/fs/mqueue/msgsize_max", "1048576");
	write_file("/proc/sys/fs/pipe-max-size", "268435456");
	if (ctl >= 0)
		write_file("/sys/module/snapchan/parameters/max_markers", "1024");
	signal(SIGPIPE, SIG_IGN);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: snapbench [-r rounds] [-T ms] [-R ring_s] [-C cap_bytes] [-N mem_msgs]\n"
		"                 [-t ring_tokens] [-b messages per batch call (64)]\n"
		"                 [-w workloads] [-m mechanisms]\n"
		"                 [-S 0: no SCHED_IDLE spinners on cross-CPU runs]\n"
		"                 [-B 0: same-CPU streaming under SCHED_OTHER, not SCHED_BATCH]\n"
		"workloads: calib onetask halves pingpong stream batch multi capture markers ring memory\n"
		"mechanisms: snapchan pipe pipe-pkt seqpacket mq eventfd\n");
	exit(2);
}

static void print_header(void)
{
	struct utsname u;
	char cs[64] = "?";
	int fd = open("/sys/devices/system/clocksource/clocksource0/current_clocksource",
		      O_RDONLY);
	ssize_t n;
	int m;

	if (fd >= 0) {
		n = read(fd, cs, sizeof(cs) - 1);
		cs[n > 0 ? n : 0] = 0;
		if (n > 0 && cs[n - 1] == '\n')
			cs[n - 1] = 0;
		close(fd);
	}
	uname(&u);
	printf("snapbench: kernel %s %s, %d CPUs (cpu%d and cpu%d used), clocksource %s\n",
	       u.release, u.machine, ncpu, cpu_a, cpu_b, cs);
	printf("snapbench: %d rounds, %.0f ms per measurement, ring %.1f s, capacity %lu bytes (>= 4 msgs)\n",
	       opt.rounds, opt.target_ms, opt.ring_s, opt.cap_bytes);
	printf("snapbench: cross-CPU runs %s; same-CPU streaming and markers under %s\n",
	       opt.spin ? "keep both vCPUs busy with SCHED_IDLE spinners (as idle=poll)" :
	       "let idle vCPUs halt", opt.batch ? "SCHED_BATCH (no wakeup preemption)" :
	       "SCHED_OTHER");
	printf("snapbench: batch workload: %u messages per SEND_BATCH/RECV_BATCH call, pipe-4k writes and reads of %u bytes\n",
	       opt.batch_n, opt.batch_n * 64);
	printf("snapbench: mechanisms:");
	for (m = 0; m < NMECH; m++)
		if (mech_on & (1u << m))
			printf(" %s", mech_name[m]);
	printf("\n");
	if (ctl >= 0)
		printf("snapbench: snapchan max_markers=%ld default_capacity_msgs=%ld max_capacity_msgs=%ld\n",
		       read_long_file("/sys/module/snapchan/parameters/max_markers"),
		       read_long_file("/sys/module/snapchan/parameters/default_capacity_msgs"),
		       read_long_file("/sys/module/snapchan/parameters/max_capacity_msgs"));
}

/* Check that every queue really holds the same number of messages. */
static void check_capacity(void)
{
	static const int sizes[] = { 64, 512, 4096, 16384, 65536 };
	unsigned int i;
	int m;

	printf("capacity check (messages that fit before EAGAIN; wanted = capacity):\n");
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		unsigned int want = cap_msgs(sizes[i]);

		printf("  %5d B, wanted %4u:", sizes[i], want);
		for (m = 0; m < M_EFD; m++) {
			struct ep e;
			char *buf;
			unsigned int k = 0;

			if (!(mech_on & (1u << m)))
				continue;
			if (ep_open(&e, m, sizes[i], want)) {
				printf(" %s=setup-failed(%s)", mech_name[m], strerror(errno));
				ep_close(&e);
				continue;
			}
			set_nonblock(e.wfd, 1);
			buf = calloc(1, sizes[i]);
			while (k < 4 * want + 64 && !ep_send(&e, buf))
				k++;
			free(buf);
			if (m == M_SEQ)
				printf(" %s=%u (truesize %ld)", mech_name[m], k,
				       seq_truesize(sizes[i]));
			else
				printf(" %s=%u", mech_name[m], k);
			ep_close(&e);
		}
		printf("\n");
	}
	printf("  (pipe: a byte stream, so a 64 KiB write may fill it only partly;\n"
	       "   pipe-pkt: messages > 4 KiB are split into 4 KiB packets, 1 slot each)\n");
}

int main(int argc, char **argv)
{
	uint64_t t_start = now_ns(), t_round;
	int ch, r, i, k;
	char *line = NULL;
	size_t linelen = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((ch = getopt(argc, argv, "r:T:R:C:N:t:b:w:m:S:B:h")) != -1) {
		switch (ch) {
		case 'r': opt.rounds = atoi(optarg); break;
		case 'T': opt.target_ms = atof(optarg); break;
		case 'R': opt.ring_s = atof(optarg); break;
		case 'C': opt.cap_bytes = strtoul(optarg, NULL, 0); break;
		case 'N': opt.mem_msgs = strtoul(optarg, NULL, 0); break;
		case 't': opt.ring_tokens = strtoul(optarg, NULL, 0); break;
		case 'b': opt.batch_n = strtoul(optarg, NULL, 0); break;
		case 'S': opt.spin = atoi(optarg); break;
		case 'B': opt.batch = atoi(optarg); break;
		case 'w': snprintf(opt.workloads, sizeof(opt.workloads), "%s", optarg); break;
		case 'm': snprintf(opt.mechs, sizeof(opt.mechs), "%s", optarg); break;
		default: usage();
		}
	}
	if (opt.rounds < 1 || opt.rounds > 64 || opt.target_ms <= 0 ||
	    opt.cap_bytes < 64 || opt.ring_tokens < 1 || opt.batch_n < 1 ||
	    opt.batch_n > SNAPCHAN_BATCH_MAX)
		usage();

	S = mmap(NULL, sizeof(*S), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	spin_stop = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (S == MAP_FAILED || spin_stop == MAP_FAILED)
		die("mmap");
	ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
	cpu_a = 0;
	cpu_b = ncpu > 1 ? 1 : 0;

	for (k = 0; k < NMECH; k++) {
		char buf[sizeof(opt.mechs) + 2], pat[24];

		snprintf(buf, sizeof(buf), ",%s,", opt.mechs);
		snprintf(pat, sizeof(pat), ",%s,", mech_name[k]);
		if (!strcmp(opt.mechs, "all") || strstr(buf, pat))
			mech_on |= 1u << k;
	}
	ctl = open("/dev/snapchan/control", O_RDWR);
	if (ctl < 0) {
		printf("note: /dev/snapchan/control: %s: snapchan not measured\n",
		       strerror(errno));
		mech_on &= ~(1u << M_SNAP);
	} else {
		struct snapchan_version v;

		memset(&v, 0, sizeof(v));
		if (ioctl(ctl, SNAPCHAN_IOC_VERSION, &v))
			die("SNAPCHAN_IOC_VERSION");
		sc_features = v.features;
		printf("snapbench: snapchan ABI %u, features %#llx\n", v.abi_version,
		       (unsigned long long)v.features);
		if (!(v.features & SNAPCHAN_FEAT_BATCH))
			printf("note: the snapchan module lacks SNAPCHAN_FEAT_BATCH: the batch workload skips snapchan-batch (mq and pipe-4k only), its targets are not measured\n");
	}
	setup_limits();
	print_header();
	if (ncpu < 2)
		printf("note: one CPU only: 'cross' runs on the same CPU\n");
	summary = open_memstream(&line, &linelen);
	{
		static char *tb;
		static size_t tl;

		targets = open_memstream(&tb, &tl);
		fprintf(targets, "verdict,target,op,bound,median,min,max\n");
		build_cells();
		check_capacity();
		calibrate(-1);
		pilot();
		for (r = 0; r < opt.rounds; r++) {
			const char *last = NULL;
			uint64_t t_wl = now_ns();

			t_round = now_ns();
			if (wl_on("calib"))
				calibrate(r);
			printf("round %d/%d:", r + 1, opt.rounds);
			for (i = 0; i < ncells; i++) {
				struct cell *c = &cells[i];
				double ns;

				if (last && strcmp(last, c->wname)) {
					printf(" %s %.1fs", last, (now_ns() - t_wl) / 1e9);
					t_wl = now_ns();
				}
				last = c->wname;
				c->worst_ns = 0;
				for (k = 0; k < c->nm; k++)
					if (!measure(c, c->m[(k + r) % c->nm], c->n, r, &ns) &&
					    ns > c->worst_ns)
						c->worst_ns = ns;
				rescale(c);
			}
			if (last)
				printf(" %s %.1fs", last, (now_ns() - t_wl) / 1e9);
			printf(" | round %.1f s\n", (now_ns() - t_round) / 1e9);
		}
		fprintf(summary, "%s", "");
		print_table();
		print_targets();
		fclose(summary);
		fclose(targets);

		printf("\n--- CSV BEGIN ---\n");
		printf("round,workload,method,size,param,place,n,elapsed_ns,value,unit\n");
		for (i = 0; i < nres; i++)
			printf("%d,%s,%s,%d,%d,%s,%llu,%.0f,%.6g,%s\n", res[i].round,
			       res[i].wl, res[i].mech, res[i].size, res[i].param,
			       res[i].place, (unsigned long long)res[i].n, res[i].ns,
			       res[i].value, res[i].unit);
		printf("--- CSV END ---\n");
		printf("--- SUMMARY BEGIN ---\n");
		printf("workload,method,size,param,place,median,min,max,unit,ratio_median,ratio_min,ratio_max\n");
		fwrite(line, 1, linelen, stdout);
		printf("--- SUMMARY END ---\n");
		printf("--- TARGETS BEGIN ---\n");
		fwrite(tb, 1, tl, stdout);
		printf("--- TARGETS END ---\n");
	}
	printf("snapbench: %d targets met, %d missed, %d not measured; %d measurement errors; %.1f s\n",
	       t_met, t_missed, t_na, errors, (now_ns() - t_start) / 1e9);
	return errors ? 1 : 0;
}
