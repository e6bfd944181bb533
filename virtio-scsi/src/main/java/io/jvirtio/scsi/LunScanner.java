package io.jvirtio.scsi;

import io.jvirtio.spec.scsi.VirtioScsiSpec;
import io.jvirtio.spec.scsi.ScsiSpec;

import io.jvirtio.core.mem.MemoryDomain;
import io.jvirtio.scsi.ScanCommandRunner.Result;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.TreeMap;

import static io.jvirtio.scsi.ScanCommandRunner.cdb;
import static io.jvirtio.scsi.ScanCommandRunner.vpd;
import static io.jvirtio.spec.scsi.ScsiSpec.BE_INT;
import static io.jvirtio.spec.scsi.ScsiSpec.BE_LONG;
import static io.jvirtio.spec.scsi.ScsiSpec.BE_SHORT;
import static io.jvirtio.spec.scsi.VirtioScsiSpec.*;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * The commands one target's scan sends, in SPDK's order ({@code virtio_scsi_scan_base}, made
 * synchronous): REPORT LUNS on LUN 0 of a target, then for each LUN INQUIRY, TEST UNIT READY (with
 * START STOP UNIT when the LUN is not ready), VPD pages 0x00, 0xB0, 0xB2, MODE SENSE (6) for write
 * protection, READ CAPACITY (10) and (16), and what their answers say about the LUN. The commands
 * run blocking on one request queue ({@link ScanCommandRunner}). Not thread-safe: the controller runs
 * one scan at a time ({@link TargetScan}).
 */
final class LunScanner implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(LunScanner.class);
    /** REPORT LUNS of up to 16384 LUNs. */
    static final int MAX_REPORT_LUNS_BYTES = 8 + 8 * 16384;

    /** Outcome of REPORT LUNS. */
    enum TargetState { PRESENT, ABSENT, UNAVAILABLE }

    /**
     * A target's LUNs.
     *
     * @param state   whether the target answered
     * @param luns    LUN number to the 2-byte single-level address, sorted
     * @param problem what went wrong when not PRESENT
     */
    record TargetLuns(TargetState state, TreeMap<Integer, Integer> luns, String problem) {
    }

    /**
     * The outcome of probing one LUN.
     *
     * @param info     the LUN, or null
     * @param readOnly MODE SENSE reported write protection
     * @param absent   the LUN does not exist or is not a connected disk (a rescan removes its bdev)
     * @param problem  why there is no info
     */
    record Probe(ScsiLunInfo info, boolean readOnly, boolean absent, String problem) {
    }

    private final String name;
    private final ScanCommandRunner commands;

    /** @param name the controller's, for logs and errors */
    LunScanner(String name, MemoryDomain memory, ScsiRequestQueue queue, long timeoutNanos) {
        this.name = name;
        this.commands = new ScanCommandRunner(name, memory, queue, timeoutNanos);
    }

    // ---------------------------------------------------------------- REPORT LUNS

    TargetLuns reportLuns(int target) {
        int alloc = ScanCommandRunner.PAYLOAD_BYTES;
        while (true) {
            int allocation = alloc;
            Result r = commands.run(target, 0, cdb(ScsiSpec.REPORT_LUNS, 12, c -> c.set(BE_INT, 6, allocation)), alloc);
            if (r.noTarget()) {
                return new TargetLuns(TargetState.ABSENT, new TreeMap<>(), VirtioScsiSpec.responseName(r.response()));
            }
            if (r.checkCondition() && r.sense() != null && r.sense().isIllegalRequest()) {
                // REPORT LUNS not supported: LUN 0 only, as SPDK
                TreeMap<Integer, Integer> only0 = new TreeMap<>();
                only0.put(0, 0);
                LOG.debug("{}: target {} refuses REPORT LUNS ({}); probing LUN 0 only", name, target, r.describe());
                return new TargetLuns(TargetState.PRESENT, only0, null);
            }
            if (!r.good()) {
                return new TargetLuns(TargetState.UNAVAILABLE, new TreeMap<>(), "REPORT LUNS: " + r.describe());
            }
            long listBytes = Integer.toUnsignedLong(payload().get(BE_INT, 0));
            int got = (int) Math.min(alloc - Integer.toUnsignedLong(r.residual()), alloc);
            if (8 + listBytes > alloc && alloc < MAX_REPORT_LUNS_BYTES) {
                alloc = (int) Math.min(MAX_REPORT_LUNS_BYTES, (8 + listBytes + 4095) & -4096L);
                commands.grow(alloc);
                continue;
            }
            TreeMap<Integer, Integer> luns = new TreeMap<>();
            long end = Math.min(8 + listBytes, got);
            for (long p = 8; p + 8 <= end; p += 8) {
                int b0 = Byte.toUnsignedInt(payload().get(JAVA_BYTE, p));
                int b1 = Byte.toUnsignedInt(payload().get(JAVA_BYTE, p + 1));
                int lun = EventQueue.decodeLun(b0, b1);
                boolean singleLevel = payload().get(BE_SHORT, p + 2) == 0 && payload().get(BE_INT, p + 4) == 0;
                if (lun < 0 || !singleLevel) {
                    LOG.warn("{}: target {} lists a LUN address {} that jvirtio does not address (not single-level"
                                    + " peripheral or flat space); skipped", name, target,
                            String.format("%016X", payload().get(BE_LONG, p)));
                    continue;
                }
                luns.putIfAbsent(lun, (b0 << 8) | b1);
            }
            return new TargetLuns(TargetState.PRESENT, luns, null);
        }
    }

    // ---------------------------------------------------------------- one LUN

    /** What the probe of one LUN learnt so far: filled in command by command, then checked into a {@link ScsiLunInfo}. */
    private static final class LunFacts {
        final int target;
        final int lun;
        final int address;
        final String where;
        int version;
        String vendor;
        String product;
        String revision;
        boolean blockLimitsListed;
        boolean provisioningListed;
        boolean hasLimits;
        long optGranularity;
        long maxTransfer;
        long optTransfer;
        long maxUnmap;
        long maxUnmapDesc;
        long optUnmapGranularity;
        long maxWriteSame;
        boolean hasProvisioning;
        boolean lbpu;
        boolean lbpws;
        boolean lbprz;
        boolean writeProtected;
        long lastLba;
        long blockSize;
        int exponent;
        long lowestAligned;
        boolean lbpme;

        LunFacts(int target, int lun, int address) {
            this.target = target;
            this.lun = lun;
            this.address = address;
            this.where = "target " + target + " lun " + lun;
        }
    }

    /** Probes one LUN: the commands in SPDK's order, each step stopping the probe when the LUN is absent or unusable. */
    Probe probe(int target, int lun, int address) {
        LunFacts f = new LunFacts(target, lun, address);
        Probe stop = inquiry(f);
        if (stop == null) {
            stop = startWhenNotReady(f);
        }
        if (stop != null) {
            return stop;
        }
        supportedVpdPages(f);
        blockLimits(f);
        provisioning(f);
        writeProtection(f);
        stop = capacity(f);
        return stop != null ? stop : checked(f);
    }

    /** Standard INQUIRY: a connected direct-access block device, its identification. */
    private Probe inquiry(LunFacts f) {
        Result r = run(f, cdb(ScsiSpec.INQUIRY, 6, c -> c.set(BE_SHORT, 3, (short) 96)), 96);
        if (r.gone()) {
            return absent(f.where + ": INQUIRY: " + r.describe());
        }
        if (!r.good()) {
            return failed(f.where + ": INQUIRY failed: " + r.describe());
        }
        int b0 = Byte.toUnsignedInt(payload().get(JAVA_BYTE, 0));
        int qualifier = b0 >> 5;
        int type = b0 & 0x1F;
        if (qualifier != ScsiSpec.QUALIFIER_CONNECTED || type != ScsiSpec.TYPE_DISK) {
            return absent(String.format("%s: peripheral qualifier %d, device type 0x%02X: not a connected direct-access block device",
                    f.where, qualifier, type));
        }
        f.version = Byte.toUnsignedInt(payload().get(JAVA_BYTE, 2));
        f.vendor = ascii(8, 8);
        f.product = ascii(16, 16);
        f.revision = ascii(32, 4);
        return null;
    }

    /** TEST UNIT READY, with START STOP UNIT (START) once when the LUN is not ready. */
    private Probe startWhenNotReady(LunFacts f) {
        boolean started = false;
        for (int attempt = 0; ; attempt++) {
            Result r = run(f, cdb(ScsiSpec.TEST_UNIT_READY, 6, c -> { }), 0);
            if (r.good()) {
                return null;
            }
            if (r.gone()) {
                return absent(f.where + ": TEST UNIT READY: " + r.describe());
            }
            if (attempt < ScanCommandRunner.RETRIES && r.checkCondition() && r.sense() != null && r.sense().isNotReady() && r.sense().asc() == 0x04) {
                if (!started) {
                    LOG.info("{}: {} not ready ({}); sending START STOP UNIT (START)", name, f.where, r.sense().describe());
                    Result ssu = run(f, cdb(ScsiSpec.START_STOP_UNIT, 6, c -> c.set(JAVA_BYTE, 4, (byte) 0x01)), 0);
                    if (ssu.gone()) {
                        return absent(f.where + ": START STOP UNIT: " + ssu.describe());
                    }
                    if (!ssu.good()) {
                        return failed(f.where + ": not ready and START STOP UNIT failed: " + ssu.describe());
                    }
                    started = true;
                } else {
                    ScanCommandRunner.sleep(ScanCommandRunner.BUSY_PAUSE_MILLIS * (attempt + 1)); // becoming ready
                }
                continue;
            }
            return failed(f.where + ": TEST UNIT READY failed: " + r.describe());
        }
    }

    /** VPD page 0x00: whether the block limits (0xB0) and provisioning (0xB2) pages are there to ask for. */
    private void supportedVpdPages(LunFacts f) {
        Result r = run(f, vpd(ScsiSpec.VPD_SUPPORTED_PAGES, 252), 252);
        if (!r.good()) {
            LOG.debug("{}: {}: no supported VPD pages ({})", name, f.where, r.describe());
            return;
        }
        int n = Math.max(0, Math.min(payload().get(BE_SHORT, 2) & 0xFFFF, 252 - 4 - r.residual()));
        for (int i = 0; i < n; i++) {
            int page = Byte.toUnsignedInt(payload().get(JAVA_BYTE, 4 + i));
            f.blockLimitsListed |= page == ScsiSpec.VPD_BLOCK_LIMITS;
            f.provisioningListed |= page == ScsiSpec.VPD_LOGICAL_BLOCK_PROVISIONING;
        }
    }

    /** VPD page 0xB0: transfer, unmap and write-same limits, as far as the device wrote them. */
    private void blockLimits(LunFacts f) {
        if (!f.blockLimitsListed) {
            return;
        }
        Result r = run(f, vpd(ScsiSpec.VPD_BLOCK_LIMITS, 64), 64);
        if (!r.good()) {
            LOG.debug("{}: {}: VPD 0xB0 failed ({})", name, f.where, r.describe());
            return;
        }
        int pageLen = payload().get(BE_SHORT, 2) & 0xFFFF;
        int valid = Math.min(4 + pageLen, 64 - r.residual());
        f.hasLimits = true;
        f.optGranularity = valid >= 8 ? payload().get(BE_SHORT, 6) & 0xFFFF : 0;
        f.maxTransfer = valid >= 12 ? u32(8) : 0;
        f.optTransfer = valid >= 16 ? u32(12) : 0;
        f.maxUnmap = valid >= 24 ? u32(20) : 0;
        f.maxUnmapDesc = valid >= 28 ? u32(24) : 0;
        f.optUnmapGranularity = valid >= 32 ? u32(28) : 0;
        f.maxWriteSame = valid >= 44 ? payload().get(BE_LONG, 36) : 0;
    }

    /** VPD page 0xB2: UNMAP and WRITE SAME (16) with UNMAP offered, unmapped blocks reading zeros. */
    private void provisioning(LunFacts f) {
        if (!f.provisioningListed) {
            return;
        }
        Result r = run(f, vpd(ScsiSpec.VPD_LOGICAL_BLOCK_PROVISIONING, 64), 64);
        if (!r.good() || 64 - r.residual() < 6) {
            LOG.debug("{}: {}: VPD 0xB2 failed ({})", name, f.where, r.describe());
            return;
        }
        int flags = Byte.toUnsignedInt(payload().get(JAVA_BYTE, 5));
        f.hasProvisioning = true;
        f.lbpu = (flags & 0x80) != 0;
        f.lbpws = (flags & 0x40) != 0;
        f.lbprz = ((flags >> 2) & 0x07) == 0x01;   // LBPRZ 001b: unmapped blocks read zeros
    }

    /** MODE SENSE (6), header only: the WP bit. */
    private void writeProtection(LunFacts f) {
        Result r = run(f, cdb(0x1A, 6, c -> {
            c.set(JAVA_BYTE, 2, (byte) 0x3F);   // all pages: the header is what we read
            c.set(JAVA_BYTE, 4, (byte) 4);
        }), 4);
        if (r.good() && 4 - r.residual() >= 3) {
            f.writeProtected = (payload().get(JAVA_BYTE, 2) & 0x80) != 0;
        }
    }

    /** READ CAPACITY (10), then (16) when the LUN has more than 2^32 blocks or may say more there. */
    private Probe capacity(LunFacts f) {
        Result r = run(f, cdb(ScsiSpec.READ_CAPACITY_10, 10, c -> { }), 8);
        if (r.gone()) {
            return absent(f.where + ": READ CAPACITY (10): " + r.describe());
        }
        if (!r.good()) {
            return failed(f.where + ": READ CAPACITY (10) failed: " + r.describe());
        }
        f.lastLba = u32(0);
        f.blockSize = u32(4);
        boolean needs16 = f.lastLba == 0xFFFF_FFFFL;
        if (!needs16 && f.version < 5 && !f.blockLimitsListed && !f.provisioningListed) {
            return null;
        }
        r = run(f, cdb(ScsiSpec.SERVICE_ACTION_IN_16, 16, c -> {
            c.set(JAVA_BYTE, 1, (byte) ScsiSpec.SAI_READ_CAPACITY_16);
            c.set(BE_INT, 10, 32);
        }), 32);
        if (r.good() && 32 - r.residual() >= 16) {
            f.lastLba = payload().get(BE_LONG, 0);
            f.blockSize = u32(8);
            f.exponent = payload().get(JAVA_BYTE, 13) & 0x0F;
            int b14 = Byte.toUnsignedInt(payload().get(JAVA_BYTE, 14));
            f.lbpme = (b14 & 0x80) != 0;
            f.lbprz |= (b14 & 0x40) != 0;
            f.lowestAligned = ((b14 & 0x3F) << 8) | Byte.toUnsignedInt(payload().get(JAVA_BYTE, 15));
        } else if (needs16) {
            return failed(f.where + ": READ CAPACITY (10) reports more than 2^32 blocks and READ CAPACITY (16) failed: " + r.describe());
        } else {
            LOG.debug("{}: {}: READ CAPACITY (16) failed ({}); using READ CAPACITY (10)", name, f.where, r.describe());
        }
        return null;
    }

    /** @return the LUN, when its block size and capacity are usable */
    private static Probe checked(LunFacts f) {
        long blockSize = f.blockSize;
        long lastLba = f.lastLba;
        if (blockSize < 512 || blockSize > 65536 || Long.bitCount(blockSize) != 1) {
            return failed(f.where + ": block length " + blockSize + " is not a power of two from 512 to 65536");
        }
        if (lastLba < 0 || lastLba == -1L || lastLba >= Long.MAX_VALUE / blockSize) {
            return failed(f.where + ": last LBA 0x" + Long.toHexString(lastLba) + " is not a usable capacity");
        }
        ScsiLunInfo info = new ScsiLunInfo(f.target, f.lun, f.address, f.vendor, f.product, f.revision, f.version, (int) blockSize,
                lastLba + 1, f.exponent, f.lowestAligned, f.hasLimits, f.optGranularity, f.maxTransfer, f.optTransfer, f.maxUnmap,
                f.maxUnmapDesc, f.optUnmapGranularity, f.maxWriteSame, f.hasProvisioning, f.lbpu, f.lbpws, f.lbprz, f.lbpme);
        return new Probe(info, f.writeProtected, false, null);
    }

    private Result run(LunFacts f, ScanCommandRunner.Cdb cdb, int dataIn) {
        return commands.run(f.target, f.address, cdb, dataIn);
    }

    private static Probe absent(String why) {
        return new Probe(null, false, true, why);
    }

    private static Probe failed(String why) {
        return new Probe(null, false, false, why);
    }

    // ---------------------------------------------------------------- reading answers

    private MemorySegment payload() {
        return commands.payload();
    }

    private long u32(long off) {
        return Integer.toUnsignedLong(payload().get(BE_INT, off));
    }

    private String ascii(long off, int len) {
        byte[] b = payload().asSlice(off, len).toArray(JAVA_BYTE);
        for (int i = 0; i < b.length; i++) {
            if (b[i] < 0x20 || b[i] > 0x7E) {
                b[i] = ' ';
            }
        }
        return new String(b, StandardCharsets.US_ASCII).trim();
    }

    /** @return whether the device broke the queue the commands run on */
    boolean queueBroken() {
        return commands.queueBroken();
    }

    @Override
    public void close() {
        commands.close();
    }
}
