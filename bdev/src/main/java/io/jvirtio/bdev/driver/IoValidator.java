package io.jvirtio.bdev.driver;

import io.jvirtio.bdev.BdevIoException;
import io.jvirtio.bdev.BdevIoException.Reason;
import io.jvirtio.bdev.IoType;

import java.lang.foreign.MemorySegment;

/**
 * The argument checks every driver runs before anything reaches the device, with one set of rules
 * and messages; a device's own rules come in as {@link BdevLimits}. Each check throws a
 * {@link BdevIoException} with the reason that fits, naming the bdev, the operation (as SPDK spells
 * it: {@code read}, {@code write_zeroes}, ...) and the offending value. A driver calls the checks
 * in the order it wants them reported. Allocates nothing when the arguments are good.
 */
public final class IoValidator {
    private final BdevLimits limits;
    private final String name;
    /** why each I/O type is unsupported, by ordinal; null when supported */
    private final String[] unsupported = new String[IoType.values().length];

    /** @param limits the bdev's rules; one validator per bdev serves all its channels */
    public IoValidator(BdevLimits limits) {
        this.limits = limits;
        this.name = limits.name();
        limits.unsupported().forEach((type, why) -> unsupported[type.ordinal()] = why);
    }

    /** @return the limits the checks apply */
    public BdevLimits limits() {
        return limits;
    }

    /** Refuses I/O on a channel that was closed. */
    public void checkChannelOpen(String op, boolean channelClosed) {
        if (channelClosed) {
            throw new BdevIoException(Reason.CLOSED, "bdev " + name + ": " + op + " on a closed channel");
        }
    }

    /**
     * Refuses I/O on a queue the device broke.
     *
     * @param brokenReason what broke the queue, null when it is healthy
     */
    public void checkQueue(String op, String queueName, String brokenReason) {
        if (brokenReason != null) {
            throw new BdevIoException(Reason.QUEUE_BROKEN, "bdev " + name + ": " + op + " refused, queue " + queueName
                    + " is broken: " + brokenReason);
        }
    }

    /**
     * Refuses I/O while the transport has lost its peer.
     *
     * @param lostReason why it was lost ("vhost-user back-end on PATH disconnected"), null while it is there
     */
    public void checkTransport(String op, String lostReason) {
        if (lostReason != null) {
            throw new BdevIoException(Reason.TRANSPORT_LOST, "bdev " + name + ": " + op + " refused: " + lostReason);
        }
    }

    /** Refuses I/O once the device (or controller) was closed. */
    public void checkDeviceOpen(String op, boolean deviceClosed) {
        if (deviceClosed) {
            throw new BdevIoException(Reason.CLOSED, "bdev " + name + ": " + op + " refused, " + limits.deviceDescription() + " is closed");
        }
    }

    /** Refuses an I/O type the device does not offer. */
    public void checkSupported(IoType op) {
        String why = unsupported[op.ordinal()];
        if (why != null) {
            throw new BdevIoException(Reason.UNSUPPORTED, "bdev " + name + ": " + why);
        }
    }

    /** Refuses a write, unmap or write-zeroes to a read-only bdev. */
    public void checkWritable(String op, long offset, boolean readOnly) {
        if (readOnly) {
            throw new BdevIoException(Reason.READ_ONLY, "bdev " + name + " is " + limits.readOnlyReason() + ": " + op + " at offset "
                    + offset + " refused");
        }
    }

    /** @return the bytes {@code iovs[0..iovcnt)} carry, each checked by {@link #checkIov} */
    public long checkIovs(String op, MemorySegment[] iovs, int iovcnt) {
        if (iovs == null || iovcnt < 1 || iovcnt > iovs.length) {
            throw new BdevIoException(Reason.INVALID_ARGUMENT, "bdev " + name + ": " + op + " with iovcnt " + iovcnt
                    + " of an array of " + (iovs == null ? 0 : iovs.length));
        }
        long total = 0;
        for (int i = 0; i < iovcnt; i++) {
            total += checkIov(op, iovs[i], i);
        }
        return total;
    }

    /** @return the bytes of a data iovec: non-empty, a multiple of the iovec granularity, in device memory */
    public long checkIov(String op, MemorySegment iov, int index) {
        long n = iov.byteSize();
        int g = limits.iovGranularity();
        if (n == 0 || n % g != 0) {
            throw new BdevIoException(Reason.INVALID_ARGUMENT, "bdev " + name + ": " + op + " iov[" + index + "] is "
                    + (g == 1 ? "empty" : n + " bytes, not a non-zero multiple of " + g));
        }
        checkInMemory(op, iov, index);
        return n;
    }

    /** Checks a buffer the driver fills itself (an identify or inquiry page): non-empty, in device memory, any length. */
    public void checkBuffer(String op, MemorySegment buffer) {
        if (buffer.byteSize() == 0) {
            throw new BdevIoException(Reason.INVALID_ARGUMENT, "bdev " + name + ": " + op + " iov[0] is empty");
        }
        checkInMemory(op, buffer, 0);
    }

    private void checkInMemory(String op, MemorySegment iov, int index) {
        if (!limits.memory().contains(iov)) {
            throw new BdevIoException(Reason.INVALID_ARGUMENT, "bdev " + name + ": " + op + " iov[" + index + "] at 0x"
                    + Long.toHexString(iov.address()) + " (" + iov.byteSize() + " bytes) is not in the " + limits.memoryOwner()
                    + "'s memory domain; allocate I/O buffers with Bdev.allocateBuffer");
        }
    }

    /** Checks that {@code [offset, offset+length)} is non-empty, block-aligned and inside the capacity. */
    public void checkRange(String op, long offset, long length, long capacityBytes) {
        int bs = limits.blockSize();
        if (offset < 0 || length <= 0 || offset % bs != 0 || length % bs != 0) {
            throw new BdevIoException(Reason.INVALID_ARGUMENT, "bdev " + name + ": " + op + " offset " + offset + " length " + length
                    + " must be non-negative, non-empty multiples of the block size " + bs);
        }
        if (offset > capacityBytes - length) {
            throw new BdevIoException(Reason.INVALID_ARGUMENT, "bdev " + name + ": " + op + " of " + length + " bytes at offset " + offset
                    + " ends past the capacity of " + capacityBytes + " bytes");
        }
    }

    /**
     * @param maxSegments the data segments one request may carry
     * @param segMax      the device's seg_max as it reported it
     * @return the error for iovecs so fragmented that one request's segments cannot cover a block
     *         ({@link SgCursor#plan} returned 0)
     */
    public BdevIoException tooFragmented(String op, long offset, int maxSegments, int segMax) {
        return new BdevIoException(Reason.INVALID_ARGUMENT, "bdev " + name + ": " + op + " at offset " + offset + ": "
                + maxSegments + " data segments (seg_max " + segMax + ") of these iovecs do not cover one "
                + limits.blockSize() + "-byte block; use fewer, larger iovecs");
    }
}
