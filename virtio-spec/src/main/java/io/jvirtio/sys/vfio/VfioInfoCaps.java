package io.jvirtio.sys.vfio;

import io.jvirtio.spec.VirtioException;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

/**
 * Walks a VFIO info capability chain ({@code struct vfio_info_cap_header}: {@code u16 id, u16
 * version, u32 next}; {@code next} is an offset from the start of the info buffer, 0 ends).
 *
 * <p>The kernel packs capabilities back to back without padding (IOMMU info: dma_avail is 12
 * bytes long, so the next one sits at a 4-byte boundary), so every read is unaligned. The chain
 * comes from the kernel but is still checked: each header must lie after the fixed struct and
 * inside the bytes the kernel filled, and no offset may come twice.
 */
public final class VfioInfoCaps {
    /** {@code sizeof(struct vfio_info_cap_header)}. */
    public static final int HEADER_SIZE = 8;
    public static final int ID_OFFSET = 0;
    public static final int VERSION_OFFSET = 2;
    public static final int NEXT_OFFSET = 4;

    /**
     * One capability of a chain.
     *
     * @param id      the capability id (meaning depends on the ioctl)
     * @param version its version
     * @param offset  where its header starts in the buffer
     */
    public record Cap(int id, int version, int offset) {
    }

    private VfioInfoCaps() {
    }

    /**
     * @param what       names the ioctl and object, for errors
     * @param buf        the info buffer
     * @param filled     how many bytes of it the kernel filled ({@code min(argsz, buffer size)})
     * @param first      the struct's {@code cap_offset} (0: no chain)
     * @param structSize the fixed struct's size; no capability may start inside it
     * @return the capabilities in chain order
     * @throws VirtioException naming the offset when the chain leaves the buffer or loops
     */
    public static List<Cap> walk(String what, MemorySegment buf, long filled, int first, int structSize) {
        List<Cap> caps = new ArrayList<>();
        long limit = Math.min(filled, buf.byteSize());
        long offset = Integer.toUnsignedLong(first);
        while (offset != 0) {
            if (offset < structSize || offset > limit - HEADER_SIZE) {
                throw new VirtioException(what + ": capability at offset " + offset + " is outside the " + limit
                        + "-byte answer (capabilities start at " + structSize + " or later)");
            }
            for (Cap c : caps) {
                if (c.offset() == offset) {
                    throw new VirtioException(what + ": capability chain loops back to offset " + offset);
                }
            }
            int id = Short.toUnsignedInt(buf.get(JAVA_SHORT_UNALIGNED, offset + ID_OFFSET));
            int version = Short.toUnsignedInt(buf.get(JAVA_SHORT_UNALIGNED, offset + VERSION_OFFSET));
            caps.add(new Cap(id, version, (int) offset));
            offset = Integer.toUnsignedLong(buf.get(JAVA_INT_UNALIGNED, offset + NEXT_OFFSET));
        }
        return caps;
    }

    /**
     * Checks that a capability's body of {@code length} bytes lies inside the buffer.
     *
     * @throws VirtioException naming the capability otherwise
     */
    public static void requireLength(String what, Cap cap, long length, long filled) {
        if (length < HEADER_SIZE || cap.offset() + length > filled) {
            throw new VirtioException(what + ": capability id " + cap.id() + " at offset " + cap.offset() + " needs " + length
                    + " bytes, the answer has " + filled);
        }
    }
}
