package io.jvirtio.config;

import io.jvirtio.backend.VhostUserTarget;
import io.jvirtio.backend.blk.BlkModelOptions;
import io.jvirtio.backend.blk.VirtioBlkModel;
import io.jvirtio.backend.store.RamBlockStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A controller attached from a config with ctrlr_loss_timeout_sec whose target does not come back
 * is given up, and its bdevs leave the registry (SPDK's NVMe bdev deletes a lost controller's
 * bdevs); save_config then no longer writes it.
 */
class GivenUpControllerTest {
    @TempDir
    Path dir;

    @Test
    void aControllerNotBackWithinCtrlrLossTimeoutLeavesTheRegistry() throws Exception {
        Path sock = dir.resolve("g.sock");
        VhostUserTarget target = VhostUserTarget.builder().name("g0").socket(sock)
                .model(new VirtioBlkModel("g0", new RamBlockStore(8L << 20, false), BlkModelOptions.builder().build())).start();
        Path config = dir.resolve("bdev.json");
        Files.writeString(config, """
                {"subsystems": [{"subsystem": "bdev", "config": [
                  {"method": "bdev_virtio_attach_controller",
                   "params": {"name": "Lost0", "trtype": "user", "traddr": "%s", "dev_type": "blk",
                              "ctrlr_loss_timeout_sec": 1, "reconnect_delay_sec": 1}}]}]}
                """.formatted(sock));
        try (BdevRegistry registry = new BdevRegistry()) {
            registry.load(config);
            assertEquals(List.of("Lost0"), registry.controllerNames());
            String saved = SaveConfig.saveConfig(registry).toString();
            assertTrue(saved.contains("\"ctrlr_loss_timeout_sec\":1") && saved.contains("\"reconnect_delay_sec\":1"), saved);
            target.close(); // the target goes and does not come back
            long deadline = System.currentTimeMillis() + 10_000;
            while (!registry.controllerNames().isEmpty() && System.currentTimeMillis() < deadline) {
                Thread.sleep(20);
            }
            assertEquals(List.of(), registry.controllerNames(), "given up after ctrlr_loss_timeout_sec 1");
            assertTrue(registry.findBdev("Lost0").isEmpty());
            assertTrue(!SaveConfig.saveConfig(registry).toString().contains("Lost0"));
        }
    }
}
