package io.jvirtio.tools;

import io.jvirtio.backend.DeviceType;
import io.jvirtio.backend.DeviceTypes;
import io.jvirtio.backend.TargetMain;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code jvirtio target}: the Java vhost-user target until stopped, run by
 * {@link TargetMain}. A socket option and a device option make one device, so the order of the
 * options matters: picocli hands each occurrence to a setter here, in order, and the command line
 * rebuilt from them goes to {@link TargetMain#run(String, String[], java.io.PrintStream, java.io.PrintStream)}.
 * The device options ({@code --blk}, {@code --scsi}, service-loaded types) come from {@link DeviceTypes}.
 */
@Command(name = "target", description = {"Run the Java vhost-user target until stopped (Ctrl-C or SIGTERM).",
        "A socket option and a device option make one device; repeat the pair for more devices, each on its own socket."},
        footerHeading = "%nNotes:%n",
        footer = {"Queue modes: with -m the I/O queue threads are pinned to those CPUs (queue i",
                "  to the i-th CPU of the mask, round-robin) and poll: notifications stay off and",
                "  the thread spins on the avail ring, so neither side pays a kick or a wake-up;",
                "  after poll-idle without a request (default 1ms) it re-arms the kick and sleeps",
                "  until the next one (poll-idle=never spins for ever, as SPDK's vhost does).",
                "  Without -m the queues wait for kicks (interrupt mode), as before. SPDK-style",
                "  per-device choice: poll or kick, cpumask=M inside the SPEC. virtio-scsi's",
                "  control and event queues always wait for kicks.",
                "Transport options inside any SPEC: qsize=N (largest ring), poll | kick (queue",
                "  mode), poll-idle=DURATION|never, cpumask=M (0x3 or 0+1), memslots=N,",
                "  proto-off=NAME+NAME (e.g. REPLY_ACK+CONFIG),",
                "  features-off=NAME+NAME (EVENT_IDX, INDIRECT_DESC, PROTOCOL_FEATURES, RING_PACKED).",
                "A RAM store must fit in the JVM's off-heap memory (-XX:MaxDirectMemorySize;",
                "  with ./jvirtio set JVIRTIO_JAVA_OPTS).",
                "Examples:",
                "  jvirtio target --socket /tmp/vhost.blk0 --blk ram:64M,queues=2 \\",
                "                 --socket /tmp/vhost.scsi0 --scsi ram:32M,targets=1,luns=2",
                "  jvirtio target -m 0x1 --socket /tmp/vhost.blk0 --blk ram:64M  (CPU 0 polls)"})
final class TargetCommand implements Callable<Integer>, Subcommands.Customizer {
    private final Cli cli;
    private final List<String> argv = new ArrayList<>();

    TargetCommand(Cli cli) {
        this.cli = cli;
    }

    @Option(names = {"-m", "--cpumask"}, paramLabel = "CPUMASK", description = "CPUs for the queue threads, as SPDK's -m: a hex mask"
            + " (0x1) or a list ([0,2-3]). The I/O queues then poll, pinned round-robin (see Notes).")
    void cpumask(String mask) {
        add("--cpumask", mask);
    }

    @Option(names = "--socket", paramLabel = "PATH", description = "Listen on PATH (server mode, the default of vhost-user back-ends).")
    void socket(String path) {
        add("--socket", path);
    }

    @Option(names = "--connect", paramLabel = "PATH", description = "Connect to a front-end listening on PATH (client mode).")
    void connect(String path) {
        add("--connect", path);
    }

    @Option(names = "--name", paramLabel = "NAME", description = "The device's name (default: its type and number, e.g. blk0).")
    void name(String name) {
        add("--name", name);
    }

    private void add(String option, String value) {
        if (value != null) {
            argv.add(option);
            argv.add(value);
        }
    }

    /** Adds an option per device type, and lets options repeat (one pair per device). */
    @Override
    public void customize(CommandLine cl) {
        CommandSpec spec = cl.getCommandSpec();
        for (DeviceType t : DeviceTypes.all()) {
            String option = "--" + t.name();
            spec.addOption(OptionSpec.builder(option).paramLabel("SPEC").type(String.class)
                    .description("A " + t.name() + " device: " + t.usage().replace("%", "%%")) // picocli formats descriptions
                    .setter(new CommandLine.Model.ISetter() {
                        @Override
                        public <T> T set(T value) {
                            add(option, (String) value);
                            return null;
                        }
                    }).build());
        }
        cl.setOverwrittenOptionsAllowed(true);
    }

    @Override
    public Integer call() throws Exception {
        if (argv.isEmpty()) {
            throw new UserError("no device given (e.g. --socket /tmp/vhost.blk0 --blk ram:64M); see 'jvirtio target --help'");
        }
        return TargetMain.run("jvirtio target", argv.toArray(String[]::new), cli.out(), cli.err());
    }
}
