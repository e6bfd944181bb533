package io.jvirtio.blk;

import io.jvirtio.bdev.BdevIoException;
import io.jvirtio.spec.VirtioException;
import io.jvirtio.core.ring.RingViolation;
import io.jvirtio.core.ring.RingViolationException;
import io.jvirtio.core.ring.SimulatedDevice.Fault;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;

import static io.jvirtio.core.testing.BlkPatterns.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * A device that breaks the ring's rules: every I/O in flight or waiting completes with an error naming the
 * violation, nothing escapes poll, later submits are refused naming the broken queue. Never a hang.
 */
class BlkLyingDeviceTest {

    /** Four writes on a ring that holds two: two published, two in the FIFO. The device answers one, lying. */
    @ParameterizedTest(name = "{0}")
    @CsvSource({"ID_OUT_OF_RANGE,ID_OUT_OF_RANGE,0", "ID_NOT_IN_FLIGHT,ID_NOT_IN_FLIGHT,1",
            "LEN_TOO_LARGE,LEN_TOO_LARGE,0", "USED_INDEX_JUMP,USED_INDEX_JUMP,0"})
    void ringViolationFailsEverythingAndBreaksTheQueue(Fault fault, RingViolation violation, int goodBeforeIt) {
        SimulatedBlkBackend sim = new SimulatedBlkBackend().autoProcess(false);
        try (VirtioBlkDevice blk = sim.attach(SimulatedBlkBackend.options().withQueueSize(8));
             VirtioBlkChannel ch = blk.openChannel()) {
            MemorySegment buf = blk.allocateBuffer(4096, 4096);
            Completions done = new Completions();
            for (int i = 0; i < 4; i++) {
                assertTrue(ch.write(buf, i * 4096L, done, i));
            }
            sim.ringFault(0, fault);
            sim.queue(0).process(1); // ID_NOT_IN_FLIGHT: completes write 0, then names its head again
            for (int i = 0; i < 10 && done.count() < 4; i++) {
                assertDoesNotThrow(ch::poll);
            }
            assertEquals(4, done.count(), "every I/O completed: " + done.contexts);
            assertEquals(0, ch.inFlight());
            for (int i = 0; i < 4; i++) {
                if (i < goodBeforeIt) {
                    assertNull(done.errorOf(i), "the valid completion before the lie");
                    continue;
                }
                VirtioException e = done.expectError(i);
                assertInstanceOf(BdevIoException.class, e);
                RingViolationException cause = violation(e);
                assertEquals(violation, cause.violation(), e.getMessage());
                assertTrue(e.getMessage().contains("sim0-q0") && e.getMessage().contains("offset " + i * 4096L), e.getMessage());
            }
            BdevIoException refused = assertThrows(BdevIoException.class, () -> ch.write(buf, 0, done, 9));
            assertTrue(refused.getMessage().contains("is broken"), refused.getMessage());
            assertTrue(ch.queue().isBroken());
        }
    }

    /** Scribbling over descriptors after reading them harms nothing: the driver never reads them back. */
    @ParameterizedTest(name = "indirect={0}")
    @ValueSource(booleans = {false, true})
    void scribbledDescriptorsAreNeverTrusted(boolean indirect) {
        SimulatedBlkBackend sim = new SimulatedBlkBackend();
        if (indirect) {
            sim.indirect();
        }
        try (VirtioBlkDevice blk = sim.attach(SimulatedBlkBackend.options().withQueueSize(8));
             VirtioBlkChannel ch = blk.openChannel()) {
            MemorySegment buf = blk.allocateBuffer(16384, 4096);
            fill(buf, 9);
            sim.ringFault(0, Fault.SCRIBBLE_DESCRIPTORS);
            Completions.sync(ch).write(buf, 0);
            for (int i = 0; i < 20; i++) { // reuse every descriptor and indirect table more than once
                Completions.sync(ch).write(buf, i * 16384L);
            }
            MemorySegment back = blk.allocateBuffer(16384, 4096);
            Completions.sync(ch).read(back, 19 * 16384L);
            assertSameBytes(bytes(buf), bytes(back), "read after scribbling");
            assertFalse(ch.queue().isBroken());
        }
    }

    /** A device that stops answering: nothing completes, nothing breaks, and it resumes where it stopped. */
    @Test
    void stalledDeviceHoldsIoUntilItResumes() {
        SimulatedBlkBackend sim = new SimulatedBlkBackend();
        try (VirtioBlkDevice blk = sim.attach(SimulatedBlkBackend.options());
             VirtioBlkChannel ch = blk.openChannel()) {
            MemorySegment buf = blk.allocateBuffer(4096, 4096);
            sim.ringFault(0, Fault.STALL);
            Completions done = new Completions();
            for (int i = 0; i < 3; i++) {
                assertTrue(ch.write(buf, i * 4096L, done, i));
            }
            for (int i = 0; i < 1000; i++) {
                assertEquals(0, ch.poll());
            }
            assertEquals(3, ch.inFlight());
            sim.ringFault(0, Fault.NONE);
            done.await(ch, sim, 3);
            assertEquals(java.util.List.of(0, 1, 2), done.contexts);
        }
    }

    private static RingViolationException violation(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof RingViolationException r) {
                return r;
            }
        }
        return fail("no RingViolationException under " + e);
    }
}
