package io.jvirtio.backend.vhost;

import io.jvirtio.spec.vhostuser.VhostUserInflight;

import io.jvirtio.spec.VirtioFeatures;
import io.jvirtio.sys.Native;
import io.jvirtio.spec.vhostuser.VhostUserVringAddr;
import io.jvirtio.spec.vhostuser.VhostUserVringFile;
import io.jvirtio.spec.vhostuser.VhostUserVringState;
import io.jvirtio.backend.TargetOptions;
import io.jvirtio.backend.device.VirtioDeviceModel;
import io.jvirtio.backend.ring.DeviceQueue;
import io.jvirtio.backend.ring.InflightQueue;
import io.jvirtio.backend.ring.PackedInflightQueue;
import io.jvirtio.backend.ring.QueueHost;
import io.jvirtio.backend.ring.VringSetup;
import io.jvirtio.backend.ring.QueueMode;
import io.jvirtio.backend.ring.QueueWorker;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

import static io.jvirtio.spec.vhostuser.VhostUserProtocolFeature.INFLIGHT_SHMFD;
import static io.jvirtio.backend.vhost.Payloads.*;

/**
 * The rings of one connection and the messages that configure them: SET_VRING_NUM / BASE / ADDR /
 * KICK / CALL / ERR / ENABLE, GET_VRING_BASE, and the INFLIGHT_SHMFD area. A ring starts on
 * SET_VRING_KICK (as SPDK and libvhost-user do: the spec says "upon receiving a kick") once NUM,
 * ADDR and a memory table are known, and stops on GET_VRING_BASE, handing back where it stopped.
 * Used by the connection's thread only, except {@link #signalError} (queue threads).
 */
final class SessionRings {
    private static final Logger LOG = LoggerFactory.getLogger(SessionRings.class);

    private static final int RING_INDEX_MAX = 0xffff;
    /** An inflight fd mapping offset must be page-aligned. */
    private static final long PAGE = 4096;

    private final String name;
    private final QueueHost host;
    private final VirtioDeviceModel model;
    private final TargetOptions options;
    private final SessionMemory memory;
    private final Negotiation negotiation;
    private final MessageChannel channel;
    private final Vring[] vrings;
    private final Object errLock = new Object();
    private InflightArea inflight;
    private boolean inflightTooSmallReported;

    SessionRings(QueueHost host, TargetOptions options, SessionMemory memory, Negotiation negotiation, MessageChannel channel) {
        this.host = host;
        this.name = host.name();
        this.model = host.model();
        this.options = options;
        this.memory = memory;
        this.negotiation = negotiation;
        this.channel = channel;
        this.vrings = new Vring[model.numQueues()];
        for (int i = 0; i < vrings.length; i++) {
            vrings[i] = new Vring(i);
        }
    }

    /** @return the number of rings (the model's queues) */
    int count() {
        return vrings.length;
    }

    /** @return the queues that run now */
    List<DeviceQueue> running() {
        List<DeviceQueue> list = new ArrayList<>();
        for (Vring v : vrings) {
            if (v.queue != null) {
                list.add(v.queue);
            }
        }
        return list;
    }

    /** Signals queue {@code queue}'s err eventfd, if the front-end gave one (a driver error; any thread). */
    void signalError(int queue) {
        synchronized (errLock) {
            if (queue >= 0 && queue < vrings.length && vrings[queue].errFd >= 0) {
                try {
                    Native.eventfdWrite(vrings[queue].errFd, 1);
                } catch (RuntimeException e) {
                    LOG.debug("{}: signalling the err eventfd of queue {}: {}", name, queue, e.getMessage());
                }
            }
        }
    }

    /** Rings start enabled now (SET_FEATURES without VHOST_USER_F_PROTOCOL_FEATURES). */
    void enableRunning() {
        for (Vring v : vrings) {
            if (v.started()) {
                v.worker.setEnabled(true);
            }
        }
    }

    /** RESET_OWNER: every ring disabled (what the spec recommends for this deprecated message). */
    void disableAll() {
        for (Vring v : vrings) {
            setEnabled(v, false);
        }
    }

    /** Stops every running ring: the threads first (all at once), then the queues. */
    void stopAll() {
        for (Vring v : vrings) {
            if (v.started()) {
                v.worker.stopAndJoin();
            }
        }
        for (Vring v : vrings) {
            if (v.started()) {
                stopRing(v);
            }
        }
    }

    /** Forgets every ring's configuration and closes its eventfds (RESET_DEVICE, end of connection); rings must be stopped. */
    void clear() {
        synchronized (errLock) {
            for (Vring v : vrings) {
                v.clear();
            }
        }
    }

    /** Releases the inflight area. */
    void closeInflight() {
        if (inflight != null) {
            inflight.close();
            inflight = null;
        }
    }

    private Vring vring(FrontendMessage m, int index) throws ProtocolException {
        if (index < 0 || index >= vrings.length) {
            throw new ProtocolException(m.name() + ": queue index " + Integer.toUnsignedString(index) + " out of range 0.." + (vrings.length - 1)
                    + " (the device has " + vrings.length + " queue(s))");
        }
        return vrings[index];
    }

    private void notStarted(FrontendMessage m, Vring v) throws ProtocolException {
        if (v.started()) {
            throw new ProtocolException(m.name() + ": queue " + v.index + " is running; stop it with GET_VRING_BASE first");
        }
    }

    void setVringNum(FrontendMessage m) throws ProtocolException {
        noFds(m);
        VhostUserVringState s = decode(m, VhostUserVringState::decode);
        Vring v = vring(m, s.index());
        notStarted(m, v);
        int n = s.num();
        if (n < 1 || n > options.maxQueueSize() || Integer.bitCount(n) != 1) {
            throw new ProtocolException(m.name() + ": queue " + v.index + " size " + Integer.toUnsignedString(n) + " is not a power of two in 1.."
                    + options.maxQueueSize());
        }
        v.size = n;
    }

    void setVringBase(FrontendMessage m) throws ProtocolException {
        noFds(m);
        VhostUserVringState s = decode(m, VhostUserVringState::decode);
        Vring v = vring(m, s.index());
        notStarted(m, v);
        if (negotiation.hasFeature(VirtioFeatures.VIRTIO_F_RING_PACKED)) {
            // QEMU sends avail slot | avail wrap << 15 | used slot << 16 | used wrap << 31; like DPDK, the
            // device starts both positions from the low half (a stopped ring has used caught up with avail).
            v.base = s.num() & RING_INDEX_MAX;
            return;
        }
        if (Integer.compareUnsigned(s.num(), RING_INDEX_MAX) > 0) {
            throw new ProtocolException(m.name() + ": queue " + v.index + " base " + Integer.toUnsignedString(s.num())
                    + " is not a 16-bit ring index");
        }
        v.base = s.num();
    }

    void setVringAddr(FrontendMessage m) throws ProtocolException {
        noFds(m);
        VhostUserVringAddr a = decode(m, VhostUserVringAddr::decode);
        Vring v = vring(m, a.index());
        notStarted(m, v);
        if ((a.flags() & VhostUserVringAddr.FLAG_LOG) != 0) {
            throw new ProtocolException(m.name() + ": queue " + v.index + " asks for used-ring logging (VHOST_VRING_F_LOG), which needs "
                    + "VHOST_F_LOG_ALL, not offered");
        }
        if (v.size != 0 && memory.table().size() > 0) {
            try {
                DeviceQueue.checkCovered(setupOf(v, a), memory.table());
            } catch (IllegalArgumentException e) {
                throw new ProtocolException(m.name() + ": " + e.getMessage());
            }
        }
        v.addr = a;
    }

    private VringSetup setupOf(Vring v, VhostUserVringAddr a) {
        return new VringSetup(v.index, v.size, a.desc(), a.avail(), a.used(), v.base,
                negotiation.hasFeature(VirtioFeatures.VIRTIO_RING_F_EVENT_IDX),
                negotiation.hasFeature(VirtioFeatures.VIRTIO_RING_F_INDIRECT_DESC),
                negotiation.hasFeature(VirtioFeatures.VIRTIO_F_RING_PACKED));
    }

    /** Decodes a vring fd message and takes (dups) its fd. @return the dup, or -1 with NOFD */
    private int takeVringFd(FrontendMessage m, VhostUserVringFile f) throws ProtocolException {
        if (f.noFd()) {
            expectFds(m, 0);
            return -1;
        }
        expectFds(m, 1);
        int fd = m.fds()[0];
        if (fd < 0) {
            throw new ProtocolException(m.name() + ": queue " + f.index() + ": unusable file descriptor");
        }
        try {
            return Native.dup(fd);
        } catch (RuntimeException e) {
            throw new ProtocolException(m.name() + ": queue " + f.index() + ": " + e.getMessage(), e);
        }
    }

    void setVringKick(FrontendMessage m) throws ProtocolException {
        VhostUserVringFile f = decode(m, VhostUserVringFile::decode);
        Vring v = vring(m, f.index());
        int fd = takeVringFd(m, f);
        if (v.started()) {
            stopRing(v);
        }
        v.kickFd = Vring.close(v.kickFd);
        v.kickFd = fd;
        v.kickPolled = f.noFd();
        startRing(m, v);
    }

    private void startRing(FrontendMessage m, Vring v) throws ProtocolException {
        String q = m.name() + ": queue " + v.index;
        if (v.size == 0) {
            throw new ProtocolException(q + " cannot start: SET_VRING_NUM missing");
        }
        if (v.addr == null) {
            throw new ProtocolException(q + " cannot start: SET_VRING_ADDR missing");
        }
        if (memory.table().size() == 0) {
            throw new ProtocolException(q + " cannot start: no memory table (SET_MEM_TABLE missing)");
        }
        InflightQueue log = null;
        PackedInflightQueue packedLog = null;
        if (inflight != null && negotiation.hasProtocol(INFLIGHT_SHMFD)) {
            if (inflight.queueSize() != v.size) {
                throw new ProtocolException(q + ": the inflight area was made for queue size " + inflight.queueSize() + ", the ring has "
                        + v.size);
            }
            boolean packed = packedRings();
            if (packed && !inflight.fits(true)) {
                // QEMU 7.2's vhost-user-scsi gets the area while SeaBIOS drives split rings and keeps it when
                // Linux then negotiates packed ones: too small for the packed format, so no tracking.
                if (!inflightTooSmallReported) {
                    inflightTooSmallReported = true;
                    LOG.warn("{}: the inflight area ({} bytes) is too small for {} packed queue(s) of {} ({} bytes: it was made for split rings);"
                            + " packed queues run without inflight tracking", name, inflight.size(), inflight.numQueues(), v.size,
                            inflight.numQueues() * PackedInflightQueue.bytesPerQueue(v.size));
                }
            } else {
                if (packed) {
                    packedLog = inflight.packedQueue(v.index);
                } else {
                    log = inflight.queue(v.index);
                }
                if (log == null && packedLog == null) {
                    throw new ProtocolException(q + ": the inflight area covers " + inflight.numQueues() + " queue(s) only");
                }
            }
        }
        DeviceQueue dq;
        try {
            dq = new DeviceQueue(setupOf(v, v.addr), memory.table(), v.callFd, log, packedLog, host);
        } catch (IllegalArgumentException e) {
            throw new ProtocolException(m.name() + ": " + e.getMessage());
        }
        boolean enabled = v.enabled || negotiation.ringsStartEnabled();
        v.queue = dq;
        QueueMode mode = model.isRequestQueue(v.index) ? options.queueMode() : QueueMode.KICK;
        v.worker = new QueueWorker(dq, host, v.kickPolled ? -1 : v.kickFd, mode, options.pollIdle().toNanos(), options.cpuFor(v.index), enabled);
        v.worker.start();
        LOG.debug("{}: queue {} started: size {}, avail index {}, {}", name, v.index, v.size, v.base, enabled ? "enabled" : "disabled");
    }

    /** Stops a running ring: its thread ends, later completions are dropped, the model forgets what it holds. */
    void stopRing(Vring v) {
        v.worker.stopAndJoin();
        int held = v.queue.stop();
        model.queueStopped(v.index);
        v.base = v.queue.lastAvail();
        if (held > 0) {
            LOG.debug("{}: queue {} stopped with {} request(s) in flight", name, v.index, held);
        }
        v.worker = null;
        v.queue = null;
    }

    void setVringCall(FrontendMessage m) throws ProtocolException {
        VhostUserVringFile f = decode(m, VhostUserVringFile::decode);
        Vring v = vring(m, f.index());
        int fd = takeVringFd(m, f);
        if (v.queue != null) {
            Native.closeQuietly(v.queue.replaceCallFd(fd));
        } else {
            Native.closeQuietly(v.callFd);
        }
        v.callFd = fd;
    }

    void setVringErr(FrontendMessage m) throws ProtocolException {
        VhostUserVringFile f = decode(m, VhostUserVringFile::decode);
        Vring v = vring(m, f.index());
        int fd = takeVringFd(m, f);
        synchronized (errLock) {
            Native.closeQuietly(v.errFd);
            v.errFd = fd;
        }
    }

    void getVringBase(FrontendMessage m) throws ProtocolException, IOException {
        noFds(m);
        VhostUserVringState s = decode(m, VhostUserVringState::decode);
        Vring v = vring(m, s.index());
        if (v.started()) {
            stopRing(v);
            v.kickFd = Vring.close(v.kickFd);
        }
        channel.reply(m, new VhostUserVringState(v.index, v.base));
    }

    void setVringEnable(FrontendMessage m) throws ProtocolException {
        noFds(m);
        VhostUserVringState s = decode(m, VhostUserVringState::decode);
        Vring v = vring(m, s.index());
        if (!negotiation.hasFeature(VirtioFeatures.VHOST_USER_F_PROTOCOL_FEATURES)) {
            throw new ProtocolException(m.name() + ": queue " + v.index + ": VHOST_USER_F_PROTOCOL_FEATURES was not negotiated by SET_FEATURES");
        }
        if (s.num() != 0 && s.num() != 1) {
            throw new ProtocolException(m.name() + ": queue " + v.index + " enable value " + Integer.toUnsignedString(s.num()) + ", expected 0 or 1");
        }
        setEnabled(v, s.num() == 1);
    }

    void setEnabled(Vring v, boolean on) {
        v.enabled = on;
        if (v.started()) {
            v.worker.setEnabled(on);
        }
    }

    // ------------------------------------------------------------------ inflight

    private void checkNoRingRunning(FrontendMessage m) throws ProtocolException {
        for (Vring v : vrings) {
            if (v.started()) {
                throw new ProtocolException(m.name() + ": queue " + v.index + " is running; the inflight area can only change while every ring is stopped");
            }
        }
    }

    private void checkInflightShape(FrontendMessage m, VhostUserInflight d) throws ProtocolException {
        if (d.numQueues() < 1 || d.numQueues() > vrings.length) {
            throw new ProtocolException(m.name() + ": num_queues " + d.numQueues() + " out of range 1.." + vrings.length);
        }
        boolean anySize = packedRings(); // a packed ring needs no power of two
        if (d.queueSize() < 1 || d.queueSize() > options.maxQueueSize() || (!anySize && Integer.bitCount(d.queueSize()) != 1)) {
            throw new ProtocolException(m.name() + ": queue_size " + d.queueSize() + " is not " + (anySize ? "" : "a power of two ") + "in 1.."
                    + options.maxQueueSize());
        }
    }

    /**
     * The area's format follows the rings negotiated so far, as DPDK decides it: QEMU sends
     * SET_FEATURES before GET_INFLIGHT_FD for this reason ({@code vhost_dev_prepare_inflight}).
     */
    private boolean packedRings() {
        return negotiation.hasFeature(VirtioFeatures.VIRTIO_F_RING_PACKED);
    }

    void getInflightFd(FrontendMessage m) throws ProtocolException, IOException {
        negotiation.requireProtocol(m, INFLIGHT_SHMFD);
        noFds(m);
        VhostUserInflight d = decode(m, VhostUserInflight::decode);
        checkInflightShape(m, d);
        checkNoRingRunning(m);
        InflightArea area;
        try {
            area = InflightArea.create(host.name(), d.numQueues(), d.queueSize(), packedRings());
        } catch (RuntimeException e) {
            throw new ProtocolException(m.name() + ": cannot create the inflight area: " + e.getMessage(), e);
        }
        replaceInflight(area);
        channel.reply(m, new VhostUserInflight(area.size(), 0, d.numQueues(), d.queueSize()), area.fd());
    }

    void setInflightFd(FrontendMessage m) throws ProtocolException {
        negotiation.requireProtocol(m, INFLIGHT_SHMFD);
        VhostUserInflight d = decode(m, VhostUserInflight::decode);
        expectFds(m, 1);
        checkInflightShape(m, d);
        checkNoRingRunning(m);
        // the smaller (split) format: which one the rings use is known when they start
        long need = d.numQueues() * InflightArea.bytesPerQueue(d.queueSize(), false);
        if (d.mmapSize() < need || d.mmapSize() > InflightArea.MAX_SIZE) {
            throw new ProtocolException(m.name() + ": mmap_size " + Long.toUnsignedString(d.mmapSize()) + " does not fit " + d.numQueues()
                    + " queue(s) of " + d.queueSize() + " (" + need + " bytes needed, at most " + InflightArea.MAX_SIZE + ")");
        }
        if (d.mmapOffset() < 0 || d.mmapOffset() % PAGE != 0) {
            throw new ProtocolException(m.name() + ": mmap_offset 0x" + Long.toHexString(d.mmapOffset()) + " is not page-aligned");
        }
        try {
            replaceInflight(InflightArea.map(m.fds()[0], d.mmapSize(), d.mmapOffset(), d.numQueues(), d.queueSize()));
        } catch (RuntimeException e) {
            throw new ProtocolException(m.name() + ": cannot map the inflight area: " + e.getMessage(), e);
        }
    }

    private void replaceInflight(InflightArea area) {
        if (inflight != null) {
            inflight.close();
        }
        inflight = area;
        inflightTooSmallReported = false;
    }

}
