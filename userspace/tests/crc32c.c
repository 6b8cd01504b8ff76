// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * CRC32C: the standard check value, the RFC 3720 (iSCSI) test vectors,
 * chaining, and agreement with a bitwise implementation at every length
 * and alignment up to 300 bytes.
 */
#include "test.h"

static uint32_t crc_bitwise(uint32_t crc, const uint8_t *p, size_t n)
{
	int k;

	crc = ~crc;
	while (n--) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82F63B78U & -(crc & 1));
	}
	return ~crc;
}

int main(void)
{
	uint8_t buf[32], big[320];
	size_t i, len, al;
	uint32_t x = 12345;

	CHECK_EQ(snapchan_crc32c(0, "123456789", 9), 0xE3069283U);
	CHECK_EQ(snapchan_crc32c(0, NULL, 0), 0);
	CHECK_EQ(snapchan_crc32c(0, "a", 1), 0xC1D04330U);

	/* RFC 3720, B.4 */
	memset(buf, 0, sizeof(buf));
	CHECK_EQ(snapchan_crc32c(0, buf, 32), 0x8A9136AAU);
	memset(buf, 0xff, sizeof(buf));
	CHECK_EQ(snapchan_crc32c(0, buf, 32), 0x62A8AB43U);
	for (i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	CHECK_EQ(snapchan_crc32c(0, buf, 32), 0x46DD794EU);
	for (i = 0; i < 32; i++)
		buf[i] = (uint8_t)(31 - i);
	CHECK_EQ(snapchan_crc32c(0, buf, 32), 0x113FDB5CU);

	/* Chaining. */
	CHECK_EQ(snapchan_crc32c(snapchan_crc32c(0, "1234", 4), "56789", 5),
		 0xE3069283U);

	for (i = 0; i < sizeof(big); i++) {
		x = x * 1103515245U + 12345U;
		big[i] = (uint8_t)(x >> 16);
	}
	for (al = 0; al < 8; al++)
		for (len = 0; len + al <= 300; len++)
			CHECK_EQ(snapchan_crc32c(0, big + al, len),
				 crc_bitwise(0, big + al, len));
	for (len = 0; len <= 300; len += 7)
		CHECK_EQ(snapchan_crc32c(snapchan_crc32c(0, big, len),
					 big + len, 300 - len),
			 crc_bitwise(0, big, 300));
	return test_done("crc32c");
}
