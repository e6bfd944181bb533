package io.jvirtio.scsi;

import io.jvirtio.backend.store.BlockStore;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/** A huge, sparse RAM store (4 KiB pages allocated on write), counting calls: for LUNs beyond 2^32 blocks and split checks. */
final class SparseStore implements BlockStore {
    private static final int PAGE = 4096;
    private final long size;
    private final ConcurrentHashMap<Long, byte[]> pages = new ConcurrentHashMap<>();
    final AtomicInteger writes = new AtomicInteger();
    final AtomicInteger reads = new AtomicInteger();
    final AtomicInteger flushes = new AtomicInteger();
    final AtomicInteger discards = new AtomicInteger();
    final AtomicInteger zeroes = new AtomicInteger();

    SparseStore(long size) {
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
        reads.incrementAndGet();
        for (long done = 0; done < dst.byteSize(); ) {
            long at = offset + done;
            int in = (int) (at % PAGE);
            int n = (int) Math.min(PAGE - in, dst.byteSize() - done);
            byte[] p = pages.get(at / PAGE);
            if (p == null) {
                dst.asSlice(done, n).fill((byte) 0);
            } else {
                MemorySegment.copy(MemorySegment.ofArray(p), in, dst, done, n);
            }
            done += n;
        }
    }

    @Override
    public void write(long offset, MemorySegment src) {
        writes.incrementAndGet();
        for (long done = 0; done < src.byteSize(); ) {
            long at = offset + done;
            int in = (int) (at % PAGE);
            int n = (int) Math.min(PAGE - in, src.byteSize() - done);
            byte[] p = pages.computeIfAbsent(at / PAGE, k -> new byte[PAGE]);
            MemorySegment.copy(src, done, MemorySegment.ofArray(p), in, n);
            done += n;
        }
    }

    @Override
    public void flush() {
        flushes.incrementAndGet();
    }

    @Override
    public void discard(long offset, long length) {
        discards.incrementAndGet();
        clear(offset, length);
    }

    @Override
    public void writeZeroes(long offset, long length) {
        zeroes.incrementAndGet();
        clear(offset, length);
    }

    private void clear(long offset, long length) {
        for (long done = 0; done < length; ) {
            long at = offset + done;
            int in = (int) (at % PAGE);
            int n = (int) Math.min(PAGE - in, length - done);
            byte[] p = pages.get(at / PAGE);
            if (p != null) {
                java.util.Arrays.fill(p, in, in + n, (byte) 0);
            }
            done += n;
        }
    }

    @Override
    public void close() {
        pages.clear();
    }
}
