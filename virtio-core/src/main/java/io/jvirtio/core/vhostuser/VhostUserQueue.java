package io.jvirtio.core.vhostuser;

import io.jvirtio.core.QueueSetup;
import io.jvirtio.sys.LinuxConstants;
import io.jvirtio.sys.Native;

/**
 * One virtqueue as the front-end knows it: its addresses, the call eventfd the back-end signals
 * and the kick eventfd it waits on (both owned here), and whether the back-end runs it.
 */
final class VhostUserQueue {
    /** Flags of both eventfds, as SPDK's virtio_user: non-blocking, not inherited by children. */
    static final int EVENTFD_FLAGS = LinuxConstants.EFD_NONBLOCK | LinuxConstants.EFD_CLOEXEC;

    final QueueSetup setup;
    final int callFd;
    final int kickFd;
    boolean started;

    private VhostUserQueue(QueueSetup setup, int callFd, int kickFd) {
        this.setup = setup;
        this.callFd = callFd;
        this.kickFd = kickFd;
    }

    /** Creates the queue's two eventfds. */
    static VhostUserQueue create(QueueSetup setup) {
        int call = Native.eventfd(0, EVENTFD_FLAGS);
        try {
            return new VhostUserQueue(setup, call, Native.eventfd(0, EVENTFD_FLAGS));
        } catch (RuntimeException e) {
            Native.closeQuietly(call);
            throw e;
        }
    }

    int index() {
        return setup.index();
    }

    /** Closes both eventfds. */
    /** Closes the call eventfd; the kick eventfd outlives the queue (see {@code VhostUserQueues}). */
    void closeCallFd() {
        Native.closeQuietly(callFd);
    }

    @Override
    public String toString() {
        return "queue " + setup.index() + "[size=" + setup.size() + ", call fd " + callFd + ", kick fd " + kickFd
                + (started ? ", started" : "") + "]";
    }
}
