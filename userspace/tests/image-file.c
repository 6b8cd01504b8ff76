// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Images on disk and in streams: a file written and read back with
 * open_file() is byte-identical and valid; open_fd() reads from the
 * current offset; a 1 MiB image comes whole through a pipe fed by another
 * process; errors of open(2)/read(2) come back as -errno (ENOENT, EISDIR,
 * EBADF).
 */
#include "test.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

static void big_image(void **bufp, size_t *lenp)
{
	struct snapchan_image_header_view h = {
		.kind = SNAPCHAN_IMG_KIND_CAPTURE, .group = "g",
	};
	struct snapchan_image_chan_view c = {
		.id = 1, .name = "pipe-test", .max_msg = 4096,
	};
	struct snapchan_image_record_view r = { .type = SNAPCHAN_REC_DATA };
	struct snapchan_image_builder *b;
	uint8_t payload[4096];
	int i;

	for (i = 0; i < (int)sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7);
	REQUIRE(snapchan_image_builder_begin(&b, &h) == 0);
	REQUIRE(snapchan_image_builder_add_chan(b, &c) == 0);
	for (i = 0; i < 256; i++) {
		r.len = (uint32_t)(sizeof(payload) - (size_t)(i % 9));
		r.payload = payload;
		REQUIRE(snapchan_image_builder_add_record(b, &r) == 0);
	}
	REQUIRE(snapchan_image_builder_finish(b, bufp, lenp, NULL) == 0);
	snapchan_image_builder_free(b);
}

int main(void)
{
	char dir[] = "/tmp/snapchan-file-XXXXXX", path[64];
	struct snapchan_image *img = NULL;
	struct snapchan_image_diag d;
	const void *data;
	uint8_t *buf;
	void *bbuf;
	size_t len, blen, dlen, off;
	int fd, p[2], status;
	pid_t pid;

	build_sample(&buf, &len);
	REQUIRE(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/img", dir);

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	REQUIRE(fd >= 0);
	REQUIRE(write(fd, buf, len) == (ssize_t)len);
	close(fd);
	REQUIRE(snapchan_image_open_file(path, &img, &d) == 0);
	data = snapchan_image_data(img, &dlen);
	CHECK_EQ(dlen, len);
	CHECK(!memcmp(data, buf, len));
	CHECK_EQ(snapchan_image_chan_count(img), 3);
	CHECK_EQ(snapchan_image_verify(img, &d), 0);
	snapchan_image_close(img);

	/* open_fd() reads from where the fd is. */
	fd = open(path, O_RDWR | O_TRUNC);
	REQUIRE(fd >= 0);
	REQUIRE(write(fd, "12345678", 8) == 8);
	REQUIRE(write(fd, buf, len) == (ssize_t)len);
	REQUIRE(lseek(fd, 8, SEEK_SET) == 8);
	CHECK_EQ(snapchan_image_open_fd(fd, &img, &d), 0);
	snapchan_image_close(img);
	REQUIRE(lseek(fd, 0, SEEK_SET) == 0);
	CHECK_EQ(snapchan_image_open_fd(fd, &img, &d), -ENOEXEC);
	close(fd);

	/* A large image through a pipe, written by another process. */
	big_image(&bbuf, &blen);
	CHECK(blen > 1024 * 1024);
	REQUIRE(pipe(p) == 0);
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		for (off = 0; off < blen; ) {
			size_t n = blen - off < 1000 ? blen - off : 1000;
			ssize_t w = write(p[1], (uint8_t *)bbuf + off, n);

			if (w <= 0)
				break;
			off += (size_t)w;
		}
		/* Under valgrind the child is checked for leaks too. */
		free(bbuf);
		free(buf);
		_exit(off == blen ? 0 : 1);
	}
	close(p[1]);
	CHECK_EQ(snapchan_image_open_fd(p[0], &img, &d), 0);
	close(p[0]);
	REQUIRE(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	if (img) {
		data = snapchan_image_data(img, &dlen);
		CHECK_EQ(dlen, blen);
		CHECK(!memcmp(data, bbuf, blen));
		CHECK_EQ(snapchan_image_record(img, 0, 255, &(struct snapchan_image_record_view){0}), 0);
		snapchan_image_close(img);
	}

	/* The same large image from a file. */
	fd = open(path, O_WRONLY | O_TRUNC);
	REQUIRE(fd >= 0);
	REQUIRE(write(fd, bbuf, blen) == (ssize_t)blen);
	close(fd);
	CHECK_EQ(snapchan_image_open_file(path, &img, &d), 0);
	snapchan_image_close(img);
	free(bbuf);

	/* Errors of the system calls. */
	img = NULL;
	CHECK_EQ(snapchan_image_open_file("/nonexistent/snapchan.img", &img, &d), -ENOENT);
	CHECK_EQ(d.error, -ENOENT);
	CHECK_EQ(snapchan_image_open_file(dir, &img, &d), -EISDIR);
	CHECK_EQ(snapchan_image_open_fd(-1, &img, &d), -EBADF);
	CHECK(img == NULL);

	unlink(path);
	rmdir(dir);
	free(buf);
	return test_done("image-file");
}
