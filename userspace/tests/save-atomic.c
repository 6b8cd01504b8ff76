// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * snapchan_save_file() and snapchan_image_save() are atomic: this program
 * defines write(), fsync(), rename() and renameat2(), which the library's
 * calls bind to, to watch the order of the steps (write a temporary file
 * in the same directory, fsync it, rename it, fsync the directory), to
 * look at the files at the moment of the rename, and to make steps fail:
 * then the destination must be untouched and no temporary file left.
 */
#include "test.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static char dir[256];

/* What happened, in order: 'w' write, 'f' fsync of a file, 'd' fsync of
 * a directory, 'r' rename, 'n' renameat2. */
static char events[256];
static size_t nev;
static int fail_write_after = -1;	/* fail the write after this many */
static int writes;
static int write_chunk;			/* > 0: short writes of this size */
static int fail_fsync = 0;
static int fail_rename = 0;
static char seen_tmp[512];		/* rename's source */
static char tmp_content[64];		/* the temp file at rename time */
static char dst_content[64];		/* the destination at rename time */

static void ev(char c)
{
	if (nev + 1 < sizeof(events))
		events[nev++] = c;
	events[nev] = 0;
}

static void slurp(const char *path, char *out, size_t n)
{
	int fd = open(path, O_RDONLY);
	ssize_t r = 0;

	memset(out, 0, n);
	if (fd < 0) {
		strcpy(out, "<none>");
		return;
	}
	r = syscall(SYS_read, fd, out, n - 1);
	if (r < 0)
		strcpy(out, "<error>");
	close(fd);
}

ssize_t write(int fd, const void *buf, size_t len)
{
	if (fd <= 2)
		return syscall(SYS_write, fd, buf, len);
	ev('w');
	if (fail_write_after >= 0 && writes++ >= fail_write_after) {
		errno = ENOSPC;
		return -1;
	}
	if (write_chunk > 0 && len > (size_t)write_chunk)
		len = (size_t)write_chunk;
	return syscall(SYS_write, fd, buf, len);
}

int fsync(int fd)
{
	struct stat st;

	fstat(fd, &st);
	ev(S_ISDIR(st.st_mode) ? 'd' : 'f');
	if (fail_fsync && !S_ISDIR(st.st_mode)) {
		errno = EIO;
		return -1;
	}
	return (int)syscall(SYS_fsync, fd);
}

static int do_rename(const char *from, const char *to, unsigned int flags)
{
	snprintf(seen_tmp, sizeof(seen_tmp), "%s", from);
	slurp(from, tmp_content, sizeof(tmp_content));
	slurp(to, dst_content, sizeof(dst_content));
	if (fail_rename) {
		errno = EXDEV;
		return -1;
	}
	return (int)syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, flags);
}

int rename(const char *from, const char *to)
{
	ev('r');
	return do_rename(from, to, 0);
}

int renameat2(int ofd, const char *from, int nfd, const char *to,
	      unsigned int flags)
{
	(void)ofd;
	(void)nfd;
	ev('n');
	return do_rename(from, to, flags);
}

static void reset(void)
{
	nev = 0;
	events[0] = 0;
	writes = 0;
	fail_write_after = -1;
	write_chunk = 0;
	fail_fsync = 0;
	fail_rename = 0;
	seen_tmp[0] = 0;
}

/* Number of entries in dir besides . and .. */
static int entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	REQUIRE(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static int has(const char *path, const char *s)
{
	char buf[64];

	slurp(path, buf, sizeof(buf));
	return !strcmp(buf, s);
}

int main(void)
{
	char path[300], sub[300], buf[64];
	struct snapchan_image *img;
	struct stat st;
	uint8_t *image;
	size_t len;

	mkdir("tests/tmp", 0700);
	snprintf(dir, sizeof(dir), "tests/tmp/save-XXXXXX");
	REQUIRE(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/a.img", dir);

	/* The steps, in order, and the files at the moment of the rename. */
	reset();
	CHECK_EQ(snapchan_save_file(path, "new contents", 12, 0), 0);
	CHECK(!strcmp(events, "wfrd"));
	CHECK(!strncmp(seen_tmp, dir, strlen(dir)));	/* same directory */
	CHECK(strstr(seen_tmp, "/.a.img.tmp.") != NULL);
	CHECK(!strcmp(tmp_content, "new contents"));	/* whole, before */
	CHECK(!strcmp(dst_content, "<none>"));
	CHECK(has(path, "new contents"));
	CHECK_EQ(entries(), 1);
	CHECK_EQ(stat(path, &st), 0);
	CHECK_EQ(st.st_mode & 0777, 0600);

	/* Replacing: the old file is whole until the rename. */
	reset();
	write_chunk = 3;	/* short writes are completed */
	CHECK_EQ(snapchan_save_file(path, "second version", 14, 0), 0);
	CHECK(!strcmp(dst_content, "new contents"));
	CHECK(!strcmp(tmp_content, "second version"));
	CHECK(has(path, "second version"));
	CHECK(nev >= 5 && events[nev - 2] == 'r' && events[nev - 3] == 'f');
	CHECK_EQ(entries(), 1);

	/* A failed write: nothing renamed, old file intact, no temp left. */
	reset();
	fail_write_after = 1;
	write_chunk = 4;
	CHECK_EQ(snapchan_save_file(path, "third version!", 14, 0), -ENOSPC);
	CHECK(!strchr(events, 'r') && !strchr(events, 'n'));
	CHECK(has(path, "second version"));
	CHECK_EQ(entries(), 1);

	/* A failed fsync: the same. */
	reset();
	fail_fsync = 1;
	CHECK_EQ(snapchan_save_file(path, "third version!", 14, 0), -EIO);
	CHECK(!strcmp(events, "wf"));
	CHECK(has(path, "second version"));
	CHECK_EQ(entries(), 1);

	/* A failed rename: the temporary file goes. */
	reset();
	fail_rename = 1;
	CHECK_EQ(snapchan_save_file(path, "third version!", 14, 0), -EXDEV);
	CHECK(has(path, "second version"));
	CHECK_EQ(entries(), 1);

	/* Onto a directory: refused by rename, nothing left behind. */
	reset();
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	REQUIRE(mkdir(sub, 0700) == 0);
	CHECK_EQ(snapchan_save_file(sub, "x", 1, 0), -EISDIR);
	CHECK_EQ(entries(), 2);
	rmdir(sub);

	/* NOREPLACE: an existing file is refused and kept. */
	reset();
	CHECK_EQ(snapchan_save_file(path, "other", 5, SNAPCHAN_SAVE_F_NOREPLACE),
		 -EEXIST);
	CHECK(has(path, "second version"));
	CHECK_EQ(entries(), 1);
	snprintf(sub, sizeof(sub), "%s/b.img", dir);
	CHECK_EQ(snapchan_save_file(sub, "bee", 3, SNAPCHAN_SAVE_F_NOREPLACE), 0);
	CHECK(has(sub, "bee"));
	CHECK(strchr(events, 'n') != NULL);
	unlink(sub);

	/* Refusals before anything is written. */
	reset();
	snprintf(sub, sizeof(sub), "%s/nodir/c.img", dir);
	CHECK_EQ(snapchan_save_file(sub, "x", 1, 0), -ENOENT);
	snprintf(sub, sizeof(sub), "%s/", dir);
	CHECK_EQ(snapchan_save_file(sub, "x", 1, 0), -EISDIR);
	CHECK_EQ(snapchan_save_file(path, "x", 1, 0x80), -EINVAL);
	CHECK_EQ(snapchan_save_file("", "x", 1, 0), -EINVAL);
	CHECK_EQ(snapchan_save_file(path, NULL, 1, 0), -EINVAL);
	CHECK(!strcmp(events, ""));
	CHECK_EQ(entries(), 1);

	/* An empty file is fine. */
	reset();
	CHECK_EQ(snapchan_save_file(path, NULL, 0, 0), 0);
	slurp(path, buf, sizeof(buf));
	CHECK_EQ(buf[0], 0);

	/* Images: saved whole; a corrupted one is never written. */
	build_sample(&image, &len);
	REQUIRE(snapchan_image_from_buffer(image, len, &img, NULL) == 0);
	reset();
	CHECK_EQ(snapchan_image_save(img, path, 0), 0);
	{
		struct snapchan_image *back;

		CHECK_EQ(snapchan_image_open_file(path, &back, NULL), 0);
		if (back) {
			size_t blen;
			const void *b = snapchan_image_data(back, &blen);

			CHECK_EQ(blen, len);
			CHECK(!memcmp(b, image, len));
			snapchan_image_close(back);
		}
	}
	/* Flip a payload byte inside the open image: verification fails. */
	((uint8_t *)snapchan_image_data(img, NULL))[len - 40] ^= 1;
	reset();
	CHECK_EQ(snapchan_image_save(img, sub, 0), -EBADMSG);
	CHECK(!strcmp(events, ""));
	snapchan_image_close(img);
	free(image);

	unlink(path);
	CHECK_EQ(entries(), 0);
	rmdir(dir);
	return test_done("save-atomic");
}
