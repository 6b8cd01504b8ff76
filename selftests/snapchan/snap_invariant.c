// SPDX-License-Identifier: GPL-2.0
/*
 * snap_invariant: the conservation check of Chandy-Lamport snapshots with
 * real processes (DESIGN.md 1, 3.3, 3.4; the bank of 3.6).
 *
 *   snap_invariant [-n nodes] [-t ring|mesh] [-s seed] [-k snapshots]
 *                  [-m messages] [-c concurrent] [-T seconds] [-v]
 *
 *   -n  nodes (processes), default 4, 2..32
 *   -t  topology: ring (each node sends to both neighbours) or mesh (to
 *       every other node); default both, one after the other
 *   -s  seed of the random choices (default: time and pid)
 *   -k  snapshots per topology (default 20)
 *   -m  messages each node sends (default 1000)
 *   -c  snapshots running at once, at most (default 3, capped by the
 *       max_snapshots module parameter)
 *   -T  watchdog: give up (not ok) after this many seconds per topology
 *       (default 120)
 *   -v  print every snapshot's totals
 *
 * Each node is a process with a balance (1000 to start), attached as the
 * sender of its outgoing channels and the receiver of its incoming ones.
 * Its loop polls its command socket, its node fd and its incoming
 * channels: DATA is an 8-byte amount added to the balance; a record request
 * (node fd EPOLLPRI, NODE_EVENT) or a marker at the head of a channel
 * (ENOMSG, RECV reports MARKER) makes it record its balance (8 bytes);
 * otherwise it sends a random amount (at most its balance) to a random
 * neighbour with a non-blocking write.  Nothing blocks: poll has timeouts,
 * sends are O_NONBLOCK and a full channel just means "not now".
 *
 * The parent coordinates: it keeps up to -c snapshots running, begun in
 * turn by SNAP_BEGIN and by a random node (a command on its socket; the
 * node calls NODE_RECORD with id 0 and SNAPCHAN_RECORD_F_SNAPFD and passes
 * the snapshot fd back with SCM_RIGHTS).  For every complete snapshot it
 * reads and verifies the image (libsnapchan: CRC, structure, sequence
 * numbers) and checks that the node states plus the amounts in the channel
 * states sum to nodes * 1000, that every channel's records are DATA with
 * contiguous sequence numbers, and that the channels and nodes are the
 * group's.  No snapshot may abort.  At the end the nodes stop sending,
 * drain their channels and report their balances (which must again sum to
 * nodes * 1000, with every message sent received), leave, and the channels
 * are destroyed; the debugfs tables must then be empty.
 *
 * Output is TAP: one test point per topology, counts as "#" comments.
 * Exit status 0 if every topology passed, 1 if not, 4 (skip) without the
 * module.
 */
#define _GNU_SOURCE
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
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "snap_util.h"

#define KSFT_PASS	0
#define KSFT_FAIL	1
#define KSFT_SKIP	4

#define MAX_NODES	32
#define START_BALANCE	1000ULL
#define SNAP_TIMEOUT_NS	(30ULL * 1000 * 1000 * 1000)
#define MAX_RUNNING	64

enum topo { TOPO_RING, TOPO_MESH };

static struct {
	int nodes;
	int topo;		/* -1: both */
	uint64_t seed;
	int snapshots;
	int messages;
	int concurrent;
	int watchdog;
	int verbose;
} opt = {
	.nodes = 4, .topo = -1, .snapshots = 20, .messages = 1000,
	.concurrent = 3, .watchdog = 120,
};

/* --- the graph --------------------------------------------------------- */

struct edge {
	int from, to;
	char name[SNAPCHAN_NAME_LEN];
};

struct graph {
	enum topo topo;
	const char *tname;
	char group[SNAPCHAN_NAME_LEN];
	int n;
	int nedges;
	struct edge edges[MAX_NODES * MAX_NODES];
};

static void graph_build(struct graph *g, enum topo topo, int n)
{
	int i, j;

	memset(g, 0, sizeof(*g));
	g->topo = topo;
	g->tname = topo == TOPO_RING ? "ring" : "mesh";
	g->n = n;
	snprintf(g->group, sizeof(g->group), "iv%d%c", getpid(), g->tname[0]);
	for (i = 0; i < n; i++) {
		for (j = 0; j < n; j++) {
			int ring_nb = j == (i + 1) % n || j == (i + n - 1) % n;

			if (i == j || (topo == TOPO_RING && !ring_nb))
				continue;
			g->edges[g->nedges].from = i;
			g->edges[g->nedges].to = j;
			snprintf(g->edges[g->nedges].name, SNAPCHAN_NAME_LEN,
				 "%.12s-%u-%u", g->group, (unsigned char)i, (unsigned char)j);
			g->nedges++;
		}
	}
}

/* --- randomness (xorshift64*) ------------------------------------------ */

static uint64_t rnd_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static uint64_t rnd_below(uint64_t *s, uint64_t n)
{
	return n ? rnd_next(s) % n : 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* --- parent <-> node messages (SOCK_SEQPACKET) -------------------------- */

enum cmd {
	CMD_BEGIN = 'b', CMD_PROGRESS = 'p', CMD_STOP = 'q', CMD_DRAIN = 'd',
	CMD_EXIT = 'x',
};

struct reply {
	int32_t kind;		/* 'r' ready, 'b' begun, 'p' progress, 's' stopped,
				 * 'd' drained, 'E' error */
	int32_t ret;		/* for 'b': fd or -errno */
	uint64_t node_id;
	uint64_t snap_id;
	uint64_t balance;
	uint64_t sent, sent_amount;
	uint64_t received, received_amount;
	uint64_t records, marker_records, request_records;
	char msg[128];
};

static int send_reply(int sock, const struct reply *r, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = (void *)r, .iov_len = sizeof(*r) };
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
	return sendmsg(sock, &mh, MSG_NOSIGNAL) == sizeof(*r) ? 0 : -1;
}

/* Receive a reply within @timeout_ms; 0, -ETIMEDOUT or -EPIPE/-errno. */
static int recv_reply(int sock, struct reply *r, int *fd, int timeout_ms)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = r, .iov_len = sizeof(*r) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	ssize_t n;
	int ret;

	if (fd)
		*fd = -1;
	ret = sc_poll1(sock, POLLIN, timeout_ms);
	if (ret < 0)
		return ret;
	if (!ret)
		return -ETIMEDOUT;
	n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -errno;
	if (n != sizeof(*r))
		return -EPIPE;
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
	return 0;
}

/* --- a node ------------------------------------------------------------ */

struct node {
	int idx;
	int ctl;
	int sock;
	int fd;			/* node fd */
	uint64_t id;
	int nout, nin;
	int out[MAX_NODES];
	int in[MAX_NODES];
	uint64_t balance;
	uint64_t rnd;
	int sending;
	struct reply st;	/* counters */
};

static void node_fail(struct node *n, const char *fmt, ...)
{
	struct reply r;
	va_list ap;

	memset(&r, 0, sizeof(r));
	r.kind = 'E';
	va_start(ap, fmt);
	vsnprintf(r.msg, sizeof(r.msg), fmt, ap);
	va_end(ap);
	send_reply(n->sock, &r, -1);
	_exit(1);
}

/* Record snapshot @id with the balance; tolerate those that ended. */
static void node_record(struct node *n, uint64_t id, int from_marker)
{
	int ret = sc_record(n->fd, id, &n->balance, sizeof(n->balance));

	if (ret == 0) {
		n->st.records++;
		if (from_marker)
			n->st.marker_records++;
		else
			n->st.request_records++;
		return;
	}
	if (ret == -ECANCELED || ret == -ENOENT)
		return;		/* aborted meanwhile: the parent sees why */
	if (ret == -EALREADY && !from_marker)
		return;
	node_fail(n, "node %d: NODE_RECORD %" PRIu64 " (%s): %s", n->idx, id,
		  from_marker ? "marker" : "request", strerror(-ret));
}

/* Answer every pending record request. */
static void node_requests(struct node *n)
{
	int guard;

	for (guard = 0; guard < 1000; guard++) {
		int64_t id = sc_pending(n->fd);

		if (id < 0)
			node_fail(n, "node %d: NODE_EVENT: %s", n->idx,
				  strerror((int)-id));
		if (id == 0)
			return;
		node_record(n, id, 0);
	}
	node_fail(n, "node %d: record requests never end", n->idx);
}

/* Take what is queued on incoming channel @fd (up to @max messages). */
static void node_receive(struct node *n, int fd, int max)
{
	struct snapchan_recv r;
	uint64_t amount;
	char buf[16];
	ssize_t len;
	int i, markers = 0;

	for (i = 0; i < max; i++) {
		len = read(fd, buf, sizeof(buf));
		if (len == sizeof(amount)) {
			memcpy(&amount, buf, sizeof(amount));
			n->balance += amount;
			n->st.received++;
			n->st.received_amount += amount;
			continue;
		}
		if (len >= 0)
			node_fail(n, "node %d: read %zd bytes", n->idx, len);
		if (errno == EAGAIN)
			return;
		if (errno != ENOMSG)
			node_fail(n, "node %d: read: %s", n->idx, strerror(errno));
		/* A marker at the head: record that snapshot (it consumes it). */
		memset(&r, 0, sizeof(r));
		r.flags = SNAPCHAN_RECV_PEEK;
		if (ioctl(fd, SNAPCHAN_IOC_RECV, &r))
			node_fail(n, "node %d: RECV: %s", n->idx, strerror(errno));
		if (r.type != SNAPCHAN_REC_MARKER)
			continue;	/* it went away meanwhile (abort) */
		if (!r.snap_id || !r.origin)
			node_fail(n, "node %d: marker id %llu origin %llu", n->idx,
				  (unsigned long long)r.snap_id,
				  (unsigned long long)r.origin);
		node_record(n, r.snap_id, 1);
		if (++markers > 4 * MAX_RUNNING)
			node_fail(n, "node %d: marker %llu stays at the head",
				  n->idx, (unsigned long long)r.snap_id);
	}
}

static void node_send(struct node *n)
{
	uint64_t amount;
	int k;
	ssize_t w;

	if (!n->sending || n->st.sent >= (uint64_t)opt.messages ||
	    !n->balance || !n->nout)
		return;
	k = rnd_below(&n->rnd, n->nout);
	amount = 1 + rnd_below(&n->rnd, n->balance);
	w = write(n->out[k], &amount, sizeof(amount));
	if (w == sizeof(amount)) {
		n->balance -= amount;
		n->st.sent++;
		n->st.sent_amount += amount;
		return;
	}
	if (w < 0 && errno == EAGAIN)
		return;		/* full: later */
	node_fail(n, "node %d: write: %s", n->idx, w < 0 ? strerror(errno) : "short");
}

static void node_command(struct node *n)
{
	struct reply r;
	char c;
	ssize_t len;
	int i, fd;

	len = recv(n->sock, &c, 1, 0);
	if (len <= 0)
		_exit(len == 0 ? 0 : 1);	/* the parent is gone */
	memset(&r, 0, sizeof(r));
	switch (c) {
	case CMD_BEGIN:
		r.kind = 'b';
		fd = sc_record_ex(n->fd, 0, &n->balance, sizeof(n->balance),
				  SNAPCHAN_RECORD_F_SNAPFD, SNAP_TIMEOUT_NS, 0,
				  &r.snap_id);
		r.ret = fd;
		if (fd >= 0) {
			n->st.records++;
			n->st.request_records++;
		}
		if (send_reply(n->sock, &r, fd))
			_exit(1);
		if (fd >= 0)
			close(fd);
		return;
	case CMD_PROGRESS:
		r = n->st;
		r.kind = 'p';
		r.balance = n->balance;
		break;
	case CMD_STOP:
		n->sending = 0;
		r = n->st;
		r.kind = 's';
		r.balance = n->balance;
		break;
	case CMD_DRAIN:
		/* Nobody sends any more: one pass empties every channel. */
		node_requests(n);
		for (i = 0; i < n->nin; i++)
			node_receive(n, n->in[i], 1 << 30);
		r = n->st;
		r.kind = 'd';
		r.balance = n->balance;
		break;
	case CMD_EXIT:
		close(n->fd);
		_exit(0);
	default:
		node_fail(n, "node %d: unknown command %c", n->idx, c);
	}
	r.node_id = n->id;
	if (send_reply(n->sock, &r, -1))
		_exit(1);
}

static void node_main(const struct graph *g, int idx, int ctl, int sock)
{
	struct pollfd pfd[2 + MAX_NODES];
	char name[SNAPCHAN_NAME_LEN];
	struct node n;
	struct reply r;
	int i, ret, fd;

	memset(&n, 0, sizeof(n));
	n.idx = idx;
	n.ctl = ctl;
	n.sock = sock;
	n.balance = START_BALANCE;
	n.sending = 1;
	n.rnd = (opt.seed ^ (0x9E3779B97F4A7C15ULL * (idx + 1))) | 1;
	snprintf(name, sizeof(name), "n%d", idx);
	n.fd = sc_join(ctl, g->group, name, 0, &n.id);
	if (n.fd < 0)
		node_fail(&n, "node %d: NODE_JOIN: %s", idx, strerror(-n.fd));
	for (i = 0; i < g->nedges; i++) {
		const struct edge *e = &g->edges[i];

		if (e->from != idx && e->to != idx)
			continue;
		fd = sc_open_chan(e->name, (e->from == idx ? O_WRONLY : O_RDONLY) |
				  O_NONBLOCK);
		if (fd < 0)
			node_fail(&n, "node %d: open %s: %s", idx, e->name,
				  strerror(-fd));
		ret = sc_attach(n.fd, fd);
		if (ret)
			node_fail(&n, "node %d: attach %s: %s", idx, e->name,
				  strerror(-ret));
		if (e->from == idx)
			n.out[n.nout++] = fd;
		else
			n.in[n.nin++] = fd;
	}
	memset(&r, 0, sizeof(r));
	r.kind = 'r';
	r.node_id = n.id;
	if (send_reply(sock, &r, -1))
		_exit(1);

	for (;;) {
		int busy = n.sending && n.st.sent < (uint64_t)opt.messages;

		pfd[0].fd = sock;
		pfd[0].events = POLLIN;
		pfd[1].fd = n.fd;
		pfd[1].events = POLLPRI;
		for (i = 0; i < n.nin; i++) {
			pfd[2 + i].fd = n.in[i];
			pfd[2 + i].events = POLLIN | POLLPRI;
		}
		ret = poll(pfd, 2 + n.nin, busy ? 0 : 20);
		if (ret < 0 && errno != EINTR)
			node_fail(&n, "node %d: poll: %s", idx, strerror(errno));
		if (ret > 0) {
			if (pfd[0].revents)
				node_command(&n);
			if (pfd[1].revents & POLLPRI)
				node_requests(&n);
			for (i = 0; i < n.nin; i++) {
				if (pfd[2 + i].revents & (POLLERR | POLLHUP))
					node_fail(&n, "node %d: channel hung up", idx);
				if (pfd[2 + i].revents & (POLLIN | POLLPRI))
					node_receive(&n, n.in[i], 8);
			}
		}
		/* Mostly send; sometimes just receive. */
		if (rnd_below(&n.rnd, 4))
			node_send(&n);
	}
}

/* --- the coordinator ---------------------------------------------------- */

struct running {
	int fd;
	uint64_t id;
	int by;			/* -1: SNAP_BEGIN, else the node */
};

struct run {
	const struct graph *g;
	int ctl;
	pid_t pids[MAX_NODES];
	int socks[MAX_NODES];
	uint64_t node_ids[MAX_NODES];
	struct running run[MAX_RUNNING];
	int nrun;
	uint64_t rnd;
	/* counts */
	int begun, by_begin, by_node, busy, complete, aborted;
	int reasons[8];
	uint64_t recorded_msgs, recorded_amount;
	uint64_t last_id;
	int failed;
	char why[512];
};

static void fail(struct run *r, const char *fmt, ...)
{
	va_list ap;

	if (r->failed)
		return;
	r->failed = 1;
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
	printf("# %s: FAIL: %s\n", r->g->tname, r->why);
	fflush(stdout);
}

static pid_t *watch_pids;
static int watch_n;

static void watchdog(int sig)
{
	int i;

	(void)sig;
	for (i = 0; i < watch_n; i++)
		if (watch_pids[i] > 0)
			kill(watch_pids[i], SIGKILL);
	dprintf(STDOUT_FILENO, "# watchdog: no progress within %d s\nBail out! watchdog\n",
		opt.watchdog);
	_exit(KSFT_FAIL);
}

/* Check one complete snapshot's image. */
static void check_image(struct run *r, struct running *s)
{
	const struct graph *g = r->g;
	struct snapchan_image_diag diag;
	struct snapchan_image_header_view h;
	struct snapchan_image *img = NULL;
	struct snapchan_snap_info info;
	uint64_t total = 0, msgs = 0, amounts = 0;
	int i, ret;
	size_t c, j;

	if (sc_snap_info(s->fd, &info))
		return fail(r, "snapshot %" PRIu64 ": SNAP_INFO: %s", s->id, strerror(errno));
	memset(&diag, 0, sizeof(diag));
	ret = snapchan_image_open_fd(s->fd, &img, &diag);
	if (ret)
		return fail(r, "snapshot %" PRIu64 ": image refused: %s at %" PRIu64 ": %s",
			    s->id, strerror(-ret), diag.offset, diag.msg);
	snapchan_image_header(img, &h);
	if (h.snap_id != s->id || strcmp(h.group, g->group) ||
	    h.kind != SNAPCHAN_IMG_KIND_SNAPSHOT || h.total_len != info.image_len) {
		fail(r, "snapshot %" PRIu64 ": header id %" PRIu64 " group %s kind %u len %" PRIu64,
		     s->id, h.snap_id, h.group, h.kind, h.total_len);
		goto out;
	}
	if (snapchan_image_node_count(img) != (size_t)g->n ||
	    snapchan_image_chan_count(img) != (size_t)g->nedges) {
		fail(r, "snapshot %" PRIu64 ": %zu nodes, %zu channels; expected %d, %d",
		     s->id, snapchan_image_node_count(img),
		     snapchan_image_chan_count(img), g->n, g->nedges);
		goto out;
	}
	for (i = 0; i < g->n; i++) {
		struct snapchan_image_node_view nv;
		char name[SNAPCHAN_NAME_LEN];
		uint64_t bal;

		snprintf(name, sizeof(name), "n%d", i);
		if (snapchan_image_node_by_name(img, name, &nv) < 0) {
			fail(r, "snapshot %" PRIu64 ": node %s missing", s->id, name);
			goto out;
		}
		if (nv.id != r->node_ids[i] || nv.state_len != sizeof(bal)) {
			fail(r, "snapshot %" PRIu64 ": node %s id %" PRIu64 " state %" PRIu64 " bytes",
			     s->id, name, nv.id, nv.state_len);
			goto out;
		}
		memcpy(&bal, nv.state, sizeof(bal));
		total += bal;
	}
	for (i = 0; i < g->nedges; i++) {
		const struct edge *e = &g->edges[i];
		struct snapchan_image_chan_view cv;
		int idx = snapchan_image_chan_by_name(img, e->name, &cv);

		if (idx < 0) {
			fail(r, "snapshot %" PRIu64 ": channel %s missing", s->id, e->name);
			goto out;
		}
		if (cv.sender_node != r->node_ids[e->from] ||
		    cv.receiver_node != r->node_ids[e->to]) {
			fail(r, "snapshot %" PRIu64 ": channel %s ends %" PRIu64 "->%" PRIu64,
			     s->id, e->name, cv.sender_node, cv.receiver_node);
			goto out;
		}
		if (cv.next_seq - cv.first_seq != cv.record_count) {
			fail(r, "snapshot %" PRIu64 ": channel %s seq %" PRIu64 "..%" PRIu64
			     " but %" PRIu64 " records", s->id, e->name, cv.first_seq,
			     cv.next_seq, cv.record_count);
			goto out;
		}
		for (j = 0; j < cv.record_count; j++) {
			struct snapchan_image_record_view rv;
			uint64_t amount;

			snapchan_image_record(img, idx, j, &rv);
			if (rv.type != SNAPCHAN_REC_DATA || rv.len != sizeof(amount) ||
			    rv.seq != cv.first_seq + j) {
				fail(r, "snapshot %" PRIu64 ": channel %s record %zu: type %u len %u seq %" PRIu64,
				     s->id, e->name, j, rv.type, rv.len, rv.seq);
				goto out;
			}
			memcpy(&amount, rv.payload, sizeof(amount));
			if (!amount || amount > g->n * START_BALANCE) {
				fail(r, "snapshot %" PRIu64 ": channel %s record %zu: amount %" PRIu64,
				     s->id, e->name, j, amount);
				goto out;
			}
			amounts += amount;
			msgs++;
		}
	}
	(void)c;
	if (total + amounts != g->n * START_BALANCE) {
		fail(r, "snapshot %" PRIu64 ": balances %" PRIu64 " + in flight %" PRIu64
		     " (%" PRIu64 " messages) = %" PRIu64 ", expected %" PRIu64,
		     s->id, total, amounts, msgs, total + amounts,
		     (uint64_t)g->n * START_BALANCE);
		goto out;
	}
	if (msgs != info.recorded_msgs)
		fail(r, "snapshot %" PRIu64 ": %" PRIu64 " records, SNAP_INFO says %" PRIu64,
		     s->id, msgs, (uint64_t)info.recorded_msgs);
	r->recorded_msgs += msgs;
	r->recorded_amount += amounts;
	if (opt.verbose)
		printf("# %s: snapshot %" PRIu64 " (%s): balances %" PRIu64
		       ", in flight %" PRIu64 " in %" PRIu64 " messages\n",
		       g->tname, s->id, s->by < 0 ? "SNAP_BEGIN" : "node",
		       total, amounts, msgs);
out:
	snapchan_image_close(img);
}

static void snapshot_ended(struct run *r, int k)
{
	struct running *s = &r->run[k];
	struct snapchan_snap_info info;

	if (sc_snap_info(s->fd, &info)) {
		fail(r, "SNAP_INFO: %s", strerror(errno));
	} else if (info.snap_id != s->id) {
		fail(r, "snapshot fd of %" PRIu64 " reports id %llu", s->id,
		     (unsigned long long)info.snap_id);
	} else if (info.state == SNAPCHAN_SNAP_COMPLETE) {
		r->complete++;
		check_image(r, s);
	} else if (info.state == SNAPCHAN_SNAP_ABORTED) {
		r->aborted++;
		r->reasons[info.abort_reason & 7]++;
		fail(r, "snapshot %" PRIu64 " aborted, reason %u", s->id,
		     info.abort_reason);
	} else {
		fail(r, "snapshot %" PRIu64 ": poll says ended, state %u", s->id,
		     info.state);
	}
	close(s->fd);
	r->run[k] = r->run[--r->nrun];
}

static void begin_one(struct run *r)
{
	struct running *s = &r->run[r->nrun];
	int fd, node, ret;
	uint64_t id = 0;
	struct reply rep;
	char c = CMD_BEGIN;

	if (r->begun % 2 == 0) {
		fd = sc_begin(r->ctl, r->g->group, SNAP_TIMEOUT_NS, 0, &id);
		node = -1;
	} else {
		node = rnd_below(&r->rnd, r->g->n);
		if (send(r->socks[node], &c, 1, MSG_NOSIGNAL) != 1)
			return fail(r, "command to node %d: %s", node, strerror(errno));
		ret = recv_reply(r->socks[node], &rep, &fd, 10000);
		if (ret)
			return fail(r, "node %d did not answer: %s", node, strerror(-ret));
		if (rep.kind == 'E')
			return fail(r, "%s", rep.msg);
		if (rep.kind != 'b')
			return fail(r, "node %d: reply %c to begin", node, rep.kind);
		if (rep.ret >= 0 && fd < 0)
			return fail(r, "node %d: no snapshot fd passed", node);
		if (rep.ret < 0)
			fd = rep.ret;
		id = rep.snap_id;
	}
	if (fd == -EBUSY) {
		r->busy++;
		return;
	}
	if (fd < 0)
		return fail(r, "%s: %s", node < 0 ? "SNAP_BEGIN" : "NODE_RECORD id 0",
			    strerror(-fd));
	if (id <= r->last_id)
		fail(r, "snapshot ids do not increase: %" PRIu64 " after %" PRIu64,
		     id, r->last_id);
	r->last_id = id;
	s->fd = fd;
	s->id = id;
	s->by = node;
	r->nrun++;
	r->begun++;
	if (node < 0)
		r->by_begin++;
	else
		r->by_node++;
}

/* Ask every node for @cmd and collect the replies. */
static int all_nodes(struct run *r, char cmd, struct reply *reps)
{
	int i, ret;

	for (i = 0; i < r->g->n; i++)
		if (send(r->socks[i], &cmd, 1, MSG_NOSIGNAL) != 1) {
			fail(r, "command %c to node %d: %s", cmd, i, strerror(errno));
			return -1;
		}
	for (i = 0; i < r->g->n; i++) {
		ret = recv_reply(r->socks[i], &reps[i], NULL, 20000);
		if (ret) {
			fail(r, "node %d did not answer %c: %s", i, cmd, strerror(-ret));
			return -1;
		}
		if (reps[i].kind == 'E') {
			fail(r, "%s", reps[i].msg);
			return -1;
		}
	}
	return 0;
}

static int run_topology(enum topo topo, int tapno)
{
	static struct graph g;
	static struct run r;
	struct reply reps[MAX_NODES];
	uint64_t sent = 0, sent_amt = 0, recvd = 0, recvd_amt = 0, total = 0;
	unsigned long long maxsnap = 4;
	int i, ret, pair[2], conc, t;
	char dump[1024];
	double t0 = now_s();

	graph_build(&g, topo, opt.nodes);
	memset(&r, 0, sizeof(r));
	r.g = &g;
	r.rnd = (opt.seed * 31 + topo + 1) | 1;
	for (i = 0; i < MAX_NODES; i++)
		r.socks[i] = -1;
	printf("# %s: %d nodes, %d channels, group %s, seed %" PRIu64 "\n",
	       g.tname, g.n, g.nedges, g.group, opt.seed);
	fflush(stdout);

	r.ctl = open(SC_CONTROL, O_RDWR | O_CLOEXEC);
	if (r.ctl < 0) {
		fail(&r, "open %s: %s", SC_CONTROL, strerror(errno));
		goto report;
	}
	for (i = 0; i < g.nedges; i++) {
		ret = sc_create_in(r.ctl, g.edges[i].name, g.group, 64 * 8, 64, 8, 0);
		if (ret) {
			fail(&r, "create %s: %s", g.edges[i].name, strerror(-ret));
			goto destroy;
		}
	}

	watch_pids = r.pids;
	watch_n = g.n;
	signal(SIGALRM, watchdog);
	alarm(opt.watchdog);
	fflush(stdout);
	for (i = 0; i < g.n; i++) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair)) {
			fail(&r, "socketpair: %s", strerror(errno));
			goto stop;
		}
		r.pids[i] = fork();
		if (r.pids[i] < 0) {
			fail(&r, "fork: %s", strerror(errno));
			close(pair[0]);
			close(pair[1]);
			goto stop;
		}
		if (r.pids[i] == 0) {
			int j;

			alarm(0);
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() == 1)
				_exit(1);
			close(pair[0]);
			for (j = 0; j < i; j++)
				close(r.socks[j]);
			node_main(&g, i, r.ctl, pair[1]);
			_exit(0);
		}
		close(pair[1]);
		r.socks[i] = pair[0];
	}
	for (i = 0; i < g.n; i++) {
		ret = recv_reply(r.socks[i], &reps[i], NULL, 20000);
		if (ret || reps[i].kind != 'r') {
			fail(&r, "node %d not ready: %s", i,
			     ret ? strerror(-ret) : reps[i].msg);
			goto stop;
		}
		r.node_ids[i] = reps[i].node_id;
	}

	/* Snapshots while the money moves. */
	sc_param("max_snapshots", &maxsnap);
	conc = opt.concurrent < (int)maxsnap ? opt.concurrent : (int)maxsnap;
	if (conc > MAX_RUNNING)
		conc = MAX_RUNNING;
	if (conc < 1)
		conc = 1;
	while (!r.failed && (r.begun < opt.snapshots || r.nrun)) {
		struct pollfd pfd[MAX_RUNNING];

		if (r.begun < opt.snapshots && r.nrun < conc &&
		    !rnd_below(&r.rnd, 3))
			begin_one(&r);
		for (i = 0; i < r.nrun; i++) {
			pfd[i].fd = r.run[i].fd;
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
		}
		ret = poll(pfd, r.nrun, r.nrun ? 2 : 1);
		if (ret < 0 && errno != EINTR) {
			fail(&r, "poll: %s", strerror(errno));
			break;
		}
		for (i = r.nrun - 1; i >= 0 && ret > 0; i--)
			if (pfd[i].revents)
				snapshot_ended(&r, i);
		/* A node that failed says why on its socket. */
		for (i = 0; i < g.n; i++) {
			if (sc_poll1(r.socks[i], POLLIN, 0) > 0) {
				struct reply e;

				if (!recv_reply(r.socks[i], &e, NULL, 0))
					fail(&r, "%s", e.kind == 'E' ? e.msg : "unexpected reply");
				else
					fail(&r, "node %d went away", i);
			}
		}
	}

	/*
	 * Let the nodes send their messages (until all are sent or nothing
	 * moved for 2 s: a node whose money all went to nodes that are done
	 * cannot go on), then stop, drain and count.
	 */
	{
		uint64_t last = 0, moved;
		double since = now_s();

		while (!r.failed && !all_nodes(&r, CMD_PROGRESS, reps)) {
			int done = 1;

			moved = 0;
			for (i = 0; i < g.n; i++) {
				moved += reps[i].sent + reps[i].received;
				if (reps[i].sent < (uint64_t)opt.messages)
					done = 0;
			}
			if (done)
				break;
			if (moved != last) {
				last = moved;
				since = now_s();
			} else if (now_s() - since > 2.0) {
				break;
			}
			usleep(20000);
		}
	}
	if (!r.failed && !all_nodes(&r, CMD_STOP, reps)) {
		for (i = 0; i < g.n; i++) {
			sent += reps[i].sent;
			sent_amt += reps[i].sent_amount;
		}
		if (!all_nodes(&r, CMD_DRAIN, reps)) {
			for (i = 0; i < g.n; i++) {
				recvd += reps[i].received;
				recvd_amt += reps[i].received_amount;
				total += reps[i].balance;
			}
			if (total != g.n * START_BALANCE)
				fail(&r, "final balances sum to %" PRIu64 ", expected %" PRIu64,
				     total, (uint64_t)g.n * START_BALANCE);
			if (sent != recvd || sent_amt != recvd_amt)
				fail(&r, "sent %" PRIu64 " (%" PRIu64 ") but received %" PRIu64
				     " (%" PRIu64 ")", sent, sent_amt, recvd, recvd_amt);
			for (i = 0; i < g.nedges; i++) {
				struct snapchan_chan_info ci;

				if (sc_info(r.ctl, g.edges[i].name, &ci)) {
					fail(&r, "CHAN_INFO %s: %s", g.edges[i].name,
					     strerror(errno));
					break;
				}
				if (ci.depth_msgs || ci.markers_queued)
					fail(&r, "%s: %llu messages, %u markers left",
					     g.edges[i].name,
					     (unsigned long long)ci.depth_msgs,
					     ci.markers_queued);
			}
		}
	}
stop:
	for (i = 0; i < r.nrun; i++)
		close(r.run[i].fd);
	r.nrun = 0;
	for (i = 0; i < g.n; i++) {
		char c = CMD_EXIT;

		if (r.socks[i] >= 0) {
			send(r.socks[i], &c, 1, MSG_NOSIGNAL);
			close(r.socks[i]);
			r.socks[i] = -1;
		}
	}
	for (i = 0; i < g.n; i++) {
		int status, tries;

		if (r.pids[i] <= 0)
			continue;
		for (tries = 0; tries < 1000; tries++) {
			if (waitpid(r.pids[i], &status, WNOHANG) == r.pids[i])
				break;
			usleep(10000);
		}
		if (tries == 1000) {
			kill(r.pids[i], SIGKILL);
			waitpid(r.pids[i], &status, 0);
			fail(&r, "node %d did not exit", i);
		} else if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			fail(&r, "node %d exited with status %#x", i, status);
		}
		r.pids[i] = 0;
	}
	alarm(0);
destroy:
	for (i = 0; i < g.nedges; i++) {
		ret = sc_destroy_flags(r.ctl, g.edges[i].name, SNAPCHAN_TOPO_F_ABORT);
		if (ret && ret != -ENOENT)
			fail(&r, "destroy %s: %s", g.edges[i].name, strerror(-ret));
	}
	if (r.ctl >= 0)
		close(r.ctl);
	if (sc_have_debugfs()) {
		static const char *const tables[] = { "groups", "nodes", "snapshots" };

		for (t = 0; t < 3; t++) {
			ret = sc_debugfs_rows(tables[t], g.group, dump, sizeof(dump));
			if (ret)
				fail(&r, "debugfs %s still lists %s: %s", tables[t],
				     g.group, dump);
			ret = sc_debugfs_rows(tables[t], NULL, dump, sizeof(dump));
			if (ret)
				fail(&r, "debugfs %s not empty: %s", tables[t], dump);
		}
	}
report:
	printf("# %s: snapshots: %d begun (%d by SNAP_BEGIN, %d by a node), "
	       "%d complete, %d aborted, %d EBUSY\n", g.tname, r.begun,
	       r.by_begin, r.by_node, r.complete, r.aborted, r.busy);
	printf("# %s: messages moved: %" PRIu64 " (amount %" PRIu64 "); in channel "
	       "states of all snapshots: %" PRIu64 " (amount %" PRIu64 ")\n",
	       g.tname, sent, sent_amt, r.recorded_msgs, r.recorded_amount);
	printf("# %s: %.1f s\n", g.tname, now_s() - t0);
	if (!r.failed && r.complete != opt.snapshots)
		fail(&r, "%d of %d snapshots complete", r.complete, opt.snapshots);
	if (r.failed)
		printf("not ok %d %s # %s\n", tapno, g.tname, r.why);
	else
		printf("ok %d %s\n", tapno, g.tname);
	fflush(stdout);
	return r.failed;
}

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [-n nodes] [-t ring|mesh] [-s seed] [-k snapshots]\n"
		"          [-m messages] [-c concurrent] [-T seconds] [-v]\n", prog);
	exit(2);
}

int main(int argc, char **argv)
{
	int c, failed = 0, n = 0;

	opt.seed = (uint64_t)time(NULL) * 1000003ULL ^ getpid();
	while ((c = getopt(argc, argv, "n:t:s:k:m:c:T:vh")) != -1) {
		switch (c) {
		case 'n': opt.nodes = atoi(optarg); break;
		case 't':
			if (!strcmp(optarg, "ring"))
				opt.topo = TOPO_RING;
			else if (!strcmp(optarg, "mesh"))
				opt.topo = TOPO_MESH;
			else
				usage(argv[0]);
			break;
		case 's': opt.seed = strtoull(optarg, NULL, 0); break;
		case 'k': opt.snapshots = atoi(optarg); break;
		case 'm': opt.messages = atoi(optarg); break;
		case 'c': opt.concurrent = atoi(optarg); break;
		case 'T': opt.watchdog = atoi(optarg); break;
		case 'v': opt.verbose = 1; break;
		default: usage(argv[0]);
		}
	}
	if (optind != argc || opt.nodes < 2 || opt.nodes > MAX_NODES ||
	    opt.snapshots < 0 || opt.messages < 0 || opt.concurrent < 1 ||
	    opt.watchdog < 1)
		usage(argv[0]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("TAP version 13\n");
	if (access(SC_CONTROL, F_OK)) {
		printf("1..0 # SKIP %s missing: is the snapchan module loaded?\n",
		       SC_CONTROL);
		return KSFT_SKIP;
	}
	printf("1..%d\n", opt.topo < 0 ? 2 : 1);
	if (opt.topo < 0 || opt.topo == TOPO_RING)
		failed |= run_topology(TOPO_RING, ++n);
	if (opt.topo < 0 || opt.topo == TOPO_MESH)
		failed |= run_topology(TOPO_MESH, ++n);
	printf("# %s\n", failed ? "FAIL" : "PASS");
	return failed ? KSFT_FAIL : KSFT_PASS;
}
