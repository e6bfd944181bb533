package io.jvirtio.backend.scsi;

import io.jvirtio.backend.DeviceSpec;
import io.jvirtio.backend.store.BlockStore;
import io.jvirtio.backend.store.FileBlockStore;
import io.jvirtio.backend.store.RamBlockStore;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The command-line form of a virtio-scsi device ({@code --scsi SPEC}), in the {@link DeviceSpec}
 * syntax the blk device uses; every LUN alike except where a value lists alternatives:
 *
 * <pre>
 *   ram:SIZE|file:PATTERN[,size=SIZE][,targets=N][,luns=N][,bs=512|4096|512/4096][,pbs=BYTES][,ro]
 *       [,unmap=on|off][,wce=on|off][,hotplug=on|off][,change=on|off][,queues=N][,max-target=N][,max-lun=N]
 * </pre>
 *
 * <ul>
 *   <li>{@code ram:SIZE}: each LUN a RAM disk of SIZE; {@code file:PATTERN}: each LUN a file, {@code %t} and
 *       {@code %l} in PATTERN replaced by the target and LUN numbers, created with {@code size=} when missing</li>
 *   <li>{@code targets}, {@code luns}: targets 0..N-1 each get LUNs 0..N-1 (defaults 1 and 1)</li>
 *   <li>{@code bs}: block size, or sizes separated by '/' taken in turn LUN after LUN (default 512)</li>
 *   <li>{@code pbs}: physical block size (default: the block size)</li>
 *   <li>{@code ro}, {@code unmap} (thin provisioning, default on), {@code wce} (volatile write cache, default
 *       on), {@code hotplug} and {@code change} (VIRTIO_SCSI_F_HOTPLUG, VIRTIO_SCSI_F_CHANGE offered, default on)</li>
 *   <li>{@code queues}: request queues (default 1); {@code max-target}, {@code max-lun}: config space limits
 *       (defaults 7 and 255)</li>
 * </ul>
 *
 * @param storage    {@code ram} or {@code file}
 * @param sizeBytes  capacity of each LUN (files: only when created)
 * @param filePattern file name pattern, or null for RAM
 * @param targets    number of targets
 * @param luns       LUNs per target
 * @param blockSizes block sizes, used in turn
 * @param physicalBlockSize physical block size, 0 for the block size
 * @param readOnly   read-only LUNs
 * @param unmap      thin provisioning
 * @param writeCache volatile write cache reported
 * @param hotplug    VIRTIO_SCSI_F_HOTPLUG offered
 * @param change     VIRTIO_SCSI_F_CHANGE offered
 * @param queues     request queues
 * @param maxTarget  max_target
 * @param maxLun     max_lun
 */
public record ScsiDeviceSpec(String storage, long sizeBytes, String filePattern, int targets, int luns,
                             List<Integer> blockSizes, int physicalBlockSize, boolean readOnly, boolean unmap,
                             boolean writeCache, boolean hotplug, boolean change, int queues, int maxTarget, int maxLun) {
    /** The usage line of {@code --scsi}. */
    public static final String USAGE = "ram:SIZE|file:PATTERN(%t,%l)[,size=SIZE][,targets=N][,luns=N][,bs=512|4096|512/4096]"
            + "[,pbs=BYTES][,ro][,unmap=on|off][,wce=on|off][,hotplug=on|off][,change=on|off][,queues=N][,max-target=N][,max-lun=N]";

    /** A model built from a spec, with the stores it opened; closing closes both. */
    public record Instance(VirtioScsiModel model, List<BlockStore> stores) implements AutoCloseable {
        @Override
        public void close() {
            model.close();
            stores.forEach(BlockStore::close);
        }
    }

    /**
     * Parses {@code text}.
     *
     * @throws IllegalArgumentException naming the offending option and value
     */
    public static ScsiDeviceSpec parse(String text) {
        DeviceSpec spec = DeviceSpec.parse(text);
        String what = "scsi device spec " + text;
        long size;
        String pattern = null;
        switch (spec.kind()) {
            case "ram" -> {
                if (spec.argument() == null) {
                    throw new IllegalArgumentException(what + ": ram needs a size (ram:64M)");
                }
                size = DeviceSpec.parseSize(spec.argument(), what);
            }
            case "file" -> {
                if (spec.argument() == null || spec.argument().isEmpty()) {
                    throw new IllegalArgumentException(what + ": file needs a path pattern (file:/var/lun-%t-%l.img)");
                }
                pattern = spec.argument();
                size = spec.takeSize("size", 0);
            }
            default -> throw new IllegalArgumentException(what + ": unknown storage " + spec.kind()
                    + ", expected ram:SIZE or file:PATTERN");
        }
        ScsiDeviceSpec s = new ScsiDeviceSpec(spec.kind(), size, pattern,
                range(spec.takeInt("targets", 1), 1, 256, "targets", what),
                range(spec.takeInt("luns", 1), 1, 16384, "luns", what),
                blockSizes(spec.take("bs", "512"), what),
                range(spec.takeInt("pbs", 0), 0, 1 << 30, "pbs", what),
                spec.takeFlag("ro", false),
                spec.takeFlag("unmap", true),
                spec.takeFlag("wce", true),
                spec.takeFlag("hotplug", true),
                spec.takeFlag("change", true),
                range(spec.takeInt("queues", 1), 1, 1024, "queues", what),
                range(spec.takeInt("max-target", 7), 0, 255, "max-target", what),
                range(spec.takeInt("max-lun", 255), 0, 16383, "max-lun", what));
        spec.checkAllTaken("scsi");
        if (s.targets - 1 > s.maxTarget) {
            throw new IllegalArgumentException(what + ": targets=" + s.targets + " exceeds max-target=" + s.maxTarget);
        }
        if (s.luns - 1 > s.maxLun) {
            throw new IllegalArgumentException(what + ": luns=" + s.luns + " exceeds max-lun=" + s.maxLun);
        }
        if (pattern != null && (s.targets > 1 && !pattern.contains("%t") || s.luns > 1 && !pattern.contains("%l"))) {
            throw new IllegalArgumentException(what + ": several LUNs need %t / %l in the file pattern");
        }
        return s;
    }

    /** Opens the stores and builds the model named {@code name} with every LUN attached. */
    public Instance open(String name) {
        VirtioScsiModel model = new VirtioScsiModel(ScsiModelOptions.builder().name(name).requestQueues(queues)
                .maxTarget(maxTarget).maxLun(maxLun).hotplug(hotplug).paramChange(change).build());
        List<BlockStore> stores = new ArrayList<>();
        try {
            int n = 0;
            for (int t = 0; t < targets; t++) {
                for (int l = 0; l < luns; l++, n++) {
                    BlockStore store = filePattern == null ? new RamBlockStore(sizeBytes, readOnly) : fileStore(t, l);
                    stores.add(store);
                    ScsiLun.Builder b = ScsiLun.builder(store).blockSize(blockSizes.get(n % blockSizes.size()))
                            .readOnly(readOnly).thinProvisioning(unmap).writeCache(writeCache);
                    if (physicalBlockSize != 0) {
                        b.physicalBlockSize(physicalBlockSize);
                    }
                    model.addLun(t, l, b.build());
                }
            }
        } catch (RuntimeException e) {
            model.close();
            stores.forEach(BlockStore::close);
            throw e;
        }
        return new Instance(model, List.copyOf(stores));
    }

    private BlockStore fileStore(int t, int l) {
        Path p = Path.of(filePattern.replace("%t", Integer.toString(t)).replace("%l", Integer.toString(l)));
        if (!Files.exists(p) && sizeBytes > 0) {
            try (RandomAccessFile raf = new RandomAccessFile(p.toFile(), "rw")) {
                raf.setLength(sizeBytes);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot create " + p + " of " + sizeBytes + " bytes: " + FileBlockStore.reason(e), e);
            }
        }
        return new FileBlockStore(p, readOnly);
    }

    private static List<Integer> blockSizes(String v, String what) {
        List<Integer> l = new ArrayList<>();
        for (String s : v.split("[/|]")) {
            int bs;
            try {
                bs = Integer.parseInt(s.trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(what + ": option bs=" + v + ": '" + s + "' is not a number");
            }
            if (bs < 512 || bs > 65536 || Integer.bitCount(bs) != 1) {
                throw new IllegalArgumentException(what + ": option bs=" + v + ": " + bs
                        + " is not a power of two from 512 to 65536");
            }
            l.add(bs);
        }
        return List.copyOf(l);
    }

    private static int range(int v, int min, int max, String key, String what) {
        if (v < min || v > max) {
            throw new IllegalArgumentException(what + ": option " + key + "=" + v + " is outside " + min + ".." + max);
        }
        return v;
    }
}
