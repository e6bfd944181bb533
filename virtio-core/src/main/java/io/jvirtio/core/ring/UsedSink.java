package io.jvirtio.core.ring;

import io.jvirtio.spec.VirtioException;

/**
 * Receives completions from {@link Virtqueue#poll(int, UsedSink)} and failures from
 * {@link Virtqueue#failAll(VirtioException, UsedSink)}. The queue's bookkeeping for a request is
 * done before its callback runs, so a callback may start and flush new requests on the same queue.
 */
public interface UsedSink {
    /**
     * A request completed.
     *
     * @param cookie the cookie given to {@link Virtqueue#reqStart(Object, int)}
     * @param len    bytes the device says it wrote into the request's device-writable buffers, already
     *               checked to be no more than the writable bytes posted
     */
    void onUsed(Object cookie, int len);

    /**
     * A request will never complete: the queue broke (the device violated the ring's rules, see
     * {@link RingViolationException}) or the transport failed it.
     *
     * @param cookie the cookie given to {@link Virtqueue#reqStart(Object, int)}
     * @param error  why
     */
    void onError(Object cookie, VirtioException error);
}
