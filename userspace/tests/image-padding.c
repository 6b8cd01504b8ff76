// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Padding must be zero: a non-zero byte in any padding byte after a node
 * state or a record payload is -EBADMSG, reported at that byte, even with
 * a correct CRC.
 */
#include "test.h"

int main(void)
{
	struct layout l;
	uint8_t *buf, *c;
	size_t len, i, j, k, n = 0;

	build_sample(&buf, &len);
	layout_of(buf, len, &l);

	for (i = 0; i < l.nodes; i++) {
		uint64_t s = GET(buf, l.node[i], snapchan_img_node, state_len);
		size_t at = l.node[i] + sizeof(struct snapchan_img_node) + s;

		for (k = 0; k < pad8(s); k++, n++) {
			c = dup_image(buf, len, 0);
			c[at + k] = 0x01;
			fix_crc(c, len);
			EXPECT_REFUSED_AT(c, len, -EBADMSG, "padding", at + k);
			free(c);
		}
	}
	for (i = 0; i < l.chans; i++) {
		for (j = 0; j < l.nrec[i]; j++) {
			uint64_t s = GET(buf, l.rec[i][j], snapchan_img_record, len);
			size_t at = l.rec[i][j] + sizeof(struct snapchan_img_record) + s;

			for (k = 0; k < pad8(s); k++, n++) {
				c = dup_image(buf, len, 0);
				c[at + k] = 0x80;
				fix_crc(c, len);
				EXPECT_REFUSED_AT(c, len, -EBADMSG, "padding",
						  at + k);
				free(c);
			}
		}
	}
	/* The sample has padding after states and payloads. */
	CHECK(n >= 15);
	printf("%zu padding bytes checked\n", n);
	free(buf);
	return test_done("image-padding");
}
