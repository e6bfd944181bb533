package io.jvirtio.config;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.*;

/** The registry without devices: attach/detach rules, names, uuids, lookups, close, threads. */
class BdevRegistryTest {
    private final FakeControllerType blk = FakeControllerType.blk();
    private final FakeControllerType scsi = FakeControllerType.scsi();
    private final BdevRegistry registry = new BdevRegistry(ControllerTypes.of(blk, scsi));

    @AfterEach
    void close() {
        registry.close();
        assertEquals(0, blk.open.get() + scsi.open.get(), "every controller closed");
    }

    private static ControllerParams user(String name, String devType, String socket) {
        return ControllerParams.user(name, devType, Path.of(socket), 1, 128);
    }

    @Test
    void attachReturnsTheBdevNamesAsSpdkDoes() {
        assertEquals(List.of("VirtioBlk0"), registry.attachController(user("VirtioBlk0", "blk", "/b0")));
        scsi.luns = 2;
        assertEquals(List.of("VirtioScsi0t0", "VirtioScsi0t1"), registry.attachController(user("VirtioScsi0", "scsi", "/s0")));
        assertEquals(List.of("VirtioBlk0", "VirtioScsi0"), registry.controllerNames());
        assertEquals(List.of("VirtioBlk0", "VirtioScsi0t0", "VirtioScsi0t1"), registry.bdevs().stream().map(b -> b.name()).toList());
        assertEquals("VirtioScsi0", registry.attachedBdev("VirtioScsi0t1").controller());
        assertEquals("scsi", registry.controller("VirtioScsi0").devType());
    }

    @Test
    void uuidsAreRandomPerBdevStableAndAliases() {
        registry.attachController(user("A", "blk", "/a"));
        registry.attachController(user("B", "blk", "/b"));
        UUID a = registry.uuid("A");
        assertNotEquals(a, registry.uuid("B"));
        assertEquals(a, registry.uuid("A"), "stable while attached");
        assertEquals("A", registry.bdev(a.toString()).name(), "the uuid is an alias");
        assertEquals(List.of(a.toString()), registry.attachedBdev("A").aliases());
        registry.detachController("A");
        registry.attachController(user("A", "blk", "/a"));
        assertNotEquals(a, registry.uuid("A"), "a new attach is a new bdev");
    }

    @Test
    void jsonParamsAreCheckedWithRelativePaths() {
        ConfigException e = assertThrows(ConfigException.class, () -> registry.attachController(
                SpdkJson.parse("{\"name\": \"A\", \"dev_type\": \"blk\", \"trtype\": \"user\", \"traddr\": \"/a\", \"vq_size\": 100}", null)));
        assertEquals("vq_size: 100 is not a power of two", e.getMessage());
        assertEquals(List.of("A"), registry.attachController(
                SpdkJson.parse("{\"name\": \"A\", \"dev_type\": \"blk\", \"trtype\": \"user\", \"traddr\": \"/a\"}", null)));
        assertEquals(512, registry.controller("A").configParams().vqSize());
    }

    @Test
    void duplicateControllerNameIsRefusedNamingIt() {
        registry.attachController(user("VirtioBlk0", "blk", "/b0"));
        ConfigException e = assertThrows(ConfigException.class, () -> registry.attachController(user("VirtioBlk0", "blk", "/other")));
        assertEquals("name", e.jsonPath().toString());
        assertEquals("name: \"VirtioBlk0\" is already in use by the attached blk controller VirtioBlk0 (trtype user, traddr \"/b0\");"
                + " detach it first or choose another name", e.getMessage());
        assertEquals(List.of("attach VirtioBlk0"), blk.events, "refused before touching a device");
        assertEquals(1, registry.controllers().size());
    }

    @Test
    void aControllerNamedAsAnExistingBdevIsRefused() {
        registry.attachController(user("VirtioScsi0", "scsi", "/s0"));
        ConfigException e = assertThrows(ConfigException.class, () -> registry.attachController(user("VirtioScsi0t0", "blk", "/b")));
        assertTrue(e.getMessage().startsWith("name: \"VirtioScsi0t0\" is already in use by bdev VirtioScsi0t0 (uuid "), e.getMessage());
    }

    @Test
    void aControllerWhoseBdevNameIsTakenIsClosedAgain() {
        registry.attachController(user("Disk0", "blk", "/b0"));
        scsi.bdevNames.put("/s0", List.of("ScsiX", "Disk0"));
        ConfigException e = assertThrows(ConfigException.class, () -> registry.attachController(user("ScsiX", "scsi", "/s0")));
        assertTrue(e.getMessage().contains("controller \"ScsiX\" exposes bdev \"Disk0\", a name already used by the attached blk controller Disk0"),
                e.getMessage());
        assertEquals(List.of("attach ScsiX", "close ScsiX"), scsi.events);
        assertEquals(List.of("Disk0"), registry.controllerNames());
    }

    @Test
    void failedAttachLeavesNothingAttached() {
        blk.failingTraddrs.add("/dead");
        ConfigException e = assertThrows(ConfigException.class, () -> registry.attachController(user("B", "blk", "/dead")));
        assertEquals("cannot attach B (dev_type blk, trtype user, traddr \"/dead\"): simulated failure connecting to /dead", e.getMessage());
        assertTrue(registry.controllers().isEmpty());
        assertEquals(0, blk.open.get());
    }

    @Test
    void unavailableDevTypeIsNamed() {
        BdevRegistry blkOnly = new BdevRegistry(ControllerTypes.of(blk));
        ConfigException e = assertThrows(ConfigException.class, () -> blkOnly.attachController(user("S", "scsi", "/s")));
        assertEquals("dev_type", e.jsonPath().toString());
        assertEquals("dev_type: dev_type scsi is not available in this jvirtio (no controller type for it is registered; available: blk)",
                e.getMessage());
        e = assertThrows(ConfigException.class, () -> blkOnly.attachController(user("S", "nvme", "/s")));
        assertEquals("dev_type: \"nvme\" is not a dev_type; use \"blk\" or \"scsi\" (available here: blk)", e.getMessage());
        e = assertThrows(ConfigException.class, () -> blkOnly.attachController(user("S", "BLK", "/s")));
        assertTrue(e.getMessage().contains("case-sensitive"), e.getMessage());
    }

    @Test
    void detachUnknownIsNoSuchDevice() {
        registry.attachController(user("A", "blk", "/a"));
        NoSuchDeviceException e = assertThrows(NoSuchDeviceException.class, () -> registry.detachController("NoSuch"));
        assertEquals("no controller named \"NoSuch\" is attached (attached: A)", e.getMessage());
        NoSuchDeviceException b = assertThrows(NoSuchDeviceException.class, () -> registry.bdev("Nope"));
        assertEquals("no bdev named \"Nope\" (attached bdevs: A)", b.getMessage());
        assertTrue(registry.findBdev("Nope").isEmpty());
        assertTrue(registry.findController("Nope").isEmpty());
    }

    @Test
    void detachClosesTheControllerAndFreesItsNames() {
        registry.attachController(user("A", "blk", "/a"));
        registry.detachController("A");
        assertEquals(List.of("attach A", "close A"), blk.events);
        assertTrue(registry.bdevs().isEmpty());
        registry.attachController(user("A", "blk", "/a"));
        assertEquals(1, registry.bdevs().size());
    }

    @Test
    void closeDetachesNewestFirstAndRefusesMore() {
        registry.attachController(user("A", "blk", "/a"));
        registry.attachController(user("B", "blk", "/b"));
        registry.attachController(user("C", "blk", "/c"));
        registry.close();
        assertEquals(List.of("attach A", "attach B", "attach C", "close C", "close B", "close A"), blk.events);
        assertThrows(IllegalStateException.class, () -> registry.attachController(user("D", "blk", "/d")));
        registry.close();
    }

    @Test
    void concurrentAttachesOfOneNameLetExactlyOneWin() throws Exception {
        blk.attachDelayMillis = 20;
        int threads = 8;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            CountDownLatch start = new CountDownLatch(1);
            List<Future<Boolean>> results = new ArrayList<>();
            for (int i = 0; i < threads; i++) {
                String traddr = "/t" + i;
                results.add(pool.submit(() -> {
                    start.await();
                    try {
                        registry.attachController(user("Same", "blk", traddr));
                        return true;
                    } catch (ConfigException e) {
                        return false;
                    }
                }));
            }
            start.countDown();
            int won = 0;
            for (Future<Boolean> f : results) {
                won += f.get() ? 1 : 0;
            }
            assertEquals(1, won);
            assertEquals(1, blk.open.get());
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void concurrentAttachDetachAndReadsStayConsistent() throws Exception {
        int threads = 6;
        int rounds = 50;
        ExecutorService pool = Executors.newFixedThreadPool(threads + 1);
        try {
            List<Future<Object>> fs = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                String name = "T" + t;
                fs.add(pool.submit((Callable<Object>) () -> {
                    for (int r = 0; r < rounds; r++) {
                        registry.attachController(user(name, "blk", "/" + name));
                        assertEquals(name, registry.bdev(name).name());
                        registry.detachController(name);
                    }
                    return null;
                }));
            }
            fs.add(pool.submit((Callable<Object>) () -> {
                for (int r = 0; r < 2000; r++) {
                    // a snapshot: every bdev listed belongs to a listed controller
                    BdevJson.bdevGetBdevs(registry);
                    SaveConfig.saveConfig(registry);
                }
                return null;
            }));
            for (Future<Object> f : fs) {
                f.get();
            }
            assertTrue(registry.controllers().isEmpty());
            assertEquals(0, blk.open.get());
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void serviceLoaderFindsBlk() {
        ControllerTypes types = ControllerTypes.discover();
        assertTrue(types.find("blk").orElseThrow() instanceof BlkControllerType);
        try (BdevRegistry r = new BdevRegistry()) {
            assertEquals(types.devTypes(), r.controllerTypes().devTypes());
        }
        assertEquals(Set.of("blk", "scsi"), ControllerTypes.of(blk).with(scsi).devTypes());
    }
}
