package io.jvirtio.config;

import io.jvirtio.backend.VhostUserTarget;
import io.jvirtio.backend.blk.BlkModelOptions;
import io.jvirtio.backend.blk.VirtioBlkModel;
import io.jvirtio.backend.store.RamBlockStore;
import io.jvirtio.core.vfio.VfioException;
import io.jvirtio.testkit.OpenFiles;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * {@code trtype pci} with the real controller types on a host where the function cannot be opened (this build host
 * has no {@code /dev/vfio}): a config error on the entry's {@code traddr} naming the controller and the address, and
 * nothing left attached or open: the load rolls back what it had attached before.
 */
class PciWithoutVfioTest {
    @TempDir
    Path dir;

    private final BdevRegistry registry = new BdevRegistry();
    private VhostUserTarget target;
    private RamBlockStore store;

    @AfterEach
    void close() {
        registry.close();
        if (target != null) {
            target.close();
            store.close();
        }
    }

    private Path userBlk() {
        store = new RamBlockStore(4L << 20, false);
        Path socket = dir.resolve("blk.sock");
        target = VhostUserTarget.builder().name("blk").socket(socket)
                .model(new VirtioBlkModel("blk", store, BlkModelOptions.builder().build())).start();
        return socket;
    }

    @Test
    void aPciControllerThatCannotBeOpenedIsAConfigErrorAndTheLoadIsRolledBack() throws Exception {
        Path socket = userBlk();
        Path file = Files.writeString(dir.resolve("pci.json"), """
                {"subsystems": [{"subsystem": "bdev", "config": [
                  {"method": "bdev_virtio_attach_controller",
                   "params": {"name": "VirtioBlk0", "dev_type": "blk", "trtype": "user", "traddr": "%s"}},
                  {"method": "bdev_virtio_attach_controller",
                   "params": {"name": "VirtioScsi0", "dev_type": "scsi", "trtype": "pci", "traddr": "00:06.0"}}]}]}
                """.formatted(socket));
        List<String> before = OpenFiles.list();
        ConfigException e = assertThrows(ConfigException.class, () -> registry.load(file));
        assertEquals("subsystems[0].config[1].params.traddr", e.jsonPath().toString());
        String m = e.getMessage();
        assertTrue(m.startsWith(file + ": subsystems[0].config[1].params.traddr: \"00:06.0\" (0000:00:06.0): cannot attach VirtioScsi0"
                + " over VFIO: "), m);
        // the cause is VfioPciFunction.open's own message (here: no such function, or no /dev/vfio, with the fix)
        assertInstanceOf(VfioException.class, e.getCause(), m);
        assertTrue(m.contains("over VFIO: " + e.getCause().getMessage()), m);
        assertTrue(e.getCause().getMessage().startsWith("PCI function 0000:00:06.0"), e.getCause().getMessage());
        assertTrue(registry.controllers().isEmpty(), "the user controller attached before it is detached again");
        assertTrue(registry.bdevs().isEmpty());
        // the in-process target holds the memfd and eventfds it received until its session has ended, a few ms after
        // the rollback closed the connection: wait for that, or the target's copies are taken for the initiator's
        assertTrue(target.awaitIdle(1, Duration.ofSeconds(5)), "the target's session ended after the rollback");
        List<String> after = OpenFiles.list();
        assertTrue(after.stream().noneMatch(f -> f.contains("jvirtio-VirtioScsi0") || f.startsWith("/dev/vfio")), after.toString());
        assertTrue(after.stream().noneMatch(f -> f.contains("jvirtio-VirtioBlk0")), "the rolled-back controller's memory: " + after);
        assertTrue(before.stream().noneMatch(f -> f.startsWith("/dev/vfio")));
    }

    @Test
    void bothDevTypesReportTheControllerAndTheAddress() {
        for (String devType : List.of("blk", "scsi")) {
            ConfigException e = assertThrows(ConfigException.class,
                    () -> registry.attachController(ControllerParams.pci("P" + devType, devType, "0000:00:05.0")));
            assertEquals("traddr", e.jsonPath().toString());
            assertTrue(e.getMessage().startsWith("traddr: \"0000:00:05.0\": cannot attach P" + devType + " over VFIO: "), e.getMessage());
            assertTrue(registry.controllers().isEmpty());
        }
    }

    @Test
    void theAttachRpcAnswersWithWhatWasWrong() {
        JsonRpc rpc = new JsonRpc(registry);
        String request = "{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": \"bdev_virtio_attach_controller\", \"params\":"
                + " {\"name\": \"VirtioBlk0\", \"dev_type\": \"blk\", \"trtype\": \"pci\", \"traddr\": \"%s\"%s}}";
        String answer = rpc.handle(request.formatted("0000:00:05.x", ""));
        assertTrue(answer.contains("traddr: Invalid PCI address '0000:00:05.x'"), answer);
        answer = rpc.handle(request.formatted("0000:00:05.0", ", \"vq_count\": 1"));
        assertTrue(answer.contains("vq_count: 1 is not allowed for trtype \\\"pci\\\""), answer);
        answer = rpc.handle(request.formatted("0000:00:05.0", ""));
        assertTrue(answer.contains("-32602") && answer.contains("cannot attach VirtioBlk0 over VFIO"), answer);
        assertTrue(registry.controllers().isEmpty());
    }
}
