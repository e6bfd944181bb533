package io.jvirtio.config;

import io.jvirtio.bdev.Bdev;
import io.jvirtio.bdev.IoChannel;
import io.jvirtio.bdev.IoType;

import java.lang.foreign.MemorySegment;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/** A bdev without a device: name, geometry, I/O types and driver_specific as a test sets them. */
record FakeBdev(String name, String productName, int blockSize, long blockCount, Set<IoType> supportedIoTypes,
                Map<String, Object> virtio) implements Bdev {
    @Override
    public boolean readOnly() {
        return false;
    }

    @Override
    public int maxChannels() {
        return 1;
    }

    @Override
    public IoChannel openChannel() {
        throw new UnsupportedOperationException("fake bdev " + name + " does no I/O");
    }

    @Override
    public MemorySegment allocateBuffer(long size, long alignment) {
        throw new UnsupportedOperationException("fake bdev " + name + " has no memory");
    }

    @Override
    public void freeBuffer(MemorySegment buffer) {
        throw new UnsupportedOperationException("fake bdev " + name + " has no memory");
    }

    @Override
    public Map<String, Object> driverSpecificInfo() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("virtio", virtio);
        return m;
    }
}
