/*
 * kvmtrace.so: an LD_PRELOAD library that logs a process's KVM ioctls.
 *
 * Every ioctl whose request type byte is KVMIO (0xAE) is passed on to the
 * real ioctl and then appended to the file named by $KVMTRACE_LOG as one
 * line (see machine/lab/tracelog.py, which reads it):
 *
 *     <ROLE> <IOCTL> [key=value ...] ret=<r> errno=<e>
 *
 * Device attribute calls carry value= (the u32 or u64 at addr before the
 * call, the group's width) and, for a successful GET, read= (after it).
 *
 * ROLE says which fd the call went to: "sys" (/dev/kvm), "vmN" (the N-th VM
 * the process created), "vmN.vcpuID", "vmN.<device>" (vgic-v3, its, ...).
 * Roles come from the results of the create calls, so no path lookups are
 * needed.  Request numbers are compared on their low 32 bits, as the kernel
 * does: QEMU passes them as a sign-extended int.
 *
 * KVM_GET_ONE_REG / KVM_SET_ONE_REG come by the thousand; a run of them on
 * one fd in one direction becomes a single "ONE_REG" line with a count,
 * written when the run ends or when nothing happened for 100 ms (a flusher
 * thread), so the count is not lost when the process is killed while idle.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_FD 4096
#define LINE 65536

typedef int (*ioctl_fn)(int, unsigned long, ...);

static ioctl_fn real_ioctl;
static int log_fd = -1;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char role[MAX_FD][48];
/* Per fd: 'v' vCPU, 'g' vGIC, 'i' ITS, 'o' other device, 'm' VM, 's' sys. */
static char kind[MAX_FD];
static int vm_count;
static int vm_of[MAX_FD];
static int its_count[64];

/* The ONE_REG run being counted. */
static int reg_fd = -1;
static int reg_set;
static unsigned long reg_count, reg_failed;
static struct timespec reg_last;

struct name {
	unsigned int request;
	const char *text;
};

static const struct name names[] = {
#define N(x) { (unsigned int)(x), #x }
	N(KVM_GET_API_VERSION), N(KVM_CREATE_VM), N(KVM_CHECK_EXTENSION),
	N(KVM_GET_VCPU_MMAP_SIZE), N(KVM_CREATE_VCPU), N(KVM_GET_DIRTY_LOG),
	N(KVM_SET_USER_MEMORY_REGION), N(KVM_IRQ_LINE), N(KVM_SET_GSI_ROUTING),
	N(KVM_IRQFD), N(KVM_IOEVENTFD), N(KVM_SIGNAL_MSI), N(KVM_ARM_SET_DEVICE_ADDR),
	N(KVM_CREATE_DEVICE), N(KVM_SET_DEVICE_ATTR), N(KVM_GET_DEVICE_ATTR),
	N(KVM_HAS_DEVICE_ATTR), N(KVM_RUN), N(KVM_SET_SIGNAL_MASK), N(KVM_GET_MP_STATE),
	N(KVM_SET_MP_STATE), N(KVM_SET_GUEST_DEBUG), N(KVM_GET_VCPU_EVENTS),
	N(KVM_SET_VCPU_EVENTS), N(KVM_ENABLE_CAP), N(KVM_GET_ONE_REG), N(KVM_SET_ONE_REG),
	N(KVM_ARM_VCPU_INIT), N(KVM_ARM_PREFERRED_TARGET), N(KVM_GET_REG_LIST),
	N(KVM_ARM_VCPU_FINALIZE), N(KVM_GET_STATS_FD), N(KVM_CLEAR_DIRTY_LOG),
	N(KVM_ARM_MTE_COPY_TAGS), N(KVM_KVMCLOCK_CTRL),
#undef N
};

static const char *request_name(unsigned int request, char *buf, size_t len)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].request == request)
			return names[i].text;
	snprintf(buf, len, "0x%08x", request);
	return buf;
}

static const char *role_of(int fd)
{
	if (fd >= 0 && fd < MAX_FD && role[fd][0])
		return role[fd];
	return "fd";
}

static void emit(const char *text, size_t len)
{
	if (log_fd >= 0)
		(void)!write(log_fd, text, len);
}

/* Called with the lock held. */
static void flush_regs(void)
{
	char line[256];
	int n;
	if (reg_fd < 0 || reg_count == 0)
		return;
	n = snprintf(line, sizeof(line), "%s ONE_REG dir=%s count=%lu failed=%lu\n",
		     role_of(reg_fd), reg_set ? "set" : "get", reg_count, reg_failed);
	emit(line, (size_t)n);
	reg_fd = -1;
	reg_count = reg_failed = 0;
}

static void *flusher(void *unused)
{
	(void)unused;
	for (;;) {
		struct timespec now, nap = { 0, 50 * 1000 * 1000 };
		nanosleep(&nap, NULL);
		pthread_mutex_lock(&lock);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (reg_count && (now.tv_sec - reg_last.tv_sec) * 1000000000L +
					 (now.tv_nsec - reg_last.tv_nsec) > 100000000L)
			flush_regs();
		pthread_mutex_unlock(&lock);
	}
	return NULL;
}

__attribute__((constructor)) static void setup(void)
{
	const char *path = getenv("KVMTRACE_LOG");
	pthread_t thread;
	real_ioctl = (ioctl_fn)dlsym(RTLD_NEXT, "ioctl");
	if (path)
		log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	/* The tracer's own thread must not keep QEMU's signal handling from
	 * working: block everything in it. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	if (pthread_create(&thread, NULL, flusher, NULL) == 0)
		pthread_detach(thread);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void set_role(int fd, char k, int vm, const char *fmt, ...)
{
	va_list ap;
	if (fd < 0 || fd >= MAX_FD)
		return;
	va_start(ap, fmt);
	vsnprintf(role[fd], sizeof(role[fd]), fmt, ap);
	va_end(ap);
	kind[fd] = k;
	vm_of[fd] = vm;
}

/* Width in bytes of the user value of a device or vCPU attribute group, 0
 * when the call carries no value this tracer can read. */
static int value_width(int fd, uint32_t group, uint64_t attr)
{
	char k = fd >= 0 && fd < MAX_FD ? kind[fd] : 0;
	if (k == 'g' || k == 'i') {
		switch (group) {
		case KVM_DEV_ARM_VGIC_GRP_ADDR:
		case KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS:
		case KVM_DEV_ARM_VGIC_GRP_ITS_REGS:
			return 8;
		case KVM_DEV_ARM_VGIC_GRP_CTRL:
			return 0;
		default:
			return 4;
		}
	}
	if (k == 'v') {
		if (group == KVM_ARM_VCPU_PVTIME_CTRL)
			return 8;
		if (group == KVM_ARM_VCPU_PMU_V3_CTRL && attr == KVM_ARM_VCPU_PMU_V3_FILTER)
			return 0;
		if (group == KVM_ARM_VCPU_PMU_V3_CTRL && attr == KVM_ARM_VCPU_PMU_V3_INIT)
			return 0;
		return 4;
	}
	return 0;
}

static size_t put(char *buf, size_t at, const char *fmt, ...)
{
	va_list ap;
	int n;
	if (at >= LINE)
		return at;
	va_start(ap, fmt);
	n = vsnprintf(buf + at, LINE - at, fmt, ap);
	va_end(ap);
	return n < 0 ? at : at + (size_t)n;
}

static uint64_t read_value(const void *addr, int width)
{
	if (width == 8)
		return *(const uint64_t *)addr;
	return *(const uint32_t *)addr;
}

static const char *device_label(int vm, uint32_t type, char *buf, size_t len)
{
	switch (type) {
	case KVM_DEV_TYPE_ARM_VGIC_V2:
		return "vgic-v2";
	case KVM_DEV_TYPE_ARM_VGIC_V3:
		return "vgic-v3";
	case KVM_DEV_TYPE_ARM_VGIC_ITS:
		if (vm >= 0 && vm < 64 && its_count[vm]++)
			snprintf(buf, len, "its%d", its_count[vm] - 1);
		else
			snprintf(buf, len, "its");
		return buf;
	default:
		snprintf(buf, len, "device-type-%u", type);
		return buf;
	}
}

int ioctl(int fd, unsigned long request, ...)
{
	va_list ap;
	void *arg;
	unsigned int req = (unsigned int)request;
	static __thread char line[LINE];
	char scratch[48];
	uint64_t before = 0;
	int width = 0, ret, err;
	size_t at = 0;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (!real_ioctl)
		real_ioctl = (ioctl_fn)dlsym(RTLD_NEXT, "ioctl");
	if (_IOC_TYPE(req) != KVMIO)
		return real_ioctl(fd, request, arg);

	if (req == (unsigned int)KVM_SET_DEVICE_ATTR || req == (unsigned int)KVM_GET_DEVICE_ATTR) {
		struct kvm_device_attr *da = arg;
		width = value_width(fd, da->group, da->attr);
		if (da->addr && width)
			before = read_value((const void *)(uintptr_t)da->addr, width);
	}

	ret = real_ioctl(fd, request, arg);
	err = ret < 0 ? errno : 0;

	pthread_mutex_lock(&lock);
	if (req == (unsigned int)KVM_GET_ONE_REG || req == (unsigned int)KVM_SET_ONE_REG) {
		int set = req == (unsigned int)KVM_SET_ONE_REG;
		if (reg_count && (reg_fd != fd || reg_set != set))
			flush_regs();
		reg_fd = fd;
		reg_set = set;
		reg_count++;
		reg_failed += ret < 0;
		clock_gettime(CLOCK_MONOTONIC, &reg_last);
		pthread_mutex_unlock(&lock);
		errno = err;
		return ret;
	}
	flush_regs();

	if (req == (unsigned int)KVM_CREATE_VM || req == (unsigned int)KVM_GET_API_VERSION)
		set_role(fd, 's', -1, "sys");
	at = put(line, at, "%s %s", role_of(fd), request_name(req, scratch, sizeof(scratch)));

	if (req == (unsigned int)KVM_CREATE_VM) {
		at = put(line, at, " type=0x%lx", (unsigned long)arg);
		if (ret >= 0) {
			set_role(ret, 'm', vm_count, "vm%d", vm_count);
			if (vm_count < 64)
				its_count[vm_count] = 0;
			vm_count++;
		}
	} else if (req == (unsigned int)KVM_CHECK_EXTENSION || req == (unsigned int)KVM_CREATE_VCPU) {
		at = put(line, at, " arg=%lu", (unsigned long)arg);
		if (req == (unsigned int)KVM_CREATE_VCPU && ret >= 0)
			set_role(ret, 'v', vm_of[fd], "%s.vcpu%lu", role_of(fd), (unsigned long)arg);
	} else if (req == (unsigned int)KVM_ENABLE_CAP) {
		struct kvm_enable_cap *cap = arg;
		at = put(line, at, " cap=%u flags=%u args=0x%llx,0x%llx", cap->cap, cap->flags,
			 (unsigned long long)cap->args[0], (unsigned long long)cap->args[1]);
	} else if (req == (unsigned int)KVM_ARM_PREFERRED_TARGET) {
		struct kvm_vcpu_init *init = arg;
		if (ret == 0)
			at = put(line, at, " target=%u", init->target);
	} else if (req == (unsigned int)KVM_ARM_VCPU_INIT) {
		struct kvm_vcpu_init *init = arg;
		at = put(line, at, " target=%u features=0x%x", init->target, init->features[0]);
		for (int i = 1; i < 7; i++)
			if (init->features[i])
				at = put(line, at, " features%d=0x%x", i, init->features[i]);
	} else if (req == (unsigned int)KVM_ARM_VCPU_FINALIZE) {
		at = put(line, at, " what=%d", arg ? *(int *)arg : -1);
	} else if (req == (unsigned int)KVM_CREATE_DEVICE) {
		struct kvm_create_device *cd = arg;
		at = put(line, at, " type=%u flags=%u", cd->type, cd->flags);
		if (ret == 0 && !(cd->flags & KVM_CREATE_DEVICE_TEST)) {
			const char *label = device_label(vm_of[fd], cd->type, scratch, sizeof(scratch));
			char k = cd->type == KVM_DEV_TYPE_ARM_VGIC_ITS ? 'i'
				 : (cd->type == KVM_DEV_TYPE_ARM_VGIC_V2 ||
				    cd->type == KVM_DEV_TYPE_ARM_VGIC_V3) ? 'g' : 'o';
			at = put(line, at, " fd=%u", cd->fd);
			set_role((int)cd->fd, k, vm_of[fd], "%s.%s", role_of(fd), label);
		}
	} else if (req == (unsigned int)KVM_SET_DEVICE_ATTR || req == (unsigned int)KVM_GET_DEVICE_ATTR ||
		   req == (unsigned int)KVM_HAS_DEVICE_ATTR) {
		struct kvm_device_attr *da = arg;
		at = put(line, at, " flags=%u group=%u attr=0x%llx", da->flags, da->group,
			 (unsigned long long)da->attr);
		if (req == (unsigned int)KVM_HAS_DEVICE_ATTR)
			;
		else if (!da->addr)
			at = put(line, at, " addr=NULL");
		else if (width == 0)
			at = put(line, at, " addr=opaque");
		else
			at = put(line, at, " value=0x%llx", (unsigned long long)before);
		if (req == (unsigned int)KVM_GET_DEVICE_ATTR && da->addr && width && ret == 0)
			at = put(line, at, " read=0x%llx",
				 (unsigned long long)read_value((const void *)(uintptr_t)da->addr, width));
	} else if (req == (unsigned int)KVM_SET_GSI_ROUTING) {
		struct kvm_irq_routing *r = arg;
		at = put(line, at, " nr=%u flags=%u entries=", r->nr, r->flags);
		for (unsigned int i = 0; i < r->nr; i++) {
			struct kvm_irq_routing_entry *e = &r->entries[i];
			if (e->type == KVM_IRQ_ROUTING_MSI)
				at = put(line, at, "%s%u:msi:0x%x:0x%x:0x%x:0x%x:%u", i ? "," : "", e->gsi,
					 e->u.msi.address_lo, e->u.msi.address_hi, e->u.msi.data,
					 e->u.msi.devid, e->flags);
			else if (e->type == KVM_IRQ_ROUTING_IRQCHIP)
				at = put(line, at, "%s%u:irqchip:%u:%u", i ? "," : "", e->gsi,
					 e->u.irqchip.irqchip, e->u.irqchip.pin);
			else
				at = put(line, at, "%s%u:type%u", i ? "," : "", e->gsi, e->type);
		}
	} else if (req == (unsigned int)KVM_SET_USER_MEMORY_REGION) {
		struct kvm_userspace_memory_region *m = arg;
		at = put(line, at, " slot=%u flags=%u gpa=0x%llx size=0x%llx", m->slot, m->flags,
			 (unsigned long long)m->guest_phys_addr, (unsigned long long)m->memory_size);
	} else if (req == (unsigned int)KVM_IRQ_LINE) {
		struct kvm_irq_level *l = arg;
		at = put(line, at, " irq=0x%x level=%u", l->irq, l->level);
	} else if (req == (unsigned int)KVM_IRQFD) {
		struct kvm_irqfd *f = arg;
		at = put(line, at, " gsi=%u flags=%u", f->gsi, f->flags);
	} else if (req == (unsigned int)KVM_IOEVENTFD) {
		struct kvm_ioeventfd *e = arg;
		at = put(line, at, " addr=0x%llx len=%u flags=0x%x datamatch=0x%llx",
			 (unsigned long long)e->addr, e->len, e->flags,
			 (unsigned long long)e->datamatch);
	} else if (req == (unsigned int)KVM_ARM_SET_DEVICE_ADDR) {
		struct kvm_arm_device_addr *a = arg;
		at = put(line, at, " id=0x%llx addr=0x%llx", (unsigned long long)a->id,
			 (unsigned long long)a->addr);
	}
	at = put(line, at, " ret=%d errno=%d\n", ret < 0 ? -1 : ret, err);
	if (at >= LINE) {
		/* Truncated: keep it one line, and say so. */
		memcpy(line + LINE - 12, " TRUNCATED\n", 11);
		at = LINE - 1;
	}
	emit(line, at);
	pthread_mutex_unlock(&lock);
	errno = err;
	return ret;
}
