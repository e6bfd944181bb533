package io.jvirtio.backend.scsi;

import io.jvirtio.backend.store.RamBlockStore;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/** A RAM store whose reads block until released: a command that is running, not merely delayed. */
final class BlockingStore implements io.jvirtio.backend.store.BlockStore {
    private final RamBlockStore ram;
    final CountDownLatch entered = new CountDownLatch(1);
    final CountDownLatch release = new CountDownLatch(1);

    BlockingStore(long size) {
        this.ram = new RamBlockStore(size, false);
    }

    @Override
    public long sizeBytes() {
        return ram.sizeBytes();
    }

    @Override
    public boolean readOnly() {
        return false;
    }

    @Override
    public void read(long offset, MemorySegment dst) {
        entered.countDown();
        try {
            if (!release.await(10, TimeUnit.SECONDS)) {
                throw new IllegalStateException("never released");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        ram.read(offset, dst);
    }

    @Override
    public void write(long offset, MemorySegment src) {
        ram.write(offset, src);
    }

    @Override
    public void flush() {
    }

    @Override
    public void discard(long offset, long length) {
        ram.discard(offset, length);
    }

    @Override
    public void writeZeroes(long offset, long length) {
        ram.writeZeroes(offset, length);
    }

    @Override
    public void close() {
        ram.close();
    }
}
