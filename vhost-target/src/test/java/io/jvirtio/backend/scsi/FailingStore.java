package io.jvirtio.backend.scsi;

import io.jvirtio.backend.store.BlockStore;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;

/** A store whose every I/O fails, as a dying disk file would. */
final class FailingStore implements BlockStore {
    private final long size;

    FailingStore(long size) {
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
        throw new UncheckedIOException(new IOException("EIO"));
    }

    @Override
    public void write(long offset, MemorySegment src) {
        throw new UncheckedIOException(new IOException("EIO"));
    }

    @Override
    public void flush() {
        throw new UncheckedIOException(new IOException("EIO"));
    }

    @Override
    public void discard(long offset, long length) {
        throw new UncheckedIOException(new IOException("EIO"));
    }

    @Override
    public void writeZeroes(long offset, long length) {
        throw new UncheckedIOException(new IOException("EIO"));
    }

    @Override
    public void close() {
    }
}
