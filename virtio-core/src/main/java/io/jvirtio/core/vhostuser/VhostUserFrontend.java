package io.jvirtio.core.vhostuser;

import io.jvirtio.spec.vhostuser.VhostUserConfig;
import io.jvirtio.spec.vhostuser.VhostUserInflight;
import io.jvirtio.spec.vhostuser.VhostUserMemoryTable;
import io.jvirtio.spec.vhostuser.VhostUserProtocolFeature;
import io.jvirtio.spec.vhostuser.VhostUserRequest;
import io.jvirtio.spec.vhostuser.VhostUserU64;
import io.jvirtio.spec.vhostuser.VhostUserVringFile;
import io.jvirtio.spec.vhostuser.VhostUserException;

import io.jvirtio.core.QueueSetup;
import io.jvirtio.core.TransportListener;
import io.jvirtio.core.TransportUnsupportedException;
import io.jvirtio.core.VirtioBackendOps;
import io.jvirtio.spec.VirtioFeatures;
import io.jvirtio.spec.VirtioStatus;
import io.jvirtio.core.mem.MemoryDomain;
import io.jvirtio.core.mem.MemoryListener;
import io.jvirtio.core.mem.MemoryRegion;
import io.jvirtio.sys.Native;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.OptionalInt;

import static io.jvirtio.spec.vhostuser.VhostUserProtocolFeature.CONFIG;
import static io.jvirtio.spec.vhostuser.VhostUserProtocolFeature.CONFIGURE_MEM_SLOTS;
import static io.jvirtio.spec.vhostuser.VhostUserProtocolFeature.INFLIGHT_SHMFD;
import static io.jvirtio.spec.vhostuser.VhostUserProtocolFeature.MQ;
import static io.jvirtio.spec.vhostuser.VhostUserProtocolFeature.REPLY_ACK;
import static io.jvirtio.spec.vhostuser.VhostUserProtocolFeature.RESET_DEVICE;
import static io.jvirtio.spec.vhostuser.VhostUserProtocolFeature.STATUS;

/**
 * A virtio device behind a vhost-user back-end (SPDK vhost, qemu-storage-daemon, ...), driven as
 * SPDK's {@code virtio_user} drives it: the front-end in client mode.
 *
 * <p>On {@link #connect}: SET_OWNER, GET_FEATURES, and when {@code VHOST_USER_F_PROTOCOL_FEATURES}
 * is offered GET/SET_PROTOCOL_FEATURES (accepting MQ, REPLY_ACK, CONFIG, STATUS,
 * CONFIGURE_MEM_SLOTS, RESET_DEVICE as {@link VhostUserOptions} allow), GET_QUEUE_NUM with MQ,
 * GET_MAX_MEM_SLOTS with CONFIGURE_MEM_SLOTS.
 *
 * <p>On DRIVER_OK the device is started: SET_MEM_TABLE with every region of the memory domain,
 * then for each queue given to {@link #setupQueue} SET_VRING_CALL, NUM, BASE, ADDR, then KICK
 * (SPDK's target starts a queue on KICK), then SET_VRING_ENABLE when protocol features were
 * negotiated. With STATUS the status is also sent (SET/GET_STATUS), else it is kept here, as SPDK
 * does. RESET stops every queue with GET_VRING_BASE and closes its eventfds. With REPLY_ACK every
 * request without a reply of its own waits for the back-end's acknowledgement, so a failure
 * surfaces at the message that caused it.
 *
 * <p>Memory regions added to the domain while the device runs are shared before the allocation
 * returns (ADD_MEM_REG with CONFIGURE_MEM_SLOTS, else SET_MEM_TABLE again).
 *
 * <p>Setup calls are serialised. {@link #notifyQueue} is lock- and allocation-free; a kick racing
 * a queue's deletion or a reset lands in an eventfd that stays open until {@link #destruct()}
 * (which the device layer calls once no thread owns a queue).
 */
public final class VhostUserFrontend implements VirtioBackendOps {
    private static final Logger LOG = LoggerFactory.getLogger(VhostUserFrontend.class);

    /** The most vrings a front-end can address: the vring index of SET_VRING_KICK/CALL has 8 bits. */
    public static final int MAX_VRINGS = (int) VhostUserVringFile.INDEX_MASK + 1;
    /** The largest GET_QUEUE_NUM answer taken as plausible. */
    static final long MAX_REPORTED_QUEUES = 0x8000;
    /** The transport type SPDK prints for vhost-user. */
    public static final String TRANSPORT_TYPE = "user";

    private static final int STATUS_MASK = 0xff;
    /** Server mode: how long one reconnect attempt waits for the restarted back-end to connect. */
    private static final java.time.Duration RECONNECT_ACCEPT_SLICE = java.time.Duration.ofMillis(500);

    private final Path socketPath;
    private final MemoryDomain domain;
    private final VhostUserOptions options;
    /** replaced by {@link #reconnect()}; every use is under this object's lock */
    private VhostUserConnection conn;
    private final long offeredFeatures;
    private final long offeredProtocolFeatures;
    private final long protocolFeatures;
    /** GET_QUEUE_NUM with MQ; empty without */
    private final OptionalInt reportedQueues;
    /** the queues setupQueue accepts: GET_QUEUE_NUM, else every vring index the protocol can address */
    private final int queueLimit;
    private final int maxMemSlots;
    private final VhostUserMemory memory = new VhostUserMemory();
    private final MemoryListener listener = new Listener();

    private final VhostUserQueues queues;

    /** server mode: the socket the back-end connects to, open for the device's life; null in client mode */
    private final VhostUserListener serverSocket;
    private HangupWatcher watcher;
    /** INFLIGHT_SHMFD: the back-end's inflight area, kept across its restarts (-1 until the first start) */
    private int inflightFd = -1;
    private VhostUserInflight inflight;
    /** why the back-end is gone, set by the hang-up watcher; null while it is there */
    private volatile String lostReason;
    /** from a hang-up until the queues run again: a kick may find no eventfd and is then dropped */
    private volatile boolean restoring;
    private volatile TransportListener transportListener;

    private long ackedFeatures = -1;
    private int status;
    private boolean started;
    private boolean needsReset;
    private boolean destroyed;

    record Handshake(long features, long offeredProtocol, long protocol, OptionalInt reportedQueues, int maxMemSlots) {
    }

    private VhostUserFrontend(Path socketPath, MemoryDomain domain, VhostUserOptions options, VhostUserConnection conn, Handshake hs,
                              VhostUserListener serverSocket) {
        this.serverSocket = serverSocket;
        this.socketPath = socketPath;
        this.domain = domain;
        this.options = options;
        this.conn = conn;
        this.offeredFeatures = hs.features;
        this.offeredProtocolFeatures = hs.offeredProtocol;
        this.protocolFeatures = hs.protocol;
        this.reportedQueues = hs.reportedQueues;
        this.queueLimit = hs.reportedQueues.orElse(MAX_VRINGS);
        this.maxMemSlots = hs.maxMemSlots;
        this.queues = new VhostUserQueues(conn, MAX_VRINGS);
    }

    /**
     * Connects to a vhost-user back-end and negotiates the protocol.
     *
     * @param socket  the back-end's unix socket
     * @param memory  the memory the device will reach (rings and buffers); shared on DRIVER_OK
     * @param options timeouts, retries, protocol features
     * @return the backend, ready for feature negotiation
     * @throws VhostUserException when the socket cannot be reached or the back-end misbehaves;
     *                            nothing stays open then
     */
    public static VhostUserFrontend connect(Path socket, MemoryDomain memory, VhostUserOptions options) {
        VhostUserListener server = options.server() ? VhostUserListener.bind(socket) : null;
        VhostUserConnection conn;
        try {
            conn = server != null ? server.accept(options.acceptTimeout(), options.replyTimeout())
                    : VhostUserConnection.connect(socket, options.connectTimeout(), options.connectRetries(), options.retryDelay(),
                    options.replyTimeout());
        } catch (RuntimeException e) {
            if (server != null) {
                server.close();
            }
            throw e;
        }
        VhostUserFrontend backend;
        try {
            backend = new VhostUserFrontend(socket, memory, options, conn, handshake(conn, options), server);
        } catch (RuntimeException e) {
            conn.close();
            if (server != null) {
                server.close();
            }
            throw e;
        }
        try {
            backend.watcher = HangupWatcher.start(socket, conn.socketFd(), reason -> backend.hungUp(conn, reason));
            memory.addListener(backend.listener);
            for (MemoryRegion r : memory.regions()) {
                backend.regionAdded(r);
            }
        } catch (RuntimeException e) {
            backend.destruct();
            throw e;
        }
        LOG.info("vhost-user {}: connected; features 0x{}, protocol features offered {}, accepted {}, max queues {}", socket,
                Long.toHexString(backend.offeredFeatures), VhostUserProtocolFeature.describe(backend.offeredProtocolFeatures),
                VhostUserProtocolFeature.describe(backend.protocolFeatures),
                backend.reportedQueues.isPresent() ? backend.reportedQueues.getAsInt() : "not reported (no MQ)");
        return backend;
    }

    /** Connects with {@link VhostUserOptions#defaults()}. */
    public static VhostUserFrontend connect(Path socket, MemoryDomain memory) {
        return connect(socket, memory, VhostUserOptions.defaults());
    }

    /** The first messages of every connection; package-private for the reply fuzz test. */
    static Handshake handshake(VhostUserConnection conn, VhostUserOptions options) {
        conn.send(VhostUserRequest.SET_OWNER, null);
        long features = conn.callU64(VhostUserRequest.GET_FEATURES);
        long offeredProtocol = 0;
        long protocol = 0;
        if (VirtioFeatures.has(features, VirtioFeatures.VHOST_USER_F_PROTOCOL_FEATURES)) {
            offeredProtocol = conn.callU64(VhostUserRequest.GET_PROTOCOL_FEATURES);
            protocol = offeredProtocol & options.requestedProtocolFeatures();
            conn.send(VhostUserRequest.SET_PROTOCOL_FEATURES, new VhostUserU64(protocol));
            if (VhostUserProtocolFeature.has(protocol, REPLY_ACK)) {
                conn.enableReplyAck();
            }
        }
        OptionalInt reportedQueues = OptionalInt.empty();
        if (VhostUserProtocolFeature.has(protocol, MQ)) {
            long n = conn.callU64(VhostUserRequest.GET_QUEUE_NUM);
            if (n < 1 || n > MAX_REPORTED_QUEUES) {
                throw VhostUserException.protocolError("vhost-user " + conn.path() + ": " + VhostUserRequest.GET_QUEUE_NUM + " answered " + Long.toUnsignedString(n)
                        + " queues, expected 1.." + MAX_REPORTED_QUEUES);
            }
            reportedQueues = OptionalInt.of((int) Math.min(n, MAX_VRINGS));
        }
        int maxMemSlots = VhostUserMemoryTable.MAX_REGIONS;
        if (VhostUserProtocolFeature.has(protocol, CONFIGURE_MEM_SLOTS)) {
            long n = conn.callU64(VhostUserRequest.GET_MAX_MEM_SLOTS);
            if (n < 1 || n > Integer.MAX_VALUE) {
                throw VhostUserException.protocolError("vhost-user " + conn.path() + ": " + VhostUserRequest.GET_MAX_MEM_SLOTS + " answered "
                        + Long.toUnsignedString(n) + " slots, expected at least 1");
            }
            maxMemSlots = (int) n;
        }
        return new Handshake(features, offeredProtocol, protocol, reportedQueues, maxMemSlots);
    }

    private void hungUp(VhostUserConnection lostConn, String reason) {
        restoring = true;
        lostConn.markLost(reason);
        lostReason = reason;
        TransportListener l = transportListener;
        if (l != null) {
            l.transportLost(reason);
        }
    }

    // ---------------------------------------------------------------- accessors

    /** @return why the back-end is gone ("vhost-user back-end on PATH disconnected"), or null while it is there */
    public String lostReason() {
        return lostReason;
    }

    /** @return the back-end's socket */
    public Path socketPath() {
        return socketPath;
    }

    /** @return the options this backend was connected with */
    public VhostUserOptions options() {
        return options;
    }

    /** @return the protocol features the back-end offered (0 when it offered no VHOST_USER_F_PROTOCOL_FEATURES) */
    public long offeredProtocolFeatures() {
        return offeredProtocolFeatures;
    }

    /** @return the protocol features in use */
    public long protocolFeatures() {
        return protocolFeatures;
    }

    /** @return whether protocol feature {@code feature} ({@link VhostUserProtocolFeature}) is in use */
    public boolean hasProtocolFeature(int feature) {
        return VhostUserProtocolFeature.has(protocolFeatures, feature);
    }

    /** @return the back-end's GET_MAX_MEM_SLOTS, or 8 without CONFIGURE_MEM_SLOTS */
    public int maxMemSlots() {
        return maxMemSlots;
    }

    /** @return whether DRIVER_OK started the device and no reset stopped it since */
    public synchronized boolean isStarted() {
        return started;
    }

    /**
     * @param queue a queue index
     * @return the eventfd the back-end signals when it used buffers of {@code queue} (non-blocking;
     *         for an interrupt mode that waits instead of polling). Owned by this backend.
     */
    public int callFd(int queue) {
        int fd = queues.callFd(queue);
        if (fd < 0) {
            throw notSetUp(queue);
        }
        return fd;
    }

    // ---------------------------------------------------------------- VirtioBackendOps

    @Override
    public int completionFd(int queue) {
        return queues.callFd(queue);
    }

    @Override
    public String transportType() {
        return TRANSPORT_TYPE;
    }

    /**
     * Reads config space with GET_CONFIG. The back-end is asked for bytes {@code 0..offset+length}
     * and the requested slice is copied out: back-ends (qemu-storage-daemon, SPDK) ignore the
     * offset field and reject a size larger than their config structure, so callers ask for no
     * more than the device's config size.
     *
     * @throws TransportUnsupportedException without VHOST_USER_PROTOCOL_F_CONFIG, or when the
     *         back-end refuses the read with an empty reply: the spec's well-formed "no", after
     *         which the connection stays usable (a malformed reply is a {@link VhostUserException})
     */
    @Override
    public synchronized void readDevConfig(long offset, MemorySegment dst) {
        ensureOpen();
        requireProtocol(CONFIG, "read device config");
        long length = dst.byteSize();
        checkConfigRange(offset, length);
        if (length == 0) {
            return;
        }
        int size = (int) (offset + length);
        VhostUserConfig reply = conn.call(VhostUserRequest.GET_CONFIG, VhostUserConfig.request(0, size), buf -> decodeConfig(buf, size));
        if (reply == null) {
            // a well-formed refusal: the connection stays usable
            throw new TransportUnsupportedException(prefix() + "the back-end refused " + VhostUserRequest.GET_CONFIG + " of " + size
                    + " bytes at offset 0 (empty reply; is that larger than its config structure?)");
        }
        MemorySegment.copy(reply.payload(), (int) offset, dst, ValueLayout.JAVA_BYTE, 0, (int) length);
    }

    /** Decodes a GET_CONFIG reply to a request for {@code size} bytes at 0; null for the spec's empty "no". */
    static VhostUserConfig decodeConfig(ByteBuffer buf, int size) {
        if (buf.remaining() == 0) {
            return null; // the spec's way of saying no
        }
        VhostUserConfig c = VhostUserConfig.decode(buf);
        if (c.offset() != 0 || c.configSize() != size) {
            throw VhostUserException.protocolError("config reply has offset " + c.offset() + " and size " + c.configSize()
                    + ", asked offset 0 and size " + size);
        }
        return c;
    }

    /**
     * Writes config space with SET_CONFIG (flags 0: a driver write to writable fields).
     *
     * @throws TransportUnsupportedException without VHOST_USER_PROTOCOL_F_CONFIG
     */
    @Override
    public synchronized void writeDevConfig(long offset, MemorySegment src) {
        ensureOpen();
        requireProtocol(CONFIG, "write device config");
        checkConfigRange(offset, src.byteSize());
        conn.send(VhostUserRequest.SET_CONFIG, new VhostUserConfig((int) offset, VhostUserConfig.FLAG_WRITABLE, src.toArray(ValueLayout.JAVA_BYTE)));
    }

    private void checkConfigRange(long offset, long length) {
        if (offset < 0 || length < 0 || offset + length > VhostUserConfig.MAX_CONFIG_SIZE) {
            throw new IllegalArgumentException(prefix() + "config range offset=" + offset + " length=" + length + " exceeds the "
                    + VhostUserConfig.MAX_CONFIG_SIZE + "-byte vhost-user config space");
        }
    }

    @Override
    public synchronized int getStatus() {
        ensureOpen();
        int s = status;
        if (hasProtocolFeature(STATUS) && !needsReset) {
            long remote = conn.callU64(VhostUserRequest.GET_STATUS);
            if (remote < 0 || remote > STATUS_MASK) {
                throw VhostUserException.protocolError(prefix() + VhostUserRequest.GET_STATUS + " answered 0x" + Long.toHexString(remote)
                        + ", not a status byte");
            }
            s = (int) remote;
        }
        return needsReset ? s | VirtioStatus.DEVICE_NEEDS_RESET : s;
    }

    @Override
    public synchronized void setStatus(int newStatus) {
        ensureOpen();
        if (newStatus < 0 || newStatus > STATUS_MASK) {
            throw new IllegalArgumentException(prefix() + "status 0x" + Integer.toHexString(newStatus) + " is not a byte");
        }
        if (newStatus == VirtioStatus.RESET) {
            reset();
            return;
        }
        if (needsReset) {
            throw VhostUserException.invalidOperation(prefix() + "device needs a reset after an earlier failure; status "
                    + VirtioStatus.describe(newStatus) + " refused");
        }
        try {
            if ((newStatus & VirtioStatus.DRIVER_OK) != 0 && !started) {
                startDevice();
            }
            if (hasProtocolFeature(STATUS)) {
                conn.send(VhostUserRequest.SET_STATUS, new VhostUserU64(newStatus));
            }
            status = newStatus;
            LOG.debug("vhost-user {}: status {}", socketPath, VirtioStatus.describe(newStatus));
        } catch (RuntimeException e) {
            needsReset = true;
            throw e;
        }
    }

    @Override
    public long getFeatures() {
        return offeredFeatures & ~VirtioFeatures.bit(VirtioFeatures.VHOST_USER_F_PROTOCOL_FEATURES);
    }

    /**
     * Sends SET_FEATURES; {@code VHOST_USER_F_PROTOCOL_FEATURES} is added when the back-end offered
     * it (protocol features were negotiated on connect).
     *
     * @throws IllegalArgumentException when {@code features} holds a bit the device did not offer
     */
    @Override
    public synchronized void setFeatures(long features) {
        ensureOpen();
        long extra = features & ~getFeatures();
        if (extra != 0) {
            throw new IllegalArgumentException(prefix() + "features 0x" + Long.toHexString(features) + " include 0x" + Long.toHexString(extra)
                    + ", not offered by the device (offered 0x" + Long.toHexString(getFeatures()) + ")");
        }
        long wire = features | (offeredFeatures & VirtioFeatures.bit(VirtioFeatures.VHOST_USER_F_PROTOCOL_FEATURES));
        conn.send(VhostUserRequest.SET_FEATURES, new VhostUserU64(wire));
        ackedFeatures = wire;
    }

    /** @return GET_QUEUE_NUM when MQ was negotiated; empty without MQ (the back-end does not say) */
    @Override
    public OptionalInt getMaxQueues() {
        return reportedQueues;
    }

    @Override
    public int getQueueSize(int index) {
        checkQueueIndex(index);
        return options.maxQueueSize();
    }

    /**
     * Records a queue and creates its call and kick eventfds; when the device already runs, starts
     * the queue at once. A queue index set up before and not started is replaced.
     */
    @Override
    public synchronized void setupQueue(QueueSetup q) {
        ensureOpen();
        checkQueueIndex(q.index());
        queues.validate(q, options.maxQueueSize(), memory, domain.name());
        VhostUserQueue vq = queues.add(q);
        if (started) {
            queues.start(vq, protocolFeaturesAcked());
        }
    }

    @Override
    public synchronized int deleteQueue(int index) {
        checkQueueIndex(index);
        return queues.delete(index, !destroyed);
    }

    /** Writes 1 to the queue's kick eventfd: one syscall, no lock, no allocation. */
    @Override
    public void notifyQueue(int index) {
        int fd = queues.kickFd(index);
        if (fd < 0) {
            if (restoring) {
                return; // the queue is being set up on a new connection; the restart kicks it
            }
            throw notSetUp(index);
        }
        Native.eventfdWrite(fd, 1);
    }

    /**
     * Connects to the back-end again after it was lost, with one connect attempt (the caller's
     * policy retries): SET_OWNER and the protocol negotiation as on the first connect. The back-end
     * must offer the same features, protocol features, queue count and memory slots as before, or
     * it is refused (a {@link VhostUserException} that says no reconnect can help). The dead
     * connection's queues are forgotten (their kick eventfds retired, not closed); the memory table
     * is kept and sent again on DRIVER_OK.
     */
    @Override
    public synchronized void reconnect() {
        ensureOpen();
        VhostUserConnection fresh = serverSocket != null ? serverSocket.accept(RECONNECT_ACCEPT_SLICE, options.replyTimeout())
                : VhostUserConnection.connect(socketPath, options.connectTimeout(), 0, options.retryDelay(), options.replyTimeout());
        try {
            Handshake hs = handshake(fresh, options);
            String diff = differences(hs);
            if (diff != null) {
                throw new VhostUserException(prefix() + "the back-end came back different: " + diff, false, null);
            }
        } catch (RuntimeException e) {
            fresh.close();
            throw e;
        }
        if (watcher != null) {
            watcher.stop();
        }
        VhostUserConnection old = conn;
        conn = fresh;
        queues.useConnection(fresh);
        old.close();
        queues.releaseAll();
        started = false;
        status = VirtioStatus.RESET;
        ackedFeatures = -1;
        needsReset = false;
        lostReason = null;
        watcher = HangupWatcher.start(socketPath, fresh.socketFd(), reason -> hungUp(fresh, reason));
        LOG.info("vhost-user {}: connected again", socketPath);
    }

    private String differences(Handshake hs) {
        StringBuilder d = new StringBuilder();
        if (hs.features != offeredFeatures) {
            d.append("features 0x").append(Long.toHexString(hs.features)).append(" (was 0x").append(Long.toHexString(offeredFeatures)).append(") ");
        }
        if (hs.protocol != protocolFeatures) {
            d.append("protocol features ").append(VhostUserProtocolFeature.describe(hs.protocol)).append(" (was ")
                    .append(VhostUserProtocolFeature.describe(protocolFeatures)).append(") ");
        }
        if (!hs.reportedQueues.equals(reportedQueues)) {
            d.append("queues ").append(hs.reportedQueues).append(" (was ").append(reportedQueues).append(") ");
        }
        if (hs.maxMemSlots != maxMemSlots) {
            d.append("memory slots ").append(hs.maxMemSlots).append(" (was ").append(maxMemSlots).append(") ");
        }
        return d.isEmpty() ? null : d.toString().trim();
    }

    @Override
    public void setTransportListener(TransportListener listener) {
        transportListener = listener;
        String reason = lostReason;
        if (reason != null && listener != null) {
            listener.transportLost(reason);
        }
    }

    /** Stops running queues (best effort), closes every eventfd and the socket. Idempotent. */
    @Override
    public synchronized void destruct() {
        if (destroyed) {
            return;
        }
        domain.removeListener(listener);
        try {
            if (!conn.isBroken()) {
                queues.stopAll();
            }
        } catch (RuntimeException e) {
            LOG.warn("vhost-user {}: stopping queues on close: {}", socketPath, e.getMessage());
        } finally {
            destroyed = true;
            queues.releaseAll();
            queues.closeRetired();
            started = false;
            if (watcher != null) {
                watcher.stop();
            }
            conn.close();
            if (serverSocket != null) {
                serverSocket.close();
            }
            dropInflight();
        }
    }

    @Override
    public Map<String, Object> dumpJsonInfo() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("type", TRANSPORT_TYPE);
        m.put("socket", socketPath.toString());
        return m;
    }

    @Override
    public Map<String, Object> writeJsonConfig() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("trtype", TRANSPORT_TYPE);
        m.put("traddr", socketPath.toString());
        return m;
    }

    // ---------------------------------------------------------------- start / stop

    private void startDevice() {
        if (hasProtocolFeature(INFLIGHT_SHMFD)) {
            shareInflight();
        }
        memory.sendAll(conn, hasProtocolFeature(CONFIGURE_MEM_SLOTS), maxMemSlots);
        queues.startAll(protocolFeaturesAcked());
        started = true;
        restoring = false;
        LOG.debug("vhost-user {}: device started, {} memory regions", socketPath, memory.size());
    }

    /**
     * INFLIGHT_SHMFD as QEMU does it: GET_INFLIGHT_FD once (the back-end makes the area where it
     * records what it popped and not completed), then SET_INFLIGHT_FD on every start, so a
     * restarted back-end finds the dead one's records and resubmits those requests itself. Holding
     * the fd here is what keeps the area alive across the restart. GET_INFLIGHT_FD comes after
     * SET_FEATURES (as QEMU's {@code vhost_dev_prepare_inflight} orders it), so the back-end makes
     * the area in the format of the negotiated ring: split, or packed ({@code QueueRegionPacked}).
     */
    private void shareInflight() {
        if (inflightFd < 0) {
            int n = queues.span();
            int size = queues.largestSize();
            VhostUserConnection.WithFd<VhostUserInflight> r = conn.callReceivingFd(VhostUserRequest.GET_INFLIGHT_FD,
                    new VhostUserInflight(0, 0, n, size), VhostUserInflight::decode);
            VhostUserInflight d = r.reply();
            if (d.mmapSize() <= 0 || d.mmapOffset() < 0 || d.numQueues() != n || d.queueSize() != size) {
                Native.closeQuietly(r.fd());
                throw VhostUserException.protocolError(prefix() + VhostUserRequest.GET_INFLIGHT_FD + " answered " + d + " for " + n
                        + " queues of " + size);
            }
            inflightFd = r.fd();
            inflight = d;
            LOG.debug("vhost-user {}: inflight area of {} bytes for {} queues", socketPath, d.mmapSize(), n);
        }
        conn.send(VhostUserRequest.SET_INFLIGHT_FD, inflight, inflightFd);
    }

    private boolean protocolFeaturesAcked() {
        long features = ackedFeatures >= 0 ? ackedFeatures : offeredFeatures;
        return VirtioFeatures.has(features, VirtioFeatures.VHOST_USER_F_PROTOCOL_FEATURES);
    }

    private void reset() {
        boolean wasTouched = status != VirtioStatus.RESET || started;
        try {
            queues.stopAll(); // every queue that got its KICK, even when the start failed later
            if (hasProtocolFeature(STATUS)) {
                conn.send(VhostUserRequest.SET_STATUS, new VhostUserU64(VirtioStatus.RESET));
            }
            if (wasTouched && hasProtocolFeature(RESET_DEVICE)) {
                conn.send(VhostUserRequest.RESET_DEVICE, null);
            }
            needsReset = false;
        } catch (RuntimeException e) {
            needsReset = true;
            throw e;
        } finally {
            queues.releaseAll();
            started = false;
            status = VirtioStatus.RESET;
            ackedFeatures = -1;
            if (!restoring) {
                dropInflight();
            }
        }
    }

    /**
     * A reset that is not part of a reconnect starts the rings afresh, so the next start gets a new
     * inflight area, as QEMU does at a VM reset: records of the old rings would be resubmitted into
     * the new ones (and a packed ring's back-end takes its used position from the area).
     */
    private void dropInflight() {
        if (inflightFd >= 0) {
            Native.closeQuietly(inflightFd);
            inflightFd = -1;
            inflight = null;
        }
    }

    // ---------------------------------------------------------------- memory

    private synchronized void regionAdded(MemoryRegion region) {
        if (destroyed || !memory.add(region)) {
            return;
        }
        if (started) {
            try {
                memory.sendAdded(conn, region, hasProtocolFeature(CONFIGURE_MEM_SLOTS), maxMemSlots);
            } catch (RuntimeException e) {
                memory.remove(region); // the domain rolls the region back: keep our table equal to the back-end's
                throw e;
            }
            LOG.debug("vhost-user {}: shared new region {}", socketPath, region);
        }
    }

    private synchronized void regionRemoved(MemoryRegion region) {
        if (destroyed || !memory.remove(region)) {
            return;
        }
        if (started) {
            memory.sendRemoved(conn, region, hasProtocolFeature(CONFIGURE_MEM_SLOTS), maxMemSlots);
        }
    }

    private final class Listener implements MemoryListener {
        @Override
        public void regionAdded(MemoryRegion region) {
            VhostUserFrontend.this.regionAdded(region);
        }

        @Override
        public void regionRemoved(MemoryRegion region) {
            VhostUserFrontend.this.regionRemoved(region);
        }
    }

    // ---------------------------------------------------------------- helpers

    private void ensureOpen() {
        if (destroyed) {
            throw VhostUserException.invalidOperation(prefix() + "backend is closed");
        }
    }

    private void requireProtocol(int feature, String what) {
        if (!hasProtocolFeature(feature)) {
            throw new TransportUnsupportedException(prefix() + "cannot " + what + ": protocol feature " + VhostUserProtocolFeature.name(feature)
                    + " not negotiated (offered " + VhostUserProtocolFeature.describe(offeredProtocolFeatures) + ")");
        }
    }

    private void checkQueueIndex(int index) {
        if (index < 0 || index >= queueLimit) {
            throw new IllegalArgumentException(prefix() + "queue index " + index + " out of range 0.." + (queueLimit - 1));
        }
    }

    private VhostUserException notSetUp(int queue) {
        return VhostUserException.invalidOperation(prefix() + "queue " + queue + " is not set up");
    }

    private String prefix() {
        return "vhost-user " + socketPath + ": ";
    }

    @Override
    public String toString() {
        return "VhostUserFrontend[" + socketPath + ", status " + VirtioStatus.describe(status) + (started ? ", started" : "") + "]";
    }
}
