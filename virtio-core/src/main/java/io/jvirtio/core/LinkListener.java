package io.jvirtio.core;

/**
 * What a storage engine hears of a device's link to its target (SPDK's NVMe bdev logs the same
 * three moments). Called from jvirtio's own threads (the hang-up watcher, the reconnector): keep
 * it short and do not call back into the device's I/O from it.
 */
public interface LinkListener {
    /** The target went away; with a reconnect policy I/O now waits, without one it fails. */
    default void disconnected(String device, String reason) {
    }

    /** The target is back and I/O resumed (what it had taken is resubmitted). */
    default void reconnected(String device, long stallNanos) {
    }

    /** No reconnect within ctrlr_loss_timeout_sec, or the target came back different: the device is given up. */
    default void givenUp(String device, String reason) {
    }
}
