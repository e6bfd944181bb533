package io.jvirtio.sys;

/** Linux x86_64 constants for the native calls in {@link Native}, named as in the C headers. */
public final class LinuxConstants {
    // <sys/mman.h>
    public static final int PROT_NONE = 0x0;
    public static final int PROT_READ = 0x1;
    public static final int PROT_WRITE = 0x2;
    public static final int MAP_SHARED = 0x01;
    public static final int MAP_PRIVATE = 0x02;
    public static final int MAP_FIXED = 0x10;
    public static final int MAP_ANONYMOUS = 0x20;
    public static final int MAP_NORESERVE = 0x4000;
    public static final int MAP_POPULATE = 0x8000;
    public static final long MAP_FAILED = -1L;
    /** {@code MAP_FIXED_NOREPLACE}: map at the hint or fail with EEXIST, never over an existing mapping. */
    public static final int MAP_FIXED_NOREPLACE = 0x100000;

    // <linux/memfd.h>
    public static final int MFD_CLOEXEC = 0x0001;
    public static final int MFD_ALLOW_SEALING = 0x0002;
    public static final int MFD_HUGETLB = 0x0004;
    public static final int MFD_HUGE_SHIFT = 26;
    /** {@code MFD_HUGE_2MB}: 21 (log2 of 2 MiB) in the size field. */
    public static final int MFD_HUGE_2MB = 21 << MFD_HUGE_SHIFT;

    // <sys/eventfd.h>
    public static final int EFD_SEMAPHORE = 0x1;
    public static final int EFD_NONBLOCK = 0x800;
    public static final int EFD_CLOEXEC = 0x80000;

    // <poll.h>
    public static final short POLLIN = 0x001;
    /** {@code S_IFMT}: the file-type bits of {@code st_mode}. */
    public static final int S_IFMT = 0170000;
    /** {@code S_IFSOCK}: a socket. */
    public static final int S_IFSOCK = 0140000;
    public static final short POLLERR = 0x008;
    public static final short POLLHUP = 0x010;
    /** {@code POLLNVAL}: the fd is not open. */
    public static final short POLLNVAL = 0x020;
    /** {@code POLLRDHUP}: the peer closed its end of a stream socket (or shut down writing). */
    public static final short POLLRDHUP = 0x2000;

    // <fcntl.h>
    public static final int O_RDONLY = 0x0;
    public static final int O_RDWR = 0x2;
    public static final int O_CLOEXEC = 0x80000;

    /** 2 MiB: the huge page size and the alignment of every shared region. */
    public static final long HUGE_PAGE_2M = 2L * 1024 * 1024;

    private LinuxConstants() {
    }
}
