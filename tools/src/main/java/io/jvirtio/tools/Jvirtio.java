package io.jvirtio.tools;

import io.jvirtio.spec.VirtioException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;
import picocli.CommandLine.UnmatchedArgumentException;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.util.concurrent.Callable;

/**
 * The {@code jvirtio} command (picocli). Its subcommands are listed in {@link Subcommands}; this
 * class parses, runs one, and maps what went wrong to the exit status: 2 for a bad command line
 * (the message names the option and its value), 1 when a device or the work failed, 0 otherwise.
 * No stack trace reaches the user.
 */
@Command(name = "jvirtio", scope = ScopeType.INHERIT, mixinStandardHelpOptions = true, versionProvider = Jvirtio.Version.class,
        synopsisSubcommandLabel = "COMMAND",
        description = "A virtio-blk / virtio-scsi initiator for the JVM in SPDK's style: attach what an SPDK JSON config names,"
                + " measure it, run the Java vhost-user target.",
        commandListHeading = "%nCommands:%n",
        footerHeading = "%n",
        footer = {"CONFIG (bdevs, save-config, perf --json): an SPDK JSON config;",
                "  trtype \"user\": a vhost-user socket,",
                "  trtype \"pci\": a virtio PCI function bound to vfio-pci.",
                "Exit status: 0 ok, 1 a device or the work failed, 2 a bad command line.",
                "Logging is quiet by default (warnings only); -v shows INFO, -vv DEBUG.",
                "'jvirtio help COMMAND' or 'jvirtio COMMAND --help' describes a command."})
public final class Jvirtio implements Callable<Integer> {
    /** Exit status of a bad command line. */
    static final int USAGE = 2;
    /** Exit status when a device or the work failed. */
    static final int FAILURE = 1;

    @Option(names = {"-v", "--verbose"}, scope = ScopeType.INHERIT,
            description = "More log output on stderr: -v INFO, -vv DEBUG (default: warnings only).")
    boolean[] verbose = new boolean[0];

    @Spec
    CommandSpec spec;

    private Jvirtio() {
    }

    /** Entry point: sets the log level from {@code -v} before any logger exists, runs, exits with the status. */
    public static void main(String[] args) {
        Logging.configure(Logging.verbosity(args));
        System.exit(run(args, System.out, System.err));
    }

    /** Runs a command; returns its exit status (0 ok, 1 failure, 2 usage). */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        Cli cli = Cli.of(out, err);
        CommandLine cl = commandLine(cli);
        int status = cl.execute(args);
        out.flush();
        err.flush();
        return status;
    }

    /** The whole command tree, writing to {@code cli}'s streams. */
    static CommandLine commandLine(Cli cli) {
        CommandLine cl = new CommandLine(new Jvirtio());
        Subcommands.addTo(cl, cli);
        cl.setOut(new PrintWriter(cli.out(), true));
        cl.setErr(new PrintWriter(cli.err(), true));
        cl.setParameterExceptionHandler((ex, args) -> usageError(ex, cli.err()));
        cl.setExecutionExceptionHandler((ex, commandLine, parseResult) -> failure(ex, commandLine, cli.err()));
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        cl.setSeparator(" ");
        return cl;
    }

    /** {@code jvirtio} alone: the usage, status 2 (as before: a command is required). */
    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getOut());
        return USAGE;
    }

    private static int usageError(ParameterException ex, PrintStream err) {
        CommandLine cl = ex.getCommandLine();
        String name = cl.getCommandSpec().qualifiedName();
        String message = ex.getMessage();
        if (ex instanceof UnmatchedArgumentException u && !u.getUnmatched().isEmpty()) {
            String first = u.getUnmatched().getFirst();
            boolean isCommand = cl.getCommandSpec().parent() == null && !cl.getSubcommands().isEmpty();
            message = first.startsWith("-") ? "unknown option " + first
                    : isCommand ? "unknown command " + first : "unexpected argument " + first + " (" + name + " takes no arguments)";
        }
        err.println(name + ": " + message);
        if (ex instanceof UnmatchedArgumentException) {
            UnmatchedArgumentException.printSuggestions(ex, new PrintWriter(err, true));
        }
        err.println("see '" + name + " --help'");
        return USAGE;
    }

    private static int failure(Exception ex, CommandLine cl, PrintStream err) {
        String name = cl.getCommandSpec().qualifiedName();
        if (ex instanceof UserError || ex instanceof IllegalArgumentException) {
            // a bad option value found once the command ran (a workload name, an I/O size that is not a block multiple)
            err.println(name + ": " + ex.getMessage());
            return USAGE;
        }
        if (ex instanceof VirtioException || ex instanceof IllegalStateException || ex instanceof UncheckedIOException) {
            err.println(name + ": " + ex.getMessage());
            return FAILURE;
        }
        err.println(name + ": " + (ex.getMessage() != null ? ex.getMessage() : ex.toString()));
        return FAILURE;
    }

    /** {@code jvirtio --version}: the version of the jar. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Jvirtio.class.getPackage().getImplementationVersion();
            return new String[] {"jvirtio " + (v != null ? v : "0.1.0-SNAPSHOT")};
        }
    }
}
