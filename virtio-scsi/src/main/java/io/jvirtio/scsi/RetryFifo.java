package io.jvirtio.scsi;

/**
 * Commands held for a retry ({@link ScsiRetryPolicy}), in the order they came back, each with the
 * time it is due. Held commands stay outstanding requests of their queue. A ring buffer as large as
 * the queue's command pool: it never overflows and allocates nothing.
 */
final class RetryFifo {
    private final ScsiCmd[] cmds;
    private int head;
    private int count;

    /** @param capacity the queue's commands */
    RetryFifo(int capacity) {
        this.cmds = new ScsiCmd[capacity];
    }

    /** Holds {@code cmd} until {@code System.nanoTime()} passes {@code pauseNanos} from now (0: due at once). */
    void add(ScsiCmd cmd, long pauseNanos) {
        cmd.retryAt = pauseNanos == 0 ? 0 : System.nanoTime() + pauseNanos;
        cmds[(head + count) % cmds.length] = cmd;
        count++;
    }

    /** @return how many commands are held */
    int size() {
        return count;
    }

    /** @return the oldest held command, still held */
    ScsiCmd head() {
        return cmds[head];
    }

    /** Lets go of the oldest held command. */
    void pop() {
        cmds[head] = null;
        head = (head + 1) % cmds.length;
        count--;
    }
}
