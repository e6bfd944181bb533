package io.jvirtio.backend.ring;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.BitSet;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * {@code sched_setaffinity(2)} / {@code sched_getaffinity(2)} for the calling thread (pid 0 means
 * "this thread" on Linux), bound through FFM like {@link io.jvirtio.sys.Native}: a polling queue
 * thread is pinned to the core the target was given, as SPDK pins its reactors.
 */
public final class CpuAffinity {
    /** The largest CPU number handled: {@code CPU_SETSIZE} of glibc. */
    public static final int MAX_CPUS = 1024;
    private static final long MASK_BYTES = MAX_CPUS / Byte.SIZE;

    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");
    private static final VarHandle ERRNO = Linker.Option.captureStateLayout()
            .varHandle(java.lang.foreign.MemoryLayout.PathElement.groupElement("errno"));
    private static final MethodHandle SET;
    private static final MethodHandle GET;

    static {
        Linker linker = Linker.nativeLinker();
        SymbolLookup libc = linker.defaultLookup();
        FunctionDescriptor fd = FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS);
        SET = linker.downcallHandle(libc.find("sched_setaffinity").orElseThrow(), fd, CAPTURE_ERRNO);
        GET = linker.downcallHandle(libc.find("sched_getaffinity").orElseThrow(), fd, CAPTURE_ERRNO);
    }

    private CpuAffinity() {
    }

    /**
     * Pins the calling thread to {@code cpu}.
     *
     * @throws IllegalArgumentException naming the CPU and errno when the kernel refuses (a CPU this
     *                                  process may not run on)
     */
    public static void pinCurrentThread(int cpu) {
        if (cpu < 0 || cpu >= MAX_CPUS) {
            throw new IllegalArgumentException("CPU " + cpu + " is outside 0.." + (MAX_CPUS - 1));
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment state = a.allocate(Linker.Option.captureStateLayout());
            MemorySegment mask = a.allocate(MASK_BYTES, 8);
            mask.set(ValueLayout.JAVA_BYTE, cpu / Byte.SIZE, (byte) (1 << (cpu % Byte.SIZE)));
            int rc = (int) SET.invokeExact(state, 0, MASK_BYTES, mask);
            if (rc != 0) {
                throw new IllegalArgumentException("sched_setaffinity(CPU " + cpu + ") failed: errno " + (int) ERRNO.get(state, 0L)
                        + " (a CPU this process may not run on? allowed: " + allowedCpus() + ")");
            }
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** @return the CPUs the calling thread may run on */
    public static BitSet allowedCpus() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment state = a.allocate(Linker.Option.captureStateLayout());
            MemorySegment mask = a.allocate(MASK_BYTES, 8);
            int rc = (int) GET.invokeExact(state, 0, MASK_BYTES, mask);
            if (rc != 0) {
                throw new IllegalStateException("sched_getaffinity failed: errno " + (int) ERRNO.get(state, 0L));
            }
            return BitSet.valueOf(mask.toArray(ValueLayout.JAVA_BYTE));
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }
}
