package io.jvirtio.backend.store;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.util.Locale;

/** A zero-filled RAM disk, off-heap. */
public final class RamBlockStore implements BlockStore {
    private final Arena arena = Arena.ofShared();
    private final MemorySegment data;
    private final boolean readOnly;

    /**
     * @param sizeBytes capacity
     * @param readOnly  whether writes are refused
     */
    public RamBlockStore(long sizeBytes, boolean readOnly) {
        if (sizeBytes <= 0) {
            throw new IllegalArgumentException("RAM store size " + sizeBytes + " must be positive");
        }
        checkFits(sizeBytes);
        try {
            this.data = arena.allocate(sizeBytes, 4096);
        } catch (OutOfMemoryError e) {
            arena.close();
            throw new IllegalArgumentException("a RAM store of " + bytes(sizeBytes) + " cannot be allocated: " + e.getMessage()
                    + "; give a smaller size or use a file store", e);
        }
        this.readOnly = readOnly;
    }

    /**
     * Refuses, before allocating, a size beyond what this JVM may allocate off-heap (its direct
     * memory limit, less what is in use) or beyond the machine's memory (a container's limit
     * included).
     *
     * @throws IllegalArgumentException naming the size and the limit
     */
    static void checkFits(long sizeBytes) {
        long limit = maxDirectMemory();
        long used = 0;
        for (BufferPoolMXBean pool : ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class)) {
            if (pool.getName().equals("direct")) {
                used = Math.max(0, pool.getMemoryUsed());
            }
        }
        if (sizeBytes > limit - used) {
            throw new IllegalArgumentException("a RAM store of " + bytes(sizeBytes) + " does not fit in this JVM's off-heap memory limit of "
                    + bytes(limit) + " (" + bytes(used) + " of it in use; -XX:MaxDirectMemorySize, by default the heap limit -Xmx);"
                    + " give a smaller size, raise the limit, or use a file store");
        }
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os
                && os.getTotalMemorySize() > 0 && sizeBytes > os.getTotalMemorySize()) {
            throw new IllegalArgumentException("a RAM store of " + bytes(sizeBytes) + " is larger than this machine's memory of "
                    + bytes(os.getTotalMemorySize()) + " (a container's limit included); give a smaller size or use a file store");
        }
    }

    private static long maxDirectMemory() {
        try {
            String v = ManagementFactory.getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class)
                    .getVMOption("MaxDirectMemorySize").getValue();
            long n = Long.parseLong(v);
            if (n > 0) {
                return n;
            }
        } catch (RuntimeException e) {
            // not HotSpot: the default below
        }
        return Runtime.getRuntime().maxMemory();
    }

    private static String bytes(long n) {
        if (n >= 1L << 30) {
            return String.format(Locale.ROOT, "%.1f GiB", n / (double) (1L << 30));
        }
        return String.format(Locale.ROOT, "%.1f MiB", n / (double) (1L << 20));
    }

    /** @return the whole disk, for tests that inspect what was written */
    public MemorySegment contents() {
        return data;
    }

    @Override
    public long sizeBytes() {
        return data.byteSize();
    }

    @Override
    public boolean readOnly() {
        return readOnly;
    }

    @Override
    public void read(long offset, MemorySegment dst) {
        MemorySegment.copy(data, offset, dst, 0, dst.byteSize());
    }

    @Override
    public void write(long offset, MemorySegment src) {
        MemorySegment.copy(src, 0, data, offset, src.byteSize());
    }

    @Override
    public void read(long offset, MemorySegment buf, long bufOffset, long length) {
        MemorySegment.copy(data, offset, buf, bufOffset, length);
    }

    @Override
    public void write(long offset, MemorySegment buf, long bufOffset, long length) {
        MemorySegment.copy(buf, bufOffset, data, offset, length);
    }

    @Override
    public void flush() {
        // RAM is as durable as it gets
    }

    @Override
    public void discard(long offset, long length) {
        data.asSlice(offset, length).fill((byte) 0);
    }

    @Override
    public void writeZeroes(long offset, long length) {
        data.asSlice(offset, length).fill((byte) 0);
    }

    @Override
    public void close() {
        arena.close();
    }
}
