/*
 * dma-bench: the guest's invalidation workload. It starts the kernel's DMA map
 * benchmark (CONFIG_DMA_MAP_BENCHMARK, /sys/kernel/debug/dma_map_benchmark) on the
 * device the init script bound to it: kernel threads map and unmap a page for the
 * given seconds, and with the IOMMU in strict mode every unmap is an IOTLB
 * invalidation plus a CMD_SYNC, which Linux's tegra241-cmdqv driver puts on a VCMDQ.
 * busybox has no way to issue an ioctl, so this is the one program of the guest's own.
 *
 * Freestanding (no libc): raw arm64 system calls, so it builds with just the cross
 * compiler. It marshals one struct; what it measured is read on the host.
 *
 * Facts: include/uapi/linux/map_benchmark.h (struct layout, DMA_MAP_BENCHMARK =
 * _IOWR('d', 1, struct map_benchmark)); arm64 syscall numbers from
 * include/uapi/asm-generic/unistd.h (openat 56, ioctl 29, write 64, exit 93).
 *
 * Usage: dma-bench SECONDS THREADS
 */

typedef unsigned long u64;
typedef unsigned int u32;
typedef int s32;
typedef unsigned char u8;

struct map_benchmark {
	u64 avg_map_100ns;
	u64 map_stddev;
	u64 avg_unmap_100ns;
	u64 unmap_stddev;
	u32 threads;
	u32 seconds;
	s32 node;
	u32 dma_bits;
	u32 dma_dir;
	u32 dma_trans_ns;
	u32 granule;
	u8 map_mode;
	u8 expansion[75];
};

#define IOC_WRITE_READ 3UL
#define DMA_MAP_BENCHMARK \
	((IOC_WRITE_READ << 30) | ((u64)sizeof(struct map_benchmark) << 16) | ('d' << 8) | 1)
#define AT_FDCWD (-100)
#define O_RDWR 2

static long sys3(long nr, long a, long b, long c)
{
	register long x8 __asm__("x8") = nr;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	__asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
	return x0;
}

static long sys4(long nr, long a, long b, long c, long d)
{
	register long x8 __asm__("x8") = nr;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	__asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
	return x0;
}

static void put(const char *s)
{
	long n = 0;
	while (s[n])
		n++;
	sys3(64, 1, (long)s, n);
}

static void put_num(long v)
{
	char buf[24];
	int i = sizeof(buf) - 1;
	int neg = v < 0;
	u64 u = neg ? (u64)(-v) : (u64)v;
	buf[i] = 0;
	do {
		buf[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u && i > 1);
	if (neg)
		buf[--i] = '-';
	put(&buf[i]);
}

static u32 parse(const char *s, u32 fallback)
{
	u32 v = 0;
	if (!s || !*s)
		return fallback;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return fallback;
		v = v * 10 + (u32)(*s - '0');
	}
	return v;
}

static __attribute__((noreturn)) void leave(int code)
{
	for (;;)
		sys3(93, code, 0, 0);
}

static int run(long argc, char **argv)
{
	struct map_benchmark b;
	u8 *p = (u8 *)&b;
	for (unsigned long i = 0; i < sizeof(b); i++)
		p[i] = 0;
	b.seconds = parse(argc > 1 ? argv[1] : 0, 2);
	b.threads = parse(argc > 2 ? argv[2] : 0, 1);
	b.node = -1;
	b.dma_bits = 32;
	b.granule = 1;
	long fd = sys4(56, AT_FDCWD, (long)"/sys/kernel/debug/dma_map_benchmark", O_RDWR, 0);
	if (fd < 0) {
		put("dma-bench: cannot open /sys/kernel/debug/dma_map_benchmark: errno ");
		put_num(-fd);
		put("\n");
		return 1;
	}
	long r = sys3(29, fd, (long)DMA_MAP_BENCHMARK, (long)&b);
	if (r < 0) {
		put("dma-bench: DMA_MAP_BENCHMARK failed: errno ");
		put_num(-r);
		put("\n");
		return 1;
	}
	put("dma-bench: seconds=");
	put_num(b.seconds);
	put(" threads=");
	put_num(b.threads);
	put(" avg_map_100ns=");
	put_num((long)b.avg_map_100ns);
	put(" avg_unmap_100ns=");
	put_num((long)b.avg_unmap_100ns);
	put("\n");
	return 0;
}

/* The kernel starts us with sp at argc, then argv[]. */
__attribute__((used)) void start_c(long *sp)
{
	leave(run(sp[0], (char **)(sp + 1)));
}

__asm__(".global _start\n"
	"_start:\n"
	"  mov x0, sp\n"
	"  bl start_c\n");
