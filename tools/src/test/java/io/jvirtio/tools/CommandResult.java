package io.jvirtio.tools;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/** One in-process run of the {@code jvirtio} command ({@link Jvirtio#run}): its exit status and what it printed. */
final class CommandResult {
    final int status;
    final String out;
    final String err;

    CommandResult(int status, String out, String err) {
        this.status = status;
        this.out = out;
        this.err = err;
    }

    /** @return stdout then stderr */
    String all() {
        return out + err;
    }

    /** Runs {@code jvirtio ARGS...} in this JVM with captured stdout and stderr. */
    static CommandResult run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = Jvirtio.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new CommandResult(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }
}
