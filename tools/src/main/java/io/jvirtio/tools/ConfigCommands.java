package io.jvirtio.tools;

import io.jvirtio.config.BdevRegistry;
import io.jvirtio.config.ConfigException;
import io.jvirtio.config.LoadOptions;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Loading an SPDK JSON config for a command ({@code bdevs}, {@code save-config}, {@code perf}):
 * the file must exist, the attach shows a progress line while it lasts (a scan of many LUNs
 * takes a while), and the library's advice for an unsupported method is given in the command's
 * terms ({@code --skip-unsupported}).
 */
final class ConfigCommands {
    /** The library's advice in an unsupported-method error, for an embedding program. */
    static final String LIBRARY_SKIP_ADVICE = "load with LoadOptions.skippingUnsupportedMethods() to skip such entries with a warning";
    /** The same advice for a command-line user. */
    static final String COMMAND_SKIP_ADVICE = "pass --skip-unsupported to skip such entries with a warning";

    private ConfigCommands() {
    }

    /**
     * Attaches what {@code config} names.
     *
     * @param option          how the user gave the file ({@code --json}), for messages
     * @param skipUnsupported skip methods jvirtio does not have, with a warning
     * @param progress        where the progress line goes
     */
    static BdevRegistry load(Path config, boolean skipUnsupported, Progress progress) throws InterruptedException {
        if (config == null) {
            throw new UserError("--json CONFIG (or -c CONFIG) is required");
        }
        if (!Files.isRegularFile(config)) {
            throw new UserError("--json " + config + ": no such file");
        }
        BdevRegistry registry = new BdevRegistry();
        long t0 = System.nanoTime();
        Thread ticker = Thread.ofPlatform().daemon().name("jvirtio-attach-progress").start(() -> {
            try {
                while (true) {
                    Thread.sleep(250);
                    progress.update(String.format(Locale.ROOT, "attaching the controllers of %s ... %.1f s", config.getFileName(),
                            (System.nanoTime() - t0) / 1e9));
                }
            } catch (InterruptedException e) {
                // attached
            }
        });
        try {
            registry.load(config, skipUnsupported ? LoadOptions.skippingUnsupportedMethods() : LoadOptions.defaults());
        } catch (ConfigException e) {
            registry.close();
            String m = e.getMessage();
            if (m != null && m.contains(LIBRARY_SKIP_ADVICE)) {
                throw new IllegalStateException(m.replace(LIBRARY_SKIP_ADVICE, COMMAND_SKIP_ADVICE), e);
            }
            throw e;
        } catch (RuntimeException e) {
            registry.close();
            throw e;
        } finally {
            ticker.interrupt();
            ticker.join();
            progress.done();
        }
        return registry;
    }
}
