package io.jvirtio.tools.vfio;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.jvirtio.core.pci.PciAddress;
import io.jvirtio.tools.Jvirtio;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

import static io.jvirtio.tools.vfio.GuestCheckException.check;

/**
 * The {@code jvirtio} command on {@code trtype "pci"} SPDK JSON configs, run in-process in the guest
 * JVM ({@link Jvirtio#run}): {@code bdevs} shows the functions as SPDK's {@code pci-modern} with
 * their addresses and every field of SPDK's shape, {@code save-config} writes SPDK's config and
 * reads it back to the same, {@code perf -w verify} runs without an error or a miscompare, a config naming a
 * function that is not bound to vfio-pci fails with a message that says so. Guest side.
 */
final class JvirtioCommandScenarios {
    static final String PERF_BDEV = "VfioPerf0";
    static final String SCSI_CONTROLLER = "VfioScsiCfg";
    /** Prefix of the line with the perf figure (quoted in reports). */
    static final String PERF_LINE = "perf: ";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final PrintStream out;
    private final PciAddress perf;
    private final PciAddress scsi;
    private final PciAddress unbound;

    JvirtioCommandScenarios(PrintStream out, PciAddress perf, PciAddress scsi, PciAddress unbound) {
        this.out = out;
        this.perf = perf;
        this.scsi = scsi;
        this.unbound = unbound;
    }

    /** What one {@code jvirtio} run printed. */
    private record Run(int status, String out, String err) {
        String describe() {
            return "exit status " + status + ", stderr: " + err.strip().replace('\n', ' ') + ", stdout: "
                    + (out.length() > 400 ? out.substring(0, 400) + "..." : out).replace('\n', ' ');
        }
    }

    private static Run jvirtio(String... args) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        int status;
        try (PrintStream po = new PrintStream(o, true, StandardCharsets.UTF_8); PrintStream pe = new PrintStream(e, true, StandardCharsets.UTF_8)) {
            status = Jvirtio.run(args, po, pe);
        }
        return new Run(status, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
    }

    /**
     * One {@code bdev_virtio_attach_controller} entry.
     *
     * @param name    the controller name
     * @param devType {@code blk} or {@code scsi}
     * @param trtype  {@code pci} or {@code user}
     * @param traddr  the PCI address or the socket
     */
    record Controller(String name, String devType, String trtype, String traddr) {
        static Controller pci(String name, String devType, PciAddress address) {
            return new Controller(name, devType, "pci", address.toString());
        }
    }

    /** @return an SPDK JSON config attaching every controller, then {@code bdev_wait_for_examine} */
    static String config(List<Controller> controllers) {
        List<String> entries = new ArrayList<>();
        for (Controller c : controllers) {
            entries.add(String.format(Locale.ROOT, """
                    {"method": "bdev_virtio_attach_controller",
                     "params": {"name": "%s", "trtype": "%s", "traddr": "%s", "dev_type": "%s"}}""", c.name(), c.trtype(), c.traddr(),
                    c.devType()));
        }
        entries.add("{\"method\": \"bdev_wait_for_examine\"}");
        return "{\"subsystems\": [{\"subsystem\": \"bdev\", \"config\": [\n" + String.join(",\n", entries) + "\n]}]}\n";
    }

    private static Path write(String name, String json) throws IOException {
        Path p = Files.createTempFile(name, ".json");
        Files.writeString(p, json);
        return p;
    }

    /**
     * {@code jvirtio bdevs --json} on a blk and a scsi function: SPDK's {@code pci-modern} entries with the
     * addresses, every field checked ({@link BdevsJsonCheck}).
     */
    void bdevs() throws IOException {
        Path cfg = write("bdevs", config(List.of(Controller.pci(PERF_BDEV, "blk", perf), Controller.pci(SCSI_CONTROLLER, "scsi", scsi))));
        Run r = jvirtio("bdevs", "-c", cfg.toString());
        check(r.status == 0, "jvirtio bdevs: " + r.describe());
        for (PciAddress a : List.of(perf, scsi)) {
            check(Pattern.compile("\"pci_address\"\\s*:\\s*\"" + Pattern.quote(a.toString()) + "\"").matcher(r.out).find(),
                    "jvirtio bdevs output has no \"pci_address\": \"" + a + "\": " + r.describe());
        }
        check(Pattern.compile("\"type\"\\s*:\\s*\"pci-modern\"").matcher(r.out).find(),
                "jvirtio bdevs output has no \"type\": \"pci-modern\": " + r.describe());
        checkBdevs(r.out, expectedPciBdevs());
    }

    /**
     * The guest's bdevs: the blk function behind the root port (1 queue, {@link VfioGuestPlan#PERF_BYTES}) and the
     * scsi function's two LUNs (2 request queues, so SPDK's {@code vq_count} is 4 with the control and event queues);
     * QEMU's queues have 256 descriptors; QEMU offers flush, discard and write-zeroes (scsi: UNMAP, WRITE SAME).
     */
    private List<BdevsJsonCheck.Expected> expectedPciBdevs() {
        Set<String> all = Set.of("read", "write", "unmap", "write_zeroes", "flush", "reset");
        Map<String, String> blkAt = pciFields(perf);
        Map<String, String> scsiAt = pciFields(scsi);
        long lun = VfioGuestPlan.LUN_BYTES;
        int lun1 = VfioGuestPlan.LUN1_BLOCK_SIZE;
        return List.of(new BdevsJsonCheck.Expected(PERF_BDEV, "VirtioBlk Disk", 512, VfioGuestPlan.PERF_BYTES / 512, 1, 256, blkAt, all),
                new BdevsJsonCheck.Expected(SCSI_CONTROLLER + "t0", "Virtio SCSI Disk", 512, lun / 512, 4, 256, scsiAt, all),
                new BdevsJsonCheck.Expected(SCSI_CONTROLLER + "t0l1", "Virtio SCSI Disk", lun1, lun / lun1, 4, 256, scsiAt, all));
    }

    private static Map<String, String> pciFields(PciAddress a) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("type", "pci-modern");
        m.put("pci_address", a.toString());
        return m;
    }

    /**
     * Checks {@code bdev_get_bdevs} output field by field against {@code expected} ({@link BdevsJsonCheck});
     * prints the blk bdev's {@code driver_specific}.
     */
    void checkBdevs(String output, List<BdevsJsonCheck.Expected> expected) throws IOException {
        BdevsJsonCheck.verify(output, expected);
        out.println("bdevs: " + PERF_BDEV + " driver_specific " + JSON.writeValueAsString(find(JSON.readTree(output), PERF_BDEV)
                .path("driver_specific")));
    }

    /**
     * {@code jvirtio save-config} on a config naming the functions in SPDK's short form ({@code 01:00.0}):
     * exactly SPDK's {@code save_config} (the scsi controller, the blk controller, in the config's order, the
     * addresses written in full, no queue params, {@code bdev_wait_for_examine}), and the same again when the
     * saved config is loaded and saved.
     */
    void saveConfig() throws IOException {
        List<Controller> shortForm = List.of(new Controller(SCSI_CONTROLLER, "scsi", "pci", shortForm(scsi)),
                new Controller(PERF_BDEV, "blk", "pci", shortForm(perf)));
        String saved = saveConfigRoundTrip(write("short", config(shortForm)));
        String want = String.format(Locale.ROOT, "{\"subsystems\":[{\"subsystem\":\"bdev\",\"config\":[%s,%s,"
                + "{\"method\":\"bdev_wait_for_examine\"}]}]}", savedEntry(SCSI_CONTROLLER, "scsi", scsi), savedEntry(PERF_BDEV, "blk", perf));
        check(want.equals(saved), "jvirtio save-config printed " + saved + ", expected SPDK's " + want);
        out.println("save-config: " + saved);
    }

    /** @return one saved {@code bdev_virtio_attach_controller}, compact, its params in SPDK's order */
    private static String savedEntry(String name, String devType, PciAddress a) {
        return String.format(Locale.ROOT, "{\"method\":\"bdev_virtio_attach_controller\",\"params\":{\"name\":\"%s\","
                + "\"dev_type\":\"%s\",\"trtype\":\"pci\",\"traddr\":\"%s\"}}", name, devType, a);
    }

    /** @return {@code bus:device.function}, SPDK's short form of a domain-0 address */
    private static String shortForm(PciAddress a) {
        return String.format(Locale.ROOT, "%02x:%02x.%x", a.bus(), a.device(), a.function());
    }

    /**
     * {@code jvirtio save-config} on {@code cfg}, then on what it printed: both runs succeed and print the same JSON.
     *
     * @return the saved config, compact
     */
    static String saveConfigRoundTrip(Path cfg) throws IOException {
        Run first = jvirtio("save-config", "-c", cfg.toString());
        check(first.status == 0, "jvirtio save-config: " + first.describe());
        String saved = JSON.writeValueAsString(JSON.readTree(first.out));
        Run again = jvirtio("save-config", "-c", write("saved", first.out).toString());
        check(again.status == 0, "jvirtio save-config on its own output: " + again.describe());
        String resaved = JSON.writeValueAsString(JSON.readTree(again.out));
        check(saved.equals(resaved), "save-config of the saved config differs: " + resaved + ", first " + saved);
        return saved;
    }

    /** @return {@code jvirtio bdevs --json config}'s output, checked for exit status 0 */
    static String bdevsOutput(Path config) {
        Run r = jvirtio("bdevs", "-c", config.toString());
        check(r.status == 0, "jvirtio bdevs: " + r.describe());
        return r.out;
    }

    private static JsonNode find(JsonNode bdevs, String name) {
        for (JsonNode b : bdevs) {
            if (name.equals(b.path("name").asText())) {
                return b;
            }
        }
        return null;
    }

    /** {@code jvirtio perf --json CONFIG -w verify}: I/O happened, no error, no miscompare; the figure is printed. */
    void perfVerify() throws IOException {
        perfVerify(write("perf", config(List.of(Controller.pci(PERF_BDEV, "blk", perf)))));
    }

    /** {@code jvirtio perf --json cfg -w verify} on the config's one bdev: I/O happened, no error, no miscompare. */
    void perfVerify(Path cfg) throws IOException {
        Run r = jvirtio("perf", "-c", cfg.toString(), "-w", "verify", "-q", "8", "-o", "4096", "-t", "2", "--output", "json");
        check(r.status == 0, "jvirtio perf -w verify: " + r.describe());
        JsonNode results = JSON.readTree(r.out).path("results");
        check(results.size() == 1, "jvirtio perf printed " + results.size() + " results, expected 1: " + r.describe());
        JsonNode res = results.get(0);
        out.println(String.format(Locale.ROOT, "%s%s verify qd %d io_size %d: %.0f IOPS, %.2f MiB/s, avg %.0f us,"
                        + " %d ios, %d errors, %d miscompares", PERF_LINE, res.path("bdev").asText(), res.path("queue_depth").asInt(),
                res.path("io_size").asInt(), res.path("iops").asDouble(), res.path("mibps").asDouble(),
                res.path("latency_us").path("avg").asDouble(), res.path("ios").asLong(), res.path("errors").asLong(),
                res.path("miscompares").asLong()));
        check(res.path("ios").asLong() > 0, "jvirtio perf did no I/O: " + res);
        check(res.path("errors").asLong() == 0, "jvirtio perf saw errors: " + res);
        check(res.path("miscompares").asLong() == 0, "jvirtio perf saw miscompares: " + res);
    }

    /** A config naming a function still on virtio-pci: the command fails, naming the function and vfio-pci. */
    void unboundInConfig() throws IOException {
        Path cfg = write("unbound", config(List.of(Controller.pci("VfioUnbound0", "blk", unbound))));
        Run r = jvirtio("bdevs", "-c", cfg.toString());
        check(r.status != 0, "jvirtio bdevs attached a function bound to virtio-pci: " + r.describe());
        check(r.err.contains(unbound.toString()) && r.err.contains("vfio-pci"),
                "the error does not name " + unbound + " and vfio-pci: " + r.describe());
        out.println("error message: " + r.err.strip().replace('\n', ' '));
    }
}
