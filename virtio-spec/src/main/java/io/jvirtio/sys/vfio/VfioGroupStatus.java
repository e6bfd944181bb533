package io.jvirtio.sys.vfio;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * {@code struct vfio_group_status}: {@code u32 argsz, u32 flags}.
 *
 * @param flags {@link #FLAGS_VIABLE}, {@link #FLAGS_CONTAINER_SET}
 */
public record VfioGroupStatus(int flags) {
    public static final int SIZE = 8;
    public static final int ARGSZ_OFFSET = 0;
    public static final int FLAGS_OFFSET = 4;
    /** {@code VFIO_GROUP_FLAGS_VIABLE}: every device of the group is bound to a VFIO driver or unbound. */
    public static final int FLAGS_VIABLE = 0x1;
    /** {@code VFIO_GROUP_FLAGS_CONTAINER_SET}. */
    public static final int FLAGS_CONTAINER_SET = 0x2;

    /** Fills the request: {@code argsz}. */
    public static void prepare(MemorySegment buf) {
        buf.asSlice(0, SIZE).fill((byte) 0);
        buf.set(JAVA_INT, ARGSZ_OFFSET, SIZE);
    }

    /** Decodes the kernel's answer. */
    public static VfioGroupStatus decode(MemorySegment buf) {
        return new VfioGroupStatus(buf.get(JAVA_INT, FLAGS_OFFSET));
    }

    /** @return whether the group may be used */
    public boolean viable() {
        return (flags & FLAGS_VIABLE) != 0;
    }

    /** @return whether the group is already in a container */
    public boolean containerSet() {
        return (flags & FLAGS_CONTAINER_SET) != 0;
    }
}
