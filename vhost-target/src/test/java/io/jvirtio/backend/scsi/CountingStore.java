package io.jvirtio.backend.scsi;

import io.jvirtio.backend.store.BlockStore;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A store with no memory behind it (reads zeros, writes vanish) and any capacity: for LUNs beyond
 * 2 TiB and for counting flushes, discards and zero writes.
 */
final class CountingStore implements BlockStore {
    final long size;
    final AtomicInteger flushes = new AtomicInteger();
    final AtomicInteger discards = new AtomicInteger();
    final AtomicInteger zeroWrites = new AtomicInteger();
    final AtomicInteger writes = new AtomicInteger();

    CountingStore(long size) {
        this.size = size;
    }

    @Override
    public long sizeBytes() {
        return size;
    }

    @Override
    public boolean readOnly() {
        return false;
    }

    @Override
    public void read(long offset, MemorySegment dst) {
        dst.fill((byte) 0);
    }

    @Override
    public void write(long offset, MemorySegment src) {
        writes.incrementAndGet();
    }

    @Override
    public void flush() {
        flushes.incrementAndGet();
    }

    @Override
    public void discard(long offset, long length) {
        discards.incrementAndGet();
    }

    @Override
    public void writeZeroes(long offset, long length) {
        zeroWrites.incrementAndGet();
    }

    @Override
    public void close() {
    }
}
