package io.jvirtio.backend;

import io.jvirtio.bdev.SyncIo;
import io.jvirtio.blk.VirtioBlkChannel;
import io.jvirtio.blk.VirtioBlkDevice;
import io.jvirtio.blk.VirtioBlkOptions;
import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.spec.vhostuser.VhostUserRequest;
import io.jvirtio.backend.blk.BlkModelOptions;
import io.jvirtio.backend.store.FileBlockStore;
import io.jvirtio.backend.store.RamBlockStore;
import io.jvirtio.backend.testing.DriverRing;
import io.jvirtio.backend.testing.FrontEndMemory;
import io.jvirtio.backend.testing.Handshake;
import io.jvirtio.backend.testing.ScriptedFrontEnd;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;

import static io.jvirtio.core.testing.BlkPatterns.*;
import static org.junit.jupiter.api.Assertions.*;

/** Several devices in one process, each on its own threads: a misbehaving front-end on one never disturbs the others. */
class MultiDeviceTest {
    @Test
    void aMisbehavingFrontEndDoesNotDisturbTheOtherDevices(@TempDir Path d) throws Exception {
        Path image = d.resolve("b.img");
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(8 << 20);
        }
        try (TargetServer server = new TargetServer()) {
            VhostUserTarget a = server.start(VhostUserTarget.builder().name("devA").socket(d.resolve("a.sock"))
                    .blk(new RamBlockStore(8 << 20, false), BlkModelOptions.builder().numQueues(2).build()));
            VhostUserTarget b = server.start(VhostUserTarget.builder().name("devB").socket(d.resolve("b.sock"))
                    .blk(new FileBlockStore(image, false), BlkModelOptions.builder().blockSize(4096).build()));
            VhostUserTarget c = server.start(VhostUserTarget.builder().name("devC").socket(d.resolve("c.sock"))
                    .blk(new RamBlockStore(1 << 20, false), BlkModelOptions.defaults()));
            assertEquals(3, server.targets().size());
            assertSame(b, server.find("devB"));

            AtomicBoolean stop = new AtomicBoolean();
            ExecutorService pool = Executors.newFixedThreadPool(2);
            try {
                Future<Integer> ioA = pool.submit(() -> hammer(a, stop, 512));
                Future<Integer> ioB = pool.submit(() -> hammer(b, stop, 4096));
                // meanwhile, device C gets garbage, protocol errors and a driver error, over and over
                int bad = 0;
                try (FrontEndMemory mem = new FrontEndMemory("evil", 2 << 20)) {
                    for (int i = 0; i < 10; i++) {
                        try (ScriptedFrontEnd fe = ScriptedFrontEnd.connect(c.socketPath())) {
                            switch (i % 3) {
                                case 0 -> fe.sendRaw(77, 1, new byte[40]);
                                case 1 -> fe.sendBytes(new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16});
                                default -> {
                                    Handshake.open(fe);
                                    mem.share(fe);
                                    try (DriverRing ring = new DriverRing(mem.domain(), 0, 16)) {
                                        ring.start(fe, 0, true);
                                        ring.publish(999 % 16 + 16); // head out of range
                                        ring.kick();
                                        assertTrue(fe.awaitClosed(Duration.ofSeconds(5)));
                                    }
                                }
                            }
                            assertTrue(fe.awaitClosed(Duration.ofSeconds(5)));
                            bad++;
                        }
                        assertTrue(c.awaitIdle(0, Duration.ofSeconds(5)));
                    }
                }
                Thread.sleep(100);
                stop.set(true);
                assertTrue(ioA.get() > 0, "device A kept working");
                assertTrue(ioB.get() > 0, "device B kept working");
                assertEquals(10, bad);
                assertTrue(c.errorCount() >= 10, "device C logged every bad connection: " + c.errors());
                assertTrue(a.errors().isEmpty(), "device A saw no error: " + a.errors());
                assertTrue(b.errors().isEmpty(), "device B saw no error: " + b.errors());
            } finally {
                stop.set(true);
                pool.shutdown();
            }
            // device C still serves a well-behaved front-end
            try (ScriptedFrontEnd fe = ScriptedFrontEnd.connect(c.socketPath())) {
                Handshake.open(fe);
                assertEquals(1, fe.callU64(VhostUserRequest.GET_QUEUE_NUM));
            }
        }
    }

    /** Writes and verifies 64 KiB blocks until told to stop. @return I/Os done */
    private static int hammer(VhostUserTarget t, AtomicBoolean stop, int bs) {
        int n = 0;
        try (VirtioBlkDevice blk = VirtioBlkDevice.connectVhostUser(t.name() + "-init", t.socketPath(),
                VirtioBlkOptions.defaults().withQueueSize(64).withMemoryBytes(8L << 20).withHugePages(HugePagePolicy.NEVER));
             VirtioBlkChannel ch = blk.openChannel()) {
            SyncIo io = new SyncIo(ch);
            MemorySegment w = blk.allocateBuffer(65536, 4096);
            MemorySegment r = blk.allocateBuffer(65536, 4096);
            while (!stop.get() || n < 20) {
                long off = (n % 64) * 65536L;
                fill(w, n);
                io.write(w, off);
                io.read(r, off);
                assertSameBytes(bytes(w), bytes(r), t.name() + " I/O " + n);
                n++;
            }
        }
        return n;
    }
}
