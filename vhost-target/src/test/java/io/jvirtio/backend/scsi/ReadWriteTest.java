package io.jvirtio.backend.scsi;

import io.jvirtio.backend.store.RamBlockStore;
import io.jvirtio.spec.scsi.VirtioScsiSpec;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.ValueLayout;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class ReadWriteTest extends ScsiTestBase {
    private ScsiLun small;
    private ScsiLun big;

    @BeforeEach
    void setUp() {
        start();
        small = addLun(0, 0, 1 << 20, 512);                    // 2048 blocks
        big = addLun(1, 3, 4 << 20, 4096);                     // 1024 blocks
    }

    private byte[] stored(ScsiLun lun, long offset, int len) {
        return ((RamBlockStore) lun.store()).contents().asSlice(offset, len).toArray(ValueLayout.JAVA_BYTE);
    }

    @ParameterizedTest
    @ValueSource(ints = {6, 10, 12, 16})
    void writeThenReadBackEveryCdbSize(int size) {
        byte[] data = pattern(8 * 512, size);
        byte[] w = switch (size) {
            case 6 -> Cdb.rw6(false, 100, 8);
            case 10 -> Cdb.rw10(false, 100, 8);
            case 12 -> Cdb.rw12(false, 100, 8);
            default -> Cdb.rw16(false, 100, 8);
        };
        byte[] r = switch (size) {
            case 6 -> Cdb.rw6(true, 100, 8);
            case 10 -> Cdb.rw10(true, 100, 8);
            case 12 -> Cdb.rw12(true, 100, 8);
            default -> Cdb.rw16(true, 100, 8);
        };
        TestInitiator.Response wr = ini.cmd(0, 0, w).out(data).run();
        assertGood(wr);
        assertEquals(0, wr.residual());
        assertEquals(12 + 96, wr.used(), "a write writes only the response");
        assertArrayEquals(data, stored(small, 100 * 512, data.length), "in the RAM store");
        TestInitiator.Response rd = ini.cmd(0, 0, r).in(data.length).run();
        assertGood(rd);
        assertEquals(0, rd.residual());
        assertEquals(12 + 96 + data.length, rd.used());
        assertArrayEquals(data, rd.dataIn());
    }

    @Test
    void scatteredBuffersAndFourKibBlocks() {
        byte[] data = pattern(3 * 4096, 3);
        assertGood(ini.cmd(1, 3, Cdb.rw10(false, 1021, 3)).out(data).split().run());
        assertArrayEquals(data, stored(big, 1021L * 4096, data.length));
        TestInitiator.Response rd = ini.cmd(1, 3, Cdb.rw16(true, 1021, 3)).in(data.length).split().run();
        assertGood(rd);
        assertArrayEquals(data, rd.dataIn());
    }

    @Test
    void headerAndDataInOneBufferEachWay() {
        byte[] data = pattern(2 * 512, 8);
        assertGood(ini.cmd(0, 0, Cdb.rw10(false, 9, 2)).out(data).contiguous().run());
        assertArrayEquals(data, stored(small, 9 * 512, data.length));
        TestInitiator.Response rd = ini.cmd(0, 0, Cdb.rw10(true, 9, 2)).in(data.length).contiguous().run();
        assertGood(rd);
        assertEquals(1, rd.request().writableCount());
        assertArrayEquals(data, rd.dataIn());
    }

    @Test
    void readSixWithZeroLengthReads256Blocks() {
        byte[] data = pattern(256 * 512, 6);
        assertGood(ini.cmd(0, 0, Cdb.rw10(false, 0, 256)).out(data).run());
        TestInitiator.Response rd = ini.cmd(0, 0, Cdb.rw6(true, 0, 0)).in(256 * 512).run();
        assertGood(rd);
        assertArrayEquals(data, rd.dataIn());
    }

    @Test
    void zeroLengthTransferIsGood() {
        assertGood(ini.cmd(0, 0, Cdb.rw10(true, 5, 0)).run());
        assertCheckCondition(SenseCode.LBA_OUT_OF_RANGE, ini.cmd(0, 0, Cdb.rw10(true, 2048, 0)).run());
    }

    @Test
    void largerBufferLeavesAResidual() {
        TestInitiator.Response rd = ini.cmd(0, 0, Cdb.rw10(true, 0, 2)).in(4096).run();
        assertGood(rd);
        assertEquals(4096 - 1024, rd.residual());
        assertEquals(12 + 96 + 1024, rd.used());
    }

    @Test
    void lbaOutOfRange() {
        assertCheckCondition(SenseCode.LBA_OUT_OF_RANGE, ini.cmd(0, 0, Cdb.rw10(true, 2047, 2)).in(1024).run());
        assertCheckCondition(SenseCode.LBA_OUT_OF_RANGE, ini.cmd(0, 0, Cdb.rw16(false, 2048, 1)).out(new byte[512]).run());
        assertCheckCondition(SenseCode.LBA_OUT_OF_RANGE, ini.cmd(0, 0, Cdb.rw16(true, -1L, 1)).in(512).run());
        TestInitiator.Response last = ini.cmd(0, 0, Cdb.rw10(true, 2047, 1)).in(512).run();
        assertGood(last);
        TestInitiator.Response bad = ini.cmd(0, 0, Cdb.rw10(true, 2047, 2)).in(1024).run();
        assertEquals(1024, bad.residual(), "nothing transferred");
        assertEquals(12 + 96, bad.used());
    }

    @Test
    void writeToReadOnlyLunIsWriteProtected() {
        model.addLun(0, 1, lun(1 << 20, 512).readOnly(true).build());
        assertCheckCondition(SenseCode.WRITE_PROTECTED, ini.cmd(0, 1, Cdb.rw10(false, 0, 1)).out(new byte[512]).run());
        assertGood(ini.cmd(0, 1, Cdb.rw10(true, 0, 1)).in(512).run());
        RamBlockStore roStore = new RamBlockStore(1 << 20, true);
        try {
            model.addLun(0, 2, ScsiLun.builder(roStore).build());
            assertCheckCondition(SenseCode.WRITE_PROTECTED, ini.cmd(0, 2, Cdb.rw6(false, 0, 1)).out(new byte[512]).run());
        } finally {
            model.removeLun(0, 2);
            roStore.close();
        }
    }

    @Test
    void bufferSmallerThanTheTransferIsAnOverrun() {
        TestInitiator.Response r = ini.cmd(0, 0, Cdb.rw10(true, 0, 4)).in(1024).run();
        assertResponse(VirtioScsiSpec.VIRTIO_SCSI_S_OVERRUN, r);
        assertEquals(1024, r.residual());
        assertResponse(VirtioScsiSpec.VIRTIO_SCSI_S_OVERRUN, ini.cmd(0, 0, Cdb.rw10(false, 0, 4)).out(new byte[1024]).run());
        // a read with data-out buffers only
        assertResponse(VirtioScsiSpec.VIRTIO_SCSI_S_OVERRUN, ini.cmd(0, 0, Cdb.rw10(true, 0, 1)).out(new byte[512]).run());
    }

    @Test
    void transferAboveTheBlockLimitIsRefused() {
        model.addLun(0, 1, lun(16 << 20, 512).maxTransferBytes(64 << 10).build());
        assertGood(ini.cmd(0, 1, Cdb.rw10(true, 0, 128)).in(128 * 512).run());
        assertCheckCondition(SenseCode.INVALID_FIELD_IN_CDB, ini.cmd(0, 1, Cdb.rw10(true, 0, 129)).in(129 * 512).run());
    }

    @Test
    void protectionInformationIsRefusedAndFuaFlushes() {
        assertCheckCondition(SenseCode.INVALID_FIELD_IN_CDB,
                ini.cmd(0, 0, Cdb.rw10(true, 0x20, 0, 1)).in(512).run());
        byte[] data = pattern(512, 9);
        assertGood(ini.cmd(0, 0, Cdb.rw10(false, 0x08, 7, 1)).out(data).run());
        assertArrayEquals(data, stored(small, 7 * 512, 512));
    }

    @Test
    void storageFailureIsAMediumError() {
        FailingStore failing = new FailingStore(1 << 20);
        model.addLun(2, 0, ScsiLun.builder(failing).build());
        assertCheckCondition(SenseCode.UNRECOVERED_READ_ERROR, ini.cmd(2, 0, Cdb.rw10(true, 0, 1)).in(512).run());
        assertCheckCondition(SenseCode.WRITE_ERROR, ini.cmd(2, 0, Cdb.rw10(false, 0, 1)).out(new byte[512]).run());
        assertCheckCondition(SenseCode.INTERNAL_TARGET_FAILURE, ini.cmd(2, 0, Cdb.sync10(0, 0)).run());
    }

    @Test
    void readOfUnwrittenBlocksIsZeros() {
        TestInitiator.Response rd = ini.cmd(1, 3, Cdb.rw12(true, 5, 2)).in(8192).run();
        assertGood(rd);
        assertArrayEquals(new byte[8192], rd.dataIn());
    }
}
