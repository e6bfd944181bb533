package io.jvirtio.config;

import io.jvirtio.bdev.IoChannel;
import io.jvirtio.bdev.IoCallback;
import io.jvirtio.spec.VirtioException;

import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** Runs one I/O on a channel to its completion, polling; tells whether it failed. */
final class IoHarness implements IoCallback {
    /** submits one I/O with this harness as callback; returns false when the channel is full */
    interface Submit {
        boolean submit(IoChannel ch, IoCallback cb);
    }

    private final IoChannel ch;
    private boolean done;
    private VirtioException error;

    IoHarness(IoChannel ch) {
        this.ch = ch;
    }

    @Override
    public void onComplete(Object context, VirtioException e) {
        done = true;
        error = e;
    }

    /** @return the error the I/O completed with, or null */
    VirtioException run(Submit s) {
        done = false;
        error = null;
        assertTrue(s.submit(ch, this), "the channel took the I/O");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!done) {
            ch.poll();
            assertTrue(System.nanoTime() < deadline, "I/O completed within 10 s");
        }
        return error;
    }

    /** Runs the I/O and asserts it succeeded. */
    void ok(Submit s) {
        VirtioException e = run(s);
        assertNull(e, () -> "I/O failed: " + e);
    }
}
