package io.jvirtio.backend.scsi;

import io.jvirtio.backend.store.RamBlockStore;
import io.jvirtio.spec.scsi.VirtioScsiSpec;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class ProvisioningTest extends ScsiTestBase {
    private ScsiLun lun;

    @BeforeEach
    void setUp() {
        start();
        lun = model.addLun(0, 0, lun(1 << 20, 512).maxUnmapBlocks(100).maxUnmapDescriptors(3).maxWriteSameBlocks(64).build());
        assertGood(ini.cmd(0, 0, Cdb.rw10(false, 0, 256)).out(pattern(256 * 512, 1)).run());
    }

    private byte[] stored(long lba, int blocks) {
        return ((RamBlockStore) lun.store()).contents().asSlice(lba * 512, blocks * 512L).toArray(ValueLayout.JAVA_BYTE);
    }

    @Test
    void unmapZeroesTheDescribedRanges() {
        byte[] params = Cdb.unmapParams(new long[] {10, 5}, new long[] {100, 0}, new long[] {200, 20});
        TestInitiator.Response r = ini.cmd(0, 0, Cdb.unmap(params.length)).out(params).run();
        assertGood(r);
        assertEquals(0, r.residual());
        assertArrayEquals(new byte[5 * 512], stored(10, 5));
        assertArrayEquals(new byte[20 * 512], stored(200, 20));
        byte[] p = pattern(256 * 512, 1);
        assertEquals(p[9 * 512], stored(9, 1)[0], "neighbours untouched");
        assertEquals(p[15 * 512 + 1], stored(15, 1)[1]);
        TestInitiator.Response rd = ini.cmd(0, 0, Cdb.rw10(true, 10, 5)).in(5 * 512).run();
        assertArrayEquals(new byte[5 * 512], rd.dataIn(), "reads back zeros (LBPRZ)");
    }

    @Test
    void unmapHonoursTheAdvertisedLimits() {
        byte[] four = Cdb.unmapParams(new long[] {0, 1}, new long[] {2, 1}, new long[] {4, 1}, new long[] {6, 1});
        assertCheckCondition(SenseCode.INVALID_FIELD_IN_PARAMETER_LIST, ini.cmd(0, 0, Cdb.unmap(four.length)).out(four).run());
        byte[] tooMany = Cdb.unmapParams(new long[] {0, 60}, new long[] {100, 41});
        assertCheckCondition(SenseCode.INVALID_FIELD_IN_PARAMETER_LIST,
                ini.cmd(0, 0, Cdb.unmap(tooMany.length)).out(tooMany).run());
        assertArrayEquals(pattern(256 * 512, 1), stored(0, 256), "nothing unmapped by a refused command");
        byte[] exactly = Cdb.unmapParams(new long[] {0, 60}, new long[] {100, 40});
        assertGood(ini.cmd(0, 0, Cdb.unmap(exactly.length)).out(exactly).run());
    }

    @Test
    void unmapParameterChecks() {
        byte[] outside = Cdb.unmapParams(new long[] {0, 1}, new long[] {2040, 9});
        assertCheckCondition(SenseCode.LBA_OUT_OF_RANGE, ini.cmd(0, 0, Cdb.unmap(outside.length)).out(outside).run());
        assertArrayEquals(pattern(512, 1), stored(0, 1), "validated before any block is unmapped");
        assertGood(ini.cmd(0, 0, Cdb.unmap(0)).run());
        assertCheckCondition(SenseCode.PARAMETER_LIST_LENGTH_ERROR, ini.cmd(0, 0, Cdb.unmap(6)).out(new byte[6]).run());
        byte[] anchor = Cdb.unmap(24);
        anchor[1] = 1;
        assertCheckCondition(SenseCode.INVALID_FIELD_IN_CDB,
                ini.cmd(0, 0, anchor).out(Cdb.unmapParams(new long[] {0, 1})).run());
        byte[] params = Cdb.unmapParams(new long[] {0, 1});
        assertResponse(VirtioScsiSpec.VIRTIO_SCSI_S_OVERRUN, ini.cmd(0, 0, Cdb.unmap(params.length + 16)).out(params).run());
    }

    @Test
    void unmapTruncatedDescriptorIsIgnored() {
        byte[] params = Cdb.unmapParams(new long[] {3, 2});
        ByteBuffer.wrap(params).putShort(2, (short) 24);            // claims 1.5 descriptors
        byte[] longer = new byte[params.length + 8];
        System.arraycopy(params, 0, longer, 0, params.length);
        assertGood(ini.cmd(0, 0, Cdb.unmap(longer.length)).out(longer).run());
        assertArrayEquals(new byte[2 * 512], stored(3, 2));
    }

    @Test
    void unmapOnReadOnlyLun() {
        model.addLun(0, 1, lun(1 << 20, 512).readOnly(true).build());
        byte[] params = Cdb.unmapParams(new long[] {0, 1});
        assertCheckCondition(SenseCode.WRITE_PROTECTED, ini.cmd(0, 1, Cdb.unmap(params.length)).out(params).run());
        assertCheckCondition(SenseCode.WRITE_PROTECTED, ini.cmd(0, 1, Cdb.writeSame16(0x08, 0, 1)).out(new byte[512]).run());
    }

    @Test
    void writeSameWithUnmapDiscards() {
        CountingStore counting = new CountingStore(1 << 20);
        model.addLun(0, 2, ScsiLun.builder(counting).build());
        assertGood(ini.cmd(0, 2, Cdb.writeSame16(0x08, 10, 64)).out(new byte[512]).run());
        assertEquals(1, counting.discards.get());
        assertGood(ini.cmd(0, 2, Cdb.writeSame16(0x09, 10, 64)).run());      // UNMAP + NDOB
        assertEquals(2, counting.discards.get());
        assertGood(ini.cmd(0, 2, Cdb.writeSame16(0, 10, 64)).out(new byte[512]).run());
        assertEquals(1, counting.zeroWrites.get(), "a zero block without UNMAP writes zeros");
        assertGood(ini.cmd(0, 0, Cdb.writeSame16(0x08, 20, 30)).out(new byte[512]).run());
        assertArrayEquals(new byte[30 * 512], stored(20, 30));
    }

    @Test
    void writeSameWritesTheBlockOverTheRange() {
        byte[] block = pattern(512, 77);
        TestInitiator.Response r = ini.cmd(0, 0, Cdb.writeSame16(0, 40, 50)).out(block).split().run();
        assertGood(r);
        for (int i = 0; i < 50; i++) {
            assertArrayEquals(block, stored(40 + i, 1), "block " + (40 + i));
        }
        assertArrayEquals(Arrays.copyOf(pattern(256 * 512, 1), 40 * 512), stored(0, 40), "before the range untouched");
        // UNMAP with a non-zero block cannot unmap: it writes the pattern
        assertGood(ini.cmd(0, 0, Cdb.writeSame10(0x08, 100, 3)).out(block).run());
        assertArrayEquals(block, stored(102, 1));
    }

    @Test
    void writeSameChecks() {
        assertCheckCondition(SenseCode.INVALID_FIELD_IN_CDB, ini.cmd(0, 0, Cdb.writeSame16(0, 0, 0)).out(new byte[512]).run());
        assertCheckCondition(SenseCode.INVALID_FIELD_IN_CDB, ini.cmd(0, 0, Cdb.writeSame16(0, 0, 65)).out(new byte[512]).run());
        assertCheckCondition(SenseCode.INVALID_FIELD_IN_CDB, ini.cmd(0, 0, Cdb.writeSame16(0x10, 0, 1)).out(new byte[512]).run());
        assertCheckCondition(SenseCode.INVALID_FIELD_IN_CDB, ini.cmd(0, 0, Cdb.writeSame16(0x20, 0, 1)).out(new byte[512]).run());
        assertCheckCondition(SenseCode.LBA_OUT_OF_RANGE, ini.cmd(0, 0, Cdb.writeSame16(0, 2040, 9)).out(new byte[512]).run());
        assertResponse(VirtioScsiSpec.VIRTIO_SCSI_S_OVERRUN, ini.cmd(0, 0, Cdb.writeSame16(0, 0, 1)).out(new byte[100]).run());
    }
}
