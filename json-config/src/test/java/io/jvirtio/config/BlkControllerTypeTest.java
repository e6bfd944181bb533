package io.jvirtio.config;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** The real blk type where no target is needed: what it refuses and how a socket that is not there is reported. */
class BlkControllerTypeTest {
    @TempDir
    Path dir;

    private final BdevRegistry registry = new BdevRegistry();

    @AfterEach
    void close() {
        registry.close();
    }

    private static String config(String traddr) {
        return "{\"subsystems\": [{\"subsystem\": \"bdev\", \"config\": [{\"method\": \"bdev_virtio_attach_controller\", \"params\":"
                + " {\"name\": \"VirtioBlk0\", \"dev_type\": \"blk\", \"trtype\": \"user\", \"traddr\": \"" + traddr + "\"}}]}]}";
    }

    @Test
    void aMissingSocketFailsWithItsPathAndLeavesNothingAttached() throws Exception {
        Path socket = dir.resolve("missing.sock");
        Path file = Files.writeString(dir.resolve("c.json"), config(socket.toString()));
        ConfigException e = assertThrows(ConfigException.class, () -> registry.load(file));
        assertEquals("subsystems[0].config[0].params.traddr", e.jsonPath().toString());
        assertTrue(e.getMessage().startsWith(file + ": subsystems[0].config[0].params.traddr: \"" + socket + "\": cannot attach VirtioBlk0:"
                + " cannot connect to vhost-user socket " + socket + ": the file does not exist"), e.getMessage());
        assertTrue(registry.controllers().isEmpty());
        assertTrue(registry.bdevs().isEmpty());
    }

    @Test
    void aRegularFileIsNotASocket() throws Exception {
        Path notSocket = Files.writeString(dir.resolve("plain"), "x");
        ConfigException e = assertThrows(ConfigException.class, () -> new ConfigLoader(registry).loadString(config(notSocket.toString())));
        assertTrue(e.getMessage().contains("it is a regular file, not a unix socket"), e.getMessage());
        assertTrue(registry.controllers().isEmpty());
    }

    @Test
    void aPciParamsWithVqCountIsRefusedBeforeAnythingIsTouched() {
        ConfigException e = assertThrows(ConfigException.class, () -> registry.attachController(SpdkJson.parse(
                "{\"name\": \"P\", \"dev_type\": \"blk\", \"trtype\": \"pci\", \"traddr\": \"0000:00:04.0\", \"vq_count\": 2}", "t")));
        assertEquals("vq_count", e.jsonPath().toString());
        assertTrue(e.getMessage().startsWith("vq_count: 2 is not allowed for trtype \"pci\""), e.getMessage());
        assertTrue(registry.controllers().isEmpty());
    }
}
