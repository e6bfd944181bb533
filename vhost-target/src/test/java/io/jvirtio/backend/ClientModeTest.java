package io.jvirtio.backend;

import io.jvirtio.backend.blk.BlkModelOptions;
import io.jvirtio.backend.store.RamBlockStore;
import io.jvirtio.backend.testing.BlkReq;
import io.jvirtio.backend.testing.DriverRing;
import io.jvirtio.backend.testing.FrontEndMemory;
import io.jvirtio.backend.testing.Handshake;
import io.jvirtio.backend.testing.ScriptedFrontEnd;
import io.jvirtio.spec.blk.VirtioBlkSpec;
import io.jvirtio.spec.vhostuser.VhostUserRequest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.*;

/** Client mode: the front-end listens, the device connects, and connects again after each disconnect. */
class ClientModeTest {
    @Test
    void theDeviceConnectsServesAndReconnects(@TempDir Path d) throws Exception {
        Path sock = d.resolve("frontend.sock");
        try (AFUNIXServerSocket server = AFUNIXServerSocket.newInstance()) {
            server.bind(AFUNIXSocketAddress.of(sock));
            server.setSoTimeout(5000);
            TargetOptions o = TargetOptions.builder().reconnectDelay(Duration.ofMillis(20)).build();
            try (VhostUserTarget t = VhostUserTarget.builder().name("client").connectTo(sock).options(o)
                    .blk(new RamBlockStore(1 << 20, false), BlkModelOptions.defaults()).start();
                 FrontEndMemory mem = new FrontEndMemory("client-fe", 2 << 20)) {
                assertTrue(t.clientMode());
                for (int round = 0; round < 2; round++) {
                    try (ScriptedFrontEnd fe = ScriptedFrontEnd.over(server.accept());
                         DriverRing ring = new DriverRing(mem.domain(), 0, 16)) {
                        Handshake.open(fe);
                        assertEquals(1, fe.callU64(VhostUserRequest.GET_QUEUE_NUM));
                        mem.share(fe);
                        ring.start(fe, 0, true);
                        BlkReq flush = BlkReq.of(mem.domain(), VirtioBlkSpec.VIRTIO_BLK_T_FLUSH, 0, 0);
                        ring.submit(false, flush.bufs());
                        ring.awaitUsed();
                        assertEquals(VirtioBlkSpec.VIRTIO_BLK_S_OK, flush.status());
                    }
                    assertTrue(t.awaitIdle(round + 1, Duration.ofSeconds(5)), "connection " + (round + 1) + " served");
                }
            }
        }
    }

    @Test
    void aFrontEndThatIsNotThereYetIsRetried(@TempDir Path d) throws Exception {
        Path sock = d.resolve("late.sock");
        TargetOptions o = TargetOptions.builder().reconnectDelay(Duration.ofMillis(20)).build();
        try (VhostUserTarget t = VhostUserTarget.builder().name("early").connectTo(sock).options(o)
                .blk(new RamBlockStore(1 << 20, false), BlkModelOptions.defaults()).start()) {
            Thread.sleep(100); // the device tries and fails a few times
            assertEquals(0, t.connectionCount());
            try (AFUNIXServerSocket server = AFUNIXServerSocket.newInstance()) {
                server.bind(AFUNIXSocketAddress.of(sock));
                server.setSoTimeout(5000);
                try (ScriptedFrontEnd fe = ScriptedFrontEnd.over(server.accept())) {
                    assertTrue(fe.callU64(VhostUserRequest.GET_FEATURES) != 0);
                }
            }
        }
    }
}
