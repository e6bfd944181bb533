package io.jvirtio.bdev;

/** I/O types a {@link Bdev} may support, named as SPDK's {@code supported_io_types} keys. */
public enum IoType {
    READ("read"),
    WRITE("write"),
    UNMAP("unmap"),
    WRITE_ZEROES("write_zeroes"),
    FLUSH("flush"),
    RESET("reset");

    private final String spdkName;

    IoType(String spdkName) {
        this.spdkName = spdkName;
    }

    /** @return the key SPDK uses in {@code bdev_get_bdevs} output */
    public String spdkName() {
        return spdkName;
    }
}
