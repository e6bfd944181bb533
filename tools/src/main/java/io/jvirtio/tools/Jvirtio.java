package io.jvirtio.tools;

import io.jvirtio.spec.VirtioException;

import java.io.PrintStream;
import java.util.Arrays;

/** The {@code jvirtio} command: {@code demo}, {@code perf}. */
public final class Jvirtio {
    private static final String USAGE = """
            usage: jvirtio COMMAND [OPTIONS]
              demo [-t SECONDS]   the Java vhost-user target in-process (RAM blk + scsi with 2 LUNs), attached
                                  through an SPDK JSON config: verify, measure, print bdev_get_bdevs and save_config
              demo --qsd [-t S]   the same checks against qemu-storage-daemon exporting a temporary file,
                                  verified against the file on the host
              perf ...            bdevperf-like measurement (jvirtio perf --help)
              bdevs --json CONFIG        attach what an SPDK JSON config names (trtype "user": a vhost-user socket,
                                         "pci": a virtio PCI function bound to vfio-pci); print bdev_get_bdevs JSON
              save-config --json CONFIG  attach it; print save_config JSON    (-c CONFIG is the same as --json CONFIG)
              target --socket PATH --blk ram:64M | --scsi ram:64M,targets=2,luns=2 ...
                                  run the Java vhost-user target until stopped (jvirtio target --help)
            """;

    private Jvirtio() {
    }

    /** Entry point; exits with the command's status. */
    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** Runs a command; returns its exit status (0 ok, 1 failure, 2 usage). */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        if (args.length == 0 || args[0].equals("--help") || args[0].equals("-h")) {
            out.print(USAGE);
            return args.length == 0 ? 2 : 0;
        }
        String[] rest = Arrays.copyOfRange(args, 1, args.length);
        try {
            return switch (args[0]) {
                case "demo" -> DemoCommand.run(rest, out);
                case "perf" -> {
                    if (rest.length == 1 && (rest[0].equals("--help") || rest[0].equals("-h"))) {
                        out.print(PerfCommand.USAGE);
                        yield 0;
                    }
                    yield PerfCommand.run(rest, out, err);
                }
                // serves until SIGTERM / Ctrl-C; returns at once, non-zero, when a device cannot start
                case "target" -> io.jvirtio.backend.TargetMain.run(rest, out, err);
                case "bdevs" -> ConfigCommands.bdevs(rest, out);
                case "save-config" -> ConfigCommands.saveConfig(rest, out);
                default -> {
                    err.print("jvirtio: unknown command " + args[0] + "\n" + USAGE);
                    yield 2;
                }
            };
        } catch (Args.UsageException | IllegalArgumentException e) {
            // bad option values (a workload name, an I/O size that is not a block multiple)
            err.println("jvirtio " + args[0] + ": " + e.getMessage());
            return 2;
        } catch (VirtioException | IllegalStateException e) {
            err.println("jvirtio " + args[0] + ": " + e.getMessage());
            return 1;
        } catch (Exception e) {
            err.println("jvirtio " + args[0] + ": " + e);
            return 1;
        }
    }
}
