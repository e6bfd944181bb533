package io.jvirtio.backend.scsi;

import io.jvirtio.backend.VhostUserTarget;
import io.jvirtio.backend.store.RamBlockStore;
import io.jvirtio.core.VirtioDevice;
import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.core.mem.MemoryDomain;
import io.jvirtio.core.ring.Virtqueue;
import io.jvirtio.core.ring.UsedSink;
import io.jvirtio.core.vhostuser.VhostUserFrontend;
import io.jvirtio.spec.VirtioException;
import io.jvirtio.spec.VirtioFeatures;
import io.jvirtio.spec.scsi.VirtioScsiSpec;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The scsi model behind the real vhost-user back-end, driven by virtio-core's front-end and split
 * virtqueues (no scsi initiator logic): config space over the wire, commands with data in and out,
 * a TMF, an event on hot-add.
 */
class ScsiOverVhostUserTest {
    @TempDir
    Path dir;
    private RamBlockStore store0;
    private RamBlockStore store1;
    private VirtioScsiModel model;
    private VhostUserTarget target;
    private MemoryDomain memory;
    private VirtioDevice device;

    @BeforeEach
    void setUp() {
        store0 = new RamBlockStore(1 << 20, false);
        store1 = new RamBlockStore(4 << 20, false);
        model = new VirtioScsiModel(ScsiModelOptions.builder().name("e2e").requestQueues(2).build());
        model.addLun(0, 0, ScsiLun.builder(store0).build());
        model.addLun(0, 1, ScsiLun.builder(store1).blockSize(4096).build());
        target = VhostUserTarget.builder().name("e2e").socket(dir.resolve("scsi.sock")).model(model).start();
        memory = MemoryDomain.create("e2e-front", 4 << 20, HugePagePolicy.NEVER);
        device = new VirtioDevice("e2e-front", VhostUserFrontend.connect(target.socketPath(), memory), memory);
        long negotiated = device.negotiate(VirtioFeatures.bit(VirtioScsiSpec.VIRTIO_SCSI_F_HOTPLUG)
                | VirtioFeatures.bit(VirtioFeatures.VIRTIO_RING_F_EVENT_IDX)
                | VirtioFeatures.bit(VirtioFeatures.VIRTIO_RING_F_INDIRECT_DESC));
        assertTrue(VirtioFeatures.has(negotiated, VirtioScsiSpec.VIRTIO_SCSI_F_HOTPLUG));
        device.start(4, 2, 64, 16);
    }

    @AfterEach
    void tearDown() {
        if (device != null) {
            device.close();
        }
        if (memory != null) {
            memory.close();
        }
        if (target != null) {
            target.close();
        }
        store0.close();
        store1.close();
    }

    /** Submits one chain of buffers and polls until it is used; @return the used length. */
    private int roundTrip(int queue, MemorySegment[] readable, MemorySegment[] writable) {
        Virtqueue vq = device.acquireQueue(queue);
        try {
            Object cookie = new Object();
            assertTrue(vq.reqStart(cookie, readable.length + writable.length));
            for (MemorySegment s : readable) {
                vq.reqAddIov(s.address(), (int) s.byteSize(), false);
            }
            for (MemorySegment s : writable) {
                vq.reqAddIov(s.address(), (int) s.byteSize(), true);
            }
            vq.reqFlush();
            Map<Object, Integer> used = new HashMap<>();
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (!used.containsKey(cookie)) {
                vq.poll(8, new UsedSink() {
                    @Override
                    public void onUsed(Object c, int len) {
                        used.put(c, len);
                    }

                    @Override
                    public void onError(Object c, VirtioException error) {
                        throw new AssertionError(error);
                    }
                });
                assertTrue(System.nanoTime() < deadline, "no completion on queue " + queue);
                Thread.onSpinWait();
            }
            return used.get(cookie);
        } finally {
            device.releaseQueue(vq);
        }
    }

    private MemorySegment buffer(byte[] content, int size) {
        MemorySegment s = memory.allocate(size, 64);
        s.fill((byte) 0);
        MemorySegment.copy(content, 0, s, ValueLayout.JAVA_BYTE, 0, content.length);
        return s;
    }

    private MemorySegment request(int target, int lun, byte[] cdb) {
        byte[] h = new byte[19 + 32];
        System.arraycopy(LunAddress.encode(target, lun), 0, h, 0, 8);
        h[2] |= 0x40;                                                    // Linux's flat space addressing
        System.arraycopy(cdb, 0, h, 19, cdb.length);
        return buffer(h, h.length);
    }

    @Test
    void configSpaceOverTheWire() {
        MemorySegment cfg = MemorySegment.ofArray(new byte[36]);
        device.readDevConfig(0, cfg);
        ByteBuffer b = ByteBuffer.wrap(cfg.toArray(ValueLayout.JAVA_BYTE)).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(2, b.getInt(0), "num_queues");
        assertEquals(96, b.getInt(20), "sense_size");
        assertEquals(32, b.getInt(24), "cdb_size");
        assertEquals(7, b.getShort(30), "max_target");
    }

    @Test
    void inquiryWriteReadAndCapacityThroughTheRings() {
        MemorySegment resp = buffer(new byte[0], 108);
        MemorySegment inq = buffer(new byte[0], 96);
        int used = roundTrip(2, new MemorySegment[] {request(0, 0, Cdb.inquiry(false, 0, 96))}, new MemorySegment[] {resp, inq});
        assertEquals(108 + 96, used);
        assertEquals(0, resp.get(ValueLayout.JAVA_BYTE, 10), "status GOOD");
        assertEquals("JVIRTIO ", new String(inq.asSlice(8, 8).toArray(ValueLayout.JAVA_BYTE)));

        byte[] data = ScsiTestBase.pattern(8192, 3);
        MemorySegment out = buffer(data, data.length);
        used = roundTrip(3, new MemorySegment[] {request(0, 1, Cdb.rw10(false, 10, 2)), out}, new MemorySegment[] {buffer(new byte[0], 108)});
        assertEquals(108, used);
        assertArrayEquals(data, store1.contents().asSlice(10 * 4096, 8192).toArray(ValueLayout.JAVA_BYTE));

        MemorySegment in = buffer(new byte[0], 8192);
        MemorySegment resp2 = buffer(new byte[0], 108);
        used = roundTrip(2, new MemorySegment[] {request(0, 1, Cdb.rw16(true, 10, 2))}, new MemorySegment[] {resp2, in});
        assertEquals(108 + 8192, used);
        assertArrayEquals(data, in.toArray(ValueLayout.JAVA_BYTE));

        MemorySegment cap = buffer(new byte[0], 32);
        roundTrip(2, new MemorySegment[] {request(0, 1, Cdb.readCapacity16(32))}, new MemorySegment[] {buffer(new byte[0], 108), cap});
        assertEquals(1023, cap.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN), 0));
    }

    @Test
    void checkConditionAndBadTargetThroughTheRings() {
        MemorySegment resp = buffer(new byte[0], 108);
        roundTrip(2, new MemorySegment[] {request(0, 0, Cdb.rw10(true, 4096, 1))}, new MemorySegment[] {resp, buffer(new byte[0], 512)});
        byte[] r = resp.toArray(ValueLayout.JAVA_BYTE);
        assertEquals(18, r[0], "sense_len");
        assertEquals(512, ByteBuffer.wrap(r).order(ByteOrder.LITTLE_ENDIAN).getInt(4), "residual");
        assertEquals(2, r[10], "CHECK CONDITION");
        assertArrayEquals(new byte[] {0x70, 0, 0x05}, Arrays.copyOfRange(r, 12, 15));
        assertEquals(0x21, r[24]);
        MemorySegment bad = buffer(new byte[0], 108);
        roundTrip(2, new MemorySegment[] {request(5, 0, Cdb.testUnitReady())}, new MemorySegment[] {bad});
        assertEquals(VirtioScsiSpec.VIRTIO_SCSI_S_BAD_TARGET, bad.get(ValueLayout.JAVA_BYTE, 11));
    }

    @Test
    void tmfAndHotplugEventThroughTheRings() throws Exception {
        ByteBuffer tmf = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN)
                .putInt(VirtioScsiSpec.VIRTIO_SCSI_T_TMF).putInt(VirtioScsiSpec.VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET).put(LunAddress.encode(0, 1)).putLong(0);
        MemorySegment tmfResp = buffer(new byte[] {(byte) 0xEE}, 1);
        assertEquals(1, roundTrip(0, new MemorySegment[] {buffer(tmf.array(), 24)}, new MemorySegment[] {tmfResp}));
        assertEquals(VirtioScsiSpec.VIRTIO_SCSI_S_FUNCTION_COMPLETE, tmfResp.get(ValueLayout.JAVA_BYTE, 0));

        Virtqueue eventq = device.acquireQueue(1);
        MemorySegment ev = buffer(new byte[0], 16);
        try {
            Object cookie = new Object();
            assertTrue(eventq.reqStart(cookie, 1));
            eventq.reqAddIov(ev.address(), 16, true);
            eventq.reqFlush();
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (model.postedEventBuffers() == 0) {
                assertTrue(System.nanoTime() < deadline, "event buffer never reached the model");
                Thread.sleep(1);
            }
            RamBlockStore extra = new RamBlockStore(1 << 20, false);
            try {
                model.addLun(3, 2, ScsiLun.builder(extra).build());
                int[] len = {-1};
                while (len[0] < 0) {
                    eventq.poll(1, new UsedSink() {
                        @Override
                        public void onUsed(Object c, int l) {
                            len[0] = l;
                        }

                        @Override
                        public void onError(Object c, VirtioException error) {
                            throw new AssertionError(error);
                        }
                    });
                    assertTrue(System.nanoTime() < deadline, "no event");
                    Thread.onSpinWait();
                }
                assertEquals(16, len[0]);
                ByteBuffer e = ByteBuffer.wrap(ev.toArray(ValueLayout.JAVA_BYTE)).order(ByteOrder.LITTLE_ENDIAN);
                assertEquals(VirtioScsiSpec.VIRTIO_SCSI_T_TRANSPORT_RESET, e.getInt(0));
                assertArrayEquals(new byte[] {1, 3, 0, 2, 0, 0, 0, 0}, Arrays.copyOfRange(ev.toArray(ValueLayout.JAVA_BYTE), 4, 12));
                assertEquals(VirtioScsiSpec.VIRTIO_SCSI_EVT_RESET_RESCAN, e.getInt(12));
            } finally {
                model.removeLun(3, 2);
                extra.close();
            }
        } finally {
            device.releaseQueue(eventq);
        }
    }
}
