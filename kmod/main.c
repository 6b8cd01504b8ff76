// SPDX-License-Identifier: GPL-2.0
/*
 * snapchan: module init/exit, parameters and the control device
 * /dev/snapchan/control.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cred.h>
#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/random.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/uidgid.h>
#include <linux/user_namespace.h>
#include <linux/xarray.h>
#include <kunit/visibility.h>

#include "snapchan.h"

/* --- per-user counts ------------------------------------------------------- */

/*
 * One xarray per kind of object, indexed by uid (in the initial user
 * namespace), holding the count as a value entry.  An entry stays at zero
 * once made (one slot per uid that ever used the kind, freed at unload),
 * so that a capture opened and closed in a loop allocates nothing here.
 * The mutex makes check-and-increment atomic.
 */
static DEFINE_MUTEX(snapchan_users_lock);
DEFINE_XARRAY(snapchan_node_users);
DEFINE_XARRAY(snapchan_capture_users);

/**
 * snapchan_user_charge() - count one more object for @uid, up to @max
 * @counts: the xarray of this kind of object.
 * @uid: the user to charge.
 * @max: the per-user limit.
 *
 * Return: 0, -ENOSPC at the limit, or -ENOMEM.
 */
int snapchan_user_charge(struct xarray *counts, kuid_t uid, unsigned int max)
{
	unsigned long id = from_kuid(&init_user_ns, uid);
	unsigned long n;
	void *entry;
	int ret = 0;

	mutex_lock(&snapchan_users_lock);
	entry = xa_load(counts, id);
	n = entry ? xa_to_value(entry) : 0;
	if (n >= max)
		ret = -ENOSPC;
	else
		ret = xa_err(xa_store(counts, id, xa_mk_value(n + 1),
				      GFP_KERNEL_ACCOUNT));
	mutex_unlock(&snapchan_users_lock);
	return ret;
}

/**
 * snapchan_user_uncharge() - count one object less for @uid
 * @counts: the xarray snapchan_user_charge() counted it in.
 * @uid: the user it charged.
 */
void snapchan_user_uncharge(struct xarray *counts, kuid_t uid)
{
	unsigned long id = from_kuid(&init_user_ns, uid);
	unsigned long n;
	void *entry;

	mutex_lock(&snapchan_users_lock);
	entry = xa_load(counts, id);
	n = entry ? xa_to_value(entry) : 0;
	if (!WARN_ON_ONCE(!n))	/* replaces a present entry: no allocation */
		xa_store(counts, id, xa_mk_value(n - 1), GFP_NOWAIT);
	mutex_unlock(&snapchan_users_lock);
}

/* --- parameters ------------------------------------------------------------ */

struct snapchan_limits snapchan_limits = {
	.max_channels		= 1024,
	.max_channels_per_user	= 256,
	.default_capacity_msgs	= 256,
	.max_capacity_msgs	= 65536,
	.default_capacity_bytes	= 64 << 10,
	.max_capacity_bytes	= 64 << 20,
	.default_max_msg	= 4096,
	.max_msg_size		= 1 << 20,
	.max_markers		= 16,
	.max_captures		= 256,
	.max_captures_per_user	= 64,
	.max_capture_mbytes	= 256,
	.max_nodes		= 1024,
	.max_nodes_per_user	= 256,
	.max_snapshots		= 4,
	.max_retained		= 4,
	.max_state_bytes	= 1 << 20,
	.default_timeout_ms	= 30000,
	.default_budget_mbytes	= 64,
};
EXPORT_SYMBOL_IF_KUNIT(snapchan_limits);

/*
 * Every limit is a uint parameter that refuses values outside its range, so
 * that no setting can break an invariant (a zero capacity, say).
 */
struct snapchan_param_range {
	unsigned int *val;
	unsigned int min;
	unsigned int max;
};

static const struct snapchan_param_range snapchan_param_ranges[] = {
	{ &snapchan_limits.max_channels,		1, 4096 },
	{ &snapchan_limits.max_channels_per_user,	1, 4096 },
	{ &snapchan_limits.default_capacity_msgs,	1, 1 << 20 },
	{ &snapchan_limits.max_capacity_msgs,		1, 1 << 20 },
	{ &snapchan_limits.default_capacity_bytes,	1, 1 << 30 },
	{ &snapchan_limits.max_capacity_bytes,		1, 1 << 30 },
	{ &snapchan_limits.default_max_msg,		1, 16 << 20 },
	{ &snapchan_limits.max_msg_size,		1, 16 << 20 },
	{ &snapchan_limits.max_markers,			1, 1024 },
	{ &snapchan_limits.max_captures,		1, 65536 },
	{ &snapchan_limits.max_captures_per_user,	1, 65536 },
	{ &snapchan_limits.max_capture_mbytes,		1, 1 << 20 },
	{ &snapchan_limits.max_nodes,			1, 65536 },
	{ &snapchan_limits.max_nodes_per_user,		1, 65536 },
	{ &snapchan_limits.max_snapshots,		1, 64 },
	{ &snapchan_limits.max_retained,		0, 64 },
	{ &snapchan_limits.max_state_bytes,		0, 64 << 20 },
	{ &snapchan_limits.default_timeout_ms,		0, 86400000 },
	{ &snapchan_limits.default_budget_mbytes,	1, 1 << 20 },
};

static int snapchan_param_set(const char *s, const struct kernel_param *kp)
{
	const struct snapchan_param_range *r = NULL;
	unsigned int v;
	size_t i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(snapchan_param_ranges); i++)
		if (snapchan_param_ranges[i].val == kp->arg)
			r = &snapchan_param_ranges[i];
	if (WARN_ON_ONCE(!r))
		return -EINVAL;
	ret = kstrtouint(s, 0, &v);
	if (ret)
		return ret;
	if (v < r->min || v > r->max)
		return -EINVAL;
	WRITE_ONCE(*r->val, v);
	return 0;
}

static int snapchan_param_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(*(unsigned int *)kp->arg));
}

static const struct kernel_param_ops snapchan_param_ops = {
	.set = snapchan_param_set,
	.get = snapchan_param_get,
};

module_param_cb(max_channels, &snapchan_param_ops,
		&snapchan_limits.max_channels, 0644);
MODULE_PARM_DESC(max_channels, "Channels that may exist at once (1..4096)");
module_param_cb(max_channels_per_user, &snapchan_param_ops,
		&snapchan_limits.max_channels_per_user, 0644);
MODULE_PARM_DESC(max_channels_per_user,
		 "Channels one uid may own at once (1..4096)");
module_param_cb(default_capacity_msgs, &snapchan_param_ops,
		&snapchan_limits.default_capacity_msgs, 0644);
MODULE_PARM_DESC(default_capacity_msgs,
		 "Queue capacity in messages when the creator gives 0");
module_param_cb(max_capacity_msgs, &snapchan_param_ops,
		&snapchan_limits.max_capacity_msgs, 0644);
MODULE_PARM_DESC(max_capacity_msgs,
		 "Largest queue capacity in messages (1..1048576)");
module_param_cb(default_capacity_bytes, &snapchan_param_ops,
		&snapchan_limits.default_capacity_bytes, 0644);
MODULE_PARM_DESC(default_capacity_bytes,
		 "Queue capacity in bytes when the creator gives 0 (raised to max_msg)");
module_param_cb(max_capacity_bytes, &snapchan_param_ops,
		&snapchan_limits.max_capacity_bytes, 0644);
MODULE_PARM_DESC(max_capacity_bytes,
		 "Largest queue capacity in bytes (1..1 GiB)");
module_param_cb(default_max_msg, &snapchan_param_ops,
		&snapchan_limits.default_max_msg, 0644);
MODULE_PARM_DESC(default_max_msg, "Largest message when the creator gives 0");
module_param_cb(max_msg_size, &snapchan_param_ops,
		&snapchan_limits.max_msg_size, 0644);
MODULE_PARM_DESC(max_msg_size, "Largest max_msg a channel may have (1..16 MiB)");
module_param_cb(max_markers, &snapchan_param_ops,
		&snapchan_limits.max_markers, 0644);
MODULE_PARM_DESC(max_markers,
		 "User markers (SNAPCHAN_IOC_MARK) queued at once on a channel");
module_param_cb(max_captures, &snapchan_param_ops,
		&snapchan_limits.max_captures, 0644);
MODULE_PARM_DESC(max_captures, "Capture fds open at once, all users");
module_param_cb(max_captures_per_user, &snapchan_param_ops,
		&snapchan_limits.max_captures_per_user, 0644);
MODULE_PARM_DESC(max_captures_per_user,
		 "Capture fds one uid may hold open at once (1..65536)");
module_param_cb(max_capture_mbytes, &snapchan_param_ops,
		&snapchan_limits.max_capture_mbytes, 0644);
MODULE_PARM_DESC(max_capture_mbytes,
		 "MiB of records that open captures may hold, all users");
module_param_cb(max_nodes, &snapchan_param_ops,
		&snapchan_limits.max_nodes, 0644);
MODULE_PARM_DESC(max_nodes, "Nodes that may exist at once, all groups");
module_param_cb(max_nodes_per_user, &snapchan_param_ops,
		&snapchan_limits.max_nodes_per_user, 0644);
MODULE_PARM_DESC(max_nodes_per_user,
		 "Nodes one uid may have at once (1..65536)");
module_param_cb(max_snapshots, &snapchan_param_ops,
		&snapchan_limits.max_snapshots, 0644);
MODULE_PARM_DESC(max_snapshots, "Snapshots running at once in one group");
module_param_cb(max_retained, &snapchan_param_ops,
		&snapchan_limits.max_retained, 0644);
MODULE_PARM_DESC(max_retained,
		 "Ended snapshots (complete, and aborted) kept per group for SNAP_OPEN");
module_param_cb(max_state_bytes, &snapchan_param_ops,
		&snapchan_limits.max_state_bytes, 0644);
MODULE_PARM_DESC(max_state_bytes, "Largest node state blob in a snapshot");
module_param_cb(default_timeout_ms, &snapchan_param_ops,
		&snapchan_limits.default_timeout_ms, 0644);
MODULE_PARM_DESC(default_timeout_ms,
		 "Snapshot deadline when the caller gives 0 (0: none)");
module_param_cb(default_budget_mbytes, &snapchan_param_ops,
		&snapchan_limits.default_budget_mbytes, 0644);
MODULE_PARM_DESC(default_budget_mbytes,
		 "Snapshot recording budget in MiB when the caller gives 0");

static unsigned int control_mode = 0666;
module_param(control_mode, uint, 0444);
MODULE_PARM_DESC(control_mode,
		 "Permission bits of /dev/snapchan/control (default 0666)");

#ifdef SNAPCHAN_DELAY_INJECTION
static unsigned int inject_delay;
module_param(inject_delay, uint, 0644);
MODULE_PARM_DESC(inject_delay,
		 "Debug builds: longest random delay in us injected at lock boundaries (0: off)");

/**
 * snapchan_delay_point() - maybe yield or sleep, to widen race windows
 *
 * Off (one load) unless inject_delay is set.  Then, at random: a quarter
 * of the calls sleep briefly, a quarter sleep up to inject_delay
 * microseconds, a quarter spin that long (a delay that keeps any lock
 * held); the rest return at once.
 */
void snapchan_delay_point(void)
{
	unsigned int max = READ_ONCE(inject_delay);
	u32 r;

	if (likely(!max))
		return;
	might_sleep();
	r = get_random_u32();
	switch (r & 3) {
	case 0:
		usleep_range(1, 2);	/* let another task in */
		break;
	case 1:
		usleep_range(1, 1 + (r >> 2) % max);
		break;
	case 2:
		udelay((r >> 2) % min(max, 1000U));
		break;
	default:
		break;
	}
}
#endif

/* --- control ioctls --------------------------------------------------------- */

static long snapchan_ioc_version(void __user *argp)
{
	struct snapchan_version v = {
		.abi_version = SNAPCHAN_ABI_VERSION,
		.features = SNAPCHAN_FEAT_CHANNELS | SNAPCHAN_FEAT_MARKERS |
			    SNAPCHAN_FEAT_CAPTURE | SNAPCHAN_FEAT_SNAPSHOTS |
			    SNAPCHAN_FEAT_BATCH,
	};

	return copy_to_user(argp, &v, sizeof(v)) ? -EFAULT : 0;
}

static bool snapchan_reserved_zero(const __u64 *r, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (r[i])
			return false;
	return true;
}

static long snapchan_ioc_chan_create(void __user *argp)
{
	struct snapchan_chan_create arg;
	struct snapchan_chan_cfg cfg = {};
	int ret;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if (!snapchan_reserved_zero(arg.reserved, ARRAY_SIZE(arg.reserved)))
		return -EINVAL;
	if (arg.flags & ~(SNAPCHAN_CHAN_F_ALL | SNAPCHAN_TOPO_F_ABORT))
		return -EINVAL;

	memcpy(cfg.name, arg.name, SNAPCHAN_NAME_LEN);
	memcpy(cfg.group, arg.group, SNAPCHAN_NAME_LEN);
	cfg.capacity_bytes = arg.capacity_bytes;
	cfg.capacity_msgs = arg.capacity_msgs;
	cfg.max_msg = arg.max_msg;
	cfg.first_seq = arg.first_seq;
	cfg.mode = arg.mode;
	cfg.flags = arg.flags & SNAPCHAN_CHAN_F_ALL;
	cfg.uid = current_euid();
	cfg.gid = current_egid();

	ret = snapchan_chan_create(&cfg, arg.flags & SNAPCHAN_TOPO_F_ABORT,
				   &arg.chan_id);
	if (ret)
		return ret;
	/* The id is a convenience: the channel exists whatever happens here. */
	if (put_user(arg.chan_id, (__u64 __user *)(argp +
		     offsetof(struct snapchan_chan_create, chan_id))))
		return -EFAULT;
	return 0;
}

static long snapchan_ioc_chan_destroy(void __user *argp)
{
	struct snapchan_chan_destroy arg;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if (arg.reserved || (arg.flags & ~SNAPCHAN_TOPO_F_ABORT))
		return -EINVAL;
	if (snapchan_name_check(arg.name, false))
		return -EINVAL;
	return snapchan_chan_destroy(arg.name, arg.flags);
}

static long snapchan_ioc_chan_info(void __user *argp)
{
	struct snapchan_chan_info arg;
	char name[SNAPCHAN_NAME_LEN];
	int ret;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if (!snapchan_reserved_zero(arg.reserved, ARRAY_SIZE(arg.reserved)) ||
	    arg.reserved0)
		return -EINVAL;
	memcpy(name, arg.name, SNAPCHAN_NAME_LEN);
	if (snapchan_name_check(name, false))
		return -EINVAL;
	ret = snapchan_chan_info(name, &arg);
	if (ret)
		return ret;
	return copy_to_user(argp, &arg, sizeof(arg)) ? -EFAULT : 0;
}

static long snapchan_ioc_chan_list(void __user *argp)
{
	struct snapchan_chan_list arg;
	char *names = NULL;
	u32 max, count;
	long ret = 0;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if (arg.flags || arg.reserved)
		return -EINVAL;
	/* No more names can exist than there are channels. */
	max = min_t(u32, arg.max_entries,
		    READ_ONCE(snapchan_limits.max_channels));
	if (max) {
		names = kvcalloc(max, SNAPCHAN_NAME_LEN, GFP_KERNEL_ACCOUNT);
		if (!names)
			return -ENOMEM;
	}
	snapchan_chan_list(names, max, &count);
	arg.count = count;
	if (max && copy_to_user(u64_to_user_ptr(arg.names), names,
				(size_t)min(max, count) * SNAPCHAN_NAME_LEN))
		ret = -EFAULT;
	else if (copy_to_user(argp, &arg, sizeof(arg)))
		ret = -EFAULT;
	kvfree(names);
	return ret;
}

static long snapchan_control_ioctl(struct file *file, unsigned int cmd,
				   unsigned long arg)
{
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case SNAPCHAN_IOC_VERSION:
		return snapchan_ioc_version(argp);
	case SNAPCHAN_IOC_CHAN_CREATE:
		return snapchan_ioc_chan_create(argp);
	case SNAPCHAN_IOC_CHAN_DESTROY:
		return snapchan_ioc_chan_destroy(argp);
	case SNAPCHAN_IOC_CHAN_INFO:
		return snapchan_ioc_chan_info(argp);
	case SNAPCHAN_IOC_CHAN_LIST:
		return snapchan_ioc_chan_list(argp);
	case SNAPCHAN_IOC_NODE_JOIN:
		return snapchan_node_join_ioctl(argp);
	case SNAPCHAN_IOC_SNAP_BEGIN:
		return snapchan_snap_begin_ioctl(argp);
	case SNAPCHAN_IOC_SNAP_OPEN:
		return snapchan_snap_open_ioctl(argp);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations snapchan_control_fops = {
	.owner		= THIS_MODULE,
	.open		= nonseekable_open,
	.unlocked_ioctl	= snapchan_control_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= no_llseek,
};

static struct miscdevice snapchan_control_dev = {
	.minor		= MISC_DYNAMIC_MINOR,
	.name		= "snapchan-control",
	.nodename	= "snapchan/control",
	.fops		= &snapchan_control_fops,
};

/* --- module ----------------------------------------------------------------- */

static int __init snapchan_init(void)
{
	int ret;

	if (control_mode & ~0666U) {
		pr_err("control_mode %#o: only bits within 0666 are allowed\n",
		       control_mode);
		return -EINVAL;
	}
	snapchan_control_dev.mode = control_mode;

	ret = snapchan_snap_init();
	if (ret)
		return ret;
	ret = snapchan_chan_init();
	if (ret)
		goto out_snap_exit;
	snapchan_debugfs_init();
	ret = misc_register(&snapchan_control_dev);
	if (ret)
		goto out_chan_exit;
	return 0;

out_chan_exit:
	snapchan_debugfs_exit();
	snapchan_chan_exit();
out_snap_exit:
	snapchan_snap_exit();
	return ret;
}

static void __exit snapchan_exit(void)
{
	misc_deregister(&snapchan_control_dev);
	snapchan_debugfs_exit();
	snapchan_chan_exit();
	snapchan_snap_exit();
	/* Every node and capture held a module reference: all gone. */
	xa_destroy(&snapchan_node_users);
	xa_destroy(&snapchan_capture_users);
}

module_init(snapchan_init);
module_exit(snapchan_exit);

MODULE_DESCRIPTION("Message channels with consistent global snapshots");
MODULE_AUTHOR("snapchan developers");
MODULE_LICENSE("GPL");
