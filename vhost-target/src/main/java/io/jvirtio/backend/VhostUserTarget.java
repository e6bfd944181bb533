package io.jvirtio.backend;

import io.jvirtio.backend.blk.BlkModelOptions;
import io.jvirtio.backend.blk.VirtioBlkModel;
import io.jvirtio.backend.device.VirtioDeviceModel;
import io.jvirtio.backend.fault.FaultInjector;
import io.jvirtio.backend.store.BlockStore;
import io.jvirtio.backend.vhost.DeviceContext;
import io.jvirtio.backend.vhost.VhostUserSession;
import io.jvirtio.spec.vhostuser.SocketInUseException;
import io.jvirtio.sys.OwnedServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * One vhost-user device served by the Java target: a {@link VirtioDeviceModel} behind a Unix
 * socket, in server mode (listens; the default, like SPDK and qemu-storage-daemon) or client mode
 * (connects to a front-end that listens, and again after each disconnect). One front-end at a time:
 * a second one connecting while a connection is active is closed unless the first ends within 2 s
 * (a front-end reconnecting at once is served); after a connection ends, for whatever reason, the
 * device serves the next.
 *
 * <pre>{@code
 * try (VhostUserTarget t = VhostUserTarget.builder()
 *         .name("blk0").socket(dir.resolve("blk0.sock"))
 *         .blk(new RamBlockStore(64 << 20, false), BlkModelOptions.builder().numQueues(2).build())
 *         .start()) {
 *     t.faults().failNextRequests(1);
 *     ... connect an initiator to t.socketPath() ...
 * }
 * }</pre>
 *
 * Each device runs on its own threads (accept, connection, one per queue); devices are independent.
 *
 * <p>In server mode the device owns its socket file only if it created it: an existing path is
 * taken over only when it is a stale socket (nobody accepts on it); a live listener or a file that
 * is not a socket is refused with a {@link SocketInUseException}. On close the file is removed only
 * while it still is the one this device bound.
 */
public final class VhostUserTarget implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(VhostUserTarget.class);

    /** {@code sizeof(sockaddr_un.sun_path)} minus the terminating NUL. */
    public static final int MAX_SOCKET_PATH_BYTES = 107;
    private static final long JOIN_MILLIS = 10_000;
    /** Abnormal connection ends remembered for {@link #errors()}. */
    private static final int MAX_ERRORS_KEPT = 1000;
    /** How long a connection arriving while another is served waits for that one to end before it is refused. */
    private static final long BUSY_GRACE_NANOS = TimeUnit.SECONDS.toNanos(2);

    private final String name;
    private final Path socketPath;
    private final boolean clientMode;
    private final VirtioDeviceModel model;
    private final TargetOptions options;
    private final FaultInjector faults;
    private final List<AutoCloseable> resources;
    private final ScheduledExecutorService scheduler;
    private final Context context = new Context();
    private final Object lock = new Object();
    private final List<String> errors = new ArrayList<>();
    private long errorCount;

    /** Server mode: the listener, which owns the socket file it created and only that. */
    private OwnedServerSocket server;
    private Thread mainThread;
    private Thread sessionThread;
    private VhostUserSession session;
    private int connections;
    private int rejected;
    private volatile boolean closed;

    private VhostUserTarget(Builder b) {
        this.name = b.name;
        this.socketPath = b.socket;
        this.clientMode = b.clientMode;
        this.model = b.model;
        this.options = b.options;
        this.faults = new FaultInjector(b.name);
        this.resources = List.copyOf(b.resources);
        ScheduledThreadPoolExecutor s = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "jvirtio-target-" + b.name + "-delay");
            t.setDaemon(true);
            return t;
        });
        s.setRemoveOnCancelPolicy(true);
        s.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
        this.scheduler = s;
    }

    /** @return a builder */
    public static Builder builder() {
        return new Builder();
    }

    // ------------------------------------------------------------------ public state

    /** @return the device name */
    public String name() {
        return name;
    }

    /** @return the Unix socket: where this device listens (server mode) or where it connects (client mode) */
    public Path socketPath() {
        return socketPath;
    }

    /** @return whether this device connects to a listening front-end */
    public boolean clientMode() {
        return clientMode;
    }

    /** @return the device model */
    public VirtioDeviceModel model() {
        return model;
    }

    /** @return the transport options */
    public TargetOptions options() {
        return options;
    }

    /** @return the fault injector of this device */
    public FaultInjector faults() {
        return faults;
    }

    /** @return whether a front-end is connected now */
    public boolean isConnected() {
        synchronized (lock) {
            return session != null;
        }
    }

    /** @return connections served so far (not counting rejected ones) */
    public int connectionCount() {
        synchronized (lock) {
            return connections;
        }
    }

    /** @return connections closed at once because another front-end was being served */
    public int rejectedCount() {
        synchronized (lock) {
            return rejected;
        }
    }

    /**
     * @return why connections ended abnormally, oldest first (protocol errors, driver errors, injected
     *         drops); the last 1000
     */
    public List<String> errors() {
        synchronized (lock) {
            return List.copyOf(errors);
        }
    }

    /** @return how many connections ended abnormally so far */
    public long errorCount() {
        synchronized (lock) {
            return errorCount;
        }
    }

    /** @return the last abnormal end, or null */
    public String lastError() {
        synchronized (lock) {
            return errors.isEmpty() ? null : errors.getLast();
        }
    }

    /**
     * Waits until at least {@code n} connections ended abnormally.
     *
     * @return whether they did within the timeout
     */
    public boolean awaitErrors(int n, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (lock) {
            while (errorCount < n) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                TimeUnit.NANOSECONDS.timedWait(lock, left);
            }
            return true;
        }
    }

    /**
     * Waits until no front-end is connected and at least {@code served} connections were served.
     *
     * @return whether that happened within the timeout
     */
    public boolean awaitIdle(int served, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (lock) {
            while (session != null || connections < served) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                TimeUnit.NANOSECONDS.timedWait(lock, left);
            }
            return true;
        }
    }

    // ------------------------------------------------------------------ start

    private VhostUserTarget start() {
        if (clientMode) {
            mainThread = Thread.ofPlatform().daemon().name("jvirtio-target-" + name + "-connect").start(this::clientLoop);
        } else {
            try {
                bind();
            } catch (IOException e) {
                // nothing stays half-started: what the builder was given is closed
                scheduler.shutdownNow();
                closeQuietly(model);
                resources.forEach(VhostUserTarget::closeQuietly);
                // a refusal already names the path and says why; other failures get the context here
                String why = e instanceof SocketInUseException ? e.getMessage() : "cannot listen on " + socketPath + ": " + e.getMessage();
                throw new UncheckedIOException("device " + name + ": " + why, e);
            }
            mainThread = Thread.ofPlatform().daemon().name("jvirtio-target-" + name + "-accept").start(this::acceptLoop);
        }
        LOG.info("{}: {} {} ({}, {} queue(s), protocol features {})", name, clientMode ? "connecting to" : "listening on", socketPath,
                model.getClass().getSimpleName(), model.numQueues(),
                io.jvirtio.spec.vhostuser.VhostUserProtocolFeature.describe(options.protocolFeatures()));
        return this;
    }

    /**
     * Binds {@link #server} on {@link #socketPath}. An existing path is replaced only when it is a
     * stale socket (see {@link OwnedServerSocket}): a second target on a live socket would otherwise
     * silently take the front-ends of the first one, and its close would later delete the first
     * one's socket.
     */
    private void bind() throws IOException {
        server = OwnedServerSocket.bind(socketPath);
        if (server.replacedStale()) {
            LOG.info("{}: replaced the stale socket {} (nobody listened on it)", name, socketPath);
        }
    }

    /**
     * Connects once to our own socket so the accept thread returns (and, seeing {@link #closed}, closes
     * that connection and ends) before the server socket is closed: junixsocket leaks the socket's fd when
     * an {@code AFUNIXServerSocket} is closed while another thread is blocked in its {@code accept()}
     * (about one fd per close, measured by the scale test over 64 targets).
     */
    private void wakeAccept() {
        Thread accept = mainThread;
        if (accept == null || !accept.isAlive() || server == null) {
            return;
        }
        try (AFUNIXSocket poke = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(socketPath))) {
            accept.join(TimeUnit.SECONDS.toMillis(2));
        } catch (IOException e) {
            LOG.debug("{}: waking the accept thread: {}", name, e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Stops listening and removes the socket file, only if the path still holds the one this device created. */
    private void closeServer() {
        if (server == null) {
            return;
        }
        switch (server.close()) {
            case REPLACED -> LOG.warn("{}: {} is no longer the socket this device created; leaving it alone", name, socketPath);
            case GONE -> LOG.debug("{}: {} is already gone", name, socketPath);
            case FAILED -> LOG.debug("{}: removing {} failed", name, socketPath);
            case REMOVED -> {
            }
        }
    }

    private void acceptLoop() {
        while (!closed) {
            AFUNIXSocket sock;
            try {
                sock = server.server().accept();
            } catch (IOException e) {
                if (!closed) {
                    LOG.error("{}: accept on {} failed: {}; the device stops listening", name, socketPath, e.getMessage());
                }
                return;
            }
            synchronized (lock) {
                // a front-end that reconnects at once may arrive while its old connection is still being
                // torn down here: give that a moment before calling the newcomer a second front-end
                long deadline = System.nanoTime() + BUSY_GRACE_NANOS;
                while (session != null && !closed && System.nanoTime() < deadline) {
                    try {
                        TimeUnit.NANOSECONDS.timedWait(lock, deadline - System.nanoTime());
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        break;
                    }
                }
                if (closed) {
                    closeQuietly(sock);
                    return;
                }
                if (session != null) {
                    rejected++;
                    LOG.warn("{}: a second front-end connected while one is served; closing the new connection", name);
                    closeQuietly(sock);
                    continue;
                }
                startSession(sock);
            }
        }
    }

    /** Caller holds {@link #lock}. */
    private void startSession(AFUNIXSocket sock) {
        VhostUserSession s;
        try {
            s = new VhostUserSession(context, sock);
        } catch (IOException | RuntimeException e) {
            LOG.error("{}: cannot set up the connection: {}", name, e.toString());
            closeQuietly(sock);
            return;
        }
        session = s;
        connections++;
        LOG.info("{}: front-end connected (connection {})", name, connections);
        sessionThread = Thread.ofPlatform().daemon().name("jvirtio-target-" + name + "-conn" + connections).start(() -> {
            try {
                s.run();
            } finally {
                synchronized (lock) {
                    if (session == s) {
                        session = null;
                    }
                    lock.notifyAll();
                }
            }
        });
    }

    private void clientLoop() {
        while (!closed) {
            AFUNIXSocket sock = null;
            try {
                sock = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(socketPath));
            } catch (IOException e) {
                LOG.debug("{}: connecting to {}: {}", name, socketPath, e.getMessage());
                closeQuietly(sock);
                pause();
                continue;
            }
            Thread t;
            synchronized (lock) {
                if (closed) {
                    closeQuietly(sock);
                    return;
                }
                startSession(sock);
                t = sessionThread;
            }
            try {
                t.join();
            } catch (InterruptedException e) {
                return;
            }
            pause();
        }
    }

    private void pause() {
        try {
            Thread.sleep(options.reconnectDelay());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            closed = true;
        }
    }

    private static void closeQuietly(AutoCloseable c) {
        if (c != null) {
            try {
                c.close();
            } catch (Exception ignored) {
                // best effort on a path that already failed
            }
        }
    }

    // ------------------------------------------------------------------ close

    /**
     * Stops serving: closes the listening socket (and removes its file, if the path still holds the
     * socket this device created), ends the connection (its
     * queues stop, the front-end's memory is unmapped), closes the model and the resources handed
     * to the builder. Idempotent.
     */
    @Override
    public void close() {
        VhostUserSession s;
        Thread st;
        synchronized (lock) {
            if (closed) {
                return;
            }
            closed = true;
            s = session;
            st = sessionThread;
            lock.notifyAll();
        }
        if (!clientMode) {
            wakeAccept();
            closeServer();
        }
        if (s != null) {
            s.stop();
        }
        join(mainThread);
        join(st);
        scheduler.shutdownNow();
        closeQuietly(model);
        for (AutoCloseable r : resources) {
            closeQuietly(r);
        }
        LOG.info("{}: closed", name);
    }

    private void join(Thread t) {
        if (t == null || t == Thread.currentThread()) {
            return;
        }
        if (clientMode && t == mainThread) {
            t.interrupt();
        }
        try {
            t.join(JOIN_MILLIS);
            if (t.isAlive()) {
                LOG.error("{}: thread {} did not stop within {} ms", name, t.getName(), JOIN_MILLIS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public String toString() {
        return "VhostUserTarget[" + name + ", " + (clientMode ? "client " : "") + socketPath + ", " + model + "]";
    }

    private final class Context implements DeviceContext {
        @Override
        public String name() {
            return name;
        }

        @Override
        public VirtioDeviceModel model() {
            return model;
        }

        @Override
        public FaultInjector faults() {
            return faults;
        }

        @Override
        public TargetOptions options() {
            return options;
        }

        @Override
        public ScheduledExecutorService scheduler() {
            return scheduler;
        }

        @Override
        public void connectionFailed(String reason) {
            synchronized (lock) {
                errorCount++;
                errors.add(reason);
                if (errors.size() > MAX_ERRORS_KEPT) {
                    errors.removeFirst(); // a long-running target keeps the recent ones only
                }
                lock.notifyAll();
            }
        }
    }

    // ------------------------------------------------------------------ builder

    /** Builds and starts a {@link VhostUserTarget}. */
    public static final class Builder {
        private String name = "vhost0";
        private Path socket;
        private boolean clientMode;
        private VirtioDeviceModel model;
        private TargetOptions options = TargetOptions.defaults();
        private final List<AutoCloseable> resources = new ArrayList<>();
        private BlockStore blkStore;
        private BlkModelOptions blkOptions;

        private Builder() {
        }

        /** @param n the device name (logs, threads, the blk serial by default) */
        public Builder name(String n) {
            this.name = Objects.requireNonNull(n, "name");
            return this;
        }

        /**
         * Server mode: listen on {@code path}. A stale socket file there (nobody accepts on it) is
         * replaced; a live listener or a file that is not a socket makes {@link #start()} fail.
         */
        public Builder socket(Path path) {
            this.socket = path;
            this.clientMode = false;
            return this;
        }

        /** Client mode: connect to a front-end listening on {@code path}, again after every disconnect. */
        public Builder connectTo(Path path) {
            this.socket = path;
            this.clientMode = true;
            return this;
        }

        /** @param m the device model to serve (closed with the target) */
        public Builder model(VirtioDeviceModel m) {
            this.model = Objects.requireNonNull(m, "model");
            this.blkStore = null;
            return this;
        }

        /**
         * Serves a virtio-blk device over {@code store}; the store is closed with the target.
         *
         * @param store   the storage
         * @param options the device's shape (its serial defaults to the device name)
         */
        public Builder blk(BlockStore store, BlkModelOptions options) {
            this.blkStore = Objects.requireNonNull(store, "store");
            this.blkOptions = Objects.requireNonNull(options, "options");
            this.model = null;
            return this;
        }

        /** @param o transport options (protocol features, queue size limit, polling) */
        public Builder options(TargetOptions o) {
            this.options = Objects.requireNonNull(o, "options");
            return this;
        }

        /** @param r something to close with the target (a store, a temporary file) */
        public Builder closeOnExit(AutoCloseable r) {
            this.resources.add(Objects.requireNonNull(r));
            return this;
        }

        /**
         * Starts serving.
         *
         * @throws IllegalStateException when no socket or no model was given
         * @throws IllegalArgumentException when the socket path is too long for a Unix socket
         * @throws UncheckedIOException when the socket cannot be bound; its cause is a
         *                              {@link SocketInUseException} when the path is served by a live
         *                              listener or holds something other than a stale socket
         */
        public VhostUserTarget start() {
            if (socket == null) {
                throw new IllegalStateException("device " + name + ": no socket: call socket(path) or connectTo(path)");
            }
            if (model == null && blkStore != null) {
                BlkModelOptions o = blkOptions;
                if (o.serial().equals(BlkModelOptions.defaults().serial())) {
                    byte[] n = name.getBytes(StandardCharsets.US_ASCII);
                    o = o.toBuilder().serial(new String(n, 0, Math.min(n.length, 20), StandardCharsets.US_ASCII)).build();
                }
                model = new VirtioBlkModel(name, blkStore, o);
                resources.add(blkStore);
            }
            if (model == null) {
                throw new IllegalStateException("device " + name + ": no device model: call model(...) or blk(...)");
            }
            int bytes = socket.toString().getBytes(StandardCharsets.UTF_8).length;
            if (bytes > MAX_SOCKET_PATH_BYTES) {
                throw new IllegalArgumentException("device " + name + ": socket path " + socket + " is " + bytes
                        + " bytes long; a unix socket path holds at most " + MAX_SOCKET_PATH_BYTES);
            }
            return new VhostUserTarget(this).start();
        }
    }
}
