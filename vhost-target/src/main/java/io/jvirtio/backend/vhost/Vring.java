package io.jvirtio.backend.vhost;

import io.jvirtio.sys.Native;
import io.jvirtio.spec.vhostuser.VhostUserVringAddr;
import io.jvirtio.backend.ring.DeviceQueue;
import io.jvirtio.backend.ring.QueueWorker;

/**
 * What one connection knows about one ring: the configuration messages received so far, the
 * eventfds it owns (dups of the front-end's), and the running queue once SET_VRING_KICK started it.
 * Touched by the connection's thread only, except {@link #errFd} (read under the session's lock by a
 * queue thread reporting a driver error).
 */
final class Vring {
    final int index;
    /** SET_VRING_NUM, 0 until received. */
    int size;
    /** SET_VRING_BASE, or where the ring stopped. */
    int base;
    /** SET_VRING_ADDR, null until received. */
    VhostUserVringAddr addr;
    int kickFd = -1;
    /** Whether SET_VRING_KICK had the NOFD flag: the queue thread polls. */
    boolean kickPolled;
    int callFd = -1;
    int errFd = -1;
    /** SET_VRING_ENABLE. */
    boolean enabled;
    DeviceQueue queue;
    QueueWorker worker;

    Vring(int index) {
        this.index = index;
    }

    boolean started() {
        return worker != null;
    }

    /** Forgets the configuration (RESET_DEVICE) and closes the fds; the ring must be stopped. */
    void clear() {
        size = 0;
        base = 0;
        addr = null;
        enabled = false;
        kickPolled = false;
        kickFd = close(kickFd);
        callFd = close(callFd);
        errFd = close(errFd);
    }

    static int close(int fd) {
        Native.closeQuietly(fd);
        return -1;
    }
}
