// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * snapchanctl on a builder-made image, without the module: "inspect
 * --json" prints one JSON object of the documented shape (parsed here
 * with a small strict JSON parser: every key, type and value of the
 * sample image), "--payload" adds states and payloads in hex, the text
 * table names the snapshot; "verify" accepts it; a corrupted copy is
 * refused with exit 3 by verify, inspect and restore, and a capture image
 * is refused by restore with exit 3 before the control device is opened
 * (there is none here: that would be exit 6).
 */
#include "test.h"

#include <ctype.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* --- a small JSON parser -------------------------------------------------- */

enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jv {
	int          type;
	char        *str;	/* J_STR */
	double       num;	/* J_NUM, J_BOOL */
	size_t       n;		/* J_ARR, J_OBJ */
	struct jv   *kids;
	char       **keys;	/* J_OBJ */
};

struct jp {
	const char *p;
	int         err;
};

static void ws(struct jp *j)
{
	while (isspace((unsigned char)*j->p))
		j->p++;
}

static int parse_value(struct jp *j, struct jv *v);

static char *parse_string(struct jp *j)
{
	size_t cap = 16, len = 0;
	char *s;

	if (*j->p != '"') {
		j->err = 1;
		return NULL;
	}
	j->p++;
	s = malloc(cap);
	REQUIRE(s);
	while (*j->p && *j->p != '"') {
		char c = *j->p++;

		if ((unsigned char)c < 0x20) {
			j->err = 1;
			break;
		}
		if (c == '\\') {
			c = *j->p++;
			switch (c) {
			case '"': case '\\': case '/': break;
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'u':
				if (!isxdigit((unsigned char)j->p[0]) ||
				    !isxdigit((unsigned char)j->p[1]) ||
				    !isxdigit((unsigned char)j->p[2]) ||
				    !isxdigit((unsigned char)j->p[3])) {
					j->err = 1;
					break;
				}
				c = '?';
				j->p += 4;
				break;
			default:
				j->err = 1;
			}
		}
		if (len + 2 > cap) {
			cap *= 2;
			s = realloc(s, cap);
			REQUIRE(s);
		}
		s[len++] = c;
	}
	s[len] = 0;
	if (*j->p != '"')
		j->err = 1;
	else
		j->p++;
	return s;
}

static int parse_value(struct jp *j, struct jv *v)
{
	memset(v, 0, sizeof(*v));
	ws(j);
	if (*j->p == '{' || *j->p == '[') {
		int obj = *j->p == '{';
		char close = obj ? '}' : ']';

		v->type = obj ? J_OBJ : J_ARR;
		j->p++;
		ws(j);
		if (*j->p == close) {
			j->p++;
			return 0;
		}
		for (;;) {
			char *key = NULL;

			ws(j);
			if (obj) {
				key = parse_string(j);
				ws(j);
				if (j->err || *j->p != ':') {
					free(key);
					j->err = 1;
					return -1;
				}
				j->p++;
			}
			v->kids = realloc(v->kids, (v->n + 1) * sizeof(*v->kids));
			REQUIRE(v->kids);
			if (obj) {
				v->keys = realloc(v->keys, (v->n + 1) * sizeof(*v->keys));
				REQUIRE(v->keys);
				v->keys[v->n] = key;
			}
			parse_value(j, &v->kids[v->n++]);
			if (j->err)
				return -1;
			ws(j);
			if (*j->p == ',') {
				j->p++;
				continue;
			}
			if (*j->p == close) {
				j->p++;
				return 0;
			}
			j->err = 1;
			return -1;
		}
	}
	if (*j->p == '"') {
		v->type = J_STR;
		v->str = parse_string(j);
		return j->err ? -1 : 0;
	}
	if (!strncmp(j->p, "true", 4) || !strncmp(j->p, "false", 5)) {
		v->type = J_BOOL;
		v->num = *j->p == 't';
		j->p += *j->p == 't' ? 4 : 5;
		return 0;
	}
	if (!strncmp(j->p, "null", 4)) {
		j->p += 4;
		return 0;
	}
	if (*j->p == '-' || isdigit((unsigned char)*j->p)) {
		char *end;

		v->type = J_NUM;
		v->num = strtod(j->p, &end);
		j->p = end;
		return 0;
	}
	j->err = 1;
	return -1;
}

static void jv_free(struct jv *v)
{
	size_t i;

	for (i = 0; i < v->n; i++) {
		jv_free(&v->kids[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->kids);
	free(v->keys);
	free(v->str);
}

static const struct jv *get(const struct jv *o, const char *key)
{
	size_t i;

	if (!o || o->type != J_OBJ)
		return NULL;
	for (i = 0; i < o->n; i++)
		if (!strcmp(o->keys[i], key))
			return &o->kids[i];
	return NULL;
}

static const struct jv *at(const struct jv *a, size_t i)
{
	return a && a->type == J_ARR && i < a->n ? &a->kids[i] : NULL;
}

static int is_num(const struct jv *o, const char *key, double want)
{
	const struct jv *v = get(o, key);

	return v && v->type == J_NUM && v->num == want;
}

static int is_str(const struct jv *o, const char *key, const char *want)
{
	const struct jv *v = get(o, key);

	return v && v->type == J_STR && !strcmp(v->str, want);
}

/* Exactly these keys, in this order. */
static int keys_are(const struct jv *o, const char *const *keys)
{
	size_t i;

	if (!o || o->type != J_OBJ)
		return 0;
	for (i = 0; keys[i]; i++)
		if (i >= o->n || strcmp(o->keys[i], keys[i]))
			return 0;
	return i == o->n;
}

/* --- running the CLI -------------------------------------------------------- */

static char out[65536];
static const char *wrapper = "";	/* valgrind, for the CLI's own leaks */

/* Run "snapchanctl ARGS" with stdout in @out; its exit status. */
static int run(const char *args)
{
	char cmd[1024];
	size_t n = 0, r;
	FILE *f;
	int st;

	snprintf(cmd, sizeof(cmd),
		 "SNAPCHAN_DEV_DIR=tests/tmp/no-such-dir %s./cli/snapchanctl %s 2>/dev/null",
		 wrapper, args);
	f = popen(cmd, "r");
	REQUIRE(f);
	while ((r = fread(out + n, 1, sizeof(out) - 1 - n, f)) > 0)
		n += r;
	out[n] = 0;
	st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void write_file(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	REQUIRE(f && fwrite(buf, 1, len, f) == len);
	fclose(f);
}

int main(void)
{
	static const char *const top[] = {
		"kind", "version", "snap_id", "group", "epoch", "begin_ns",
		"end_ns", "total_len", "crc32c", "node_count", "chan_count",
		"record_count", "nodes", "channels", NULL };
	static const char *const node_keys[] = { "id", "name", "state_len", NULL };
	static const char *const node_keys_p[] = { "id", "name", "state_len",
						   "state", NULL };
	static const char *const chan_keys[] = {
		"id", "name", "group", "capacity_bytes", "capacity_msgs",
		"max_msg", "flags", "mode", "sender_node", "receiver_node",
		"first_seq", "next_seq", "record_count", "record_bytes",
		"records", NULL };
	static const char *const data_keys[] = { "type", "seq", "len", NULL };
	static const char *const data_keys_p[] = { "type", "seq", "len",
						   "payload", NULL };
	static const char *const marker_keys[] = { "type", "snap_id", "origin",
						   NULL };
	char dir[64], img[128], badimg[128], capimg[128], args[512];
	const struct jv *nodes, *chans, *c0, *recs;
	struct jv root;
	struct jp jp;
	uint8_t *image, *bad;
	size_t len, i;

	mkdir("tests/tmp", 0700);
	snprintf(dir, sizeof(dir), "tests/tmp/cli-inspect-XXXXXX");
	REQUIRE(mkdtemp(dir));
	snprintf(img, sizeof(img), "%s/sample.snap", dir);
	snprintf(badimg, sizeof(badimg), "%s/bad.snap", dir);
	snprintf(capimg, sizeof(capimg), "%s/capture.img", dir);
	build_sample(&image, &len);
	write_file(img, image, len);

	/* --json: the shape. */
	snprintf(args, sizeof(args), "inspect --json %s", img);
	CHECK_EQ(run(args), 0);
	jp.p = out;
	jp.err = 0;
	parse_value(&jp, &root);
	ws(&jp);
	CHECK(!jp.err && !*jp.p);		/* one value, nothing after */
	CHECK(keys_are(&root, top));
	CHECK(is_str(&root, "kind", "snapshot"));
	CHECK(is_num(&root, "version", 1));
	CHECK(is_num(&root, "snap_id", 7));
	CHECK(is_str(&root, "group", "bank"));
	CHECK(is_num(&root, "epoch", 3));
	CHECK(is_num(&root, "begin_ns", 1000));
	CHECK(is_num(&root, "end_ns", 2000));
	CHECK(is_num(&root, "total_len", (double)len));
	CHECK(is_num(&root, "crc32c",
		     (double)GET(image, len - 16, snapchan_img_trailer, crc32c)));
	CHECK(is_num(&root, "node_count", 3));
	CHECK(is_num(&root, "chan_count", 3));
	CHECK(is_num(&root, "record_count", 6));
	nodes = get(&root, "nodes");
	CHECK(nodes && nodes->type == J_ARR && nodes->n == 3);
	for (i = 0; nodes && i < nodes->n; i++)
		CHECK(keys_are(at(nodes, i), node_keys));
	CHECK(is_num(at(nodes, 0), "id", 1));
	CHECK(is_str(at(nodes, 0), "name", "alice"));
	CHECK(is_num(at(nodes, 0), "state_len", 11));
	CHECK(is_str(at(nodes, 2), "name", "carol"));
	CHECK(is_num(at(nodes, 2), "state_len", 0));
	chans = get(&root, "channels");
	CHECK(chans && chans->type == J_ARR && chans->n == 3);
	for (i = 0; chans && i < chans->n; i++)
		CHECK(keys_are(at(chans, i), chan_keys));
	c0 = at(chans, 0);
	CHECK(is_str(c0, "name", "a2b"));
	CHECK(is_str(c0, "group", "bank"));
	CHECK(is_num(c0, "id", 10));
	CHECK(is_num(c0, "capacity_bytes", 4096));
	CHECK(is_num(c0, "capacity_msgs", 64));
	CHECK(is_num(c0, "max_msg", 64));
	CHECK(is_num(c0, "flags", 0));
	CHECK(is_str(c0, "mode", "0600"));
	CHECK(is_num(c0, "sender_node", 1));
	CHECK(is_num(c0, "receiver_node", 2));
	CHECK(is_num(c0, "first_seq", 5));
	CHECK(is_num(c0, "next_seq", 8));
	CHECK(is_num(c0, "record_count", 4));
	CHECK(is_num(c0, "record_bytes", 8));
	recs = get(c0, "records");
	CHECK(recs && recs->type == J_ARR && recs->n == 4);
	CHECK(keys_are(at(recs, 0), data_keys));
	CHECK(is_str(at(recs, 0), "type", "data"));
	CHECK(is_num(at(recs, 0), "seq", 5));
	CHECK(is_num(at(recs, 0), "len", 5));
	CHECK(keys_are(at(recs, 1), marker_keys));
	CHECK(is_str(at(recs, 1), "type", "marker"));
	CHECK(is_num(at(recs, 1), "snap_id", 6));
	CHECK(is_num(at(recs, 1), "origin", 3));
	CHECK(is_num(at(recs, 2), "seq", 6));
	CHECK(is_num(at(recs, 3), "seq", 7));
	CHECK(is_num(at(recs, 3), "len", 0));
	recs = get(at(chans, 1), "records");
	CHECK(recs && recs->type == J_ARR && recs->n == 0);
	CHECK(is_num(at(chans, 1), "first_seq", 1));
	CHECK(is_num(at(chans, 1), "next_seq", 1));
	jv_free(&root);

	/* --payload: states and payloads in hex. */
	snprintf(args, sizeof(args), "inspect --json --payload %s", img);
	CHECK_EQ(run(args), 0);
	jp.p = out;
	jp.err = 0;
	parse_value(&jp, &root);
	CHECK(!jp.err);
	nodes = get(&root, "nodes");
	CHECK(keys_are(at(nodes, 0), node_keys_p));
	CHECK(is_str(at(nodes, 0), "state", "62616c616e63653d313030"));
	CHECK(is_str(at(nodes, 2), "state", ""));
	recs = get(at(get(&root, "channels"), 0), "records");
	CHECK(keys_are(at(recs, 0), data_keys_p));
	CHECK(is_str(at(recs, 0), "payload", "68656c6c6f"));
	CHECK(keys_are(at(recs, 1), marker_keys));
	jv_free(&root);

	/* Text. */
	snprintf(args, sizeof(args), "inspect --records %s", img);
	CHECK_EQ(run(args), 0);
	CHECK(strstr(out, "snapshot 7 of group \"bank\"") != NULL);
	CHECK(strstr(out, "\"hello\"") != NULL);
	CHECK(strstr(out, "marker of snapshot 6 from node 3") != NULL);
	CHECK(strstr(out, "alice") != NULL);

	/* verify: fine; a corrupted copy: 3 everywhere. */
	snprintf(args, sizeof(args), "verify %s", img);
	CHECK_EQ(run(args), 0);
	CHECK(strstr(out, ": OK: snapshot 7 of group \"bank\", 3 nodes, 3 channels, 6 records") != NULL);
	bad = dup_image(image, len, 0);
	bad[len - 30] ^= 0x40;
	write_file(badimg, bad, len);
	snprintf(args, sizeof(args), "verify %s %s", img, badimg);
	CHECK_EQ(run(args), 3);
	CHECK(strstr(out, "bad.snap: INVALID") != NULL);
	CHECK(strstr(out, "EBADMSG") != NULL);
	snprintf(args, sizeof(args), "inspect --json %s", badimg);
	CHECK_EQ(run(args), 3);
	CHECK_EQ(out[0], 0);
	snprintf(args, sizeof(args), "restore %s", badimg);
	CHECK_EQ(run(args), 3);

	/* A capture image: restore refuses it before needing the module. */
	{
		struct snapchan_image_header_view h = {
			.kind = SNAPCHAN_IMG_KIND_CAPTURE, .group = "bank" };
		struct snapchan_image_chan_view cv = {
			.id = 1, .name = "one", .capacity_bytes = 64,
			.capacity_msgs = 4, .max_msg = 8, .mode = 0600 };
		struct snapchan_image_builder *b;
		void *cbuf;
		size_t clen;

		REQUIRE(snapchan_image_builder_begin(&b, &h) == 0);
		REQUIRE(snapchan_image_builder_add_chan(b, &cv) == 0);
		REQUIRE(snapchan_image_builder_finish(b, &cbuf, &clen, NULL) == 0);
		snapchan_image_builder_free(b);
		write_file(capimg, cbuf, clen);
		free(cbuf);
	}
	snprintf(args, sizeof(args), "restore %s", capimg);
	CHECK_EQ(run(args), 3);
	snprintf(args, sizeof(args), "restore %s", img);	/* valid: needs it */
	CHECK_EQ(run(args), 6);
	snprintf(args, sizeof(args), "inspect --json %s", capimg);
	CHECK_EQ(run(args), 0);
	CHECK(strstr(out, "\"kind\": \"capture\"") != NULL);

	/* The CLI itself under valgrind (errors and leaks give 99). */
	if (!system("valgrind --version >/dev/null 2>&1")) {
		wrapper = "valgrind -q --error-exitcode=99 --leak-check=full ";
		snprintf(args, sizeof(args), "inspect --json --payload %s", img);
		CHECK_EQ(run(args), 0);
		snprintf(args, sizeof(args), "inspect -p %s", img);
		CHECK_EQ(run(args), 0);
		snprintf(args, sizeof(args), "verify %s %s", img, badimg);
		CHECK_EQ(run(args), 3);
		snprintf(args, sizeof(args), "restore %s", capimg);
		CHECK_EQ(run(args), 3);
		snprintf(args, sizeof(args), "restore %s", img);
		CHECK_EQ(run(args), 6);
		wrapper = "";
	}

	free(bad);
	free(image);
	unlink(img);
	unlink(badimg);
	unlink(capimg);
	rmdir(dir);
	return test_done("cli-inspect");
}
