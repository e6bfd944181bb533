package io.jvirtio.testkit.guest;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;

/**
 * A Debian kernel package extracted with {@code dpkg-deb -x} (what {@code .ci/guest-prereqs}
 * leaves in {@link #DEFAULT_CACHE}): {@code boot/vmlinuz-VERSION} and
 * {@code lib/modules/VERSION/kernel/**.ko}. Knows its modules by name, their dependencies (the
 * {@code depends=} field of each module's {@code .modinfo}) and which modules are built in
 * ({@code modules.builtin}), so that {@link #plan(List)} can turn a list of wanted modules into an
 * insmod order.
 *
 * <p>Module names compare with {@code -} and {@code _} equal, as the kernel does.
 */
public final class GuestKernel {
    /** Environment variable naming an extracted kernel package directly (the directory holding {@code boot/} and {@code lib/}). */
    public static final String KERNEL_DIR_ENV = "JVIRTIO_GUEST_KERNEL_DIR";
    /** Environment variable naming the cache directory {@code .ci/guest-prereqs} fills. */
    public static final String CACHE_ENV = "JVIRTIO_GUEST_CACHE";
    /** Where {@code .ci/guest-prereqs} extracts the kernel by default. */
    public static final Path DEFAULT_CACHE = Path.of("/var/cache/jvirtio-guest");

    private static final Map<Path, GuestKernel> CACHE = new HashMap<>();

    private final Path root;
    private final String version;
    private final Path vmlinuz;
    private final Path moduleDir;
    private Map<String, Path> modules;
    private Path bootImage;
    private Set<String> builtin;
    private final Map<String, List<String>> dependencies = new HashMap<>();

    private GuestKernel(Path root, String version, Path vmlinuz, Path moduleDir) {
        this.root = root;
        this.version = version;
        this.vmlinuz = vmlinuz;
        this.moduleDir = moduleDir;
    }

    /**
     * Finds the kernel: {@code $JVIRTIO_GUEST_KERNEL_DIR} when set, else {@code current} in the
     * cache directory ({@code $JVIRTIO_GUEST_CACHE} or {@link #DEFAULT_CACHE}), else the most
     * recently extracted {@code linux-image-*} directory there.
     *
     * @return the kernel, or empty when none is usable ({@link #notFoundMessage()} says why)
     */
    public static Optional<GuestKernel> find() {
        String dir = System.getenv(KERNEL_DIR_ENV);
        if (dir != null && !dir.isBlank()) {
            return probe(Path.of(dir));
        }
        Path cache = cacheDir();
        Optional<GuestKernel> current = probe(cache.resolve("current"));
        if (current.isPresent()) {
            return current;
        }
        if (!Files.isDirectory(cache)) {
            return Optional.empty();
        }
        try (Stream<Path> s = Files.list(cache)) {
            return s.filter(p -> p.getFileName().toString().startsWith("linux-image-") && Files.isDirectory(p))
                    .sorted(Comparator.comparing(GuestKernel::mtime).reversed())
                    .map(GuestKernel::probe)
                    .flatMap(Optional::stream)
                    .findFirst();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /**
     * @param root a directory holding an extracted kernel package
     * @return the kernel there
     * @throws IllegalArgumentException naming what is missing
     */
    public static GuestKernel at(Path root) {
        Path real;
        try {
            real = root.toRealPath();
        } catch (IOException e) {
            throw new IllegalArgumentException("kernel directory " + root + " does not exist");
        }
        synchronized (CACHE) {
            GuestKernel k = CACHE.get(real);
            if (k == null) {
                k = load(real);
                CACHE.put(real, k);
            }
            return k;
        }
    }

    private static GuestKernel load(Path root) {
        Path modulesRoot = root.resolve("lib/modules");
        List<String> versions;
        try (Stream<Path> s = Files.list(modulesRoot)) {
            versions = s.filter(Files::isDirectory).map(p -> p.getFileName().toString()).sorted().toList();
        } catch (IOException e) {
            throw new IllegalArgumentException("kernel directory " + root + " has no lib/modules/VERSION directory");
        }
        for (String v : versions.reversed()) {
            Path vmlinuz = root.resolve("boot/vmlinuz-" + v);
            if (Files.isRegularFile(vmlinuz) && Files.isReadable(vmlinuz)) {
                return new GuestKernel(root, v, vmlinuz, modulesRoot.resolve(v));
            }
        }
        throw new IllegalArgumentException("kernel directory " + root + " has no readable boot/vmlinuz-VERSION for the module versions " + versions);
    }

    private static Optional<GuestKernel> probe(Path dir) {
        if (!Files.isDirectory(dir)) {
            return Optional.empty();
        }
        try {
            return Optional.of(at(dir));
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    private static FileTime mtime(Path p) {
        try {
            return Files.getLastModifiedTime(p);
        } catch (IOException e) {
            return FileTime.fromMillis(0);
        }
    }

    private static Path cacheDir() {
        String c = System.getenv(CACHE_ENV);
        return c != null && !c.isBlank() ? Path.of(c) : DEFAULT_CACHE;
    }

    /** @return what to tell a user when {@link #find()} finds nothing */
    public static String notFoundMessage() {
        String dir = System.getenv(KERNEL_DIR_ENV);
        if (dir != null && !dir.isBlank()) {
            String why;
            try {
                at(Path.of(dir));
                why = "it looks fine now";
            } catch (IllegalArgumentException e) {
                why = e.getMessage();
            }
            return "no usable guest kernel in $" + KERNEL_DIR_ENV + "=" + dir + " (" + why + ")";
        }
        return "no guest kernel in " + cacheDir() + " (a Debian linux-image package extracted with dpkg-deb -x);"
                + " run .ci/guest-prereqs as root, or set $" + KERNEL_DIR_ENV;
    }

    // ------------------------------------------------------------------ accessors

    /** @return the directory the package was extracted into */
    public Path root() {
        return root;
    }

    /** @return the kernel release, e.g. {@code 6.1.0-28-amd64} */
    public String version() {
        return version;
    }

    /** @return {@code boot/vmlinuz-VERSION} */
    public Path vmlinuz() {
        return vmlinuz;
    }

    /**
     * @return what QEMU's {@code -kernel} gets: {@code boot/vmlinux-VERSION} when it is an ELF file
     *         with a PVH entry note (QEMU then starts it directly, skipping the bzImage's
     *         self-decompression, which takes ~2.5 s under TCG; {@code .ci/guest-prereqs} extracts it),
     *         else {@link #vmlinuz()}
     */
    public synchronized Path bootImage() {
        if (bootImage == null) {
            Path vmlinux = vmlinuz.resolveSibling("vmlinux-" + version);
            bootImage = Files.isReadable(vmlinux) && hasPvhNote(vmlinux) ? vmlinux : vmlinuz;
        }
        return bootImage;
    }

    /** @return whether the file is a 64-bit ELF with a Xen ELF note of type 18 (XEN_ELFNOTE_PHYS32_ENTRY), QEMU's PVH entry */
    static boolean hasPvhNote(Path elf) {
        try (FileChannel ch = FileChannel.open(elf, StandardOpenOption.READ)) {
            ByteBuffer h = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
            if (ch.read(h, 0) < 64 || h.getInt(0) != 0x464c457f || h.get(4) != 2) {
                return false;
            }
            long phoff = h.getLong(0x20);
            int phentsize = Short.toUnsignedInt(h.getShort(0x36));
            int phnum = Short.toUnsignedInt(h.getShort(0x38));
            ByteBuffer ph = ByteBuffer.allocate(56).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < phnum; i++) {
                ph.clear();
                if (ch.read(ph, phoff + (long) i * phentsize) < 56 || ph.getInt(0) != 4) { // PT_NOTE
                    continue;
                }
                long off = ph.getLong(8);
                long size = ph.getLong(32);
                if (size <= 0 || size > (1 << 20)) {
                    continue;
                }
                ByteBuffer notes = ByteBuffer.allocate((int) size).order(ByteOrder.LITTLE_ENDIAN);
                ch.read(notes, off);
                int p = 0;
                while (p + 12 <= size) {
                    int namesz = notes.getInt(p);
                    int descsz = notes.getInt(p + 4);
                    int type = notes.getInt(p + 8);
                    if (namesz < 0 || descsz < 0) {
                        break;
                    }
                    int nameStart = p + 12;
                    if (namesz == 4 && nameStart + 4 <= size && notes.get(nameStart) == 'X' && notes.get(nameStart + 1) == 'e'
                            && notes.get(nameStart + 2) == 'n' && type == 18) {
                        return true;
                    }
                    p = nameStart + ((namesz + 3) & ~3) + ((descsz + 3) & ~3);
                }
            }
            return false;
        } catch (IOException e) {
            return false;
        }
    }

    /** @return {@code lib/modules/VERSION} */
    public Path moduleDir() {
        return moduleDir;
    }

    /** @return the canonical form of a module name: {@code -} becomes {@code _} */
    public static String normalize(String moduleName) {
        return moduleName.replace('-', '_');
    }

    /**
     * @param name a module name ({@code vfio-pci} or {@code vfio_pci})
     * @return its file: {@code .ko}, or a compressed {@code .ko.xz}/{@code .ko.zst}/{@code .ko.gz} when that is all there is
     */
    public synchronized Optional<Path> module(String name) {
        if (modules == null) {
            modules = indexModules();
        }
        return Optional.ofNullable(modules.get(normalize(name)));
    }

    /** @return whether the module is compiled into the kernel (listed in {@code modules.builtin}) */
    public synchronized boolean isBuiltin(String name) {
        if (builtin == null) {
            builtin = new HashSet<>();
            Path list = moduleDir.resolve("modules.builtin");
            if (Files.isReadable(list)) {
                try {
                    for (String line : Files.readAllLines(list, StandardCharsets.UTF_8)) {
                        String file = line.substring(line.lastIndexOf('/') + 1);
                        if (file.endsWith(".ko")) {
                            builtin.add(normalize(file.substring(0, file.length() - 3)));
                        }
                    }
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot read " + list, e);
                }
            }
        }
        return builtin.contains(normalize(name));
    }

    /**
     * @param name a module name
     * @return the modules it depends on ({@code depends=} in its {@code .modinfo}); empty for a
     *         compressed or missing module
     */
    public synchronized List<String> dependencies(String name) {
        String key = normalize(name);
        List<String> d = dependencies.get(key);
        if (d == null) {
            d = module(name).filter(p -> p.toString().endsWith(".ko")).map(GuestKernel::readDepends).orElse(List.of());
            dependencies.put(key, d);
        }
        return d;
    }

    /**
     * Resolves wanted modules into a load order: each module after its dependencies, otherwise in
     * the order asked. Built-in modules are left out; missing ones are reported, not fatal.
     *
     * @param wanted module names, in the order they should load
     * @return the plan
     */
    public ModulePlan plan(List<String> wanted) {
        LinkedHashMap<String, Path> order = new LinkedHashMap<>();
        Set<String> builtinHit = new LinkedHashSet<>();
        Set<String> missing = new LinkedHashSet<>();
        for (String w : wanted) {
            visit(w, order, builtinHit, missing, new HashSet<>());
        }
        List<ModulePlan.Module> mods = new ArrayList<>();
        order.forEach((n, p) -> mods.add(new ModulePlan.Module(n, p)));
        return new ModulePlan(List.copyOf(mods), List.copyOf(builtinHit), List.copyOf(missing));
    }

    private void visit(String name, Map<String, Path> order, Set<String> builtinHit, Set<String> missing, Set<String> onPath) {
        String key = normalize(name);
        if (order.containsKey(key) || builtinHit.contains(key) || missing.contains(key) || !onPath.add(key)) {
            return;
        }
        Optional<Path> file = module(key);
        if (file.isEmpty()) {
            if (isBuiltin(key)) {
                builtinHit.add(key);
            } else {
                missing.add(key);
            }
            return;
        }
        for (String dep : dependencies(key)) {
            visit(dep, order, builtinHit, missing, onPath);
        }
        order.put(key, file.get());
    }

    private Map<String, Path> indexModules() {
        Map<String, Path> index = new HashMap<>();
        Path kernelDir = moduleDir.resolve("kernel");
        if (!Files.isDirectory(kernelDir)) {
            return index;
        }
        try (Stream<Path> s = Files.walk(kernelDir)) {
            s.filter(Files::isRegularFile).forEach(p -> {
                String f = p.getFileName().toString();
                int i = f.indexOf(".ko");
                if (i <= 0) {
                    return;
                }
                String suffix = f.substring(i);
                if (!(suffix.equals(".ko") || suffix.equals(".ko.xz") || suffix.equals(".ko.zst") || suffix.equals(".ko.gz"))) {
                    return;
                }
                String key = normalize(f.substring(0, i));
                Path old = index.get(key);
                // a plain .ko wins over a compressed one
                if (old == null || (suffix.equals(".ko") && !old.toString().endsWith(".ko"))) {
                    index.put(key, p);
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list modules under " + kernelDir, e);
        }
        return index;
    }

    /** Reads {@code depends=a,b} from the module's {@code .modinfo} strings. */
    private static List<String> readDepends(Path ko) {
        byte[] data;
        try {
            data = Files.readAllBytes(ko);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read module " + ko, e);
        }
        byte[] key = "depends=".getBytes(StandardCharsets.US_ASCII);
        outer:
        for (int i = 1; i + key.length <= data.length; i++) {
            if (data[i - 1] != 0) {
                continue;
            }
            for (int j = 0; j < key.length; j++) {
                if (data[i + j] != key[j]) {
                    continue outer;
                }
            }
            int start = i + key.length;
            int end = start;
            while (end < data.length && data[end] != 0) {
                end++;
            }
            String value = new String(data, start, end - start, StandardCharsets.US_ASCII).trim();
            if (value.isEmpty()) {
                return List.of();
            }
            return Stream.of(value.split(",")).map(String::trim).filter(s -> !s.isEmpty()).map(GuestKernel::normalize).toList();
        }
        return List.of();
    }

    @Override
    public String toString() {
        return "GuestKernel[" + version + " in " + root + "]";
    }

    /**
     * Modules to load, in order.
     *
     * @param load    the module files, dependencies first
     * @param builtin asked-for (or needed) modules that are compiled in: nothing to load
     * @param missing asked-for (or needed) modules that are neither in the package nor built in
     */
    public record ModulePlan(List<Module> load, List<String> builtin, List<String> missing) {
        /**
         * One module file.
         *
         * @param name its canonical name
         * @param file its path on the host
         */
        public record Module(String name, Path file) {
        }
    }
}
