package io.jvirtio.bdev;

import io.jvirtio.spec.VirtioException;
import io.jvirtio.spec.vhostuser.VhostUserException;

import java.util.Objects;

/**
 * An I/O was refused or failed. The {@link #reason()} says which kind of failure it is, so that a
 * caller (a storage engine, a retry or reconnect policy) can act on it without parsing the message;
 * the message names the bdev, the request and the offending value.
 */
public class BdevIoException extends VirtioException {
    private static final long serialVersionUID = 1L;

    /** What kind of failure an I/O met. */
    public enum Reason {
        /** The caller's arguments are wrong: offset, length, iovecs, a buffer outside device memory. Retrying cannot help. */
        INVALID_ARGUMENT,
        /** The bdev does not offer this I/O type (a feature the device did not offer). */
        UNSUPPORTED,
        /** A write, unmap or write-zeroes to a read-only or write-protected bdev. */
        READ_ONLY,
        /** The channel, the bdev or its device was closed, or the LUN was hot-removed. */
        CLOSED,
        /** The request queue is broken: the device violated the ring protocol. */
        QUEUE_BROKEN,
        /** The device completed the request with an error status (virtio-blk status, SCSI response/status/sense). */
        DEVICE_STATUS,
        /** The transport to the device is gone (the vhost-user back-end disconnected, the device stopped answering). */
        TRANSPORT_LOST,
        /** The device did not complete the request in the time allowed. */
        TIMED_OUT,
        /** Nothing to run the I/O on right now: every request queue is taken by other threads. */
        RESOURCES_EXHAUSTED
    }

    private final Reason reason;

    /**
     * @param reason  what kind of failure this is
     * @param message names the bdev, the request and the offending value
     */
    public BdevIoException(Reason reason, String message) {
        super(message);
        this.reason = Objects.requireNonNull(reason, "reason");
    }

    /**
     * @param reason  what kind of failure this is
     * @param message names the bdev, the request and the offending value
     * @param cause   the underlying error
     */
    public BdevIoException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = Objects.requireNonNull(reason, "reason");
    }

    /**
     * @param cause    an error that ended an I/O
     * @param fallback the reason when {@code cause} carries none
     * @return the reason {@code cause} carries when it is a {@code BdevIoException};
     *         {@link Reason#TRANSPORT_LOST} when it is a vhost-user failure a reconnect could help
     *         ({@link VhostUserException#shouldReconnect()}); else {@code fallback}
     */
    public static Reason reasonOf(Throwable cause, Reason fallback) {
        if (cause instanceof BdevIoException b) {
            return b.reason;
        }
        return cause instanceof VhostUserException v && v.shouldReconnect() ? Reason.TRANSPORT_LOST : fallback;
    }

    /** @return what kind of failure this is */
    public Reason reason() {
        return reason;
    }
}
