package io.jvirtio.config;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Config files: every error names the file; missing, directory, empty and malformed files; save writes SPDK's format. */
class ConfigFileTest {
    @TempDir
    Path dir;

    private final FakeControllerType blk = FakeControllerType.blk();
    private final BdevRegistry registry = new BdevRegistry(ControllerTypes.of(blk));

    @AfterEach
    void close() {
        registry.close();
    }

    private ConfigException refused(Path file) {
        ConfigException e = assertThrows(ConfigException.class, () -> registry.load(file));
        assertEquals(file.toString(), e.source());
        assertTrue(e.getMessage().startsWith(file + ": "), e.getMessage());
        assertTrue(registry.controllers().isEmpty());
        return e;
    }

    @Test
    void missingFile() {
        Path f = dir.resolve("nope.json");
        assertEquals(f + ": config file not found (no such file)", refused(f).getMessage());
    }

    @Test
    void directory() {
        assertEquals(dir + ": is a directory, not a JSON config file", refused(dir).getMessage());
    }

    @Test
    void emptyFile() throws Exception {
        Path f = Files.writeString(dir.resolve("empty.json"), "");
        assertTrue(refused(f).detail().startsWith("empty input"));
    }

    @Test
    void malformedFileNamesLineAndColumn() throws Exception {
        Path f = Files.writeString(dir.resolve("bad.json"), "{\"subsystems\": [\n  {\"subsystem\": \"bdev\", \"config\": [}\n]}\n");
        ConfigException e = refused(f);
        assertEquals(f + ": malformed JSON at line 2, column 36: Unexpected close marker '}': expected ']'"
                + " (for Array starting at line 2, column 35)", e.getMessage());
    }

    @Test
    void aBadParamNamesFilePathAndValue() throws Exception {
        Path f = Files.writeString(dir.resolve("c.json"), "{\"subsystems\": [{\"subsystem\": \"bdev\", \"config\": [{\"method\":"
                + " \"bdev_virtio_attach_controller\", \"params\": {\"name\": \"A\", \"dev_type\": \"blk\", \"trtype\": \"user\","
                + " \"traddr\": \"/a\", \"vq_size\": 100}}]}]}");
        assertEquals(f + ": subsystems[0].config[0].params.vq_size: 100 is not a power of two", refused(f).getMessage());
    }

    @Test
    void saveWritesAFileThatLoadsBack() throws Exception {
        registry.attachController(ControllerParams.user("VirtioBlk0", "blk", Path.of("/var/tmp/vhost.blk0"), 2, 256));
        Path out = dir.resolve("saved.json");
        SaveConfig.write(registry, out);
        assertEquals("""
                {
                  "subsystems": [
                    {
                      "subsystem": "bdev",
                      "config": [
                        {
                          "method": "bdev_virtio_attach_controller",
                          "params": {
                            "name": "VirtioBlk0",
                            "dev_type": "blk",
                            "trtype": "user",
                            "traddr": "/var/tmp/vhost.blk0",
                            "vq_count": 2,
                            "vq_size": 256
                          }
                        },
                        {
                          "method": "bdev_wait_for_examine"
                        }
                      ]
                    }
                  ]
                }
                """, Files.readString(out));
        try (BdevRegistry fresh = new BdevRegistry(ControllerTypes.of(FakeControllerType.blk()))) {
            assertEquals(List.of("VirtioBlk0"), fresh.load(out).attachedControllers());
            assertEquals(registry.controller("VirtioBlk0").configParams(), fresh.controller("VirtioBlk0").configParams());
        }
    }
}
