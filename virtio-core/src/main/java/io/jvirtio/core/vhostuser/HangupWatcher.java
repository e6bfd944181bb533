package io.jvirtio.core.vhostuser;

import io.jvirtio.sys.LinuxConstants;
import io.jvirtio.sys.Native;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.util.function.Consumer;

/**
 * Notices at once that a vhost-user back-end went away. Between setup calls nothing is read from
 * the control socket, and a kick into a dead back-end's eventfd fails silently, so without this a
 * killed target would only show as I/O that never completes.
 *
 * <p>A daemon thread blocks in {@code poll(2)} on its own duplicate of the socket's fd, asking for
 * {@code POLLRDHUP} only: it never consumes a byte, so it cannot steal a reply from a setup call
 * running meanwhile. POLLRDHUP (peer closed), POLLHUP and POLLERR (connection reset) all mean the
 * back-end is gone; the callback is told once, with the reason, from the watcher's thread.
 *
 * <p>The duplicate keeps the socket open: {@link #stop()} is called after the connection shut the
 * socket down (so the peer sees EOF at once and this poll wakes), and the watcher then closes its
 * duplicate and ends.
 */
final class HangupWatcher implements Runnable {
    private static final Logger LOG = LoggerFactory.getLogger(HangupWatcher.class);

    /** How long one poll waits before looking at the stop flag again: bounds how long a stopped watcher lingers. */
    private static final int POLL_SLICE_MILLIS = 100;
    private static final int HANGUP_EVENTS = LinuxConstants.POLLRDHUP | LinuxConstants.POLLHUP | LinuxConstants.POLLERR
            | LinuxConstants.POLLNVAL;

    private final Path path;
    private final int fd;
    private final Consumer<String> onHangup;
    private final Thread thread;
    private volatile boolean stopped;

    private HangupWatcher(Path path, int fd, Consumer<String> onHangup) {
        this.path = path;
        this.fd = fd;
        this.onHangup = onHangup;
        this.thread = Thread.ofPlatform().daemon().name("jvirtio-hangup-" + path.getFileName()).unstarted(this);
    }

    /**
     * Starts watching {@code socketFd} (duplicated here; the caller keeps its own).
     *
     * @param onHangup told once, with "vhost-user back-end on PATH disconnected ...", when the peer goes
     */
    static HangupWatcher start(Path path, int socketFd, Consumer<String> onHangup) {
        HangupWatcher w = new HangupWatcher(path, Native.dup(socketFd), onHangup);
        w.thread.start();
        return w;
    }

    /** Ends the watch without telling the callback (the front-end closes the connection itself). */
    void stop() {
        stopped = true;
    }

    @Override
    public void run() {
        try {
            while (!stopped) {
                int revents = Native.poll(fd, LinuxConstants.POLLRDHUP, POLL_SLICE_MILLIS);
                if ((revents & HANGUP_EVENTS) != 0 && !stopped) {
                    stopped = true;
                    String why = (revents & LinuxConstants.POLLERR) != 0 ? " (connection reset)" : "";
                    String reason = "vhost-user back-end on " + path + " disconnected" + why;
                    LOG.warn("{}", reason);
                    onHangup.accept(reason);
                }
            }
        } catch (RuntimeException e) {
            LOG.error("vhost-user {}: hang-up watcher failed; a disconnect will be seen only by the next setup call", path, e);
        } finally {
            Native.closeQuietly(fd);
        }
    }

    /** Waits for the watcher's thread to end (tests). */
    void join() throws InterruptedException {
        thread.join();
    }
}
