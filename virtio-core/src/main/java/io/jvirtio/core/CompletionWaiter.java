package io.jvirtio.core;

import io.jvirtio.core.ring.Virtqueue;
import io.jvirtio.sys.Native;

import java.util.concurrent.TimeUnit;
import java.util.function.IntSupplier;

/**
 * The waiting half of a channel's interrupt and adaptive completion modes, shared by the virtio-blk and
 * virtio-scsi channels: poll; when nothing came, either spin (polling, or adaptive within its spin time
 * after the last completion) or arm the ring's used-buffer notification, look at the used ring once
 * more, and sleep on the queue's completion eventfd. The second look closes the lost-wake-up race: a
 * completion that landed before the device saw the notification request is in the ring, and one after it
 * signals the eventfd. Notifications are disabled again on waking, as Linux's virtqueue_disable_cb, so a
 * busy queue does not make the device signal every completion.
 *
 * <p>Owned by the channel's thread, like the ring. No allocation; the sleep is one {@code poll(2)} on the
 * eventfd and one non-blocking read to reset its counter.
 */
public final class CompletionWaiter {
    /** {@link #setSpinNanos}: never sleep. */
    public static final long POLL_ONLY = -1;
    /**
     * The longest single sleep: the eventfd belongs to the transport and is replaced on a reconnect, and a
     * link that went down is noticed by polling, so the thread looks again at least this often.
     */
    private static final int MAX_SLEEP_MILLIS = 100;

    private final String transport;
    private final Virtqueue vq;
    private final IntSupplier fd;
    private final IntSupplier poll;
    private long spinNanos = POLL_ONLY;
    private long lastCompletionNanos;
    private long sleeps;
    private long timeoutsWithWork;

    /**
     * @param transport the transport's name, for messages ({@link VirtioDevice#transportType()})
     * @param vq        the channel's request queue
     * @param fd        the queue's completion fd as the transport has it now ({@link VirtioDevice#completionFd}), or -1
     * @param poll      the channel's poll: takes completions, runs callbacks, returns how many
     */
    public CompletionWaiter(String transport, Virtqueue vq, IntSupplier fd, IntSupplier poll) {
        this.transport = transport;
        this.vq = vq;
        this.fd = fd;
        this.poll = poll;
    }

    /**
     * @param nanos how long to poll after the last completion before sleeping: {@link #POLL_ONLY} (never
     *              sleep), 0 (sleep at once: interrupt mode) or positive (adaptive)
     * @throws UnsupportedOperationException when the mode sleeps and the queue has no completion fd
     */
    public void setSpinNanos(long nanos) {
        if (nanos >= 0 && completionFd() < 0) {
            throw new UnsupportedOperationException(vq.name() + ": the " + transport
                    + " transport gives this queue no completion fd (it only polls), so it cannot sleep for completions");
        }
        this.spinNanos = nanos < 0 ? POLL_ONLY : nanos;
        lastCompletionNanos = System.nanoTime();
    }

    /** @return the queue's completion fd now, or -1 */
    public int completionFd() {
        return fd.getAsInt();
    }

    /** @return how many times the thread slept on the completion fd (diagnostics, tests) */
    public long sleeps() {
        return sleeps;
    }

    /**
     * @return sleeps that ran out their time although the device had completed something meanwhile: a
     *         lost wake-up if the device had signalled nothing (or a device that signals late); 0 on a
     *         correct device and driver
     */
    public long timeoutsWithWork() {
        return timeoutsWithWork;
    }

    /**
     * Arms the notification for a caller that sleeps on {@link #completionFd()} in its own loop.
     *
     * @return true when armed and the ring is still empty (sleep now, then {@link #disarm} and poll);
     *         false when completions are already there (poll instead) or there is no fd
     */
    public boolean arm() {
        if (completionFd() < 0) {
            return false;
        }
        vq.setInterruptsEnabled(true); // with a full fence: the device sees it before we look again
        if (vq.hasUsed()) {
            vq.setInterruptsEnabled(false);
            return false;
        }
        return true;
    }

    /** Stops the device's completion signal (after a sleep on the fd). */
    public void disarm() {
        if (vq.interruptsEnabled()) {
            vq.setInterruptsEnabled(false);
        }
    }

    /**
     * @param timeoutNanos the longest wait; 0 polls once
     * @return completions delivered (0 when the time ran out)
     */
    public int await(long timeoutNanos) {
        int n = poll.getAsInt();
        long now = System.nanoTime();
        if (n > 0) {
            lastCompletionNanos = now;
            return n;
        }
        long deadline = now + Math.max(0, timeoutNanos);
        while (now - deadline < 0) {
            if (spinNanos >= 0 && now - lastCompletionNanos >= spinNanos) {
                sleepOnce(deadline - now);
            } else {
                Thread.onSpinWait();
            }
            n = poll.getAsInt();
            now = System.nanoTime();
            if (n > 0) {
                lastCompletionNanos = now;
                return n;
            }
        }
        return 0;
    }

    private void sleepOnce(long leftNanos) {
        int fd = completionFd();
        if (fd < 0) {
            // link down (its fd is gone until the reconnect): the poll of the caller's loop drives the reconnect
            Thread.onSpinWait();
            return;
        }
        vq.setInterruptsEnabled(true);
        try {
            if (!vq.hasUsed()) {
                int millis = (int) Math.min(MAX_SLEEP_MILLIS, Math.max(1, TimeUnit.NANOSECONDS.toMillis(leftNanos + 999_999)));
                sleeps++;
                if (Native.pollIn(fd, millis)) {
                    Native.eventfdRead(fd); // non-blocking: resets the counter, 0 when another reader took it
                } else if (vq.hasUsed()) {
                    timeoutsWithWork++;
                }
            }
        } finally {
            vq.setInterruptsEnabled(false);
        }
    }
}
