package io.jvirtio.core.vhostuser;

import io.jvirtio.core.TransportUnsupportedException;
import java.util.OptionalInt;
import io.jvirtio.spec.vhostuser.VhostUserConfig;
import io.jvirtio.spec.vhostuser.VhostUserProtocolFeature;

import io.jvirtio.core.QueueSetup;
import io.jvirtio.core.VirtioDevice;
import io.jvirtio.spec.VirtioFeatures;
import io.jvirtio.spec.VirtioStatus;
import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.core.mem.MemoryDomain;
import io.jvirtio.core.ring.Virtqueue;
import io.jvirtio.core.ring.UsedSink;
import io.jvirtio.sys.LinuxConstants;
import io.jvirtio.sys.Native;
import io.jvirtio.testkit.QemuStorageDaemon;
import io.jvirtio.core.testing.RequiresQemuStorageDaemon;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link VhostUserFrontend} against a real qemu-storage-daemon vhost-user-blk export. */
@RequiresQemuStorageDaemon
@Timeout(60)
class VhostUserQemuStorageDaemonTest {
    private static final Logger LOG = LoggerFactory.getLogger(VhostUserQemuStorageDaemonTest.class);

    static final long IMAGE_BYTES = 16L << 20;
    static final int SECTOR = 512;
    /** virtio_blk_config fields (virtio 1.x, 5.2.4). */
    static final int CFG_CAPACITY = 0;
    static final int CFG_BLK_SIZE = 20;
    static final int CFG_NUM_QUEUES = 34;
    /** The struct up to write_zeroes_may_unmap and its padding: every qemu-storage-daemon has at least this. */
    static final int CFG_BASE_SIZE = 60;
    static final int VIRTIO_BLK_F_RO = 5;
    static final int VIRTIO_BLK_T_IN = 0;
    static final int VIRTIO_BLK_S_OK = 0;
    static final short VRING_DESC_F_NEXT = 1;
    static final short VRING_DESC_F_WRITE = 2;

    static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @TempDir
    Path dir;
    Path image;
    MemoryDomain memory;

    @BeforeEach
    void setUp() throws Exception {
        image = dir.resolve("disk.img");
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(IMAGE_BYTES);
            byte[] sector = new byte[SECTOR];
            for (int s = 0; s < 8; s++) {
                Arrays.fill(sector, (byte) (0x10 + s));
                f.seek((long) s * SECTOR);
                f.write(sector);
            }
        }
        memory = MemoryDomain.create("qsd-test", LinuxConstants.HUGE_PAGE_2M, HugePagePolicy.NEVER);
    }

    @AfterEach
    void tearDown() {
        memory.close();
    }

    @Test
    void connectsAndNegotiates() {
        try (QemuStorageDaemon qsd = QemuStorageDaemon.file(image).numQueues(2).start()) {
            VhostUserFrontend b = VhostUserFrontend.connect(qsd.socketPath(), memory, VhostUserOptions.defaults());
            try {
                long features = b.getFeatures();
                LOG.info("qemu-storage-daemon offers features 0x{}, protocol features {}", Long.toHexString(features | VirtioFeatures.bit(30)),
                        VhostUserProtocolFeature.describe(b.offeredProtocolFeatures()));
                assertTrue(VirtioFeatures.has(features, VirtioFeatures.VIRTIO_F_VERSION_1));
                assertTrue(b.hasProtocolFeature(VhostUserProtocolFeature.MQ));
                assertTrue(b.hasProtocolFeature(VhostUserProtocolFeature.REPLY_ACK));
                assertTrue(b.hasProtocolFeature(VhostUserProtocolFeature.CONFIG));
                assertEquals(OptionalInt.of(2), b.getMaxQueues(), "GET_QUEUE_NUM = num-queues");

                assertEquals(IMAGE_BYTES / SECTOR, readConfigU64(b, CFG_CAPACITY), "capacity in 512-byte sectors");
                assertEquals(SECTOR, readConfigU32(b, CFG_BLK_SIZE));
                MemorySegment nq = Arena.ofAuto().allocate(2);
                b.readDevConfig(CFG_NUM_QUEUES, nq);
                assertEquals(2, nq.get(U16, 0));

                int configSize = largestConfigRead(b);
                LOG.info("qemu-storage-daemon: largest GET_CONFIG accepted is {} bytes (sizeof virtio_blk_config)", configSize);
                assertTrue(configSize >= CFG_BASE_SIZE, "config size " + configSize);

                String refused = assertThrows(TransportUnsupportedException.class,
                        () -> b.readDevConfig(0, Arena.ofAuto().allocate(VhostUserConfig.MAX_CONFIG_SIZE))).getMessage();
                assertTrue(refused.contains("refused") && refused.contains(qsd.socketPath().toString()), refused);
            } finally {
                b.destruct();
            }
            assertTrue(qsd.isAlive());
        }
    }

    @Test
    void startsAQueueAndStopsItCleanly() {
        try (QemuStorageDaemon qsd = QemuStorageDaemon.file(image).start()) {
            VhostUserFrontend b = VhostUserFrontend.connect(qsd.socketPath(), memory, VhostUserOptions.defaults());
            try {
                negotiate(b);
                b.setupQueue(ring(0, 256));
                b.setStatus(running());
                assertTrue(b.isStarted());
                assertEquals(0, b.deleteQueue(0), "GET_VRING_BASE of an idle queue");
                b.setStatus(VirtioStatus.RESET);
                // start again on the same connection
                negotiate(b);
                b.setupQueue(ring(0, 256));
                b.setStatus(running());
                b.setStatus(VirtioStatus.RESET);
                assertEquals(0, b.deleteQueue(0), "base recorded by the reset");
            } finally {
                b.destruct();
            }
            assertTrue(qsd.isAlive(), () -> "qemu-storage-daemon died: " + qsd.output());
        }
    }

    @Test
    void readsASectorThroughTheRing() {
        try (QemuStorageDaemon qsd = QemuStorageDaemon.file(image).numQueues(2).start()) {
            VhostUserFrontend b = VhostUserFrontend.connect(qsd.socketPath(), memory, VhostUserOptions.defaults());
            try {
                negotiate(b);
                QueueSetup q = ring(1, 128);
                b.setupQueue(q);
                b.setStatus(running());
                byte[] got = readSector(b, q, 3);
                byte[] want = new byte[SECTOR];
                Arrays.fill(want, (byte) 0x13);
                assertArrayEquals(want, got);
                assertEquals(1, b.deleteQueue(1), "the back-end consumed one avail entry");
            } finally {
                b.destruct();
            }
        }
    }

    @Test
    void nullCoExportReadsZeroes() {
        long size = 64L << 20;
        try (QemuStorageDaemon qsd = QemuStorageDaemon.nullCo(size).writable(false).logicalBlockSize(4096).start()) {
            VhostUserFrontend b = VhostUserFrontend.connect(qsd.socketPath(), memory, VhostUserOptions.defaults());
            try {
                assertEquals(size / SECTOR, readConfigU64(b, CFG_CAPACITY));
                assertEquals(4096, readConfigU32(b, CFG_BLK_SIZE));
                assertTrue(VirtioFeatures.has(b.getFeatures(), VIRTIO_BLK_F_RO), "writable=off: VIRTIO_BLK_F_RO");
                negotiate(b);
                QueueSetup q = ring(0, 64);
                b.setupQueue(q);
                b.setStatus(running());
                byte[] got = readSector(b, q, 8);
                assertArrayEquals(new byte[SECTOR], got);
            } finally {
                b.destruct();
            }
        }
    }

    @Test
    void drivesAVirtioDeviceEndToEnd() {
        try (QemuStorageDaemon qsd = QemuStorageDaemon.file(image).numQueues(2).start()) {
            VhostUserFrontend b = VhostUserFrontend.connect(qsd.socketPath(), memory, VhostUserOptions.defaults());
            try (VirtioDevice dev = new VirtioDevice("vu-qsd", b, memory)) {
                long negotiated = dev.negotiate(0);
                assertEquals(VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_VERSION_1), negotiated);
                dev.start(2, 0, 128, 0);
                assertTrue(b.isStarted());
                Virtqueue vq = dev.acquireQueue(1);
                MemorySegment header = memory.allocate(16, 16);
                MemorySegment data = memory.allocate(SECTOR, SECTOR);
                MemorySegment status = memory.allocate(1, 1);
                header.set(U32, 0, VIRTIO_BLK_T_IN);
                header.set(U64, 8, 5);
                status.set(ValueLayout.JAVA_BYTE, 0, (byte) 0xff);
                assertTrue(vq.reqStart("read", 3));
                vq.reqAddIov(header.address(), 16, false);
                vq.reqAddIov(data.address(), SECTOR, true);
                vq.reqAddIov(status.address(), 1, true);
                vq.reqFlush();
                int[] len = {-1};
                long deadline = System.nanoTime() + 5_000_000_000L;
                while (len[0] < 0 && System.nanoTime() < deadline) {
                    vq.poll(1, new UsedSink() {
                        @Override
                        public void onUsed(Object cookie, int l) {
                            len[0] = l;
                        }

                        @Override
                        public void onError(Object cookie, io.jvirtio.spec.VirtioException error) {
                            throw new AssertionError(error);
                        }
                    });
                }
                assertEquals(SECTOR + 1, len[0]);
                assertEquals(VIRTIO_BLK_S_OK, status.get(ValueLayout.JAVA_BYTE, 0));
                byte[] want = new byte[SECTOR];
                Arrays.fill(want, (byte) 0x15);
                assertArrayEquals(want, data.toArray(ValueLayout.JAVA_BYTE));
                dev.releaseQueue(vq);
            }
            assertTrue(qsd.isAlive(), qsd::output);
        }
    }

    // ------------------------------------------------------------------ helpers

    static int running() {
        return VirtioStatus.ACKNOWLEDGE | VirtioStatus.DRIVER | VirtioStatus.FEATURES_OK | VirtioStatus.DRIVER_OK;
    }

    static void negotiate(VhostUserFrontend b) {
        b.setStatus(VirtioStatus.RESET);
        b.setStatus(VirtioStatus.ACKNOWLEDGE | VirtioStatus.DRIVER);
        b.setFeatures(VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_VERSION_1));
        b.setStatus(VirtioStatus.ACKNOWLEDGE | VirtioStatus.DRIVER | VirtioStatus.FEATURES_OK);
    }

    /** Binary search for the largest GET_CONFIG size the back-end answers (it refuses larger ones). */
    static int largestConfigRead(VhostUserFrontend b) {
        int lo = 8;
        int hi = VhostUserConfig.MAX_CONFIG_SIZE;
        while (lo < hi) {
            int mid = (lo + hi + 1) / 2;
            try {
                b.readDevConfig(0, Arena.ofAuto().allocate(mid));
                lo = mid;
            } catch (TransportUnsupportedException e) {
                hi = mid - 1;
            }
        }
        return lo;
    }

    static long readConfigU64(VhostUserFrontend b, int offset) {
        MemorySegment s = Arena.ofAuto().allocate(8);
        b.readDevConfig(offset, s);
        return s.get(U64, 0);
    }

    static int readConfigU32(VhostUserFrontend b, int offset) {
        MemorySegment s = Arena.ofAuto().allocate(4);
        b.readDevConfig(offset, s);
        return s.get(U32, 0);
    }

    /** A zeroed split ring: descriptors, then avail, then the used ring on the next 4096 boundary. */
    QueueSetup ring(int index, int size) {
        long descBytes = 16L * size;
        long availBytes = 6 + 2L * size;
        long usedOffset = (descBytes + availBytes + 4095) & -4096L;
        MemorySegment m = memory.allocate(usedOffset + 6 + 8L * size, 4096);
        return new QueueSetup(index, size, m.address(), m.address() + descBytes, m.address() + usedOffset, 0);
    }

    /** One VIRTIO_BLK_T_IN request by hand (header, data, status), kicked, completion awaited on the call fd. */
    byte[] readSector(VhostUserFrontend b, QueueSetup q, long sector) {
        MemorySegment header = memory.allocate(16, 16);
        MemorySegment data = memory.allocate(SECTOR, SECTOR);
        MemorySegment status = memory.allocate(1, 1);
        status.set(ValueLayout.JAVA_BYTE, 0, (byte) 0xff);
        header.set(U32, 0, VIRTIO_BLK_T_IN);
        header.set(U64, 8, sector);

        MemorySegment desc = Native.segmentAt(q.descAddress(), 16L * q.size());
        writeDesc(desc, 0, header.address(), 16, VRING_DESC_F_NEXT, 1);
        writeDesc(desc, 1, data.address(), SECTOR, (short) (VRING_DESC_F_NEXT | VRING_DESC_F_WRITE), 2);
        writeDesc(desc, 2, status.address(), 1, VRING_DESC_F_WRITE, 0);
        MemorySegment avail = Native.segmentAt(q.availAddress(), 6 + 2L * q.size());
        avail.set(U16, 4, (short) 0);
        java.lang.invoke.VarHandle.fullFence();
        avail.set(U16, 2, (short) 1);
        java.lang.invoke.VarHandle.fullFence();
        b.notifyQueue(q.index());

        // wait on the call eventfd until the used index moves (libvhost-user also signals the call fd
        // once when it receives it, so one wake-up is not proof of a completion)
        MemorySegment used = Native.segmentAt(q.usedAddress(), 6 + 8L * q.size());
        int callFd = b.callFd(q.index());
        long deadline = System.nanoTime() + 5_000_000_000L;
        boolean signalled = false;
        while (used.get(U16, 2) == 0 && System.nanoTime() < deadline) {
            if (Native.pollIn(callFd, 100)) {
                signalled |= Native.eventfdRead(callFd) > 0;
            }
        }
        java.lang.invoke.VarHandle.fullFence();
        assertTrue(signalled || Native.eventfdRead(callFd) > 0, "call eventfd signalled");
        assertEquals(1, used.get(U16, 2), "used idx");
        assertEquals(0, used.get(U32, 4), "used id: head descriptor 0");
        assertEquals(SECTOR + 1, used.get(U32, 8), "used len: data + status");
        assertEquals(VIRTIO_BLK_S_OK, status.get(ValueLayout.JAVA_BYTE, 0));
        return data.toArray(ValueLayout.JAVA_BYTE);
    }

    static void writeDesc(MemorySegment table, int i, long addr, int len, short flags, int next) {
        long o = 16L * i;
        table.set(U64, o, addr);
        table.set(U32, o + 8, len);
        table.set(U16, o + 12, flags);
        table.set(U16, o + 14, (short) next);
    }
}
