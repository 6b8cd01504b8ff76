// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * CRC32C (Castagnoli): reflected polynomial 0x82F63B78, initial value ~0,
 * final xor ~0.  Slicing-by-8 over the tables of crc32c-table.h, with byte
 * loads so that the result does not depend on the host's byte order.
 */
#include <stddef.h>
#include <stdint.h>

#include "snapchan.h"
#include "crc32c-table.h"

uint32_t snapchan_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	crc = ~crc;
	while (len && ((uintptr_t)p & 7)) {
		crc = crc32c_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
		len--;
	}
	while (len >= 8) {
		uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 |
				     (uint32_t)p[2] << 16 |
				     (uint32_t)p[3] << 24);

		crc = crc32c_table[7][lo & 0xff] ^
		      crc32c_table[6][(lo >> 8) & 0xff] ^
		      crc32c_table[5][(lo >> 16) & 0xff] ^
		      crc32c_table[4][lo >> 24] ^
		      crc32c_table[3][p[4]] ^
		      crc32c_table[2][p[5]] ^
		      crc32c_table[1][p[6]] ^
		      crc32c_table[0][p[7]];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = crc32c_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}
