// SPDX-License-Identifier: GPL-2.0
/*
 * snapchan captures: SNAPCHAN_IOC_CAPTURE takes, atomically and without
 * consuming anything, a reference to every record buffered in a channel,
 * and returns an fd whose read() streams them as an image (kind CAPTURE:
 * no node, one channel section).  No payload is copied and no traffic is
 * stopped: the channel lock is held only while the references are taken.
 *
 * Open captures may keep consumed records alive, so the memory they can
 * hold is bounded (max_captures, max_capture_mbytes) and charged: records
 * were allocated with GFP_KERNEL_ACCOUNT by their writers, the capture's
 * own array is charged to the caller.
 */

#include <linux/anon_inodes.h>
#include <linux/cred.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <kunit/visibility.h>

#include "snapchan.h"

static atomic_t snapchan_nr_captures = ATOMIC_INIT(0);
static atomic64_t snapchan_capture_held = ATOMIC64_INIT(0);

/*
 * Charge @cap's bytes and one capture to the global budget and one capture
 * to the calling user's count, or -ENOBUFS.
 */
static int snapchan_capture_charge(struct snapchan_cap *cap)
{
	u64 limit = (u64)READ_ONCE(snapchan_limits.max_capture_mbytes) << 20;
	int ret = -ENOBUFS;

	if (atomic_inc_return(&snapchan_nr_captures) >
	    READ_ONCE(snapchan_limits.max_captures))
		goto out_uncount;
	if (atomic64_add_return(cap->held, &snapchan_capture_held) > limit)
		goto out_unhold;
	cap->uid = current_euid();
	ret = snapchan_user_charge(&snapchan_capture_users, cap->uid,
				   READ_ONCE(snapchan_limits.max_captures_per_user));
	if (ret == -ENOSPC)
		ret = -ENOBUFS;		/* the capture limits' errno */
	if (ret)
		goto out_unhold;
	return 0;

out_unhold:
	atomic64_sub(cap->held, &snapchan_capture_held);
out_uncount:
	atomic_dec(&snapchan_nr_captures);
	return ret;
}

static void snapchan_capture_uncharge(struct snapchan_cap *cap)
{
	snapchan_user_uncharge(&snapchan_capture_users, cap->uid);
	atomic64_sub(cap->held, &snapchan_capture_held);
	atomic_dec(&snapchan_nr_captures);
}

/**
 * snapchan_cap_take() - reference every record queued in @chan now
 * @chan: the channel, unlocked.
 *
 * Return: the capture (not yet charged to the budget), or an ERR_PTR:
 * -ENODEV for a dead channel, -ENOMEM.
 */
struct snapchan_cap *snapchan_cap_take(struct snapchan_chan *chan)
{
	struct snapchan_cap *cap;
	struct snapchan_rec *rec;
	u32 room, n;
	u64 next_seq, now;

	/* Allocate before locking; retry in the rare case the queue grew. */
	room = READ_ONCE(chan->depth_msgs) + READ_ONCE(chan->markers) + 16;
	for (;;) {
		cap = kvzalloc(struct_size(cap, recs, room), GFP_KERNEL_ACCOUNT);
		if (!cap)
			return ERR_PTR(-ENOMEM);
		mutex_lock(&chan->lock);
		if (chan->dead) {
			mutex_unlock(&chan->lock);
			kvfree(cap);
			return ERR_PTR(-ENODEV);
		}
		n = chan->depth_msgs + chan->markers;
		if (n <= room)
			break;
		mutex_unlock(&chan->lock);
		kvfree(cap);
		room = n + 16;
	}
	n = 0;
	list_for_each_entry(rec, &chan->queue, link) {
		cap->recs[n++] = snapchan_rec_get(rec);
		if (rec->type == SNAPCHAN_REC_DATA) {
			if (!cap->first_seq)
				cap->first_seq = rec->seq;
			cap->last_seq = rec->seq;
			cap->bytes += rec->len;
		} else {
			cap->markers++;
		}
	}
	next_seq = chan->next_seq;
	mutex_unlock(&chan->lock);

	cap->count = n;
	mutex_init(&cap->read_lock);
	cap->chan.recs = cap->recs;
	cap->chan.nr_recs = n;
	snapchan_img_chan_desc(chan, &cap->chan.desc, cap->recs, n, next_seq);

	now = ktime_get_ns();
	cap->src.chans = &cap->chan;
	cap->src.nr_chans = 1;
	cap->src.hdr.magic = cpu_to_le32(SNAPCHAN_IMG_MAGIC);
	cap->src.hdr.version = cpu_to_le16(SNAPCHAN_IMG_VERSION);
	cap->src.hdr.kind = cpu_to_le16(SNAPCHAN_IMG_KIND_CAPTURE);
	cap->src.hdr.header_len = cpu_to_le32(sizeof(cap->src.hdr));
	memcpy(cap->src.hdr.group, chan->cfg.group, SNAPCHAN_NAME_LEN);
	cap->src.hdr.begin_ns = cpu_to_le64(now);
	cap->src.hdr.end_ns = cpu_to_le64(now);
	cap->src.hdr.chan_count = cpu_to_le32(1);
	cap->src.hdr.record_count = cpu_to_le64(n);
	cap->src.hdr.total_len = cpu_to_le64(snapchan_img_len(&cap->src));
	snapchan_img_reader_init(&cap->reader, &cap->src);
	/* Everything the capture may keep alive: records and their headers. */
	cap->held = cap->bytes + n * sizeof(struct snapchan_rec) +
		    struct_size(cap, recs, room);
	return cap;
}
EXPORT_SYMBOL_IF_KUNIT(snapchan_cap_take);

/**
 * snapchan_cap_free() - drop a capture's references and free it
 * @cap: the capture; not charged (or already uncharged).
 */
void snapchan_cap_free(struct snapchan_cap *cap)
{
	u64 i;

	for (i = 0; i < cap->count; i++)
		snapchan_rec_put(cap->recs[i]);
	snapchan_img_reader_release(&cap->reader);
	mutex_destroy(&cap->read_lock);
	kvfree(cap);
}
EXPORT_SYMBOL_IF_KUNIT(snapchan_cap_free);

static ssize_t snapchan_capture_read_iter(struct kiocb *iocb,
					  struct iov_iter *to)
{
	struct snapchan_cap *cap = iocb->ki_filp->private_data;
	ssize_t ret;

	if (mutex_lock_interruptible(&cap->read_lock))
		return -ERESTARTSYS;
	ret = snapchan_img_read(&cap->reader, to);
	mutex_unlock(&cap->read_lock);
	return ret;
}

static int snapchan_capture_release(struct inode *inode, struct file *file)
{
	struct snapchan_cap *cap = file->private_data;

	snapchan_capture_uncharge(cap);
	snapchan_cap_free(cap);
	return 0;
}

static const struct file_operations snapchan_capture_fops = {
	.owner		= THIS_MODULE,
	.read_iter	= snapchan_capture_read_iter,
	.release	= snapchan_capture_release,
	.llseek		= no_llseek,
};

/**
 * snapchan_capture_ioctl() - SNAPCHAN_IOC_CAPTURE on a channel end
 * @chan: the channel.
 * @argp: user pointer to struct snapchan_capture.
 *
 * Return: the capture fd; -EFAULT, -EINVAL (flags or reserved fields),
 * -ENODEV (destroyed channel), -ENOBUFS (capture budget), -ENOMEM,
 * -EMFILE/-ENFILE.
 */
long snapchan_capture_ioctl(struct snapchan_chan *chan, void __user *argp)
{
	struct snapchan_capture arg;
	struct snapchan_cap *cap;
	struct file *file;
	int fd, ret;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if (arg.flags || arg.reserved[0] || arg.reserved[1])
		return -EINVAL;

	cap = snapchan_cap_take(chan);
	if (IS_ERR(cap))
		return PTR_ERR(cap);
	ret = snapchan_capture_charge(cap);
	if (ret)
		goto out_free_cap;

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		ret = fd;
		goto out_uncharge;
	}
	file = anon_inode_getfile("[snapchan-capture]", &snapchan_capture_fops,
				  cap, O_RDONLY | O_CLOEXEC);
	if (IS_ERR(file)) {
		ret = PTR_ERR(file);
		goto out_put_fd;
	}
	file->f_mode |= FMODE_STREAM;

	arg.fd = fd;
	arg.count = cap->count;
	arg.bytes = cap->bytes;
	arg.first_seq = cap->first_seq;
	arg.last_seq = cap->last_seq;
	arg.markers = cap->markers;
	arg.stream_len = le64_to_cpu(cap->src.hdr.total_len);
	if (copy_to_user(argp, &arg, sizeof(arg))) {
		/* The file owns the capture now: fput releases it. */
		put_unused_fd(fd);
		fput(file);
		return -EFAULT;
	}
	fd_install(fd, file);
	return fd;

out_put_fd:
	put_unused_fd(fd);
out_uncharge:
	snapchan_capture_uncharge(cap);
out_free_cap:
	snapchan_cap_free(cap);
	return ret;
}
