package io.jvirtio.core;

/**
 * What a transport tells the device core of its peer outside any call: a vhost-user back-end that
 * closed its socket or was killed. Called from the transport's own thread, once per loss; the
 * listener must not block it (it records the loss; the I/O threads act on it when they poll).
 */
@FunctionalInterface
public interface TransportListener {
    /**
     * The peer is gone: nothing will complete on the rings until a reconnect, if any.
     *
     * @param reason what happened, naming the transport's address, e.g.
     *               "vhost-user back-end on /run/vhost.sock disconnected"
     */
    void transportLost(String reason);
}
