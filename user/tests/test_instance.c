// SPDX-License-Identifier: GPL-2.0
/*
 * Named instances without the module: the name rules, the attr checks,
 * that a bad argument fails before any system call (a seccomp filter turns
 * every call that could reach the kernel's files into EHWPOISON), and the
 * errors of a host without the module or without instances. Built into the
 * kselftests (shmring_lib_instance_test), it also drives instances on the
 * module: create, list, open, channels on one, isolation and destroy while
 * open; selftests/shmring_instances_cli.sh does it through the tool, and as
 * an unprivileged user.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "util.h"

/* The errno every filtered call gets: no library path produces it. */
#define TRAPPED	EHWPOISON

#define FILTER_NR(nr)							\
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1),		\
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | TRAPPED)

/*
 * From here on, opening, stat-ing or ioctl-ing anything fails with TRAPPED.
 * In a child of its own: the leak checker of the sanitizer builds opens
 * /proc at exit, which the filter would fail; the child leaves with
 * _exit() once its checks passed (a failed CHECK still exits 1).
 */
static void trap_file_calls(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
#ifdef __NR_open
		FILTER_NR(__NR_open),
#endif
#ifdef __NR_access
		FILTER_NR(__NR_access),
#endif
#ifdef __NR_stat
		FILTER_NR(__NR_stat),
#endif
		FILTER_NR(__NR_openat),
		FILTER_NR(__NR_faccessat),
#ifdef __NR_faccessat2
		FILTER_NR(__NR_faccessat2),
#endif
#ifdef __NR_newfstatat
		FILTER_NR(__NR_newfstatat),
#endif
#ifdef __NR_statx
		FILTER_NR(__NR_statx),
#endif
		FILTER_NR(__NR_ioctl),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {
		.len = sizeof(f) / sizeof(f[0]),
		.filter = f,
	};

	CHECK_OK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
	CHECK_OK(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog));
}

static const char *const good_names[] = {
	"a", "Z", "0", "_", "team-a", "team.b", "a..b", "A_9-z.",
	"_.hidden-is-fine", "abcdefghijklmnopqrstuvwxyz01234",	/* 31 */
};

static const char *const bad_names[] = {
	"", ".", "..", ".hidden", "-rf", "--help", "a/b", "../x", "a b",
	"tab\tname", "nl\n", "caf\xc3\xa9", "a*", "a:b", "a\\b", "$x",
	"abcdefghijklmnopqrstuvwxyz012345",			/* 32 */
	"a-name-far-too-long-for-the-kernel-to-take-at-all",
};

#define N(a)	(sizeof(a) / sizeof((a)[0]))

static int name_rules(void)
{
	size_t i;

	for (i = 0; i < N(good_names); i++)
		CHECK_EQ(shmring_instance_name_ok(good_names[i]), 1);
	for (i = 0; i < N(bad_names); i++)
		CHECK_EQ(shmring_instance_name_ok(bad_names[i]), 0);
	CHECK_EQ(shmring_instance_name_ok(NULL), 0);
	/* Every byte value alone, as a one-character name. */
	for (i = 1; i < 256; i++) {
		char n[2] = { (char)i, '\0' };
		int ok = (i >= 'a' && i <= 'z') || (i >= 'A' && i <= 'Z') ||
			 (i >= '0' && i <= '9') || i == '_';

		CHECK_EQ(shmring_instance_name_ok(n), ok);
	}
	return 0;
}

static int path(void)
{
	char buf[64];

	CHECK_OK(shmring_instance_path("team-a", buf, sizeof(buf)));
	CHECK(!strcmp(buf, "/dev/shmrings/team-a"));
	CHECK_OK(shmring_instance_path(good_names[N(good_names) - 1], buf,
				       sizeof(buf)));
	CHECK_ERR(shmring_instance_path("team-a", buf, 20), ENAMETOOLONG);
	CHECK_ERR(shmring_instance_path("..", buf, sizeof(buf)), EINVAL);
	CHECK_ERR(shmring_instance_path("a", NULL, 64), EINVAL);
	return 0;
}

static int attr_init(void)
{
	struct shmring_instance_attr a;
	size_t i;

	memset(&a, 0xa5, sizeof(a));
	shmring_instance_attr_init(&a);
	CHECK_EQ(a.attr_size, sizeof(a));
	CHECK_EQ(a.attr_size, SHMRING_INSTANCE_ATTR_SIZE_V1);
	CHECK_EQ(a.flags, 0);
	CHECK_EQ(a.size, 0);
	CHECK_EQ(a.mode, 0600);
	CHECK_EQ(a.uid, SHMRING_ID_CALLER);
	CHECK_EQ(a.gid, SHMRING_ID_CALLER);
	CHECK_EQ(a.node, 0);
	for (i = 0; i < N(a.reserved); i++)
		CHECK_EQ(a.reserved[i], 0);
	shmring_instance_attr_init(NULL);
	return 0;
}

static void good_attr(struct shmring_instance_attr *a)
{
	shmring_instance_attr_init(a);
	a->size = 1 << 20;
}

static int trapped(void (*fn)(void))
{
	pid_t pid = fork();
	int st;

	CHECK(pid >= 0);
	if (!pid) {
		trap_file_calls();
		fn();
		_exit(0);
	}
	CHECK_EQ(waitpid(pid, &st, 0), pid);
	CHECK(WIFEXITED(st));
	CHECK_EQ(WEXITSTATUS(st), 0);
	return 0;
}

/* Each bad argument: EINVAL (or E2BIG), and not one file call made. */
static void bad_args(void)
{
	struct {
		struct shmring_instance_attr a;
		uint64_t more[2];
	} big;
	struct shmring_instance_attr a;
	struct shmring_instinfo tab[1];
	struct shmring *sh = NULL;
	size_t i;

	for (i = 0; i < N(bad_names); i++) {
		good_attr(&a);
		CHECK_ERR(shmring_instance_create(bad_names[i], &a), EINVAL);
		CHECK_ERR(shmring_instance_destroy(bad_names[i]), EINVAL);
		CHECK_ERR(shmring_open_instance(bad_names[i], &sh), EINVAL);
	}
	CHECK_ERR(shmring_instance_create(NULL, &a), EINVAL);
	CHECK_ERR(shmring_instance_destroy(NULL), EINVAL);
	CHECK_ERR(shmring_open_instance(NULL, &sh), EINVAL);
	CHECK_ERR(shmring_open_instance("ok", NULL), EINVAL);
	CHECK_ERR(shmring_instance_create("ok", NULL), EINVAL);
	CHECK_ERR(shmring_instances(NULL, 1), EINVAL);
	(void)tab;

	good_attr(&a);
	a.attr_size = 0;
	CHECK_ERR(shmring_instance_create("ok", &a), EINVAL);
	good_attr(&a);
	a.attr_size = SHMRING_INSTANCE_ATTR_SIZE_V1 - 1;
	CHECK_ERR(shmring_instance_create("ok", &a), EINVAL);
	good_attr(&a);
	a.size = 0;
	CHECK_ERR(shmring_instance_create("ok", &a), EINVAL);
	a.size = (1ULL << 30) + 1;
	CHECK_ERR(shmring_instance_create("ok", &a), EINVAL);
	a.size = UINT64_MAX;
	CHECK_ERR(shmring_instance_create("ok", &a), EINVAL);
	good_attr(&a);
	a.mode = 0;
	CHECK_ERR(shmring_instance_create("ok", &a), EINVAL);
	a.mode = 01000;
	CHECK_ERR(shmring_instance_create("ok", &a), EINVAL);
	a.mode = 04755;
	CHECK_ERR(shmring_instance_create("ok", &a), EINVAL);
	good_attr(&a);
	a.flags = 1U << 1;
	CHECK_ERR(shmring_instance_create("ok", &a), EINVAL);
	a.flags = UINT32_MAX;
	CHECK_ERR(shmring_instance_create("ok", &a), EINVAL);
	good_attr(&a);
	a.node = 1;		/* without SHMRING_INSTANCE_NODE */
	CHECK_ERR(shmring_instance_create("ok", &a), EINVAL);
	a.flags = SHMRING_INSTANCE_NODE;
	a.node = -1;
	CHECK_ERR(shmring_instance_create("ok", &a), EINVAL);
	for (i = 0; i < N(a.reserved); i++) {
		good_attr(&a);
		a.reserved[i] = 1;
		CHECK_ERR(shmring_instance_create("ok", &a), EINVAL);
	}
	/* A newer caller's attr: unknown trailing bytes must be zero. */
	memset(&big, 0, sizeof(big));
	good_attr(&big.a);
	big.a.attr_size = sizeof(big);
	big.more[1] = 1;
	CHECK_ERR(shmring_instance_create("ok", &big.a), E2BIG);
	CHECK(sh == NULL);
}

static int bad_args_no_syscall(void)
{
	return trapped(bad_args);
}

/* What passes every check reaches the kernel: here, the trap. */
static void good_args(void)
{
	struct {
		struct shmring_instance_attr a;
		uint64_t more[2];
	} big;
	struct shmring_instance_attr a;
	struct shmring *sh;
	size_t i;

	for (i = 0; i < N(good_names); i++) {
		good_attr(&a);
		CHECK_ERR(shmring_instance_create(good_names[i], &a), TRAPPED);
		CHECK_ERR(shmring_instance_destroy(good_names[i]), TRAPPED);
		CHECK_ERR(shmring_open_instance(good_names[i], &sh), TRAPPED);
	}
	good_attr(&a);
	a.size = 1;
	a.mode = 0001;
	CHECK_ERR(shmring_instance_create("ok", &a), TRAPPED);
	a.size = 1ULL << 30;
	a.mode = 0777;
	a.uid = 0;
	a.gid = 12345;
	a.flags = SHMRING_INSTANCE_NODE;
	a.node = 0;
	CHECK_ERR(shmring_instance_create("ok", &a), TRAPPED);
	a.node = 1023;
	CHECK_ERR(shmring_instance_create("ok", &a), TRAPPED);
	memset(&big, 0, sizeof(big));
	good_attr(&big.a);
	big.a.attr_size = sizeof(big);
	CHECK_ERR(shmring_instance_create("ok", &big.a), TRAPPED);
	CHECK_ERR(shmring_instances(NULL, 0), TRAPPED);
}

static int good_args_reach_kernel(void)
{
	return trapped(good_args);
}

/*
 * A host without /dev/shmring-control: ENODEV without the module,
 * EOPNOTSUPP with a module from before instances.
 */
/* Each call tells @want: the module is missing, or has no instances. */
static void no_instances_tell(int want)
{
	struct shmring_instance_attr a;
	struct shmring_instinfo tab[4];
	struct shmring *sh;

	good_attr(&a);
	CHECK_ERR(shmring_instance_create("team-a", &a), want);
	CHECK_ERR(shmring_instance_destroy("team-a"), want);
	CHECK_ERR(shmring_open_instance("team-a", &sh), want);
	if (access("/sys/class/shmring", F_OK)) {
		CHECK_ERR(shmring_instances(tab, 4), want);
		CHECK_ERR(shmring_instances(NULL, 0), want);
	}
}

/* An empty tmpfs over @dir, in this process's own mount namespace. */
static void hide(const char *dir)
{
	CHECK_OK(mount("none", dir, "tmpfs", 0, NULL));
}

/*
 * Where the module is loaded, a child in a mount namespace of its own
 * hides /dev and /sys/class (a module without instances: EOPNOTSUPP),
 * then /sys/module too (no module: ENODEV).
 */
static void hidden_module(void)
{
	CHECK_OK(unshare(CLONE_NEWNS));
	CHECK_OK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
	hide("/dev");
	hide("/sys/class");
	no_instances_tell(EOPNOTSUPP);
	hide("/sys/module");
	no_instances_tell(ENODEV);
}

static int no_control_device(void)
{
	pid_t pid;
	int st;

	if (access(SHMRING_CONTROL, F_OK)) {
		no_instances_tell(!access(SHMRING_DEVICE, F_OK) ||
				  !access("/sys/module/shmring", F_OK) ?
				  EOPNOTSUPP : ENODEV);
		return 0;
	}
	if (geteuid()) {
		printf("# %s exists: hiding it needs root\n", SHMRING_CONTROL);
		return TAP_SKIP;
	}
	pid = fork();
	CHECK(pid >= 0);
	if (!pid) {
		hidden_module();
		_exit(0);
	}
	CHECK_EQ(waitpid(pid, &st, 0), pid);
	CHECK(WIFEXITED(st));
	CHECK_EQ(WEXITSTATUS(st), 0);
	return 0;
}

#ifdef TEST_DEVICE
/* The guests load the module with instances: no control device fails. */
static void need_instances(void)
{
	if (access(SHMRING_CONTROL, F_OK))
		printf("# no %s: the module has no instances\n",
		       SHMRING_CONTROL);
	CHECK_OK(access(SHMRING_CONTROL, F_OK));
}

static void inst_name(char *buf, size_t len, const char *what)
{
	snprintf(buf, len, "lib-%s-%d", what, (int)getpid());
}

static const struct shmring_instinfo *find_info(const struct shmring_instinfo *t,
						int n, const char *name)
{
	int i;

	for (i = 0; i < n; i++)
		if (!strcmp(t[i].name, name))
			return &t[i];
	return NULL;
}

/* The node appears when devtmpfs made it: wait a little for udev too. */
static int open_soon(const char *name, struct shmring **sh)
{
	int i, ret = -ENOENT;

	for (i = 0; i < 100 && ret == -ENOENT; i++) {
		ret = shmring_open_instance(name, sh);
		if (ret == -ENOENT)
			sleep_ms(10);
	}
	return ret;
}

static void msg_roundtrip(struct shmring *sh, const char *text)
{
	struct shmring_channel_attr ca = {
		.kind = SHMRING_MSG, .capacity = 4096,
	};
	struct shmring_channel *p, *c;
	char buf[64];

	CHECK_OK(shmring_channel_open(sh, "ch", SHMRING_PRODUCER,
				      SHMRING_CREATE, &ca, &p));
	CHECK_OK(shmring_channel_open(sh, "ch", SHMRING_CONSUMER, 0, &ca, &c));
	CHECK_EQ(shmring_msg_send(p, text, strlen(text), 1000000000),
		 (long)strlen(text));
	memset(buf, 0, sizeof(buf));
	CHECK_EQ(shmring_msg_recv(c, buf, sizeof(buf), 1000000000),
		 (long)strlen(text));
	CHECK(!strcmp(buf, text));
	CHECK_OK(shmring_channel_close(p));
	CHECK_OK(shmring_channel_close(c));
}

/* Create, list, open, a channel on it, destroy while open, and its name. */
static int lifecycle(void)
{
	struct shmring_instinfo tab[64];
	const struct shmring_instinfo *in;
	struct shmring_instance_attr a;
	struct shmring_info info;
	struct shmring *sh, *again;
	char name[SHMRING_INST_NAME_MAX];
	int n;

	need_instances();
	inst_name(name, sizeof(name), "life");
	shmring_instance_attr_init(&a);
	a.size = 1 << 20;
	CHECK_OK(shmring_instance_create(name, &a));
	CHECK_ERR(shmring_instance_create(name, &a), EEXIST);

	n = shmring_instances(tab, 64);
	CHECK(n >= 1);
	CHECK(n <= 64);
	in = find_info(tab, n, name);
	CHECK(in != NULL);
	CHECK_EQ(in->size, 1 << 20);
	CHECK_EQ(in->creator, getuid());
	CHECK_EQ(in->node, -1);
	CHECK_EQ(shmring_instances(NULL, 0), n);

	CHECK_OK(open_soon(name, &sh));
	CHECK_OK(shmring_info(sh, &info));
	CHECK_EQ(info.size, 1 << 20);
	CHECK(info.features & SHMRING_FEATURE_INSTANCES);
	n = shmring_instances(tab, 64);
	in = find_info(tab, n, name);
	CHECK(in != NULL);
	CHECK(in->flags & SHMRING_INSTINFO_NODE);
	CHECK_EQ(in->mode, 0600);
	CHECK_EQ(in->uid, geteuid());
	CHECK_EQ(in->gid, getegid());

	CHECK_OK(shmring_format(sh, 0));
	msg_roundtrip(sh, "hello, instance");

	CHECK_OK(shmring_instance_destroy(name));
	CHECK_ERR(shmring_open_instance(name, &again), ENOENT);
	CHECK_ERR(shmring_instance_destroy(name), ENOENT);
	n = shmring_instances(tab, 64);
	CHECK(n >= 0);
	CHECK(find_info(tab, n < 64 ? n : 64, name) == NULL);
	/* Still mapped: it keeps working until closed. */
	msg_roundtrip(sh, "after destroy");
	shmring_close(sh);

	/* The name is free again. */
	CHECK_OK(shmring_instance_create(name, &a));
	CHECK_OK(open_soon(name, &sh));
	CHECK_ERR(shmring_check(sh), ENOENT);	/* fresh zeroed pages */
	shmring_close(sh);
	CHECK_OK(shmring_instance_destroy(name));
	return 0;
}

/* Two instances share no byte, and neither is the default buffer. */
static int isolation(void)
{
	struct shmring_instance_attr a;
	char n1[SHMRING_INST_NAME_MAX], n2[SHMRING_INST_NAME_MAX];
	struct shmring *s1, *s2;
	unsigned char *b1, *b2;

	need_instances();
	inst_name(n1, sizeof(n1), "iso1");
	inst_name(n2, sizeof(n2), "iso2");
	shmring_instance_attr_init(&a);
	a.size = 64 << 10;
	CHECK_OK(shmring_instance_create(n1, &a));
	CHECK_OK(shmring_instance_create(n2, &a));
	CHECK_OK(open_soon(n1, &s1));
	CHECK_OK(open_soon(n2, &s2));
	b1 = shmring_base(s1);
	b2 = shmring_base(s2);
	memset(b1, 0x5a, 64 << 10);
	CHECK_EQ(b2[0], 0);
	CHECK_EQ(b2[(64 << 10) - 1], 0);
	CHECK_OK(shmring_format(s2, 0));
	CHECK_EQ(b1[4096], 0x5a);
	shmring_close(s1);
	shmring_close(s2);
	CHECK_OK(shmring_instance_destroy(n1));
	CHECK_OK(shmring_instance_destroy(n2));
	return 0;
}

/* A node: 0 has memory in every guest; one that cannot exist is refused. */
static int numa_node(void)
{
	struct shmring_instinfo tab[64];
	const struct shmring_instinfo *in;
	struct shmring_instance_attr a;
	char name[SHMRING_INST_NAME_MAX];
	long r;
	int n;

	need_instances();
	inst_name(name, sizeof(name), "node");
	shmring_instance_attr_init(&a);
	a.size = 64 << 10;
	a.flags = SHMRING_INSTANCE_NODE;
	a.node = 0;
	CHECK_OK(shmring_instance_create(name, &a));
	n = shmring_instances(tab, 64);
	in = find_info(tab, n < 64 ? n : 64, name);
	CHECK(in != NULL);
	CHECK_EQ(in->node, 0);
	CHECK_OK(shmring_instance_destroy(name));
	a.node = 1 << 20;
	errno = 0;
	r = shmring_instance_create(name, &a);
	CHECK(r == -EINVAL || r == -ENODEV);
	CHECK_EQ(errno, -r);
	return 0;
}

#endif /* TEST_DEVICE */

/* Every build runs these; the kselftest build, on the module, also those. */
#define HOST_CASES							\
	{ "name_rules", name_rules, 30 },				\
	{ "path", path, 30 },						\
	{ "attr_init", attr_init, 30 },					\
	{ "bad_args_no_syscall", bad_args_no_syscall, 30 },		\
	{ "good_args_reach_kernel", good_args_reach_kernel, 30 },	\
	{ "no_control_device", no_control_device, 30 }

#ifdef TEST_DEVICE
TAP_TESTS(
	HOST_CASES,
	{ "lifecycle", lifecycle, 60 },
	{ "isolation", isolation, 60 },
	{ "numa_node", numa_node, 60 },
)
#else
TAP_TESTS(
	HOST_CASES,
)
#endif
