package io.jvirtio.bench.device;

/**
 * One popped descriptor chain as the in-process device sees it: the buffers' addresses and lengths in
 * chain order, readable ones first. Reused for every chain of its ring (the device handles one chain at
 * a time), so reading it allocates nothing; addresses are process addresses, read and written through
 * {@link DeviceMemory#ALL}.
 */
public final class DeviceChain {
    private final long[] address;
    private final int[] length;
    private int count;
    private int readable;

    DeviceChain(int maxBuffers) {
        this.address = new long[maxBuffers];
        this.length = new int[maxBuffers];
    }

    void reset() {
        count = 0;
        readable = 0;
    }

    void add(long addr, int len, boolean writable, int head) {
        if (count == address.length) {
            throw new IllegalStateException("chain at head " + head + " has more than " + address.length + " buffers");
        }
        if (!writable) {
            if (readable != count) {
                throw new IllegalStateException("chain at head " + head + ": readable buffer after a writable one");
            }
            readable++;
        }
        address[count] = addr;
        length[count] = len;
        count++;
    }

    /** @return buffers in the chain */
    public int count() {
        return count;
    }

    /** @return device-readable buffers (they come first) */
    public int readableCount() {
        return readable;
    }

    /** @return the address of buffer {@code i} */
    public long address(int i) {
        return address[i];
    }

    /** @return the length of buffer {@code i} */
    public int length(int i) {
        return length[i];
    }
}
