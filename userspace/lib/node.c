// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The node layer: a Chandy-Lamport process over the kernel's node fd.
 *
 * A struct snapchan_node holds the node fd (from NODE_JOIN) and the channel
 * ends it attached, each opened by the library.  snapchan_node_recv() polls
 * every incoming end (POLLIN | POLLPRI) and the node fd (POLLPRI) at once,
 * and hands back, in this order of priority:
 *
 *   1. a record request: the node fd reports POLLPRI (a snapshot asks the
 *      node to record; NODE_EVENT names the oldest), or a MARKER is at the
 *      head of an incoming channel (RECV tells its snapshot id; RECV never
 *      consumes it, NODE_RECORD does);
 *   2. a channel that hung up (destroyed, or end of file);
 *   3. the next DATA record of one incoming channel, taken in turn
 *      (round robin), so that a busy channel cannot starve the others.
 *
 * Record requests come first so that a node records as soon as it is
 * asked: that keeps snapshots short, and the channel states small (every
 * message that arrives on a recording channel before its marker is
 * recorded).
 *
 * snapchan_node_run() is the same thing as a loop with callbacks.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "snapchan.h"
#include "syscall.h"
#include "internal.h"

struct sc_nchan {
	int  fd;		/* -1: a free slot (detached) */
	int  out;		/* sending end */
	int  hungup;		/* reported; no longer polled */
	char name[SNAPCHAN_NAME_LEN];
};

struct snapchan_node {
	int              fd;
	uint64_t         id;
	char             group[SNAPCHAN_NAME_LEN];
	char             name[SNAPCHAN_NAME_LEN];
	struct sc_nchan *chans;
	size_t           nchans;	/* slots used, free ones included */
	size_t           cap;
	size_t           rr;		/* where the next data scan starts */
	struct pollfd   *pfd;		/* scratch for poll(): [1 + cap] */
	int             *pidx;		/* pfd[k] watches chans[pidx[k]] */
	uint8_t         *buf;		/* snapchan_node_run()'s payload buffer */
	size_t           buf_len;
};

uint64_t __sc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int __sc_left_ms(int64_t deadline)
{
	uint64_t now;

	if (deadline < 0)
		return -1;
	now = __sc_now_ms();
	if ((uint64_t)deadline <= now)
		return 0;
	if ((uint64_t)deadline - now > INT_MAX)
		return INT_MAX;
	return (int)((uint64_t)deadline - now);
}

/* Room for one more channel slot (and its poll entries). */
static int node_grow(struct snapchan_node *n)
{
	struct sc_nchan *chans;
	struct pollfd *pfd;
	size_t cap;
	int *pidx;

	if (n->nchans < n->cap)
		return 0;
	if (n->cap > INT_MAX / 2)
		return -ENOSPC;
	cap = n->cap ? n->cap * 2 : 8;
	chans = realloc(n->chans, cap * sizeof(*chans));
	if (!chans)
		return -ENOMEM;
	n->chans = chans;
	pfd = realloc(n->pfd, (cap + 1) * sizeof(*pfd));
	if (!pfd)
		return -ENOMEM;
	n->pfd = pfd;
	pidx = realloc(n->pidx, (cap + 1) * sizeof(*pidx));
	if (!pidx)
		return -ENOMEM;
	n->pidx = pidx;
	n->cap = cap;
	return 0;
}

/* Free a node that has no fd and no channel yet. */
static void node_free_early(struct snapchan_node *n)
{
	free(n->chans);
	free(n->pfd);
	free(n->pidx);
	free(n);
}

int snapchan_node_join(int ctl, const char *group, const char *name,
		       unsigned int flags, struct snapchan_node **np)
{
	struct snapchan_node_join nj;
	struct snapchan_node *n;
	int ret;

	if (!snapchan_name_valid(group, 0) || !snapchan_name_valid(name, 0) ||
	    (flags & ~SNAPCHAN_TOPO_F_ABORT))
		return -EINVAL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	ret = node_grow(n);	/* the poll array always has room */
	if (ret) {
		node_free_early(n);
		return ret;
	}
	memset(&nj, 0, sizeof(nj));
	sc_name_copy(nj.group, group);
	sc_name_copy(nj.name, name);
	nj.flags = flags;
	ret = sc_ioctl(ctl, SNAPCHAN_IOC_NODE_JOIN, &nj);
	if (ret < 0) {
		node_free_early(n);
		return ret;
	}
	n->fd = nj.fd;
	n->id = nj.node_id;
	sc_name_copy(n->group, group);
	sc_name_copy(n->name, name);
	*np = n;
	return 0;
}

void snapchan_node_close(struct snapchan_node *n)
{
	size_t i;

	if (!n)
		return;
	/* The node fd first: leaving detaches every end at once. */
	sc_close(n->fd);
	for (i = 0; i < n->nchans; i++)
		if (n->chans[i].fd >= 0)
			sc_close(n->chans[i].fd);
	free(n->chans);
	free(n->pfd);
	free(n->pidx);
	free(n->buf);
	free(n);
}

int snapchan_node_fd(const struct snapchan_node *n)
{
	return n->fd;
}

uint64_t snapchan_node_id(const struct snapchan_node *n)
{
	return n->id;
}

const char *snapchan_node_name(const struct snapchan_node *n)
{
	return n->name;
}

const char *snapchan_node_group(const struct snapchan_node *n)
{
	return n->group;
}

int snapchan_node_attach(struct snapchan_node *n, const char *chan,
			 int oflags, unsigned int flags)
{
	struct snapchan_node_attach na;
	int acc = oflags & O_ACCMODE, fd, ret;
	size_t i;

	if (!snapchan_name_valid(chan, SNAPCHAN_NAME_F_CHANNEL) ||
	    (acc != O_RDONLY && acc != O_WRONLY) ||
	    (oflags & ~(O_ACCMODE | O_NONBLOCK | O_CLOEXEC)) ||
	    (flags & ~SNAPCHAN_TOPO_F_ABORT))
		return -EINVAL;
	if (snapchan_node_chan_find(n, chan, acc == O_WRONLY) >= 0)
		return -EBUSY;
	ret = node_grow(n);
	if (ret)
		return ret;
	/* Incoming ends are polled: reads must never block. */
	if (acc == O_RDONLY)
		oflags |= O_NONBLOCK;
	fd = snapchan_chan_open(chan, oflags);
	if (fd < 0)
		return fd;
	memset(&na, 0, sizeof(na));
	na.chan_fd = fd;
	na.flags = flags;
	ret = sc_ioctl(n->fd, SNAPCHAN_IOC_NODE_ATTACH, &na);
	if (ret < 0) {
		sc_close(fd);
		return ret;
	}
	/* Reuse a free slot, else take a new one. */
	for (i = 0; i < n->nchans; i++)
		if (n->chans[i].fd < 0)
			break;
	if (i == n->nchans)
		n->nchans++;
	n->chans[i].fd = fd;
	n->chans[i].out = acc == O_WRONLY;
	n->chans[i].hungup = 0;
	sc_name_copy(n->chans[i].name, chan);
	return (int)i;
}

static struct sc_nchan *node_slot(const struct snapchan_node *n, int chan)
{
	if (chan < 0 || (size_t)chan >= n->nchans || n->chans[chan].fd < 0)
		return NULL;
	return &n->chans[chan];
}

int snapchan_node_detach(struct snapchan_node *n, int chan, unsigned int flags)
{
	struct snapchan_node_attach na;
	struct sc_nchan *c = node_slot(n, chan);
	int ret;

	if (!c || (flags & ~SNAPCHAN_TOPO_F_ABORT))
		return -EINVAL;
	memset(&na, 0, sizeof(na));
	na.chan_fd = c->fd;
	na.flags = flags;
	ret = sc_ioctl(n->fd, SNAPCHAN_IOC_NODE_DETACH, &na);
	/* A channel that was destroyed is detached already. */
	if (ret < 0 && ret != -ENOENT)
		return ret;
	sc_close(c->fd);
	c->fd = -1;
	return 0;
}

int snapchan_node_chan_find(const struct snapchan_node *n, const char *name,
			    int outgoing)
{
	size_t i;

	for (i = 0; i < n->nchans; i++)
		if (n->chans[i].fd >= 0 && !n->chans[i].out == !outgoing &&
		    !strncmp(n->chans[i].name, name, SNAPCHAN_NAME_LEN))
			return (int)i;
	return -ENOENT;
}

int snapchan_node_chan(const struct snapchan_node *n, int chan,
		       struct snapchan_node_chan_view *v)
{
	const struct sc_nchan *c = node_slot(n, chan);

	if (!c)
		return -ERANGE;
	memset(v, 0, sizeof(*v));
	v->name = c->name;
	v->fd = c->fd;
	v->outgoing = c->out;
	v->hungup = c->hungup;
	return 0;
}

size_t snapchan_node_chan_slots(const struct snapchan_node *n)
{
	return n->nchans;
}

ssize_t snapchan_node_send(struct snapchan_node *n, int chan, const void *buf,
			   size_t len)
{
	struct sc_nchan *c = node_slot(n, chan);

	if (!c || !c->out)
		return -EINVAL;
	return sc_write(c->fd, buf, len);
}

int snapchan_node_record(struct snapchan_node *n, uint64_t snap_id,
			 const void *state, size_t len)
{
	struct snapchan_node_record r;

	if (!snap_id || (len && !state))
		return -EINVAL;
	memset(&r, 0, sizeof(r));
	r.snap_id = snap_id;
	r.state = (uint64_t)(uintptr_t)state;
	r.state_len = len;
	return sc_ioctl(n->fd, SNAPCHAN_IOC_NODE_RECORD, &r);
}

int snapchan_node_begin(struct snapchan_node *n, const void *state,
			size_t len, uint64_t timeout_ns, uint64_t budget_bytes,
			uint64_t *snap_id)
{
	struct snapchan_node_record r;
	int ret;

	if (len && !state)
		return -EINVAL;
	memset(&r, 0, sizeof(r));
	r.state = (uint64_t)(uintptr_t)state;
	r.state_len = len;
	r.timeout_ns = timeout_ns;
	r.budget_bytes = budget_bytes;
	r.flags = SNAPCHAN_RECORD_F_SNAPFD;
	ret = sc_ioctl(n->fd, SNAPCHAN_IOC_NODE_RECORD, &r);
	if (ret < 0)
		return ret;
	if (snap_id)
		*snap_id = r.snap_id;
	return r.snap_fd;
}

int snapchan_node_event(struct snapchan_node *n, uint64_t *snap_id)
{
	struct snapchan_node_event ev;
	int ret;

	memset(&ev, 0, sizeof(ev));
	ret = sc_ioctl(n->fd, SNAPCHAN_IOC_NODE_EVENT, &ev);
	if (ret < 0)
		return ret;
	if (snap_id)
		*snap_id = ev.type == SNAPCHAN_EVENT_RECORD ? ev.snap_id : 0;
	return ev.type == SNAPCHAN_EVENT_RECORD;
}

static void msg_chan(struct snapchan_node_msg *msg,
		     const struct snapchan_node *n, int i)
{
	msg->chan = i;
	msg->chan_name = i >= 0 ? n->chans[i].name : NULL;
}

/*
 * Look at the head of incoming channel @i without taking anything: fills
 * @msg and returns 1 for something to report (a marker: record request;
 * a hangup), 0 for nothing (data, or empty), or -errno.
 */
static int peek_head(struct snapchan_node *n, int i,
		     struct snapchan_node_msg *msg)
{
	struct snapchan_recv rec;
	int ret;

	memset(&rec, 0, sizeof(rec));
	rec.flags = SNAPCHAN_RECV_PEEK;
	ret = sc_ioctl(n->chans[i].fd, SNAPCHAN_IOC_RECV, &rec);
	if (ret == -EMSGSIZE || ret == -EAGAIN)
		return 0;	/* data at the head, or nothing */
	if (ret == -ENODEV || ret == -ENODATA) {
		n->chans[i].hungup = 1;
		msg->type = SNAPCHAN_NODE_MSG_HANGUP;
		msg->error = ret;
		msg_chan(msg, n, i);
		return 1;
	}
	if (ret < 0)
		return ret;
	if (rec.type == SNAPCHAN_REC_MARKER) {
		msg->type = SNAPCHAN_NODE_MSG_RECORD;
		msg->snap_id = rec.snap_id;
		msg_chan(msg, n, i);
		return 1;
	}
	return 0;	/* a zero-length DATA record */
}

/*
 * Take the next record of incoming channel @i into @buf: 1 with @msg
 * filled, 0 if there was nothing after all, or -errno (-EMSGSIZE with
 * @msg->len and @msg->chan set).
 */
static int take_data(struct snapchan_node *n, int i, void *buf, size_t len,
		     struct snapchan_node_msg *msg)
{
	struct snapchan_recv rec;
	int ret;

	memset(&rec, 0, sizeof(rec));
	rec.buf = (uint64_t)(uintptr_t)buf;
	rec.buf_len = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
	ret = sc_ioctl(n->chans[i].fd, SNAPCHAN_IOC_RECV, &rec);
	if (ret == -EAGAIN)
		return 0;
	if (ret == -EMSGSIZE) {
		msg->type = SNAPCHAN_NODE_MSG_DATA;
		msg->len = rec.len;
		msg_chan(msg, n, i);
		return ret;
	}
	if (ret == -ENODEV || ret == -ENODATA)
		return peek_head(n, i, msg);
	if (ret < 0)
		return ret;
	if (rec.type == SNAPCHAN_REC_MARKER) {
		/* A marker arrived at the head since poll(): not consumed. */
		msg->type = SNAPCHAN_NODE_MSG_RECORD;
		msg->snap_id = rec.snap_id;
		msg_chan(msg, n, i);
		return 1;
	}
	msg->type = SNAPCHAN_NODE_MSG_DATA;
	msg->seq = rec.seq;
	msg->len = rec.len;
	msg_chan(msg, n, i);
	return 1;
}

int snapchan_node_recv(struct snapchan_node *n, void *buf, size_t len,
		       struct snapchan_node_msg *msg, int timeout_ms)
{
	int64_t deadline = timeout_ms < 0 ? -1 :
			   (int64_t)(__sc_now_ms() + (uint64_t)timeout_ms);
	size_t k, np, j;
	int ret;

	memset(msg, 0, sizeof(*msg));
	msg->chan = -1;
	for (;;) {
		n->pfd[0].fd = n->fd;
		n->pfd[0].events = POLLPRI;
		n->pfd[0].revents = 0;
		n->pidx[0] = -1;
		np = 1;
		for (j = 0; j < n->nchans; j++) {
			struct sc_nchan *c = &n->chans[j];

			if (c->fd < 0 || c->out || c->hungup)
				continue;
			n->pfd[np].fd = c->fd;
			n->pfd[np].events = POLLIN | POLLPRI;
			n->pfd[np].revents = 0;
			n->pidx[np] = (int)j;
			np++;
		}
		ret = sc_poll(n->pfd, np, __sc_left_ms(deadline));
		if (ret < 0)
			return ret;
		if (ret == 0)
			return timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT;

		/* 1. Record requests: the node fd, then markers. */
		if (n->pfd[0].revents & POLLNVAL)
			return -EBADF;
		if (n->pfd[0].revents & POLLPRI) {
			uint64_t id;

			ret = snapchan_node_event(n, &id);
			if (ret < 0)
				return ret;
			if (ret) {
				msg->type = SNAPCHAN_NODE_MSG_RECORD;
				msg->snap_id = id;
				return 0;
			}
		}
		for (k = 1; k < np; k++) {
			short re = n->pfd[k].revents;

			if (re & POLLNVAL)
				return -EBADF;
			if (!(re & (POLLPRI | POLLHUP | POLLERR)))
				continue;
			ret = peek_head(n, n->pidx[k], msg);
			if (ret)
				return ret < 0 ? ret : 0;
		}

		/* 2. Data, in turn from where the last one was taken. */
		for (j = 0; j < n->nchans; j++) {
			size_t i = (n->rr + j) % n->nchans;

			for (k = 1; k < np; k++)
				if ((size_t)n->pidx[k] == i)
					break;
			if (k == np || !(n->pfd[k].revents & POLLIN))
				continue;
			ret = take_data(n, (int)i, buf, len, msg);
			if (ret == 0)
				continue;
			if (ret > 0 && msg->type == SNAPCHAN_NODE_MSG_DATA)
				n->rr = i + 1;
			return ret < 0 ? ret : 0;
		}
		/* Everything went away between poll() and here: again. */
		if (timeout_ms == 0)
			return -EAGAIN;
	}
}

int snapchan_node_run(struct snapchan_node *n,
		      const struct snapchan_node_ops *ops, void *arg,
		      int tick_ms)
{
	struct snapchan_node_msg msg;
	uint64_t next_tick = tick_ms > 0 ? __sc_now_ms() + (uint64_t)tick_ms : 0;
	int ret;

	if (!n->buf) {
		n->buf_len = 4096;
		n->buf = malloc(n->buf_len);
		if (!n->buf)
			return -ENOMEM;
	}
	for (;;) {
		int timeout = tick_ms > 0 ? __sc_left_ms((int64_t)next_tick) : -1;

		ret = snapchan_node_recv(n, n->buf, n->buf_len, &msg, timeout);
		if (ret == -EMSGSIZE) {
			uint8_t *nb = malloc(msg.len ? msg.len : 1);

			if (!nb)
				return -ENOMEM;
			free(n->buf);
			n->buf = nb;
			n->buf_len = msg.len ? msg.len : 1;
			continue;
		}
		if (ret == -ETIMEDOUT || ret == -EAGAIN) {
			ret = 0;
		} else if (ret < 0) {
			return ret;
		} else if (msg.type == SNAPCHAN_NODE_MSG_DATA) {
			if (ops->message) {
				ret = ops->message(n, &msg, n->buf, arg);
				if (ret)
					return ret;
			}
		} else if (msg.type == SNAPCHAN_NODE_MSG_RECORD) {
			const void *state = NULL;
			size_t slen = 0;

			if (ops->save) {
				ret = ops->save(n, msg.snap_id, &state, &slen,
						arg);
				if (ret)
					return ret;
			}
			ret = snapchan_node_record(n, msg.snap_id, state, slen);
			/* The snapshot ended meanwhile: nothing to do. */
			if (ret && ret != -ECANCELED && ret != -ENOENT &&
			    ret != -EALREADY)
				return ret;
			if (ops->recorded) {
				ret = ops->recorded(n, msg.snap_id, ret, arg);
				if (ret)
					return ret;
			}
		} else if (msg.type == SNAPCHAN_NODE_MSG_HANGUP) {
			if (ops->hangup) {
				ret = ops->hangup(n, &msg, arg);
				if (ret)
					return ret;
			}
		}
		if (tick_ms > 0 && __sc_now_ms() >= next_tick) {
			uint64_t now;

			if (ops->tick) {
				ret = ops->tick(n, arg);
				if (ret)
					return ret;
			}
			now = __sc_now_ms();
			next_tick += (uint64_t)tick_ms;
			if (next_tick <= now)	/* fell behind: no burst */
				next_tick = now + (uint64_t)tick_ms;
		}
	}
}
