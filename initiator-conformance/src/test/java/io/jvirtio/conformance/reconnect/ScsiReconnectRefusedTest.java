package io.jvirtio.conformance.reconnect;

import io.jvirtio.bdev.BdevIoException;
import io.jvirtio.bdev.BdevIoException.Reason;
import io.jvirtio.bdev.IoChannel;
import io.jvirtio.core.LinkListener;
import io.jvirtio.core.ReconnectPolicy;
import io.jvirtio.scsi.VirtioScsiController;
import io.jvirtio.scsi.VirtioScsiDisk;
import io.jvirtio.scsi.VirtioScsiOptions;
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
 * A scsi target that comes back as another controller (another virtio_scsi_config, queue count or
 * feature set) is refused, never silently resumed: the controller is given up, the I/O that waited
 * fails naming why, and new I/O is refused.
 */
class ScsiReconnectRefusedTest {
    @TempDir
    Path dir;

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource(delimiter = '|', value = {
            "ram:64M,queues=2|ram:64M,queues=2,max-target=3|came back different: its config has maxTarget 3 (was 7)",
            "ram:64M,queues=2|ram:64M,queues=2,max-lun=7|came back different: its config has maxLun 7 (was 255)",
            "ram:64M,queues=2|ram:64M,queues=3|the back-end came back different: queues",
            "ram:64M,queues=2|ram:64M,queues=2,hotplug=off|came back different: features",
    })
    void aTargetThatComesBackDifferentIsRefused(String before, String after, String expected) throws Exception {
        Path sock = dir.resolve("d.sock");
        Path log = dir.resolve("target.log");
        TargetProcess target = TargetProcess.start(sock, log, "--scsi", before);
        AtomicReference<String> givenUp = new AtomicReference<>();
        try (VirtioScsiController ctrl = VirtioScsiController.connectVhostUser("sdiff0", sock,
                VirtioScsiOptions.defaults().withReconnect(new ReconnectPolicy(20, 1, 0)))) {
            ctrl.device().addLinkListener(new LinkListener() {
                @Override
                public void givenUp(String device, String reason) {
                    givenUp.set(reason);
                }
            });
            VirtioScsiDisk lun = ctrl.bdevs().getFirst();
            IoChannel ch = lun.openChannel();
            MemorySegment buf = lun.allocateBuffer(4096, 4096);
            CompletableFuture<VirtioException> first = new CompletableFuture<>();
            assertTrue(ch.write(buf, 0, (c, e) -> first.complete(e), null));
            while (!first.isDone()) {
                ch.poll();
            }
            assertEquals(null, first.get(), "I/O works before the restart");
            target.kill();
            target = TargetProcess.start(sock, log, "--scsi", after);
            // an I/O submitted while the link is down waits, then fails when the controller is given up
            CompletableFuture<VirtioException> waiting = new CompletableFuture<>();
            boolean accepted;
            try {
                accepted = ch.write(buf, 4096, (c, e) -> waiting.complete(e), null);
            } catch (BdevIoException e) {
                accepted = false; // given up already; the checks below still hold
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
            System.out.println("refused (waiting write " + (accepted ? "failed" : "refused") + "): " + reason);
            ch.close();
        } finally {
            target.kill();
        }
    }
}
