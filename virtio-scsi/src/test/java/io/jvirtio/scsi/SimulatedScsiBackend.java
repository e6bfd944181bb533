package io.jvirtio.scsi;

import io.jvirtio.core.TransportUnsupportedException;
import java.util.OptionalInt;
import io.jvirtio.spec.scsi.ScsiSpec;

import io.jvirtio.core.QueueSetup;
import io.jvirtio.core.VirtioBackendOps;
import io.jvirtio.spec.VirtioFeatures;
import io.jvirtio.spec.VirtioStatus;
import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.core.mem.MemoryDomain;
import io.jvirtio.core.ring.SimulatedDevice;
import io.jvirtio.core.ring.SimulatedDevice.Buffer;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

import static io.jvirtio.spec.scsi.ScsiSpec.BE_INT;
import static io.jvirtio.spec.scsi.ScsiSpec.BE_LONG;
import static io.jvirtio.spec.scsi.ScsiSpec.BE_SHORT;
import static io.jvirtio.spec.scsi.VirtioScsiSpec.*;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * Test fixture: a small virtio-scsi device behind {@link VirtioBackendOps}, in this process, over
 * {@link SimulatedDevice} rings; kicks process the request and control queues inline. It answers the
 * commands jvirtio sends from RAM LUNs and lets a test answer any command itself ({@link #intercept}):
 * SCSI statuses, descriptor sense, an unwritten response, short transfers, which the Java target
 * cannot produce. The event queue is filled on demand ({@link #sendEvent}).
 */
final class SimulatedScsiBackend implements VirtioBackendOps {
    /** A LUN: RAM of {@code blocks} x {@code blockSize}, its peripheral device type. */
    static final class Lun {
        final int blockSize;
        volatile long blocks;
        final byte[] data;
        int deviceType = ScsiSpec.TYPE_DISK;
        boolean thin = true;

        Lun(int blockSize, long blocks) {
            this.blockSize = blockSize;
            this.blocks = blocks;
            this.data = new byte[Math.toIntExact(blockSize * blocks)];
        }
    }

    /** A command as the device saw it. */
    record Cmd(int queue, int target, int lunAddress, byte[] cdb, byte[] dataOut, int dataInLength, int requestBytes,
               int responseBytes) {
        int opcode() {
            return cdb[0] & 0xFF;
        }
    }

    /**
     * What to answer.
     *
     * @param response      virtio response (-1: leave the response unwritten)
     * @param status        SCSI status
     * @param sense         sense bytes, or null
     * @param dataIn        data-in bytes, or null
     * @param residual      the residual to report, or -1 for the true one
     * @param usedLen       the used element's len to report, or -1 for the bytes written
     */
    record Reply(int response, int status, byte[] sense, byte[] dataIn, long residual, long usedLen) {
        Reply(int response, int status, byte[] sense, byte[] dataIn, long residual) {
            this(response, status, sense, dataIn, residual, -1);
        }

        static Reply good(byte[] dataIn) {
            return new Reply(VIRTIO_SCSI_S_OK, ScsiSpec.STATUS_GOOD, null, dataIn, -1);
        }

        static Reply status(int status) {
            return new Reply(VIRTIO_SCSI_S_OK, status, null, null, -1);
        }

        static Reply check(int key, int asc, int ascq) {
            byte[] s = new byte[18];
            s[0] = 0x70;
            s[2] = (byte) key;
            s[7] = 10;
            s[12] = (byte) asc;
            s[13] = (byte) ascq;
            return new Reply(VIRTIO_SCSI_S_OK, ScsiSpec.STATUS_CHECK_CONDITION, s, null, -1);
        }

        static Reply response(int response) {
            return new Reply(response, 0, null, null, -1);
        }
    }

    private final byte[] config = new byte[CFG_SIZE];
    private final MemorySegment cfg = MemorySegment.ofArray(config);
    private long offered = VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_VERSION_1) | VirtioFeatures.bit(VirtioFeatures.VIRTIO_RING_F_INDIRECT_DESC)
            | VirtioFeatures.bit(VirtioFeatures.VIRTIO_RING_F_EVENT_IDX) | VirtioFeatures.bit(VIRTIO_SCSI_F_HOTPLUG)
            | VirtioFeatures.bit(VIRTIO_SCSI_F_CHANGE);
    private long driverFeatures;
    private volatile int status;
    private boolean noConfig;
    private boolean unknownQueueCount;
    private final Map<Integer, SimulatedDevice> queues = new ConcurrentHashMap<>();
    private final Map<Long, Lun> luns = new ConcurrentHashMap<>();
    private final List<Cmd> commands = new ArrayList<>();
    private final List<Integer> tmfs = new ArrayList<>();
    private volatile Function<Cmd, Reply> intercept = c -> null;
    private volatile boolean destructed;
    private volatile boolean autoProcess = true;
    private MemoryDomain memory;
    private volatile int maxQueueSize = 1024;
    private volatile String outsideDomain;

    SimulatedScsiBackend() {
        cfg.set(LE_INT, CFG_NUM_QUEUES, 2);
        cfg.set(LE_INT, CFG_SEG_MAX, 126);
        cfg.set(LE_INT, CFG_MAX_SECTORS, 0xFFFF);
        cfg.set(LE_INT, CFG_CMD_PER_LUN, 128);
        cfg.set(LE_INT, CFG_EVENT_INFO_SIZE, EVENT_SIZE);
        cfg.set(LE_INT, CFG_SENSE_SIZE, DEFAULT_SENSE_SIZE);
        cfg.set(LE_INT, CFG_CDB_SIZE, DEFAULT_CDB_SIZE);
        cfg.set(LE_SHORT, CFG_MAX_TARGET, (short) 3);
        cfg.set(LE_INT, CFG_MAX_LUN, 255);
    }

    // ------------------------------------------------------------ configuration

    SimulatedScsiBackend config(int offset, int value) {
        if (offset == CFG_MAX_TARGET || offset == CFG_MAX_CHANNEL) {
            cfg.set(LE_SHORT, offset, (short) value);
        } else {
            cfg.set(LE_INT, offset, value);
        }
        return this;
    }

    /** readDevConfig throws TransportUnsupportedException, as a transport without config space does. */
    SimulatedScsiBackend noConfig() {
        noConfig = true;
        return this;
    }

    /** getMaxQueues answers empty, as a transport that does not know the device's queue count does. */
    SimulatedScsiBackend unknownQueueCount() {
        unknownQueueCount = true;
        return this;
    }

    SimulatedScsiBackend withdraw(int feature) {
        offered &= ~VirtioFeatures.bit(feature);
        return this;
    }

    Lun addLun(int target, int lun, int blockSize, long blocks) {
        Lun l = new Lun(blockSize, blocks);
        luns.put(key(target, lun), l);
        return l;
    }

    void removeLun(int target, int lun) {
        luns.remove(key(target, lun));
    }

    Lun lun(int target, int lun) {
        return luns.get(key(target, lun));
    }

    /** @param auto whether a kick on a request queue processes it inline (default true) */
    SimulatedScsiBackend autoProcess(boolean auto) {
        autoProcess = auto;
        for (Map.Entry<Integer, SimulatedDevice> e : queues.entrySet()) {
            if (e.getKey() >= REQUESTQ_BASE) {
                e.getValue().processOnNotify(auto);
            }
        }
        return this;
    }

    /** Processes what is available on queue {@code q}; @return requests completed */
    int process(int q) {
        return queues.get(q).process();
    }

    /** @return requests available on queue {@code q} and not processed */
    int pending(int q) {
        return queues.get(q).pending();
    }

    /** Answers commands for which {@code f} returns a reply; null: the default behaviour. */
    void intercept(Function<Cmd, Reply> f) {
        intercept = f;
    }

    VirtioScsiController attach(VirtioScsiOptions options) {
        memory = MemoryDomain.create("sim", options.memoryBytes(), HugePagePolicy.NEVER);
        return VirtioScsiController.attach("Sim", this, memory, true, options);
    }

    /** As {@link #attach}, with one request queue per device queue ({@link VirtioScsiController#attachWithDeviceQueues}). */
    VirtioScsiController attachWithDeviceQueues(VirtioScsiOptions options) {
        memory = MemoryDomain.create("sim", options.memoryBytes(), HugePagePolicy.NEVER);
        return VirtioScsiController.attachWithDeviceQueues("Sim", this, memory, true, options);
    }

    /** The largest queue the device takes (default 1024); a PCI device reports its own, e.g. QEMU's 256. */
    SimulatedScsiBackend maxQueueSize(int size) {
        maxQueueSize = size;
        return this;
    }

    static VirtioScsiOptions options() {
        return ScsiTestSupport.testOptions().withQueueSize(64);
    }

    /** @return the memory domain {@link #attach} created, or null */
    MemoryDomain memory() {
        return memory;
    }

    synchronized List<Cmd> commands() {
        return List.copyOf(commands);
    }

    synchronized void clearCommands() {
        commands.clear();
    }

    synchronized List<Integer> tmfs() {
        return List.copyOf(tmfs);
    }

    boolean destructed() {
        return destructed;
    }

    /** Fills one posted event buffer with an event. */
    void sendEvent(int event, int target, int lunAddress, int reason) {
        SimulatedDevice evq = queues.get(EVENTQ);
        evq.handler((readable, writable) -> {
            MemorySegment b = writable.getFirst().segment();
            b.set(LE_INT, EVENT_EVENT, event);
            b.set(JAVA_BYTE, EVENT_LUN, (byte) 1);
            b.set(JAVA_BYTE, EVENT_LUN + 1, (byte) target);
            b.set(JAVA_BYTE, EVENT_LUN + 2, (byte) (lunAddress >> 8));
            b.set(JAVA_BYTE, EVENT_LUN + 3, (byte) lunAddress);
            b.set(LE_INT, EVENT_REASON, reason);
            return EVENT_SIZE;
        });
        if (evq.process(1) != 1) {
            throw new IllegalStateException("no event buffer posted");
        }
    }

    /** Fills one posted event buffer with raw bytes. */
    void sendRawEvent(byte[] bytes) {
        sendRawEvent(bytes, bytes.length);
    }

    /**
     * Fills one posted event buffer with as much of {@code bytes} as it holds and reports {@code usedLen}
     * (any value: a lying device).
     *
     * @return whether a buffer was posted to fill
     */
    boolean sendRawEvent(byte[] bytes, int usedLen) {
        SimulatedDevice evq = queues.get(EVENTQ);
        if (evq == null) {
            return false;
        }
        evq.handler((readable, writable) -> {
            checkInDomain(EVENTQ, readable);
            checkInDomain(EVENTQ, writable);
            MemorySegment b = writable.getFirst().segment();
            MemorySegment.copy(MemorySegment.ofArray(bytes), 0, b, 0, Math.min(bytes.length, b.byteSize()));
            return usedLen;
        });
        return evq.process(1) == 1;
    }

    /** @return the first buffer the driver posted outside its memory domain, or null: a device cannot reach such memory */
    String outsideDomain() {
        return outsideDomain;
    }

    private void checkInDomain(int queue, List<Buffer> buffers) {
        MemoryDomain m = memory;
        for (Buffer b : buffers) {
            if (m != null && !m.contains(b.address(), Integer.toUnsignedLong(b.length()))) {
                String what = "queue " + queue + ": buffer 0x" + Long.toHexString(b.address()) + " + " + Integer.toUnsignedString(b.length())
                        + " outside the memory domain";
                if (outsideDomain == null) {
                    outsideDomain = what;
                }
                throw new IllegalStateException(what);
            }
        }
    }

    /** @return what the device answers {@code c} when it behaves (no intercept) */
    Reply honest(Cmd c) {
        return execute(c);
    }

    int postedEventBuffers() {
        return queues.get(EVENTQ).pending();
    }

    private static long key(int target, int lun) {
        return ((long) target << 32) | lun;
    }

    // ------------------------------------------------------------ the device

    private int handle(int queue, List<Buffer> readable, List<Buffer> writable) {
        checkInDomain(queue, readable);
        checkInDomain(queue, writable);
        if (queue == CONTROLQ) {
            MemorySegment req = readable.getFirst().segment();
            synchronized (this) {
                tmfs.add(req.get(LE_INT, TMF_SUBTYPE));
            }
            writable.getFirst().segment().set(JAVA_BYTE, 0, (byte) VIRTIO_SCSI_S_FUNCTION_COMPLETE);
            return 1;
        }
        int cdbSize = cfg.get(LE_INT, CFG_CDB_SIZE);
        int senseSize = cfg.get(LE_INT, CFG_SENSE_SIZE);
        MemorySegment req = readable.getFirst().segment();
        int target = Byte.toUnsignedInt(req.get(JAVA_BYTE, 1));
        int address = Short.toUnsignedInt(req.get(BE_SHORT, 2));
        byte[] cdb = req.asSlice(REQ_CDB, cdbSize).toArray(JAVA_BYTE);
        long outLen = 0;
        for (int i = 1; i < readable.size(); i++) {
            outLen += readable.get(i).length();
        }
        byte[] out = new byte[(int) outLen];
        int at = 0;
        for (int i = 1; i < readable.size(); i++) {
            MemorySegment.copy(readable.get(i).segment(), 0, MemorySegment.ofArray(out), at, readable.get(i).length());
            at += readable.get(i).length();
        }
        long inLen = 0;
        for (int i = 1; i < writable.size(); i++) {
            inLen += writable.get(i).length();
        }
        Cmd cmd = new Cmd(queue, target, address, cdb, out, (int) inLen, readable.getFirst().length(), writable.getFirst().length());
        synchronized (this) {
            commands.add(cmd);
        }
        Reply r = intercept.apply(cmd);
        if (r == null) {
            r = execute(cmd);
        }
        MemorySegment resp = writable.getFirst().segment();
        int dataIn = 0;
        if (r.dataIn != null) {
            dataIn = (int) Math.min(r.dataIn.length, inLen);
            int left = dataIn;
            int src = 0;
            for (int i = 1; i < writable.size() && left > 0; i++) {
                int n = Math.min(left, writable.get(i).length());
                MemorySegment.copy(MemorySegment.ofArray(r.dataIn), src, writable.get(i).segment(), 0, n);
                src += n;
                left -= n;
            }
        }
        if (r.response >= 0) {
            int senseLen = r.sense == null ? 0 : Math.min(r.sense.length, senseSize);
            resp.set(LE_INT, RESP_SENSE_LEN, senseLen);
            long residual = r.residual >= 0 ? r.residual : (inLen > 0 ? inLen - dataIn : 0);
            resp.set(LE_INT, RESP_RESIDUAL, (int) residual);
            resp.set(JAVA_BYTE, RESP_STATUS, (byte) r.status);
            resp.set(JAVA_BYTE, RESP_RESPONSE, (byte) r.response);
            if (senseLen > 0) {
                MemorySegment.copy(MemorySegment.ofArray(r.sense), 0, resp, RESP_SENSE, senseLen);
            }
        }
        return r.usedLen >= 0 ? (int) r.usedLen : writable.getFirst().length() + dataIn;
    }

    private Reply execute(Cmd c) {
        TreeMap<Integer, Lun> targetLuns = new TreeMap<>();
        for (Map.Entry<Long, Lun> e : luns.entrySet()) {
            if ((int) (e.getKey() >> 32) == c.target()) {
                targetLuns.put((int) (long) e.getKey(), e.getValue());
            }
        }
        if (targetLuns.isEmpty()) {
            return Reply.response(VIRTIO_SCSI_S_BAD_TARGET);
        }
        int lunNo = EventQueue.decodeLun(c.lunAddress() >> 8, c.lunAddress() & 0xFF);
        Lun lun = targetLuns.get(lunNo);
        MemorySegment cdb = MemorySegment.ofArray(c.cdb());
        switch (c.opcode()) {
            case ScsiSpec.REPORT_LUNS -> {
                byte[] d = new byte[8 + 8 * targetLuns.size()];
                MemorySegment s = MemorySegment.ofArray(d);
                s.set(BE_INT, 0, 8 * targetLuns.size());
                int p = 8;
                for (int l : targetLuns.keySet()) {
                    s.set(BE_SHORT, p, (short) (l < 256 ? l : 0x4000 | l));
                    p += 8;
                }
                return Reply.good(d);
            }
            case ScsiSpec.INQUIRY -> {
                boolean evpd = (c.cdb()[1] & 1) != 0;
                int page = c.cdb()[2] & 0xFF;
                if (!evpd) {
                    byte[] d = new byte[96];
                    d[0] = (byte) (lun == null ? 0x7F : lun.deviceType);
                    d[2] = 6;
                    d[4] = 91;
                    System.arraycopy("SIMVENDR".getBytes(), 0, d, 8, 8);
                    System.arraycopy("SIMULATED LUN   ".getBytes(), 0, d, 16, 16);
                    System.arraycopy("0001".getBytes(), 0, d, 32, 4);
                    return Reply.good(d);
                }
                if (lun == null) {
                    return Reply.check(ScsiSpec.KEY_ILLEGAL_REQUEST, 0x25, 0);
                }
                return switch (page) {
                    case 0x00 -> Reply.good(lun.thin ? new byte[] {0, 0, 0, 3, 0, (byte) 0xB0, (byte) 0xB2} : new byte[] {0, 0, 0, 2, 0, (byte) 0xB0});
                    case 0xB0 -> {
                        byte[] d = new byte[64];
                        MemorySegment s = MemorySegment.ofArray(d);
                        d[1] = (byte) 0xB0;
                        s.set(BE_SHORT, 2, (short) 0x3C);
                        s.set(BE_INT, 8, 256);               // max transfer
                        s.set(BE_INT, 20, 1024);             // max unmap
                        s.set(BE_INT, 24, 4);
                        s.set(BE_LONG, 36, 1024);
                        yield Reply.good(d);
                    }
                    case 0xB2 -> Reply.good(new byte[] {0, (byte) 0xB2, 0, 4, 0, (byte) 0xC4, 2, 0});
                    default -> Reply.check(ScsiSpec.KEY_ILLEGAL_REQUEST, 0x24, 0);
                };
            }
            default -> {
            }
        }
        if (lun == null) {
            return Reply.check(ScsiSpec.KEY_ILLEGAL_REQUEST, 0x25, 0);
        }
        int bs = lun.blockSize;
        return switch (c.opcode()) {
            case ScsiSpec.TEST_UNIT_READY, ScsiSpec.START_STOP_UNIT, ScsiSpec.SYNCHRONIZE_CACHE_10, ScsiSpec.SYNCHRONIZE_CACHE_16 -> Reply.good(null);
            case 0x1A -> Reply.good(new byte[] {3, 0, 0, 0});
            case ScsiSpec.READ_CAPACITY_10 -> {
                byte[] d = new byte[8];
                MemorySegment s = MemorySegment.ofArray(d);
                s.set(BE_INT, 0, (int) Math.min(lun.blocks - 1, 0xFFFF_FFFFL));
                s.set(BE_INT, 4, bs);
                yield Reply.good(d);
            }
            case ScsiSpec.SERVICE_ACTION_IN_16 -> {
                byte[] d = new byte[32];
                MemorySegment s = MemorySegment.ofArray(d);
                s.set(BE_LONG, 0, lun.blocks - 1);
                s.set(BE_INT, 8, bs);
                d[14] = (byte) (lun.thin ? 0xC0 : 0);
                yield Reply.good(d);
            }
            case ScsiSpec.READ_10, ScsiSpec.READ_16, ScsiSpec.WRITE_10, ScsiSpec.WRITE_16 -> {
                boolean ten = c.opcode() == ScsiSpec.READ_10 || c.opcode() == ScsiSpec.WRITE_10;
                long lba = ten ? Integer.toUnsignedLong(cdb.get(BE_INT, 2)) : cdb.get(BE_LONG, 2);
                long n = ten ? Short.toUnsignedInt(cdb.get(BE_SHORT, 7)) : Integer.toUnsignedLong(cdb.get(BE_INT, 10));
                if (lba < 0 || lba + n > lun.blocks) {
                    yield Reply.check(ScsiSpec.KEY_ILLEGAL_REQUEST, 0x21, 0);
                }
                boolean read = c.opcode() == ScsiSpec.READ_10 || c.opcode() == ScsiSpec.READ_16;
                if ((read ? c.dataInLength() : c.dataOut().length) < n * bs) {
                    // a driver that took another block size than the LUN's (a lied READ CAPACITY): data shorter than the CDB says
                    yield Reply.check(ScsiSpec.KEY_ILLEGAL_REQUEST, 0x24, 0);
                }
                if (c.opcode() == ScsiSpec.READ_10 || c.opcode() == ScsiSpec.READ_16) {
                    byte[] d = new byte[(int) (n * bs)];
                    System.arraycopy(lun.data, (int) (lba * bs), d, 0, d.length);
                    yield Reply.good(d);
                }
                System.arraycopy(c.dataOut(), 0, lun.data, (int) (lba * bs), (int) (n * bs));
                yield Reply.good(null);
            }
            case ScsiSpec.UNMAP, ScsiSpec.WRITE_SAME_16 -> Reply.good(null);
            default -> Reply.check(ScsiSpec.KEY_ILLEGAL_REQUEST, 0x20, 0);
        };
    }

    // ------------------------------------------------------------ VirtioBackendOps

    @Override
    public String transportType() {
        return "sim";
    }

    @Override
    public void readDevConfig(long offset, MemorySegment dst) {
        if (noConfig) {
            throw new TransportUnsupportedException("sim: no config space");
        }
        MemorySegment.copy(cfg, offset, dst, 0, dst.byteSize());
    }

    @Override
    public void writeDevConfig(long offset, MemorySegment src) {
        MemorySegment.copy(src, 0, cfg, offset, src.byteSize());
    }

    @Override
    public int getStatus() {
        return status;
    }

    @Override
    public synchronized void setStatus(int newStatus) {
        status = newStatus;
        if (newStatus == VirtioStatus.RESET) {
            for (SimulatedDevice d : queues.values()) {
                d.close();
            }
            queues.clear();
        }
    }

    @Override
    public long getFeatures() {
        return offered;
    }

    @Override
    public synchronized void setFeatures(long features) {
        driverFeatures = features;
    }

    synchronized long driverFeatures() {
        return driverFeatures;
    }

    @Override
    public OptionalInt getMaxQueues() {
        return unknownQueueCount ? OptionalInt.empty() : OptionalInt.of(FIXED_QUEUES + cfg.get(LE_INT, CFG_NUM_QUEUES));
    }

    @Override
    public int getQueueSize(int index) {
        return maxQueueSize;
    }

    @Override
    public void setupQueue(QueueSetup q) {
        boolean eventIdx = VirtioFeatures.has(driverFeatures, VirtioFeatures.VIRTIO_RING_F_EVENT_IDX);
        SimulatedDevice d = new SimulatedDevice(q.size(), q.descAddress(), q.availAddress(), q.usedAddress(), eventIdx);
        int index = q.index();
        d.handler((readable, writable) -> handle(index, readable, writable));
        d.processOnNotify(index == CONTROLQ || (index >= REQUESTQ_BASE && autoProcess));
        queues.put(index, d);
    }

    @Override
    public int deleteQueue(int index) {
        SimulatedDevice d = queues.remove(index);
        if (d != null) {
            d.close();
        }
        return -1;
    }

    @Override
    public void notifyQueue(int index) {
        SimulatedDevice d = queues.get(index);
        if (d != null) {
            d.notifyQueue(null);
        }
    }

    @Override
    public void destruct() {
        destructed = true;
    }

    @Override
    public Map<String, Object> dumpJsonInfo() {
        return Map.of("type", "sim");
    }

    @Override
    public Map<String, Object> writeJsonConfig() {
        return Map.of("trtype", "sim");
    }
}
