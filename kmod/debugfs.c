// SPDX-License-Identifier: GPL-2.0
/*
 * snapchan debugfs: /sys/kernel/debug/snapchan/{groups,nodes,snapshots},
 * tables of what exists now.  After every test they must be empty.
 */

#include <linux/debugfs.h>
#include <linux/seq_file.h>

#include "snapchan.h"

static struct dentry *snapchan_debugfs_dir;

static int groups_show(struct seq_file *m, void *v)
{
	return snapchan_debugfs_groups(m);
}
DEFINE_SHOW_ATTRIBUTE(groups);

static int nodes_show(struct seq_file *m, void *v)
{
	return snapchan_debugfs_nodes(m);
}
DEFINE_SHOW_ATTRIBUTE(nodes);

static int snapshots_show(struct seq_file *m, void *v)
{
	return snapchan_debugfs_snaps(m);
}
DEFINE_SHOW_ATTRIBUTE(snapshots);

void snapchan_debugfs_init(void)
{
	snapchan_debugfs_dir = debugfs_create_dir("snapchan", NULL);
	debugfs_create_file("groups", 0400, snapchan_debugfs_dir, NULL,
			    &groups_fops);
	debugfs_create_file("nodes", 0400, snapchan_debugfs_dir, NULL,
			    &nodes_fops);
	debugfs_create_file("snapshots", 0400, snapchan_debugfs_dir, NULL,
			    &snapshots_fops);
}

void snapchan_debugfs_exit(void)
{
	debugfs_remove_recursive(snapchan_debugfs_dir);
}
