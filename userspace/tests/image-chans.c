// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Builder -> reader round trip of channels with DATA and MARKER records:
 * every channel field, every record field and payload, sequence numbers
 * given and assigned, next_seq computed, lookups; and a capture image of a
 * standalone channel.
 */
#include "test.h"

static void check_sample(void)
{
	struct snapchan_image_header_view h;
	struct snapchan_image_chan_view cv;
	struct snapchan_image_record_view rv;
	struct snapchan_image_node_view nv;
	struct snapchan_image *img;
	uint8_t *buf;
	size_t len;

	build_sample(&buf, &len);
	REQUIRE(snapchan_image_from_buffer(buf, len, &img, NULL) == 0);
	CHECK_EQ(snapchan_image_header(img, &h), 0);
	CHECK_EQ(h.kind, SNAPCHAN_IMG_KIND_SNAPSHOT);
	CHECK_EQ(h.snap_id, 7);
	CHECK(!strcmp(h.group, "bank"));
	CHECK_EQ(h.epoch, 3);
	CHECK_EQ(h.node_count, 3);
	CHECK_EQ(h.chan_count, 3);
	CHECK_EQ(h.record_count, 6);
	CHECK_EQ(h.total_len, len);

	CHECK_EQ(snapchan_image_node_by_name(img, "alice", &nv), 0);
	CHECK_EQ(nv.state_len, 11);
	CHECK(!memcmp(nv.state, "balance=100", 11));
	CHECK_EQ(snapchan_image_node_by_name(img, "carol", &nv), 2);
	CHECK(nv.state == NULL && nv.state_len == 0 && nv.id == 3);

	CHECK_EQ(snapchan_image_chan_count(img), 3);
	REQUIRE(snapchan_image_chan(img, 0, &cv) == 0);
	CHECK_EQ(cv.id, 10);
	CHECK(!strcmp(cv.name, "a2b"));
	CHECK(!strcmp(cv.group, "bank"));
	CHECK_EQ(cv.capacity_bytes, 4096);
	CHECK_EQ(cv.capacity_msgs, 64);
	CHECK_EQ(cv.max_msg, 64);
	CHECK_EQ(cv.flags, 0);
	CHECK_EQ(cv.mode, 0600);
	CHECK_EQ(cv.sender_node, 1);
	CHECK_EQ(cv.receiver_node, 2);
	CHECK_EQ(cv.first_seq, 5);
	CHECK_EQ(cv.next_seq, 8);
	CHECK_EQ(cv.record_count, 4);
	CHECK_EQ(cv.record_bytes, 8);

	REQUIRE(snapchan_image_record(img, 0, 0, &rv) == 0);
	CHECK_EQ(rv.type, SNAPCHAN_REC_DATA);
	CHECK_EQ(rv.seq, 5);
	CHECK_EQ(rv.len, 5);
	CHECK(!memcmp(rv.payload, "hello", 5));
	CHECK_EQ(rv.snap_id, 0);
	CHECK_EQ(rv.origin, 0);
	REQUIRE(snapchan_image_record(img, 0, 1, &rv) == 0);
	CHECK_EQ(rv.type, SNAPCHAN_REC_MARKER);
	CHECK_EQ(rv.seq, 0);
	CHECK_EQ(rv.len, 0);
	CHECK(rv.payload == NULL);
	CHECK_EQ(rv.snap_id, 6);
	CHECK_EQ(rv.origin, 3);
	REQUIRE(snapchan_image_record(img, 0, 2, &rv) == 0);
	CHECK_EQ(rv.seq, 6);
	CHECK(!memcmp(rv.payload, "xyz", 3));
	REQUIRE(snapchan_image_record(img, 0, 3, &rv) == 0);
	CHECK_EQ(rv.type, SNAPCHAN_REC_DATA);
	CHECK_EQ(rv.seq, 7);
	CHECK_EQ(rv.len, 0);
	CHECK(rv.payload == NULL);
	CHECK_EQ(snapchan_image_record(img, 0, 4, &rv), -ERANGE);

	CHECK_EQ(snapchan_image_chan_by_name(img, "b2a", &cv), 1);
	CHECK_EQ(cv.first_seq, 1);
	CHECK_EQ(cv.next_seq, 1);
	CHECK_EQ(cv.record_count, 0);
	CHECK_EQ(snapchan_image_record(img, 1, 0, &rv), -ERANGE);

	CHECK_EQ(snapchan_image_chan_by_name(img, "c2a", &cv), 2);
	CHECK_EQ(cv.first_seq, 100);
	CHECK_EQ(cv.next_seq, 101);
	REQUIRE(snapchan_image_record(img, 2, 0, &rv) == 0);
	CHECK_EQ(rv.type, SNAPCHAN_REC_MARKER);
	CHECK_EQ(rv.snap_id, 9);
	CHECK_EQ(rv.origin, 0);
	REQUIRE(snapchan_image_record(img, 2, 1, &rv) == 0);
	CHECK_EQ(rv.seq, 100);
	CHECK(!memcmp(rv.payload, "thirteen byte", 13));
	CHECK_EQ(snapchan_image_record(img, 3, 0, &rv), -ERANGE);
	CHECK_EQ(snapchan_image_chan(img, 3, &cv), -ERANGE);
	CHECK_EQ(snapchan_image_chan_by_name(img, "zzz", &cv), -ENOENT);
	snapchan_image_close(img);
	free(buf);
}

/* A capture of a standalone channel, with given seqs and next_seq. */
static void check_capture(void)
{
	struct snapchan_image_header_view h = {
		.kind = SNAPCHAN_IMG_KIND_CAPTURE, .begin_ns = 5, .end_ns = 5,
	};
	struct snapchan_image_chan_view c = {
		.id = 77, .name = "solo", .capacity_bytes = 1 << 20,
		.capacity_msgs = 100, .max_msg = 1000,
		.flags = SNAPCHAN_CHAN_F_EOF, .mode = 0644,
		.sender_node = 0, .receiver_node = 55, /* not checked */
		.first_seq = 1000,
	};
	struct snapchan_image_record_view r = { .type = SNAPCHAN_REC_DATA };
	struct snapchan_image_builder *b;
	struct snapchan_image_chan_view cv;
	struct snapchan_image_record_view rv;
	struct snapchan_image *img;
	char payload[40];
	void *buf;
	size_t len;
	uint64_t i;

	REQUIRE(snapchan_image_builder_begin(&b, &h) == 0);
	REQUIRE(snapchan_image_builder_add_chan(b, &c) == 0);
	for (i = 0; i < 12; i++) {
		if (i % 4 == 3) {
			struct snapchan_image_record_view m = {
				.type = SNAPCHAN_REC_MARKER, .snap_id = i,
			};
			REQUIRE(snapchan_image_builder_add_record(b, &m) == 0);
			continue;
		}
		r.seq = 1000 + i - i / 4;	/* explicit */
		r.len = (uint32_t)snprintf(payload, sizeof(payload), "msg %" PRIu64, i);
		r.payload = payload;
		REQUIRE(snapchan_image_builder_add_record(b, &r) == 0);
	}
	REQUIRE(snapchan_image_builder_finish(b, &buf, &len, NULL) == 0);
	snapchan_image_builder_free(b);

	REQUIRE(snapchan_image_from_buffer(buf, len, &img, NULL) == 0);
	REQUIRE(snapchan_image_chan(img, 0, &cv) == 0);
	CHECK(!strcmp(cv.group, ""));
	CHECK_EQ(cv.flags, SNAPCHAN_CHAN_F_EOF);
	CHECK_EQ(cv.mode, 0644);
	CHECK_EQ(cv.receiver_node, 55);
	CHECK_EQ(cv.first_seq, 1000);
	CHECK_EQ(cv.next_seq, 1009);
	CHECK_EQ(cv.record_count, 12);
	for (i = 0; i < 12; i++) {
		REQUIRE(snapchan_image_record(img, 0, i, &rv) == 0);
		if (i % 4 == 3) {
			CHECK_EQ(rv.type, SNAPCHAN_REC_MARKER);
			CHECK_EQ(rv.snap_id, i);
			continue;
		}
		snprintf(payload, sizeof(payload), "msg %" PRIu64, i);
		CHECK_EQ(rv.seq, 1000 + i - i / 4);
		CHECK_EQ(rv.len, strlen(payload));
		CHECK(!memcmp(rv.payload, payload, rv.len));
	}
	snapchan_image_close(img);
	free(buf);
}

int main(void)
{
	check_sample();
	check_capture();
	return test_done("image-chans");
}
