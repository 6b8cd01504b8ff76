// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Name validation: 1..31 characters of [A-Za-z0-9._-], never "." or "..";
 * channel names are not "control"; "" only with SNAPCHAN_NAME_F_EMPTY_OK.
 */
#include "test.h"

#define CH SNAPCHAN_NAME_F_CHANNEL
#define EMPTY SNAPCHAN_NAME_F_EMPTY_OK

int main(void)
{
	char name[64];
	int c;

	CHECK_EQ(snapchan_name_valid("a", 0), 1);
	CHECK_EQ(snapchan_name_valid("a", CH), 1);
	CHECK_EQ(snapchan_name_valid("Bank-01_x.y", CH), 1);
	CHECK_EQ(snapchan_name_valid("0123456789012345678901234567890", CH), 1);
	CHECK_EQ(snapchan_name_valid("01234567890123456789012345678901", CH), 0);
	CHECK_EQ(snapchan_name_valid("01234567890123456789012345678901", 0), 0);
	CHECK_EQ(snapchan_name_valid("", 0), 0);
	CHECK_EQ(snapchan_name_valid("", CH), 0);
	CHECK_EQ(snapchan_name_valid("", EMPTY), 1);
	CHECK_EQ(snapchan_name_valid("", CH | EMPTY), 1);
	CHECK_EQ(snapchan_name_valid(NULL, 0), 0);
	CHECK_EQ(snapchan_name_valid(NULL, EMPTY), 0);

	/* "control" is reserved for channels only. */
	CHECK_EQ(snapchan_name_valid("control", CH), 0);
	CHECK_EQ(snapchan_name_valid("control", 0), 1);
	/* "." and ".." never (as the kernel). */
	CHECK_EQ(snapchan_name_valid(".", CH), 0);
	CHECK_EQ(snapchan_name_valid("..", CH), 0);
	CHECK_EQ(snapchan_name_valid(".", 0), 0);
	CHECK_EQ(snapchan_name_valid("..", EMPTY), 0);
	CHECK_EQ(snapchan_name_valid("...", CH), 1);
	CHECK_EQ(snapchan_name_valid(".hidden", CH), 1);
	CHECK_EQ(snapchan_name_valid("control2", CH), 1);
	CHECK_EQ(snapchan_name_valid("Control", CH), 1);

	/* Every byte value, in the middle of a name. */
	for (c = 1; c < 256; c++) {
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			 (c >= '0' && c <= '9') || c == '.' || c == '_' ||
			 c == '-';

		snprintf(name, sizeof(name), "ab%cd", c);
		CHECK_EQ(snapchan_name_valid(name, CH), ok);
		CHECK_EQ(snapchan_name_valid(name, 0), ok);
	}
	CHECK_EQ(snapchan_name_valid("a/b", CH), 0);
	CHECK_EQ(snapchan_name_valid("a b", 0), 0);
	CHECK_EQ(snapchan_name_valid("é", 0), 0);

	/* Unknown flags make every name invalid. */
	CHECK_EQ(snapchan_name_valid("a", 1U << 7), 0);

	/* No more than SNAPCHAN_NAME_LEN bytes are read: not NUL-terminated. */
	{
		char *p = malloc(SNAPCHAN_NAME_LEN);

		REQUIRE(p);
		memset(p, 'x', SNAPCHAN_NAME_LEN);
		CHECK_EQ(snapchan_name_valid(p, 0), 0);
		free(p);
	}
	return test_done("name-valid");
}
