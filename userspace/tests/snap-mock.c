// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The snapshot calls against a stand-in kernel: this program defines
 * ioctl() (SNAP_BEGIN, SNAP_OPEN, SNAP_INFO, SNAP_ABORT) and poll().
 * Checks the structures passed (names copied, reserved zero), the fds and
 * ids returned, snapchan_snap_wait()'s results (complete, aborted,
 * timeout) and that snapchan_snap_save() saves what a snapshot fd streams
 * only when it is a whole valid image.
 */
#include "test.h"

#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

static struct snapchan_snap_begin last_begin;
static struct snapchan_snap_open last_open;
static uint32_t state = SNAPCHAN_SNAP_RUNNING;
static int infos_until_done = -1;	/* INFO calls before it completes */
static uint32_t end_state = SNAPCHAN_SNAP_COMPLETE;
static int aborts, polls;

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
	switch (req) {
	case SNAPCHAN_IOC_SNAP_BEGIN: {
		struct snapchan_snap_begin *b = arg;

		last_begin = *b;
		if (!strcmp(b->group, "none")) {
			errno = ENOENT;
			return -1;
		}
		b->fd = 55;
		b->snap_id = 9;
		return 55;
	}
	case SNAPCHAN_IOC_SNAP_OPEN: {
		struct snapchan_snap_open *o = arg;

		last_open = *o;
		o->fd = 56;
		return 56;
	}
	case SNAPCHAN_IOC_SNAP_INFO: {
		struct snapchan_snap_info *in = arg;

		if (!all_zero(in, sizeof(*in))) {	/* cleared first */
			errno = EINVAL;
			return -1;
		}
		if (infos_until_done > 0 && !--infos_until_done)
			state = end_state;
		in->snap_id = 9;
		strcpy(in->group, "g");
		in->state = state;
		in->nodes = 4;
		in->nodes_recorded = state == SNAPCHAN_SNAP_RUNNING ? 2 : 4;
		in->abort_reason = state == SNAPCHAN_SNAP_ABORTED ?
				   SNAPCHAN_ABORT_DEADLINE : 0;
		(void)fd;
		return 0;
	}
	case SNAPCHAN_IOC_SNAP_ABORT:
		aborts++;
		if (state != SNAPCHAN_SNAP_RUNNING) {
			errno = EALREADY;
			return -1;
		}
		state = SNAPCHAN_SNAP_ABORTED;
		return 0;
	}
	errno = ENOTTY;
	return -1;
}

int poll(struct pollfd *fds, nfds_t n, int timeout)
{
	(void)n;
	(void)timeout;
	polls++;
	fds[0].revents = state == SNAPCHAN_SNAP_COMPLETE ? POLLIN :
			 state == SNAPCHAN_SNAP_ABORTED ? POLLERR : 0;
	return fds[0].revents ? 1 : 0;
}

int main(void)
{
	struct snapchan_snap_info info;
	struct snapchan_image_diag d;
	struct snapchan_image *back;
	char dir[64], path[128];
	uint8_t *image;
	uint64_t id = 0;
	size_t len;
	int p[2];

	CHECK_EQ(snapchan_snap_begin(3, "bad name", 0, 0, &id), -EINVAL);
	CHECK_EQ(snapchan_snap_begin(3, "none", 0, 0, &id), -ENOENT);
	memset(&last_begin, 0xff, sizeof(last_begin));
	CHECK_EQ(snapchan_snap_begin(3, "grp", 1000, 2000, &id), 55);
	CHECK_EQ(id, 9);
	CHECK(!strcmp(last_begin.group, "grp"));
	CHECK(all_zero(last_begin.group + 3, SNAPCHAN_NAME_LEN - 3));
	CHECK_EQ(last_begin.timeout_ns, 1000);
	CHECK_EQ(last_begin.budget_bytes, 2000);
	CHECK_EQ(last_begin.flags, 0);
	CHECK(all_zero(last_begin.reserved, sizeof(last_begin.reserved)));
	CHECK_EQ(snapchan_snap_begin(3, "grp", 0, 0, NULL), 55);

	CHECK_EQ(snapchan_snap_open(3, "grp", 0), -EINVAL);
	CHECK_EQ(snapchan_snap_open(3, "grp", 12), 56);
	CHECK_EQ(last_open.snap_id, 12);
	CHECK(!strcmp(last_open.group, "grp"));
	CHECK(all_zero(last_open.reserved, sizeof(last_open.reserved)));

	/* Running: a timeout, with the progress filled in. */
	state = SNAPCHAN_SNAP_RUNNING;
	CHECK_EQ(snapchan_snap_wait(55, 0, &info), -EAGAIN);
	CHECK_EQ(snapchan_snap_wait(55, 1, &info), -ETIMEDOUT);
	CHECK_EQ(info.nodes_recorded, 2);
	CHECK_EQ(info.state, SNAPCHAN_SNAP_RUNNING);
	CHECK_EQ(snapchan_snap_info(55, &info), 0);

	/* Completes after a few looks. */
	infos_until_done = 3;
	end_state = SNAPCHAN_SNAP_COMPLETE;
	CHECK_EQ(snapchan_snap_wait(55, -1, &info), 0);
	CHECK_EQ(info.state, SNAPCHAN_SNAP_COMPLETE);
	CHECK_EQ(snapchan_snap_wait(55, -1, NULL), 0);
	CHECK_EQ(snapchan_snap_abort(55), -EALREADY);

	/* Aborted: -ECANCELED with the reason. */
	state = SNAPCHAN_SNAP_RUNNING;
	infos_until_done = 2;
	end_state = SNAPCHAN_SNAP_ABORTED;
	CHECK_EQ(snapchan_snap_wait(55, 5000, &info), -ECANCELED);
	CHECK_EQ(info.abort_reason, SNAPCHAN_ABORT_DEADLINE);
	state = SNAPCHAN_SNAP_RUNNING;
	CHECK_EQ(snapchan_snap_abort(55), 0);
	CHECK_EQ(aborts, 2);

	CHECK(!strcmp(snapchan_snap_state_name(SNAPCHAN_SNAP_COMPLETE), "complete"));
	CHECK(!strcmp(snapchan_snap_state_name(99), "unknown"));
	CHECK(!strcmp(snapchan_abort_reason_name(SNAPCHAN_ABORT_MEMBER_LEFT),
		      "a member node left before recording"));
	CHECK(!strcmp(snapchan_abort_reason_name(99), "unknown reason"));

	/* Saving what a snapshot fd streams (a pipe stands in for it). */
	mkdir("tests/tmp", 0700);
	snprintf(dir, sizeof(dir), "tests/tmp/snap-XXXXXX");
	REQUIRE(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s.snap", dir);
	build_sample(&image, &len);
	REQUIRE(len < 4096 && pipe(p) == 0);
	REQUIRE(write(p[1], image, len) == (ssize_t)len);
	close(p[1]);
	CHECK_EQ(snapchan_snap_save(p[0], path, 0, &d), 0);
	close(p[0]);
	CHECK_EQ(snapchan_image_open_file(path, &back, NULL), 0);
	snapchan_image_close(back);
	/* NOREPLACE on the file just saved. */
	REQUIRE(pipe(p) == 0);
	REQUIRE(write(p[1], image, len) == (ssize_t)len);
	close(p[1]);
	CHECK_EQ(snapchan_snap_save(p[0], path, SNAPCHAN_SAVE_F_NOREPLACE, &d),
		 -EEXIST);
	close(p[0]);
	unlink(path);
	/* A truncated stream (an fd read already, say): nothing saved. */
	REQUIRE(pipe(p) == 0);
	REQUIRE(write(p[1], image, len / 2) == (ssize_t)(len / 2));
	close(p[1]);
	CHECK_EQ(snapchan_snap_save(p[0], path, 0, &d), -EBADMSG);
	close(p[0]);
	CHECK(access(path, F_OK) != 0);
	REQUIRE(pipe(p) == 0);
	close(p[1]);
	CHECK_EQ(snapchan_snap_save(p[0], path, 0, &d), -EBADMSG);
	close(p[0]);
	CHECK(access(path, F_OK) != 0);
	CHECK_EQ(snapchan_snap_save(0, path, 1U << 7, &d), -EINVAL);
	free(image);
	rmdir(dir);
	return test_done("snap-mock");
}
