package io.jvirtio.bdev.driver;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PendingFifoTest {
    private static TestIo[] ios(int n) {
        TestIo[] ios = new TestIo[n];
        for (int i = 0; i < n; i++) {
            ios[i] = new TestIo();
        }
        return ios;
    }

    @Test
    void firstInFirstOutAcrossTheWrap() {
        PendingFifo<TestIo> fifo = new PendingFifo<>(3);
        TestIo[] io = ios(5);
        fifo.enqueue(io[0]);
        fifo.enqueue(io[1]);
        assertTrue(io[0].queued);
        assertSame(io[0], fifo.dequeue());
        assertFalse(io[0].queued);
        fifo.enqueue(io[2]);
        fifo.enqueue(io[3]); // wraps
        assertEquals(3, fifo.size());
        assertSame(io[1], fifo.dequeue());
        assertSame(io[2], fifo.dequeue());
        assertSame(io[3], fifo.dequeue());
        assertEquals(0, fifo.size());
    }

    @Test
    void pushFrontPutsTheHeadBack() {
        PendingFifo<TestIo> fifo = new PendingFifo<>(3);
        TestIo[] io = ios(3);
        fifo.enqueue(io[0]);
        fifo.enqueue(io[1]);
        TestIo head = fifo.dequeue();
        fifo.pushFront(head); // at index 0: wraps backwards
        assertTrue(head.queued);
        fifo.enqueue(io[2]);
        assertSame(io[0], fifo.dequeue());
        assertSame(io[1], fifo.dequeue());
        assertSame(io[2], fifo.dequeue());
    }

    @Test
    void growKeepsTheOrder() {
        PendingFifo<TestIo> fifo = new PendingFifo<>(2);
        TestIo[] io = ios(4);
        fifo.enqueue(io[0]);
        fifo.enqueue(io[1]);
        fifo.dequeue();
        fifo.enqueue(io[2]); // head at 1, wrapped
        fifo.grow(2);
        fifo.enqueue(io[3]);
        assertSame(io[1], fifo.dequeue());
        assertSame(io[2], fifo.dequeue());
        assertSame(io[3], fifo.dequeue());
    }

    @Test
    void slotsHandOutEachContextOnce() {
        IoSlots<TestIo> slots = new IoSlots<>("b0", 2, TestIo::new);
        TestIo a = slots.take();
        TestIo b = slots.take();
        assertNull(slots.take());
        assertEquals(2, slots.inUse());
        slots.give(a);
        assertSame(a, slots.take());
        assertSame(slots, b.slots());
    }
}
