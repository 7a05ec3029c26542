/*
 * cmdqv-preload: lets an unmodified QEMU talk to the simulated Grace host of cmdqv.
 *
 * Loaded into QEMU (ld.so --preload or LD_PRELOAD). It only moves bytes: every call QEMU
 * makes on the two simulated file descriptors (iommufd and the VFIO device) becomes a
 * request frame on one unix socket, and the TypeScript server gives it its meaning. While
 * a call is open the server may ask to read or write QEMU memory (PEEK/POKE: the ioctl
 * structs and the buffers they point to) or to create a pipe in QEMU (NEWPIPE: vEVENTQ
 * fds), until it sends the call's final frame. The frame layout is defined once, in
 * src/real-qemu/wire.ts; the numbers below must match it.
 *
 * Environment:
 *   CMDQV_SOCKET           unix socket path of the host server (required)
 *   CMDQV_IOMMUFD_FD       fd number QEMU is given as -object iommufd,fd=N
 *   CMDQV_VFIO_FD          fd number QEMU is given as -device vfio-pci,fd=N
 *   CMDQV_PATCH_KVM_GUARD  0 disables the KVM-guard patch (default on)
 *   CMDQV_PARENT_PID       if set, QEMU is killed when that parent dies (the launcher's
 *                          pid: a Node killed outright must not leave QEMU behind)
 *
 * A failure to set up (no socket, patch pattern not found) exits QEMU with one line on
 * stderr: a half-working QEMU would fail later with a far less clear message.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the wire format is little-endian and is copied with memcpy"
#endif

/* ---- wire constants (src/real-qemu/wire.ts is the reference) ---- */
#define PROTOCOL_VERSION 1
#define MAX_PAYLOAD (16u << 20) /* both sides refuse longer frames */
enum {
  FR_HELLO = 0x01, FR_IOCTL = 0x02, FR_MMAP = 0x03, FR_MUNMAP = 0x04, FR_PREAD = 0x05,
  FR_PWRITE = 0x06, FR_READ = 0x07, FR_WRITE = 0x08, FR_CLOSE = 0x09,
  FR_DATA = 0x20, FR_OK = 0x21, FR_FAULT = 0x22, FR_PIPE = 0x23,
  FR_PEEK = 0x40, FR_POKE = 0x41, FR_NEWPIPE = 0x42, FR_CLOSEFD = 0x43,
  FR_RESULT = 0x50, FR_RESULT_DATA = 0x51, FR_RESULT_MAP = 0x52,
};
/* What a tracked fd is. EVENTQ/PIPEW are the two ends of a NEWPIPE pipe: real pipes,
 * tracked only so that QEMU's close() of the read end reaches the server and so that the
 * server may close only fds it created. */
enum { K_NONE = 0, K_IOMMUFD = 1, K_VFIO = 2, K_EVENTQ = 3, K_PIPEW = 4 };

#define MAX_TRACKED_FD 4096 /* a byte per fd: the check on QEMU's every read/write is one load */
#define MAX_MAPS 64

static unsigned char fd_kind[MAX_TRACKED_FD];
static int sock = -1;                       /* -1: not connected, or the server went away */
/* One call on the wire at a time. Recursive because conn_lost takes it too, both from
 * inside a call and from the result checks after one. */
static pthread_mutex_t call_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static pthread_mutex_t map_lock = PTHREAD_MUTEX_INITIALIZER;
static struct { uintptr_t addr; size_t len; int fd; int kind; } maps[MAX_MAPS];
static int nmaps; /* read without the lock as a fast path: 0 means no mapping of ours */

/* ---- the real libc functions (RTLD_NEXT), resolved on first use: other libraries'
 * constructors may call mmap/close before ours runs ---- */
#define REAL(name)                                                                   \
  static __typeof__(name) *real_##name(void) {                                       \
    static __typeof__(name) *fn; /* a race here only stores the same pointer twice */ \
    if (!fn) fn = (__typeof__(name) *)dlsym(RTLD_NEXT, #name);                       \
    return fn;                                                                       \
  }
extern ssize_t __pread64_chk(int, void *, size_t, off64_t, size_t);
REAL(ioctl) REAL(mmap) REAL(mmap64) REAL(munmap) REAL(pread) REAL(pread64) REAL(pwrite)
REAL(pwrite64) REAL(read) REAL(write) REAL(close) REAL(__pread64_chk)

static int kind_of(int fd) {
  if (fd < 0 || fd >= MAX_TRACKED_FD) return K_NONE;
  return __atomic_load_n(&fd_kind[fd], __ATOMIC_ACQUIRE);
}
static void set_kind(int fd, int kind) {
  if (fd >= 0 && fd < MAX_TRACKED_FD) __atomic_store_n(&fd_kind[fd], kind, __ATOMIC_RELEASE);
}
static int simulated(int fd) {
  int k = kind_of(fd);
  return k == K_IOMMUFD || k == K_VFIO;
}

/* ---- little-endian packing into a small header buffer ---- */
struct hdr { uint8_t b[64]; uint32_t n; };
static void put32(struct hdr *h, uint32_t v) { memcpy(h->b + h->n, &v, 4); h->n += 4; }
static void put64(struct hdr *h, uint64_t v) { memcpy(h->b + h->n, &v, 8); h->n += 8; }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* ---- connection ---- */
static void conn_lost(const char *why) {
  /* Said once: every later call fails with EIO without a word. */
  pthread_mutex_lock(&call_lock);
  if (sock >= 0) {
    fprintf(stderr, "cmdqv-preload: %s; calls on the simulated host now fail with EIO\n", why);
    real_close()(sock);
    sock = -1;
  }
  pthread_mutex_unlock(&call_lock);
}

static int send_all(const void *buf, size_t n) {
  const uint8_t *p = buf;
  while (n > 0) {
    ssize_t r = send(sock, p, n, MSG_NOSIGNAL); /* a dead server must not SIGPIPE QEMU */
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

static int recv_all(void *buf, size_t n) {
  uint8_t *p = buf;
  while (n > 0) {
    ssize_t r = recv(sock, p, n, 0);
    if (r < 0 && errno == EINTR) continue; /* QEMU's vCPU kick signals */
    if (r <= 0) return -1;
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

/* A frame is u32 length-of-rest, u32 type, payload; the payload here is a fixed header
 * followed by optional bytes, so QEMU's buffers are sent without a copy. */
static int send_frame(uint32_t type, const struct hdr *h, const void *data, size_t dlen) {
  uint32_t hl = h ? h->n : 0;
  uint32_t head[2] = {(uint32_t)(4 + hl + dlen), type};
  if (hl + dlen > MAX_PAYLOAD) return -1;
  if (send_all(head, 8) || (hl && send_all(h->b, hl)) || (dlen && send_all(data, dlen))) {
    conn_lost("cannot write to the host server");
    return -1;
  }
  return 0;
}

/* Reads one frame; the payload is malloc'd (NULL when empty). -1: the connection is gone. */
static int recv_frame(uint32_t *type, uint8_t **payload, uint32_t *len) {
  uint32_t head[2];
  *payload = NULL;
  if (recv_all(head, 8)) { conn_lost("the host server closed the connection"); return -1; }
  if (head[0] < 4 || head[0] - 4 > MAX_PAYLOAD) {
    conn_lost("malformed frame from the host server (bad length)");
    return -1;
  }
  *type = head[1];
  *len = head[0] - 4;
  if (*len > 0) {
    *payload = malloc(*len);
    if (!*payload) { conn_lost("out of memory for a frame"); return -1; }
    if (recv_all(*payload, *len)) {
      free(*payload);
      *payload = NULL;
      conn_lost("the host server closed the connection mid-frame");
      return -1;
    }
  }
  return 0;
}

static int send_fault(int err) {
  struct hdr h = {.n = 0};
  put32(&h, (uint32_t)err);
  return send_frame(FR_FAULT, &h, NULL, 0);
}

/* ---- the server's requests: QEMU memory through process_vm_*v on ourselves, so a bad
 * address from the server (or from QEMU's struct) is an EFAULT reply, never a crash ---- */
static int serve_peek(const uint8_t *p, uint32_t n) {
  if (n != 16 || get64(p + 8) > MAX_PAYLOAD) return -1;
  size_t len = (size_t)get64(p + 8);
  uint8_t *buf = malloc(len ? len : 1);
  if (!buf) return send_fault(ENOMEM);
  struct iovec local = {buf, len}, remote = {(void *)(uintptr_t)get64(p), len};
  ssize_t r = len ? process_vm_readv(getpid(), &local, 1, &remote, 1, 0) : 0;
  int rc = r == (ssize_t)len ? send_frame(FR_DATA, NULL, buf, len)
                             : send_fault(r < 0 ? errno : EFAULT);
  free(buf);
  return rc;
}

static int serve_poke(const uint8_t *p, uint32_t n) {
  if (n < 8) return -1;
  size_t len = n - 8;
  struct iovec local = {(void *)(p + 8), len}, remote = {(void *)(uintptr_t)get64(p), len};
  ssize_t r = len ? process_vm_writev(getpid(), &local, 1, &remote, 1, 0) : 0;
  if (r == (ssize_t)len) return send_frame(FR_OK, NULL, NULL, 0);
  return send_fault(r < 0 ? errno : EFAULT);
}

static int serve_newpipe(uint32_t n) {
  int fds[2];
  if (n != 0) return -1;
  if (pipe2(fds, O_CLOEXEC)) return send_fault(errno);
  if (fds[0] >= MAX_TRACKED_FD || fds[1] >= MAX_TRACKED_FD) {
    real_close()(fds[0]);
    real_close()(fds[1]);
    return send_fault(EMFILE);
  }
  set_kind(fds[0], K_EVENTQ);
  set_kind(fds[1], K_PIPEW);
  struct hdr h = {.n = 0};
  put32(&h, (uint32_t)fds[0]);
  put32(&h, (uint32_t)fds[1]);
  return send_frame(FR_PIPE, &h, NULL, 0);
}

static int serve_closefd(const uint8_t *p, uint32_t n) {
  if (n != 4) return -1;
  int fd = (int)get32(p), k = kind_of(fd);
  if (k != K_EVENTQ && k != K_PIPEW) return send_fault(EBADF); /* only fds it created */
  set_kind(fd, K_NONE);
  real_close()(fd);
  return send_frame(FR_OK, NULL, NULL, 0);
}

/* Sends one call, serves the server's requests, and returns its final frame (RESULT*),
 * whose payload the caller frees. -1: no final frame; the connection is gone. */
static int call(uint32_t type, const struct hdr *h, const void *data, size_t dlen,
                uint32_t *ftype, uint8_t **fp, uint32_t *flen) {
  if (sock < 0 || send_frame(type, h, data, dlen)) return -1;
  for (;;) {
    uint32_t t, n;
    uint8_t *p;
    int rc;
    if (recv_frame(&t, &p, &n)) return -1;
    switch (t) {
    case FR_PEEK: rc = serve_peek(p, n); break;
    case FR_POKE: rc = serve_poke(p, n); break;
    case FR_NEWPIPE: rc = serve_newpipe(n); break;
    case FR_CLOSEFD: rc = serve_closefd(p, n); break;
    case FR_RESULT: case FR_RESULT_DATA: case FR_RESULT_MAP:
      *ftype = t, *fp = p, *flen = n;
      return 0;
    default: rc = -1;
    }
    free(p);
    if (rc) {
      conn_lost("malformed request from the host server");
      return -1;
    }
  }
}

/* The usual final frame: RESULT {i64 ret, i32 errno}. Anything else is a protocol error. */
static long plain_result(uint32_t t, uint8_t *p, uint32_t n) {
  if (t != FR_RESULT || n != 12) {
    free(p);
    conn_lost("unexpected final frame from the host server");
    errno = EIO;
    return -1;
  }
  long ret = (long)get64(p);
  int err = (int)get32(p + 8);
  free(p);
  if (ret < 0) errno = err ? err : EIO;
  return ret;
}

/* Locks, calls, and turns the final frame into a return value; EIO when the server is gone. */
static long call_plain(uint32_t type, const struct hdr *h, const void *data, size_t dlen) {
  uint32_t t, n;
  uint8_t *p;
  pthread_mutex_lock(&call_lock);
  int rc = call(type, h, data, dlen, &t, &p, &n);
  pthread_mutex_unlock(&call_lock);
  if (rc) { errno = EIO; return -1; }
  return plain_result(t, p, n);
}

static struct hdr fd_hdr(int fd) {
  struct hdr h = {.n = 0};
  put32(&h, (uint32_t)fd);
  put32(&h, (uint32_t)kind_of(fd));
  return h;
}

/* ---- interposed calls ---- */
int ioctl(int fd, unsigned long request, ...) {
  va_list ap;
  va_start(ap, request);
  unsigned long arg = va_arg(ap, unsigned long); /* harmless garbage for no-argument ioctls */
  va_end(ap);
  if (!simulated(fd)) return real_ioctl()(fd, request, arg);
  struct hdr h = fd_hdr(fd);
  put64(&h, request);
  put64(&h, arg); /* the server PEEKs/POKEs what the struct at arg holds */
  return (int)call_plain(FR_IOCTL, &h, NULL, 0);
}

/* Reads (pread/read): final frame RESULT_DATA carries the bytes, or RESULT a failure. */
static ssize_t read_like(uint32_t type, int fd, void *buf, size_t count, const uint64_t *off) {
  struct hdr h = fd_hdr(fd);
  if (off) put64(&h, *off);
  put64(&h, count > MAX_PAYLOAD ? MAX_PAYLOAD : count); /* a short read is legal */
  uint32_t t, n;
  uint8_t *p;
  pthread_mutex_lock(&call_lock);
  int rc = call(type, &h, NULL, 0, &t, &p, &n);
  pthread_mutex_unlock(&call_lock);
  if (rc) { errno = EIO; return -1; }
  if (t != FR_RESULT_DATA) {
    long r = plain_result(t, p, n);
    if (r > 0) { errno = EIO; return -1; } /* a read's bytes come in RESULT_DATA */
    return r;
  }
  if (n > count) {
    free(p);
    conn_lost("read reply longer than asked");
    errno = EIO;
    return -1;
  }
  if (n) memcpy(buf, p, n);
  free(p);
  return n;
}

static ssize_t write_like(uint32_t type, int fd, const void *buf, size_t count, const uint64_t *off) {
  struct hdr h = fd_hdr(fd);
  if (off) put64(&h, *off);
  size_t max = MAX_PAYLOAD - h.n;
  return call_plain(type, &h, buf, count > max ? max : count);
}

ssize_t pread64(int fd, void *buf, size_t count, off64_t offset) {
  if (!simulated(fd)) return real_pread64()(fd, buf, count, offset);
  uint64_t off = (uint64_t)offset;
  return read_like(FR_PREAD, fd, buf, count, &off);
}
ssize_t pread(int fd, void *buf, size_t count, off_t offset) {
  if (!simulated(fd)) return real_pread()(fd, buf, count, offset);
  return pread64(fd, buf, count, offset);
}
/* QEMU is built with _FORTIFY_SOURCE: its preads of known-size buffers call this. */
ssize_t __pread64_chk(int fd, void *buf, size_t count, off64_t offset, size_t buflen) {
  if (!simulated(fd)) return real___pread64_chk()(fd, buf, count, offset, buflen);
  if (count > buflen) abort(); /* what glibc's __chk_fail does, minus the message */
  return pread64(fd, buf, count, offset);
}
ssize_t pwrite64(int fd, const void *buf, size_t count, off64_t offset) {
  if (!simulated(fd)) return real_pwrite64()(fd, buf, count, offset);
  uint64_t off = (uint64_t)offset;
  return write_like(FR_PWRITE, fd, buf, count, &off);
}
ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset) {
  if (!simulated(fd)) return real_pwrite()(fd, buf, count, offset);
  return pwrite64(fd, buf, count, offset);
}
ssize_t read(int fd, void *buf, size_t count) {
  if (!simulated(fd)) return real_read()(fd, buf, count);
  return read_like(FR_READ, fd, buf, count, NULL);
}
ssize_t write(int fd, const void *buf, size_t count) {
  if (!simulated(fd)) return real_write()(fd, buf, count);
  return write_like(FR_WRITE, fd, buf, count, NULL);
}

int close(int fd) {
  int k = kind_of(fd);
  if (k == K_NONE) return real_close()(fd);
  /* Untracked before the real close: the number may be reused at once by another thread. */
  set_kind(fd, K_NONE);
  int ret = real_close()(fd), saved = errno;
  if (k != K_PIPEW) {
    struct hdr h = {.n = 0};
    put32(&h, (uint32_t)fd);
    put32(&h, (uint32_t)k);
    call_plain(FR_CLOSE, &h, NULL, 0); /* a notice: QEMU's close already happened */
  }
  errno = saved;
  return ret;
}

static void notify_munmap(uintptr_t addr, size_t len, int fd, int kind) {
  struct hdr h = {.n = 0};
  put32(&h, (uint32_t)fd);
  put32(&h, (uint32_t)kind);
  put64(&h, addr);
  put64(&h, len);
  call_plain(FR_MUNMAP, &h, NULL, 0);
}

/* mmap of a simulated fd: the server answers with a file of its own (path + offset), which
 * is mapped MAP_SHARED here so that the server reads and writes the same page with
 * pread/pwrite on that file (Node cannot mmap). */
static void *mmap_simulated(void *addr, size_t len, int prot, int flags, int fd, off64_t off) {
  struct hdr h = fd_hdr(fd);
  put64(&h, (uintptr_t)addr);
  put64(&h, len);
  put32(&h, (uint32_t)prot);
  put32(&h, (uint32_t)flags);
  put64(&h, (uint64_t)off);
  uint32_t t, n;
  uint8_t *p;
  pthread_mutex_lock(&call_lock);
  int rc = call(FR_MMAP, &h, NULL, 0, &t, &p, &n);
  pthread_mutex_unlock(&call_lock);
  if (rc) { errno = EIO; return MAP_FAILED; }
  if (t != FR_RESULT_MAP) {
    if (plain_result(t, p, n) >= 0) errno = EIO; /* an accepted mapping needs a file */
    return MAP_FAILED;
  }
  char path[4096];
  if (n < 9 || n - 8 >= sizeof path) {
    free(p);
    conn_lost("malformed mmap reply");
    errno = EIO;
    return MAP_FAILED;
  }
  uint64_t foff = get64(p);
  memcpy(path, p + 8, n - 8);
  path[n - 8] = 0;
  free(p);
  int f = open(path, ((prot & PROT_WRITE) ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  void *m = f < 0 ? MAP_FAILED : real_mmap64()(addr, len, prot, flags, f, (off64_t)foff);
  int saved = errno;
  if (f >= 0) real_close()(f);
  if (m == MAP_FAILED) {
    fprintf(stderr, "cmdqv-preload: cannot map %s: %s\n", path, strerror(saved));
    notify_munmap(0, len, fd, kind_of(fd)); /* lets the server release what it made */
    errno = saved;
    return MAP_FAILED;
  }
  pthread_mutex_lock(&map_lock);
  if (nmaps < MAX_MAPS) {
    maps[nmaps].addr = (uintptr_t)m, maps[nmaps].len = len;
    maps[nmaps].fd = fd, maps[nmaps].kind = kind_of(fd);
    __atomic_store_n(&nmaps, nmaps + 1, __ATOMIC_RELEASE);
  }
  pthread_mutex_unlock(&map_lock);
  return m;
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off) {
  if (!simulated(fd)) return real_mmap64()(addr, len, prot, flags, fd, off);
  return mmap_simulated(addr, len, prot, flags, fd, off);
}
void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
  if (!simulated(fd)) return real_mmap()(addr, len, prot, flags, fd, off);
  return mmap_simulated(addr, len, prot, flags, fd, off);
}

int munmap(void *addr, size_t len) {
  int ret = real_munmap()(addr, len), saved = errno;
  if (__atomic_load_n(&nmaps, __ATOMIC_ACQUIRE) == 0) return ret;
  int found = -1, fd = -1, kind = 0;
  pthread_mutex_lock(&map_lock);
  for (int i = 0; i < nmaps; i++) {
    if (maps[i].addr == (uintptr_t)addr) {
      found = i, fd = maps[i].fd, kind = maps[i].kind;
      maps[i] = maps[nmaps - 1];
      __atomic_store_n(&nmaps, nmaps - 1, __ATOMIC_RELEASE);
      break;
    }
  }
  pthread_mutex_unlock(&map_lock);
  if (found >= 0 && ret == 0) notify_munmap((uintptr_t)addr, len, fd, kind);
  errno = saved;
  return ret;
}

/* ---- the KVM guard (x86-64 only) ----
 * virt refuses arm-smmuv3,accel=on unless kvm_allowed && kvm_kernel_irqchip. The two
 * exported globals cannot simply be set (other code would then take KVM paths), so the
 * two conditional jumps of that one check are turned into NOPs in memory:
 *     cmp byte [rip+&kvm_allowed],0         ; 80 3D rel32 00
 *     je  E                                 ; 74 rel8 | 0F 84 rel32
 *     cmp byte [rip+&kvm_kernel_irqchip],0
 *     je  E
 * where E (within 32 bytes) loads the guard's message with a rip-relative lea. Only an
 * exactly unique match is patched; the file on disk is never touched. */
static const char GUARD_MSG[] = "SMMUv3 accel=on requires KVM with kernel-irqchip=on support";

struct seg { uintptr_t start, end; int flags; };
struct image { const void *probe; struct seg segs[16]; int nseg; };

static int find_image(struct dl_phdr_info *info, size_t size, void *data) {
  struct image *img = data;
  (void)size;
  int hit = 0, n = 0;
  for (int i = 0; i < info->dlpi_phnum && n < 16; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD) continue;
    uintptr_t s = info->dlpi_addr + ph->p_vaddr, e = s + ph->p_memsz;
    img->segs[n++] = (struct seg){s, e, (int)ph->p_flags};
    if ((uintptr_t)img->probe >= s && (uintptr_t)img->probe < e) hit = 1;
  }
  if (hit) img->nseg = n;
  return hit;
}

static int readable(const struct image *img, uintptr_t a, size_t len) {
  for (int i = 0; i < img->nseg; i++)
    if ((img->segs[i].flags & PF_R) && a >= img->segs[i].start && a + len <= img->segs[i].end)
      return 1;
  return 0;
}

static const uint8_t *cmp_zero(const uint8_t *p, const void *var) {
  int32_t rel;
  if (p[0] != 0x80 || p[1] != 0x3d || p[6] != 0) return NULL;
  memcpy(&rel, p + 2, 4);
  return p + 7 + rel == (const uint8_t *)var ? p + 7 : NULL;
}

static const uint8_t *je(const uint8_t *p, const uint8_t **target) {
  if (p[0] == 0x74) { *target = p + 2 + (int8_t)p[1]; return p + 2; }
  if (p[0] == 0x0f && p[1] == 0x84) {
    int32_t rel;
    memcpy(&rel, p + 2, 4);
    *target = p + 6 + rel;
    return p + 6;
  }
  return NULL;
}

static int loads_message(const struct image *img, const uint8_t *e) {
  if (!readable(img, (uintptr_t)e, 32 + 7)) return 0;
  for (const uint8_t *q = e; q < e + 32; q++) {
    int32_t rel;
    if ((q[0] != 0x48 && q[0] != 0x4c) || q[1] != 0x8d || (q[2] & 0xc7) != 0x05) continue;
    memcpy(&rel, q + 3, 4);
    uintptr_t s = (uintptr_t)(q + 7 + rel);
    if (readable(img, s, sizeof GUARD_MSG) && memcmp((void *)s, GUARD_MSG, sizeof GUARD_MSG) == 0)
      return 1;
  }
  return 0;
}

static void nop_out(uint8_t *jump) {
  static const uint8_t nop6[6] = {0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00}, nop2[2] = {0x66, 0x90};
  if (jump[0] == 0x74) memcpy(jump, nop2, 2);
  else memcpy(jump, nop6, 6);
}

static const char *patch_kvm_guard(void) {
#if defined(__x86_64__)
  void *allowed = dlsym(RTLD_DEFAULT, "kvm_allowed");
  void *irqchip = dlsym(RTLD_DEFAULT, "kvm_kernel_irqchip");
  if (!allowed || !irqchip) return "this QEMU exports no kvm_allowed/kvm_kernel_irqchip";
  struct image img = {.probe = allowed};
  if (!dl_iterate_phdr(find_image, &img)) return "cannot find the image holding kvm_allowed";
  uint8_t *hit = NULL, *jumps[2] = {NULL, NULL};
  int matches = 0;
  for (int i = 0; i < img.nseg; i++) {
    if (!(img.segs[i].flags & PF_X) || img.segs[i].end - img.segs[i].start < 32) continue;
    for (uint8_t *p = (uint8_t *)img.segs[i].start; p < (uint8_t *)img.segs[i].end - 32; p++) {
      const uint8_t *q, *e1, *e2;
      uint8_t *j1, *j2;
      if (!(q = cmp_zero(p, allowed))) continue;
      j1 = (uint8_t *)q;
      if (!(q = je(q, &e1)) || !(q = cmp_zero(q, irqchip))) continue;
      j2 = (uint8_t *)q;
      if (!je(q, &e2) || e1 != e2 || !loads_message(&img, e1)) continue;
      matches++, hit = p, jumps[0] = j1, jumps[1] = j2;
    }
  }
  if (matches != 1) return matches ? "the KVM guard pattern matches more than once"
                                   : "the KVM guard pattern was not found";
  long pg = sysconf(_SC_PAGESIZE);
  uintptr_t lo = (uintptr_t)hit & ~(uintptr_t)(pg - 1);
  uintptr_t hi = ((uintptr_t)jumps[1] + 6 + pg - 1) & ~(uintptr_t)(pg - 1);
  if (mprotect((void *)lo, hi - lo, PROT_READ | PROT_WRITE | PROT_EXEC))
    return "mprotect of QEMU's text was refused";
  nop_out(jumps[0]);
  nop_out(jumps[1]);
  if (mprotect((void *)lo, hi - lo, PROT_READ | PROT_EXEC))
    return "cannot restore the protection of QEMU's text";
  return NULL;
#else
  return "the KVM guard patch exists for x86-64 hosts only (CMDQV_PATCH_KVM_GUARD=0 skips it)";
#endif
}

/* ---- setup ---- */
static void fatal(const char *what, const char *detail) {
  fprintf(stderr, "cmdqv-preload: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
  exit(1);
}

/* The fd= numbers must be open for QEMU to accept them; a user starting QEMU by hand
 * then needs only the environment and the options. */
static int claim_fd(const char *var, int kind) {
  const char *s = getenv(var);
  char *end;
  if (!s || !*s) return -1;
  long fd = strtol(s, &end, 10);
  if (*end || fd < 0 || fd >= MAX_TRACKED_FD) fatal("bad fd number in", var);
  if (fcntl((int)fd, F_GETFD) < 0) {
    int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (nul < 0 || (nul != fd && dup2(nul, (int)fd) < 0)) fatal("cannot open /dev/null for", var);
    if (nul != fd) real_close()(nul);
  }
  set_kind((int)fd, kind);
  return (int)fd;
}

__attribute__((constructor)) static void cmdqv_preload_init(void) {
  const char *path = getenv("CMDQV_SOCKET"), *patch = getenv("CMDQV_PATCH_KVM_GUARD");
  const char *parent = getenv("CMDQV_PARENT_PID");
  if (parent && *parent) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != (pid_t)strtol(parent, NULL, 10)) fatal("the process that started QEMU is gone", NULL);
  }
  if (!path || !*path) fatal("CMDQV_SOCKET is not set", NULL);
  int iommufd = claim_fd("CMDQV_IOMMUFD_FD", K_IOMMUFD);
  int vfio = claim_fd("CMDQV_VFIO_FD", K_VFIO);
  int patched = 0;
  if (!patch || strcmp(patch, "0") != 0) {
    const char *why = patch_kvm_guard();
    if (why) fatal("cannot patch QEMU's KVM guard for arm-smmuv3,accel=on", why);
    patched = 1;
  }
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof sa.sun_path) fatal("CMDQV_SOCKET path too long", path);
  strcpy(sa.sun_path, path);
  sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0 || connect(sock, (struct sockaddr *)&sa, sizeof sa) < 0)
    fatal("cannot connect to CMDQV_SOCKET", strerror(errno));
  struct hdr h = {.n = 0};
  put32(&h, PROTOCOL_VERSION);
  put32(&h, (uint32_t)getpid());
  put32(&h, (uint32_t)iommufd);
  put32(&h, (uint32_t)vfio);
  put32(&h, (uint32_t)patched);
  if (call_plain(FR_HELLO, &h, NULL, 0) < 0)
    fatal("the host server refused this QEMU", strerror(errno));
}
