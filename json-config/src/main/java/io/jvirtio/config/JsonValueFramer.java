package io.jvirtio.config;

import java.util.Arrays;

/**
 * Cuts a byte stream into JSON values the way SPDK's JSON-RPC server reads its socket: no length
 * prefix, no delimiter, values back to back (whitespace between them optional), a value possibly
 * split across any number of reads. Bytes go in with {@link #append}; {@link #next()} hands out each
 * complete top-level value's bytes in order. It only finds where a value ends (brackets and braces
 * outside strings, string escapes); whether the bytes are valid JSON is the parser's business, so a
 * malformed value still comes out, and its parse error is answered as SPDK answers it.
 *
 * <p>Not thread-safe: one per connection.
 */
final class JsonValueFramer {
    private final int maxValueBytes;
    private byte[] buf = new byte[4096];
    /** first byte not yet handed out */
    private int start;
    /** end of the buffered bytes */
    private int end;
    /** where the scan of the current value stopped (relative to the buffer) */
    private int scan;
    private int depth;
    private boolean inString;
    private boolean escaped;
    /** the current value started (non-whitespace seen) */
    private boolean started;
    /** the current value is a scalar at the top level (no brackets) */
    private boolean scalar;

    /** @param maxValueBytes the longest value accepted; a longer one makes {@link #next()} throw */
    JsonValueFramer(int maxValueBytes) {
        this.maxValueBytes = maxValueBytes;
    }

    /** Appends {@code len} bytes of {@code data} from {@code off}. */
    void append(byte[] data, int off, int len) {
        if (end + len > buf.length) {
            int live = end - start;
            if (live + len <= buf.length && start > 0) {
                compact();
            } else {
                int size = buf.length;
                while (size < live + len) {
                    size *= 2;
                }
                byte[] nb = new byte[size];
                System.arraycopy(buf, start, nb, 0, live);
                shift(nb);
            }
        }
        System.arraycopy(data, off, buf, end, len);
        end += len;
    }

    private void compact() {
        System.arraycopy(buf, start, buf, 0, end - start);
        shift(buf);
    }

    private void shift(byte[] into) {
        int by = start;
        buf = into;
        end -= by;
        scan -= by;
        start = 0;
    }

    /**
     * @return the next complete value's bytes, or null when more input is needed
     * @throws ValueTooLongException when the value being read exceeds the limit
     */
    byte[] next() {
        while (scan < end) {
            byte b = buf[scan];
            if (!started) {
                if (isWhitespace(b)) {
                    scan++;
                    start = scan;
                    continue;
                }
                started = true;
                scalar = b != '{' && b != '[';
            }
            if (inString) {
                if (escaped) {
                    escaped = false;
                } else if (b == '\\') {
                    escaped = true;
                } else if (b == '"') {
                    inString = false;
                    if (scalar) {
                        return take(scan + 1);
                    }
                }
                scan++;
                continue;
            }
            if (scalar) {
                // a bare number, literal or string at the top level: ends at whitespace or a bracket
                if (b == '"' && scan == start) {
                    inString = true;
                    scan++;
                    continue;
                }
                if (isWhitespace(b) || b == '{' || b == '[' || b == '}' || b == ']' || b == '"') {
                    return take(scan == start ? scan + 1 : scan);
                }
                scan++;
                continue;
            }
            switch (b) {
                case '"' -> inString = true;
                case '{', '[' -> depth++;
                case '}', ']' -> depth--;
                default -> {
                }
            }
            scan++;
            if (depth == 0) {
                return take(scan);
            }
        }
        if (started && end - start > maxValueBytes) {
            throw new ValueTooLongException(end - start, maxValueBytes);
        }
        return null;
    }

    /** @return the bytes buffered of a value not yet complete (0 when between values) */
    int pending() {
        int i = start;
        while (i < end && isWhitespace(buf[i])) {
            i++;
        }
        return end - i;
    }

    private byte[] take(int valueEnd) {
        if (valueEnd - start > maxValueBytes) {
            // a value that arrived whole in one read is held to the limit too, not only one still growing
            throw new ValueTooLongException(valueEnd - start, maxValueBytes);
        }
        byte[] v = Arrays.copyOfRange(buf, start, valueEnd);
        start = valueEnd;
        scan = valueEnd;
        depth = 0;
        inString = false;
        escaped = false;
        started = false;
        scalar = false;
        if (start == end) {
            start = 0;
            end = 0;
            scan = 0;
        }
        return v;
    }

    private static boolean isWhitespace(byte b) {
        return b == ' ' || b == '\t' || b == '\n' || b == '\r';
    }

    /** A request longer than the server accepts. */
    static final class ValueTooLongException extends RuntimeException {
        ValueTooLongException(int have, int max) {
            super("a JSON-RPC request longer than " + max + " bytes (" + have + " read so far)");
        }
    }
}
