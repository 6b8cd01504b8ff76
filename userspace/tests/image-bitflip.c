// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Every single-bit flip anywhere in an image is refused: -ENOEXEC in the
 * magic, -EPROTONOSUPPORT in the version, -EBADMSG everywhere else (the
 * CRC catches what the structure checks do not); never accepted, never a
 * crash.
 */
#include "test.h"

int main(void)
{
	struct snapchan_image_diag d;
	uint8_t *buf, *copy;
	size_t len, i;
	int bit, ret;
	unsigned int seen_crc = 0, seen_other = 0;

	build_sample(&buf, &len);
	copy = dup_image(buf, len, 0);
	for (i = 0; i < len; i++) {
		for (bit = 0; bit < 8; bit++) {
			int want = i < 4 ? -ENOEXEC :
				   i < 6 ? -EPROTONOSUPPORT : -EBADMSG;

			copy[i] ^= (uint8_t)(1u << bit);
			ret = snapchan_image_verify_buffer(copy, len, &d);
			if (ret != want || d.error != want) {
				fprintf(stderr, "flip byte %zu bit %d: %d (%s)\n",
					i, bit, ret, d.msg);
				test_failures++;
			}
			test_checks++;
			if (strstr(d.msg, "CRC32C"))
				seen_crc++;
			else
				seen_other++;
			copy[i] ^= (uint8_t)(1u << bit);
		}
	}
	CHECK(!memcmp(copy, buf, len));
	CHECK_EQ(snapchan_image_verify_buffer(copy, len, NULL), 0);
	/* Most flips are caught by the CRC; header fields before it. */
	CHECK(seen_crc > len * 4);
	CHECK(seen_other > 0);
	printf("%u flips caught by the CRC, %u by an earlier check\n",
	       seen_crc, seen_other);
	free(copy);
	free(buf);
	return test_done("image-bitflip");
}
