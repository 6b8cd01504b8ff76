// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Without the module: every function returns -errno, never -1 and errno.
 * SNAPCHAN_DEV_DIR moves the device directory; a missing control device is
 * -ENOENT; invalid channel names are -EINVAL before any system call
 * (including ".." which would escape the directory); the ioctl wrappers on
 * a file that is not a snapchan device are -ENOTTY, on a bad fd -EBADF;
 * opened fds are O_CLOEXEC; send and recv pass write(2)/read(2) through.
 * The batch calls on a file that is not a channel (as on a module without
 * them) are -ENOTTY, which is what a caller falls back on.
 */
#include "test.h"

#include <fcntl.h>
#include <unistd.h>

int main(void)
{
	char dir[] = "/tmp/snapchan-dev-XXXXXX", path[80];
	char (*names)[SNAPCHAN_NAME_LEN] = (void *)&names;
	struct snapchan_chan_create cc;
	struct snapchan_chan_info info;
	struct snapchan_version ver;
	struct snapchan_recv rec;
	struct snapchan_capture cap;
	size_t count = 99;
	char buf[16];
	int fd, p[2];

	REQUIRE(mkdtemp(dir));
	REQUIRE(setenv("SNAPCHAN_DEV_DIR", dir, 1) == 0);

	errno = 0;
	CHECK_EQ(snapchan_open_control(), -ENOENT);
	CHECK_EQ(snapchan_chan_open("nochan", O_RDONLY), -ENOENT);

	/* Invalid names: -EINVAL, checked before any system call. */
	CHECK_EQ(snapchan_chan_open("control", O_RDONLY), -EINVAL);
	CHECK_EQ(snapchan_chan_open("..", O_RDONLY), -EINVAL);
	CHECK_EQ(snapchan_chan_open(".", O_RDONLY), -EINVAL);
	CHECK_EQ(snapchan_chan_open("", O_RDONLY), -EINVAL);
	CHECK_EQ(snapchan_chan_open("a/b", O_RDONLY), -EINVAL);
	CHECK_EQ(snapchan_chan_open("../../etc/passwd", O_RDONLY), -EINVAL);
	CHECK_EQ(snapchan_chan_open("0123456789012345678901234567890123", O_RDONLY), -EINVAL);
	CHECK_EQ(snapchan_chan_open(NULL, O_RDONLY), -EINVAL);
	CHECK_EQ(snapchan_chan_destroy(-1, "bad name", 0), -EINVAL);
	CHECK_EQ(snapchan_chan_destroy(-1, "control", 0), -EINVAL);
	CHECK_EQ(snapchan_chan_info(-1, "", &info), -EINVAL);

	/* Stand-ins for the devices: regular files. */
	snprintf(path, sizeof(path), "%s/control", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	REQUIRE(fd >= 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/chan1", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	REQUIRE(fd >= 0);
	close(fd);

	fd = snapchan_open_control();
	CHECK(fd >= 0);
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	CHECK((fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR);

	memset(&cc, 0, sizeof(cc));
	strcpy(cc.name, "x");
	CHECK_EQ(snapchan_version(fd, &ver), -ENOTTY);
	CHECK_EQ(snapchan_chan_create(fd, &cc), -ENOTTY);
	CHECK_EQ(snapchan_chan_destroy(fd, "x", 0), -ENOTTY);
	CHECK_EQ(snapchan_chan_info(fd, "x", &info), -ENOTTY);
	CHECK_EQ(snapchan_chan_list(fd, &names, &count), -ENOTTY);
	CHECK(names == (void *)&names && count == 99);	/* unchanged */
	memset(&rec, 0, sizeof(rec));
	CHECK_EQ(snapchan_recv_rec(fd, &rec), -ENOTTY);
	CHECK_EQ(snapchan_mark(fd, 1), -ENOTTY);
	memset(&cap, 0, sizeof(cap));
	CHECK_EQ(snapchan_capture(fd, &cap), -ENOTTY);
	close(fd);

	fd = snapchan_chan_open("chan1", O_RDONLY);
	CHECK(fd >= 0);
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	CHECK((fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDONLY);
	CHECK_EQ(snapchan_mark(fd, 1), -ENOTTY);
	CHECK_EQ(snapchan_send(fd, "x", 1), -EBADF);	/* read-only */
	{
		struct snapchan_send_msg sm = { .buf = (uintptr_t)"x", .len = 1 };
		struct iovec iov = { .iov_base = "x", .iov_len = 1 };

		memset(&rec, 0, sizeof(rec));
		rec.buf = (uintptr_t)buf;
		rec.buf_len = sizeof(buf);
		CHECK_EQ(snapchan_send_batch(fd, &sm, 1, 0), -ENOTTY);
		CHECK_EQ(snapchan_recv_batch(fd, &rec, 1, 0), -ENOTTY);
		CHECK_EQ(snapchan_send_many(fd, &iov, 1, 0), -ENOTTY);
		CHECK_EQ(snapchan_send_many(fd, &iov, 0, 0), 0);
		CHECK_EQ(snapchan_send_batch(-1, &sm, 1, 0), -EBADF);
		CHECK_EQ(snapchan_recv_batch(-1, &rec, 1, 0), -EBADF);
		CHECK_EQ(snapchan_send_many(-1, &iov, 1, 0), -EBADF);
	}
	close(fd);
	CHECK_EQ(snapchan_chan_open("chan1", O_WRONLY | O_CREAT | O_EXCL), -EEXIST);

	/* A closed fd. */
	CHECK_EQ(snapchan_version(fd, &ver), -EBADF);
	CHECK_EQ(snapchan_mark(-1, 1), -EBADF);
	CHECK_EQ(snapchan_capture(-1, &cap), -EBADF);
	CHECK_EQ(snapchan_recv(-1, buf, sizeof(buf)), -EBADF);

	/* send/recv pass through write/read. */
	REQUIRE(pipe2(p, O_NONBLOCK) == 0);
	CHECK_EQ(snapchan_recv(p[0], buf, sizeof(buf)), -EAGAIN);
	CHECK_EQ(snapchan_send(p[1], "hello", 5), 5);
	CHECK_EQ(snapchan_send(p[1], NULL, 0), 0);
	CHECK_EQ(snapchan_recv(p[0], buf, sizeof(buf)), 5);
	CHECK(!memcmp(buf, "hello", 5));
	close(p[0]);
	close(p[1]);

	/* An empty SNAPCHAN_DEV_DIR means the default. */
	REQUIRE(setenv("SNAPCHAN_DEV_DIR", "", 1) == 0);
	fd = snapchan_open_control();
	CHECK(fd < 0 || access("/dev/snapchan/control", F_OK) == 0);
	if (fd >= 0)
		close(fd);
	/* A directory too long for a path. */
	{
		char *longdir = malloc(5000);

		REQUIRE(longdir);
		memset(longdir, 'd', 4999);
		longdir[4999] = 0;
		REQUIRE(setenv("SNAPCHAN_DEV_DIR", longdir, 1) == 0);
		CHECK_EQ(snapchan_open_control(), -ENAMETOOLONG);
		free(longdir);
	}

	snprintf(path, sizeof(path), "%s/control", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/chan1", dir);
	unlink(path);
	rmdir(dir);
	return test_done("api-errors");
}
