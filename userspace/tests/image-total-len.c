// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * total_len must equal the image's length, in the header and in the
 * trailer: a header or trailer that disagrees, bytes appended to a valid
 * image, and a stream with data after total_len are all -EBADMSG.
 */
#include "test.h"

#include <unistd.h>

#define TOTAL offsetof(struct snapchan_img_header, total_len)

int main(void)
{
	static const int64_t deltas[] = { -8, -1, 1, 8, 4096 };
	struct snapchan_image_diag d;
	struct snapchan_image *img = NULL;
	struct layout l;
	uint8_t *buf, *c;
	size_t len, i;
	int p[2];

	build_sample(&buf, &len);
	layout_of(buf, len, &l);

	for (i = 0; i < sizeof(deltas) / sizeof(deltas[0]); i++) {
		c = dup_image(buf, len, 0);
		SET(c, 0, snapchan_img_header, total_len, len + deltas[i]);
		fix_crc(c, len);
		EXPECT_REFUSED_AT(c, len, -EBADMSG, "total_len", TOTAL);
		free(c);

		c = dup_image(buf, len, 0);
		SET(c, l.trailer, snapchan_img_trailer, total_len, len + deltas[i]);
		fix_crc(c, len);
		EXPECT_REFUSED_AT(c, len, -EBADMSG, "trailer total_len",
				  l.trailer + 8);
		free(c);
	}
	c = dup_image(buf, len, 0);
	SET(c, 0, snapchan_img_header, total_len, UINT64_MAX);
	fix_crc(c, len);
	EXPECT_REFUSED_AT(c, len, -EBADMSG, "total_len", TOTAL);
	SET(c, 0, snapchan_img_header, total_len, 0);
	fix_crc(c, len);
	EXPECT_REFUSED_AT(c, len, -EBADMSG, "total_len", TOTAL);
	free(c);

	/* A valid image with bytes after it. */
	c = dup_image(buf, len, 8);
	EXPECT_REFUSED_AT(c, len + 1, -EBADMSG, "total_len", TOTAL);
	EXPECT_REFUSED_AT(c, len + 8, -EBADMSG, "total_len", TOTAL);
	free(c);

	/* Both lengths agree with a buffer that is not a multiple of 8. */
	c = dup_image(buf, len, 8);
	memmove(c + len - 12, c + len - 16, 16);
	SET(c, 0, snapchan_img_header, total_len, len + 4);
	SET(c, len - 12, snapchan_img_trailer, total_len, len + 4);
	fix_crc(c, len + 4);
	EXPECT_REFUSED(c, len + 4, -EBADMSG, "multiple of 8");
	free(c);

	/* Data after total_len in a stream. */
	REQUIRE(pipe(p) == 0);
	REQUIRE(write(p[1], buf, len) == (ssize_t)len);
	REQUIRE(write(p[1], "x", 1) == 1);
	close(p[1]);
	CHECK_EQ(snapchan_image_open_fd(p[0], &img, &d), -EBADMSG);
	CHECK(strstr(d.msg, "after total_len") != NULL);
	CHECK_EQ(d.offset, len);
	CHECK(img == NULL);
	close(p[0]);

	/* A stream shorter than its total_len. */
	REQUIRE(pipe(p) == 0);
	REQUIRE(write(p[1], buf, len - 8) == (ssize_t)len - 8);
	close(p[1]);
	CHECK_EQ(snapchan_image_open_fd(p[0], &img, &d), -EBADMSG);
	CHECK(strstr(d.msg, "total_len") != NULL);
	close(p[0]);

	/* A header that claims an enormous image: no huge allocation. */
	c = dup_image(buf, len, 0);
	SET(c, 0, snapchan_img_header, total_len, (uint64_t)1 << 62);
	REQUIRE(pipe(p) == 0);
	REQUIRE(write(p[1], c, len) == (ssize_t)len);
	close(p[1]);
	CHECK_EQ(snapchan_image_open_fd(p[0], &img, &d), -EBADMSG);
	CHECK(strstr(d.msg, "total_len") != NULL);
	close(p[0]);
	free(c);

	/* And the same image as it is reads fine. */
	REQUIRE(pipe(p) == 0);
	REQUIRE(write(p[1], buf, len) == (ssize_t)len);
	close(p[1]);
	CHECK_EQ(snapchan_image_open_fd(p[0], &img, &d), 0);
	snapchan_image_close(img);
	close(p[0]);
	free(buf);
	return test_done("image-total-len");
}
