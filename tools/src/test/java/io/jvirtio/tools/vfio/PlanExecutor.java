package io.jvirtio.tools.vfio;

import io.jvirtio.bdev.Bdev;
import io.jvirtio.bdev.IoChannel;
import io.jvirtio.bdev.SyncIo;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs {@link ImagePlan} operations on a bdev through one channel (blocking, {@link SyncIo}) and
 * checks each one by reading it back: a write must read back its pattern (a vectored write is read
 * back vectored too, split differently), a discard or write-zeroes must read back zeros. Guest
 * side. Not thread-safe: one per thread, like its channel.
 */
final class PlanExecutor {
    /** Where the I/O buffers come from: the bdev's memory, or a source that checks where they lie. */
    interface Buffers {
        /** @return a buffer of {@code size} bytes aligned to {@code alignment}, device-visible */
        MemorySegment allocate(long size, long alignment);

        /** Returns a buffer from {@link #allocate}. */
        void free(MemorySegment buffer);

        /** @return {@code bdev}'s own {@link Bdev#allocateBuffer} and {@link Bdev#freeBuffer} */
        static Buffers of(Bdev bdev) {
            return new Buffers() {
                @Override
                public MemorySegment allocate(long size, long alignment) {
                    return bdev.allocateBuffer(size, alignment);
                }

                @Override
                public void free(MemorySegment buffer) {
                    bdev.freeBuffer(buffer);
                }
            };
        }
    }

    private final Bdev bdev;
    private final IoChannel channel;
    private final SyncIo io;
    private final Buffers buffers;

    /** @param channel a channel of {@code bdev}, owned by the caller */
    PlanExecutor(Bdev bdev, IoChannel channel) {
        this(bdev, channel, Buffers.of(bdev));
    }

    /**
     * @param channel a channel of {@code bdev}, owned by the caller
     * @param buffers where every I/O buffer comes from
     */
    PlanExecutor(Bdev bdev, IoChannel channel, Buffers buffers) {
        this.bdev = bdev;
        this.channel = channel;
        this.io = new SyncIo(channel);
        this.buffers = buffers;
    }

    /** @return the blocking I/O on this executor's channel (flush, ...) */
    SyncIo io() {
        return io;
    }

    /** @return the channel */
    IoChannel channel() {
        return channel;
    }

    /** Runs and checks every operation, in order. */
    void run(List<ImagePlan.Op> ops) {
        for (ImagePlan.Op op : ops) {
            run(op);
        }
    }

    /** Runs one operation and reads it back. */
    void run(ImagePlan.Op op) {
        switch (op) {
            case ImagePlan.Write w -> write(w);
            case ImagePlan.Discard d -> io.unmap(d.offset(), d.length());
            case ImagePlan.WriteZeroes z -> io.writeZeroes(z.offset(), z.length());
        }
        verify(op);
    }

    /** Reads {@code op}'s range back and compares it with what it must hold. */
    void verify(ImagePlan.Op op) {
        byte[] expected = op instanceof ImagePlan.Write w ? w.bytes() : new byte[Math.toIntExact(op.length())];
        byte[] actual = op instanceof ImagePlan.Write w && w.iovLengths().size() > 1 ? readVectored(w) : read(op.offset(), expected.length);
        int at = java.util.Arrays.mismatch(expected, actual);
        if (at >= 0) {
            throw new GuestCheckException(bdev.name() + ": " + describe(op) + " read back wrong: first difference at byte " + at
                    + " (disk offset " + (op.offset() + at) + "): 0x" + Integer.toHexString(actual[at] & 0xff) + ", expected 0x"
                    + Integer.toHexString(expected[at] & 0xff));
        }
    }

    /**
     * Reads {@code op}'s range back and compares it with what the whole {@code plan} leaves there
     * (later operations of the plan may have overwritten part of it).
     */
    void verifyFinal(ImagePlan plan, ImagePlan.Op op) {
        int n = Math.toIntExact(op.length());
        byte[] expected = plan.expected(op.offset(), n);
        byte[] actual = read(op.offset(), n);
        int at = java.util.Arrays.mismatch(expected, actual);
        if (at >= 0) {
            throw new GuestCheckException(bdev.name() + ": the range of " + describe(op) + " read back wrong: first difference at byte "
                    + at + " (disk offset " + (op.offset() + at) + "): 0x" + Integer.toHexString(actual[at] & 0xff) + ", expected 0x"
                    + Integer.toHexString(expected[at] & 0xff) + " (what " + plan.image() + "'s plan leaves there)");
        }
    }

    private void write(ImagePlan.Write w) {
        byte[] data = w.bytes();
        List<MemorySegment> iovs = new ArrayList<>();
        try {
            int pos = 0;
            for (int len : w.iovLengths()) {
                MemorySegment seg = buffers.allocate(len, 4096);
                iovs.add(seg);
                MemorySegment.copy(data, pos, seg, ValueLayout.JAVA_BYTE, 0, len);
                pos += len;
            }
            if (iovs.size() == 1) {
                io.write(iovs.getFirst(), w.offset());
            } else {
                io.writev(iovs.toArray(MemorySegment[]::new), iovs.size(), w.offset());
            }
        } finally {
            iovs.forEach(buffers::free);
        }
    }

    /** @return {@code n} bytes at {@code offset}, read with one plain read */
    byte[] read(long offset, int n) {
        MemorySegment seg = buffers.allocate(n, 4096);
        try {
            io.read(seg, offset);
            return seg.toArray(ValueLayout.JAVA_BYTE);
        } finally {
            buffers.free(seg);
        }
    }

    /** Reads a vectored write back with a readv whose iovecs are the write's in reverse order. */
    private byte[] readVectored(ImagePlan.Write w) {
        List<Integer> lengths = new ArrayList<>(w.iovLengths()).reversed();
        List<MemorySegment> iovs = new ArrayList<>();
        try {
            for (int len : lengths) {
                iovs.add(buffers.allocate(len, 4096));
            }
            io.readv(iovs.toArray(MemorySegment[]::new), iovs.size(), w.offset());
            byte[] out = new byte[Math.toIntExact(w.length())];
            int pos = 0;
            for (MemorySegment seg : iovs) {
                MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, 0, out, pos, (int) seg.byteSize());
                pos += (int) seg.byteSize();
            }
            return out;
        } finally {
            iovs.forEach(buffers::free);
        }
    }

    static String describe(ImagePlan.Op op) {
        String kind = switch (op) {
            case ImagePlan.Write w -> w.iovLengths().size() > 1 ? "writev " + w.iovLengths() : "write";
            case ImagePlan.Discard d -> "discard";
            case ImagePlan.WriteZeroes z -> "write-zeroes";
        };
        return kind + " of " + op.length() + " bytes at " + op.offset();
    }
}
