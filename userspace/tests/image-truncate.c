// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * An image cut short at every byte offset is refused with -EBADMSG, by the
 * verifier and the reader, never accepted and never read beyond its end
 * (each prefix is in a buffer of exactly its size, for valgrind); and the
 * same through open_fd() on a file holding each prefix.
 */
#include "test.h"

#include <unistd.h>

int main(void)
{
	struct snapchan_image *img;
	struct snapchan_image_diag d;
	char path[] = "/tmp/snapchan-trunc-XXXXXX";
	uint8_t *buf, *cut;
	size_t len, n;
	int fd;

	build_sample(&buf, &len);
	CHECK_EQ(snapchan_image_verify_buffer(buf, len, NULL), 0);
	for (n = 0; n < len; n++) {
		cut = malloc(n ? n : 1);
		REQUIRE(cut);
		memcpy(cut, buf, n);
		EXPECT_REFUSED(cut, n, -EBADMSG, NULL);
		free(cut);
	}

	fd = mkstemp(path);
	REQUIRE(fd >= 0);
	unlink(path);
	for (n = 0; n < len; n += 1 + n / 16) {
		REQUIRE(ftruncate(fd, 0) == 0);
		REQUIRE(pwrite(fd, buf, n, 0) == (ssize_t)n);
		REQUIRE(lseek(fd, 0, SEEK_SET) == 0);
		img = NULL;
		CHECK_EQ(snapchan_image_open_fd(fd, &img, &d), -EBADMSG);
		CHECK_EQ(d.error, -EBADMSG);
		CHECK(img == NULL);
	}
	/* The whole of it is fine. */
	REQUIRE(pwrite(fd, buf, len, 0) == (ssize_t)len);
	REQUIRE(lseek(fd, 0, SEEK_SET) == 0);
	CHECK_EQ(snapchan_image_open_fd(fd, &img, &d), 0);
	snapchan_image_close(img);
	close(fd);
	free(buf);
	return test_done("image-truncate");
}
