package io.jvirtio.bdev;

import io.jvirtio.spec.VirtioException;

/**
 * Completion of one I/O, called on the thread that polls the {@link IoChannel}. Implementations
 * are typically long-lived objects reused for every I/O (no lambda capture per I/O).
 */
@FunctionalInterface
public interface IoCallback {
    /**
     * @param context the context object given at submission
     * @param error   null on success; otherwise what failed, naming the device, the request and the value
     */
    void onComplete(Object context, VirtioException error);
}
