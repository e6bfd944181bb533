package io.jvirtio.core.ring;

import io.jvirtio.spec.ring.SplitRingLayout;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SplitRingLayoutTest {
    @ParameterizedTest
    @ValueSource(ints = {1, 2, 64, 128, 256, 1024, 32768})
    void matchesLegacyVringSize(int n) {
        // Linux/SPDK vring_size(num, 4096): desc + avail (flags, idx, ring, used_event) rounded up, then used.
        long legacy = ((16L * n + 2L * (3 + n) + 4095) & ~4095L) + 2L * 3 + 8L * n;
        assertEquals(legacy, SplitRingLayout.totalBytes(n));
        assertEquals(0, SplitRingLayout.descTableOffset());
        assertEquals(16L * n, SplitRingLayout.availOffset(n));
        assertEquals(0, SplitRingLayout.usedOffset(n) % SplitRingLayout.VIRTIO_PCI_VRING_ALIGN);
        assertEquals(4 + 2L * n, SplitRingLayout.usedEventOffset(n));
        assertEquals(4 + 8L * n, SplitRingLayout.availEventOffset(n));
    }

    @Test
    void size256() {
        assertEquals(4096, SplitRingLayout.availOffset(256));
        assertEquals(8192, SplitRingLayout.usedOffset(256));
        assertEquals(8192 + 6 + 8 * 256, SplitRingLayout.totalBytes(256));
    }

    @Test
    void rejectsSizesThatAreNotPowersOfTwo() {
        for (int bad : new int[] {0, -1, 3, 100, 65536}) {
            assertFalse(SplitRingLayout.isValidSize(bad));
            assertThrows(IllegalArgumentException.class, () -> SplitRingLayout.totalBytes(bad));
        }
    }

    @Test
    void needEventWrapsLikeTheSpec() {
        assertTrue(SplitRingLayout.needEvent(0, 1, 0));
        assertFalse(SplitRingLayout.needEvent(1, 1, 0), "event 1 is crossed only when idx passes 1");
        assertTrue(SplitRingLayout.needEvent(1, 2, 0));
        assertFalse(SplitRingLayout.needEvent(5, 5, 5), "nothing moved");
        assertTrue(SplitRingLayout.needEvent(0xFFFF, 1, 0xFFFE), "across the 16-bit wrap");
        assertTrue(SplitRingLayout.needEvent(0, 1, 0xFFFF));
        assertFalse(SplitRingLayout.needEvent(0xFFFF, 5, 0), "event far behind: never");
    }
}
