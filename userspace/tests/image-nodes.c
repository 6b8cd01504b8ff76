// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Builder -> reader round trip of an image with nodes only: states of every
 * length from 0 to 24 (each padding), ids, names, lookup by name, and the
 * layout: node sections 8-aligned, padding zero, trailer at the end.
 */
#include "test.h"

#define N 25

int main(void)
{
	struct snapchan_image_header_view h = {
		.kind = SNAPCHAN_IMG_KIND_SNAPSHOT, .snap_id = 1, .group = "g",
	};
	struct snapchan_image_node_view nv;
	struct snapchan_image_builder *b;
	struct snapchan_image *img;
	uint8_t state[N];
	char name[SNAPCHAN_NAME_LEN];
	size_t len, i, expect = 120;
	void *buf;

	for (i = 0; i < N; i++)
		state[i] = (uint8_t)(0xf0 + i);
	REQUIRE(snapchan_image_builder_begin(&b, &h) == 0);
	for (i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "node-%zu", i);
		REQUIRE(snapchan_image_builder_add_node(b, name, 1000 + i,
							i ? state : NULL, i) == 0);
		expect += 48 + i + pad8(i);
	}
	/* A 31-character name is the longest. */
	REQUIRE(snapchan_image_builder_add_node(b, "abcdefghijklmnopqrstuvwxyz01234",
						7, "s", 1) == 0);
	expect += 48 + 8;
	REQUIRE(snapchan_image_builder_finish(b, &buf, &len, NULL) == 0);
	snapchan_image_builder_free(b);
	CHECK_EQ(len, expect);
	CHECK_EQ(len % 8, 0);

	REQUIRE(snapchan_image_from_buffer(buf, len, &img, NULL) == 0);
	CHECK_EQ(snapchan_image_node_count(img), N + 1);
	CHECK_EQ(snapchan_image_chan_count(img), 0);
	for (i = 0; i < N; i++) {
		const uint8_t *base = snapchan_image_data(img, NULL);

		REQUIRE(snapchan_image_node(img, i, &nv) == 0);
		snprintf(name, sizeof(name), "node-%zu", i);
		CHECK(!strcmp(nv.name, name));
		CHECK_EQ(nv.id, 1000 + i);
		CHECK_EQ(nv.state_len, i);
		if (i) {
			const uint8_t *s = nv.state;

			REQUIRE(nv.state);
			CHECK(!memcmp(nv.state, state, i));
			/* Section start 8-aligned; padding zero. */
			CHECK_EQ((s - base) % 8, 0);
			for (size_t k = i; k < i + pad8(i); k++)
				CHECK_EQ(s[k], 0);
		} else {
			CHECK(nv.state == NULL);
		}
		CHECK_EQ(snapchan_image_node_by_name(img, name, &nv), (int)i);
		CHECK_EQ(nv.id, 1000 + i);
	}
	REQUIRE(snapchan_image_node(img, N, &nv) == 0);
	CHECK(!strcmp(nv.name, "abcdefghijklmnopqrstuvwxyz01234"));
	CHECK_EQ(snapchan_image_node(img, N + 1, &nv), -ERANGE);
	CHECK_EQ(snapchan_image_node(img, (size_t)-1, &nv), -ERANGE);
	CHECK_EQ(snapchan_image_node_by_name(img, "node-99", &nv), -ENOENT);
	CHECK_EQ(snapchan_image_node_by_name(img, "node-1", NULL), 1);
	snapchan_image_close(img);
	free(buf);
	return test_done("image-nodes");
}
