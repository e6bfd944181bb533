package io.jvirtio.tools;

import com.fasterxml.jackson.databind.JsonNode;
import io.jvirtio.config.IostatFormatter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.Callable;

/**
 * {@code jvirtio iostat}: SPDK's {@code scripts/iostat.py} (v26.01) against a JSON-RPC socket (a
 * {@code jvirtio serve}, or an SPDK application): the same options ({@code -c -d -k -m -i -t -s -b
 * -o -x}) and the same output ({@link IostatFormatter}), from {@code bdev_get_iostat} over
 * {@link RpcClient}. Like iostat.py it prints a sample, sleeps {@code -i} seconds, and stops once
 * {@code -t} seconds are used up (so {@code -i 1 -t 3} prints three samples; neither prints one);
 * the first sample's rates are since the clock's origin, each next one's over the interval.
 * Not here: iostat.py's {@code -u} (uptime as the interval clock) and {@code -p} (TCP).
 */
@Command(name = "iostat", sortOptions = false, description = {"SPDK's scripts/iostat.py: the bdevs' I/O statistics (bdev_get_iostat) of a"
        + " jvirtio serve or SPDK application, as iostat.py prints them."},
        footerHeading = "%nNotes:%n",
        footer = {"As iostat.py: a sample, then -i seconds of sleep, until -t seconds are used",
                "  up (-i 1 -t 5: five samples); without -i/-t one sample. The first sample's",
                "  rates are since the clock's origin (boot), each next one's over the interval.",
                "  Without -c/-d both the cpu line and the device table.",
                "Example: jvirtio iostat -s /var/tmp/jvirtio.sock -i 1 -t 10 -m",
                "Exit status: 0 ok, 1 the socket or the RPC failed, 2 a bad command line."})
final class IostatCommand implements Callable<Integer> {
    private final Cli cli;

    @Option(names = {"-c", "--cpu-status"}, description = "Only display cpu status.")
    boolean cpuOnly;
    @Option(names = {"-d", "--bdev-status"}, description = "Only display Blockdev io stats.")
    boolean bdevOnly;
    @Option(names = {"-k", "--kb-display"}, description = "Display drive stats in KiB (the default).")
    boolean kb;
    @Option(names = {"-m", "--mb-display"}, description = "Display drive stats in MiB.")
    boolean mb;
    @Option(names = {"-i", "--interval"}, paramLabel = "SECONDS", description = "Time interval (in seconds) on which to poll I/O stats; with -t.")
    Integer interval;
    @Option(names = {"-t", "--time"}, paramLabel = "SECONDS", description = "The number of seconds to display stats before returning; with -i.")
    Integer time;
    @Option(names = {"-s", "--server"}, paramLabel = "SOCKET", description = "RPC domain socket path (default: /var/tmp/spdk.sock).")
    Path server = Path.of("/var/tmp/spdk.sock");
    @Option(names = {"-b", "--name"}, paramLabel = "BDEV", description = "Name of the Blockdev (default: all).")
    String name;
    @Option(names = {"-o", "--timeout"}, paramLabel = "SECONDS", description = "Seconds to wait for a response (default: 60.0).")
    double timeout = 60.0;
    @Option(names = {"-x", "--extended"}, description = "Display extended statistics (N/A: jvirtio samples no queue depth).")
    boolean extended;

    IostatCommand(Cli cli) {
        this.cli = cli;
    }

    @Override
    public Integer call() throws Exception {
        for (Object[] o : new Object[][] {{"-i", interval}, {"-t", time}}) {
            if (o[1] != null && (Integer) o[1] <= 0) {
                throw new UserError(o[0] + " " + o[1] + ": should be positive int value");
            }
        }
        if ((interval == null) != (time == null)) {
            throw new UserError((interval != null ? "-i " + interval : "-t " + time)
                    + ": interval (-i) and time (-t) should be greater than 0 at the same time");
        }
        if (kb && mb) {
            throw new UserError("-k -m: give one of -k (KiB) and -m (MiB)");
        }
        if (!(timeout > 0)) {
            throw new UserError("-o " + timeout + ": the timeout must be positive");
        }
        IostatFormatter formatter = new IostatFormatter(mb ? IostatFormatter.Unit.MB : IostatFormatter.Unit.KB, extended);
        boolean cpu = cpuOnly || !bdevOnly;
        boolean bdevs = bdevOnly || !cpuOnly;
        int step = interval == null ? 0 : interval;
        int total = time == null ? 0 : time;
        long[] lastCpu = null;
        try (RpcClient client = bdevs ? RpcClient.connect(server, timeout) : null) {
            int used = 0;
            while (true) {
                if (cpu) {
                    long[] now = cpuStat();
                    cli.out().print(IostatFormatter.cpuStat(lastCpu, now));
                    lastCpu = now;
                }
                if (bdevs) {
                    JsonNode stat = client.call("bdev_get_iostat", name == null ? null : java.util.Map.of("name", name));
                    cli.out().print(formatter.sample(stat));
                }
                cli.out().flush();
                used += step;
                if (used >= total) {
                    return 0;
                }
                Thread.sleep(step * 1000L);
            }
        }
    }

    /** @return the numbers of the {@code cpu} line of {@code /proc/stat} (user, nice, system, idle, iowait, irq, softirq, steal, ...) */
    static long[] cpuStat() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/stat"))) {
                if (line.startsWith("cpu ")) {
                    return Arrays.stream(line.substring(4).trim().split("\\s+")).mapToLong(Long::parseLong).toArray();
                }
            }
            throw new IllegalStateException("/proc/stat: no cpu line");
        } catch (IOException e) {
            throw new UncheckedIOException("/proc/stat: " + e.getMessage(), e);
        }
    }
}
