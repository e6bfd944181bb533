package io.jvirtio.tools;

import java.io.PrintStream;
import java.util.concurrent.TimeUnit;

/**
 * A progress line for long work. On a terminal it is one line rewritten in place ({@code \r});
 * elsewhere (a pipe, a file, a test) plain lines at most every {@link #PLAIN_INTERVAL_NANOS}, so
 * short runs print none and logs stay readable. {@link #event} prints a line that stays (a
 * disconnect, an error), clearing the progress line first.
 */
final class Progress {
    /** How often a plain (non-terminal) progress line may be printed: 10 s. */
    static final long PLAIN_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(10);

    private final PrintStream out;
    private final boolean terminal;
    private long lastPlain = System.nanoTime();
    private int shown;

    /**
     * @param out      where the lines go
     * @param terminal whether {@code out} is a terminal
     */
    Progress(PrintStream out, boolean terminal) {
        this.out = out;
        this.terminal = terminal;
    }

    /** Shows {@code line} as the current progress. */
    synchronized void update(String line) {
        if (terminal) {
            String padded = shown > line.length() ? line + " ".repeat(shown - line.length()) : line;
            out.print("\r" + padded);
            out.flush();
            shown = line.length();
            return;
        }
        long now = System.nanoTime();
        if (now - lastPlain >= PLAIN_INTERVAL_NANOS) {
            out.println(line);
            lastPlain = now;
        }
    }

    /** Prints a line that stays. */
    synchronized void event(String line) {
        clear();
        out.println(line);
    }

    /** Removes the progress line (the work is done). */
    synchronized void done() {
        clear();
    }

    private void clear() {
        if (terminal && shown > 0) {
            out.print("\r" + " ".repeat(shown) + "\r");
            out.flush();
            shown = 0;
        }
    }
}
