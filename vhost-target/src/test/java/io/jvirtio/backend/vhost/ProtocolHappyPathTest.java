package io.jvirtio.backend.vhost;

import io.jvirtio.backend.TargetOptions;
import io.jvirtio.backend.VhostUserTarget;
import io.jvirtio.backend.blk.BlkModelOptions;
import io.jvirtio.backend.store.RamBlockStore;
import io.jvirtio.backend.testing.FrontEndMemory;
import io.jvirtio.backend.testing.Handshake;
import io.jvirtio.backend.testing.ScriptedFrontEnd;
import io.jvirtio.spec.VirtioFeatures;
import io.jvirtio.spec.VirtioStatus;
import io.jvirtio.spec.blk.VirtioBlkSpec;
import io.jvirtio.spec.vhostuser.VhostUserConfig;
import io.jvirtio.spec.vhostuser.VhostUserHeader;
import io.jvirtio.spec.vhostuser.VhostUserProtocolFeature;
import io.jvirtio.spec.vhostuser.VhostUserRequest;
import io.jvirtio.spec.vhostuser.VhostUserU64;
import io.jvirtio.spec.vhostuser.VhostUserVringState;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;

import static io.jvirtio.spec.vhostuser.VhostUserProtocolFeature.bit;
import static org.junit.jupiter.api.Assertions.*;

/** The back-end's answers to a well-behaved front-end, message by message. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ProtocolHappyPathTest {
    private VhostUserTarget target;
    private FrontEndMemory mem;
    @TempDir
    Path dir;

    @BeforeAll
    void start(@TempDir Path d) {
        target = VhostUserTarget.builder().name("proto").socket(d.resolve("p.sock"))
                .blk(new RamBlockStore(8 << 20, false), BlkModelOptions.builder().numQueues(2).blockSize(4096).build()).start();
        mem = new FrontEndMemory("proto-fe", 4 << 20);
    }

    @org.junit.jupiter.api.BeforeEach
    void idle() throws InterruptedException {
        // the previous test's connection must be gone, or this one would be turned away as a second front-end
        assertTrue(target.awaitIdle(0, Duration.ofSeconds(5)), "target idle");
    }

    @AfterAll
    void stop() {
        target.close();
        mem.close();
    }

    @Test
    void featuresOfferedAreTheModelsPlusProtocolFeatures() throws Exception {
        try (ScriptedFrontEnd fe = ScriptedFrontEnd.connect(target.socketPath())) {
            long f = fe.callU64(VhostUserRequest.GET_FEATURES);
            for (int b : new int[] {VirtioFeatures.VIRTIO_F_VERSION_1, VirtioFeatures.VHOST_USER_F_PROTOCOL_FEATURES,
                VirtioFeatures.VIRTIO_RING_F_INDIRECT_DESC, VirtioFeatures.VIRTIO_RING_F_EVENT_IDX, VirtioBlkSpec.VIRTIO_BLK_F_BLK_SIZE,
                VirtioBlkSpec.VIRTIO_BLK_F_FLUSH, VirtioBlkSpec.VIRTIO_BLK_F_MQ, VirtioBlkSpec.VIRTIO_BLK_F_SEG_MAX, VirtioBlkSpec.VIRTIO_BLK_F_DISCARD,
                VirtioBlkSpec.VIRTIO_BLK_F_WRITE_ZEROES}) {
                assertTrue(VirtioFeatures.has(f, b), "feature bit " + b + " in 0x" + Long.toHexString(f));
            }
            assertFalse(VirtioFeatures.has(f, VirtioBlkSpec.VIRTIO_BLK_F_RO));
            assertEquals(TargetOptions.SUPPORTED_PROTOCOL_FEATURES, fe.callU64(VhostUserRequest.GET_PROTOCOL_FEATURES));
        }
    }

    @Test
    void queueNumConfigStatusAndMemSlots() throws Exception {
        try (ScriptedFrontEnd fe = ScriptedFrontEnd.connect(target.socketPath())) {
            Handshake.open(fe);
            assertEquals(2, fe.callU64(VhostUserRequest.GET_QUEUE_NUM));
            assertEquals(TargetOptions.DEFAULT_MAX_MEM_SLOTS, fe.callU64(VhostUserRequest.GET_MAX_MEM_SLOTS));

            ScriptedFrontEnd.Reply cfg = fe.call(VhostUserRequest.GET_CONFIG, VhostUserConfig.request(0, VirtioBlkSpec.CFG_SIZE));
            VhostUserConfig c = VhostUserConfig.decode(cfg.buf());
            ByteBuffer b = ByteBuffer.wrap(c.payload()).order(ByteOrder.LITTLE_ENDIAN);
            assertEquals((8 << 20) / 512, b.getLong(VirtioBlkSpec.CFG_CAPACITY));
            assertEquals(126, b.getInt(VirtioBlkSpec.CFG_SEG_MAX));
            assertEquals(4096, b.getInt(VirtioBlkSpec.CFG_BLK_SIZE));
            assertEquals(2, b.getShort(VirtioBlkSpec.CFG_NUM_QUEUES));
            assertEquals(BlkModelOptions.DEFAULT_MAX_DWZ_SECTORS, b.getInt(VirtioBlkSpec.CFG_MAX_DISCARD_SECTORS));
            assertEquals(8, b.getInt(VirtioBlkSpec.CFG_DISCARD_SECTOR_ALIGNMENT), "discard alignment in sectors = 4096/512");
            assertEquals(1, b.get(VirtioBlkSpec.CFG_WRITE_ZEROES_MAY_UNMAP));

            // a slice: offset honoured
            VhostUserConfig slice = VhostUserConfig.decode(fe.call(VhostUserRequest.GET_CONFIG, VhostUserConfig.request(20, 4)).buf());
            assertEquals(20, slice.offset());
            assertEquals(4096, ByteBuffer.wrap(slice.payload()).order(ByteOrder.LITTLE_ENDIAN).getInt());

            // larger than the config space: the spec's refusal (empty payload), the connection stays
            ScriptedFrontEnd.Reply refused = fe.call(VhostUserRequest.GET_CONFIG, VhostUserConfig.request(0, VirtioBlkSpec.CFG_SIZE + 1));
            assertEquals(0, refused.payload().length);

            fe.command(VhostUserRequest.SET_STATUS, new VhostUserU64(VirtioStatus.ACKNOWLEDGE | VirtioStatus.DRIVER | VirtioStatus.FEATURES_OK));
            assertEquals(VirtioStatus.ACKNOWLEDGE | VirtioStatus.DRIVER | VirtioStatus.FEATURES_OK, fe.callU64(VhostUserRequest.GET_STATUS));
            assertEquals(2, fe.callU64(VhostUserRequest.GET_QUEUE_NUM), "still connected");
        }
    }

    @Test
    void setConfigBeyondTheSpaceIsRefusedWithANackAndTheConnectionStays() throws Exception {
        try (ScriptedFrontEnd fe = ScriptedFrontEnd.connect(target.socketPath())) {
            Handshake.open(fe);
            fe.send(VhostUserRequest.SET_CONFIG, new VhostUserConfig(VirtioBlkSpec.CFG_SIZE - 2, VhostUserConfig.FLAG_WRITABLE, new byte[4]));
            // no NEED_REPLY: nothing comes back; then with NEED_REPLY: a nack
            fe.sendRaw(VhostUserRequest.SET_CONFIG.code(), VhostUserHeader.VERSION | VhostUserHeader.FLAG_NEED_REPLY,
                    ScriptedFrontEnd.encode(new VhostUserConfig(VirtioBlkSpec.CFG_SIZE - 2, VhostUserConfig.FLAG_WRITABLE, new byte[4])));
            assertEquals(1, fe.read().u64(), "REPLY_ACK failure");
            // a write inside the space (to a read-only field) is acknowledged and ignored
            fe.command(VhostUserRequest.SET_CONFIG, new VhostUserConfig(VirtioBlkSpec.CFG_WRITEBACK, VhostUserConfig.FLAG_WRITABLE, new byte[] {1}));
            assertEquals(2, fe.callU64(VhostUserRequest.GET_QUEUE_NUM));
        }
    }

    @Test
    void needReplyWithoutReplyAckNegotiatedGetsNoAck() throws Exception {
        try (ScriptedFrontEnd fe = ScriptedFrontEnd.connect(target.socketPath())) {
            Handshake.open(fe, ~bit(VhostUserProtocolFeature.REPLY_ACK), -1L);
            fe.sendRaw(VhostUserRequest.SET_VRING_NUM.code(), VhostUserHeader.VERSION | VhostUserHeader.FLAG_NEED_REPLY,
                    ScriptedFrontEnd.encode(new VhostUserVringState(0, 64)));
            // the next thing on the wire is GET_QUEUE_NUM's reply, not an ack
            assertEquals(2, fe.callU64(VhostUserRequest.GET_QUEUE_NUM));
        }
    }

    @Test
    void aSecondFrontEndWhileOneIsServedIsClosedAtOnce() throws Exception {
        try (ScriptedFrontEnd first = ScriptedFrontEnd.connect(target.socketPath())) {
            Handshake.open(first);
            int rejected = target.rejectedCount();
            try (ScriptedFrontEnd second = ScriptedFrontEnd.connect(target.socketPath())) {
                assertTrue(second.awaitClosed(Duration.ofSeconds(5)), "the second front-end is closed");
            }
            assertEquals(rejected + 1, target.rejectedCount());
            assertEquals(2, first.callU64(VhostUserRequest.GET_QUEUE_NUM), "the first is still served");
        }
    }

    @Test
    void olderBackEndWithoutSomeProtocolFeatures(@TempDir Path d) throws Exception {
        TargetOptions old = TargetOptions.builder().protocolFeature(VhostUserProtocolFeature.REPLY_ACK, false)
                .protocolFeature(VhostUserProtocolFeature.CONFIG, false).protocolFeature(VhostUserProtocolFeature.STATUS, false).build();
        try (VhostUserTarget t = VhostUserTarget.builder().name("old").socket(d.resolve("old.sock")).options(old)
                .blk(new RamBlockStore(1 << 20, false), BlkModelOptions.defaults()).start();
             ScriptedFrontEnd fe = ScriptedFrontEnd.connect(t.socketPath())) {
            long p = fe.callU64(VhostUserRequest.GET_PROTOCOL_FEATURES);
            assertFalse(VhostUserProtocolFeature.has(p, VhostUserProtocolFeature.REPLY_ACK));
            assertFalse(VhostUserProtocolFeature.has(p, VhostUserProtocolFeature.CONFIG));
            assertTrue(VhostUserProtocolFeature.has(p, VhostUserProtocolFeature.MQ));
            fe.send(VhostUserRequest.SET_PROTOCOL_FEATURES, new VhostUserU64(p));
            fe.send(VhostUserRequest.GET_CONFIG, VhostUserConfig.request(0, 8));
            assertTrue(fe.awaitClosed(Duration.ofSeconds(5)));
            assertTrue(t.awaitErrors(1, Duration.ofSeconds(5)));
            assertTrue(t.lastError().contains("VHOST_USER_GET_CONFIG") && t.lastError().contains("CONFIG was not negotiated (not offered)"),
                    t.lastError());
        }
    }

    @Test
    void backEndWithoutProtocolFeaturesAtAll(@TempDir Path d) throws Exception {
        TargetOptions none = TargetOptions.builder().hideFeature(VirtioFeatures.VHOST_USER_F_PROTOCOL_FEATURES).build();
        try (VhostUserTarget t = VhostUserTarget.builder().name("ancient").socket(d.resolve("a.sock")).options(none)
                .blk(new RamBlockStore(1 << 20, false), BlkModelOptions.defaults()).start();
             ScriptedFrontEnd fe = ScriptedFrontEnd.connect(t.socketPath())) {
            long f = fe.callU64(VhostUserRequest.GET_FEATURES);
            assertFalse(VirtioFeatures.has(f, VirtioFeatures.VHOST_USER_F_PROTOCOL_FEATURES));
            fe.send(VhostUserRequest.GET_PROTOCOL_FEATURES, null);
            assertTrue(fe.awaitClosed(Duration.ofSeconds(5)));
            assertTrue(t.awaitErrors(1, Duration.ofSeconds(5)));
            assertTrue(t.lastError().contains("does not offer VHOST_USER_F_PROTOCOL_FEATURES"), t.lastError());
        }
    }

    @Test
    void hiddenRingFeaturesAreNotOffered(@TempDir Path d) throws Exception {
        TargetOptions o = TargetOptions.builder().hideFeature(VirtioFeatures.VIRTIO_RING_F_EVENT_IDX)
                .hideFeature(VirtioFeatures.VIRTIO_RING_F_INDIRECT_DESC).build();
        try (VhostUserTarget t = VhostUserTarget.builder().name("plain").socket(d.resolve("pl.sock")).options(o)
                .blk(new RamBlockStore(1 << 20, false), BlkModelOptions.defaults()).start();
             ScriptedFrontEnd fe = ScriptedFrontEnd.connect(t.socketPath())) {
            long f = fe.callU64(VhostUserRequest.GET_FEATURES);
            assertFalse(VirtioFeatures.has(f, VirtioFeatures.VIRTIO_RING_F_EVENT_IDX));
            assertFalse(VirtioFeatures.has(f, VirtioFeatures.VIRTIO_RING_F_INDIRECT_DESC));
        }
    }
}
