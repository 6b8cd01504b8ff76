// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The batch calls against a stand-in kernel (this program defines ioctl()):
 * snapchan_send_batch() and snapchan_recv_batch() issue SEND_BATCH and
 * RECV_BATCH on the given fd with struct snapchan_batch packed as the
 * uapi says (msgs pointer, nr, flags, reserved zero) and pass the entries
 * through untouched; they return the kernel's count as it is, partial
 * counts included, and -errno (never -1 and errno).  snapchan_send_many()
 * turns an iovec array into runs of at most 128 entries with each message
 * whole, stops at a short count, returns what was sent before an error
 * and the error only when nothing was, and refuses a message the ABI
 * cannot carry (over 4 GiB - 1) at its place.
 */
#include "test.h"

#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/uio.h>

#define MAXCALLS 16

static struct {
	int fd;
	unsigned long req;
	struct snapchan_batch b;
	struct snapchan_send_msg msgs[SNAPCHAN_BATCH_MAX];
} calls[MAXCALLS];
static unsigned int ncalls;

/* What the next calls return: a count (capped at nr) or -errno. */
static int script[MAXCALLS];
static unsigned int nscript;

/* The queue the fake RECV_BATCH reads: lengths; 0 is a marker. */
static const uint32_t queue[] = { 3, 5, 0, 2, 100 };
static unsigned int qhead;

static void set_script(const int *v, unsigned int n)
{
	if (n)
		memcpy(script, v, n * sizeof(*v));
	nscript = n;
	ncalls = 0;
}

static int fake_recv(struct snapchan_recv *r, unsigned int nr, int limit)
{
	unsigned int i;

	for (i = 0; i < nr && (int)i < limit; i++) {
		uint32_t len;

		if (qhead == sizeof(queue) / sizeof(queue[0]))
			break;
		if (r[i].flags || r[i].reserved[0] || r[i].reserved[1] ||
		    r[i].type || r[i].len || r[i].seq) {
			errno = EINVAL;
			return i ? (int)i : -1;
		}
		len = queue[qhead];
		if (!len) {			/* a user marker: the last */
			r[i].type = SNAPCHAN_REC_MARKER;
			r[i].snap_id = 77;
			qhead++;
			return (int)i + 1;
		}
		if (len > r[i].buf_len) {	/* ends the batch before it */
			if (i)
				return (int)i;
			r[0].type = SNAPCHAN_REC_DATA;
			r[0].len = len;
			errno = EMSGSIZE;
			return -1;
		}
		memset((void *)(uintptr_t)r[i].buf, 'a' + (int)qhead, len);
		r[i].type = SNAPCHAN_REC_DATA;
		r[i].len = len;
		r[i].seq = 10 + qhead;
		qhead++;
	}
	if (!i) {
		errno = EAGAIN;
		return -1;
	}
	return (int)i;
}

int ioctl(int fd, unsigned long req, ...)
{
	struct snapchan_batch *b;
	unsigned int k = ncalls;
	va_list ap;
	int ret;

	va_start(ap, req);
	b = va_arg(ap, struct snapchan_batch *);
	va_end(ap);
	if (req != SNAPCHAN_IOC_SEND_BATCH && req != SNAPCHAN_IOC_RECV_BATCH) {
		errno = ENOTTY;
		return -1;
	}
	REQUIRE(ncalls < MAXCALLS);
	ncalls++;
	calls[k].fd = fd;
	calls[k].req = req;
	calls[k].b = *b;
	if (!b->nr || b->nr > SNAPCHAN_BATCH_MAX || b->reserved ||
	    (b->flags & ~SNAPCHAN_BATCH_F_ALL)) {
		errno = EINVAL;
		return -1;
	}
	if (req == SNAPCHAN_IOC_SEND_BATCH)
		memcpy(calls[k].msgs, (void *)(uintptr_t)b->msgs,
		       b->nr * sizeof(struct snapchan_send_msg));
	ret = k < nscript ? script[k] : (int)b->nr;
	if (req == SNAPCHAN_IOC_RECV_BATCH)
		return fake_recv((void *)(uintptr_t)b->msgs, b->nr, ret);
	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	return ret > (int)b->nr ? (int)b->nr : ret;
}

static char payload[300][4];
static struct iovec iov[300];

int main(void)
{
	struct snapchan_send_msg m[3];
	struct snapchan_recv r[4];
	char bufs[4][8];
	unsigned int i;

	_Static_assert(sizeof(struct snapchan_batch) == 24, "batch");
	_Static_assert(sizeof(struct snapchan_send_msg) == 16, "send_msg");

	/* --- snapchan_send_batch ------------------------------------------ */
	for (i = 0; i < 3; i++) {
		m[i].buf = (uintptr_t)payload[i];
		m[i].len = i + 1;
		m[i].reserved = 0;
	}
	set_script(NULL, 0);
	CHECK_EQ(snapchan_send_batch(5, m, 3, 0), 3);
	CHECK_EQ(ncalls, 1);
	CHECK_EQ(calls[0].fd, 5);
	CHECK_EQ(calls[0].req, SNAPCHAN_IOC_SEND_BATCH);
	CHECK(calls[0].b.msgs == (uintptr_t)m);	/* the caller's array */
	CHECK_EQ(calls[0].b.nr, 3);
	CHECK_EQ(calls[0].b.flags, 0);
	CHECK_EQ(calls[0].b.reserved, 0);
	CHECK_EQ(calls[0].msgs[2].len, 3);

	/* Flags pass; a partial count comes back as it is. */
	set_script((int[]){ 2 }, 1);
	CHECK_EQ(snapchan_send_batch(5, m, 3, SNAPCHAN_BATCH_NONBLOCK), 2);
	CHECK_EQ(calls[0].b.flags, SNAPCHAN_BATCH_NONBLOCK);

	/* Errors: -errno, whatever errno was before. */
	set_script((int[]){ -EAGAIN }, 1);
	errno = 0;
	CHECK_EQ(snapchan_send_batch(5, m, 3, SNAPCHAN_BATCH_NONBLOCK), -EAGAIN);
	set_script((int[]){ -EMSGSIZE }, 1);
	CHECK_EQ(snapchan_send_batch(5, m, 1, 0), -EMSGSIZE);
	set_script(NULL, 0);
	CHECK_EQ(snapchan_send_batch(5, m, 0, 0), -EINVAL);	/* the kernel's */
	CHECK_EQ(snapchan_send_batch(5, m, SNAPCHAN_BATCH_MAX + 1, 0), -EINVAL);
	CHECK_EQ(snapchan_send_batch(5, m, 1, 1u << 5), -EINVAL);
	CHECK_EQ(ncalls, 3);	/* the library checks nothing itself */

	/* --- snapchan_recv_batch ------------------------------------------ */
	memset(r, 0, sizeof(r));
	for (i = 0; i < 4; i++) {
		r[i].buf = (uintptr_t)bufs[i];
		r[i].buf_len = sizeof(bufs[i]);
	}
	set_script(NULL, 0);
	qhead = 0;
	/* 3, 5, then the marker ends the batch. */
	CHECK_EQ(snapchan_recv_batch(6, r, 4, 0), 3);
	CHECK_EQ(calls[0].fd, 6);
	CHECK_EQ(calls[0].req, SNAPCHAN_IOC_RECV_BATCH);
	CHECK(calls[0].b.msgs == (uintptr_t)r);
	CHECK_EQ(calls[0].b.nr, 4);
	CHECK_EQ(calls[0].b.reserved, 0);
	CHECK_EQ(r[0].type, SNAPCHAN_REC_DATA);
	CHECK_EQ(r[0].len, 3);
	CHECK_EQ(r[0].seq, 10);
	CHECK(!memcmp(bufs[0], "aaa", 3));
	CHECK_EQ(r[1].len, 5);
	CHECK_EQ(r[1].seq, 11);
	CHECK(!memcmp(bufs[1], "bbbbb", 5));
	CHECK_EQ(r[2].type, SNAPCHAN_REC_MARKER);
	CHECK_EQ(r[2].snap_id, 77);
	CHECK_EQ(r[3].type, 0);		/* untouched */

	/* A partial count (the kernel's limit of 1 here), as it is. */
	memset(r, 0, sizeof(r));
	for (i = 0; i < 4; i++) {
		r[i].buf = (uintptr_t)bufs[i];
		r[i].buf_len = sizeof(bufs[i]);
	}
	set_script((int[]){ 1 }, 1);
	CHECK_EQ(snapchan_recv_batch(6, r, 4, SNAPCHAN_BATCH_NONBLOCK), 1);
	CHECK_EQ(calls[0].b.flags, SNAPCHAN_BATCH_NONBLOCK);
	CHECK_EQ(r[0].len, 2);
	CHECK_EQ(r[1].type, 0);

	/* The 100-byte head does not fit: -EMSGSIZE with its size. */
	memset(r, 0, sizeof(r));
	r[0].buf = (uintptr_t)bufs[0];
	r[0].buf_len = sizeof(bufs[0]);
	set_script(NULL, 0);
	CHECK_EQ(snapchan_recv_batch(6, r, 1, 0), -EMSGSIZE);
	CHECK_EQ(r[0].len, 100);
	CHECK_EQ(qhead, 4);		/* still queued */
	qhead = 5;
	CHECK_EQ(snapchan_recv_batch(6, r, 1, SNAPCHAN_BATCH_NONBLOCK), -EAGAIN);
	/* Entries with output fields left over from a previous call. */
	qhead = 0;
	r[0].len = 9;
	CHECK_EQ(snapchan_recv_batch(6, r, 1, 0), -EINVAL);

	/* --- snapchan_send_many ------------------------------------------- */
	for (i = 0; i < 300; i++) {
		snprintf(payload[i], sizeof(payload[i]), "%u", i);
		iov[i].iov_base = payload[i];
		iov[i].iov_len = strlen(payload[i]);
	}
	set_script(NULL, 0);
	CHECK_EQ(snapchan_send_many(7, iov, 0, 0), 0);
	CHECK_EQ(ncalls, 0);

	/* 300 messages: 128 + 128 + 44, each message whole and in order. */
	CHECK_EQ(snapchan_send_many(7, iov, 300, SNAPCHAN_BATCH_NONBLOCK), 300);
	CHECK_EQ(ncalls, 3);
	CHECK_EQ(calls[0].b.nr, 128);
	CHECK_EQ(calls[1].b.nr, 128);
	CHECK_EQ(calls[2].b.nr, 44);
	for (i = 0; i < 3; i++) {
		CHECK_EQ(calls[i].fd, 7);
		CHECK_EQ(calls[i].req, SNAPCHAN_IOC_SEND_BATCH);
		CHECK_EQ(calls[i].b.flags, SNAPCHAN_BATCH_NONBLOCK);
		CHECK_EQ(calls[i].b.reserved, 0);
	}
	for (i = 0; i < 300; i++) {
		const struct snapchan_send_msg *s = &calls[i / 128].msgs[i % 128];

		CHECK(s->buf == (uintptr_t)payload[i]);
		CHECK_EQ(s->len, strlen(payload[i]));
		CHECK_EQ(s->reserved, 0);
	}

	/* A short count stops it: the caller goes on from there. */
	set_script((int[]){ 128, 5 }, 2);
	CHECK_EQ(snapchan_send_many(7, iov, 300, 0), 133);
	CHECK_EQ(ncalls, 2);
	/* An error after some went: the count; the next call tells it. */
	set_script((int[]){ 128, -EPERM }, 2);
	CHECK_EQ(snapchan_send_many(7, iov, 300, 0), 128);
	CHECK_EQ(ncalls, 2);
	/* An error before any: -errno. */
	set_script((int[]){ -ENODEV }, 1);
	CHECK_EQ(snapchan_send_many(7, iov, 300, 0), -ENODEV);
	set_script((int[]){ -ENOTTY }, 1);
	CHECK_EQ(snapchan_send_many(7, iov, 1, 0), -ENOTTY);

	/* A zero-length message with no buffer is a message. */
	iov[0].iov_base = NULL;
	iov[0].iov_len = 0;
	set_script(NULL, 0);
	CHECK_EQ(snapchan_send_many(7, iov, 2, 0), 2);
	CHECK(calls[0].msgs[0].buf == 0);
	CHECK_EQ(calls[0].msgs[0].len, 0);

	/* A message the ABI cannot carry: the run stops before it. */
	if (sizeof(size_t) > 4) {
		iov[3].iov_len = (size_t)UINT32_MAX + 1;
		set_script(NULL, 0);
		CHECK_EQ(snapchan_send_many(7, iov, 10, 0), 3);
		CHECK_EQ(ncalls, 1);
		CHECK_EQ(calls[0].b.nr, 3);
		CHECK_EQ(snapchan_send_many(7, iov + 3, 7, 0), -EMSGSIZE);
		CHECK_EQ(ncalls, 1);	/* no call for it */
	}
	return test_done("batch-mock");
}
