package io.jvirtio.spec;

/** Device status bits (virtio 1.x spec, section 2.1 "Device Status Field"). */
public final class VirtioStatus {
    /** Writing 0 resets the device. */
    public static final int RESET = 0;
    public static final int ACKNOWLEDGE = 1;
    public static final int DRIVER = 2;
    public static final int DRIVER_OK = 4;
    public static final int FEATURES_OK = 8;
    public static final int DEVICE_NEEDS_RESET = 64;
    public static final int FAILED = 128;

    private VirtioStatus() {
    }

    /** @return e.g. {@code 0xf (ACKNOWLEDGE|DRIVER|DRIVER_OK|FEATURES_OK)} */
    public static String describe(int status) {
        StringBuilder sb = new StringBuilder();
        String[] names = {"ACKNOWLEDGE", "DRIVER", "DRIVER_OK", "FEATURES_OK", "?", "?", "DEVICE_NEEDS_RESET", "FAILED"};
        for (int i = 0; i < names.length; i++) {
            if ((status & (1 << i)) != 0) {
                sb.append(sb.isEmpty() ? "" : "|").append(names[i]);
            }
        }
        return "0x" + Integer.toHexString(status) + " (" + (sb.isEmpty() ? "RESET" : sb) + ")";
    }
}
