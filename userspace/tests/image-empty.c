// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Builder -> reader round trip of an empty snapshot image: header and
 * trailer only, 120 bytes, every header field as given.
 */
#include "test.h"

int main(void)
{
	struct snapchan_image_header_view h = {
		.kind = SNAPCHAN_IMG_KIND_SNAPSHOT, .snap_id = 42,
		.group = "grp", .epoch = 9, .begin_ns = 111, .end_ns = 222,
		/* ignored by the builder: */
		.version = 77, .flags = 5, .node_count = 3, .total_len = 1,
	};
	struct snapchan_image_header_view g;
	struct snapchan_image_node_view nv;
	struct snapchan_image_chan_view cv;
	struct snapchan_image_record_view rv;
	struct snapchan_image_builder *b;
	struct snapchan_image_diag d;
	struct snapchan_image *img;
	void *buf, *buf2;
	size_t len, len2, dlen;
	const uint8_t *p;

	REQUIRE(snapchan_image_builder_begin(&b, &h) == 0);
	REQUIRE(snapchan_image_builder_finish(b, &buf, &len, &d) == 0);
	CHECK_EQ(d.error, 0);
	CHECK_EQ(len, 120);
	p = buf;
	CHECK(!memcmp(p, "SNCH", 4));
	CHECK(!memcmp(p + len - 16, "CEND", 4));
	CHECK_EQ(snapchan_image_verify_buffer(buf, len, NULL), 0);

	/* A second finish gives the same bytes. */
	REQUIRE(snapchan_image_builder_finish(b, &buf2, &len2, NULL) == 0);
	CHECK_EQ(len2, len);
	CHECK(!memcmp(buf, buf2, len));
	free(buf2);
	snapchan_image_builder_free(b);

	memset(&d, 0x5a, sizeof(d));
	REQUIRE(snapchan_image_from_buffer(buf, len, &img, &d) == 0);
	CHECK_EQ(d.error, 0);
	CHECK_EQ(d.offset, 0);
	CHECK_EQ(d.msg[0], 0);
	/* It is a copy. */
	memset(buf, 0, len);
	free(buf);

	CHECK_EQ(snapchan_image_verify(img, NULL), 0);
	CHECK_EQ(snapchan_image_header(img, &g), 0);
	CHECK_EQ(g.version, SNAPCHAN_IMG_VERSION);
	CHECK_EQ(g.kind, SNAPCHAN_IMG_KIND_SNAPSHOT);
	CHECK_EQ(g.flags, 0);
	CHECK_EQ(g.snap_id, 42);
	CHECK(!strcmp(g.group, "grp"));
	CHECK_EQ(g.epoch, 9);
	CHECK_EQ(g.begin_ns, 111);
	CHECK_EQ(g.end_ns, 222);
	CHECK_EQ(g.node_count, 0);
	CHECK_EQ(g.chan_count, 0);
	CHECK_EQ(g.record_count, 0);
	CHECK_EQ(g.total_len, 120);
	p = snapchan_image_data(img, &dlen);
	CHECK_EQ(dlen, 120);
	CHECK_EQ(g.crc32c, snapchan_crc32c(0, p, 104));
	CHECK(snapchan_image_data(img, NULL) == p);

	CHECK_EQ(snapchan_image_node_count(img), 0);
	CHECK_EQ(snapchan_image_chan_count(img), 0);
	CHECK_EQ(snapchan_image_node(img, 0, &nv), -ERANGE);
	CHECK_EQ(snapchan_image_chan(img, 0, &cv), -ERANGE);
	CHECK_EQ(snapchan_image_record(img, 0, 0, &rv), -ERANGE);
	CHECK_EQ(snapchan_image_node_by_name(img, "x", NULL), -ENOENT);
	CHECK_EQ(snapchan_image_chan_by_name(img, "x", NULL), -ENOENT);
	snapchan_image_close(img);
	snapchan_image_close(NULL);

	/* An empty capture is not an image: a capture has one channel. */
	h.kind = SNAPCHAN_IMG_KIND_CAPTURE;
	h.snap_id = 0;
	h.epoch = 0;
	h.group = NULL;
	REQUIRE(snapchan_image_builder_begin(&b, &h) == 0);
	CHECK_EQ(snapchan_image_builder_finish(b, &buf, &len, &d), -EBADMSG);
	CHECK(strstr(d.msg, "capture") != NULL);
	snapchan_image_builder_free(b);
	return test_done("image-empty");
}
