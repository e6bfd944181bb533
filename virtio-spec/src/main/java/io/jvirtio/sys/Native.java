package io.jvirtio.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * Every native call jvirtio makes, in one place. Each failing call throws a {@link NativeException}
 * that names the call, its salient arguments and errno (captured right after the call, before the
 * JVM can clobber it).
 *
 * <p>Hot-path calls ({@link #eventfdWrite}, {@link #eventfdRead}) allocate nothing: they use a
 * per-thread scratch segment for the 8-byte counter and the errno capture state.
 */
public final class Native {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");

    private static final MethodHandle MEMFD_CREATE = errnoCall("memfd_create", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle FTRUNCATE = errnoCall("ftruncate", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG));
    private static final MethodHandle MMAP = errnoCall("mmap", FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
    private static final MethodHandle MUNMAP = errnoCall("munmap", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle EVENTFD = errnoCall("eventfd", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    /**
     * Hot-path variants for eventfd kicks and reads: no errno capture (the JDK slices the capture
     * segment per call, and the JIT does not always remove that allocation) and pointer as a raw
     * address. On failure the call is repeated through the capturing handle to learn errno.
     */
    private static final MethodHandle WRITE_RAW = LINKER.downcallHandle(LIBC.find("write").orElseThrow(),
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_LONG), Linker.Option.critical(false));
    private static final MethodHandle READ_RAW = LINKER.downcallHandle(LIBC.find("read").orElseThrow(),
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_LONG), Linker.Option.critical(false));
    private static final MethodHandle READ = errnoCall("read", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle WRITE = errnoCall("write", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle CLOSE = errnoCall("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle DUP = errnoCall("dup", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle OPEN = errnoCall("open", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
    private static final MethodHandle IOCTL_PTR = errnoCallVariadic("ioctl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS), 2);
    private static final MethodHandle IOCTL_LONG = errnoCallVariadic("ioctl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG), 2);
    private static final MethodHandle IOCTL_NOARG = errnoCallVariadic("ioctl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG), 2);
    private static final MethodHandle PREAD = errnoCall("pread", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle PWRITE = errnoCall("pwrite", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
    /** Hot-path {@code pwrite} (a VFIO BAR notify without mmap): no errno capture, raw address, like {@link #WRITE_RAW}. */
    private static final MethodHandle PWRITE_RAW = LINKER.downcallHandle(LIBC.find("pwrite").orElseThrow(),
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG), Linker.Option.critical(false));
    private static final MethodHandle POLL = errnoCall("poll", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    private static final MethodHandle STRERROR = LINKER.downcallHandle(LIBC.find("strerror").orElseThrow(), FunctionDescriptor.of(ADDRESS, JAVA_INT));

    /** {@code struct pollfd { int fd; short events; short revents; }} */
    private static final long POLLFD_SIZE = 8;
    private static final long POLLFD_EVENTS = 4;
    private static final long POLLFD_REVENTS = 6;

    /** Per-thread scratch: errno capture state, then an 8-byte eventfd counter, then one pollfd. */
    private static final long SCRATCH_COUNTER = alignUp(CAPTURE_LAYOUT.byteSize(), 8);
    private static final long SCRATCH_POLLFD = SCRATCH_COUNTER + 8;
    private static final long SCRATCH_SIZE = SCRATCH_POLLFD + POLLFD_SIZE;
    private static final ThreadLocal<MemorySegment> SCRATCH = ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(SCRATCH_SIZE, 8));

    private Native() {
    }

    private static MethodHandle errnoCall(String name, FunctionDescriptor fd) {
        return LINKER.downcallHandle(LIBC.find(name).orElseThrow(() -> new UnsatisfiedLinkError(name)), fd, CAPTURE_ERRNO);
    }

    private static MethodHandle errnoCallVariadic(String name, FunctionDescriptor fd, int firstVariadic) {
        return LINKER.downcallHandle(LIBC.find(name).orElseThrow(() -> new UnsatisfiedLinkError(name)), fd,
                CAPTURE_ERRNO, Linker.Option.firstVariadicArg(firstVariadic));
    }

    private static long alignUp(long v, long a) {
        return (v + a - 1) & -a;
    }

    private static MemorySegment scratch() {
        return SCRATCH.get();
    }

    private static int errno(MemorySegment state) {
        return (int) ERRNO.get(state, 0L);
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException re) {
            return re;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException(t);
    }

    /**
     * {@code memfd_create(2)}.
     *
     * @param name  a name for debugging (shows in /proc/PID/fd)
     * @param flags {@code MFD_*} flags
     * @return the new fd
     */
    public static int memfdCreate(String name, int flags) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = scratch();
            int fd = (int) MEMFD_CREATE.invokeExact(st, arena.allocateFrom(name), flags);
            if (fd < 0) {
                throw new NativeException("memfd_create(name=" + name + ", flags=0x" + Integer.toHexString(flags) + ")", errno(st));
            }
            return fd;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * {@code open(2)}.
     *
     * @param path  the file
     * @param flags {@code O_*} flags
     * @return the new fd
     */
    public static int open(String path, int flags) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = scratch();
            int fd = (int) OPEN.invokeExact(st, arena.allocateFrom(path), flags, 0);
            if (fd < 0) {
                throw new NativeException("open(" + path + ")", errno(st));
            }
            return fd;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code ftruncate(2)}. */
    public static void ftruncate(int fd, long length) {
        try {
            MemorySegment st = scratch();
            int rc = (int) FTRUNCATE.invokeExact(st, fd, length);
            if (rc != 0) {
                throw new NativeException("ftruncate(fd=" + fd + ", length=" + length + ")", errno(st));
            }
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * {@code mmap(2)}.
     *
     * @return the mapped address (never {@code MAP_FAILED}: that throws)
     */
    public static long mmap(long addr, long length, int prot, int flags, int fd, long offset) {
        try {
            MemorySegment st = scratch();
            long rc = (long) MMAP.invokeExact(st, addr, length, prot, flags, fd, offset);
            if (rc == LinuxConstants.MAP_FAILED) {
                throw new NativeException("mmap(addr=0x" + Long.toHexString(addr) + ", length=" + length + ", prot=" + prot
                        + ", flags=0x" + Integer.toHexString(flags) + ", fd=" + fd + ", offset=" + offset + ")", errno(st));
            }
            return rc;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code munmap(2)}. */
    public static void munmap(long addr, long length) {
        try {
            MemorySegment st = scratch();
            int rc = (int) MUNMAP.invokeExact(st, addr, length);
            if (rc != 0) {
                throw new NativeException("munmap(addr=0x" + Long.toHexString(addr) + ", length=" + length + ")", errno(st));
            }
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code eventfd(2)}; returns the new fd. */
    public static int eventfd(int initval, int flags) {
        try {
            MemorySegment st = scratch();
            int fd = (int) EVENTFD.invokeExact(st, initval, flags);
            if (fd < 0) {
                throw new NativeException("eventfd(flags=0x" + Integer.toHexString(flags) + ")", errno(st));
            }
            return fd;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Adds {@code value} to an eventfd's counter (the vhost-user kick). Allocation-free. */
    public static void eventfdWrite(int fd, long value) {
        try {
            MemorySegment st = scratch();
            st.set(JAVA_LONG, SCRATCH_COUNTER, value);
            long rc = (long) WRITE_RAW.invokeExact(fd, st.address() + SCRATCH_COUNTER, 8L);
            if (rc != 8) {
                eventfdWriteFailed(fd, st);
            }
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static void eventfdWriteFailed(int fd, MemorySegment st) throws Throwable {
        long rc = (long) WRITE.invokeExact(st, fd, st.asSlice(SCRATCH_COUNTER, 8), 8L);
        if (rc == 8) {
            return;
        }
        int e = errno(st);
        if (rc < 0 && e == Errno.EAGAIN) {
            return; // counter saturated: the peer has a wake-up pending anyway
        }
        throw new NativeException("write(eventfd=" + fd + ")", rc < 0 ? e : Errno.EIO);
    }

    /**
     * Reads and clears an eventfd's counter. Allocation-free.
     *
     * @return the counter, or 0 when a non-blocking eventfd had nothing
     */
    public static long eventfdRead(int fd) {
        try {
            MemorySegment st = scratch();
            long rc = (long) READ_RAW.invokeExact(fd, st.address() + SCRATCH_COUNTER, 8L);
            if (rc == 8) {
                return st.get(JAVA_LONG, SCRATCH_COUNTER);
            }
            rc = (long) READ.invokeExact(st, fd, st.asSlice(SCRATCH_COUNTER, 8), 8L);
            if (rc == 8) {
                return st.get(JAVA_LONG, SCRATCH_COUNTER);
            }
            int e = errno(st);
            if (rc < 0 && e == Errno.EAGAIN) {
                return 0;
            }
            throw new NativeException("read(eventfd=" + fd + ")", rc < 0 ? e : Errno.EIO);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code read(2)} into a native segment; returns bytes read (0 at EOF). */
    public static long read(int fd, MemorySegment buf, long length) {
        try {
            MemorySegment st = scratch();
            long rc = (long) READ.invokeExact(st, fd, buf, length);
            if (rc < 0) {
                throw new NativeException("read(fd=" + fd + ", length=" + length + ")", errno(st));
            }
            return rc;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code write(2)} from a native segment; returns bytes written. */
    public static long write(int fd, MemorySegment buf, long length) {
        try {
            MemorySegment st = scratch();
            long rc = (long) WRITE.invokeExact(st, fd, buf, length);
            if (rc < 0) {
                throw new NativeException("write(fd=" + fd + ", length=" + length + ")", errno(st));
            }
            return rc;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code close(2)}. */
    public static void close(int fd) {
        try {
            MemorySegment st = scratch();
            int rc = (int) CLOSE.invokeExact(st, fd);
            if (rc != 0) {
                throw new NativeException("close(fd=" + fd + ")", errno(st));
            }
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Closes {@code fd} if it is not negative, logging nothing and throwing nothing: for cleanup paths. */
    public static void closeQuietly(int fd) {
        if (fd >= 0) {
            try {
                close(fd);
            } catch (RuntimeException ignored) {
                // cleanup path: the fd is gone either way
            }
        }
    }

    /** {@code dup(2)}; returns the new fd. */
    public static int dup(int fd) {
        try {
            MemorySegment st = scratch();
            int rc = (int) DUP.invokeExact(st, fd);
            if (rc < 0) {
                throw new NativeException("dup(fd=" + fd + ")", errno(st));
            }
            return rc;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code ioctl(2)} with a pointer argument; returns the call's non-negative result. */
    public static int ioctl(int fd, long request, MemorySegment arg) {
        try {
            MemorySegment st = scratch();
            int rc = (int) IOCTL_PTR.invokeExact(st, fd, request, arg);
            if (rc < 0) {
                throw new NativeException("ioctl(fd=" + fd + ", request=0x" + Long.toHexString(request) + ")", errno(st));
            }
            return rc;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code ioctl(2)} with an integer argument; returns the call's non-negative result. */
    public static int ioctl(int fd, long request, long arg) {
        try {
            MemorySegment st = scratch();
            int rc = (int) IOCTL_LONG.invokeExact(st, fd, request, arg);
            if (rc < 0) {
                throw new NativeException("ioctl(fd=" + fd + ", request=0x" + Long.toHexString(request) + ", arg=" + arg + ")", errno(st));
            }
            return rc;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code ioctl(2)} without an argument (VFIO's {@code _IO} requests); returns the call's non-negative result. */
    public static int ioctl(int fd, long request) {
        try {
            MemorySegment st = scratch();
            int rc = (int) IOCTL_NOARG.invokeExact(st, fd, request);
            if (rc < 0) {
                throw new NativeException("ioctl(fd=" + fd + ", request=0x" + Long.toHexString(request) + ")", errno(st));
            }
            return rc;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * {@code pread(2)} of exactly {@code length} bytes at {@code offset}: a short read is an error
     * ({@code EIO}), as for a device register or a VFIO region it means the access did not happen.
     */
    public static void pread(int fd, MemorySegment buf, long length, long offset) {
        try {
            MemorySegment st = scratch();
            long rc = (long) PREAD.invokeExact(st, fd, buf, length, offset);
            if (rc != length) {
                throw new NativeException("pread(fd=" + fd + ", length=" + length + ", offset=0x" + Long.toHexString(offset) + ")"
                        + (rc >= 0 ? " read " + rc + " bytes" : ""), rc < 0 ? errno(st) : Errno.EIO);
            }
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code pwrite(2)} of exactly {@code length} bytes at {@code offset}; a short write is an error ({@code EIO}). */
    public static void pwrite(int fd, MemorySegment buf, long length, long offset) {
        try {
            MemorySegment st = scratch();
            long rc = (long) PWRITE.invokeExact(st, fd, buf, length, offset);
            if (rc != length) {
                throw new NativeException("pwrite(fd=" + fd + ", length=" + length + ", offset=0x" + Long.toHexString(offset) + ")"
                        + (rc >= 0 ? " wrote " + rc + " bytes" : ""), rc < 0 ? errno(st) : Errno.EIO);
            }
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * {@code pwrite(2)} of a device register (1-8 bytes), allocation-free: the notify of a BAR that
     * cannot be mmapped. On failure the write is repeated once through the errno-capturing call to
     * learn errno; a register store that failed did not happen, and a repeated notify is harmless.
     *
     * @param buf a native segment holding the value (e.g. a per-thread scratch)
     */
    public static void pwriteRegister(int fd, MemorySegment buf, long length, long offset) {
        try {
            long rc = (long) PWRITE_RAW.invokeExact(fd, buf.address(), length, offset);
            if (rc != length) {
                pwrite(fd, buf, length, offset);
            }
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * Waits for one fd to become readable.
     *
     * @return true when readable (or hung up / in error), false on timeout or EINTR
     */
    public static boolean pollIn(int fd, int timeoutMillis) {
        try {
            MemorySegment st = scratch();
            MemorySegment pfd = st.asSlice(SCRATCH_POLLFD, POLLFD_SIZE);
            pfd.set(JAVA_INT, 0, fd);
            pfd.set(JAVA_SHORT, POLLFD_EVENTS, LinuxConstants.POLLIN);
            pfd.set(JAVA_SHORT, POLLFD_REVENTS, (short) 0);
            int rc = (int) POLL.invokeExact(st, pfd, 1L, timeoutMillis);
            if (rc < 0) {
                int e = errno(st);
                if (e == Errno.EINTR) {
                    return false;
                }
                throw new NativeException("poll(fd=" + fd + ")", e);
            }
            return rc > 0;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * Waits for events on one fd.
     *
     * @param events        the {@code poll(2)} events asked for ({@link LinuxConstants#POLLRDHUP}, ...);
     *                      POLLHUP, POLLERR and POLLNVAL are reported whether asked or not
     * @param timeoutMillis how long to wait; -1 for ever
     * @return the revents, 0 on timeout or EINTR
     */
    public static int poll(int fd, short events, int timeoutMillis) {
        try {
            MemorySegment st = scratch();
            MemorySegment pfd = st.asSlice(SCRATCH_POLLFD, POLLFD_SIZE);
            pfd.set(JAVA_INT, 0, fd);
            pfd.set(JAVA_SHORT, POLLFD_EVENTS, events);
            pfd.set(JAVA_SHORT, POLLFD_REVENTS, (short) 0);
            int rc = (int) POLL.invokeExact(st, pfd, 1L, timeoutMillis);
            if (rc < 0) {
                int e = errno(st);
                if (e == Errno.EINTR) {
                    return 0;
                }
                throw new NativeException("poll(fd=" + fd + ")", e);
            }
            return rc == 0 ? 0 : pfd.get(JAVA_SHORT, POLLFD_REVENTS) & 0xffff;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code strerror(3)}. */
    public static String strerror(int errno) {
        try {
            MemorySegment p = (MemorySegment) STRERROR.invokeExact(errno);
            return p.reinterpret(256).getString(0);
        } catch (Throwable t) {
            return "unknown";
        }
    }

    /** @return a segment of {@code length} bytes at native address {@code address}, unchecked */
    public static MemorySegment segmentAt(long address, long length) {
        return MemorySegment.ofAddress(address).reinterpret(length);
    }
}
