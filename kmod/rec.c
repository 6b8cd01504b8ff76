// SPDX-License-Identifier: GPL-2.0
/*
 * snapchan records: the unit every queue, capture and snapshot recording
 * holds.  A record is allocated and filled before it is enqueued, is
 * immutable once queued and is shared by reference, so a consumed record
 * lives on while a capture or a recording needs it.
 *
 * Spares: a channel keeps consumed DATA records whose last reference went
 * (struct snapchan_chan, @spares) for the next write of the same size
 * class, as a pipe keeps its tmp_page.  @spare_lock is a spinlock taken
 * for a list operation only; no user copy or allocation happens under it.
 */

#include <linux/slab.h>
#include <kunit/visibility.h>

#include "snapchan.h"

/* Payloads that would take a record past a page get their own buffer. */
static bool snapchan_rec_is_ext(u32 len)
{
	return SNAPCHAN_REC_HDR + (size_t)len > PAGE_SIZE;
}

/*
 * The allocation a record of @len payload bytes needs, as the allocator
 * rounds it: two records of the same class can stand in for each other.
 */
static size_t snapchan_rec_class(u32 len)
{
	if (snapchan_rec_is_ext(len))
		return kmalloc_size_roundup(len);
	return kmalloc_size_roundup(SNAPCHAN_REC_HDR + len);
}

void snapchan_rec_free(struct snapchan_rec *rec)
{
	if (rec->ext)
		kvfree(rec->ext_data);
	kfree(rec);
}

/* (Re)initialise the header of a record that is about to be filled. */
static void snapchan_rec_init(struct snapchan_rec *rec, u32 type, u32 len)
{
	refcount_set(&rec->ref, 1);
	rec->type = type;
	rec->len = len;
	rec->seq = 0;
}

/**
 * snapchan_rec_alloc_data() - allocate a DATA record with room for @len bytes
 * @len: payload length; the caller fills snapchan_rec_data(rec).
 *
 * Not zeroed beyond the header: the caller overwrites every payload byte
 * before the record is visible to anyone.
 *
 * Return: the record with one reference, or NULL.
 */
struct snapchan_rec *snapchan_rec_alloc_data(u32 len)
{
	bool ext = snapchan_rec_is_ext(len);
	struct snapchan_rec *rec;

	/*
	 * Ask for the whole size class, which costs nothing more: a spare can
	 * then take any payload of its class (and KASAN knows it may).
	 */
	rec = kmalloc(ext ? sizeof(*rec) : snapchan_rec_class(len),
		      GFP_KERNEL_ACCOUNT);
	if (!rec)
		return NULL;
	rec->ext = ext;
	if (ext) {
		rec->ext_data = kvmalloc(snapchan_rec_class(len),
					 GFP_KERNEL_ACCOUNT);
		if (!rec->ext_data)
			goto out_free_rec;
	}
	INIT_LIST_HEAD(&rec->link);
	snapchan_rec_init(rec, SNAPCHAN_REC_DATA, len);
	return rec;

out_free_rec:
	kfree(rec);
	return NULL;
}
EXPORT_SYMBOL_IF_KUNIT(snapchan_rec_alloc_data);

/**
 * snapchan_rec_alloc_marker() - allocate a MARKER record
 * @snap_id: marker id.
 * @origin: id of the node that placed it, 0 for a user MARK.
 *
 * Return: the record with one reference, or NULL.
 */
struct snapchan_rec *snapchan_rec_alloc_marker(u64 snap_id, u64 origin)
{
	struct snapchan_rec *rec;

	rec = kmalloc(sizeof(*rec), GFP_KERNEL_ACCOUNT);
	if (!rec)
		return NULL;
	INIT_LIST_HEAD(&rec->link);
	rec->ext = 0;
	snapchan_rec_init(rec, SNAPCHAN_REC_MARKER, 0);
	rec->mark.snap_id = snap_id;
	rec->mark.origin = origin;
	return rec;
}
EXPORT_SYMBOL_IF_KUNIT(snapchan_rec_alloc_marker);

void snapchan_rec_put(struct snapchan_rec *rec)
{
	if (rec && refcount_dec_and_test(&rec->ref))
		snapchan_rec_free(rec);
}
EXPORT_SYMBOL_IF_KUNIT(snapchan_rec_put);

/**
 * snapchan_chan_rec_alloc() - a DATA record for a write to @chan
 * @chan: the channel the record is for.
 * @len: payload length.
 *
 * Reuses a record the channel's readers consumed when the most recent
 * spare is of the same size class, which saves the allocation, its zeroing
 * and its memcg charge on every message of a steady stream; a spare of
 * another class is freed (the spares follow the sizes being written).
 *
 * Return: the record with one reference, or NULL.
 */
struct snapchan_rec *snapchan_chan_rec_alloc(struct snapchan_chan *chan,
					     u32 len)
{
	struct snapchan_rec *rec = NULL;

	if (list_empty_careful(&chan->spares))
		return snapchan_rec_alloc_data(len);
	spin_lock(&chan->spare_lock);
	rec = list_first_entry_or_null(&chan->spares, struct snapchan_rec,
				       link);
	if (rec) {
		list_del(&rec->link);
		chan->nr_spares--;
		chan->spare_bytes -= rec->len;
	}
	spin_unlock(&chan->spare_lock);
	if (!rec)
		return snapchan_rec_alloc_data(len);
	if (rec->len != len &&
	    (rec->ext != snapchan_rec_is_ext(len) ||
	     snapchan_rec_class(rec->len) != snapchan_rec_class(len))) {
		snapchan_rec_free(rec);
		return snapchan_rec_alloc_data(len);
	}
	snapchan_rec_init(rec, SNAPCHAN_REC_DATA, len);
	return rec;
}
EXPORT_SYMBOL_IF_KUNIT(snapchan_chan_rec_alloc);

/*
 * Whether @chan may keep one more spare of @len payload bytes: queued and
 * spare records together stay within what a full queue holds (messages
 * and payload bytes, as the capacity counts them), and within
 * SNAPCHAN_SPARE_MAX_BYTES.
 */
static bool snapchan_spare_room(struct snapchan_chan *chan, u32 len)
{
	lockdep_assert_held(&chan->spare_lock);
	return chan->nr_spares + READ_ONCE(chan->depth_msgs) <
		       chan->cfg.capacity_msgs &&
	       chan->spare_bytes + READ_ONCE(chan->depth_bytes) + len <=
		       chan->cfg.capacity_bytes &&
	       chan->spare_bytes + len <= SNAPCHAN_SPARE_MAX_BYTES;
}

/**
 * snapchan_chan_rec_put() - drop a reference to a record consumed from @chan
 * @chan: the channel the record was queued on.
 * @rec: a record, or NULL.
 *
 * The last reference to a DATA record keeps it as one of the channel's
 * spares while there is room (snapchan_spare_room()); anything else is
 * freed.
 */
void snapchan_chan_rec_put(struct snapchan_chan *chan,
			   struct snapchan_rec *rec)
{
	if (!rec || !refcount_dec_and_test(&rec->ref))
		return;
	if (rec->type == SNAPCHAN_REC_DATA && !READ_ONCE(chan->dead)) {
		spin_lock(&chan->spare_lock);
		if (snapchan_spare_room(chan, rec->len)) {
			list_add(&rec->link, &chan->spares);
			chan->nr_spares++;
			chan->spare_bytes += rec->len;
			rec = NULL;
		}
		spin_unlock(&chan->spare_lock);
	}
	if (rec)
		snapchan_rec_free(rec);
}
EXPORT_SYMBOL_IF_KUNIT(snapchan_chan_rec_put);

