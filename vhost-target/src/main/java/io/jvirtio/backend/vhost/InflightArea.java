package io.jvirtio.backend.vhost;

import io.jvirtio.sys.LinuxConstants;
import io.jvirtio.backend.mem.FileSize;
import io.jvirtio.sys.Native;
import io.jvirtio.backend.ring.InflightQueue;
import io.jvirtio.backend.ring.PackedInflightQueue;

import java.lang.foreign.MemorySegment;

/**
 * The INFLIGHT_SHMFD area of one connection: {@code numQueues} regions, read in QEMU's split format
 * ({@link InflightQueue}) or its packed format ({@link PackedInflightQueue}) as the rings that start
 * on it are negotiated, either created here (GET_INFLIGHT_FD: a memfd the front-end keeps across
 * back-end restarts, sized for the rings negotiated by then) or mapped from the front-end's fd
 * (SET_INFLIGHT_FD).
 */
final class InflightArea implements AutoCloseable {
    /** Largest area accepted from a front-end: 256 queues of 32768 descriptors in the larger (packed) format. */
    static final long MAX_SIZE = 256L * PackedInflightQueue.bytesPerQueue(32768);

    private final int ownedFd;
    private final long base;
    private final long length;
    private final int numQueues;
    private final int queueSize;
    private final MemorySegment bytes;
    private boolean closed;

    private InflightArea(int ownedFd, long base, long length, int numQueues, int queueSize) {
        this.ownedFd = ownedFd;
        this.base = base;
        this.length = length;
        this.numQueues = numQueues;
        this.queueSize = queueSize;
        this.bytes = Native.segmentAt(base, length);
    }

    /** @return the bytes one queue's region takes in the format */
    static long bytesPerQueue(int queueSize, boolean packed) {
        return packed ? PackedInflightQueue.bytesPerQueue(queueSize) : InflightQueue.bytesPerQueue(queueSize);
    }

    /** Creates a zeroed memfd-backed area (GET_INFLIGHT_FD) in the split or the packed format. */
    static InflightArea create(String name, int numQueues, int queueSize, boolean packed) {
        long size = numQueues * bytesPerQueue(queueSize, packed);
        int fd = Native.memfdCreate("jvirtio-inflight-" + name, LinuxConstants.MFD_CLOEXEC);
        try {
            Native.ftruncate(fd, size);
            long base = Native.mmap(0, size, LinuxConstants.PROT_READ | LinuxConstants.PROT_WRITE, LinuxConstants.MAP_SHARED, fd, 0);
            return new InflightArea(fd, base, size, numQueues, queueSize);
        } catch (RuntimeException e) {
            Native.closeQuietly(fd);
            throw e;
        }
    }

    /** Maps the front-end's area (SET_INFLIGHT_FD); the fd stays the caller's. */
    static InflightArea map(int fd, long size, long offset, int numQueues, int queueSize) {
        FileSize.requireCovers(fd, offset + size, "the inflight area (mmap_offset 0x" + Long.toHexString(offset) + ", mmap_size 0x"
                + Long.toHexString(size) + ")");
        long base = Native.mmap(0, size, LinuxConstants.PROT_READ | LinuxConstants.PROT_WRITE, LinuxConstants.MAP_SHARED, fd, offset);
        return new InflightArea(-1, base, size, numQueues, queueSize);
    }

    /** @return the fd to send with GET_INFLIGHT_FD's reply */
    int fd() {
        return ownedFd;
    }

    long size() {
        return length;
    }

    int numQueues() {
        return numQueues;
    }

    int queueSize() {
        return queueSize;
    }

    /** @return whether the area holds every queue's region in the format */
    boolean fits(boolean packed) {
        return length >= numQueues * bytesPerQueue(queueSize, packed);
    }

    /** @return queue {@code index}'s region in the split format, or null when the area does not cover it */
    InflightQueue queue(int index) {
        MemorySegment r = region(index, false);
        return r == null ? null : new InflightQueue(r, queueSize);
    }

    /** @return queue {@code index}'s region in the packed format, or null when the area does not cover it */
    PackedInflightQueue packedQueue(int index) {
        MemorySegment r = region(index, true);
        return r == null ? null : new PackedInflightQueue(r, queueSize);
    }

    private MemorySegment region(int index, boolean packed) {
        long per = bytesPerQueue(queueSize, packed);
        if (index >= numQueues || (index + 1) * per > length) {
            return null;
        }
        return bytes.asSlice(index * per, per);
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            try {
                Native.munmap(base, length);
            } catch (RuntimeException ignored) {
                // the mapping goes with the process anyway
            }
            Native.closeQuietly(ownedFd);
        }
    }
}
