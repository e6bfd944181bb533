package io.jvirtio.backend.scsi;

import io.jvirtio.spec.scsi.VirtioScsiSpec;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

class InquiryTest extends ScsiTestBase {
    @BeforeEach
    void setUp() {
        start();
        model.addLun(0, 0, lun(1 << 20, 512).vendor("ACME").product("Disk One").revision("1.2").serial("S123")
                .physicalBlockSize(4096).maxUnmapBlocks(1000).maxUnmapDescriptors(7).maxWriteSameBlocks(99)
                .maxTransferBytes(64 << 10).build());
        model.addLun(0, 1, lun(1 << 20, 4096).thinProvisioning(false).build());
    }

    private TestInitiator.Response inquiry(int lun, boolean evpd, int page, int alloc) {
        return ini.cmd(0, lun, Cdb.inquiry(evpd, page, alloc)).in(alloc).run();
    }

    @Test
    void standardInquiryLayout() {
        TestInitiator.Response r = inquiry(0, false, 0, 96);
        assertGood(r);
        byte[] d = r.dataIn();
        assertEquals(0x00, d[0], "PQ 0, direct access");
        assertEquals(0x00, d[1], "not removable");
        assertEquals(0x06, d[2], "SPC-4");
        assertEquals(0x12, d[3], "HISUP, response data format 2");
        assertEquals(91, d[4], "additional length");
        assertEquals(0x02, d[7], "CMDQUE");
        assertEquals("ACME    ", ascii(d, 8, 8));
        assertEquals("Disk One        ", ascii(d, 16, 16));
        assertEquals("1.2 ", ascii(d, 32, 4));
        assertEquals(0x00A0, be16(d, 58));
        assertEquals(0x0460, be16(d, 60));
        assertEquals(0x04C0, be16(d, 62));
        assertEquals(0, r.residual());
        assertEquals(12 + 96 + 96, r.used());
    }

    @Test
    void allocationLengthTruncatesAndResidualCountsTheRest() {
        TestInitiator.Response r = ini.cmd(0, 0, Cdb.inquiry(false, 0, 36)).in(255).run();
        assertGood(r);
        assertEquals(255 - 36, r.residual());
        assertEquals(12 + 96 + 36, r.used());
        assertEquals(91, r.dataIn()[4], "additional length still says the full length");
        assertEquals(0, r.dataIn()[36], "nothing past the allocation length");
    }

    @Test
    void allocationLengthBeyondTheBufferIsAnOverrun() {
        TestInitiator.Response r = ini.cmd(0, 0, Cdb.inquiry(false, 0, 96)).in(36).run();
        assertResponse(VirtioScsiSpec.VIRTIO_SCSI_S_OVERRUN, r);
        assertEquals(36, r.residual());
    }

    @Test
    void supportedPages() {
        TestInitiator.Response r = inquiry(0, true, 0x00, 64);
        assertGood(r);
        assertArrayEquals(new byte[] {0, 0, 0, 6, 0x00, (byte) 0x80, (byte) 0x83, (byte) 0xB0, (byte) 0xB1, (byte) 0xB2},
                Arrays.copyOf(r.dataIn(), 10));
        assertEquals(64 - 10, r.residual());
        TestInitiator.Response thick = inquiry(1, true, 0x00, 64);
        assertArrayEquals(new byte[] {0, 0, 0, 5, 0x00, (byte) 0x80, (byte) 0x83, (byte) 0xB0, (byte) 0xB1},
                Arrays.copyOf(thick.dataIn(), 9), "no 0xB2 without thin provisioning");
    }

    @Test
    void unitSerialNumber() {
        byte[] d = inquiry(0, true, 0x80, 64).dataIn();
        assertArrayEquals(new byte[] {0, (byte) 0x80, 0, 4, 'S', '1', '2', '3'}, Arrays.copyOf(d, 8));
        model.addLun(0, 2, ScsiLun.builder(ram(1 << 20)).build());
        byte[] dflt = inquiry(2, true, 0x80, 64).dataIn();
        assertEquals(11, be16(dflt, 2));
        assertEquals("scsi0-t0-l2", ascii(dflt, 4, 11));
    }

    @Test
    void deviceIdentification() {
        byte[] d = inquiry(0, true, 0x83, 128).dataIn();
        assertEquals(0x83, d[1] & 0xFF);
        int pageLen = be16(d, 2);
        assertEquals(12 + 4 + 24 + 4, pageLen);
        // NAA designator: binary, LU association, type 3, 8 bytes, NAA 3 (locally assigned)
        assertArrayEquals(new byte[] {0x01, 0x03, 0x00, 0x08}, Arrays.copyOfRange(d, 4, 8));
        assertEquals(3, (d[8] & 0xF0) >> 4);
        assertEquals(model.lun(0, 0).naaIdentifier(), ByteBuffer.wrap(d, 8, 8).getLong());
        // T10 vendor ID designator: ASCII, LU, type 1
        assertArrayEquals(new byte[] {0x02, 0x01, 0x00, 28}, Arrays.copyOfRange(d, 16, 20));
        assertEquals("ACME    Disk One        S123", ascii(d, 20, 28));
        assertNotEquals(model.lun(0, 0).naaIdentifier(), model.lun(0, 1).naaIdentifier());
    }

    @Test
    void blockLimits() {
        byte[] d = inquiry(0, true, 0xB0, 64).dataIn();
        assertEquals(0xB0, d[1] & 0xFF);
        assertEquals(0x3C, be16(d, 2));
        assertEquals(1, d[4], "WSNZ");
        assertEquals(8, be16(d, 6), "optimal granularity: 4096 / 512");
        assertEquals(128, be32(d, 8), "max transfer: 64 KiB / 512");
        assertEquals(128, be32(d, 12));
        assertEquals(1000, be32(d, 20), "max unmap LBA count");
        assertEquals(7, be32(d, 24), "max unmap descriptors");
        assertEquals(8, be32(d, 28), "optimal unmap granularity");
        assertEquals(99, ByteBuffer.wrap(d, 36, 8).getLong(), "max write same length");
        byte[] thick = inquiry(1, true, 0xB0, 64).dataIn();
        assertEquals(0, be32(thick, 20), "no unmap limits without thin provisioning");
        assertEquals(0, be32(thick, 24));
    }

    @Test
    void blockDeviceCharacteristics() {
        byte[] d = inquiry(0, true, 0xB1, 64).dataIn();
        assertArrayEquals(new byte[] {0, (byte) 0xB1, 0, 0x3C, 0, 1, 0, 0}, Arrays.copyOf(d, 8));
    }

    @Test
    void logicalBlockProvisioning() {
        byte[] d = inquiry(0, true, 0xB2, 8).dataIn();
        assertArrayEquals(new byte[] {0, (byte) 0xB2, 0, 4, 0, (byte) 0xE4, 0x02, 0}, d,
                "LBPU, LBPWS, LBPWS10, LBPRZ; thin provisioned");
        assertCheckCondition(SenseCode.INVALID_FIELD_IN_CDB, inquiry(1, true, 0xB2, 8));
    }

    @Test
    void unsupportedPageAndPageWithoutEvpdAreInvalidFields() {
        assertCheckCondition(SenseCode.INVALID_FIELD_IN_CDB, inquiry(0, true, 0x89, 64));
        assertCheckCondition(SenseCode.INVALID_FIELD_IN_CDB, inquiry(0, false, 0x80, 64));
        TestInitiator.Response r = inquiry(0, true, 0x89, 64);
        assertEquals(64, r.residual(), "nothing transferred on CHECK CONDITION");
    }

    @Test
    void missingLunAnswersNotConnected() {
        TestInitiator.Response r = inquiry(5, false, 0, 96);
        assertGood(r);
        assertEquals(0x7F, r.dataIn()[0] & 0xFF, "PQ 011b, type 1Fh");
        TestInitiator.Response vpd = inquiry(5, true, 0, 16);
        assertGood(vpd);
        assertArrayEquals(new byte[] {0x7F, 0, 0, 1, 0}, Arrays.copyOf(vpd.dataIn(), 5));
        assertCheckCondition(SenseCode.INVALID_FIELD_IN_CDB, inquiry(5, true, 0x80, 16));
    }

    @Test
    void inquiryIgnoresPendingUnitAttention() {
        model.faults().unitAttention(0, 0, SenseCode.POWER_ON_RESET);
        assertGood(inquiry(0, false, 0, 96));
        assertCheckCondition(SenseCode.POWER_ON_RESET, ini.cmd(0, 0, Cdb.testUnitReady()).run());
        assertGood(ini.cmd(0, 0, Cdb.testUnitReady()).run());
    }

    static String ascii(byte[] d, int off, int len) {
        return new String(d, off, len, StandardCharsets.US_ASCII);
    }

    static int be16(byte[] d, int off) {
        return ((d[off] & 0xFF) << 8) | (d[off + 1] & 0xFF);
    }

    static long be32(byte[] d, int off) {
        return Integer.toUnsignedLong(ByteBuffer.wrap(d, off, 4).getInt());
    }
}
