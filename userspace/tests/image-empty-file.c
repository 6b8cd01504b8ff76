// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Nothing is not an image: an empty buffer, an empty file, /dev/null and
 * an empty pipe are -EBADMSG ("truncated"), with no image handed out.
 */
#include "test.h"

#include <fcntl.h>
#include <unistd.h>

int main(void)
{
	struct snapchan_image *img = NULL;
	struct snapchan_image_diag d;
	char path[] = "/tmp/snapchan-empty-XXXXXX";
	int fd, p[2];

	EXPECT_REFUSED("", 0, -EBADMSG, "truncated");
	EXPECT_REFUSED(NULL, 0, -EBADMSG, "truncated");

	fd = mkstemp(path);
	REQUIRE(fd >= 0);
	close(fd);
	CHECK_EQ(snapchan_image_open_file(path, &img, &d), -EBADMSG);
	CHECK(strstr(d.msg, "truncated") != NULL);
	CHECK(img == NULL);
	unlink(path);

	fd = open("/dev/null", O_RDONLY);
	REQUIRE(fd >= 0);
	CHECK_EQ(snapchan_image_open_fd(fd, &img, NULL), -EBADMSG);
	close(fd);
	CHECK(img == NULL);

	REQUIRE(pipe(p) == 0);
	close(p[1]);
	CHECK_EQ(snapchan_image_open_fd(p[0], &img, &d), -EBADMSG);
	CHECK_EQ(d.offset, 0);
	close(p[0]);
	CHECK(img == NULL);
	return test_done("image-empty-file");
}
