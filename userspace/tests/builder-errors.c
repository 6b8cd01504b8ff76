// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The builder refuses bad arguments with -EINVAL and changes nothing, and
 * its finish refuses to produce an image that a reader would refuse
 * (sequence gap, wrong next_seq, duplicate names, unknown sender node),
 * with the reader's diagnostic.
 */
#include "test.h"

static struct snapchan_image_builder *begin(void)
{
	struct snapchan_image_header_view h = {
		.kind = SNAPCHAN_IMG_KIND_SNAPSHOT, .snap_id = 1, .group = "g",
	};
	struct snapchan_image_builder *b;

	REQUIRE(snapchan_image_builder_begin(&b, &h) == 0);
	return b;
}

static int finish_err(struct snapchan_image_builder *b, const char *what)
{
	struct snapchan_image_diag d;
	void *buf = (void *)&d;
	size_t len = 12345;
	int ret;

	ret = snapchan_image_builder_finish(b, &buf, &len, &d);
	CHECK(buf == (void *)&d && len == 12345);
	CHECK_EQ(d.error, ret);
	if (what && !strstr(d.msg, what)) {
		fprintf(stderr, "finish: \"%s\", expected \"%s\"\n", d.msg, what);
		test_failures++;
	}
	return ret;
}

int main(void)
{
	struct snapchan_image_header_view h = { .kind = 0, .group = "g" };
	struct snapchan_image_chan_view c = { .id = 1, .name = "c", .max_msg = 16 };
	struct snapchan_image_record_view r = { .type = SNAPCHAN_REC_DATA };
	struct snapchan_image_builder *b = NULL;
	void *buf;
	size_t len;

	/* begin */
	CHECK_EQ(snapchan_image_builder_begin(&b, &h), -EINVAL);
	h.kind = 3;
	CHECK_EQ(snapchan_image_builder_begin(&b, &h), -EINVAL);
	h.kind = SNAPCHAN_IMG_KIND_SNAPSHOT;
	h.group = "no/slash";
	CHECK_EQ(snapchan_image_builder_begin(&b, &h), -EINVAL);
	CHECK(b == NULL);

	/* add_node */
	b = begin();
	CHECK_EQ(snapchan_image_builder_add_node(b, "", 1, NULL, 0), -EINVAL);
	CHECK_EQ(snapchan_image_builder_add_node(b, NULL, 1, NULL, 0), -EINVAL);
	CHECK_EQ(snapchan_image_builder_add_node(b, "a b", 1, NULL, 0), -EINVAL);
	CHECK_EQ(snapchan_image_builder_add_node(b, "n", 0, NULL, 0), -EINVAL);
	CHECK_EQ(snapchan_image_builder_add_node(b, "n", 1, NULL, 3), -EINVAL);
	CHECK_EQ(snapchan_image_builder_add_node(b, "n", 1, "", UINT64_MAX), -EFBIG);
	/* add_record before any channel */
	r.len = 1;
	r.payload = "x";
	CHECK_EQ(snapchan_image_builder_add_record(b, &r), -EINVAL);
	/* add_chan */
	c.name = "control";
	CHECK_EQ(snapchan_image_builder_add_chan(b, &c), -EINVAL);
	c.name = NULL;
	CHECK_EQ(snapchan_image_builder_add_chan(b, &c), -EINVAL);
	c.name = "c";
	c.group = "bad group";
	CHECK_EQ(snapchan_image_builder_add_chan(b, &c), -EINVAL);
	c.group = NULL;
	/* None of it left a trace: the image is still empty. */
	REQUIRE(snapchan_image_builder_finish(b, &buf, &len, NULL) == 0);
	CHECK_EQ(len, 120);
	free(buf);

	REQUIRE(snapchan_image_builder_add_chan(b, &c) == 0);
	r.type = 0;
	CHECK_EQ(snapchan_image_builder_add_record(b, &r), -EINVAL);
	r.type = 3;
	CHECK_EQ(snapchan_image_builder_add_record(b, &r), -EINVAL);
	r.type = SNAPCHAN_REC_DATA;
	r.payload = NULL;
	CHECK_EQ(snapchan_image_builder_add_record(b, &r), -EINVAL);
	REQUIRE(snapchan_image_builder_finish(b, &buf, &len, NULL) == 0);
	CHECK_EQ(len, 120 + 144);
	free(buf);

	/* A sequence gap given explicitly. */
	r.payload = "x";
	r.seq = 1;
	REQUIRE(snapchan_image_builder_add_record(b, &r) == 0);
	r.seq = 3;
	REQUIRE(snapchan_image_builder_add_record(b, &r) == 0);
	CHECK_EQ(finish_err(b, "seq 3, expected 2"), -EBADMSG);
	snapchan_image_builder_free(b);

	/* next_seq given, and wrong. */
	b = begin();
	c.next_seq = 5;
	REQUIRE(snapchan_image_builder_add_chan(b, &c) == 0);
	r.seq = 0;
	REQUIRE(snapchan_image_builder_add_record(b, &r) == 0);
	CHECK_EQ(finish_err(b, "next_seq 5"), -EBADMSG);
	snapchan_image_builder_free(b);
	c.next_seq = 0;

	/* Duplicate channel and node names; unknown sender. */
	b = begin();
	REQUIRE(snapchan_image_builder_add_chan(b, &c) == 0);
	c.id = 2;
	REQUIRE(snapchan_image_builder_add_chan(b, &c) == 0);
	CHECK_EQ(finish_err(b, "appears twice"), -EBADMSG);
	snapchan_image_builder_free(b);

	b = begin();
	REQUIRE(snapchan_image_builder_add_node(b, "n", 1, NULL, 0) == 0);
	REQUIRE(snapchan_image_builder_add_node(b, "n", 2, NULL, 0) == 0);
	CHECK_EQ(finish_err(b, "\"n\" appears twice"), -EBADMSG);
	snapchan_image_builder_free(b);

	b = begin();
	c.sender_node = 8;
	REQUIRE(snapchan_image_builder_add_chan(b, &c) == 0);
	/* Nodes may come after the channels that name them. */
	CHECK_EQ(finish_err(b, "sender_node 8"), -EBADMSG);
	REQUIRE(snapchan_image_builder_add_node(b, "n8", 8, "s", 1) == 0);
	REQUIRE(snapchan_image_builder_finish(b, &buf, &len, NULL) == 0);
	CHECK_EQ(snapchan_image_verify_buffer(buf, len, NULL), 0);
	free(buf);
	snapchan_image_builder_free(b);

	/* A marker with a payload, and one without an id. */
	b = begin();
	c.sender_node = 0;
	REQUIRE(snapchan_image_builder_add_chan(b, &c) == 0);
	r = (struct snapchan_image_record_view){ .type = SNAPCHAN_REC_MARKER,
		.snap_id = 1, .len = 2, .payload = "ab" };
	REQUIRE(snapchan_image_builder_add_record(b, &r) == 0);
	CHECK_EQ(finish_err(b, "MARKER with len 2"), -EBADMSG);
	snapchan_image_builder_free(b);

	b = begin();
	REQUIRE(snapchan_image_builder_add_chan(b, &c) == 0);
	r = (struct snapchan_image_record_view){ .type = SNAPCHAN_REC_MARKER };
	REQUIRE(snapchan_image_builder_add_record(b, &r) == 0);
	CHECK_EQ(finish_err(b, "snap_id 0"), -EBADMSG);
	snapchan_image_builder_free(b);

	snapchan_image_builder_free(NULL);
	return test_done("builder-errors");
}
