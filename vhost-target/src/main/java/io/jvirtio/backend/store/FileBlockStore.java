package io.jvirtio.backend.store;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A regular file (or block device node) as storage, through positional {@link FileChannel} I/O,
 * which is thread-safe. Discard writes zeros (portable; a hole punch would need fallocate).
 */
public final class FileBlockStore implements BlockStore {
    private static final int ZERO_CHUNK = 1 << 20;
    private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(ZERO_CHUNK).asReadOnlyBuffer();

    private final Path path;
    private final FileChannel channel;
    private final long size;
    private final boolean readOnly;

    /**
     * Opens an existing file; its size is the capacity.
     *
     * @param path     the file
     * @param readOnly open for reading only and refuse writes
     */
    public FileBlockStore(Path path, boolean readOnly) {
        this.path = path;
        this.readOnly = readOnly;
        try {
            this.channel = readOnly ? FileChannel.open(path, StandardOpenOption.READ)
                    : FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
            this.size = channel.size();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open store file " + path + ": " + reason(e), e);
        }
        if (size <= 0) {
            close();
            throw new IllegalArgumentException("store file " + path + " is empty: set its size first (truncate -s SIZE)");
        }
    }

    /** @return why an open failed, in words ({@link IOException#getMessage()} of a missing file is just its path) */
    public static String reason(IOException e) {
        if (e instanceof java.nio.file.NoSuchFileException) {
            return "no such file";
        }
        if (e instanceof java.nio.file.AccessDeniedException) {
            return "permission denied";
        }
        if (e instanceof java.nio.file.FileSystemException f && f.getReason() != null) {
            return f.getReason();
        }
        return e.getMessage();
    }

    /** @return the file */
    public Path path() {
        return path;
    }

    @Override
    public long sizeBytes() {
        return size;
    }

    @Override
    public boolean readOnly() {
        return readOnly;
    }

    @Override
    public void read(long offset, MemorySegment dst) {
        ByteBuffer buf = dst.asByteBuffer();
        try {
            while (buf.hasRemaining()) {
                int n = channel.read(buf, offset + buf.position());
                if (n < 0) {
                    // past the end of a file that shrank under us: the rest reads as zeros
                    dst.asSlice(buf.position()).fill((byte) 0);
                    return;
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("read of " + dst.byteSize() + " bytes at " + offset + " from " + path + " failed", e);
        }
    }

    @Override
    public void write(long offset, MemorySegment src) {
        ByteBuffer buf = src.asByteBuffer();
        try {
            while (buf.hasRemaining()) {
                channel.write(buf, offset + buf.position());
            }
        } catch (IOException e) {
            throw new UncheckedIOException("write of " + src.byteSize() + " bytes at " + offset + " to " + path + " failed", e);
        }
    }

    @Override
    public void flush() {
        try {
            channel.force(false);
        } catch (IOException e) {
            throw new UncheckedIOException("flush of " + path + " failed", e);
        }
    }

    @Override
    public void discard(long offset, long length) {
        writeZeroes(offset, length);
    }

    @Override
    public void writeZeroes(long offset, long length) {
        try {
            long done = 0;
            while (done < length) {
                ByteBuffer z = ZEROS.duplicate();
                z.limit((int) Math.min(ZERO_CHUNK, length - done));
                while (z.hasRemaining()) {
                    done += channel.write(z, offset + done);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("write-zeroes of " + length + " bytes at " + offset + " to " + path + " failed", e);
        }
    }

    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException e) {
            throw new UncheckedIOException("close of " + path + " failed", e);
        }
    }
}
