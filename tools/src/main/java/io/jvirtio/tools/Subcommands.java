package io.jvirtio.tools;

import picocli.AutoComplete;
import picocli.CommandLine;

import java.util.List;
import java.util.function.Function;

/**
 * The registry of {@code jvirtio}'s subcommands, in the order {@code jvirtio help} lists them.
 * A subcommand is one class (a picocli {@code @Command} implementing {@code Callable<Integer>})
 * built from the {@link Cli} it writes to; adding one is one line here.
 */
final class Subcommands {
    /**
     * One subcommand.
     *
     * @param name    what the user types
     * @param factory builds the command object for a run
     */
    record Entry(String name, Function<Cli, Object> factory) {
    }

    /** The subcommands, in help order. */
    static final List<Entry> ALL = List.of(
            new Entry("demo", DemoCommand::new),
            new Entry("perf", PerfCommand::new),
            new Entry("bdevs", BdevsCommand::new),
            new Entry("save-config", SaveConfigCommand::new),
            new Entry("target", TargetCommand::new),
            new Entry("serve", ServeCommand::new),
            new Entry("iostat", IostatCommand::new),
            new Entry("generate-completion", cli -> new AutoComplete.GenerateCompletion()),
            new Entry("help", cli -> new CommandLine.HelpCommand()));

    /** A subcommand that adjusts its own command line once built (options only known at run time). */
    interface Customizer {
        /** Called once, after picocli built the command line from the annotations. */
        void customize(CommandLine commandLine);
    }

    private Subcommands() {
    }

    /** Adds every subcommand to the root command line. */
    static void addTo(CommandLine root, Cli cli) {
        for (Entry e : ALL) {
            Object command = e.factory().apply(cli);
            CommandLine sub = new CommandLine(command);
            if (command instanceof Customizer c) {
                c.customize(sub);
            }
            root.addSubcommand(e.name(), sub);
            if (e.name().equals("generate-completion")) {
                sub.getCommandSpec().usageMessage().hidden(false)
                        .description("Print a bash/zsh completion script (source it: . <(jvirtio generate-completion)).");
            }
        }
    }
}
