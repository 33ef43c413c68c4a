/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Counts in ring 3 for the snapshot test (tests/vmm/snapshot): a chain of
 * COUNT_TOTAL LCG steps kept in registers, with a tick every 2^21 steps.
 * A tick reports its number, the low half of the LCG state, TSC / 256 and
 * the kvm-clock in microseconds, adds 1 to a counter kept only in xmm7,
 * and reads the tick back from the VMM (an IN whose result lands in a
 * register only when KVM completes it).
 *
 * Before counting it leaves marks in the PICs, the IOAPIC, the local
 * APIC, the PIT, the UART scratch register and a few MSRs (through its
 * own ring-0 gate on int3), and turns on kvm-clock. At the end it reads
 * the marks back and reports them with the CPU count CPUID gives (the
 * test configures an unusual one), then the tick count from xmm7, the
 * number of wrong read-backs and the final LCG state, and prints "count:
 * done". A correctly restored snapshot continues all of these; a restart
 * would print "count: start" again.
 */
#include "guest.h"

#define COUNT_TOTAL (1ull << 29)
#define COUNT_TICK_SHIFT 21
#define PORT_TICK 0x504 /* out: tick number; in: tick ^ TICK_ECHO */
#define PORT_TICK_X 0x505
#define PORT_TICK_TSC 0x506
#define PORT_TICK_CLOCK 0x507
#define TICK_ECHO 0x5a5a5a5au

#define PIC_MASTER_DATA 0x21
#define PIC_SLAVE_DATA 0xa1
#define PIT_CH2 0x42
#define PIT_CMD 0x43
#define UART_SCR (GUEST_UART + 7)
#define IOAPIC_SEL 0xfec00000ul
#define IOAPIC_WIN 0xfec00010ul
#define IOAPIC_REDIR3_LO 0x16	   /* pin 3, low dword */
#define LAPIC_LVT_ERR 0xfee00370ul /* not mirrored elsewhere (TPR is cr8) */

#define IDT_BASE 0x7100ul /* tests/vmm/longmode.h */
#define KVMCLOCK_GPA 0xa000ul
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01u

static const struct {
	uint32_t msr;
	uint64_t value;
} msr_marks[] = {
	{0x175, 0x12345678},		     /* SYSENTER_ESP */
	{0xc0000081, 0x0023001000000000ull}, /* STAR */
	{0xc0000082, 0xffffffff81234560ull}, /* LSTAR */
	{0xc0000102, 0xffff888012345000ull}, /* KERNEL_GS_BASE */
	{0x277, 0x0007010600070106ull},	     /* PAT */
};
#define NR_MSR_MARKS (sizeof(msr_marks) / sizeof(msr_marks[0]))

/* Ring 0, from int3: edi 0 wrmsr, else rdmsr (ecx, edx:eax). */
void msr_gate(void);
__asm__(".text\n"
	"msr_gate:\n\t"
	"test %edi, %edi\n\t"
	"jnz 1f\n\t"
	"wrmsr\n\t"
	"iretq\n"
	"1:\trdmsr\n\t"
	"iretq\n");

static void gate_install(void)
{
	volatile uint64_t *idt = (volatile uint64_t *)IDT_BASE;
	uint64_t h = (uint64_t)msr_gate;

	/* Vector 3, 64-bit interrupt gate, DPL 3, kernel code. */
	idt[6] = (h & 0xffff) | 0x08ull << 16 | 0xeeull << 40 |
		 ((h >> 16) & 0xffff) << 48;
	idt[7] = h >> 32;
}

static void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("int3"
			 :
			 : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)),
			   "D"(0)
			 : "memory");
}

static uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	__asm__ volatile("int3"
			 : "=a"(lo), "=d"(hi)
			 : "c"(msr), "D"(1)
			 : "memory");
	return (uint64_t)hi << 32 | lo;
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

struct pvclock {
	uint32_t version, pad0;
	uint64_t tsc_timestamp, system_time;
	uint32_t mul;
	int8_t shift;
	uint8_t flags, pad[2];
};

/* kvm-clock now, in nanoseconds since the VM's clock started. */
static uint64_t kvmclock_ns(void)
{
	volatile struct pvclock *p = (volatile struct pvclock *)KVMCLOCK_GPA;
	uint64_t ts, sys, delta;
	uint32_t v, mul;
	int8_t shift;

	do {
		v = p->version;
		__asm__ volatile("" ::: "memory");
		ts = p->tsc_timestamp;
		sys = p->system_time;
		mul = p->mul;
		shift = p->shift;
		delta = rdtsc() - ts;
		__asm__ volatile("" ::: "memory");
	} while ((v & 1) || v != p->version);
	delta = shift < 0 ? delta >> -shift : delta << shift;
	return sys + (uint64_t)(((unsigned __int128)delta * mul) >> 32);
}

/* CPUID leaf 1 EBX[23:16]: the logical CPU count the VMM described. */
static uint32_t cpuid_cpus(void)
{
	uint32_t a = 1, b, c = 0, d;

	__asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
	return (b >> 16) & 0xff;
}

static void leave_marks(void)
{
	unsigned int i;

	outb(PIC_MASTER_DATA, 0xa5);
	outb(PIC_SLAVE_DATA, 0x5a);
	outb(PIT_CMD, 0xb4); /* channel 2, lo/hi byte, mode 2, binary */
	outb(PIT_CH2, 0xef);
	outb(PIT_CH2, 0xbe);
	mmio_write32(IOAPIC_SEL, IOAPIC_REDIR3_LO);
	mmio_write32(IOAPIC_WIN, 0x00010035);	 /* masked, vector 0x35 */
	mmio_write32(LAPIC_LVT_ERR, 0x00010042); /* masked, vector 0x42 */
	outb(UART_SCR, 0x5c);
	for (i = 0; i < NR_MSR_MARKS; i++)
		wrmsr(msr_marks[i].msr, msr_marks[i].value);
	wrmsr(MSR_KVM_SYSTEM_TIME_NEW, KVMCLOCK_GPA | 1);
}

static void report_marks(void)
{
	unsigned int i;

	report(inb(PIC_MASTER_DATA));
	report(inb(PIC_SLAVE_DATA));
	outb(PIT_CMD, 0xe8); /* read back channel 2's status */
	report(inb(PIT_CH2) & 0x3f);
	mmio_write32(IOAPIC_SEL, IOAPIC_REDIR3_LO);
	report(mmio_read32(IOAPIC_WIN));
	report(mmio_read32(LAPIC_LVT_ERR));
	report(inb(UART_SCR));
	for (i = 0; i < NR_MSR_MARKS; i++)
		report(rdmsr(msr_marks[i].msr) == msr_marks[i].value);
	report(cpuid_cpus());
}

int guest_main(void)
{
	uint64_t i, x = 1, ticks, tsc;
	uint32_t tick, bad = 0;

	/* xmm6 = {1, 1}, xmm7 = 0: state only the FPU save area holds. */
	__asm__ volatile("pcmpeqd %%xmm6, %%xmm6\n\t"
			 "psrlq $63, %%xmm6\n\t"
			 "pxor %%xmm7, %%xmm7" ::
				 : "xmm6", "xmm7");
	gate_install();
	leave_marks();
	uart_puts("count: start\n");
	for (i = 1; i <= COUNT_TOTAL; i++) {
		x = x * 6364136223846793005ull + i;
		if (i & ((1ull << COUNT_TICK_SHIFT) - 1))
			continue;
		__asm__ volatile("paddq %%xmm6, %%xmm7" ::: "xmm7");
		tick = (uint32_t)(i >> COUNT_TICK_SHIFT);
		tsc = rdtsc();
		outl(PORT_TICK, tick);
		outl(PORT_TICK_X, (uint32_t)x);
		outl(PORT_TICK_TSC, (uint32_t)(tsc >> 8));
		outl(PORT_TICK_CLOCK, (uint32_t)(kvmclock_ns() / 1000));
		if (inl(PORT_TICK) != (tick ^ TICK_ECHO))
			bad++;
	}
	__asm__ volatile("movq %%xmm7, %0" : "=r"(ticks));
	report_marks();
	report((uint32_t)ticks);
	report(bad);
	report64(x);
	uart_puts("count: done\n");
	return 0x5a5a;
}
