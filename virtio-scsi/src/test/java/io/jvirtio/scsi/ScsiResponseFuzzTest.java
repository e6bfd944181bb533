package io.jvirtio.scsi;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.jvirtio.core.DeviceException;
import io.jvirtio.spec.scsi.VirtioScsiSpec;
import org.junit.jupiter.api.Timeout;

import java.lang.foreign.MemorySegment;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Fuzz target 3 (unit level): what an untrusted virtio-scsi device returns, decoded by the pieces
 * the scan and the I/O path share: a {@code virtio_scsi_cmd_resp} (sense_len, residual, status,
 * response and the sense bytes, fixed or descriptor format) under any negotiated sense_size, the
 * config space ({@link VirtioScsiConfig#parse}) and the LUN addresses of REPORT LUNS and events.
 *
 * <p>Invariant: the config parses or throws {@link DeviceException}; sense decodes to null or to a
 * record within its format's ranges, never reading past the bytes the device returned; every name
 * and description is printable for any value.
 */
class ScsiResponseFuzzTest {
    @FuzzTest(maxDuration = "10m")
    @Timeout(10)
    void responses(FuzzedDataProvider in) {
        int senseSize = in.consumeInt(0, 256);
        byte[] cfg = in.consumeBytes(VirtioScsiSpec.CFG_SIZE);
        int b0 = in.consumeInt(0, 255);
        int b1 = in.consumeInt(0, 255);
        byte[] resp = in.consumeRemainingAsBytes();

        if (cfg.length == VirtioScsiSpec.CFG_SIZE) {
            try {
                VirtioScsiConfig c = VirtioScsiConfig.parse("fuzz", MemorySegment.ofArray(cfg));
                assertNotNull(c.toString());
            } catch (DeviceException e) {
                assertTrue(e.getMessage().contains("fuzz"), "a config error that does not name the device: " + e.getMessage());
            }
        }

        int lun = EventQueue.decodeLun(b0, b1);
        assertTrue(lun == -1 || (lun >= 0 && lun <= 0x3FFF), "LUN " + lun + " from address " + b0 + " " + b1);

        if (resp.length >= VirtioScsiSpec.RESP_HEADER_FIXED) {
            MemorySegment r = MemorySegment.ofArray(resp);
            int response = Byte.toUnsignedInt(resp[VirtioScsiSpec.RESP_RESPONSE]);
            assertNotNull(VirtioScsiSpec.responseName(response));
            int held = Math.min(senseSize, resp.length - VirtioScsiSpec.RESP_SENSE);
            check(ScsiSense.ofResponse(r, held), held);
        }
        check(ScsiSense.decode(resp), resp.length);
    }

    private static void check(ScsiSense s, int available) {
        if (s == null) {
            return;
        }
        assertTrue(s.responseCode() >= 0x70 && s.responseCode() <= 0x73, "response code " + s.responseCode());
        assertTrue(s.key() >= 0 && s.key() <= 15, "sense key " + s.key());
        assertTrue(s.asc() >= 0 && s.asc() <= 255 && s.ascq() >= 0 && s.ascq() <= 255, "asc/ascq " + s.asc() + "/" + s.ascq());
        assertTrue(s.length() >= 1 && s.length() <= Math.max(available, 1), "sense length " + s.length() + " of " + available);
        assertNotNull(s.describe());
        assertNotNull(ScsiSense.keyName(s.key()));
    }
}
