package io.jvirtio.backend.ring;

import io.jvirtio.sys.LinuxConstants;
import io.jvirtio.sys.Native;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * One queue thread's wait on its kick eventfd: {@code poll(2)} on a {@code struct pollfd} made once,
 * passed as a raw address, so that a wait allocates nothing ({@link Native#pollIn} slices its
 * scratch per call, a few bytes per request in KICK mode). Not a critical downcall: it blocks.
 */
final class KickWait {
    /** {@code struct pollfd { int fd; short events; short revents; }} */
    private static final long POLLFD_SIZE = 8;
    private static final long POLLFD_EVENTS = 4;
    private static final long POLLFD_REVENTS = 6;
    private static final MethodHandle POLL_RAW = Linker.nativeLinker().downcallHandle(
            Linker.nativeLinker().defaultLookup().find("poll").orElseThrow(), FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT));

    private final int fd;
    private final MemorySegment pollfd;

    /** @param fd the kick eventfd (owned by the caller) */
    KickWait(int fd) {
        this.fd = fd;
        this.pollfd = Arena.ofAuto().allocate(POLLFD_SIZE, 8);
    }

    /**
     * Waits up to {@code timeoutMillis} for a kick and consumes it.
     *
     * @return whether a kick came (false on timeout or a signal)
     */
    boolean await(int timeoutMillis) {
        pollfd.set(JAVA_INT, 0, fd);
        pollfd.set(JAVA_SHORT, POLLFD_EVENTS, LinuxConstants.POLLIN);
        pollfd.set(JAVA_SHORT, POLLFD_REVENTS, (short) 0);
        int rc;
        try {
            rc = (int) POLL_RAW.invokeExact(pollfd.address(), 1L, timeoutMillis);
        } catch (Throwable t) {
            throw new IllegalStateException("poll(kick fd " + fd + ")", t);
        }
        if (rc <= 0) {
            return false; // timeout, or EINTR: the caller re-checks its state and waits again
        }
        Native.eventfdRead(fd);
        return true;
    }
}
