package io.jvirtio.backend.fault;

/**
 * An error the {@link FaultInjector} makes a request fail with. Device models map it to their own
 * way of failing: virtio-blk answers {@code VIRTIO_BLK_S_IOERR} whatever the error; virtio-scsi
 * answers CHECK CONDITION with the sense given here, or MEDIUM ERROR / UNRECOVERED READ ERROR when
 * none is given.
 *
 * @param description what the error stands for, for logs
 * @param senseKey    SCSI sense key, or -1 when the model picks its own
 * @param asc         SCSI additional sense code, or -1
 * @param ascq        SCSI additional sense code qualifier, or -1
 */
public record InjectedError(String description, int senseKey, int asc, int ascq) {
    /** @throws IllegalArgumentException when a sense field is out of range */
    public InjectedError {
        if (senseKey < -1 || senseKey > 0xf || asc < -1 || asc > 0xff || ascq < -1 || ascq > 0xff) {
            throw new IllegalArgumentException("sense " + senseKey + "/" + asc + "/" + ascq + " out of range (key 0..15, asc/ascq 0..255)");
        }
    }

    /** @return a plain I/O error, the model chooses how to say it */
    public static InjectedError ioError() {
        return new InjectedError("injected I/O error", -1, -1, -1);
    }

    /**
     * @return an error carrying SCSI sense data (virtio-blk still answers VIRTIO_BLK_S_IOERR)
     */
    public static InjectedError sense(int senseKey, int asc, int ascq) {
        return new InjectedError(String.format("injected sense %x/%02x/%02x", senseKey, asc, ascq), senseKey, asc, ascq);
    }

    /** @return whether sense data was given */
    public boolean hasSense() {
        return senseKey >= 0;
    }
}
