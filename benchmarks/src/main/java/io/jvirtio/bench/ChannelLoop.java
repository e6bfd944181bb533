package io.jvirtio.bench;

import io.jvirtio.bdev.IoCallback;
import io.jvirtio.bdev.IoChannel;
import io.jvirtio.spec.VirtioException;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Drives one {@link IoChannel} from the benchmark thread: submits {@code n} reads or writes of one
 * buffer each at consecutive offsets (wrapping over {@code slots} of the buffer size), then polls until
 * all have completed. The callback is this object and the context null, so nothing is allocated here;
 * what a benchmark thread allocates is the channel's (and, inline, the device's).
 */
final class ChannelLoop implements IoCallback {
    /** Polls without a completion before the device is declared stuck (the inline device completes at the kick). */
    private static final int MAX_IDLE_POLLS = 1_000_000;

    private final IoChannel channel;
    private final MemorySegment[] buffers;
    private final long ioBytes;
    private final long slots;
    private long next;
    private long completed;
    private long errors;
    private VirtioException firstError;

    /**
     * @param buffers one per I/O in flight, all of the I/O size, in device-visible memory
     * @param slots   offsets used: {@code 0, ioBytes, ... (slots - 1) * ioBytes}
     */
    ChannelLoop(IoChannel channel, MemorySegment[] buffers, long slots) {
        this.channel = channel;
        this.buffers = buffers;
        this.ioBytes = buffers[0].byteSize();
        this.slots = slots;
    }

    @Override
    public void onComplete(Object context, VirtioException error) {
        completed++;
        if (error != null && errors++ == 0) {
            firstError = error;
        }
    }

    /** @return I/Os completed */
    long run(boolean write, int n) {
        long target = completed + n;
        for (int i = 0; i < n; i++) {
            submit(write, buffers[i], (next++ % slots) * ioBytes);
        }
        return await(target);
    }

    /** Writes a pattern to every slot, reads each back and compares byte for byte; then zero errors so far. */
    void verifyRoundTrip() {
        if (buffers.length < 2) {
            throw new IllegalArgumentException("verifying needs two buffers");
        }
        MemorySegment out = buffers[0];
        MemorySegment in = buffers[1];
        for (long slot = 0; slot < slots; slot++) {
            for (long i = 0; i + Long.BYTES <= ioBytes; i += Long.BYTES) {
                out.set(ValueLayout.JAVA_LONG_UNALIGNED, i, slot * 0x9E3779B97F4A7C15L + i);
            }
            in.fill((byte) 0);
            long written = completed + 1;
            submit(true, out, slot * ioBytes);
            await(written);
            submit(false, in, slot * ioBytes);
            await(written + 1);
            checkNoErrors();
            long mismatch = out.mismatch(in);
            if (mismatch >= 0) {
                throw new IllegalStateException("slot " + slot + ": read back differs from what was written at byte " + mismatch);
            }
        }
    }

    private void submit(boolean write, MemorySegment buffer, long offset) {
        boolean accepted = write ? channel.write(buffer, offset, this, null) : channel.read(buffer, offset, this, null);
        if (!accepted) {
            throw new IllegalStateException("channel full at offset " + offset);
        }
    }

    private long await(long target) {
        int idle = 0;
        while (completed < target) {
            if (channel.poll() == 0 && ++idle > MAX_IDLE_POLLS) {
                throw new IllegalStateException("device stopped completing: " + (target - completed) + " I/Os outstanding");
            }
        }
        return completed;
    }

    /** @throws IllegalStateException naming the first error when any I/O failed */
    void checkNoErrors() {
        if (errors != 0) {
            throw new IllegalStateException(errors + " I/O(s) failed, the first: " + firstError, firstError);
        }
    }
}
