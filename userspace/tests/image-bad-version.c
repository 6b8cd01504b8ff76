// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * An image of another format version is -EPROTONOSUPPORT (pointing at the
 * version field), whatever else it holds, CRC correct or not.
 */
#include "test.h"

int main(void)
{
	static const uint16_t versions[] = { 0, 2, 3, 0x100, 0xffff };
	uint8_t *buf, *c;
	size_t len, i;

	build_sample(&buf, &len);
	for (i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		c = dup_image(buf, len, 0);
		SET(c, 0, snapchan_img_header, version, versions[i]);
		fix_crc(c, len);
		EXPECT_REFUSED_AT(c, len, -EPROTONOSUPPORT, "version",
				  offsetof(struct snapchan_img_header, version));
		/* Checked before the rest: even a truncated one. */
		EXPECT_REFUSED_AT(c, 6, -EPROTONOSUPPORT, "version", 4);
		EXPECT_REFUSED_AT(c, 64, -EPROTONOSUPPORT, "version", 4);
		free(c);
	}
	free(buf);
	return test_done("image-bad-version");
}
