package io.jvirtio.blk;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.jvirtio.core.DeviceException;
import io.jvirtio.spec.blk.VirtioBlkSpec;
import org.junit.jupiter.api.Timeout;

import java.lang.foreign.MemorySegment;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Fuzz target 4 (unit level): a lying virtio-blk device's config space under any negotiated
 * feature set, and any status byte it may write.
 *
 * <p>Invariant: {@link VirtioBlkConfig#parse} returns a config whose block size is a power of two
 * from 512 to 64 KiB, whose capacity in bytes neither overflows nor is negative and which has at
 * least one queue, or throws {@link DeviceException} naming the device and the field; every status
 * byte has a printable name.
 */
class BlkConfigFuzzTest {
    @FuzzTest(maxDuration = "10m")
    @Timeout(10)
    void config(FuzzedDataProvider in) {
        long features = in.consumeLong();
        int status = in.consumeInt(0, 255);
        byte[] cfg = new byte[VirtioBlkSpec.CFG_SIZE];
        byte[] got = in.consumeRemainingAsBytes();
        System.arraycopy(got, 0, cfg, 0, Math.min(got.length, cfg.length));

        assertNotNull(VirtioBlkSpec.statusName(status));
        VirtioBlkConfig c;
        try {
            c = VirtioBlkConfig.parse("fuzz", MemorySegment.ofArray(cfg), features);
        } catch (DeviceException e) {
            assertTrue(e.getMessage().startsWith("fuzz: virtio_blk_config."), "an error that does not name the field: " + e.getMessage());
            return;
        }
        int bs = c.blockSize();
        assertTrue(bs >= 512 && bs <= 65536 && Integer.bitCount(bs) == 1, "block size " + bs);
        assertTrue(c.capacityBytes() >= 0, "capacity in bytes " + c.capacityBytes());
        assertEquals(c.capacitySectors(), c.capacityBytes() >> 9, "capacity in bytes overflowed");
        assertTrue(c.numQueues() >= 1, "num_queues " + c.numQueues());
        assertNotNull(c.toString());
    }
}
