package io.jvirtio.blk;

import io.jvirtio.bdev.IoCallback;
import io.jvirtio.bdev.IoChannel;
import io.jvirtio.bdev.SyncIo;
import io.jvirtio.spec.VirtioException;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.fail;

/** Records asynchronous completions in the order they arrive, with their errors; one callback for many I/Os. */
final class Completions implements IoCallback {
    /** Polls a test may spend waiting: a bound, so a lost completion fails the test instead of hanging it. */
    static final int MAX_POLLS = 100_000;

    /** A blocking helper that gives up after 5 s rather than SyncIo's default 30 s. */
    static SyncIo sync(IoChannel ch) {
        return new SyncIo(ch, TimeUnit.SECONDS.toNanos(5));
    }

    final List<Object> contexts = new ArrayList<>();
    final List<VirtioException> errors = new ArrayList<>();

    @Override
    public void onComplete(Object context, VirtioException error) {
        contexts.add(context);
        errors.add(error);
    }

    int count() {
        return contexts.size();
    }

    /** @return the error the I/O submitted with {@code context} completed with; fails if it completed other than once */
    VirtioException errorOf(Object context) {
        int idx = -1;
        for (int i = 0; i < contexts.size(); i++) {
            if (contexts.get(i).equals(context)) {
                if (idx >= 0) {
                    fail("I/O " + context + " completed twice");
                }
                idx = i;
            }
        }
        if (idx < 0) {
            fail("I/O " + context + " never completed; completed: " + contexts);
        }
        return errors.get(idx);
    }

    VirtioException expectError(Object context) {
        VirtioException e = errorOf(context);
        assertNotNull(e, "I/O " + context + " should have failed");
        return e;
    }

    /** Polls {@code ch} (and, when given, lets {@code sim} process queue 0 first) until {@code n} I/Os completed. */
    void await(IoChannel ch, SimulatedBlkBackend sim, int n) {
        for (int i = 0; i < MAX_POLLS && count() < n; i++) {
            if (sim != null) {
                sim.process(0);
            }
            ch.poll();
        }
        assertEquals(n, count(), "completions after " + MAX_POLLS + " polls; in flight " + ch.inFlight());
    }
}
