// SPDX-License-Identifier: GPL-2.0
/*
 * PID 1 of the snapchan test VM (modelled on the WireGuard selftest init).
 *
 * Mounts the pseudo filesystems, loads the modules named in
 * /etc/modules.list, runs "/bin/sh /etc/test-cmd" on the console, checks
 * kmemleak on the debug kernel, then writes exactly one line
 * "SNAPCHAN-RESULT rc=<N>" to /dev/ttyS1 (the result channel, never the
 * console) and reboots, which makes qemu (-no-reboot) exit.
 *
 * run.sh builds it on the host as a static binary (gcc -static -O2).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define MODULES_LIST	"/etc/modules.list"
#define TEST_CMD	"/etc/test-cmd"
#define DEBUG_MARKER	"/etc/debug-kernel"
#define KMEMLEAK	"/sys/kernel/debug/kmemleak"
#define RESULT_TTY	"/dev/ttyS1"

/* Guest status codes that are not the command's own exit status. */
#define RC_INIT_FAILED	120	/* could not set up or run the command */
#define RC_MODULE_FAILED 121	/* a module in modules.list did not load */
#define RC_LEAKS	122	/* kmemleak reported unreferenced objects */
#define RC_NO_KMEMLEAK	123	/* kmemleak turned itself off: not checked */

#define __noreturn	__attribute__((noreturn))
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* kmemleak only reports objects older than this (MSECS_MIN_AGE). */
#define KMEMLEAK_MIN_AGE_MS	5000

static void msg(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int len;

	len = snprintf(buf, sizeof(buf), "snapchan-init: ");
	va_start(ap, fmt);
	len += vsnprintf(buf + len, sizeof(buf) - len, fmt, ap);
	va_end(ap);
	if (len >= (int)sizeof(buf) - 1)
		len = sizeof(buf) - 2;
	buf[len++] = '\n';
	/* If even this fails there is nowhere left to report it. */
	len = write(STDERR_FILENO, buf, len);
}

static __noreturn void power_off(void)
{
	sync();
	reboot(RB_AUTOBOOT);
	msg("reboot: %s", strerror(errno));
	for (;;)
		pause();
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void sleep_ms(long long ms)
{
	struct timespec ts = {
		.tv_sec = ms / 1000,
		.tv_nsec = (ms % 1000) * 1000000,
	};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void console_stdio(void)
{
	int fd, i;

	for (i = 0; i < 100; i++) {
		fd = open("/dev/console", O_RDWR | O_NOCTTY);
		if (fd >= 0)
			break;
		sleep_ms(50);
	}
	if (fd < 0)
		return; /* Keep whatever the kernel gave us. */
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
}

static int do_mount(const char *src, const char *dir, const char *type,
		    const char *opts, int optional)
{
	mkdir(dir, 0755);
	if (!mount(src, dir, type, 0, opts) || errno == EBUSY)
		return 0;
	if (optional)
		return 0;
	msg("mount %s on %s: %s", type, dir, strerror(errno));
	return -1;
}

static int mount_filesystems(void)
{
	static const char *const links[][2] = {
		{ "/proc/self/fd", "/dev/fd" },
		{ "/proc/self/fd/0", "/dev/stdin" },
		{ "/proc/self/fd/1", "/dev/stdout" },
		{ "/proc/self/fd/2", "/dev/stderr" },
	};
	unsigned int i;
	int ret = 0;

	ret |= do_mount("proc", "/proc", "proc", NULL, 0);
	ret |= do_mount("sysfs", "/sys", "sysfs", NULL, 0);
	ret |= do_mount("devtmpfs", "/dev", "devtmpfs", "mode=0755", 0);
	console_stdio();
	if (!access("/sys/kernel/debug", F_OK))
		ret |= do_mount("debugfs", "/sys/kernel/debug", "debugfs",
				NULL, 0);
	ret |= do_mount("tmpfs", "/tmp", "tmpfs", "mode=1777", 0);
	ret |= do_mount("tmpfs", "/dev/shm", "tmpfs", "mode=1777", 0);
	do_mount("mqueue", "/dev/mqueue", "mqueue", NULL, 1);
	mkdir("/root", 0700);
	for (i = 0; i < ARRAY_SIZE(links); i++) {
		if (symlink(links[i][0], links[i][1]) && errno != EEXIST)
			msg("symlink %s: %s", links[i][1], strerror(errno));
	}
	return ret;
}

/* Each line of modules.list: "<path.ko> [module parameters]". */
static int load_modules(void)
{
	char line[4096], *params, *end;
	FILE *list;
	int fd, ret = 0;

	list = fopen(MODULES_LIST, "r");
	if (!list)
		return 0;
	while (fgets(line, sizeof(line), list)) {
		end = line + strcspn(line, "\r\n");
		*end = '\0';
		if (!line[0] || line[0] == '#')
			continue;
		params = strchr(line, ' ');
		if (params)
			*params++ = '\0';
		else
			params = end;
		fd = open(line, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			msg("open %s: %s", line, strerror(errno));
			ret = -1;
			break;
		}
		if (syscall(SYS_finit_module, fd, params, 0)) {
			msg("finit_module %s: %s", line, strerror(errno));
			close(fd);
			ret = -1;
			break;
		}
		close(fd);
		msg("loaded %s", line);
	}
	fclose(list);
	return ret;
}

static int run_command(void)
{
	char *const argv[] = { "/bin/sh", TEST_CMD, NULL };
	pid_t pid, got;
	int status;

	pid = fork();
	if (pid < 0) {
		msg("fork: %s", strerror(errno));
		return RC_INIT_FAILED;
	}
	if (!pid) {
		setsid();
		ioctl(STDIN_FILENO, TIOCSCTTY, 0);
		if (chdir("/root"))
			msg("chdir /root: %s", strerror(errno));
		execv(argv[0], argv);
		msg("exec %s: %s", argv[0], strerror(errno));
		_exit(RC_INIT_FAILED);
	}
	/* As PID 1 we also reap every orphan the command leaves behind. */
	for (;;) {
		got = wait(&status);
		if (got == pid)
			break;
		if (got < 0 && errno != EINTR) {
			msg("wait: %s", strerror(errno));
			return RC_INIT_FAILED;
		}
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status)) {
		msg("command killed by signal %d", WTERMSIG(status));
		return 128 + WTERMSIG(status);
	}
	return RC_INIT_FAILED;
}

static int kmemleak_write(const char *cmd)
{
	int fd, ret = 0;

	fd = open(KMEMLEAK, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, cmd, strlen(cmd)) < 0) {
		if (errno == EPERM) {
			msg("kmemleak is disabled (see the kernel log above): leaks not checked");
			ret = -EPERM;
		} else {
			msg("kmemleak %s: %s", cmd, strerror(errno));
			ret = -1;
		}
	}
	if (fd >= 0)
		close(fd);
	return ret;
}

/*
 * An object is reported only when it was unreferenced, with an unchanged
 * checksum, in two scans and is older than MSECS_MIN_AGE at the last one.
 * So scan once now, and again once everything the command allocated is
 * old enough.  Returns 1 if leaks were reported, 0 if none, -EPERM if
 * kmemleak is off, -1 on other errors.
 */
static int check_leaks(long long cmd_end)
{
	long long start, wait_ms;
	char buf[4096];
	ssize_t n;
	int fd, ret, found = 0;

	start = now_ms();
	msg("scanning for memory leaks (two kmemleak scans, slow under TCG)");
	ret = kmemleak_write("scan");
	if (ret)
		return ret;
	/* Let RCU callbacks run, and the youngest objects come of age. */
	wait_ms = cmd_end + KMEMLEAK_MIN_AGE_MS + 500 - now_ms();
	sleep_ms(wait_ms > 1000 ? wait_ms : 1000);
	ret = kmemleak_write("scan");
	if (ret)
		return ret;
	msg("kmemleak scans took %lld ms", now_ms() - start);
	fd = open(KMEMLEAK, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		msg("open %s: %s", KMEMLEAK, strerror(errno));
		return -1;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (!found)
			msg("kmemleak found leaks:");
		found = 1;
		if (write(STDOUT_FILENO, buf, n) < 0)
			break;
	}
	close(fd);
	return found;
}

static void report_result(int rc)
{
	char line[64];
	struct termios tio;
	int fd, len;

	len = snprintf(line, sizeof(line), "SNAPCHAN-RESULT rc=%d\n", rc);
	fd = open(RESULT_TTY, O_WRONLY | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		msg("open %s: %s", RESULT_TTY, strerror(errno));
		return;
	}
	if (!tcgetattr(fd, &tio)) {
		cfmakeraw(&tio);
		tcsetattr(fd, TCSANOW, &tio);
	}
	if (write(fd, line, len) != len)
		msg("write %s: %s", RESULT_TTY, strerror(errno));
	tcdrain(fd);
	close(fd);
}

int main(void)
{
	long long cmd_end;
	int rc, leaks;

	setenv("PATH", "/bin", 1);
	setenv("HOME", "/root", 1);
	setenv("TERM", "dumb", 1);
	setenv("SHELL", "/bin/sh", 1);
	umask(022);
	console_stdio();

	if (mount_filesystems()) {
		rc = RC_INIT_FAILED;
	} else if (load_modules()) {
		msg("module loading failed, not running the command");
		rc = RC_MODULE_FAILED;
	} else {
		rc = run_command();
		msg("command exited with status %d", rc);
	}
	cmd_end = now_ms();

	if (!access(DEBUG_MARKER, F_OK) && !access(KMEMLEAK, F_OK)) {
		leaks = check_leaks(cmd_end);
		if (leaks > 0 && !rc)
			rc = RC_LEAKS;
		else if (leaks < 0 && !rc)
			rc = leaks == -EPERM ? RC_NO_KMEMLEAK : RC_INIT_FAILED;
	}

	report_result(rc);
	power_off();
}
