/*
 * kvmexec: run a virtmodel KVM script on /dev/kvm and print one result line
 * per call.
 *
 * Script: one call per line, '#' starts a comment, numbers decimal or 0x-hex,
 * fields separated by blanks (see machine/lab/script.py for the grammar).
 * Output, one line per call line, flushed at once:
 *
 *     [PREFIX ]<line-number> <ret> <errno> <value-or-->
 *
 * ret is what ioctl() returned (a new fd for the create calls), errno is 0
 * on success, value is what a GET read (the whole u64 at addr, which the
 * script preloaded), '-' otherwise.  A call on a handle whose create failed,
 * or on a VM that does not exist, answers ret -1 errno 9 (EBADF), as the
 * kernel does for a closed fd.
 *
 * Exit status: 0 when every line was run, 2 for a malformed script (the
 * message names the line), 1 when /dev/kvm or the script cannot be opened.
 *
 * Usage: kvmexec [-p PREFIX] [-t MS] [-T MS] FILE
 *   -t  timer for any other KVM_RUN (default 50)
 *   -T  timer for a KVM_RUN whose guest has its store ahead (default 1000)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <unistd.h>

#define MAX_VCPUS 1024
#define MAX_DEVICES 64
#define MAX_FIELDS 8
/* Guest memory: one 64 KiB slot at 2 GiB, inside every IPA size (>= 32). */
#define GUEST_IPA 0x80000000ULL
#define GUEST_SIZE 0x10000ULL
/* Backing for the script's own memory slots: one reservation, made at the
 * first set_user_memory_region and never unmapped, whose address every such
 * call passes. A fixed place keeps the kernel's check of the user range
 * (below the task's limit) the same on every run; one address for all
 * slots means an existing slot can be moved without changing its address. */
#define SLOTS_VA 0x100000000000ULL
#define SLOTS_SIZE 0x40000000ULL

static const char *prefix = "";
/* How long a KVM_RUN may take before SIGALRM ends it. A run whose guest has
 * not yet made its store (PC on one of the two instructions before it) can
 * exit to us within milliseconds; it gets a long margin, so that a loaded
 * host cannot turn that exit into an EINTR. Any other run spins ("b .", or
 * PC 0 after a re-init) or fails at once: a short timer. */
static long first_run_ms = 1000;
static long run_ms = 50;

struct vm {
	int fd;                  /* -1: no VM */
	int vcpu_fd[MAX_VCPUS];  /* by vCPU id; -1: none */
	char vcpu_ran[MAX_VCPUS]; /* its PC was pointed at the guest */
	int dev_fd[MAX_DEVICES]; /* by handle dN */
	int ndev;
	int memory_ready;
	void *memory;
};

static void on_alarm(int sig) { (void)sig; }

static void die_syntax(const char *file, int line, const char *what)
{
	fprintf(stderr, "kvmexec: %s:%d: %s\n", file, line, what);
	exit(2);
}

static int parse_u64(const char *text, uint64_t *out)
{
	char *end;
	if (text[0] == '-' || text[0] == '+' || text[0] == '\0')
		return -1;
	errno = 0;
	*out = strtoull(text, &end, 0);
	/* strtoull's base 0 would read a leading 0 as octal: forbid it. */
	if (errno || *end || (text[0] == '0' && text[1] && text[1] != 'x'))
		return -1;
	return 0;
}

static void report(int line, long ret, int err, const char *value)
{
	printf("%s%d %ld %d %s\n", prefix, line, ret, err, value);
	fflush(stdout);
}

static void report_call(int line, long ret, int err)
{
	report(line, ret, ret < 0 ? err : 0, "-");
}

static void vm_close(struct vm *vm)
{
	for (int i = 0; i < MAX_VCPUS; i++) {
		if (vm->vcpu_fd[i] >= 0)
			close(vm->vcpu_fd[i]);
		vm->vcpu_fd[i] = -1;
		vm->vcpu_ran[i] = 0;
	}
	for (int i = 0; i < vm->ndev; i++)
		close(vm->dev_fd[i]);
	vm->ndev = 0;
	if (vm->fd >= 0)
		close(vm->fd);
	vm->fd = -1;
	if (vm->memory)
		munmap(vm->memory, GUEST_SIZE);
	vm->memory = NULL;
	vm->memory_ready = 0;
}

/* The guest: x1 = 0x10000000 (unmapped); str x2, [x1]; b . */
static const uint32_t guest_code[] = { 0xd2a20001, 0xf9000022, 0x14000000 };

static void prepare_memory(struct vm *vm)
{
	struct kvm_userspace_memory_region region;
	if (vm->memory_ready)
		return;
	vm->memory_ready = 1;
	vm->memory = mmap(NULL, GUEST_SIZE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (vm->memory == MAP_FAILED) {
		vm->memory = NULL;
		return;
	}
	memcpy(vm->memory, guest_code, sizeof(guest_code));
	memset(&region, 0, sizeof(region));
	region.slot = 0;
	region.guest_phys_addr = GUEST_IPA;
	region.memory_size = GUEST_SIZE;
	region.userspace_addr = (uint64_t)(uintptr_t)vm->memory;
	/* A failure here shows up as the run's own result; it is not a call
	 * of the script, so it is not reported. */
	(void)ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &region);
}

static void *slot_memory;

static void set_memory_region(int line, int vm_fd, uint64_t slot, uint64_t base,
			      uint64_t size, uint64_t flags)
{
	struct kvm_userspace_memory_region region;
	long ret;
	if (!slot_memory) {
		slot_memory = mmap((void *)(uintptr_t)SLOTS_VA, SLOTS_SIZE,
				   PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
					   MAP_FIXED_NOREPLACE,
				   -1, 0);
		if (slot_memory == MAP_FAILED ||
		    slot_memory != (void *)(uintptr_t)SLOTS_VA) {
			fprintf(stderr, "kvmexec: cannot reserve slot memory at 0x%llx: %s\n",
				SLOTS_VA, strerror(errno));
			exit(1);
		}
	}
	memset(&region, 0, sizeof(region));
	region.slot = (uint32_t)slot;
	region.flags = (uint32_t)flags;
	region.guest_phys_addr = base;
	region.memory_size = size;
	region.userspace_addr = SLOTS_VA;
	ret = ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &region);
	report_call(line, ret, errno);
}

#define MAX_ROUTES 4096 /* KVM_MAX_IRQ_ROUTES: a longer table is refused unread */

/* A routing table of COUNT entries: entry i has gsi GSI + i * STEP, type
 * TYPE, irqchip CHIP and pin PIN + i (an MSI entry's message is all zero). */
static void set_gsi_routing(int line, int vm_fd, const uint64_t *a)
{
	uint32_t count = (uint32_t)a[2], stored = count < MAX_ROUTES ? count : MAX_ROUTES;
	struct kvm_irq_routing *table;
	long ret;
	int err;
	table = calloc(1, sizeof(*table) + stored * sizeof(table->entries[0]));
	if (!table) {
		fprintf(stderr, "kvmexec: out of memory for a routing table\n");
		exit(1);
	}
	table->flags = (uint32_t)a[1];
	table->nr = count;
	for (uint32_t i = 0; i < stored; i++) {
		table->entries[i].gsi = (uint32_t)(a[3] + i * a[4]);
		table->entries[i].type = (uint32_t)a[5];
		if (table->entries[i].type == KVM_IRQ_ROUTING_IRQCHIP) {
			table->entries[i].u.irqchip.irqchip = (uint32_t)a[6];
			table->entries[i].u.irqchip.pin = (uint32_t)(a[7] + i);
		}
	}
	ret = ioctl(vm_fd, KVM_SET_GSI_ROUTING, table);
	err = errno;
	free(table);
	report_call(line, ret, err);
}

#define PC_REG (KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | \
		KVM_REG_ARM_CORE_REG(regs.pc))

static void set_pc(int vcpu_fd)
{
	uint64_t pc = GUEST_IPA;
	struct kvm_one_reg reg = { .id = PC_REG, .addr = (uint64_t)(uintptr_t)&pc };
	(void)ioctl(vcpu_fd, KVM_SET_ONE_REG, &reg);
}

/* Whether the vCPU's guest still has its store ahead (PC on the first two
 * instructions). Reading a register changes nothing; on a vCPU that cannot
 * answer (not initialized, a dead VM) the run fails at once anyway. */
static int before_store(int vcpu_fd)
{
	uint64_t pc = 0;
	struct kvm_one_reg reg = { .id = PC_REG, .addr = (uint64_t)(uintptr_t)&pc };
	if (ioctl(vcpu_fd, KVM_GET_ONE_REG, &reg) < 0)
		return 0;
	return pc == GUEST_IPA || pc == GUEST_IPA + 4;
}

static long run_vcpu(struct vm *vm, unsigned id, int *err)
{
	/* A periodic timer, so a signal that lands before the vCPU enters the
	 * guest cannot leave it spinning forever. */
	struct itimerval on, off = { { 0, 0 }, { 0, 0 } };
	long ret, ms;
	prepare_memory(vm);
	if (!vm->vcpu_ran[id]) {
		set_pc(vm->vcpu_fd[id]);
		vm->vcpu_ran[id] = 1;
	}
	ms = before_store(vm->vcpu_fd[id]) ? first_run_ms : run_ms;
	on.it_value.tv_sec = on.it_interval.tv_sec = ms / 1000;
	on.it_value.tv_usec = on.it_interval.tv_usec = ms % 1000 * 1000;
	setitimer(ITIMER_REAL, &on, NULL);
	ret = ioctl(vm->vcpu_fd[id], KVM_RUN, 0);
	*err = errno;
	setitimer(ITIMER_REAL, &off, NULL);
	return ret;
}

static int split(char *text, char **fields)
{
	int n = 0;
	char *hash = strchr(text, '#');
	if (hash)
		*hash = '\0';
	for (char *tok = strtok(text, " \t\r\n"); tok; tok = strtok(NULL, " \t\r\n")) {
		if (n == MAX_FIELDS)
			return -1;
		fields[n++] = tok;
	}
	return n;
}

struct op {
	const char *name;
	int nargs;
};

static const struct op ops[] = {
	{ "create_vm", 1 },     { "create_vcpu", 1 },   { "vcpu_init", 2 },
	{ "create_device", 2 }, { "set_attr", 4 },      { "get_attr", 4 },
	{ "has_attr", 3 },      { "vcpu_set_attr", 4 }, { "vcpu_get_attr", 4 },
	{ "vcpu_has_attr", 3 }, { "run", 1 },           { "end", 0 },
	{ "set_user_memory_region", 4 }, { "set_gsi_routing", 7 },
};

/* Return the fd of the handle named by text ("dN" or a vCPU id), -1 if
 * there is none, -2 if the text is malformed. */
static int device_fd(struct vm *vm, const char *text)
{
	uint64_t n;
	if (text[0] != 'd' || parse_u64(text + 1, &n))
		return -2;
	return n < (uint64_t)vm->ndev ? vm->dev_fd[n] : -1;
}

static int vcpu_fd(struct vm *vm, uint64_t id)
{
	return id < MAX_VCPUS ? vm->vcpu_fd[id] : -1;
}

static void attr_call(int line, int fd, unsigned long request, uint64_t group,
		      uint64_t attr, const char *value_text, int with_value)
{
	uint64_t value = 0;
	struct kvm_device_attr da = { .flags = 0, .group = (uint32_t)group, .attr = attr };
	char shown[32];
	long ret;
	if (with_value && strcmp(value_text, "NULL") != 0) {
		parse_u64(value_text, &value);
		da.addr = (uint64_t)(uintptr_t)&value;
	}
	if (fd < 0) {
		report(line, -1, EBADF, "-");
		return;
	}
	ret = ioctl(fd, request, &da);
	if (ret == 0 && request == KVM_GET_DEVICE_ATTR && da.addr) {
		snprintf(shown, sizeof(shown), "0x%llx", (unsigned long long)value);
		report(line, ret, 0, shown);
		return;
	}
	report_call(line, ret, errno);
}

static void execute(const char *file, int line, char **f, int n, int kvm, struct vm *vm)
{
	uint64_t a[MAX_FIELDS] = { 0 };
	const struct op *op = NULL;
	long ret;
	int err;
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(f[0], ops[i].name) == 0)
			op = &ops[i];
	if (!op)
		die_syntax(file, line, "unknown operation");
	if (n - 1 != op->nargs)
		die_syntax(file, line, "wrong number of fields");
	for (int i = 1; i < n; i++) {
		int is_handle = i == 1 && (strstr(op->name, "attr") && !strstr(op->name, "vcpu"));
		int is_value = i == 4 && (strstr(op->name, "set_attr") || strstr(op->name, "get_attr"));
		if (is_handle || (is_value && strcmp(f[i], "NULL") == 0))
			continue;
		if (parse_u64(f[i], &a[i]))
			die_syntax(file, line, "malformed number");
	}
	if (!strcmp(op->name, "create_vm")) {
		vm_close(vm);
		ret = ioctl(kvm, KVM_CREATE_VM, (unsigned long)(a[1] & 0xff));
		err = errno;
		vm->fd = ret < 0 ? -1 : (int)ret;
		report_call(line, ret, err);
		return;
	}
	if (!strcmp(op->name, "end")) {
		vm_close(vm);
		return;
	}
	if (vm->fd < 0) {
		report(line, -1, EBADF, "-");
		return;
	}
	if (!strcmp(op->name, "create_vcpu")) {
		ret = ioctl(vm->fd, KVM_CREATE_VCPU, (unsigned long)a[1]);
		err = errno;
		if (ret >= 0 && a[1] < MAX_VCPUS && vm->vcpu_fd[a[1]] < 0)
			vm->vcpu_fd[a[1]] = (int)ret;
		else if (ret >= 0)
			close((int)ret); /* cannot happen: the kernel refuses a taken id */
		report_call(line, ret, err);
	} else if (!strcmp(op->name, "vcpu_init")) {
		struct kvm_vcpu_init init;
		int fd = vcpu_fd(vm, a[1]);
		memset(&init, 0, sizeof(init));
		if (fd < 0) {
			report(line, -1, EBADF, "-");
			return;
		}
		ret = ioctl(vm->fd, KVM_ARM_PREFERRED_TARGET, &init);
		if (ret < 0) {
			report_call(line, ret, errno);
			return;
		}
		init.features[0] = (uint32_t)a[2];
		ret = ioctl(fd, KVM_ARM_VCPU_INIT, &init);
		report_call(line, ret, errno);
	} else if (!strcmp(op->name, "create_device")) {
		struct kvm_create_device cd = { .type = (uint32_t)a[1],
						.flags = a[2] ? KVM_CREATE_DEVICE_TEST : 0 };
		ret = ioctl(vm->fd, KVM_CREATE_DEVICE, &cd);
		err = errno;
		if (ret == 0 && !a[2]) {
			if (vm->ndev < MAX_DEVICES)
				vm->dev_fd[vm->ndev++] = cd.fd;
			else
				close(cd.fd);
		}
		report_call(line, ret, err);
	} else if (!strcmp(op->name, "set_user_memory_region")) {
		set_memory_region(line, vm->fd, a[1], a[2], a[3], a[4]);
	} else if (!strcmp(op->name, "set_gsi_routing")) {
		set_gsi_routing(line, vm->fd, a);
	} else if (!strcmp(op->name, "run")) {
		int fd = vcpu_fd(vm, a[1]);
		if (fd < 0) {
			report(line, -1, EBADF, "-");
			return;
		}
		ret = run_vcpu(vm, (unsigned)a[1], &err);
		report_call(line, ret, err);
	} else {
		int on_vcpu = strncmp(op->name, "vcpu_", 5) == 0;
		const char *verb = on_vcpu ? op->name + 5 : op->name;
		unsigned long request = !strcmp(verb, "set_attr") ? KVM_SET_DEVICE_ATTR
				      : !strcmp(verb, "get_attr") ? KVM_GET_DEVICE_ATTR
								  : KVM_HAS_DEVICE_ATTR;
		int fd = on_vcpu ? vcpu_fd(vm, a[1]) : device_fd(vm, f[1]);
		if (fd == -2)
			die_syntax(file, line, "device handle must look like d0, d1, ...");
		attr_call(line, fd, request, a[2], a[3], n > 4 ? f[4] : "NULL", n > 4);
	}
}

int main(int argc, char **argv)
{
	static struct vm vm;
	struct sigaction sa;
	char text[4096];
	char *fields[MAX_FIELDS];
	int opt, kvm, line = 0;
	FILE *in;

	while ((opt = getopt(argc, argv, "p:t:T:")) != -1) {
		if (opt == 'p')
			prefix = optarg;
		else if (opt == 't' && atol(optarg) > 0)
			run_ms = atol(optarg);
		else if (opt == 'T' && atol(optarg) > 0)
			first_run_ms = atol(optarg);
		else
			return 2;
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "usage: kvmexec [-p PREFIX] [-t MS] [-T MS] FILE\n");
		return 2;
	}
	in = fopen(argv[optind], "r");
	if (!in) {
		fprintf(stderr, "kvmexec: %s: %s\n", argv[optind], strerror(errno));
		return 1;
	}
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		fprintf(stderr, "kvmexec: /dev/kvm: %s\n", strerror(errno));
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm; /* no SA_RESTART: KVM_RUN must end in EINTR */
	sigaction(SIGALRM, &sa, NULL);
	vm.fd = -1;
	for (int i = 0; i < MAX_VCPUS; i++)
		vm.vcpu_fd[i] = -1;

	while (fgets(text, sizeof(text), in)) {
		int n;
		line++;
		if (!strchr(text, '\n') && !feof(in))
			die_syntax(argv[optind], line, "line too long");
		n = split(text, fields);
		if (n < 0)
			die_syntax(argv[optind], line, "too many fields");
		if (n > 0)
			execute(argv[optind], line, fields, n, kvm, &vm);
	}
	vm_close(&vm);
	return 0;
}
