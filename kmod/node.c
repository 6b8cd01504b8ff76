// SPDX-License-Identifier: GPL-2.0
/*
 * snapchan groups and nodes.
 *
 * A group is created by the first channel that names it and belongs to
 * that channel's creator.  It lives while channels, nodes or snapshots
 * hold references.  A node is a member of one group, made by NODE_JOIN and
 * owned by its fd; it attaches channel ends (at most one sending and one
 * receiving node per group channel).  Every topology change (join, leave,
 * attach, detach, channel create and destroy in the group) happens under
 * the group lock after the group's running snapshots have ended (waiting,
 * interruptibly, or aborting them with SNAPCHAN_TOPO_F_ABORT), and bumps
 * the group's epoch.  Lock order: see snap.c.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/anon_inodes.h>
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/poll.h>
#include <linux/rculist.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <kunit/visibility.h>

#include "snapchan.h"

DEFINE_MUTEX(snapchan_groups_lock);	/* guards snapchan_groups */
LIST_HEAD(snapchan_groups);
static atomic64_t snapchan_next_node_id = ATOMIC64_INIT(0);
static atomic_t snapchan_nr_nodes = ATOMIC_INIT(0);

/* --- groups --------------------------------------------------------------- */

static struct snapchan_group *snapchan_group_find(const char *name)
{
	struct snapchan_group *group;

	lockdep_assert_held(&snapchan_groups_lock);
	list_for_each_entry(group, &snapchan_groups, list)
		if (!strcmp(group->name, name))
			return group;
	return NULL;
}

/**
 * snapchan_group_get_or_create() - look a group up by name
 * @name: a checked, non-empty name.
 * @create: create it (owned by the caller's euid) if it does not exist.
 *
 * Return: the group with a reference; ERR_PTR(-ENOENT) or (-ENOMEM).
 */
struct snapchan_group *snapchan_group_get_or_create(const char *name,
						    bool create)
{
	struct snapchan_group *group;

	mutex_lock(&snapchan_groups_lock);
	group = snapchan_group_find(name);
	if (group) {
		kref_get(&group->ref);
		goto out_unlock;
	}
	if (!create) {
		group = ERR_PTR(-ENOENT);
		goto out_unlock;
	}
	group = kzalloc(sizeof(*group), GFP_KERNEL_ACCOUNT);
	if (!group) {
		group = ERR_PTR(-ENOMEM);
		goto out_unlock;
	}
	kref_init(&group->ref);
	strscpy(group->name, name, sizeof(group->name));
	group->owner = current_euid();
	mutex_init(&group->lock);
	INIT_LIST_HEAD(&group->nodes);
	INIT_LIST_HEAD(&group->chans);
	INIT_LIST_HEAD(&group->snaps);
	init_waitqueue_head(&group->topo_wait);
	list_add_tail(&group->list, &snapchan_groups);
out_unlock:
	mutex_unlock(&snapchan_groups_lock);
	return group;
}
EXPORT_SYMBOL_IF_KUNIT(snapchan_group_get_or_create);

static void snapchan_group_release(struct kref *ref)
{
	struct snapchan_group *group =
		container_of(ref, struct snapchan_group, ref);

	lockdep_assert_held(&snapchan_groups_lock);
	list_del(&group->list);
	mutex_unlock(&snapchan_groups_lock);
	WARN_ON_ONCE(!list_empty(&group->snaps));
	mutex_destroy(&group->lock);
	kfree(group);
}

void snapchan_group_put(struct snapchan_group *group)
{
	if (group)
		kref_put_mutex(&group->ref, snapchan_group_release,
			       &snapchan_groups_lock);
}
EXPORT_SYMBOL_IF_KUNIT(snapchan_group_put);

/**
 * snapchan_group_may_use() - may the caller join, snapshot or extend @group
 * @group: the group.
 *
 * Return: 0 for its owner or CAP_SYS_ADMIN, else -EPERM.
 */
int snapchan_group_may_use(struct snapchan_group *group)
{
	if (uid_eq(group->owner, current_euid()) || capable(CAP_SYS_ADMIN))
		return 0;
	return -EPERM;
}

/**
 * snapchan_group_topo_lock() - lock @group for a topology change
 * @group: the group.
 * @flags: SNAPCHAN_TOPO_F_ABORT to abort running snapshots; else wait.
 *
 * Return: 0 with the group locked and no snapshot running, or
 * -ERESTARTSYS (interrupted, unlocked).
 */
int snapchan_group_topo_lock(struct snapchan_group *group, u32 flags)
{
	mutex_lock(&group->lock);
	while (group->nr_running) {
		if (flags & SNAPCHAN_TOPO_F_ABORT) {
			snapchan_group_abort_running(group,
						     SNAPCHAN_ABORT_TOPOLOGY);
			break;
		}
		mutex_unlock(&group->lock);
		if (wait_event_interruptible(group->topo_wait,
					     !READ_ONCE(group->nr_running)))
			return -ERESTARTSYS;
		mutex_lock(&group->lock);
	}
	return 0;
}

/**
 * snapchan_group_topo_unlock() - end a topology change
 * @group: the group, locked by snapchan_group_topo_lock().
 * @changed: whether the topology changed (bumps the epoch); false when
 *	     the change failed and left everything as it was.
 */
void snapchan_group_topo_unlock(struct snapchan_group *group, bool changed)
{
	lockdep_assert_held(&group->lock);
	if (changed)
		group->epoch++;
	if (list_empty(&group->nodes) && list_empty(&group->chans))
		snapchan_group_release_snaps(group);
	mutex_unlock(&group->lock);
}

/* --- nodes ---------------------------------------------------------------- */

static void snapchan_node_release(struct kref *ref)
{
	struct snapchan_node *node = container_of(ref, struct snapchan_node, ref);

	snapchan_group_put(node->group);
	snapchan_user_uncharge(&snapchan_node_users, node->uid);
	atomic_dec(&snapchan_nr_nodes);
	kfree_rcu(node, rcu);
}

void snapchan_node_put(struct snapchan_node *node)
{
	kref_put(&node->ref, snapchan_node_release);
}
EXPORT_SYMBOL_IF_KUNIT(snapchan_node_put);

/**
 * snapchan_end_lock_node() - pin the node attached to @end, if any
 * @end: a channel end.
 *
 * Return: NULL for an unattached end; else the node, referenced, with its
 * io_lock held for reading and still attached to @end.  Undo with
 * snapchan_end_unlock_node().
 */
struct snapchan_node *snapchan_end_lock_node(struct snapchan_end *end)
{
	struct snapchan_node *node;

	for (;;) {
		rcu_read_lock();
		node = rcu_dereference(end->node);
		if (node && !kref_get_unless_zero(&node->ref))
			node = NULL;
		rcu_read_unlock();
		if (!node)
			return NULL;
		down_read(&node->io_lock);
		if (rcu_access_pointer(end->node) == node)
			return node;
		up_read(&node->io_lock);
		snapchan_node_put(node);
	}
}

void snapchan_end_unlock_node(struct snapchan_node *node)
{
	if (node) {
		up_read(&node->io_lock);
		snapchan_node_put(node);
	}
}

/* Detach @end from @node; group locked.  Drops the node's file reference. */
static void snapchan_node_detach(struct snapchan_node *node,
				 struct snapchan_end *end)
{
	struct snapchan_chan *chan = end->chan;

	lockdep_assert_held(&node->group->lock);
	down_write(&node->io_lock);
	mutex_lock(&chan->lock);
	if (end->out)
		chan->sender_end = NULL;
	else
		chan->receiver_end = NULL;
	RCU_INIT_POINTER(end->node, NULL);
	mutex_unlock(&chan->lock);
	up_write(&node->io_lock);
	list_del_init(&end->node_link);
	fput(end->file);
}

static int snapchan_node_release_file(struct inode *inode, struct file *file)
{
	struct snapchan_node *node = file->private_data;
	struct snapchan_group *group = node->group;
	struct snapchan_end *end, *tmp;

	/* Leaving cannot wait: snapshots that need this node abort. */
	mutex_lock(&group->lock);
	if (!node->dead) {
		snapchan_node_leaving(node);
		list_for_each_entry_safe(end, tmp, &node->ends, node_link)
			snapchan_node_detach(node, end);
		list_del_init(&node->link);
		node->dead = true;
		group->epoch++;
		if (list_empty(&group->nodes) && list_empty(&group->chans))
			snapchan_group_release_snaps(group);
	}
	mutex_unlock(&group->lock);
	wake_up_interruptible_all(&node->wait);
	snapchan_node_put(node);
	return 0;
}

static __poll_t snapchan_node_poll(struct file *file, poll_table *wait)
{
	struct snapchan_node *node = file->private_data;

	poll_wait(file, &node->wait, wait);
	return snapchan_node_poll_events(node);
}

static long snapchan_node_attach_ioctl(struct snapchan_node *node,
				       void __user *argp, bool attach)
{
	struct snapchan_group *group = node->group;
	struct snapchan_node_attach arg;
	struct snapchan_end *end;
	struct snapchan_chan *chan;
	struct snapchan_end **slot;
	struct fd f;
	long ret;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if ((arg.flags & ~SNAPCHAN_TOPO_F_ABORT) || arg.reserved)
		return -EINVAL;
	f = fdget(arg.chan_fd);
	if (!f.file)
		return -EBADF;
	chan = snapchan_chan_from_file(f.file);
	if (!chan) {
		ret = -EINVAL;
		goto out_fdput;
	}
	end = f.file->private_data;
	if (chan->group != group) {
		ret = -EXDEV;
		goto out_fdput;
	}

	ret = snapchan_group_topo_lock(group, arg.flags);
	if (ret)
		goto out_fdput;
	if (node->dead) {
		ret = -ENODEV;
		goto out_unlock;
	}
	if (!attach) {
		if (rcu_access_pointer(end->node) != node) {
			ret = -ENOENT;
			goto out_unlock;
		}
		snapchan_node_detach(node, end);
		goto out_unlock;
	}
	if (chan->dead) {
		ret = -ENODEV;
		goto out_unlock;
	}
	slot = end->out ? &chan->sender_end : &chan->receiver_end;
	if (*slot) {
		ret = -EBUSY;
		goto out_unlock;
	}
	down_write(&node->io_lock);
	mutex_lock(&chan->lock);
	*slot = end;
	rcu_assign_pointer(end->node, node);
	mutex_unlock(&chan->lock);
	up_write(&node->io_lock);
	list_add_tail(&end->node_link, &node->ends);
	get_file(end->file);
out_unlock:
	snapchan_group_topo_unlock(group, !ret);
out_fdput:
	fdput(f);
	return ret;
}

static long snapchan_node_ioctl(struct file *file, unsigned int cmd,
				unsigned long arg)
{
	struct snapchan_node *node = file->private_data;
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case SNAPCHAN_IOC_NODE_ATTACH:
		return snapchan_node_attach_ioctl(node, argp, true);
	case SNAPCHAN_IOC_NODE_DETACH:
		return snapchan_node_attach_ioctl(node, argp, false);
	case SNAPCHAN_IOC_NODE_RECORD:
		return snapchan_node_record_ioctl(node, argp);
	case SNAPCHAN_IOC_NODE_EVENT:
		return snapchan_node_event_ioctl(node, argp);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations snapchan_node_fops = {
	.owner		= THIS_MODULE,
	.release	= snapchan_node_release_file,
	.poll		= snapchan_node_poll,
	.unlocked_ioctl	= snapchan_node_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= no_llseek,
};

/**
 * snapchan_node_alloc() - a node of @group, not yet a member
 * @group: the group; the node takes a reference of its own.
 * @name: a checked name.
 *
 * Return: the node with one reference, marked dead until it is added to
 * the group's list; ERR_PTR(-ENOSPC) past max_nodes or
 * max_nodes_per_user (counted by effective uid), or (-ENOMEM).
 */
struct snapchan_node *snapchan_node_alloc(struct snapchan_group *group,
					  const char *name)
{
	struct snapchan_node *node;
	int ret;

	if (atomic_inc_return(&snapchan_nr_nodes) >
	    READ_ONCE(snapchan_limits.max_nodes)) {
		ret = -ENOSPC;
		goto out_uncount;
	}
	node = kzalloc(sizeof(*node), GFP_KERNEL_ACCOUNT);
	if (!node) {
		ret = -ENOMEM;
		goto out_uncount;
	}
	node->uid = current_euid();
	ret = snapchan_user_charge(&snapchan_node_users, node->uid,
				   READ_ONCE(snapchan_limits.max_nodes_per_user));
	if (ret)
		goto out_free_node;
	kref_init(&node->ref);
	kref_get(&group->ref);
	node->group = group;
	node->id = atomic64_inc_return(&snapchan_next_node_id);
	strscpy(node->name, name, sizeof(node->name));
	INIT_LIST_HEAD(&node->link);
	INIT_LIST_HEAD(&node->ends);
	node->dead = true;
	init_rwsem(&node->io_lock);
	init_waitqueue_head(&node->wait);
	return node;

out_free_node:
	kfree(node);
out_uncount:
	atomic_dec(&snapchan_nr_nodes);
	return ERR_PTR(ret);
}
EXPORT_SYMBOL_IF_KUNIT(snapchan_node_alloc);

/**
 * snapchan_node_join_ioctl() - SNAPCHAN_IOC_NODE_JOIN on the control device
 * @argp: user pointer to struct snapchan_node_join.
 *
 * Return: the node fd; -EFAULT, -EINVAL, -ENOENT (no such group), -EPERM
 * (not the group's owner), -EEXIST (name taken in the group), -ENOSPC
 * (max_nodes), -ERESTARTSYS (interrupted while waiting for snapshots),
 * -ENOMEM, -EMFILE.
 */
long snapchan_node_join_ioctl(void __user *argp)
{
	struct snapchan_node_join arg;
	struct snapchan_group *group;
	struct snapchan_node *node, *other;
	struct file *file;
	int fd;
	long ret;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if ((arg.flags & ~SNAPCHAN_TOPO_F_ABORT) || arg.reserved[0] ||
	    arg.reserved[1])
		return -EINVAL;
	if (snapchan_name_check(arg.group, false) ||
	    snapchan_name_check(arg.name, false))
		return -EINVAL;
	/* Fail on an unwritable argument before the group changes. */
	if (copy_to_user(argp, &arg, sizeof(arg)))
		return -EFAULT;
	group = snapchan_group_get_or_create(arg.group, false);
	if (IS_ERR(group))
		return PTR_ERR(group);
	ret = snapchan_group_may_use(group);
	node = ret ? ERR_PTR(ret) : snapchan_node_alloc(group, arg.name);
	snapchan_group_put(group);	/* the node holds its own */
	if (IS_ERR(node))
		return PTR_ERR(node);

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		ret = fd;
		goto out_put_node;
	}
	file = anon_inode_getfile("[snapchan-node]", &snapchan_node_fops, node,
				  O_RDWR | O_CLOEXEC);
	if (IS_ERR(file)) {
		ret = PTR_ERR(file);
		goto out_put_fd;
	}

	/* The out fields are known: copy them before the group changes. */
	arg.fd = fd;
	arg.node_id = node->id;
	if (copy_to_user(argp, &arg, sizeof(arg))) {
		ret = -EFAULT;
		goto out_fput;
	}

	ret = snapchan_group_topo_lock(group, arg.flags);
	if (ret)
		goto out_fput;
	list_for_each_entry(other, &group->nodes, link) {
		if (!strcmp(other->name, node->name)) {
			ret = -EEXIST;
			break;
		}
	}
	if (!ret) {
		list_add_tail(&node->link, &group->nodes);
		node->dead = false;
	}
	snapchan_group_topo_unlock(group, !ret);
	if (ret)
		goto out_fput;
	fd_install(fd, file);
	return fd;

out_fput:
	/* The file owns the node: its release leaves the group if joined. */
	put_unused_fd(fd);
	fput(file);
	return ret;
out_put_fd:
	put_unused_fd(fd);
out_put_node:
	snapchan_node_put(node);
	return ret;
}

/* debugfs: one line per group. */
int snapchan_debugfs_groups(struct seq_file *m)
{
	struct snapchan_group *group;
	struct snapchan_node *node;
	struct snapchan_chan *chan;
	unsigned int nodes, chans;

	seq_puts(m, "group owner epoch nodes chans running complete aborted\n");
	mutex_lock(&snapchan_groups_lock);
	list_for_each_entry(group, &snapchan_groups, list) {
		nodes = 0;
		chans = 0;
		mutex_lock(&group->lock);
		list_for_each_entry(node, &group->nodes, link)
			nodes++;
		list_for_each_entry(chan, &group->chans, group_link)
			chans++;
		seq_printf(m, "%s %u %llu %u %u %u %u %u\n", group->name,
			   from_kuid(&init_user_ns, group->owner), group->epoch,
			   nodes, chans, group->nr_running, group->nr_complete,
			   group->nr_aborted);
		mutex_unlock(&group->lock);
	}
	mutex_unlock(&snapchan_groups_lock);
	return 0;
}

/* debugfs: one line per node, with its attached ends. */
int snapchan_debugfs_nodes(struct seq_file *m)
{
	struct snapchan_group *group;
	struct snapchan_node *node;
	struct snapchan_end *end;

	seq_puts(m, "group node_id name ends\n");
	mutex_lock(&snapchan_groups_lock);
	list_for_each_entry(group, &snapchan_groups, list) {
		mutex_lock(&group->lock);
		list_for_each_entry(node, &group->nodes, link) {
			seq_printf(m, "%s %llu %s", group->name, node->id,
				   node->name);
			list_for_each_entry(end, &node->ends, node_link)
				seq_printf(m, " %s%s", end->out ? ">" : "<",
					   end->chan->cfg.name);
			seq_putc(m, '\n');
		}
		mutex_unlock(&group->lock);
	}
	mutex_unlock(&snapchan_groups_lock);
	return 0;
}
