package io.jvirtio.examples.log;

import io.jvirtio.bdev.Bdev;
import io.jvirtio.bdev.async.AsyncBdev;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.CRC32C;

/**
 * An append-only record log on a jvirtio bdev, with an in-memory index from key to record: the kind of
 * block layer a small storage engine needs. Any number of (virtual) threads append and read at once through
 * one {@link AsyncBdev}; each record is written with one I/O at an offset reserved by an atomic add, so
 * appends never wait for each other. {@link #flush} makes everything appended before it durable (virtio-blk
 * FLUSH); {@link #open} rebuilds the index by scanning the log from its start.
 *
 * <p>On disk, every record starts on a block boundary and is padded to whole blocks:
 * <pre>
 *   0  u32 magic "JVLG"     4  u32 payload length    8  u64 key
 *  16  u32 crc32c(payload) 20  u32 crc32c(bytes 0..20)  24  payload ...
 * </pre>
 * The scan stops at the first block that is not a valid record header: after a crash, records appended
 * after a hole (an append whose write never reached the device) are not found again — a real engine would
 * write a commit record after each flush. Not a database; an example of embedding jvirtio.
 */
public final class RecordLog {
    static final int MAGIC = 0x474C564A; // "JVLG" little-endian
    static final int HEADER_BYTES = 24;
    private static final int OFF_MAGIC = 0;
    private static final int OFF_LENGTH = 4;
    private static final int OFF_KEY = 8;
    private static final int OFF_PAYLOAD_CRC = 16;
    private static final int OFF_HEADER_CRC = 20;
    private static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE_LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
    /** Buffers start on a page: what every virtio device takes without bouncing. */
    private static final int BUFFER_ALIGN = 4096;

    /** Where one record is: its offset in the log and its payload length. */
    public record Location(long offset, int length) {
    }

    private final AsyncBdev io;
    private final Bdev bdev;
    private final int blockSize;
    private final long capacity;
    private final AtomicLong tail;
    private final Map<Long, Location> index = new ConcurrentHashMap<>();

    private RecordLog(AsyncBdev io, long tail) {
        this.io = io;
        this.bdev = io.bdev();
        this.blockSize = Math.max(bdev.blockSize(), 512);
        this.capacity = bdev.blockCount() * bdev.blockSize();
        this.tail = new AtomicLong(tail);
    }

    /** @return an empty log over the whole bdev (what was on it is overwritten as records are appended) */
    public static RecordLog create(AsyncBdev io) {
        RecordLog log = new RecordLog(io, 0);
        log.writeEndMarker(0);
        return log;
    }

    /** @return the log found on the bdev, its index rebuilt by a scan from the start */
    public static RecordLog open(AsyncBdev io) {
        RecordLog log = new RecordLog(io, 0);
        log.tail.set(log.scan());
        return log;
    }

    /**
     * Appends a record; safe from any number of threads. Returns once the record is written (not yet
     * durable: see {@link #flush}).
     *
     * @return where it went
     * @throws IllegalStateException when the bdev is full
     */
    public Location append(long key, byte[] payload) {
        long size = align(HEADER_BYTES + (long) payload.length);
        long offset = tail.getAndAdd(size);
        if (offset + size > capacity) {
            throw new IllegalStateException("log on " + bdev.name() + " is full: a record of " + size + " bytes at " + offset
                    + " does not fit in " + capacity);
        }
        MemorySegment buf = bdev.allocateBuffer(size, BUFFER_ALIGN);
        try {
            buf.fill((byte) 0);
            MemorySegment.copy(payload, 0, buf, ValueLayout.JAVA_BYTE, HEADER_BYTES, payload.length);
            writeHeader(buf, key, payload.length, crc(buf, HEADER_BYTES, payload.length));
            io.write(buf, offset);
        } finally {
            bdev.freeBuffer(buf);
        }
        Location at = new Location(offset, payload.length);
        index.put(key, at);
        return at;
    }

    /** @return the payload last appended under {@code key}, read from the device and checked, or empty */
    public Optional<byte[]> read(long key) {
        Location at = index.get(key);
        if (at == null) {
            return Optional.empty();
        }
        long size = align(HEADER_BYTES + (long) at.length());
        MemorySegment buf = bdev.allocateBuffer(size, BUFFER_ALIGN);
        try {
            io.read(buf, at.offset());
            if (!validHeader(buf) || buf.get(LE_LONG, OFF_KEY) != key || buf.get(LE_INT, OFF_LENGTH) != at.length()
                    || buf.get(LE_INT, OFF_PAYLOAD_CRC) != crc(buf, HEADER_BYTES, at.length())) {
                throw new IllegalStateException("record " + key + " at " + at.offset() + " on " + bdev.name() + " is corrupt");
            }
            return Optional.of(buf.asSlice(HEADER_BYTES, at.length()).toArray(ValueLayout.JAVA_BYTE));
        } finally {
            bdev.freeBuffer(buf);
        }
    }

    /** Makes every record appended before this call durable; then marks the end of the log. */
    public void flush() {
        io.flush();
    }

    /** @return how many keys the index holds */
    public int size() {
        return index.size();
    }

    /** @return bytes of the log in use (the next record's offset) */
    public long tail() {
        return tail.get();
    }

    /** Scans from the start: every valid record into the index; returns where the log ends. */
    private long scan() {
        long offset = 0;
        MemorySegment block = bdev.allocateBuffer(blockSize, BUFFER_ALIGN);
        try {
            while (offset + blockSize <= capacity) {
                io.read(block, offset);
                if (!validHeader(block)) {
                    return offset;
                }
                int length = block.get(LE_INT, OFF_LENGTH);
                long size = align(HEADER_BYTES + (long) length);
                if (length < 0 || offset + size > capacity) {
                    return offset;
                }
                MemorySegment rec = size == blockSize ? block : bdev.allocateBuffer(size, BUFFER_ALIGN);
                try {
                    if (rec != block) {
                        io.read(rec, offset);
                    }
                    if (rec.get(LE_INT, OFF_PAYLOAD_CRC) != crc(rec, HEADER_BYTES, length)) {
                        return offset; // torn: the log ends before it
                    }
                    index.put(rec.get(LE_LONG, OFF_KEY), new Location(offset, length));
                } finally {
                    if (rec != block) {
                        bdev.freeBuffer(rec);
                    }
                }
                offset += size;
            }
            return offset;
        } finally {
            bdev.freeBuffer(block);
        }
    }

    /** A zeroed first block: a fresh log scans as empty whatever the bdev held. */
    private void writeEndMarker(long offset) {
        MemorySegment block = bdev.allocateBuffer(blockSize, BUFFER_ALIGN);
        try {
            block.fill((byte) 0);
            io.write(block, offset);
        } finally {
            bdev.freeBuffer(block);
        }
    }

    private static void writeHeader(MemorySegment buf, long key, int length, int payloadCrc) {
        buf.set(LE_INT, OFF_MAGIC, MAGIC);
        buf.set(LE_INT, OFF_LENGTH, length);
        buf.set(LE_LONG, OFF_KEY, key);
        buf.set(LE_INT, OFF_PAYLOAD_CRC, payloadCrc);
        buf.set(LE_INT, OFF_HEADER_CRC, crc(buf, 0, OFF_HEADER_CRC));
    }

    private static boolean validHeader(MemorySegment buf) {
        return buf.get(LE_INT, OFF_MAGIC) == MAGIC && buf.get(LE_INT, OFF_HEADER_CRC) == crc(buf, 0, OFF_HEADER_CRC);
    }

    private static int crc(MemorySegment buf, long offset, long length) {
        CRC32C c = new CRC32C();
        c.update(buf.asSlice(offset, length).asByteBuffer());
        return (int) c.getValue();
    }

    private long align(long bytes) {
        return (bytes + blockSize - 1) / blockSize * blockSize;
    }
}
