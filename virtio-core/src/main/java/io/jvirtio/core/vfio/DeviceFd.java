package io.jvirtio.core.vfio;

import io.jvirtio.core.pci.PciAddress;
import io.jvirtio.sys.Native;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * A VFIO device fd with register-sized {@code pread}/{@code pwrite} at device-fd offsets (config
 * space and unmapped BARs). Accesses after {@link #close()} fail cleanly instead of reaching
 * whatever file later gets the same fd number.
 *
 * <p>Each thread uses its own preallocated 8-byte buffer: {@link #write16} allocates nothing.
 */
final class DeviceFd {
    static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ThreadLocal<MemorySegment> SCRATCH = ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(8, 8));

    private final PciAddress function;
    private final int fd;
    private volatile boolean closed;

    DeviceFd(PciAddress function, int fd) {
        this.function = function;
        this.fd = fd;
    }

    int fd() {
        checkOpen();
        return fd;
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("VFIO device " + function + " is closed");
        }
    }

    int read8(long fileOffset) {
        MemorySegment b = SCRATCH.get();
        checkOpen();
        Native.pread(fd, b, 1, fileOffset);
        return Byte.toUnsignedInt(b.get(ValueLayout.JAVA_BYTE, 0));
    }

    int read16(long fileOffset) {
        MemorySegment b = SCRATCH.get();
        checkOpen();
        Native.pread(fd, b, 2, fileOffset);
        return Short.toUnsignedInt(b.get(LE16, 0));
    }

    int read32(long fileOffset) {
        MemorySegment b = SCRATCH.get();
        checkOpen();
        Native.pread(fd, b, 4, fileOffset);
        return b.get(LE32, 0);
    }

    void write8(long fileOffset, int value) {
        MemorySegment b = SCRATCH.get();
        b.set(ValueLayout.JAVA_BYTE, 0, (byte) value);
        checkOpen();
        Native.pwriteRegister(fd, b, 1, fileOffset);
    }

    /** Allocation-free: the notify of a BAR that is not mmapped. */
    void write16(long fileOffset, int value) {
        MemorySegment b = SCRATCH.get();
        b.set(LE16, 0, (short) value);
        checkOpen();
        Native.pwriteRegister(fd, b, 2, fileOffset);
    }

    void write32(long fileOffset, int value) {
        MemorySegment b = SCRATCH.get();
        b.set(LE32, 0, value);
        checkOpen();
        Native.pwriteRegister(fd, b, 4, fileOffset);
    }

    /** Marks the fd closed and closes it. Idempotent. */
    void close() {
        if (!closed) {
            closed = true;
            Native.close(fd);
        }
    }
}
