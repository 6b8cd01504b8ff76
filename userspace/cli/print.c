// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * snapchanctl: images as text tables and as JSON.
 *
 * The JSON shape (one object; snapchanctl(8) documents it):
 *
 *   { "kind": "snapshot"|"capture", "version", "snap_id", "group", "epoch",
 *     "begin_ns", "end_ns", "total_len", "crc32c", "node_count",
 *     "chan_count", "record_count",
 *     "nodes": [ { "id", "name", "state_len"[, "state" (hex)] } ],
 *     "channels": [ { "id", "name", "group", "capacity_bytes",
 *                     "capacity_msgs", "max_msg", "flags", "mode" ("0600"),
 *                     "sender_node", "receiver_node", "first_seq",
 *                     "next_seq", "record_count", "record_bytes",
 *                     "records": [ { "type": "data", "seq", "len"
 *                                    [, "payload" (hex)] }
 *                                | { "type": "marker", "snap_id",
 *                                    "origin" } ] } ] }
 */
#include <ctype.h>
#include <inttypes.h>
#include <string.h>

#include "cli.h"

const char *kind_name(unsigned int kind)
{
	switch (kind) {
	case SNAPCHAN_IMG_KIND_SNAPSHOT:
		return "snapshot";
	case SNAPCHAN_IMG_KIND_CAPTURE:
		return "capture";
	default:
		return "unknown";
	}
}

void hexdump(FILE *f, const void *buf, size_t len, const char *indent)
{
	const uint8_t *b = buf;
	size_t i, k;

	for (i = 0; i < len; i += 16) {
		fprintf(f, "%s%08zx ", indent, i);
		for (k = 0; k < 16; k++) {
			if (k == 8)
				fputc(' ', f);
			if (i + k < len)
				fprintf(f, " %02x", b[i + k]);
			else
				fputs("   ", f);
		}
		fputs("  |", f);
		for (k = 0; k < 16 && i + k < len; k++)
			fputc(isprint(b[i + k]) ? b[i + k] : '.', f);
		fputs("|\n", f);
	}
}

/* A short printable preview of a payload, in quotes. */
static void preview(FILE *f, const uint8_t *p, size_t len)
{
	size_t i, n = len < 24 ? len : 24;

	fputc('"', f);
	for (i = 0; i < n; i++)
		fputc(isprint(p[i]) && p[i] != '"' ? p[i] : '.', f);
	fputc('"', f);
	if (n < len)
		fputs("...", f);
}

/* The node's name for @id in @img, or "-". */
static const char *node_of(const struct snapchan_image *img, uint64_t id)
{
	struct snapchan_image_node_view nv;
	size_t i;

	if (!id)
		return "-";
	for (i = 0; i < snapchan_image_node_count(img); i++) {
		snapchan_image_node(img, i, &nv);
		if (nv.id == id)
			return nv.name;
	}
	return "?";
}

void print_image_text(FILE *f, const struct snapchan_image *img,
		      unsigned int flags)
{
	struct snapchan_image_header_view h;
	size_t i, nn = snapchan_image_node_count(img);
	size_t nc = snapchan_image_chan_count(img);
	uint64_t data = 0, markers = 0, bytes = 0, state = 0, j;

	snapchan_image_header(img, &h);
	for (i = 0; i < nn; i++) {
		struct snapchan_image_node_view nv;

		snapchan_image_node(img, i, &nv);
		state += nv.state_len;
	}
	for (i = 0; i < nc; i++) {
		struct snapchan_image_chan_view cv;

		snapchan_image_chan(img, i, &cv);
		bytes += cv.record_bytes;
		for (j = 0; j < cv.record_count; j++) {
			struct snapchan_image_record_view rv;

			snapchan_image_record(img, i, j, &rv);
			if (rv.type == SNAPCHAN_REC_DATA)
				data++;
			else
				markers++;
		}
	}

	if (h.kind == SNAPCHAN_IMG_KIND_SNAPSHOT)
		fprintf(f, "image:     snapshot %" PRIu64 " of group \"%s\"\n",
			h.snap_id, h.group);
	else
		fprintf(f, "image:     %s%s%s\n", kind_name(h.kind),
			*h.group ? " in group " : "", h.group);
	fprintf(f, "format:    version %u, %" PRIu64 " bytes, crc32c 0x%08x (verified)\n",
		h.version, h.total_len, h.crc32c);
	if (h.kind == SNAPCHAN_IMG_KIND_SNAPSHOT)
		fprintf(f, "epoch:     %" PRIu64 "\n", h.epoch);
	fprintf(f, "time:      %" PRIu64 " .. %" PRIu64 " ns (CLOCK_MONOTONIC), took %.3f ms\n",
		h.begin_ns, h.end_ns,
		h.end_ns > h.begin_ns ? (double)(h.end_ns - h.begin_ns) / 1e6 : 0.0);
	fprintf(f, "nodes:     %zu, %" PRIu64 " bytes of state\n", nn, state);
	fprintf(f, "channels:  %zu, %" PRIu64 " data records (%" PRIu64 " bytes) and %" PRIu64 " markers in their states\n",
		nc, data, bytes, markers);

	if (nn) {
		fprintf(f, "\n%-6s %-31s %12s\n", "NODE", "NAME", "STATE");
		for (i = 0; i < nn; i++) {
			struct snapchan_image_node_view nv;

			snapchan_image_node(img, i, &nv);
			fprintf(f, "%-6" PRIu64 " %-31s %12" PRIu64 "\n", nv.id,
				nv.name, nv.state_len);
			if ((flags & PRINT_PAYLOAD) && nv.state_len)
				hexdump(f, nv.state, (size_t)nv.state_len,
					"         ");
		}
	}
	if (nc) {
		fprintf(f, "\n%-24s %-10s %-10s %10s %10s %8s %10s %10s %8s %5s %s\n",
			"CHANNEL", "SENDER", "RECEIVER", "FIRST_SEQ", "NEXT_SEQ",
			"RECORDS", "BYTES", "CAP_BYTES", "CAP_MSGS", "MODE",
			"FLAGS");
		for (i = 0; i < nc; i++) {
			struct snapchan_image_chan_view cv;

			snapchan_image_chan(img, i, &cv);
			fprintf(f, "%-24s %-10s %-10s %10" PRIu64 " %10" PRIu64 " %8" PRIu64 " %10" PRIu64 " %10" PRIu64 " %8u %04o %s\n",
				cv.name, node_of(img, cv.sender_node),
				node_of(img, cv.receiver_node), cv.first_seq,
				cv.next_seq, cv.record_count, cv.record_bytes,
				cv.capacity_bytes, cv.capacity_msgs, cv.mode,
				cv.flags & SNAPCHAN_CHAN_F_EOF ? "eof" : "-");
			if (!(flags & (PRINT_RECORDS | PRINT_PAYLOAD)))
				continue;
			for (j = 0; j < cv.record_count; j++) {
				struct snapchan_image_record_view rv;

				snapchan_image_record(img, i, j, &rv);
				if (rv.type == SNAPCHAN_REC_MARKER) {
					fprintf(f, "    marker of snapshot %" PRIu64 " from node %" PRIu64 "\n",
						rv.snap_id, rv.origin);
					continue;
				}
				fprintf(f, "    seq %-10" PRIu64 " %6u bytes  ",
					rv.seq, rv.len);
				preview(f, rv.payload, rv.len);
				fputc('\n', f);
				if (flags & PRINT_PAYLOAD)
					hexdump(f, rv.payload, rv.len, "      ");
			}
		}
	}
}

void print_image_json(FILE *f, const struct snapchan_image *img,
		      unsigned int flags)
{
	struct snapchan_image_header_view h;
	size_t i, nn = snapchan_image_node_count(img);
	size_t nc = snapchan_image_chan_count(img);
	struct json j;
	char mode[8];
	uint64_t k;

	snapchan_image_header(img, &h);
	json_init(&j, f);
	json_obj_begin(&j, NULL);
	json_str(&j, "kind", kind_name(h.kind));
	json_u64(&j, "version", h.version);
	json_u64(&j, "snap_id", h.snap_id);
	json_str(&j, "group", h.group);
	json_u64(&j, "epoch", h.epoch);
	json_u64(&j, "begin_ns", h.begin_ns);
	json_u64(&j, "end_ns", h.end_ns);
	json_u64(&j, "total_len", h.total_len);
	json_u64(&j, "crc32c", h.crc32c);
	json_u64(&j, "node_count", h.node_count);
	json_u64(&j, "chan_count", h.chan_count);
	json_u64(&j, "record_count", h.record_count);

	json_arr_begin(&j, "nodes");
	for (i = 0; i < nn; i++) {
		struct snapchan_image_node_view nv;

		snapchan_image_node(img, i, &nv);
		json_obj_begin(&j, NULL);
		json_u64(&j, "id", nv.id);
		json_str(&j, "name", nv.name);
		json_u64(&j, "state_len", nv.state_len);
		if (flags & PRINT_PAYLOAD)
			json_hex(&j, "state", nv.state, (size_t)nv.state_len);
		json_obj_end(&j);
	}
	json_arr_end(&j);

	json_arr_begin(&j, "channels");
	for (i = 0; i < nc; i++) {
		struct snapchan_image_chan_view cv;

		snapchan_image_chan(img, i, &cv);
		json_obj_begin(&j, NULL);
		json_u64(&j, "id", cv.id);
		json_str(&j, "name", cv.name);
		json_str(&j, "group", cv.group);
		json_u64(&j, "capacity_bytes", cv.capacity_bytes);
		json_u64(&j, "capacity_msgs", cv.capacity_msgs);
		json_u64(&j, "max_msg", cv.max_msg);
		json_u64(&j, "flags", cv.flags);
		snprintf(mode, sizeof(mode), "%04o", cv.mode & 07777);
		json_str(&j, "mode", mode);
		json_u64(&j, "sender_node", cv.sender_node);
		json_u64(&j, "receiver_node", cv.receiver_node);
		json_u64(&j, "first_seq", cv.first_seq);
		json_u64(&j, "next_seq", cv.next_seq);
		json_u64(&j, "record_count", cv.record_count);
		json_u64(&j, "record_bytes", cv.record_bytes);
		json_arr_begin(&j, "records");
		for (k = 0; k < cv.record_count; k++) {
			struct snapchan_image_record_view rv;

			snapchan_image_record(img, i, k, &rv);
			json_obj_begin(&j, NULL);
			if (rv.type == SNAPCHAN_REC_MARKER) {
				json_str(&j, "type", "marker");
				json_u64(&j, "snap_id", rv.snap_id);
				json_u64(&j, "origin", rv.origin);
			} else {
				json_str(&j, "type", "data");
				json_u64(&j, "seq", rv.seq);
				json_u64(&j, "len", rv.len);
				if (flags & PRINT_PAYLOAD)
					json_hex(&j, "payload", rv.payload,
						 rv.len);
			}
			json_obj_end(&j);
		}
		json_arr_end(&j);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_obj_end(&j);
	json_end(&j);
}
