package io.jvirtio.backend.store;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

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
        this.data = arena.allocate(sizeBytes, 4096);
        this.readOnly = readOnly;
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
