// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Every other structural rule, each broken alone with a correct CRC, is
 * -EBADMSG with a message naming it and the offset of the bad field:
 * header_len, kind, header flags, names (unterminated, bad characters,
 * empty, reserved), ids (0, duplicates), channel group, flags, mode,
 * unknown sender/receiver node, record type, DATA with a marker id, a
 * marker with id 0, bytes between the last section and the trailer, and
 * the rules of a capture (no node, one channel, snap_id and epoch 0).
 */
#include "test.h"

#define HO(f) offsetof(struct snapchan_img_header, f)
#define NO(i, f) (l.node[i] + offsetof(struct snapchan_img_node, f))
#define CO(i, f) (l.chan[i] + offsetof(struct snapchan_img_chan, f))
#define RO(i, j, f) (l.rec[i][j] + offsetof(struct snapchan_img_record, f))

static uint8_t *base;
static size_t blen;

/* Write @bytes little-endian @v at @off, fix the CRC, expect refusal. */
#define TRY(off, bytes, v, what, at)					\
	do {								\
		uint8_t *_c = dup_image(base, blen, 0);			\
		wr_le(_c + (off), (bytes), (v));			\
		fix_crc(_c, blen);					\
		EXPECT_REFUSED_AT(_c, blen, -EBADMSG, (what), (at));	\
		free(_c);						\
	} while (0)

/* Copy @n bytes of @s over @off, fix the CRC, expect refusal. */
#define TRYS(off, s, n, what, at)					\
	do {								\
		uint8_t *_c = dup_image(base, blen, 0);			\
		memcpy(_c + (off), (s), (n));				\
		fix_crc(_c, blen);					\
		EXPECT_REFUSED_AT(_c, blen, -EBADMSG, (what), (at));	\
		free(_c);						\
	} while (0)

static void capture_rules(void)
{
	struct snapchan_image_header_view h = { .kind = SNAPCHAN_IMG_KIND_CAPTURE };
	struct snapchan_image_chan_view c = { .id = 1, .name = "x", .max_msg = 8 };
	struct snapchan_image_builder *b;
	struct snapchan_image_diag d;
	uint8_t *buf, *x;
	void *v;
	size_t len;

	REQUIRE(snapchan_image_builder_begin(&b, &h) == 0);
	REQUIRE(snapchan_image_builder_add_chan(b, &c) == 0);
	REQUIRE(snapchan_image_builder_finish(b, &v, &len, &d) == 0);
	buf = v;
	x = dup_image(buf, len, 0);
	SET(x, 0, snapchan_img_header, snap_id, 1);
	fix_crc(x, len);
	EXPECT_REFUSED_AT(x, len, -EBADMSG, "snap_id", HO(snap_id));
	free(x);
	x = dup_image(buf, len, 0);
	SET(x, 0, snapchan_img_header, epoch, 1);
	fix_crc(x, len);
	EXPECT_REFUSED_AT(x, len, -EBADMSG, "epoch", HO(epoch));
	free(x);
	free(buf);

	/* Two channels, or a node: the builder's finish refuses them. */
	c.name = "y";
	c.id = 2;
	REQUIRE(snapchan_image_builder_add_chan(b, &c) == 0);
	CHECK_EQ(snapchan_image_builder_finish(b, &v, &len, &d), -EBADMSG);
	CHECK(strstr(d.msg, "2 channels") != NULL);
	CHECK_EQ(d.offset, HO(chan_count));
	snapchan_image_builder_free(b);

	REQUIRE(snapchan_image_builder_begin(&b, &h) == 0);
	REQUIRE(snapchan_image_builder_add_node(b, "n", 1, NULL, 0) == 0);
	REQUIRE(snapchan_image_builder_add_chan(b, &c) == 0);
	CHECK_EQ(snapchan_image_builder_finish(b, &v, &len, &d), -EBADMSG);
	CHECK(strstr(d.msg, "1 nodes") != NULL);
	snapchan_image_builder_free(b);
}

int main(void)
{
	struct layout l;
	char name[SNAPCHAN_NAME_LEN];

	build_sample(&base, &blen);
	layout_of(base, blen, &l);

	/* Header. */
	TRY(HO(header_len), 4, 96, "header_len", HO(header_len));
	TRY(HO(header_len), 4, 112, "header_len", HO(header_len));
	TRY(HO(kind), 2, 0, "kind", HO(kind));
	TRY(HO(kind), 2, 3, "kind", HO(kind));
	TRY(HO(flags), 4, 1, "flags", HO(flags));
	TRY(HO(flags), 4, 0x80000000u, "flags", HO(flags));
	TRY(HO(group), 1, 0, "group", HO(group));	/* empty snapshot group */
	TRYS(HO(group), "ba/k", 4, "group", HO(group));
	memset(name, 'g', sizeof(name));
	TRYS(HO(group), name, sizeof(name), "group", HO(group));

	/* Nodes. */
	TRY(NO(0, node_id), 8, 0, "node_id is 0", NO(0, node_id));
	TRY(NO(1, node_id), 8, 1, "node id 1 appears twice", -1);
	TRYS(NO(1, name), "alice", 6, "\"alice\" appears twice", -1);
	TRYS(NO(2, name), name, sizeof(name), "name", NO(2, name));
	TRYS(NO(2, name), "ca rol", 6, "name", NO(2, name));
	TRY(NO(2, name), 1, 0, "name", NO(2, name));	/* empty */
	TRYS(NO(2, name), "..", 3, "name", NO(2, name));
	TRYS(HO(group), ".", 2, "group", HO(group));

	/* Channels. */
	TRY(CO(0, chan_id), 8, 0, "chan_id is 0", CO(0, chan_id));
	TRY(CO(1, chan_id), 8, 10, "chan id 10 appears twice", -1);
	TRYS(CO(1, name), "a2b", 4, "\"a2b\" appears twice", -1);
	TRYS(CO(1, name), "control", 8, "name", CO(1, name));
	TRYS(CO(1, name), "..", 3, "name", CO(1, name));
	TRYS(CO(1, name), name, sizeof(name), "name", CO(1, name));
	TRYS(CO(1, group), "bonk", 4, "not the image's", CO(1, group));
	TRY(CO(1, group), 1, 0, "not the image's", CO(1, group));
	TRYS(CO(1, group), name, sizeof(name), "group", CO(1, group));
	TRY(CO(0, flags), 4, 2, "flags", CO(0, flags));
	TRY(CO(0, mode), 4, 0700, "mode", CO(0, mode));
	TRY(CO(0, mode), 4, 04600, "mode", CO(0, mode));
	TRY(CO(0, sender_node), 8, 4, "sender_node 4", CO(0, sender_node));
	TRY(CO(0, receiver_node), 8, 99, "receiver_node 99", CO(0, receiver_node));
	TRY(CO(0, max_msg), 4, 4, "max_msg", RO(0, 0, len));

	/* Records. */
	TRY(RO(0, 0, type), 4, 0, "unknown type", RO(0, 0, type));
	TRY(RO(0, 0, type), 4, 3, "unknown type", RO(0, 0, type));
	TRY(RO(0, 0, snap_id), 8, 6, "DATA with a snap_id", RO(0, 0, snap_id));
	TRY(RO(0, 0, origin), 8, 1, "DATA with a snap_id or origin", RO(0, 0, snap_id));
	TRY(RO(0, 1, snap_id), 8, 0, "snap_id 0", RO(0, 1, snap_id));
	/* A marker turned into DATA (seq 0) and DATA into a marker (len). */
	TRY(RO(0, 1, type), 4, SNAPCHAN_REC_DATA, NULL, RO(0, 1, seq));
	TRY(RO(0, 2, type), 4, SNAPCHAN_REC_MARKER, "MARKER with seq", RO(0, 2, seq));

	/* Eight bytes between the last section and the trailer. */
	{
		uint8_t *c = dup_image(base, blen, 8);
		size_t n = blen + 8;

		memmove(c + l.trailer + 8, c + l.trailer, 16);
		memset(c + l.trailer, 0, 8);
		SET(c, 0, snapchan_img_header, total_len, n);
		SET(c, l.trailer + 8, snapchan_img_trailer, total_len, n);
		fix_crc(c, n);
		EXPECT_REFUSED_AT(c, n, -EBADMSG, "8 bytes between", l.trailer);
		free(c);
	}

	capture_rules();
	free(base);
	return test_done("image-structure");
}
