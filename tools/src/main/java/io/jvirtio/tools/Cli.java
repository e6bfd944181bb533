package io.jvirtio.tools;

import java.io.PrintStream;

/**
 * What a subcommand writes to: the command's own output and error streams (never the log), and
 * whether the output is a terminal (then progress is one line rewritten in place).
 *
 * @param out      results and the lines a user reads
 * @param err      errors
 * @param terminal whether {@code out} is an interactive terminal
 */
record Cli(PrintStream out, PrintStream err, boolean terminal) {
    /** @return a context on the given streams; a terminal only when {@code out} is this process's own stdout on a terminal */
    static Cli of(PrintStream out, PrintStream err) {
        java.io.Console console = System.console();
        return new Cli(out, err, out == System.out && console != null && console.isTerminal());
    }

    /** @return a progress line on {@code stream} (out, or err when out carries JSON) */
    Progress progress(PrintStream stream) {
        return new Progress(stream, terminal && stream == out);
    }
}
