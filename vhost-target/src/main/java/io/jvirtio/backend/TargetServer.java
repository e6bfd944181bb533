package io.jvirtio.backend;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * Several independent devices in one process (SPDK's vhost app, qemu-storage-daemon with several
 * exports): each {@link VhostUserTarget} keeps its own socket and threads, so one misbehaving
 * front-end never disturbs another device. Closing the server closes every device.
 */
public final class TargetServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(TargetServer.class);

    private final List<VhostUserTarget> targets = new ArrayList<>();
    private final CountDownLatch closedLatch = new CountDownLatch(1);
    private boolean closed;

    /** An empty server: {@link #start} adds devices. */
    public TargetServer() {
    }

    /** Starts a device from {@code builder} and adds it; on failure the devices already started keep running. */
    public synchronized VhostUserTarget start(VhostUserTarget.Builder builder) {
        if (closed) {
            throw new IllegalStateException("target server is closed");
        }
        VhostUserTarget t = builder.start();
        targets.add(t);
        return t;
    }

    /** Adds an already started device, to be closed with the server. */
    public synchronized void add(VhostUserTarget target) {
        if (closed) {
            target.close();
            throw new IllegalStateException("target server is closed");
        }
        targets.add(target);
    }

    /** @return the devices, in start order */
    public synchronized List<VhostUserTarget> targets() {
        return List.copyOf(targets);
    }

    /** @return the device named {@code name}, or null */
    public synchronized VhostUserTarget find(String name) {
        for (VhostUserTarget t : targets) {
            if (t.name().equals(name)) {
                return t;
            }
        }
        return null;
    }

    /** Blocks until {@link #close} is called (from a shutdown hook, another thread). */
    public void awaitClose() throws InterruptedException {
        closedLatch.await();
    }

    /** Closes every device, the last started first. Idempotent. */
    @Override
    public void close() {
        List<VhostUserTarget> list;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            list = new ArrayList<>(targets);
        }
        for (int i = list.size() - 1; i >= 0; i--) {
            try {
                list.get(i).close();
            } catch (RuntimeException e) {
                LOG.error("closing device {}: {}", list.get(i).name(), e.toString());
            }
        }
        closedLatch.countDown();
    }
}
