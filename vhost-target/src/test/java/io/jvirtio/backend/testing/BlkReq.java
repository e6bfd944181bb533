package io.jvirtio.backend.testing;

import io.jvirtio.backend.testing.DriverRing.Buf;
import io.jvirtio.core.mem.MemoryDomain;
import io.jvirtio.spec.blk.VirtioBlkSpec;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** A virtio-blk request laid out by hand in front-end memory: header, data, status byte. */
public final class BlkReq {
    private static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE_LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    public final MemorySegment header;
    public final MemorySegment data;
    public final MemorySegment status;

    private BlkReq(MemoryDomain d, int type, long sector, int dataBytes) {
        header = d.allocate(VirtioBlkSpec.REQ_HEADER_SIZE, 16);
        header.set(LE_INT, VirtioBlkSpec.REQ_TYPE, type);
        header.set(LE_INT, VirtioBlkSpec.REQ_RESERVED, 0);
        header.set(LE_LONG, VirtioBlkSpec.REQ_SECTOR, sector);
        data = dataBytes > 0 ? d.allocate(dataBytes, 512) : null;
        status = d.allocate(1, 1);
        status.set(ValueLayout.JAVA_BYTE, 0, (byte) 0xff);
    }

    public static BlkReq of(MemoryDomain d, int type, long sector, int dataBytes) {
        return new BlkReq(d, type, sector, dataBytes);
    }

    /** @return the buffers in the usual framing: header, data (readable for OUT, writable otherwise), status */
    public Buf[] bufs() {
        int type = header.get(LE_INT, VirtioBlkSpec.REQ_TYPE);
        boolean dataIn = type == VirtioBlkSpec.VIRTIO_BLK_T_IN || type == VirtioBlkSpec.VIRTIO_BLK_T_GET_ID;
        if (data == null) {
            return new Buf[] {Buf.out(header), Buf.in(status)};
        }
        return new Buf[] {Buf.out(header), new Buf(data, dataIn), Buf.in(status)};
    }

    public int status() {
        return Byte.toUnsignedInt(status.get(ValueLayout.JAVA_BYTE, 0));
    }

    /** Writes one discard / write-zeroes segment into {@code data} at index {@code i}. */
    public void dwz(int i, long sector, int numSectors, int flags) {
        long at = (long) i * VirtioBlkSpec.DWZ_SIZE;
        data.set(LE_LONG, at + VirtioBlkSpec.DWZ_SECTOR, sector);
        data.set(LE_INT, at + VirtioBlkSpec.DWZ_NUM_SECTORS, numSectors);
        data.set(LE_INT, at + VirtioBlkSpec.DWZ_FLAGS, flags);
    }
}
