// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * snapchanctl: command-line control of snapchan channels, snapshots and
 * images.  One function per command; each parses its own options, prints
 * what it did or why it failed (with the errno's name and a hint), and
 * returns one of the exit codes in cli.h.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#ifndef SNAPCHANCTL_VERSION
#define SNAPCHANCTL_VERSION "1.1.0"
#endif

#define MAX_STDIN_MSG	(16u << 20)

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *synopsis;
	const char *summary;
	const char *help;	/* the options */
	const char *notes;	/* after them */
};

static const struct cmd *find_cmd(const char *name);
static void cmd_usage(const struct cmd *c, FILE *f);

/* Parse the standard "-h/--help" and unknown options the same everywhere. */
#define HELP_OPT { "help", no_argument, NULL, 'h' }

static int help_or_usage(const char *name, int c)
{
	const struct cmd *cmd = find_cmd(name);

	if (c == 'h') {
		cmd_usage(cmd, stdout);
		return EXIT_OK;
	}
	/* getopt printed what was wrong. */
	fprintf(stderr, "Try '%s %s --help' for more information.\n", prog,
		name);
	return EXIT_USAGE;
}

static int check_chan_name(const char *cmd, const char *name)
{
	if (snapchan_name_valid(name, SNAPCHAN_NAME_F_CHANNEL))
		return 0;
	return usage_error(cmd, "invalid channel name '%s': 1..31 characters of [A-Za-z0-9._-], not '.', '..' or 'control'",
			   name);
}

static int check_group_name(const char *cmd, const char *name)
{
	if (snapchan_name_valid(name, 0))
		return 0;
	return usage_error(cmd, "invalid group name '%s': 1..31 characters of [A-Za-z0-9._-], not '.' or '..'",
			   name);
}

/*
 * Open an end of channel @name, or report why not; a missing channel is
 * told apart from a missing module.  The fd, or -(exit code).
 */
static int open_end(const char *cmd, const char *name, int oflags,
		    enum obj obj)
{
	int fd = snapchan_chan_open(name, oflags), ctl;

	if (fd >= 0)
		return fd;
	if (fd == -ENOENT) {
		ctl = snapchan_open_control();
		if (ctl < 0)
			return -report(ctl, OBJ_CONTROL, "%s: cannot open the control device", cmd);
		close(ctl);
	}
	return -report(fd, obj, "%s: open %s", cmd, name);
}

/* --- create -------------------------------------------------------------- */

static int cmd_create(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "group", required_argument, NULL, 'g' },
		{ "capacity-bytes", required_argument, NULL, 'b' },
		{ "capacity-msgs", required_argument, NULL, 'm' },
		{ "max-msg", required_argument, NULL, 'M' },
		{ "mode", required_argument, NULL, 'o' },
		{ "first-seq", required_argument, NULL, 's' },
		{ "eof", no_argument, NULL, 'e' },
		{ "abort-snapshots", no_argument, NULL, 'A' },
		HELP_OPT, { NULL, 0, NULL, 0 },
	};
	struct snapchan_chan_create cc;
	uint64_t v;
	int c, ctl, ret;

	memset(&cc, 0, sizeof(cc));
	while ((c = getopt_long(argc, argv, "g:b:m:M:o:s:eAh", lo, NULL)) != -1) {
		switch (c) {
		case 'g':
			if (check_group_name("create", optarg))
				return EXIT_USAGE;
			strcpy(cc.group, optarg);
			break;
		case 'b':
			if (parse_size(optarg, &v) || !v)
				return usage_error("create", "invalid capacity '%s'", optarg);
			cc.capacity_bytes = v;
			break;
		case 'm':
			if (parse_u64(optarg, &v) || !v || v > UINT32_MAX)
				return usage_error("create", "invalid message capacity '%s'", optarg);
			cc.capacity_msgs = (uint32_t)v;
			break;
		case 'M':
			if (parse_size(optarg, &v) || !v || v > UINT32_MAX)
				return usage_error("create", "invalid max message size '%s'", optarg);
			cc.max_msg = (uint32_t)v;
			break;
		case 'o':
			if (parse_mode(optarg, &cc.mode))
				return usage_error("create", "invalid mode '%s': octal, within 0666", optarg);
			break;
		case 's':
			if (parse_u64(optarg, &v) || !v)
				return usage_error("create", "invalid first sequence number '%s'", optarg);
			cc.first_seq = v;
			break;
		case 'e':
			cc.flags |= SNAPCHAN_CHAN_F_EOF;
			break;
		case 'A':
			cc.flags |= SNAPCHAN_TOPO_F_ABORT;
			break;
		default:
			return help_or_usage("create", c);
		}
	}
	if (argc - optind != 1)
		return usage_error("create", "expected one channel name");
	if (check_chan_name("create", argv[optind]))
		return EXIT_USAGE;
	strcpy(cc.name, argv[optind]);
	ret = open_control(&ctl);
	if (ret)
		return ret;
	ret = snapchan_chan_create(ctl, &cc);
	close(ctl);
	if (ret)
		return report(ret, OBJ_CHANNEL, "create %s", cc.name);
	return EXIT_OK;
}

/* --- destroy ------------------------------------------------------------- */

static int cmd_destroy(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "abort-snapshots", no_argument, NULL, 'A' },
		HELP_OPT, { NULL, 0, NULL, 0 },
	};
	unsigned int flags = 0;
	int c, ctl, ret, rc = EXIT_OK, i;

	while ((c = getopt_long(argc, argv, "Ah", lo, NULL)) != -1) {
		if (c == 'A')
			flags |= SNAPCHAN_TOPO_F_ABORT;
		else
			return help_or_usage("destroy", c);
	}
	if (optind == argc)
		return usage_error("destroy", "expected one or more channel names");
	for (i = optind; i < argc; i++)
		if (check_chan_name("destroy", argv[i]))
			return EXIT_USAGE;
	ret = open_control(&ctl);
	if (ret)
		return ret;
	for (i = optind; i < argc; i++) {
		ret = snapchan_chan_destroy(ctl, argv[i], flags);
		if (ret) {
			ret = report(ret, OBJ_CHANNEL, "destroy %s", argv[i]);
			if (rc == EXIT_OK)
				rc = ret;
		}
	}
	close(ctl);
	return rc;
}

/* --- list and info --------------------------------------------------------- */

static void info_json(struct json *j, const struct snapchan_chan_info *in)
{
	char mode[8];

	snprintf(mode, sizeof(mode), "%04o", in->mode & 07777);
	json_obj_begin(j, NULL);
	json_str(j, "name", in->name);
	json_str(j, "group", in->group);
	json_u64(j, "id", in->chan_id);
	json_u64(j, "capacity_bytes", in->capacity_bytes);
	json_u64(j, "capacity_msgs", in->capacity_msgs);
	json_u64(j, "max_msg", in->max_msg);
	json_u64(j, "flags", in->flags);
	json_bool(j, "eof", !!(in->flags & SNAPCHAN_CHAN_F_EOF));
	json_str(j, "mode", mode);
	json_u64(j, "uid", in->uid);
	json_u64(j, "gid", in->gid);
	json_u64(j, "depth_msgs", in->depth_msgs);
	json_u64(j, "depth_bytes", in->depth_bytes);
	json_u64(j, "markers_queued", in->markers_queued);
	json_u64(j, "total_sent", in->total_sent);
	json_u64(j, "total_received", in->total_received);
	json_u64(j, "first_seq", in->first_seq);
	json_u64(j, "next_seq", in->next_seq);
	json_u64(j, "readers", in->readers);
	json_u64(j, "writers", in->writers);
	json_u64(j, "sender_node", in->sender_node);
	json_u64(j, "receiver_node", in->receiver_node);
	json_obj_end(j);
}

static int cmd_list(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "group", required_argument, NULL, 'g' },
		HELP_OPT, { NULL, 0, NULL, 0 },
	};
	char (*names)[SNAPCHAN_NAME_LEN] = NULL;
	const char *group = NULL;
	size_t count = 0, i;
	int c, ctl, ret, json = 0;
	struct json j;

	while ((c = getopt_long(argc, argv, "jg:h", lo, NULL)) != -1) {
		if (c == 'j')
			json = 1;
		else if (c == 'g')
			group = optarg;
		else
			return help_or_usage("list", c);
	}
	if (optind != argc)
		return usage_error("list", "unexpected argument '%s'", argv[optind]);
	ret = open_control(&ctl);
	if (ret)
		return ret;
	ret = snapchan_chan_list(ctl, &names, &count);
	if (ret) {
		close(ctl);
		return report(ret, OBJ_CONTROL, "list channels");
	}
	if (json) {
		json_init(&j, stdout);
		json_arr_begin(&j, NULL);
	} else {
		printf("%-24s %-16s %8s %10s %8s %10s %8s %10s %6s %6s\n",
		       "NAME", "GROUP", "MSGS", "BYTES", "CAP_MSGS",
		       "CAP_BYTES", "MAX_MSG", "NEXT_SEQ", "SENDER", "RECVR");
	}
	for (i = 0; i < count; i++) {
		struct snapchan_chan_info in;

		ret = snapchan_chan_info(ctl, names[i], &in);
		if (ret == -ENOENT)
			continue;	/* destroyed meanwhile */
		if (ret) {
			free(names);
			close(ctl);
			return report(ret, OBJ_CHANNEL, "info %s", names[i]);
		}
		if (group && strcmp(group, in.group))
			continue;
		if (json) {
			info_json(&j, &in);
			continue;
		}
		printf("%-24s %-16s %8" PRIu64 " %10" PRIu64 " %8u %10" PRIu64 " %8u %10" PRIu64 " %6" PRIu64 " %6" PRIu64 "\n",
		       in.name, in.group[0] ? in.group : "-",
		       (uint64_t)in.depth_msgs, (uint64_t)in.depth_bytes,
		       in.capacity_msgs, (uint64_t)in.capacity_bytes,
		       in.max_msg, (uint64_t)in.next_seq,
		       (uint64_t)in.sender_node, (uint64_t)in.receiver_node);
	}
	if (json) {
		json_arr_end(&j);
		json_end(&j);
	}
	free(names);
	close(ctl);
	return EXIT_OK;
}

static int cmd_info(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		HELP_OPT, { NULL, 0, NULL, 0 },
	};
	struct snapchan_chan_info in;
	int c, ctl, ret, json = 0;

	while ((c = getopt_long(argc, argv, "jh", lo, NULL)) != -1) {
		if (c == 'j')
			json = 1;
		else
			return help_or_usage("info", c);
	}
	if (argc - optind != 1)
		return usage_error("info", "expected one channel name");
	if (check_chan_name("info", argv[optind]))
		return EXIT_USAGE;
	ret = open_control(&ctl);
	if (ret)
		return ret;
	ret = snapchan_chan_info(ctl, argv[optind], &in);
	close(ctl);
	if (ret)
		return report(ret, OBJ_CHANNEL, "info %s", argv[optind]);
	if (json) {
		struct json j;

		json_init(&j, stdout);
		info_json(&j, &in);
		json_end(&j);
		return EXIT_OK;
	}
	printf("name:       %s\n", in.name);
	printf("group:      %s\n", in.group[0] ? in.group : "- (standalone)");
	printf("id:         %" PRIu64 "\n", (uint64_t)in.chan_id);
	printf("capacity:   %" PRIu64 " bytes, %u messages; largest message %u bytes\n",
	       (uint64_t)in.capacity_bytes, in.capacity_msgs, in.max_msg);
	printf("flags:      %s\n", in.flags & SNAPCHAN_CHAN_F_EOF ? "eof" : "none");
	printf("device:     /dev/snapchan/%s, mode %04o, uid %u, gid %u\n",
	       in.name, in.mode, in.uid, in.gid);
	printf("queued:     %" PRIu64 " messages, %" PRIu64 " bytes, %u markers\n",
	       (uint64_t)in.depth_msgs, (uint64_t)in.depth_bytes,
	       in.markers_queued);
	printf("totals:     %" PRIu64 " sent, %" PRIu64 " received\n",
	       (uint64_t)in.total_sent, (uint64_t)in.total_received);
	printf("sequence:   first %" PRIu64 ", next %" PRIu64 "\n",
	       (uint64_t)in.first_seq, (uint64_t)in.next_seq);
	printf("ends:       %u readers, %u writers open\n", in.readers,
	       in.writers);
	if (in.sender_node || in.receiver_node)
		printf("nodes:      sender %" PRIu64 ", receiver %" PRIu64 "\n",
		       (uint64_t)in.sender_node, (uint64_t)in.receiver_node);
	else
		printf("nodes:      none attached\n");
	return EXIT_OK;
}

/* --- send and recv --------------------------------------------------------- */

static int send_one(int fd, const char *name, const void *buf, size_t len)
{
	ssize_t r;

	do
		r = snapchan_send(fd, buf, len);
	while (r == -EINTR);
	if (r < 0)
		return report((int)r, OBJ_SEND, "send to %s", name);
	return EXIT_OK;
}

/* Messages per batch call unless --batch says otherwise. */
#define DEFAULT_BATCH	64u

/* Parse --batch: 1..SNAPCHAN_BATCH_MAX; 0 or -1. */
static int parse_batch(const char *cmd, const char *s, unsigned int *out)
{
	uint64_t v;

	if (parse_u64(s, &v) || !v || v > SNAPCHAN_BATCH_MAX)
		return usage_error(cmd, "invalid batch size '%s': 1..%u", s,
				   SNAPCHAN_BATCH_MAX);
	*out = (unsigned int)v;
	return 0;
}

/*
 * Where send puts several messages: SEND_BATCH, @batch messages per call,
 * or one write() each when @batch is 1.  A module without batch calls
 * (ENOTTY) makes it fall back to one write() per message, unless the user
 * asked for batches with --batch: then that is the error.
 */
struct sender {
	int fd;
	const char *name;
	unsigned int batch;
	int batch_given;
	uint64_t sent;			/* messages sent so far */
	struct snapchan_send_msg *m;	/* @batch entries */
};

static int sender_fail(const struct sender *s, int err)
{
	int rc;

	if (err == -ENOTTY)
		rc = report(err, OBJ_SEND, "send to %s: batch call (SNAPCHAN_IOC_SEND_BATCH)",
			    s->name);
	else
		rc = report(err, OBJ_SEND, "send to %s", s->name);
	if (s->sent)
		cli_warn("send: the %" PRIu64 " message%s before it went in",
			 s->sent, s->sent == 1 ? "" : "s");
	return rc;
}

/* Send @n messages in order; EXIT_OK or the exit code of the failure. */
static int send_msgs(struct sender *s, const struct iovec *iov, size_t n)
{
	size_t done = 0;

	while (done < n) {
		unsigned int k, nr;
		int r;

		if (s->batch == 1 || n - done == 1) {	/* write() is as cheap */
			ssize_t w;

			do
				w = snapchan_send(s->fd, iov[done].iov_base,
						  iov[done].iov_len);
			while (w == -EINTR);
			if (w < 0)
				return sender_fail(s, (int)w);
			done++;
			s->sent++;
			continue;
		}
		nr = n - done < s->batch ? (unsigned int)(n - done) : s->batch;
		for (k = 0; k < nr; k++) {
			if (iov[done + k].iov_len > UINT32_MAX)
				break;	/* the kernel's EMSGSIZE, after the others */
			s->m[k].buf = (uint64_t)(uintptr_t)iov[done + k].iov_base;
			s->m[k].len = (uint32_t)iov[done + k].iov_len;
			s->m[k].reserved = 0;
		}
		if (!k)
			return sender_fail(s, -EMSGSIZE);
		r = snapchan_send_batch(s->fd, s->m, k, 0);
		if (r == -EINTR)
			continue;
		if (r == -ENOTTY && !s->batch_given) {
			s->batch = 1;	/* an older module: one per call */
			continue;
		}
		if (r < 0)
			return sender_fail(s, r);
		/* Fewer than k: the next call says why (or goes on). */
		done += (unsigned int)r;
		s->sent += (unsigned int)r;
	}
	return EXIT_OK;
}

/* Longest line of standard input that send --lines takes. */
#define MAX_LINE	MAX_STDIN_MSG

/*
 * send --lines: every line of standard input is a message.  Lines are sent
 * as they come, the complete lines of each read() together, so a pipe's
 * many lines go out in batches and a terminal's line at once.
 */
static int send_lines(struct sender *s, int hex)
{
	size_t cap = 1 << 16, len = 0, scan = 0, nq = 0, i;
	struct iovec *q = calloc(s->batch, sizeof(*q));
	uint8_t **own = calloc(s->batch, sizeof(*own));
	char *buf = malloc(cap);
	int ret = EXIT_OK, eof = 0;

	if (!q || !own || !buf) {
		free(q);
		free(own);
		free(buf);
		return report(-ENOMEM, OBJ_NONE, "send");
	}
	while (ret == EXIT_OK && !eof) {
		size_t ls = 0;
		ssize_t r;

		if (cap - len < 4096) {
			size_t nc = cap * 2;
			char *nb;

			if (nc > MAX_LINE + 2)
				nc = MAX_LINE + 2;
			if (len > MAX_LINE) {
				cli_warn("send: a line of standard input is longer than %u bytes",
					 MAX_LINE);
				ret = EXIT_FAIL;
				break;
			}
			nb = realloc(buf, nc);
			if (!nb) {
				ret = report(-ENOMEM, OBJ_NONE, "send");
				break;
			}
			buf = nb;
			cap = nc;
		}
		r = read(STDIN_FILENO, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = report(-errno, OBJ_FILE, "send: read standard input");
			break;
		}
		len += (size_t)r;
		if (!r) {		/* a last line without a newline */
			eof = 1;
			if (len && buf[len - 1] != '\n')
				buf[len++] = '\n';	/* room: cap - len >= 1 */
		}
		/* Queue every complete line; send when the queue is full. */
		for (; scan < len; scan++) {
			char *line = buf + ls;
			size_t n = scan - ls;

			if (buf[scan] != '\n')
				continue;
			ls = scan + 1;
			if (hex) {
				size_t bl;

				line[n] = '\0';
				if (parse_hex(line, &own[nq], &bl)) {
					cli_warn("send: invalid hex line '%s'", line);
					ret = EXIT_USAGE;
					break;
				}
				q[nq].iov_base = own[nq];
				q[nq].iov_len = bl;
			} else {
				q[nq].iov_base = line;
				q[nq].iov_len = n;
			}
			if (++nq == s->batch) {
				ret = send_msgs(s, q, nq);
				for (i = 0; i < nq; i++) {
					free(own[i]);
					own[i] = NULL;
				}
				nq = 0;
				if (ret)
					break;
			}
		}
		/* What this read() completed goes now, before buf moves. */
		if (nq) {
			int r2 = send_msgs(s, q, nq);

			if (ret == EXIT_OK)
				ret = r2;
			for (i = 0; i < nq; i++) {
				free(own[i]);
				own[i] = NULL;
			}
			nq = 0;
		}
		memmove(buf, buf + ls, len - ls);
		len -= ls;
		scan -= ls;
	}
	free(q);
	free(own);
	free(buf);
	return ret;
}

static int cmd_send(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "lines", no_argument, NULL, 'l' },
		{ "nonblock", no_argument, NULL, 'n' },
		{ "hex", no_argument, NULL, 'x' },
		{ "batch", required_argument, NULL, 'B' },
		HELP_OPT, { NULL, 0, NULL, 0 },
	};
	int c, fd, ret = EXIT_OK, lines = 0, nonblock = 0, hex = 0, i;
	struct sender snd = { .batch = DEFAULT_BATCH };
	const char *name;

	while ((c = getopt_long(argc, argv, "lnxB:h", lo, NULL)) != -1) {
		if (c == 'l')
			lines = 1;
		else if (c == 'n')
			nonblock = 1;
		else if (c == 'x')
			hex = 1;
		else if (c == 'B') {
			if (parse_batch("send", optarg, &snd.batch))
				return EXIT_USAGE;
			snd.batch_given = 1;
		} else
			return help_or_usage("send", c);
	}
	if (optind == argc)
		return usage_error("send", "expected a channel name");
	name = argv[optind++];
	if (check_chan_name("send", name))
		return EXIT_USAGE;
	if (lines && optind != argc)
		return usage_error("send", "--lines reads standard input: give no message");
	if (hex) {
		for (i = optind; i < argc; i++) {
			uint8_t *b;
			size_t n;

			if (parse_hex(argv[i], &b, &n))
				return usage_error("send", "invalid hex message '%s'", argv[i]);
			free(b);
		}
	}
	fd = open_end("send", name, O_WRONLY | (nonblock ? O_NONBLOCK : 0),
		      OBJ_SEND);
	if (fd < 0)
		return -fd;
	snd.fd = fd;
	snd.name = name;
	snd.m = calloc(snd.batch, sizeof(*snd.m));
	if (!snd.m) {
		close(fd);
		return report(-ENOMEM, OBJ_NONE, "send");
	}

	if (optind < argc) {
		/* Every argument is a message: all of them in batches. */
		size_t n = (size_t)(argc - optind), k;
		struct iovec *iov = calloc(n, sizeof(*iov));

		if (!iov) {
			ret = report(-ENOMEM, OBJ_NONE, "send");
		} else {
			for (k = 0; k < n; k++) {
				if (hex) {
					uint8_t *b;
					size_t bl;

					parse_hex(argv[optind + k], &b, &bl);
					iov[k].iov_base = b;
					iov[k].iov_len = bl;
				} else {
					iov[k].iov_base = argv[optind + k];
					iov[k].iov_len = strlen(argv[optind + k]);
				}
			}
			ret = send_msgs(&snd, iov, n);
			if (hex)
				for (k = 0; k < n; k++)
					free(iov[k].iov_base);
			free(iov);
		}
	} else if (lines) {
		ret = send_lines(&snd, hex);
	} else {
		/* All of standard input is one message. */
		uint8_t *buf = malloc(MAX_STDIN_MSG + 1);
		size_t len = 0;

		if (!buf) {
			free(snd.m);
			close(fd);
			return report(-ENOMEM, OBJ_NONE, "send");
		}
		while (len <= MAX_STDIN_MSG) {
			size_t n = fread(buf + len, 1, MAX_STDIN_MSG + 1 - len, stdin);

			if (!n)
				break;
			len += n;
		}
		if (len > MAX_STDIN_MSG) {
			cli_warn("send: standard input is longer than %u bytes", MAX_STDIN_MSG);
			ret = EXIT_FAIL;
		} else if (hex) {
			uint8_t *b;
			size_t bl;

			buf[len] = '\0';
			if (parse_hex((char *)buf, &b, &bl)) {
				cli_warn("send: standard input is not hex");
				ret = EXIT_USAGE;
			} else {
				ret = send_one(fd, name, b, bl);
				free(b);
			}
		} else {
			ret = send_one(fd, name, buf, len);
		}
		free(buf);
	}
	free(snd.m);
	close(fd);
	return ret;
}

/* Print a DATA record's payload (and sequence number) on a line. */
static void print_msg(const struct snapchan_recv *r, int seq, int hex)
{
	const uint8_t *p = (const uint8_t *)(uintptr_t)r->buf;

	if (seq)
		printf("%" PRIu64 "\t", (uint64_t)r->seq);
	if (hex) {
		uint32_t k;

		for (k = 0; k < r->len; k++)
			printf("%02x", p[k]);
	} else {
		fwrite(p, 1, r->len, stdout);
	}
	putchar('\n');
}

/*
 * A marker came: one placed with MARK was consumed (say so on standard
 * error); a snapshot's stays at the head for its node.  EXIT_OK or
 * EXIT_FAIL.
 */
static int recv_marker(const char *name, const struct snapchan_recv *r)
{
	if (r->origin) {
		cli_warn("recv: a marker of snapshot %" PRIu64 " is at the head of %s: only its attached node takes it, by recording",
			 (uint64_t)r->snap_id, name);
		return EXIT_FAIL;
	}
	fprintf(stderr, "marker %" PRIu64 "\n", (uint64_t)r->snap_id);
	return EXIT_OK;
}

/* Payload room per batch entry: at first, and at most in all entries. */
#define RECV_SLOT	4096u
#define RECV_SLOTS_MAX	(8u << 20)

static int cmd_recv(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "count", required_argument, NULL, 'c' },
		{ "all", no_argument, NULL, 'a' },
		{ "timeout", required_argument, NULL, 't' },
		{ "peek", no_argument, NULL, 'p' },
		{ "seq", no_argument, NULL, 's' },
		{ "hex", no_argument, NULL, 'x' },
		{ "batch", required_argument, NULL, 'B' },
		HELP_OPT, { NULL, 0, NULL, 0 },
	};
	uint64_t count = 1, got = 0, timeout_ns = 0, v;
	int c, fd, all = 0, peek = 0, seq = 0, hex = 0, has_timeout = 0;
	int ret = EXIT_OK, batch_given = 0, use_big = 0;
	unsigned int batch = DEFAULT_BATCH;
	size_t big_len = 4096, slot = RECV_SLOT;
	struct snapchan_recv *r = NULL;
	uint8_t *big = NULL, *slots = NULL;
	const char *name;

	while ((c = getopt_long(argc, argv, "c:at:psxB:h", lo, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (parse_u64(optarg, &v))
				return usage_error("recv", "invalid count '%s'", optarg);
			count = v;
			break;
		case 'a':
			all = 1;
			break;
		case 't':
			if (parse_duration_ns(optarg, &timeout_ns))
				return usage_error("recv", "invalid timeout '%s'", optarg);
			has_timeout = 1;
			break;
		case 'p':
			peek = 1;
			break;
		case 's':
			seq = 1;
			break;
		case 'x':
			hex = 1;
			break;
		case 'B':
			if (parse_batch("recv", optarg, &batch))
				return EXIT_USAGE;
			batch_given = 1;
			break;
		default:
			return help_or_usage("recv", c);
		}
	}
	if (argc - optind != 1)
		return usage_error("recv", "expected one channel name");
	name = argv[optind];
	if (check_chan_name("recv", name))
		return EXIT_USAGE;
	if (all && has_timeout)
		return usage_error("recv", "--all and --timeout do not go together");
	if (peek && count != 1)
		return usage_error("recv", "--peek shows the head only: no --count");
	if (peek && batch_given)
		return usage_error("recv", "--peek shows the head only: no --batch");
	if (all)
		count = 0;
	/* One record at a time for one message, or to peek. */
	if (count == 1 || peek)
		batch = 1;
	fd = open_end("recv", name, O_RDONLY | O_NONBLOCK, OBJ_RECV);
	if (fd < 0)
		return -fd;
	r = calloc(batch, sizeof(*r));
	big = malloc(big_len);
	if (batch > 1)
		slots = malloc((size_t)batch * slot);
	if (!r || !big || (batch > 1 && !slots)) {
		ret = report(-ENOMEM, OBJ_NONE, "recv");
		goto out;
	}
	while (!count || got < count) {
		unsigned int nr = 1, i;
		int e;

		memset(r, 0, sizeof(*r));
		if (batch == 1 || use_big) {
			/* RECV, or RECV_BATCH of one into the large buffer. */
			r[0].buf = (uint64_t)(uintptr_t)big;
			r[0].buf_len = (uint32_t)big_len;
		}
		if (batch == 1) {
			r[0].flags = peek ? SNAPCHAN_RECV_PEEK : 0;
			e = snapchan_recv_rec(fd, &r[0]);
			if (!e)
				e = 1;
		} else {
			if (!use_big) {
				nr = count && count - got < batch ?
				     (unsigned int)(count - got) : batch;
				memset(r, 0, nr * sizeof(*r));
				for (i = 0; i < nr; i++) {
					r[i].buf = (uint64_t)(uintptr_t)(slots + i * slot);
					r[i].buf_len = (uint32_t)slot;
				}
			}
			e = snapchan_recv_batch(fd, r, nr, 0);
			if (e == -ENOTTY && !batch_given) {
				batch = 1;	/* an older module: RECV */
				use_big = 0;
				continue;
			}
		}
		if (e == -EMSGSIZE && r[0].len > r[0].buf_len) {
			size_t need = r[0].len;
			uint8_t *nb;

			if (batch > 1 && (uint64_t)need * batch <= RECV_SLOTS_MAX) {
				/* Messages this long: every slot grows. */
				nb = realloc(slots, (size_t)batch * need);
				if (nb) {
					slots = nb;
					slot = need;
					continue;
				}
			} else if (need > big_len) {
				nb = realloc(big, need);
				if (nb) {
					big = nb;
					big_len = need;
				}
			} else {
				nb = big;
			}
			if (!nb) {
				ret = report(-ENOMEM, OBJ_NONE, "recv");
				break;
			}
			use_big = batch > 1;
			continue;
		}
		if (e == -EINTR)
			continue;
		if (e == -ENODATA)
			break;		/* end of file */
		if (e == -EAGAIN) {
			struct pollfd pfd = { .fd = fd, .events = POLLIN | POLLPRI };
			int ms = -1;

			if (all)
				break;	/* what was queued is taken */
			if (has_timeout)
				ms = timeout_ns / 1000000 > INT_MAX ? INT_MAX :
				     (int)(timeout_ns / 1000000);
			e = poll(&pfd, 1, ms);
			if (e < 0 && errno == EINTR)
				continue;
			if (e < 0) {
				ret = report(-errno, OBJ_RECV, "poll %s", name);
				break;
			}
			if (e == 0) {
				cli_warn("recv: no message on %s within the timeout", name);
				ret = EXIT_TIMEOUT;
				break;
			}
			continue;
		}
		if (e < 0) {
			ret = report(e, OBJ_RECV, "receive from %s%s", name,
				     batch > 1 ? " (SNAPCHAN_IOC_RECV_BATCH)" : "");
			break;
		}
		use_big = 0;
		/* e records, in order; a marker can only be the last. */
		for (i = 0; i < (unsigned int)e && ret == EXIT_OK; i++) {
			if (r[i].type == SNAPCHAN_REC_MARKER) {
				ret = recv_marker(name, &r[i]);
				continue;
			}
			print_msg(&r[i], seq, hex);
			got++;
		}
		if (ret || (peek && r[0].type == SNAPCHAN_REC_MARKER))
			break;
	}
out:
	free(r);
	free(big);
	free(slots);
	close(fd);
	if (fflush(stdout))
		return report(-errno, OBJ_NONE, "write to standard output");
	return ret;
}

/* --- images: inspect, verify, capture ---------------------------------------- */

static int open_image(const char *path, struct snapchan_image **img)
{
	struct snapchan_image_diag d;
	int ret;

	memset(&d, 0, sizeof(d));
	if (!strcmp(path, "-"))
		ret = snapchan_image_open_fd(0, img, &d);
	else
		ret = snapchan_image_open_file(path, img, &d);
	if (!ret)
		return 0;
	if (image_exit(ret) == EXIT_IMAGE) {
		cli_warn("%s: invalid image: %s (at byte %" PRIu64 ")", path,
			 d.msg, d.offset);
		return report(ret, OBJ_NONE, "%s", path);
	}
	return report(ret, OBJ_FILE, "%s", path);
}

static int cmd_inspect(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "records", no_argument, NULL, 'r' },
		{ "payload", no_argument, NULL, 'p' },
		HELP_OPT, { NULL, 0, NULL, 0 },
	};
	struct snapchan_image *img;
	unsigned int flags = 0;
	int c, ret, json = 0;

	while ((c = getopt_long(argc, argv, "jrph", lo, NULL)) != -1) {
		if (c == 'j')
			json = 1;
		else if (c == 'r')
			flags |= PRINT_RECORDS;
		else if (c == 'p')
			flags |= PRINT_PAYLOAD | PRINT_RECORDS;
		else
			return help_or_usage("inspect", c);
	}
	if (argc - optind != 1)
		return usage_error("inspect", "expected one image file (or - for standard input)");
	ret = open_image(argv[optind], &img);
	if (ret)
		return ret;
	if (json)
		print_image_json(stdout, img, flags);
	else
		print_image_text(stdout, img, flags);
	snapchan_image_close(img);
	if (fflush(stdout))
		return report(-errno, OBJ_NONE, "write to standard output");
	return EXIT_OK;
}

static int cmd_verify(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "quiet", no_argument, NULL, 'q' },
		HELP_OPT, { NULL, 0, NULL, 0 },
	};
	int c, i, quiet = 0, rc = EXIT_OK;

	while ((c = getopt_long(argc, argv, "qh", lo, NULL)) != -1) {
		if (c == 'q')
			quiet = 1;
		else
			return help_or_usage("verify", c);
	}
	if (optind == argc)
		return usage_error("verify", "expected one or more image files");
	for (i = optind; i < argc; i++) {
		struct snapchan_image_header_view h;
		struct snapchan_image_diag d;
		struct snapchan_image *img;
		int ret;

		memset(&d, 0, sizeof(d));
		if (!strcmp(argv[i], "-"))
			ret = snapchan_image_open_fd(0, &img, &d);
		else
			ret = snapchan_image_open_file(argv[i], &img, &d);
		if (ret) {
			const char *ename = strerrorname_np(-ret);

			printf("%s: INVALID: %s (%s", argv[i], d.msg,
			       ename ? ename : "?");
			if (image_exit(ret) == EXIT_IMAGE)
				printf(", at byte %" PRIu64, d.offset);
			printf(")\n");
			if (rc == EXIT_OK || image_exit(ret) == EXIT_IMAGE)
				rc = image_exit(ret);
			continue;
		}
		snapchan_image_header(img, &h);
		if (!quiet) {
			if (h.kind == SNAPCHAN_IMG_KIND_SNAPSHOT)
				printf("%s: OK: snapshot %" PRIu64 " of group \"%s\", %u nodes, %u channels, %" PRIu64 " records, %" PRIu64 " bytes, crc32c 0x%08x\n",
				       argv[i], h.snap_id, h.group, h.node_count,
				       h.chan_count, h.record_count, h.total_len,
				       h.crc32c);
			else
				printf("%s: OK: %s, %u channel, %" PRIu64 " records, %" PRIu64 " bytes, crc32c 0x%08x\n",
				       argv[i], kind_name(h.kind), h.chan_count,
				       h.record_count, h.total_len, h.crc32c);
		}
		snapchan_image_close(img);
	}
	return rc;
}

static int cmd_capture(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "force", no_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "records", no_argument, NULL, 'r' },
		{ "payload", no_argument, NULL, 'p' },
		HELP_OPT, { NULL, 0, NULL, 0 },
	};
	struct snapchan_image_diag d;
	struct snapchan_capture cap;
	struct snapchan_image *img;
	const char *out = NULL, *name;
	unsigned int flags = 0;
	int c, fd, cfd, ret, json = 0, force = 0;

	while ((c = getopt_long(argc, argv, "o:fjrph", lo, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 'f':
			force = 1;
			break;
		case 'j':
			json = 1;
			break;
		case 'r':
			flags |= PRINT_RECORDS;
			break;
		case 'p':
			flags |= PRINT_PAYLOAD | PRINT_RECORDS;
			break;
		default:
			return help_or_usage("capture", c);
		}
	}
	if (argc - optind != 1)
		return usage_error("capture", "expected one channel name");
	name = argv[optind];
	if (check_chan_name("capture", name))
		return EXIT_USAGE;
	if (out && (json || flags))
		return usage_error("capture", "--output saves the image: inspect it afterwards");
	fd = open_end("capture", name, O_RDONLY | O_NONBLOCK, OBJ_CHANNEL);
	if (fd < 0)
		return -fd;
	memset(&cap, 0, sizeof(cap));
	cfd = snapchan_capture(fd, &cap);
	close(fd);
	if (cfd < 0)
		return report(cfd, OBJ_CHANNEL, "capture %s", name);
	ret = snapchan_image_open_fd(cfd, &img, &d);
	close(cfd);
	if (ret) {
		cli_warn("capture %s: the stream was refused: %s", name, d.msg);
		return report(ret, OBJ_NONE, "capture %s", name);
	}
	if (out) {
		ret = snapchan_image_save(img, out, force ? 0 : SNAPCHAN_SAVE_F_NOREPLACE);
		snapchan_image_close(img);
		if (ret)
			return report(ret, OBJ_FILE, "save %s", out);
		fprintf(stderr, "captured %s: %" PRIu64 " records (%" PRIu64 " markers), %" PRIu64 " payload bytes, seq %" PRIu64 "..%" PRIu64 "; saved to %s\n",
			name, (uint64_t)cap.count, (uint64_t)cap.markers,
			(uint64_t)cap.bytes, (uint64_t)cap.first_seq,
			(uint64_t)cap.last_seq, out);
		return EXIT_OK;
	}
	if (json)
		print_image_json(stdout, img, flags);
	else
		print_image_text(stdout, img, flags | PRINT_RECORDS);
	snapchan_image_close(img);
	return EXIT_OK;
}

/* --- snapshots ------------------------------------------------------------- */

static void progress(const struct snapchan_snap_info *in, int tty, int final)
{
	fprintf(stderr, "%ssnapshot %" PRIu64 " of %s: %s, members recorded %u/%u, channels closed %u/%u, recorded %" PRIu64 " msgs %" PRIu64 " bytes%s",
		tty ? "\r" : "", (uint64_t)in->snap_id, in->group,
		snapchan_snap_state_name(in->state), in->nodes_recorded,
		in->nodes, in->chans_closed, in->chans,
		(uint64_t)in->recorded_msgs, (uint64_t)in->recorded_bytes,
		tty && !final ? "\033[K" : "");
	if (!tty || final)
		fputc('\n', stderr);
}

static void snap_json(const struct snapchan_snap_info *in, const char *saved)
{
	struct json j;

	json_init(&j, stdout);
	json_obj_begin(&j, NULL);
	json_u64(&j, "snap_id", in->snap_id);
	json_str(&j, "group", in->group);
	json_str(&j, "state", snapchan_snap_state_name(in->state));
	json_str(&j, "abort_reason", in->state == SNAPCHAN_SNAP_ABORTED ?
		 snapchan_abort_reason_name(in->abort_reason) : "");
	json_u64(&j, "epoch", in->epoch);
	json_u64(&j, "nodes", in->nodes);
	json_u64(&j, "nodes_recorded", in->nodes_recorded);
	json_u64(&j, "chans", in->chans);
	json_u64(&j, "chans_closed", in->chans_closed);
	json_u64(&j, "recorded_msgs", in->recorded_msgs);
	json_u64(&j, "recorded_bytes", in->recorded_bytes);
	json_u64(&j, "state_bytes", in->state_bytes);
	json_u64(&j, "begin_ns", in->begin_ns);
	json_u64(&j, "end_ns", in->end_ns);
	json_u64(&j, "image_len", in->image_len);
	if (saved)
		json_str(&j, "saved", saved);
	json_obj_end(&j);
	json_end(&j);
}

static int cmd_snapshot(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "force", no_argument, NULL, 'f' },
		{ "timeout", required_argument, NULL, 't' },
		{ "budget", required_argument, NULL, 'b' },
		{ "wait", required_argument, NULL, 'w' },
		{ "id", required_argument, NULL, 'i' },
		{ "no-wait", no_argument, NULL, 'N' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'j' },
		HELP_OPT, { NULL, 0, NULL, 0 },
	};
	uint64_t timeout_ns = 0, budget = 0, wait_ns = 0, id = 0;
	int c, ctl, fd, ret, force = 0, nowait = 0, quiet = 0, json = 0;
	int has_wait = 0, tty, shown = 0;
	struct snapchan_snap_info in, last;
	const char *out = NULL, *group;
	uint64_t start;
	struct timespec ts;

	while ((c = getopt_long(argc, argv, "o:ft:b:w:i:Nqjh", lo, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 'f':
			force = 1;
			break;
		case 't':
			if (parse_duration_ns(optarg, &timeout_ns) || !timeout_ns)
				return usage_error("snapshot", "invalid timeout '%s'", optarg);
			break;
		case 'b':
			if (parse_size(optarg, &budget) || !budget)
				return usage_error("snapshot", "invalid budget '%s'", optarg);
			break;
		case 'w':
			if (parse_duration_ns(optarg, &wait_ns))
				return usage_error("snapshot", "invalid wait time '%s'", optarg);
			has_wait = 1;
			break;
		case 'i':
			if (parse_u64(optarg, &id) || !id)
				return usage_error("snapshot", "invalid snapshot id '%s'", optarg);
			break;
		case 'N':
			nowait = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'j':
			json = 1;
			break;
		default:
			return help_or_usage("snapshot", c);
		}
	}
	if (argc - optind != 1)
		return usage_error("snapshot", "expected one group name");
	group = argv[optind];
	if (check_group_name("snapshot", group))
		return EXIT_USAGE;
	if (nowait && (out || has_wait))
		return usage_error("snapshot", "--no-wait does not wait, so cannot --output or --wait");
	if (id && (timeout_ns || budget))
		return usage_error("snapshot", "--timeout and --budget are for a new snapshot, not --id");
	if (out && !force && !access(out, F_OK))
		return usage_error("snapshot", "%s exists; use --force to replace it", out);

	ret = open_control(&ctl);
	if (ret)
		return ret;
	if (id) {
		fd = snapchan_snap_open(ctl, group, id);
		if (fd < 0) {
			close(ctl);
			return report(fd, OBJ_SNAPSHOT, "open snapshot %" PRIu64 " of %s", id, group);
		}
	} else {
		fd = snapchan_snap_begin(ctl, group, timeout_ns, budget, &id);
		if (fd < 0) {
			close(ctl);
			return report(fd, OBJ_GROUP, "begin a snapshot of %s", group);
		}
	}
	close(ctl);
	if (nowait) {
		printf("%" PRIu64 "\n", id);
		close(fd);
		return EXIT_OK;
	}

	tty = isatty(2) && !quiet;
	memset(&last, 0, sizeof(last));
	clock_gettime(CLOCK_MONOTONIC, &ts);
	start = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	for (;;) {
		uint64_t now;

		ret = snapchan_snap_wait(fd, 200, &in);
		if (ret == -EINTR)
			continue;
		if (ret && ret != -ETIMEDOUT)
			break;
		if (!quiet && (tty || memcmp(&in, &last, sizeof(in)))) {
			if (ret == -ETIMEDOUT || (tty && shown)) {
				progress(&in, tty, ret != -ETIMEDOUT);
				shown = ret == -ETIMEDOUT;
			}
			last = in;
		}
		if (!ret)
			break;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
		if (has_wait && now - start >= wait_ns) {
			if (tty && shown)
				fputc('\n', stderr);
			cli_warn("snapshot %" PRIu64 " of %s still runs after the --wait time: members recorded %u/%u, channels closed %u/%u; it goes on (abort it with '%s abort %s %" PRIu64 "')",
				 id, group, in.nodes_recorded, in.nodes,
				 in.chans_closed, in.chans, prog, group, id);
			close(fd);
			return EXIT_TIMEOUT;
		}
	}
	if (ret == -ECANCELED) {
		if (tty && shown)
			fputc('\n', stderr);
		cli_warn("snapshot %" PRIu64 " of %s was aborted: %s", id, group,
			 snapchan_abort_reason_name(in.abort_reason));
		if (json)
			snap_json(&in, NULL);
		close(fd);
		return EXIT_ABORTED;
	}
	if (ret) {
		close(fd);
		return report(ret, OBJ_SNAPSHOT, "wait for snapshot %" PRIu64 " of %s", id, group);
	}
	if (out) {
		struct snapchan_image_diag d;

		memset(&d, 0, sizeof(d));
		ret = snapchan_snap_save(fd, out, force ? 0 : SNAPCHAN_SAVE_F_NOREPLACE, &d);
		if (ret) {
			if (d.msg[0])
				cli_warn("snapshot %" PRIu64 ": %s", id, d.msg);
			close(fd);
			return report(ret, OBJ_FILE, "save snapshot %" PRIu64 " to %s", id, out);
		}
	}
	close(fd);
	if (json) {
		snap_json(&in, out);
		return EXIT_OK;
	}
	if (!quiet) {
		printf("snapshot %" PRIu64 " of group %s: complete in %.3f ms: %u nodes, %u channels, %" PRIu64 " messages (%" PRIu64 " bytes) in flight, %" PRIu64 " bytes of node state; image %" PRIu64 " bytes\n",
		       id, in.group,
		       in.end_ns > in.begin_ns ? (double)(in.end_ns - in.begin_ns) / 1e6 : 0.0,
		       in.nodes, in.chans, (uint64_t)in.recorded_msgs,
		       (uint64_t)in.recorded_bytes, (uint64_t)in.state_bytes,
		       (uint64_t)in.image_len);
		if (out)
			printf("saved to %s\n", out);
	}
	return EXIT_OK;
}

static int cmd_abort(int argc, char **argv)
{
	static const struct option lo[] = { HELP_OPT, { NULL, 0, NULL, 0 } };
	uint64_t id;
	int c, ctl, fd, ret;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1)
		return help_or_usage("abort", c);
	if (argc - optind != 2)
		return usage_error("abort", "expected a group name and a snapshot id");
	if (check_group_name("abort", argv[optind]))
		return EXIT_USAGE;
	if (parse_u64(argv[optind + 1], &id) || !id)
		return usage_error("abort", "invalid snapshot id '%s'", argv[optind + 1]);
	ret = open_control(&ctl);
	if (ret)
		return ret;
	fd = snapchan_snap_open(ctl, argv[optind], id);
	close(ctl);
	if (fd < 0)
		return report(fd, OBJ_SNAPSHOT, "open snapshot %" PRIu64 " of %s", id, argv[optind]);
	ret = snapchan_snap_abort(fd);
	close(fd);
	if (ret)
		return report(ret, OBJ_SNAPSHOT, "abort snapshot %" PRIu64 " of %s", id, argv[optind]);
	return EXIT_OK;
}

/* --- restore ----------------------------------------------------------------- */

static int cmd_restore(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "group", required_argument, NULL, 'g' },
		{ "drop-channel-state", no_argument, NULL, 'D' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "abort-snapshots", no_argument, NULL, 'A' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "quiet", no_argument, NULL, 'q' },
		HELP_OPT, { NULL, 0, NULL, 0 },
	};
	const char *group = NULL, *state_dir = NULL, *path;
	struct snapchan_image_header_view h;
	struct snapchan_image_diag d;
	struct snapchan_restore *r = NULL;
	struct snapchan_image *img;
	unsigned int flags = 0;
	int c, ctl, ret, dry = 0, quiet = 0;
	size_t i, k;
	uint64_t records = 0;

	while ((c = getopt_long(argc, argv, "g:Ds:Anqh", lo, NULL)) != -1) {
		switch (c) {
		case 'g':
			if (check_group_name("restore", optarg))
				return EXIT_USAGE;
			group = optarg;
			break;
		case 'D':
			flags |= SNAPCHAN_RESTORE_DROP_CHANNEL_STATE;
			break;
		case 's':
			state_dir = optarg;
			break;
		case 'A':
			flags |= SNAPCHAN_TOPO_F_ABORT;
			break;
		case 'n':
			dry = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		default:
			return help_or_usage("restore", c);
		}
	}
	if (argc - optind != 1)
		return usage_error("restore", "expected one image file");
	path = argv[optind];

	/* The image first: an invalid one never needs the module. */
	ret = open_image(path, &img);
	if (ret)
		return ret;
	snapchan_image_header(img, &h);
	if (h.kind != SNAPCHAN_IMG_KIND_SNAPSHOT) {
		cli_warn("restore: %s is a %s image, not a snapshot: only a complete snapshot of a group can be restored",
			 path, kind_name(h.kind));
		snapchan_image_close(img);
		return EXIT_IMAGE;
	}
	if (!group)
		group = h.group;
	ret = open_control(&ctl);
	if (ret) {
		snapchan_image_close(img);
		return ret;
	}
	if (dry) {
		int rc = EXIT_OK;

		for (i = 0; i < snapchan_image_chan_count(img); i++) {
			struct snapchan_image_chan_view cv;
			struct snapchan_chan_info in;

			snapchan_image_chan(img, i, &cv);
			ret = snapchan_chan_info(ctl, cv.name, &in);
			if (!ret) {
				cli_warn("restore: channel %s exists already (group \"%s\"): restore would refuse",
					 cv.name, in.group);
				rc = EXIT_FAIL;
			} else if (ret != -ENOENT) {
				rc = report(ret, OBJ_CHANNEL, "info %s", cv.name);
			}
		}
		if (rc == EXIT_OK)
			printf("%s: snapshot %" PRIu64 " of group \"%s\" can be restored into group \"%s\": %u channels, %" PRIu64 " records, %u nodes\n",
			       path, h.snap_id, h.group, group, h.chan_count,
			       (flags & SNAPCHAN_RESTORE_DROP_CHANNEL_STATE) ? 0 : h.record_count,
			       h.node_count);
		snapchan_image_close(img);
		close(ctl);
		return rc;
	}
	memset(&d, 0, sizeof(d));
	ret = snapchan_restore(ctl, img, group, flags, &r, &d);
	snapchan_image_close(img);
	if (ret) {
		close(ctl);
		cli_warn("restore %s: %s", path, d.msg[0] ? d.msg : "failed");
		if (ret == -EEXIST)
			return report(ret, OBJ_CHANNEL, "restore %s (nothing was changed)", path);
		return report(ret, OBJ_CHANNEL, "restore %s (everything it created was removed)", path);
	}

	if (state_dir) {
		if (mkdir(state_dir, 0700) < 0 && errno != EEXIST) {
			ret = report(-errno, OBJ_FILE, "mkdir %s", state_dir);
			goto undo;
		}
		for (i = 0; i < snapchan_restore_node_count(r); i++) {
			struct snapchan_restore_node_view nv;
			char p[PATH_MAX];

			snapchan_restore_node(r, i, &nv);
			snprintf(p, sizeof(p), "%s/%s.state", state_dir, nv.name);
			ret = snapchan_save_file(p, nv.state, (size_t)nv.state_len, 0);
			if (ret) {
				ret = report(ret, OBJ_FILE, "save %s", p);
				goto undo;
			}
		}
	}
	close(ctl);

	for (i = 0; i < snapchan_restore_chan_count(r); i++) {
		struct snapchan_restore_chan_view cv;

		snapchan_restore_chan(r, i, &cv);
		records += cv.records;
	}
	if (!quiet) {
		printf("restored snapshot %" PRIu64 " into group %s: %zu channels, %" PRIu64 " messages re-enqueued%s, %zu nodes\n",
		       snapchan_restore_snap_id(r), snapchan_restore_group(r),
		       snapchan_restore_chan_count(r), records,
		       (flags & SNAPCHAN_RESTORE_DROP_CHANNEL_STATE) ?
		       " (channel states dropped)" : "",
		       snapchan_restore_node_count(r));
		for (i = 0; i < snapchan_restore_chan_count(r); i++) {
			struct snapchan_restore_chan_view cv;

			snapchan_restore_chan(r, i, &cv);
			printf("  channel %-24s %s -> %s, seq %" PRIu64 "..%" PRIu64 ", %" PRIu64 " messages%s\n",
			       cv.name, cv.sender[0] ? cv.sender : "-",
			       cv.receiver[0] ? cv.receiver : "-",
			       cv.first_seq, cv.next_seq, cv.records,
			       cv.capacity_raised ? " (capacity raised to fit them)" : "");
		}
		for (i = 0; i < snapchan_restore_node_count(r); i++) {
			struct snapchan_restore_node_view nv;

			snapchan_restore_node(r, i, &nv);
			printf("  node    %-24s state %" PRIu64 " bytes", nv.name,
			       nv.state_len);
			if (state_dir)
				printf(" in %s/%s.state", state_dir, nv.name);
			printf("; sends on");
			for (k = 0; k < snapchan_restore_chan_count(r); k++) {
				struct snapchan_restore_chan_view cv;

				snapchan_restore_chan(r, k, &cv);
				if (!strcmp(cv.sender, nv.name))
					printf(" %s", cv.name);
			}
			printf("; receives on");
			for (k = 0; k < snapchan_restore_chan_count(r); k++) {
				struct snapchan_restore_chan_view cv;

				snapchan_restore_chan(r, k, &cv);
				if (!strcmp(cv.receiver, nv.name))
					printf(" %s", cv.name);
			}
			printf("\n");
		}
		printf("start each node: join group %s under its name, attach those channels, resume from its state\n",
		       snapchan_restore_group(r));
	}
	snapchan_restore_free(r);
	return EXIT_OK;

undo:
	snapchan_restore_undo(ctl, r);
	snapchan_restore_free(r);
	close(ctl);
	cli_warn("restore: the channels it created were destroyed again");
	return ret;
}

/* --- version and help ---------------------------------------------------------- */

static int cmd_version(int argc, char **argv)
{
	static const struct option lo[] = { HELP_OPT, { NULL, 0, NULL, 0 } };
	struct snapchan_version v;
	int c, ctl, ret;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1)
		return help_or_usage("version", c);
	if (optind != argc)
		return usage_error("version", "unexpected argument '%s'", argv[optind]);
	printf("snapchanctl %s (image format %u, ABI %u)\n", SNAPCHANCTL_VERSION,
	       SNAPCHAN_IMG_VERSION, SNAPCHAN_ABI_VERSION);
	ret = open_control(&ctl);
	if (ret)
		return ret;
	ret = snapchan_version(ctl, &v);
	close(ctl);
	if (ret)
		return report(ret, OBJ_CONTROL, "version");
	printf("module: ABI %u, features%s%s%s%s%s\n", v.abi_version,
	       v.features & SNAPCHAN_FEAT_CHANNELS ? " channels" : "",
	       v.features & SNAPCHAN_FEAT_MARKERS ? " markers" : "",
	       v.features & SNAPCHAN_FEAT_CAPTURE ? " capture" : "",
	       v.features & SNAPCHAN_FEAT_SNAPSHOTS ? " snapshots" : "",
	       v.features & SNAPCHAN_FEAT_BATCH ? " batch" : "");
	return EXIT_OK;
}

static int cmd_help(int argc, char **argv);

static const char exit_codes[] =
"Exit status:\n"
"  0  success\n"
"  1  the operation failed (the message gives the errno and a hint)\n"
"  2  usage error\n"
"  3  an image is invalid (verification failed), or is not a snapshot\n"
"  4  the snapshot was aborted\n"
"  5  timed out (recv --timeout, snapshot --wait)\n"
"  6  the snapchan module is not loaded (no /dev/snapchan/control)\n";

static const struct cmd cmds[] = {
	{ "create", cmd_create, "NAME [options]",
	  "create a channel",
	  "  -g, --group GROUP         make it a member of GROUP (created with it)\n"
	  "  -b, --capacity-bytes SIZE payload bytes it holds (k, M, G suffixes)\n"
	  "  -m, --capacity-msgs N     messages it holds\n"
	  "  -M, --max-msg SIZE        largest message\n"
	  "      --mode MODE           device mode, octal within 0666 (default 0600)\n"
	  "  -s, --first-seq N         sequence number of the first message (default 1)\n"
	  "  -e, --eof                 readers see end of file once every writer left\n"
	  "  -A, --abort-snapshots     abort the group's running snapshots instead of\n"
	  "                            waiting for them to end\n",
	  "Unset sizes take the module's defaults (/sys/module/snapchan/parameters/).\n" },
	{ "destroy", cmd_destroy, "NAME... [options]",
	  "destroy channels",
	  "  -A, --abort-snapshots     abort the group's running snapshots instead of\n"
	  "                            waiting for them to end\n",
	  "Open ends stay valid but see the channel as gone (ENODEV).\n" },
	{ "list", cmd_list, "[options]",
	  "list the channels with their counters",
	  "  -g, --group GROUP         only the channels of GROUP\n"
	  "  -j, --json                a JSON array of objects as 'info --json' prints\n",
	  "" },
	{ "info", cmd_info, "NAME [options]",
	  "show a channel's configuration and counters",
	  "  -j, --json                one JSON object\n",
	  "" },
	{ "send", cmd_send, "NAME [MESSAGE...] [options]",
	  "send messages (each argument is one; none: standard input is one)",
	  "  -l, --lines               each line of standard input is one message\n"
	  "  -x, --hex                 messages are given in hex (\"68 69\" or \"6869\")\n"
	  "  -n, --nonblock            fail with EAGAIN instead of waiting for room\n"
	  "  -B, --batch N             messages per system call when sending several\n"
	  "                            (default 64, at most 1024; 1: one write each)\n",
	  "Several messages (arguments, or --lines) go out with SEND_BATCH, in\n"
	  "order, each whole; with --lines, the lines of each read of standard input\n"
	  "are sent together, so a pipe's lines go in batches and a terminal's at\n"
	  "once.  On a module without batch calls it sends one message per write,\n"
	  "unless --batch was given: then it fails (ENOTTY).  On a failure the\n"
	  "messages before the one that failed were sent, and it says how many.\n" },
	{ "recv", cmd_recv, "NAME [options]",
	  "receive messages and print each on a line",
	  "  -c, --count N             receive N messages (default 1; 0: no limit)\n"
	  "  -a, --all                 receive what is queued now, without waiting\n"
	  "  -t, --timeout TIME        wait at most TIME for each message (exit 5)\n"
	  "  -p, --peek                show the next message, leaving it queued\n"
	  "  -s, --seq                 prefix each message with its sequence number\n"
	  "  -x, --hex                 print payloads in hex\n"
	  "  -B, --batch N             records per system call with --count or --all\n"
	  "                            (default 64, at most 1024; 1: one RECV each)\n",
	  "TIME is seconds, or with a unit: 500ms, 2s, 1m.\n"
	  "More than one message is taken with RECV_BATCH, up to N per call; on a\n"
	  "module without batch calls one per call, unless --batch was given: then\n"
	  "it fails (ENOTTY).  A marker placed with MARK is taken and reported on\n"
	  "standard error as 'marker ID'.\n" },
	{ "capture", cmd_capture, "NAME [options]",
	  "copy what a channel holds now, without consuming it",
	  "  -o, --output FILE         save the capture image to FILE (atomically)\n"
	  "  -f, --force               replace FILE if it exists\n"
	  "  -j, --json                print it as JSON (see inspect)\n"
	  "  -p, --payload             print payloads too\n",
	  "Without --output the capture is printed as text.\n" },
	{ "snapshot", cmd_snapshot, "GROUP [options]",
	  "take a consistent snapshot of a group, wait for it, save it",
	  "  -o, --output FILE         save the image to FILE (atomically)\n"
	  "  -f, --force               replace FILE if it exists\n"
	  "  -t, --timeout TIME        the kernel aborts it after TIME (default: the\n"
	  "                            module's default_timeout_ms)\n"
	  "  -b, --budget SIZE         abort it if the channel states exceed SIZE\n"
	  "  -w, --wait TIME           stop waiting after TIME (exit 5; it goes on)\n"
	  "  -i, --id ID               wait for / save snapshot ID instead of a new one\n"
	  "  -N, --no-wait             print the new snapshot's id and return\n"
	  "  -q, --quiet               no progress, no summary\n"
	  "  -j, --json                print the result as a JSON object\n",
	  "Progress goes to standard error: members recorded, channels closed,\n"
	  "messages and bytes recorded.\n" },
	{ "abort", cmd_abort, "GROUP ID",
	  "abort a running snapshot",
	  "",
	  "" },
	{ "inspect", cmd_inspect, "FILE [options]",
	  "show an image (snapshot or capture) as tables or JSON",
	  "  -j, --json                one JSON object (layout in snapchanctl(8))\n"
	  "  -r, --records             list every record of every channel\n"
	  "  -p, --payload             dump node states and payloads too\n",
	  "FILE - reads standard input.\n" },
	{ "verify", cmd_verify, "FILE... [options]",
	  "check images: magic, version, structure, CRC32C",
	  "  -q, --quiet               print only the invalid ones\n",
	  "" },
	{ "restore", cmd_restore, "FILE [options]",
	  "recreate a group's channels and in-flight messages from a snapshot",
	  "  -g, --group GROUP         restore into GROUP (default: the image's group)\n"
	  "  -s, --state-dir DIR       write each node's state to DIR/<node>.state\n"
	  "  -D, --drop-channel-state  recreate the channels empty: the messages in\n"
	  "                            flight are LOST (an escape hatch)\n"
	  "  -A, --abort-snapshots     abort running snapshots of the group instead of\n"
	  "                            waiting for them\n"
	  "  -n, --dry-run             check that it would work, change nothing\n"
	  "  -q, --quiet               print nothing on success\n",
	  "All or nothing: the image is verified first, an existing channel of the\n"
	  "same name refuses it untouched, and any failure removes what was created.\n"
	  "Then start the node processes: each joins the group under its name,\n"
	  "attaches its channels and resumes from its state.\n" },
	{ "version", cmd_version, "",
	  "show the tool's and the loaded module's versions",
	  "",
	  "" },
	{ "help", cmd_help, "[COMMAND]",
	  "show help on a command",
	  "",
	  "" },
};

static const struct cmd *find_cmd(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(cmds[i].name, name))
			return &cmds[i];
	return NULL;
}

static void cmd_usage(const struct cmd *c, FILE *f)
{
	fprintf(f, "usage: %s %s %s\n\n%c%s.\n", prog, c->name, c->synopsis,
		toupper((unsigned char)c->summary[0]), c->summary + 1);
	fprintf(f, "\n%s  -h, --help                this text\n", c->help);
	if (c->notes[0])
		fprintf(f, "\n%s", c->notes);
	fprintf(f, "\n%s", exit_codes);
}

static void main_usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: %s COMMAND [ARGS]\n"
		"       %s COMMAND --help\n\n"
		"Control snapchan message channels and take, save, inspect and\n"
		"restore consistent snapshots of groups of processes.\n\n"
		"Commands:\n", prog, prog);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f, "\nSee snapchanctl(8).\n\n%s", exit_codes);
}

static int cmd_help(int argc, char **argv)
{
	const struct cmd *c;

	if (argc > 2)
		return usage_error("help", "expected at most one command");
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		if (argc < 2) {
			main_usage(stdout);
			return EXIT_OK;
		}
		cmd_usage(find_cmd("help"), stdout);
		return EXIT_OK;
	}
	c = find_cmd(argv[1]);
	if (!c)
		return usage_error(NULL, "unknown command '%s'", argv[1]);
	cmd_usage(c, stdout);
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	static char argv0[64];
	const struct cmd *c;

	if (argc < 2) {
		main_usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		main_usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("snapchanctl %s\n", SNAPCHANCTL_VERSION);
		return EXIT_OK;
	}
	c = find_cmd(argv[1]);
	if (!c)
		return usage_error(NULL, "unknown command '%s'", argv[1]);
	/* getopt's messages then start "snapchanctl COMMAND: ". */
	snprintf(argv0, sizeof(argv0), "%s %s", prog, c->name);
	argv[1] = argv0;
	return c->fn(argc - 1, argv + 1);
}
