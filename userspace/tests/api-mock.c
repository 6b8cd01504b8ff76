// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The ioctl wrappers against a stand-in kernel: this program defines
 * ioctl(), which the library's calls bind to.  Checks that each wrapper
 * issues the right request with the right structure (names copied and
 * NUL-padded, reserved fields zero), returns 0 or the capture fd, turns
 * -1/errno into -errno, and that snapchan_chan_list() retries when the list
 * grows between its calls.
 */
#include "test.h"

#include <stdarg.h>
#include <sys/ioctl.h>

static unsigned long last_req;
static int last_fd;
static unsigned int list_calls;
static uint32_t list_counts[8];	/* count the kernel reports, per call */
static unsigned int list_n;	/* calls scripted in list_counts */
static int list_grow;
static uint64_t last_mark;
static struct snapchan_chan_destroy last_destroy;
static struct snapchan_chan_info last_info_in;

static int all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n--)
		if (*b++)
			return 0;
	return 1;
}

int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	last_fd = fd;
	last_req = req;

	switch (req) {
	case SNAPCHAN_IOC_VERSION: {
		struct snapchan_version *v = arg;

		v->abi_version = SNAPCHAN_ABI_VERSION;
		v->features = SNAPCHAN_FEAT_CHANNELS | SNAPCHAN_FEAT_MARKERS;
		return 0;
	}
	case SNAPCHAN_IOC_CHAN_CREATE: {
		struct snapchan_chan_create *c = arg;

		if (!all_zero(c->reserved, sizeof(c->reserved))) {
			errno = EINVAL;
			return -1;
		}
		if (!strcmp(c->name, "exists")) {
			errno = EEXIST;
			return -1;
		}
		c->chan_id = 77;
		return 0;
	}
	case SNAPCHAN_IOC_CHAN_DESTROY:
		memcpy(&last_destroy, arg, sizeof(last_destroy));
		if (!strcmp(last_destroy.name, "busy")) {
			errno = EBUSY;
			return -1;
		}
		return 0;
	case SNAPCHAN_IOC_CHAN_INFO: {
		struct snapchan_chan_info *i = arg;

		memcpy(&last_info_in, i, sizeof(*i));
		strcpy(i->group, "grp");
		i->chan_id = 5;
		i->next_seq = 9;
		return 0;
	}
	case SNAPCHAN_IOC_CHAN_LIST: {
		struct snapchan_chan_list *l = arg;
		char (*names)[SNAPCHAN_NAME_LEN] = (void *)(uintptr_t)l->names;
		uint32_t n, k;

		if (list_grow) {	/* always one more than there is room for */
			list_calls++;
			l->count = l->max_entries + 1;
			return 0;
		}
		if (list_calls >= list_n) {	/* more calls than scripted */
			errno = EIO;
			return -1;
		}
		n = list_counts[list_calls++];
		if (l->max_entries && !names) {
			errno = EFAULT;
			return -1;
		}
		for (k = 0; k < n && k < l->max_entries; k++) {
			memset(names[k], 'z', SNAPCHAN_NAME_LEN); /* no NUL */
			snprintf(names[k], SNAPCHAN_NAME_LEN, "ch%u", k);
		}
		l->count = n;
		return 0;
	}
	case SNAPCHAN_IOC_RECV: {
		struct snapchan_recv *r = arg;

		if (r->buf_len < 3) {
			r->len = 3;
			errno = EMSGSIZE;
			return -1;
		}
		memcpy((void *)(uintptr_t)r->buf, "abc", 3);
		r->type = SNAPCHAN_REC_DATA;
		r->len = 3;
		r->seq = 12;
		return 0;
	}
	case SNAPCHAN_IOC_MARK: {
		struct snapchan_mark *m = arg;

		if (!m->snap_id || m->reserved) {
			errno = EINVAL;
			return -1;
		}
		last_mark = m->snap_id;
		return 0;
	}
	case SNAPCHAN_IOC_CAPTURE: {
		struct snapchan_capture *c = arg;

		c->fd = 42;
		c->count = 2;
		return 42;
	}
	}
	errno = ENOTTY;
	return -1;
}

static void reset_list(const uint32_t *counts, unsigned int n)
{
	list_calls = 0;
	list_n = n;
	memset(list_counts, 0, sizeof(list_counts));
	if (n)
		memcpy(list_counts, counts, n * sizeof(*counts));
}

int main(void)
{
	char (*names)[SNAPCHAN_NAME_LEN] = NULL;
	struct snapchan_chan_create cc;
	struct snapchan_chan_info info;
	struct snapchan_version ver;
	struct snapchan_capture cap;
	struct snapchan_recv rec;
	char buf[8];
	size_t count = 0, i;

	memset(&ver, 0xff, sizeof(ver));
	CHECK_EQ(snapchan_version(3, &ver), 0);
	CHECK_EQ(last_fd, 3);
	CHECK_EQ(last_req, SNAPCHAN_IOC_VERSION);
	CHECK_EQ(ver.abi_version, 1);
	CHECK_EQ(ver.reserved, 0);

	memset(&cc, 0, sizeof(cc));
	strcpy(cc.name, "new");
	CHECK_EQ(snapchan_chan_create(3, &cc), 0);
	CHECK_EQ(last_req, SNAPCHAN_IOC_CHAN_CREATE);
	CHECK_EQ(cc.chan_id, 77);
	strcpy(cc.name, "exists");
	CHECK_EQ(snapchan_chan_create(3, &cc), -EEXIST);
	cc.reserved[1] = 1;
	CHECK_EQ(snapchan_chan_create(3, &cc), -EINVAL);

	memset(&last_destroy, 0xff, sizeof(last_destroy));
	CHECK_EQ(snapchan_chan_destroy(3, "gone", SNAPCHAN_TOPO_F_ABORT), 0);
	CHECK_EQ(last_req, SNAPCHAN_IOC_CHAN_DESTROY);
	CHECK(!strcmp(last_destroy.name, "gone"));
	CHECK(all_zero(last_destroy.name + 4, SNAPCHAN_NAME_LEN - 4));
	CHECK_EQ(last_destroy.flags, SNAPCHAN_TOPO_F_ABORT);
	CHECK_EQ(last_destroy.reserved, 0);
	CHECK_EQ(snapchan_chan_destroy(3, "busy", 0), -EBUSY);

	memset(&info, 0xff, sizeof(info));
	CHECK_EQ(snapchan_chan_info(3, "c1", &info), 0);
	CHECK_EQ(last_req, SNAPCHAN_IOC_CHAN_INFO);
	CHECK(!strcmp(last_info_in.name, "c1"));
	CHECK(all_zero(last_info_in.name + 2, sizeof(last_info_in) - 2));
	CHECK(!strcmp(info.group, "grp"));
	CHECK_EQ(info.chan_id, 5);
	CHECK_EQ(info.next_seq, 9);

	/* No channel: one call, NULL array. */
	reset_list((uint32_t[]){ 0 }, 1);
	names = (void *)&names;
	CHECK_EQ(snapchan_chan_list(3, &names, &count), 0);
	CHECK(names == NULL);
	CHECK_EQ(count, 0);
	CHECK_EQ(list_calls, 1);

	/* Stable: count, then fill. */
	reset_list((uint32_t[]){ 3, 3 }, 2);
	CHECK_EQ(snapchan_chan_list(3, &names, &count), 0);
	CHECK_EQ(count, 3);
	CHECK_EQ(list_calls, 2);
	for (i = 0; i < count; i++) {
		char want[32];

		snprintf(want, sizeof(want), "ch%zu", i);
		CHECK(!strcmp(names[i], want));
	}
	free(names);

	/* Grows between the calls, past the slack: a third call. */
	reset_list((uint32_t[]){ 3, 500, 500 }, 3);
	CHECK_EQ(snapchan_chan_list(3, &names, &count), 0);
	CHECK_EQ(count, 500);
	CHECK_EQ(list_calls, 3);
	CHECK(!strcmp(names[499], "ch499"));
	/* Every name NUL-terminated even if the kernel wrote none. */
	for (i = 0; i < count; i++)
		CHECK_EQ(names[i][SNAPCHAN_NAME_LEN - 1], 0);
	free(names);

	/* Shrinks: fine. */
	reset_list((uint32_t[]){ 10, 2 }, 2);
	CHECK_EQ(snapchan_chan_list(3, &names, &count), 0);
	CHECK_EQ(count, 2);
	free(names);

	/* Keeps growing: gives up with -EAGAIN, changing nothing. */
	reset_list(NULL, 0);
	list_grow = 1;
	names = (void *)&names;
	count = 99;
	CHECK_EQ(snapchan_chan_list(3, &names, &count), -EAGAIN);
	CHECK(names == (void *)&names && count == 99);
	CHECK(list_calls > 2);
	list_grow = 0;

	/* An error on a later call passes up, changing nothing. */
	reset_list((uint32_t[]){ 1, 100 }, 2);	/* then EIO */
	CHECK_EQ(snapchan_chan_list(3, &names, &count), -EIO);
	CHECK(names == (void *)&names && count == 99);

	memset(&rec, 0, sizeof(rec));
	rec.buf = (uintptr_t)buf;
	rec.buf_len = 2;
	CHECK_EQ(snapchan_recv_rec(4, &rec), -EMSGSIZE);
	CHECK_EQ(rec.len, 3);
	rec.buf_len = sizeof(buf);
	CHECK_EQ(snapchan_recv_rec(4, &rec), 0);
	CHECK_EQ(last_req, SNAPCHAN_IOC_RECV);
	CHECK_EQ(rec.seq, 12);
	CHECK(!memcmp(buf, "abc", 3));

	CHECK_EQ(snapchan_mark(4, 0), -EINVAL);
	CHECK_EQ(snapchan_mark(4, 0x123456789ULL), 0);
	CHECK_EQ(last_req, SNAPCHAN_IOC_MARK);
	CHECK_EQ(last_mark, 0x123456789ULL);

	memset(&cap, 0, sizeof(cap));
	CHECK_EQ(snapchan_capture(4, &cap), 42);
	CHECK_EQ(last_req, SNAPCHAN_IOC_CAPTURE);
	CHECK_EQ(cap.count, 2);
	return test_done("api-mock");
}
