package io.jvirtio.blk;

import io.jvirtio.bdev.CompletionMode;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.*;

/** A transport without a completion fd (the PCI one, or this simulation) polls only, and says so. */
class BlkCompletionModeTest {
    @Test
    void theSleepingModesAreRefusedByNameWhereTheTransportHasNoCompletionFd() {
        SimulatedBlkBackend sim = new SimulatedBlkBackend();
        try (VirtioBlkDevice blk = sim.attach(SimulatedBlkBackend.options()); VirtioBlkChannel ch = blk.openChannel()) {
            assertEquals(-1, ch.completionFd());
            UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class,
                    () -> ch.setCompletionMode(CompletionMode.interrupt()));
            assertTrue(e.getMessage().contains("gives this queue no completion fd (it only polls)"), e.getMessage());
            assertThrows(UnsupportedOperationException.class, () -> ch.setCompletionMode(CompletionMode.adaptive(Duration.ofMillis(1))));
            assertEquals(CompletionMode.polling(), ch.completionMode(), "unchanged by the refusal");
            assertFalse(ch.armCompletionFd(), "nothing to arm: poll instead");
            ch.setCompletionMode(CompletionMode.polling());
            assertEquals(0, ch.waitForCompletions(1_000_000), "nothing in flight: the wait times out");
        }
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> CompletionMode.adaptive(Duration.ZERO));
        assertTrue(bad.getMessage().contains("spin PT0S must be positive"), bad.getMessage());
    }
}
