package io.jvirtio.core.ring;

/**
 * The transport's kick: tells the device that a virtqueue has new available buffers (vhost-user:
 * write the kick eventfd; PCI: write the queue's notify register). {@link Virtqueue#reqFlush()}
 * calls it only when the device asked to be notified.
 */
@FunctionalInterface
public interface Notifier {
    /**
     * Notifies the device. Called on the queue's owning thread, on the hot path: must not block.
     *
     * @param vq the queue that has new buffers
     */
    void notifyQueue(Virtqueue vq);
}
