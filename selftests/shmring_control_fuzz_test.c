// SPDX-License-Identifier: GPL-2.0
/*
 * Hostile input for /dev/shmring-control, each result predicted exactly.
 * This test owns the fuzzing of SHMRING_IOC_CREATE and SHMRING_IOC_DESTROY:
 * random command numbers near them (other numbers, directions and sizes,
 * the buffer's ioctls) on control fds of every access mode; the control
 * commands on the wrong fds (/dev/shmring, an instance, a watch fd:
 * ENOTTY; an O_PATH fd: EBADF); argument pointers of every kind (valid at
 * any alignment, in a read-only page, in a mapping of the default buffer,
 * straddling into a PROT_NONE page, NULL, low, unmapped, PROT_NONE,
 * kernel addresses); and contents biased to edge values: every flag bit,
 * single non-zero bytes in the reserved fields, nodes with and without
 * SHMRING_CREATE_NODE, names from a small pool (so that EEXIST and ENOENT
 * come often) and hostile ones, sizes, modes, owners and groups.
 *
 * The model holds the instances the fuzzer made (name, size, mode, owner,
 * group, node, creator, the fuzzer's open files of it), the destroyed ones
 * it still maps, the per-user limits, the caller's identity and the NUMA
 * nodes, and from them predicts the errno of each call in the order the
 * uapi header gives. After a CREATE, /dev/shmrings/NAME must have the mode,
 * owner and group asked for, and /sys/class/shmring/NAME the size, node,
 * creator and no user; after a DESTROY both must be gone. Between calls,
 * instances are opened (or refused with EACCES, as the node's mode says),
 * mapped, destroyed while mapped (the mapping and the fd keep working, the
 * old inode is refused, the name is created again, zeroed and apart),
 * released, and all of sysfs is compared with the model.
 *
 * Phases: root first (CAP_SYS_ADMIN: no limits, any owner; its fsuid and
 * fsgid moved now and then, so that SHMRING_ID_CALLER and the node modes
 * follow them); then rounds in forked children, each with user_instances
 * and user_bytes lowered: shmring-user (uid 1000, groups 999 or none) and
 * nobody (65534), whose effective ids move between the two so that the
 * real uid (the limits) and the fsuid (the owner) differ; and shmring-user
 * in a user namespace that maps it to 0, where other ids are EINVAL. Two
 * root-owned instances stay alive meanwhile, for EPERM.
 *
 * Every name it creates starts with "kcf", "Kcf", "0kcf" or "_kcf"; the
 * teardown destroys them all, restores the module parameters and closes
 * what was opened, whatever happened. Other instances may exist; the
 * model counts those of the two users it runs as, from sysfs at the
 * start, and assumes nothing else creates or destroys any meanwhile.
 *
 * Environment:
 *   SHMRING_CONTROL_FUZZ_CALLS  number of ioctls (default 50000)
 *   SHMRING_FUZZ_SEED           replay a run with the seed it printed
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "shmring_util.h"
#include "shmring_fuzz.h"

#define CLASS_DIR	"/sys/class/shmring/"
#define PARAM_DIR	MOD_SYSFS "/parameters/"
#define NODE_DIR	"/sys/devices/system/node/"

#define DEFAULT_CALLS	50000
/* Runs this long are expected to have reached every kind of outcome. */
#define COVERAGE_CALLS	50000
/* The module's SHMRING_MAX_SIZE. */
#define MAX_SIZE	(1ULL << 30)
/* Valid sizes the fuzzer asks for are at most about this... */
#define SMALL_MAX	(1ULL << 20)
/* ...and never above this: a TCG guest zeroes pages slowly. */
#define SAFE_MAX	(4ULL << 20)

#define USER_UID	1000	/* shmring-user */
#define USER_GID	999	/* shmring, its supplementary group */
#define NOBODY		65534

#define NR_OBJ		64	/* instances in the model, live or held */
#define NR_HOLD		3	/* instances the fuzzer has open and mapped */
#define NR_GROUPS	8	/* supplementary groups the model follows */
#define MAX_NODES	1024	/* node numbers the model follows */
#define NR_ROUNDS	4	/* unprivileged rounds after the root phase */
#define ARG_LEN		128	/* argument bytes written per call */
/* One step between calls every this many calls, on average. */
#define CHURN_CALLS	24
/* sysfs and /dev compared with the whole model every this many calls. */
#define SWEEP_CALLS	1000
/* devtmpfs makes and removes nodes synchronously; poll briefly anyway. */
#define NODE_POLL_NS	(2 * NSEC_PER_SEC)

/* The buffer's own commands: ENOTTY on the control device. */
static const unsigned int buffer_cmds[] = {
	SHMRING_IOC_INFO, SHMRING_IOC_WAIT, SHMRING_IOC_WAKE,
	SHMRING_IOC_WATCH, SHMRING_IOC_WATCH_ADD, SHMRING_IOC_WATCH_DEL,
	SHMRING_IOC_RELEASE_ADD, SHMRING_IOC_RELEASE_DEL,
};

/* Numbers next to CREATE and DESTROY; all of them end in ENOTTY. */
static const unsigned int near_cmds[] = {
	0, UINT_MAX, FIONREAD, FIOQSIZE, TCGETS,
	_IO(SHMRING_IOC_MAGIC, 8), _IO(SHMRING_IOC_MAGIC, 9),
	_IOR(SHMRING_IOC_MAGIC, 8, struct shmring_create),
	_IOWR(SHMRING_IOC_MAGIC, 8, struct shmring_create),
	_IOR(SHMRING_IOC_MAGIC, 9, struct shmring_destroy),
	_IOWR(SHMRING_IOC_MAGIC, 9, struct shmring_destroy),
	_IOW(SHMRING_IOC_MAGIC, 8, struct shmring_destroy),
	_IOW(SHMRING_IOC_MAGIC, 9, struct shmring_create),
	_IOW(SHMRING_IOC_MAGIC, 10, struct shmring_create),
	_IOW(SHMRING_IOC_MAGIC, 10, struct shmring_destroy),
	_IOW(SHMRING_IOC_MAGIC, 7, struct shmring_create),
	_IOW(SHMRING_IOC_MAGIC + 1, 8, struct shmring_create),
	_IOW(SHMRING_IOC_MAGIC - 1, 9, struct shmring_destroy),
	_IOC(_IOC_WRITE, SHMRING_IOC_MAGIC, 8, sizeof(struct shmring_create) - 1),
	_IOC(_IOC_WRITE, SHMRING_IOC_MAGIC, 8, sizeof(struct shmring_create) + 1),
	_IOC(_IOC_WRITE, SHMRING_IOC_MAGIC, 9, sizeof(struct shmring_destroy) - 8),
	_IOC(_IOC_WRITE, SHMRING_IOC_MAGIC, 9, sizeof(struct shmring_destroy) + 8),
	SHMRING_IOC_CREATE ^ 0x80, SHMRING_IOC_DESTROY ^ 0x80,
	SHMRING_IOC_CREATE ^ 1U << 31, SHMRING_IOC_DESTROY ^ 1U << 30,
	SHMRING_IOC_CREATE ^ 1U << 16, SHMRING_IOC_DESTROY ^ 1U << 29,
};

/*
 * Where the argument points, and how likely each is. P_RO is fine: both
 * commands only read; P_SHM is a mapping of /dev/shmring.
 */
static const enum ptr_kind ptr_kinds[] = {
	P_VALID, P_RO, P_SHM, P_STRADDLE, P_NULL, P_LOW, P_HOLE, P_NONE,
	P_KERNEL,
};

static const unsigned int ptr_weights[] = { 55, 8, 5, 8, 5, 3, 4, 4, 8 };

/* The fd a call goes to. */
enum target {
	T_CTL,		/* /dev/shmring-control, O_RDWR */
	T_CTL_RO,	/* the same, O_RDONLY: ioctls need no access mode */
	T_CTL_WO,	/* and O_WRONLY */
	T_PATH,		/* an O_PATH fd of it: EBADF before the driver */
	T_DEV,		/* /dev/shmring: ENOTTY */
	T_INST,		/* an instance the fuzzer holds: ENOTTY */
	T_WATCH,	/* a watch fd: ENOTTY */
	NR_TARGETS
};

static const char * const target_names[] = {
	"control O_RDWR", "control O_RDONLY", "control O_WRONLY",
	"control O_PATH", "/dev/shmring", "an instance", "a watch fd",
};

static const unsigned int target_weights[] = { 80, 5, 5, 2, 3, 3, 2 };

static bool control_target(enum target t)
{
	return t == T_CTL || t == T_CTL_RO || t == T_CTL_WO;
}

/* Valid names, the fuzzer's own: a small pool, so that names collide. */
static const char * const pool_names[] = {
	"kcf-a", "kcf-b", "kcf-c", "kcf.d", "kcf_e", "Kcf-F9", "0kcf", "_kcf",
	"kcf-a.b_c-D", "kcf-0123456789abcdefghijklmnopq",	/* 31, the most */
};

/* Root's, alive through the unprivileged rounds: theirs to fail on. */
static const char * const keeper_names[] = { "kcf-keep-root", "kcf-keep-group" };

/* Never valid. The last has 32 characters, no room for the NUL. */
static const char * const bad_names[] = {
	"", ".", "..", "a/b", ".x", "-x", "-", "/", ".kcf", "kcf/", "kcf b",
	"kcf:b", "kcf\\b", "kcf*", "kcf\x80", "\xff", "caf\xc3\xa9", "kcf\t",
	"kcf\n", "kcf~", "../kcf-a", "kcf-0123456789abcdefghijklmnopqr",
};

/* Who the fuzzer is. */
enum who { W_ROOT, W_USER, W_NOBODY, W_USERNS };

static const char * const who_names[] = {
	"root", "shmring-user", "nobody", "shmring-user in a user namespace",
};

/*
 * The caller's credentials, ids as the initial namespace has them. In a
 * user namespace, ns_uid and ns_gid are the only ids mapped, to 0.
 */
struct ident {
	enum who who;
	bool admin;		/* CAP_SYS_ADMIN in the initial namespace */
	bool userns;
	uint32_t ruid, fsuid, fsgid;
	uint32_t uids[2], gids[2];	/* what fsuid and fsgid move between */
	uint32_t groups[NR_GROUPS];
	int ngroups;
	uint32_t ns_uid, ns_gid;
};

/* One instance: live under its name, or destroyed but still held. */
struct obj {
	bool used;
	bool live;
	char name[SHMRING_INST_NAME_MAX];
	uint64_t size;		/* whole pages */
	uint32_t mode, uid, gid;
	uint32_t creator;	/* the real uid it counts against */
	int node;		/* -1 without SHMRING_CREATE_NODE */
	int holds;		/* the fuzzer's open files of it */
};

/* An instance the fuzzer has open and mapped. */
struct hold {
	bool used;
	pid_t pid;		/* the process that holds it */
	int fd;
	uint8_t *map;
	uint64_t size;
	int obj;
	/*
	 * Marks the first, middle and last of its words: words @slot from
	 * the start, the middle and the end, so that holds of one instance
	 * keep apart.
	 */
	uint32_t pattern;
	unsigned int slot;
};

/* Outcome counts, to show (and check) that every path was taken. */
struct stats {
	unsigned long efault, einval, einval_ids, enodev, eperm, eexist;
	unsigned long enoent, enospc, enomem, enotty, ebadf;
	unsigned long created, destroyed, destroyed_held, reused;
	unsigned long held, refused, reopen_refused, moves, sweeps;
};

/* Shared with the children of the rounds, which keep the model going. */
struct cfuzz {
	uint64_t seed, rng;
	uint64_t page;
	int nr_node_ids;
	bool node_possible[MAX_NODES], node_mem[MAX_NODES];
	int mem_nodes[MAX_NODES], nr_mem_nodes;
	int none_node;		/* a possible node without memory, or -1 */
	int gap_node;		/* below nr_node_ids but not possible, or -1 */
	uint32_t overflowuid, overflowgid;

	/* What the limits are now; what they were before the test. */
	unsigned long lim_n;
	unsigned long long lim_bytes;
	long long orig_n, orig_bytes;
	/* Instances not the fuzzer's that count against 1000 and 65534. */
	unsigned long base_n[2];
	unsigned long long base_bytes[2];

	struct ident id;
	struct obj obj[NR_OBJ];
	struct hold hold[NR_HOLD];
	struct stats st;
	bool userns_ran;

	int ctl[3], ctl_path, dev, watch;
	/* shm_w: /dev/shmring's last page; no shm_r. */
	struct fuzz_mem mem;
	uint64_t dev_size;
	/*
	 * PROT_NONE, NR_HOLD slots of SAFE_MAX bytes: holds map their
	 * instance at their slot with MAP_FIXED and put PROT_NONE back, so
	 * that no mapping lands in the hole.
	 */
	uint8_t *arena;
	pid_t child;

	/* Where the fuzzer is, and what a child found wrong. */
	const char *phase;
	unsigned long call;
	char why[256];
	char desc[1024];
};

/* Files of sysfs, /proc and the parameters */

/* The first line of a file, without its newline; -1 if unreadable. */
static int read_line(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	buf[0] = '\0';
	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* A number from a file; false if it cannot be read as one. */
static bool sysfs_num(const char *path, long long *v)
{
	char buf[64], *end;

	if (read_line(path, buf, sizeof(buf)) || !buf[0])
		return false;
	*v = strtoll(buf, &end, 0);
	return !*end;
}

static bool inst_attr(const char *name, const char *attr, long long *v)
{
	char path[320];

	snprintf(path, sizeof(path), CLASS_DIR "%s/%s", name, attr);
	return sysfs_num(path, v);
}

static int set_param(const char *name, unsigned long long val)
{
	char path[128], num[32];

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	snprintf(num, sizeof(num), "%llu", val);
	return write_file(path, num);
}

/*
 * The possible nodes, and N_MEMORY (has_memory); nr_node_ids is one more
 * than the highest possible node. Without NUMA, node 0 is the only one,
 * with all the memory.
 */
static void read_nodes(struct cfuzz *f)
{
	char possible[512], memory[512];
	int n;

	if (read_line(NODE_DIR "possible", possible, sizeof(possible)))
		snprintf(possible, sizeof(possible), "0");
	if (read_line(NODE_DIR "has_memory", memory, sizeof(memory)))
		snprintf(memory, sizeof(memory), "0");
	f->nr_node_ids = 1;
	f->none_node = -1;
	f->gap_node = -1;
	for (n = 0; n < MAX_NODES; n++) {
		if (!node_list_has(possible, n))
			continue;
		f->nr_node_ids = n + 1;
		f->node_possible[n] = true;
		f->node_mem[n] = node_list_has(memory, n);
		if (f->node_mem[n])
			f->mem_nodes[f->nr_mem_nodes++] = n;
		else if (f->none_node < 0)
			f->none_node = n;
	}
	for (n = 0; n < f->nr_node_ids && f->gap_node < 0; n++)
		if (!f->node_possible[n])
			f->gap_node = n;
}

/* The first size in pages that is over half of RAM: ENOMEM from there. */
static uint64_t enomem_pages(struct cfuzz *f)
{
	struct sysinfo si;

	if (sysinfo(&si))
		return UINT64_MAX;
	return (uint64_t)si.totalram * si.mem_unit / f->page / 2 + 1;
}

/* The model */

/* @src into a name field: NUL-padded, cut at SHMRING_INST_NAME_MAX. */
static void set_name(char *dst, const char *src)
{
	memset(dst, 0, SHMRING_INST_NAME_MAX);
	memcpy(dst, src, strnlen(src, SHMRING_INST_NAME_MAX));
}

static bool name_ok(const char *name)
{
	size_t i, len = strnlen(name, SHMRING_INST_NAME_MAX);

	if (!len || len == SHMRING_INST_NAME_MAX)
		return false;
	for (i = len; i < SHMRING_INST_NAME_MAX; i++)
		if (name[i])
			return false;
	if (name[0] == '.' || name[0] == '-')
		return false;
	for (i = 0; i < len; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-",
			    name[i]))
			return false;
	return true;
}

static int find_live(struct cfuzz *f, const char *name)
{
	int i;

	for (i = 0; i < NR_OBJ; i++)
		if (f->obj[i].used && f->obj[i].live &&
		    !strncmp(f->obj[i].name, name, SHMRING_INST_NAME_MAX))
			return i;
	return -1;
}

/*
 * An id of the argument as the module resolves it: SHMRING_ID_CALLER is
 * the fsuid or fsgid; in a user namespace only 0 is mapped.
 */
static bool resolve_id(const struct ident *id, uint32_t raw, bool gid,
		       uint32_t *out)
{
	if (raw == SHMRING_ID_CALLER) {
		*out = gid ? id->fsgid : id->fsuid;
		return true;
	}
	if (!id->userns) {
		*out = raw;
		return true;
	}
	if (raw)
		return false;
	*out = gid ? id->ns_gid : id->ns_uid;
	return true;
}

/* A global id as stat() shows it to the caller. */
static uint32_t id_view(struct cfuzz *f, uint32_t g, bool gid)
{
	const struct ident *id = &f->id;

	if (!id->userns)
		return g;
	if (g == (gid ? id->ns_gid : id->ns_uid))
		return 0;
	return gid ? f->overflowgid : f->overflowuid;
}

/* The id the caller names @g by, as the module resolves it back. */
static uint32_t id_name(const struct ident *id, uint32_t g, bool gid)
{
	if (!id->userns)
		return g;
	return g == (gid ? id->ns_gid : id->ns_uid) ? 0 : g;
}

static bool in_group(const struct ident *id, uint32_t gid)
{
	int i;

	if (gid == id->fsgid)
		return true;
	for (i = 0; i < id->ngroups; i++)
		if (id->groups[i] == gid)
			return true;
	return false;
}

/*
 * CAP_DAC_OVERRIDE for a node of @uid and @gid: root's while its fsuid is
 * 0; in a user namespace, its root's for nodes whose ids it maps.
 */
static bool dac_override(const struct ident *id, uint32_t uid, uint32_t gid)
{
	if (id->userns)
		return uid == id->ns_uid && gid == id->ns_gid;
	return id->who == W_ROOT && !id->fsuid;
}

/* generic_permission() on a node: owner, else group, else other bits. */
static bool may_open(const struct ident *id, const struct obj *o, bool write)
{
	unsigned int bits;

	if (dac_override(id, o->uid, o->gid))
		return true;
	if (o->uid == id->fsuid)
		bits = o->mode >> 6;
	else if (in_group(id, o->gid))
		bits = o->mode >> 3;
	else
		bits = o->mode;
	return (bits & 4) && (!write || (bits & 2));
}

/* Instances and bytes counting against @uid: live, or freed only later. */
static void charged(struct cfuzz *f, uint32_t uid, unsigned long *n,
		    unsigned long long *bytes)
{
	int i;

	*n = 0;
	*bytes = 0;
	if (uid == USER_UID || uid == NOBODY) {
		*n = f->base_n[uid == NOBODY];
		*bytes = f->base_bytes[uid == NOBODY];
	}
	for (i = 0; i < NR_OBJ; i++) {
		if (f->obj[i].used && f->obj[i].creator == uid) {
			(*n)++;
			*bytes += f->obj[i].size;
		}
	}
}

/* The argument of one call, as placed and as the kernel reads it. */
struct call {
	enum target tgt;
	int fd;
	int hold;			/* T_INST: the hold, else -1 */
	unsigned int cmd;		/* what the driver sees */
	unsigned long long raw_cmd;	/* what the syscall gets */
	enum ptr_kind kind;
	uint8_t *ptr;			/* the argument */
	uint8_t *wr;			/* a writable view of it, or NULL */
	size_t len;			/* argument bytes that matter */
	size_t room;			/* bytes accessible from ptr */
	union {
		uint8_t bytes[ARG_LEN];
		struct shmring_create create;
		struct shmring_destroy destroy;
	} arg;
	bool as_create;			/* the bytes are a CREATE's, else a DESTROY's */
	int x;				/* -errno expected, 0 for success */
	bool x_ids;			/* EINVAL: an id not mapped */
};

static bool reserved_set(const __u64 *r, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (r[i])
			return true;
	return false;
}

/* CREATE, checked in the order of the uapi header. */
static int predict_create(struct cfuzz *f, struct call *c)
{
	const struct shmring_create *a = &c->arg.create;
	const struct ident *id = &f->id;
	unsigned long n;
	unsigned long long bytes;
	uint32_t owner, group;
	uint64_t size;

	if (!ptr_readable(c->kind))
		return -EFAULT;
	if (a->flags & ~SHMRING_CREATE_FLAGS || a->reserved0 ||
	    reserved_set(a->reserved, ARRAY_SIZE(a->reserved)))
		return -EINVAL;
	if (!(a->flags & SHMRING_CREATE_NODE) && a->node)
		return -EINVAL;
	if (!name_ok(a->name))
		return -EINVAL;
	if (!a->size || a->size > MAX_SIZE)
		return -EINVAL;
	if (!a->mode || a->mode & ~0777U)
		return -EINVAL;
	if (!resolve_id(id, a->uid, false, &owner) ||
	    !resolve_id(id, a->gid, true, &group)) {
		c->x_ids = true;
		return -EINVAL;
	}
	if (a->flags & SHMRING_CREATE_NODE) {
		if (a->node < 0 || a->node >= f->nr_node_ids ||
		    !f->node_possible[a->node])
			return -EINVAL;
		if (!f->node_mem[a->node])
			return -ENODEV;
	}
	if ((owner != id->fsuid || !in_group(id, group)) && !id->admin)
		return -EPERM;
	if (find_live(f, a->name) >= 0)
		return -EEXIST;
	size = (a->size + f->page - 1) / f->page * f->page;
	if (!id->admin) {
		charged(f, id->ruid, &n, &bytes);
		if (n >= f->lim_n || size > f->lim_bytes ||
		    bytes > f->lim_bytes - size)
			return -ENOSPC;
	}
	if (size / f->page >= enomem_pages(f))
		return -ENOMEM;
	return 0;
}

/* DESTROY: EFAULT, EINVAL, ENOENT, EPERM. */
static int predict_destroy(struct cfuzz *f, const struct call *c)
{
	const struct shmring_destroy *a = &c->arg.destroy;
	int o;

	if (!ptr_readable(c->kind))
		return -EFAULT;
	if (a->flags || a->reserved0 ||
	    reserved_set(a->reserved, ARRAY_SIZE(a->reserved)))
		return -EINVAL;
	if (!name_ok(a->name))
		return -EINVAL;
	o = find_live(f, a->name);
	if (o < 0)
		return -ENOENT;
	if (f->obj[o].uid != f->id.fsuid && !f->id.admin)
		return -EPERM;
	return 0;
}

static int predict(struct cfuzz *f, struct call *c)
{
	if (c->tgt == T_PATH)
		return -EBADF;
	if (!control_target(c->tgt))
		return -ENOTTY;
	if (c->cmd == SHMRING_IOC_CREATE)
		return predict_create(f, c);
	if (c->cmd == SHMRING_IOC_DESTROY)
		return predict_destroy(f, c);
	return -ENOTTY;
}

/* Identities */

/* Credentials moved: /proc/self stays ours, and we die with the test. */
static int after_cred_change(bool child)
{
	if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0))
		return -1;
	if (child && prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0))
		return -1;
	return 0;
}

/* Moves the fsuid and fsgid (root) or the effective ids (the others). */
static const char *move_ids(struct cfuzz *f, uint32_t uid, uint32_t gid)
{
	struct ident *id = &f->id;

	if (id->who == W_ROOT) {
		setfsgid(gid);
		setfsuid(uid);
		if ((uint32_t)setfsuid(-1) != uid || (uint32_t)setfsgid(-1) != gid)
			return "setfsuid or setfsgid did not take";
	} else {
		if (setresgid(-1, gid, -1) || setresuid(-1, uid, -1))
			return "setresuid or setresgid to the saved ids failed";
	}
	if (after_cred_change(id->who != W_ROOT))
		return "prctl after moving ids failed";
	id->fsuid = uid;
	id->fsgid = gid;
	f->st.moves++;
	return NULL;
}

static void init_root(struct cfuzz *f)
{
	struct ident *id = &f->id;
	gid_t groups[NR_GROUPS];
	int i, n;

	memset(id, 0, sizeof(*id));
	id->who = W_ROOT;
	id->admin = true;
	id->uids[0] = 0;
	id->uids[1] = USER_UID;
	id->gids[0] = 0;
	id->gids[1] = USER_GID;
	n = getgroups(NR_GROUPS, groups);
	for (i = 0; i < n; i++)
		id->groups[id->ngroups++] = groups[i];
}

static int write_proc(const char *name, const char *val)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/%s", name);
	return write_file(path, val);
}

/*
 * In a forked child: becomes @as for good. The real uid is one user's,
 * the saved uid the other's, so that the effective uid, and with it the
 * fsuid, can move between them. Returns why not, or NULL.
 */
static const char *become(struct cfuzz *f, enum who as, bool member)
{
	struct ident *id = &f->id;
	gid_t gid = USER_GID;
	uint32_t a = as == W_NOBODY ? NOBODY : USER_UID;
	uint32_t b = as == W_NOBODY ? USER_UID : NOBODY;

	memset(id, 0, sizeof(*id));
	id->who = as;
	id->ruid = a;
	id->fsuid = a;
	id->fsgid = NOBODY;
	id->uids[0] = a;
	id->uids[1] = b;
	id->gids[0] = NOBODY;
	id->gids[1] = USER_GID;
	if (member)
		id->groups[id->ngroups++] = USER_GID;
	if (setgroups(member, &gid))
		return "setgroups failed";
	if (as == W_USERNS) {
		id->uids[1] = a;
		id->gids[1] = NOBODY;
		if (setresgid(NOBODY, NOBODY, NOBODY) || setresuid(a, a, a) ||
		    after_cred_change(true))
			return "setresuid or setresgid failed";
		if (unshare(CLONE_NEWUSER)) {
			/* Not a failure: the round runs without the namespace. */
			fprintf(stderr, "# no user namespace (%s): a plain round instead\n",
				strerror(errno));
			id->who = W_USER;
			return NULL;
		}
		if (write_proc("setgroups", "deny") ||
		    write_proc("uid_map", "0 1000 1") ||
		    write_proc("gid_map", "0 65534 1"))
			return "writing the id maps of the user namespace failed";
		id->userns = true;
		id->ns_uid = USER_UID;
		id->ns_gid = NOBODY;
		f->userns_ran = true;
		return NULL;
	}
	if (setresgid(NOBODY, NOBODY, USER_GID) || setresuid(a, a, b) ||
	    after_cred_change(true))
		return "setresuid or setresgid failed";
	return NULL;
}

/* Generators, biased towards the edges */

static unsigned int gen_cmd(struct cfuzz *f)
{
	static const unsigned int real[] = { SHMRING_IOC_CREATE, SHMRING_IOC_DESTROY };
	uint64_t *s = &f->rng;
	unsigned int cmd, nr;
	size_t size;

	do {
		switch (rnd_below(s, 32)) {
		case 0: case 1: case 2: case 3: case 4: case 5: case 6:
		case 7: case 8: case 9: case 10: case 11: case 12: case 13:
			cmd = SHMRING_IOC_CREATE;
			break;
		case 14: case 15: case 16: case 17: case 18: case 19:
		case 20: case 21: case 22: case 23:
			cmd = SHMRING_IOC_DESTROY;
			break;
		case 24: case 25:	/* their numbers, other sizes and directions */
			nr = 8 + rnd_below(s, 2);
			switch (rnd_below(s, 3)) {
			case 0:
				size = rnd_below(s, 1U << _IOC_SIZEBITS);
				break;
			case 1:
				size = nr == 8 ? sizeof(struct shmring_destroy) :
				       sizeof(struct shmring_create);
				break;
			default:
				size = nr == 8 ? sizeof(struct shmring_create) :
				       sizeof(struct shmring_destroy);
				break;
			}
			cmd = _IOC(rnd_below(s, 4), SHMRING_IOC_MAGIC, nr, size);
			break;
		case 26:
			cmd = buffer_cmds[rnd_below(s, ARRAY_SIZE(buffer_cmds))];
			break;
		case 27:		/* our magic, anything else */
			cmd = _IOC(rnd_below(s, 4), SHMRING_IOC_MAGIC,
				   rnd_below(s, 256),
				   rnd_below(s, 1U << _IOC_SIZEBITS));
			break;
		case 28: case 29:
			cmd = near_cmds[rnd_below(s, ARRAY_SIZE(near_cmds))];
			break;
		case 30:
			cmd = rnd(s);
			break;
		default:		/* the right number, one bit off */
			cmd = real[rnd_below(s, 2)] ^ 1U << rnd_below(s, 32);
			break;
		}
	} while (vfs_cmd(cmd));
	return cmd;
}

/* A single non-zero byte, now and then; mostly 0, as it must be. */
static uint64_t gen_reserved(struct cfuzz *f, unsigned int bytes, unsigned int odds)
{
	uint64_t *s = &f->rng;

	if (rnd_below(s, odds))
		return 0;
	return (1 + rnd_below(s, 255)) << (8 * rnd_below(s, bytes));
}

/* 1..@n pages, now and then not a whole number of them. */
static uint64_t gen_pages(struct cfuzz *f, unsigned int n)
{
	uint64_t *s = &f->rng;
	uint64_t size = (1 + rnd_below(s, n)) * f->page;

	if (!rnd_below(s, 3))
		size -= rnd_below(s, f->page);
	return size;
}

static uint64_t gen_size(struct cfuzz *f)
{
	const uint64_t page = f->page, over = enomem_pages(f) * page;
	const uint64_t small[] = {
		0, 1, page - 1, page, page + 1, 2 * page - 1, 2 * page,
		16 * page, 65536, 65537, 262144, SMALL_MAX - 1, SMALL_MAX,
	};
	const uint64_t big[] = {
		MAX_SIZE + 1, MAX_SIZE + page, 2 * MAX_SIZE, 1ULL << 32,
		(1ULL << 32) + page, 1ULL << 40, 1ULL << 63, INT64_MAX,
		UINT64_MAX, UINT64_MAX - page + 2, (uint64_t)-MAX_SIZE,
		MAX_SIZE, over, over + 1, over - page + 1,
	};
	uint64_t *s = &f->rng, size;

	switch (rnd_below(s, 16)) {
	case 0: case 1: case 2: case 3: case 4: case 5: case 6:
		size = gen_pages(f, 4);
		break;
	case 7: case 8:
		size = gen_pages(f, 16);
		break;
	case 9: case 10:
		size = small[rnd_below(s, ARRAY_SIZE(small))];
		break;
	case 11:
		size = 1 + rnd_below(s, SMALL_MAX);
		break;
	case 12: case 13:
		size = big[rnd_below(s, ARRAY_SIZE(big))];
		break;
	case 14:
		size = rnd(s);
		break;
	default:
		size = 1ULL << rnd_below(s, 64);
		break;
	}
	/*
	 * Big valid sizes only where ENOMEM stops them before any page is
	 * allocated: above half of RAM. Otherwise just too big.
	 */
	if (size > SAFE_MAX && size <= MAX_SIZE &&
	    (size + page - 1) / page < enomem_pages(f))
		size = MAX_SIZE + 1;
	return size;
}

static uint32_t gen_mode(struct cfuzz *f)
{
	static const uint32_t modes[] = {
		0, 1, 0777, 0600, 0640, 0644, 0660, 0666, 0400, 0200, 0440,
		0004, 0060, 0606, 0066, 01000, 01777, 02600, 04600, 0170600,
		0xffffffff, 0x80000000, 0x10000 | 0600,
	};
	uint64_t *s = &f->rng;

	switch (rnd_below(s, 8)) {
	case 0: case 1: case 2:
		return 0600;
	case 3: case 4:
		return modes[rnd_below(s, ARRAY_SIZE(modes))];
	case 5: case 6:
		return rnd_below(s, 01000);
	default:
		return rnd_below(s, 4) ? 0644 : rnd(s);
	}
}

/* An owner or group: the caller's own, mostly, as it names them. */
static uint32_t gen_id(struct cfuzz *f, bool gid)
{
	const struct ident *id = &f->id;
	const uint32_t fixed[] = { 0, USER_UID, USER_GID, NOBODY, 1, 65535 };
	uint64_t *s = &f->rng;

	switch (rnd_below(s, 12)) {
	case 0: case 1: case 2: case 3: case 4:
		return SHMRING_ID_CALLER;
	case 5: case 6:
		return id_name(id, gid ? id->fsgid : id->fsuid, gid);
	case 7:
		return id_name(id, gid ? id->gids[rnd_below(s, 2)] :
			       id->uids[rnd_below(s, 2)], gid);
	case 8:
		if (gid && id->ngroups)
			return id_name(id, id->groups[rnd_below(s, id->ngroups)], true);
		return id_name(id, id->ruid, gid);
	case 9: case 10:
		return fixed[rnd_below(s, ARRAY_SIZE(fixed))];
	default:
		return rnd_below(s, 2) ? (uint32_t)rnd(s) : SHMRING_ID_CALLER - 1;
	}
}

static int32_t gen_node(struct cfuzz *f, bool with_flag)
{
	const int32_t edges[] = {
		-1, -2, INT32_MIN, INT32_MAX, f->nr_node_ids, f->nr_node_ids + 1,
		MAX_NODES, 1 << 20, 64,
	};
	uint64_t *s = &f->rng;

	if (!with_flag)
		return rnd_below(s, 10) ? 0 : edges[rnd_below(s, ARRAY_SIZE(edges))];
	switch (rnd_below(s, 10)) {
	case 0: case 1: case 2: case 3: case 4:
		return f->nr_mem_nodes ? f->mem_nodes[rnd_below(s, f->nr_mem_nodes)] : 0;
	case 5:
		return f->none_node >= 0 ? f->none_node : 0;
	case 6:
		return f->gap_node >= 0 ? f->gap_node : f->nr_node_ids - 1;
	case 7:
		return rnd_below(s, f->nr_node_ids);
	case 8:
		return edges[rnd_below(s, ARRAY_SIZE(edges))];
	default:
		return rnd(s);
	}
}

static uint32_t gen_flags(struct cfuzz *f)
{
	uint64_t *s = &f->rng;

	switch (rnd_below(s, 20)) {
	case 0: case 1: case 2:
		return SHMRING_CREATE_NODE;
	case 3:
		return 1U << rnd_below(s, 32);
	case 4:
		return SHMRING_CREATE_NODE | 1U << (1 + rnd_below(s, 31));
	case 5:
		return rnd(s);
	default:
		return 0;
	}
}

/* A live instance's name, if there is one. */
static const char *live_name(struct cfuzz *f)
{
	int i, live[NR_OBJ], n = 0;

	for (i = 0; i < NR_OBJ; i++)
		if (f->obj[i].used && f->obj[i].live)
			live[n++] = i;
	return n ? f->obj[live[rnd_below(&f->rng, n)]].name : NULL;
}

/*
 * A name: from the pool mostly, a live one, a keeper's, a hostile one, a
 * valid one with bytes after its NUL, or random bytes.
 */
static void gen_name(struct cfuzz *f, char *name, bool destroy)
{
	uint64_t *s = &f->rng;
	const char *src = NULL;
	size_t len, i;

	memset(name, 0, SHMRING_INST_NAME_MAX);
	switch (rnd_below(s, 16)) {
	case 0: case 1: case 2: case 3: case 4: case 5: case 6:
		src = pool_names[rnd_below(s, ARRAY_SIZE(pool_names))];
		break;
	case 7: case 8: case 9:
		src = destroy ? live_name(f) : NULL;
		if (!src)
			src = pool_names[rnd_below(s, ARRAY_SIZE(pool_names))];
		break;
	case 10:
		src = keeper_names[rnd_below(s, ARRAY_SIZE(keeper_names))];
		break;
	case 11: case 12:
		src = bad_names[rnd_below(s, ARRAY_SIZE(bad_names))];
		break;
	case 13: case 14:	/* a pool name, then junk after its NUL */
		src = pool_names[rnd_below(s, ARRAY_SIZE(pool_names) - 1)];
		len = strlen(src);
		memcpy(name, src, len);
		name[len + 1 + rnd_below(s, SHMRING_INST_NAME_MAX - len - 1)] =
			1 + rnd_below(s, 255);
		return;
	default:
		for (i = 0; i < SHMRING_INST_NAME_MAX; i++)
			name[i] = rnd(s);
		return;
	}
	len = strlen(src);
	memcpy(name, src, len < SHMRING_INST_NAME_MAX ? len : SHMRING_INST_NAME_MAX);
}

static void gen_create(struct cfuzz *f, struct shmring_create *a)
{
	unsigned int i;

	a->size = gen_size(f);
	a->flags = gen_flags(f);
	a->mode = gen_mode(f);
	a->uid = gen_id(f, false);
	a->gid = gen_id(f, true);
	a->node = gen_node(f, a->flags & SHMRING_CREATE_NODE);
	a->reserved0 = gen_reserved(f, 4, 32);
	gen_name(f, a->name, false);
	for (i = 0; i < ARRAY_SIZE(a->reserved); i++)
		a->reserved[i] = gen_reserved(f, 8, 48);
}

static void gen_destroy(struct cfuzz *f, struct shmring_destroy *a)
{
	unsigned int i;

	gen_name(f, a->name, true);
	a->flags = gen_reserved(f, 4, 24);
	a->reserved0 = gen_reserved(f, 4, 32);
	for (i = 0; i < ARRAY_SIZE(a->reserved); i++)
		a->reserved[i] = gen_reserved(f, 8, 48);
}

/* Placing an argument */

static size_t arg_len(unsigned int cmd)
{
	if (cmd == SHMRING_IOC_CREATE)
		return sizeof(struct shmring_create);
	if (cmd == SHMRING_IOC_DESTROY)
		return sizeof(struct shmring_destroy);
	return ARG_LEN;
}

static int held_fd(struct cfuzz *f, int *which)
{
	int i, live[NR_HOLD], n = 0;

	for (i = 0; i < NR_HOLD; i++)
		if (f->hold[i].used)
			live[n++] = i;
	if (!n)
		return -1;
	*which = live[rnd_below(&f->rng, n)];
	return f->hold[*which].fd;
}

static void choose_target(struct cfuzz *f, struct call *c)
{
	c->tgt = pick_weighted(&f->rng, target_weights, NR_TARGETS);
	c->hold = -1;
	switch (c->tgt) {
	case T_CTL: case T_CTL_RO: case T_CTL_WO:
		c->fd = f->ctl[c->tgt - T_CTL];
		break;
	case T_PATH:
		c->fd = f->ctl_path;
		break;
	case T_INST:
		/* Without a held instance, /dev/shmring instead. */
		c->fd = held_fd(f, &c->hold);
		if (c->fd < 0) {
			c->tgt = T_DEV;
			c->fd = f->dev;
		}
		break;
	case T_DEV:
		c->fd = f->dev;
		break;
	default:
		c->fd = f->watch;
		break;
	}
}

/* Chooses where the argument goes; the bytes are written by place(). */
static void choose_ptr(struct cfuzz *f, struct call *c)
{
	fuzz_choose_ptr(&f->mem, &f->rng, c->kind, c->len, ARG_LEN,
			&c->ptr, &c->wr, &c->room);
}

static void place(struct call *c)
{
	fuzz_place(c->kind, c->wr, c->len, c->room, c->arg.bytes);
}

/* A fuzzed call: command, fd, pointer and contents. */
static void gen_call(struct cfuzz *f, struct call *c)
{
	static const unsigned int wrong_fd_cmds[] = {
		SHMRING_IOC_CREATE, SHMRING_IOC_CREATE, SHMRING_IOC_DESTROY,
		SHMRING_IOC_DESTROY, _IOW(SHMRING_IOC_MAGIC, 9, struct shmring_create),
		_IOR(SHMRING_IOC_MAGIC, 8, struct shmring_create),
	};
	uint64_t *s = &f->rng;
	size_t i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < ARG_LEN; i += 8)
		*(uint64_t *)(c->arg.bytes + i) = rnd(s);
	choose_target(f, c);
	if (c->tgt == T_DEV || c->tgt == T_INST || c->tgt == T_WATCH)
		c->cmd = wrong_fd_cmds[rnd_below(s, ARRAY_SIZE(wrong_fd_cmds))];
	else
		c->cmd = gen_cmd(f);
	c->raw_cmd = c->cmd;
	/* The syscall takes an unsigned int: high bits must not matter. */
	if (!rnd_below(s, 8))
		c->raw_cmd |= rnd(s) << 32;
	/* Contents as CREATE or DESTROY would read them, whatever the number. */
	c->as_create = c->cmd == SHMRING_IOC_CREATE ||
		       (c->cmd != SHMRING_IOC_DESTROY && rnd_below(s, 2));
	if (c->as_create)
		gen_create(f, &c->arg.create);
	else
		gen_destroy(f, &c->arg.destroy);
	c->len = arg_len(c->cmd);
	c->kind = ptr_kinds[pick_weighted(s, ptr_weights, ARRAY_SIZE(ptr_weights))];
	choose_ptr(f, c);
}

/* A valid argument for @cmd, at a valid address, to the control fd. */
static void plain_call(struct cfuzz *f, struct call *c, unsigned int cmd)
{
	memset(c, 0, sizeof(*c));
	c->tgt = T_CTL;
	c->fd = f->ctl[0];
	c->hold = -1;
	c->cmd = cmd;
	c->raw_cmd = cmd;
	c->as_create = cmd == SHMRING_IOC_CREATE;
	c->len = arg_len(cmd);
	c->kind = P_VALID;
	choose_ptr(f, c);
}

/* Describing */

static void append_name(char *buf, size_t len, size_t *n, const char *name)
{
	size_t i, end = strnlen(name, SHMRING_INST_NAME_MAX);
	unsigned char ch;

	append(buf, len, n, "\"");
	for (i = 0; i < end; i++) {
		ch = name[i];
		if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\')
			append(buf, len, n, "%c", ch);
		else
			append(buf, len, n, "\\x%02x", ch);
	}
	append(buf, len, n, "\"");
	for (i = end; i < SHMRING_INST_NAME_MAX; i++)
		if (name[i])
			append(buf, len, n, " [%zu]=%#x", i, (unsigned char)name[i]);
}

static void describe_ident(struct cfuzz *f, char *buf, size_t len, size_t *n)
{
	const struct ident *id = &f->id;

	append(buf, len, n, "as %s (ruid %u fsuid %u fsgid %u, %d groups)",
	       who_names[id->who], id->ruid, id->fsuid, id->fsgid, id->ngroups);
	if (!id->admin)
		append(buf, len, n, ", user_instances %lu user_bytes %llu",
		       f->lim_n, f->lim_bytes);
}

static void describe(struct cfuzz *f, const struct call *c, char *buf, size_t len)
{
	const struct shmring_create *a = &c->arg.create;
	const struct shmring_destroy *d = &c->arg.destroy;
	size_t n = 0;

	buf[0] = '\0';
	describe_ident(f, buf, len, &n);
	append(buf, len, &n, ": fd %d (%s), cmd %#x (passed as %#llx), %s pointer %p",
	       c->fd, target_names[c->tgt], c->cmd, c->raw_cmd,
	       ptr_names[c->kind], (void *)c->ptr);
	if (c->as_create) {
		append(buf, len, &n,
		       ", CREATE size %#llx flags %#x mode %#o uid %#x gid %#x node %d reserved0 %#x reserved %#llx %#llx %#llx %#llx name ",
		       (unsigned long long)a->size, a->flags, a->mode, a->uid,
		       a->gid, a->node, a->reserved0,
		       (unsigned long long)a->reserved[0],
		       (unsigned long long)a->reserved[1],
		       (unsigned long long)a->reserved[2],
		       (unsigned long long)a->reserved[3]);
		append_name(buf, len, &n, a->name);
	} else {
		append(buf, len, &n, ", DESTROY flags %#x reserved0 %#x reserved %#llx %#llx name ",
		       d->flags, d->reserved0,
		       (unsigned long long)d->reserved[0],
		       (unsigned long long)d->reserved[1]);
		append_name(buf, len, &n, d->name);
	}
}

/* Checking the world */

static const char *check_present(struct cfuzz *f, const struct obj *o)
{
	static char why[256];
	char path[96], dev[32], want[32];
	long long size, node, creator, users;
	int64_t start = now_ns();
	struct stat st;

	snprintf(path, sizeof(path), SHMRING_INST_DIR "%s", o->name);
	while (stat(path, &st)) {
		if (errno != ENOENT || now_ns() - start > NODE_POLL_NS) {
			snprintf(why, sizeof(why), "no node %s: %s", path,
				 strerror(errno));
			return why;
		}
		usleep(1000);
	}
	if (!S_ISCHR(st.st_mode) || (st.st_mode & 07777) != o->mode ||
	    st.st_uid != id_view(f, o->uid, false) ||
	    st.st_gid != id_view(f, o->gid, true)) {
		snprintf(why, sizeof(why),
			 "%s is mode %#o uid %u gid %u, not char device %#o %u %u",
			 path, st.st_mode, st.st_uid, st.st_gid, o->mode,
			 id_view(f, o->uid, false), id_view(f, o->gid, true));
		return why;
	}
	if (!inst_attr(o->name, "size", &size) ||
	    !inst_attr(o->name, "numa_node", &node) ||
	    !inst_attr(o->name, "creator", &creator) ||
	    !inst_attr(o->name, "users", &users)) {
		snprintf(why, sizeof(why), "%s%s: an attribute is missing",
			 CLASS_DIR, o->name);
		return why;
	}
	if ((uint64_t)size != o->size || node != o->node ||
	    creator != o->creator || users != o->holds) {
		snprintf(why, sizeof(why),
			 "%s%s: size %lld numa_node %lld creator %lld users %lld, not %llu %d %u %d",
			 CLASS_DIR, o->name, size, node, creator, users,
			 (unsigned long long)o->size, o->node, o->creator,
			 o->holds);
		return why;
	}
	snprintf(path, sizeof(path), CLASS_DIR "%s/dev", o->name);
	snprintf(want, sizeof(want), "%u:%u", major(st.st_rdev), minor(st.st_rdev));
	if (read_line(path, dev, sizeof(dev)) || strcmp(dev, want)) {
		snprintf(why, sizeof(why), "%s is %s, the node %s", path, dev, want);
		return why;
	}
	return NULL;
}

static const char *check_absent(const char *name)
{
	static char why[320];
	char node[96], sys[96];
	int64_t start = now_ns();

	snprintf(node, sizeof(node), SHMRING_INST_DIR "%s", name);
	snprintf(sys, sizeof(sys), CLASS_DIR "%s", name);
	while (!access(node, F_OK) || !access(sys, F_OK)) {
		if (now_ns() - start > NODE_POLL_NS) {
			snprintf(why, sizeof(why), "%s or %s is still there",
				 node, sys);
			return why;
		}
		usleep(1000);
	}
	return NULL;
}

/* Every name the fuzzer uses: there exactly when the model says so. */
static const char *sweep(struct cfuzz *f)
{
	const char *why = NULL;
	unsigned int i;
	int o;

	f->st.sweeps++;
	for (i = 0; !why && i < NR_OBJ; i++)
		if (f->obj[i].used && f->obj[i].live)
			why = check_present(f, &f->obj[i]);
	for (i = 0; !why && i < ARRAY_SIZE(pool_names) + ARRAY_SIZE(keeper_names); i++) {
		const char *name = i < ARRAY_SIZE(pool_names) ? pool_names[i] :
				   keeper_names[i - ARRAY_SIZE(pool_names)];
		char padded[SHMRING_INST_NAME_MAX] = "";

		set_name(padded, name);
		o = find_live(f, padded);
		if (o < 0)
			why = check_absent(name);
	}
	return why;
}

/* Keeping the model */

static const char *model_add(struct cfuzz *f, const struct shmring_create *a)
{
	struct obj *o = NULL;
	int i;

	for (i = 0; i < NR_OBJ && !o; i++)
		if (!f->obj[i].used)
			o = &f->obj[i];
	if (!o)
		return "the model has no room for another instance";
	memset(o, 0, sizeof(*o));
	o->used = true;
	o->live = true;
	memcpy(o->name, a->name, sizeof(o->name));
	o->size = (a->size + f->page - 1) / f->page * f->page;
	o->mode = a->mode;
	resolve_id(&f->id, a->uid, false, &o->uid);
	resolve_id(&f->id, a->gid, true, &o->gid);
	o->creator = f->id.ruid;
	o->node = a->flags & SHMRING_CREATE_NODE ? a->node : -1;
	if (o->size > SAFE_MAX)
		return "an instance above the safe size was made";
	return check_present(f, o);
}

static const char *model_kill(struct cfuzz *f, const char *name)
{
	int i = find_live(f, name);
	struct obj *o = &f->obj[i];

	o->live = false;
	if (o->holds)
		f->st.destroyed_held++;
	else
		o->used = false;
	return check_absent(o->name);
}

/* The guard bytes around the argument, which the kernel only reads. */
static const char *check_memory(const struct call *c)
{
	size_t i;

	if (c->kind == P_VALID)
		for (i = 0; i < FUZZ_GUARD; i++)
			if (c->ptr[-1 - (ssize_t)i] != 0x5a || c->ptr[c->len + i] != 0x5a)
				return "the kernel wrote outside the argument";
	if (c->wr && memcmp(c->wr, c->arg.bytes, c->room))
		return "the kernel changed an input-only argument";
	return NULL;
}

static void count(struct stats *st, int err)
{
	st->efault += err == EFAULT;
	st->einval += err == EINVAL;
	st->enodev += err == ENODEV;
	st->eperm += err == EPERM;
	st->eexist += err == EEXIST;
	st->enoent += err == ENOENT;
	st->enospc += err == ENOSPC;
	st->enomem += err == ENOMEM;
	st->enotty += err == ENOTTY;
	st->ebadf += err == EBADF;
}

/*
 * Places, predicts, sends and judges @c, then keeps the model. On a
 * difference the call is described in f->desc.
 */
static const char *run_call(struct cfuzz *f, struct call *c)
{
	static char why[128];
	const char *bad;
	long ret;
	int err;

	place(c);
	c->x_ids = false;
	c->x = predict(f, c);
	ret = syscall(SYS_ioctl, c->fd, c->raw_cmd, c->ptr);
	err = ret == -1 ? -errno : 0;
	if (c->x ? ret != -1 || err != c->x : ret) {
		snprintf(why, sizeof(why), "expected %s, got %ld (%s)",
			 errname(-c->x), ret, errname(-err));
		bad = why;
	} else {
		bad = check_memory(c);
	}
	if (!bad && c->x_ids)
		f->st.einval_ids++;
	if (!bad && !c->x && c->cmd == SHMRING_IOC_CREATE) {
		f->st.created++;
		bad = model_add(f, &c->arg.create);
	} else if (!bad && !c->x) {
		f->st.destroyed++;
		bad = model_kill(f, c->arg.destroy.name);
	} else if (!bad) {
		count(&f->st, -c->x);
	}
	if (bad)
		describe(f, c, f->desc, sizeof(f->desc));
	return bad;
}

/* Instances held open and mapped */

static const char *inst_path(const char *name)
{
	static char path[96];

	snprintf(path, sizeof(path), SHMRING_INST_DIR "%s", name);
	return path;
}

static const char *check_users(const struct obj *o)
{
	static char why[128];
	long long users;

	if (!o->live)
		return NULL;
	if (!inst_attr(o->name, "users", &users) || users != o->holds) {
		snprintf(why, sizeof(why), "%s has %lld users, not %d",
			 o->name, users, o->holds);
		return why;
	}
	return NULL;
}

/* Marked word @i (0, 1 or 2) of @h. */
static uint32_t *mark(const struct hold *h, int i)
{
	uint32_t *w = (uint32_t *)h->map;
	uint64_t words = h->size / 4;

	return &w[i == 0 ? h->slot : i == 1 ? words / 2 + h->slot : words - 1 - h->slot];
}

static uint64_t mark_off(const struct hold *h, int i)
{
	return (uint8_t *)mark(h, i) - h->map;
}

/*
 * Opens a live instance as its node's mode allows, or sees EACCES; maps
 * the whole of it and marks it.
 */
static const char *hold_open(struct cfuzz *f, struct hold *h)
{
	static char why[160];
	uint64_t *s = &f->rng;
	const char *name = live_name(f);
	struct obj *o;
	bool opened;
	int fd;

	if (!name)
		return NULL;
	o = &f->obj[find_live(f, name)];
	fd = open(inst_path(name), O_RDWR | O_CLOEXEC);
	if (!may_open(&f->id, o, true)) {
		if (fd >= 0 || errno != EACCES) {
			if (fd >= 0)
				close(fd);
			snprintf(why, sizeof(why),
				 "open O_RDWR of %s (mode %#o uid %u gid %u) did not fail with EACCES",
				 name, o->mode, o->uid, o->gid);
			return why;
		}
		f->st.refused++;
		fd = open(inst_path(name), O_RDONLY | O_CLOEXEC);
		opened = fd >= 0;
		if (opened != may_open(&f->id, o, false)) {
			if (opened)
				close(fd);
			snprintf(why, sizeof(why),
				 "open O_RDONLY of %s (mode %#o uid %u gid %u): %s",
				 name, o->mode, o->uid, o->gid,
				 opened ? "success" : strerror(errno));
			return why;
		}
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if (fd < 0) {
		snprintf(why, sizeof(why), "open O_RDWR of %s (mode %#o uid %u gid %u): %s",
			 name, o->mode, o->uid, o->gid, strerror(errno));
		return why;
	}
	h->map = mmap(f->arena + (h - f->hold) * SAFE_MAX, o->size,
		      PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
	if (h->map == MAP_FAILED) {
		close(fd);
		return "mmap of an instance failed";
	}
	h->used = true;
	h->pid = getpid();
	h->fd = fd;
	h->size = o->size;
	h->obj = o - f->obj;
	h->pattern = rnd(s) | 1;
	h->slot = h - f->hold;
	*mark(h, 0) = h->pattern;
	*mark(h, 1) = h->pattern;
	*mark(h, 2) = h->pattern;
	o->holds++;
	f->st.held++;
	return check_users(o);
}

/* The mapping, the fd and INFO still work, whatever became of the name. */
static const char *hold_check(struct cfuzz *f, struct hold *h)
{
	static char why[160];
	const struct obj *o = &f->obj[h->obj];
	uint32_t v = 0, next;
	struct shmring_info info;
	char line[128], want[64];

	if (*mark(h, 0) != h->pattern || *mark(h, 1) != h->pattern ||
	    *mark(h, 2) != h->pattern) {
		snprintf(why, sizeof(why), "the mapping of %s lost its words", o->name);
		return why;
	}
	if (pread(h->fd, &v, sizeof(v), mark_off(h, 2)) != sizeof(v) || v != h->pattern)
		return "pread of a held instance does not see its mapping";
	next = h->pattern * 2654435761U | 1;
	if (pwrite(h->fd, &next, sizeof(next), mark_off(h, 0)) != sizeof(next) ||
	    *mark(h, 0) != next)
		return "pwrite to a held instance not seen in its mapping";
	*mark(h, 1) = next;
	*mark(h, 2) = next;
	h->pattern = next;
	if (shmring_get_info(h->fd, &info) || info.size != h->size ||
	    info.page_size != f->page || info.nr_waiters)
		return "INFO of a held instance is wrong";
	if (shmring_wake(h->fd, 4, UINT32_MAX))
		return "WAKE on a held instance woke someone, or failed";
	/* Root with another fsuid may not look into its own fdinfo. */
	if (f->id.who == W_ROOT && f->id.fsuid)
		return check_users(o);
	snprintf(want, sizeof(want), "shmring-instance:\t%s\n", o->name);
	if (fdinfo_lines(h->fd, "shmring-instance:", line, sizeof(line)) ||
	    strcmp(line, want)) {
		snprintf(why, sizeof(why), "fdinfo of %s says %s", o->name, line);
		return why;
	}
	return check_users(o);
}

/* munmap and close; a destroyed instance's memory goes with the last. */
static const char *hold_release(struct cfuzz *f, struct hold *h)
{
	struct obj *o = &f->obj[h->obj];
	bool ok;

	ok = mmap(h->map, h->size, PROT_NONE,
		  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0) ==
	     h->map;
	ok &= !close(h->fd);
	h->used = false;
	o->holds--;
	if (!o->live && !o->holds)
		o->used = false;
	if (!ok)
		return "munmap or close of a held instance failed";
	return check_users(o);
}

/*
 * DESTROY of a held instance: then the node is gone, the mapping and the
 * fd still work, the old inode cannot be opened again (mode 0 and root's
 * once devtmpfs removed it: ENODEV to root, EACCES to others), and the
 * name can be created again, as a new zeroed buffer.
 */
static const char *hold_kill(struct cfuzz *f, struct hold *h)
{
	static char why[160];
	struct obj *o = &f->obj[h->obj];
	char name[SHMRING_INST_NAME_MAX], path[64];
	uint32_t *w = mark(h, 0), v = 1;
	const char *bad;
	struct call c;
	int fd, want;

	if (!o->live)
		return hold_check(f, h);
	memcpy(name, o->name, sizeof(name));
	plain_call(f, &c, SHMRING_IOC_DESTROY);
	memcpy(c.arg.destroy.name, name, sizeof(name));
	bad = run_call(f, &c);
	if (bad || c.x)
		return bad;
	bad = hold_check(f, h);
	if (bad)
		return bad;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", h->fd);
	want = dac_override(&f->id, 0, 0) ? ENODEV : EACCES;
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd >= 0 || errno != want) {
		if (fd >= 0)
			close(fd);
		snprintf(why, sizeof(why), "reopening destroyed %s through /proc: %s, not %s",
			 name, fd >= 0 ? "success" : errname(errno), errname(want));
		return why;
	}
	f->st.reopen_refused++;

	plain_call(f, &c, SHMRING_IOC_CREATE);
	c.arg.create.size = gen_pages(f, 4);
	c.arg.create.mode = 0600;
	c.arg.create.uid = SHMRING_ID_CALLER;
	c.arg.create.gid = SHMRING_ID_CALLER;
	memcpy(c.arg.create.name, name, sizeof(name));
	bad = run_call(f, &c);
	if (bad || c.x)
		return bad;
	fd = open(inst_path(name), O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return "open of an instance made again failed";
	if (pread(fd, &v, sizeof(v), mark_off(h, 0)) != sizeof(v) || v ||
	    *w != h->pattern) {
		close(fd);
		return "an instance made again is not a new, zeroed buffer";
	}
	*w = ~h->pattern;
	if (pread(fd, &v, sizeof(v), mark_off(h, 0)) != sizeof(v) || v) {
		close(fd);
		return "the old mapping writes into the instance made again";
	}
	*w = h->pattern;
	close(fd);
	f->st.reused++;
	return NULL;
}

static const char *release_all(struct cfuzz *f)
{
	const char *why = NULL;
	unsigned int i;

	for (i = 0; i < NR_HOLD; i++) {
		if (!f->hold[i].used)
			continue;
		if (!why)
			why = hold_check(f, &f->hold[i]);
		if (!why)
			why = hold_release(f, &f->hold[i]);
		else
			hold_release(f, &f->hold[i]);
	}
	return why;
}

/* One step between calls. */
static const char *churn(struct cfuzz *f)
{
	struct hold *h = &f->hold[rnd_below(&f->rng, NR_HOLD)];
	const struct ident *id = &f->id;
	uint64_t *s = &f->rng;

	switch (rnd_below(s, 10)) {
	case 0: case 1: case 2:
		return h->used ? hold_check(f, h) : hold_open(f, h);
	case 3: case 4:
		return h->used ? hold_kill(f, h) : hold_open(f, h);
	case 5: case 6:
		return h->used ? hold_release(f, h) : NULL;
	case 7:
		return sweep(f);
	default:
		if (id->userns)
			return NULL;
		return move_ids(f, id->uids[rnd_below(s, 2)], id->gids[rnd_below(s, 2)]);
	}
}

static bool hole_unmapped(struct cfuzz *f)
{
	return msync(f->mem.hole, f->page, MS_ASYNC) == -1 && errno == ENOMEM;
}

/* @calls fuzzed calls as whoever f->id says, holds released at the end. */
static const char *run_phase(struct cfuzz *f, const char *phase, unsigned long calls)
{
	const char *why = NULL;
	struct call c;
	unsigned long i;

	f->phase = phase;
	f->desc[0] = '\0';
	for (i = 0; !why && i < calls; i++) {
		f->call = i;
		if (!rnd_below(&f->rng, CHURN_CALLS))
			why = churn(f);
		if (!why && i % SWEEP_CALLS == SWEEP_CALLS - 1)
			why = sweep(f);
		if (why)
			break;
		gen_call(f, &c);
		why = run_call(f, &c);
	}
	if (why)
		release_all(f);
	else
		why = release_all(f);
	if (!why)
		why = sweep(f);
	if (!why && !hole_unmapped(f))
		why = "something was mapped where the unmapped page was";
	return why;
}

/* Instances of others that count against 1000 and 65534, from sysfs. */
static void count_others(struct cfuzz *f)
{
	long long creator, size;
	struct dirent *de;
	DIR *d = opendir(CLASS_DIR);
	int k;

	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.' ||
		    !inst_attr(de->d_name, "creator", &creator) ||
		    !inst_attr(de->d_name, "size", &size))
			continue;
		if (creator != USER_UID && creator != NOBODY)
			continue;
		k = creator == NOBODY;
		f->base_n[k]++;
		f->base_bytes[k] += size;
	}
	if (d)
		closedir(d);
}

/* Destroys every name the fuzzer may have made, whatever the model says. */
static void destroy_all(struct cfuzz *f)
{
	struct shmring_destroy d;
	unsigned int i;
	int fd = open(SHMRING_CONTROL_DEV, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return;
	for (i = 0; i < ARRAY_SIZE(pool_names) + ARRAY_SIZE(keeper_names) + NR_OBJ; i++) {
		memset(&d, 0, sizeof(d));
		if (i < ARRAY_SIZE(pool_names))
			set_name(d.name, pool_names[i]);
		else if (i < ARRAY_SIZE(pool_names) + ARRAY_SIZE(keeper_names))
			set_name(d.name, keeper_names[i - ARRAY_SIZE(pool_names)]);
		else if (f && f->obj[i - ARRAY_SIZE(pool_names) - ARRAY_SIZE(keeper_names)].live)
			memcpy(d.name, f->obj[i - ARRAY_SIZE(pool_names) -
				       ARRAY_SIZE(keeper_names)].name, sizeof(d.name));
		else
			continue;
		ioctl(fd, SHMRING_IOC_DESTROY, &d);
	}
	close(fd);
}

/* Fixture */

FIXTURE(ctl_fuzz) {
	struct cfuzz *f;
};

FIXTURE_SETUP(ctl_fuzz)
{
	struct shmring_info info;
	const char *why;
	long long v;
	struct cfuzz *f;
	int i;

	ASSERT_EQ(0, geteuid()) TH_LOG("the control fuzzer needs root");
	if (access(SHMRING_CONTROL_DEV, F_OK))
		SKIP(return, "no %s: a module without instances", SHMRING_CONTROL_DEV);
	f = mmap(NULL, sizeof(*f), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, f);
	self->f = f;
	memset(f, 0, sizeof(*f));
	for (i = 0; i < 3; i++)
		f->ctl[i] = -1;
	f->ctl_path = -1;
	f->dev = -1;
	f->watch = -1;
	f->mem.memfd = -1;
	f->orig_n = -1;
	f->orig_bytes = -1;
	f->page = sysconf(_SC_PAGESIZE);

	f->seed = fuzz_seed();
	f->rng = f->seed;
	read_nodes(f);
	f->overflowuid = sysfs_num("/proc/sys/kernel/overflowuid", &v) ? v : 65534;
	f->overflowgid = sysfs_num("/proc/sys/kernel/overflowgid", &v) ? v : 65534;
	ASSERT_TRUE(sysfs_num(PARAM_DIR "user_instances", &f->orig_n));
	ASSERT_TRUE(sysfs_num(PARAM_DIR "user_bytes", &f->orig_bytes));
	/* Leftovers of an earlier run that died. */
	destroy_all(NULL);
	count_others(f);

	f->ctl[0] = open(SHMRING_CONTROL_DEV, O_RDWR | O_CLOEXEC);
	f->ctl[1] = open(SHMRING_CONTROL_DEV, O_RDONLY | O_CLOEXEC);
	f->ctl[2] = open(SHMRING_CONTROL_DEV, O_WRONLY | O_CLOEXEC);
	f->ctl_path = open(SHMRING_CONTROL_DEV, O_PATH | O_CLOEXEC);
	for (i = 0; i < 3; i++)
		ASSERT_LE(0, f->ctl[i]);
	ASSERT_LE(0, f->ctl_path);
	f->dev = shmring_open(O_RDWR);
	ASSERT_LE(0, f->dev);
	ASSERT_EQ(0, shmring_get_info(f->dev, &info));
	f->dev_size = info.size;
	f->watch = shmring_watch_new(f->dev, NULL, 0, SHMRING_WATCH_NONBLOCK);
	ASSERT_LE(0, f->watch);

	why = fuzz_mem_map(&f->mem, f->page, "shmring-control-fuzz", f->dev, -1,
			   f->dev_size - f->page);
	ASSERT_TRUE(!why) TH_LOG("%s: %s", why, strerror(errno));
	f->arena = mmap(NULL, NR_HOLD * SAFE_MAX, PROT_NONE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, f->arena);
	init_root(f);
}

FIXTURE_TEARDOWN(ctl_fuzz)
{
	struct cfuzz *f = self->f;
	unsigned int i;

	if (!f)
		return;
	/* Root's fs ids again: sysfs and the instances are root's. */
	setfsuid(0);
	setfsgid(0);
	if (f->child > 0) {
		kill(f->child, SIGKILL);
		waitpid(f->child, NULL, 0);
	}
	for (i = 0; i < NR_HOLD; i++)
		if (f->hold[i].used && f->hold[i].pid == getpid())
			close(f->hold[i].fd);
	if (f->arena && f->arena != MAP_FAILED)
		munmap(f->arena, NR_HOLD * SAFE_MAX);
	destroy_all(f);
	if (f->orig_n >= 0)
		set_param("user_instances", f->orig_n);
	if (f->orig_bytes >= 0)
		set_param("user_bytes", f->orig_bytes);
	for (i = 0; i < 3; i++)
		if (f->ctl[i] >= 0)
			close(f->ctl[i]);
	if (f->ctl_path >= 0)
		close(f->ctl_path);
	if (f->watch >= 0)
		close(f->watch);
	if (f->dev >= 0)
		close(f->dev);
	/* Arguments were placed there: the next test finds it zeroed. */
	if (f->mem.shm_w && f->mem.shm_w != MAP_FAILED)
		memset(f->mem.shm_w, 0, f->page);
	fuzz_mem_unmap(&f->mem);
	munmap(f, sizeof(*f));
}

/* Makes the keepers: root's, so not the rounds' to destroy. */
static const char *make_keepers(struct cfuzz *f)
{
	static const uint32_t gids[] = { 0, USER_GID };
	static const uint32_t modes[] = { 0644, 0660 };
	const char *why = NULL;
	struct call c;
	unsigned int i;

	for (i = 0; !why && i < ARRAY_SIZE(keeper_names); i++) {
		/* The root phase may have made one, with other ids. */
		plain_call(f, &c, SHMRING_IOC_DESTROY);
		set_name(c.arg.destroy.name, keeper_names[i]);
		why = run_call(f, &c);
		if (why)
			break;
		plain_call(f, &c, SHMRING_IOC_CREATE);
		c.arg.create.size = f->page;
		c.arg.create.mode = modes[i];
		c.arg.create.uid = 0;
		c.arg.create.gid = gids[i];
		set_name(c.arg.create.name, keeper_names[i]);
		why = run_call(f, &c);
		if (!why && c.x) {
			snprintf(f->why, sizeof(f->why), "creating %s: %s",
				 keeper_names[i], errname(-c.x));
			why = f->why;
		}
	}
	return why;
}

/* Root destroys what is left, each one as the model predicts. */
static const char *destroy_rest(struct cfuzz *f)
{
	const char *why = NULL;
	struct call c;
	unsigned int i;

	for (i = 0; !why && i < NR_OBJ; i++) {
		if (!f->obj[i].used || !f->obj[i].live)
			continue;
		plain_call(f, &c, SHMRING_IOC_DESTROY);
		memcpy(c.arg.destroy.name, f->obj[i].name, sizeof(c.arg.destroy.name));
		why = run_call(f, &c);
		if (!why && c.x)
			why = "root could not destroy an instance at the end";
	}
	return why ? why : sweep(f);
}

/* The limits of round @r, and who runs it. */
static void round_setup(struct cfuzz *f, int r, enum who *who, bool *member)
{
	const unsigned long long p = f->page;
	const unsigned long few[] = { 1, 2, 3 }, many[] = { 4, 8, 16 };
	const unsigned long any[] = { 0, 1, 2, 3, 4, 8, 16 };
	const unsigned long long roomy[] = { 1ULL << 40, 256ULL << 20, 4ULL << 20 };
	const unsigned long long tight[] = { 0, p, 4 * p, 16 * p, 65536 };
	const unsigned long long bytes[] = {
		0, p, 4 * p, 16 * p, 65536, 262144, 1ULL << 20, 4ULL << 20,
		256ULL << 20, 1ULL << 40,
	};
	uint64_t *s = &f->rng;

	switch (r) {
	case 0:
		*who = W_USER;
		*member = true;
		f->lim_n = few[rnd_below(s, ARRAY_SIZE(few))];
		f->lim_bytes = roomy[rnd_below(s, ARRAY_SIZE(roomy))];
		break;
	case 1:
		*who = W_NOBODY;
		*member = false;
		f->lim_n = many[rnd_below(s, ARRAY_SIZE(many))];
		f->lim_bytes = tight[rnd_below(s, ARRAY_SIZE(tight))];
		break;
	case 2:
		*who = W_USERNS;
		*member = false;
		f->lim_n = any[rnd_below(s, ARRAY_SIZE(any))];
		f->lim_bytes = bytes[rnd_below(s, ARRAY_SIZE(bytes))];
		break;
	default:
		*who = W_USER;
		*member = false;
		f->lim_n = any[rnd_below(s, ARRAY_SIZE(any))];
		f->lim_bytes = bytes[rnd_below(s, ARRAY_SIZE(bytes))];
		break;
	}
}

/* In the child of a round: 0, or 1 with the reason in f->why. */
static int round_child(struct cfuzz *f, enum who as, bool member,
		       const char *phase, unsigned long calls)
{
	const char *why;
	int nfds;

	why = become(f, as, member);
	nfds = count_fds();
	if (!why)
		why = run_phase(f, phase, calls);
	if (!why && count_fds() != nfds)
		why = "a round left fds open";
	if (!why)
		return 0;
	if (why != f->why)
		snprintf(f->why, sizeof(f->why), "%s", why);
	return 1;
}

TEST_F_TIMEOUT(ctl_fuzz, hostile_control_ioctls, 3600)
{
	struct cfuzz *f = self->f;
	unsigned long calls = env_ulong("SHMRING_CONTROL_FUZZ_CALLS", DEFAULT_CALLS,
					ULONG_MAX);
	unsigned long root_calls = calls * 2 / 5, round_calls;
	char phase[128];
	const char *why;
	struct stats *st = &f->st;
	int64_t start, t;
	bool member;
	enum who who;
	int r, nfds, status;
	pid_t pid;

	round_calls = (calls - root_calls) / NR_ROUNDS;
	ksft_print_msg("control fuzz: seed %llu (replay with SHMRING_FUZZ_SEED=%llu), %lu calls\n",
		       (unsigned long long)f->seed, (unsigned long long)f->seed,
		       calls);
	ksft_print_msg("control fuzz: nodes: %d ids, %d with memory, memoryless %d, gap %d\n",
		       f->nr_node_ids, f->nr_mem_nodes, f->none_node,
		       f->gap_node);
	ksft_print_msg("control fuzz: sizes of %llu pages and more are ENOMEM\n",
		       (unsigned long long)enomem_pages(f));
	fflush(stdout);
	nfds = count_fds();
	ASSERT_LT(0, nfds);
	ASSERT_TRUE(hole_unmapped(f));
	start = now_ns();

	why = run_phase(f, "root", root_calls);
	ASSERT_TRUE(!why) TH_LOG("root phase, call %lu (seed %llu): %s%s%s",
				 f->call, (unsigned long long)f->seed, why,
				 f->desc[0] ? ": " : " (between calls)", f->desc);
	ASSERT_EQ(NULL, move_ids(f, 0, 0));
	t = now_ns();
	ksft_print_msg("control fuzz: root phase, %lu calls in %.1f s\n",
		       root_calls, (t - start) / 1e9);
	why = make_keepers(f);
	ASSERT_TRUE(!why) TH_LOG("keepers: %s: %s", why, f->desc);

	for (r = 0; r < NR_ROUNDS; r++) {
		t = now_ns();
		round_setup(f, r, &who, &member);
		ASSERT_EQ(0, set_param("user_instances", f->lim_n));
		ASSERT_EQ(0, set_param("user_bytes", f->lim_bytes));
		snprintf(phase, sizeof(phase), "round %d (%s%s, limits %lu, %llu)",
			 r, who_names[who], member ? " in group 999" : "",
			 f->lim_n, f->lim_bytes);
		f->why[0] = '\0';
		f->desc[0] = '\0';
		pid = spawn();
		ASSERT_LE(0, pid);
		if (!pid)
			_exit(round_child(f, who, member, phase, round_calls));
		f->child = pid;
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		f->child = 0;
		ASSERT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
			TH_LOG("%s, call %lu (seed %llu): %s%s%s", phase, f->call,
			       (unsigned long long)f->seed,
			       f->why[0] ? f->why : "the child died",
			       f->desc[0] ? ": " : " (between calls)", f->desc);
		ksft_print_msg("control fuzz: %s: %lu calls in %.1f s\n", phase,
			       round_calls, (now_ns() - t) / 1e9);
		/* Back to root, as the parent is: the children's holds are gone. */
		init_root(f);
		why = sweep(f);
		ASSERT_TRUE(!why) TH_LOG("after %s: %s", phase, why);
	}
	why = destroy_rest(f);
	ASSERT_TRUE(!why) TH_LOG("at the end: %s: %s", why, f->desc);
	ASSERT_EQ(0, set_param("user_instances", f->orig_n));
	ASSERT_EQ(0, set_param("user_bytes", f->orig_bytes));
	ASSERT_EQ(nfds, count_fds()) TH_LOG("fds left open");

	ksft_print_msg("control fuzz: %lu calls in %.1f s\n", calls,
		       (now_ns() - start) / 1e9);
	ksft_print_msg("control fuzz: EFAULT %lu EINVAL %lu (ids not mapped %lu)\n",
		       st->efault, st->einval, st->einval_ids);
	ksft_print_msg("control fuzz: ENODEV %lu EPERM %lu EEXIST %lu\n",
		       st->enodev, st->eperm, st->eexist);
	ksft_print_msg("control fuzz: ENOENT %lu ENOSPC %lu ENOMEM %lu ENOTTY %lu EBADF %lu\n",
		       st->enoent, st->enospc, st->enomem, st->enotty, st->ebadf);
	ksft_print_msg("control fuzz: created %lu, destroyed %lu (%lu held), made again %lu\n",
		       st->created, st->destroyed, st->destroyed_held, st->reused);
	ksft_print_msg("control fuzz: held %lu, refused %lu, old inode refused %lu\n",
		       st->held, st->refused, st->reopen_refused);
	ksft_print_msg("control fuzz: id moves %lu, sweeps %lu\n", st->moves,
		       st->sweeps);
	fflush(stdout);

	/* A long run that missed a whole kind of outcome fuzzed too narrowly. */
	if (calls < COVERAGE_CALLS)
		return;
	EXPECT_LT(0UL, st->efault);
	EXPECT_LT(0UL, st->einval);
	EXPECT_LT(0UL, st->eperm);
	EXPECT_LT(0UL, st->eexist);
	EXPECT_LT(0UL, st->enoent);
	EXPECT_LT(0UL, st->enospc);
	EXPECT_LT(0UL, st->enotty);
	EXPECT_LT(0UL, st->ebadf);
	EXPECT_LT(0UL, st->created);
	EXPECT_LT(0UL, st->destroyed);
	EXPECT_LT(0UL, st->destroyed_held);
	EXPECT_LT(0UL, st->reused);
	EXPECT_LT(0UL, st->held);
	EXPECT_LT(0UL, st->refused);
	EXPECT_LT(0UL, st->reopen_refused);
	EXPECT_LT(0UL, st->moves);
	/* Only where the machine has them. */
	EXPECT_TRUE(f->none_node < 0 || st->enodev);
	EXPECT_TRUE(enomem_pages(f) > MAX_SIZE / f->page || st->enomem);
	EXPECT_TRUE(!f->userns_ran || st->einval_ids);
	if (f->none_node < 0)
		ksft_print_msg("control fuzz: no memoryless node: ENODEV not reachable\n");
	if (!f->userns_ran)
		ksft_print_msg("control fuzz: no user namespace: unmapped ids not reached\n");
}

TEST_HARNESS_MAIN
