package io.jvirtio.config;

import io.jvirtio.bdev.Bdev;
import io.jvirtio.bdev.IoType;
import io.jvirtio.spec.VirtioException;

import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A controller type without devices, for registry and loader tests: blk style (one bdev named as
 * the controller) or scsi style ({@code NAMEt0}, {@code NAMEt1}, ..., 2 fixed queues counted in the
 * dump as SPDK does). Records attach and close events; fails attaches to chosen traddrs.
 */
final class FakeControllerType implements ControllerType {
    final String devType;
    final List<String> events = new CopyOnWriteArrayList<>();
    final Set<String> failingTraddrs = ConcurrentHashMap.newKeySet();
    final AtomicInteger open = new AtomicInteger();
    /** traddr → bdev names to expose instead of the default */
    final Map<String, List<String>> bdevNames = new ConcurrentHashMap<>();
    volatile int luns = 1;
    volatile int blockSize;
    volatile long blockCount;
    volatile Set<IoType> ioTypes;
    volatile long attachDelayMillis;
    volatile boolean refusePci = true;

    FakeControllerType(String devType) {
        this.devType = devType;
        boolean scsi = devType.equals("scsi");
        this.blockSize = scsi ? 4096 : 512;
        this.blockCount = scsi ? 16384 : 131072;
        this.ioTypes = scsi ? EnumSet.of(IoType.READ, IoType.WRITE, IoType.UNMAP, IoType.WRITE_ZEROES, IoType.FLUSH, IoType.RESET)
                : EnumSet.of(IoType.READ, IoType.WRITE, IoType.UNMAP, IoType.WRITE_ZEROES, IoType.RESET);
    }

    static FakeControllerType blk() {
        return new FakeControllerType("blk");
    }

    static FakeControllerType scsi() {
        return new FakeControllerType("scsi");
    }

    @Override
    public String devType() {
        return devType;
    }

    @Override
    public void validate(ControllerParams params) {
        if (refusePci && params.trtype() == Transport.PCI) {
            throw new ConfigException(JsonPath.of("trtype"), "\"pci\" is not available in the fake");
        }
    }

    @Override
    public Controller attach(ControllerParams params) {
        events.add("attach " + params.name());
        if (attachDelayMillis > 0) {
            try {
                Thread.sleep(attachDelayMillis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (failingTraddrs.contains(params.traddr())) {
            throw new VirtioException("simulated failure connecting to " + params.traddr());
        }
        open.incrementAndGet();
        return new FakeController(params);
    }

    final class FakeController implements Controller {
        private final ControllerParams params;
        private final List<Bdev> bdevs;
        private boolean closed;

        FakeController(ControllerParams params) {
            this.params = params;
            List<String> names = bdevNames.get(params.traddr());
            if (names == null) {
                names = new ArrayList<>();
                if (devType.equals("scsi")) {
                    for (int i = 0; i < luns; i++) {
                        names.add(params.name() + "t" + i);
                    }
                } else {
                    names.add(params.name());
                }
            }
            List<Bdev> list = new ArrayList<>();
            for (String n : names) {
                list.add(new FakeBdev(n, devType.equals("scsi") ? "Virtio SCSI Disk" : "VirtioBlk Disk", blockSize, blockCount,
                        ioTypes, virtioInfo()));
            }
            this.bdevs = Collections.unmodifiableList(list);
        }

        @Override
        public String name() {
            return params.name();
        }

        @Override
        public String devType() {
            return devType;
        }

        @Override
        public List<? extends Bdev> bdevs() {
            return bdevs;
        }

        @Override
        public ControllerParams configParams() {
            return params;
        }

        @Override
        public Map<String, Object> virtioInfo() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("vq_count", params.vqCount() + (devType.equals("scsi") ? 2 : 0));
            m.put("vq_size", params.vqSize());
            m.put("type", "user");
            m.put("socket", params.traddr());
            return m;
        }

        @Override
        public synchronized void close() {
            if (!closed) {
                closed = true;
                open.decrementAndGet();
                events.add("close " + params.name());
            }
        }
    }
}
