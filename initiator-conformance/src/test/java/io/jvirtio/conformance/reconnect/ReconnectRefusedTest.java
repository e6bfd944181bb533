package io.jvirtio.conformance.reconnect;

import io.jvirtio.bdev.BdevIoException;
import io.jvirtio.bdev.BdevIoException.Reason;
import io.jvirtio.blk.VirtioBlkChannel;
import io.jvirtio.blk.VirtioBlkDevice;
import io.jvirtio.blk.VirtioBlkOptions;
import io.jvirtio.core.LinkListener;
import io.jvirtio.core.ReconnectPolicy;
import io.jvirtio.spec.VirtioException;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A target that comes back as another device (another capacity, block size or feature set) is
 * refused: never silently resumed. The device is given up, the I/O that waited fails naming why,
 * and new I/O is refused.
 */
class ReconnectRefusedTest {
    @TempDir
    Path dir;

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource(delimiter = '|', value = {
            "ram:64M|ram:32M|came back different: its config has capacitySectors 65536 (was 131072)",
            "ram:64M|ram:64M,bs=4096|blockSize 4096 (was 512)",
            "ram:64M|ram:64M,features-off=EVENT_IDX|came back different: features",
    })
    void aTargetThatComesBackDifferentIsRefused(String before, String after, String expected) throws Exception {
        Path sock = dir.resolve("d.sock");
        Path log = dir.resolve("target.log");
        TargetProcess target = TargetProcess.start(sock, log, "--blk", before);
        AtomicReference<String> givenUp = new AtomicReference<>();
        try (VirtioBlkDevice blk = VirtioBlkDevice.connectVhostUser("diff0", sock,
                VirtioBlkOptions.defaults().withReconnect(new ReconnectPolicy(20, 1, 0)))) {
            blk.device().addLinkListener(new LinkListener() {
                @Override
                public void givenUp(String device, String reason) {
                    givenUp.set(reason);
                }
            });
            VirtioBlkChannel ch = blk.openChannel();
            MemorySegment buf = blk.allocateBuffer(4096, 4096);
            CompletableFuture<VirtioException> first = new CompletableFuture<>();
            assertTrue(ch.write(buf, 0, (c, e) -> first.complete(e), null));
            while (!first.isDone()) {
                ch.poll();
            }
            assertEquals(null, first.get(), "I/O works before the restart");
            target.kill();
            target = TargetProcess.start(sock, log, "--blk", after);
            // an I/O submitted while the link is down waits, then fails when the device is given up
            CompletableFuture<VirtioException> waiting = new CompletableFuture<>();
            boolean accepted;
            try {
                accepted = ch.write(buf, 4096, (c, e) -> waiting.complete(e), null);
            } catch (BdevIoException e) {
                accepted = false; // the hang-up may already have been refused; then the give-up below still holds
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
            while (givenUp.get() == null || (accepted && !waiting.isDone())) {
                ch.poll();
                assertTrue(System.nanoTime() < deadline, "not given up within 15 s of the restart as " + after);
            }
            String reason = givenUp.get();
            assertNotNull(reason);
            assertTrue(reason.contains(expected), reason);
            if (accepted) {
                VirtioException e = waiting.get();
                assertNotNull(e, "the waiting write failed");
                assertEquals(Reason.TRANSPORT_LOST, BdevIoException.reasonOf(e, Reason.QUEUE_BROKEN), e.getMessage());
                assertTrue(e.getMessage().contains(expected), e.getMessage());
            }
            BdevIoException refused = assertThrows(BdevIoException.class, () -> ch.write(buf, 0, (c, e) -> { }, null));
            assertEquals(Reason.TRANSPORT_LOST, refused.reason());
            assertTrue(refused.getMessage().contains(expected), refused.getMessage());
            System.out.println("refused: " + reason);
            ch.close();
        } finally {
            target.kill();
        }
    }
}
