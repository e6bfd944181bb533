package io.jvirtio.tools;

import io.jvirtio.bdev.Bdev;
import io.jvirtio.config.BdevJson;
import io.jvirtio.config.BdevRegistry;
import io.jvirtio.config.SpdkJson;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code jvirtio bdevs --json CONFIG}: attach what an SPDK JSON config names, print SPDK's {@code bdev_get_bdevs}, detach. */
@Command(name = "bdevs", description = {"Attach what an SPDK JSON config names and print bdev_get_bdevs JSON (as SPDK's rpc.py does).",
        "CONFIG: trtype \"user\" (a vhost-user socket) or \"pci\" (a virtio PCI function bound to vfio-pci)."})
final class BdevsCommand implements Callable<Integer> {
    private final Cli cli;

    @Option(names = {"--json", "-c", "--config"}, paramLabel = "CONFIG", description = "The SPDK JSON config (required).")
    Path config;

    @Option(names = "-b", paramLabel = "BDEV", description = "Print only this bdev.")
    String bdev;

    @Option(names = "--skip-unsupported", description = "Skip config methods jvirtio does not have (e.g. bdev_malloc_create), with a warning.")
    boolean skipUnsupported;

    BdevsCommand(Cli cli) {
        this.cli = cli;
    }

    @Override
    public Integer call() throws Exception {
        try (BdevRegistry registry = ConfigCommands.load(config, skipUnsupported, cli.progress(cli.err()))) {
            if (bdev != null) {
                if (registry.findBdev(bdev).isEmpty()) {
                    throw new UserError("-b " + bdev + ": no such bdev (bdevs: " + registry.bdevs().stream().map(Bdev::name).toList() + ")");
                }
                cli.out().println(SpdkJson.format(BdevJson.bdevGetBdevs(registry, bdev)));
            } else {
                cli.out().println(SpdkJson.format(BdevJson.bdevGetBdevs(registry)));
            }
            return 0;
        }
    }
}
