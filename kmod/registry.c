// SPDX-License-Identifier: GPL-2.0
/*
 * snapchan registry: the channels that exist, by name and by minor
 * number, their configuration checks, their devices (/dev/snapchan/<name>)
 * and sysfs attributes, and the control operations on them (create,
 * destroy, info, list).  The queue and the data path are in chan.c.
 *
 * Locking: snapchan_chans_lock (mutex) guards the list of live channels,
 * the minor map, the next minor and device creation/removal.  It is an
 * outer lock for nothing: no path takes another lock under it except the
 * device core's, and it is never held across a user copy or a wait on a
 * channel, so no channel's user can delay another user's open, create,
 * destroy, info or list by more than a list walk.  In the lock order of
 * snap.c it comes after node->io_lock (destroy holds the group lock).
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cred.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/slab.h>
#include <linux/xarray.h>
#include <kunit/visibility.h>

#include "snapchan.h"

#define SNAPCHAN_MINORS		4096

static DEFINE_MUTEX(snapchan_chans_lock);
static LIST_HEAD(snapchan_chans);
static unsigned int snapchan_nr_chans;
static DEFINE_XARRAY_ALLOC(snapchan_minor_map);
static u32 snapchan_next_minor;
static dev_t snapchan_devt;
static struct cdev snapchan_cdev;
static struct class *snapchan_class;

/* --- configuration ------------------------------------------------------ */

/**
 * snapchan_name_check() - validate a name field
 * @name: a SNAPCHAN_NAME_LEN byte field from user space.
 * @allow_empty: whether "" is acceptable (a standalone channel's group).
 *
 * Return: 0, or -EINVAL unless @name is 1..31 characters of
 * [A-Za-z0-9._-], NUL-terminated, and neither "." nor "..".
 */
int snapchan_name_check(const char *name, bool allow_empty)
{
	size_t len = strnlen(name, SNAPCHAN_NAME_LEN);
	size_t i;

	if (len == SNAPCHAN_NAME_LEN)
		return -EINVAL;
	if (len == 0) {
		if (!allow_empty)
			return -EINVAL;
		/* Bytes after the terminator never reach a copy. */
		memset((char *)name, 0, SNAPCHAN_NAME_LEN);
		return 0;
	}
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return -EINVAL;
	for (i = 0; i < len; i++) {
		char c = name[i];

		/* ASCII only: the kernel's isalnum() also takes Latin-1. */
		if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') &&
		    !(c >= '0' && c <= '9') && c != '.' && c != '_' && c != '-')
			return -EINVAL;
	}
	/* Bytes after the terminator are ignored; keep them out of copies. */
	memset((char *)name + len, 0, SNAPCHAN_NAME_LEN - len);
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(snapchan_name_check);

/**
 * snapchan_chan_cfg_check() - validate a channel configuration and fill in
 *			       the defaults
 * @cfg: the configuration; zero fields are replaced by the defaults.
 *
 * Return: 0 or -EINVAL.
 */
int snapchan_chan_cfg_check(struct snapchan_chan_cfg *cfg)
{
	const struct snapchan_limits *lim = &snapchan_limits;

	if (snapchan_name_check(cfg->name, false) ||
	    !strcmp(cfg->name, "control"))
		return -EINVAL;
	if (snapchan_name_check(cfg->group, true))
		return -EINVAL;
	if (cfg->flags & ~SNAPCHAN_CHAN_F_ALL)
		return -EINVAL;
	if (cfg->mode & ~0666U)
		return -EINVAL;
	if (!cfg->mode)
		cfg->mode = 0600;

	if (!cfg->max_msg) {
		/* A default that fits the capacity asked for, or allowed. */
		cfg->max_msg = min(READ_ONCE(lim->default_max_msg),
				   READ_ONCE(lim->max_msg_size));
		cfg->max_msg = min_t(u64, cfg->max_msg,
				     cfg->capacity_bytes ? :
				     READ_ONCE(lim->max_capacity_bytes));
	}
	if (cfg->max_msg > READ_ONCE(lim->max_msg_size))
		return -EINVAL;

	if (!cfg->capacity_msgs)
		cfg->capacity_msgs = min(READ_ONCE(lim->default_capacity_msgs),
					 READ_ONCE(lim->max_capacity_msgs));
	if (cfg->capacity_msgs > READ_ONCE(lim->max_capacity_msgs))
		return -EINVAL;

	if (!cfg->capacity_bytes)
		cfg->capacity_bytes =
			max(cfg->max_msg,
			    min(READ_ONCE(lim->default_capacity_bytes),
				READ_ONCE(lim->max_capacity_bytes)));
	if (cfg->capacity_bytes > READ_ONCE(lim->max_capacity_bytes) ||
	    cfg->capacity_bytes < cfg->max_msg)
		return -EINVAL;

	/* Sequence numbers never wrap (0 means "none" in images). */
	if (cfg->first_seq > SNAPCHAN_SEQ_MAX)
		return -EINVAL;
	if (!cfg->first_seq)
		cfg->first_seq = 1;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(snapchan_chan_cfg_check);

/* --- sysfs ---------------------------------------------------------------- */

#define SNAPCHAN_ATTR(_name, _fmt, _expr)				\
static ssize_t _name##_show(struct device *dev,				\
			    struct device_attribute *attr, char *buf)	\
{									\
	struct snapchan_chan *chan = dev_get_drvdata(dev);		\
									\
	return sysfs_emit(buf, _fmt "\n", _expr);			\
}									\
static DEVICE_ATTR_RO(_name)

SNAPCHAN_ATTR(chan_id, "%llu", chan->id);
SNAPCHAN_ATTR(group, "%s", chan->cfg.group);
SNAPCHAN_ATTR(capacity_bytes, "%llu", chan->cfg.capacity_bytes);
SNAPCHAN_ATTR(capacity_msgs, "%u", chan->cfg.capacity_msgs);
SNAPCHAN_ATTR(max_msg, "%u", chan->cfg.max_msg);
SNAPCHAN_ATTR(flags, "%#x", chan->cfg.flags);
SNAPCHAN_ATTR(first_seq, "%llu", chan->cfg.first_seq);
SNAPCHAN_ATTR(depth_msgs, "%u", READ_ONCE(chan->depth_msgs));
SNAPCHAN_ATTR(depth_bytes, "%llu", READ_ONCE(chan->depth_bytes));
SNAPCHAN_ATTR(markers_queued, "%u", READ_ONCE(chan->markers));
SNAPCHAN_ATTR(total_sent, "%llu", READ_ONCE(chan->total_sent));
SNAPCHAN_ATTR(total_received, "%llu", READ_ONCE(chan->total_received));
SNAPCHAN_ATTR(next_seq, "%llu", READ_ONCE(chan->next_seq));
SNAPCHAN_ATTR(readers, "%u", READ_ONCE(chan->readers));
SNAPCHAN_ATTR(writers, "%u", READ_ONCE(chan->writers));

static struct attribute *snapchan_chan_attrs[] = {
	&dev_attr_chan_id.attr,
	&dev_attr_group.attr,
	&dev_attr_capacity_bytes.attr,
	&dev_attr_capacity_msgs.attr,
	&dev_attr_max_msg.attr,
	&dev_attr_flags.attr,
	&dev_attr_first_seq.attr,
	&dev_attr_depth_msgs.attr,
	&dev_attr_depth_bytes.attr,
	&dev_attr_markers_queued.attr,
	&dev_attr_total_sent.attr,
	&dev_attr_total_received.attr,
	&dev_attr_next_seq.attr,
	&dev_attr_readers.attr,
	&dev_attr_writers.attr,
	NULL
};
ATTRIBUTE_GROUPS(snapchan_chan);

static char *snapchan_chan_devnode(struct device *dev, umode_t *mode,
				   kuid_t *uid, kgid_t *gid)
{
	struct snapchan_chan *chan = dev_get_drvdata(dev);

	if (mode)
		*mode = chan->cfg.mode;
	if (uid)
		*uid = chan->cfg.uid;
	if (gid)
		*gid = chan->cfg.gid;
	/*
	 * devtmpfs cannot be told this failed: it would fall back to the
	 * bare name, /dev/<name>, on create and leave the node behind on
	 * delete.  A few dozen bytes: do not fail.
	 */
	return kasprintf(GFP_KERNEL | __GFP_NOFAIL, "snapchan/%s",
			 chan->cfg.name);
}

static void snapchan_dev_release(struct device *dev)
{
	kfree(dev);
}

static const struct device_type snapchan_chan_type = {
	.name		= "snapchan_channel",
	.devnode	= snapchan_chan_devnode,
};

/* --- registry --------------------------------------------------------------- */

static struct snapchan_chan *snapchan_chan_find(const char *name)
{
	struct snapchan_chan *chan;

	lockdep_assert_held(&snapchan_chans_lock);
	list_for_each_entry(chan, &snapchan_chans, list)
		if (!strcmp(chan->cfg.name, name))
			return chan;
	return NULL;
}

static unsigned int snapchan_chans_of(kuid_t uid)
{
	struct snapchan_chan *chan;
	unsigned int n = 0;

	lockdep_assert_held(&snapchan_chans_lock);
	list_for_each_entry(chan, &snapchan_chans, list)
		if (uid_eq(chan->cfg.uid, uid))
			n++;
	return n;
}

/**
 * snapchan_chan_create() - create and register a channel and its device
 * @cfg: configuration (validated here; defaults filled in).
 * @flags: SNAPCHAN_TOPO_F_ABORT or 0: what to do about running snapshots
 *	   of the channel's group.
 * @id: out: the channel id.
 *
 * Return: 0; -EINVAL for a bad configuration, -EEXIST for a name in use,
 * -ENOSPC past max_channels or max_channels_per_user, -EPERM for a group
 * that belongs to another user, -ERESTARTSYS, -ENOMEM.
 */
int snapchan_chan_create(struct snapchan_chan_cfg *cfg, u32 flags, u64 *id)
{
	struct snapchan_group *group = NULL;
	struct snapchan_chan *chan;
	struct device *dev;
	u32 minor;
	int ret;

	ret = snapchan_chan_cfg_check(cfg);
	if (ret)
		return ret;
	if (cfg->group[0]) {
		group = snapchan_group_get_or_create(cfg->group, true);
		if (IS_ERR(group))
			return PTR_ERR(group);
		ret = snapchan_group_may_use(group);
		if (ret)
			goto out_put_group;
	}
	chan = snapchan_chan_alloc(cfg);
	if (!chan) {
		ret = -ENOMEM;
		goto out_put_group;
	}
	if (group) {
		ret = snapchan_group_topo_lock(group, flags);
		if (ret)
			goto out_put_chan;
		/*
		 * Set before the channel is visible: a racing destroy must see
		 * the group and wait on its lock until we have linked it.
		 */
		chan->group = group;
	}

	mutex_lock(&snapchan_chans_lock);
	if (snapchan_chan_find(cfg->name)) {
		ret = -EEXIST;
		goto out_unlock;
	}
	if (snapchan_nr_chans >= READ_ONCE(snapchan_limits.max_channels) ||
	    snapchan_chans_of(cfg->uid) >=
	    READ_ONCE(snapchan_limits.max_channels_per_user)) {
		ret = -ENOSPC;
		goto out_unlock;
	}
	/*
	 * Cyclic, not lowest-first: a stale device node (a mknod'd copy that
	 * devtmpfs does not remove) should not reach the next channel at once.
	 */
	ret = xa_alloc_cyclic(&snapchan_minor_map, &minor, chan,
			      XA_LIMIT(0, SNAPCHAN_MINORS - 1),
			      &snapchan_next_minor, GFP_KERNEL);
	if (ret == -EBUSY)
		ret = -ENOSPC;
	if (ret < 0)
		goto out_unlock;
	chan->minor = minor;

	dev = kzalloc(sizeof(*dev), GFP_KERNEL);
	if (!dev) {
		ret = -ENOMEM;
		goto out_erase_minor;
	}
	device_initialize(dev);
	dev->class = snapchan_class;
	dev->type = &snapchan_chan_type;
	dev->devt = MKDEV(MAJOR(snapchan_devt), minor);
	dev->groups = snapchan_chan_groups;
	dev->release = snapchan_dev_release;
	dev_set_drvdata(dev, chan);
	ret = dev_set_name(dev, "%s", cfg->name);
	if (!ret)
		ret = device_add(dev);
	if (ret)
		goto out_put_device;
	chan->dev = dev;
	chan->registered = true;
	list_add_tail(&chan->list, &snapchan_chans);
	snapchan_nr_chans++;
	*id = chan->id;
	mutex_unlock(&snapchan_chans_lock);
	if (group) {
		/* The channel owns the group reference from here. */
		list_add_tail(&chan->group_link, &group->chans);
		snapchan_group_topo_unlock(group, true);
	}
	return 0;

out_put_device:
	put_device(dev);
out_erase_minor:
	xa_erase(&snapchan_minor_map, minor);
out_unlock:
	mutex_unlock(&snapchan_chans_lock);
	if (group) {
		chan->group = NULL;	/* the reference is put below */
		snapchan_group_topo_unlock(group, false);
	}
out_put_chan:
	snapchan_chan_put(chan);
out_put_group:
	snapchan_group_put(group);
	return ret;
}

/* Take a channel out of the registry; the caller then kills and puts it. */
static void snapchan_chan_unregister(struct snapchan_chan *chan)
{
	lockdep_assert_held(&snapchan_chans_lock);
	list_del_init(&chan->list);
	snapchan_nr_chans--;
	xa_erase(&snapchan_minor_map, chan->minor);
	device_unregister(chan->dev);
	chan->dev = NULL;
	chan->registered = false;
}

/*
 * Unregister @chan (referenced by the caller), take it out of its group
 * and kill it.  Returns -ENOENT if somebody else removed it first.
 */
static int snapchan_chan_remove(struct snapchan_chan *chan, u32 flags)
{
	struct snapchan_group *group = chan->group;
	bool registered;
	int ret;

	if (group) {
		ret = snapchan_group_topo_lock(group, flags);
		if (ret)
			return ret;
	}
	mutex_lock(&snapchan_chans_lock);
	registered = chan->registered;
	if (registered)
		snapchan_chan_unregister(chan);
	mutex_unlock(&snapchan_chans_lock);
	if (group) {
		if (registered)
			list_del_init(&chan->group_link);
		snapchan_group_topo_unlock(group, registered);
	}
	if (!registered)
		return -ENOENT;
	snapchan_chan_kill(chan);
	snapchan_chan_put(chan);	/* the registry's reference */
	return 0;
}

/**
 * snapchan_chan_destroy() - destroy a channel by name
 * @name: a checked name.
 * @flags: SNAPCHAN_TOPO_F_ABORT or 0 (wait for running snapshots).
 *
 * Open handles stay valid and see the channel dead; the memory goes with
 * the last one.
 *
 * Return: 0; -ENOENT if there is no such channel; -EPERM unless the caller
 * owns it or has CAP_SYS_ADMIN; -ERESTARTSYS.
 */
int snapchan_chan_destroy(const char *name, u32 flags)
{
	struct snapchan_chan *chan;
	int ret;

	mutex_lock(&snapchan_chans_lock);
	chan = snapchan_chan_find(name);
	if (!chan) {
		mutex_unlock(&snapchan_chans_lock);
		return -ENOENT;
	}
	if (!uid_eq(chan->cfg.uid, current_euid()) && !capable(CAP_SYS_ADMIN)) {
		mutex_unlock(&snapchan_chans_lock);
		return -EPERM;
	}
	snapchan_chan_get(chan);
	mutex_unlock(&snapchan_chans_lock);

	ret = snapchan_chan_remove(chan, flags);
	snapchan_chan_put(chan);
	return ret;
}

/* The id of the node attached through @end (chan->lock held), or 0. */
static u64 snapchan_end_node_id(struct snapchan_chan *chan,
				struct snapchan_end *end)
{
	struct snapchan_node *node;

	if (!end)
		return 0;
	node = rcu_dereference_protected(end->node,
					 lockdep_is_held(&chan->lock));
	return node ? node->id : 0;
}

/**
 * snapchan_chan_info() - configuration and live counters of a channel
 * @name: a checked name.
 * @info: out: filled in (name included), reserved fields zero.
 *
 * Return: 0 or -ENOENT.
 */
int snapchan_chan_info(const char *name, struct snapchan_chan_info *info)
{
	struct snapchan_chan *chan;

	/* The registry lock is not held while the channel's lock is taken. */
	mutex_lock(&snapchan_chans_lock);
	chan = snapchan_chan_find(name);
	if (chan)
		snapchan_chan_get(chan);
	mutex_unlock(&snapchan_chans_lock);
	if (!chan)
		return -ENOENT;
	memset(info, 0, sizeof(*info));
	memcpy(info->name, chan->cfg.name, SNAPCHAN_NAME_LEN);
	memcpy(info->group, chan->cfg.group, SNAPCHAN_NAME_LEN);
	info->chan_id = chan->id;
	info->capacity_bytes = chan->cfg.capacity_bytes;
	info->capacity_msgs = chan->cfg.capacity_msgs;
	info->max_msg = chan->cfg.max_msg;
	info->flags = chan->cfg.flags;
	info->mode = chan->cfg.mode;
	info->uid = from_kuid_munged(current_user_ns(), chan->cfg.uid);
	info->gid = from_kgid_munged(current_user_ns(), chan->cfg.gid);
	info->first_seq = chan->cfg.first_seq;

	mutex_lock(&chan->lock);
	info->markers_queued = chan->markers;
	info->depth_msgs = chan->depth_msgs;
	info->depth_bytes = chan->depth_bytes;
	info->total_sent = chan->total_sent;
	info->total_received = chan->total_received;
	info->next_seq = chan->next_seq;
	info->readers = chan->readers;
	info->writers = chan->writers;
	info->sender_node = snapchan_end_node_id(chan, chan->sender_end);
	info->receiver_node = snapchan_end_node_id(chan, chan->receiver_end);
	mutex_unlock(&chan->lock);
	snapchan_chan_put(chan);
	return 0;
}

/**
 * snapchan_chan_get_by_minor() - the live channel with minor number @minor
 * @minor: a minor number of the snapchan character device region.
 *
 * Return: the channel, referenced, or NULL.
 */
struct snapchan_chan *snapchan_chan_get_by_minor(unsigned int minor)
{
	struct snapchan_chan *chan;

	mutex_lock(&snapchan_chans_lock);
	chan = xa_load(&snapchan_minor_map, minor);
	if (chan)
		snapchan_chan_get(chan);
	mutex_unlock(&snapchan_chans_lock);
	return chan;
}

/**
 * snapchan_chan_list() - names of the live channels, in creation order
 * @names: kernel buffer of @max names of SNAPCHAN_NAME_LEN bytes.
 * @max: room in @names.
 * @count: out: how many channels exist.
 *
 * Return: 0.
 */
int snapchan_chan_list(char *names, u32 max, u32 *count)
{
	struct snapchan_chan *chan;
	u32 n = 0;

	mutex_lock(&snapchan_chans_lock);
	list_for_each_entry(chan, &snapchan_chans, list) {
		if (n < max)
			memcpy(names + (size_t)n * SNAPCHAN_NAME_LEN,
			       chan->cfg.name, SNAPCHAN_NAME_LEN);
		n++;
	}
	mutex_unlock(&snapchan_chans_lock);
	*count = n;
	return 0;
}

/**
 * snapchan_chan_init() - register the device class and the minor range
 *
 * Return: 0 or a negative errno.
 */
int snapchan_chan_init(void)
{
	int ret;

	ret = alloc_chrdev_region(&snapchan_devt, 0, SNAPCHAN_MINORS,
				  "snapchan");
	if (ret)
		return ret;
	cdev_init(&snapchan_cdev, &snapchan_chan_fops);
	snapchan_cdev.owner = THIS_MODULE;
	ret = cdev_add(&snapchan_cdev, snapchan_devt, SNAPCHAN_MINORS);
	if (ret)
		goto out_unregister_region;
	snapchan_class = class_create(THIS_MODULE, "snapchan");
	if (IS_ERR(snapchan_class)) {
		ret = PTR_ERR(snapchan_class);
		goto out_del_cdev;
	}
	return 0;

out_del_cdev:
	cdev_del(&snapchan_cdev);
out_unregister_region:
	unregister_chrdev_region(snapchan_devt, SNAPCHAN_MINORS);
	return ret;
}

/**
 * snapchan_chan_exit() - destroy every channel and unregister the class
 *
 * Open channel, node and snapshot files hold the module, so none is open
 * here and no snapshot runs.
 */
void snapchan_chan_exit(void)
{
	struct snapchan_chan *chan;

	for (;;) {
		mutex_lock(&snapchan_chans_lock);
		chan = list_first_entry_or_null(&snapchan_chans,
						struct snapchan_chan, list);
		if (chan)
			snapchan_chan_get(chan);
		mutex_unlock(&snapchan_chans_lock);
		if (!chan)
			break;
		snapchan_chan_remove(chan, SNAPCHAN_TOPO_F_ABORT);
		snapchan_chan_put(chan);
	}
	class_destroy(snapchan_class);
	cdev_del(&snapchan_cdev);
	unregister_chrdev_region(snapchan_devt, SNAPCHAN_MINORS);
	xa_destroy(&snapchan_minor_map);
}
