package io.jvirtio.tools;

import io.jvirtio.config.BdevRegistry;
import io.jvirtio.config.SaveConfig;
import io.jvirtio.config.SpdkJson;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code jvirtio save-config --json CONFIG}: attach what an SPDK JSON config names, print SPDK's {@code save_config}, detach. */
@Command(name = "save-config", description = "Attach what an SPDK JSON config names and print save_config JSON (as SPDK's rpc.py does).")
final class SaveConfigCommand implements Callable<Integer> {
    private final Cli cli;

    @Option(names = {"--json", "-c", "--config"}, paramLabel = "CONFIG", description = "The SPDK JSON config (required).")
    Path config;

    @Option(names = "--skip-unsupported", description = "Skip config methods jvirtio does not have (e.g. bdev_malloc_create), with a warning.")
    boolean skipUnsupported;

    SaveConfigCommand(Cli cli) {
        this.cli = cli;
    }

    @Override
    public Integer call() throws Exception {
        try (BdevRegistry registry = ConfigCommands.load(config, skipUnsupported, cli.progress(cli.err()))) {
            cli.out().println(SpdkJson.format(SaveConfig.saveConfig(registry)));
            return 0;
        }
    }
}
