// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * bank: the snapchan demo.  N account processes, each a node of the group
 * "bank", joined by a full mesh of channels ("bank.a<i>-a<j>" carries
 * transfers from account i to account j), move random amounts of money to
 * each other.  A coordinator takes snapshots while they run, saves each
 * image, and checks it:
 *
 *   - money: the sum of the balances (the node states) plus the amounts in
 *     flight (the channel states) equals the starting total;
 *   - the cut, channel by channel: each account counts what it sent to
 *     and received from each peer, so for the channel i -> j the image must
 *     hold exactly sent_i[j] - recv_j[i] transfers, numbered
 *     recv_j[i] + 1 .. sent_i[j] (sequence numbers start at 1).
 *
 * Then it kills every account (SIGKILL: a crash), destroys the channels,
 * restores the bank from one of the saved snapshots (the one with the most
 * money in flight), starts the accounts again from their recorded states,
 * and goes on taking and checking snapshots.  Each account also checks
 * that every transfer it receives carries the next sequence number of its
 * channel, across the restore.
 *
 * Accounts never block: they send with O_NONBLOCK (a full channel means
 * "try later"), and snapchan_node_run() records as soon as a snapshot asks.
 *
 * Exit status: 0 when every check passed, 1 on a violation or an aborted
 * snapshot, 2 on a usage error, 3 when the bank could not be set up.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "snapchan.h"

#define GROUP		"bank"
#define MAX_ACCOUNTS	32
#define MAX_CONCURRENT	64
#define STATE_MAGIC	0x54434341U	/* "ACCT" */
#define XFER_MAGIC	0x52464658U	/* "XFFR" */

/* An account's state: what it records, in host byte order. */
struct acct_state {
	uint32_t magic;
	uint32_t id;
	uint32_t n;
	uint32_t reserved;
	int64_t  balance;
	uint64_t rng;
	uint64_t sent[MAX_ACCOUNTS];	/* transfers sent to each peer */
	uint64_t recv[MAX_ACCOUNTS];	/* transfers received from each */
};

/* One transfer: a DATA message. */
struct transfer {
	uint32_t magic;
	uint32_t from;
	uint32_t to;
	uint32_t reserved;
	int64_t  amount;
	uint64_t serial;
};

static struct {
	unsigned int n;
	unsigned int duration_s;
	unsigned int snaps_per_s;
	unsigned int xfers_per_s;
	unsigned int concurrent;
	uint64_t     seed;
	int64_t      initial;
	const char  *dir;
	int          quiet;
	int          keep;
} opt = {
	.n = 4, .duration_s = 20, .snaps_per_s = 4, .xfers_per_s = 100,
	.concurrent = 1,
	.initial = 1000000, .dir = "bank-snapshots",
};

static const char *prog = "bank";

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
			       .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s ? *s : 0x9E3779B97F4A7C15ULL;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static void chan_name(char *buf, unsigned int from, unsigned int to)
{
	snprintf(buf, SNAPCHAN_NAME_LEN, "bank.a%u-a%u", from, to);
}

static void node_name(char *buf, unsigned int i)
{
	snprintf(buf, SNAPCHAN_NAME_LEN, "acct%u", i);
}

/* --- an account ----------------------------------------------------------- */

struct acct {
	struct acct_state    st;
	struct snapchan_node *node;
	int                  out[MAX_ACCOUNTS];	/* node index of i -> j */
	int                  peer[2 * MAX_ACCOUNTS]; /* node index -> peer */
	unsigned int         per_tick;
	uint64_t             serial;
};

static void acct_die(struct acct *a, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));

static void acct_die(struct acct *a, int code, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: acct%u: ", prog, a->st.id);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	_exit(code);
}

static int acct_message(struct snapchan_node *n,
			const struct snapchan_node_msg *msg,
			const void *payload, void *arg)
{
	struct acct *a = arg;
	struct transfer t;
	unsigned int j;

	(void)n;
	if (msg->chan < 0 || msg->chan >= 2 * MAX_ACCOUNTS ||
	    a->peer[msg->chan] < 0)
		acct_die(a, 4, "message on unknown channel %d", msg->chan);
	j = (unsigned int)a->peer[msg->chan];
	if (msg->len != sizeof(t))
		acct_die(a, 4, "%s: message of %u bytes", msg->chan_name,
			 msg->len);
	memcpy(&t, payload, sizeof(t));
	if (t.magic != XFER_MAGIC || t.from != j || t.to != a->st.id ||
	    t.amount <= 0)
		acct_die(a, 4, "%s: bad transfer (from %u to %u amount %" PRId64 ")",
			 msg->chan_name, t.from, t.to, t.amount);
	/* Channels number from 1: this is the recv+1-th transfer from j. */
	if (msg->seq != a->st.recv[j] + 1)
		acct_die(a, 4, "%s: sequence number %" PRIu64 ", expected %" PRIu64,
			 msg->chan_name, msg->seq, a->st.recv[j] + 1);
	a->st.balance += t.amount;
	a->st.recv[j]++;
	return 0;
}

static int acct_save(struct snapchan_node *n, uint64_t snap_id,
		     const void **state, size_t *len, void *arg)
{
	struct acct *a = arg;

	(void)n;
	(void)snap_id;
	*state = &a->st;
	*len = sizeof(a->st);
	return 0;
}

static int acct_hangup(struct snapchan_node *n,
		       const struct snapchan_node_msg *msg, void *arg)
{
	(void)n;
	(void)msg;
	(void)arg;
	return 1;	/* the bank is being torn down */
}

static int acct_tick(struct snapchan_node *n, void *arg)
{
	struct acct *a = arg;
	unsigned int k, burst;

	/* Bursts, so that transfers pile up in flight now and then. */
	burst = 1 + (unsigned int)(xorshift(&a->st.rng) % (2 * a->per_tick));
	for (k = 0; k < burst; k++) {
		struct transfer t;
		unsigned int j;
		int64_t cap;
		ssize_t r;

		if (a->st.balance <= 0)
			return 0;
		j = (unsigned int)(xorshift(&a->st.rng) % (a->st.n - 1));
		if (j >= a->st.id)
			j++;
		cap = a->st.balance < 1000 ? a->st.balance : 1000;
		memset(&t, 0, sizeof(t));
		t.magic = XFER_MAGIC;
		t.from = a->st.id;
		t.to = j;
		t.amount = 1 + (int64_t)(xorshift(&a->st.rng) % (uint64_t)cap);
		t.serial = ++a->serial;
		r = snapchan_node_send(n, a->out[j], &t, sizeof(t));
		if (r == -EAGAIN)
			continue;	/* full: keep receiving, try later */
		if (r != (ssize_t)sizeof(t))
			acct_die(a, 4, "send to acct%u: %s", j,
				 strerror(r < 0 ? (int)-r : EIO));
		/* Sent and debited with no record in between: one step. */
		a->st.balance -= t.amount;
		a->st.sent[j]++;
	}
	return 0;
}

/* The account process: never returns. */
static void account(int ctl, unsigned int id, const struct acct_state *from,
		    int ready_fd)
{
	static const struct snapchan_node_ops ops = {
		.message = acct_message,
		.save = acct_save,
		.hangup = acct_hangup,
		.tick = acct_tick,
	};
	char name[SNAPCHAN_NAME_LEN], cname[SNAPCHAN_NAME_LEN];
	unsigned int j, tick_ms;
	struct acct a;
	int ret, idx;

	memset(&a, 0, sizeof(a));
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(5);
	if (from) {
		a.st = *from;
	} else {
		a.st.magic = STATE_MAGIC;
		a.st.id = id;
		a.st.n = opt.n;
		a.st.balance = opt.initial;
		a.st.rng = opt.seed * 0x100000001B3ULL + id + 1;
	}
	for (j = 0; j < 2 * MAX_ACCOUNTS; j++)
		a.peer[j] = -1;

	node_name(name, id);
	ret = snapchan_node_join(ctl, GROUP, name, 0, &a.node);
	if (ret)
		acct_die(&a, 3, "join: %s", strerror(-ret));
	for (j = 0; j < opt.n; j++) {
		if (j == id)
			continue;
		chan_name(cname, j, id);
		idx = snapchan_node_attach(a.node, cname, O_RDONLY, 0);
		if (idx < 0)
			acct_die(&a, 3, "attach %s: %s", cname, strerror(-idx));
		a.peer[idx] = (int)j;
		chan_name(cname, id, j);
		idx = snapchan_node_attach(a.node, cname,
					   O_WRONLY | O_NONBLOCK, 0);
		if (idx < 0)
			acct_die(&a, 3, "attach %s: %s", cname, strerror(-idx));
		a.out[j] = idx;
	}
	if (write(ready_fd, "R", 1) != 1)
		_exit(3);
	close(ready_fd);
	close(ctl);

	/* Ticks of at least 2 ms; several transfers per tick if need be. */
	tick_ms = opt.xfers_per_s >= 500 ? 2 : 1000 / opt.xfers_per_s;
	a.per_tick = opt.xfers_per_s * tick_ms / 1000;
	if (!a.per_tick)
		a.per_tick = 1;
	ret = snapchan_node_run(a.node, &ops, &a, (int)tick_ms);
	if (ret == 1)
		_exit(0);	/* a channel went away: torn down */
	acct_die(&a, 4, "node loop: %s", strerror(ret < 0 ? -ret : EIO));
}

/* --- the coordinator ------------------------------------------------------ */

static pid_t pids[MAX_ACCOUNTS];
static unsigned int checked, violations, aborted;

/* Start every account (from @r's states if given); wait until ready. */
static int start_accounts(int ctl, const struct snapchan_restore *r)
{
	unsigned int i, ready = 0;
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0) {
		fprintf(stderr, "%s: pipe: %s\n", prog, strerror(errno));
		return -1;
	}
	fflush(NULL);
	for (i = 0; i < opt.n; i++) {
		struct acct_state st, *from = NULL;

		if (r) {
			char name[SNAPCHAN_NAME_LEN];
			const void *s;
			uint64_t len;

			node_name(name, i);
			if (snapchan_restore_state(r, name, &s, &len) < 0 ||
			    len != sizeof(st)) {
				fprintf(stderr, "%s: no valid state for %s in the image\n",
					prog, name);
				return -1;
			}
			memcpy(&st, s, sizeof(st));
			from = &st;
		}
		pids[i] = fork();
		if (pids[i] < 0) {
			fprintf(stderr, "%s: fork: %s\n", prog, strerror(errno));
			return -1;
		}
		if (pids[i] == 0) {
			close(p[0]);
			account(ctl, i, from, p[1]);
		}
	}
	close(p[1]);
	while (ready < opt.n) {
		struct pollfd pfd = { .fd = p[0], .events = POLLIN };
		char c;

		if (poll(&pfd, 1, 60000) <= 0 || read(p[0], &c, 1) != 1 ||
		    c != 'R') {
			fprintf(stderr, "%s: accounts did not start (%u of %u ready)\n",
				prog, ready, opt.n);
			close(p[0]);
			return -1;
		}
		ready++;
	}
	close(p[0]);
	return 0;
}

/* Did an account stop by itself?  Reports it; 1 if so. */
static int accounts_died(void)
{
	unsigned int i;
	int status, died = 0;

	for (i = 0; i < opt.n; i++) {
		if (pids[i] <= 0 || waitpid(pids[i], &status, WNOHANG) != pids[i])
			continue;
		fprintf(stderr, "%s: acct%u stopped by itself (%s %d)\n", prog,
			i, WIFEXITED(status) ? "exit status" : "signal",
			WIFEXITED(status) ? WEXITSTATUS(status) :
					    WTERMSIG(status));
		pids[i] = 0;
		died = 1;
	}
	return died;
}

static void kill_accounts(void)
{
	unsigned int i;

	for (i = 0; i < opt.n; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGKILL);
	for (i = 0; i < opt.n; i++) {
		if (pids[i] > 0)
			waitpid(pids[i], NULL, 0);
		pids[i] = 0;
	}
}

static int create_channels(int ctl)
{
	unsigned int i, j;
	int ret;

	for (i = 0; i < opt.n; i++) {
		for (j = 0; j < opt.n; j++) {
			struct snapchan_chan_create cc;

			if (i == j)
				continue;
			memset(&cc, 0, sizeof(cc));
			chan_name(cc.name, i, j);
			strcpy(cc.group, GROUP);
			cc.capacity_msgs = 32;
			cc.max_msg = 64;
			cc.capacity_bytes = 32 * sizeof(struct transfer);
			ret = snapchan_chan_create(ctl, &cc);
			if (ret) {
				fprintf(stderr, "%s: create %s: %s\n", prog,
					cc.name, strerror(-ret));
				return -1;
			}
		}
	}
	return 0;
}

/* Destroy every channel of the group "bank"; their count, or -1. */
static int destroy_channels(int ctl)
{
	char (*names)[SNAPCHAN_NAME_LEN] = NULL;
	size_t count = 0, i;
	int ret, n = 0;

	ret = snapchan_chan_list(ctl, &names, &count);
	if (ret) {
		fprintf(stderr, "%s: list channels: %s\n", prog, strerror(-ret));
		return -1;
	}
	for (i = 0; i < count; i++) {
		struct snapchan_chan_info info;

		if (snapchan_chan_info(ctl, names[i], &info) ||
		    strcmp(info.group, GROUP))
			continue;
		ret = snapchan_chan_destroy(ctl, names[i], SNAPCHAN_TOPO_F_ABORT);
		if (ret && ret != -ENOENT) {
			fprintf(stderr, "%s: destroy %s: %s\n", prog, names[i],
				strerror(-ret));
			free(names);
			return -1;
		}
		n++;
	}
	free(names);
	return n;
}

struct verdict {
	uint64_t inflight;
	int64_t  inflight_amount;
	int64_t  balances;
	int      ok;
	char     why[256];
};

static void bad(struct verdict *v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void bad(struct verdict *v, const char *fmt, ...)
{
	va_list ap;

	if (!v->ok)
		return;		/* keep the first reason */
	v->ok = 0;
	va_start(ap, fmt);
	vsnprintf(v->why, sizeof(v->why), fmt, ap);
	va_end(ap);
}

/* Check a snapshot image of the bank. */
static void check_image(const struct snapchan_image *img, struct verdict *v)
{
	struct acct_state st[MAX_ACCOUNTS];
	int have[MAX_ACCOUNTS] = { 0 };
	size_t i, nn = snapchan_image_node_count(img);
	size_t nc = snapchan_image_chan_count(img);
	uint64_t k;

	memset(v, 0, sizeof(*v));
	v->ok = 1;
	if (nn != opt.n || nc != (size_t)opt.n * (opt.n - 1))
		bad(v, "%zu nodes and %zu channels, expected %u and %u", nn,
		    nc, opt.n, opt.n * (opt.n - 1));
	for (i = 0; i < nn; i++) {
		struct snapchan_image_node_view nv;
		unsigned int id;

		snapchan_image_node(img, i, &nv);
		if (sscanf(nv.name, "acct%u", &id) != 1 || id >= opt.n ||
		    have[id] || nv.state_len != sizeof(st[0])) {
			bad(v, "node %s: unexpected (state of %" PRIu64 " bytes)",
			    nv.name, nv.state_len);
			continue;
		}
		memcpy(&st[id], nv.state, sizeof(st[0]));
		if (st[id].magic != STATE_MAGIC || st[id].id != id) {
			bad(v, "node %s: bad state", nv.name);
			continue;
		}
		have[id] = 1;
		v->balances += st[id].balance;
	}
	for (i = 0; i < nc; i++) {
		struct snapchan_image_chan_view cv;
		unsigned int from, to;
		uint64_t count = 0;

		snapchan_image_chan(img, i, &cv);
		if (sscanf(cv.name, "bank.a%u-a%u", &from, &to) != 2 ||
		    from >= opt.n || to >= opt.n || !have[from] || !have[to]) {
			bad(v, "channel %s: unexpected", cv.name);
			continue;
		}
		for (k = 0; k < cv.record_count; k++) {
			struct snapchan_image_record_view rv;
			struct transfer t;

			snapchan_image_record(img, i, k, &rv);
			if (rv.type != SNAPCHAN_REC_DATA)
				continue;
			if (rv.len != sizeof(t)) {
				bad(v, "%s: record of %u bytes", cv.name, rv.len);
				continue;
			}
			memcpy(&t, rv.payload, sizeof(t));
			if (t.magic != XFER_MAGIC || t.from != from ||
			    t.to != to || t.amount <= 0)
				bad(v, "%s: bad transfer in flight", cv.name);
			count++;
			v->inflight_amount += t.amount;
		}
		v->inflight += count;
		/* The cut, exactly: what i sent and j has not received. */
		if (count != st[from].sent[to] - st[to].recv[from])
			bad(v, "%s: %" PRIu64 " in flight, but acct%u sent %" PRIu64 " and acct%u received %" PRIu64,
			    cv.name, count, from, st[from].sent[to], to,
			    st[to].recv[from]);
		else if (cv.first_seq != st[to].recv[from] + 1 ||
			 cv.next_seq != st[from].sent[to] + 1)
			bad(v, "%s: sequence numbers %" PRIu64 "..%" PRIu64 ", expected %" PRIu64 "..%" PRIu64,
			    cv.name, cv.first_seq, cv.next_seq,
			    st[to].recv[from] + 1, st[from].sent[to] + 1);
	}
	if (v->balances + v->inflight_amount != opt.initial * (int64_t)opt.n)
		bad(v, "total %" PRId64 " != %" PRId64,
		    v->balances + v->inflight_amount,
		    opt.initial * (int64_t)opt.n);
}

struct saved {
	char     path[PATH_MAX];
	uint64_t id;
	uint64_t inflight;
};

static struct saved best;	/* the phase-1 image to restore */

static void print_row(const char *phase, uint64_t id,
		      const struct snapchan_snap_info *info,
		      const struct verdict *v, const char *result)
{
	double ms = info->end_ns > info->begin_ns ?
		    (double)(info->end_ns - info->begin_ns) / 1e6 : 0;

	printf("%-7s %5" PRIu64 " %8.1f %10" PRIu64 " %12" PRId64 " %12" PRId64 "  %s\n",
	       phase, id, ms, v->inflight, v->inflight_amount,
	       v->balances + v->inflight_amount, result);
	if (!v->ok && v->why[0])
		printf("        ^ %s\n", v->why);
	fflush(stdout);
}

/* A snapshot in flight. */
struct flight {
	int      fd;
	uint64_t id;
};

/* A snapshot has ended (or must): wait, save, check.  0, or -1 to stop. */
static int finish_snapshot(const char *phase, int fd, uint64_t id)
{
	struct snapchan_image_diag diag;
	struct snapchan_snap_info info;
	struct snapchan_image *img;
	struct verdict v;
	char path[PATH_MAX];
	int ret;

	memset(&v, 0, sizeof(v));
	ret = snapchan_snap_wait(fd, 30000, &info);
	if (ret == -ECANCELED) {
		aborted++;
		snprintf(v.why, sizeof(v.why), "aborted: %s",
			 snapchan_abort_reason_name(info.abort_reason));
		print_row(phase, id, &info, &v, "ABORTED");
		close(fd);
		return 0;
	}
	if (ret) {
		fprintf(stderr, "%s: snapshot %" PRIu64 ": wait: %s\n", prog, id,
			strerror(-ret));
		close(fd);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s-%03" PRIu64 ".snap", opt.dir,
		 phase, id);
	ret = snapchan_snap_save(fd, path, 0, &diag);
	close(fd);
	if (ret) {
		fprintf(stderr, "%s: snapshot %" PRIu64 ": save %s: %s (%s)\n",
			prog, id, path, strerror(-ret), diag.msg);
		violations++;
		return -1;
	}
	/* Check what is on disk, read back. */
	ret = snapchan_image_open_file(path, &img, &diag);
	if (ret) {
		fprintf(stderr, "%s: %s: %s (%s)\n", prog, path, strerror(-ret),
			diag.msg);
		violations++;
		return -1;
	}
	check_image(img, &v);
	snapchan_image_close(img);
	checked++;
	if (!v.ok)
		violations++;
	if (!opt.quiet || !v.ok)
		print_row(phase, id, &info, &v, v.ok ? "OK" : "VIOLATION");
	if (v.ok && !strcmp(phase, "run") && v.inflight >= best.inflight) {
		snprintf(best.path, sizeof(best.path), "%s", path);
		best.id = id;
		best.inflight = v.inflight;
	}
	return 0;
}

/*
 * Take snapshots for @seconds while the accounts run: one begins every
 * 1/rate s while fewer than opt.concurrent are in flight; each is saved
 * and checked as it ends.  0 or -1.
 */
static int run_phase(int ctl, const char *phase, unsigned int seconds)
{
	uint64_t period = 1000 / opt.snaps_per_s;
	uint64_t end = now_ms() + (uint64_t)seconds * 1000;
	uint64_t next = now_ms() + period;
	struct flight fl[MAX_CONCURRENT];
	unsigned int nfl = 0, before = checked, i;
	int ret = 0;

	while (!ret && (now_ms() < end || nfl)) {
		struct pollfd pfd[MAX_CONCURRENT];
		uint64_t t = now_ms();
		int timeout = 1000;

		if (accounts_died()) {
			violations++;
			ret = -1;
			break;
		}
		if (t < end && nfl < opt.concurrent && t >= next) {
			uint64_t id;
			int fd = snapchan_snap_begin(ctl, GROUP,
						     20ULL * 1000000000, 0, &id);

			next += period;
			if (next < t)
				next = t + period;
			if (fd >= 0) {
				fl[nfl].fd = fd;
				fl[nfl].id = id;
				nfl++;
			} else if (fd != -EBUSY) {
				fprintf(stderr, "%s: snapshot begin: %s\n", prog,
					strerror(-fd));
				ret = -1;
				break;
			}
			continue;
		}
		if (t < end && nfl < opt.concurrent)
			timeout = (int)(next > t ? next - t : 0);
		for (i = 0; i < nfl; i++) {
			pfd[i].fd = fl[i].fd;
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
		}
		if (nfl) {
			if (poll(pfd, nfl, timeout) < 0 && errno != EINTR) {
				fprintf(stderr, "%s: poll: %s\n", prog,
					strerror(errno));
				ret = -1;
				break;
			}
		} else {
			sleep_ms((uint64_t)timeout);
		}
		for (i = 0; i < nfl;) {
			if (!pfd[i].revents) {
				i++;
				continue;
			}
			if (finish_snapshot(phase, fl[i].fd, fl[i].id))
				ret = -1;
			fl[i] = fl[nfl - 1];
			pfd[i] = pfd[nfl - 1];
			nfl--;
		}
	}
	for (i = 0; i < nfl; i++)
		close(fl[i].fd);
	if (!ret && checked == before) {
		fprintf(stderr, "%s: no snapshot completed in phase %s\n", prog,
			phase);
		violations++;
		ret = -1;
	}
	return ret;
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: %s [options]\n"
"\n"
"The snapchan bank demo: N account processes move money to each other over\n"
"a full mesh of channels (group \"" GROUP "\"); snapshots are taken while they run,\n"
"saved and checked (balances + money in flight = starting total, and the cut\n"
"channel by channel); then the bank is killed, restored from a saved snapshot\n"
"and checked again.  Needs the snapchan module (/dev/snapchan/control).\n"
"\n"
"  -n, --accounts N     accounts, 2..%d (default %u)\n"
"  -d, --duration SEC   running time, half before and half after the\n"
"                       restore (default %u)\n"
"  -r, --rate N         snapshots per second (default %u)\n"
"  -t, --transfers N    transfers per second per account (default %u)\n"
"  -c, --concurrent N   snapshots in flight at once, 1..%d (default %u;\n"
"                       the module runs up to max_snapshots per group)\n"
"  -s, --seed N         random seed (default: from the clock; printed)\n"
"  -b, --balance N      starting balance of each account (default %" PRId64 ")\n"
"  -o, --dir DIR        where snapshots are saved (default %s)\n"
"  -k, --keep           leave the channels of the last run in place\n"
"  -q, --quiet          print only failing rows and the verdict\n"
"  -h, --help           this text\n"
"\n"
"Any channel of group \"" GROUP "\" that exists at start is destroyed first.\n"
"Exit status: 0 all checks passed; 1 a violation or an aborted snapshot;\n"
"2 usage; 3 setup failed (module not loaded, ...).\n",
		prog, MAX_ACCOUNTS, opt.n, opt.duration_s, opt.snaps_per_s,
		opt.xfers_per_s, MAX_CONCURRENT, opt.concurrent, opt.initial,
		opt.dir);
}

static int parse_uint(const char *s, unsigned long long max,
		      unsigned long long *out)
{
	char *end;

	errno = 0;
	if (!*s || *s == '-')
		return -1;
	*out = strtoull(s, &end, 0);
	return (errno || *end || *out > max) ? -1 : 0;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "accounts", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, 'd' },
		{ "rate", required_argument, NULL, 'r' },
		{ "transfers", required_argument, NULL, 't' },
		{ "concurrent", required_argument, NULL, 'c' },
		{ "seed", required_argument, NULL, 's' },
		{ "balance", required_argument, NULL, 'b' },
		{ "dir", required_argument, NULL, 'o' },
		{ "keep", no_argument, NULL, 'k' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct snapchan_image_diag diag;
	struct snapchan_restore *r = NULL;
	struct snapchan_version ver;
	unsigned long long v;
	int c, ctl, ret, have_seed = 0, restored = 0;
	uint64_t restored_msgs = 0;
	size_t i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((c = getopt_long(argc, argv, "n:d:r:t:c:s:b:o:kqh", lopts,
				NULL)) != -1) {
		switch (c) {
		case 'n':
			if (parse_uint(optarg, MAX_ACCOUNTS, &v) || v < 2)
				goto bad_arg;
			opt.n = (unsigned int)v;
			break;
		case 'd':
			if (parse_uint(optarg, 86400, &v) || v < 2)
				goto bad_arg;
			opt.duration_s = (unsigned int)v;
			break;
		case 'r':
			if (parse_uint(optarg, 100, &v) || !v)
				goto bad_arg;
			opt.snaps_per_s = (unsigned int)v;
			break;
		case 't':
			if (parse_uint(optarg, 100000, &v) || !v)
				goto bad_arg;
			opt.xfers_per_s = (unsigned int)v;
			break;
		case 'c':
			if (parse_uint(optarg, MAX_CONCURRENT, &v) || !v)
				goto bad_arg;
			opt.concurrent = (unsigned int)v;
			break;
		case 's':
			if (parse_uint(optarg, UINT64_MAX, &v))
				goto bad_arg;
			opt.seed = v;
			have_seed = 1;
			break;
		case 'b':
			if (parse_uint(optarg, INT64_MAX / MAX_ACCOUNTS, &v) || !v)
				goto bad_arg;
			opt.initial = (int64_t)v;
			break;
		case 'o':
			opt.dir = optarg;
			break;
		case 'k':
			opt.keep = 1;
			break;
		case 'q':
			opt.quiet = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", prog,
			argv[optind]);
		usage(stderr);
		return 2;
	}
	if (!have_seed)
		opt.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 16);

	ctl = snapchan_open_control();
	if (ctl < 0) {
		fprintf(stderr, "%s: cannot open /dev/snapchan/control: %s%s\n",
			prog, strerror(-ctl),
			ctl == -ENOENT ? " (is the snapchan module loaded?)" : "");
		return 3;
	}
	ret = snapchan_version(ctl, &ver);
	if (ret || !(ver.features & SNAPCHAN_FEAT_SNAPSHOTS)) {
		fprintf(stderr, "%s: the loaded module has no snapshots\n", prog);
		return 3;
	}
	if (mkdir(opt.dir, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "%s: mkdir %s: %s\n", prog, opt.dir,
			strerror(errno));
		return 3;
	}
	ret = destroy_channels(ctl);
	if (ret < 0)
		return 3;
	if (ret > 0)
		printf("%s: destroyed %d channels left by an earlier run\n",
		       prog, ret);

	printf("%s: %u accounts, %u channels, %" PRId64 " each, total %" PRId64 "\n",
	       prog, opt.n, opt.n * (opt.n - 1), opt.initial,
	       opt.initial * (int64_t)opt.n);
	printf("%s: %u s, %u snapshots/s (up to %u at once), %u transfers/s per account, seed %" PRIu64 ", images in %s/\n",
	       prog, opt.duration_s, opt.snaps_per_s, opt.concurrent,
	       opt.xfers_per_s, opt.seed, opt.dir);
	if (create_channels(ctl) || start_accounts(ctl, NULL)) {
		kill_accounts();
		destroy_channels(ctl);
		return 3;
	}
	printf("%-7s %5s %8s %10s %12s %12s  %s\n", "phase", "snap", "ms",
	       "in-flight", "amount", "total", "check");
	ret = run_phase(ctl, "run", opt.duration_s / 2);

	/* The crash: every account dies at once, mid-transfer. */
	kill_accounts();
	if (destroy_channels(ctl) < 0)
		return 3;
	if (ret)
		goto verdict;
	printf("%s: killed the %u accounts and destroyed the channels\n", prog,
	       opt.n);

	if (!best.path[0]) {
		fprintf(stderr, "%s: no snapshot to restore\n", prog);
		violations++;
		goto verdict;
	}
	ret = snapchan_restore_file(ctl, best.path, NULL, 0, &r, &diag);
	if (ret) {
		fprintf(stderr, "%s: restore from %s: %s: %s\n", prog, best.path,
			strerror(-ret), diag.msg);
		violations++;
		goto verdict;
	}
	for (i = 0; i < snapchan_restore_chan_count(r); i++) {
		struct snapchan_restore_chan_view cv;

		snapchan_restore_chan(r, i, &cv);
		restored_msgs += cv.records;
	}
	restored = 1;
	printf("%s: restored from %s (snapshot %" PRIu64 "): %zu channels, %" PRIu64 " transfers back in flight, %zu accounts\n",
	       prog, best.path, best.id, snapchan_restore_chan_count(r),
	       restored_msgs, snapchan_restore_node_count(r));
	if (start_accounts(ctl, r)) {
		kill_accounts();
		violations++;
		goto verdict;
	}
	run_phase(ctl, "resumed", opt.duration_s - opt.duration_s / 2);
	kill_accounts();
	if (!opt.keep)
		destroy_channels(ctl);

verdict:
	snapchan_restore_free(r);
	close(ctl);
	if (!violations && !aborted && restored) {
		printf("%s: PASS: %u snapshots checked, all consistent (total %" PRId64 "); restored from snapshot %" PRIu64 " with %" PRIu64 " transfers in flight\n",
		       prog, checked, opt.initial * (int64_t)opt.n, best.id,
		       restored_msgs);
		return 0;
	}
	printf("%s: FAIL: %u snapshots checked, %u violations, %u aborted\n",
	       prog, checked, violations, aborted);
	return 1;

bad_arg:
	fprintf(stderr, "%s: invalid value '%s' for -%c\n", prog, optarg, c);
	usage(stderr);
	return 2;
}
