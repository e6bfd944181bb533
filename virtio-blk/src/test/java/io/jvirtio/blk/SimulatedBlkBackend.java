package io.jvirtio.blk;

import java.util.OptionalInt;
import io.jvirtio.core.DeviceException;
import io.jvirtio.core.QueueSetup;
import io.jvirtio.core.VirtioBackendOps;
import io.jvirtio.spec.VirtioFeatures;
import io.jvirtio.spec.VirtioStatus;
import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.core.mem.MemoryDomain;
import io.jvirtio.core.ring.SimulatedDevice;
import io.jvirtio.core.ring.SimulatedDevice.Buffer;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.function.Predicate;

import static io.jvirtio.spec.blk.VirtioBlkSpec.*;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * Test fixture: a RAM virtio-blk device behind {@link VirtioBackendOps}, in the same process. It keeps
 * status and features as a device does, serves a {@code struct virtio_blk_config} built from its setters,
 * and runs one {@link SimulatedDevice} per queue over the ring addresses the driver gives it. Its request
 * handler executes IN/OUT/FLUSH/GET_ID/DISCARD/WRITE_ZEROES on the RAM disk and records every request, so
 * tests can assert how the driver split their I/O.
 *
 * <p>By default a kick processes the queue inline (deterministic, no thread); {@link #autoProcess(boolean)
 * autoProcess(false)} leaves requests on the ring until the test calls {@link #process}.
 */
final class SimulatedBlkBackend implements VirtioBackendOps {
    /** One discard / write-zeroes segment as the device read it. */
    record Range(long sector, int numSectors, int flags) {
    }

    /**
     * One request as the device saw it.
     *
     * @param queue    the queue it came on
     * @param type     {@code VIRTIO_BLK_T_*}
     * @param sector   the header's sector (0 for discard/write-zeroes, whose sectors are in {@code ranges})
     * @param segments lengths of the data buffers (between header and status)
     * @param ranges   discard / write-zeroes segments
     * @param status   the status the device answered (or meant to, when it did not write it)
     * @param data     for OUT, the bytes written
     */
    record Request(int queue, int type, long sector, List<Integer> segments, List<Range> ranges, int status, byte[] data) {
        long dataBytes() {
            return segments.stream().mapToLong(Integer::longValue).sum();
        }
    }

    /**
     * What a lying device reports for a request it executed.
     *
     * @param status  the status byte to write, or -1 to leave it unwritten
     * @param usedLen the used element's len, or -1 for the bytes written
     */
    record Lie(int status, long usedLen) {
    }

    static final String SERIAL = "jvirtio-sim-serial";

    private final byte[] config = new byte[64];
    private final MemorySegment cfg = MemorySegment.ofArray(config);
    private final MemorySegment disk;
    private final long capacityBytes;
    private long offered = VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_VERSION_1) | VirtioFeatures.bit(VIRTIO_BLK_F_FLUSH);
    private long driverFeatures;
    private volatile int status;
    private final List<Integer> statusHistory = new ArrayList<>();
    private boolean refuseFeaturesOk;
    private OptionalInt maxQueues = OptionalInt.empty();
    private int maxQueueSize = 1024;
    private final Map<Integer, SimulatedDevice> queues = new ConcurrentHashMap<>();
    private final List<Integer> deletedQueues = new ArrayList<>();
    private volatile boolean autoProcess = true;
    private volatile boolean destructed;
    private MemoryDomain memory;

    // Everything below is touched by the request handler and guarded by `lock`. Never call into a
    // SimulatedDevice while holding it: process() holds the device's monitor and then takes this one.
    private final Object lock = new Object();
    private final List<Request> requests = new ArrayList<>();
    private int failNextCount;
    private int failNextStatus;
    private Predicate<Request> failWhen;
    private int failWhenStatus;
    private int dropStatusCount;
    private Function<Request, Lie> lie;
    private int flushes;

    /** @param capacitySectors the disk size in 512-byte sectors */
    SimulatedBlkBackend(long capacitySectors) {
        this.capacityBytes = capacitySectors << SECTOR_SHIFT;
        this.disk = MemorySegment.ofArray(new byte[Math.toIntExact(capacityBytes)]);
        cfg.set(LE_LONG, CFG_CAPACITY, capacitySectors);
        cfg.set(LE_INT, CFG_BLK_SIZE, SECTOR_SIZE);
    }

    /** A 4 MiB disk. */
    SimulatedBlkBackend() {
        this(8192);
    }

    // ------------------------------------------------------------ configuration (before attach)

    SimulatedBlkBackend offer(int feature) {
        offered |= VirtioFeatures.bit(feature);
        return this;
    }

    SimulatedBlkBackend withdraw(int feature) {
        offered &= ~VirtioFeatures.bit(feature);
        return this;
    }

    SimulatedBlkBackend sizeMax(int bytes) {
        cfg.set(LE_INT, CFG_SIZE_MAX, bytes);
        return offer(VIRTIO_BLK_F_SIZE_MAX);
    }

    SimulatedBlkBackend segMax(int segments) {
        cfg.set(LE_INT, CFG_SEG_MAX, segments);
        return offer(VIRTIO_BLK_F_SEG_MAX);
    }

    SimulatedBlkBackend blkSize(int bytes) {
        cfg.set(LE_INT, CFG_BLK_SIZE, bytes);
        return offer(VIRTIO_BLK_F_BLK_SIZE);
    }

    SimulatedBlkBackend numQueues(int n) {
        cfg.set(LE_SHORT, CFG_NUM_QUEUES, (short) n);
        return offer(VIRTIO_BLK_F_MQ);
    }

    SimulatedBlkBackend discard(int maxSectors, int maxSeg) {
        cfg.set(LE_INT, CFG_MAX_DISCARD_SECTORS, maxSectors);
        cfg.set(LE_INT, CFG_MAX_DISCARD_SEG, maxSeg);
        cfg.set(LE_INT, CFG_DISCARD_SECTOR_ALIGNMENT, 1);
        return offer(VIRTIO_BLK_F_DISCARD);
    }

    SimulatedBlkBackend writeZeroes(int maxSectors, int maxSeg) {
        cfg.set(LE_INT, CFG_MAX_WRITE_ZEROES_SECTORS, maxSectors);
        cfg.set(LE_INT, CFG_MAX_WRITE_ZEROES_SEG, maxSeg);
        return offer(VIRTIO_BLK_F_WRITE_ZEROES);
    }

    SimulatedBlkBackend readOnly() {
        return offer(VIRTIO_BLK_F_RO);
    }

    SimulatedBlkBackend indirect() {
        return offer(VirtioFeatures.VIRTIO_RING_F_INDIRECT_DESC);
    }

    SimulatedBlkBackend eventIdx() {
        return offer(VirtioFeatures.VIRTIO_RING_F_EVENT_IDX);
    }

    SimulatedBlkBackend maxQueueSize(int size) {
        maxQueueSize = size;
        return this;
    }

    SimulatedBlkBackend transportMaxQueues(int n) {
        maxQueues = OptionalInt.of(n);
        return this;
    }

    /** The device clears FEATURES_OK when the driver sets it, as a device that dislikes the features would. */
    SimulatedBlkBackend refuseFeaturesOk() {
        refuseFeaturesOk = true;
        return this;
    }

    /** @param auto whether a kick processes the queue right away (default true) */
    SimulatedBlkBackend autoProcess(boolean auto) {
        autoProcess = auto;
        return this;
    }

    /** Attaches over this backend with a memory domain of its own that the bdev owns. */
    VirtioBlkDevice attach(VirtioBlkOptions options) {
        memory = MemoryDomain.create("sim", options.memoryBytes(), HugePagePolicy.NEVER);
        return VirtioBlkDevice.attach("sim0", this, memory, true, options);
    }

    /** As {@link #attach}, with one request queue per device queue ({@link VirtioBlkDevice#attachWithDeviceQueues}). */
    VirtioBlkDevice attachWithDeviceQueues(VirtioBlkOptions options) {
        memory = MemoryDomain.create("sim", options.memoryBytes(), HugePagePolicy.NEVER);
        return VirtioBlkDevice.attachWithDeviceQueues("sim0", this, memory, true, options);
    }

    /** Small defaults for unit tests: one queue of 64, 4 KiB pages, 16 MiB of device memory. */
    static VirtioBlkOptions options() {
        return new VirtioBlkOptions(1, 64, 0, HugePagePolicy.NEVER, 16L << 20);
    }

    // ------------------------------------------------------------ fault knobs

    /** The next {@code n} requests are not executed and complete with {@code statusByte} (any value). */
    void failNext(int statusByte, int n) {
        synchronized (lock) {
            failNextStatus = statusByte;
            failNextCount = n;
        }
    }

    /** Every request matching {@code which} (type, sector, segments) completes with {@code statusByte}, unexecuted. */
    void failWhen(Predicate<Request> which, int statusByte) {
        synchronized (lock) {
            failWhen = which;
            failWhenStatus = statusByte;
        }
    }

    /**
     * Every request is executed, then {@code f} is given it with the status the device meant and may
     * replace that status and the used len (null: the honest answer). Called under the device's lock.
     */
    void lie(Function<Request, Lie> f) {
        synchronized (lock) {
            lie = f;
        }
    }

    /** The next {@code n} requests are executed but their status byte is never written. */
    void dropStatusNext(int n) {
        synchronized (lock) {
            dropStatusCount = n;
        }
    }

    /** Ring misbehaviour on queue {@code q}, see {@link SimulatedDevice.Fault}. */
    void ringFault(int q, SimulatedDevice.Fault fault) {
        queue(q).injectFault(fault);
    }

    // ------------------------------------------------------------ inspection

    /** @return the simulated device of queue {@code q} (for process(max), faults, counters) */
    SimulatedDevice queue(int q) {
        SimulatedDevice d = queues.get(q);
        if (d == null) {
            throw new IllegalStateException("queue " + q + " is not set up");
        }
        return d;
    }

    /** Processes everything available on queue {@code q}. */
    int process(int q) {
        return queue(q).process();
    }

    List<Request> requests() {
        synchronized (lock) {
            return List.copyOf(requests);
        }
    }

    void clearRequests() {
        synchronized (lock) {
            requests.clear();
        }
    }

    int flushes() {
        synchronized (lock) {
            return flushes;
        }
    }

    /** @return the RAM disk itself: tests read and write it directly */
    MemorySegment disk() {
        return disk;
    }

    byte[] diskBytes(long offset, int length) {
        return disk.asSlice(offset, length).toArray(JAVA_BYTE);
    }

    synchronized List<Integer> statusHistory() {
        return List.copyOf(statusHistory);
    }

    synchronized List<Integer> deletedQueues() {
        return List.copyOf(deletedQueues);
    }

    int status() {
        return status;
    }

    synchronized long driverFeatures() {
        return driverFeatures;
    }

    boolean destructed() {
        return destructed;
    }

    /** @return the memory domain {@link #attach} created, or null */
    MemoryDomain memory() {
        return memory;
    }

    int activeQueues() {
        return queues.size();
    }

    // ------------------------------------------------------------ VirtioBackendOps

    @Override
    public String transportType() {
        return "sim";
    }

    @Override
    public void readDevConfig(long offset, MemorySegment dst) {
        if (offset < 0 || offset + dst.byteSize() > config.length) {
            throw new DeviceException("sim: config read of " + dst.byteSize() + " bytes at " + offset + " beyond " + config.length);
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
    public void setStatus(int newStatus) {
        synchronized (this) {
            statusHistory.add(newStatus);
            if (newStatus == VirtioStatus.RESET) {
                driverFeatures = 0;
            }
            boolean featuresOkNow = (newStatus & VirtioStatus.FEATURES_OK) != 0 && (status & VirtioStatus.FEATURES_OK) == 0;
            if (featuresOkNow && (refuseFeaturesOk || (driverFeatures & ~offered) != 0)) {
                newStatus &= ~VirtioStatus.FEATURES_OK;
            }
            status = newStatus;
        }
        if (newStatus == VirtioStatus.RESET) {
            queues.clear(); // a reset stops every queue
        }
    }

    @Override
    public long getFeatures() {
        return offered;
    }

    @Override
    public synchronized void setFeatures(long features) {
        if ((status & VirtioStatus.FEATURES_OK) != 0) {
            throw new IllegalStateException("sim: features set after FEATURES_OK");
        }
        driverFeatures = features;
    }

    @Override
    public OptionalInt getMaxQueues() {
        return maxQueues;
    }

    @Override
    public int getQueueSize(int index) {
        return maxQueueSize;
    }

    @Override
    public void setupQueue(QueueSetup q) {
        boolean eventIdx = VirtioFeatures.has(driverFeatures(), VirtioFeatures.VIRTIO_RING_F_EVENT_IDX);
        SimulatedDevice d = new SimulatedDevice(q.size(), q.descAddress(), q.availAddress(), q.usedAddress(), eventIdx);
        int index = q.index();
        d.handler((readable, writable) -> handle(index, readable, writable));
        queues.put(index, d);
    }

    @Override
    public int deleteQueue(int index) {
        synchronized (this) {
            deletedQueues.add(index);
        }
        SimulatedDevice d = queues.remove(index);
        if (d != null) {
            d.close();
        }
        return -1;
    }

    @Override
    public void notifyQueue(int index) {
        if ((status & VirtioStatus.DRIVER_OK) == 0) {
            throw new IllegalStateException("sim: kick on queue " + index + " before DRIVER_OK (status " + VirtioStatus.describe(status) + ")");
        }
        SimulatedDevice d = queue(index);
        d.notifyQueue(null);
        if (autoProcess) {
            d.process();
        }
    }

    @Override
    public void destruct() {
        destructed = true;
        queues.clear();
    }

    @Override
    public Map<String, Object> dumpJsonInfo() {
        return Map.of("type", "sim");
    }

    @Override
    public Map<String, Object> writeJsonConfig() {
        return Map.of("trtype", "sim");
    }

    // ------------------------------------------------------------ the device

    /** Parses and executes one request; the layout checks are the driver's contract with any virtio-blk device. */
    private int handle(int q, List<Buffer> readable, List<Buffer> writable) {
        if (readable.isEmpty() || readable.getFirst().length() != REQ_HEADER_SIZE) {
            throw new IllegalStateException("sim: request without a " + REQ_HEADER_SIZE + "-byte header first: " + readable);
        }
        if (writable.isEmpty() || writable.getLast().length() != 1) {
            throw new IllegalStateException("sim: request without a 1-byte status buffer last: " + writable);
        }
        MemorySegment header = readable.getFirst().segment();
        int type = header.get(LE_INT, REQ_TYPE);
        long sector = header.get(LE_LONG, REQ_SECTOR);
        List<Buffer> in = readable.subList(1, readable.size());
        List<Buffer> out = writable.subList(0, writable.size() - 1);
        List<Integer> segments = new ArrayList<>();
        (type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID ? out : in).forEach(b -> segments.add(b.length()));
        List<Range> ranges = new ArrayList<>();
        if (type == VIRTIO_BLK_T_DISCARD || type == VIRTIO_BLK_T_WRITE_ZEROES) {
            for (Buffer b : in) {
                for (long off = 0; off + DWZ_SIZE <= b.length(); off += DWZ_SIZE) {
                    ranges.add(new Range(b.segment().get(LE_LONG, off + DWZ_SECTOR), b.segment().get(LE_INT, off + DWZ_NUM_SECTORS),
                            b.segment().get(LE_INT, off + DWZ_FLAGS)));
                }
            }
        }
        byte[] data = type == VIRTIO_BLK_T_OUT ? concat(in) : null;
        synchronized (lock) {
            Request seen = new Request(q, type, sector, List.copyOf(segments), List.copyOf(ranges), VIRTIO_BLK_S_OK, data);
            int st;
            int written = 0;
            if (failNextCount > 0) {
                failNextCount--;
                st = failNextStatus;
            } else if (failWhen != null && failWhen.test(seen)) {
                st = failWhenStatus;
            } else {
                long[] w = new long[1];
                st = execute(type, sector, in, out, ranges, w);
                written = (int) w[0];
            }
            Request done = new Request(q, type, sector, seen.segments(), seen.ranges(), st, data);
            requests.add(done);
            Lie l = lie == null ? null : lie.apply(done);
            if (l != null) {
                if (l.status() >= 0) {
                    writable.getLast().segment().set(JAVA_BYTE, 0, (byte) l.status());
                }
                return l.usedLen() >= 0 ? (int) l.usedLen() : written + (l.status() >= 0 ? 1 : 0);
            }
            if (dropStatusCount > 0) {
                dropStatusCount--;
                return written;
            }
            writable.getLast().segment().set(JAVA_BYTE, 0, (byte) st);
            return written + 1;
        }
    }

    private int execute(int type, long sector, List<Buffer> in, List<Buffer> out, List<Range> ranges, long[] written) {
        boolean ro = VirtioFeatures.has(offered, VIRTIO_BLK_F_RO);
        switch (type) {
            case VIRTIO_BLK_T_IN -> {
                long pos = sector << SECTOR_SHIFT;
                if (!in.isEmpty() || !fits(pos, total(out))) {
                    return VIRTIO_BLK_S_IOERR;
                }
                for (Buffer b : out) {
                    MemorySegment.copy(disk, pos, b.segment(), 0, b.length());
                    pos += b.length();
                }
                written[0] = total(out);
                return VIRTIO_BLK_S_OK;
            }
            case VIRTIO_BLK_T_OUT -> {
                long pos = sector << SECTOR_SHIFT;
                if (ro || !out.isEmpty() || !fits(pos, total(in))) {
                    return VIRTIO_BLK_S_IOERR;
                }
                for (Buffer b : in) {
                    MemorySegment.copy(b.segment(), 0, disk, pos, b.length());
                    pos += b.length();
                }
                return VIRTIO_BLK_S_OK;
            }
            case VIRTIO_BLK_T_FLUSH -> {
                if (!VirtioFeatures.has(offered, VIRTIO_BLK_F_FLUSH)) {
                    return VIRTIO_BLK_S_UNSUPP;
                }
                flushes++;
                return VIRTIO_BLK_S_OK;
            }
            case VIRTIO_BLK_T_GET_ID -> {
                if (out.size() != 1 || out.getFirst().length() < VIRTIO_BLK_ID_BYTES) {
                    return VIRTIO_BLK_S_IOERR;
                }
                MemorySegment id = out.getFirst().segment();
                id.asSlice(0, VIRTIO_BLK_ID_BYTES).fill((byte) 0);
                byte[] s = SERIAL.getBytes(StandardCharsets.US_ASCII);
                MemorySegment.copy(MemorySegment.ofArray(s), 0, id, 0, s.length);
                written[0] = VIRTIO_BLK_ID_BYTES;
                return VIRTIO_BLK_S_OK;
            }
            case VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_WRITE_ZEROES -> {
                int feature = type == VIRTIO_BLK_T_DISCARD ? VIRTIO_BLK_F_DISCARD : VIRTIO_BLK_F_WRITE_ZEROES;
                if (!VirtioFeatures.has(offered, feature)) {
                    return VIRTIO_BLK_S_UNSUPP;
                }
                if (ro || in.size() != 1 || in.getFirst().length() % DWZ_SIZE != 0 || !out.isEmpty()) {
                    return VIRTIO_BLK_S_IOERR;
                }
                for (Range r : ranges) {
                    long bytes = Integer.toUnsignedLong(r.numSectors()) << SECTOR_SHIFT;
                    if (!fits(r.sector() << SECTOR_SHIFT, bytes)) {
                        return VIRTIO_BLK_S_IOERR;
                    }
                }
                // This device zeroes discarded ranges too, so tests can see where a discard landed.
                for (Range r : ranges) {
                    disk.asSlice(r.sector() << SECTOR_SHIFT, Integer.toUnsignedLong(r.numSectors()) << SECTOR_SHIFT).fill((byte) 0);
                }
                return VIRTIO_BLK_S_OK;
            }
            default -> {
                return VIRTIO_BLK_S_UNSUPP;
            }
        }
    }

    private boolean fits(long pos, long bytes) {
        return pos >= 0 && bytes >= 0 && pos <= capacityBytes - bytes && bytes % SECTOR_SIZE == 0;
    }

    private static long total(List<Buffer> buffers) {
        return buffers.stream().mapToLong(b -> Integer.toUnsignedLong(b.length())).sum();
    }

    private static byte[] concat(List<Buffer> buffers) {
        byte[] all = new byte[Math.toIntExact(total(buffers))];
        int pos = 0;
        for (Buffer b : buffers) {
            MemorySegment.copy(b.segment(), JAVA_BYTE, 0, all, pos, b.length());
            pos += b.length();
        }
        return all;
    }
}
