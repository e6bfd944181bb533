package io.jvirtio.backend.scsi;

import io.jvirtio.backend.DeviceType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ScsiDeviceSpecTest {
    @Test
    void defaults() {
        ScsiDeviceSpec s = ScsiDeviceSpec.parse("ram:64M");
        assertEquals(1, s.targets());
        assertEquals(1, s.luns());
        assertEquals(64L << 20, s.sizeBytes());
        assertEquals(List.of(512), s.blockSizes());
        assertTrue(s.unmap());
        assertTrue(s.hotplug());
        assertFalse(s.readOnly());
    }

    @Test
    void targetsLunsAndMixedBlockSizes() {
        try (ScsiDeviceSpec.Instance i = ScsiDeviceSpec.parse("ram:1M,targets=2,luns=2,bs=512/4096,queues=3,unmap=off,ro")
                .open("ctl")) {
            VirtioScsiModel m = i.model();
            assertEquals("ctl", m.name());
            assertEquals(5, m.numQueues());
            assertEquals(4, i.stores().size());
            assertEquals(512, m.lun(0, 0).blockSize());
            assertEquals(4096, m.lun(0, 1).blockSize());
            assertEquals(512, m.lun(1, 0).blockSize());
            assertEquals(256, m.lun(1, 1).blockCount());
            assertFalse(m.lun(1, 1).thinProvisioning());
            assertTrue(m.lun(1, 1).readOnly());
            assertEquals("ctl-t1-l1", m.lun(1, 1).serial());
        }
    }

    @Test
    void deviceTypeForTheStandaloneTarget() throws Exception {
        DeviceType type = new ScsiDeviceType();
        assertEquals("scsi", type.name());
        assertTrue(type.usage().startsWith("ram:SIZE|file:"));
        DeviceType.Opened o = type.open("scsi7", "ram:256K,luns=3,hotplug=off,change=off");
        try {
            VirtioScsiModel m = (VirtioScsiModel) o.model();
            assertEquals(3, m.target(0).luns().size());
            assertEquals(0, m.deviceFeatures() & 0xF, "neither HOTPLUG nor CHANGE");
            assertEquals(3, o.resources().size());
        } finally {
            o.model().close();
            for (AutoCloseable c : o.resources()) {
                c.close();
            }
        }
    }

    @Test
    void fileBackedLuns(@TempDir Path dir) {
        String pattern = dir.resolve("disk-%t-%l.img").toString();
        try (ScsiDeviceSpec.Instance i = ScsiDeviceSpec.parse("file:" + pattern + ",size=128K,luns=2,pbs=4096").open("f")) {
            assertTrue(Files.exists(dir.resolve("disk-0-1.img")));
            assertEquals(256, i.model().lun(0, 1).blockCount());
            assertEquals(3, i.model().lun(0, 1).physicalBlockExponent());
        }
    }

    @Test
    void badSpecsNameTheProblem() {
        for (String bad : new String[] {"ram", "disk:1M", "file:", "ram:1M,targets=0", "ram:1M,targets=9",
                "ram:1M,bs=1000", "ram:12Q", "ram:1M,ro=maybe", "ram:1M,colour=blue", "ram:1M,luns=1,luns=2",
                "file:/tmp/x.img,luns=2", "ram:1M,luns=300"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ScsiDeviceSpec.parse(bad), bad);
            assertTrue(e.getMessage().contains("scsi") || e.getMessage().contains(bad), e.getMessage());
        }
    }
}
