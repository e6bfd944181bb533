package io.jvirtio.config;

import io.jvirtio.bdev.Bdev;
import io.jvirtio.bdev.IoChannel;
import io.jvirtio.bdev.SyncIo;
import io.jvirtio.backend.VhostUserTarget;
import io.jvirtio.backend.scsi.ScsiLun;
import io.jvirtio.backend.scsi.ScsiModelOptions;
import io.jvirtio.backend.scsi.VirtioScsiModel;
import io.jvirtio.backend.store.RamBlockStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * dev_type scsi with SPDK's reconnect params: the controller rides out a target restart (its bdev
 * keeps working), and one whose target does not come back within ctrlr_loss_timeout_sec is given
 * up and leaves the registry; save_config writes the params back.
 */
class ScsiReconnectConfigTest {
    @TempDir
    Path dir;

    private static VhostUserTarget target(Path sock, RamBlockStore store) {
        VirtioScsiModel model = new VirtioScsiModel(ScsiModelOptions.builder().name("s0").requestQueues(2).build());
        model.addLun(0, 0, ScsiLun.builder(store).build());
        return VhostUserTarget.builder().name("s0").socket(sock).model(model).start();
    }

    private Path config(Path sock, int lossTimeout) throws Exception {
        Path config = dir.resolve("bdev.json");
        Files.writeString(config, """
                {"subsystems": [{"subsystem": "bdev", "config": [
                  {"method": "bdev_virtio_attach_controller",
                   "params": {"name": "Rs0", "trtype": "user", "traddr": "%s", "dev_type": "scsi", "vq_size": 128,
                              "ctrlr_loss_timeout_sec": %d, "reconnect_delay_sec": 1}}]}]}
                """.formatted(sock, lossTimeout));
        return config;
    }

    @Test
    void aScsiControllerFromAConfigRidesOutATargetRestart() throws Exception {
        Path sock = dir.resolve("r.sock");
        try (RamBlockStore store = new RamBlockStore(8L << 20, false); BdevRegistry registry = new BdevRegistry()) {
            VhostUserTarget first = target(sock, store);
            registry.load(config(sock, 10));
            String saved = SaveConfig.saveConfig(registry).toString();
            assertTrue(saved.contains("\"ctrlr_loss_timeout_sec\":10") && saved.contains("\"reconnect_delay_sec\":1"), saved);
            Bdev bdev = registry.findBdev("Rs0t0").orElseThrow();
            IoChannel ch = bdev.openChannel();
            SyncIo io = new SyncIo(ch);
            MemorySegment buf = bdev.allocateBuffer(4096, 4096);
            buf.fill((byte) 0x5A);
            io.write(buf, 0);
            first.close();
            try (VhostUserTarget second = target(sock, store)) {
                buf.fill((byte) 0);
                io.read(buf, 0); // waits across the reconnect
                assertEquals((byte) 0x5A, buf.get(ValueLayout.JAVA_BYTE, 4095));
                assertEquals(List.of("Rs0"), registry.controllerNames());
                ch.close();
                registry.close();
            }
        }
    }

    @Test
    void aScsiControllerNotBackWithinCtrlrLossTimeoutLeavesTheRegistry() throws Exception {
        Path sock = dir.resolve("g.sock");
        try (RamBlockStore store = new RamBlockStore(8L << 20, false); BdevRegistry registry = new BdevRegistry()) {
            VhostUserTarget target = target(sock, store);
            registry.load(config(sock, 1));
            assertEquals(List.of("Rs0"), registry.controllerNames());
            target.close(); // the target goes and does not come back
            long deadline = System.currentTimeMillis() + 10_000;
            while (!registry.controllerNames().isEmpty() && System.currentTimeMillis() < deadline) {
                Thread.sleep(20);
            }
            assertEquals(List.of(), registry.controllerNames(), "given up after ctrlr_loss_timeout_sec 1");
            assertTrue(registry.findBdev("Rs0t0").isEmpty());
        }
    }
}
