package io.jvirtio.tools;

import io.jvirtio.config.BdevJson;
import io.jvirtio.config.BdevRegistry;
import io.jvirtio.config.LoadOptions;
import io.jvirtio.config.SaveConfig;
import io.jvirtio.config.SpdkJson;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * {@code jvirtio bdevs --json CONFIG} (SPDK's {@code bdev_get_bdevs}) and
 * {@code jvirtio save-config --json CONFIG} (SPDK's {@code save_config}): attach what an SPDK
 * JSON config names (vhost-user sockets, virtio PCI functions), print it back in SPDK's shapes,
 * detach. {@code -c} and {@code --config} are bdevperf's names for {@code --json}.
 */
final class ConfigCommands {
    static final String BDEVS_USAGE = "usage: jvirtio bdevs --json|-c CONFIG [-b BDEV] [--skip-unsupported]\n"
            + "  CONFIG: an SPDK JSON config; trtype \"user\" (vhost-user socket) or \"pci\" (virtio PCI function bound to vfio-pci)\n";
    static final String SAVE_USAGE = "usage: jvirtio save-config --json|-c CONFIG [--skip-unsupported]\n";

    private ConfigCommands() {
    }

    static int bdevs(String[] argv, PrintStream out) {
        Args a = Args.parse(argv, List.of("--json", "-b"), List.of("--skip-unsupported"));
        try (BdevRegistry registry = load(a, BDEVS_USAGE)) {
            if (a.has("-b")) {
                String name = a.get("-b", "");
                if (registry.findBdev(name).isEmpty()) {
                    throw new Args.UsageException("-b " + name + ": no such bdev (bdevs: " + registry.bdevs().stream()
                            .map(io.jvirtio.bdev.Bdev::name).toList() + ")");
                }
                out.println(SpdkJson.format(BdevJson.bdevGetBdevs(registry, name)));
            } else {
                out.println(SpdkJson.format(BdevJson.bdevGetBdevs(registry)));
            }
            return 0;
        }
    }

    static int saveConfig(String[] argv, PrintStream out) {
        Args a = Args.parse(argv, List.of("--json"), List.of("--skip-unsupported"));
        try (BdevRegistry registry = load(a, SAVE_USAGE)) {
            out.println(SpdkJson.format(SaveConfig.saveConfig(registry)));
            return 0;
        }
    }

    private static BdevRegistry load(Args a, String usage) {
        if (!a.has("--json")) {
            throw new Args.UsageException("--json CONFIG (or -c CONFIG) is required\n" + usage);
        }
        Path config = Path.of(a.get("--json", ""));
        if (!Files.isRegularFile(config)) {
            throw new Args.UsageException("--json " + config + ": no such file");
        }
        BdevRegistry registry = new BdevRegistry();
        try {
            registry.load(config, a.has("--skip-unsupported") ? LoadOptions.skippingUnsupportedMethods() : LoadOptions.defaults());
        } catch (RuntimeException e) {
            registry.close();
            throw e;
        }
        return registry;
    }
}
