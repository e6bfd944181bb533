package io.jvirtio.backend.scsi;

import io.jvirtio.spec.scsi.VirtioScsiSpec;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Drives a {@link VirtioScsiModel} directly, as a driver would through a transport: builds
 * virtio_scsi_req_cmd / resp_cmd buffers in native memory, optionally split across several
 * segments, and decodes what the device wrote.
 */
final class TestInitiator implements AutoCloseable {
    private static final AtomicLong IDS = new AtomicLong(1);

    final VirtioScsiModel model;
    final Arena arena = Arena.ofShared();
    int cdbSize = VirtioScsiSpec.DEFAULT_CDB_SIZE;
    int senseSize = VirtioScsiSpec.DEFAULT_SENSE_SIZE;

    TestInitiator(VirtioScsiModel model) {
        this.model = model;
    }

    Command cmd(int target, int lun, byte[] cdb) {
        return new Command(LunAddress.encode(target, lun), cdb);
    }

    /** A command being built. */
    final class Command {
        byte[] lunBytes;
        final byte[] cdb;
        byte[] out = new byte[0];
        int inLen;
        int queue = VirtioScsiSpec.REQUESTQ_BASE;
        long id = IDS.getAndIncrement();
        boolean split;
        boolean contiguous;
        int respLen = -1;
        int headerLen = -1;

        Command(byte[] lunBytes, byte[] cdb) {
            this.lunBytes = lunBytes;
            this.cdb = cdb;
        }

        Command lunBytes(int... b) {
            byte[] l = new byte[8];
            for (int i = 0; i < b.length; i++) {
                l[i] = (byte) b[i];
            }
            lunBytes = l;
            return this;
        }

        Command out(byte[] data) {
            out = data;
            return this;
        }

        Command in(int len) {
            inLen = len;
            return this;
        }

        Command queue(int q) {
            queue = q;
            return this;
        }

        Command id(long id) {
            this.id = id;
            return this;
        }

        /** Splits header, response and data buffers into several segments at odd offsets. */
        Command split() {
            split = true;
            return this;
        }

        /** Puts header and data-out in one readable buffer, response and data-in in one writable buffer. */
        Command contiguous() {
            contiguous = true;
            return this;
        }

        /** Posts a response buffer of {@code len} bytes instead of 12 + sense_size. */
        Command responseLength(int len) {
            respLen = len;
            return this;
        }

        /** Posts a request header of {@code len} bytes instead of 19 + cdb_size. */
        Command headerLength(int len) {
            headerLen = len;
            return this;
        }

        Submitted submit() {
            Submitted s = build();
            model.handle(s.request());
            return s;
        }

        /** Builds the request without handing it to the model. */
        Submitted build() {
            int hl = headerLen >= 0 ? headerLen : VirtioScsiSpec.REQ_HEADER_FIXED + cdbSize;
            byte[] header = new byte[Math.max(hl, 0)];
            byte[] full = new byte[VirtioScsiSpec.REQ_HEADER_FIXED + Math.max(cdbSize, cdb.length)];
            ByteBuffer b = ByteBuffer.wrap(full).order(ByteOrder.LITTLE_ENDIAN);
            b.put(0, lunBytes);
            b.putLong(8, id);
            System.arraycopy(cdb, 0, full, VirtioScsiSpec.REQ_HEADER_FIXED, cdb.length);
            System.arraycopy(full, 0, header, 0, Math.min(header.length, full.length));
            int rl = respLen >= 0 ? respLen : VirtioScsiSpec.RESP_HEADER_FIXED + senseSize;
            List<MemorySegment> readable = new ArrayList<>();
            List<MemorySegment> writable = new ArrayList<>();
            if (contiguous) {
                byte[] rd = Arrays.copyOf(header, header.length + out.length);
                System.arraycopy(out, 0, rd, header.length, out.length);
                addSegments(readable, rd, new int[0]);
                addSegments(writable, new byte[rl + inLen], new int[0]);
                return new Submitted(new FakeRequest(queue, readable, writable), rl, senseSize);
            }
            addSegments(readable, header, split ? new int[] {5, 17} : new int[0]);
            if (out.length > 0) {
                addSegments(readable, out, split ? new int[] {out.length / 3, out.length / 2 + 1} : new int[0]);
            }
            addSegments(writable, new byte[rl], split ? new int[] {3, 11} : new int[0]);
            if (inLen > 0) {
                addSegments(writable, new byte[inLen], split ? new int[] {inLen / 4, inLen / 2 + 3} : new int[0]);
            }
            return new Submitted(new FakeRequest(queue, readable, writable), rl, senseSize);
        }

        Response run() {
            return submit().await();
        }

        private void addSegments(List<MemorySegment> to, byte[] data, int[] cuts) {
            int[] points = Arrays.stream(cuts).filter(c -> c > 0 && c < data.length).distinct().sorted().toArray();
            int start = 0;
            for (int cut : points) {
                to.add(copy(data, start, cut - start));
                start = cut;
            }
            to.add(copy(data, start, data.length - start));
        }

        private MemorySegment copy(byte[] data, int off, int len) {
            MemorySegment s = arena.allocate(Math.max(len, 0), 1);
            MemorySegment.copy(data, off, s, ValueLayout.JAVA_BYTE, 0, len);
            return s;
        }
    }

    /** A command handed to the model; its response once completed. */
    record Submitted(FakeRequest request, int respLen, int senseSize) {
        Response await() {
            int used = request.awaitUsed();
            return Response.decode(request, used, respLen, senseSize);
        }
    }

    /** What the device wrote for one command. */
    record Response(int used, int senseLen, long residual, int statusQualifier, int status, int response,
                    byte[] sense, byte[] dataIn, FakeRequest request) {
        static Response decode(FakeRequest r, int used, int respLen, int senseSize) {
            byte[] w = r.writableBytesArray();
            if (used < VirtioScsiSpec.RESP_HEADER_FIXED) {
                return new Response(used, -1, -1, -1, -1, -1, new byte[0], new byte[0], r);
            }
            ByteBuffer b = ByteBuffer.wrap(w).order(ByteOrder.LITTLE_ENDIAN);
            int senseLen = b.getInt(0);
            long resid = Integer.toUnsignedLong(b.getInt(4));
            int sq = b.getShort(8) & 0xFFFF;
            int status = w[10] & 0xFF;
            int response = w[11] & 0xFF;
            int senseArea = Math.max(0, Math.min(senseSize, respLen - VirtioScsiSpec.RESP_HEADER_FIXED));
            byte[] sense = Arrays.copyOfRange(w, VirtioScsiSpec.RESP_HEADER_FIXED, VirtioScsiSpec.RESP_HEADER_FIXED + senseArea);
            byte[] dataIn = Arrays.copyOfRange(w, respLen, w.length);
            return new Response(used, senseLen, resid, sq, status, response, sense, dataIn, r);
        }

        boolean good() {
            return response == VirtioScsiSpec.VIRTIO_SCSI_S_OK && status == 0;
        }

        int senseKey() {
            return sense[2] & 0x0F;
        }

        int asc() {
            return sense[12] & 0xFF;
        }

        int ascq() {
            return sense[13] & 0xFF;
        }

        SenseCode senseData() {
            return new SenseCode(senseKey(), asc(), ascq());
        }

        @Override
        public String toString() {
            return "Response[used=" + used + ", response=" + VirtioScsiSpec.responseName(response) + ", status=" + status
                    + (status == 2 ? ", " + senseData() : "") + ", resid=" + residual + "]";
        }
    }

    // ---- control and event queues ----

    /** Sends a TMF and returns its request (completed or not). */
    FakeRequest tmf(int subtype, int target, int lun, long id) {
        ByteBuffer b = ByteBuffer.allocate(VirtioScsiSpec.TMF_REQ_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(VirtioScsiSpec.VIRTIO_SCSI_T_TMF).putInt(subtype).put(LunAddress.encode(target, lun)).putLong(id);
        FakeRequest r = new FakeRequest(VirtioScsiSpec.CONTROLQ, List.of(segment(b.array())), List.of(arena.allocate(1)));
        model.handle(r);
        return r;
    }

    static int tmfResponse(FakeRequest r) {
        r.awaitUsed();
        return r.writableBytesArray()[0] & 0xFF;
    }

    /** Posts an event buffer of {@code size} bytes on the event queue. */
    FakeRequest postEventBuffer(int size) {
        FakeRequest r = new FakeRequest(VirtioScsiSpec.EVENTQ, List.of(), List.of(arena.allocate(size)));
        model.handle(r);
        return r;
    }

    MemorySegment segment(byte[] data) {
        MemorySegment s = arena.allocate(data.length, 1);
        MemorySegment.copy(data, 0, s, ValueLayout.JAVA_BYTE, 0, data.length);
        return s;
    }

    @Override
    public void close() {
        arena.close();
    }
}
