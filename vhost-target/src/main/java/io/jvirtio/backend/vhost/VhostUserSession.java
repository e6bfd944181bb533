package io.jvirtio.backend.vhost;

import io.jvirtio.spec.VirtioFeatures;
import io.jvirtio.spec.VirtioStatus;
import io.jvirtio.spec.vhostuser.VhostUserConfig;
import io.jvirtio.spec.vhostuser.VhostUserMemoryTable;
import io.jvirtio.spec.vhostuser.VhostUserProtocolFeature;
import io.jvirtio.spec.vhostuser.VhostUserRequest;
import io.jvirtio.spec.vhostuser.VhostUserSingleMemoryRegion;
import io.jvirtio.spec.vhostuser.VhostUserU64;
import io.jvirtio.backend.TargetOptions;
import io.jvirtio.backend.device.VirtioDeviceModel;
import io.jvirtio.backend.fault.FaultInjector;
import io.jvirtio.backend.ring.QueueHost;
import org.newsclub.net.unix.AFUNIXSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.locks.ReadWriteLock;

import static io.jvirtio.spec.vhostuser.VhostUserProtocolFeature.*;
import static io.jvirtio.backend.vhost.Payloads.*;

/**
 * One front-end connection to one device: reads messages one by one and executes them as the
 * back-end side of the vhost-user protocol (QEMU {@code docs/interop/vhost-user.rst}); the rings
 * are {@link SessionRings}', the memory table {@link SessionMemory}'s.
 *
 * <p>Every message is validated at the boundary (rust-vmm's rule): the request must be known and
 * implemented, its protocol feature negotiated, its payload of the exact size, its fds of the exact
 * count, its queue index in range, its values sensible. Anything else is a
 * {@link ProtocolException}: logged with the message and the value, and the connection closed. With
 * REPLY_ACK every message without a reply of its own that asks for one is acknowledged.
 */
public final class VhostUserSession implements QueueHost {
    private static final Logger LOG = LoggerFactory.getLogger(VhostUserSession.class);

    private static final int STATUS_MASK = 0xff;

    private final DeviceContext ctx;
    private final String name;
    private final VirtioDeviceModel model;
    private final TargetOptions options;
    private final MessageChannel channel;
    private final SessionMemory memory;
    private final Negotiation negotiation;
    private final SessionRings rings;

    private int status;
    private boolean owner;
    private volatile String abortReason;
    private volatile boolean stopping;

    /**
     * @param ctx    the device
     * @param socket the accepted (or connected) socket; owned by the session from now on
     */
    public VhostUserSession(DeviceContext ctx, AFUNIXSocket socket) throws IOException {
        this.ctx = ctx;
        this.name = ctx.name();
        this.model = ctx.model();
        this.options = ctx.options();
        this.channel = new MessageChannel(socket, name, ctx.faults());
        this.memory = new SessionMemory(name);
        long features = model.deviceFeatures() & ~options.hiddenFeatures();
        features &= ~VirtioFeatures.bit(VirtioFeatures.VHOST_USER_F_PROTOCOL_FEATURES);
        if (options.offersProtocolFeatures()) {
            features |= VirtioFeatures.bit(VirtioFeatures.VHOST_USER_F_PROTOCOL_FEATURES);
        }
        this.negotiation = new Negotiation(features, options.offersProtocolFeatures() ? options.protocolFeatures() : 0);
        this.rings = new SessionRings(this, options, memory, negotiation, channel);
    }

    /**
     * Serves the connection until the front-end closes it, sends something invalid, or
     * {@link #abort}/{@link #stop} is called; then stops every queue, resets the model and unmaps
     * the memory.
     */
    public void run() {
        try {
            while (true) {
                FrontendMessage m = channel.read();
                if (m == null) {
                    break;
                }
                if (LOG.isDebugEnabled()) {
                    LOG.debug("{}: -> {} size={} flags=0x{}{}", name, m.name(), m.header().size(), Integer.toHexString(m.header().flags()),
                            m.fds().length > 0 ? " fds=" + m.fds().length : "");
                }
                handle(m);
            }
            if (abortReason != null) {
                ctx.connectionFailed(abortReason);
            } else {
                LOG.info("{}: front-end disconnected", name);
            }
        } catch (ProtocolException e) {
            LOG.error("{}: {}; closing the connection", name, e.getMessage());
            ctx.connectionFailed(e.getMessage());
        } catch (IOException e) {
            if (abortReason != null) {
                ctx.connectionFailed(abortReason);
            } else if (stopping) {
                LOG.debug("{}: connection ended: the device closes", name);
            } else {
                LOG.info("{}: connection lost: {}", name, e.getMessage());
                ctx.connectionFailed("connection lost: " + e.getMessage());
            }
        } catch (RuntimeException e) {
            LOG.error("{}: internal error; closing the connection", name, e);
            ctx.connectionFailed("internal error: " + e);
        } finally {
            cleanup();
        }
    }

    /** Ends the connection from another thread because something went wrong (injected drop, driver error). */
    public void abort(String reason) {
        if (abortReason == null) {
            abortReason = reason;
        }
        channel.shutdown();
    }

    /** Ends the connection from another thread because the device closes: not an error. */
    public void stop() {
        stopping = true;
        channel.shutdown();
    }

    // ------------------------------------------------------------------ QueueHost

    @Override
    public VirtioDeviceModel model() {
        return model;
    }

    @Override
    public FaultInjector faults() {
        return ctx.faults();
    }

    @Override
    public ScheduledExecutorService scheduler() {
        return ctx.scheduler();
    }

    @Override
    public ReadWriteLock memoryLock() {
        return memory.lock();
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public void abortConnection(int queue, String reason, boolean driverError) {
        if (driverError) {
            LOG.error("{}: driver error: {}; closing the connection", name, reason);
            rings.signalError(queue);
        } else {
            LOG.warn("{}: {}; closing the connection", name, reason);
        }
        abort(reason);
    }

    // ------------------------------------------------------------------ dispatch

    private void handle(FrontendMessage m) throws ProtocolException, IOException {
        VhostUserRequest r = m.request();
        if (r == null) {
            throw new ProtocolException(m.name() + ": unknown request (payload " + m.header().size() + " bytes)");
        }
        boolean ok = true;
        switch (r) {
            case GET_FEATURES -> {
                noPayload(m);
                channel.reply(m, new VhostUserU64(negotiation.offeredFeatures));
            }
            case SET_FEATURES -> setFeatures(m);
            case SET_OWNER -> {
                noPayload(m);
                if (owner) {
                    LOG.debug("{}: SET_OWNER again", name);
                }
                owner = true;
            }
            case RESET_OWNER -> {
                noPayload(m);
                rings.disableAll();
            }
            case GET_PROTOCOL_FEATURES -> {
                noPayload(m);
                requireProtocolFeaturesOffered(m);
                channel.reply(m, new VhostUserU64(negotiation.offeredProtocol));
            }
            case SET_PROTOCOL_FEATURES -> setProtocolFeatures(m);
            case GET_QUEUE_NUM -> {
                negotiation.requireProtocol(m, MQ);
                noPayload(m);
                channel.reply(m, new VhostUserU64(rings.count()));
            }
            case GET_CONFIG -> getConfig(m);
            case SET_CONFIG -> ok = setConfig(m);
            case SET_MEM_TABLE -> setMemTable(m);
            case GET_MAX_MEM_SLOTS -> {
                negotiation.requireProtocol(m, CONFIGURE_MEM_SLOTS);
                noPayload(m);
                channel.reply(m, new VhostUserU64(options.maxMemSlots()));
            }
            case ADD_MEM_REG -> addMemReg(m);
            case REM_MEM_REG -> remMemReg(m);
            case SET_VRING_NUM -> rings.setVringNum(m);
            case SET_VRING_BASE -> rings.setVringBase(m);
            case SET_VRING_ADDR -> rings.setVringAddr(m);
            case SET_VRING_KICK -> rings.setVringKick(m);
            case SET_VRING_CALL -> rings.setVringCall(m);
            case SET_VRING_ERR -> rings.setVringErr(m);
            case GET_VRING_BASE -> rings.getVringBase(m);
            case SET_VRING_ENABLE -> rings.setVringEnable(m);
            case GET_INFLIGHT_FD -> rings.getInflightFd(m);
            case SET_INFLIGHT_FD -> rings.setInflightFd(m);
            case RESET_DEVICE -> {
                negotiation.requireProtocol(m, RESET_DEVICE);
                noPayload(m);
                resetDevice();
            }
            case SET_STATUS -> setStatus(m);
            case GET_STATUS -> {
                negotiation.requireProtocol(m, STATUS);
                noPayload(m);
                channel.reply(m, new VhostUserU64(status));
            }
            default -> throw new ProtocolException(r.specName() + ": not implemented by this back-end (payload " + m.header().size()
                    + " bytes); the features it belongs to are not offered");
        }
        if (!r.hasReply() && m.needsReply() && negotiation.hasProtocol(REPLY_ACK)) {
            channel.ack(m, ok);
        }
    }

    // ------------------------------------------------------------------ features

    private void setFeatures(FrontendMessage m) throws ProtocolException {
        noFds(m);
        long f = decode(m, VhostUserU64::decode).value();
        long offered = negotiation.offeredFeatures;
        long extra = f & ~offered;
        if (extra != 0) {
            throw new ProtocolException(m.name() + ": features 0x" + Long.toHexString(f) + " include 0x" + Long.toHexString(extra)
                    + ", which the device did not offer (offered 0x" + Long.toHexString(offered) + ")");
        }
        if (!VirtioFeatures.has(f, VirtioFeatures.VIRTIO_F_VERSION_1)) {
            throw new ProtocolException(m.name() + ": features 0x" + Long.toHexString(f)
                    + " lack VIRTIO_F_VERSION_1; this device is modern only (legacy drivers are not supported)");
        }
        negotiation.features = f;
        model.featuresNegotiated(f & ~VirtioFeatures.bit(VirtioFeatures.VHOST_USER_F_PROTOCOL_FEATURES));
        if (negotiation.ringsStartEnabled()) {
            rings.enableRunning();
        }
        LOG.debug("{}: features 0x{}", name, Long.toHexString(f));
    }

    private void setProtocolFeatures(FrontendMessage m) throws ProtocolException {
        requireProtocolFeaturesOffered(m);
        noFds(m);
        long p = decode(m, VhostUserU64::decode).value();
        long extra = p & ~negotiation.offeredProtocol;
        if (extra != 0) {
            throw new ProtocolException(m.name() + ": protocol features " + VhostUserProtocolFeature.describe(p) + " include "
                    + VhostUserProtocolFeature.describe(extra) + ", not offered (offered "
                    + VhostUserProtocolFeature.describe(negotiation.offeredProtocol) + ")");
        }
        negotiation.protocol = p;
        LOG.debug("{}: protocol features {}", name, VhostUserProtocolFeature.describe(p));
    }

    private void requireProtocolFeaturesOffered(FrontendMessage m) throws ProtocolException {
        if (!options.offersProtocolFeatures()) {
            throw new ProtocolException(m.name() + ": this back-end does not offer VHOST_USER_F_PROTOCOL_FEATURES (bit 30)");
        }
    }

    // ------------------------------------------------------------------ config

    private void getConfig(FrontendMessage m) throws ProtocolException, IOException {
        negotiation.requireProtocol(m, CONFIG);
        noFds(m);
        VhostUserConfig req = decode(m, VhostUserConfig::decode);
        int size = req.configSize();
        if (req.offset() + size > model.configSize()) {
            // the spec's refusal: an empty payload; the connection stays usable
            LOG.warn("{}: {} of {} bytes at offset {} refused: the config space has {} bytes", name, m.name(), size, req.offset(),
                    model.configSize());
            channel.replyRaw(m, new byte[0]);
            return;
        }
        byte[] bytes = new byte[size];
        if (size > 0) {
            model.readConfig(req.offset(), MemorySegment.ofArray(bytes));
        }
        channel.reply(m, new VhostUserConfig(req.offset(), req.flags(), bytes));
    }

    private boolean setConfig(FrontendMessage m) throws ProtocolException {
        negotiation.requireProtocol(m, CONFIG);
        noFds(m);
        VhostUserConfig req = decode(m, VhostUserConfig::decode);
        if (req.offset() + req.configSize() > model.configSize()) {
            LOG.warn("{}: {} of {} bytes at offset {} refused: the config space has {} bytes", name, m.name(), req.configSize(), req.offset(),
                    model.configSize());
            return false;
        }
        model.writeConfig(req.offset(), MemorySegment.ofArray(req.payload()));
        return true;
    }

    // ------------------------------------------------------------------ memory

    private void setMemTable(FrontendMessage m) throws ProtocolException {
        VhostUserMemoryTable t = decode(m, VhostUserMemoryTable::decode);
        expectFds(m, t.regions().size());
        memory.replace(t.regions(), m.fds(), rings.running());
        LOG.debug("{}: memory table of {} region(s)", name, t.regions().size());
    }

    private void addMemReg(FrontendMessage m) throws ProtocolException {
        negotiation.requireProtocol(m, CONFIGURE_MEM_SLOTS);
        VhostUserSingleMemoryRegion r = decode(m, VhostUserSingleMemoryRegion::decode);
        expectFds(m, 1);
        memory.add(r.region(), m.fds()[0], options.maxMemSlots(), rings.running());
    }

    private void remMemReg(FrontendMessage m) throws ProtocolException {
        negotiation.requireProtocol(m, CONFIGURE_MEM_SLOTS);
        VhostUserSingleMemoryRegion r = decode(m, VhostUserSingleMemoryRegion::decode);
        if (m.fds().length > 1) {
            // the spec tolerates one (stray) fd here, which is ignored
            throw new ProtocolException(m.name() + ": carries " + m.fds().length + " file descriptors, expected none (or one, ignored)");
        }
        memory.remove(r.region(), rings.running());
    }

    // ------------------------------------------------------------------ status and reset

    private void setStatus(FrontendMessage m) throws ProtocolException {
        negotiation.requireProtocol(m, STATUS);
        noFds(m);
        long v = decode(m, VhostUserU64::decode).value();
        if (v < 0 || v > STATUS_MASK) {
            throw new ProtocolException(m.name() + ": status 0x" + Long.toHexString(v) + " is not a status byte");
        }
        status = (int) v;
        if (status == VirtioStatus.RESET) {
            // writing 0 resets the device (virtio 2.1): nothing runs, nothing is held
            rings.stopAll();
            model.reset();
        }
        LOG.debug("{}: status {}", name, VirtioStatus.describe(status));
    }

    private void resetDevice() {
        rings.stopAll();
        rings.clear();
        negotiation.features = 0;
        status = 0;
        model.reset();
        LOG.debug("{}: device reset", name);
    }

    private void cleanup() {
        try {
            rings.stopAll();
            model.reset();
        } catch (RuntimeException e) {
            LOG.error("{}: stopping the device after the connection ended", name, e);
        } finally {
            rings.clear();
            memory.close();
            rings.closeInflight();
            channel.close();
        }
    }
}
