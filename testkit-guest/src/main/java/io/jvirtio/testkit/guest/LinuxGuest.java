package io.jvirtio.testkit.guest;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A throw-away Linux guest under QEMU (TCG: KVM is not needed) that runs one shell script and
 * reports its exit status and output: the harness for checking a vhost-user target against
 * Linux's own virtio drivers, and for VFIO work inside a guest.
 *
 * <pre>{@code
 * GuestResult r = LinuxGuest.builder()
 *         .vhostUserBlk("blk0", qsd.socketPath(), 2)
 *         .timeout(Duration.ofSeconds(60))
 *         .run("""
 *              dev=$(blk_of blk0) || exit 1
 *              expect_eq size "$(cat /sys/block/$dev/size)" 131072
 *              """);
 * r.requireSuccess();
 * }</pre>
 *
 * <p><b>The guest.</b> The kernel and its modules come from a Debian {@code linux-image} package
 * extracted on the host ({@link GuestKernel#find()}; {@code .ci/guest-prereqs} provides it). The
 * initramfs is built on the fly (newc cpio, gzip): a static busybox, the modules (see
 * {@link #DEFAULT_MODULES}; dependencies are added and ordered from each module's {@code depends=}),
 * and an {@code /init} that mounts proc, sys and devtmpfs, insmods the modules, mounts the 9p
 * shares, runs the script with busybox sh and powers off. The script sees
 * {@code /lib/jvirtio/functions.sh} (helpers {@code fail}, {@code expect_eq}, {@code skip_step},
 * {@code wait_for}, {@code pci_of ID}, {@code blk_of ID}, {@code scsi_host_of ID},
 * {@code scsi_disks_of ID}, {@code hctl_disk H:C:T:L}, {@code driver_of ID|BDF},
 * {@code vfio_bind ID|BDF}, {@code host_java ARGS...}), {@code $JVIRTIO_PCI_<id>} for every
 * device added with an id, and the variables given with {@link Builder#env(String, String)}.
 * Devices get PCI slots 05, 06, ... on bus 0 in the order they are added.
 *
 * <p><b>VFIO.</b> {@link Builder#intelIommu(String)} ({@code intremap=on,aw-bits=48} for IOVA =
 * virtual address), devices with {@code iommu_platform=on,disable-legacy=on},
 * {@link #VFIO_MODULES} for a fast boot, {@code vfio_bind} in the script; {@link Builder#hostJava(HostJava)}
 * and {@code host_java} run the host's JDK and the build's classes in the guest.
 *
 * <p><b>The machine.</b> {@code qemu-system-x86_64 -accel tcg -M q35 -m 1G -smp 1 -nographic
 * -no-reboot} with guest RAM in a shared memfd ({@code memory-backend-memfd,share=on}: vhost-user
 * back-ends map it). Serial port 0 (the console) and port 1 (the script's output alone) go to log
 * files in a temporary directory, which is deleted after a successful run and kept (its path is in
 * {@link GuestResult#describe()}) otherwise. A run that exceeds its timeout is killed.
 *
 * <p>Instances are immutable and may run several times, also concurrently (each run is a new VM).
 */
public final class LinuxGuest {
    /** Environment variable naming another {@code qemu-system-x86_64}. */
    public static final String QEMU_BINARY_ENV = "JVIRTIO_QEMU_SYSTEM";
    /** Environment variable naming another static busybox. */
    public static final String BUSYBOX_ENV = "JVIRTIO_GUEST_BUSYBOX";
    /** Environment variable that turns a missing prerequisite from a skip into a failure when {@code 1} (CI). */
    public static final String REQUIRE_ENV = "JVIRTIO_REQUIRE_GUEST";
    /** Environment variable naming a directory where every run's logs are kept (one subdirectory per run). */
    public static final String KEEP_LOGS_ENV = "JVIRTIO_GUEST_KEEP_LOGS";
    /** How long a run may take by default. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(90);

    /**
     * The modules loaded by default, in insmod order (dependencies found in the package are added
     * anyway): virtio PCI, virtio-blk, 9p over virtio, SCSI disks over virtio-scsi (sd_mod before
     * virtio_scsi, so disks attach during the controller's probe), VFIO.
     */
    public static final List<String> DEFAULT_MODULES = List.of(
            "virtio_ring", "virtio", "virtio_pci_modern_dev", "virtio_pci_legacy_dev", "virtio_pci", "virtio_blk",
            "9pnet", "9pnet_virtio", "netfs", "fscache", "9p",
            "scsi_common", "scsi_mod", "crct10dif_common", "crc64", "crc-t10dif", "crc64-rocksoft", "t10-pi", "sd_mod",
            "virtio_scsi",
            "vfio", "vfio_iommu_type1", "irqbypass", "vfio_virqfd", "vfio-pci-core", "vfio-pci");

    /**
     * The modules a VFIO test needs, for a fast boot (guest script at uptime ~3 s instead of ~9 s):
     * virtio-pci (the 9p shares are virtio devices; the functions to hand over sit on it until
     * bound), 9p over virtio, vfio-pci and the type1 IOMMU back-end; their dependencies are added.
     * No virtio_blk or virtio_scsi: the guest kernel never drives the disks it hands to VFIO.
     */
    public static final List<String> VFIO_MODULES = List.of("virtio_pci", "9pnet_virtio", "9p", "vfio-pci", "vfio_iommu_type1");

    /**
     * Module parameters applied by default: SCSI scanning is synchronous, so that a virtio-scsi
     * controller's disks exist as soon as its driver's insmod returns.
     */
    public static final Map<String, String> DEFAULT_MODULE_PARAMS = Map.of("scsi_mod", "scan=sync");

    /** Kernel arguments always given. */
    public static final List<String> BASE_KERNEL_ARGS = List.of("console=ttyS0", "panic=-1");

    /** Kernel arguments given unless {@link Builder#defaultKernelArgs(boolean)} turns them off: quiet, fast to boot. */
    public static final List<String> DEFAULT_KERNEL_ARGS = List.of(
            "quiet", "loglevel=4", "i8042.noaux", "i8042.nokbd", "i8042.nopnp", "i8042.dumbkbd", "8250.nr_uarts=2",
            "mitigations=off", "nokaslr", "random.trust_cpu=on", "tsc=unstable");

    private static final Path[] QEMU_CANDIDATES = {Path.of("/usr/bin/qemu-system-x86_64"), Path.of("/usr/local/bin/qemu-system-x86_64")};
    private static final Path[] BUSYBOX_CANDIDATES = {Path.of("/bin/busybox"), Path.of("/usr/bin/busybox"), Path.of("/usr/lib/initramfs-tools/bin/busybox")};
    private static final int FIRST_PCI_SLOT = 0x05;
    private static final int LAST_PCI_SLOT = 0x1e;
    private static final Pattern ID = Pattern.compile("[A-Za-z][A-Za-z0-9_]{0,30}");
    private static final Pattern ENV_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");
    private static final System.Logger LOG = System.getLogger(LinuxGuest.class.getName());

    private static final Set<Process> RUNNING = ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            RUNNING.forEach(Process::destroyForcibly);
            GuestInitramfs.deleteCache();
        }, "linux-guest-cleanup"));
    }

    private final Path qemu;
    private final Path busybox;
    private final GuestKernel kernel;
    private final GuestKernel.ModulePlan plan;
    private final Map<String, String> moduleParams;
    private final List<Device> devices;
    private final List<Share> shares;
    private final boolean intelIommu;
    private final String intelIommuProps;
    private final int memoryMiB;
    private final boolean hugepages;
    private final String cpu;
    private final List<String> kernelArgs;
    private final List<String> extraQemuArgs;
    private final Duration timeout;
    private final Path keepLogsIn;
    private final Map<String, String> environment;
    private final GuestInitramfs initramfs;

    private LinuxGuest(Builder b, Path qemu, Path busybox, GuestKernel kernel) {
        this.qemu = qemu;
        this.busybox = busybox;
        this.kernel = kernel;
        this.plan = kernel.plan(b.modules);
        this.moduleParams = Map.copyOf(b.moduleParams);
        this.devices = List.copyOf(b.devices);
        this.shares = List.copyOf(b.shares);
        this.intelIommu = b.intelIommu;
        this.intelIommuProps = b.intelIommuProps;
        this.memoryMiB = b.memoryMiB;
        this.hugepages = b.hugepages;
        this.cpu = b.cpu;
        List<String> args = new ArrayList<>(BASE_KERNEL_ARGS);
        if (b.defaultKernelArgs) {
            args.addAll(DEFAULT_KERNEL_ARGS);
        }
        if (intelIommu) {
            args.add("intel_iommu=on");
        }
        args.addAll(b.kernelArgs);
        this.kernelArgs = List.copyOf(args);
        this.extraQemuArgs = List.copyOf(b.extraQemuArgs);
        this.timeout = b.timeout;
        this.keepLogsIn = b.keepLogsIn;
        this.environment = Map.copyOf(b.environment);
        this.initramfs = new GuestInitramfs(busybox, kernel, plan, moduleParams);
        if (!plan.missing().isEmpty()) {
            LOG.log(Level.WARNING, "guest kernel {0} lacks the modules {1} (neither in the package nor built in); the guest boots without them",
                    kernel.version(), plan.missing());
        }
    }

    // ------------------------------------------------------------------ availability

    /** @return the QEMU binary: {@code $JVIRTIO_QEMU_SYSTEM}, {@code /usr/bin/qemu-system-x86_64}, or the first on PATH */
    public static Optional<Path> findQemu() {
        return findBinary(QEMU_BINARY_ENV, QEMU_CANDIDATES, "qemu-system-x86_64", p -> true);
    }

    /** @return a statically linked busybox: {@code $JVIRTIO_GUEST_BUSYBOX}, {@code /bin/busybox}, ... */
    public static Optional<Path> findBusybox() {
        return findBinary(BUSYBOX_ENV, BUSYBOX_CANDIDATES, "busybox", LinuxGuest::isStaticElf);
    }

    private static Optional<Path> findBinary(String env, Path[] candidates, String name, java.util.function.Predicate<Path> ok) {
        String override = System.getenv(env);
        if (override != null && !override.isBlank()) {
            Path p = Path.of(override);
            return Files.isExecutable(p) && ok.test(p) ? Optional.of(p) : Optional.empty();
        }
        List<Path> all = new ArrayList<>(List.of(candidates));
        String path = System.getenv("PATH");
        if (path != null) {
            for (String dir : path.split(":")) {
                if (!dir.isEmpty()) {
                    all.add(Path.of(dir, name));
                }
            }
        }
        return all.stream().filter(Files::isExecutable).filter(ok).findFirst();
    }

    /** @return whether the file is an ELF executable without a program interpreter (PT_INTERP) */
    static boolean isStaticElf(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer h = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
            if (ch.read(h, 0) < 64 || h.getInt(0) != 0x464c457f || h.get(4) != 2) { // "\177ELF", 64-bit
                return false;
            }
            long phoff = h.getLong(0x20);
            int phentsize = Short.toUnsignedInt(h.getShort(0x36));
            int phnum = Short.toUnsignedInt(h.getShort(0x38));
            ByteBuffer ph = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < phnum; i++) {
                ph.clear();
                if (ch.read(ph, phoff + (long) i * phentsize) < 4) {
                    return false;
                }
                if (ph.getInt(0) == 3) { // PT_INTERP: dynamically linked
                    return false;
                }
            }
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * @return why a guest cannot run here (QEMU, kernel or static busybox missing, with what to do),
     *         or empty when it can
     */
    public static Optional<String> unavailableReason() {
        List<String> why = new ArrayList<>();
        if (findQemu().isEmpty()) {
            why.add("qemu-system-x86_64 not found (Debian package qemu-system-x86; or set $" + QEMU_BINARY_ENV + ")");
        }
        if (GuestKernel.find().isEmpty()) {
            why.add(GuestKernel.notFoundMessage());
        }
        if (findBusybox().isEmpty()) {
            why.add("no statically linked busybox (Debian package busybox-static; or set $" + BUSYBOX_ENV + ")");
        }
        if (why.isEmpty()) {
            return Optional.empty();
        }
        return Optional.of("Linux guest unavailable: " + String.join("; ", why) + " (on Debian 12, .ci/guest-prereqs run as root installs all of it)");
    }

    /** @return whether {@code $JVIRTIO_REQUIRE_GUEST} is {@code 1}: a missing prerequisite must fail, not skip */
    public static boolean required() {
        return "1".equals(System.getenv(REQUIRE_ENV));
    }

    /** @return a builder with the defaults: 1 GiB, 1 vCPU, {@link #DEFAULT_MODULES}, {@link #DEFAULT_TIMEOUT} */
    public static Builder builder() {
        return new Builder();
    }

    // ------------------------------------------------------------------ accessors

    /** @return the kernel the guest boots */
    public GuestKernel kernel() {
        return kernel;
    }

    /** @return the modules the initramfs carries, in load order, and those missing */
    public GuestKernel.ModulePlan modulePlan() {
        return plan;
    }

    /** @return the kernel command line */
    public String kernelCommandLine() {
        return String.join(" ", kernelArgs);
    }

    /** @return the timeout of each run */
    public Duration timeout() {
        return timeout;
    }

    // ------------------------------------------------------------------ running

    /**
     * Boots the guest, runs {@code script} with busybox sh (after sourcing the helpers) and waits
     * for the guest to power off.
     *
     * @param script a shell script; its exit status is the result's
     * @return what happened; check {@link GuestResult#succeeded()} or call {@link GuestResult#requireSuccess()}
     * @throws GuestException when QEMU cannot be started at all or the wait is interrupted
     */
    public GuestResult run(String script) {
        Objects.requireNonNull(script, "script");
        String runId = UUID.randomUUID().toString().substring(0, 8);
        Path dir;
        try {
            dir = keepLogsIn != null ? Files.createDirectories(keepLogsIn).resolve("guest-" + runId)
                    : Files.createTempDirectory("jvirtio-guest-");
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a guest work directory", e);
        }
        Path initrd = dir.resolve("initrd.img");
        Path consoleLog = dir.resolve("console.log");
        Path scriptLog = dir.resolve("script.log");
        Path qemuLog = dir.resolve("qemu.log");
        try {
            writeInitrd(initrd, runId, script);
        } catch (IOException e) {
            deleteTree(dir);
            throw new UncheckedIOException("cannot build the guest initramfs", e);
        }
        List<String> cmd = command(initrd, consoleLog, scriptLog);
        LOG.log(Level.DEBUG, "starting guest {0}: {1}", runId, String.join(" ", cmd));
        long start = System.nanoTime();
        Process p;
        try {
            p = new ProcessBuilder(cmd).directory(dir.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .redirectErrorStream(true).redirectOutput(qemuLog.toFile()).start();
        } catch (IOException e) {
            deleteTree(dir);
            throw new GuestException("cannot run " + qemu + ": " + e.getMessage(), e);
        }
        RUNNING.add(p);
        boolean timedOut = false;
        int exit;
        try {
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                timedOut = true;
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
            }
            exit = timedOut ? -1 : p.exitValue();
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new GuestException("interrupted while guest " + runId + " ran; logs in " + dir, e);
        } finally {
            RUNNING.remove(p);
        }
        Duration wall = Duration.ofNanos(System.nanoTime() - start);
        String console = readLog(consoleLog);
        String scriptOut = readLog(scriptLog);
        String qemuOut = readLog(qemuLog);
        int status = -1;
        double begin = -1;
        Matcher m = Pattern.compile("jvirtio-guest: BEGIN " + runId + " uptime=([0-9.]+)").matcher(console);
        if (m.find()) {
            begin = Double.parseDouble(m.group(1));
        }
        m = Pattern.compile("jvirtio-guest: END " + runId + " status=([0-9]+)").matcher(console);
        if (m.find()) {
            status = Integer.parseInt(m.group(1));
        }
        boolean ok = status == 0 && !timedOut;
        Path kept = null;
        if (keepLogsIn == null) {
            // kept with keepLogsIn, so that the logged QEMU command can be re-run by hand
            try {
                Files.deleteIfExists(initrd);
            } catch (IOException ignored) {
                // best effort
            }
        }
        if (ok && keepLogsIn == null) {
            deleteTree(dir);
        } else {
            kept = dir;
        }
        GuestResult r = new GuestResult(status, timedOut, exit, wall, begin, scriptOut, console, qemuOut, cmd, kept);
        LOG.log(ok ? Level.DEBUG : Level.INFO, "guest {0}: status {1}, {2} ms wall, script started at uptime {3} s{4}",
                runId, status, wall.toMillis(), begin, kept != null ? ", logs in " + kept : "");
        return r;
    }

    /**
     * @param initrd     the initramfs file
     * @param consoleLog where serial port 0 goes
     * @param scriptLog  where serial port 1 goes
     * @return the QEMU command line a run uses
     */
    List<String> command(Path initrd, Path consoleLog, Path scriptLog) {
        List<String> c = new ArrayList<>();
        String mem = memoryMiB + "M";
        c.addAll(List.of(qemu.toString(), "-accel", "tcg", "-M", "q35", "-m", mem, "-smp", "1",
                "-nographic", "-nodefaults", "-no-user-config", "-no-reboot", "-monitor", "none"));
        if (cpu != null) {
            c.addAll(List.of("-cpu", cpu));
        }
        c.addAll(List.of("-object", "memory-backend-memfd,id=mem0,size=" + mem + ",share=on" + (hugepages ? ",hugetlb=on,hugetlbsize=2M" : ""),
                "-numa", "node,memdev=mem0"));
        c.addAll(List.of("-chardev", "file,id=con0,path=" + esc(consoleLog.toString()), "-serial", "chardev:con0"));
        c.addAll(List.of("-chardev", "file,id=out0,path=" + esc(scriptLog.toString()), "-serial", "chardev:out0"));
        if (intelIommu) {
            // before every other PCI device: QEMU wants the IOMMU to exist when they are realized
            c.addAll(List.of("-device", "intel-iommu" + (intelIommuProps.isEmpty() ? "" : "," + intelIommuProps)));
        }
        int slot = FIRST_PCI_SLOT;
        for (Device d : devices) {
            c.addAll(d.args(String.format(Locale.ROOT, "0x%02x", slot)));
            slot++;
        }
        for (Share s : shares) {
            c.addAll(s.args(String.format(Locale.ROOT, "0x%02x", slot)));
            slot++;
        }
        c.addAll(extraQemuArgs);
        c.addAll(List.of("-kernel", kernel.bootImage().toString(), "-initrd", initrd.toString(), "-append", kernelCommandLine()));
        return c;
    }

    private void writeInitrd(Path initrd, String runId, String script) throws IOException {
        StringBuilder dev = new StringBuilder();
        int slot = FIRST_PCI_SLOT;
        for (Device d : devices) {
            // "@PORT": the guest's init looks the device up below that root port (its bus number is the kernel's choice)
            dev.append(d.id).append(' ').append(d.behindRootPort ? "@" : "").append(String.format(Locale.ROOT, "0000:00:%02x.0", slot)).append('\n');
            slot++;
        }
        StringBuilder sh = new StringBuilder();
        for (Share s : shares) {
            sh.append(s.tag).append(' ').append(s.guestPath).append(' ').append(s.readOnly ? "ro" : "rw").append('\n');
        }
        StringBuilder env = new StringBuilder();
        environment.forEach((k, v) -> env.append("export ").append(k).append('=').append(shellQuote(v)).append('\n'));
        initramfs.write(initrd, new GuestInitramfs.RunFiles(runId, dev.toString(), sh.toString(), env.toString(), script));
    }

    /** @return {@code value} in single quotes for sh ({@code '} becomes {@code '\''}) */
    static String shellQuote(String value) {
        return "'" + value.replace("'", "'\\''") + "'";
    }

    private static String readLog(Path p) {
        try {
            if (!Files.exists(p)) {
                return "";
            }
            // serial output may hold stray bytes: decode leniently
            return new String(Files.readAllBytes(p), StandardCharsets.UTF_8).replace("\r\n", "\n").replace('\r', '\n');
        } catch (IOException e) {
            return "(cannot read " + p + ": " + e.getMessage() + ")";
        }
    }

    /** QEMU option syntax: a comma inside a value is doubled. */
    static String esc(String value) {
        return value.replace(",", ",,");
    }

    static void deleteTree(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            // best effort
        }
    }

    @Override
    public String toString() {
        return "LinuxGuest[" + kernel.version() + ", " + memoryMiB + " MiB, devices " + devices.stream().map(d -> d.id).toList() + "]";
    }

    // ------------------------------------------------------------------ configuration

    /** One PCI device: its QEMU arguments, given its slot. */
    /**
     * One PCI device: its QEMU arguments, given its slot on bus 0.
     *
     * @param behindRootPort the slot holds a {@code pcie-root-port} and the device is function 0 below it
     */
    private record Device(String id, java.util.function.Function<String, List<String>> argsForAddr, boolean behindRootPort) {
        Device(String id, java.util.function.Function<String, List<String>> argsForAddr) {
            this(id, argsForAddr, false);
        }

        List<String> args(String addr) {
            return argsForAddr.apply(addr);
        }
    }

    /** A host directory shared over virtio-9p. */
    private record Share(String tag, Path hostDir, String guestPath, boolean readOnly) {
        List<String> args(String addr) {
            return List.of("-fsdev", "local,id=fs-" + tag + ",path=" + esc(hostDir.toAbsolutePath().toString()) + ",security_model=none"
                            + (readOnly ? ",readonly=on" : ""),
                    "-device", "virtio-9p-pci,fsdev=fs-" + tag + ",mount_tag=" + tag + ",addr=" + addr);
        }
    }

    /**
     * Options of a guest. Device methods take an {@code id}: a shell-safe name
     * ({@code [A-Za-z][A-Za-z0-9_]*}) that is the QEMU device id and, in the guest,
     * {@code $JVIRTIO_PCI_<id>} / {@code pci_of <id>}.
     */
    public static final class Builder {
        private Path qemu;
        private Path busybox;
        private GuestKernel kernel;
        private final List<String> modules = new ArrayList<>(DEFAULT_MODULES);
        private final Map<String, String> moduleParams = new LinkedHashMap<>();
        private final List<Device> devices = new ArrayList<>();
        private final List<Share> shares = new ArrayList<>();
        private final List<String> kernelArgs = new ArrayList<>();
        private final List<String> extraQemuArgs = new ArrayList<>();
        private boolean defaultKernelArgs = true;
        private boolean intelIommu;
        private String intelIommuProps = "";
        private int memoryMiB = 1024;
        private boolean hugepages;
        private String cpu;
        private Duration timeout = DEFAULT_TIMEOUT;
        private Path keepLogsIn;
        private final Map<String, String> environment = new LinkedHashMap<>();

        private Builder() {
            DEFAULT_MODULE_PARAMS.forEach((k, v) -> moduleParams.put(GuestKernel.normalize(k), v));
            String keep = System.getenv(KEEP_LOGS_ENV);
            if (keep != null && !keep.isBlank()) {
                keepLogsIn = Path.of(keep);
            }
        }

        private String checkId(String id) {
            if (id == null || !ID.matcher(id).matches()) {
                throw new IllegalArgumentException("device id '" + id + "' must match " + ID.pattern());
            }
            if (devices.stream().anyMatch(d -> d.id.equals(id))) {
                throw new IllegalArgumentException("device id '" + id + "' used twice");
            }
            if (FIRST_PCI_SLOT + devices.size() + shares.size() > LAST_PCI_SLOT) {
                throw new IllegalArgumentException("too many PCI devices (slots 0x05..0x1e)");
            }
            return id;
        }

        /** @param mib guest RAM in MiB (default 1024); all of it is one shared memfd */
        public Builder memoryMiB(int mib) {
            if (mib < 128) {
                throw new IllegalArgumentException("guest memory " + mib + " MiB is too small (>= 128)");
            }
            this.memoryMiB = mib;
            return this;
        }

        /**
         * @param on back guest RAM with 2 MiB hugepages ({@code hugetlb=on}); needs enough free
         *           hugepages (SPDK's vhost target wants hugepage-backed front-end memory)
         */
        public Builder hugepages(boolean on) {
            this.hugepages = on;
            return this;
        }

        /** @param model a {@code -cpu} model ({@code max} for every TCG feature); QEMU's default when not set */
        public Builder cpu(String model) {
            this.cpu = model;
            return this;
        }

        /** @param d how long a run may take before QEMU is killed (default {@link #DEFAULT_TIMEOUT}) */
        public Builder timeout(Duration d) {
            if (d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException("timeout " + d);
            }
            this.timeout = d;
            return this;
        }

        /** @param path another {@code qemu-system-x86_64} */
        public Builder qemuBinary(Path path) {
            this.qemu = path;
            return this;
        }

        /** @param path another static busybox */
        public Builder busybox(Path path) {
            this.busybox = path;
            return this;
        }

        /** @param k another kernel than {@link GuestKernel#find()}'s */
        public Builder kernel(GuestKernel k) {
            this.kernel = k;
            return this;
        }

        /**
         * Replaces the module list.
         *
         * @param names modules in insmod order (dependencies are added before them anyway)
         */
        public Builder modules(List<String> names) {
            modules.clear();
            modules.addAll(names);
            return this;
        }

        /** @param names more modules, loaded after the others */
        public Builder addModules(String... names) {
            modules.addAll(List.of(names));
            return this;
        }

        /**
         * @param module a module name
         * @param params its insmod parameters ({@code a=1 b=2}), replacing the defaults
         */
        public Builder moduleParams(String module, String params) {
            moduleParams.put(GuestKernel.normalize(module), params);
            return this;
        }

        /** @param args more kernel command-line arguments */
        public Builder kernelArgs(String... args) {
            kernelArgs.addAll(List.of(args));
            return this;
        }

        /** @param on whether {@link #DEFAULT_KERNEL_ARGS} (quiet and fast) are given (default yes) */
        public Builder defaultKernelArgs(boolean on) {
            this.defaultKernelArgs = on;
            return this;
        }

        /** @param args raw QEMU arguments, appended after the devices (a device given here gets no PCI slot from us) */
        public Builder qemuArgs(String... args) {
            extraQemuArgs.addAll(List.of(args));
            return this;
        }

        /**
         * @param dir keep each run's logs (console, script output, QEMU output) and its initramfs in a
         *            subdirectory of this one, also after a successful run (default: {@code $JVIRTIO_GUEST_KEEP_LOGS};
         *            otherwise a temporary directory, kept only after a failure, without the initramfs)
         */
        public Builder keepLogsIn(Path dir) {
            this.keepLogsIn = dir;
            return this;
        }

        /**
         * Adds an emulated Intel IOMMU ({@code -device intel-iommu,intremap=on}) and
         * {@code intel_iommu=on}: what VFIO in the guest needs (the Debian kernel has no VFIO
         * no-IOMMU mode). Devices a guest driver reaches through VFIO need {@code iommu_platform=on}
         * (pass it in their extra properties).
         */
        public Builder intelIommu() {
            return intelIommu("intremap=on");
        }

        /** @param props the {@code intel-iommu} properties, comma-separated */
        public Builder intelIommu(String props) {
            this.intelIommu = true;
            this.intelIommuProps = props == null ? "" : props;
            return this;
        }

        /**
         * Adds a {@code vhost-user-blk-pci} device connected (QEMU is the client) to a back-end
         * listening on {@code socket}. The back-end must be listening before {@link LinuxGuest#run(String)}.
         *
         * @param id        the device id
         * @param socket    the back-end's unix socket
         * @param numQueues {@code num-queues}
         */
        public Builder vhostUserBlk(String id, Path socket, int numQueues) {
            return vhostUserBlk(id, socket, numQueues, "");
        }

        /**
         * @param id         the device id
         * @param socket     the back-end's unix socket
         * @param numQueues  {@code num-queues}
         * @param extraProps more {@code vhost-user-blk-pci} properties ({@code queue-size=256}), comma-separated, or empty
         * @see #vhostUserBlk(String, Path, int)
         */
        public Builder vhostUserBlk(String id, Path socket, int numQueues, String extraProps) {
            checkId(id);
            String sock = esc(socket.toAbsolutePath().toString());
            devices.add(new Device(id, addr -> List.of(
                    "-chardev", "socket,id=chr-" + id + ",path=" + sock,
                    "-device", "vhost-user-blk-pci,id=" + id + ",chardev=chr-" + id + ",num-queues=" + numQueues + ",addr=" + addr + extra(extraProps))));
            return this;
        }

        /**
         * Adds a {@code vhost-user-scsi-pci} device connected to a back-end listening on {@code socket}.
         *
         * @param id        the device id
         * @param socket    the back-end's unix socket
         * @param numQueues request queues ({@code num_queues}; the control and event queues come on top)
         */
        public Builder vhostUserScsi(String id, Path socket, int numQueues) {
            return vhostUserScsi(id, socket, numQueues, "");
        }

        /**
         * @param id         the device id
         * @param socket     the back-end's unix socket
         * @param numQueues  request queues
         * @param extraProps more {@code vhost-user-scsi-pci} properties, comma-separated, or empty
         * @see #vhostUserScsi(String, Path, int)
         */
        public Builder vhostUserScsi(String id, Path socket, int numQueues, String extraProps) {
            checkId(id);
            String sock = esc(socket.toAbsolutePath().toString());
            devices.add(new Device(id, addr -> List.of(
                    "-chardev", "socket,id=chr-" + id + ",path=" + sock,
                    "-device", "vhost-user-scsi-pci,id=" + id + ",chardev=chr-" + id + ",num_queues=" + numQueues + ",addr=" + addr + extra(extraProps))));
            return this;
        }

        /**
         * Adds an emulated {@code virtio-blk-pci} disk backed by a raw image file (QEMU's own
         * device: a reference to compare a target with, or a device to bind to vfio-pci).
         *
         * @param id         the device id
         * @param image      the raw image
         * @param extraProps more {@code virtio-blk-pci} properties ({@code logical_block_size=4096,iommu_platform=on,disable-legacy=on}), or empty
         */
        public Builder virtioBlk(String id, Path image, String extraProps) {
            checkId(id);
            String img = esc(image.toAbsolutePath().toString());
            devices.add(new Device(id, addr -> List.of(
                    "-drive", "if=none,id=drv-" + id + ",file=" + img + ",format=raw,discard=unmap",
                    "-device", "virtio-blk-pci,id=" + id + ",drive=drv-" + id + ",addr=" + addr + extra(extraProps))));
            return this;
        }

        /**
         * As {@link #virtioBlk(String, Path, String)}, with the disk behind a {@code pcie-root-port} of
         * its own (the port takes the slot): a PCI Express function, which has function-level reset
         * (VFIO reports {@code VFIO_DEVICE_FLAGS_RESET}; a function on the root bus does not). In the
         * guest {@code $JVIRTIO_PCI_<id>} is the function below the port ({@code 0000:01:00.0}).
         *
         * @param id         the device id (the port is {@code rp-<id>})
         * @param image      the raw image
         * @param extraProps more {@code virtio-blk-pci} properties, or empty
         */
        public Builder virtioBlkOnRootPort(String id, Path image, String extraProps) {
            checkId(id);
            String img = esc(image.toAbsolutePath().toString());
            int chassis = devices.size() + 1;
            devices.add(new Device(id, addr -> List.of(
                    "-device", "pcie-root-port,id=rp-" + id + ",chassis=" + chassis + ",slot=" + chassis + ",addr=" + addr,
                    "-drive", "if=none,id=drv-" + id + ",file=" + img + ",format=raw,discard=unmap",
                    "-device", "virtio-blk-pci,id=" + id + ",drive=drv-" + id + ",bus=rp-" + id + ",addr=0x0" + extra(extraProps)), true));
            return this;
        }

        /**
         * Adds an emulated {@code virtio-scsi-pci} controller with {@code scsi-hd} disks.
         *
         * @param id        the device id (the SCSI bus is {@code <id>.0})
         * @param numQueues request queues ({@code num_queues})
         * @param disks     its disks
         */
        public Builder virtioScsi(String id, int numQueues, List<ScsiDisk> disks) {
            return virtioScsi(id, numQueues, disks, "");
        }

        /**
         * @param id         the device id (the SCSI bus is {@code <id>.0})
         * @param numQueues  request queues ({@code num_queues})
         * @param disks      its disks
         * @param extraProps more {@code virtio-scsi-pci} properties ({@code iommu_platform=on,disable-legacy=on} for
         *                   a controller handed to vfio-pci), comma-separated, or empty
         * @see #virtioScsi(String, int, List)
         */
        public Builder virtioScsi(String id, int numQueues, List<ScsiDisk> disks, String extraProps) {
            checkId(id);
            List<ScsiDisk> copy = List.copyOf(disks);
            devices.add(new Device(id, addr -> {
                List<String> a = new ArrayList<>(List.of("-device", "virtio-scsi-pci,id=" + id + ",num_queues=" + numQueues + ",addr=" + addr
                        + extra(extraProps)));
                for (ScsiDisk d : copy) {
                    String drive = "drv-" + id + "-" + d.target() + "-" + d.lun();
                    a.addAll(List.of("-drive", "if=none,id=" + drive + ",file=" + esc(d.image().toAbsolutePath().toString()) + ",format=raw,discard=unmap",
                            "-device", "scsi-hd,bus=" + id + ".0,drive=" + drive + ",channel=0,scsi-id=" + d.target() + ",lun=" + d.lun()
                                    + extra(d.extraProps())));
                }
                return a;
            }));
            return this;
        }

        /**
         * Exports an environment variable to the script (the value reaches the guest in the initramfs,
         * not on the kernel command line, so it may be long: a class path).
         *
         * @param name  a shell variable name ({@code [A-Za-z_][A-Za-z0-9_]*})
         * @param value its value, any text
         */
        public Builder env(String name, String value) {
            if (name == null || !ENV_NAME.matcher(name).matches()) {
                throw new IllegalArgumentException("environment variable name '" + name + "' must match " + ENV_NAME.pattern());
            }
            environment.put(name, Objects.requireNonNull(value, "value"));
            return this;
        }

        /**
         * Lets the script run the host's JDK with {@code host_java}: shares the host's {@code /}
         * read-only at {@link HostJava#GUEST_ROOT} and passes the java binary, the class path and the
         * JVM options as environment ({@link HostJava}).
         *
         * @param java what to run and with which class path
         */
        public Builder hostJava(HostJava java) {
            share(HostJava.SHARE_TAG, Path.of("/"), HostJava.GUEST_ROOT, true);
            java.environment().forEach(this::env);
            return this;
        }

        /**
         * Shares a host directory over virtio-9p, mounted in the guest before the script runs.
         *
         * @param tag       the mount tag ({@code [A-Za-z][A-Za-z0-9_]*})
         * @param hostDir   the host directory
         * @param guestPath where the guest mounts it
         * @param readOnly  whether the share is read-only
         */
        public Builder share(String tag, Path hostDir, String guestPath, boolean readOnly) {
            if (tag == null || !ID.matcher(tag).matches()) {
                throw new IllegalArgumentException("share tag '" + tag + "' must match " + ID.pattern());
            }
            if (!guestPath.startsWith("/") || guestPath.contains(" ")) {
                throw new IllegalArgumentException("guest path '" + guestPath + "' must be absolute and without spaces");
            }
            if (shares.stream().anyMatch(s -> s.tag.equals(tag))) {
                throw new IllegalArgumentException("share tag '" + tag + "' used twice");
            }
            if (FIRST_PCI_SLOT + devices.size() + shares.size() > LAST_PCI_SLOT) {
                throw new IllegalArgumentException("too many PCI devices (slots 0x05..0x1e)");
            }
            shares.add(new Share(tag, hostDir, guestPath, readOnly));
            return this;
        }

        private static String extra(String props) {
            return props == null || props.isBlank() ? "" : "," + props;
        }

        /**
         * @return the guest
         * @throws IllegalStateException when QEMU, the kernel or busybox is missing ({@link #unavailableReason()})
         */
        public LinuxGuest build() {
            if (hugepages && memoryMiB % 2 != 0) {
                throw new IllegalArgumentException("hugepage-backed guest memory must be a multiple of 2 MiB, not " + memoryMiB + " MiB");
            }
            Path q = qemu != null ? qemu : findQemu().orElseThrow(() -> new IllegalStateException(unavailableReason().orElse("qemu-system-x86_64 not found")));
            Path bb = busybox != null ? busybox : findBusybox().orElseThrow(() -> new IllegalStateException(unavailableReason().orElse("no static busybox")));
            GuestKernel k = kernel != null ? kernel : GuestKernel.find().orElseThrow(() -> new IllegalStateException(GuestKernel.notFoundMessage()));
            return new LinuxGuest(this, q, bb, k);
        }

        /**
         * {@code build().run(script)}.
         *
         * @param script the shell script
         * @return what happened
         */
        public GuestResult run(String script) {
            return build().run(script);
        }
    }
}
