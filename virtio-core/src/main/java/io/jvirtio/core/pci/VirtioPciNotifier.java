package io.jvirtio.core.pci;

import io.jvirtio.core.DeviceException;

import java.util.Arrays;

/**
 * Queue notifications through the notify structure (virtio 1.2 4.1.4.4): queue {@code q} is
 * notified by writing its index, 16 bits, at {@code cap.offset + queue_notify_off(q) *
 * notify_off_multiplier} in the notify BAR. The offsets are computed once per queue at setup, so
 * {@link #notify} is one array read and one MMIO store: no allocation, no syscall (one
 * {@code pwrite} when the BAR cannot be mapped).
 *
 * <p>Without VIRTIO_F_NOTIFICATION_DATA (never negotiated) the value written is the queue index.
 */
final class VirtioPciNotifier {
    private static final long NOT_SET_UP = -1;

    private final PciBar bar;
    private final long capOffset;
    private final long capLength;
    private final long multiplier;
    private final String who;
    /** per queue: the BAR offset to write to, or NOT_SET_UP; written under the transport's lock before DRIVER_OK */
    private final long[] offsets;

    VirtioPciNotifier(VirtioPciCapabilities caps, int numQueues, String who) {
        this.bar = caps.notification().bar();
        this.capOffset = caps.notification().offset();
        this.capLength = caps.notification().length();
        this.multiplier = caps.notifyOffMultiplier();
        this.who = who;
        this.offsets = new long[numQueues];
        Arrays.fill(offsets, NOT_SET_UP);
    }

    /**
     * Checks and records where queue {@code index} is notified.
     *
     * @return the BAR offset
     * @throws DeviceException when the address lies outside the notify structure (the device
     *         guarantees {@code cap.length >= queue_notify_off * multiplier + 2})
     */
    long setUp(int index, int notifyOff) {
        long within = (long) notifyOff * multiplier;
        if (within + 2 > capLength) {
            throw new DeviceException(who + ": queue " + index + " queue_notify_off " + notifyOff + " * notify_off_multiplier " + multiplier
                    + " = 0x" + Long.toHexString(within) + " lies outside the notify structure (length 0x" + Long.toHexString(capLength) + ")");
        }
        offsets[index] = capOffset + within;
        return offsets[index];
    }

    /** @return the BAR offset queue {@code index} is notified at, or -1 when it is not set up */
    long offset(int index) {
        return offsets[index];
    }

    /** Forgets queue {@code index}: notifying it is refused from now on. */
    void forget(int index) {
        offsets[index] = NOT_SET_UP;
    }

    /** Forgets every queue (reset, destruct): nothing touches the BAR after the function closes. */
    void forgetAll() {
        Arrays.fill(offsets, NOT_SET_UP);
    }

    /** Notifies queue {@code index}: one 16-bit store of the index. Hot path. */
    void notify(int index) {
        long off = offsets[index];
        if (off < 0) {
            throw notSetUp(index);
        }
        bar.write16(off, index);
    }

    private IllegalStateException notSetUp(int index) {
        return new IllegalStateException(who + ": queue " + index + " is not set up; nothing to notify");
    }
}
