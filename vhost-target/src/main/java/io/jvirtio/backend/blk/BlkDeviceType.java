package io.jvirtio.backend.blk;

import io.jvirtio.backend.DeviceSpec;
import io.jvirtio.backend.DeviceType;
import io.jvirtio.backend.store.BlockStore;
import io.jvirtio.backend.store.FileBlockStore;
import io.jvirtio.backend.store.RamBlockStore;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * {@code --blk ram:SIZE|file:PATH[,size=SIZE][,bs=512|4096][,ro][,queues=N][,discard=on|off]
 * [,write-zeroes=on|off][,seg-max=N][,size-max=BYTES][,serial=STRING]}: a virtio-blk device over a
 * RAM disk or a file ({@code size=} creates the file when it does not exist).
 */
public final class BlkDeviceType implements DeviceType {
    /** The {@code blk} type (what {@code DeviceTypes} registers). */
    public BlkDeviceType() {
    }

    @Override
    public String name() {
        return "blk";
    }

    @Override
    public String usage() {
        return "ram:SIZE|file:PATH[,size=SIZE][,bs=512|4096][,ro][,queues=N][,discard=on|off][,write-zeroes=on|off]"
                + "[,seg-max=N][,size-max=BYTES][,serial=ID]";
    }

    @Override
    public Opened open(String deviceName, String text) {
        DeviceSpec spec = DeviceSpec.parse(text);
        BlkModelOptions.Builder b = BlkModelOptions.builder();
        b.blockSize(spec.takeInt("bs", 512));
        boolean ro = spec.takeFlag("ro", false);
        b.readOnly(ro);
        b.numQueues(spec.takeInt("queues", 1));
        b.discard(spec.takeFlag("discard", true));
        b.writeZeroes(spec.takeFlag("write-zeroes", spec.takeFlag("wz", true)));
        b.segMax(spec.takeInt("seg-max", BlkModelOptions.DEFAULT_SEG_MAX));
        b.sizeMax((int) Math.min(Integer.MAX_VALUE, spec.takeSize("size-max", 0) ));
        byte[] n = deviceName.getBytes(StandardCharsets.US_ASCII);
        b.serial(spec.take("serial", new String(n, 0, Math.min(n.length, 20), StandardCharsets.US_ASCII)));
        long createSize = spec.takeSize("size", 0);
        BlkModelOptions options = b.build();
        BlockStore store = switch (spec.kind()) {
            case "ram" -> {
                if (spec.argument() == null) {
                    throw new IllegalArgumentException("blk device spec " + text + ": ram needs a size (ram:64M)");
                }
                spec.checkAllTaken("blk");
                long bytes = DeviceSpec.parseSize(spec.argument(), "blk device spec " + text);
                try {
                    yield new RamBlockStore(bytes, ro);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("blk device spec " + text + ": " + e.getMessage(), e);
                }
            }
            case "file" -> {
                if (spec.argument() == null || spec.argument().isEmpty()) {
                    throw new IllegalArgumentException("blk device spec " + text + ": file needs a path (file:/path/disk.img)");
                }
                spec.checkAllTaken("blk");
                Path path = Path.of(spec.argument());
                if (createSize > 0 && !Files.exists(path)) {
                    create(path, createSize);
                }
                yield new FileBlockStore(path, ro);
            }
            default -> throw new IllegalArgumentException("blk device spec " + text + ": unknown storage " + spec.kind()
                    + ", expected ram:SIZE or file:PATH");
        };
        try {
            return new Opened(new VirtioBlkModel(deviceName, store, options), List.of(store));
        } catch (RuntimeException e) {
            store.close();
            throw e;
        }
    }

    private static void create(Path path, long size) {
        try (RandomAccessFile f = new RandomAccessFile(path.toFile(), "rw")) {
            f.setLength(size);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + path + " of " + size + " bytes: " + FileBlockStore.reason(e), e);
        }
    }
}
