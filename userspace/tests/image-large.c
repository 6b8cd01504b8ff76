// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Large payloads round trip: a node state of 3 MiB + 5 bytes and DATA
 * records of 1 MiB - 1, 1 MiB and 1 MiB + 3 bytes, content checked byte for
 * byte; a record one byte above max_msg is refused by the builder's finish.
 */
#include "test.h"

#define MIB (1024u * 1024u)

static uint8_t pattern(size_t i, unsigned int seed)
{
	return (uint8_t)((i * 2654435761u) >> 13 ^ seed);
}

int main(void)
{
	struct snapchan_image_header_view h = {
		.kind = SNAPCHAN_IMG_KIND_SNAPSHOT, .snap_id = 2, .group = "big",
	};
	struct snapchan_image_chan_view c = {
		.id = 1, .name = "bulk", .max_msg = MIB + 3,
		.capacity_bytes = 8 * MIB, .capacity_msgs = 16,
	};
	const uint32_t lens[] = { MIB - 1, MIB, MIB + 3 };
	struct snapchan_image_record_view r = { .type = SNAPCHAN_REC_DATA };
	struct snapchan_image_node_view nv;
	struct snapchan_image_record_view rv;
	struct snapchan_image_builder *b;
	struct snapchan_image_diag d;
	struct snapchan_image *img;
	size_t slen = 3 * MIB + 5, len, i, k;
	uint8_t *state, *payload;
	void *buf;

	state = malloc(slen);
	payload = malloc(MIB + 4);
	REQUIRE(state && payload);
	for (i = 0; i < slen; i++)
		state[i] = pattern(i, 0x5c);

	REQUIRE(snapchan_image_builder_begin(&b, &h) == 0);
	REQUIRE(snapchan_image_builder_add_node(b, "n", 1, state, slen) == 0);
	REQUIRE(snapchan_image_builder_add_chan(b, &c) == 0);
	for (k = 0; k < 3; k++) {
		for (i = 0; i < lens[k]; i++)
			payload[i] = pattern(i, (unsigned int)k);
		r.len = lens[k];
		r.payload = payload;
		REQUIRE(snapchan_image_builder_add_record(b, &r) == 0);
	}
	REQUIRE(snapchan_image_builder_finish(b, &buf, &len, &d) == 0);
	CHECK_EQ(len, 104 + 48 + slen + pad8(slen) + 144 +
		      3 * 32 + (MIB - 1 + 1) + MIB + (MIB + 3 + 5) + 16);

	REQUIRE(snapchan_image_from_buffer(buf, len, &img, &d) == 0);
	REQUIRE(snapchan_image_node(img, 0, &nv) == 0);
	CHECK_EQ(nv.state_len, slen);
	CHECK(!memcmp(nv.state, state, slen));
	for (k = 0; k < 3; k++) {
		const uint8_t *p;
		size_t bad = 0;

		REQUIRE(snapchan_image_record(img, 0, k, &rv) == 0);
		CHECK_EQ(rv.len, lens[k]);
		CHECK_EQ(rv.seq, 1 + k);
		p = rv.payload;
		for (i = 0; i < lens[k]; i++)
			bad += p[i] != pattern(i, (unsigned int)k);
		CHECK_EQ(bad, 0);
	}
	snapchan_image_close(img);
	free(buf);

	/* One byte above max_msg: the builder's finish refuses it. */
	r.len = MIB + 4;
	for (i = 0; i < 4; i++)
		payload[i] = 0;
	{
		uint8_t *p = malloc(MIB + 4);

		REQUIRE(p);
		memset(p, 1, MIB + 4);
		r.payload = p;
		REQUIRE(snapchan_image_builder_add_record(b, &r) == 0);
		free(p);
	}
	CHECK_EQ(snapchan_image_builder_finish(b, &buf, &len, &d), -EBADMSG);
	CHECK(strstr(d.msg, "max_msg") != NULL);
	snapchan_image_builder_free(b);
	free(state);
	free(payload);
	return test_done("image-large");
}
